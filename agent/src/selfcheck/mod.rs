//! `v6audit self-check`: what this vantage can audit. Routes per family,
//! the resolver and whether it answers over each family, permission for
//! ICMPv6 sockets, the clock, and the collector over each family. Each
//! check is bounded by the timeout; only the resolver and the collector
//! named by the user are sent packets (routes are asked of the kernel).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::UdpSocket;
use url::Url;

use v6audit_model::Family;
use v6audit_rules::addr::AddressClass;

use crate::resolver::Dns;
use crate::settings::ResolverChoice;

/// How a check came out. Only `Fail` means the agent cannot audit IPv6 from
/// here (or could not trust what it measures); `Warn` is worth fixing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As an audit needs it.
    Ok,
    /// Works, but worth fixing.
    Warn,
    /// The agent cannot audit IPv6 from here, or could not trust what it measures.
    Fail,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, such as `IPv6 route` or `resolver`.
    pub check: String,
    /// How it came out.
    pub status: Status,
    /// What was found, in words.
    pub detail: String,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Input {
    /// The resolver the audit would use.
    pub resolver: ResolverChoice,
    /// The collector's base address, when there is one.
    pub collector: Option<Url>,
    /// A PEM file of CAs to trust for the collector's certificate.
    pub collector_ca: Option<PathBuf>,
    /// Each network check gets at most this long.
    pub timeout: Duration,
    /// The date of the source the binary was built from (Unix seconds): a
    /// clock earlier than it is certainly wrong.
    pub source_date: i64,
}

/// The result: every check, in table order.
#[derive(Debug, Clone, Serialize)]
pub struct SelfCheck {
    /// True when nothing failed: this vantage can audit IPv6.
    pub ipv6_audit: bool,
    /// Every check, in table order.
    pub checks: Vec<Check>,
}

fn check(name: &str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        check: name.to_owned(),
        status,
        detail: detail.into(),
    }
}

/// Runs every check (the network ones at once).
pub async fn run(input: &Input) -> SelfCheck {
    let lab = matches!(input.resolver, ResolverChoice::At(a) if a.ip().is_loopback());
    let (v4, v6, v6_loopback) = tokio::join!(
        route_source(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), 53)),
        route_source(SocketAddr::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
            53
        )),
        async { UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).await.is_ok() },
    );
    let mut checks = vec![
        route_check("IPv4 route", v4, false, false),
        route_check("IPv6 route", v6, lab, v6_loopback),
    ];
    let (resolver_checks, collector) = tokio::join!(
        resolver_checks(&input.resolver, input.timeout),
        collector_checks(input),
    );
    checks.extend(resolver_checks);
    checks.push(icmpv6_check());
    checks.push(clock_check(
        OffsetDateTime::now_utc(),
        input.source_date,
        collector.1,
    ));
    checks.extend(collector.0);
    SelfCheck {
        ipv6_audit: checks.iter().all(|c| c.status != Status::Fail),
        checks,
    }
}

/// The source address the kernel would use towards `dest` (a UDP `connect`
/// sends nothing): a route exists when it is a usable one.
async fn route_source(dest: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match dest {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind).await.ok()?;
    sock.connect(dest).await.ok()?;
    Some(sock.local_addr().ok()?.ip())
}

/// The first address that travels in `family` (a mapped address is IPv4).
fn first_of(addrs: &[SocketAddr], family: Family) -> Option<SocketAddr> {
    addrs
        .iter()
        .find(|a| Family::of(&a.ip()) == family)
        .copied()
}

fn route_check(name: &str, source: Option<IpAddr>, lab: bool, loopback: bool) -> Check {
    let class = |ip: &IpAddr| AddressClass::on_the_wire(ip);
    let usable = source.filter(|ip| class(ip).leaves_the_link());
    match (usable, lab) {
        (Some(ip), _) if class(&ip) == AddressClass::UniqueLocal => check(
            name,
            Status::Warn,
            format!(
                "default route, but the source {ip} is unique-local (fc00::/7): the IPv6 \
                 internet is reached only through NPTv6/NAT66, if at all"
            ),
        ),
        (Some(ip), _) => check(name, Status::Ok, format!("default route, source {ip}")),
        (None, true) if loopback => check(
            name,
            Status::Ok,
            "no default route; ::1 works, enough for a resolver on loopback (the lab)",
        ),
        (None, _) if name.starts_with("IPv6") => check(
            name,
            Status::Fail,
            match source {
                Some(ip) if class(&ip) == AddressClass::LinkLocal => {
                    format!("only link-local ({ip}): no global IPv6 address or default route")
                }
                _ => "no IPv6 default route: AAAA answers can be checked, portals not reached"
                    .to_owned(),
            },
        ),
        (None, _) => check(
            name,
            Status::Warn,
            "no IPv4 default route: dual-stack parity cannot be measured",
        ),
    }
}

/// The resolver in use, then whether it answers over each family: the
/// system's first nameserver of each family, or the one given.
async fn resolver_checks(choice: &ResolverChoice, timeout: Duration) -> Vec<Check> {
    let servers = match resolver_servers(choice) {
        Ok(servers) => servers,
        Err(why) => return vec![check("resolver", Status::Fail, why)],
    };
    let mut out = vec![check(
        "resolver",
        if servers.is_empty() {
            Status::Fail
        } else {
            Status::Ok
        },
        match choice {
            ResolverChoice::At(a) => format!("{a} (--resolver)"),
            ResolverChoice::System if servers.is_empty() => {
                "no nameserver in /etc/resolv.conf".to_owned()
            }
            ResolverChoice::System => format!(
                "system (/etc/resolv.conf): {}",
                servers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    )];
    if servers.is_empty() {
        return out;
    }
    let (first_v4, first_v6) = (
        first_of(&servers, Family::V4),
        first_of(&servers, Family::V6),
    );
    let (v4, v6) = tokio::join!(answers(first_v4, timeout), answers(first_v6, timeout));
    // One unanswering family is a warning; none answering means no audit.
    let none_answer = !matches!(v4, Some(Ok(_))) && !matches!(v6, Some(Ok(_)));
    let given = matches!(choice, ResolverChoice::At(_));
    for (name, result, other_family) in [
        ("resolver over IPv4", v4, "IPv6"),
        ("resolver over IPv6", v6, "IPv4"),
    ] {
        match result {
            Some(Ok((server, ms))) => out.push(check(
                name,
                Status::Ok,
                format!("{server} answered in {ms} ms"),
            )),
            Some(Err(e)) => out.push(check(
                name,
                if none_answer {
                    Status::Fail
                } else {
                    Status::Warn
                },
                e,
            )),
            // The one resolver given has one family; the other is moot.
            None if given => {}
            None => out.push(check(
                name,
                Status::Warn,
                format!("no nameserver of this family (questions go over {other_family})"),
            )),
        }
    }
    out
}

/// The servers of the resolver: the one given, or the system's nameservers;
/// why not, when the system's configuration cannot be read.
fn resolver_servers(choice: &ResolverChoice) -> Result<Vec<SocketAddr>, String> {
    match choice {
        ResolverChoice::At(a) => Ok(vec![*a]),
        ResolverChoice::System => match hickory_resolver::system_conf::read_system_conf() {
            Ok((config, _)) => Ok(config
                .name_servers()
                .iter()
                .map(|ns| {
                    let port = ns.connections.first().map_or(53, |c| c.port);
                    SocketAddr::new(ns.ip, port)
                })
                .collect()),
            Err(e) => Err(format!("cannot read /etc/resolv.conf: {e}")),
        },
    }
}

/// Whether `server` answers a question (any response counts), and how fast.
async fn answers(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Option<Result<(SocketAddr, u128), String>> {
    let server = server?;
    let start = Instant::now();
    let dns = match Dns::new(&ResolverChoice::At(server), timeout) {
        Ok(d) => d,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(
        dns.answers()
            .await
            .map(|()| (server, start.elapsed().as_millis())),
    )
}

/// ICMPv6 needs a raw socket (CAP_NET_RAW) or an unprivileged ping socket
/// (net.ipv4.ping_group_range); opening one sends nothing.
fn icmpv6_check() -> Check {
    use socket2::{Domain, Protocol, Socket, Type};
    let raw = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6));
    let ping = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::ICMPV6));
    match (raw, ping) {
        (Ok(_), _) => check("ICMPv6 sockets", Status::Ok, "raw sockets permitted"),
        (Err(_), Ok(_)) => check(
            "ICMPv6 sockets",
            Status::Ok,
            "no raw sockets (no CAP_NET_RAW), but unprivileged ping sockets work",
        ),
        (Err(e), Err(_)) => check(
            "ICMPv6 sockets",
            Status::Warn,
            format!(
                "cannot open one ({e}): ICMPv6 checks will be skipped; grant CAP_NET_RAW \
                 (the package's agent unit does)"
            ),
        ),
    }
}

/// The clock against the source date of this build and, when the collector
/// answered, against its `Date` header (certificate validity depends on it).
fn clock_check(
    now: OffsetDateTime,
    source_date: i64,
    collector_date: Option<OffsetDateTime>,
) -> Check {
    let now_text = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if source_date > 0 && now.unix_timestamp() < source_date {
        return check(
            "clock",
            Status::Fail,
            format!(
                "{now_text} is before this build's source date: certificate validity would be \
                 judged wrong; set the clock (NTP)"
            ),
        );
    }
    match collector_date {
        Some(theirs) => {
            let skew = (now - theirs).whole_seconds();
            if skew.abs() > 300 {
                check(
                    "clock",
                    Status::Warn,
                    format!("{now_text}, {skew:+} s from the collector's clock: check NTP on both"),
                )
            } else {
                check(
                    "clock",
                    Status::Ok,
                    format!(
                        "{now_text}, within {} s of the collector's",
                        skew.abs().max(1)
                    ),
                )
            }
        }
        None => check(
            "clock",
            Status::Ok,
            format!("{now_text} (after this build's source date)"),
        ),
    }
}

/// GET /healthz on the collector over each family it has addresses in.
/// Returns the rows and the collector's clock, when it answered.
async fn collector_checks(input: &Input) -> (Vec<Check>, Option<OffsetDateTime>) {
    let Some(base) = &input.collector else {
        return (
            vec![check(
                "collector",
                Status::Ok,
                "none configured (--collector or --config to check one)",
            )],
            None,
        );
    };
    let (Some(host), Some(port)) = (base.host_str(), base.port_or_known_default()) else {
        return (
            vec![check(
                "collector",
                Status::Warn,
                format!("`{base}` names no host"),
            )],
            None,
        );
    };
    let host = host.trim_matches(['[', ']']).to_owned();
    let addrs = match collector_addrs(&host, port, input.timeout).await {
        Ok(addrs) => addrs,
        Err(why) => return (vec![check("collector", Status::Warn, why)], None),
    };
    let url = match base.join("healthz") {
        Ok(u) => u,
        Err(e) => {
            return (
                vec![check("collector", Status::Warn, format!("`{base}`: {e}"))],
                None,
            );
        }
    };
    let mut rows = Vec::new();
    let mut date = None;
    let (v4, v6) = (first_of(&addrs, Family::V4), first_of(&addrs, Family::V6));
    let (r4, r6) = tokio::join!(
        get_over(&url, &host, v4, input),
        get_over(&url, &host, v6, input)
    );
    for (name, addr, result) in [
        ("collector over IPv6", v6, r6),
        ("collector over IPv4", v4, r4),
    ] {
        rows.push(match (addr, result) {
            (None, _) => check(
                name,
                Status::Warn,
                format!("{host} has no address of this family"),
            ),
            (Some(a), Some(Ok((ms, d)))) => {
                date = date.or(d);
                check(
                    name,
                    Status::Ok,
                    format!("{url} via {a}: healthy in {ms} ms"),
                )
            }
            (Some(a), Some(Err(e))) => check(
                name,
                Status::Warn,
                format!("{url} via {a}: {e}; reports will wait in the spool"),
            ),
            (Some(_), None) => check(name, Status::Warn, "not checked"),
        });
    }
    (rows, date)
}

/// The collector's addresses: its host when that is an address, else what
/// the host resolves to within `timeout`; why not, when it does not.
async fn collector_addrs(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, String> {
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        Err(_) => {
            match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(a)) => Ok(a.collect()),
                Ok(Err(e)) => Err(format!(
                    "cannot resolve {host}: {e}; reports will wait in the spool"
                )),
                Err(_) => Err(format!(
                    "{host} did not resolve within {} s",
                    timeout.as_secs()
                )),
            }
        }
    }
}

/// One GET pinned to `addr` (the host name kept for TLS and Host).
async fn get_over(
    url: &Url,
    host: &str,
    addr: Option<SocketAddr>,
    input: &Input,
) -> Option<Result<(u128, Option<OffsetDateTime>), String>> {
    let addr = addr?;
    Some(
        get(
            url,
            Some((host, addr)),
            input.collector_ca.as_deref(),
            input.timeout,
        )
        .await,
    )
}

/// `GET {base}/healthz` on a collector, for container and load-balancer
/// health checks (`v6audit collector health`): the milliseconds it took.
pub async fn collector_health(
    base: &Url,
    ca_file: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<u128, String> {
    let url = base
        .join("healthz")
        .map_err(|e| format!("`{base}` cannot take a path: {e}"))?;
    get(&url, None, ca_file, timeout)
        .await
        .map(|(ms, _)| ms)
        .map_err(|e| format!("{url}: {e}"))
}

/// One bounded GET, optionally pinned to an address: how long it took and
/// the server's clock.
async fn get(
    url: &Url,
    pin: Option<(&str, SocketAddr)>,
    ca_file: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<(u128, Option<OffsetDateTime>), String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("v6audit-self-check/", env!("CARGO_PKG_VERSION")));
    if let Some((host, addr)) = pin {
        builder = builder.resolve(host, addr);
    }
    if let Some(path) = ca_file {
        builder = crate::daemon::push::trust_ca_file(builder, path)?;
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let start = Instant::now();
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let ms = start.elapsed().as_millis();
    let date = response
        .headers()
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    if response.status().is_success() {
        Ok((ms, date))
    } else {
        Err(format!("answered {}", response.status()))
    }
}

/// An error with its causes, for one line of the table.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

/// The table: check, status, detail; then one line saying what it means.
pub fn render(result: &SelfCheck, color: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let width = result
        .checks
        .iter()
        .map(|c| c.check.len())
        .max()
        .unwrap_or(0)
        .max("CHECK".len());
    let mut out = paint(
        Style::new().bold(),
        &format!("{:<width$}  {:<6}  DETAIL", "CHECK", "STATUS"),
    );
    out.push('\n');
    for c in &result.checks {
        let (word, style) = match c.status {
            Status::Ok => ("ok", AnsiColor::Green.on_default()),
            Status::Warn => ("warn", AnsiColor::Yellow.on_default()),
            Status::Fail => ("FAIL", AnsiColor::Red.on_default().bold()),
        };
        let cell = paint(style, &format!("{word:<6}"));
        out.push_str(&format!("{:<width$}  {cell}  {}\n", c.check, c.detail));
    }
    out.push('\n');
    out.push_str(if result.ipv6_audit {
        "This vantage can audit IPv6.\n"
    } else {
        "This vantage cannot audit IPv6 as it is: fix the FAIL lines above.\n"
    });
    out
}

/// An HTTP date (RFC 9110 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let d = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(d.unix_timestamp(), 784_111_777);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn routes_judge_the_source_address() {
        let v6 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let ok = route_check("IPv6 route", v6("2001:db8::5"), false, true);
        assert_eq!(ok.status, Status::Ok);
        assert!(ok.detail.contains("source 2001:db8::5"), "{}", ok.detail);
        let link = route_check("IPv6 route", v6("fe80::1"), false, true);
        assert_eq!(link.status, Status::Fail);
        assert!(link.detail.contains("only link-local"), "{}", link.detail);
        assert_eq!(
            route_check("IPv6 route", None, false, true).status,
            Status::Fail
        );
        let ula = route_check("IPv6 route", v6("fd00::2"), false, true);
        assert_eq!(ula.status, Status::Warn);
        assert!(ula.detail.contains("unique-local"), "{}", ula.detail);
        // A lab on loopback needs only ::1.
        assert_eq!(
            route_check("IPv6 route", None, true, true).status,
            Status::Ok
        );
        assert_eq!(
            route_check("IPv6 route", None, true, false).status,
            Status::Fail
        );
        // No IPv4 is worth a warning, not a failure: IPv6 can still be audited.
        assert_eq!(
            route_check("IPv4 route", None, false, false).status,
            Status::Warn
        );
    }

    #[test]
    fn a_clock_before_the_source_date_fails() {
        let source = 1_790_000_000;
        let before = OffsetDateTime::from_unix_timestamp(source - 86_400).unwrap();
        let after = OffsetDateTime::from_unix_timestamp(source + 86_400).unwrap();
        assert_eq!(clock_check(before, source, None).status, Status::Fail);
        assert_eq!(clock_check(after, source, None).status, Status::Ok);
        let skewed = after + time::Duration::minutes(10);
        let c = clock_check(after, source, Some(skewed));
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.detail.contains("-600 s from the collector"),
            "{}",
            c.detail
        );
    }
}
