//! `v6audit agent --config agent.yaml`: the scheduled agent that reports to
//! a collector.

use std::path::PathBuf;

use clap::Args;
use v6audit_agent::daemon::{AgentConfig, Daemon, Stdout};

use crate::Outcome;

#[derive(Debug, Args)]
#[command(after_help = "\
The agent audits on its schedule, keeps each report in its spool until the
collector acknowledges it, retries with backoff while the collector is away,
and first sends what a previous run left. With --once it audits and
delivers once and exits, for a systemd timer (the Debian package's
v6audit-agent.timer). Every key of agent.yaml is documented in
packaging/agent.yaml (/etc/v6audit/agent.yaml when installed).")]
pub(crate) struct AgentArgs {
    /// The agent's configuration (or the environment variable
    /// V6AUDIT_AGENT_CONFIG).
    #[arg(
        long,
        value_name = "FILE",
        env = "V6AUDIT_AGENT_CONFIG",
        hide_env = true
    )]
    pub config: PathBuf,
    /// Stop after this many audits, once the spool is empty (for tests and one-off runs).
    #[arg(long, value_name = "N", conflicts_with = "once")]
    pub runs: Option<u64>,
    /// One audit and one delivery attempt, then exit (for a systemd timer or
    /// cron, which then own the schedule). Exits 1 when the audit failed or
    /// reports stay in the spool for the next run.
    #[arg(long)]
    pub once: bool,
    /// Audit only shard K of N of the inventory (overrides `shard:` in the
    /// configuration; see `audit --help`).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<v6audit_model::Shard>,
}

pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<Outcome> {
    let state_dir = v6audit_model::paths::default_state_dir();
    let mut config = match AgentConfig::load(&args.config, &state_dir, &crate::audit::host_name()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("v6audit: invalid agent configuration:\n{e}");
            return Ok(Outcome::BadInput);
        }
    };
    if args.shard.is_some() {
        config.shard = args.shard;
    }
    let daemon = match Daemon::new(config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("v6audit: {e}");
            return Ok(Outcome::BadInput);
        }
    };
    if args.once {
        return Ok(match daemon.once(&Stdout).await {
            Ok(()) => Outcome::Ok,
            Err(e) => {
                eprintln!("v6audit: {e}");
                Outcome::Failed
            }
        });
    }
    daemon
        .run(args.runs, &Stdout, crate::shutdown_signal())
        .await;
    Ok(Outcome::Ok)
}
