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
and first sends what a previous run left. Every key of agent.yaml is
documented in packaging/agent.yaml.")]
pub struct AgentArgs {
    /// The agent's configuration.
    #[arg(long, value_name = "FILE", env = "V6AUDIT_AGENT_CONFIG")]
    pub config: PathBuf,
    /// Stop after this many audits, once the spool is empty (for tests and one-off runs).
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
}

pub async fn run(args: AgentArgs) -> anyhow::Result<Outcome> {
    let state_dir = v6audit_model::paths::default_state_dir();
    let config = match AgentConfig::load(&args.config, &state_dir, &crate::audit::host_name()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("v6audit: invalid agent configuration:\n{e}");
            return Ok(Outcome::BadInput);
        }
    };
    let daemon = match Daemon::new(config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("v6audit: {e}");
            return Ok(Outcome::BadInput);
        }
    };
    daemon
        .run(args.runs, &Stdout, crate::shutdown_signal())
        .await;
    Ok(Outcome::Ok)
}
