//! The `dns.*` rules: AAAA records, their addresses, the zone's name servers
//! over IPv6, mail exchangers and the DNSSEC chain.

use std::collections::BTreeSet;
use std::net::IpAddr;

use v6audit_model::{
    Category, DnsOutcome, DnssecChain, DnssecObservation, DnssecServed, DnssecServer, Family,
    NameServer, Observation, PortalInfo, Status,
};

use super::{Outcome, dns_reason, has_aaaa, host_vars, join, no_aaaa, out};
use crate::addr::AddressClass;
use crate::pack::Params;
use crate::words::{self, word};

pub(super) fn aaaa(obs: &Observation) -> Outcome {
    let aaaa = &obs.dns.aaaa;
    match aaaa.outcome {
        DnsOutcome::Ok if !aaaa.addrs.is_empty() => out(
            Status::Pass,
            "present",
            vec![
                ("host", obs.host.clone()),
                ("count", aaaa.addrs.len().to_string()),
                ("addrs", join(&aaaa.addrs)),
            ],
        ),
        // "IPv4 only" only when there is an A record to name.
        DnsOutcome::Ok | DnsOutcome::NoData if obs.dns.a.addrs.is_empty() => {
            out(Status::Fail, "no_address", host_vars(obs))
        }
        DnsOutcome::Ok | DnsOutcome::NoData => out(
            Status::Fail,
            "absent",
            vec![("host", obs.host.clone()), ("ipv4", join(&obs.dns.a.addrs))],
        ),
        DnsOutcome::NxDomain => out(Status::Fail, "nxdomain", host_vars(obs)),
        other => out(
            Status::Error,
            "lookup_failed",
            vec![
                ("host", obs.host.clone()),
                ("reason", dns_reason(other, aaaa.error.as_deref())),
            ],
        ),
    }
}

pub(super) fn aaaa_global(obs: &Observation, portal: &PortalInfo, params: &Params) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let mut bad = Vec::new();
    for addr in &obs.dns.aaaa.addrs {
        let IpAddr::V6(v6) = addr else { continue };
        let class = AddressClass::of(v6);
        let allowed = class.is_global()
            || params.allow.iter().any(|net| net.contains(addr))
            || (class == AddressClass::UniqueLocal
                && params.allow_ula_for_internal
                && portal.category == Category::Internal);
        if !allowed {
            bad.push(format!("{v6} ({})", word(words::class(class))));
        }
    }
    if bad.is_empty() {
        out(
            Status::Pass,
            "global",
            vec![("addrs", join(&obs.dns.aaaa.addrs))],
        )
    } else {
        out(
            Status::Fail,
            "not_global",
            vec![("count", bad.len().to_string()), ("bad", bad.join(", "))],
        )
    }
}

/// The zone's apex and name servers, or the outcome explaining why they are unknown.
pub(super) fn zone_or_error(obs: &Observation) -> Result<&str, Outcome> {
    let zone = &obs.dns.zone;
    match (&zone.apex, zone.outcome) {
        (Some(apex), DnsOutcome::Ok) if !zone.name_servers.is_empty() => Ok(apex),
        (_, outcome) => Err(out(
            Status::Error,
            "zone_unknown",
            vec![
                ("host", obs.host.clone()),
                (
                    "reason",
                    if outcome == DnsOutcome::Ok {
                        word("dns.no_ns")
                    } else {
                        dns_reason(outcome, zone.error.as_deref())
                    },
                ),
            ],
        )),
    }
}

pub(super) fn ns_aaaa(obs: &Observation, params: &Params) -> Outcome {
    let apex = match zone_or_error(obs) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let ns = &obs.dns.zone.name_servers;
    let with: Vec<_> = ns.iter().filter(|n| !n.aaaa.is_empty()).collect();
    let without: Vec<_> = ns
        .iter()
        .filter(|n| n.aaaa.is_empty())
        .map(|n| n.name.as_str())
        .collect();
    let min = params.min_name_servers as usize;
    let zone = ("zone", apex.to_owned());
    if with.len() >= min {
        out(
            Status::Pass,
            "enough",
            vec![
                zone,
                ("count", with.len().to_string()),
                ("total", ns.len().to_string()),
            ],
        )
    } else if with.is_empty() {
        out(
            Status::Fail,
            "none",
            vec![
                zone,
                ("total", ns.len().to_string()),
                ("names", join(without)),
            ],
        )
    } else if without.is_empty() {
        // Every server has AAAA; there are just too few servers.
        out(
            Status::Warn,
            "too_few_servers",
            vec![
                zone,
                ("total", ns.len().to_string()),
                ("min", min.to_string()),
            ],
        )
    } else {
        out(
            Status::Warn,
            "too_few",
            vec![
                zone,
                ("count", with.len().to_string()),
                ("total", ns.len().to_string()),
                ("min", min.to_string()),
                ("missing", join(without)),
            ],
        )
    }
}

pub(super) fn ns_v6_answers(obs: &Observation) -> Outcome {
    let apex = match zone_or_error(obs) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let zone = ("zone", apex.to_owned());
    let v6_servers: Vec<_> = obs
        .dns
        .zone
        .name_servers
        .iter()
        .filter(|n| !n.aaaa.is_empty())
        .collect();
    if v6_servers.is_empty() {
        return out(Status::Skip, "no_v6_ns", vec![zone]);
    }
    if !obs.vantage.ipv6 {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let NsAnswers {
        total,
        good,
        failed,
        not_contacted,
        why,
    } = ns_answers(&v6_servers);
    let serials = soa_serials(obs);
    // What the addresses asked show comes first: a failure or differing
    // serials among them hold whatever the others would have said.
    if failed.is_empty() && serials.len() > 1 {
        let listed = serials
            .iter()
            .map(|(serial, who)| format!("{serial} from {}", who.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        out(
            Status::Warn,
            "serials_differ",
            vec![zone, ("serials", listed)],
        )
    } else if failed.is_empty() && !not_contacted.is_empty() {
        out(
            Status::Error,
            "not_contacted",
            vec![
                zone,
                ("servers", not_contacted.join(", ")),
                ("count", not_contacted.len().to_string()),
                ("total", (total + not_contacted.len()).to_string()),
                ("reason", why.into_iter().collect::<Vec<_>>().join("; ")),
            ],
        )
    } else if failed.is_empty() {
        out(Status::Pass, "all", vec![zone, ("count", good.to_string())])
    } else if good == 0 && not_contacted.is_empty() {
        out(
            Status::Fail,
            "none",
            vec![zone, ("failed", failed.join("; "))],
        )
    } else {
        // Every address published for the zone over IPv6 must answer with
        // authority (internet.nl; Zonemaster CONNECTIVITY01 judges each
        // address): a resolver that picks the dead one waits it out. (With
        // addresses not contacted, `none` would say more than is known.)
        out(
            Status::Fail,
            "some",
            vec![
                zone,
                ("failed", failed.join("; ")),
                ("count", good.to_string()),
                ("total", total.to_string()),
            ],
        )
    }
}

/// What the zone's name servers answered over IPv6: how many addresses were
/// asked, how many answered with authority, which did not, and which the
/// pack's contact policy kept the agent from asking, with why (unknown, they
/// count neither way; on their own they make the rule `error`, never `fail`).
struct NsAnswers<'a> {
    total: usize,
    good: usize,
    failed: Vec<String>,
    not_contacted: Vec<String>,
    why: BTreeSet<&'a str>,
}

fn ns_answers<'a>(v6_servers: &[&'a NameServer]) -> NsAnswers<'a> {
    let mut total = 0;
    let mut good = 0;
    let mut failed = Vec::new();
    let mut not_contacted = Vec::new();
    let mut why: BTreeSet<&str> = BTreeSet::new();
    for ns in v6_servers.iter().copied() {
        for addr in &ns.aaaa {
            let q = ns
                .queries
                .iter()
                .find(|q| q.addr == IpAddr::V6(*addr) && q.family == Family::V6);
            if let Some(q) = q
                && q.outcome == DnsOutcome::NotContacted
            {
                not_contacted.push(format!("{} [{addr}]", ns.name));
                why.extend(q.error.as_deref());
                continue;
            }
            total += 1;
            match q {
                Some(q) if q.outcome.is_definite() && q.authoritative => good += 1,
                Some(q) if q.outcome.is_definite() => {
                    failed.push(format!("{} [{addr}] {}", ns.name, word("dns.lame")));
                }
                Some(q) => failed.push(format!(
                    "{} [{addr}] {}",
                    ns.name,
                    dns_reason(q.outcome, q.error.as_deref())
                )),
                None => failed.push(format!("{} [{addr}] {}", ns.name, word("dns.not_asked"))),
            }
        }
    }
    NsAnswers {
        total,
        good,
        failed,
        not_contacted,
        why,
    }
}

/// Every server, over either family, should hand out the same zone: the
/// SOA serials they answered with, and who answered each.
fn soa_serials(obs: &Observation) -> std::collections::BTreeMap<u32, Vec<String>> {
    let mut serials: std::collections::BTreeMap<u32, Vec<String>> =
        std::collections::BTreeMap::new();
    for ns in &obs.dns.zone.name_servers {
        for q in &ns.queries {
            if let Some(serial) = q.soa_serial {
                serials.entry(serial).or_default().push(format!(
                    "{} ({})",
                    ns.name,
                    std::net::SocketAddr::new(q.addr, q.port)
                ));
            }
        }
    }
    serials
}

pub(super) fn mx_aaaa(obs: &Observation) -> Outcome {
    let apex = match zone_or_error(obs) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let zone = ("zone", apex.to_owned());
    let mx = &obs.dns.mx;
    match mx.outcome {
        DnsOutcome::NoData | DnsOutcome::NxDomain => return out(Status::Skip, "no_mx", vec![zone]),
        DnsOutcome::Ok => {}
        other => {
            return out(
                Status::Error,
                "lookup_failed",
                vec![zone, ("reason", dns_reason(other, mx.error.as_deref()))],
            );
        }
    }
    // RFC 7505: a single "." exchange says the domain takes no mail.
    if mx.exchanges.is_empty()
        || mx
            .exchanges
            .iter()
            .all(|m| m.host == "." || m.host.is_empty())
    {
        return out(Status::Skip, "null_mx", vec![zone]);
    }
    let with: Vec<_> = mx
        .exchanges
        .iter()
        .filter(|m| !m.aaaa.is_empty())
        .map(|m| m.host.as_str())
        .collect();
    let without: Vec<_> = mx
        .exchanges
        .iter()
        .filter(|m| m.aaaa.is_empty())
        .map(|m| m.host.as_str())
        .collect();
    if without.is_empty() {
        out(
            Status::Pass,
            "all",
            vec![
                zone,
                ("count", with.len().to_string()),
                ("hosts", join(with)),
            ],
        )
    } else if with.is_empty() {
        out(Status::Fail, "none", vec![zone, ("missing", join(without))])
    } else {
        out(
            Status::Warn,
            "some",
            vec![
                zone,
                ("missing", join(without)),
                ("count", with.len().to_string()),
                ("total", mx.exchanges.len().to_string()),
            ],
        )
    }
}

/// DNSSEC: the zone's chain of trust validates from the anchor, and every
/// name server address, over each family, serves the zone's keys and SOA
/// signed with keys the chain names. Unsigned is a warning (Circular
/// 32/2017 asks for DNSSEC), a broken chain a failure (validating resolvers
/// then refuse the portal's names altogether).
pub(super) fn dnssec(obs: &Observation) -> Outcome {
    // An unknown zone comes first: without it there was nothing to check,
    // whether or not DNSSEC was asked for ("not checked" would blame
    // --no-dnssec for a failed lookup).
    let apex = match zone_or_error(obs) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let Some(d) = &obs.dnssec else {
        return out(Status::Skip, "not_checked", vec![]);
    };
    let zone = ("zone", apex.to_owned());
    if let Some(broken) = broken_chain(d, &zone) {
        return broken;
    }
    // Addresses the pack's contact policy kept the agent from asking: what
    // they serve is unknown, never a fault of the zone's.
    let not_contacted: Vec<&DnssecServer> = d
        .servers
        .iter()
        .filter(|s| s.served == DnssecServed::NotContacted)
        .collect();
    let asked: Vec<&DnssecServer> = d
        .servers
        .iter()
        .filter(|s| {
            !matches!(
                s.served,
                DnssecServed::NoVantage | DnssecServed::NotContacted
            )
        })
        .collect();
    let answered: Vec<&&DnssecServer> = asked
        .iter()
        .filter(|s| s.served != DnssecServed::NoAnswer)
        .collect();
    if answered.is_empty() && !not_contacted.is_empty() {
        return dnssec_not_contacted(zone, &not_contacted, d.servers.len());
    }
    if answered.is_empty() {
        return out(
            Status::Error,
            "no_answer",
            vec![zone, ("servers", no_answer_servers(&asked))],
        );
    }
    if d.chain == DnssecChain::Insecure {
        return dnssec_insecure(d, apex, zone, &answered);
    }
    let bogus: Vec<&&&DnssecServer> = answered
        .iter()
        .filter(|s| s.served != DnssecServed::Valid)
        .collect();
    if !bogus.is_empty() {
        return out(
            Status::Fail,
            "servers_bogus",
            vec![
                zone,
                ("count", bogus.len().to_string()),
                ("total", answered.len().to_string()),
                ("servers", bogus_servers(&bogus)),
            ],
        );
    }
    // Every server asked validates, but not every one could be asked.
    if !not_contacted.is_empty() {
        return dnssec_not_contacted(zone, &not_contacted, d.servers.len());
    }
    dnssec_secure(d, apex, zone, &answered)
}

/// `dns.dnssec` on a chain that ended `unknown` or `bogus`, with its reason;
/// None for a secure or insecure chain.
fn broken_chain(d: &DnssecObservation, zone: &(&'static str, String)) -> Option<Outcome> {
    let (status, key, otherwise) = match d.chain {
        DnssecChain::Unknown => (Status::Error, "unknown", "unknown"),
        DnssecChain::Bogus => (Status::Fail, "chain_bogus", "dnssec.bogus"),
        DnssecChain::Secure | DnssecChain::Insecure => return None,
    };
    Some(out(
        status,
        key,
        vec![
            zone.clone(),
            (
                "reason",
                crate::render::reason_value(d.why.as_ref(), d.error.as_deref())
                    .unwrap_or_else(|| word(otherwise)),
            ),
        ],
    ))
}

/// `dns.dnssec`'s `no_answer`: each server address asked, and why it did not answer.
fn no_answer_servers(asked: &[&DnssecServer]) -> String {
    let label =
        |s: &DnssecServer| format!("{} ({})", s.name, std::net::SocketAddr::new(s.addr, s.port));
    join(asked.iter().map(|s| {
        format!(
            "{}: {}",
            label(s),
            crate::render::reason_value(s.why.as_ref(), s.error.as_deref())
                .unwrap_or_else(|| word("dns.no_answer"))
        )
    }))
}

/// `dns.dnssec` on an insecure chain: cut above the zone, or at the zone
/// (signed with no DS in the parent, or unsigned).
fn dnssec_insecure(
    d: &DnssecObservation,
    apex: &str,
    zone: (&'static str, String),
    answered: &[&&DnssecServer],
) -> Outcome {
    let signed = answered
        .iter()
        .any(|s| matches!(s.served, DnssecServed::Valid | DnssecServed::Bogus));
    let at = d.insecure_at.clone().unwrap_or_else(|| apex.to_owned());
    if at != apex {
        return out(Status::Warn, "insecure_parent", vec![zone, ("at", at)]);
    }
    if signed {
        let mut tags: Vec<u16> = answered.iter().flat_map(|s| s.key_tags.clone()).collect();
        tags.sort_unstable();
        tags.dedup();
        return out(Status::Warn, "no_ds", vec![zone, ("tags", join(tags))]);
    }
    out(Status::Warn, "unsigned", vec![zone])
}

/// `dns.dnssec` when every server asked validates: secure from the anchor,
/// or the zone is the anchor's own.
fn dnssec_secure(
    d: &DnssecObservation,
    apex: &str,
    zone: (&'static str, String),
    answered: &[&&DnssecServer],
) -> Outcome {
    let by = |f: Family| {
        answered
            .iter()
            .filter(|s| s.family == f)
            .count()
            .to_string()
    };
    if d.anchor == apex {
        return out(
            Status::Pass,
            "secure_anchor",
            vec![zone, ("v6", by(Family::V6)), ("v4", by(Family::V4))],
        );
    }
    out(
        Status::Pass,
        "secure",
        vec![
            zone,
            ("anchor", d.anchor.clone()),
            ("tags", join(d.ds_key_tags.iter())),
            ("v6", by(Family::V6)),
            ("v4", by(Family::V4)),
        ],
    )
}

/// `dns.dnssec`'s `not_contacted`: the name server addresses (of `total`)
/// the pack's contact policy kept the agent from asking, and why.
fn dnssec_not_contacted(
    zone: (&'static str, String),
    not_contacted: &[&DnssecServer],
    total: usize,
) -> Outcome {
    let servers = not_contacted
        .iter()
        .map(|s| format!("{} ({})", s.name, std::net::SocketAddr::new(s.addr, s.port)));
    let why: BTreeSet<&str> = not_contacted
        .iter()
        .filter_map(|s| s.error.as_deref())
        .collect();
    out(
        Status::Error,
        "not_contacted",
        vec![
            zone,
            ("servers", join(servers)),
            ("count", not_contacted.len().to_string()),
            ("total", total.to_string()),
            ("reason", why.into_iter().collect::<Vec<_>>().join("; ")),
        ],
    )
}

/// The name server addresses whose DNSSEC does not validate, each reason said
/// once with the servers (name, address, family) it holds for.
pub(super) fn bogus_servers(bogus: &[&&&DnssecServer]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for s in bogus {
        let why = crate::render::reason_value(s.why.as_ref(), s.error.as_deref())
            .unwrap_or_else(|| word("dnssec.bogus"));
        // The socket address names the family: IPv6 ones are bracketed.
        let who = format!("{} {}", s.name, std::net::SocketAddr::new(s.addr, s.port));
        match groups.iter_mut().find(|(w, _)| *w == why) {
            Some((_, list)) => list.push(who),
            None => groups.push((why, vec![who])),
        }
    }
    groups
        .into_iter()
        .map(|(why, who)| format!("{why} ({})", who.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
