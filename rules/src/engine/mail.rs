//! The `mail.*` rules: SMTP over IPv6 to the zone's mail exchangers.

use super::dns::zone_or_error;
use super::{Outcome, join, out};
use crate::words::{self, word};
use v6audit_model::{DnsOutcome, Family, Observation, SmtpOutcome, SmtpProbe, Status};

/// Mail over IPv6: each mail server with AAAA greets and answers EHLO over
/// IPv6; a warning when it offers no STARTTLS there, or names another host
/// than over IPv4.
pub(super) fn v6_smtp(obs: &Observation) -> Outcome {
    let Some(probes) = &obs.smtp else {
        return out(Status::Skip, "not_checked", vec![]);
    };
    let apex = match zone_or_error(obs) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let zone = ("zone", apex.to_owned());
    let mx = &obs.dns.mx;
    if mx.outcome != DnsOutcome::Ok
        || mx
            .exchanges
            .iter()
            .all(|m| m.host == "." || m.host.is_empty())
    {
        return out(Status::Skip, "no_mx", vec![zone]);
    }
    let v6: Vec<&SmtpProbe> = probes.iter().filter(|p| p.family == Family::V6).collect();
    if v6.is_empty() {
        return out(Status::Skip, "no_v6_mx", vec![zone]);
    }
    if v6.iter().any(|p| p.outcome == SmtpOutcome::NoVantage) {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let failed: Vec<&&SmtpProbe> = v6.iter().filter(|p| p.outcome != SmtpOutcome::Ok).collect();
    if !failed.is_empty() {
        return smtp_failed(probes, &v6, &failed);
    }
    let no_tls: Vec<String> = v6
        .iter()
        .filter(|p| !p.starttls)
        .map(|p| smtp_label(p))
        .collect();
    if !no_tls.is_empty() {
        return out(
            Status::Warn,
            "no_starttls",
            vec![("servers", no_tls.join(", "))],
        );
    }
    // The same server over both families names itself the same way.
    let differs = banner_differs(probes, &v6);
    if !differs.is_empty() {
        return out(
            Status::Warn,
            "banner_differs",
            vec![("servers", differs.join(", "))],
        );
    }
    out(
        Status::Pass,
        "ok",
        vec![
            ("count", v6.len().to_string()),
            ("servers", join(v6.iter().map(|p| smtp_label(p)))),
        ],
    )
}

/// A mail server's name and address, as the findings name it.
fn smtp_label(p: &SmtpProbe) -> String {
    format!("{} ({})", p.host, std::net::SocketAddr::new(p.addr, p.port))
}

/// `mail.v6-smtp` when some of the servers failed over IPv6: `blocked` when
/// port 25 times out over both families, else `unreachable`, each failure
/// with its reason.
fn smtp_failed(probes: &[SmtpProbe], v6: &[&SmtpProbe], failed: &[&&SmtpProbe]) -> Outcome {
    // Port 25 that times out over both families is usually blocked on
    // this vantage's side (many access networks do), not at the portal.
    let v4_timeouts = probes
        .iter()
        .filter(|p| p.family == Family::V4)
        .all(|p| p.outcome == SmtpOutcome::Timeout);
    let has_v4 = probes.iter().any(|p| p.family == Family::V4);
    if failed.iter().all(|p| p.outcome == SmtpOutcome::Timeout) && has_v4 && v4_timeouts {
        return out(
            Status::Error,
            "blocked",
            vec![("servers", join(failed.iter().map(|p| smtp_label(p))))],
        );
    }
    let describe = |p: &SmtpProbe| {
        let why = match (&p.outcome, &p.error) {
            (SmtpOutcome::Error, Some(e)) if !e.is_empty() => e.clone(),
            (o, _) => word(words::smtp(*o)),
        };
        format!("{}: {why}", smtp_label(p))
    };
    out(
        Status::Fail,
        "unreachable",
        vec![
            ("count", failed.len().to_string()),
            ("total", v6.len().to_string()),
            (
                "servers",
                failed
                    .iter()
                    .map(|p| describe(p))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ],
    )
}

/// The servers that name themselves otherwise over IPv6 than over IPv4.
fn banner_differs(probes: &[SmtpProbe], v6: &[&SmtpProbe]) -> Vec<String> {
    v6.iter()
        .filter_map(|p6| {
            let p4 = probes.iter().find(|p| {
                p.family == Family::V4 && p.host == p6.host && p.outcome == SmtpOutcome::Ok
            })?;
            match (&p6.banner_host, &p4.banner_host) {
                (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
                    Some(format!("{} (IPv6 says {a}, IPv4 says {b})", p6.host))
                }
                _ => None,
            }
        })
        .collect()
}
