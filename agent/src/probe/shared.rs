//! Facts many portals of a run share (a mail server's session, a
//! sub-resource host's address and connect): each made once a run, even when
//! portals ask for it at the same moment, and bounded: past its size the
//! cache starts again (what is asked after that is made again).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// The most facts of one kind a run keeps.
pub const MAX_SHARED: usize = 4096;

/// Facts by key, each made once.
#[derive(Debug)]
pub struct Shared<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Shared<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V> Shared<K, V> {
    /// The cell of `key`: the first to ask fills it, the others wait for it.
    pub fn cell(&self, key: K) -> Arc<OnceCell<V>> {
        // A poisoned lock only means another task panicked mid-insert; the map is still usable.
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        if cells.len() >= MAX_SHARED {
            cells.clear();
        }
        cells.entry(key).or_default().clone()
    }

    /// The fact of `key`, made by `make` if no portal has asked for it yet,
    /// waited for until `deadline` (the asking portal's): None when that
    /// came first. `make` runs on its own timeouts, so that the budget of
    /// the portal that asked first is not another portal's result.
    pub async fn within<F>(
        &self,
        key: K,
        make: impl FnOnce() -> F,
        deadline: tokio::time::Instant,
    ) -> Option<V>
    where
        F: std::future::Future<Output = V>,
        V: Clone,
    {
        let cell = self.cell(key);
        tokio::time::timeout_at(deadline, cell.get_or_init(make))
            .await
            .ok()
            .cloned()
    }

    /// Forgets every fact (a new run in the same process).
    pub fn clear(&self) {
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Facts kept now.
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fact_is_made_once_and_the_cache_stays_bounded() {
        let shared: Shared<usize, usize> = Shared::default();
        let made = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..3 {
            let v = shared
                .cell(7)
                .get_or_init(|| async {
                    made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    42
                })
                .await
                .to_owned();
            assert_eq!(v, 42);
        }
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        for k in 0..(MAX_SHARED + 10) {
            shared.cell(k);
        }
        assert!(shared.len() <= MAX_SHARED);
        shared.clear();
        assert!(shared.is_empty());
    }
}
