#!/usr/bin/env bash
# Ingest: results per second a collector on SQLite acknowledges (durably
# stored) as agents push real reports over loopback HTTP, at report sizes
# of 100, 1,000 and 10,000 results, with four agents at once, and for one
# report whose results all tie on one portal and timestamp. Prints the
# machine and a table; copy it into bench/RESULTS.md with the command.
#
#   bench/ingest.sh                      # 20,000 results a case
#   bench/ingest.sh --results 5000       # a quick run
#   bench/ingest.sh --sizes 100,1000 --agents 8
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile dist -p v6audit-collector --example ingest_bench
target=${CARGO_TARGET_DIR:-$PWD/target}
exec "$target/dist/examples/ingest_bench" "$@"
