//! The collector's configuration: `collector.yaml` (every key documented in
//! `packaging/collector.yaml`), then `V6AUDIT_COLLECTOR_*` environment
//! variables, then command-line flags, each overriding the one before.

use crate::store::EventKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use time::UtcOffset;
use v6audit_model::input::{self, FileKind};
use v6audit_model::source::yaml_options;
use v6audit_model::{SourceError, SourceErrors};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub tls: Option<TlsFile>,
    pub rules: Option<PathBuf>,
    #[serde(default)]
    pub inventories: Vec<PathBuf>,
    pub admin_token_file: Option<PathBuf>,
    pub body_limit_mib: Option<u64>,
    pub body_budget_mib: Option<u64>,
    pub max_connections: Option<usize>,
    pub header_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub shutdown_timeout_secs: Option<u64>,
    pub rate: Option<RateFile>,
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
    pub utc_offset: Option<String>,
    pub time_zone: Option<String>,
    pub dashboard: Option<DashboardFile>,
}

/// The `dashboard:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardFile {
    /// `public` or `private`.
    pub access: Option<String>,
    pub viewer_tokens_file: Option<PathBuf>,
    pub stale_after_hours: Option<u32>,
    pub default_lang: Option<String>,
}

/// Who may read the dashboard and the read API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who reaches the port.
    Public,
    /// A viewer token (Bearer, or as the password of Basic auth) or an admin session.
    Private,
}

/// The dashboard's settings.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub access: Access,
    /// SHA-256 of each viewer token.
    pub viewer_token_hashes: Vec<[u8; 32]>,
    /// An agent with no report for this long is flagged stale.
    pub stale_after_hours: u32,
    pub default_lang: v6audit_model::Lang,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            access: Access::Public,
            viewer_token_hashes: Vec::new(),
            stale_after_hours: 24,
            default_lang: v6audit_model::Lang::En,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateFile {
    pub reports_per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    pub url: String,
    /// Event kinds to send (default: the regressions).
    #[serde(default)]
    pub events: Vec<String>,
}

/// A webhook, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: url::Url,
    pub events: Vec<String>,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: String,
    pub state_dir: PathBuf,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub rules: Option<PathBuf>,
    pub inventories: Vec<PathBuf>,
    /// SHA-256 of the admin token, when one is configured.
    pub admin_token_hash: Option<[u8; 32]>,
    pub body_limit: usize,
    /// The most bytes of request bodies held in memory at once, over all
    /// requests; a body that finds it spent is answered 503.
    pub body_budget: usize,
    /// Connections served at once; past it, new ones wait in the listen
    /// queue until one closes.
    pub max_connections: usize,
    /// How long a client has to send a request's head (also the TLS
    /// handshake, and the next head on a kept-alive connection).
    pub header_timeout: Duration,
    /// A connection on which nothing moves for this long, with no request
    /// being handled, is closed; so is a body whose next piece is this late.
    pub idle_timeout: Duration,
    /// How long a stopping collector lets requests in flight finish before
    /// it drops their connections.
    pub shutdown_timeout: Duration,
    pub reports_per_minute: u32,
    pub burst: u32,
    pub webhooks: Vec<Webhook>,
    /// The offset days are counted in (Vietnam: +07:00): `utc_offset`, else
    /// the time zone's offset when the collector starts.
    pub utc_offset: UtcOffset,
    /// The IANA time zone dates are shown in (default Asia/Ho_Chi_Minh).
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    pub dashboard: Dashboard,
}

/// Flags that override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database: Option<String>,
}

/// The soft limit on open files, as the system states it (Linux:
/// /proc/self/limits); None when unknown or unlimited.
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The default connection limit: half the open-file limit (the rest is for
/// the database, webhooks and logs), between 16 and 1024.
pub fn default_max_connections() -> usize {
    open_file_limit().map_or(1024, |n| {
        usize::try_from(n / 2).unwrap_or(usize::MAX).clamp(16, 1024)
    })
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

/// Hashes a token (tokens are 256-bit random values, so SHA-256 suffices).
pub fn hash_token(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.trim().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn compile_dashboard(file: DashboardFile, name: &str, errors: &mut Vec<SourceError>) -> Dashboard {
    let mut d = Dashboard::default();
    match file.access.as_deref() {
        None | Some("public") => {}
        Some("private") => d.access = Access::Private,
        Some(other) => errors.push(err(
            name,
            "dashboard.access",
            format!("`{other}` is not an access mode (public or private)"),
        )),
    }
    if let Some(path) = &file.viewer_tokens_file {
        match input::read_text(path, FileKind::Token) {
            Ok(text) => {
                d.viewer_token_hashes = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(hash_token)
                    .collect();
                if d.viewer_token_hashes.is_empty() {
                    errors.push(err(
                        name,
                        "dashboard.viewer_tokens_file",
                        format!("{} holds no token", path.display()),
                    ));
                }
            }
            Err(e) => errors.push(err(name, "dashboard.viewer_tokens_file", e.to_string())),
        }
    }
    if let Some(h) = file.stale_after_hours {
        if h == 0 || h > 24 * 365 {
            errors.push(err(
                name,
                "dashboard.stale_after_hours",
                format!("must be 1 to 8760, not {h}"),
            ));
        } else {
            d.stale_after_hours = h;
        }
    }
    if let Some(l) = &file.default_lang {
        match l.parse() {
            Ok(lang) => d.default_lang = lang,
            Err(e) => errors.push(err(name, "dashboard.default_lang", e)),
        }
    }
    d
}

/// The admin token's hash: from the environment, else from the token file,
/// else from the systemd credential `admin.token`; None when there is none.
fn compile_admin_token(
    env_token: Option<String>,
    file: Option<&Path>,
    name: &str,
    errors: &mut Vec<SourceError>,
) -> Option<[u8; 32]> {
    match (env_token, file) {
        (Some(token), _) => Some(hash_token(&token)),
        (None, Some(path)) => match input::read_text(path, FileKind::Token) {
            Ok(t) if !t.trim().is_empty() => Some(hash_token(&t)),
            Ok(_) => {
                errors.push(err(
                    name,
                    "admin_token_file",
                    format!("{} is empty", path.display()),
                ));
                None
            }
            Err(e) => {
                errors.push(err(name, "admin_token_file", e.to_string()));
                None
            }
        },
        (None, None) => {
            v6audit_model::paths::systemd_credential("admin.token").map(|t| hash_token(&t))
        }
    }
}

/// The webhooks with an http(s) URL, each with its events (the regressions
/// when it names none); every problem is pushed.
fn compile_webhooks(
    files: Vec<WebhookFile>,
    name: &str,
    errors: &mut Vec<SourceError>,
) -> Vec<Webhook> {
    let mut webhooks = Vec::new();
    for (i, w) in files.into_iter().enumerate() {
        let url = match url::Url::parse(&w.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                errors.push(err(
                    name,
                    &format!("webhooks[{i}].url"),
                    format!("`{}` is not an http(s) URL", w.url),
                ));
                continue;
            }
        };
        for e in &w.events {
            if EventKind::parse(e).is_none() {
                errors.push(err(
                    name,
                    &format!("webhooks[{i}].events"),
                    format!(
                        "unknown event `{e}`; the events are: {}",
                        EventKind::ALL.map(EventKind::as_str).join(", ")
                    ),
                ));
            }
        }
        let events = if w.events.is_empty() {
            EventKind::REGRESSIONS
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect()
        } else {
            w.events
        };
        webhooks.push(Webhook { url, events });
    }
    webhooks
}

/// The time zone `zone_name` (UTC when it is not one), and the offset days
/// are counted in: `offset_text` when given, else the zone's offset now.
fn compile_time_zone(
    zone_name: &str,
    offset_text: Option<String>,
    name: &str,
    errors: &mut Vec<SourceError>,
) -> (jiff::tz::TimeZone, UtcOffset) {
    let time_zone = jiff::tz::TimeZone::get(zone_name).unwrap_or_else(|e| {
        errors.push(err(
            name,
            "time_zone",
            format!("`{zone_name}` is not a time zone like Asia/Ho_Chi_Minh: {e}"),
        ));
        jiff::tz::TimeZone::UTC
    });
    let zone_offset =
        UtcOffset::from_whole_seconds(time_zone.to_offset(jiff::Timestamp::now()).seconds())
            .unwrap_or(UtcOffset::UTC);
    let utc_offset = match offset_text {
        None => zone_offset,
        Some(offset_text) => UtcOffset::parse(
            &offset_text,
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .unwrap_or_else(|_| {
            errors.push(err(
                name,
                "utc_offset",
                format!("`{offset_text}` is not an offset like +07:00"),
            ));
            UtcOffset::UTC
        }),
    };
    (time_zone, utc_offset)
}

impl Config {
    /// Reads the file (when given), then applies the environment and the flags.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Self, SourceErrors> {
        let (file, name) = match path {
            Some(p) => {
                let name = p.display().to_string();
                let text = input::read_text(p, FileKind::CollectorConfig)
                    .map_err(|e| SourceErrors(vec![SourceError::from(e)]))?;
                let file: ConfigFile = serde_saphyr::from_str_with_options(&text, yaml_options())
                    .map_err(|e| {
                    SourceErrors(vec![SourceError::from_yaml(&name, &text, &e)])
                })?;
                (file, name)
            }
            None => (ConfigFile::default(), "(defaults)".to_owned()),
        };
        Self::compile(file, &name, overrides)
    }

    // Long because each setting is read in turn, with its check, and Config takes them all at once.
    fn compile(file: ConfigFile, name: &str, overrides: &Overrides) -> Result<Self, SourceErrors> {
        let env = |k: &str| {
            std::env::var(format!("V6AUDIT_COLLECTOR_{k}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let mut errors = Vec::new();
        let listen_text = overrides
            .listen
            .clone()
            .or_else(|| env("LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| "[::]:8080".to_owned());
        let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
            errors.push(err(
                name,
                "listen",
                format!("`{listen_text}` is not ADDRESS:PORT (like [::]:8080)"),
            ));
            SocketAddr::from(([0u16; 8], 8080))
        });
        let state_dir = env("STATE_DIR")
            .map(PathBuf::from)
            .or(file.state_dir)
            .unwrap_or_else(v6audit_model::paths::default_state_dir);
        let database = overrides
            .database
            .clone()
            .or_else(|| env("DATABASE"))
            .or(file.database)
            .unwrap_or_else(|| format!("sqlite://{}", state_dir.join("collector.db").display()));
        if !(database.starts_with("sqlite:")
            || database.starts_with("postgres://")
            || database.starts_with("postgresql://"))
        {
            errors.push(err(
                name,
                "database",
                format!("`{database}` is not sqlite:///path/file.db or postgres://…"),
            ));
        }
        let admin_token_hash = compile_admin_token(
            env("ADMIN_TOKEN"),
            file.admin_token_file.as_deref(),
            name,
            &mut errors,
        );
        let body_limit_mib = file.body_limit_mib.unwrap_or(16);
        if body_limit_mib == 0 || body_limit_mib > 1024 {
            errors.push(err(
                name,
                "body_limit_mib",
                format!("must be 1 to 1024, not {body_limit_mib}"),
            ));
        }
        let body_budget_mib = file.body_budget_mib.unwrap_or(256);
        if !(body_limit_mib..=65_536).contains(&body_budget_mib) {
            errors.push(err(
                name,
                "body_budget_mib",
                format!(
                    "must be at least body_limit_mib ({body_limit_mib}) and at most 65536, not {body_budget_mib}"
                ),
            ));
        }
        let max_connections = file.max_connections.unwrap_or_else(default_max_connections);
        if max_connections == 0 || max_connections > 1_000_000 {
            errors.push(err(
                name,
                "max_connections",
                format!("must be 1 to 1000000, not {max_connections}"),
            ));
        }
        let mut seconds = |field: &str, value: Option<u64>, default: u64, min: u64, max: u64| {
            let v = value.unwrap_or(default);
            if !(min..=max).contains(&v) {
                errors.push(err(
                    name,
                    field,
                    format!("must be {min} to {max} seconds, not {v}"),
                ));
            }
            Duration::from_secs(v)
        };
        let header_timeout = seconds("header_timeout_secs", file.header_timeout_secs, 10, 1, 300);
        let idle_timeout = seconds("idle_timeout_secs", file.idle_timeout_secs, 60, 1, 3600);
        let shutdown_timeout = seconds(
            "shutdown_timeout_secs",
            file.shutdown_timeout_secs,
            10,
            0,
            3600,
        );
        let (reports_per_minute, burst) = file
            .rate
            .map_or((60, 20), |r| (r.reports_per_minute, r.burst));
        if reports_per_minute == 0 || burst == 0 {
            errors.push(err(
                name,
                "rate",
                "reports_per_minute and burst must be at least 1".to_owned(),
            ));
        }
        let webhooks = compile_webhooks(file.webhooks, name, &mut errors);
        let zone_name = env("TIME_ZONE")
            .or(file.time_zone)
            .unwrap_or_else(|| "Asia/Ho_Chi_Minh".to_owned());
        let offset_text = env("UTC_OFFSET").or(file.utc_offset);
        let (time_zone, utc_offset) = compile_time_zone(&zone_name, offset_text, name, &mut errors);
        let dashboard = compile_dashboard(file.dashboard.unwrap_or_default(), name, &mut errors);
        if dashboard.access == Access::Private
            && dashboard.viewer_token_hashes.is_empty()
            && admin_token_hash.is_none()
        {
            errors.push(err(
                name,
                "dashboard.access",
                "a private dashboard needs dashboard.viewer_tokens_file or an admin token, or nobody can read it"
                    .to_owned(),
            ));
        }
        if errors.is_empty() {
            Ok(Self {
                listen,
                database,
                state_dir,
                tls: file.tls.map(|t| (t.cert, t.key)),
                rules: file.rules,
                inventories: file.inventories,
                admin_token_hash,
                body_limit: usize::try_from(body_limit_mib).unwrap_or(16) << 20,
                body_budget: usize::try_from(body_budget_mib).unwrap_or(256) << 20,
                max_connections,
                header_timeout,
                idle_timeout,
                shutdown_timeout,
                reports_per_minute,
                burst,
                webhooks,
                utc_offset,
                time_zone,
                time_zone_name: zone_name,
                dashboard,
            })
        } else {
            Err(SourceErrors(errors))
        }
    }
}
