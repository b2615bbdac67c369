//! The collector's HTTP API (axum): ingest, the views, health, metrics, the
//! OpenAPI document, and the administrator's inventory upload, as routes
//! that `router.rs` mounts. Every error answers JSON naming the problem.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use time::Date;
use v6audit_model::{Finding, Lang, Observation};

pub use crate::answer::ApiError;
use crate::catalog::Catalog;
use crate::config::hash_token;
use crate::ingest::{self, Refusal};
use crate::metrics::{self, Counters};
use crate::queries::snapshot;
pub use crate::state::AppState;
use crate::state::now_ms;
use crate::store::{Agent, NewReport, Storage};
use crate::views::{self, Group};

/// The OpenAPI document of the API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Seconds a client is told to wait when the database is busy.
const BUSY_RETRY_AFTER_S: u32 = 5;

/// A failure on our side. Its details go to the log only; the client reads
/// that the database is busy (503 with `Retry-After`: try again) or that
/// something failed (500), never the internal error text.
fn internal(e: impl std::fmt::Display + 'static) -> ApiError {
    let busy = (&e as &dyn std::any::Any)
        .downcast_ref::<crate::store::StoreError>()
        .is_some_and(crate::store::StoreError::is_busy);
    if busy {
        tracing::warn!(error = %e, "database busy; answered 503");
        return ApiError(Refusal::busy(
            "the database is busy; retry later",
            BUSY_RETRY_AFTER_S,
        ));
    }
    tracing::error!(error = %e, "internal error");
    ApiError(Refusal::new(
        500,
        "internal",
        "internal error; the collector's log has the details",
    ))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The agent behind a request's token.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Agent, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError(Refusal::new(
            401,
            "unauthorized",
            "missing `Authorization: Bearer TOKEN`",
        )));
    };
    match state
        .store
        .agent_for_token(&hash_token(token))
        .await
        .map_err(internal)?
    {
        None => Err(ApiError(Refusal::new(401, "unauthorized", "unknown token"))),
        Some(a) if a.revoked_ms.is_some() => Err(ApiError(Refusal::new(
            401,
            "unauthorized",
            format!("the token of agent `{}` was revoked", a.name),
        ))),
        Some(a) => Ok(a),
    }
}

fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.config.admin_token_hash else {
        return Err(ApiError(Refusal::new(
            403,
            "forbidden",
            "no admin token is configured (admin_token_file, V6AUDIT_COLLECTOR_ADMIN_TOKEN, or /etc/v6audit/admin.token under systemd)",
        )));
    };
    match bearer(headers) {
        Some(t) if hash_token(t) == expected => Ok(()),
        _ => Err(ApiError(Refusal::new(
            401,
            "unauthorized",
            "this needs the admin token",
        ))),
    }
}

/// The read API: what a viewer reads, put behind the dashboard's access
/// rule by the router.
pub(crate) fn read_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/portals", get(portals))
        .route("/api/v1/portals/{id}", get(portal))
        .route("/api/v1/portals/{id}/history", get(history))
        .route("/api/v1/progress", get(progress))
        .route("/api/v1/priorities", get(priorities))
        .route("/api/v1/ranking", get(ranking))
        .route("/api/v1/campaigns", get(campaigns))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/agents", get(agents))
        .route("/api/v1/export.csv", get(export_csv))
}

/// Health, metrics, ingest (agents' tokens), the inventory (agents) and its
/// upload (the admin token), and the OpenAPI document: each checks its own
/// credentials.
pub(crate) fn own_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .route("/api/v1/reports", post(ingest_handler))
        .route("/api/v1/inventory", get(inventory))
        .route("/api/v1/inventories/{name}", put(upload_inventory))
        .route(
            "/api/v1/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
}

/// The API's answer for a path it does not have.
pub(crate) fn no_such_endpoint() -> Response {
    ApiError(Refusal::new(
        404,
        "not_found",
        "no such endpoint; see /api/v1/openapi.json",
    ))
    .into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"ready": true, "database": state.store.backend()})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"ready": false, "error": "database", "message": "the database does not answer; the collector's log has the details"})),
            )
                .into_response()
        }
    }
}

async fn metrics_handler(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    let text = metrics::render(&state.counters, &s.views, &s.agents);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn ingest_handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match ingest_inner(&state, &headers, body).await {
        Ok((r, from_day)) => {
            crate::projections::ingested(&state, from_day).await;
            r
        }
        Err(ApiError(refusal)) => {
            if refusal.status == 429 {
                Counters::add(&state.counters.rate_limited, 1);
            } else {
                Counters::add(&state.counters.reports_rejected, 1);
            }
            ApiError(refusal).into_response()
        }
    }
}

/// Why a body was not read, as an answer.
fn unread(e: crate::body::Unread, limit: usize) -> ApiError {
    use crate::body::Unread;
    ApiError(match e {
        Unread::TooLarge => Refusal::new(
            413,
            "too_large",
            format!("the body is larger than the limit of {} MiB", limit >> 20),
        ),
        Unread::OverBudget => Refusal::busy(
            "the collector is reading too many bodies at once; retry later",
            crate::body::RETRY_AFTER_S,
        ),
        Unread::Stalled => Refusal::new(408, "timeout", "the body stopped arriving"),
        Unread::Broken => Refusal::new(400, "bad_body", "the body could not be read"),
    })
}

/// The answer, and the earliest day the stored results fall on.
async fn ingest_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, Option<i64>), ApiError> {
    let limit = state.config.body_limit;
    // A refusal before the body is read drains it, keeping none of it, so
    // the sender gets the answer rather than a connection reset mid-upload.
    let agent = match authenticate(state, headers).await {
        Ok(a) => a,
        Err(refusal) => {
            crate::body::drain(body, limit).await;
            return Err(refusal);
        }
    };
    if let Err(wait_s) = state.allow(&agent.name) {
        crate::body::drain(body, limit).await;
        return Err(ApiError(Refusal {
            retry_after: Some(wait_s),
            ..Refusal::new(
                429,
                "rate_limited",
                format!(
                    "agent `{}` sends more than {} reports a minute; retry later",
                    agent.name, state.config.reports_per_minute
                ),
            )
        }));
    }
    // Held, with the memory it stands for, until the answer is sent. A body
    // over the limit is read on and dropped up to four times the limit, so
    // its sender gets the 413; past that the connection closes.
    let (bytes, _held) = crate::body::read(
        body,
        limit,
        limit.saturating_mul(3),
        &state.bodies,
        state.config.idle_timeout,
    )
    .await
    .map_err(|e| unread(e, limit))?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let mut inflated_held = crate::body::Held::default();
    let inflated;
    let body: &[u8] = if gzip {
        let budget = &state.bodies;
        inflated = ingest::gunzip(&bytes, limit, &mut |n| {
            budget.grow_to(&mut inflated_held, n)
        })
        .map_err(ApiError)?;
        &inflated
    } else {
        &bytes
    };
    let report = ingest::parse(body).map_err(ApiError)?;
    let pack = state.pack();
    let catalog = state.catalog();
    let results = ingest::judge(&report, &pack, &catalog).map_err(internal)?;
    let meta = NewReport {
        id: report.id.to_string(),
        agent: agent.name.clone(),
        received_ms: now_ms(),
        generated_ms: i64::try_from(report.generated_at.unix_timestamp_nanos() / 1_000_000)
            .unwrap_or(0),
    };
    let offset = i64::from(state.config.utc_offset.whole_seconds());
    let done = state
        .store
        .ingest(&meta, &results, &ingest::derive_events, offset)
        .await
        .map_err(internal)?;
    Counters::add(&state.counters.reports_accepted, 1);
    Counters::add(&state.counters.results_stored, done.stored as u64);
    Counters::add(&state.counters.results_duplicate, done.duplicates as u64);
    state.webhooks.send(&done.events);
    tracing::info!(agent = %agent.name, report = %meta.id, stored = done.stored, duplicates = done.duplicates, "report stored");
    let from_day = results
        .iter()
        .map(|r| crate::store::day_of(r.observed_ms, offset))
        .min();
    Ok((
        Json(json!({
            "report": meta.id,
            "stored": done.stored,
            "duplicates": done.duplicates,
            "events": done.events.len(),
        }))
        .into_response(),
        from_day,
    ))
}

async fn inventory(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers).await?;
    Ok(Json(state.catalog().inventory_json()).into_response())
}

async fn upload_inventory(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    use crate::body::FORM_LIMIT;
    if let Err(refusal) = admin(&state, &headers) {
        crate::body::drain(body, FORM_LIMIT).await;
        return Err(refusal);
    }
    let (body, _held) = crate::body::read(
        body,
        FORM_LIMIT,
        FORM_LIMIT,
        &state.bodies,
        state.config.idle_timeout,
    )
    .await
    .map_err(|e| unread(e, FORM_LIMIT))?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError(Refusal::new(
            400,
            "invalid_inventory",
            "the inventory is not UTF-8",
        ))
    })?;
    Ok(Json(store_inventory(&state, &name, text).await?).into_response())
}

/// Validates an inventory (alone, then with every other one), stores it and
/// makes it the catalog's; nothing is stored when it is refused.
pub(crate) async fn store_inventory(
    state: &AppState,
    name: &str,
    text: String,
) -> Result<serde_json::Value, ApiError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError(Refusal::new(
            400,
            "invalid_name",
            "inventory names are 1 to 64 letters, digits, - and _",
        )));
    }
    let source = format!("uploaded:{name}");
    let parsed = v6audit_model::Inventory::parse(&text, &source).map_err(|e| {
        let mut r = Refusal::new(400, "invalid_inventory", e.to_string());
        r.field = e.errors().first().and_then(|x| x.field.clone());
        ApiError(r)
    })?;
    // Check the whole catalog builds with it before storing anything.
    let mut uploaded = state.store.inventories().await.map_err(internal)?;
    uploaded.retain(|(n, _)| n != name);
    uploaded.push((name.to_owned(), text.clone()));
    let catalog = Catalog::build(&state.config.inventories, &uploaded)
        .map_err(|e| ApiError(Refusal::new(400, "invalid_inventory", e.to_string())))?;
    state
        .store
        .put_inventory(name, &text, now_ms())
        .await
        .map_err(internal)?;
    state.set_catalog(catalog);
    tracing::info!(inventory = %name, portals = parsed.portals.len(), "inventory uploaded");
    Ok(
        json!({"inventory": name, "portals": parsed.portals.len(), "campaigns": parsed.campaigns.len()}),
    )
}

async fn portals(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    Ok(Json(json!({"portals": s.views})).into_response())
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<Lang>,
}

async fn portal(
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
struct Range {
    from: Option<String>,
    to: Option<String>,
    group: Option<String>,
    year: Option<i32>,
}

fn parse_date(field: &str, s: &str) -> Result<Date, ApiError> {
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
fn date_range(
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

async fn history(
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
                "stage": p.stage,
                "stage_name": views::stage_name(p.stage),
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

async fn progress(
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
    let series = state
        .projections
        .progress(&state, from, to, group)
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

async fn priorities(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = snapshot(&state).await.map_err(internal)?;
    let list: Vec<_> = views::priorities(&s.views)
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({"rank": i + 1, "portal": v.portal, "combined": v.combined}))
        .collect();
    Ok(Json(json!({"priorities": list})).into_response())
}

async fn ranking(
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
    let list = state
        .projections
        .ranking(&state, views::day_of_date(end))
        .await
        .map_err(internal)?;
    Ok(Json(json!({"year": year, "as_of": end.to_string(), "method": views::RANKING_METHOD, "ranking": list})).into_response())
}

async fn campaigns(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let today = views::day_of_date(views::today(state.config.utc_offset));
    let list = state
        .projections
        .campaigns(&state, today)
        .await
        .map_err(internal)?;
    Ok(Json(json!({"campaigns": list})).into_response())
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn changes(
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
                "from_stage": e.from_stage,
                "to_stage": e.to_stage,
                "rule": e.rule,
                "message": e.message,
            })
        })
        .collect();
    Ok(Json(json!({"changes": list})).into_response())
}

async fn agents(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
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
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    v6audit_report::csv_cell(s)
}

async fn export_csv(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
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
            v.combined.stage.map_or(String::new(), |s| s.to_string()),
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
