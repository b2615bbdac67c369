//! `v6audit lab serve`: the simulated portals on loopback, for trying
//! v6audit, for tests and for benchmarks.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use v6audit_lab::{Lab, LabConfig, Mix, Scenario};

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub(crate) enum LabCommand {
    /// Serve simulated portals (DNS, HTTP, TLS on loopback) until Ctrl-C.
    ///
    /// Prints the resolver address and writes an inventory, a CA file and a
    /// rule pack that `v6audit audit` uses to audit the lab.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// How many portals to simulate.
    #[arg(long, value_name = "N", default_value_t = 36, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub portals: u32,
    /// How scenarios are spread: all (each in turn), realistic, fast (no
    /// timeouts to wait out), or one scenario's name.
    #[arg(long, value_name = "NAME", default_value = "all")]
    pub mix: Mix,
    /// Where to write the inventory, CA and pack (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub(crate) async fn run(cmd: LabCommand) -> anyhow::Result<Outcome> {
    match cmd {
        LabCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let (dir, _keep) = match args.dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new().prefix("v6audit-lab-").tempdir()?;
            (t.path().to_owned(), Some(t))
        }
    };
    let lab = Lab::start(LabConfig {
        portals: args.portals as usize,
        mix: args.mix,
        dir: dir.clone(),
    })
    .await?;
    println!("v6audit lab: {} portals on loopback", lab.portals.len());
    println!(
        "  resolver   {} (and {})",
        lab.resolver(),
        lab.dns.addr_v4()
    );
    println!("  inventory  {}", lab.inventory_path.display());
    println!("  CA file    {}", lab.ca_path.display());
    println!("  rule pack  {}", lab.pack_path.display());
    println!(
        "  web ports  http {}, https {}",
        lab.ports.http, lab.ports.https
    );
    println!();
    println!("Audit it from another terminal with:");
    println!("  {}", lab.audit_args().join(" "));
    println!();
    println!("Scenarios: portals, expected stage, what they simulate:");
    for s in Scenario::ALL {
        let n = lab.portals.iter().filter(|p| p.scenario == s).count();
        if n > 0 {
            println!(
                "  {:<22} {:>5}  {:<16} {}",
                s.name(),
                n,
                s.expected_stage().to_string(),
                s.description()
            );
        }
    }
    println!();
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    lab.shutdown().await;
    Ok(Outcome::Ok)
}
