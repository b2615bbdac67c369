//! One agency: its rank, its portals' progress chart and its portals, most
//! urgent first.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;

use super::{
    PageResult, RankRow, YearQuery, error_page, failed, portal_href, progress_chart, rank_row,
    ranking_day, since_first_measured, stage_class,
};
use crate::dashboard::{CHART_DAYS, Chrome, PageContext, html};
use crate::projections;
use crate::queries::snapshot;
use crate::views::{self, Group, PortalView};

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

pub(crate) async fn agency(ctx: PageContext, Query(q): Query<YearQuery>) -> Response {
    agency_inner(&ctx, q.name.unwrap_or_default())
        .await
        .unwrap_or_else(|r| r)
}

async fn agency_inner(ctx: &PageContext, name: String) -> PageResult {
    let t = ctx.t;
    let state = &ctx.state;
    let s = snapshot(state).await.map_err(|e| failed(ctx, e))?;
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
    let ranking = projections::ranking(state, views::day_of_date(end))
        .await
        .map_err(|e| failed(ctx, e))?;
    let rank = ranking
        .iter()
        .find(|r| r.agency == name)
        .map(|r| rank_row(ctx, r));
    let from = end - time::Duration::days(CHART_DAYS - 1);
    let progress = projections::progress(state, from, end, Group::Agency)
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
