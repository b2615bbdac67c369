#!/usr/bin/env bash
# The lab measures the agent, not itself: the lab's CPU per portal, and the
# audit's, at two lab sizes (default 1,000 and 10,000 portals, mix `good`,
# one signed zone), so the ratio shows whether the lab's DNS answers in the
# same time per question at any zone size. With BEFORE=<another v6audit
# binary> both binaries run, alternating, on the same machine in one run.
#
#   bench/lab-dns.sh                   # 1000 and 10000 portals
#   bench/lab-dns.sh 500 5000          # other sizes
#   BEFORE=/tmp/v6audit-old bench/lab-dns.sh
#
# Prints the machine and one row per binary and size; copy the block into
# bench/RESULTS.md with the command. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000 10000}")
read -r -a SIZES <<< "${SIZES[*]}"
if [ -z "${V6AUDIT_BIN:-}" ]; then
    cargo build --profile dist --quiet
    V6AUDIT_BIN=${CARGO_TARGET_DIR:-target}/dist/v6audit
fi
BINS=("$V6AUDIT_BIN")
[ -n "${BEFORE:-}" ] && BINS=("$BEFORE" "$V6AUDIT_BIN")
TICK=$(getconf CLK_TCK)

cpu_ms() { # user+system CPU of a process so far, in ms
    awk -v t="$TICK" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / t }' "/proc/$1/stat"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-26s %8s %14s %14s %12s %10s\n' binary portals "lab CPU ms/p" "agent CPU ms/p" "wall ms/p" results
declare -A LAB
for n in "${SIZES[@]}"; do
    for bin in "${BINS[@]}"; do
        dir=$(mktemp -d)
        "$bin" lab serve --portals "$n" --mix good --dir "$dir" > "$dir/lab.log" 2>&1 &
        lab=$!
        for _ in $(seq 1 1200); do [ -f "$dir/lab-audit.txt" ] && break; sleep 0.1; done
        read -r -a audit < "$dir/lab-audit.txt"
        before=$(cpu_ms "$lab")
        /usr/bin/time -f '%e %U %S' -o "$dir/time" \
            "$bin" "${audit[@]:1}" --concurrency 64 --timeout 10 --format jsonl --quiet --output "$dir/out.jsonl" || true
        after=$(cpu_ms "$lab")
        kill "$lab" 2>/dev/null || true
        wait "$lab" 2>/dev/null || true
        read -r wall user sys < "$dir/time"
        results=$(wc -l < "$dir/out.jsonl")
        lab_ms=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.3f", (a - b) / n }')
        LAB["$bin/$n"]=$lab_ms
        awk -v bin="$(basename "$bin")" -v n="$n" -v l="$lab_ms" -v u="$user" -v s="$sys" -v w="$wall" -v r="$results" 'BEGIN {
            printf "%-26s %8d %14.3f %14.3f %12.3f %10d\n", bin, n, l, (u + s) * 1000 / n, w * 1000 / n, r
        }'
        rm -rf "$dir"
    done
done
if [ "${#SIZES[@]}" -ge 2 ]; then
    first=${SIZES[0]}; last=${SIZES[-1]}
    for bin in "${BINS[@]}"; do
        awk -v bin="$(basename "$bin")" -v a="${LAB[$bin/$last]}" -v b="${LAB[$bin/$first]}" -v f="$first" -v l="$last" \
            'BEGIN { printf "%s: lab CPU per portal at %d / at %d = %.2f\n", bin, l, f, a / b }'
    done
fi
