//! The changes: every event (stages lost and gained, rules regressed),
//! newest first, by kind, a page at a time.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ChangeRow, PageResult, change_row, failed};
use crate::dashboard::{Chrome, PageContext, html};
use crate::store::{EventFilter, Storage};

#[derive(Debug, Deserialize)]
pub(crate) struct ChangesQuery {
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

pub(crate) async fn changes(ctx: PageContext, Query(q): Query<ChangesQuery>) -> Response {
    changes_inner(&ctx, q).await.unwrap_or_else(|r| r)
}

async fn changes_inner(ctx: &PageContext, q: ChangesQuery) -> PageResult {
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
