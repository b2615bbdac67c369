//! The checks of the vantage itself: its routes per family, its resolver
//! and whether it answers over each family, its ICMPv6 sockets, its clock.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::net::UdpSocket;

use v6audit_model::Family;
use v6audit_rules::addr::AddressClass;

use super::{Check, Status, check, first_of};
use crate::resolver::Dns;
use crate::settings::ResolverChoice;

/// The source address the kernel would use towards `dest` (a UDP `connect`
/// sends nothing): a route exists when it is a usable one.
pub(super) async fn route_source(dest: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match dest {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind).await.ok()?;
    sock.connect(dest).await.ok()?;
    Some(sock.local_addr().ok()?.ip())
}

pub(super) fn route_check(name: &str, source: Option<IpAddr>, lab: bool, loopback: bool) -> Check {
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
pub(super) async fn resolver_checks(choice: &ResolverChoice, timeout: Duration) -> Vec<Check> {
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
pub(super) fn icmpv6_check() -> Check {
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
pub(super) fn clock_check(
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
