//! The overview: portals by stage today, the progress chart, the last
//! week's changes, campaigns and the agents' health.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use v6audit_model::Stage;

use super::{
    AgentRow, PageResult, agent_rows, failed, progress_chart, since_first_measured, stage_class,
};
use crate::dashboard::svg;
use crate::dashboard::text::Texts;
use crate::dashboard::{CHART_DAYS, Chrome, PageContext, html, now_ms};
use crate::projections;
use crate::queries::snapshot;
use crate::store::{EventFilter, Storage};
use crate::views::{self, Group, PortalView};

#[derive(Debug)]
struct CountCard {
    key: String,
    class: &'static str,
    label: &'static str,
    count: usize,
    href: String,
}

#[derive(Debug)]
struct CampaignRow {
    id: String,
    name: String,
    target: &'static str,
    deadline: String,
    at_target: usize,
    portals: usize,
    percent: u32,
    spark: String,
    projected: String,
    status: &'static str,
    status_class: &'static str,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    total: usize,
    share_dual_stack: String,
    counts: Vec<CountCard>,
    has_history: bool,
    chart: String,
    range: String,
    week_regressions: i64,
    week_improvements: i64,
    campaigns: Vec<CampaignRow>,
    agents: Vec<AgentRow>,
}

/// The stage counts over portals' combined stages, every stage present.
fn stage_counts(t: &Texts, views: &[&PortalView]) -> Vec<CountCard> {
    let mut counts: Vec<CountCard> = Stage::ALL
        .into_iter()
        .map(|s| CountCard {
            key: s.name().to_owned(),
            class: stage_class(Some(s)),
            label: t.stage_label(Some(s)),
            count: 0,
            href: format!("/portals?stage={}", s.number()),
        })
        .collect();
    counts.push(CountCard {
        key: "unmeasured".to_owned(),
        class: "su",
        label: t.unmeasured,
        count: 0,
        href: "/portals?stage=unmeasured".to_owned(),
    });
    for v in views {
        let i = v
            .combined
            .stage
            .map_or(Stage::ALL.len(), |s| usize::from(s.number()));
        counts[i].count += 1;
    }
    counts
}

fn campaign_rows(ctx: &PageContext, list: &[views::CampaignView]) -> Vec<CampaignRow> {
    let t = ctx.t;
    list.iter()
        .map(|c| {
            let (status, status_class) = if c.done {
                (t.done, "good")
            } else if c.on_track {
                (t.on_track, "good")
            } else {
                (t.behind, "bad")
            };
            let name = c.name.clone().unwrap_or_else(|| c.id.clone());
            CampaignRow {
                id: c.id.clone(),
                spark: svg::sparkline(&name, &c.trend.iter().map(|x| x.1).collect::<Vec<_>>()),
                name,
                target: t.stage_label(Stage::try_from(c.target_stage).ok()),
                deadline: c.deadline.clone(),
                at_target: c.at_target,
                portals: c.portals,
                percent: (c.share * 100.0).round().clamp(0.0, 100.0) as u32,
                projected: c
                    .projected_completion
                    .clone()
                    .unwrap_or_else(|| t.not_rising.to_owned()),
                status,
                status_class,
            }
        })
        .collect()
}

pub(crate) async fn overview(ctx: PageContext) -> Response {
    overview_inner(&ctx).await.unwrap_or_else(|r| r)
}

async fn overview_inner(ctx: &PageContext) -> PageResult {
    let state = &ctx.state;
    let t = ctx.t;
    let s = snapshot(state).await.map_err(|e| failed(ctx, e))?;
    let all: Vec<&PortalView> = s.views.iter().collect();
    let counts = stage_counts(t, &all);
    let at_least_3 = all
        .iter()
        .filter(|v| v.combined.stage.is_some_and(|s| s >= Stage::DualStack))
        .count();
    let total = all.len();
    let share_dual_stack = if total == 0 {
        "0%".to_owned()
    } else {
        format!("{:.0}%", 100.0 * at_least_3 as f64 / total as f64)
    };
    let today = views::today(state.config.utc_offset);
    let today_day = views::day_of_date(today);
    let from = today - time::Duration::days(CHART_DAYS - 1);
    let progress = projections::progress(state, from, today, Group::All)
        .await
        .map_err(|e| failed(ctx, e))?;
    let has_history = progress
        .iter()
        .any(|series| series.points.iter().any(|p| p.stages.unmeasured < total));
    let (chart, range) = progress
        .first()
        .map(|series| {
            let (series, range) = since_first_measured(series);
            (progress_chart(t, t.progress_title, &series), range)
        })
        .unwrap_or_default();
    let campaigns = projections::campaigns(state, today_day)
        .await
        .map_err(|e| failed(ctx, e))?;
    let week = state
        .store
        .event_counts_since(now_ms() - 7 * 86_400_000)
        .await
        .map_err(|e| failed(ctx, e))?;
    let (mut week_regressions, mut week_improvements) = (0, 0);
    for (kind, n) in &week {
        if EventFilter::is_regression(kind) {
            week_regressions += n;
        } else {
            week_improvements += n;
        }
    }
    let page = OverviewPage {
        chrome: ctx.chrome("overview", t.overview_title.to_owned(), "/api/v1/portals"),
        total,
        share_dual_stack,
        counts,
        has_history,
        chart,
        range,
        week_regressions,
        week_improvements,
        campaigns: campaign_rows(ctx, &campaigns),
        agents: agent_rows(ctx, &s.agents),
    };
    Ok(html(StatusCode::OK, &page))
}
