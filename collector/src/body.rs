//! Request bodies, read within bounds: each body up to its own limit, all
//! the bodies being read at once within one memory budget (the bytes a body
//! needs are taken from it as they arrive and given back when the answer is
//! sent; a body that finds it spent is answered 503 with `Retry-After`), a
//! stalled body given up, and a refused body drained without being kept.
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::answer::ApiError;
use crate::ingest::Refusal;
use crate::state::AppState;

/// The longest a refused body is drained.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// What a client is told to wait (`Retry-After`, in seconds) when the
/// memory budget is spent.
pub const RETRY_AFTER_S: u32 = 5;

/// The largest body of a dashboard form or an inventory upload: axum's
/// default body limit, which these routes have always had.
pub const FORM_LIMIT: usize = 2 << 20;

/// The memory budget for request bodies, shared by every request.
#[derive(Debug, Clone)]
pub struct Budget {
    bytes: Arc<Semaphore>,
}

/// Bytes taken from the budget; given back when dropped.
#[derive(Debug, Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    /// How many bytes are held.
    pub fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

impl Budget {
    /// A budget of `bytes` bytes.
    pub fn new(bytes: usize) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// The bytes not taken at the moment.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// Takes `n` more bytes into `held`, or says the budget cannot spare
    /// them (it never waits).
    pub fn take(&self, held: &mut Held, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let Ok(n) = u32::try_from(n) else {
            return false;
        };
        match self.bytes.clone().try_acquire_many_owned(n) {
            Ok(permit) => {
                match &mut held.0 {
                    Some(h) => h.merge(permit),
                    None => held.0 = Some(permit),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Makes `held` at least `n` bytes.
    pub fn grow_to(&self, held: &mut Held, n: usize) -> bool {
        let more = n.saturating_sub(held.bytes());
        self.take(held, more)
    }
}

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
