//! `v6audit self-check`: flags, the agent configuration it may read, and the
//! table or JSON it prints. The checks live in `v6audit_agent::selfcheck`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use url::Url;
use v6audit_agent::ResolverChoice;
use v6audit_agent::daemon::AgentConfig;
use v6audit_agent::selfcheck::{self, Check, Input, Status};

use crate::Outcome;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Run it where the agent will run, as the agent runs (sudo -u, or
systemd-run -p DynamicUser=yes for the packaged unit). Exit status: 0 when
this vantage can audit IPv6, 1 when a check failed (no IPv6 route, no
resolver answering, a clock before this build), 2 on bad flags. Warnings
(no IPv4, no ICMPv6 sockets, collector away) do not change the status.
Only the resolver and the collector are sent packets; routes are asked of
the kernel.

Examples:
  v6audit self-check
  v6audit self-check --config /etc/v6audit/agent.yaml
  v6audit self-check --resolver [::1]:5353 --collector http://localhost:8080/")]
pub(crate) struct SelfCheckArgs {
    /// Check this resolver (IP:PORT) instead of the system's.
    #[arg(long, value_name = "IP:PORT", value_parser = crate::audit::parse_resolver)]
    pub resolver: Option<SocketAddr>,
    /// Check the collector at this address (GET /healthz over IPv6 and over IPv4).
    #[arg(long, value_name = "URL")]
    pub collector: Option<Url>,
    /// Trust this CA (PEM) for the collector's certificate.
    #[arg(long, value_name = "PEM")]
    pub collector_ca: Option<PathBuf>,
    /// Take the collector, its CA and the resolver from an agent configuration.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Each network check's time limit, in seconds.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = crate::audit::parse_secs)]
    pub timeout: f64,
    /// table for people, json for scripts.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub(crate) async fn run(args: SelfCheckArgs) -> anyhow::Result<Outcome> {
    let mut input = Input {
        resolver: args
            .resolver
            .map_or(ResolverChoice::System, ResolverChoice::At),
        collector: args.collector.clone(),
        collector_ca: args.collector_ca.clone(),
        timeout: crate::audit::secs(args.timeout),
        source_date: env!("V6AUDIT_SOURCE_DATE").parse().unwrap_or(0),
    };
    // The agent's configuration fills in what the flags leave out; when it
    // cannot be used, that is a row of the table, not the end of the check.
    let mut config_row = None;
    if let Some(path) = &args.config {
        let state_dir = v6audit_model::paths::default_state_dir();
        match AgentConfig::load(path, &state_dir, &crate::audit::host_name()) {
            Ok(config) => {
                if args.resolver.is_none() {
                    input.resolver = config.settings.resolver.clone();
                }
                if input.collector.is_none() {
                    input.collector = Some(config.collector.clone());
                    input.collector_ca = input.collector_ca.or(config.collector_ca.clone());
                }
                config_row = Some(Check {
                    check: "agent configuration".to_owned(),
                    status: Status::Ok,
                    detail: format!("{}: agent {}", path.display(), config.agent_id),
                });
            }
            Err(e) => {
                config_row = Some(Check {
                    check: "agent configuration".to_owned(),
                    status: Status::Warn,
                    detail: e.to_string().replace('\n', "; "),
                });
            }
        }
    }
    let mut result = selfcheck::run(&input).await;
    if let Some(row) = config_row {
        result.checks.insert(0, row);
    }
    let mut out = anstream::stdout();
    match args.format {
        Format::Table => {
            let color = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            out.write_all(selfcheck::render(&result, color).as_bytes())?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &result)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(if result.ipv6_audit {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
