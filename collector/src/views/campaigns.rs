//! Campaigns: each one's share of portals at its target stage today, the
//! trend over [`TREND_DAYS`] and the completion date projected from it.

use serde::Serialize;

use super::progress::{date_of_day, day_of_date, stages_by_day};
use crate::catalog::Catalog;
use crate::store::DailyStage;

/// A campaign's progress today, against its deadline.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    /// The campaign's id in its inventory.
    pub id: String,
    /// Its name, when the inventory gives one.
    pub name: Option<String>,
    /// The stage every selected portal must reach, 0 to 4.
    pub target_stage: u8,
    /// That stage's name, like `dual-stack`.
    pub target_stage_name: &'static str,
    /// The day they must reach it by, `YYYY-MM-DD`.
    pub deadline: String,
    /// The catalog's portals the campaign selects.
    pub portals: usize,
    /// Of those, the portals at the target stage or above today.
    pub at_target: usize,
    /// Share at target, 0..=1.
    pub share: f64,
    /// Share per day over the trend window.
    pub trend: Vec<(String, f64)>,
    /// When the share reaches 1 at the recent pace; None when it is not rising.
    pub projected_completion: Option<String>,
    /// Done, or projected to be done by the deadline.
    pub on_track: bool,
    /// Every selected portal is at the target stage (also when it selects none).
    pub done: bool,
}

/// The trend window for projections.
pub const TREND_DAYS: i64 = 30;

/// Each campaign's progress and its projected completion date.
pub fn campaigns(catalog: &Catalog, daily: &[DailyStage], today_day: i64) -> Vec<CampaignView> {
    let from = today_day - TREND_DAYS + 1;
    let stages = stages_by_day(daily, from, today_day);
    let days = usize::try_from(TREND_DAYS).unwrap_or(30);
    catalog
        .campaigns
        .iter()
        .map(|c| {
            let selected: Vec<&str> = catalog
                .portals
                .values()
                .filter(|p| c.select.matches(p))
                .map(|p| p.id.as_str())
                .collect();
            let target = c.target_stage;
            let share_on = |k: usize| {
                if selected.is_empty() {
                    return 1.0;
                }
                let n = selected
                    .iter()
                    .filter(|id| {
                        stages
                            .get(**id)
                            .and_then(|s| s[k])
                            .is_some_and(|s| s >= target)
                    })
                    .count();
                n as f64 / selected.len() as f64
            };
            let trend: Vec<(String, f64)> = (0..days)
                .map(|k| (date_of_day(from + k as i64).to_string(), share_on(k)))
                .collect();
            let share = trend.last().map_or(0.0, |t| t.1);
            let at_target = (share * selected.len() as f64).round() as usize;
            let deadline_day = day_of_date(c.deadline);
            let projected = project(&trend, today_day);
            CampaignView {
                id: c.id.clone(),
                name: c.name.clone(),
                target_stage: c.target_stage.number(),
                target_stage_name: c.target_stage.name(),
                deadline: c.deadline.to_string(),
                portals: selected.len(),
                at_target,
                share: (share * 1000.0).round() / 1000.0,
                done: share >= 1.0,
                on_track: share >= 1.0 || projected.is_some_and(|d| d <= deadline_day),
                projected_completion: if share >= 1.0 {
                    Some(date_of_day(today_day).to_string())
                } else {
                    projected.map(|d| date_of_day(d).to_string())
                },
                trend,
            }
        })
        .collect()
}

/// The day the share reaches 1 by a least-squares line through the trend,
/// None when it is flat or falling.
fn project(trend: &[(String, f64)], today_day: i64) -> Option<i64> {
    let n = trend.len() as f64;
    if n < 2.0 {
        return None;
    }
    let xs: Vec<f64> = (0..trend.len()).map(|i| i as f64).collect();
    let (mx, my) = (
        xs.iter().sum::<f64>() / n,
        trend.iter().map(|t| t.1).sum::<f64>() / n,
    );
    let sxy: f64 = xs
        .iter()
        .zip(trend)
        .map(|(x, t)| (x - mx) * (t.1 - my))
        .sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let slope = sxy / sxx;
    // A NaN slope (a flat line) is not rising either.
    if slope.is_nan() || slope <= 1e-6 {
        return None;
    }
    let last = trend.last()?.1;
    let days_left = ((1.0 - last) / slope).ceil();
    if days_left > 36_500.0 {
        return None;
    }
    Some(today_day + days_left as i64)
}
