//! The v6audit collector: keeps every report agents push, judges each
//! observation with its own rule pack, and answers where the migration
//! stands: progress over time, agencies ranked, campaigns, what changed and
//! the portals to fix first. It depends on the model and the rules, never on
//! the agent.

#![warn(missing_docs)]

mod answer;
pub mod api;
pub mod body;
pub mod budget;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod dashboard;
pub mod findings;
pub mod ingest;
pub mod metrics;
pub mod projections;
mod queries;
pub mod router;
pub mod server;
pub mod sessions;
pub mod state;
pub mod store;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

pub use config::{Config, Overrides};
pub use state::AppState;
pub use store::{Storage, Store};

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened or migrated, or its uploaded inventories read.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// The state directory, or the SQLite file's directory, could not be created.
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why it could not be created.
        #[source]
        source: std::io::Error,
    },
    /// The configured rule pack could not be read or is not valid.
    #[error("invalid rule pack:\n{0}")]
    Pack(#[from] v6audit_rules::PackError),
    /// An inventory could not be read or is not valid.
    #[error("invalid inventory: {0}")]
    Catalog(#[from] catalog::CatalogError),
}

/// Opens the database (running its migrations), loads the pack and the
/// inventories: everything the server needs.
pub async fn prepare(config: Config) -> Result<Arc<AppState>, StartError> {
    if config.database.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.state_dir).map_err(|source| StartError::StateDir {
            path: config.state_dir.clone(),
            source,
        })?;
        if let Some(parent) = config
            .database
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .map(std::path::Path::new)
            .and_then(std::path::Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| StartError::StateDir {
                path: parent.to_owned(),
                source,
            })?;
        }
    }
    let store = Store::open(&config.database).await?;
    store.migrate().await?;
    let pack = match &config.rules {
        Some(path) => v6audit_rules::Pack::load(path)?,
        None => v6audit_rules::Pack::default_pack(),
    };
    let uploaded = store.inventories().await?;
    let catalog = catalog::Catalog::build(&config.inventories, &uploaded)?;
    Ok(AppState::new(store, config, pack, catalog))
}

/// A new agent token: 256 random bits, printed once and stored only as its hash.
pub fn new_token() -> Result<String, String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random generator failed".to_owned())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("v6a_{hex}"))
}

/// Judges every stored observation again with `pack` (after the pack
/// changed), updating the newest and daily stages. Returns how many results
/// were re-scored. Events already recorded are kept as they were.
pub async fn rescore(
    store: &Store,
    pack: &v6audit_rules::Pack,
    catalog: &catalog::Catalog,
    day_offset_s: i64,
) -> Result<usize, store::StoreError> {
    let mut after = String::new();
    let mut total = 0;
    loop {
        let batch = store.results_after(&after, 500).await?;
        let Some(last) = batch.last() else { break };
        after = last.id.clone();
        let mut verdicts = Vec::with_capacity(batch.len());
        for r in &batch {
            let observation: v6audit_model::Observation = serde_json::from_str(&r.observation)
                .map_err(|e| {
                    store::StoreError::Corrupt(format!("result {}: observation: {e}", r.id))
                })?;
            let from_agent: v6audit_model::PortalInfo = serde_json::from_str(&r.portal)
                .map_err(|e| store::StoreError::Corrupt(format!("result {}: portal: {e}", r.id)))?;
            let portal = catalog
                .describe(&r.portal_id, Some(&from_agent))
                .unwrap_or(from_agent);
            let verdict = ingest::stored_verdict(pack, &observation, &portal).map_err(|e| {
                store::StoreError::Corrupt(format!("result {}: verdict: {e}", r.id))
            })?;
            verdicts.push((r.id.clone(), verdict));
        }
        store.rescore(&verdicts, day_offset_s).await?;
        total += batch.len();
    }
    Ok(total)
}
