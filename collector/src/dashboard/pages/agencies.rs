//! The agencies' ranking by readiness index, for a year.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use v6audit_model::Stage;

use super::{
    Opt, PageResult, RankRow, YearQuery, failed, options, rank_row, ranking_day, stage_class,
};
use crate::dashboard::{Chrome, PageContext, html};
use crate::projections;
use crate::views;

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

pub(crate) async fn agencies(ctx: PageContext, Query(q): Query<YearQuery>) -> Response {
    agencies_inner(&ctx, q.year).await.unwrap_or_else(|r| r)
}

async fn agencies_inner(ctx: &PageContext, year: Option<i32>) -> PageResult {
    let t = ctx.t;
    let (year, end) = ranking_day(ctx, year);
    let list = projections::ranking(&ctx.state, views::day_of_date(end))
        .await
        .map_err(|e| failed(ctx, e))?;
    let this_year = views::today(ctx.state.config.utc_offset).year();
    let mut stage_heads: Vec<StageHead> = Stage::ALL
        .into_iter()
        .map(|s| StageHead {
            class: stage_class(Some(s)),
            short: STAGE_NUMBERS[usize::from(s.number())],
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
