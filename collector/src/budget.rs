//! The memory budget of the request bodies being read at once: the bytes a
//! body needs are taken from it as they arrive and given back when the
//! answer is sent, never waited for. Held in the collector's state, below
//! it; `body.rs` reads bodies within it and ingest inflates gzip within it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a client is told to wait (`Retry-After`, in seconds) when the
/// memory budget is spent.
pub const RETRY_AFTER_S: u32 = 5;

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
