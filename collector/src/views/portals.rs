//! The portals as the API and the dashboard show them: the vantage keys
//! that make agents one vantage, each portal's newest verdict per vantage,
//! the vantages combined, a portal's priority and the fix-first list.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use v6audit_model::{PortalInfo, Stage};
use v6audit_rules::{Pack, PriorityParts};

use super::rfc3339;
use crate::catalog::Catalog;
use crate::store::{Agent, DailyStage, Latest};

/// One vantage's newest verdict of a portal.
#[derive(Debug, Clone, Serialize)]
pub struct VantageView {
    /// The agent that speaks for the vantage: of its agents, the last to measure the portal.
    pub agent: String,
    /// The vantage name on the agent's token, when it has one.
    pub vantage: Option<String>,
    /// The stage (in JSON its number, 0 to 4).
    pub stage: Stage,
    /// The stage's name, like `dual-stack`.
    pub stage_name: &'static str,
    /// False when an `error` kept the portal from a higher stage: the stage is a floor.
    pub stage_certain: bool,
    /// The score, 0 to 100.
    pub score: i64,
    /// When the agent observed the portal (RFC 3339).
    pub observed_at: String,
    /// The stored result's id.
    pub result_id: String,
}

/// All vantages together.
#[derive(Debug, Clone, Serialize)]
pub struct Combined {
    /// The lowest certain stage over vantages: what some citizens meet. None
    /// before any vantage has measured the portal with certainty.
    pub stage: Option<Stage>,
    /// `stage`'s name, like `dual-stack`.
    pub stage_name: Option<&'static str>,
    /// Vantages from which the portal is reachable over IPv6 (stage 2 or more).
    pub reachable_from: usize,
    /// Vantages with a result for the portal.
    pub vantages: usize,
    /// `reachable over IPv6 from N of M vantages`, or `not measured yet` (English).
    pub summary: String,
    /// The fix-first priority at `stage` (an unmeasured portal's as IPv4-only); highest first.
    pub priority: u32,
}

/// A portal with the newest verdict of each vantage.
#[derive(Debug, Clone, Serialize)]
pub struct PortalView {
    /// The portal: the catalog's description, else its agent's.
    #[serde(flatten)]
    pub portal: PortalInfo,
    /// Whether the portal is in the collector's inventories.
    pub in_inventory: bool,
    /// The vantages taken together.
    pub combined: Combined,
    /// The newest verdict of each vantage.
    pub vantages: Vec<VantageView>,
}

/// What makes agents one vantage: the vantage name on their tokens, or,
/// for an agent without one, the agent itself. Agents that share an
/// inventory (`--shard K/N`) from one network are given one vantage name.
pub fn vantage_key(agent: &str, vantage: Option<&str>) -> String {
    match vantage {
        Some(v) => format!("vantage {v}"),
        None => format!("agent {agent}"),
    }
}

/// Each agent's vantage key ([`vantage_key`]); an agent the store does not
/// list is a vantage of its own.
pub fn vantage_keys(agents: &[Agent]) -> HashMap<String, String> {
    agents
        .iter()
        .map(|a| (a.name.clone(), vantage_key(&a.name, a.vantage.as_deref())))
        .collect()
}

/// An agent's vantage key from [`vantage_keys`]; an agent the store does
/// not list is a vantage of its own.
fn key_of(keys: &HashMap<String, String>, agent: &str) -> String {
    keys.get(agent)
        .cloned()
        .unwrap_or_else(|| vantage_key(agent, None))
}

/// The newest row of each portal and vantage: of the agents that share a
/// vantage name, the one that measured the portal last speaks for it (a
/// portal moves between agents when their shards are cut anew).
pub fn one_per_vantage<'a>(rows: &[&'a Latest], keys: &HashMap<String, String>) -> Vec<&'a Latest> {
    let mut newest: BTreeMap<String, &'a Latest> = BTreeMap::new();
    for &l in rows {
        let key = key_of(keys, &l.agent);
        newest
            .entry(key)
            .and_modify(|kept| {
                if (l.observed_ms, &l.result_id) > (kept.observed_ms, &kept.result_id) {
                    *kept = l;
                }
            })
            .or_insert(l);
    }
    newest.into_values().collect()
}

/// The daily stages with each agent replaced by its vantage key, so that
/// agents of one vantage make one series per portal: the newest change
/// among them stands.
pub fn daily_by_vantage(daily: Vec<DailyStage>, keys: &HashMap<String, String>) -> Vec<DailyStage> {
    daily
        .into_iter()
        .map(|mut d| {
            d.agent = key_of(keys, &d.agent);
            d
        })
        .collect()
}

/// Builds the portal views: every inventory portal, and every portal seen
/// in results, with one row per vantage.
pub fn portals(
    catalog: &Catalog,
    latest: &[Latest],
    agents: &[Agent],
    agent_portals: &HashMap<String, PortalInfo>,
    pack: &Pack,
) -> Vec<PortalView> {
    let vantage_of: HashMap<&str, Option<String>> = agents
        .iter()
        .map(|a| (a.name.as_str(), a.vantage.clone()))
        .collect();
    let keys = vantage_keys(agents);
    let mut by_portal: BTreeMap<&str, Vec<&Latest>> = BTreeMap::new();
    for l in latest {
        by_portal.entry(l.portal_id.as_str()).or_default().push(l);
    }
    let ids: BTreeSet<&str> = catalog
        .portals
        .keys()
        .map(String::as_str)
        .chain(by_portal.keys().copied())
        .collect();
    ids.into_iter()
        .filter_map(|id| {
            let portal = catalog.describe(id, agent_portals.get(id))?;
            let rows = one_per_vantage(&by_portal.get(id).cloned().unwrap_or_default(), &keys);
            let vantages: Vec<VantageView> = rows
                .iter()
                .map(|l| VantageView {
                    agent: l.agent.clone(),
                    vantage: vantage_of.get(l.agent.as_str()).cloned().flatten(),
                    stage: l.stage,
                    stage_name: l.stage.name(),
                    stage_certain: l.stage_certain,
                    score: l.score,
                    observed_at: rfc3339(l.observed_ms),
                    result_id: l.result_id.clone(),
                })
                .collect();
            let combined = combine(&portal, &rows, pack);
            Some(PortalView {
                in_inventory: catalog.portals.contains_key(id),
                portal,
                combined,
                vantages,
            })
        })
        .collect()
}

/// The parts of a portal's priority at its combined stage (what the
/// dashboard explains). An unmeasured portal ranks as IPv4-only until
/// measured.
pub fn priority_parts(pack: &Pack, portal: &PortalInfo, stage: Option<Stage>) -> PriorityParts {
    let (stage, certain) = match stage {
        Some(s) => (s, true),
        None => (Stage::Ipv4Only, false),
    };
    v6audit_rules::priority_parts(pack, stage, certain, portal.category, portal.audience)
}

fn combine(portal: &PortalInfo, rows: &[&Latest], pack: &Pack) -> Combined {
    let stage = rows
        .iter()
        .filter(|l| l.stage_certain)
        .map(|l| l.stage)
        .min();
    let reachable_from = rows.iter().filter(|l| l.stage >= Stage::Reachable).count();
    let summary = if rows.is_empty() {
        "not measured yet".to_owned()
    } else {
        format!(
            "reachable over IPv6 from {reachable_from} of {} vantages",
            rows.len()
        )
    };
    let priority = priority_parts(pack, portal, stage).total;
    Combined {
        stage,
        stage_name: stage.map(Stage::name),
        reachable_from,
        vantages: rows.len(),
        summary,
        priority,
    }
}

/// The fix-first list: measured portals below stage 3 and every unmeasured
/// one, most urgent first.
pub fn priorities(views: &[PortalView]) -> Vec<&PortalView> {
    let mut list: Vec<&PortalView> = views
        .iter()
        .filter(|v| v.combined.stage.is_none_or(|s| s < Stage::DualStack))
        .collect();
    list.sort_by(|a, b| {
        b.combined
            .priority
            .cmp(&a.combined.priority)
            .then(a.portal.id.cmp(&b.portal.id))
    });
    list
}
