//! The collector's router, the top of its layers: the API's routes and the
//! dashboard's pages, the read API behind the dashboard's access rule, the
//! body budget and security headers on pages, and one answer for a path
//! nobody serves (JSON under `/api/`, a page elsewhere).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::state::AppState;
use crate::{api, dashboard};

/// The collector's whole HTTP service: the API, the read API and pages behind the dashboard's
/// access rule, and one answer for a path nothing serves.
pub fn router(state: Arc<AppState>) -> Router {
    // What a viewer reads: the read API and the dashboard's pages, behind the
    // dashboard's access rule (open unless `dashboard.access: private`).
    let read = api::read_routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        dashboard::guard,
    ));
    let html = dashboard::pages(state.clone())
        .merge(dashboard::open_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::body::reserve,
        ))
        .layer(axum::middleware::from_fn(dashboard::security_headers));
    api::own_routes()
        .merge(read)
        .merge(html)
        .fallback(not_found)
        .with_state(state)
}

/// JSON under /api/, a page elsewhere.
async fn not_found(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        api::no_such_endpoint()
    } else {
        let mut r = dashboard::not_found(state, &headers, &uri);
        r.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(dashboard::CSP),
        );
        r
    }
}
