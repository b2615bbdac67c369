#!/usr/bin/env bash
# The size of what ships: the shipped binary (fat LTO, one codegen unit,
# stripped; [profile.dist] in Cargo.toml), the .deb, and what the package
# installs. Builds the package first (packaging/deb/build.sh, which needs
# cargo-deb). Prints the machine and the figures; copy the block into
# bench/RESULTS.md with the command.
#
#   bench/binary-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}

start=$(date +%s)
deb=$(packaging/deb/build.sh)
took=$(($(date +%s) - start))
bin="$target/dist/v6audit"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "commit: $("$bin" --version)"
mib() { awk -v b="$1" 'BEGIN { printf "%10d bytes  %6.1f MiB", b, b / 1048576 }'; }
echo "binary  $(mib "$(stat -c %s "$bin")")  (build + package took ${took} s; 0 when nothing changed)"
echo ".deb    $(mib "$(stat -c %s "$deb")")"
printf 'installed %8s KiB (Installed-Size)\n' "$(dpkg-deb -f "$deb" Installed-Size)"
if command -v size >/dev/null; then
	size -A "$bin" | awk '$1 ~ /^\.(text|rodata|data\.rel\.ro|eh_frame)$/ {printf "  %-14s %6.1f MiB\n", $1, $2/1048576}'
fi
