//! The agent daemon (`v6audit agent --config agent.yaml`): audits on a
//! schedule, keeps each report in the on-disk spool until the collector
//! acknowledges it, retries with exponential backoff while the collector is
//! away, and sends what a previous run left in the spool first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use time::{OffsetDateTime, UtcOffset};
use url::Url;
use v6audit_model::input::{self, FileKind};
use v6audit_model::source::yaml_options;
use v6audit_model::{Inventory, Lang, SourceError, SourceErrors};
use v6audit_rules::Pack;

use crate::Auditor;
use crate::push::{PushError, Pusher, gzip_report};
use crate::schedule::{Cron, Schedule, parse_duration, random_unit};
use crate::settings::{ResolverChoice, Settings};
use crate::spool::Spool;

/// `agent.yaml` as written (every key is documented in `packaging/agent.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    pub agent_id: Option<String>,
    pub collector: CollectorFile,
    /// A path, or `collector` to fetch `/api/v1/inventory`.
    pub inventory: String,
    #[serde(default)]
    pub schedule: ScheduleFile,
    #[serde(default)]
    pub spool: SpoolFile,
    #[serde(default)]
    pub audit: AuditFile,
    pub utc_offset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorFile {
    pub url: String,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    pub interval: Option<String>,
    /// A share of the interval, like `10%`.
    pub jitter: Option<String>,
    pub cron: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolFile {
    pub dir: Option<PathBuf>,
    pub max_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    pub resolver: Option<String>,
    pub ns_port: Option<u16>,
    pub smtp_port: Option<u16>,
    /// DNSKEY records DNSSEC validation starts from (default: the root's).
    pub trust_anchor: Option<PathBuf>,
    /// `false` turns the DNSSEC check off.
    pub dnssec: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub rules: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub timeout: Option<String>,
    pub budget: Option<String>,
}

/// Where the inventory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventorySource {
    File(PathBuf),
    Collector,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub agent_id: String,
    pub collector: Url,
    pub token: String,
    pub collector_ca: Option<PathBuf>,
    pub inventory: InventorySource,
    pub schedule: Schedule,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub settings: Settings,
    pub rules: Option<PathBuf>,
}

fn err(file: &str, field: &str, message: String) -> SourceError {
    SourceError {
        file: file.to_owned(),
        line: 0,
        column: 0,
        field: Some(field.to_owned()),
        message,
    }
}

impl AgentConfig {
    /// Reads and checks `agent.yaml`; relative paths are relative to its directory.
    pub fn load(
        path: &Path,
        default_state_dir: &Path,
        default_id: &str,
    ) -> Result<AgentConfig, SourceErrors> {
        let name = path.display().to_string();
        let text = input::read_text(path, FileKind::AgentConfig)
            .map_err(|e| SourceErrors(vec![SourceError::from(e)]))?;
        let file: AgentFile = serde_saphyr::from_str_with_options(&text, yaml_options())
            .map_err(|e| SourceErrors(vec![SourceError::from_yaml(&name, &text, &e)]))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_owned()
            } else {
                base.join(p)
            }
        };
        let mut errors = Vec::new();
        let collector = Url::parse(&file.collector.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|mut u| {
                if !u.path().ends_with('/') {
                    u.set_path(&format!("{}/", u.path()));
                }
                u
            });
        if collector.is_none() {
            errors.push(err(
                &name,
                "collector.url",
                format!("`{}` is not an http(s) URL", file.collector.url),
            ));
        }
        let token = match (&file.collector.token, &file.collector.token_file) {
            (Some(t), None) => Some(t.clone()),
            (None, Some(p)) => match input::read_text(&rel(p), FileKind::Token) {
                Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
                Ok(_) => {
                    errors.push(err(
                        &name,
                        "collector.token_file",
                        format!("{} is empty", rel(p).display()),
                    ));
                    None
                }
                Err(e) => {
                    errors.push(err(&name, "collector.token_file", e.to_string()));
                    None
                }
            },
            (Some(_), Some(_)) => {
                errors.push(err(
                    &name,
                    "collector",
                    "give token or token_file, not both".to_owned(),
                ));
                None
            }
            (None, None) => match std::env::var("V6AUDIT_AGENT_TOKEN") {
                Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
                _ => match v6audit_model::paths::systemd_credential("agent.token") {
                    Some(t) => Some(t),
                    None => {
                        errors.push(err(
                            &name,
                            "collector.token",
                            "missing: set token, token_file or V6AUDIT_AGENT_TOKEN \
                             (or, under systemd, put it in /etc/v6audit/agent.token)"
                                .to_owned(),
                        ));
                        None
                    }
                },
            },
        };
        let inventory = if file.inventory == "collector" {
            InventorySource::Collector
        } else {
            InventorySource::File(rel(Path::new(&file.inventory)))
        };
        let offset_text = file
            .utc_offset
            .clone()
            .unwrap_or_else(|| "+07:00".to_owned());
        let offset = UtcOffset::parse(
            &offset_text,
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .unwrap_or_else(|_| {
            errors.push(err(
                &name,
                "utc_offset",
                format!("`{offset_text}` is not an offset like +07:00"),
            ));
            UtcOffset::UTC
        });
        let schedule = match (&file.schedule.cron, &file.schedule.interval) {
            (Some(_), Some(_)) => {
                errors.push(err(
                    &name,
                    "schedule",
                    "give interval or cron, not both".to_owned(),
                ));
                None
            }
            (Some(c), None) => match Cron::parse(c) {
                Ok(cron) => Some(Schedule::Cron { cron, offset }),
                Err(e) => {
                    errors.push(err(&name, "schedule.cron", e));
                    None
                }
            },
            (None, interval) => {
                let interval = parse_duration(interval.as_deref().unwrap_or("6h"))
                    .map_err(|e| errors.push(err(&name, "schedule.interval", e)))
                    .ok();
                let share = match file
                    .schedule
                    .jitter
                    .as_deref()
                    .unwrap_or("10%")
                    .trim_end_matches('%')
                    .parse::<f64>()
                {
                    Ok(p) if (0.0..=50.0).contains(&p) => p / 100.0,
                    _ => {
                        errors.push(err(
                            &name,
                            "schedule.jitter",
                            "must be a share from 0% to 50%".to_owned(),
                        ));
                        0.0
                    }
                };
                interval.map(|interval| Schedule::Every {
                    interval,
                    jitter: interval.mul_f64(share),
                })
            }
        };
        let resolver = match &file.audit.resolver {
            None => ResolverChoice::System,
            Some(r) => match r.parse::<std::net::SocketAddr>() {
                Ok(a) => ResolverChoice::At(a),
                Err(_) => match r.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
                    Ok(ip) => ResolverChoice::At(std::net::SocketAddr::new(ip, 53)),
                    Err(_) => {
                        errors.push(err(
                            &name,
                            "audit.resolver",
                            format!("`{r}` is not IP:PORT"),
                        ));
                        ResolverChoice::System
                    }
                },
            },
        };
        let anchor_file = file.audit.trust_anchor.as_deref().map(rel);
        let dnssec =
            crate::anchor::Anchor::chosen(file.audit.dnssec != Some(false), anchor_file.as_deref())
                .unwrap_or_else(|e| {
                    errors.push(err(&name, "audit.trust_anchor", e));
                    None
                });
        let mut secs = |field: &str, v: &Option<String>, default: u64| -> Duration {
            match v {
                None => Duration::from_secs(default),
                Some(t) => parse_duration(t).unwrap_or_else(|e| {
                    errors.push(err(&name, field, e));
                    Duration::from_secs(default)
                }),
            }
        };
        let timeout = secs("audit.timeout", &file.audit.timeout, 10);
        let budget = secs("audit.budget", &file.audit.budget, 30);
        if budget < timeout {
            // Honoured as given: each step then ends at the budget.
            tracing::warn!(
                config = %name,
                budget_s = budget.as_secs_f64(),
                timeout_s = timeout.as_secs_f64(),
                "audit.budget is shorter than audit.timeout: each portal stops at the budget"
            );
        }
        let defaults = Settings::default();
        let settings = Settings {
            resolver,
            ca_file: file.audit.ca_file.as_deref().map(rel),
            concurrency: file
                .audit
                .concurrency
                .unwrap_or(defaults.concurrency)
                .clamp(1, 4096),
            timeout,
            portal_budget: budget,
            ns_port: file.audit.ns_port.unwrap_or(53),
            smtp_port: file.audit.smtp_port.unwrap_or(25),
            dnssec,
            ..defaults
        };
        let agent_id = file
            .agent_id
            .clone()
            .unwrap_or_else(|| default_id.to_owned());
        let spool_dir = file
            .spool
            .dir
            .as_deref()
            .map(rel)
            .unwrap_or_else(|| default_state_dir.join("spool"));
        let spool_max_bytes = file.spool.max_mib.unwrap_or(256) << 20;
        match (errors.is_empty(), collector, token, schedule) {
            (true, Some(collector), Some(token), Some(schedule)) => Ok(AgentConfig {
                agent_id,
                collector,
                token,
                collector_ca: file.collector.ca_file.as_deref().map(rel),
                inventory,
                schedule,
                spool_dir,
                spool_max_bytes,
                settings,
                rules: file.audit.rules.as_deref().map(rel),
            }),
            _ => Err(SourceErrors(errors)),
        }
    }
}

/// What happened, for the log and for tests (which read it from stdout).
pub trait Log: Send + Sync {
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
    #[error("collector client: {0}")]
    Client(String),
    #[error("spool {path}: {source}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid rule pack:\n{0}")]
    Pack(#[from] v6audit_rules::PackError),
}

/// First retry after 5 s, doubling to at most 10 min.
const BACKOFF_START: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(600);

impl Daemon {
    pub fn new(config: AgentConfig) -> Result<Daemon, DaemonError> {
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
        Ok(Daemon {
            config,
            pusher,
            spool,
            pack,
        })
    }

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
        let inventory = self.inventory().await?;
        let auditor = Auditor::new(self.config.settings.clone())
            .await
            .map_err(|e| e.to_string())?;
        let source = match &self.config.inventory {
            InventorySource::File(p) => p.display().to_string(),
            InventorySource::Collector => "collector".to_owned(),
        };
        let report = auditor
            .audit(
                inventory.portals,
                self.pack.clone(),
                Lang::En,
                &self.config.agent_id,
                Some(source),
            )
            .await;
        self.spool
            .put(&report.id.to_string(), &gzip_report(&report))
            .map_err(|e| format!("cannot spool the report: {e}"))?;
        log.line(&format!(
            "audited report {}: {} results",
            report.id,
            report.results.len()
        ));
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
                let jitter = backoff.mul_f64(0.2 * random_unit());
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
