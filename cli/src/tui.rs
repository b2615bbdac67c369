//! `v6audit tui`: the live audit for network admins, in the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use v6audit_agent::Auditor;

use crate::Outcome;
use crate::audit::{self, AuditInputs};

#[derive(Debug, Args)]
#[command(after_help = "\
Keys: arrows or j/k move, Enter shows the selected portal's findings and evidence,
/ filters (id, agency, stage, or rule=status such as tls.v6-cert=fail), s cycles
the sort, g groups by agency, r probes the selected portal again, R re-runs all,
e exports the view (JSON, CSV, Markdown), ? shows help, q or Esc quits.
No colour when NO_COLOR is set.")]
pub struct TuiArgs {
    #[command(flatten)]
    pub inputs: AuditInputs,
    /// Where `e` writes exports.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub export_dir: PathBuf,
}

pub async fn run(args: TuiArgs) -> anyhow::Result<Outcome> {
    let Some(loaded) = audit::load(&args.inputs) else {
        return Ok(Outcome::BadInput);
    };
    if !std::io::stdout().is_terminal() {
        eprintln!("v6audit: `tui` needs a terminal; use `v6audit audit` for pipes and files");
        return Ok(Outcome::BadInput);
    }
    let auditor = match Auditor::new(loaded.settings.clone()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("v6audit: {e}");
            return Ok(Outcome::BadInput);
        }
    };
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let portals = auditor.expand(loaded.inventory.portals.clone()).await;
    v6audit_agent::tui::run_terminal(
        portals,
        auditor,
        loaded.pack.clone(),
        loaded.lang,
        color,
        args.export_dir,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    Ok(Outcome::Ok)
}
