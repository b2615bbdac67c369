//! The dashboard's pages, one file each. Every handler takes the page's
//! [`PageContext`] (an extractor: the language, the way back for the language
//! switch, the headers an admin session is read from), gathers its numbers
//! from the same projections the JSON API answers with (`views/`), shapes
//! them into display rows and renders its template. This module owns what
//! several pages share: the error page, stage classes and links, a
//! priority's parts, select options, agents' health, the progress chart,
//! change rows, and the agencies' ranking rows.

mod admin;
mod agencies;
mod agency;
mod changes;
mod fix_first;
mod overview;
mod portal;
mod portals;

pub(super) use admin::{
    admin, admin_campaign, admin_login, admin_logout, admin_revoke, admin_upload,
};
pub(super) use agencies::agencies;
pub(super) use agency::agency;
pub(super) use changes::changes;
pub(super) use fix_first::fix_first;
pub(super) use overview::overview;
pub(super) use portal::portal;
pub(super) use portals::portals;

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use time::Date;
use v6audit_model::{PortalInfo, Stage};
use v6audit_rules::Pack;

use super::svg::{self, Layer};
use super::text::Texts;
use super::{Chrome, PageContext, enc, html, now_ms};
use crate::store::{Event, EventFilter};
use crate::views;

/// A handler's failure, shown as an error page.
type PageResult = Result<Response, Response>;

/// The page of a failure on our side: the details go to the log only.
fn failed(ctx: &PageContext, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a page failed");
    error_page(
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        ctx.t.error_title,
        ctx.t.internal_error,
    )
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    text: String,
}

pub(super) fn error_page(
    ctx: &PageContext,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    html(
        status,
        &ErrorPage {
            chrome: ctx.chrome("", title.to_owned(), ""),
            text: text.to_owned(),
        },
    )
}

/// The CSS class of a stage (`s0`…`s4`, `su` for not measured).
fn stage_class(stage: Option<Stage>) -> &'static str {
    match stage {
        Some(Stage::Ipv4Only) => "s0",
        Some(Stage::Broken) => "s1",
        Some(Stage::Reachable) => "s2",
        Some(Stage::DualStack) => "s3",
        Some(Stage::Ipv6Complete) => "s4",
        None => "su",
    }
}

fn portal_href(id: &str) -> String {
    format!("/portals/{}", enc(id))
}

fn agency_href(agency: &str) -> String {
    format!("/agency?name={}", enc(agency))
}

/// Serde's name of an enum value (`left_family`, `name_mismatch`, …).
fn serde_name(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Debug)]
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn options(values: impl IntoIterator<Item = (String, String)>, selected: &str) -> Vec<Opt> {
    values
        .into_iter()
        .map(|(value, label)| Opt {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

#[derive(Debug)]
struct AgentRow {
    name: String,
    vantage: String,
    last_report: String,
    status: &'static str,
    status_class: &'static str,
    revoked: bool,
}

fn agent_rows(ctx: &PageContext, agents: &[crate::store::Agent]) -> Vec<AgentRow> {
    let t = ctx.t;
    let stale_ms = i64::from(ctx.state.config.dashboard.stale_after_hours) * 3_600_000;
    let now = now_ms();
    agents
        .iter()
        .map(|a| {
            let (status, status_class) = if a.revoked_ms.is_some() {
                (t.revoked, "muted")
            } else if a.last_report_ms.is_none_or(|l| now - l > stale_ms) {
                (t.stale, "bad")
            } else {
                (t.fresh, "good")
            };
            AgentRow {
                name: a.name.clone(),
                vantage: a.vantage.clone().unwrap_or_default(),
                last_report: a
                    .last_report_ms
                    .map_or_else(|| t.never.to_owned(), |ms| ctx.datetime(ms)),
                status,
                status_class,
                revoked: a.revoked_ms.is_some(),
            }
        })
        .collect()
}

/// The series from the first day with a measurement on, so a collector a
/// week old does not draw a year of nothing (and one a day old draws one
/// day); the range it covers.
fn since_first_measured(series: &views::ProgressSeries) -> (views::ProgressSeries, String) {
    let first = series
        .points
        .iter()
        .position(|p| p.stages.stages.values().any(|n| *n > 0))
        .unwrap_or(series.points.len().saturating_sub(1));
    let points = series.points[first..].to_vec();
    let range = match (points.first(), points.last()) {
        (Some(a), Some(b)) if a.date == b.date => a.date.clone(),
        (Some(a), Some(b)) => format!("{} – {}", a.date, b.date),
        _ => String::new(),
    };
    (
        views::ProgressSeries {
            key: series.key.clone(),
            points,
        },
        range,
    )
}

/// The stacked area of stages over days, stage 4 at the bottom.
fn progress_chart(t: &Texts, title: &str, series: &views::ProgressSeries) -> String {
    let dates: Vec<String> = series.points.iter().map(|p| p.date.clone()).collect();
    let mut layers: Vec<Layer<'_>> = Stage::ALL
        .into_iter()
        .rev()
        .map(|s| Layer {
            class: stage_class(Some(s)),
            label: t.stage_label(Some(s)),
            values: series
                .points
                .iter()
                .map(|p| p.stages.stages.get(s.name()).copied().unwrap_or(0))
                .collect(),
        })
        .collect();
    layers.push(Layer {
        class: "su",
        label: t.unmeasured,
        values: series.points.iter().map(|p| p.stages.unmeasured).collect(),
    });
    svg::stacked_area(title, &dates, &layers)
}

#[derive(Debug)]
struct ChangeRow {
    at: String,
    portal: String,
    href: String,
    agent: String,
    kind: String,
    label: &'static str,
    class: &'static str,
    stages: String,
    message: String,
}

fn change_row(ctx: &PageContext, e: &Event) -> ChangeRow {
    let regression = EventFilter::is_regression(&e.kind);
    let stages = match e.from_stage {
        Some(f) if f != e.to_stage => format!("{} → {}", f.number(), e.to_stage.number()),
        _ => String::new(),
    };
    // A change of stage in the page's words; a rule's change keeps the
    // message stored with it (the finding's own words).
    let message = match (&e.rule, e.from_stage) {
        (None, Some(f)) if f != e.to_stage => ctx
            .t
            .stage_change
            .replace("{from}", ctx.t.stage_label(Some(f)))
            .replace("{to}", ctx.t.stage_label(Some(e.to_stage))),
        _ => e.message.clone(),
    };
    ChangeRow {
        at: ctx.datetime(e.at_ms),
        portal: e.portal_id.clone(),
        href: portal_href(&e.portal_id),
        agent: e.agent.clone(),
        kind: e.kind.clone(),
        label: ctx.t.kind_label(&e.kind),
        class: if regression { "bad" } else { "good" },
        stages,
        message,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct YearQuery {
    year: Option<i32>,
    name: Option<String>,
}

#[derive(Debug)]
struct RankRow {
    rank: usize,
    agency: String,
    href: String,
    index: String,
    trend: String,
    trend_class: &'static str,
    portals: usize,
    stages: Vec<usize>,
}

fn rank_row(ctx: &PageContext, r: &views::AgencyRank) -> RankRow {
    let (trend, trend_class) = match r.previous_index {
        None => (ctx.t.new_this_year.to_owned(), "muted"),
        Some(p) => {
            let d = ((r.index - p) * 10.0).round() / 10.0;
            if d > 0.0 {
                (format!("▲ +{d:.1}"), "up")
            } else if d < 0.0 {
                (format!("▼ {d:.1}"), "down")
            } else {
                ("= 0.0".to_owned(), "muted")
            }
        }
    };
    let mut stages: Vec<usize> = Stage::ALL
        .iter()
        .map(|s| r.stages.stages.get(s.name()).copied().unwrap_or(0))
        .collect();
    stages.push(r.stages.unmeasured);
    RankRow {
        rank: r.rank,
        agency: r.agency.clone(),
        href: agency_href(&r.agency),
        index: format!("{:.1}", r.index),
        trend,
        trend_class,
        portals: r.portals,
        stages,
    }
}

/// The day a year's ranking is taken on (years clamped to 2000..this year).
fn ranking_day(ctx: &PageContext, year: Option<i32>) -> (i32, Date) {
    let today = views::today(ctx.state.config.utc_offset);
    let year = year.unwrap_or(today.year()).clamp(2000, today.year());
    (year, views::ranking_end(today, year).unwrap_or(today))
}

/// One part of a priority: what it is, and what it adds or multiplies by.
#[derive(Debug)]
struct Part {
    label: String,
    value: String,
}

/// A priority with the parts it is made of, in the page's words: a bare
/// 10882 says nothing to whoever has to act on it.
#[derive(Debug)]
struct PriorityWhy {
    total: u32,
    parts: Vec<Part>,
    /// The arithmetic, `10000 + 3 × 1.47 × 2 × 100 = 10882`.
    sum: String,
}

/// A number with at most two decimals, without trailing zeros (3, 1.47).
fn short_number(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The parts of a portal's priority at its combined stage, from the same
/// function as the priority itself (`views::priority_parts`).
fn priority_why(t: &Texts, pack: &Pack, portal: &PortalInfo, stage: Option<Stage>) -> PriorityWhy {
    let p = views::priority_parts(pack, portal, stage);
    let weight = short_number(p.category_weight);
    let factor = short_number(p.audience_factor);
    let mut parts = Vec::with_capacity(4);
    if p.bonus > 0 {
        parts.push(Part {
            label: t.priority_bonus.to_owned(),
            value: format!("+{}", p.bonus),
        });
    }
    let audience = portal.audience.map_or_else(
        || t.priority_no_audience.to_owned(),
        |a| t.priority_audience.replace("{n}", &a.to_string()),
    );
    parts.extend([
        Part {
            label: t
                .priority_category
                .replace("{category}", t.category_label(portal.category)),
            value: format!("× {weight}"),
        },
        Part {
            label: audience,
            value: format!("× {factor}"),
        },
        Part {
            label: t.priority_distance.to_owned(),
            value: format!("× {}", p.distance),
        },
    ]);
    let product = format!("{weight} × {factor} × {} × 100", p.distance);
    let sum = if p.bonus > 0 {
        format!("{} + {product} = {}", p.bonus, p.total)
    } else {
        format!("{product} = {}", p.total)
    };
    PriorityWhy {
        total: p.total,
        parts,
        sum,
    }
}
