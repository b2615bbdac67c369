//! The `web.*` rules of reaching the portal over IPv6: its IPv6 endpoints,
//! HTTP over IPv6 and where its redirects lead; with the reasons a fetch
//! failed. The endpoint helpers shared with the TLS rules are in
//! `endpoints.rs`; parity between the families and sub-resources are in
//! `content.rs`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use v6audit_model::{
    Endpoint, Family, FetchOutcome, HttpFetch, HttpOutcome, Observation, Status, TcpOutcome,
    TlsOutcome,
};

use super::endpoints::{
    exchange_reason, none_tried, retries, tcp_reason, tls_reason, v6_endpoints,
};
use super::{Outcome, Tally, endpoint_label, has_aaaa, join, no_aaaa, out};
use crate::addr::AddressClass;
use crate::words::{self, word};

/// An endpoint's address class as published: a mapped AAAA is named as
/// mapped, not by the IPv4 address inside it.
fn published_class(e: &Endpoint) -> AddressClass {
    match &e.addr {
        IpAddr::V6(v6) => AddressClass::of(v6),
        IpAddr::V4(v4) => AddressClass::of_v4(v4),
    }
}

// Long because the checks run in a fixed order, each able to end the rule with its outcome.
pub(super) fn v6_reachable(obs: &Observation) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let eps: Vec<_> = v6_endpoints(obs).collect();
    if eps.is_empty() || eps.iter().any(|e| e.tcp.outcome == TcpOutcome::NoVantage) {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let failed = Tally::of(&eps, |e| {
        let bad = !matches!(
            e.tcp.outcome,
            TcpOutcome::Connected | TcpOutcome::NotTried | TcpOutcome::LocalError
        );
        bad.then(|| format!("{} {}", endpoint_label(e), tcp_reason(e)))
    });
    let not_contacted: Vec<_> = eps
        .iter()
        .filter(|e| e.tcp.outcome == TcpOutcome::NotContacted)
        .collect();
    if !not_contacted.is_empty() && not_contacted.len() == failed.failed.len() {
        // Nothing was refused or lost: the addresses themselves are unusable.
        let why: BTreeSet<String> = not_contacted
            .iter()
            .map(|e| word(words::class(published_class(e))))
            .collect();
        return out(
            Status::Fail,
            "not_contacted",
            vec![
                (
                    "failed",
                    join(not_contacted.iter().map(|e| endpoint_label(e))),
                ),
                ("count", not_contacted.len().to_string()),
                ("total", eps.len().to_string()),
                ("reason", why.into_iter().collect::<Vec<_>>().join("; ")),
            ],
        );
    }
    if !failed.is_empty() {
        return out(Status::Fail, "unreachable", failed.values("failed"));
    }
    if eps
        .iter()
        .any(|e| matches!(e.tcp.outcome, TcpOutcome::NotTried | TcpOutcome::LocalError))
    {
        return out(Status::Error, "not_tried", vec![]);
    }
    let ports: BTreeSet<u16> = eps.iter().map(|e| e.port).collect();
    // The AAAA's addresses not probed: every one of them is an IPv6 address
    // (a mapped one included), every A's an IPv4 one.
    let not_probed: Vec<&IpAddr> = obs.not_probed.iter().filter(|a| a.is_ipv6()).collect();
    let (retried, attempts) = retries(&eps, |a| a.tcp.outcome != TcpOutcome::Connected);
    if !retried.is_empty() {
        return out(
            Status::Warn,
            "retried",
            vec![
                ("total", eps.len().to_string()),
                ("ports", join(ports)),
                ("count", retried.len().to_string()),
                ("attempts", attempts.to_string()),
                ("failed", retried.join(", ")),
            ],
        );
    }
    if !not_probed.is_empty() {
        // Said, never silently dropped: the sample held, the rest is unknown.
        let addrs: BTreeSet<IpAddr> = eps.iter().map(|e| e.addr).collect();
        return out(
            Status::Pass,
            "all_capped",
            vec![
                ("count", eps.len().to_string()),
                ("ports", join(ports)),
                ("probed", addrs.len().to_string()),
                ("skipped", not_probed.len().to_string()),
                ("not_probed", join(not_probed.iter().take(8))),
            ],
        );
    }
    out(
        Status::Pass,
        "all",
        vec![("count", eps.len().to_string()), ("ports", join(ports))],
    )
}

/// Why a page fetch reached no page. A hop that got no usable response
/// says why; a fetch that sent nothing failed at its endpoints, each said in
/// the pack's words (the agent's own sentence is the last resort, for an
/// observation without them).
pub fn fetch_failure_reason(obs: &Observation, fetch: &HttpFetch) -> String {
    let stated = || {
        crate::render::reason_value(fetch.why.as_ref(), fetch.error.as_deref())
            .unwrap_or_else(|| word("failed"))
    };
    match fetch.last() {
        Some(hop) if hop.exchange.outcome != HttpOutcome::Ok => exchange_reason(&hop.exchange),
        Some(_) => stated(),
        None => {
            let why: Vec<String> = on_url_port(obs, fetch.family)
                .into_iter()
                .filter_map(|e| {
                    if e.tcp.outcome == TcpOutcome::NotContacted {
                        Some(format!(
                            "TCP {} {} ({})",
                            endpoint_label(e),
                            tcp_reason(e),
                            word(words::class(published_class(e)))
                        ))
                    } else if e.tcp.outcome != TcpOutcome::Connected {
                        Some(format!("TCP {} {}", endpoint_label(e), tcp_reason(e)))
                    } else {
                        e.tls
                            .as_ref()
                            .filter(|t| t.outcome != TlsOutcome::Ok)
                            .map(|_| format!("TLS {} {}", endpoint_label(e), tls_reason(e)))
                    }
                })
                .collect();
            if why.is_empty() {
                stated()
            } else {
                why.join("; ")
            }
        }
    }
}

pub(super) fn host_of_url(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// The first hop whose next host has no AAAA: where the chain leaves IPv6.
pub(super) fn left_at(fetch: &HttpFetch) -> Option<String> {
    fetch
        .hops
        .iter()
        .find(|h| h.next_host_has_aaaa == Some(false))
        .and_then(|h| {
            h.exchange
                .redirect_location()
                .map(|loc| resolve_location(&h.url, loc))
        })
        .map(|u| host_of_url(&u))
}

/// The hosts a redirect chain sends visitors to that have no AAAA.
pub fn hosts_leaving_ipv6(fetch: &HttpFetch) -> BTreeSet<String> {
    fetch
        .hops
        .iter()
        .filter(|h| h.next_host_has_aaaa == Some(false))
        .filter_map(|h| {
            h.exchange
                .redirect_location()
                .map(|l| host_of_url(&resolve_location(&h.url, l)))
        })
        .collect()
}

pub(super) fn resolve_location(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| location.to_owned())
}

pub(super) fn v6_http(obs: &Observation) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let Some(fetch) = &obs.http.ipv6 else {
        return out(Status::Error, "no_vantage", vec![]);
    };
    let last_url = fetch
        .last()
        .map_or_else(|| obs.url.clone(), |h| h.url.clone());
    match fetch.outcome {
        FetchOutcome::NoVantage => out(Status::Error, "no_vantage", vec![]),
        FetchOutcome::NoAddress => no_aaaa(obs),
        FetchOutcome::Complete => {
            let Some(hop) = fetch.last() else {
                return out(Status::Error, "no_vantage", vec![]);
            };
            let status = hop.exchange.status.unwrap_or(0);
            let vars = vec![("status", status.to_string()), ("url", hop.url.clone())];
            if status >= 500 {
                out(Status::Warn, "server_error", vars)
            } else if hop.exchange.outcome == HttpOutcome::BodyTimeout {
                let mut vars = vars;
                vars.push(("bytes", hop.exchange.body_bytes.to_string()));
                out(Status::Warn, "body_slow", vars)
            } else if hop.exchange.body_truncated {
                let mut vars = vars;
                vars.push(("cap", format!("{} KiB", hop.exchange.body_bytes / 1024)));
                out(Status::Warn, "body_truncated", vars)
            } else if let Some(retried) = http_retries(obs, fetch) {
                let mut vars = vars;
                vars.extend(retried);
                out(Status::Warn, "retried", vars)
            } else {
                out(Status::Pass, "ok", vars)
            }
        }
        FetchOutcome::LeftFamily => {
            let status = fetch
                .hops
                .first()
                .and_then(|h| h.exchange.status)
                .unwrap_or(0);
            out(
                Status::Pass,
                "left_family",
                vec![
                    ("status", status.to_string()),
                    ("host", left_at(fetch).unwrap_or_default()),
                ],
            )
        }
        FetchOutcome::RedirectLoop => out(Status::Fail, "redirect_loop", vec![("url", last_url)]),
        FetchOutcome::TooManyRedirects => out(
            Status::Fail,
            "too_many_redirects",
            vec![("count", fetch.hops.len().to_string()), ("url", last_url)],
        ),
        // No address on the URL's port could be tried (the agent's budget or
        // sockets): unknown, not a portal that does not answer.
        FetchOutcome::Failed if fetch.hops.is_empty() && none_tried(&v6_on_url_port(obs)) => {
            out(Status::Error, "not_tried", vec![])
        }
        FetchOutcome::Failed => out(
            Status::Fail,
            "failed",
            vec![
                ("url", last_url),
                ("reason", fetch_failure_reason(obs, fetch)),
            ],
        ),
    }
}

/// The requests over IPv6 that got no response before a second try did:
/// the first exchange on the URL's port (over its endpoint's connection)
/// and each later hop of the chain.
pub(super) fn http_retries(
    obs: &Observation,
    fetch: &HttpFetch,
) -> Option<Vec<(&'static str, String)>> {
    // Only addresses that did answer in the end: one that never did is not
    // a lost packet.
    let eps: Vec<_> = v6_on_url_port(obs)
        .into_iter()
        .filter(|e| {
            e.http
                .as_ref()
                .is_some_and(|h| h.outcome == HttpOutcome::Ok)
        })
        .collect();
    let (mut failed, mut attempts) = retries(&eps, |a| {
        a.tcp.outcome == TcpOutcome::Connected
            && a.tls.as_ref().is_none_or(|t| t.outcome == TlsOutcome::Ok)
            && a.http
                .as_ref()
                .is_some_and(|h| h.outcome != HttpOutcome::Ok)
    });
    for hop in fetch.hops.iter().skip(1) {
        attempts += hop.failed_attempts.len() + 1;
        failed.extend(
            hop.failed_attempts
                .iter()
                .map(|x| format!("{} ({})", hop.url, exchange_reason(x))),
        );
    }
    (!failed.is_empty()).then(|| {
        vec![
            ("count", failed.len().to_string()),
            ("attempts", attempts.to_string()),
            ("failed", failed.join(", ")),
        ]
    })
}

/// The IPv6 endpoints on the port of the portal's URL: those its page is
/// fetched from.
pub(super) fn v6_on_url_port(obs: &Observation) -> Vec<&Endpoint> {
    on_url_port(obs, Family::V6)
}

/// A family's endpoints on the port of the portal's URL: where its page is
/// fetched from.
pub(super) fn on_url_port(obs: &Observation, family: Family) -> Vec<&Endpoint> {
    let url_port = url::Url::parse(&obs.url)
        .ok()
        .and_then(|u| u.port_or_known_default());
    obs.endpoints
        .iter()
        .filter(|e| e.family == family && Some(e.port) == url_port)
        .collect()
}

pub(super) fn redirects_v6(obs: &Observation) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let Some(v6) = &obs.http.ipv6 else {
        return out(Status::Error, "no_vantage", vec![]);
    };
    match v6.outcome {
        FetchOutcome::NoVantage => return out(Status::Error, "no_vantage", vec![]),
        FetchOutcome::NoAddress => return no_aaaa(obs),
        _ => {}
    }
    if v6.hops.is_empty() || v6.hops[0].exchange.outcome != HttpOutcome::Ok {
        return out(Status::Skip, "not_fetched", vec![]);
    }
    let redirects: Vec<_> = v6
        .hops
        .iter()
        .filter(|h| h.next_host_has_aaaa.is_some())
        .collect();
    if redirects.is_empty() {
        return out(Status::Skip, "no_redirects", vec![]);
    }
    let leaving = hosts_leaving_ipv6(v6);
    if !leaving.is_empty() {
        return out(Status::Fail, "leaves_v6", vec![("hosts", join(leaving))]);
    }
    let hosts: BTreeSet<String> = v6.hops.iter().map(|h| host_of_url(&h.url)).collect();
    out(
        Status::Pass,
        "all_v6",
        vec![
            ("count", redirects.len().to_string()),
            ("hosts", join(hosts)),
        ],
    )
}
