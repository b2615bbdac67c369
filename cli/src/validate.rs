//! `v6audit validate`: reads inventories, and a rule pack, exactly as `audit`
//! would, and probes nothing: every problem of every file is listed, for CI
//! on repositories of inventories. Exit 0 when every file is valid, 2 when
//! one is not.

use std::path::PathBuf;

use clap::Args;
use v6audit_model::InventoryStream;
use v6audit_report::{terminal, terminal_line};
use v6audit_rules::Pack;

use crate::Outcome;

#[derive(Debug, Args)]
#[command(after_help = "\
Nothing is sent on the network. Each problem is printed on stderr as
FILE:LINE:COLUMN: FIELD: MESSAGE, every problem of every file in one run;
when all are valid, one line on stdout says how many portals they hold.

Exit status: 0 every file is valid; 2 a file has a problem (or cannot be read).

Examples:
  v6audit validate inventories/*.yaml
  v6audit validate my-portals.yaml --rules my-pack.yaml")]
pub(crate) struct ValidateArgs {
    /// The inventories to check (YAML, schema v6audit/inventory/v1).
    #[arg(value_name = "INVENTORY.yaml", required_unless_present = "rules")]
    pub inventories: Vec<PathBuf>,
    /// Also check this rule pack (default: the built-in pack).
    #[arg(long, value_name = "PACK.yaml")]
    pub rules: Option<PathBuf>,
}

/// `1 portal`, `2 portals`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn run(args: ValidateArgs) -> anyhow::Result<Outcome> {
    let mut problems = 0;
    let mut bad_files = 0;
    let mut portals = 0;
    for path in &args.inventories {
        // Read as `audit` reads it: checked whole as it is read, never held,
        // so a national list is checked in the memory of a short one.
        match InventoryStream::open(path, None) {
            Ok(inventory) => portals += inventory.total,
            Err(e) => {
                // The errors quote the file: its control characters are shown.
                eprintln!("{}", terminal(&e.to_string()));
                problems += e.errors().len().max(1);
                bad_files += 1;
            }
        }
    }
    let pack = match &args.rules {
        Some(path) => match Pack::load(path) {
            Ok(pack) => Some(pack),
            Err(e) => {
                eprintln!("{}", terminal(&e.to_string()));
                problems += e.errors().len().max(1);
                bad_files += 1;
                None
            }
        },
        None => Some(Pack::default_pack()),
    };
    let files = args.inventories.len() + usize::from(args.rules.is_some());
    match pack {
        Some(pack) if problems == 0 => {
            if args.inventories.is_empty() {
                println!("pack {}: valid", terminal_line(&pack.name));
            } else {
                println!(
                    "{} in {}, pack {}: valid",
                    count(portals, "portal", "portals"),
                    count(args.inventories.len(), "file", "files"),
                    terminal_line(&pack.name)
                );
            }
            Ok(Outcome::Ok)
        }
        _ => {
            eprintln!(
                "v6audit: {} in {bad_files} of {}",
                count(problems, "problem", "problems"),
                count(files, "file", "files")
            );
            Ok(Outcome::BadInput)
        }
    }
}
