//! `agent.yaml`: the file as written (every key is documented in
//! `packaging/agent.yaml`) and its compiled form, `AgentConfig`. Loading
//! checks every key and lists every problem at once, each naming the file
//! and the field; relative paths are relative to the file's directory.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use time::UtcOffset;
use url::Url;
use v6audit_model::input::{self, FileKind};
use v6audit_model::source::yaml_options;
use v6audit_model::{Shard, SourceError, SourceErrors};

use super::schedule::{Cron, Schedule, parse_duration};
use crate::anchor::Anchor;
use crate::settings::{ResolverChoice, Settings};

/// `agent.yaml` as written (every key is documented in `packaging/agent.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// The agent's name in reports (default: the host name); it must match its token's name.
    pub agent_id: Option<String>,
    /// Where reports are pushed, and with which token.
    pub collector: CollectorFile,
    /// A path, or `collector` to fetch `/api/v1/inventory`.
    pub inventory: String,
    /// `K/N`: audit only shard K of N of the inventory (see [`Shard`]).
    pub shard: Option<String>,
    /// When the daemon runs (default: every 6 h, 10% jitter).
    #[serde(default)]
    pub schedule: ScheduleFile,
    /// Where reports wait until the collector acknowledges them.
    #[serde(default)]
    pub spool: SpoolFile,
    /// How each run probes (the flags of `v6audit audit`).
    #[serde(default)]
    pub audit: AuditFile,
    /// The offset a cron schedule runs in, like `+07:00` (the default).
    pub utc_offset: Option<String>,
}

/// `collector`: the collector's address and the agent's token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorFile {
    /// The collector's http(s) URL; API paths join under it.
    pub url: String,
    /// The token from `v6audit collector token create`.
    pub token: Option<String>,
    /// A file holding the token, instead of `token`.
    pub token_file: Option<PathBuf>,
    /// A PEM file of CAs to trust for the collector's certificate, besides the public roots.
    pub ca_file: Option<PathBuf>,
}

/// `schedule`: an interval with jitter, or a cron expression.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// The time between runs, like `6h` (the default), `30m`, `90s` or `1d`.
    pub interval: Option<String>,
    /// A share of the interval, like `10%`.
    pub jitter: Option<String>,
    /// A five-field cron expression in `utc_offset`, instead of `interval`.
    pub cron: Option<String>,
}

/// `spool`: where reports wait until the collector acknowledges them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolFile {
    /// The spool directory (default: `spool/` in the state directory).
    pub dir: Option<PathBuf>,
    /// The spool's bound in MiB (default 256); past it the oldest reports are dropped.
    pub max_mib: Option<u64>,
}

/// `audit`: how each run probes (the flags of `v6audit audit`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    /// The resolver to ask, `IP:PORT` or `IP` (port 53); default: the system's.
    pub resolver: Option<String>,
    /// The port name servers are asked on (default 53).
    pub ns_port: Option<u16>,
    /// The port mail servers are asked on (default 25).
    pub smtp_port: Option<u16>,
    /// DNSKEY records DNSSEC validation starts from (default: the root's).
    pub trust_anchor: Option<PathBuf>,
    /// `false` turns the DNSSEC check off.
    pub dnssec: Option<bool>,
    /// Extra trust anchors (PEM) for portals' certificates, besides the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// A rule pack for the agent's own verdicts (default: the built-in pack).
    pub rules: Option<PathBuf>,
    /// Portals audited at once (default 64, kept within 1 to 4096).
    pub concurrency: Option<usize>,
    /// The most each network step may take, like `10s` (the default).
    pub timeout: Option<String>,
    /// The most a whole portal may take, like `30s` (the default).
    pub budget: Option<String>,
}

/// Where the inventory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventorySource {
    /// A file on the agent's machine.
    File(PathBuf),
    /// The collector's `/api/v1/inventory`, fetched before each run.
    Collector,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The agent's name in reports: `agent_id`, else the `default_id` given to [`Self::load`].
    pub agent_id: String,
    /// The collector's base URL, its path ending in `/`.
    pub collector: Url,
    /// The token the agent sends to the collector.
    pub token: String,
    /// A PEM file of CAs to trust for the collector's certificate.
    pub collector_ca: Option<PathBuf>,
    /// Where the inventory comes from.
    pub inventory: InventorySource,
    /// When to run.
    pub schedule: Schedule,
    /// Where reports wait until the collector acknowledges them.
    pub spool_dir: PathBuf,
    /// The spool's bound in bytes.
    pub spool_max_bytes: u64,
    /// How each run probes.
    pub settings: Settings,
    /// The rule pack for the agent's own verdicts; None: the built-in pack.
    pub rules: Option<PathBuf>,
    /// The shard of the inventory to audit, when agents share one.
    pub shard: Option<Shard>,
}

/// The problems found so far in one file, each naming its field.
struct Problems {
    file: String,
    found: Vec<SourceError>,
}

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.found.push(SourceError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            field: Some(field.to_owned()),
            message: message.into(),
        });
    }
}

impl AgentConfig {
    /// Reads and checks `agent.yaml`; relative paths are relative to its
    /// directory. Every problem is listed, not only the first.
    pub fn load(
        path: &Path,
        default_state_dir: &Path,
        default_id: &str,
    ) -> Result<Self, SourceErrors> {
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
        let mut problems = Problems {
            file: name,
            found: Vec::new(),
        };
        let collector = collector_url(&mut problems, &file.collector.url);
        let token = token(&mut problems, &file.collector, &rel);
        let offset = utc_offset(&mut problems, file.utc_offset.as_deref());
        let schedule = schedule(&mut problems, &file.schedule, offset);
        let settings = audit_settings(&mut problems, &file.audit, &rel);
        let shard = file.shard.as_deref().and_then(|text| {
            text.parse::<Shard>()
                .map_err(|e| problems.add("shard", e))
                .ok()
        });
        let inventory = if file.inventory == "collector" {
            InventorySource::Collector
        } else {
            InventorySource::File(rel(Path::new(&file.inventory)))
        };
        match (problems.found.is_empty(), collector, token, schedule) {
            (true, Some(collector), Some(token), Some(schedule)) => Ok(Self {
                agent_id: file.agent_id.unwrap_or_else(|| default_id.to_owned()),
                collector,
                token,
                collector_ca: file.collector.ca_file.as_deref().map(rel),
                inventory,
                schedule,
                spool_dir: file
                    .spool
                    .dir
                    .as_deref()
                    .map_or_else(|| default_state_dir.join("spool"), rel),
                spool_max_bytes: file.spool.max_mib.unwrap_or(256) << 20,
                settings,
                rules: file.audit.rules.as_deref().map(rel),
                shard,
            }),
            _ => Err(SourceErrors(problems.found)),
        }
    }
}

/// `collector.url`: http or https, with a path ending in `/` so that API
/// paths join under it.
fn collector_url(p: &mut Problems, url: &str) -> Option<Url> {
    let parsed = Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|mut u| {
            if !u.path().ends_with('/') {
                u.set_path(&format!("{}/", u.path()));
            }
            u
        });
    if parsed.is_none() {
        p.add("collector.url", format!("`{url}` is not an http(s) URL"));
    }
    parsed
}

/// The agent's token: `token`, or `token_file`, or `V6AUDIT_AGENT_TOKEN`,
/// or the systemd credential `agent.token`, in that order.
fn token(p: &mut Problems, c: &CollectorFile, rel: &dyn Fn(&Path) -> PathBuf) -> Option<String> {
    match (&c.token, &c.token_file) {
        (Some(t), None) => Some(t.clone()),
        (None, Some(file)) => match input::read_text(&rel(file), FileKind::Token) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            Ok(_) => {
                p.add(
                    "collector.token_file",
                    format!("{} is empty", rel(file).display()),
                );
                None
            }
            Err(e) => {
                p.add("collector.token_file", e.to_string());
                None
            }
        },
        (Some(_), Some(_)) => {
            p.add("collector", "give token or token_file, not both");
            None
        }
        (None, None) => match std::env::var("V6AUDIT_AGENT_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            _ => {
                let credential = v6audit_model::paths::systemd_credential("agent.token");
                if credential.is_none() {
                    p.add(
                        "collector.token",
                        "missing: set token, token_file or V6AUDIT_AGENT_TOKEN \
                         (or, under systemd, put it in /etc/v6audit/agent.token)",
                    );
                }
                credential
            }
        },
    }
}

/// `utc_offset` (default `+07:00`), the offset a cron schedule runs in.
fn utc_offset(p: &mut Problems, text: Option<&str>) -> UtcOffset {
    let text = text.unwrap_or("+07:00");
    UtcOffset::parse(
        text,
        time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
    )
    .unwrap_or_else(|_| {
        p.add(
            "utc_offset",
            format!("`{text}` is not an offset like +07:00"),
        );
        UtcOffset::UTC
    })
}

/// `schedule`: a cron line, or an interval (default 6 h) with a jitter
/// (default 10%, at most 50%).
fn schedule(p: &mut Problems, s: &ScheduleFile, offset: UtcOffset) -> Option<Schedule> {
    match (&s.cron, &s.interval) {
        (Some(_), Some(_)) => {
            p.add("schedule", "give interval or cron, not both");
            None
        }
        (Some(c), None) => match Cron::parse(c) {
            Ok(cron) => Some(Schedule::Cron { cron, offset }),
            Err(e) => {
                p.add("schedule.cron", e);
                None
            }
        },
        (None, interval) => {
            let interval = parse_duration(interval.as_deref().unwrap_or("6h"))
                .map_err(|e| p.add("schedule.interval", e))
                .ok();
            let jitter = s.jitter.as_deref().unwrap_or("10%");
            let share = match jitter.trim_end_matches('%').parse::<f64>() {
                Ok(x) if (0.0..=50.0).contains(&x) => x / 100.0,
                _ => {
                    p.add("schedule.jitter", "must be a share from 0% to 50%");
                    0.0
                }
            };
            interval.map(|interval| Schedule::Every {
                interval,
                jitter: Duration::try_from_secs_f64(interval.as_secs_f64() * share)
                    .unwrap_or_default(),
            })
        }
    }
}

/// `audit`: how each run probes (resolver, trust anchor, timeouts, …).
fn audit_settings(p: &mut Problems, a: &AuditFile, rel: &dyn Fn(&Path) -> PathBuf) -> Settings {
    let resolver = match &a.resolver {
        None => ResolverChoice::System,
        Some(r) => match r.parse::<SocketAddr>() {
            Ok(addr) => ResolverChoice::At(addr),
            Err(_) => match r.trim_matches(['[', ']']).parse::<IpAddr>() {
                Ok(ip) => ResolverChoice::At(SocketAddr::new(ip, 53)),
                Err(_) => {
                    p.add("audit.resolver", format!("`{r}` is not IP:PORT"));
                    ResolverChoice::System
                }
            },
        },
    };
    let anchor_file = a.trust_anchor.as_deref().map(rel);
    let dnssec =
        Anchor::chosen(a.dnssec != Some(false), anchor_file.as_deref()).unwrap_or_else(|e| {
            p.add("audit.trust_anchor", e);
            None
        });
    let mut secs = |field: &str, v: &Option<String>, default: u64| -> Duration {
        match v {
            None => Duration::from_secs(default),
            Some(t) => parse_duration(t).unwrap_or_else(|e| {
                p.add(field, e);
                Duration::from_secs(default)
            }),
        }
    };
    let timeout = secs("audit.timeout", &a.timeout, 10);
    let budget = secs("audit.budget", &a.budget, 30);
    if budget < timeout {
        // Honoured as given: each step then ends at the budget.
        tracing::warn!(
            config = %p.file,
            budget_s = budget.as_secs_f64(),
            timeout_s = timeout.as_secs_f64(),
            "audit.budget is shorter than audit.timeout: each portal stops at the budget"
        );
    }
    let defaults = Settings::default();
    Settings {
        resolver,
        ca_file: a.ca_file.as_deref().map(rel),
        concurrency: a.concurrency.unwrap_or(defaults.concurrency).clamp(1, 4096),
        timeout,
        portal_budget: budget,
        ns_port: a.ns_port.unwrap_or(53),
        smtp_port: a.smtp_port.unwrap_or(25),
        dnssec,
        ..defaults
    }
}
