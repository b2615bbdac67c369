#!/usr/bin/env bash
# Wrong verdicts on a busy machine: audits the 1,000-portal lab RUNS times
# while a bounded CPU hog keeps one core busy, and counts the portals whose
# stage differs from what the lab's scenario must get (lab-expected.tsv).
# A good agent and a good lab give 0 in every run: a lost or slow packet is
# tried again, never judged "broken".
#
# Usage: bench/verdicts-under-load.sh [RUNS] [PORTALS]   (defaults 5 and 1000)
# Needs: a built v6audit (V6AUDIT_BIN, default: the shipped (dist) build,
# else the release build, else the debug build under $CARGO_TARGET_DIR or
# target/), python3, taskset.
# Traffic: loopback only (the lab on 127.0.0.1 and ::1). Every loop is
# bounded: RUNS audits, each bounded by `timeout`, and the hog is killed
# when its run ends (and on exit).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
portals=${2:-1000}
target=${CARGO_TARGET_DIR:-target}
bin=${V6AUDIT_BIN:-}
if [ -z "$bin" ]; then
    for b in "$target/dist/v6audit" "$target/release/v6audit" "$target/debug/v6audit"; do
        if [ -x "$b" ]; then bin=$b; break; fi
    done
fi
[ -x "$bin" ] || { echo "no v6audit binary (build it, or set V6AUDIT_BIN)" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true

work=$(mktemp -d /tmp/v6audit-verdicts.XXXXXX)
lab_pid=""
hog_pid=""
cleanup() {
    [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null || true
    [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" lab serve --portals "$portals" --mix all --dir "$work/lab" >/dev/null 2>&1 &
lab_pid=$!
for _ in $(seq 1 600); do
    [ -f "$work/lab/lab-audit.txt" ] && break
    sleep 0.1
done
[ -f "$work/lab/lab-audit.txt" ] || { echo "the lab did not start" >&2; exit 1; }
read -r -a audit < "$work/lab/lab-audit.txt"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "binary:  $bin ($("$bin" --version | head -n1))"
echo "lab:     $portals portals, mix all; CPU hog: yes > /dev/null on core 0 during each run"
total_wrong=0
for run in $(seq 1 "$runs"); do
    taskset -c 0 sh -c 'exec yes > /dev/null' &
    hog_pid=$!
    start=$(date +%s.%N)
    timeout 900 "$bin" "${audit[@]:1}" --format jsonl --quiet > "$work/run-$run.jsonl" 2> "$work/run-$run.err" || {
        echo "run $run: audit failed: $(tail -n 3 "$work/run-$run.err")" >&2
        exit 1
    }
    end=$(date +%s.%N)
    kill "$hog_pid" 2>/dev/null || true
    wait "$hog_pid" 2>/dev/null || true
    hog_pid=""
    wrong=$(python3 - "$work/lab/lab-expected.tsv" "$work/run-$run.jsonl" <<'EOF'
import json, sys
expected = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    pid, scenario, stage = line.rstrip("\n").split("\t")
    expected[pid] = int(stage)
wrong = []
seen = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    pid = r["portal"]["id"]
    if pid not in expected:
        continue  # an apex/www counterpart the lab did not list
    seen += 1
    got = r["verdict"]["stage"]
    if got != expected[pid]:
        bad = [f'{f["rule"]} {f["status"]}: {f["message"]}' for f in r["verdict"]["findings"]
               if f["status"] in ("fail", "error")]
        wrong.append(f"  {pid}: stage {got}, expected {expected[pid]}; " + " | ".join(bad))
if seen != len(expected):
    wrong.append(f"  only {seen} of {len(expected)} portals reported")
for w in wrong:
    print(w, file=sys.stderr)
print(len(wrong))
EOF
)
    retried=$(grep -c '"failed_attempts"' "$work/run-$run.jsonl" || true)
    printf 'run %d: %d wrong verdicts of %d, %d portals with a retried try, %.1f s\n' \
        "$run" "$wrong" "$portals" "$retried" "$(awk "BEGIN{print $end - $start}")"
    total_wrong=$((total_wrong + wrong))
done
echo "total: $total_wrong wrong verdicts in $runs runs"
[ "$total_wrong" = 0 ]
