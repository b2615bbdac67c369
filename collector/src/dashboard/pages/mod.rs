//! The dashboard's pages: each handler gathers its numbers from the same
//! projections the JSON API answers with (`views.rs`), shapes them into
//! display rows, and renders its template. Overview, portals, portal detail,
//! agencies and one agency, fix first, changes, and the admin page with its
//! forms (sign-in, inventory upload, campaign creation, token revocation).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde::Deserialize;
use time::Date;
use v6audit_model::{
    Category, Family, Finding, Lang, Observation, PortalInfo, PortalResult, Stage,
};
use v6audit_rules::Pack;

use super::markup::inline_code;
use super::svg::{self, Layer, Track};
use super::text::Texts;
use super::{
    CHART_DAYS, Chrome, Ctx, SESSION_COOKIE, cookie, enc, html, now_ms, same, same_origin,
    see_other,
};
use crate::api::{AppState, snapshot};
use crate::config::hash_token;
use crate::store::{Event, EventFilter, Storage};
use crate::views::{self, Group, PortalView};

/// A handler's failure, shown as an error page.
type PageResult = Result<Response, Response>;

/// The page of a failure on our side: the details go to the log only.
fn failed(ctx: &Ctx, e: impl std::fmt::Display) -> Response {
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

pub fn error_page(ctx: &Ctx, status: StatusCode, title: &str, text: &str) -> Response {
    html(
        status,
        &ErrorPage {
            chrome: ctx.chrome("", title.to_owned(), ""),
            text: text.to_owned(),
        },
    )
}

/// The CSS class of a stage (`s0`…`s4`, `su` for not measured).
fn stage_class(stage: Option<i64>) -> &'static str {
    match stage {
        Some(0) => "s0",
        Some(1) => "s1",
        Some(2) => "s2",
        Some(3) => "s3",
        Some(4) => "s4",
        _ => "su",
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
fn priority_why(t: &Texts, pack: &Pack, portal: &PortalInfo, stage: Option<i64>) -> PriorityWhy {
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

// ---------------------------------------------------------------- overview

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

#[derive(Debug)]
struct AgentRow {
    name: String,
    vantage: String,
    last_report: String,
    status: &'static str,
    status_class: &'static str,
    revoked: bool,
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
    let mut counts: Vec<CountCard> = (0..5)
        .map(|s| CountCard {
            key: Stage::ALL[s as usize].name().to_owned(),
            class: stage_class(Some(s)),
            label: t.stage_label(Some(s)),
            count: 0,
            href: format!("/portals?stage={s}"),
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
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| *s < 5)
            .unwrap_or(5);
        counts[i].count += 1;
    }
    counts
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
    let mut layers: Vec<Layer<'_>> = (0..5)
        .rev()
        .map(|s| Layer {
            class: stage_class(Some(s)),
            label: t.stage_label(Some(s)),
            values: series
                .points
                .iter()
                .map(|p| {
                    p.stages
                        .stages
                        .get(Stage::ALL[s as usize].name())
                        .copied()
                        .unwrap_or(0)
                })
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

fn campaign_rows(ctx: &Ctx, list: &[views::CampaignView]) -> Vec<CampaignRow> {
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
                target: t.stage_label(Some(i64::from(c.target_stage))),
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

fn agent_rows(ctx: &Ctx, agents: &[crate::store::Agent]) -> Vec<AgentRow> {
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

pub async fn overview(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    overview_inner(&ctx).await.unwrap_or_else(|r| r)
}

async fn overview_inner(ctx: &Ctx) -> PageResult {
    let state = &ctx.state;
    let t = ctx.t;
    let s = snapshot(state)
        .await
        .map_err(|e| failed(ctx, e.0.message))?;
    let all: Vec<&PortalView> = s.views.iter().collect();
    let counts = stage_counts(t, &all);
    let at_least_3 = all
        .iter()
        .filter(|v| v.combined.stage.is_some_and(|s| s >= 3))
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
    let progress = state
        .projections
        .progress(state, from, today, Group::All)
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
    let campaigns = state
        .projections
        .campaigns(state, today_day)
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

// ---------------------------------------------------------------- portals

#[derive(Debug, Default, Deserialize)]
pub struct PortalFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    vantage: String,
    #[serde(default)]
    sort: String,
}

#[derive(Debug)]
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Debug)]
struct Header {
    key: &'static str,
    kind: &'static str,
    label: &'static str,
    href: String,
    active: bool,
    aria: &'static str,
}

#[derive(Debug)]
struct PortalRow {
    id: String,
    href: String,
    name: String,
    url: String,
    agency: String,
    stage_key: i64,
    stage_label: &'static str,
    stage_class: &'static str,
    reach: String,
    reach_key: usize,
    priority: u32,
    observed: String,
    observed_key: String,
    search: String,
}

#[derive(Template)]
#[template(path = "portals.html")]
struct PortalsPage {
    chrome: Chrome,
    f: PortalFilter,
    agencies: Vec<Opt>,
    categories: Vec<Opt>,
    stages: Vec<Opt>,
    tags: Vec<Opt>,
    vantages: Vec<Opt>,
    headers: Vec<Header>,
    rows: Vec<PortalRow>,
    total: usize,
}

fn portal_row(ctx: &Ctx, v: &PortalView) -> PortalRow {
    let p = &v.portal;
    let newest = v.vantages.iter().map(|x| x.observed_at.clone()).max();
    let newest_ms = newest.as_deref().and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
    });
    let search = search_text(p);
    PortalRow {
        id: p.id.clone(),
        href: portal_href(&p.id),
        name: p.name.clone().unwrap_or_default(),
        url: p.url.clone(),
        agency: p.agency.clone().unwrap_or_default(),
        stage_key: v.combined.stage.unwrap_or(-1),
        stage_label: ctx.t.stage_label(v.combined.stage),
        stage_class: stage_class(v.combined.stage),
        reach: format!("{}/{}", v.combined.reachable_from, v.combined.vantages),
        reach_key: v.combined.reachable_from,
        priority: v.combined.priority,
        observed: newest_ms.map(|ms| ctx.datetime(ms)).unwrap_or_default(),
        observed_key: newest.unwrap_or_default(),
        search,
    }
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

/// Whether a portal passes the page's filters.
/// What the search box looks in: id, name, address and agency, lower case
/// (the server's filter and the script's, through `data-search`).
fn search_text(p: &PortalInfo) -> String {
    format!(
        "{} {} {} {}",
        p.id,
        p.name.as_deref().unwrap_or(""),
        p.url,
        p.agency.as_deref().unwrap_or("")
    )
    .to_lowercase()
}

fn matches(v: &PortalView, f: &PortalFilter, vantage_of: &BTreeMap<String, String>) -> bool {
    let p = &v.portal;
    let q = f.q.trim().to_lowercase();
    if !q.is_empty() && !search_text(p).contains(&q) {
        return false;
    }
    if !f.agency.is_empty() && p.agency.as_deref() != Some(f.agency.as_str()) {
        return false;
    }
    if !f.category.is_empty() && p.category.as_str() != f.category {
        return false;
    }
    match f.stage.as_str() {
        "" => {}
        "unmeasured" if v.combined.stage.is_some() => return false,
        "unmeasured" => {}
        s if s.parse::<i64>().ok() != v.combined.stage || v.combined.stage.is_none() => {
            return false;
        }
        _ => {}
    }
    if !f.tag.is_empty() && !p.tags.contains(&f.tag) {
        return false;
    }
    if !f.vantage.is_empty()
        && !v.vantages.iter().any(|x| {
            x.vantage.as_deref() == Some(f.vantage.as_str())
                || (x.vantage.is_none() && vantage_of.get(&x.agent) == Some(&f.vantage))
                || x.agent == f.vantage
        })
    {
        return false;
    }
    true
}

const SORTS: [(&str, &str); 7] = [
    ("priority", "num"),
    ("id", "text"),
    ("name", "text"),
    ("agency", "text"),
    ("stage", "num"),
    ("reach", "num"),
    ("observed", "text"),
];

pub async fn portals(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(f): Query<PortalFilter>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    portals_inner(&ctx, f).await.unwrap_or_else(|r| r)
}

async fn portals_inner(ctx: &Ctx, f: PortalFilter) -> PageResult {
    let t = ctx.t;
    let s = snapshot(&ctx.state)
        .await
        .map_err(|e| failed(ctx, e.0.message))?;
    let vantage_of: BTreeMap<String, String> = s
        .agents
        .iter()
        .filter_map(|a| a.vantage.clone().map(|v| (a.name.clone(), v)))
        .collect();
    let mut rows: Vec<(PortalRow, &PortalView)> = s
        .views
        .iter()
        .filter(|v| matches(v, &f, &vantage_of))
        .map(|v| (portal_row(ctx, v), v))
        .collect();
    // The sort key, `-` in front for descending; by default most urgent first.
    let (desc, key) = match f.sort.strip_prefix('-') {
        Some(k) => (true, k),
        None if f.sort.is_empty() => (true, "priority"),
        None => (false, f.sort.as_str()),
    };
    let key = SORTS
        .iter()
        .find(|s| s.0 == key)
        .map_or("priority", |s| s.0);
    rows.sort_by(|(a, _), (b, _)| {
        let o = match key {
            "id" => a.id.cmp(&b.id),
            "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            "agency" => a.agency.cmp(&b.agency),
            "stage" => a.stage_key.cmp(&b.stage_key),
            "reach" => a.reach_key.cmp(&b.reach_key),
            "observed" => a.observed_key.cmp(&b.observed_key),
            _ => a.priority.cmp(&b.priority),
        };
        let o = if desc { o.reverse() } else { o };
        o.then(a.id.cmp(&b.id))
    });
    let labels = [
        t.priority,
        t.portal,
        t.name,
        t.agency,
        t.stage,
        t.reachable_from,
        t.observed,
    ];
    // The column order of the table, with the label of each key.
    let columns = [
        ("id", 1),
        ("name", 2),
        ("agency", 3),
        ("stage", 4),
        ("reach", 5),
        ("priority", 0),
        ("observed", 6),
    ];
    let base_query = |sort: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &f.q),
            ("agency", &f.agency),
            ("category", &f.category),
            ("stage", &f.stage),
            ("tag", &f.tag),
            ("vantage", &f.vantage),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("sort", sort);
        format!("/portals?{}", q.finish())
    };
    let headers: Vec<Header> = columns
        .iter()
        .map(|(k, label)| {
            let kind = SORTS.iter().find(|s| s.0 == *k).map_or("text", |s| s.1);
            let active = *k == key;
            // A click on the active column flips it; on another, sorts it
            // (numbers high first, text A to Z).
            let next = if active {
                if desc { k.to_string() } else { format!("-{k}") }
            } else if kind == "num" {
                format!("-{k}")
            } else {
                k.to_string()
            };
            Header {
                key: k,
                kind,
                label: labels[*label],
                href: base_query(&next),
                active,
                aria: if desc { "descending" } else { "ascending" },
            }
        })
        .collect();
    let agencies: BTreeSet<String> = s
        .views
        .iter()
        .filter_map(|v| v.portal.agency.clone())
        .collect();
    let tags: BTreeSet<String> = s.views.iter().flat_map(|v| v.portal.tags.clone()).collect();
    let vantages: BTreeSet<String> = s
        .agents
        .iter()
        .map(|a| a.vantage.clone().unwrap_or_else(|| a.name.clone()))
        .collect();
    let total = s.views.len();
    let page = PortalsPage {
        chrome: ctx.chrome("portals", t.portals_title.to_owned(), "/api/v1/portals"),
        agencies: options(agencies.into_iter().map(|a| (a.clone(), a)), &f.agency),
        categories: options(
            Category::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), t.category_label(*c).to_owned())),
            &f.category,
        ),
        stages: options(
            (0..5)
                .map(|s| (s.to_string(), t.stage_label(Some(s)).to_owned()))
                .chain([("unmeasured".to_owned(), t.unmeasured.to_owned())]),
            &f.stage,
        ),
        tags: options(tags.into_iter().map(|a| (a.clone(), a)), &f.tag),
        vantages: options(vantages.into_iter().map(|a| (a.clone(), a)), &f.vantage),
        headers,
        rows: rows.into_iter().map(|(r, _)| r).collect(),
        total,
        f: PortalFilter {
            sort: if f.sort.is_empty() {
                "-priority".to_owned()
            } else {
                f.sort.clone()
            },
            ..f
        },
    };
    Ok(html(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- portal detail

#[derive(Debug)]
struct PortalHead {
    id: String,
    url: String,
    agency: String,
    agency_href: String,
    category: &'static str,
    audience: String,
    tags: String,
    stage_label: &'static str,
    stage_class: &'static str,
    summary: String,
    why: PriorityWhy,
    in_inventory: bool,
}

#[derive(Debug)]
struct FindingRow {
    rule: String,
    status: &'static str,
    status_label: &'static str,
    message: String,
    /// HTML: escaped, with `code` spans (`markup::inline_code`).
    remediation: String,
}

#[derive(Debug)]
struct CertRow {
    addr: String,
    chain: String,
    version: String,
    subject: String,
    issuer: String,
    names: String,
    not_after: String,
    sha256: String,
}

#[derive(Debug)]
struct HopRow {
    url: String,
    status: String,
    addr: String,
}

#[derive(Debug)]
struct ChainView {
    family: &'static str,
    outcome: String,
    hops: Vec<HopRow>,
}

#[derive(Debug)]
struct TimingRow {
    what: &'static str,
    v4: String,
    v6: String,
}

#[derive(Debug)]
struct SubRow {
    host: String,
    kinds: String,
    state: String,
    ok: bool,
}

#[derive(Debug)]
struct VantageBlock {
    agent: String,
    title: String,
    stage_label: &'static str,
    stage_class: &'static str,
    score: i64,
    observed: String,
    findings: Vec<FindingRow>,
    addrs_v4: String,
    addrs_v6: String,
    cname: String,
    certs: Vec<CertRow>,
    chains: Vec<ChainView>,
    timings: Vec<TimingRow>,
    subresources: Vec<SubRow>,
    smtp: Vec<SubRow>,
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

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    chrome: Chrome,
    p: PortalHead,
    vantages: Vec<VantageBlock>,
    timeline: String,
    changes: Vec<ChangeRow>,
}

fn change_row(ctx: &Ctx, e: &Event) -> ChangeRow {
    let regression = EventFilter::is_regression(&e.kind);
    let stages = match e.from_stage {
        Some(f) if f != e.to_stage => format!("{f} → {}", e.to_stage),
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

fn addrs(obs: &Observation, family: Family, none: &str) -> String {
    let list = obs.dns.addrs(family);
    if list.is_empty() {
        let lookup = match family {
            Family::V4 => &obs.dns.a,
            Family::V6 => &obs.dns.aaaa,
        };
        format!("{none} ({})", serde_name(&lookup.outcome))
    } else {
        list.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

/// The evidence of one observation: addresses, certificates, redirects, timings.
fn evidence(ctx: &Ctx, obs: &Observation, block: &mut VantageBlock) {
    let t = ctx.t;
    block.addrs_v4 = addrs(obs, Family::V4, t.none);
    block.addrs_v6 = addrs(obs, Family::V6, t.none);
    block.cname = obs
        .dns
        .aaaa
        .cname_chain
        .iter()
        .chain(obs.dns.a.cname_chain.iter())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(" → ");
    for e in &obs.endpoints {
        let Some(tls) = &e.tls else { continue };
        let addr = match e.addr {
            std::net::IpAddr::V6(a) => format!("[{a}]:{}", e.port),
            std::net::IpAddr::V4(a) => format!("{a}:{}", e.port),
        };
        let chain = match (&tls.chain, tls.outcome) {
            (Some(c), _) => serde_name(&c.status),
            (None, o) => serde_name(&o),
        };
        let (subject, issuer, names, not_after, sha256) = match &tls.certificate {
            Some(c) => (
                c.subject.clone(),
                c.issuer.clone(),
                c.sans.join(", "),
                c.not_after.date().to_string(),
                c.sha256.chars().take(16).collect::<String>() + "…",
            ),
            None => Default::default(),
        };
        block.certs.push(CertRow {
            addr,
            chain,
            version: tls.version.clone().unwrap_or_default(),
            subject,
            issuer,
            names,
            not_after,
            sha256,
        });
    }
    for (family, label) in [(Family::V4, "IPv4"), (Family::V6, "IPv6")] {
        let fetch = obs.http.get(family);
        block.chains.push(match fetch {
            None => ChainView {
                family: label,
                outcome: "—".to_owned(),
                hops: vec![],
            },
            Some(f) => ChainView {
                family: label,
                outcome: serde_name(&f.outcome),
                hops: f
                    .hops
                    .iter()
                    .map(|h| HopRow {
                        url: h.url.clone(),
                        status: h
                            .exchange
                            .status
                            .map_or_else(|| serde_name(&h.exchange.outcome), |s| s.to_string()),
                        addr: h.addr.map(|a| a.to_string()).unwrap_or_default(),
                    })
                    .collect(),
            },
        });
    }
    // Timings: the endpoint of each family the page was fetched from (TLS port first).
    let pick = |family: Family| {
        obs.endpoints
            .iter()
            .filter(|e| e.family == family)
            .max_by_key(|e| {
                (
                    e.tls_port,
                    e.tcp.outcome == v6audit_model::TcpOutcome::Connected,
                )
            })
    };
    let (e4, e6) = (pick(Family::V4), pick(Family::V6));
    block.timings = vec![
        TimingRow {
            what: t.dns_lookup,
            v4: ms(Some(obs.dns.a.ms)),
            v6: ms(Some(obs.dns.aaaa.ms)),
        },
        TimingRow {
            what: t.tcp_connect,
            v4: ms(e4
                .filter(|e| e.tcp.outcome == v6audit_model::TcpOutcome::Connected)
                .map(|e| e.tcp.ms)),
            v6: ms(e6
                .filter(|e| e.tcp.outcome == v6audit_model::TcpOutcome::Connected)
                .map(|e| e.tcp.ms)),
        },
        TimingRow {
            what: t.tls_handshake,
            v4: ms(e4.and_then(|e| e.tls.as_ref()).map(|x| x.ms)),
            v6: ms(e6.and_then(|e| e.tls.as_ref()).map(|x| x.ms)),
        },
        TimingRow {
            what: t.http_response,
            v4: ms(e4.and_then(|e| e.http.as_ref()).map(|x| x.ms)),
            v6: ms(e6.and_then(|e| e.http.as_ref()).map(|x| x.ms)),
        },
    ];
    if let Some(l) = &obs.latency {
        let median = |p: &Option<v6audit_model::LatencyProbe>| {
            p.as_ref().map_or_else(
                || "—".to_owned(),
                |p| match (p.median_ms(), p.failure()) {
                    (Some(m), _) => m.to_string(),
                    (None, Some(f)) => serde_name(&f.outcome),
                    (None, None) => "—".to_owned(),
                },
            )
        };
        block.timings.push(TimingRow {
            what: t.connect_median,
            v4: median(&l.ipv4),
            v6: median(&l.ipv6),
        });
    }
    if let Some(echo) = &obs.icmpv6 {
        let v6 = echo
            .iter()
            .map(|p| match (p.rtt_ms, p.hop_limit) {
                (Some(r), Some(h)) => format!("{r:.1} ({} {h})", t.hop_limit),
                (Some(r), None) => format!("{r:.1}"),
                _ => serde_name(&p.outcome),
            })
            .collect::<Vec<_>>()
            .join(", ");
        block.timings.push(TimingRow {
            what: t.icmpv6_echo,
            v4: "—".to_owned(),
            v6: if v6.is_empty() { "—".to_owned() } else { v6 },
        });
    }
    if let Some(sessions) = &obs.smtp {
        block.smtp = sessions
            .iter()
            .map(|p| {
                let ok = p.outcome == v6audit_model::SmtpOutcome::Ok;
                let mut state = format!("{}: {}", p.family.label(), serde_name(&p.outcome));
                if ok {
                    state.push_str(", ");
                    state.push_str(if p.starttls {
                        "STARTTLS"
                    } else {
                        t.no_starttls
                    });
                }
                if let Some(b) = &p.banner {
                    state.push_str(&format!(" · {b}"));
                }
                SubRow {
                    host: format!("{} ({})", p.host, std::net::SocketAddr::new(p.addr, p.port)),
                    kinds: String::new(),
                    state,
                    ok,
                }
            })
            .collect();
    }
    if let Some(sub) = &obs.subresources {
        block.subresources = sub
            .hosts
            .iter()
            .map(|h| {
                let ok = h.reachable_over_ipv6();
                let state = match (&h.tcp, h.aaaa.addrs.first()) {
                    (Some(tcp), Some(a)) => format!("{a}: {}", serde_name(&tcp.outcome)),
                    _ => format!("AAAA: {}", serde_name(&h.aaaa.outcome)),
                };
                SubRow {
                    host: h.host.clone(),
                    kinds: h.kinds.join(", "),
                    state,
                    ok,
                }
            })
            .collect();
    }
}

pub async fn portal(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    portal_inner(&ctx, &id).await.unwrap_or_else(|r| r)
}

/// From how many vantages the portal is reachable over IPv6, in the page's
/// words (the API's `summary` is English).
fn reach_summary(t: &Texts, c: &views::Combined) -> String {
    if c.vantages == 0 {
        t.unmeasured.to_owned()
    } else {
        t.reach_summary
            .replace("{n}", &c.reachable_from.to_string())
            .replace("{of}", &c.vantages.to_string())
    }
}

/// The findings of a stored result in the page's language (stored ones are English).
fn findings_in(
    ctx: &Ctx,
    stored: &str,
    obs: &Observation,
    portal: &PortalInfo,
) -> Result<Vec<Finding>, String> {
    if ctx.lang == Lang::En {
        serde_json::from_str(stored).map_err(|e| e.to_string())
    } else {
        Ok(v6audit_rules::evaluate(&ctx.state.pack(), obs, portal, ctx.lang).findings)
    }
}

async fn portal_inner(ctx: &Ctx, id: &str) -> PageResult {
    let state = &ctx.state;
    let t = ctx.t;
    let s = snapshot(state)
        .await
        .map_err(|e| failed(ctx, e.0.message))?;
    let Some(view) = s.views.iter().find(|v| v.portal.id == id) else {
        return Err(error_page(
            ctx,
            StatusCode::NOT_FOUND,
            t.not_found,
            t.no_such_portal,
        ));
    };
    let p = &view.portal;
    let mut blocks = Vec::new();
    for v in &view.vantages {
        let Some(r) = state
            .store
            .result(&v.result_id)
            .await
            .map_err(|e| failed(ctx, e))?
        else {
            continue;
        };
        let obs: Observation = serde_json::from_str(&r.observation).map_err(|e| failed(ctx, e))?;
        let findings =
            findings_in(ctx, &r.verdict.findings, &obs, p).map_err(|e| failed(ctx, e))?;
        let observed_ms =
            i64::try_from(obs.started_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut block = VantageBlock {
            agent: v.agent.clone(),
            title: match &v.vantage {
                Some(vt) => format!("{vt} ({})", v.agent),
                None => v.agent.clone(),
            },
            stage_label: t.stage_label(Some(v.stage)),
            stage_class: stage_class(Some(v.stage)),
            score: v.score,
            observed: ctx.datetime(observed_ms),
            findings: findings
                .iter()
                .map(|f| FindingRow {
                    rule: f.rule.clone(),
                    status: f.status.as_str(),
                    status_label: t.status_label(f.status),
                    message: f.message.clone(),
                    remediation: inline_code(&f.remediation),
                })
                .collect(),
            addrs_v4: String::new(),
            addrs_v6: String::new(),
            cname: String::new(),
            certs: vec![],
            chains: vec![],
            timings: vec![],
            subresources: vec![],
            smtp: vec![],
        };
        evidence(ctx, &obs, &mut block);
        blocks.push(block);
    }
    // The stage timeline over the last year, one track per vantage.
    let to_ms = now_ms();
    let from_ms = to_ms - 365 * 86_400_000;
    let history = state
        .store
        .history(id, from_ms, to_ms)
        .await
        .map_err(|e| failed(ctx, e))?;
    let mut by_agent: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for h in &history {
        let track = by_agent.entry(h.agent.as_str()).or_default();
        if track.last().is_none_or(|(_, s)| *s != h.stage) {
            track.push((h.observed_ms, h.stage));
        }
    }
    let timeline = if history.is_empty() {
        String::new()
    } else {
        let first = history
            .iter()
            .map(|h| h.observed_ms)
            .min()
            .unwrap_or(from_ms);
        let tracks: Vec<Track<'_>> = view
            .vantages
            .iter()
            .map(|v| Track {
                label: blocks
                    .iter()
                    .find(|b| b.agent == v.agent)
                    .map_or(v.agent.as_str(), |b| b.title.as_str()),
                points: by_agent.remove(v.agent.as_str()).unwrap_or_default(),
            })
            .collect();
        svg::stage_timeline(
            t.timeline,
            &t.stages,
            first,
            to_ms,
            (&ctx.datetime(first), &ctx.datetime(to_ms)),
            &tracks,
        )
    };
    let events = state
        .store
        .events_before(i64::MAX, Some(id), EventFilter::All, 50)
        .await
        .map_err(|e| failed(ctx, e))?;
    let head = PortalHead {
        id: p.id.clone(),
        url: p.url.clone(),
        agency: p.agency.clone().unwrap_or_default(),
        agency_href: p.agency.as_deref().map(agency_href).unwrap_or_default(),
        category: t.category_label(p.category),
        audience: p.audience.map(|a| a.to_string()).unwrap_or_default(),
        tags: p.tags.join(", "),
        stage_label: t.stage_label(view.combined.stage),
        stage_class: stage_class(view.combined.stage),
        summary: reach_summary(t, &view.combined),
        why: priority_why(t, &state.pack(), p, view.combined.stage),
        in_inventory: view.in_inventory,
    };
    let title = match &p.name {
        Some(n) => format!("{n} ({})", p.id),
        None => p.id.clone(),
    };
    let page = PortalPage {
        chrome: ctx.chrome("portals", title, &format!("/api/v1/portals/{}", enc(id))),
        p: head,
        vantages: blocks,
        timeline,
        changes: events.iter().map(|e| change_row(ctx, e)).collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- agencies

#[derive(Debug, Deserialize)]
pub struct YearQuery {
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

/// A stage column of the ranking: its number in the head, its label in the
/// legend (the labels side by side made the table wider than a screen).
#[derive(Debug)]
struct StageHead {
    class: &'static str,
    short: &'static str,
    label: &'static str,
}

/// The heads of the ranking's stage columns.
const STAGE_NUMBERS: [&str; 5] = ["0", "1", "2", "3", "4"];

#[derive(Template)]
#[template(path = "agencies.html")]
struct AgenciesPage {
    chrome: Chrome,
    years: Vec<Opt>,
    as_of: String,
    stage_heads: Vec<StageHead>,
    rows: Vec<RankRow>,
    method: &'static str,
}

fn rank_row(ctx: &Ctx, r: &views::AgencyRank) -> RankRow {
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
fn ranking_day(ctx: &Ctx, year: Option<i32>) -> (i32, Date) {
    let today = views::today(ctx.state.config.utc_offset);
    let year = year.unwrap_or(today.year()).clamp(2000, today.year());
    (year, views::ranking_end(today, year).unwrap_or(today))
}

pub async fn agencies(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<YearQuery>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    agencies_inner(&ctx, q.year).await.unwrap_or_else(|r| r)
}

async fn agencies_inner(ctx: &Ctx, year: Option<i32>) -> PageResult {
    let t = ctx.t;
    let (year, end) = ranking_day(ctx, year);
    let list = ctx
        .state
        .projections
        .ranking(&ctx.state, views::day_of_date(end))
        .await
        .map_err(|e| failed(ctx, e))?;
    let this_year = views::today(ctx.state.config.utc_offset).year();
    let mut stage_heads: Vec<StageHead> = (0..5)
        .map(|s| StageHead {
            class: stage_class(Some(s)),
            short: STAGE_NUMBERS[s as usize],
            label: t.stage_label(Some(s)),
        })
        .collect();
    stage_heads.push(StageHead {
        class: "su",
        short: "–",
        label: t.unmeasured,
    });
    let page = AgenciesPage {
        chrome: ctx.chrome(
            "agencies",
            t.agencies_title.to_owned(),
            &format!("/api/v1/ranking?year={year}"),
        ),
        years: options(
            (this_year - 4..=this_year)
                .rev()
                .map(|y| (y.to_string(), y.to_string())),
            &year.to_string(),
        ),
        as_of: end.to_string(),
        stage_heads,
        rows: list.iter().map(|r| rank_row(ctx, r)).collect(),
        method: t.ranking_method,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Debug)]
struct AgencyPortalRow {
    id: String,
    href: String,
    name: String,
    stage_label: &'static str,
    stage_class: &'static str,
    reach: String,
    priority: u32,
}

#[derive(Template)]
#[template(path = "agency.html")]
struct AgencyPage {
    chrome: Chrome,
    rank: Option<RankRow>,
    chart: String,
    range: String,
    rows: Vec<AgencyPortalRow>,
}

pub async fn agency(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<YearQuery>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    agency_inner(&ctx, q.name.unwrap_or_default())
        .await
        .unwrap_or_else(|r| r)
}

async fn agency_inner(ctx: &Ctx, name: String) -> PageResult {
    let t = ctx.t;
    let state = &ctx.state;
    let s = snapshot(state)
        .await
        .map_err(|e| failed(ctx, e.0.message))?;
    let mut mine: Vec<&PortalView> = s
        .views
        .iter()
        .filter(|v| v.portal.agency.as_deref() == Some(name.as_str()))
        .collect();
    if mine.is_empty() {
        return Err(error_page(
            ctx,
            StatusCode::NOT_FOUND,
            t.not_found,
            t.no_such_agency,
        ));
    }
    mine.sort_by(|a, b| {
        b.combined
            .priority
            .cmp(&a.combined.priority)
            .then(a.portal.id.cmp(&b.portal.id))
    });
    let (_, end) = ranking_day(ctx, None);
    let ranking = state
        .projections
        .ranking(state, views::day_of_date(end))
        .await
        .map_err(|e| failed(ctx, e))?;
    let rank = ranking
        .iter()
        .find(|r| r.agency == name)
        .map(|r| rank_row(ctx, r));
    let from = end - time::Duration::days(CHART_DAYS - 1);
    let progress = state
        .projections
        .progress(state, from, end, Group::Agency)
        .await
        .map_err(|e| failed(ctx, e))?;
    let (chart, range) = progress
        .iter()
        .find(|series| series.key == name)
        .map(|series| {
            let (series, range) = since_first_measured(series);
            (progress_chart(t, &name, &series), range)
        })
        .unwrap_or_default();
    let page = AgencyPage {
        chrome: ctx.chrome("agencies", name.clone(), "/api/v1/progress?group=agency"),
        rank,
        chart,
        range,
        rows: mine
            .iter()
            .map(|v| AgencyPortalRow {
                id: v.portal.id.clone(),
                href: portal_href(&v.portal.id),
                name: v.portal.name.clone().unwrap_or_default(),
                stage_label: t.stage_label(v.combined.stage),
                stage_class: stage_class(v.combined.stage),
                reach: format!("{}/{}", v.combined.reachable_from, v.combined.vantages),
                priority: v.combined.priority,
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- fix first

#[derive(Debug, Deserialize)]
pub struct FixQuery {
    all: Option<String>,
}

#[derive(Debug)]
struct ProblemRow {
    rule: String,
    status: &'static str,
    status_label: &'static str,
    message: String,
}

/// A plan step; `text` and `verify` are HTML with `code` spans.
#[derive(Debug)]
struct StepRow {
    title: String,
    text: String,
    verify: String,
}

/// One portal of the list; its rank is the list's own numbering.
#[derive(Debug)]
struct FixItem {
    id: String,
    href: String,
    title: String,
    agency: String,
    stage_label: &'static str,
    stage_class: &'static str,
    why: PriorityWhy,
    measured: bool,
    problems: Vec<ProblemRow>,
    steps: Vec<StepRow>,
}

#[derive(Template)]
#[template(path = "fix_first.html")]
struct FixPage {
    chrome: Chrome,
    items: Vec<FixItem>,
    total: usize,
    more_href: String,
}

/// Portals on the first page of the fix-first list.
const FIX_PAGE: usize = 50;

pub async fn fix_first(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<FixQuery>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    fix_inner(&ctx, q.all.is_some()).await.unwrap_or_else(|r| r)
}

async fn fix_inner(ctx: &Ctx, all: bool) -> PageResult {
    let t = ctx.t;
    let state = &ctx.state;
    let s = snapshot(state)
        .await
        .map_err(|e| failed(ctx, e.0.message))?;
    let list = views::priorities(&s.views);
    let total = list.len();
    let shown = if all { total } else { total.min(FIX_PAGE) };
    let pack = state.pack();
    let mut items = Vec::with_capacity(shown);
    for v in list.iter().take(shown) {
        let p = &v.portal;
        // The plan follows the vantage that sees the portal at its worst.
        let worst = v
            .vantages
            .iter()
            .filter(|x| x.stage_certain)
            .min_by_key(|x| x.stage)
            .or_else(|| v.vantages.first());
        let mut item = FixItem {
            id: p.id.clone(),
            href: portal_href(&p.id),
            title: p
                .name
                .clone()
                .map_or_else(|| p.id.clone(), |n| format!("{n} ({})", p.id)),
            agency: p.agency.clone().unwrap_or_default(),
            stage_label: t.stage_label(v.combined.stage),
            stage_class: stage_class(v.combined.stage),
            why: priority_why(t, &pack, p, v.combined.stage),
            measured: false,
            problems: vec![],
            steps: vec![],
        };
        if let Some(w) = worst
            && let Some(r) = state
                .store
                .result(&w.result_id)
                .await
                .map_err(|e| failed(ctx, e))?
        {
            let observation: Observation =
                serde_json::from_str(&r.observation).map_err(|e| failed(ctx, e))?;
            let verdict = v6audit_rules::evaluate(&pack, &observation, p, ctx.lang);
            let result = PortalResult {
                id: uuid::Uuid::nil(),
                portal: p.clone(),
                observation,
                verdict,
            };
            let plan = v6audit_rules::plan::plan(
                std::slice::from_ref(&result),
                &pack,
                ctx.lang,
                Stage::DualStack,
            );
            item.measured = true;
            if let Some(pi) = plan.items.into_iter().next() {
                item.problems = pi
                    .problems
                    .into_iter()
                    .map(|x| ProblemRow {
                        rule: x.rule,
                        status: x.status.as_str(),
                        status_label: t.status_label(x.status),
                        message: x.message,
                    })
                    .collect();
                item.steps = pi
                    .steps
                    .into_iter()
                    .map(|x| StepRow {
                        title: x.title,
                        text: inline_code(&x.text),
                        verify: inline_code(&x.verify),
                    })
                    .collect();
            }
        }
        items.push(item);
    }
    let page = FixPage {
        chrome: ctx.chrome("fix-first", t.fix_title.to_owned(), "/api/v1/priorities"),
        items,
        total,
        more_href: if shown < total {
            "/fix-first?all=1".to_owned()
        } else {
            String::new()
        },
    };
    Ok(html(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- changes

#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    kind: Option<String>,
    before: Option<i64>,
}

#[derive(Debug)]
struct KindTab {
    href: String,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    chrome: Chrome,
    kinds: Vec<KindTab>,
    rows: Vec<ChangeRow>,
    older_href: String,
}

const CHANGES_PAGE: i64 = 100;

pub async fn changes(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<ChangesQuery>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    changes_inner(&ctx, q).await.unwrap_or_else(|r| r)
}

async fn changes_inner(ctx: &Ctx, q: ChangesQuery) -> PageResult {
    let t = ctx.t;
    let kind = q.kind.as_deref().unwrap_or("all");
    let filter = match kind {
        "regressions" => EventFilter::Regressions,
        "improvements" => EventFilter::Improvements,
        _ => EventFilter::All,
    };
    let events = ctx
        .state
        .store
        .events_before(q.before.unwrap_or(i64::MAX), None, filter, CHANGES_PAGE)
        .await
        .map_err(|e| failed(ctx, e))?;
    let older_href = match events.last() {
        Some(last) if events.len() as i64 == CHANGES_PAGE => {
            format!("/changes?kind={kind}&before={}", last.id)
        }
        _ => String::new(),
    };
    let kinds = [
        ("all", t.all),
        ("regressions", t.regressions),
        ("improvements", t.improvements),
    ]
    .into_iter()
    .map(|(k, label)| KindTab {
        href: format!("/changes?kind={k}"),
        label,
        selected: k == kind || (kind != "regressions" && kind != "improvements" && k == "all"),
    })
    .collect();
    let page = ChangesPage {
        chrome: ctx.chrome("changes", t.changes_title.to_owned(), "/api/v1/changes"),
        kinds,
        rows: events.iter().map(|e| change_row(ctx, e)).collect(),
        older_href,
    };
    Ok(html(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- admin

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    configured: bool,
    signed_in: bool,
    csrf: String,
    notice: String,
    error: String,
    agents: Vec<AgentRow>,
    inventories: Vec<String>,
    stage_options: Vec<Opt>,
    category_options: Vec<Opt>,
}

#[derive(Debug, Deserialize)]
pub struct AdminQuery {
    done: Option<String>,
}

async fn admin_page(ctx: &Ctx, status: StatusCode, notice: String, error: String) -> Response {
    let state = &ctx.state;
    let t = ctx.t;
    let csrf = super::admin_session(state, &ctx.headers);
    let (agents, inventories) = if csrf.is_some() {
        let agents = match state.store.agents().await {
            Ok(a) => a,
            Err(e) => return failed(ctx, e),
        };
        let inventories = match state.store.inventories().await {
            Ok(i) => i.into_iter().map(|(n, _)| n).collect(),
            Err(e) => return failed(ctx, e),
        };
        (agent_rows(ctx, &agents), inventories)
    } else {
        (vec![], vec![])
    };
    let page = AdminPage {
        chrome: ctx.chrome("admin", t.admin_title.to_owned(), ""),
        configured: state.config.admin_token_hash.is_some(),
        signed_in: csrf.is_some(),
        csrf: csrf.unwrap_or_default(),
        notice,
        error,
        agents,
        inventories,
        stage_options: options(
            (0..5).map(|s| (s.to_string(), t.stage_label(Some(s)).to_owned())),
            "3",
        ),
        category_options: options(
            Category::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), t.category_label(*c).to_owned())),
            "",
        ),
    };
    html(status, &page)
}

pub async fn admin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<AdminQuery>,
) -> Response {
    let ctx = Ctx::new(state, &headers, &uri);
    let notice = if q.done.is_some() {
        ctx.t.done_ok.to_owned()
    } else {
        String::new()
    };
    admin_page(&ctx, StatusCode::OK, notice, String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn admin_login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let ctx = Ctx::new(state.clone(), &headers, &uri);
    if !same_origin(&headers) {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.forbidden.to_owned(),
        )
        .await;
    }
    let Some(expected) = state.config.admin_token_hash else {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.admin_not_configured.to_owned(),
        )
        .await;
    };
    if !same(&hash_token(&form.token), &expected) {
        tracing::warn!("a dashboard sign-in with a wrong admin token");
        return admin_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            String::new(),
            ctx.t.wrong_token.to_owned(),
        )
        .await;
    }
    let Some((id, _)) = state.sessions.start() else {
        return failed(&ctx, "the system random generator failed");
    };
    let secure = if state.config.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let mut r = see_other("/admin");
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Checks an admin form: a live session, the session's CSRF token, this origin.
fn admin_form(state: &AppState, headers: &HeaderMap, csrf: &str) -> bool {
    same_origin(headers)
        && super::admin_session(state, headers)
            .is_some_and(|expected| same(expected.as_bytes(), csrf.as_bytes()))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn admin_logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !admin_form(&state, &headers, &form.csrf) {
        let ctx = Ctx::new(state, &headers, &uri);
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.forbidden.to_owned(),
        )
        .await;
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.end(id);
    }
    let mut r = see_other("/admin");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("v6audit_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// Runs an admin action: refused (403) without a valid form; its error shown on the page.
async fn admin_action<F, Fut>(
    state: Arc<AppState>,
    headers: HeaderMap,
    uri: Uri,
    csrf: &str,
    action: F,
) -> Response
where
    F: FnOnce(Arc<AppState>) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let ctx = Ctx::new(state.clone(), &headers, &uri);
    if !admin_form(&state, &headers, csrf) {
        return admin_page(
            &ctx,
            StatusCode::FORBIDDEN,
            String::new(),
            ctx.t.forbidden.to_owned(),
        )
        .await;
    }
    match action(state).await {
        Ok(()) => see_other("/admin?done=1"),
        Err(e) => admin_page(&ctx, StatusCode::BAD_REQUEST, String::new(), e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct UploadForm {
    #[serde(default)]
    csrf: String,
    name: String,
    text: String,
}

pub async fn admin_upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<UploadForm>,
) -> Response {
    let csrf = form.csrf.clone();
    admin_action(state, headers, uri, &csrf, |state| async move {
        crate::api::store_inventory(&state, &form.name, form.text)
            .await
            .map(|_| ())
            .map_err(|e| e.0.message)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct CampaignForm {
    #[serde(default)]
    csrf: String,
    id: String,
    #[serde(default)]
    name: String,
    target_stage: u8,
    deadline: String,
    #[serde(default)]
    agencies: String,
    #[serde(default)]
    tags: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// A campaign made on the admin page is stored as an inventory of its own
/// (`campaign-ID`) that holds only the campaign, so it is validated, listed
/// and reloaded like any inventory.
fn campaign_inventory(form: &CampaignForm) -> String {
    let categories: Vec<&str> = Category::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| form.rest.contains_key(&format!("category_{c}")))
        .collect();
    let agencies: Vec<&str> = form
        .agencies
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tags: Vec<&str> = form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut campaign = serde_json::json!({
        "id": form.id.trim(),
        "target_stage": form.target_stage,
        "deadline": form.deadline.trim(),
        "select": {},
    });
    if !form.name.trim().is_empty() {
        campaign["name"] = form.name.trim().into();
    }
    if !categories.is_empty() {
        campaign["select"]["categories"] = categories.into();
    }
    if !agencies.is_empty() {
        campaign["select"]["agencies"] = agencies.into();
    }
    if !tags.is_empty() {
        campaign["select"]["tags"] = tags.into();
    }
    // JSON is YAML: the inventory parser reads it with its line and field errors.
    serde_json::to_string_pretty(&serde_json::json!({
        "schema": v6audit_model::inventory::INVENTORY_SCHEMA,
        "name": format!("campaign {}", form.id.trim()),
        "portals": [],
        "campaigns": [campaign],
    }))
    .unwrap_or_default()
}

pub async fn admin_campaign(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CampaignForm>,
) -> Response {
    let csrf = form.csrf.clone();
    admin_action(state, headers, uri, &csrf, |state| async move {
        let text = campaign_inventory(&form);
        let name = format!("campaign-{}", form.id.trim());
        crate::api::store_inventory(&state, &name, text)
            .await
            .map(|_| ())
            .map_err(|e| e.0.message)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    agent: String,
}

pub async fn admin_revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<RevokeForm>,
) -> Response {
    let csrf = form.csrf.clone();
    admin_action(state, headers, uri, &csrf, |state| async move {
        match state.store.revoke_agent(&form.agent, now_ms()).await {
            Ok(true) => {
                tracing::info!(agent = %form.agent, "token revoked on the dashboard");
                Ok(())
            }
            Ok(false) => Err(format!("no agent named `{}`", form.agent)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}
