//! The engine: one pure function from an Observation (and the portal's
//! inventory facts) to a Verdict — findings, stage, score and priority.
//!
//! Each rule is a function here that reads facts and returns an outcome key,
//! a status and the values for its message; the words come from the pack.
//! Statuses follow DESIGN.md: `skip` when a rule does not apply, `error` when
//! the agent could not establish the fact (never `fail` for that).

use std::collections::BTreeSet;
use std::net::IpAddr;

use v6audit_model::{
    Category, ChainStatus, DnsOutcome, DnssecChain, DnssecServed, DnssecServer, EchoOutcome,
    EchoProbe, Endpoint, EndpointAttempt, Family, FetchOutcome, Finding, HttpExchange, HttpFetch,
    HttpOutcome, Lang, LatencyProbe, Observation, PortalInfo, SmtpOutcome, SmtpProbe, Stage,
    Status, SubresourceHost, TcpOutcome, TcpProbe, TlsOutcome, Verdict,
};

use crate::addr::AddressClass;
use crate::pack::{Pack, Params};
use crate::spec::RuleId;

/// What a rule concluded, before the pack puts it into words.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub key: &'static str,
    pub vars: Vec<(&'static str, String)>,
}

fn out(status: Status, key: &'static str, vars: Vec<(&'static str, String)>) -> Outcome {
    Outcome { status, key, vars }
}

/// Judges one observation.
pub fn evaluate(pack: &Pack, obs: &Observation, portal: &PortalInfo, lang: Lang) -> Verdict {
    let mut findings = Vec::with_capacity(RuleId::ALL.len());
    let mut statuses = Vec::with_capacity(RuleId::ALL.len());
    for id in RuleId::ALL {
        let outcome = check(id, obs, portal, &pack.params);
        let rule = pack.rule(id);
        let message = match rule.messages.get(outcome.key) {
            Some(t) => t.render(lang, &outcome.vars),
            // The spec table and the checks are tested to agree; this keeps a
            // report readable if they ever do not.
            None => format!("{}: {}", id.as_str(), outcome.key),
        };
        // An `error` is the agent's not knowing (its vantage, its budget):
        // advice to the portal's owners would be advice about nothing.
        let remediation = match outcome.status {
            Status::Fail | Status::Warn => rule.remediation.get(lang).trim().to_owned(),
            _ => String::new(),
        };
        statuses.push((id, outcome.status));
        findings.push(Finding {
            rule: id.as_str().to_owned(),
            status: outcome.status,
            severity: rule.severity,
            message,
            remediation,
        });
    }
    let (stage, certain) = stage_of(pack, &statuses);
    let score = score_of(pack, &statuses);
    let priority = priority_of(pack, stage, certain, portal.category, portal.audience);
    Verdict {
        stage,
        stage_name: stage.name().to_owned(),
        stage_certain: certain,
        score,
        priority,
        findings,
    }
}

/// The highest stage whose rules all hold (anything but `fail` and `error`),
/// and whether an `error` rather than a `fail` stopped it from going higher.
pub fn stage_of(pack: &Pack, statuses: &[(RuleId, Status)]) -> (Stage, bool) {
    let status = |id: RuleId| {
        statuses
            .iter()
            .find(|(r, _)| *r == id)
            .map_or(Status::Skip, |(_, s)| *s)
    };
    match status(RuleId::DnsAaaa) {
        Status::Pass => {}
        Status::Error => return (Stage::Ipv4Only, false),
        _ => return (Stage::Ipv4Only, true),
    }
    let mut stage = Stage::Broken;
    for (i, next) in [Stage::Reachable, Stage::DualStack, Stage::Ipv6Complete]
        .into_iter()
        .enumerate()
    {
        let needed = &pack.stages[i];
        let failed = needed.iter().any(|r| status(*r) == Status::Fail);
        let errored = needed.iter().any(|r| status(*r) == Status::Error);
        if failed {
            return (stage, true);
        }
        if errored {
            return (stage, false);
        }
        stage = next;
    }
    (stage, true)
}

/// 0..=100: the weighted share of rules that hold. `skip` and `error` rules
/// are left out (they say nothing about the portal); a `warn` counts half.
pub fn score_of(pack: &Pack, statuses: &[(RuleId, Status)]) -> u8 {
    let mut got = 0.0;
    let mut total = 0.0;
    for (id, status) in statuses {
        let w = f64::from(pack.rule(*id).weight);
        let v = match status {
            Status::Pass | Status::Info => 1.0,
            Status::Warn => 0.5,
            Status::Fail => 0.0,
            Status::Skip | Status::Error => continue,
        };
        got += w * v;
        total += w;
    }
    if total == 0.0 {
        0
    } else {
        (100.0 * got / total).round().clamp(0.0, 100.0) as u8
    }
}

/// How a priority is made, part by part, so a page can show why a portal
/// comes where it does. [`priority_of`] is its `total`: one formula.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorityParts {
    /// The pack's weight of the portal's category (1 for one it does not name).
    pub category_weight: f64,
    /// 1 + the pack's growth per tenfold audience × log10(audience); 1
    /// without an audience.
    pub audience_factor: f64,
    /// The portal's weight: `category_weight × audience_factor`.
    pub weight: f64,
    /// Stages to go to stage 3 (dual-stack); 0 at stage 3 and above.
    pub distance: u8,
    /// The pack's bonus for a portal certainly broken (AAAA published but not
    /// working); 0 when it does not apply.
    pub bonus: u32,
    /// `weight × distance × 100`, rounded, plus `bonus`.
    pub total: u32,
}

/// The parts of a portal's priority; see [`priority_of`].
pub fn priority_parts(
    pack: &Pack,
    stage: Stage,
    certain: bool,
    category: Category,
    audience: Option<u64>,
) -> PriorityParts {
    let p = &pack.priority;
    let category_weight = p.category.get(&category).copied().unwrap_or(1.0);
    let decades = audience.map_or(0.0, |a| (a.max(1) as f64).log10());
    let audience_factor = 1.0 + p.audience_per_decade * decades;
    let weight = category_weight * audience_factor;
    let distance = Stage::DualStack.number().saturating_sub(stage.number());
    let base = (weight * f64::from(distance) * 100.0).round().max(0.0) as u32;
    let bonus = if stage == Stage::Broken && certain {
        p.broken_bonus
    } else {
        0
    };
    PriorityParts {
        category_weight,
        audience_factor,
        weight,
        distance,
        bonus,
        total: base + bonus,
    }
}

/// Larger is more urgent. A broken portal (AAAA published but not working)
/// gets the pack's bonus, so it comes before everything else; then the
/// portal's weight (category, growing with audience) times its distance to
/// stage 3. The parts are [`priority_parts`].
pub fn priority_of(
    pack: &Pack,
    stage: Stage,
    certain: bool,
    category: Category,
    audience: Option<u64>,
) -> u32 {
    priority_parts(pack, stage, certain, category, audience).total
}

fn check(id: RuleId, obs: &Observation, portal: &PortalInfo, params: &Params) -> Outcome {
    match id {
        RuleId::DnsAaaa => dns_aaaa(obs),
        RuleId::DnsAaaaGlobal => dns_aaaa_global(obs, portal, params),
        RuleId::DnsNsAaaa => dns_ns_aaaa(obs, params),
        RuleId::DnsNsV6Answers => dns_ns_v6_answers(obs),
        RuleId::DnsMxAaaa => dns_mx_aaaa(obs),
        RuleId::DnsDnssec => dns_dnssec(obs),
        RuleId::WebV6Reachable => web_v6_reachable(obs),
        RuleId::WebV6Http => web_v6_http(obs),
        RuleId::WebParity => web_parity(obs, params),
        RuleId::WebRedirectsV6 => web_redirects_v6(obs),
        RuleId::TlsV6Handshake => tls_v6_handshake(obs),
        RuleId::TlsV6Cert => tls_v6_cert(obs, params),
        RuleId::TlsParity => tls_parity(obs),
        RuleId::NetIcmpv6Echo => net_icmpv6_echo(obs),
        RuleId::NetV6Latency => net_v6_latency(obs, params),
        RuleId::WebSubresourcesV6 => web_subresources_v6(obs),
        RuleId::MailV6Smtp => mail_v6_smtp(obs),
    }
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn endpoint_label(e: &Endpoint) -> String {
    std::net::SocketAddr::new(e.addr, e.port).to_string()
}

fn dns_reason(outcome: DnsOutcome, error: Option<&str>) -> String {
    let what = match outcome {
        DnsOutcome::Timeout => "timeout",
        DnsOutcome::ServFail => "SERVFAIL",
        DnsOutcome::Refused => "REFUSED",
        DnsOutcome::NotAsked => "not asked",
        DnsOutcome::NxDomain => "NXDOMAIN",
        DnsOutcome::NoData => "no data",
        DnsOutcome::Ok => "ok",
        DnsOutcome::Error => "error",
    };
    match error {
        Some(e) if !e.is_empty() && outcome == DnsOutcome::Error => e.to_owned(),
        Some(e) if !e.is_empty() => format!("{what} ({e})"),
        _ => what.to_owned(),
    }
}

fn host_vars(obs: &Observation) -> Vec<(&'static str, String)> {
    vec![("host", obs.host.clone())]
}

/// AAAA facts exist; otherwise the outcome that IPv6 rules report.
fn has_aaaa(obs: &Observation) -> bool {
    !obs.dns.aaaa.addrs.is_empty()
}

/// What an IPv6 rule says when the portal has no AAAA: it does not apply
/// when DNS said so, and is unknown when the lookup failed (no answer, a
/// loop): a rule never asserts a fact the agent did not establish.
fn no_aaaa(obs: &Observation) -> Outcome {
    let lookup = &obs.dns.aaaa;
    if lookup.outcome.is_definite() {
        out(Status::Skip, "no_aaaa", host_vars(obs))
    } else {
        out(
            Status::Error,
            "aaaa_unknown",
            vec![
                ("host", obs.host.clone()),
                (
                    "reason",
                    dns_reason(lookup.outcome, lookup.error.as_deref()),
                ),
            ],
        )
    }
}

fn dns_aaaa(obs: &Observation) -> Outcome {
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

fn dns_aaaa_global(obs: &Observation, portal: &PortalInfo, params: &Params) -> Outcome {
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
            bad.push(format!("{v6} ({class})"));
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
fn zone_or_error(obs: &Observation) -> Result<&str, Outcome> {
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
                        "no NS records".to_owned()
                    } else {
                        dns_reason(outcome, zone.error.as_deref())
                    },
                ),
            ],
        )),
    }
}

fn dns_ns_aaaa(obs: &Observation, params: &Params) -> Outcome {
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

fn dns_ns_v6_answers(obs: &Observation) -> Outcome {
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
    let mut total = 0;
    let mut good = 0;
    let mut failed = Vec::new();
    for ns in &v6_servers {
        for addr in &ns.aaaa {
            total += 1;
            let q = ns
                .queries
                .iter()
                .find(|q| q.addr == IpAddr::V6(*addr) && q.family == Family::V6);
            match q {
                Some(q) if q.outcome.is_definite() && q.authoritative => good += 1,
                Some(q) if q.outcome.is_definite() => {
                    failed.push(format!(
                        "{} [{addr}] answered without authority (lame)",
                        ns.name
                    ));
                }
                Some(q) => failed.push(format!(
                    "{} [{addr}] {}",
                    ns.name,
                    dns_reason(q.outcome, q.error.as_deref())
                )),
                None => failed.push(format!("{} [{addr}] not asked", ns.name)),
            }
        }
    }
    // Every server, over either family, should hand out the same zone: the
    // SOA serials it answered with, and who answered each.
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
    } else if failed.is_empty() {
        out(Status::Pass, "all", vec![zone, ("count", good.to_string())])
    } else if good == 0 {
        out(
            Status::Fail,
            "none",
            vec![zone, ("failed", failed.join("; "))],
        )
    } else {
        // Every address published for the zone over IPv6 must answer with
        // authority (internet.nl; Zonemaster CONNECTIVITY01 judges each
        // address): a resolver that picks the dead one waits it out.
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

fn dns_mx_aaaa(obs: &Observation) -> Outcome {
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

fn v6_endpoints(obs: &Observation) -> impl Iterator<Item = &Endpoint> {
    obs.endpoints.iter().filter(|e| e.family == Family::V6)
}

fn tcp_reason(e: &Endpoint) -> &'static str {
    match e.tcp.outcome {
        TcpOutcome::Connected => "connected",
        TcpOutcome::Refused => "refused",
        TcpOutcome::Timeout => "timeout",
        TcpOutcome::Unreachable => "unreachable",
        TcpOutcome::NoRoute => "no route",
        TcpOutcome::NoVantage => "no IPv6 at this vantage",
        TcpOutcome::Error => "error",
        TcpOutcome::NotTried => "not tried",
        TcpOutcome::LocalError => "agent out of sockets",
        TcpOutcome::NotContacted => "not contacted",
    }
}

/// The earlier tries of `eps` that failed at the step `at` picks, each as
/// "endpoint: how it failed", and the number of tries in all: what a
/// `retried` outcome says when a second try succeeded.
fn retries(eps: &[&Endpoint], at: fn(&EndpointAttempt) -> bool) -> (Vec<String>, usize) {
    let attempts = eps.iter().map(|e| e.attempts()).sum();
    let failed = eps
        .iter()
        .flat_map(|e| {
            e.failed_attempts
                .iter()
                .filter(move |a| at(a))
                .map(move |a| format!("{} ({})", endpoint_label(e), a.failure()))
        })
        .collect();
    (failed, attempts)
}

fn web_v6_reachable(obs: &Observation) -> Outcome {
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    let eps: Vec<_> = v6_endpoints(obs).collect();
    if eps.is_empty() || eps.iter().any(|e| e.tcp.outcome == TcpOutcome::NoVantage) {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let failed: Vec<_> = eps
        .iter()
        .filter(|e| {
            !matches!(
                e.tcp.outcome,
                TcpOutcome::Connected | TcpOutcome::NotTried | TcpOutcome::LocalError
            )
        })
        .map(|e| format!("{} {}", endpoint_label(e), tcp_reason(e)))
        .collect();
    let not_contacted: Vec<_> = eps
        .iter()
        .filter(|e| e.tcp.outcome == TcpOutcome::NotContacted)
        .collect();
    if !not_contacted.is_empty() && not_contacted.len() == failed.len() {
        // Nothing was refused or lost: the addresses themselves are unusable.
        let why: BTreeSet<&str> = not_contacted
            .iter()
            .filter_map(|e| e.tcp.error.as_deref())
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
        return out(
            Status::Fail,
            "unreachable",
            vec![
                ("failed", failed.join(", ")),
                ("count", failed.len().to_string()),
                ("total", eps.len().to_string()),
            ],
        );
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

/// Why an exchange gave no usable response, in a few words.
pub fn exchange_reason(x: &HttpExchange) -> String {
    let what = match x.outcome {
        HttpOutcome::Ok => "ok",
        HttpOutcome::Timeout => "no response within the timeout",
        HttpOutcome::BodyTimeout => "the body did not finish within the timeout",
        HttpOutcome::HeadersTooLarge => "response headers larger than the cap",
        HttpOutcome::Protocol => "not valid HTTP",
        HttpOutcome::Closed => "connection closed before a response",
        HttpOutcome::NotSent => "not sent",
        HttpOutcome::Error => "error",
    };
    match &x.error {
        Some(e) if !e.is_empty() => format!("{what}: {e}"),
        _ => what.to_owned(),
    }
}

fn fetch_failure_reason(fetch: &HttpFetch) -> String {
    match fetch.last() {
        Some(hop) if hop.exchange.outcome != HttpOutcome::Ok => exchange_reason(&hop.exchange),
        _ => fetch.error.clone().unwrap_or_else(|| "failed".to_owned()),
    }
}

fn host_of_url(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// The first hop whose next host has no AAAA: where the chain leaves IPv6.
fn left_at(fetch: &HttpFetch) -> Option<String> {
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

fn resolve_location(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| location.to_owned())
}

fn web_v6_http(obs: &Observation) -> Outcome {
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
            vec![("url", last_url), ("reason", fetch_failure_reason(fetch))],
        ),
    }
}

/// The requests over IPv6 that got no response before a second try did:
/// the first exchange on the URL's port (over its endpoint's connection)
/// and each later hop of the chain.
fn http_retries(obs: &Observation, fetch: &HttpFetch) -> Option<Vec<(&'static str, String)>> {
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
fn v6_on_url_port(obs: &Observation) -> Vec<&Endpoint> {
    let url_port = url::Url::parse(&obs.url)
        .ok()
        .and_then(|u| u.port_or_known_default());
    v6_endpoints(obs)
        .filter(|e| Some(e.port) == url_port)
        .collect()
}

/// Endpoints of which none could be tried (the agent's budget or sockets).
fn none_tried(eps: &[&Endpoint]) -> bool {
    !eps.is_empty()
        && eps
            .iter()
            .all(|e| matches!(e.tcp.outcome, TcpOutcome::NotTried | TcpOutcome::LocalError))
}

fn open_ports(obs: &Observation, family: Family) -> BTreeSet<u16> {
    obs.endpoints
        .iter()
        .filter(|e| e.family == family && e.tcp.outcome == TcpOutcome::Connected)
        .map(|e| e.port)
        .collect()
}

fn ports_text(ports: &BTreeSet<u16>) -> String {
    if ports.is_empty() {
        "none".to_owned()
    } else {
        join(ports)
    }
}

fn web_parity(obs: &Observation, params: &Params) -> Outcome {
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
                    ("reason", fetch_failure_reason(v6)),
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
                    ("reason", fetch_failure_reason(v4)),
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

fn web_redirects_v6(obs: &Observation) -> Outcome {
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

fn tls_reason(e: &Endpoint) -> String {
    let Some(tls) = &e.tls else {
        return format!("no TCP connection ({})", tcp_reason(e));
    };
    let what = match tls.outcome {
        TlsOutcome::Ok => "ok",
        TlsOutcome::Timeout => "handshake timeout",
        TlsOutcome::Alert => "alert",
        TlsOutcome::ProtocolVersion => "no TLS 1.2 or newer",
        TlsOutcome::Closed => "closed during handshake",
        TlsOutcome::Error => "error",
    };
    match &tls.error {
        Some(err) if !err.is_empty() => format!("{what} ({err})"),
        _ => what.to_owned(),
    }
}

fn tls_v6_handshake(obs: &Observation) -> Outcome {
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
    let failed: Vec<_> = eps
        .iter()
        .filter(|e| match e.tcp.outcome {
            TcpOutcome::Connected => e.tls.as_ref().is_none_or(|t| t.outcome != TlsOutcome::Ok),
            TcpOutcome::NotTried | TcpOutcome::LocalError => false,
            _ => true,
        })
        .map(|e| format!("{} {}", endpoint_label(e), tls_reason(e)))
        .collect();
    if !failed.is_empty() {
        return out(
            Status::Fail,
            "failed",
            vec![
                ("failures", failed.join(", ")),
                ("count", failed.len().to_string()),
                ("total", eps.len().to_string()),
            ],
        );
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

fn chain_problem(status: ChainStatus) -> &'static str {
    match status {
        ChainStatus::Valid => "valid",
        ChainStatus::Expired => "expired",
        ChainStatus::NotYetValid => "not yet valid",
        ChainStatus::NameMismatch => "name mismatch",
        ChainStatus::UnknownIssuer => "unknown issuer",
        ChainStatus::Revoked => "revoked",
        ChainStatus::Invalid => "invalid",
    }
}

fn handshaken(obs: &Observation, family: Family) -> Vec<&Endpoint> {
    obs.endpoints
        .iter()
        .filter(|e| {
            e.family == family && e.tls.as_ref().is_some_and(|t| t.outcome == TlsOutcome::Ok)
        })
        .collect()
}

fn tls_v6_cert(obs: &Observation, params: &Params) -> Outcome {
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
                    ChainStatus::Expired => p.push_str(&format!(" on {}", cert.not_after.date())),
                    ChainStatus::NameMismatch => {
                        p.push_str(&format!(" (valid for {})", cert.sans.join(", ")))
                    }
                    ChainStatus::UnknownIssuer => p.push_str(&format!(" ({})", cert.issuer)),
                    _ => {}
                }
                if chain.status != ChainStatus::NameMismatch && chain.name_matches == Some(false) {
                    p.push_str(&format!(
                        ", and name mismatch (valid for {})",
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

fn certs_of(eps: &[&Endpoint]) -> BTreeSet<String> {
    eps.iter()
        .filter_map(|e| {
            e.tls
                .as_ref()
                .and_then(|t| t.certificate.as_ref())
                .map(|c| c.sha256.clone())
        })
        .collect()
}

fn versions_of(eps: &[&Endpoint]) -> BTreeSet<String> {
    eps.iter()
        .filter_map(|e| e.tls.as_ref().and_then(|t| t.version.clone()))
        .collect()
}

fn short_certs(certs: &BTreeSet<String>) -> String {
    join(
        certs
            .iter()
            .map(|c| format!("sha256:{}", &c[..c.len().min(16)])),
    )
}

fn tls_parity(obs: &Observation) -> Outcome {
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

/// ICMPv6 echo: information only, since a portal may block ping and serve
/// the web perfectly well.
fn net_icmpv6_echo(obs: &Observation) -> Outcome {
    let Some(probes) = &obs.icmpv6 else {
        return out(Status::Skip, "not_sent", vec![]);
    };
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    // An IPv4-mapped AAAA is not an IPv6 destination (dns.aaaa-global says so).
    let mapped = |a: &IpAddr| matches!(a, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    if obs.dns.aaaa.addrs.iter().all(mapped) {
        return out(
            Status::Skip,
            "not_ipv6",
            vec![("addrs", join(&obs.dns.aaaa.addrs))],
        );
    }
    let probes: Vec<&EchoProbe> = probes.iter().filter(|p| !mapped(&p.addr)).collect();
    if !obs.vantage.ipv6 || probes.iter().any(|p| p.outcome == EchoOutcome::NoVantage) {
        return out(Status::Error, "no_vantage", vec![]);
    }
    if probes
        .iter()
        .any(|p| p.outcome == EchoOutcome::NoPermission)
    {
        return out(Status::Error, "no_permission", vec![]);
    }
    let answering: Vec<&EchoProbe> = probes
        .iter()
        .copied()
        .filter(|p| p.outcome == EchoOutcome::Reply)
        .collect();
    let silent: Vec<String> = probes
        .iter()
        .filter(|p| p.outcome == EchoOutcome::NoReply)
        .map(|p| p.addr.to_string())
        .collect();
    let reply = |p: &EchoProbe| {
        let rtt = p
            .rtt_ms
            .map_or_else(String::new, |r| format!(" in {r:.1} ms"));
        let hops = p
            .hop_limit
            .map_or_else(String::new, |h| format!(" (hop limit {h})"));
        format!("{}{rtt}{hops}", p.addr)
    };
    match (answering.is_empty(), silent.is_empty()) {
        (true, true) => out(
            Status::Error,
            "failed",
            vec![(
                "reason",
                probes
                    .iter()
                    .find_map(|p| p.error.clone())
                    .unwrap_or_else(|| "no echo request was sent".to_owned()),
            )],
        ),
        (false, true) => out(
            Status::Pass,
            "answers",
            vec![
                ("count", answering.len().to_string()),
                ("replies", join(answering.iter().map(|p| reply(p)))),
            ],
        ),
        (true, false) => out(Status::Info, "silent", vec![("addrs", silent.join(", "))]),
        (false, false) => out(
            Status::Info,
            "partly",
            vec![
                ("answering", join(answering.iter().map(|p| reply(p)))),
                ("silent", silent.join(", ")),
            ],
        ),
    }
}

fn tcp_failure(p: &TcpProbe) -> String {
    match (&p.outcome, &p.error) {
        (TcpOutcome::Timeout, _) => format!("no answer in {} ms", p.ms),
        (_, Some(e)) => e.clone(),
        (o, None) => format!("{o:?}").to_lowercase(),
    }
}

/// IPv6 against IPv4 connect times (medians of a few connects to one address
/// each): a warning when IPv6 is markedly slower, a failure when IPv6 times
/// out where IPv4 connects, which Happy Eyeballs hides behind a fallback delay.
fn net_v6_latency(obs: &Observation, params: &Params) -> Outcome {
    let Some(latency) = &obs.latency else {
        return out(Status::Skip, "not_checked", vec![]);
    };
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    if !obs.vantage.ipv6 {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let Some(v4) = &latency.ipv4 else {
        return out(Status::Skip, "no_ipv4", vec![]);
    };
    let Some(v6) = &latency.ipv6 else {
        return out(Status::Error, "no_vantage", vec![]);
    };
    let label = |p: &LatencyProbe| std::net::SocketAddr::new(p.addr, p.port).to_string();
    let Some(v4_ms) = v4.median_ms() else {
        return out(
            Status::Skip,
            "v4_fails",
            vec![
                ("ipv4", label(v4)),
                ("reason", v4.failure().map(tcp_failure).unwrap_or_default()),
            ],
        );
    };
    if let Some(f) = v6.failure() {
        return if f.outcome == TcpOutcome::Timeout {
            out(
                Status::Fail,
                "v6_times_out",
                vec![
                    ("ipv6", label(v6)),
                    ("ipv4", label(v4)),
                    ("v4_ms", v4_ms.to_string()),
                ],
            )
        } else {
            out(
                Status::Skip,
                "v6_fails",
                vec![("ipv6", label(v6)), ("reason", tcp_failure(f))],
            )
        };
    }
    let Some(v6_ms) = v6.median_ms() else {
        return out(Status::Skip, "not_checked", vec![]);
    };
    let slower = v6_ms as f64 > v4_ms as f64 * params.slower_ratio
        && v6_ms.saturating_sub(v4_ms) > u64::from(params.slower_extra_ms);
    if slower {
        let ratio = v6_ms as f64 / (v4_ms.max(1)) as f64;
        out(
            Status::Warn,
            "slower",
            vec![
                ("v6_ms", v6_ms.to_string()),
                ("v4_ms", v4_ms.to_string()),
                ("ratio", format!("{ratio:.1}")),
                ("ipv6", label(v6)),
                ("ipv4", label(v4)),
            ],
        )
    } else {
        out(
            Status::Pass,
            "similar",
            vec![("v6_ms", v6_ms.to_string()), ("v4_ms", v4_ms.to_string())],
        )
    }
}

/// What an IPv6-only visitor's browser meets: every other host the page
/// fetched over IPv6 loads scripts, styles, images, frames, fonts or forms
/// from must have AAAA and accept a connection over IPv6.
fn web_subresources_v6(obs: &Observation) -> Outcome {
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
                TcpOutcome::Timeout => "no answer over IPv6".to_owned(),
                _ => format!(
                    "IPv6 connection {}",
                    t.error.clone().unwrap_or_else(|| "failed".to_owned())
                ),
            },
            (None, DnsOutcome::NxDomain) => "NXDOMAIN".to_owned(),
            (None, o) if o.is_definite() => "no AAAA".to_owned(),
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

/// Mail over IPv6: each mail server with AAAA greets and answers EHLO over
/// IPv6; a warning when it offers no STARTTLS there, or names another host
/// than over IPv4.
fn mail_v6_smtp(obs: &Observation) -> Outcome {
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
    let label =
        |p: &SmtpProbe| format!("{} ({})", p.host, std::net::SocketAddr::new(p.addr, p.port));
    let failed: Vec<&&SmtpProbe> = v6.iter().filter(|p| p.outcome != SmtpOutcome::Ok).collect();
    if !failed.is_empty() {
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
                vec![("servers", join(failed.iter().map(|p| label(p))))],
            );
        }
        let describe = |p: &SmtpProbe| {
            let why = match p.outcome {
                SmtpOutcome::Timeout => "no answer".to_owned(),
                SmtpOutcome::Refused => "refused".to_owned(),
                SmtpOutcome::NoGreeting => "no 220 greeting".to_owned(),
                SmtpOutcome::EhloRefused => "EHLO refused".to_owned(),
                _ => p.error.clone().unwrap_or_else(|| "failed".to_owned()),
            };
            format!("{}: {why}", label(p))
        };
        return out(
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
        );
    }
    let no_tls: Vec<String> = v6
        .iter()
        .filter(|p| !p.starttls)
        .map(|p| label(p))
        .collect();
    if !no_tls.is_empty() {
        return out(
            Status::Warn,
            "no_starttls",
            vec![("servers", no_tls.join(", "))],
        );
    }
    // The same server over both families names itself the same way.
    let differs: Vec<String> = v6
        .iter()
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
        .collect();
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
            ("servers", join(v6.iter().map(|p| label(p)))),
        ],
    )
}

/// DNSSEC: the zone's chain of trust validates from the anchor, and every
/// name server address, over each family, serves the zone's keys and SOA
/// signed with keys the chain names. Unsigned is a warning (Circular
/// 32/2017 asks for DNSSEC), a broken chain a failure (validating resolvers
/// then refuse the portal's names altogether).
fn dns_dnssec(obs: &Observation) -> Outcome {
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
    let label =
        |s: &DnssecServer| format!("{} ({})", s.name, std::net::SocketAddr::new(s.addr, s.port));
    match d.chain {
        DnssecChain::Unknown => {
            return out(
                Status::Error,
                "unknown",
                vec![
                    zone,
                    (
                        "reason",
                        d.error.clone().unwrap_or_else(|| "unknown".to_owned()),
                    ),
                ],
            );
        }
        DnssecChain::Bogus => {
            return out(
                Status::Fail,
                "chain_bogus",
                vec![
                    zone,
                    (
                        "reason",
                        d.error.clone().unwrap_or_else(|| "bogus".to_owned()),
                    ),
                ],
            );
        }
        DnssecChain::Secure | DnssecChain::Insecure => {}
    }
    let asked: Vec<&DnssecServer> = d
        .servers
        .iter()
        .filter(|s| s.served != DnssecServed::NoVantage)
        .collect();
    let answered: Vec<&&DnssecServer> = asked
        .iter()
        .filter(|s| s.served != DnssecServed::NoAnswer)
        .collect();
    if answered.is_empty() {
        return out(
            Status::Error,
            "no_answer",
            vec![
                zone,
                (
                    "servers",
                    join(asked.iter().map(|s| {
                        format!(
                            "{}: {}",
                            label(s),
                            s.error.as_deref().unwrap_or("no answer")
                        )
                    })),
                ),
            ],
        );
    }
    let signed = answered
        .iter()
        .any(|s| matches!(s.served, DnssecServed::Valid | DnssecServed::Bogus));
    if d.chain == DnssecChain::Insecure {
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
        return out(Status::Warn, "unsigned", vec![zone]);
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

/// The name server addresses whose DNSSEC does not validate, each reason said
/// once with the servers (name, address, family) it holds for.
fn bogus_servers(bogus: &[&&&DnssecServer]) -> String {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for s in bogus {
        let why = s.error.as_deref().unwrap_or("does not validate");
        let who = format!(
            "{} {} over {}",
            s.name,
            std::net::SocketAddr::new(s.addr, s.port),
            s.family.label()
        );
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
