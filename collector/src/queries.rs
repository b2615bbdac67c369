//! The reads the API, the dashboard and the projections share: each
//! portal's views from the newest results, with the agents and what each
//! agent said of a portal the catalog does not list. Store errors are
//! returned as they are; each caller answers them its own way.

use std::collections::HashMap;

use v6audit_model::PortalInfo;

use crate::state::AppState;
use crate::store::{Agent, Storage, StoreError};
use crate::views;

/// What the views need from storage.
pub(crate) struct Snapshot {
    pub(crate) views: Vec<views::PortalView>,
    pub(crate) agents: Vec<Agent>,
}

/// Each portal as its agents described it, from the newest results.
pub(crate) async fn agent_portals(
    state: &AppState,
    latest: &[crate::store::Latest],
) -> Result<HashMap<String, PortalInfo>, StoreError> {
    let catalog = state.catalog();
    let mut out = HashMap::new();
    for l in latest {
        if catalog.portals.contains_key(&l.portal_id) || out.contains_key(&l.portal_id) {
            continue;
        }
        if let Some(r) = state.store.result(&l.result_id).await?
            && let Ok(info) = serde_json::from_str::<PortalInfo>(&r.portal)
        {
            out.insert(l.portal_id.clone(), info);
        }
    }
    Ok(out)
}

pub(crate) async fn snapshot(state: &AppState) -> Result<Snapshot, StoreError> {
    let latest = state.store.latest().await?;
    let agents = state.store.agents().await?;
    let from_agents = agent_portals(state, &latest).await?;
    let views = views::portals(
        &state.catalog(),
        &latest,
        &agents,
        &from_agents,
        &state.pack(),
    );
    Ok(Snapshot { views, agents })
}
