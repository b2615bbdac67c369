#!/usr/bin/env bash
# Flat memory: the agent's peak RSS auditing lab inventories of growing size
# (default 1,000, 10,000 and 100,000 portals, mix `good`), with results
# streamed (`--format jsonl`, and `--format jsonl --push` to a collector on
# SQLite) and, for comparison, held for one document (`--format json`).
# Prints the machine, one row per size and mode, and each mode's RSS at the
# largest size over its RSS at the smallest; copy the block into
# bench/RESULTS.md with the command. Loopback only.
#
#   bench/audit-memory.sh                  # 1000 10000 100000
#   bench/audit-memory.sh 1000 10000       # other sizes
#   V6AUDIT_BIN=/path/to/v6audit bench/audit-memory.sh
#   MODES="jsonl push" bench/audit-memory.sh   # some of the modes (default all three)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000 10000 100000}")
read -r -a SIZES <<< "${SIZES[*]}"
read -r -a MODES <<< "${MODES:-jsonl push json}"
if [ -z "${V6AUDIT_BIN:-}" ]; then
    cargo build --profile dist --quiet -p v6audit
    V6AUDIT_BIN=${CARGO_TARGET_DIR:-target}/dist/v6audit
fi
BIN=$V6AUDIT_BIN
WORK=$(mktemp -d)
LAB=""
COLLECTOR=""
cleanup() {
    [ -n "$LAB" ] && kill "$LAB" 2>/dev/null || true
    [ -n "$COLLECTOR" ] && kill "$COLLECTOR" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])'
}

# One collector for the push runs.
DB="sqlite://$WORK/collector.db"
TOKEN=$("$BIN" collector token create bench --database "$DB")
PORT=$(free_port)
V6AUDIT_COLLECTOR_STATE_DIR="$WORK" "$BIN" collector serve --database "$DB" --listen "[::1]:$PORT" \
    > "$WORK/collector.log" 2>&1 &
COLLECTOR=$!
for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/::1/$PORT") 2>/dev/null && break
    sleep 0.1
done

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "v6audit: $("$BIN" --version | head -n 1)"
printf '%-8s %-12s %10s %12s %10s %9s\n' portals mode "wall s" "max RSS MiB" "KiB/p" results
declare -A RSS
for n in "${SIZES[@]}"; do
    dir="$WORK/lab-$n"
    mkdir -p "$dir"
    "$BIN" lab serve --portals "$n" --mix good --dir "$dir" > "$dir/lab.log" 2>&1 &
    LAB=$!
    for _ in $(seq 1 6000); do [ -f "$dir/lab-audit.txt" ] && break; sleep 0.1; done
    [ -f "$dir/lab-audit.txt" ] || { echo "the lab of $n portals did not start" >&2; exit 1; }
    read -r -a audit < "$dir/lab-audit.txt"
    for mode in "${MODES[@]}"; do
        out="$dir/out.$mode"
        extra=(--format jsonl)
        case $mode in
            jsonl) ;;
            json) extra=(--format json) ;;
            push) extra=(--format jsonl --push "http://[::1]:$PORT/" --token "$TOKEN") ;;
            *) echo "audit-memory.sh: unknown mode $mode (jsonl, push, json)" >&2; exit 2 ;;
        esac
        /usr/bin/time -f '%e %M' -o "$dir/time" \
            "$BIN" "${audit[@]:1}" --concurrency 64 --timeout 10 --quiet --output "$out" "${extra[@]}" \
            2> "$dir/stderr.$mode" || { cat "$dir/stderr.$mode" >&2; exit 1; }
        read -r wall rss < "$dir/time"
        if [ "$mode" = json ]; then
            results=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["results"]))' "$out")
        else
            results=$(wc -l < "$out")
        fi
        RSS[$n,$mode]=$rss
        awk -v n="$n" -v m="$mode" -v w="$wall" -v r="$rss" -v c="$results" \
            'BEGIN { printf "%-8d %-12s %10.1f %12.1f %10.2f %9d\n", n, m, w, r / 1024, r / n, c }'
        rm -f "$out"
    done
    kill "$LAB" 2>/dev/null || true
    wait "$LAB" 2>/dev/null || true
    LAB=""
    rm -rf "$dir"
done
first=${SIZES[0]}
last=${SIZES[${#SIZES[@]}-1]}
for mode in "${MODES[@]}"; do
    awk -v m="$mode" -v a="${RSS[$first,$mode]}" -v b="${RSS[$last,$mode]}" -v f="$first" -v l="$last" \
        'BEGIN { printf "%-6s max RSS at %d portals / at %d: %.2fx\n", m, l, f, b / a }'
done
