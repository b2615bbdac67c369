//! The agencies' ranking: the day a year's ranking is taken on, how the
//! readiness index is computed ([`RANKING_METHOD`]), a portal's weight and
//! the agencies ranked.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::Date;
use v6audit_model::{Category, PortalInfo, Stage};
use v6audit_rules::Pack;

use super::progress::{StageCounts, listed_or_measured, stages_by_day};
use crate::catalog::Catalog;
use crate::store::DailyStage;

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
        let ids = listed_or_measured(catalog, &stages);
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
            entry.0 += w * f64::from(stage.map_or(0, Stage::number)) / 4.0;
            entry.1 += w;
            entry.2 += 1;
            match stage {
                Some(s) => *entry.3.stages.entry(s.name()).or_default() += 1,
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
