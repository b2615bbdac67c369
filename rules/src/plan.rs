//! The migration plan: portals in priority order (broken first, then by
//! weight and distance to stage 3), each with the concrete steps its failing
//! rules call for. The steps are the pack's (one source for every word), with
//! the portal's own host, zone, addresses and names filled in.

use std::collections::HashSet;

use serde::Serialize;
use v6audit_model::{Family, Lang, PortalInfo, PortalResult, Stage, Status, TlsOutcome};

use crate::engine::hosts_leaving_ipv6;
use crate::pack::Pack;
use crate::spec::RuleId;

/// The schema tag of a plan (`--format json`).
pub const PLAN_SCHEMA: &str = "v6audit/plan/v1";

/// The migration plan: what to do, portal by portal, most urgent first.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Always [`PLAN_SCHEMA`].
    pub schema: &'static str,
    /// The language of its texts.
    pub lang: Lang,
    /// The portals with something to do, most urgent first.
    pub items: Vec<PlanItem>,
    /// Portals at their target with nothing failing or warning.
    pub done: Vec<String>,
}

/// One portal with something to do: where it stands, its problems and its steps.
#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    /// 1 for the most urgent.
    pub rank: usize,
    /// The portal, as the inventory describes it.
    pub portal: PortalInfo,
    /// The stage it reached.
    pub stage: Stage,
    /// The stage's stable name, such as `broken`.
    pub stage_name: &'static str,
    /// False when the stage is a floor: an `error` kept the portal from a higher one.
    pub stage_certain: bool,
    /// The stage it should reach: its own `target_stage`, else the plan's `min_stage`.
    pub target: Stage,
    /// Its priority; larger is more urgent.
    pub priority: u32,
    /// Its findings that are `fail`, `warn` or `error`, in rule order.
    pub problems: Vec<Problem>,
    /// The pack's steps for the rules it fails or warns on, in rule order, each step once.
    pub steps: Vec<PlanStep>,
}

/// A finding that calls for work (fail or warn), or a fact to measure again (error).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The rule's id, such as `tls.v6-cert`.
    pub rule: String,
    /// `fail`, `warn` or `error`.
    pub status: Status,
    /// The finding's message.
    pub message: String,
}

/// One step for one portal, its placeholders filled from the portal's observation.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    /// The rule that first called for the step.
    pub rule: String,
    /// What to do, in a line.
    pub title: String,
    /// How to do it.
    pub text: String,
    /// How to check that it worked.
    pub verify: String,
}

/// Values a step may name, from one portal's observation.
// Long because it is a table: each of PLAN_PLACEHOLDERS computed in turn, then listed.
fn vars(r: &PortalResult, lang: Lang) -> Vec<(&'static str, String)> {
    let obs = &r.observation;
    let none = match lang {
        Lang::En => "none",
        Lang::Vi => "không có",
    };
    let or_none = |v: Vec<String>| {
        if v.is_empty() {
            none.to_owned()
        } else {
            v.join(", ")
        }
    };
    let zone = obs.dns.zone.apex.clone().unwrap_or_else(|| match lang {
        Lang::En => format!("<the zone of {}>", obs.host),
        Lang::Vi => format!("<vùng chứa {}>", obs.host),
    });
    let ipv6 = obs
        .dns
        .aaaa
        .addrs
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| {
            match lang {
                Lang::En => "<IPv6 address>",
                Lang::Vi => "<địa chỉ IPv6>",
            }
            .to_owned()
        });
    let tls_port = obs.ports.iter().find(|p| p.tls).map_or(443, |p| p.port);
    // The names the IPv6 certificate must cover: those of the certificate
    // IPv4 serves, else the host itself.
    let cert_names = obs
        .endpoints
        .iter()
        .filter(|e| e.family == Family::V4)
        .filter_map(|e| e.tls.as_ref())
        .filter(|t| t.outcome == TlsOutcome::Ok)
        .find_map(|t| t.certificate.as_ref())
        .map(|c| c.sans.join(", "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| obs.host.clone());
    let ns_missing = obs
        .dns
        .zone
        .name_servers
        .iter()
        .filter(|n| n.aaaa.is_empty())
        .map(|n| n.name.clone())
        .collect();
    let mx_missing = obs
        .dns
        .mx
        .exchanges
        .iter()
        .filter(|m| m.aaaa.is_empty() && m.host != ".")
        .map(|m| m.host.clone())
        .collect();
    let redirect_hosts = obs
        .http
        .ipv6
        .as_ref()
        .map(|f| hosts_leaving_ipv6(f).into_iter().collect())
        .unwrap_or_default();
    let subresource_hosts = obs
        .subresources
        .as_ref()
        .map(|s| {
            s.hosts
                .iter()
                .filter(|h| !h.reachable_over_ipv6())
                .map(|h| h.host.clone())
                .collect()
        })
        .unwrap_or_default();
    vec![
        ("host", obs.host.clone()),
        ("zone", zone),
        ("url", obs.url.clone()),
        (
            "ipv4",
            or_none(obs.dns.a.addrs.iter().map(|a| a.to_string()).collect()),
        ),
        ("ipv6", ipv6),
        ("tls_port", tls_port.to_string()),
        ("cert_names", cert_names),
        ("ns_missing", or_none(ns_missing)),
        ("mx_missing", or_none(mx_missing)),
        ("redirect_hosts", or_none(redirect_hosts)),
        ("subresource_hosts", or_none(subresource_hosts)),
    ]
}

/// The plan for judged results. `min_stage` is the target of portals that
/// set none.
pub fn plan(results: &[PortalResult], pack: &Pack, lang: Lang, min_stage: Stage) -> Plan {
    let mut order: Vec<&PortalResult> = results.iter().collect();
    order.sort_by(|a, b| {
        b.verdict
            .priority
            .cmp(&a.verdict.priority)
            .then(a.verdict.stage.cmp(&b.verdict.stage))
            .then(a.portal.id.cmp(&b.portal.id))
    });
    let mut items = Vec::new();
    let mut done = Vec::new();
    for r in order {
        let v = &r.verdict;
        let target = r.portal.target_stage.unwrap_or(min_stage);
        let problems: Vec<Problem> = v
            .findings
            .iter()
            .filter(|f| matches!(f.status, Status::Fail | Status::Warn | Status::Error))
            .map(|f| Problem {
                rule: f.rule.clone(),
                status: f.status,
                message: f.message.clone(),
            })
            .collect();
        if problems.is_empty() && v.stage >= target {
            done.push(r.portal.id.clone());
            continue;
        }
        let values = vars(r, lang);
        let mut seen: HashSet<String> = HashSet::new();
        let mut steps = Vec::new();
        for id in RuleId::ALL {
            let calls = v
                .status(id.as_str())
                .is_some_and(|s| matches!(s, Status::Fail | Status::Warn));
            if !calls {
                continue;
            }
            for step in &pack.rule(id).steps {
                let title = step.title.render(lang, &values);
                if !seen.insert(title.clone()) {
                    continue;
                }
                steps.push(PlanStep {
                    rule: id.as_str().to_owned(),
                    title,
                    text: step.text.render(lang, &values).trim_end().to_owned(),
                    verify: step.verify.render(lang, &values).trim_end().to_owned(),
                });
            }
        }
        items.push(PlanItem {
            rank: items.len() + 1,
            portal: r.portal.clone(),
            stage: v.stage,
            stage_name: v.stage.name(),
            stage_certain: v.stage_certain,
            target,
            priority: v.priority,
            problems,
            steps,
        });
    }
    Plan {
        schema: PLAN_SCHEMA,
        lang,
        items,
        done,
    }
}
