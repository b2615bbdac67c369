//! The projections over history (progress per day, the agencies' ranking,
//! campaigns), computed once and shared by the API and the dashboard, so
//! both answer the same numbers. They are cached until the data changes (an
//! ingest, an inventory upload or reload) or for at most a minute (a
//! `collector rescore` run by another process), and recomputed in the
//! background after an ingest, so a page view rarely waits for a year of
//! daily stages to be read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::Date;

use crate::api::{AppState, agent_portals};
use crate::store::Storage;
use crate::views::{self, AgencyRank, CampaignView, Group, ProgressSeries};

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

/// The cache of projections.
#[derive(Debug, Default)]
pub struct Projections {
    generation: AtomicU64,
    cache: Mutex<HashMap<Key, Entry>>,
    warming: AtomicBool,
    again: AtomicBool,
}

impl Projections {
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
        let daily = state
            .store
            .daily(views::day_of_date(from), views::day_of_date(to))
            .await
            .map_err(|e| e.to_string())?;
        let latest = state.store.latest().await.map_err(|e| e.to_string())?;
        let from_agents = agent_portals(state, &latest)
            .await
            .map_err(|e| e.0.message)?;
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
        let mut daily = state
            .store
            .daily(day - 365, day - 365)
            .await
            .map_err(|e| e.to_string())?;
        daily.extend(
            state
                .store
                .daily(day, day)
                .await
                .map_err(|e| e.to_string())?,
        );
        let latest = state.store.latest().await.map_err(|e| e.to_string())?;
        let from_agents = agent_portals(state, &latest)
            .await
            .map_err(|e| e.0.message)?;
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
        let daily = state
            .store
            .daily(today - views::TREND_DAYS, today)
            .await
            .map_err(|e| e.to_string())?;
        let v = Arc::new(views::campaigns(&state.catalog(), &daily, today));
        self.put(key, generation, Value::Campaigns(v.clone()));
        Ok(v)
    }
}

/// After a change, recomputes what the overview shows, in the background;
/// changes arriving meanwhile cause one more round, not one each.
pub fn warm(state: Arc<AppState>) {
    state.projections.invalidate();
    if state.projections.warming.swap(true, Ordering::SeqCst) {
        state.projections.again.store(true, Ordering::SeqCst);
        return;
    }
    tokio::spawn(async move {
        loop {
            state.projections.again.store(false, Ordering::SeqCst);
            let today = views::today(state.config.utc_offset);
            let day = views::day_of_date(today);
            let from = today - time::Duration::days(crate::dashboard::CHART_DAYS - 1);
            let p = &state.projections;
            if let Err(e) = p.progress(&state, from, today, Group::All).await {
                tracing::warn!(error = %e, "progress not precomputed");
            }
            let _ = p.campaigns(&state, day).await;
            let _ = p.ranking(&state, day).await;
            if !p.again.load(Ordering::SeqCst) {
                break;
            }
        }
        state.projections.warming.store(false, Ordering::SeqCst);
    });
}
