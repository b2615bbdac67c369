//! What the API answers, computed from the newest results, the daily stages
//! and the catalog: portals with a combined view over vantages, the fix-first
//! list, progress over time, the agencies' ranking and campaigns. One file
//! per purpose (`portals.rs`, `progress.rs`, `ranking.rs`, `campaigns.rs`);
//! this one keeps the time helper they share, and every item is
//! named from here (`crate::views::X`).

mod campaigns;
mod portals;
mod progress;
mod ranking;
#[cfg(test)]
mod tests;

use time::OffsetDateTime;

pub use campaigns::{CampaignView, TREND_DAYS, campaigns};
pub use portals::{
    Combined, PortalView, VantageView, daily_by_vantage, one_per_vantage, portals, priorities,
    priority_parts, vantage_key, vantage_keys,
};
pub use progress::{
    Group, ProgressPoint, ProgressSeries, StageCounts, date_of_day, day_of_date, progress,
    stages_by_day, today,
};
pub use ranking::{AgencyRank, RANKING_METHOD, ranking, ranking_end};

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
