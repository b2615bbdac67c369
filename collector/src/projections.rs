//! The projections over history (progress per day, the agencies' ranking,
//! campaigns), computed once and shared by the API and the dashboard, so
//! both answer the same numbers.
//!
//! They read the daily stages from an in-memory index of each portal and
//! agent's stage changes (a year of a stable fleet is millions of daily rows
//! but a few thousand changes), built from the database once, brought up to
//! date after each ingest from the days it touched, and rebuilt on SIGHUP
//! (after a `collector rescore` by another process) and every hour. The
//! projections themselves are cached until the data changes (an ingest, an
//! inventory upload or reload) or for at most a minute, and recomputed in the
//! background half a second after an ingest (one round per burst).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::Date;
use v6audit_model::Stage;

use crate::queries::agent_portals;
use crate::state::AppState;
use crate::store::{DailyStage, Storage};
use crate::views::{self, AgencyRank, CampaignView, Group, ProgressSeries};

/// Days of history the progress projection keeps warm: the overview's and
/// an agency's chart.
pub const CHART_DAYS: i64 = 365;

/// How long a projection is trusted without a known change.
const MAX_AGE: Duration = Duration::from_secs(60);
/// Projections kept at most (distinct ranges asked of the API).
const MAX_ENTRIES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Progress(Date, Date, Group),
    Campaigns(i64),
    Ranking(i64),
}

#[derive(Debug, Clone)]
enum Value {
    Progress(Arc<Vec<ProgressSeries>>),
    Campaigns(Arc<Vec<CampaignView>>),
    Ranking(Arc<Vec<AgencyRank>>),
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    at: Instant,
    value: Value,
}

/// How long the index is trusted before it is read again from the database.
const INDEX_MAX_AGE: Duration = Duration::from_secs(3600);

/// Each portal and agent's stage change points, in day order.
#[derive(Debug, Default)]
struct DailyIndex {
    pairs: BTreeMap<(String, String), Vec<(i64, Stage)>>,
}

impl DailyIndex {
    /// Replaces each listed pair's points from `from_day` on with `rows`
    /// (ordered by pair and day, as `Storage::daily_changes_since` gives them).
    fn apply(&mut self, from_day: i64, rows: Vec<DailyStage>) {
        let mut current: Option<(String, String)> = None;
        for r in rows {
            let key = (r.portal_id, r.agent);
            let points = self.pairs.entry(key.clone()).or_default();
            if current.as_ref() != Some(&key) {
                points.retain(|(d, _)| *d < from_day);
                current = Some(key);
            }
            if points.last().is_none_or(|(_, s)| *s != r.stage) {
                points.push((r.day, r.stage));
            }
        }
    }

    /// The changes from `from` to `to`, and each pair's stage carried into
    /// `from`: what the views carry forward day by day.
    fn range(&self, from: i64, to: i64) -> Vec<DailyStage> {
        let mut out = Vec::new();
        for ((portal, agent), points) in &self.pairs {
            let i = points.partition_point(|(d, _)| *d < from);
            let carried = i.checked_sub(1).map(|k| points[k]);
            for (day, stage) in carried
                .into_iter()
                .chain(points[i..].iter().copied().take_while(|(d, _)| *d <= to))
            {
                out.push(DailyStage {
                    day,
                    portal_id: portal.clone(),
                    agent: agent.clone(),
                    stage,
                });
            }
        }
        out
    }
}

/// The cache of projections.
#[derive(Debug)]
pub struct Projections {
    generation: AtomicU64,
    cache: Mutex<HashMap<Key, Entry>>,
    index: tokio::sync::RwLock<Option<(Instant, DailyIndex)>>,
    warming: AtomicBool,
    again: AtomicBool,
}

impl Default for Projections {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            cache: Mutex::new(HashMap::new()),
            index: tokio::sync::RwLock::new(None),
            warming: AtomicBool::new(false),
            again: AtomicBool::new(false),
        }
    }
}

impl Projections {
    /// Forgets the index too: it is read again from the database when next
    /// needed (after a `collector rescore`, on SIGHUP).
    pub async fn rebuild(&self) {
        *self.index.write().await = None;
        self.invalidate();
    }

    /// The daily stages from `from` to `to` with the stage carried into
    /// `from`, one series per portal and vantage (agents that share a
    /// vantage name are one vantage, [`views::daily_by_vantage`]).
    async fn daily(&self, state: &AppState, from: i64, to: i64) -> Result<Vec<DailyStage>, String> {
        let agents = state.store.agents().await.map_err(|e| e.to_string())?;
        let rows = self.daily_by_agent(state, from, to).await?;
        Ok(views::daily_by_vantage(rows, &views::vantage_keys(&agents)))
    }

    /// The daily stages from `from` to `to` with the stage carried into
    /// `from`, per portal and agent, from the index (built first when needed).
    async fn daily_by_agent(
        &self,
        state: &AppState,
        from: i64,
        to: i64,
    ) -> Result<Vec<DailyStage>, String> {
        {
            let index = self.index.read().await;
            if let Some((built, idx)) = &*index
                && built.elapsed() < INDEX_MAX_AGE
            {
                return Ok(idx.range(from, to));
            }
        }
        let mut index = self.index.write().await;
        if index
            .as_ref()
            .is_none_or(|(built, _)| built.elapsed() >= INDEX_MAX_AGE)
        {
            let t = Instant::now();
            let rows = state
                .store
                .daily_changes_since(i64::MIN)
                .await
                .map_err(|e| e.to_string())?;
            let mut idx = DailyIndex::default();
            idx.apply(i64::MIN, rows);
            tracing::info!(
                pairs = idx.pairs.len(),
                ms = t.elapsed().as_millis() as u64,
                "daily stage index built"
            );
            *index = Some((Instant::now(), idx));
        }
        Ok(index
            .as_ref()
            .map(|(_, i)| i.range(from, to))
            .unwrap_or_default())
    }

    /// Brings the index up to date with the days an ingest touched (from
    /// `from_day` on); an index not built yet is built when next needed.
    async fn catch_up(&self, state: &AppState, from_day: i64) -> Result<(), String> {
        if self.index.read().await.is_none() {
            return Ok(());
        }
        let rows = state
            .store
            .daily_changes_since(from_day)
            .await
            .map_err(|e| e.to_string())?;
        if let Some((_, idx)) = &mut *self.index.write().await {
            idx.apply(from_day, rows);
        }
        Ok(())
    }

    /// Forgets every projection: the data changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn get(&self, key: Key) -> Option<Value> {
        let generation = self.generation.load(Ordering::SeqCst);
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&key)
            .filter(|e| e.generation == generation && e.at.elapsed() < MAX_AGE)
            .map(|e| e.value.clone())
    }

    fn put(&self, key: Key, generation: u64, value: Value) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_ENTRIES && !cache.contains_key(&key) {
            let current = self.generation.load(Ordering::SeqCst);
            cache.retain(|_, e| e.generation == current && e.at.elapsed() < MAX_AGE);
            if cache.len() >= MAX_ENTRIES
                && let Some(oldest) = cache.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| *k)
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(
            key,
            Entry {
                generation,
                at: Instant::now(),
                value,
            },
        );
    }

    /// How many portals stood at each stage, day by day, per group.
    pub async fn progress(
        &self,
        state: &AppState,
        from: Date,
        to: Date,
        group: Group,
    ) -> Result<Arc<Vec<ProgressSeries>>, String> {
        let key = Key::Progress(from, to, group);
        if let Some(Value::Progress(v)) = self.get(key) {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let daily = self
            .daily(state, views::day_of_date(from), views::day_of_date(to))
            .await?;
        let latest = state.store.latest().await.map_err(|e| e.to_string())?;
        let from_agents = agent_portals(state, &latest)
            .await
            .map_err(|e| e.to_string())?;
        let v = Arc::new(views::progress(
            &state.catalog(),
            &from_agents,
            &daily,
            from,
            to,
            group,
        ));
        self.put(key, generation, Value::Progress(v.clone()));
        Ok(v)
    }

    /// Agencies ranked on a day, with the index a year before for the trend.
    pub async fn ranking(
        &self,
        state: &AppState,
        day: i64,
    ) -> Result<Arc<Vec<AgencyRank>>, String> {
        let key = Key::Ranking(day);
        if let Some(Value::Ranking(v)) = self.get(key) {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        // Only the two days compared: each with the stage carried into it.
        let mut daily = self.daily(state, day - 365, day - 365).await?;
        daily.extend(self.daily(state, day, day).await?);
        let latest = state.store.latest().await.map_err(|e| e.to_string())?;
        let from_agents = agent_portals(state, &latest)
            .await
            .map_err(|e| e.to_string())?;
        let v = Arc::new(views::ranking(
            &state.catalog(),
            &from_agents,
            &daily,
            day,
            &state.pack(),
        ));
        self.put(key, generation, Value::Ranking(v.clone()));
        Ok(v)
    }

    /// Each campaign's progress and projected completion, as of a day.
    pub async fn campaigns(
        &self,
        state: &AppState,
        today: i64,
    ) -> Result<Arc<Vec<CampaignView>>, String> {
        let key = Key::Campaigns(today);
        if let Some(Value::Campaigns(v)) = self.get(key) {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let daily = self.daily(state, today - views::TREND_DAYS, today).await?;
        let v = Arc::new(views::campaigns(&state.catalog(), &daily, today));
        self.put(key, generation, Value::Campaigns(v.clone()));
        Ok(v)
    }
}

/// After an ingest that touched days from `from_day` on: brings the index
/// up to date before the agent is answered (what a 200 acknowledged is what
/// the next read shows), then recomputes the overview's projections in the
/// background.
pub async fn ingested(state: &Arc<AppState>, from_day: Option<i64>) {
    let p = &state.projections;
    if let Some(from) = from_day
        && let Err(e) = p.catch_up(state, from).await
    {
        tracing::warn!(error = %e, "daily stage index not updated; rebuilding it");
        p.rebuild().await;
    }
    warm(state.clone());
}

/// How long the background recomputation waits after a change before it
/// starts, so that a burst of reports (agents pushing at once) costs one
/// round, not one per report; a page asked meanwhile computes what it needs.
const WARM_AFTER: Duration = Duration::from_millis(500);

/// Recomputes what the overview shows, in the background, `WARM_AFTER`
/// after a change; changes arriving meanwhile, or during a round, cause one
/// more round, not one each.
pub fn warm(state: Arc<AppState>) {
    let p = &state.projections;
    p.invalidate();
    if p.warming.swap(true, Ordering::SeqCst) {
        p.again.store(true, Ordering::SeqCst);
        return;
    }
    tokio::spawn(async move {
        let p = &state.projections;
        loop {
            // One wait, not one per change: under a steady stream of
            // reports a round still starts every WARM_AFTER or so.
            tokio::time::sleep(WARM_AFTER).await;
            p.again.store(false, Ordering::SeqCst);
            let today = views::today(state.config.utc_offset);
            let day = views::day_of_date(today);
            let from = today - time::Duration::days(CHART_DAYS - 1);
            if let Err(e) = p.progress(&state, from, today, Group::All).await {
                tracing::warn!(error = %e, "progress not precomputed");
            }
            let _ = p.campaigns(&state, day).await;
            let _ = p.ranking(&state, day).await;
            if !p.again.load(Ordering::SeqCst) {
                break;
            }
        }
        p.warming.store(false, Ordering::SeqCst);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: i64, portal: &str, agent: &str, stage: u8) -> DailyStage {
        DailyStage {
            day,
            portal_id: portal.into(),
            agent: agent.into(),
            stage: Stage::try_from(stage).unwrap(),
        }
    }

    #[test]
    fn the_index_keeps_changes_and_carries_them_into_a_range() {
        let mut idx = DailyIndex::default();
        idx.apply(
            i64::MIN,
            vec![
                row(1, "a", "hn", 0),
                row(5, "a", "hn", 2),
                row(3, "b", "hn", 1),
            ],
        );
        // Days 4 to 6: a carried in at 0, changed on 5; b carried in at 1.
        assert_eq!(
            idx.range(4, 6),
            vec![
                row(1, "a", "hn", 0),
                row(5, "a", "hn", 2),
                row(3, "b", "hn", 1)
            ]
        );
        assert_eq!(idx.range(0, 0), vec![]);
        // A late report rewrites a from day 4: the point of day 5 is replaced.
        idx.apply(
            4,
            vec![
                row(4, "a", "hn", 3),
                row(5, "a", "hn", 3),
                row(6, "a", "hn", 2),
            ],
        );
        assert_eq!(
            idx.range(4, 10)
                .into_iter()
                .filter(|r| r.portal_id == "a")
                .collect::<Vec<_>>(),
            vec![
                row(1, "a", "hn", 0),
                row(4, "a", "hn", 3),
                row(6, "a", "hn", 2)
            ]
        );
        // The same stage as the day before adds no point.
        idx.apply(7, vec![row(7, "b", "hn", 1)]);
        assert_eq!(
            idx.pairs[&("b".to_owned(), "hn".to_owned())],
            vec![(3, Stage::try_from(1u8).unwrap())]
        );
    }
}
