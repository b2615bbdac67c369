//! The agent daemon (`v6audit agent --config agent.yaml`): audits on a
//! schedule, keeps each report in the on-disk spool until the collector
//! acknowledges it, retries with exponential backoff while the collector is
//! away, and sends what a previous run left in the spool first. The loop is
//! here; `config.rs` reads `agent.yaml`, `schedule.rs` says when, `spool.rs`
//! keeps reports on disk, `push.rs` sends them, `parts.rs` cuts a run's results into reports of
//! bounded size as they finish, so that no run is held whole.

pub mod config;
pub mod parts;
pub mod push;
pub mod schedule;
pub mod spool;

pub use config::{AgentConfig, InventorySource};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use v6audit_model::{Inventory, Lang};
use v6audit_rules::Pack;

use crate::{Auditor, Event};
use parts::{Part, Parts};
use push::{PushError, Pusher};
use schedule::random_unit;
use spool::Spool;

/// What happened, for the log and for tests (which read it from stdout).
pub trait Log: Send + Sync {
    /// Records one line of text.
    fn line(&self, text: &str);
}

/// Writes log lines to standard output (a journal or a terminal): a line
/// may quote a portal or a collector's answer, so its control characters
/// are shown, not sent.
#[derive(Debug)]
pub struct Stdout;

impl Log for Stdout {
    fn line(&self, text: &str) {
        println!("{}", v6audit_report::terminal(text));
    }
}

/// The agent daemon.
#[derive(Debug)]
pub struct Daemon {
    config: AgentConfig,
    pusher: Pusher,
    spool: Spool,
    pack: Arc<Pack>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The collector's HTTP client could not be set up (its URL, or its CA file).
    #[error("collector client: {0}")]
    Client(String),
    /// The spool directory could not be created.
    #[error("spool {path}: {source}")]
    Spool {
        /// The spool directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The rule pack (`audit.rules`) did not load.
    #[error("invalid rule pack:\n{0}")]
    Pack(#[from] v6audit_rules::PackError),
}

/// First retry after 5 s, doubling to at most 10 min.
const BACKOFF_START: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(600);

impl Daemon {
    /// Sets up the collector's client, opens the spool and loads the pack, whose contact
    /// policy and address limit the settings then follow.
    pub fn new(config: AgentConfig) -> Result<Self, DaemonError> {
        let pusher = Pusher::new(
            &config.collector,
            &config.token,
            config.collector_ca.as_deref(),
            Duration::from_secs(60),
        )
        .map_err(DaemonError::Client)?;
        let spool = Spool::open(&config.spool_dir, config.spool_max_bytes).map_err(|source| {
            DaemonError::Spool {
                path: config.spool_dir.clone(),
                source,
            }
        })?;
        let pack = Arc::new(match &config.rules {
            Some(p) => Pack::load(p)?,
            None => Pack::default_pack(),
        });
        // The pack's allow-list is where the agent may connect besides
        // global addresses.
        let mut config = config;
        config.settings.follow_pack(&pack.params);
        Ok(Self {
            config,
            pusher,
            spool,
            pack,
        })
    }

    /// The spool the daemon keeps reports in.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Sends every spooled report, oldest first, until one must wait.
    /// Returns whether the spool is empty.
    pub async fn drain(&self, log: &dyn Log) -> bool {
        let pending = match self.spool.pending() {
            Ok(p) => p,
            Err(e) => {
                log.line(&format!(
                    "spool: cannot list {}: {e}",
                    self.spool.dir().display()
                ));
                return false;
            }
        };
        for path in pending {
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.trim_end_matches(".json.gz").to_owned())
                .unwrap_or_default();
            let body = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    log.line(&format!("spool: cannot read {}: {e}", path.display()));
                    return false;
                }
            };
            match self.pusher.push(body).await {
                Ok(acked) => {
                    if let Err(e) = self.spool.remove(&path) {
                        log.line(&format!("spool: cannot remove {}: {e}", path.display()));
                        return false;
                    }
                    log.line(&format!(
                        "acknowledged report {id}: {} stored, {} already stored",
                        acked.stored, acked.duplicates
                    ));
                }
                Err(PushError::Refused(why)) => {
                    let aside = self
                        .spool
                        .set_aside(&path)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    log.line(&format!("refused report {id}: {why}; kept in {aside}"));
                }
                Err(PushError::Retry(why)) => {
                    log.line(&format!("waiting: report {id} not sent: {why}"));
                    return false;
                }
            }
        }
        true
    }

    async fn inventory(&self) -> Result<Inventory, String> {
        match &self.config.inventory {
            InventorySource::File(p) => Inventory::load(p).map_err(|e| e.to_string()),
            InventorySource::Collector => {
                let url = self.pusher.url("inventory")?;
                let r = self
                    .pusher
                    .client()
                    .get(url.clone())
                    .bearer_auth(self.pusher.token())
                    .send()
                    .await
                    .map_err(|e| format!("cannot fetch {url}: {e}"))?;
                if !r.status().is_success() {
                    return Err(format!("{url} answered {}", r.status()));
                }
                let text = r
                    .text()
                    .await
                    .map_err(|e| format!("cannot read {url}: {e}"))?;
                Inventory::parse(&text, url.as_str()).map_err(|e| e.to_string())
            }
        }
    }

    /// Audits once and spools the report.
    pub async fn run_once(&self, log: &dyn Log) -> Result<(), String> {
        let mut inventory = self.inventory().await?;
        if let Some(shard) = self.config.shard {
            shard.retain(&mut inventory.portals);
        }
        let auditor = Auditor::new(self.config.settings.clone())
            .await
            .map_err(|e| e.to_string())?;
        let source = match &self.config.inventory {
            InventorySource::File(p) => p.display().to_string(),
            InventorySource::Collector => "collector".to_owned(),
        };
        // Results go to the spool in parts as they finish: the run holds
        // at most one part, whatever the inventory's size.
        let mut head = auditor.report_head(&self.pack, &self.config.agent_id, Some(source.clone()));
        head.agent.shard = self.config.shard;
        let mut parts = Parts::new(head);
        let spool = |part: Part| -> Result<(), String> {
            self.spool
                .put(&part.id.to_string(), &part.gzip)
                .map_err(|e| format!("cannot spool the report: {e}"))?;
            log.line(&format!(
                "audited report {}: {} results",
                part.id, part.results
            ));
            Ok(())
        };
        auditor
            .audit_streamed(
                inventory.portals,
                self.pack.clone(),
                Lang::En,
                &self.config.agent_id,
                Some(source),
                |event| {
                    if let Event::Finished { result, .. } = event
                        && let Some(part) = parts
                            .add(&result)
                            .map_err(|e| format!("cannot write the report: {e}"))?
                    {
                        spool(part)?;
                    }
                    Ok::<(), String>(())
                },
            )
            .await?;
        if let Some(part) = parts
            .finish()
            .map_err(|e| format!("cannot write the report: {e}"))?
        {
            spool(part)?;
        }
        Ok(())
    }

    /// One audit and one delivery attempt, for a systemd timer (the timer is
    /// the schedule): sends what earlier runs left, audits, sends again. An
    /// error says the audit failed or reports wait in the spool for the next
    /// run; nothing is lost either way.
    pub async fn once(&self, log: &dyn Log) -> Result<(), String> {
        self.drain(log).await;
        self.run_once(log).await?;
        if self.drain(log).await {
            Ok(())
        } else {
            let waiting = self.spool.pending().map_or(0, |p| p.len());
            Err(format!(
                "{waiting} report(s) wait in {} for the collector",
                self.spool.dir().display()
            ))
        }
    }

    /// Runs on the schedule; with `runs`, stops after that many audits once
    /// the spool is empty. Returns when `stop` resolves too.
    pub async fn run(
        &self,
        runs: Option<u64>,
        log: &dyn Log,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let mut stop = std::pin::pin!(stop);
        let mut backoff = BACKOFF_START;
        let mut done_runs = 0u64;
        let mut next_run = tokio::time::Instant::now();
        // A restarted agent first sends what it left behind.
        let mut empty = self.drain(log).await;
        loop {
            if runs.is_some_and(|n| done_runs >= n) && empty {
                log.line(&format!("done: {done_runs} runs, spool empty"));
                return;
            }
            let now = tokio::time::Instant::now();
            let run_due = runs.is_none_or(|n| done_runs < n) && now >= next_run;
            if run_due {
                if let Err(e) = self.run_once(log).await {
                    log.line(&format!("run failed: {e}"));
                }
                done_runs += 1;
                next_run = tokio::time::Instant::now()
                    + self.config.schedule.wait(OffsetDateTime::now_utc());
                empty = self.drain(log).await;
                if empty {
                    backoff = BACKOFF_START;
                }
                continue;
            }
            // Wait for the next run, or the next retry while reports wait.
            let wake = if empty {
                next_run
            } else {
                let jitter =
                    Duration::try_from_secs_f64(backoff.as_secs_f64() * 0.2 * random_unit())
                        .unwrap_or_default();
                (now + backoff + jitter).min(next_run)
            };
            let wake = if runs.is_some_and(|n| done_runs >= n) && !empty {
                now + backoff
            } else {
                wake
            };
            tokio::select! {
                _ = &mut stop => {
                    log.line("stopping");
                    return;
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            if !empty {
                empty = self.drain(log).await;
                backoff = if empty {
                    BACKOFF_START
                } else {
                    (backoff * 2).min(BACKOFF_MAX)
                };
            }
        }
    }
}
