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
    /// Where to listen, `ADDRESS:PORT` (default `[::]:8080`).
    pub listen: Option<String>,
    /// `sqlite:///path/file.db` or `postgres://…` (default: collector.db in the state directory).
    pub database: Option<String>,
    /// The state directory (default: `v6audit_model::paths::default_state_dir`).
    pub state_dir: Option<PathBuf>,
    /// Serve HTTPS with these PEM files instead of HTTP.
    pub tls: Option<TlsFile>,
    /// The rule pack to judge observations with (default: the built-in pack).
    pub rules: Option<PathBuf>,
    /// Inventory files: portal metadata and campaigns, reread on SIGHUP.
    #[serde(default)]
    pub inventories: Vec<PathBuf>,
    /// A file holding the admin token.
    pub admin_token_file: Option<PathBuf>,
    /// The largest report body accepted, in MiB, decompressed too (1 to 1024, default 16).
    pub body_limit_mib: Option<u64>,
    /// The MiB all bodies being read at once may take (at least `body_limit_mib`, default 256).
    pub body_budget_mib: Option<u64>,
    /// Connections served at once (default: half the open-file limit, 16 to 1024).
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's head (1 to 300, default 10).
    pub header_timeout_secs: Option<u64>,
    /// Seconds a connection or a body may stay silent (1 to 3600, default 60).
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a stopping collector lets requests in flight finish (0 to 3600, default 10).
    pub shutdown_timeout_secs: Option<u64>,
    /// The per-agent rate limit (default: 60 reports a minute, 20 at once).
    pub rate: Option<RateFile>,
    /// Where to POST events.
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
    /// A fixed offset like `+07:00` to count days in, instead of the time zone's.
    pub utc_offset: Option<String>,
    /// The IANA time zone dates are shown and counted in (default Asia/Ho_Chi_Minh).
    pub time_zone: Option<String>,
    /// The `dashboard:` section.
    pub dashboard: Option<DashboardFile>,
}

/// The `dashboard:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardFile {
    /// `public` or `private`.
    pub access: Option<String>,
    /// A file of viewer tokens, one a line (`#` starts a comment line).
    pub viewer_tokens_file: Option<PathBuf>,
    /// Hours without a report before an agent is flagged stale (1 to 8760, default 24).
    pub stale_after_hours: Option<u32>,
    /// `en` or `vi`: the language of a first visit whose browser asks for neither (default `en`).
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
    /// Who may read the dashboard and the read API.
    pub access: Access,
    /// SHA-256 of each viewer token.
    pub viewer_token_hashes: Vec<[u8; 32]>,
    /// An agent with no report for this long is flagged stale.
    pub stale_after_hours: u32,
    /// The language of a first visit whose browser asks for neither English nor Vietnamese.
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

/// The `tls:` section: PEM files to serve HTTPS with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The private key (PEM).
    pub key: PathBuf,
}

/// The `rate:` section: a bucket of `burst` reports per agent, refilled at `reports_per_minute`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateFile {
    /// Reports a minute put back in an agent's bucket.
    pub reports_per_minute: u32,
    /// The bucket's size: reports an agent may push at once.
    pub burst: u32,
}

/// A webhook as written under `webhooks:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// Where events are POSTed as JSON.
    pub url: String,
    /// Event kinds to send (default: the regressions).
    #[serde(default)]
    pub events: Vec<String>,
}

/// A webhook, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The http(s) URL events are POSTed to.
    pub url: url::Url,
    /// The event kinds it is sent, each a known kind (the regressions when the file names none).
    pub events: Vec<String>,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The database URL: `sqlite:…`, `postgres://…` or `postgresql://…`.
    pub database: String,
    /// The state directory; created at start when the database is SQLite.
    pub state_dir: PathBuf,
    /// The certificate chain and private key (PEM files) to serve HTTPS with; HTTP when None.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The rule pack file; the built-in pack when None.
    pub rules: Option<PathBuf>,
    /// Inventory files, reread on SIGHUP.
    pub inventories: Vec<PathBuf>,
    /// SHA-256 of the admin token, when one is configured.
    pub admin_token_hash: Option<[u8; 32]>,
    /// The largest report body accepted, in bytes (a gzip body's decompressed size too).
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
    /// Reports a minute put back in each agent's bucket.
    pub reports_per_minute: u32,
    /// Reports an agent may push at once (its bucket's size).
    pub burst: u32,
    /// Where events are POSTed.
    pub webhooks: Vec<Webhook>,
    /// The offset days are counted in (Vietnam: +07:00): `utc_offset`, else
    /// the time zone's offset when the collector starts.
    pub utc_offset: UtcOffset,
    /// The IANA time zone dates are shown in (default Asia/Ho_Chi_Minh).
    pub time_zone: jiff::tz::TimeZone,
    /// The time zone's IANA name, shown in the dashboard's footer.
    pub time_zone_name: String,
    /// The dashboard's settings.
    pub dashboard: Dashboard,
}

/// Flags that override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`: the address to listen on.
    pub listen: Option<String>,
    /// `--database`: the database URL.
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
