//! What the projections keep between requests, held in the collector's
//! state, below it: each projection (progress, the ranking, campaigns) by
//! its range and the generation it was computed in, and an in-memory index
//! of each portal and agent's stage changes that they read the daily stages
//! from (a year of a stable fleet is millions of daily rows but a few
//! thousand changes). The index is built from the database once, brought up
//! to date from the days an ingest touched, and rebuilt on SIGHUP (after a
//! `collector rescore` by another process) and every hour; a projection is
//! trusted until the data changes (an ingest, an inventory upload or reload)
//! or for at most a minute. `projections.rs` computes them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::Date;
use v6audit_model::Stage;

use crate::store::{DailyStage, Storage, Store};
use crate::views::{self, AgencyRank, CampaignView, Group, ProgressSeries};

/// How long a projection is trusted without a known change.
const MAX_AGE: Duration = Duration::from_secs(60);
/// Projections kept at most (distinct ranges asked of the API).
const MAX_ENTRIES: usize = 64;

/// What a projection is of: its kind and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Progress(Date, Date, Group),
    Campaigns(i64),
    Ranking(i64),
}

/// A projection, shared by every answer that shows it.
#[derive(Debug, Clone)]
pub(crate) enum Value {
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

/// The projections kept between requests, and the index of daily stage
/// changes they are computed from.
#[derive(Debug)]
pub struct Projections {
    generation: AtomicU64,
    cache: Mutex<HashMap<Key, Entry>>,
    index: tokio::sync::RwLock<Option<(Instant, DailyIndex)>>,
    /// A background recomputation is running or about to.
    pub(crate) warming: AtomicBool,
    /// Something changed during the background recomputation: one more round.
    pub(crate) again: AtomicBool,
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
    pub(crate) async fn daily(
        &self,
        store: &Store,
        from: i64,
        to: i64,
    ) -> Result<Vec<DailyStage>, String> {
        let agents = store.agents().await.map_err(|e| e.to_string())?;
        let rows = self.daily_by_agent(store, from, to).await?;
        Ok(views::daily_by_vantage(rows, &views::vantage_keys(&agents)))
    }

    /// The daily stages from `from` to `to` with the stage carried into
    /// `from`, per portal and agent, from the index (built first when needed).
    async fn daily_by_agent(
        &self,
        store: &Store,
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
            let rows = store
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
    pub(crate) async fn catch_up(&self, store: &Store, from_day: i64) -> Result<(), String> {
        if self.index.read().await.is_none() {
            return Ok(());
        }
        let rows = store
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

    /// The generation projections are computed in now; a projection put
    /// with an older one is not trusted.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The projection of `key`, when it was computed in this generation
    /// less than `MAX_AGE` ago.
    pub(crate) fn get(&self, key: Key) -> Option<Value> {
        let generation = self.generation.load(Ordering::SeqCst);
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&key)
            .filter(|e| e.generation == generation && e.at.elapsed() < MAX_AGE)
            .map(|e| e.value.clone())
    }

    /// Keeps the projection of `key` computed in `generation`, making room
    /// when `MAX_ENTRIES` are kept.
    pub(crate) fn put(&self, key: Key, generation: u64, value: Value) {
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
