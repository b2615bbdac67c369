//! Report: the v1 wire format an agent writes (`--format json`) and a collector
//! ingests, with the verdict vocabulary (status, severity, stage) it carries.
//!
//! The field names here are a contract (DESIGN.md): extend them, never rename.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::inventory::{Category, Portal};
use crate::observation::{Observation, Vantage};
pub use crate::stage::Stage;

/// The schema tag of a v1 report.
pub const REPORT_SCHEMA: &str = "v6audit/report/v1";

/// A whole audit run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// A UUID v7 made by the agent for this run.
    pub id: Uuid,
    /// When the agent wrote the report (RFC 3339 on the wire).
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// The agent that wrote it.
    pub agent: AgentInfo,
    /// The inventory audited, when there was a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<String>,
    /// The rule pack that judged the observations.
    pub rules: PackInfo,
    /// One result per portal audited.
    pub results: Vec<PortalResult>,
    /// Totals over `results`.
    pub summary: Summary,
}

/// The agent that wrote a report, and what its network reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent's id (its configured name, or the host name).
    pub id: String,
    /// The v6audit version that produced the report.
    pub version: String,
    /// The families the agent could send over during the run.
    pub vantage: Vantage,
    /// The shard of the inventory this agent audited (`--shard K/N`), when
    /// agents share one inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::Shard>,
}

/// The rule pack a report's observations were judged with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackInfo {
    /// The pack's `name` (`default` for the built-in pack).
    pub name: String,
    /// The pack's `version`, or that of the pack it extends when it sets none.
    pub version: u32,
}

/// One portal's facts and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalResult {
    /// A UUID v7 made by the agent; the collector stores each id once.
    pub id: Uuid,
    /// The portal, as the inventory describes it.
    pub portal: PortalInfo,
    /// What the agent saw, without judgement.
    pub observation: Observation,
    /// What the rule pack made of it.
    pub verdict: Verdict,
}

/// What a report says about the portal itself (from the inventory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalInfo {
    /// The portal's id in the inventory.
    pub id: String,
    /// The URL audited.
    pub url: String,
    /// The portal's name, in the language its users read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The agency that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// Whom it serves.
    pub category: Category,
    /// How many people use it: a weight for priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<u64>,
    /// Its tags; a `www.`/apex counterpart has `counterpart` among them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The stage it should reach, when the inventory sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_stage: Option<Stage>,
}

impl From<&Portal> for PortalInfo {
    fn from(p: &Portal) -> Self {
        Self {
            id: p.id.clone(),
            url: p.url.to_string(),
            name: p.name.clone(),
            agency: p.agency.clone(),
            category: p.category,
            audience: p.audience,
            tags: p.tags.clone(),
            target_stage: p.target_stage,
        }
    }
}

/// The judgement of one observation by a rule pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The migration stage the portal reached.
    pub stage: Stage,
    /// The stage's stable name, such as `dual-stack`.
    pub stage_name: String,
    /// False when a rule that could have lifted the portal to a higher stage
    /// ended in `error` (a fact the agent could not establish), so the stage is
    /// a floor, not a measurement.
    pub stage_certain: bool,
    /// 0..=100, the weighted share of rules that pass.
    pub score: u8,
    /// Larger is more urgent: broken portals first, then by the portal's weight
    /// (category, audience) times its distance to stage 3.
    pub priority: u32,
    /// One finding per rule, in the rule table's order (`dns.aaaa` first).
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// The finding of a rule.
    pub fn finding(&self, rule: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.rule == rule)
    }

    /// The status of a rule, when the pack has it.
    pub fn status(&self, rule: &str) -> Option<Status> {
        self.finding(rule).map(|f| f.status)
    }

    /// The most important finding that is not a pass: the one a table shows.
    pub fn top_finding(&self) -> Option<&Finding> {
        // The first of the most urgent, so rules keep their pack order (the
        // cause, dns before web before tls, comes before its consequences).
        self.findings
            .iter()
            .filter(|f| matches!(f.status, Status::Fail | Status::Warn | Status::Error))
            .fold(None, |best: Option<&Finding>, f| match best {
                Some(b) if (b.status.urgency(), b.severity) >= (f.status.urgency(), f.severity) => {
                    Some(b)
                }
                _ => Some(f),
            })
    }
}

/// The outcome of one rule for one portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's id, such as `dns.aaaa`.
    pub rule: String,
    /// What the rule concluded.
    pub status: Status,
    /// How much the rule matters, from the pack.
    pub severity: Severity,
    /// The rule's outcome key (`rules/src/spec.rs`): what happened, in no
    /// language. Empty in reports written before it was added.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    /// The values the message's placeholders were filled from. A value may
    /// name a word of the pack (`{=tcp.refused}`), said in the reader's
    /// language when the finding is rendered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// The outcome in words, in the report's language.
    pub message: String,
    /// What to do about it; empty for a pass or a skip.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
}

/// A rule's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The rule holds.
    Pass,
    /// The rule does not hold: something on the portal's side to fix.
    Fail,
    /// The rule holds, with something worth fixing; counts half in the score.
    Warn,
    /// Worth knowing, not a fault (ICMPv6 echo unanswered); counts as a pass in the score.
    Info,
    /// The rule does not apply to this portal.
    Skip,
    /// The agent could not establish the fact (for example: no IPv6 at this vantage).
    Error,
}

impl Status {
    /// The status as a report writes it: `pass`, `fail`, `warn`, `info`, `skip`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Skip => "skip",
            Self::Error => "error",
        }
    }

    /// How much a status asks for attention: fail > error > warn > the rest.
    pub fn urgency(self) -> u8 {
        match self {
            Self::Fail => 3,
            Self::Error => 2,
            Self::Warn => 1,
            Self::Pass | Self::Info | Self::Skip => 0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a failing rule matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing only (the default pack's `net.icmpv6-echo`).
    Info,
    /// Minor (the default pack's `dns.mx-aaaa` and `net.v6-latency`).
    Low,
    /// A gap in a migration that works (in the default pack: name servers, DNSSEC,
    /// redirects, sub-resources, TLS parity, mail).
    Medium,
    /// IPv6 users get a wrong address, certificate or site (the default pack's
    /// `dns.aaaa-global`, `tls.v6-cert`, `web.parity`).
    High,
    /// IPv6 users cannot use the portal (the default pack's `dns.aaaa`,
    /// `web.v6-reachable`, `web.v6-http`, `tls.v6-handshake`).
    Critical,
}

impl Severity {
    /// The severity as a report and a pack write it: `info`, `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Why nothing could be measured from a vantage ([`Report::unmeasured`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmeasured {
    /// The machine has no route over either family.
    NoRoute,
    /// The resolver answered no question; `resolver` is `system` or its
    /// address, `detail` the lookup's own error (a library's words).
    ResolverSilent {
        /// `system`, or the resolver's address.
        resolver: String,
        /// The lookup's own error (a library's words), when it gave one.
        detail: Option<String>,
    },
}

impl Unmeasured {
    /// The reason in `lang`, as the clause after "nothing could be measured
    /// from here:".
    pub fn text(&self, lang: crate::Lang) -> String {
        use crate::Lang::{En, Vi};
        match (self, lang) {
            (Self::NoRoute, En) => {
                "this machine has no route to the portals over IPv4 or IPv6".to_owned()
            }
            (Self::NoRoute, Vi) => {
                "máy này không có tuyến tới các cổng qua IPv4 lẫn IPv6".to_owned()
            }
            (Self::ResolverSilent { resolver, detail }, lang) => {
                let who = match (resolver.as_str(), lang) {
                    ("system", En) => "the system's resolver (/etc/resolv.conf)".to_owned(),
                    ("system", Vi) => "máy phân giải của hệ thống (/etc/resolv.conf)".to_owned(),
                    (other, En) => format!("the resolver {other}"),
                    (other, Vi) => format!("máy phân giải {other}"),
                };
                let why = match (detail, lang) {
                    (Some(d), _) => d.clone(),
                    (None, En) => "no answer".to_owned(),
                    (None, Vi) => "không trả lời".to_owned(),
                };
                match lang {
                    En => format!("{who} did not answer ({why})"),
                    Vi => format!("{who} không trả lời ({why})"),
                }
            }
        }
    }
}

/// Totals over a report's results.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Results in the report.
    pub portals: usize,
    /// Portals per stage name, every stage present.
    pub stages: BTreeMap<String, usize>,
    /// Findings per status over all portals.
    pub statuses: BTreeMap<String, usize>,
    /// Mean score over the portals, rounded.
    pub mean_score: u8,
    /// Portals whose stage is a floor because a fact could not be established.
    pub uncertain: usize,
    /// How long the run took, in ms.
    pub duration_ms: u64,
}

impl Report {
    /// Why nothing could be measured from this vantage, when that is so:
    /// the machine has no route of either family, or no portal's address
    /// lookup got an answer (the resolver is silent, unreachable or
    /// refuses). Every fact of such a run is unknown, not a fact about the
    /// portals, and outputs say so first.
    pub fn unmeasured(&self) -> Option<Unmeasured> {
        let mut tally = Tally::default();
        for r in &self.results {
            tally.add(r);
        }
        tally.unmeasured(self.agent.vantage)
    }
}

impl PortalResult {
    /// Whether the resolver answered this portal's address lookups (either
    /// family): when no result of a run has, nothing was measured
    /// ([`Report::unmeasured`]). SERVFAIL and REFUSED are answers (a broken
    /// zone, a picky resolver); only silence and failures to ask are not.
    pub fn lookup_answered(&self) -> bool {
        let unanswered = |l: &crate::AddressLookup| {
            matches!(
                l.outcome,
                crate::DnsOutcome::Timeout | crate::DnsOutcome::Error | crate::DnsOutcome::NotAsked
            ) && l.cname_chain.is_empty()
        };
        let dns = &self.observation.dns;
        !(unanswered(&dns.a) && unanswered(&dns.aaaa))
    }
}

/// One more of `key`; a key is allocated once, not for every result that
/// passes (the tally is on every streamed run's path).
fn count(counts: &mut BTreeMap<String, usize>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// A report's totals counted as results pass, so that a run that streams its
/// results (JSON lines, pushed parts, the daemon's spool) needs not keep
/// them: [`Summary`] and [`Report::unmeasured`] come from one of these.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    portals: usize,
    stages: BTreeMap<String, usize>,
    statuses: BTreeMap<String, usize>,
    score_sum: u64,
    uncertain: usize,
    /// A result whose address lookups got an answer has been counted.
    answered: bool,
    /// The first result's resolver and AAAA lookup error.
    first_lookup: Option<(String, Option<String>)>,
}

impl Tally {
    /// Counts one result.
    pub fn add(&mut self, r: &PortalResult) {
        self.portals += 1;
        count(&mut self.stages, r.verdict.stage.name());
        for f in &r.verdict.findings {
            count(&mut self.statuses, f.status.as_str());
        }
        self.score_sum += u64::from(r.verdict.score);
        if !r.verdict.stage_certain {
            self.uncertain += 1;
        }
        if r.lookup_answered() {
            self.answered = true;
        }
        let dns = &r.observation.dns;
        if self.first_lookup.is_none() {
            self.first_lookup = Some((
                dns.resolver.clone(),
                dns.aaaa.error.clone().filter(|e| !e.is_empty()),
            ));
        }
    }

    /// Results counted so far.
    pub fn portals(&self) -> usize {
        self.portals
    }

    /// The totals, for a run that took `duration_ms`.
    pub fn summary(&self, duration_ms: u64) -> Summary {
        let mut stages: BTreeMap<String, usize> = Stage::ALL
            .iter()
            .map(|s| (s.name().to_owned(), 0))
            .collect();
        for (k, n) in &self.stages {
            *stages.entry(k.clone()).or_default() += n;
        }
        let mean_score = match self.portals as u64 {
            0 => 0,
            n => u8::try_from((self.score_sum + n / 2) / n).unwrap_or(100),
        };
        Summary {
            portals: self.portals,
            stages,
            statuses: self.statuses.clone(),
            mean_score,
            uncertain: self.uncertain,
            duration_ms,
        }
    }

    /// Why nothing could be measured from a vantage, when that is so: the
    /// machine has no route of either family, or no counted result's
    /// address lookup got an answer (the resolver is silent, unreachable or
    /// refuses). Every fact of such a run is unknown, not a fact about the
    /// portals, and outputs say so first. None when nothing was counted.
    pub fn unmeasured(&self, vantage: Vantage) -> Option<Unmeasured> {
        let (resolver, detail) = self.first_lookup.clone()?;
        if !vantage.ipv4 && !vantage.ipv6 {
            return Some(Unmeasured::NoRoute);
        }
        if self.answered {
            return None;
        }
        Some(Unmeasured::ResolverSilent { resolver, detail })
    }
}

impl Summary {
    /// Totals over the given results.
    pub fn of(results: &[PortalResult], duration_ms: u64) -> Self {
        let mut tally = Tally::default();
        for r in results {
            tally.add(r);
        }
        tally.summary(duration_ms)
    }

    /// Portals at a stage.
    pub fn at(&self, stage: Stage) -> usize {
        self.stages.get(stage.name()).copied().unwrap_or(0)
    }
}
