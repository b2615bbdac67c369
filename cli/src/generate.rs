//! `v6audit generate`: man pages and shell completions, rendered from the
//! clap definitions themselves so they never drift from `--help`. The Debian
//! package runs it at build time (packaging/deb/build.sh).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub(crate) enum GenerateCommand {
    /// Write v6audit.1 and one page per subcommand (v6audit-audit.1, v6audit-collector-serve.1, …).
    Man {
        /// The directory to write the pages into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print the completion script for a shell, or write it into --out.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: CompletionShell,
        /// Write the file under its conventional name into DIR (v6audit.bash,
        /// _v6audit, v6audit.fish) instead of printing it.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// The shells completions are generated for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(s: CompletionShell) -> Self {
        match s {
            CompletionShell::Bash => Self::Bash,
            CompletionShell::Zsh => Self::Zsh,
            CompletionShell::Fish => Self::Fish,
            CompletionShell::Elvish => Self::Elvish,
            CompletionShell::Powershell => Self::PowerShell,
        }
    }
}

pub(crate) fn run(cmd: GenerateCommand, mut root: clap::Command) -> anyhow::Result<Outcome> {
    match cmd {
        GenerateCommand::Man { out } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            root = root.disable_help_subcommand(true);
            root.build();
            let mut written = Vec::new();
            man_pages(&root, &out, &mut written)?;
            for path in written {
                println!("{}", path.display());
            }
        }
        GenerateCommand::Completions { shell, out } => {
            let shell = Shell::from(shell);
            match out {
                None => {
                    clap_complete::generate(shell, &mut root, "v6audit", &mut std::io::stdout())
                }
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    let path = clap_complete::generate_to(shell, &mut root, "v6audit", &dir)
                        .with_context(|| format!("cannot write into {}", dir.display()))?;
                    println!("{}", path.display());
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

/// One page for `cmd`, then one for each visible subcommand, depth first.
fn man_pages(cmd: &clap::Command, out: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone())
        .manual("v6audit manual")
        .source(format!("v6audit {}", env!("CARGO_PKG_VERSION")))
        .date(source_date());
    let path = page
        .generate_to(out)
        .with_context(|| format!("cannot write a man page into {}", out.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, out, written)?;
    }
    Ok(())
}

/// The date of the source the binary was built from (YYYY-MM-DD), so the
/// pages of one build are identical wherever they are generated.
fn source_date() -> String {
    let epoch: i64 = env!("V6AUDIT_SOURCE_DATE").parse().unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}
