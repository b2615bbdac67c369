#!/usr/bin/env bash
# Builds the Debian package: the shipped binary (profile `dist`: fat LTO, one
# codegen unit, stripped), its man pages and shell completions generated from the CLI
# itself, then `cargo deb` with the metadata in cli/Cargo.toml. Prints the
# path of the .deb. Needs cargo-deb (`cargo install cargo-deb`).
#
#   packaging/deb/build.sh            # -> target/debian/v6audit_<version>_<arch>.deb
#   CARGO_TARGET_DIR=/var/tmp/t packaging/deb/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! cargo deb --version >/dev/null 2>&1; then
	echo "build.sh: cargo-deb is missing: cargo install --locked cargo-deb" >&2
	exit 2
fi
target=${CARGO_TARGET_DIR:-$PWD/target}

cargo build --profile dist --locked -p v6audit
bin="$target/dist/v6audit"
generated="$target/dist/package"
rm -rf "$generated"
"$bin" generate man --out "$generated/man" >/dev/null
# Debian policy: man pages compressed, reproducibly (no name, no time).
gzip -9n "$generated"/man/*.1
for shell in bash zsh fish; do
	"$bin" generate completions "$shell" --out "$generated/completions" >/dev/null
done

# --no-build: the binary above is the one the pages were generated from.
cargo deb -p v6audit --profile dist --no-build --locked --output "$target/debian/" -q | tail -n 1
