//! The engine: one pure function from an Observation (and the portal's
//! inventory facts) to a Verdict — findings, stage, score and priority.
//!
//! Each rule is a function here that reads facts and returns an outcome key,
//! a status and the values for its message; the words come from the pack.
//! Statuses follow DESIGN.md: `skip` when a rule does not apply, `error` when
//! the agent could not establish the fact (never `fail` for that).

use v6audit_model::{
    Category, DnsOutcome, Endpoint, Finding, Lang, Observation, PortalInfo, Stage, Status, Verdict,
};

use crate::pack::{Pack, Params};
use crate::render;
use crate::spec::RuleId;
use crate::words::{self, word};

mod content;
mod dns;
mod endpoints;
mod mail;
mod net;
mod tls;
mod web;

pub use endpoints::exchange_reason;
pub use web::{fetch_failure_reason, hosts_leaving_ipv6};

/// What a rule concluded, before the pack puts it into words.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The finding's status.
    pub status: Status,
    /// The outcome key (one of the rule's in `spec.rs`), which picks the pack's message.
    pub key: &'static str,
    /// The values of the message's placeholders, by name.
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
        statuses.push((id, outcome.status));
        let values = outcome
            .vars
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        findings.push(Finding {
            rule: id.as_str().to_owned(),
            status: outcome.status,
            severity: pack.rule(id).severity,
            message: render::message(pack, id, outcome.key, &values, lang),
            remediation: render::remediation(pack, id, outcome.status, lang),
            outcome: outcome.key.to_owned(),
            values,
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
        RuleId::DnsAaaa => dns::aaaa(obs),
        RuleId::DnsAaaaGlobal => dns::aaaa_global(obs, portal, params),
        RuleId::DnsNsAaaa => dns::ns_aaaa(obs, params),
        RuleId::DnsNsV6Answers => dns::ns_v6_answers(obs),
        RuleId::DnsMxAaaa => dns::mx_aaaa(obs),
        RuleId::DnsDnssec => dns::dnssec(obs),
        RuleId::WebV6Reachable => web::v6_reachable(obs),
        RuleId::WebV6Http => web::v6_http(obs),
        RuleId::WebParity => content::parity(obs, params),
        RuleId::WebRedirectsV6 => web::redirects_v6(obs),
        RuleId::TlsV6Handshake => tls::v6_handshake(obs),
        RuleId::TlsV6Cert => tls::v6_cert(obs, params),
        RuleId::TlsParity => tls::parity(obs),
        RuleId::NetIcmpv6Echo => net::icmpv6_echo(obs),
        RuleId::NetV6Latency => net::v6_latency(obs, params),
        RuleId::WebSubresourcesV6 => content::subresources_v6(obs),
        RuleId::MailV6Smtp => mail::v6_smtp(obs),
    }
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The members of a set that failed a check, each said, out of how many:
/// what a rule that speaks of "every address" or "every server" reports
/// (`"2 of 3 … : a refused, b timed out"`). Every member counts.
struct Tally {
    failed: Vec<String>,
    total: usize,
}

impl Tally {
    /// Each member `why` says something of, out of all of them.
    fn of<T>(all: &[T], why: impl Fn(&T) -> Option<String>) -> Self {
        Self {
            failed: all.iter().filter_map(why).collect(),
            total: all.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.failed.is_empty()
    }

    /// The values of an outcome that lists them: the list under `list`
    /// (joined with ", "), `count` and `total`.
    fn values(&self, list: &'static str) -> Vec<(&'static str, String)> {
        vec![
            (list, self.failed.join(", ")),
            ("count", self.failed.len().to_string()),
            ("total", self.total.to_string()),
        ]
    }
}

fn endpoint_label(e: &Endpoint) -> String {
    std::net::SocketAddr::new(e.addr, e.port).to_string()
}

/// Why a lookup gave no usable answer: the outcome's word, with the
/// resolver's detail when the outcome alone does not say it.
fn dns_reason(outcome: DnsOutcome, error: Option<&str>) -> String {
    let what = word(words::dns(outcome));
    // These errors say it all ("not contacted: ::1 is a loopback address").
    let whole = matches!(outcome, DnsOutcome::Error | DnsOutcome::NotContacted);
    match error {
        Some(e) if !e.is_empty() && whole => e.to_owned(),
        Some(e) if !e.is_empty() && outcome != DnsOutcome::Timeout => format!("{what} ({e})"),
        _ => what,
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
