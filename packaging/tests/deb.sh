#!/usr/bin/env bash
# The Debian package on this machine, as an administrator meets it: build
# it, `dpkg -i` it, then check the binary and its version, the man pages,
# the completions, the conffiles, the units (`systemd-analyze verify`; no
# running systemd needed), that nothing was enabled or started, that the
# installed collector serves, `dpkg -L`; then remove (state and configuration
# stay), purge, and check nothing is left. Run by .ci/run as root; loopback
# only. Installs what it needs: cargo-deb (into /var/tmp/v6audit-tools),
# man-db and systemd (apt) when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
	echo "deb.sh: run as root (it installs and purges the package)" >&2
	exit 2
fi
tools=/var/tmp/v6audit-tools
export PATH="$tools/cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/v6audit-target}"

step() { printf '== deb: %s\n' "$*"; }
fail() {
	printf 'deb.sh: FAILED: %s\n' "$*" >&2
	exit 1
}

missing=()
command -v man >/dev/null || missing+=(man-db)
command -v systemd-analyze >/dev/null || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
	step "apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! cargo deb --version >/dev/null 2>&1; then
	step "cargo install cargo-deb"
	cargo install --quiet --locked --version 3.8.0 --root "$tools/cargo" cargo-deb
fi

step "build"
deb=$(packaging/deb/build.sh)
[ -f "$deb" ] || fail "build.sh printed '$deb', not a .deb"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "v6audit_${version}_${arch}.deb" ] || fail "package named $(basename "$deb")"
echo "$deb: $(du -k "$deb" | cut -f1) KiB"

# A run that failed half-way may have left it installed.
dpkg --purge v6audit >/dev/null 2>&1 || true
scratch=$(mktemp -d)
collector_pid=
cleanup() {
	[ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null || true
	rm -rf "$scratch"
	dpkg --purge v6audit >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb" >/dev/null

step "the binary"
[ "$(command -v v6audit)" = /usr/bin/v6audit ] || fail "v6audit is $(command -v v6audit)"
v=$(v6audit --version)
echo "$v"
[[ "$v" =~ ^v6audit\ ${version//./\\.}\ \(commit\ [0-9a-f]{12}\)$ ]] || fail "--version printed '$v'"
[ "$(stat -c %a /usr/bin/v6audit)" = 755 ] || fail "/usr/bin/v6audit mode"
if file /usr/bin/v6audit 2>/dev/null | grep -q "not stripped"; then fail "the binary is not stripped"; fi

step "man pages"
[ "$(man -w v6audit)" = /usr/share/man/man1/v6audit.1.gz ] || fail "man -w v6audit: $(man -w v6audit)"
for page in v6audit-audit v6audit-check v6audit-self-check v6audit-agent v6audit-collector-serve; do
	man -w "$page" >/dev/null || fail "no man page $page"
done
MANWIDTH=80 man v6audit-collector-serve 2>/dev/null | grep -q -- "--listen" || fail "v6audit-collector-serve(1) does not render"

step "completions"
for f in /usr/share/bash-completion/completions/v6audit \
	/usr/share/zsh/vendor-completions/_v6audit \
	/usr/share/fish/vendor_completions.d/v6audit.fish; do
	[ -s "$f" ] || fail "no completion file $f"
	grep -q self-check "$f" || fail "$f does not complete self-check"
done
bash -c 'source /usr/share/bash-completion/completions/v6audit && complete -p v6audit' | grep -q _v6audit ||
	fail "bash does not load the completion"

step "configuration"
conffiles=$(dpkg-query -W -f='${Conffiles}' v6audit)
for f in /etc/v6audit/agent.yaml /etc/v6audit/collector.yaml; do
	grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
done
[ -s /usr/share/v6audit/inventories/vn-public-services.yaml ] || fail "the inventory is missing"

step "systemd units"
units=(/usr/lib/systemd/system/v6audit-collector.service
	/usr/lib/systemd/system/v6audit-agent.service
	/usr/lib/systemd/system/v6audit-agent.timer)
for u in "${units[@]}"; do [ -f "$u" ] || fail "no unit $u"; done
if ! out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "${units[@]}" 2>&1); then
	echo "$out" >&2
	fail "systemd-analyze verify"
fi
# Anything it says about our units is a problem (lines about other units
# of this machine are not ours to fix).
if grep -i "v6audit" <<<"$out"; then fail "systemd-analyze verify has warnings about the units"; fi
grep -q '^AmbientCapabilities=CAP_NET_RAW$' /usr/lib/systemd/system/v6audit-agent.service || fail "agent: CAP_NET_RAW"
grep -q '^CapabilityBoundingSet=$' /usr/lib/systemd/system/v6audit-collector.service || fail "collector: capabilities"
for u in v6audit-collector.service v6audit-agent.timer; do
	if ls /etc/systemd/system/*.wants/"$u" >/dev/null 2>&1; then fail "$u was enabled on install"; fi
done

step "the installed collector serves, with the packaged configuration"
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
V6AUDIT_COLLECTOR_STATE_DIR="$scratch" v6audit collector serve \
	--config /etc/v6audit/collector.yaml --listen "[::1]:$port" >"$scratch/collector.log" 2>&1 &
collector_pid=$!
for _ in $(seq 100); do
	v6audit collector health --url "http://[::1]:$port/" --timeout 1 >/dev/null 2>&1 && break
	sleep 0.1
done
v6audit collector health --url "http://[::1]:$port/" || { cat "$scratch/collector.log" >&2; fail "the collector did not serve"; }
kill "$collector_pid"
wait "$collector_pid" 2>/dev/null || true
collector_pid=
# The agent unit without a token: a clear error naming the field, before any traffic.
if out=$(v6audit agent --config /etc/v6audit/agent.yaml --once 2>&1); then fail "the agent ran without a token"; fi
grep -q "collector.token" <<<"$out" || fail "the agent's error does not name collector.token: $out"

step "dpkg -L"
listed=$(dpkg -L v6audit)
for f in /usr/bin/v6audit /usr/share/man/man1/v6audit.1.gz /usr/share/man/man1/v6audit-self-check.1.gz \
	/usr/share/bash-completion/completions/v6audit /usr/share/zsh/vendor-completions/_v6audit \
	/usr/share/fish/vendor_completions.d/v6audit.fish /etc/v6audit/agent.yaml /etc/v6audit/collector.yaml \
	/usr/share/v6audit/inventories/vn-public-services.yaml /usr/share/doc/v6audit/copyright \
	"${units[@]}"; do
	grep -qx "$f" <<<"$listed" || fail "dpkg -L does not list $f"
done

step "remove keeps state and configuration; purge removes them"
mkdir -p /var/lib/private/v6audit
ln -sfn private/v6audit /var/lib/v6audit
echo state >/var/lib/private/v6audit/collector.db
install -m 0600 /dev/null /etc/v6audit/agent.token
dpkg -r v6audit >/dev/null
[ ! -e /usr/bin/v6audit ] || fail "remove left /usr/bin/v6audit"
[ -f /etc/v6audit/agent.yaml ] || fail "remove deleted a conffile"
[ -f /var/lib/v6audit/collector.db ] || fail "remove deleted the collector's state"
dpkg --purge v6audit >/dev/null
for p in /etc/v6audit /var/lib/v6audit /var/lib/private/v6audit /var/lib/v6audit-agent \
	/usr/share/v6audit /usr/share/doc/v6audit /usr/lib/systemd/system/v6audit-collector.service \
	/usr/share/man/man1/v6audit.1.gz; do
	[ ! -e "$p" ] && [ ! -L "$p" ] || fail "purge left $p"
done
if dpkg-query -W v6audit >/dev/null 2>&1; then fail "dpkg still knows v6audit"; fi
step "ok"
