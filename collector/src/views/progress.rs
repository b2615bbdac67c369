//! Progress over time: days since the epoch and back, counts per stage,
//! each portal's stage day by day, and the `/progress` series per group.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use v6audit_model::{PortalInfo, Stage};

use crate::catalog::Catalog;
use crate::store::DailyStage;

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
    pub(super) fn new() -> Self {
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
) -> BTreeMap<String, Vec<Option<Stage>>> {
    let mut by_pa: BTreeMap<(&str, &str), Vec<&DailyStage>> = BTreeMap::new();
    for d in daily {
        by_pa
            .entry((d.portal_id.as_str(), d.agent.as_str()))
            .or_default()
            .push(d);
    }
    let days = usize::try_from(to_day - from_day + 1).unwrap_or(0);
    let mut out: BTreeMap<String, Vec<Option<Stage>>> = BTreeMap::new();
    for ((portal, _), mut rows) in by_pa {
        rows.sort_by_key(|d| d.day);
        let series = out
            .entry(portal.to_owned())
            .or_insert_with(|| vec![None; days]);
        let mut i = 0;
        let mut current: Option<Stage> = None;
        for (k, slot) in series.iter_mut().enumerate() {
            let day = from_day + k as i64;
            while i < rows.len() && rows[i].day <= day {
                current = Some(rows[i].stage);
                i += 1;
            }
            if let Some(s) = current {
                *slot = Some(slot.map_or(s, |prev: Stage| prev.min(s)));
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
    let ids = listed_or_measured(catalog, &stages);
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
                    Some(s) => *c.stages.entry(s.name()).or_default() += 1,
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

/// The ids of the portals the catalog lists or `stages` measured, each once,
/// in order.
pub(super) fn listed_or_measured<'a>(
    catalog: &'a Catalog,
    stages: &'a BTreeMap<String, Vec<Option<Stage>>>,
) -> BTreeSet<&'a str> {
    catalog
        .portals
        .keys()
        .map(String::as_str)
        .chain(stages.keys().map(String::as_str))
        .collect()
}
