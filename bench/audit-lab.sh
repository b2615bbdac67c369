#!/usr/bin/env bash
# Benchmark: how fast, and in how much memory, `v6audit audit` audits the lab,
# side by side with a peer doing less: curl fetching each portal's page once
# over IPv6 and once over IPv4 (no DNS walk, no name-server queries, no
# certificate facts, no per-address probes), with the same parallelism.
#
# Usage: bench/audit-lab.sh [PORTALS [MIX]]   (default 1000 fast; loopback only)
# Prints the machine, both runs and their ratio; copy the block into
# bench/RESULTS.md with the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
MIX=${2:-fast}
PAR=64
cargo build --profile dist --quiet -p v6audit
BIN=${CARGO_TARGET_DIR:-target}/dist/v6audit
DIR=$(mktemp -d)
trap 'kill "$LAB" 2>/dev/null || true; rm -rf "$DIR"' EXIT

# `fast`: every scenario that answers at once, so no run waits out a timeout.
"$BIN" lab serve --portals "$N" --mix "$MIX" --dir "$DIR" > "$DIR/lab.log" 2>&1 &
LAB=$!
for _ in $(seq 1 600); do [ -f "$DIR/lab-audit.txt" ] && break; sleep 0.1; done
read -r -a AUDIT < "$DIR/lab-audit.txt"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "portals: $N (lab mix $MIX), parallelism $PAR"

# v6audit: the full audit.
/usr/bin/time -f '%e %M' -o "$DIR/v6.time" \
    "$BIN" "${AUDIT[@]:1}" --concurrency "$PAR" --timeout 10 --format jsonl --quiet --output "$DIR/out.jsonl"
read -r V6_WALL V6_RSS < "$DIR/v6.time"
RESULTS=$(wc -l < "$DIR/out.jsonl")

# The peer: curl, one HTTPS GET per family per portal, the address pinned.
CA="$DIR/lab-ca.pem"
grep -E '^\s+url: ' "$DIR/lab-inventory.yaml" | awk '{print $2}' > "$DIR/urls"
fetch() {
    local url=$1 hostport host port
    hostport=${url#https://}; hostport=${hostport%%/*}
    host=${hostport%%:*}; port=${hostport##*:}
    curl -s -o /dev/null --max-time 10 --cacert "$CA" --resolve "$host:$port:[::1]" "$url" || true
    curl -s -o /dev/null --max-time 10 --cacert "$CA" --resolve "$host:$port:127.0.0.1" "$url" || true
}
export -f fetch
export CA
/usr/bin/time -f '%e %M' -o "$DIR/curl.time" \
    bash -c "xargs -P $PAR -n 1 bash -c 'fetch \"\$0\"' < '$DIR/urls'"
read -r CURL_WALL CURL_RSS < "$DIR/curl.time"

awk -v n="$N" -v r="$RESULTS" -v vw="$V6_WALL" -v vr="$V6_RSS" -v cw="$CURL_WALL" -v cr="$CURL_RSS" 'BEGIN {
    printf "v6audit audit : %6.2f s  %7.1f portals/s  max RSS %6.1f MiB  (%d results)\n", vw, n / vw, vr / 1024, r
    printf "curl x2/portal: %6.2f s  %7.1f portals/s  max RSS %6.1f MiB  (one curl process)\n", cw, n / cw, cr / 1024
    printf "ratio v6audit/curl wall time: %.2f\n", vw / cw
}'
