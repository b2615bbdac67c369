#!/usr/bin/env bash
# The whole v6audit test suite, with everything it needs set up first.
#
# Usage: ./scripts/test.sh [extra cargo test arguments]
#
# Needs: a Rust toolchain (cargo), python3 with pip, npm, and IPv6 on the
# loopback interface (the lab listens on [::1] and 127.0.0.1). Run as root on a
# fresh machine, it turns IPv6 on for `lo` if it is off, installs tmux,
# Chromium with chromedriver, nginx, Knot DNS, postfix and nftables (for the
# lab of real servers in network namespaces, tests/netns), and PostgreSQL
# from Debian's packages when missing, and starts a private
# PostgreSQL on loopback for the storage tests (stopped on exit). It installs, once,
# the independent validators of the CI formats into $V6AUDIT_CI_TOOLS
# (default /var/tmp/v6audit-tools): junitparser and jsonschema from PyPI, and
# the SARIF 2.1.0 JSON schema from the npm package @microsoft/jest-sarif.
# The tests themselves reach nothing beyond loopback and the network
# namespaces they make (documentation prefixes, no route off the machine).
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
    # Only what this step installs: packaging/tests/deb.sh keeps cargo-deb here too.
    rm -rf "$V6AUDIT_CI_TOOLS/py" "$V6AUDIT_CI_TOOLS/sarif-2.1.0-rtm.5.json"
    mkdir -p "$V6AUDIT_CI_TOOLS"
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

# tmux for the terminal test of `v6audit tui`.
if ! command -v tmux >/dev/null && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing tmux"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
fi
if command -v tmux >/dev/null; then
    export V6AUDIT_REQUIRE_TMUX=1
fi

# Debian's Chromium and chromedriver for the dashboard's browser test.
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing chromium and chromium-driver"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    export V6AUDIT_REQUIRE_BROWSER=1
fi

# `self-check` in a network namespace of its own (unshare -n) needs root.
if [ "$(id -u)" = "0" ]; then
    export V6AUDIT_REQUIRE_NETNS=1
fi

# The lab of real servers (tests/netns): nginx, Knot DNS, postfix and
# nftables in network namespaces the test makes itself, as root. The
# packages' own services are not used (and not started here); the test runs
# its own instances inside its namespaces.
real_servers="nginx:nginx-light knotd:knot keymgr:knot kdig:knot-dnsutils postfix:postfix nft:nftables ip:iproute2"
need=""
for pair in $real_servers; do
    tool="${pair%%:*}"
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        need="$need ${pair#*:}"
    fi
done
if [ -n "$need" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing the real servers of tests/netns:$need"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ "$(id -u)" = "0" ]; then
    export V6AUDIT_REQUIRE_REAL_SERVERS=1
fi

# PostgreSQL for the storage tests: a private cluster on loopback, started
# here and stopped on exit (installed from Debian's packages when missing).
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing PostgreSQL"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN=$(pg_bin)
if [ -n "$PG_BIN" ]; then
    PG_PORT=${V6AUDIT_TEST_PG_PORT:-54329}
    PGDATA=$(mktemp -d /var/tmp/v6audit-pg.XXXXXX)
    as_pg=()
    if [ "$(id -u)" = "0" ]; then
        chown postgres: "$PGDATA"
        as_pg=(runuser -u postgres --)
    fi
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -o \
        "-c listen_addresses='127.0.0.1,::1' -p $PG_PORT -c unix_socket_directories='$PGDATA' -c fsync=off -c max_connections=200" \
        start >/dev/null
    stop_pg() { "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1; rm -rf "$PGDATA"; }
    trap stop_pg EXIT
    export V6AUDIT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    export V6AUDIT_REQUIRE_POSTGRES=1
    echo "test.sh: PostgreSQL on 127.0.0.1:$PG_PORT and [::1]:$PG_PORT"
elif [ -n "${V6AUDIT_SKIP_POSTGRES:-}" ]; then
    echo "test.sh: no PostgreSQL here; V6AUDIT_SKIP_POSTGRES is set, so its half of the storage tests is skipped" >&2
else
    echo "test.sh: the storage tests run on SQLite and PostgreSQL, and no PostgreSQL server is installed here." >&2
    echo "test.sh: run as root (it installs Debian's postgresql), install it yourself, or set V6AUDIT_SKIP_POSTGRES=1 to skip that half." >&2
    exit 2
fi

# The 1,000-portal test opens many sockets at once.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The fuzz targets (proptest, `--test fuzz` in each crate) run a short,
# repeatable round here: a fixed seed, the default case counts. The long run
# with fresh seeds is in the README's Tests section.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261202}"

cargo test --workspace --locked --no-fail-fast "$@"
