//! Regression webhooks: each configured URL gets a JSON POST for the events
//! it asked for, retried with backoff, from a bounded queue so a dead
//! receiver cannot make the collector grow.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::config::Webhook;
use crate::metrics::Counters;
use crate::store::Event;
use crate::views::rfc3339;

/// Events waiting to be sent; when full, new events are dropped and counted.
const QUEUE: usize = 1024;
/// Attempts per delivery, with backoff 1 s, 2 s, 4 s, 8 s between them.
const ATTEMPTS: u32 = 5;

/// Sends events to the configured webhooks in the background.
#[derive(Debug, Clone)]
pub struct Webhooks {
    tx: Option<mpsc::Sender<Event>>,
    counters: Arc<Counters>,
}

impl Webhooks {
    /// Starts the sender task (nothing when no webhook is configured).
    pub fn start(hooks: Vec<Webhook>, counters: Arc<Counters>) -> Self {
        if hooks.is_empty() {
            return Self { tx: None, counters };
        }
        let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("v6audit-collector/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        let c = counters.clone();
        tokio::spawn(async move {
            let Some(client) = client else { return };
            while let Some(event) = rx.recv().await {
                for hook in hooks.iter().filter(|h| h.events.contains(&event.kind)) {
                    let body = json!({
                        "event": event.kind,
                        "portal": event.portal_id,
                        "agent": event.agent,
                        "from_stage": event.from_stage.map(|s| s.number()),
                        "from_stage_name": event.from_stage.map(|s| s.name()),
                        "to_stage": event.to_stage.number(),
                        "to_stage_name": event.to_stage.name(),
                        "rule": event.rule,
                        "message": event.message,
                        "at": rfc3339(event.at_ms),
                        "id": event.id,
                    });
                    let mut delay = Duration::from_secs(1);
                    let mut sent = false;
                    for attempt in 1..=ATTEMPTS {
                        match client.post(hook.url.clone()).json(&body).send().await {
                            Ok(r) if r.status().is_success() => {
                                sent = true;
                                break;
                            }
                            Ok(r) => {
                                tracing::warn!(url = %hook.url, status = %r.status(), attempt, "webhook refused")
                            }
                            Err(e) => {
                                tracing::warn!(url = %hook.url, error = %e, attempt, "webhook failed")
                            }
                        }
                        if attempt < ATTEMPTS {
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                    }
                    Counters::add(
                        if sent {
                            &c.webhooks_sent
                        } else {
                            &c.webhooks_failed
                        },
                        1,
                    );
                }
            }
        });
        Self {
            tx: Some(tx),
            counters,
        }
    }

    /// Queues events; never waits.
    pub fn send(&self, events: &[Event]) {
        let Some(tx) = &self.tx else { return };
        for e in events {
            if tx.try_send(e.clone()).is_err() {
                Counters::add(&self.counters.webhooks_dropped, 1);
            }
        }
    }
}
