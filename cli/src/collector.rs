//! `v6audit collector …`: serve the API, run migrations, manage agent
//! tokens, and re-score history after the rule pack changes.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use v6audit_collector::store::Storage;
use v6audit_collector::{Config, Overrides, Store};

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub(crate) enum CollectorCommand {
    /// Serve the API (default [::]:8080, SQLite under the state directory) until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(DbArgs),
    /// Create, list or revoke agent tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Judge every stored observation again with the configured rule pack.
    Rescore(RescoreArgs),
    /// Exit 0 when a collector answers GET /healthz (for container and load-balancer health checks).
    Health(HealthArgs),
}

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// The collector's address.
    #[arg(long, value_name = "URL", default_value = "http://localhost:8080/")]
    pub url: url::Url,
    /// Trust this CA (PEM) for the collector's certificate.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = crate::audit::parse_secs)]
    pub timeout: f64,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DbArgs {
    /// The configuration file (see packaging/collector.yaml).
    #[arg(long, value_name = "FILE", env = "V6AUDIT_COLLECTOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database: sqlite:///path/file.db or postgres://… (overrides the file).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Listen on ADDRESS:PORT (overrides the file; [::]:8080 by default, both families).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create an agent and print its token once, alone on standard output.
    Create {
        /// The agent's name (letters, digits, - and _).
        agent: String,
        /// Where the agent measures from, such as "VNPT Hà Nội".
        #[arg(long)]
        vantage: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List agents, their vantage, and their last report.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke an agent's token: its pushes are refused from now on.
    Revoke {
        agent: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RescoreArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The rule pack (overrides the file's `rules`).
    #[arg(long, value_name = "PACK.yaml")]
    pub rules: Option<PathBuf>,
}

fn config(db: &DbArgs, listen: Option<String>) -> Option<Config> {
    let overrides = Overrides {
        listen,
        database: db.database.clone(),
    };
    match Config::load(db.config.as_deref(), &overrides) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("v6audit: invalid collector configuration:\n{e}");
            None
        }
    }
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    if config.database.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.state_dir)?;
        not_for_root_alone(&config.database)?;
    }
    let store = Store::open(&config.database).await?;
    store.migrate().await?;
    Ok(store)
}

/// An administrator runs `token create` as root. Against the packaged
/// collector's SQLite file that is fine once the file exists (it keeps its
/// owner); root creating it would leave the service a database it cannot
/// open, so that is refused with what to do instead.
fn not_for_root_alone(database: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let path = database
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = std::path::Path::new(path.split('?').next().unwrap_or_default());
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root || path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if m.uid() != 0 => anyhow::bail!(
            "{} does not exist yet, and {} belongs to the collector's user (uid {}): \
             start the collector once (systemctl start v6audit-collector) so that it creates \
             its database, then run this again",
            path.display(),
            dir.display(),
            m.uid()
        ),
        _ => Ok(()),
    }
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub(crate) async fn run(cmd: CollectorCommand) -> anyhow::Result<Outcome> {
    match cmd {
        CollectorCommand::Serve(args) => {
            let Some(config) = config(&args.db, args.listen.clone()) else {
                return Ok(Outcome::BadInput);
            };
            let listen = config.listen;
            let tls = config.tls.is_some();
            let database = config.database.clone();
            let state = v6audit_collector::prepare(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            let local = listener.local_addr()?;
            eprintln!(
                "v6audit collector listening on {}://{local} (database {})",
                if tls { "https" } else { "http" },
                redact(&database)
            );
            v6audit_collector::server::serve(listener, state, crate::shutdown_signal()).await?;
            eprintln!("v6audit collector stopped");
            Ok(Outcome::Ok)
        }
        CollectorCommand::Migrate(db) => {
            let Some(config) = config(&db, None) else {
                return Ok(Outcome::BadInput);
            };
            open(&config).await?;
            eprintln!("database {} is up to date", redact(&config.database));
            Ok(Outcome::Ok)
        }
        CollectorCommand::Token(TokenCommand::Create { agent, vantage, db }) => {
            if agent.is_empty()
                || !agent
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                eprintln!(
                    "v6audit: an agent name is letters, digits, '.', '-' and '_', not `{agent}`"
                );
                return Ok(Outcome::BadInput);
            }
            let Some(config) = config(&db, None) else {
                return Ok(Outcome::BadInput);
            };
            let store = open(&config).await?;
            let token = v6audit_collector::new_token().map_err(anyhow::Error::msg)?;
            let hash = v6audit_collector::config::hash_token(&token);
            match store
                .create_agent(&agent, vantage.as_deref(), &hash, now_ms())
                .await
            {
                Ok(()) => {
                    // Alone on stdout, so scripts can capture it.
                    println!("{token}");
                    eprintln!(
                        "agent `{agent}` created; this token is shown once and stored only as a hash"
                    );
                    Ok(Outcome::Ok)
                }
                Err(v6audit_collector::store::StoreError::AgentExists(name)) => {
                    eprintln!(
                        "v6audit: an agent named `{name}` exists already (revoke it, or choose another name)"
                    );
                    Ok(Outcome::BadInput)
                }
                Err(e) => Err(e.into()),
            }
        }
        CollectorCommand::Token(TokenCommand::List { db }) => {
            let Some(config) = config(&db, None) else {
                return Ok(Outcome::BadInput);
            };
            let store = open(&config).await?;
            println!(
                "{:<24} {:<24} {:<8} LAST REPORT",
                "AGENT", "VANTAGE", "STATE"
            );
            for a in store.agents().await? {
                println!(
                    "{:<24} {:<24} {:<8} {}",
                    a.name,
                    a.vantage.as_deref().unwrap_or("-"),
                    if a.revoked_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    a.last_report_ms
                        .map_or_else(|| "never".to_owned(), v6audit_collector::views::rfc3339)
                );
            }
            Ok(Outcome::Ok)
        }
        CollectorCommand::Token(TokenCommand::Revoke { agent, db }) => {
            let Some(config) = config(&db, None) else {
                return Ok(Outcome::BadInput);
            };
            let store = open(&config).await?;
            if store.revoke_agent(&agent, now_ms()).await? {
                eprintln!("agent `{agent}`: token revoked");
                Ok(Outcome::Ok)
            } else {
                eprintln!("v6audit: no agent named `{agent}`");
                Ok(Outcome::BadInput)
            }
        }
        CollectorCommand::Health(args) => {
            let timeout = crate::audit::secs(args.timeout);
            match v6audit_agent::selfcheck::collector_health(
                &args.url,
                args.ca_file.as_deref(),
                timeout,
            )
            .await
            {
                Ok(ms) => {
                    println!("healthy in {ms} ms");
                    Ok(Outcome::Ok)
                }
                Err(e) => {
                    eprintln!("v6audit: the collector is not healthy: {e}");
                    Ok(Outcome::Failed)
                }
            }
        }
        CollectorCommand::Rescore(args) => {
            let Some(mut config) = config(&args.db, None) else {
                return Ok(Outcome::BadInput);
            };
            if args.rules.is_some() {
                config.rules = args.rules.clone();
            }
            let offset = i64::from(config.utc_offset.whole_seconds());
            let state = v6audit_collector::prepare(config).await?;
            let n =
                v6audit_collector::rescore(&state.store, &state.pack(), &state.catalog(), offset)
                    .await?;
            eprintln!(
                "re-scored {n} results with the pack `{}`; a running collector shows the new stages once reloaded (systemctl reload v6audit-collector, or SIGHUP), or within the hour",
                state.pack().name
            );
            Ok(Outcome::Ok)
        }
    }
}

/// A database URL without its password.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
