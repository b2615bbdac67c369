//! What the API answers, computed from the newest results, the daily stages
//! and the catalog: portals with a combined view over vantages, the fix-first
//! list, progress over time, the agencies' ranking and campaigns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use v6audit_model::{Category, PortalInfo, Stage};
use v6audit_rules::{Pack, PriorityParts};

use crate::catalog::Catalog;
use crate::store::{Agent, DailyStage, Latest};

/// A stage as the store keeps it (a number), if it is one.
pub fn stored_stage(n: i64) -> Option<Stage> {
    u8::try_from(n).ok().and_then(|n| Stage::try_from(n).ok())
}

/// A stage number as a name (`reachable`; `unknown` for a number that is no stage).
pub fn stage_name(n: i64) -> &'static str {
    stored_stage(n).map_or("unknown", Stage::name)
}

fn stage_of(n: i64) -> Stage {
    stored_stage(n).unwrap_or(Stage::Ipv4Only)
}

/// RFC 3339 of a time in milliseconds.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// One vantage's newest verdict of a portal.
#[derive(Debug, Clone, Serialize)]
pub struct VantageView {
    /// The agent that speaks for the vantage: of its agents, the last to measure the portal.
    pub agent: String,
    /// The vantage name on the agent's token, when it has one.
    pub vantage: Option<String>,
    /// The stage, 0 to 4.
    pub stage: i64,
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
    pub stage: Option<i64>,
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
                    stage: i64::from(l.stage.number()),
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
pub fn priority_parts(pack: &Pack, portal: &PortalInfo, stage: Option<i64>) -> PriorityParts {
    let (stage, certain) = match stage {
        Some(s) => (stage_of(s), true),
        None => (Stage::Ipv4Only, false),
    };
    v6audit_rules::priority_parts(pack, stage, certain, portal.category, portal.audience)
}

fn combine(portal: &PortalInfo, rows: &[&Latest], pack: &Pack) -> Combined {
    let certain: Vec<i64> = rows
        .iter()
        .filter(|l| l.stage_certain)
        .map(|l| i64::from(l.stage.number()))
        .collect();
    let stage = certain.iter().copied().min();
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
        stage_name: stage.map(stage_name),
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
        .filter(|v| v.combined.stage.is_none_or(|s| s < 3))
        .collect();
    list.sort_by(|a, b| {
        b.combined
            .priority
            .cmp(&a.combined.priority)
            .then(a.portal.id.cmp(&b.portal.id))
    });
    list
}

/// Days since the epoch, and back.
pub fn day_of_date(d: Date) -> i64 {
    i64::from(d.to_julian_day())
        - i64::from(Date::from_julian_day(2_440_588).map_or(0, |e| e.to_julian_day()))
}

/// The date `day` days after 1970-01-01 (the epoch itself when out of range).
pub fn date_of_day(day: i64) -> Date {
    let epoch = Date::from_julian_day(2_440_588).unwrap_or(Date::MIN);
    epoch.checked_add(Duration::days(day)).unwrap_or(epoch)
}

/// Today in the collector's zone.
pub fn today(offset: UtcOffset) -> Date {
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// Counts per stage name, every stage present, plus portals not measured yet.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageCounts {
    /// Portals at each stage, by stage name.
    #[serde(flatten)]
    pub stages: BTreeMap<&'static str, usize>,
    /// Portals without a stage yet.
    pub unmeasured: usize,
}

impl StageCounts {
    fn new() -> Self {
        Self {
            stages: Stage::ALL.iter().map(|s| (s.name(), 0)).collect(),
            unmeasured: 0,
        }
    }
}

/// One day of a progress series.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressPoint {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Portals at each stage on that day.
    pub stages: StageCounts,
}

/// One group's portals at each stage, day by day.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressSeries {
    /// The group: `all`, an agency, a category or a tag (`(no agency)`, `(no tag)` for none).
    pub key: String,
    /// One point per day of the range, oldest first.
    pub points: Vec<ProgressPoint>,
}

/// A portal's stage on each day: per agent the last stage known by then
/// (carried forward), over agents the lowest.
pub fn stages_by_day(
    daily: &[DailyStage],
    from_day: i64,
    to_day: i64,
) -> BTreeMap<String, Vec<Option<i64>>> {
    let mut by_pa: BTreeMap<(&str, &str), Vec<&DailyStage>> = BTreeMap::new();
    for d in daily {
        by_pa
            .entry((d.portal_id.as_str(), d.agent.as_str()))
            .or_default()
            .push(d);
    }
    let days = usize::try_from(to_day - from_day + 1).unwrap_or(0);
    let mut out: BTreeMap<String, Vec<Option<i64>>> = BTreeMap::new();
    for ((portal, _), mut rows) in by_pa {
        rows.sort_by_key(|d| d.day);
        let series = out
            .entry(portal.to_owned())
            .or_insert_with(|| vec![None; days]);
        let mut i = 0;
        let mut current: Option<i64> = None;
        for (k, slot) in series.iter_mut().enumerate() {
            let day = from_day + k as i64;
            while i < rows.len() && rows[i].day <= day {
                current = Some(i64::from(rows[i].stage.number()));
                i += 1;
            }
            if let Some(s) = current {
                *slot = Some(slot.map_or(s, |prev: i64| prev.min(s)));
            }
        }
    }
    out
}

/// Grouping of `/progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// One series of every portal, keyed `all`.
    All,
    /// A series per agency.
    Agency,
    /// A series per category.
    Category,
    /// A series per tag; a portal with several tags counts in each.
    Tag,
}

/// How many portals stood at each stage, day by day, per group.
pub fn progress(
    catalog: &Catalog,
    agent_portals: &HashMap<String, PortalInfo>,
    daily: &[DailyStage],
    from: Date,
    to: Date,
    group: Group,
) -> Vec<ProgressSeries> {
    let (from_day, to_day) = (day_of_date(from), day_of_date(to));
    let stages = stages_by_day(daily, from_day, to_day);
    let days = usize::try_from(to_day - from_day + 1).unwrap_or(0);
    let ids: BTreeSet<&str> = catalog
        .portals
        .keys()
        .map(String::as_str)
        .chain(stages.keys().map(String::as_str))
        .collect();
    let mut series: BTreeMap<String, Vec<StageCounts>> = BTreeMap::new();
    for id in ids {
        let Some(info) = catalog.describe(id, agent_portals.get(id)) else {
            continue;
        };
        let keys: Vec<String> = match group {
            Group::All => vec!["all".to_owned()],
            Group::Agency => vec![
                info.agency
                    .clone()
                    .unwrap_or_else(|| "(no agency)".to_owned()),
            ],
            Group::Category => vec![info.category.as_str().to_owned()],
            Group::Tag if info.tags.is_empty() => vec!["(no tag)".to_owned()],
            Group::Tag => info.tags.clone(),
        };
        for key in keys {
            let counts = series
                .entry(key)
                .or_insert_with(|| vec![StageCounts::new(); days]);
            for (k, c) in counts.iter_mut().enumerate() {
                match stages.get(id).and_then(|s| s[k]) {
                    Some(s) => *c.stages.entry(stage_name(s)).or_default() += 1,
                    None => c.unmeasured += 1,
                }
            }
        }
    }
    series
        .into_iter()
        .map(|(key, counts)| ProgressSeries {
            key,
            points: counts
                .into_iter()
                .enumerate()
                .map(|(k, stages)| ProgressPoint {
                    date: date_of_day(from_day + k as i64).to_string(),
                    stages,
                })
                .collect(),
        })
        .collect()
}

/// The day a year's ranking is taken on: its last day, or today for the
/// current year (and later ones); None for a year the calendar lacks.
pub fn ranking_end(today: Date, year: i32) -> Option<Date> {
    if year >= today.year() {
        Some(today)
    } else {
        Date::from_calendar_date(year, time::Month::December, 31).ok()
    }
}

/// How the ranking is computed, for the API's answer and the dashboard.
pub const RANKING_METHOD: &str = "Readiness index of an agency = sum over its portals of weight x stage / 4, divided by \
the sum of the weights, x 100. A portal's stage is its lowest stage over vantages on the last day of the year (today \
for the current year); a portal not measured by then counts as stage 0. Its weight is the rule pack's priority weight: \
category (citizen 4, business 3, information 2, internal 1) x (1 + 0.1 x log10(audience)). Ties are ordered by name.";

/// An agency's place in the ranking of a day.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyRank {
    /// 1 for the most ready.
    pub rank: usize,
    /// The agency's name; `(no agency)` for the portals without one.
    pub agency: String,
    /// The readiness index, 0 to 100 to one decimal ([`RANKING_METHOD`]).
    pub index: f64,
    /// Its portals, measured or not.
    pub portals: usize,
    /// Its portals at each stage on the day.
    pub stages: StageCounts,
    /// The index a year earlier, for the trend.
    pub previous_index: Option<f64>,
}

fn weight(pack: &Pack, category: Category, audience: Option<u64>) -> f64 {
    let p = &pack.priority;
    let cat = p.category.get(&category).copied().unwrap_or(1.0);
    let decades = audience.map_or(0.0, |a| (a.max(1) as f64).log10());
    cat * (1.0 + p.audience_per_decade * decades)
}

/// Agencies ranked by readiness on `day`.
pub fn ranking(
    catalog: &Catalog,
    agent_portals: &HashMap<String, PortalInfo>,
    daily: &[DailyStage],
    day: i64,
    pack: &Pack,
) -> Vec<AgencyRank> {
    let index_on = |day: i64| -> BTreeMap<String, (f64, f64, usize, StageCounts)> {
        let stages = stages_by_day(daily, day, day);
        let ids: BTreeSet<&str> = catalog
            .portals
            .keys()
            .map(String::as_str)
            .chain(stages.keys().map(String::as_str))
            .collect();
        let mut agencies: BTreeMap<String, (f64, f64, usize, StageCounts)> = BTreeMap::new();
        for id in ids {
            let Some(info) = catalog.describe(id, agent_portals.get(id)) else {
                continue;
            };
            let agency = info
                .agency
                .clone()
                .unwrap_or_else(|| "(no agency)".to_owned());
            let w = weight(pack, info.category, info.audience);
            let entry = agencies
                .entry(agency)
                .or_insert_with(|| (0.0, 0.0, 0, StageCounts::new()));
            let stage = stages.get(id).and_then(|s| s[0]);
            entry.0 += w * stage.unwrap_or(0) as f64 / 4.0;
            entry.1 += w;
            entry.2 += 1;
            match stage {
                Some(s) => *entry.3.stages.entry(stage_name(s)).or_default() += 1,
                None => entry.3.unmeasured += 1,
            }
        }
        agencies
    };
    let now = index_on(day);
    let before = index_on(day - 365);
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let mut list: Vec<AgencyRank> = now
        .into_iter()
        .map(|(agency, (sum, weights, portals, stages))| {
            let previous_index = before
                .get(&agency)
                .filter(|b| b.3.unmeasured < b.2)
                .map(|b| round(100.0 * b.0 / b.1.max(f64::MIN_POSITIVE)));
            AgencyRank {
                rank: 0,
                index: round(100.0 * sum / weights.max(f64::MIN_POSITIVE)),
                agency,
                portals,
                stages,
                previous_index,
            }
        })
        .collect();
    list.sort_by(|a, b| b.index.total_cmp(&a.index).then(a.agency.cmp(&b.agency)));
    for (i, r) in list.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    list
}

/// A campaign's progress today, against its deadline.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    /// The campaign's id in its inventory.
    pub id: String,
    /// Its name, when the inventory gives one.
    pub name: Option<String>,
    /// The stage every selected portal must reach, 0 to 4.
    pub target_stage: u8,
    /// That stage's name, like `dual-stack`.
    pub target_stage_name: &'static str,
    /// The day they must reach it by, `YYYY-MM-DD`.
    pub deadline: String,
    /// The catalog's portals the campaign selects.
    pub portals: usize,
    /// Of those, the portals at the target stage or above today.
    pub at_target: usize,
    /// Share at target, 0..=1.
    pub share: f64,
    /// Share per day over the trend window.
    pub trend: Vec<(String, f64)>,
    /// When the share reaches 1 at the recent pace; None when it is not rising.
    pub projected_completion: Option<String>,
    /// Done, or projected to be done by the deadline.
    pub on_track: bool,
    /// Every selected portal is at the target stage (also when it selects none).
    pub done: bool,
}

/// The trend window for projections.
pub const TREND_DAYS: i64 = 30;

/// Each campaign's progress and its projected completion date.
pub fn campaigns(catalog: &Catalog, daily: &[DailyStage], today_day: i64) -> Vec<CampaignView> {
    let from = today_day - TREND_DAYS + 1;
    let stages = stages_by_day(daily, from, today_day);
    let days = usize::try_from(TREND_DAYS).unwrap_or(30);
    catalog
        .campaigns
        .iter()
        .map(|c| {
            let selected: Vec<&str> = catalog
                .portals
                .values()
                .filter(|p| c.select.matches(p))
                .map(|p| p.id.as_str())
                .collect();
            let target = i64::from(c.target_stage.number());
            let share_on = |k: usize| {
                if selected.is_empty() {
                    return 1.0;
                }
                let n = selected
                    .iter()
                    .filter(|id| {
                        stages
                            .get(**id)
                            .and_then(|s| s[k])
                            .is_some_and(|s| s >= target)
                    })
                    .count();
                n as f64 / selected.len() as f64
            };
            let trend: Vec<(String, f64)> = (0..days)
                .map(|k| (date_of_day(from + k as i64).to_string(), share_on(k)))
                .collect();
            let share = trend.last().map_or(0.0, |t| t.1);
            let at_target = (share * selected.len() as f64).round() as usize;
            let deadline_day = day_of_date(c.deadline);
            let projected = project(&trend, today_day);
            CampaignView {
                id: c.id.clone(),
                name: c.name.clone(),
                target_stage: c.target_stage.number(),
                target_stage_name: c.target_stage.name(),
                deadline: c.deadline.to_string(),
                portals: selected.len(),
                at_target,
                share: (share * 1000.0).round() / 1000.0,
                done: share >= 1.0,
                on_track: share >= 1.0 || projected.is_some_and(|d| d <= deadline_day),
                projected_completion: if share >= 1.0 {
                    Some(date_of_day(today_day).to_string())
                } else {
                    projected.map(|d| date_of_day(d).to_string())
                },
                trend,
            }
        })
        .collect()
}

/// The day the share reaches 1 by a least-squares line through the trend,
/// None when it is flat or falling.
fn project(trend: &[(String, f64)], today_day: i64) -> Option<i64> {
    let n = trend.len() as f64;
    if n < 2.0 {
        return None;
    }
    let xs: Vec<f64> = (0..trend.len()).map(|i| i as f64).collect();
    let (mx, my) = (
        xs.iter().sum::<f64>() / n,
        trend.iter().map(|t| t.1).sum::<f64>() / n,
    );
    let sxy: f64 = xs
        .iter()
        .zip(trend)
        .map(|(x, t)| (x - mx) * (t.1 - my))
        .sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let slope = sxy / sxx;
    // A NaN slope (a flat line) is not rising either.
    if slope.is_nan() || slope <= 1e-6 {
        return None;
    }
    let last = trend.last()?.1;
    let days_left = ((1.0 - last) / slope).ceil();
    if days_left > 36_500.0 {
        return None;
    }
    Some(today_day + days_left as i64)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use v6audit_model::Inventory;

    use super::*;

    fn catalog() -> Catalog {
        let text = "schema: v6audit/inventory/v1\nportals:\n\
            - {id: a, url: https://a.gov.vn/, agency: X, category: citizen}\n\
            - {id: b, url: https://b.gov.vn/, agency: X, category: citizen}\n\
            - {id: c, url: https://c.gov.vn/, agency: Y, category: information}\n\
            - {id: d, url: https://d.gov.vn/, agency: Y, category: information}\n\
            campaigns:\n\
            - {id: citizen, target_stage: 3, deadline: 2027-01-31, select: {categories: [citizen]}}\n";
        let inv = Inventory::parse(text, "t").unwrap();
        Catalog {
            portals: inv
                .portals
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect::<BTreeMap<_, _>>(),
            campaigns: inv.campaigns,
            sources: vec![],
        }
    }

    fn row(day: i64, portal: &str, agent: &str, stage: u8) -> DailyStage {
        DailyStage {
            day,
            portal_id: portal.into(),
            agent: agent.into(),
            stage: Stage::try_from(stage).unwrap(),
        }
    }

    #[test]
    fn a_day_takes_each_agents_last_stage_carried_forward_and_the_lowest() {
        let daily = [
            row(10, "a", "hn", 3),
            row(12, "a", "hn", 4),
            row(11, "a", "hcm", 1),
        ];
        let s = stages_by_day(&daily, 10, 13);
        // Day 10: only hn (3). Day 11: hcm says 1. Days 12-13: hn 4, hcm 1 carried.
        assert_eq!(s["a"], vec![Some(3), Some(1), Some(1), Some(1)]);
    }

    #[test]
    fn ranking_weighs_portals_and_counts_unmeasured_as_zero() {
        let pack = Pack::default_pack();
        let daily = [
            row(100, "a", "hn", 4),
            row(100, "b", "hn", 2),
            row(100, "c", "hn", 4),
        ];
        let r = ranking(&catalog(), &HashMap::new(), &daily, 100, &pack);
        // X: citizen weights 4 and 4: (4*4/4 + 4*2/4) / 8 = 0.75. Y: c at 4, d unmeasured: 0.5.
        assert_eq!(
            (r[0].agency.as_str(), r[0].index, r[0].rank),
            ("X", 75.0, 1)
        );
        assert_eq!((r[1].agency.as_str(), r[1].index), ("Y", 50.0));
        assert_eq!(r[1].stages.unmeasured, 1);
    }

    #[test]
    fn a_campaign_projects_its_completion_from_the_trend() {
        let today = day_of_date(Date::from_calendar_date(2026, time::Month::November, 27).unwrap());
        // a reached stage 3 ten days ago; b is still at 2.
        let daily = [
            row(today - 29, "a", "hn", 2),
            row(today - 29, "b", "hn", 2),
            row(today - 10, "a", "hn", 3),
        ];
        let c = &campaigns(&catalog(), &daily, today)[0];
        assert_eq!((c.portals, c.at_target, c.share), (2, 1, 0.5));
        assert!(!c.done);
        // Half the portals in 30 days: the rest in about a month more, before the deadline.
        let projected = Date::parse(
            c.projected_completion.as_deref().unwrap(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap();
        assert!(
            projected > date_of_day(today) && projected < c_deadline(),
            "{projected}"
        );
        assert!(c.on_track);
        // No progress at all: no projection, not on track.
        let flat = [row(today - 29, "a", "hn", 2), row(today - 29, "b", "hn", 2)];
        let c = &campaigns(&catalog(), &flat, today)[0];
        assert_eq!(
            (c.projected_completion.as_deref(), c.on_track),
            (None, false)
        );
    }

    fn c_deadline() -> Date {
        Date::from_calendar_date(2027, time::Month::January, 31).unwrap()
    }
}
