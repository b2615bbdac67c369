//! `v6audit plan`: the prioritised migration plan, from a fresh audit or an
//! earlier report, in the words of the rule pack.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use v6audit_model::{Lang, Stage};
use v6audit_report::output::plan as render;
use v6audit_rules::Pack;

use crate::Outcome;
use crate::audit::{self, AuditInputs};
use crate::check::read_report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Markdown,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Group {
    Agency,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Portals come most urgent first: broken ones, then citizen and business
services by audience and distance to stage 3. Each gets the steps its failing
rules call for (DNS records, web server and firewall settings, TLS), with how
to verify each.

Examples:
  v6audit plan inventories/vn-public-services.yaml --lang vi > ke-hoach.md
  v6audit plan --from report.json --format csv --output plan.csv")]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub inputs: AuditInputs,
    /// Plan from an earlier report (`audit --format json`) instead of auditing;
    /// its observations are judged again with --rules and --lang.
    #[arg(long, value_name = "REPORT.json", conflicts_with_all = ["inventory", "targets"])]
    pub from: Option<PathBuf>,
    /// The stage portals should reach, unless they set their own target_stage.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub min_stage: u8,
    /// The plan as Markdown (to read or print), CSV (a spreadsheet of
    /// steps) or JSON (for scripts).
    #[arg(long, short = 'f', value_enum, default_value = "markdown")]
    pub format: PlanFormat,
    /// Group the plan's portals under their agency (Markdown).
    #[arg(long, value_enum)]
    pub group: Option<Group>,
    /// Write the plan to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn load_pack(inputs: &AuditInputs) -> Option<Pack> {
    match &inputs.rules {
        Some(path) => match Pack::load(path) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!(
                    "v6audit: invalid rule pack:\n{}",
                    v6audit_report::terminal(&e.to_string())
                );
                None
            }
        },
        None => Some(Pack::default_pack()),
    }
}

pub(crate) async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let lang: Lang = args.inputs.lang;
    let (results, pack) = match &args.from {
        Some(path) => {
            let Some(pack) = load_pack(&args.inputs) else {
                return Ok(Outcome::BadInput);
            };
            let mut report = match read_report(path) {
                Ok(r) => r,
                Err(e) => {
                    // serde quotes the values it refuses: show their control characters.
                    eprintln!(
                        "v6audit: invalid report: {}",
                        v6audit_report::terminal_line(&e)
                    );
                    return Ok(Outcome::BadInput);
                }
            };
            // A report judged with another pack must not be judged again
            // with the default one without a word: the lab's, say, allows
            // its loopback addresses, and the default pack calls every lab
            // portal broken.
            if args.inputs.rules.is_none() && report.rules.name != pack.name {
                eprintln!(
                    "v6audit: {} was judged with the rule pack `{}` (version {}), not the default one; give that pack with --rules PACK.yaml to plan from it",
                    path.display(),
                    v6audit_report::terminal_line(&report.rules.name),
                    report.rules.version
                );
                return Ok(Outcome::BadInput);
            }
            // Judge the stored facts with this pack, in this language.
            for r in &mut report.results {
                r.verdict = v6audit_rules::evaluate(&pack, &r.observation, &r.portal, lang);
            }
            (report.results, Arc::new(pack))
        }
        None => {
            let Some(loaded) = audit::load(&args.inputs) else {
                return Ok(Outcome::BadInput);
            };
            let agent_id = args
                .inputs
                .agent_id
                .clone()
                .unwrap_or_else(audit::host_name);
            let bar = audit::progress(loaded.inventory.portals.len(), args.inputs.quiet);
            let Some(audited) = audit::audit(
                &loaded,
                loaded.inventory.portals.clone().into(),
                &agent_id,
                &bar,
                true,
                None,
                |_, _| Ok(()),
            )
            .await?
            else {
                return Ok(Outcome::BadInput);
            };
            (audited.report.results, loaded.pack)
        }
    };
    let min_stage = Stage::try_from(args.min_stage).unwrap_or(Stage::DualStack);
    let plan = v6audit_rules::plan::plan(&results, &pack, lang, min_stage);
    let text = match args.format {
        PlanFormat::Markdown => render::markdown(&plan, args.group == Some(Group::Agency)),
        PlanFormat::Csv => render::csv(&plan),
        PlanFormat::Json => render::json(&plan),
    };
    let (mut out, _) = audit::sink(&args.output)?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Ok)
}
