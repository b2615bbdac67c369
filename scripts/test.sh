#!/usr/bin/env bash
# The whole v6audit test suite, with everything it needs set up first.
#
# Usage: ./scripts/test.sh [extra cargo test arguments]
#
# Needs: a Rust toolchain (cargo) and IPv6 on the loopback interface (the lab
# listens on [::1] and 127.0.0.1). Run as root on a fresh machine, it turns
# IPv6 on for `lo` if it is off. Nothing here reaches beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

# The lab and the agent's tests run on ::1.
if [ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 0)" = "1" ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "test.sh: enabling IPv6 on the loopback interface"
        sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0
    else
        echo "test.sh: IPv6 is disabled on lo; run as root or: sudo sysctl -w net.ipv6.conf.lo.disable_ipv6=0" >&2
        exit 2
    fi
fi
if ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
    if [ "$(id -u)" = "0" ] && command -v ip >/dev/null; then
        ip -6 addr add ::1/128 dev lo 2>/dev/null || true
    fi
fi

# The 1,000-portal test opens many sockets at once.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec cargo test --workspace --locked "$@"
