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

mod inventory;
mod read;
mod reports;

pub(crate) use inventory::store_inventory;
use inventory::*;
use read::*;
use reports::*;

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
pub const OPENAPI: &str = include_str!("../../openapi.json");

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
