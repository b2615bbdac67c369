//! What the end-to-end test files share: a log that keeps the agent
//! daemon's lines, the agent configuration that audits the lab and pushes
//! to a collector, and how a result is compared with what it must be.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use v6audit_agent::daemon::Log;
use v6audit_collector::{Config, Overrides};
use v6audit_lab::Lab;
use v6audit_model::{PortalResult, Stage, Status};

/// The daemon's lines, kept for assertions.
#[derive(Default)]
pub(crate) struct Lines(pub Mutex<Vec<String>>);

impl Log for Lines {
    fn line(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_owned());
    }
}

/// Writes `<name>.yaml` in `dir`: agent `name`, the collector at `base` with
/// `token`, its inventory from the collector, a run a second, the lab's
/// resolver, ports, CA and pack, short timeouts. Returns its path.
pub(crate) fn lab_agent_yaml(
    dir: &Path,
    lab: &Lab,
    base: &str,
    token: &str,
    name: &str,
) -> PathBuf {
    let yaml = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &yaml,
        format!(
            "agent_id: {name}\ncollector:\n  url: {base}/\n  token: {token}\ninventory: collector\n\
             schedule:\n  interval: 1s\n  jitter: 0%\nspool:\n  dir: {}\naudit:\n  resolver: \"{}\"\n  ns_port: {}\n  smtp_port: {}\n  ca_file: {}\n  rules: {}\n  trust_anchor: {}\n  timeout: 2s\n  budget: 8s\n",
            dir.join(format!("spool-{name}")).display(),
            lab.resolver(),
            lab.dns.port,
            lab.ports.smtp,
            lab.ca_path.display(),
            lab.pack_path.display(),
            lab.anchor_path.display(),
        ),
    )
    .unwrap();
    yaml
}

/// A collector's configuration for auditing the lab: on `database`, its
/// state under `dir`, judging with the lab's pack, the lab's inventory loaded.
pub(crate) fn lab_collector_config(dir: &Path, lab: &Lab, database: String) -> Config {
    let mut config = Config::load(
        None,
        &Overrides {
            listen: Some("[::1]:0".into()),
            database: Some(database),
        },
    )
    .unwrap();
    config.state_dir = dir.join("collector");
    config.rules = Some(lab.pack_path.clone());
    config.inventories = vec![lab.inventory_path.clone()];
    config
}

/// A result's findings, a line each, for a failure message.
pub(crate) fn describe(r: &PortalResult) -> String {
    r.verdict
        .findings
        .iter()
        .map(|f| format!("  {} {}: {}", f.rule, f.status, f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a result differs from the stage (certain) and rule statuses it must
/// have, a paragraph per difference naming `what`, with its findings.
pub(crate) fn mismatches(
    what: &str,
    r: &PortalResult,
    stage: Stage,
    statuses: &[(&str, Status)],
) -> Vec<String> {
    let mut wrong = Vec::new();
    if r.verdict.stage != stage || !r.verdict.stage_certain {
        wrong.push(format!(
            "{what}: stage {} (certain: {}), expected {stage}\n{}",
            r.verdict.stage,
            r.verdict.stage_certain,
            describe(r)
        ));
    }
    for (rule, want) in statuses {
        let got = r.verdict.status(rule);
        if got != Some(*want) {
            wrong.push(format!(
                "{what}: {rule} is {got:?}, expected {want}\n{}",
                describe(r)
            ));
        }
    }
    wrong
}
