//! The signed-in administrators of the dashboard, in memory (a restart
//! signs them out): a session per cookie, each with its CSRF token, at most
//! `MAX_SESSIONS`, each for `SESSION_TTL`. Held in the collector's state,
//! below it; the dashboard starts, checks and ends them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::hash_token;

/// How long an administrator stays signed in.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; the oldest go first.
const MAX_SESSIONS: usize = 256;

/// An administrator's session.
#[derive(Debug, Clone)]
struct Session {
    expires: Instant,
    csrf: String,
}

/// The signed-in administrators, in memory (a restart signs them out).
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Starts a session: (cookie value, CSRF token).
    pub(crate) fn start(&self) -> Option<(String, String)> {
        let id = crate::new_token().ok()?;
        let csrf = crate::new_token().ok()?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            hash_token(&id),
            Session {
                expires: now + SESSION_TTL,
                csrf: csrf.clone(),
            },
        );
        Some((id, csrf))
    }

    /// The CSRF token of a live session.
    pub(crate) fn csrf(&self, id: &str) -> Option<String> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&hash_token(id))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    /// Ends a session (signing out).
    pub(crate) fn end(&self, id: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&hash_token(id));
    }
}
