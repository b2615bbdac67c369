//! `v6audit self-check`: what this vantage can audit. Routes per family,
//! the resolver and whether it answers over each family, permission for
//! ICMPv6 sockets, the clock, and the collector over each family. Each
//! check is bounded by the timeout; only the resolver and the collector
//! named by the user are sent packets (routes are asked of the kernel).
//!
//! The checks of the vantage itself (routes, resolver, ICMPv6, clock) are in
//! `vantage.rs`, the collector's in `collector.rs`, the table in `table.rs`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::UdpSocket;
use url::Url;

use v6audit_model::Family;

use crate::settings::ResolverChoice;

mod collector;
mod table;
#[cfg(test)]
mod tests;
mod vantage;

pub use collector::{collector_health, parse_http_date};
pub use table::render;

use collector::collector_checks;
use vantage::{clock_check, icmpv6_check, resolver_checks, route_check, route_source};

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

/// The first address that travels in `family` (a mapped address is IPv4).
fn first_of(addrs: &[SocketAddr], family: Family) -> Option<SocketAddr> {
    addrs
        .iter()
        .find(|a| Family::of(&a.ip()) == family)
        .copied()
}
