//! Request bodies, read within bounds: each body up to its own limit, all
//! the bodies being read at once within the state's memory budget
//! (`budget.rs`; a body that finds it spent is answered 503 with
//! `Retry-After`), a stalled body given up, and a refused body drained
//! without being kept. Above the state: its middleware reads the budget
//! from it.
//!
//! A body is drained, not just dropped, so that its sender reads the answer
//! (401, 413, 429, 503) rather than a connection reset mid-upload; draining
//! keeps nothing, and stops after a bounded number of bytes and seconds,
//! after which hyper closes the connection.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes, HttpBody as _};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::answer::ApiError;
use crate::budget::{Budget, Held, RETRY_AFTER_S};
use crate::ingest::Refusal;
use crate::state::AppState;

/// The longest a refused body is drained.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The largest body of a dashboard form or an inventory upload: axum's
/// default body limit, which these routes have always had.
pub const FORM_LIMIT: usize = 2 << 20;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Longer than its limit.
    TooLarge,
    /// The memory budget could not hold it.
    OverBudget,
    /// Its next piece did not come in time.
    Stalled,
    /// The connection failed mid-body.
    Broken,
}

/// Reads a body of at most `limit` bytes, taking the memory it needs from
/// `budget` as it arrives (all at once when the length is declared). A body
/// over the limit, or one the budget cannot hold, is drained for at most
/// `drain_bytes` more and refused; one whose next piece takes longer than
/// `stall` is given up. The bytes stay taken until the [`Held`] is dropped.
pub async fn read(
    body: Body,
    limit: usize,
    drain_bytes: usize,
    budget: &Budget,
    stall: Duration,
) -> Result<(Bytes, Held), Unread> {
    let declared = body.size_hint().exact();
    let mut stream = body.into_data_stream();
    let mut held = Held::default();
    let mut buf: Vec<u8> = Vec::new();
    if let Some(n) = declared.and_then(|n| usize::try_from(n).ok()) {
        if n > limit {
            drain_stream(stream, drain_bytes).await;
            return Err(Unread::TooLarge);
        }
        if !budget.take(&mut held, n) {
            drain_stream(stream, drain_bytes).await;
            return Err(Unread::OverBudget);
        }
        buf.reserve_exact(n);
    }
    loop {
        let chunk = match tokio::time::timeout(stall, stream.next()).await {
            Err(_) => return Err(Unread::Stalled),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Unread::Broken),
            Ok(Some(Ok(chunk))) => chunk,
        };
        let need = buf.len().saturating_add(chunk.len());
        if need > limit {
            drop((buf, held));
            drain_stream(stream, drain_bytes).await;
            return Err(Unread::TooLarge);
        }
        if need > buf.capacity() {
            // Grow as a Vec would (doubling), but count the memory first.
            let capacity = need.max(buf.capacity().saturating_mul(2)).min(limit);
            if !budget.grow_to(&mut held, capacity) {
                drop((buf, held));
                drain_stream(stream, drain_bytes).await;
                return Err(Unread::OverBudget);
            }
            buf.reserve_exact(capacity - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(buf), held))
}

/// Reads a refused body and throws it away, for at most `max_bytes` and
/// [`DRAIN_TIME`].
pub async fn drain(body: Body, max_bytes: usize) {
    drain_stream(body.into_data_stream(), max_bytes).await;
}

async fn drain_stream(mut stream: BodyDataStream, max_bytes: usize) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen: usize = 0;
        while let Some(Ok(chunk)) = stream.next().await {
            seen = seen.saturating_add(chunk.len());
            if seen > max_bytes {
                break;
            }
        }
    })
    .await;
}

/// The answer to a body the budget cannot hold: 503, with `Retry-After`.
pub fn over_budget() -> Response {
    ApiError(Refusal::busy(
        "the collector is reading too many bodies at once; retry later",
        RETRY_AFTER_S,
    ))
    .into_response()
}

/// A middleware for routes whose handlers read the body through axum's
/// extractors (forms): takes the declared length, or [`FORM_LIMIT`] when
/// none is declared, from the budget for the whole request, or answers 503.
pub async fn reserve(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let hint = req.body().size_hint();
    let n = match hint.exact() {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(FORM_LIMIT),
        None => FORM_LIMIT,
    };
    let mut held = Held::default();
    if !state.bodies.take(&mut held, n) {
        let (_, body) = req.into_parts();
        drain(body, FORM_LIMIT).await;
        return over_budget();
    }
    let response = next.run(req).await;
    drop(held);
    response
}
