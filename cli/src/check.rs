//! `v6audit check`: audit, apply a policy, and exit 0 (holds), 1 (failed) or
//! 2 (bad input, or an audit that cannot be trusted), for CI pipelines.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use v6audit_model::{REPORT_SCHEMA, Report, Stage, Status};
use v6audit_report::output::{self, Format, github};
use v6audit_report::policy::{self, FailOn, Judgement, Policy};
use v6audit_report::terminal_line;

use crate::Outcome;
use crate::audit::{self, AuditInputs};

#[derive(Debug, Args)]
#[command(after_help = "\
Exit status: 0 the policy holds; 1 the policy failed (the portals are named);
2 bad input, or the audit cannot be trusted (the resolver does not answer, or
this vantage has no IPv6 while IPv6 facts are needed) - never a false 1.

With --baseline, only regressions fail the check unless --fail-on says otherwise.
When GITHUB_ACTIONS=true, ::error and ::warning annotations go to standard
output and a Markdown summary is appended to $GITHUB_STEP_SUMMARY.

Examples:
  v6audit check inventories/vn-public-services.yaml --junit audit.xml --sarif audit.sarif
  v6audit check inv.yaml --baseline last.json --write-baseline last.json")]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub inputs: AuditInputs,
    /// The stage every portal must reach, unless it sets its own target_stage.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub min_stage: u8,
    /// What fails the check: broken, regression, below-target (comma-separated).
    /// Default: all three; with --baseline, regression.
    #[arg(long, value_name = "LIST")]
    pub fail_on: Option<FailOn>,
    /// An earlier report (JSON) to judge regressions against.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Option<PathBuf>,
    /// Save this run's report (JSON) as the next run's baseline.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Console output format (see `audit --help`), junit or sarif included.
    #[arg(long, short = 'f', value_name = "FORMAT", default_value = "table")]
    pub format: Format,
    /// Write the console output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a SARIF 2.1.0 report here.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
}

/// Reads a v1 report (a regular file of at most 256 MiB, `FileKind::Report`),
/// or says exactly what is wrong with it.
pub(crate) fn read_report(path: &Path) -> Result<Report, String> {
    let name = path.display();
    let text = v6audit_model::input::read_text(path, v6audit_model::FileKind::Report)
        .map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{name}:{}:{}: not JSON: {e}", e.line(), e.column()))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(REPORT_SCHEMA) => {}
        Some(other) => {
            return Err(format!(
                "{name}: schema: `{other}` is not a report this v6audit reads ({REPORT_SCHEMA})"
            ));
        }
        None => {
            return Err(format!(
                "{name}: schema: missing; is this a `v6audit audit --format json` report?"
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("{name}: not a v1 report: {e}"))
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// What the policy says, for the log (standard error, often a terminal):
/// each violation's line embeds a portal's message, so it is neutralised.
fn summary(j: &Judgement, policy: &Policy, baseline: bool) -> String {
    let mut s = String::new();
    match j.exit_code() {
        0 => s.push_str(&format!(
            "check: policy holds for {} portals (min stage {}{})\n",
            j.portals,
            policy.min_stage,
            if baseline {
                ", no regression since the baseline"
            } else {
                ""
            }
        )),
        1 => {
            let portals: std::collections::BTreeSet<&str> =
                j.violations.iter().map(|v| v.portal()).collect();
            s.push_str(&format!(
                "check: FAILED: {} of {} portals fail the policy (min stage {}):\n",
                portals.len(),
                j.portals,
                policy.min_stage
            ));
            for v in &j.violations {
                s.push_str(&format!("  - {}\n", terminal_line(&v.to_string())));
            }
        }
        _ => {
            s.push_str("check: the audit cannot be trusted, so the policy is not judged:\n");
            for u in &j.untrusted {
                s.push_str(&format!("  - {}\n", terminal_line(&u.to_string())));
            }
            if !j.violations.is_empty() {
                s.push_str("  (what could be measured also found:)\n");
                for v in &j.violations {
                    s.push_str(&format!("  - {}\n", terminal_line(&v.to_string())));
                }
            }
        }
    }
    s
}

/// Annotations and the step summary when running in GitHub Actions.
fn github_actions(
    report: &Report,
    j: &Judgement,
    text: &str,
    lang: v6audit_model::Lang,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for v in &j.violations {
        out.write_all(
            github::annotation("error", &format!("v6audit: {}", v.portal()), &v.to_string())
                .as_bytes(),
        )?;
    }
    for u in &j.untrusted {
        out.write_all(
            github::annotation("error", "v6audit: audit not trusted", &u.to_string()).as_bytes(),
        )?;
    }
    // Warnings for what does not fail the check but needs attention, capped
    // so a large inventory does not flood the log.
    for (r, f) in report
        .results
        .iter()
        .flat_map(|r| r.verdict.findings.iter().map(move |f| (r, f)))
        .filter(|(_, f)| f.status == Status::Warn)
        .take(50)
    {
        out.write_all(
            github::annotation(
                "warning",
                &format!("v6audit: {} {}", r.portal.id, f.rule),
                &f.message,
            )
            .as_bytes(),
        )?;
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| {
                format!(
                    "cannot append to $GITHUB_STEP_SUMMARY ({})",
                    Path::new(&path).display()
                )
            })?;
        writeln!(f, "## v6audit check\n\n```\n{}```\n", text)?;
        f.write_all(output::markdown::render(report, lang).as_bytes())?;
    }
    Ok(())
}

pub(crate) async fn run(args: CheckArgs) -> anyhow::Result<Outcome> {
    let Some(mut loaded) = audit::load(&args.inputs) else {
        return Ok(Outcome::BadInput);
    };
    loaded.require_resolver = true;
    let baseline = match &args.baseline {
        Some(path) => match read_report(path) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("v6audit: invalid baseline: {}", terminal_line(&e));
                return Ok(Outcome::BadInput);
            }
        },
        None => None,
    };
    let policy = Policy {
        min_stage: Stage::try_from(args.min_stage).unwrap_or(Stage::DualStack),
        fail_on: args.fail_on.unwrap_or(if baseline.is_some() {
            FailOn {
                broken: false,
                regression: true,
                below_target: false,
            }
        } else {
            FailOn::ALL
        }),
    };
    let Some(audited) = audit::audit_to(
        &mut loaded,
        &args.inputs,
        args.format,
        &args.output,
        None,
        true,
    )
    .await?
    else {
        return Ok(Outcome::BadInput);
    };
    let report = audited.report;
    if let Some(path) = &args.junit {
        write_file(path, &output::junit::render(&report))?;
    }
    if let Some(path) = &args.sarif {
        write_file(
            path,
            &output::sarif::render(&report, &loaded.pack, loaded.lang),
        )?;
    }
    if let Some(path) = &args.write_baseline {
        write_file(path, &output::json(&report))?;
    }
    let judgement = policy::judge(&report, baseline.as_ref(), &policy);
    let text = summary(&judgement, &policy, baseline.is_some());
    eprint!("{text}");
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        github_actions(&report, &judgement, &text, loaded.lang)?;
    }
    Ok(match judgement.exit_code() {
        0 => Outcome::Ok,
        1 => Outcome::PolicyFailed,
        _ => Outcome::BadInput,
    })
}
