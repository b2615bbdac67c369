//! The `tls.*` rules: handshakes over IPv6, the certificate served there, and
//! parity with IPv4.

use std::collections::BTreeSet;

use v6audit_model::{ChainStatus, Endpoint, Family, Observation, Status, TcpOutcome, TlsOutcome};

use super::endpoints::{none_tried, retries, tls_reason, v6_endpoints};
use super::{Outcome, Tally, endpoint_label, has_aaaa, join, no_aaaa, out};
use crate::pack::Params;
use crate::words::{self, word};

pub(super) fn v6_handshake(obs: &Observation) -> Outcome {
    let tls_ports: BTreeSet<u16> = obs.ports.iter().filter(|p| p.tls).map(|p| p.port).collect();
    if tls_ports.is_empty() {
        return out(Status::Skip, "no_tls_port", vec![]);
    }
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let eps: Vec<_> = v6_endpoints(obs).filter(|e| e.tls_port).collect();
    if eps.is_empty() || eps.iter().any(|e| e.tcp.outcome == TcpOutcome::NoVantage) {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let connected: Vec<_> = eps
        .iter()
        .filter(|e| e.tcp.outcome == TcpOutcome::Connected)
        .collect();
    if none_tried(&eps) {
        return out(Status::Error, "not_tried", vec![]);
    }
    if connected.is_empty()
        && !eps
            .iter()
            .any(|e| e.tcp.outcome == TcpOutcome::NotContacted)
    {
        return out(
            Status::Fail,
            "no_connection",
            vec![("ports", join(tls_ports))],
        );
    }
    // Every address counts: one that refused TCP is named as such, one the
    // agent could not try (its budget or its sockets) leaves the rule unknown.
    let failed = Tally::of(&eps, |e| {
        let bad = match e.tcp.outcome {
            TcpOutcome::Connected => e.tls.as_ref().is_none_or(|t| t.outcome != TlsOutcome::Ok),
            TcpOutcome::NotTried | TcpOutcome::LocalError => false,
            _ => true,
        };
        bad.then(|| format!("{} {}", endpoint_label(e), tls_reason(e)))
    });
    if !failed.is_empty() {
        return out(Status::Fail, "failed", failed.values("failures"));
    }
    if connected.len() < eps.len() {
        return out(Status::Error, "not_tried", vec![]);
    }
    let versions: BTreeSet<&str> = connected
        .iter()
        .filter_map(|e| e.tls.as_ref().and_then(|t| t.version.as_deref()))
        .collect();
    let (retried, attempts) = retries(&eps, |a| {
        a.tcp.outcome == TcpOutcome::Connected
            && a.tls.as_ref().is_some_and(|t| t.outcome != TlsOutcome::Ok)
    });
    if !retried.is_empty() {
        return out(
            Status::Warn,
            "retried",
            vec![
                ("total", eps.len().to_string()),
                ("versions", join(versions)),
                ("count", retried.len().to_string()),
                ("attempts", attempts.to_string()),
                ("failures", retried.join(", ")),
            ],
        );
    }
    out(
        Status::Pass,
        "ok",
        vec![
            ("count", connected.len().to_string()),
            ("versions", join(versions)),
        ],
    )
}

pub(super) fn chain_problem(status: ChainStatus) -> String {
    word(words::chain(status))
}

pub(super) fn handshaken(obs: &Observation, family: Family) -> Vec<&Endpoint> {
    obs.endpoints
        .iter()
        .filter(|e| {
            e.family == family && e.tls.as_ref().is_some_and(|t| t.outcome == TlsOutcome::Ok)
        })
        .collect()
}

pub(super) fn v6_cert(obs: &Observation, params: &Params) -> Outcome {
    let eps = handshaken(obs, Family::V6);
    if eps.is_empty() {
        return out(Status::Skip, "no_handshake", vec![]);
    }
    let mut problems = Vec::new();
    let mut soonest: Option<(i64, time::OffsetDateTime, String)> = None;
    for e in &eps {
        let Some(tls) = &e.tls else { continue };
        if let Some(chain) = &tls.chain
            && chain.status != ChainStatus::Valid
        {
            let mut p = format!("{}: {}", endpoint_label(e), chain_problem(chain.status));
            if let Some(cert) = &tls.certificate {
                match chain.status {
                    ChainStatus::Expired => {
                        p.push_str(&format!(" {} {}", word("cert.on"), cert.not_after.date()))
                    }
                    ChainStatus::NameMismatch => p.push_str(&format!(
                        " ({} {})",
                        word("cert.valid_for"),
                        cert.sans.join(", ")
                    )),
                    ChainStatus::UnknownIssuer => p.push_str(&format!(" ({})", cert.issuer)),
                    _ => {}
                }
                if chain.status != ChainStatus::NameMismatch && chain.name_matches == Some(false) {
                    p.push_str(&format!(
                        ", {} ({} {})",
                        word("cert.and_name_mismatch"),
                        word("cert.valid_for"),
                        cert.sans.join(", ")
                    ));
                }
            }
            problems.push(p);
            continue;
        }
        if let Some(cert) = &tls.certificate {
            let days = (cert.not_after - obs.started_at).whole_days();
            if soonest.as_ref().is_none_or(|(d, _, _)| days < *d) {
                soonest = Some((days, cert.not_after, cert.issuer.clone()));
            }
        }
    }
    if !problems.is_empty() {
        return out(
            Status::Fail,
            "invalid",
            vec![("problems", problems.join("; "))],
        );
    }
    let Some((days, not_after, issuer)) = soonest else {
        return out(Status::Skip, "no_handshake", vec![]);
    };
    let date = not_after.date().to_string();
    if days < i64::from(params.expiry_warning_days) {
        out(
            Status::Warn,
            "expiring",
            vec![("days", days.to_string()), ("not_after", date)],
        )
    } else {
        out(
            Status::Pass,
            "valid",
            vec![
                ("days", days.to_string()),
                ("not_after", date),
                ("issuer", issuer),
            ],
        )
    }
}

pub(super) fn certs_of(eps: &[&Endpoint]) -> BTreeSet<String> {
    eps.iter()
        .filter_map(|e| {
            e.tls
                .as_ref()
                .and_then(|t| t.certificate.as_ref())
                .map(|c| c.sha256.clone())
        })
        .collect()
}

pub(super) fn versions_of(eps: &[&Endpoint]) -> BTreeSet<String> {
    eps.iter()
        .filter_map(|e| e.tls.as_ref().and_then(|t| t.version.clone()))
        .collect()
}

pub(super) fn short_certs(certs: &BTreeSet<String>) -> String {
    join(
        certs
            .iter()
            .map(|c| format!("sha256:{}", &c[..c.len().min(16)])),
    )
}

pub(super) fn parity(obs: &Observation) -> Outcome {
    let v4 = handshaken(obs, Family::V4);
    let v6 = handshaken(obs, Family::V6);
    if v4.is_empty() || v6.is_empty() {
        return out(Status::Skip, "not_both", vec![]);
    }
    let (c4, c6) = (certs_of(&v4), certs_of(&v6));
    if c4 != c6 {
        let describe = |eps: &[&Endpoint], certs: &BTreeSet<String>| {
            let subjects: BTreeSet<String> = eps
                .iter()
                .filter_map(|e| e.tls.as_ref().and_then(|t| t.certificate.as_ref()))
                .map(|c| c.subject.clone())
                .collect();
            format!("{} [{}]", join(subjects), short_certs(certs))
        };
        return out(
            Status::Fail,
            "cert_differs",
            vec![
                ("ipv4_cert", describe(&v4, &c4)),
                ("ipv6_cert", describe(&v6, &c6)),
            ],
        );
    }
    let (ver4, ver6) = (versions_of(&v4), versions_of(&v6));
    if ver4 != ver6 {
        return out(
            Status::Warn,
            "version_differs",
            vec![("ipv4_version", join(ver4)), ("ipv6_version", join(ver6))],
        );
    }
    out(
        Status::Pass,
        "same",
        vec![("cert", short_certs(&c6)), ("version", join(ver6))],
    )
}
