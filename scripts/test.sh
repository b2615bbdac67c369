#!/usr/bin/env bash
# The whole v6audit test suite, with everything it needs set up first.
#
# Usage: ./scripts/test.sh [extra cargo test arguments]
#
# Needs: a Rust toolchain (cargo), python3 with pip, npm, and IPv6 on the
# loopback interface (the lab listens on [::1] and 127.0.0.1). Run as root on a
# fresh machine, it turns IPv6 on for `lo` if it is off. It installs, once,
# the independent validators of the CI formats into $V6AUDIT_CI_TOOLS
# (default /var/tmp/v6audit-tools): junitparser and jsonschema from PyPI, and
# the SARIF 2.1.0 JSON schema from the npm package @microsoft/jest-sarif.
# The tests themselves reach nothing beyond loopback.
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

# Independent consumers of the JUnit and SARIF outputs (pinned versions).
export V6AUDIT_CI_TOOLS="${V6AUDIT_CI_TOOLS:-/var/tmp/v6audit-tools}"
export V6AUDIT_REQUIRE_CI_TOOLS=1
if [ ! -f "$V6AUDIT_CI_TOOLS/.ready" ]; then
    echo "test.sh: installing the CI-format validators into $V6AUDIT_CI_TOOLS"
    rm -rf "$V6AUDIT_CI_TOOLS" && mkdir -p "$V6AUDIT_CI_TOOLS"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --target "$V6AUDIT_CI_TOOLS/py" junitparser==5.0.3 jsonschema==4.26.0
    (
        cd "$V6AUDIT_CI_TOOLS"
        npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null
        tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz package/lib/schemas/sarif-2.1.0-rtm.5.json
        mv package/lib/schemas/sarif-2.1.0-rtm.5.json .
        rm -rf package microsoft-jest-sarif-1.0.0-beta.0.tgz
    )
    touch "$V6AUDIT_CI_TOOLS/.ready"
fi

# The 1,000-portal test opens many sockets at once.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec cargo test --workspace --locked "$@"
