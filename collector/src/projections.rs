//! The projections over history (progress per day, the agencies' ranking,
//! campaigns), computed from the collector's state once and shared by the
//! API and the dashboard, so both answer the same numbers. Above the state:
//! what they keep between requests (the projections themselves, and the
//! index of daily stage changes they read the daily stages from) is the
//! state's cache, `cache.rs`. After an ingest the index is brought up to
//! date before the agent is answered, and the overview's projections are
//! recomputed in the background half a second later (one round per burst).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use time::Date;

use crate::cache::{Key, Value};
use crate::queries::agent_portals;
use crate::state::AppState;
use crate::store::Storage;
use crate::views::{self, AgencyRank, CampaignView, Group, ProgressSeries};

/// Days of history the progress projection keeps warm: the overview's and
/// an agency's chart.
pub const CHART_DAYS: i64 = 365;

/// How many portals stood at each stage, day by day, per group.
pub async fn progress(
    state: &AppState,
    from: Date,
    to: Date,
    group: Group,
) -> Result<Arc<Vec<ProgressSeries>>, String> {
    let p = &state.projections;
    let key = Key::Progress(from, to, group);
    if let Some(Value::Progress(v)) = p.get(key) {
        return Ok(v);
    }
    let generation = p.generation();
    let daily = p
        .daily(
            &state.store,
            views::day_of_date(from),
            views::day_of_date(to),
        )
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
    p.put(key, generation, Value::Progress(v.clone()));
    Ok(v)
}

/// Agencies ranked on a day, with the index a year before for the trend.
pub async fn ranking(state: &AppState, day: i64) -> Result<Arc<Vec<AgencyRank>>, String> {
    let p = &state.projections;
    let key = Key::Ranking(day);
    if let Some(Value::Ranking(v)) = p.get(key) {
        return Ok(v);
    }
    let generation = p.generation();
    // Only the two days compared: each with the stage carried into it.
    let mut daily = p.daily(&state.store, day - 365, day - 365).await?;
    daily.extend(p.daily(&state.store, day, day).await?);
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
    p.put(key, generation, Value::Ranking(v.clone()));
    Ok(v)
}

/// Each campaign's progress and projected completion, as of a day.
pub async fn campaigns(state: &AppState, today: i64) -> Result<Arc<Vec<CampaignView>>, String> {
    let p = &state.projections;
    let key = Key::Campaigns(today);
    if let Some(Value::Campaigns(v)) = p.get(key) {
        return Ok(v);
    }
    let generation = p.generation();
    let daily = p
        .daily(&state.store, today - views::TREND_DAYS, today)
        .await?;
    let v = Arc::new(views::campaigns(&state.catalog(), &daily, today));
    p.put(key, generation, Value::Campaigns(v.clone()));
    Ok(v)
}

/// After an ingest that touched days from `from_day` on: brings the index
/// up to date before the agent is answered (what a 200 acknowledged is what
/// the next read shows), then recomputes the overview's projections in the
/// background.
pub async fn ingested(state: &Arc<AppState>, from_day: Option<i64>) {
    let p = &state.projections;
    if let Some(from) = from_day
        && let Err(e) = p.catch_up(&state.store, from).await
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
            if let Err(e) = progress(&state, from, today, Group::All).await {
                tracing::warn!(error = %e, "progress not precomputed");
            }
            let _ = campaigns(&state, day).await;
            let _ = ranking(&state, day).await;
            if !p.again.load(Ordering::SeqCst) {
                break;
            }
        }
        p.warming.store(false, Ordering::SeqCst);
    });
}
