//! An error answer of the collector's HTTP side: a `Refusal` as JSON
//! `{error, message, field?}` with its status, and `Retry-After` for 429
//! and 503. Shared by the API and the reading of request bodies (`body.rs`),
//! below both.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ingest::Refusal;

/// An error answer: JSON `{error, message, field?}`.
#[derive(Debug)]
pub struct ApiError(pub Refusal);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let retry_after = self.0.retry_after;
        let mut r = (status, Json(self.0)).into_response();
        if let Some(s) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
