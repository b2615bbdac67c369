#!/usr/bin/env bash
# The agent's heap on the lab: heaptrack around `v6audit audit` of N lab
# portals (mix `good`, --concurrency 64, --format jsonl), built in the
# `profiling` profile (the shipped code with symbols, on glibc's malloc). Prints the machine,
# allocations per portal, the peak heap, and the sites that allocate most
# (the innermost frames outside the allocator and std's containers);
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
    # Without mimalloc: heaptrack counts what goes through libc's malloc.
    cargo build --quiet --profile profiling -p v6audit --no-default-features
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
sites = collections.Counter()
# The allocator's own frames and the standard library's containers say
# nothing about who allocates: skip them to the first caller.
plumbing = re.compile(r"\((alloc|raw_vec|boxed|string|slice|str|borrow|spec_from_elem|spec_from_iter|spec_from_iter_nested|in_place_collect|vec|mem|fmt|function|option|result|map|into_iter|iterator|clone3\.S|pthread_create\.c)\.rs\)|^_R|^__rust|^malloc|^realloc|^calloc|OPENSSL_malloc|OPENSSL_realloc")
for line in open(folded):
    stack, _, count = line.rstrip().rpartition(" ")
    frames = [f for f in stack.split(";") if not plumbing.search(f) and "(mod.rs)" not in f]
    sites[" < ".join(f[:60] for f in reversed(frames[-3:]))] += int(count)
print("allocations per portal by call site (the innermost three frames outside the allocator):")
for site, c in sites.most_common(20):
    print(f"  {c / n:8.1f}  {site}")
EOF
