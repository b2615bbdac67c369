#!/usr/bin/env bash
# The agent's heap on the lab: heaptrack around `v6audit audit` of N lab
# portals (mix `good`, --concurrency 64, --format jsonl), built in the
# `profiling` profile (the release code with symbols). Prints the machine,
# allocations per portal, the peak heap, and the sites that allocate most
# (by the innermost v6audit frame, then by the innermost frame of any crate);
# copy the block into bench/RESULTS.md with the command. Loopback only.
#
#   bench/heap-profile.sh            # 1,000 portals
#   bench/heap-profile.sh 2000
#   V6AUDIT_BIN=/path/to/v6audit bench/heap-profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
command -v heaptrack >/dev/null || { echo "heaptrack is not installed (apt-get install heaptrack)" >&2; exit 1; }
if [ -z "${V6AUDIT_BIN:-}" ]; then
    cargo build --quiet --profile profiling -p v6audit
    V6AUDIT_BIN=${CARGO_TARGET_DIR:-target}/profiling/v6audit
fi
BIN=$V6AUDIT_BIN
WORK=$(mktemp -d)
LAB=""
cleanup() {
    [ -n "$LAB" ] && kill "$LAB" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" lab serve --portals "$N" --mix good --dir "$WORK" > "$WORK/lab.log" 2>&1 &
LAB=$!
for _ in $(seq 1 600); do [ -f "$WORK/lab-audit.txt" ] && break; sleep 0.1; done
[ -f "$WORK/lab-audit.txt" ] || { echo "the lab did not start" >&2; exit 1; }
read -r -a audit < "$WORK/lab-audit.txt"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "v6audit: $("$BIN" --version | head -n 1)"
heaptrack -o "$WORK/heap" "$BIN" "${audit[@]:1}" --concurrency 64 --timeout 10 --quiet \
    --format jsonl --output "$WORK/out.jsonl" > "$WORK/heaptrack.log" 2>&1
results=$(wc -l < "$WORK/out.jsonl")
heaptrack_print -f "$WORK/heap.zst" > "$WORK/summary.txt" 2>/dev/null
heaptrack_print -f "$WORK/heap.zst" --flamegraph-cost-type allocations -F "$WORK/folded" > /dev/null 2>&1
python3 - "$WORK/summary.txt" "$WORK/folded" "$N" "$results" <<'EOF'
import collections, re, sys
summary, folded, n, results = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
text = open(summary).read()
calls = int(re.search(r"calls to allocation functions: (\d+)", text).group(1))
peak = re.search(r"peak heap memory consumption: (\S+)", text).group(1)
print(f"portals {n}, results {results}")
print(f"allocations {calls}  per portal {calls / n:.0f}  peak heap {peak}")
ours, anywhere = collections.Counter(), collections.Counter()
crate = re.compile(r"(v6audit_\w+|hickory_\w+|rustls|tokio_rustls|tokio|hyper\w*|serde\w*|html5gum|url|idna|reqwest|aws_lc_rs)::")
def short(frame):
    frame = re.sub(r"::h[0-9a-f]{16}", "", frame)
    frame = re.sub(r"\$LT\$|\$GT\$|\$u20\$|\$RF\$|\$C\$|\$u7b\$|\$u7d\$", "", frame)
    return frame[:110]
for line in open(folded):
    stack, _, count = line.rstrip().rpartition(" ")
    count = int(count)
    frames = stack.split(";")
    mine = [f for f in frames if "v6audit_" in f]
    ours[short(mine[-1]) if mine else "(outside v6audit)"] += count
    named = [f for f in frames if crate.search(f)]
    anywhere[short(named[-1]) if named else "(std, libc)"] += count
print("by the innermost v6audit frame (allocations per portal):")
for site, c in ours.most_common(15):
    print(f"  {c / n:8.1f}  {site}")
print("by the innermost frame of a named crate (allocations per portal):")
for site, c in anywhere.most_common(15):
    print(f"  {c / n:8.1f}  {site}")
EOF
