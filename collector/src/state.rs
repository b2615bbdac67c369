//! What every request handler shares: the collector's state (the store,
//! the configuration, the pack and catalog in force, counters, webhooks,
//! admin sessions, the cached projections, the body budget and the per-agent
//! rate limits) and the clock. The bottom of the collector's layers: it
//! knows no handler, and what it holds is defined below it (`sessions.rs`,
//! `cache.rs`, `budget.rs`), never by a module that uses the state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use v6audit_rules::Pack;

use crate::budget::Budget;
use crate::cache::Projections;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::metrics::Counters;
use crate::sessions::Sessions;
use crate::store::{Storage, Store};
use crate::webhooks::Webhooks;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The configuration the collector started with.
    pub config: Config,
    /// The rule pack observations are judged with; read it with `pack()`.
    pub pack: RwLock<Arc<Pack>>,
    /// The portals and campaigns of the inventories; read it with `catalog()`.
    pub catalog: RwLock<Arc<Catalog>>,
    /// Ingest and webhook counters, for `/metrics`.
    pub counters: Arc<Counters>,
    /// Sends events to the configured webhooks.
    pub webhooks: Webhooks,
    /// The dashboard's signed-in administrators.
    pub sessions: Sessions,
    /// Progress, ranking and campaigns, shared by the API and the dashboard.
    pub projections: Projections,
    /// The memory budget of the request bodies being read.
    pub bodies: Budget,
    rate: Mutex<HashMap<String, (f64, Instant)>>,
}

impl AppState {
    /// Starts the webhook sender and sets up the body budget; no session, nothing cached yet.
    pub fn new(store: Store, config: Config, pack: Pack, catalog: Catalog) -> Arc<Self> {
        let counters = Arc::new(Counters::default());
        let webhooks = Webhooks::start(config.webhooks.clone(), counters.clone());
        let bodies = Budget::new(config.body_budget);
        Arc::new(Self {
            store,
            config,
            pack: RwLock::new(Arc::new(pack)),
            catalog: RwLock::new(Arc::new(catalog)),
            counters,
            webhooks,
            sessions: Sessions::default(),
            projections: Projections::default(),
            bodies,
            rate: Mutex::new(HashMap::new()),
        })
    }

    /// The rule pack in force.
    pub fn pack(&self) -> Arc<Pack> {
        self.pack.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The catalog in force.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts `catalog` in force, and forgets the projections made with the one before.
    pub fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalog);
        self.projections.invalidate();
    }

    /// Rebuilds the catalog from the configured files and the uploaded
    /// inventories, and reads the daily stages again (SIGHUP).
    pub async fn reload_catalog(&self) -> Result<(), String> {
        self.projections.rebuild().await;
        let uploaded = self.store.inventories().await.map_err(|e| e.to_string())?;
        let catalog =
            Catalog::build(&self.config.inventories, &uploaded).map_err(|e| e.to_string())?;
        self.set_catalog(catalog);
        Ok(())
    }

    /// A token bucket per agent: `burst` reports at once, refilled at the
    /// configured rate. A refusal says in how many seconds the next token
    /// comes (at least 1).
    pub(crate) fn allow(&self, agent: &str) -> Result<(), u32> {
        let mut buckets = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let per_sec = f64::from(self.config.reports_per_minute) / 60.0;
        let burst = f64::from(self.config.burst);
        let (tokens, at) = buckets.entry(agent.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / per_sec).ceil().clamp(1.0, 86_400.0);
            // In 1..=86400 after the clamp, so the cast is exact.
            Err(wait as u32)
        }
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
