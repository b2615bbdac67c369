//! `v6audit demo`: the lab, an audit of it and the table, in one command, on
//! loopback only.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use v6audit_agent::output::Format;
use v6audit_agent::{ResolverChoice, Settings};
use v6audit_lab::{Lab, LabConfig, Mix, Scenario};
use v6audit_model::{Inventory, Lang};
use v6audit_rules::Pack;

use crate::Outcome;
use crate::audit::{self, Loaded};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many lab portals to audit (by default one of each scenario).
    #[arg(long, value_name = "N", default_value_t = Scenario::ALL.len() as u32)]
    pub portals: u32,
    /// Language of messages.
    #[arg(long, value_name = "en|vi", default_value = "en")]
    pub lang: Lang,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let dir = tempfile::Builder::new().prefix("v6audit-demo-").tempdir()?;
    let lab = Lab::start(LabConfig {
        portals: args.portals as usize,
        mix: Mix::All,
        dir: dir.path().to_owned(),
    })
    .await?;
    eprintln!(
        "v6audit demo: {} simulated portals on loopback (DNS at {}), audited with the lab's CA and pack.",
        lab.portals.len(),
        lab.resolver()
    );
    let inventory = Inventory::load(&lab.inventory_path)?;
    let pack = Pack::load(&lab.pack_path)?;
    let loaded = Loaded {
        inventory,
        pack: Arc::new(pack),
        settings: Settings {
            resolver: ResolverChoice::At(lab.resolver()),
            ca_file: Some(lab.ca_path.clone()),
            ns_port: lab.dns.port,
            // The silent and slow lab portals make the agent wait out a
            // timeout; a short one keeps the demo quick.
            timeout: Duration::from_secs(3),
            portal_budget: Duration::from_secs(10),
            ..Settings::default()
        },
        lang: args.lang,
        require_resolver: false,
    };
    let bar = audit::progress(loaded.inventory.portals.len(), false);
    let Some(report) = audit::audit(&loaded, "demo", &bar, |_| Ok(())).await? else {
        return Ok(Outcome::BadInput);
    };
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = anstream::stdout();
    audit::write_report(
        &mut out,
        &report,
        &loaded.pack,
        Format::Table,
        args.lang,
        color,
        audit::terminal_width(),
    )?;
    println!();
    println!("To audit the lab yourself: v6audit lab serve, then the command it prints.");
    println!("To audit your own portals: v6audit audit inventories/vn-public-services.yaml");
    lab.shutdown().await;
    Ok(Outcome::Ok)
}
