#!/usr/bin/env bash
# Benchmark: `v6audit audit` of the lab beside Prometheus's blackbox_exporter
# (Debian's package) asked for the same seven facts a portal: HTTPS and HTTP
# over IPv6 and over IPv4, and DNS A, AAAA and NS. Both run with 64 portals
# (blackbox: 64 probes) in flight, alternating A B A B, and for each run the
# script measures wall time, CPU time, peak memory, the TCP connections made
# to the lab and the DNS queries asked of it (nftables counters on `lo`).
#
#   bench/peer-blackbox.sh [PORTALS]      # default 1000, lab mix good
#   ROUNDS=3 bench/peer-blackbox.sh 1000  # rounds of the two (default 2)
#   BIN=/path/to/v6audit bench/peer-blackbox.sh 200   # no cargo build
#   BEFORE=/path/to/older/v6audit bench/peer-blackbox.sh 1000
#       # a third row each round: an older build's audit of the same lab with
#       # the same command, and the ratio of the two builds' CPU a portal;
#       # BEFORE_PACK=file gives it another rule pack, for a build older than
#       # the lab's pack (a pack it cannot read)
#
# Needs root (apt-get, nft). Installs prometheus-blackbox-exporter if it is
# missing, keeps the packaged service stopped and disabled, and runs its own
# exporter on 127.0.0.1 with its own config. Loopback only. Prints the
# machine, one row per run and tool, and the ratios; copy the block into
# bench/RESULTS.md with the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
ROUNDS=${ROUNDS:-2}
PAR=64
TIMEOUT=10
BB=/usr/bin/prometheus-blackbox-exporter
BB_PKG=prometheus-blackbox-exporter
TABLE=v6audit_bench
# Every wait is bounded: the lab's start, each run, each process's end.
RUN_LIMIT=$((600 + N))

[ "$(id -u)" = 0 ] || { echo "peer-blackbox.sh: needs root (apt-get, nft)" >&2; exit 2; }
for tool in nft curl ss /usr/bin/time timeout; do
    command -v "$tool" > /dev/null || { echo "peer-blackbox.sh: needs $tool" >&2; exit 2; }
done

if [ -z "${BIN:-}" ]; then
    cargo build --profile dist --quiet -p v6audit
    BIN=${CARGO_TARGET_DIR:-target}/dist/v6audit
fi

DIR=$(mktemp -d)
LAB=
BBPID=
RUNPID=
POLICY_RC_CREATED=

stop_pid() { # stop a process this script started: TERM, up to 10 s, then KILL
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2> /dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
}
cleanup() {
    set +e
    stop_pid "$RUNPID"
    stop_pid "$BBPID"
    stop_pid "$LAB"
    nft delete table inet "$TABLE" 2> /dev/null
    [ -n "$POLICY_RC_CREATED" ] && rm -f /usr/sbin/policy-rc.d
    rm -rf "$DIR"
}
trap cleanup EXIT
# A measured run is waited for with `wait`, which a signal interrupts, so
# Ctrl-C or a TERM stops the run and cleans up at once.
bounded() { # bounded SECONDS COMMAND...: run it in the background, wait for it
    local rc=0
    timeout "$@" &
    RUNPID=$!
    wait "$RUNPID" || rc=$?
    RUNPID=
    return "$rc"
}
trap 'exit 1' INT TERM HUP

# --- blackbox_exporter: installed, the packaged service stopped -------------
if [ ! -x "$BB" ]; then
    # No service may start during the install: policy-rc.d says no (Debian's
    # own mechanism), unless the machine already has one.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$BB_PKG" > /dev/null
    if [ -n "$POLICY_RC_CREATED" ]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=; fi
fi
# The packaged service listens on :9115, every interface. Stop it and keep it
# from starting at boot, with systemd or without it.
if [ -d /run/systemd/system ] && command -v systemctl > /dev/null; then
    timeout 60 systemctl disable --now "$BB_PKG.service" > /dev/null 2>&1 || true
else
    if command -v systemctl > /dev/null; then # offline: removes the wants/ link
        timeout 60 systemctl disable "$BB_PKG.service" > /dev/null 2>&1 || true
    fi
    if [ -x "/etc/init.d/$BB_PKG" ]; then
        timeout 60 "/etc/init.d/$BB_PKG" stop > /dev/null 2>&1 || true
    fi
    if command -v update-rc.d > /dev/null; then
        update-rc.d "$BB_PKG" disable > /dev/null 2>&1 || true
    fi
fi
if ss -Hltnp | grep '"prometheus-blac' | awk '{print $4}' | grep -qvE '^(127\.[0-9.]+|\[::1\]):'; then
    echo "peer-blackbox.sh: warning: a blackbox_exporter we did not start still listens beyond loopback:" >&2
    ss -Hltnp | grep '"prometheus-blac' >&2
fi
BB_VERSION=$("$BB" --version 2>&1 | head -1)

# --- the lab ------------------------------------------------------------------
mkdir "$DIR/lab"
"$BIN" lab serve --portals "$N" --mix good --dir "$DIR/lab" > "$DIR/lab.log" 2>&1 &
LAB=$!
for _ in $(seq 1 3000); do
    [ -f "$DIR/lab/lab-audit.txt" ] && break
    kill -0 "$LAB" 2> /dev/null || { cat "$DIR/lab.log" >&2; exit 1; }
    sleep 0.1
done
[ -f "$DIR/lab/lab-audit.txt" ] || { echo "peer-blackbox.sh: the lab did not start in 300 s" >&2; exit 1; }
read -r -a AUDIT < "$DIR/lab/lab-audit.txt"
CA="$DIR/lab/lab-ca.pem"
DNS_PORT=$(grep -oE -- '--ns-port [0-9]+' "$DIR/lab/lab-audit.txt" | awk '{print $2}')
# Every TCP port the lab listens on (web, mail, DNS): connections are SYNs to these.
LAB_TCP=$(ss -Hltnp | { grep "pid=$LAB," || true; } | awk '{print $4}' | sed 's/.*://' | sort -nu | paste -sd, -)
if [ -z "$DNS_PORT" ] || [ -z "$LAB_TCP" ]; then echo "peer-blackbox.sh: cannot read the lab's ports" >&2; exit 1; fi

# The portals: id, host, HTTPS port (the URL's), HTTP port (the other one listed).
awk '
    /^  - id: / { id = $3 }
    /^    url: / { u = $2; sub(/^https:\/\//, "", u); sub(/\/.*/, "", u)
                   host = u; sub(/:.*/, "", host); https = (u ~ /:/) ? u : "443"; sub(/.*:/, "", https) }
    /^    ports: / { p = $0; sub(/.*\[/, "", p); sub(/\].*/, "", p); gsub(/ /, "", p)
                   n = split(p, a, ","); http = "80"; for (i = 1; i <= n; i++) if (a[i] != https) http = a[i]
                   print id, host, https, http }
' "$DIR/lab/lab-inventory.yaml" > "$DIR/portals"
[ "$(wc -l < "$DIR/portals")" -eq "$N" ] || { echo "peer-blackbox.sh: read $(wc -l < "$DIR/portals") portals of $N" >&2; exit 1; }

# --- nftables: counters on lo, nothing dropped ------------------------------
nft delete table inet "$TABLE" 2> /dev/null || true
nft -f - << EOF
table inet $TABLE {
    counter conns {}
    counter dns_udp {}
    counter dns_tcp {}
    chain input {
        type filter hook input priority -150; policy accept;
        iifname "lo" tcp dport { $LAB_TCP } tcp flags & (syn | ack) == syn counter name conns
        iifname "lo" tcp dport $DNS_PORT tcp flags & (syn | ack) == syn counter name dns_tcp
        iifname "lo" udp dport $DNS_PORT counter name dns_udp
    }
}
EOF
counter() { nft list counter inet "$TABLE" "$1" | awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'; }
counters() { echo "$(counter conns) $(counter dns_udp) $(counter dns_tcp)"; }

# --- blackbox: config and the probe list ------------------------------------
# The http prober probes an address literal (the system resolver does not
# know the lab's names) and sends the portal's name as Host and SNI through
# the `hostname=` parameter; the certificate is verified against the lab CA
# for that name. The dns prober's question is fixed in its module, so each
# portal has an A and an AAAA module, and each zone an NS module (the zone
# taken as the host name less its first label).
http_module() { # name family tls
    cat << EOF
  $1:
    prober: http
    timeout: ${TIMEOUT}s
    http:
      preferred_ip_protocol: $2
      ip_protocol_fallback: false
      follow_redirects: false
EOF
    if [ "$3" = tls ]; then
        cat << EOF
      fail_if_not_ssl: true
      tls_config:
        ca_file: $CA
EOF
    else
        cat << EOF
      fail_if_ssl: true
      valid_status_codes: [200, 301, 302, 303, 307, 308]
EOF
    fi
}
dns_module() { # name query-name type
    cat << EOF
  $1:
    prober: dns
    timeout: ${TIMEOUT}s
    dns:
      preferred_ip_protocol: ip6
      ip_protocol_fallback: false
      query_name: $2
      query_type: $3
      valid_rcodes: [NOERROR]
      validate_answer_rrs:
        fail_if_none_matches_regexp: ['\\sIN\\s+$3\\s']
EOF
}
{
    echo "modules:"
    http_module https6 ip6 tls
    http_module https4 ip4 tls
    http_module http6 ip6 plain
    http_module http4 ip4 plain
    while read -r id host _ _; do
        dns_module "a_$id" "$host" A
        dns_module "aaaa_$id" "$host" AAAA
    done < "$DIR/portals"
    awk '{ z = $2; sub(/^[^.]*\./, "", z); print z }' "$DIR/portals" | sort -u | while read -r zone; do
        dns_module "ns_$zone" "$zone" NS
    done
} > "$DIR/blackbox.yml"
"$BB" --config.check --config.file="$DIR/blackbox.yml" > "$DIR/bb-check.log" 2>&1 \
    || { cat "$DIR/bb-check.log" >&2; exit 1; }

free_port() {
    local p
    for _ in $(seq 1 200); do
        # Below the ephemeral range (32768 and up), which the runs' own
        # connections take ports from: a listener there can collide with one.
        p=$((20000 + RANDOM % 12000))
        [ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return; }
    done
    echo "peer-blackbox.sh: no free port" >&2; exit 1
}
BB_PORT=$(free_port)
PROBE="http://127.0.0.1:$BB_PORT/probe"
# The driver is one curl process with 64 transfers in flight (curl -Z), not
# a curl process per probe: 7 x N process starts would take the two cores
# from the exporter. One config: seven probes a portal, each answer to a file
# of its own.
V6="%5B%3A%3A1%5D"
mkdir "$DIR/r"
while read -r id host https http; do
    zone=${host#*.}
    for probe in \
        "https6 https%3A%2F%2F$V6%3A$https%2F $host" \
        "https4 https%3A%2F%2F127.0.0.1%3A$https%2F $host" \
        "http6 http%3A%2F%2F$V6%3A$http%2F $host" \
        "http4 http%3A%2F%2F127.0.0.1%3A$http%2F $host" \
        "a_$id $V6%3A$DNS_PORT" \
        "aaaa_$id $V6%3A$DNS_PORT" \
        "ns_$zone $V6%3A$DNS_PORT"; do
        read -r module target name <<< "$probe"
        echo "url = \"$PROBE?module=$module&target=$target${name:+&hostname=$name}\""
        echo "output = \"$DIR/r/$id.${module%%_*}\""
    done
done < "$DIR/portals" > "$DIR/probes.curl"
PROBES=$((7 * N))

TICK=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$TICK" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / t }' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

start_blackbox() {
    "$BB" --config.file="$DIR/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" \
        --log.level=warn > "$DIR/bb.log" 2>&1 &
    BBPID=$!
    for _ in $(seq 1 300); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$BB_PORT/-/healthy" && return 0
        kill -0 "$BBPID" 2> /dev/null || break
        sleep 0.1
    done
    cat "$DIR/bb.log" >&2
    echo "peer-blackbox.sh: blackbox_exporter did not start in 30 s" >&2
    exit 1
}

# One row per run: round tool wall_s cpu_ms conns dns_udp dns_tcp rss_kib driver_cpu_ms checked
: > "$DIR/rows"
run_v6audit() { # round [tool binary pack]
    local before after tool=${2:-v6audit} bin=${3:-$BIN} args=("${AUDIT[@]:1}") i
    if [ -n "${4:-}" ]; then
        local found=
        for i in "${!args[@]}"; do
            if [ "${args[$i]}" = --rules ]; then args[i + 1]=$4; found=1; fi
        done
        if [ -z "$found" ]; then args+=(--rules "$4"); fi
    fi
    before=$(counters)
    bounded "$RUN_LIMIT" /usr/bin/time -f '%e %U %S %M' -o "$DIR/v6.time" \
        "$bin" "${args[@]}" --concurrency "$PAR" --timeout "$TIMEOUT" --format jsonl --quiet --output "$DIR/out.jsonl" \
        || { echo "peer-blackbox.sh: $bin audit failed or took over $RUN_LIMIT s" >&2; exit 1; }
    after=$(counters)
    read -r wall user sys rss < <(tail -n 1 "$DIR/v6.time")
    read -r c0 u0 t0 <<< "$before"; read -r c1 u1 t1 <<< "$after"
    echo "$1 $tool $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print (u + s) * 1000 }') $((c1 - c0)) $((u1 - u0)) $((t1 - t0)) $rss - $(wc -l < "$DIR/out.jsonl")_results" >> "$DIR/rows"
}
run_blackbox() {
    local before after cpu0 cpu1 ok failed
    rm -rf "$DIR/r"; mkdir "$DIR/r"
    start_blackbox
    before=$(counters); cpu0=$(cpu_ms "$BBPID")
    bounded "$RUN_LIMIT" /usr/bin/time -f '%e %U %S %M' -o "$DIR/curl.time" \
        curl -s --no-progress-meter -Z --parallel-max "$PAR" --parallel-immediate \
        --max-time $((TIMEOUT + 5)) -K "$DIR/probes.curl" 2> "$DIR/curl.err" || true
    cpu1=$(cpu_ms "$BBPID"); after=$(counters)
    rss=$(hwm_kib "$BBPID")
    stop_pid "$BBPID"; BBPID=
    read -r wall user sys _ < <(tail -n 1 "$DIR/curl.time")
    read -r c0 u0 t0 <<< "$before"; read -r c1 u1 t1 <<< "$after"
    # An answer that says probe_success 1 is a fact found; the others are
    # counted by module (a file missing: blackbox never answered).
    ok=$({ grep -rl '^probe_success 1$' "$DIR/r" || true; } | wc -l)
    failed=$({ grep -rL '^probe_success 1$' "$DIR/r" || true; } | sed 's/.*\.//' | sort | uniq -c \
        | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')
    missing=$((PROBES - $(find "$DIR/r" -type f | wc -l)))
    if [ "$missing" -gt 0 ]; then failed="${failed:+$failed,}no-answer:$missing"; fi
    echo "$1 blackbox $wall $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }') $((c1 - c0)) $((u1 - u0)) $((t1 - t0)) $rss $(awk -v u="$user" -v s="$sys" 'BEGIN { print (u + s) * 1000 }') ${ok}/${PROBES}_probes_ok${failed:+_(failed_$failed)}" >> "$DIR/rows"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "portals: $N (lab mix good), parallelism $PAR, timeout $TIMEOUT s, rounds $ROUNDS"
echo "v6audit: $("$BIN" --version 2>&1 | head -1)"
if [ -n "${BEFORE:-}" ]; then echo "before:  $("$BEFORE" --version 2>&1 | head -1) ($BEFORE)"; fi
echo "peer:    $BB_VERSION, 7 probes a portal (https, http x ip6, ip4; dns A, AAAA, NS)"
for r in $(seq 1 "$ROUNDS"); do
    # With an older build, odd rounds run this build first and even rounds
    # the older one, so that neither always follows blackbox's run.
    if [ -n "${BEFORE:-}" ] && [ $((r % 2)) -eq 0 ]; then
        run_v6audit "$r" before "$BEFORE" "${BEFORE_PACK:-}"
        run_blackbox "$r"
        run_v6audit "$r"
    else
        run_v6audit "$r"
        run_blackbox "$r"
        if [ -n "${BEFORE:-}" ]; then run_v6audit "$r" before "$BEFORE" "${BEFORE_PACK:-}"; fi
    fi
done

awk -v n="$N" '
    function median(list, k,   a, m, i, j, t) {
        m = split(list, a, " ")
        for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    BEGIN {
        printf "%-3s %-9s %8s %10s %10s %8s %8s %10s  %s\n", "run", "tool", "wall s", "portals/s", "CPU ms/p", "conns/p", "DNS q/p", "peak MiB", "checked"
    }
    {
        gsub(/_/, " ", $10)
        printf "%-3s %-9s %8.2f %10.1f %10.2f %8.2f %8.2f %10.1f  %s", $1, $2, $3, n / $3, $4 / n, $5 / n, ($6 + $7) / n, $8 / 1024, $10
        if ($2 == "blackbox") printf "; curl driver CPU ms/p %.2f", $9 / n
        printf "\n"
        wall[$2] = wall[$2] " " $3 * 1000 / n; cpu[$2] = cpu[$2] " " $4 / n
        if ($2 == "blackbox") both = both " " ($4 + $9) / n
        tcp[$2] += $7
    }
    END {
        vw = median(wall["v6audit"]); bw = median(wall["blackbox"])
        vc = median(cpu["v6audit"]); bc = median(cpu["blackbox"]); bd = median(both)
        printf "conns/p: TCP connections (SYNs) to any lab port, its DNS port too; DNS q/p: UDP queries to the lab DNS port\n"
        printf "  and TCP connections to it (of them over TCP, all runs: v6audit %d, blackbox %d); peak MiB: v6audit max RSS,\n", tcp["v6audit"], tcp["blackbox"]
        printf "  blackbox VmHWM of a fresh exporter each run; CPU ms/p: v6audit process, blackbox exporter only (driver apart)\n"
        printf "median wall ms per portal: v6audit %.3f, blackbox %.3f; ratio v6audit/blackbox %.2f\n", vw, bw, vw / bw
        printf "median CPU ms per portal:  v6audit %.3f, blackbox %.3f (%.3f with the curl driver); ratio v6audit/blackbox %.2f (%.2f)\n", vc, bc, bd, vc / bc, vc / bd
        if ("before" in cpu) {
            pw = median(wall["before"]); pc = median(cpu["before"])
            printf "before (the older build): median wall ms per portal %.3f, CPU ms per portal %.3f; this build/before: wall %.2f, CPU %.2f\n", pw, pc, vw / pw, vc / pc
        }
    }
' "$DIR/rows"
