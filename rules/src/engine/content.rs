//! The `web.*` rules of what the portal's page gives: parity between the
//! families (open ports, status, final URL, content) and the hosts its
//! sub-resources load from, over IPv6.

use std::collections::BTreeSet;

use v6audit_model::{
    DnsOutcome, Family, FetchOutcome, Observation, Status, SubresourceHost, TcpOutcome,
};

use super::web::{fetch_failure_reason, left_at};
use super::{Outcome, has_aaaa, host_vars, join, no_aaaa, out};
use crate::pack::Params;
use crate::words::{self, word};

pub(super) fn open_ports(obs: &Observation, family: Family) -> BTreeSet<u16> {
    obs.endpoints
        .iter()
        .filter(|e| e.family == family && e.tcp.outcome == TcpOutcome::Connected)
        .map(|e| e.port)
        .collect()
}

pub(super) fn ports_text(ports: &BTreeSet<u16>) -> String {
    if ports.is_empty() {
        word("none")
    } else {
        join(ports)
    }
}

// Long because the comparisons run in a fixed order, each able to end the rule with its outcome.
pub(super) fn parity(obs: &Observation, params: &Params) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    if obs.dns.a.addrs.is_empty() {
        return out(Status::Skip, "no_a", host_vars(obs));
    }
    let (Some(v4), Some(v6)) = (&obs.http.ipv4, &obs.http.ipv6) else {
        return out(Status::Error, "no_vantage", vec![]);
    };
    if v4.outcome == FetchOutcome::NoVantage || v6.outcome == FetchOutcome::NoVantage {
        return out(Status::Error, "no_vantage", vec![]);
    }
    // A port the agent could not try (its sockets, its budget) is not a
    // closed port: comparing would blame the portal for the agent's fault.
    if obs
        .endpoints
        .iter()
        .any(|e| matches!(e.tcp.outcome, TcpOutcome::NotTried | TcpOutcome::LocalError))
    {
        return out(Status::Error, "not_tried", vec![]);
    }
    let p4 = open_ports(obs, Family::V4);
    let p6 = open_ports(obs, Family::V6);
    if p4 != p6 {
        return out(
            Status::Fail,
            "ports_differ",
            vec![
                ("ipv4_ports", ports_text(&p4)),
                ("ipv6_ports", ports_text(&p6)),
            ],
        );
    }
    if v6.outcome == FetchOutcome::LeftFamily {
        return out(
            Status::Warn,
            "v6_left_family",
            vec![("host", left_at(v6).unwrap_or_default())],
        );
    }
    let done4 = v4.outcome == FetchOutcome::Complete;
    let done6 = v6.outcome == FetchOutcome::Complete;
    match (done4, done6) {
        (false, false) => return out(Status::Skip, "neither", vec![]),
        (true, false) => {
            return out(
                Status::Fail,
                "one_failed",
                vec![
                    ("family", "IPv6".to_owned()),
                    ("other", "IPv4".to_owned()),
                    ("reason", fetch_failure_reason(obs, v6)),
                ],
            );
        }
        (false, true) => {
            return out(
                Status::Fail,
                "one_failed",
                vec![
                    ("family", "IPv4".to_owned()),
                    ("other", "IPv6".to_owned()),
                    ("reason", fetch_failure_reason(obs, v4)),
                ],
            );
        }
        (true, true) => {}
    }
    let (s4, s6) = (
        v4.final_status().unwrap_or(0),
        v6.final_status().unwrap_or(0),
    );
    if s4 != s6 {
        return out(
            Status::Fail,
            "status_differ",
            vec![
                ("ipv4_status", s4.to_string()),
                ("ipv6_status", s6.to_string()),
            ],
        );
    }
    let (u4, u6) = (v4.final_url().unwrap_or(""), v6.final_url().unwrap_or(""));
    if u4 != u6 {
        return out(
            Status::Warn,
            "url_differ",
            vec![("ipv4_url", u4.to_owned()), ("ipv6_url", u6.to_owned())],
        );
    }
    let similarity = obs.content_similarity.unwrap_or(1.0);
    let sim_text = format!("{:.0}%", similarity * 100.0);
    if similarity < params.similarity_threshold {
        return out(
            Status::Warn,
            "content_differ",
            vec![
                ("similarity", sim_text),
                (
                    "threshold",
                    format!("{:.0}%", params.similarity_threshold * 100.0),
                ),
            ],
        );
    }
    out(
        Status::Pass,
        "same",
        vec![("status", s4.to_string()), ("similarity", sim_text)],
    )
}

/// What an IPv6-only visitor's browser meets: every other host the page
/// fetched over IPv6 loads scripts, styles, images, frames, fonts or forms
/// from must have AAAA and accept a connection over IPv6.
pub(super) fn subresources_v6(obs: &Observation) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let complete = obs
        .http
        .ipv6
        .as_ref()
        .is_some_and(|f| f.outcome == FetchOutcome::Complete);
    let Some(sub) = &obs.subresources else {
        return if complete {
            out(Status::Skip, "not_checked", vec![])
        } else {
            out(Status::Skip, "not_fetched", vec![])
        };
    };
    if sub.hosts.is_empty() {
        return out(
            Status::Pass,
            "none_external",
            vec![("urls", sub.urls.to_string())],
        );
    }
    let kinds = |h: &SubresourceHost| h.kinds.join(", ");
    let mut failing = Vec::new();
    let mut unknown = Vec::new();
    for h in &sub.hosts {
        if h.reachable_over_ipv6() {
            continue;
        }
        let reason = match (&h.tcp, h.aaaa.outcome) {
            (Some(t), _) => match t.outcome {
                TcpOutcome::NotTried | TcpOutcome::LocalError | TcpOutcome::NoVantage => {
                    unknown.push(format!("{} ({})", h.host, kinds(h)));
                    continue;
                }
                TcpOutcome::Error => match &t.error {
                    Some(e) if !e.is_empty() => format!("{} ({e})", word(words::tcp(t.outcome))),
                    _ => word(words::tcp(t.outcome)),
                },
                other => word(words::tcp(other)),
            },
            (None, DnsOutcome::NxDomain) => word(words::dns(DnsOutcome::NxDomain)),
            (None, o) if o.is_definite() => word("dns.no_aaaa"),
            (None, _) => {
                unknown.push(format!("{} ({})", h.host, kinds(h)));
                continue;
            }
        };
        failing.push(format!("{} ({reason}; {})", h.host, kinds(h)));
    }
    if !failing.is_empty() {
        return out(
            Status::Fail,
            "unreachable",
            vec![
                ("count", failing.len().to_string()),
                ("total", sub.hosts.len().to_string()),
                ("hosts", failing.join(", ")),
            ],
        );
    }
    if !unknown.is_empty() {
        return out(
            Status::Error,
            "unknown",
            vec![("hosts", unknown.join(", "))],
        );
    }
    out(
        Status::Pass,
        "all_v6",
        vec![
            ("count", sub.hosts.len().to_string()),
            ("hosts", join(sub.hosts.iter().map(|h| h.host.as_str()))),
        ],
    )
}
