#!/usr/bin/env bash
# The dashboard's speed: a collector on SQLite seeded with P portals x D days
# x V vantages of history (default 2,000 x 365 x 3), then every page asked
# over loopback HTTP, once just after new data and N times in steady state,
# with the JSON API as the peer in the same run. Prints the machine and the
# figures; copy the block into bench/RESULTS.md with the command.
#
#   bench/dashboard.sh                        # 2000 portals, 365 days, 3 vantages
#   bench/dashboard.sh 200 30 3               # a quick run
#   DB=/var/tmp/dash.db bench/dashboard.sh    # keep (and reuse) the seeded database
#
# Seeding 2.19 million results takes about a quarter of an hour on 2 cores;
# with DB= a second run reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."
portals=${1:-2000}
days=${2:-365}
vantages=${3:-3}
requests=${REQUESTS:-40}
args=(--portals "$portals" --days "$days" --vantages "$vantages" --requests "$requests")
if [ -n "${DB:-}" ]; then
    args+=(--db "$DB")
fi
cargo build --quiet --profile dist -p v6audit-collector --example dashboard_bench
target=${CARGO_TARGET_DIR:-$PWD/target}
exec "$target/dist/examples/dashboard_bench" "${args[@]}"
