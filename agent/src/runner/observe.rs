//! One portal's observation within its budget, in phases: its addresses;
//! its zone, every address × port and the ICMPv6 echo at once; then each
//! family's page, the latency series and mail at once.

use std::net::IpAddr;

use futures_util::future::join_all;
use time::OffsetDateTime;
use v6audit_model::{
    AddressLookup, DnsObservation, DnsOutcome, Family, FetchOutcome, HttpFetch, MxObservation,
    Observation, PerFamily, Portal, Vantage, Why, ZoneObservation,
};

use crate::page_text;
use crate::probe::{self, Context, dns, http};

/// An observation of `portal` with nothing established yet: every lookup
/// not asked, for `why`.
pub(super) fn empty_observation(
    ctx: &Context,
    vantage: Vantage,
    portal: &Portal,
    started_at: OffsetDateTime,
    why: &str,
) -> Observation {
    Observation {
        host: portal.host.clone(),
        url: portal.url.to_string(),
        ports: portal.ports.clone(),
        started_at,
        duration_ms: 0,
        budget_exhausted: false,
        vantage,
        dns: DnsObservation {
            resolver: ctx.dns.label().to_owned(),
            a: AddressLookup::not_asked(why),
            aaaa: AddressLookup::not_asked(why),
            zone: ZoneObservation {
                apex: None,
                outcome: DnsOutcome::NotAsked,
                error: Some(why.to_owned()),
                name_servers: Vec::new(),
            },
            mx: MxObservation {
                outcome: DnsOutcome::NotAsked,
                error: Some(why.to_owned()),
                exchanges: Vec::new(),
            },
        },
        endpoints: Vec::new(),
        http: PerFamily::default(),
        content_similarity: None,
        latency: None,
        icmpv6: None,
        subresources: None,
        smtp: None,
        dnssec: None,
        not_probed: Vec::new(),
    }
}

/// Why a step stopped short when the portal's budget ran out.
const OUT_OF_BUDGET: &str = "the portal's time budget ran out";

/// Observes one portal by `deadline`, in three phases: its addresses; then
/// its zone, every address × port and the ICMPv6 echo, all at once
/// ([`probe_addresses`]); then each family's page, the latency series and
/// mail, all at once ([`fetch_pages`]).
pub(super) async fn observe_within(
    ctx: &Context,
    vantage: Vantage,
    portal: &Portal,
    deadline: tokio::time::Instant,
    started_at: OffsetDateTime,
) -> Observation {
    let mut obs = empty_observation(ctx, vantage, portal, started_at, "not asked");
    // Every step ends by the budget, whatever its own timeout.
    match tokio::time::timeout_at(deadline, dns::host_addresses(&ctx.dns, &portal.host)).await {
        Ok((a, aaaa)) => {
            obs.dns.a = a;
            obs.dns.aaaa = aaaa;
        }
        Err(_) => {
            obs.dns.a = AddressLookup::timed_out(OUT_OF_BUDGET);
            obs.dns.aaaa = AddressLookup::timed_out(OUT_OF_BUDGET);
            return obs;
        }
    }
    // At most the pack's number of addresses per family: a portal that
    // publishes thousands must not take the agent's sockets from the others.
    let cap = ctx.settings.max_addresses.max(1);
    let (published, not_probed) = published_addresses(&obs.dns, cap);
    obs.not_probed = not_probed;
    let probed = probe_addresses(ctx, &mut obs, portal, &published, deadline).await;
    fetch_pages(ctx, &mut obs, portal, &published, probed, deadline).await;
    obs
}

/// The addresses to probe, each as the family of the record that published
/// it (an IPv4-mapped AAAA is an IPv6 endpoint that is not contacted), at
/// most `cap` per family; and the rest, listed but not probed.
fn published_addresses(dns: &DnsObservation, cap: usize) -> (Vec<(IpAddr, Family)>, Vec<IpAddr>) {
    let published: Vec<(IpAddr, Family)> = dns
        .aaaa
        .addrs
        .iter()
        .take(cap)
        .map(|ip| (*ip, Family::V6))
        .chain(dns.a.addrs.iter().take(cap).map(|ip| (*ip, Family::V4)))
        .collect();
    let not_probed: Vec<IpAddr> = dns
        .aaaa
        .addrs
        .iter()
        .skip(cap)
        .chain(dns.a.addrs.iter().skip(cap))
        .copied()
        .collect();
    (published, not_probed)
}

/// The zone (cached per zone), every address × port and the ICMPv6 echo,
/// all at once: the zone's facts and the echoes go into `obs`, the
/// endpoints with their first responses are returned.
async fn probe_addresses(
    ctx: &Context,
    obs: &mut Observation,
    portal: &Portal,
    published: &[(IpAddr, Family)],
    deadline: tokio::time::Instant,
) -> Vec<(v6audit_model::Endpoint, Option<http::PageResponse>)> {
    let internal = portal.category == v6audit_model::Category::Internal;
    let zone_settings = dns::ZoneSettings {
        ns_port: ctx.settings.ns_port,
        ns_timeout: ctx.settings.ns_timeout,
        anchor: ctx.settings.dnssec.as_deref(),
        contact: &ctx.settings.contact,
        internal,
    };
    let zone = zone_within(ctx, zone_settings, &portal.host, deadline);
    let endpoints = join_all(published.iter().flat_map(|(ip, family)| {
        portal
            .ports
            .iter()
            .map(move |spec| probe::endpoint(ctx, portal, *ip, *family, *spec, deadline))
    }));
    let icmpv6 = icmpv6_within(ctx, &obs.dns.aaaa.addrs, internal, deadline);
    let ((zone, mx, dnssec), probed, icmpv6) = tokio::join!(zone, endpoints, icmpv6);
    obs.dns.zone = zone;
    obs.dns.mx = mx;
    obs.dnssec = dnssec;
    obs.icmpv6 = icmpv6;
    probed
}

/// The zone's facts, or timeouts when the budget runs out first.
async fn zone_within(
    ctx: &Context,
    settings: dns::ZoneSettings<'_>,
    host: &str,
    deadline: tokio::time::Instant,
) -> (
    ZoneObservation,
    MxObservation,
    Option<v6audit_model::DnssecObservation>,
) {
    match tokio::time::timeout_at(
        deadline,
        dns::zone(&ctx.dns, &ctx.zones, &ctx.reach, settings, host),
    )
    .await
    {
        Ok(facts) => facts,
        Err(_) => (
            ZoneObservation {
                apex: None,
                outcome: DnsOutcome::Timeout,
                error: Some(OUT_OF_BUDGET.to_owned()),
                name_servers: Vec::new(),
            },
            MxObservation {
                outcome: DnsOutcome::Timeout,
                error: Some(OUT_OF_BUDGET.to_owned()),
                exchanges: Vec::new(),
            },
            None,
        ),
    }
}

/// ICMPv6 echo to the AAAA addresses a connection may go to, when the
/// settings ask for it.
async fn icmpv6_within(
    ctx: &Context,
    aaaa: &[IpAddr],
    internal: bool,
    deadline: tokio::time::Instant,
) -> Option<Vec<v6audit_model::EchoProbe>> {
    if ctx.settings.icmpv6 {
        // Echo goes only where a connection may.
        let allowed: Vec<IpAddr> = aaaa
            .iter()
            .copied()
            .filter(|ip| ctx.settings.contact.refuses(*ip, internal).is_none())
            .collect();
        Some(ctx.pinger.echo_all(&allowed, deadline, &ctx.reach).await)
    } else {
        None
    }
}

/// Each family's page, the latency series and the mail servers, all at
/// once, then what the page over IPv6 loads from other hosts; everything,
/// the endpoints included, goes into `obs`.
async fn fetch_pages(
    ctx: &Context,
    obs: &mut Observation,
    portal: &Portal,
    published: &[(IpAddr, Family)],
    probed: Vec<(v6audit_model::Endpoint, Option<http::PageResponse>)>,
    deadline: tokio::time::Instant,
) {
    let internal = portal.category == v6audit_model::Category::Internal;
    // Each family's page: its first exchange came over the endpoint connection
    // on the URL's port; redirects are followed from there in that family.
    let url_port = portal.url_port();
    let (endpoints, mut firsts) = first_pages(probed, url_port);
    let fetches = [Family::V4, Family::V6].map(|family| {
        let first = firsts.get_mut(family).take();
        let (failure, describe) = fetch_failure(&endpoints, published, family, url_port);
        fetch_family(ctx, family, internal, first, failure, describe, deadline)
    });
    let t4 = latency_target(&endpoints, Family::V4, url_port);
    let t6 = latency_target(&endpoints, Family::V6, url_port);
    let latency = latency_series(ctx, t4, t6, deadline);
    let mx = obs.dns.mx.clone();
    let smtp = probe::smtp::check(ctx, &mx, internal, deadline);
    let [v4, v6] = fetches;
    let ((f4, b4, _), (f6, b6, found), latency, smtp) = tokio::join!(v4, v6, latency, smtp);
    obs.smtp = Some(smtp);
    obs.latency = Some(latency);
    // What an IPv6-only visitor's browser loads besides the page.
    if f6.outcome == FetchOutcome::Complete
        && let Some(page) = f6.last().and_then(|h| url::Url::parse(&h.url).ok())
    {
        obs.subresources =
            Some(probe::subresources::check(ctx, &page, &found, internal, deadline).await);
    }
    obs.http.ipv4 = Some(f4);
    obs.http.ipv6 = Some(f6);
    obs.endpoints = endpoints;
    if let (Some(s4), Some(s6)) = (&b4, &b6) {
        obs.content_similarity = Some((s4.similarity(s6) * 1000.0).round() / 1000.0);
    }
}

/// A family's first response on the URL's port, with the address it came from.
type FirstPage = (std::net::SocketAddr, http::PageResponse);

/// The endpoints, and each family's first response on the URL's port (an
/// `Ok` one preferred), with the address it came from.
fn first_pages(
    probed: Vec<(v6audit_model::Endpoint, Option<http::PageResponse>)>,
    url_port: u16,
) -> (Vec<v6audit_model::Endpoint>, PerFamily<Option<FirstPage>>) {
    let mut firsts: PerFamily<Option<FirstPage>> = PerFamily::default();
    let mut endpoints = Vec::with_capacity(probed.len());
    for (endpoint, fetched) in probed {
        let family = endpoint.family;
        if endpoint.port == url_port
            && let Some(f) = fetched
        {
            let slot = firsts.get_mut(family);
            let better = slot
                .as_ref()
                .is_none_or(|(_, prev)| prev.exchange.outcome != v6audit_model::HttpOutcome::Ok);
            if better {
                *slot = Some((std::net::SocketAddr::new(endpoint.addr, endpoint.port), f));
            }
        }
        endpoints.push(endpoint);
    }
    (endpoints, firsts)
}

/// Why the page over `family` cannot be fetched at all (no address of the
/// family, no vantage for it), if so; and the failures of the family's
/// endpoints on the URL's port, described.
fn fetch_failure(
    endpoints: &[v6audit_model::Endpoint],
    published: &[(IpAddr, Family)],
    family: Family,
    url_port: u16,
) -> (Option<(FetchOutcome, Option<Why>)>, String) {
    let has_addr = published.iter().any(|(_, f)| *f == family);
    let eps: Vec<_> = endpoints
        .iter()
        .filter(|e| e.family == family && e.port == url_port)
        .collect();
    let failure = match (has_addr, eps.first()) {
        (false, _) => Some((FetchOutcome::NoAddress, None)),
        (true, Some(e)) if e.tcp.outcome == v6audit_model::TcpOutcome::NoVantage => Some((
            FetchOutcome::NoVantage,
            Some(Why::new("vantage.no_family").with("family", family.label())),
        )),
        _ => None,
    };
    let describe = eps
        .iter()
        .map(|e| describe_endpoint_failure(e))
        .collect::<Vec<_>>()
        .join("; ");
    (failure, describe)
}

/// The page over `family`: `failure` when it cannot be fetched at all,
/// else followed from its first response, else failed with the endpoints'
/// failures (`describe`).
async fn fetch_family(
    ctx: &Context,
    family: Family,
    internal: bool,
    first: Option<FirstPage>,
    failure: Option<(FetchOutcome, Option<Why>)>,
    describe: String,
    deadline: tokio::time::Instant,
) -> (
    HttpFetch,
    Option<page_text::Sketch>,
    Vec<probe::subresources::Resource>,
) {
    if let Some((outcome, why)) = failure {
        return (
            HttpFetch {
                family,
                outcome,
                hops: Vec::new(),
                error: why.as_ref().map(v6audit_rules::render::in_english),
                why,
            },
            None,
            Vec::new(),
        );
    }
    let no_connection = Why::new("fetch.no_connection");
    match first {
        Some((addr, fetched)) => {
            http::follow(
                ctx,
                family,
                internal,
                addr,
                fetched,
                ctx.step_deadline(deadline),
            )
            .await
        }
        None => (
            HttpFetch {
                family,
                outcome: FetchOutcome::Failed,
                hops: Vec::new(),
                // The endpoints' failures are facts of their own,
                // which readers word from the endpoints.
                error: Some(if describe.is_empty() {
                    v6audit_rules::render::in_english(&no_connection)
                } else {
                    describe.clone()
                }),
                why: describe.is_empty().then_some(no_connection),
            },
            None,
            Vec::new(),
        ),
    }
}

/// The address of `family` the latency series is measured on: one on the
/// URL's port, preferring one that connected, with its first connect.
fn latency_target(
    endpoints: &[v6audit_model::Endpoint],
    family: Family,
    url_port: u16,
) -> Option<(std::net::SocketAddr, v6audit_model::TcpProbe)> {
    endpoints
        .iter()
        .filter(|e| e.family == family && e.port == url_port)
        .filter(|e| {
            !matches!(
                e.tcp.outcome,
                v6audit_model::TcpOutcome::NoVantage | v6audit_model::TcpOutcome::NotTried
            )
        })
        .max_by_key(|e| e.tcp.outcome == v6audit_model::TcpOutcome::Connected)
        .map(|e| (std::net::SocketAddr::new(e.addr, e.port), e.tcp.clone()))
}

/// The latency series to each family's target ([`latency_target`]), its
/// endpoint connect the first attempt (not made again). A target that did
/// not connect is not tried again: its attempt is the series (a timeout is
/// not waited out twice).
async fn latency_series(
    ctx: &Context,
    t4: Option<(std::net::SocketAddr, v6audit_model::TcpProbe)>,
    t6: Option<(std::net::SocketAddr, v6audit_model::TcpProbe)>,
    deadline: tokio::time::Instant,
) -> PerFamily<Option<v6audit_model::LatencyProbe>> {
    let one = |t: Option<(std::net::SocketAddr, v6audit_model::TcpProbe)>| async move {
        match t {
            Some((addr, first)) => Some(
                probe::tcp::latency(
                    addr,
                    Some(first),
                    ctx.settings.timeout,
                    deadline,
                    &ctx.reach,
                )
                .await,
            ),
            None => None,
        }
    };
    let (l4, l6) = tokio::join!(one(t4), one(t6));
    PerFamily { ipv4: l4, ipv6: l6 }
}

fn describe_endpoint_failure(e: &v6audit_model::Endpoint) -> String {
    let addr = std::net::SocketAddr::new(e.addr, e.port);
    if e.tcp.outcome != v6audit_model::TcpOutcome::Connected {
        return format!(
            "TCP to {addr}: {}",
            e.tcp
                .error
                .clone()
                .unwrap_or_else(|| format!("{:?}", e.tcp.outcome))
        );
    }
    match &e.tls {
        Some(t) if t.outcome != v6audit_model::TlsOutcome::Ok => {
            format!(
                "TLS with {addr}: {}",
                t.error
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", t.outcome))
            )
        }
        _ => format!("{addr}: no HTTP exchange"),
    }
}
