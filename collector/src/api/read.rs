//! The read API: portals, a portal and its history, progress, priorities,
//! ranking, campaigns, changes, agents and the CSV export, in JSON (and
//! CSV), from the same views and projections the dashboard shows.

use super::*;

pub(super) async fn portals(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    Ok(Json(json!({"portals": s.views})).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct LangQuery {
    lang: Option<Lang>,
}

pub(super) async fn portal(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    let Some(view) = s.views.into_iter().find(|v| v.portal.id == id) else {
        return Err(ApiError(Refusal::new(
            404,
            "not_found",
            format!("no portal `{id}`"),
        )));
    };
    let lang = q.lang.unwrap_or_default();
    let pack = state.pack();
    let mut details = Vec::new();
    for v in &view.vantages {
        let Some(r) = state.store.result(&v.result_id).await.map_err(internal)? else {
            continue;
        };
        let observation: Observation = serde_json::from_str(&r.observation).map_err(internal)?;
        // Worded in `lang` from the stored outcomes, not judged again.
        let findings: Vec<Finding> =
            crate::findings::findings_in(&pack, &r.verdict.findings, lang).map_err(internal)?;
        details.push(json!({
            "agent": v.agent,
            "vantage": v.vantage,
            "stage": v.stage,
            "stage_name": v.stage_name,
            "stage_certain": v.stage_certain,
            "score": v.score,
            "observed_at": v.observed_at,
            "result_id": v.result_id,
            "findings": findings,
            "observation": observation,
        }));
    }
    Ok(Json(json!({
        "portal": view.portal,
        "in_inventory": view.in_inventory,
        "combined": view.combined,
        "vantages": details,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct Range {
    from: Option<String>,
    to: Option<String>,
    group: Option<String>,
    year: Option<i32>,
}

pub(super) fn parse_date(field: &str, s: &str) -> Result<Date, ApiError> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| {
        let mut r = Refusal::new(
            400,
            "invalid_query",
            format!("`{s}` is not a date; write YYYY-MM-DD"),
        );
        r.field = Some(field.to_owned());
        ApiError(r)
    })
}

/// `from` and `to` of a query: `to` defaults to today, `from` to
/// `default_days` before `to`.
pub(super) fn date_range(
    q: &Range,
    offset: time::UtcOffset,
    default_days: i64,
) -> Result<(Date, Date), ApiError> {
    let to =
        q.to.as_deref()
            .map(|s| parse_date("to", s))
            .transpose()?
            .unwrap_or_else(|| views::today(offset));
    let from = q
        .from
        .as_deref()
        .map(|s| parse_date("from", s))
        .transpose()?
        .unwrap_or(to - time::Duration::days(default_days));
    Ok((from, to))
}

pub(super) async fn history(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<Range>,
) -> Result<Response, ApiError> {
    let offset = state.config.utc_offset;
    let (from, to) = date_range(&q, offset, 365)?;
    let start = from.midnight().assume_offset(offset).unix_timestamp() * 1000;
    let end = (to.midnight().assume_offset(offset).unix_timestamp() + 86_400) * 1000 - 1;
    let points = state
        .store
        .history(&id, start, end)
        .await
        .map_err(internal)?;
    let points: Vec<_> = points
        .iter()
        .map(|p| {
            json!({
                "observed_at": views::rfc3339(p.observed_ms),
                "agent": p.agent,
                "stage": p.stage.number(),
                "stage_name": p.stage.name(),
                "stage_certain": p.stage_certain,
                "score": p.score,
                "result_id": p.result_id,
            })
        })
        .collect();
    Ok(Json(
        json!({"portal": id, "from": from.to_string(), "to": to.to_string(), "history": points}),
    )
    .into_response())
}

pub(super) async fn progress(
    State(state): State<Arc<AppState>>,
    Query(q): Query<Range>,
) -> Result<Response, ApiError> {
    let (from, to) = date_range(&q, state.config.utc_offset, 90)?;
    if from > to || (to - from).whole_days() > 3660 {
        let mut r = Refusal::new(
            400,
            "invalid_query",
            "`from` must be before `to`, at most ten years apart",
        );
        r.field = Some("from".to_owned());
        return Err(ApiError(r));
    }
    let group = match q.group.as_deref() {
        None | Some("all") => Group::All,
        Some("agency") => Group::Agency,
        Some("category") => Group::Category,
        Some("tag") => Group::Tag,
        Some(other) => {
            let mut r = Refusal::new(
                400,
                "invalid_query",
                format!("unknown group `{other}` (agency, category, tag)"),
            );
            r.field = Some("group".to_owned());
            return Err(ApiError(r));
        }
    };
    let series = crate::projections::progress(&state, from, to, group)
        .await
        .map_err(internal)?;
    Ok(Json(json!({
        "group": q.group.as_deref().unwrap_or("all"),
        "from": from.to_string(),
        "to": to.to_string(),
        "series": series,
    }))
    .into_response())
}

pub(super) async fn priorities(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    let list: Vec<_> = views::priorities(&s.views)
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({"rank": i + 1, "portal": v.portal, "combined": v.combined}))
        .collect();
    Ok(Json(json!({"priorities": list})).into_response())
}

pub(super) async fn ranking(
    State(state): State<Arc<AppState>>,
    Query(q): Query<Range>,
) -> Result<Response, ApiError> {
    let today = views::today(state.config.utc_offset);
    let year = q.year.unwrap_or(today.year());
    let end = views::ranking_end(today, year).ok_or_else(|| {
        ApiError(Refusal::new(
            400,
            "invalid_query",
            format!("{year} is not a year"),
        ))
    })?;
    let list = crate::projections::ranking(&state, views::day_of_date(end))
        .await
        .map_err(internal)?;
    Ok(Json(json!({"year": year, "as_of": end.to_string(), "method": views::RANKING_METHOD, "ranking": list})).into_response())
}

pub(super) async fn campaigns(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let today = views::day_of_date(views::today(state.config.utc_offset));
    let list = crate::projections::campaigns(&state, today)
        .await
        .map_err(internal)?;
    Ok(Json(json!({"campaigns": list})).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangesQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

pub(super) async fn changes(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let events = match q.after {
        Some(after) => state.store.events(after, limit).await,
        None => state.store.recent_events(limit).await,
    }
    .map_err(internal)?;
    let list: Vec<_> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": views::rfc3339(e.at_ms),
                "portal": e.portal_id,
                "agent": e.agent,
                "kind": e.kind,
                "from_stage": e.from_stage.map(|s| s.number()),
                "to_stage": e.to_stage.number(),
                "rule": e.rule,
                "message": e.message,
            })
        })
        .collect();
    Ok(Json(json!({"changes": list})).into_response())
}

pub(super) async fn agents(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let list: Vec<_> = state
        .store
        .agents()
        .await
        .map_err(internal)?
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "vantage": a.vantage,
                "created_at": views::rfc3339(a.created_ms),
                "revoked": a.revoked_ms.is_some(),
                "last_report_at": a.last_report_ms.map(views::rfc3339),
            })
        })
        .collect();
    Ok(Json(json!({"agents": list})).into_response())
}

/// One CSV cell of the export: OWASP formula neutralisation and RFC 4180
/// quoting, the same as the agent's `--format csv` (a name or an agency
/// comes from an inventory or an agent's report).
pub(super) fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    v6audit_report::csv_cell(s)
}

pub(super) async fn export_csv(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    let mut out = String::from(
        "id,url,name,agency,category,stage,stage_name,reachable_from,vantages,priority\r\n",
    );
    for v in &s.views {
        let p = &v.portal;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\r\n",
            csv_field(&p.id),
            csv_field(&p.url),
            csv_field(p.name.as_deref().unwrap_or("")),
            csv_field(p.agency.as_deref().unwrap_or("")),
            p.category,
            v.combined
                .stage
                .map_or(String::new(), |s| s.number().to_string()),
            v.combined.stage_name.unwrap_or("unmeasured"),
            v.combined.reachable_from,
            v.combined.vantages,
            v.combined.priority,
        ));
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"v6audit-portals.csv\""),
    );
    Ok(resp)
}
