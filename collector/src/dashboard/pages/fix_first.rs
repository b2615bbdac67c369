//! Fix first: portals below stage 3, most urgent first, each with its
//! priority's parts and the plan's problems and steps for the vantage that
//! sees it at its worst.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use v6audit_model::{Observation, PortalResult, Stage};

use super::{PageResult, PriorityWhy, failed, portal_href, priority_why, stage_class};
use crate::dashboard::markup::inline_code;
use crate::dashboard::text::Texts;
use crate::dashboard::{Chrome, PageContext, html};
use crate::queries::snapshot;
use crate::store::Storage;
use crate::views;

#[derive(Debug, Deserialize)]
pub(crate) struct FixQuery {
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

pub(crate) async fn fix_first(ctx: PageContext, Query(q): Query<FixQuery>) -> Response {
    fix_inner(&ctx, q.all.is_some()).await.unwrap_or_else(|r| r)
}

async fn fix_inner(ctx: &PageContext, all: bool) -> PageResult {
    let t = ctx.t;
    let state = &ctx.state;
    let s = snapshot(state).await.map_err(|e| failed(ctx, e))?;
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
            // The stored verdict, worded in the page's language: not judged again.
            let verdict = crate::findings::verdict_in(&pack, &r.verdict, ctx.lang)
                .map_err(|e| failed(ctx, e))?;
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
                (item.problems, item.steps) = plan_rows(t, pi);
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

/// A portal's problems and steps in the plan, in the page's words.
fn plan_rows(t: &Texts, pi: v6audit_rules::plan::PlanItem) -> (Vec<ProblemRow>, Vec<StepRow>) {
    let problems = pi
        .problems
        .into_iter()
        .map(|x| ProblemRow {
            rule: x.rule,
            status: x.status.as_str(),
            status_label: t.status_label(x.status),
            message: x.message,
        })
        .collect();
    let steps = pi
        .steps
        .into_iter()
        .map(|x| StepRow {
            title: x.title,
            text: inline_code(&x.text),
            verify: inline_code(&x.verify),
        })
        .collect();
    (problems, steps)
}
