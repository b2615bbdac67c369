//! The probes, one file per kind, all of one shape: a target, the run's
//! settings and a deadline in; a typed piece of the Observation out. This
//! module holds what they share (the [`Context`]) and the one place where
//! the TCP, TLS and first HTTP facts of an address share one connection;
//! `wire` is the DNS exchange the DNS and DNSSEC probes share.

pub mod dns;
pub mod dnssec;
pub mod http;
pub mod icmp;
pub mod shared;
pub mod smtp;
pub mod subresources;
pub mod tcp;
pub mod tls;
pub(crate) mod wire;

use std::net::{IpAddr, SocketAddr};

use url::Url;
use v6audit_model::{
    Endpoint, EndpointAttempt, Family, HttpExchange, HttpOutcome, PortSpec, Portal, TcpOutcome,
    TcpProbe, TlsOutcome, TlsProbe,
};

use crate::net::Routes;
use crate::resolver::Dns;
use crate::settings::Settings;

/// What every probe of a run shares.
#[derive(Debug)]
pub struct Context {
    /// The run's settings.
    pub settings: Settings,
    /// The resolver every lookup goes through.
    pub dns: Dns,
    /// The TLS client, trusting the Mozilla roots and `--ca-file`.
    pub tls: tls::TlsClient,
    /// The routes measured before the run.
    pub reach: Routes,
    /// Zone facts, gathered once a run per zone.
    pub zones: dns::ZoneCache,
    /// Mail servers' sessions, asked once a run.
    pub mail: smtp::SessionCache,
    /// Sub-resource hosts' addresses and connects, checked once a run.
    pub hosts: subresources::HostCache,
    /// The run's ICMPv6 socket, shared by every echo.
    pub pinger: icmp::Pinger,
}

impl Context {
    /// The deadline of the next step: the step timeout, within the portal's budget.
    pub fn step_deadline(&self, portal_deadline: tokio::time::Instant) -> tokio::time::Instant {
        (tokio::time::Instant::now() + self.settings.timeout).min(portal_deadline)
    }
}

/// The URL requested on a port: the portal's URL on its own port, else the
/// same path with the port's scheme.
pub fn url_for_port(portal: &Portal, spec: PortSpec) -> Url {
    if spec.port == portal.url_port() {
        return portal.url.clone();
    }
    let mut url = portal.url.clone();
    let scheme = if spec.tls { "https" } else { "http" };
    // Both are special schemes, so set_scheme cannot fail between them.
    let _ = url.set_scheme(scheme);
    let default = if spec.tls { 443 } else { 80 };
    let _ = url.set_port(if spec.port == default {
        None
    } else {
        Some(spec.port)
    });
    url
}

/// How many times an endpoint or a redirect hop is tried before it is
/// judged. A SYN, a handshake flight or a request lost on the way is the
/// commonest transient fault on the Internet; one more try after a short
/// pause tells it from a portal that does not work, and a third would double
/// the cost of a truly dead address again for little more certainty.
pub const ATTEMPTS: usize = 2;
/// The pause before trying again.
pub const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether a failed attempt is worth another: it ended in a way a lost
/// packet or a busy peer can cause (a timeout, a reset, a close before the
/// handshake or the response). A refusal, an alert, a protocol error or a
/// response are answers and are judged as they are.
pub fn transient(tcp: &TcpProbe, tls: Option<&TlsProbe>, http: Option<&HttpExchange>) -> bool {
    match tcp.outcome {
        TcpOutcome::Connected => {}
        TcpOutcome::Timeout
        | TcpOutcome::Unreachable
        | TcpOutcome::Error
        | TcpOutcome::LocalError => {
            return true;
        }
        TcpOutcome::Refused
        | TcpOutcome::NoRoute
        | TcpOutcome::NoVantage
        | TcpOutcome::NotTried
        | TcpOutcome::NotContacted => return false,
    }
    if let Some(t) = tls
        && t.outcome != TlsOutcome::Ok
    {
        return matches!(t.outcome, TlsOutcome::Timeout | TlsOutcome::Closed);
    }
    http.is_some_and(|h| {
        matches!(
            h.outcome,
            HttpOutcome::Timeout | HttpOutcome::Closed | HttpOutcome::Error
        )
    })
}

/// Whether there is time for another attempt by `deadline`: the pause,
/// then as long as the failed attempt took (at least a second, at most a
/// step), so a retry cut short by the budget never stands in for the
/// attempt it repeats: a timeout is retried only with a whole step left.
pub fn room_for_retry(
    ctx: &Context,
    deadline: tokio::time::Instant,
    took: std::time::Duration,
) -> bool {
    let need = took
        .max(std::time::Duration::from_secs(1))
        .min(ctx.settings.timeout);
    tokio::time::Instant::now() + RETRY_PAUSE + need <= deadline
}

/// Why the agent will not connect to `ip` as an address of `family`, if it
/// will not: an IPv4-mapped or -compatible address published in an AAAA
/// record travels over IPv4, so it says nothing about IPv6.
pub fn not_contacted(ip: IpAddr, family: Family) -> Option<String> {
    (Family::of(&ip) != family).then(|| {
        format!(
            "not contacted: {ip} is an IPv4-mapped or -compatible address, reached over IPv4, not {}",
            family.label()
        )
    })
}

/// One address and port, as published in a record of `family`: TCP
/// connect, TLS handshake on a TLS port, then the first GET, all over one
/// connection, tried again (up to [`ATTEMPTS`]) when it fails transiently.
/// Returns the body for the parity check.
pub async fn endpoint(
    ctx: &Context,
    portal: &Portal,
    ip: IpAddr,
    family: Family,
    spec: PortSpec,
    portal_deadline: tokio::time::Instant,
) -> (Endpoint, Option<http::PageResponse>) {
    // Its family on the wire, then the pack's contact policy: an address
    // that fails either is recorded, never connected to.
    let internal = portal.category == v6audit_model::Category::Internal;
    if let Some(why) =
        not_contacted(ip, family).or_else(|| ctx.settings.contact.refuses(ip, internal))
    {
        let endpoint = Endpoint {
            family,
            addr: ip,
            port: spec.port,
            tls_port: spec.tls,
            tcp: TcpProbe {
                outcome: TcpOutcome::NotContacted,
                ms: 0,
                error: Some(why),
            },
            tls: None,
            http: None,
            failed_attempts: Vec::new(),
        };
        return (endpoint, None);
    }
    let mut failed = Vec::new();
    loop {
        let began = std::time::Instant::now();
        let (mut endpoint, fetched) = endpoint_once(ctx, portal, ip, spec, portal_deadline).await;
        // A connect cut short by the portal's budget, not by its own
        // timeout, says nothing about the portal.
        if endpoint.tcp.outcome == TcpOutcome::Timeout
            && tokio::time::Instant::now() >= portal_deadline
        {
            endpoint.tcp.outcome = TcpOutcome::NotTried;
            endpoint.tcp.error = Some("the portal's time budget ran out".to_owned());
        }
        let again = transient(&endpoint.tcp, endpoint.tls.as_ref(), endpoint.http.as_ref())
            && failed.len() + 1 < ATTEMPTS
            && room_for_retry(ctx, portal_deadline, began.elapsed());
        if !again {
            endpoint.failed_attempts = failed;
            return (endpoint, fetched);
        }
        tracing::debug!(%ip, port = spec.port, "transient failure; trying again");
        failed.push(EndpointAttempt {
            tcp: endpoint.tcp,
            tls: endpoint.tls,
            http: endpoint.http,
        });
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// One attempt at an endpoint.
async fn endpoint_once(
    ctx: &Context,
    portal: &Portal,
    ip: IpAddr,
    spec: PortSpec,
    portal_deadline: tokio::time::Instant,
) -> (Endpoint, Option<http::PageResponse>) {
    let addr = SocketAddr::new(ip, spec.port);
    let url = url_for_port(portal, spec);
    let (stream, tcp) = tcp::connect(addr, ctx.step_deadline(portal_deadline), &ctx.reach).await;
    let mut endpoint = Endpoint {
        family: Family::of(&ip),
        addr: ip,
        port: spec.port,
        tls_port: spec.tls,
        tcp,
        tls: None,
        http: None,
        failed_attempts: Vec::new(),
    };
    let Some(stream) = stream else {
        return (endpoint, None);
    };
    let fetched = if spec.tls {
        let (tls_stream, tls) = ctx
            .tls
            .handshake(stream, &portal.host, ctx.step_deadline(portal_deadline))
            .await;
        endpoint.tls = Some(tls);
        match tls_stream {
            Some(s) => Some(http::exchange(ctx, s, &url, ctx.step_deadline(portal_deadline)).await),
            None => None,
        }
    } else {
        Some(http::exchange(ctx, stream, &url, ctx.step_deadline(portal_deadline)).await)
    };
    endpoint.http = fetched.as_ref().map(|f| f.exchange.clone());
    (endpoint, fetched)
}

/// A context for probe tests on loopback: routes of both families, no
/// resolver (a closed port), fresh caches.
#[cfg(test)]
pub(crate) fn loopback_context(settings: Settings) -> Context {
    Context {
        dns: crate::resolver::Dns::new(
            &crate::settings::ResolverChoice::At(
                "[::1]:9".parse().unwrap_or_else(|_| unreachable!()),
            ),
            std::time::Duration::from_secs(1),
        )
        .unwrap_or_else(|e| panic!("{e}")),
        tls: tls::TlsClient::new(None).unwrap_or_else(|e| panic!("{e}")),
        reach: Routes {
            ipv4_global: true,
            ipv6_global: true,
            ipv4_loopback: true,
            ipv6_loopback: true,
        },
        zones: Default::default(),
        mail: Default::default(),
        hosts: Default::default(),
        pinger: Default::default(),
        settings,
    }
}
