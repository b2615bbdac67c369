//! `v6audit`, the one binary: argument parsing and wiring only. Each
//! subcommand lives in its own module and calls into the library crates.

mod agent;
mod audit;
mod check;
mod collector;
mod demo;
mod generate;
mod lab;
mod plan;
mod push;
mod selfcheck;
mod tui;
mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use tracing_subscriber::filter::Targets;

/// mimalloc instead of glibc's malloc: the agent allocates and frees on two
/// worker threads at once, where glibc's arenas cost a tenth of its CPU.
/// Without the `mimalloc` feature (bench/heap-profile.sh), glibc's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Audit and drive the IPv6 transition of public-service portals.
///
/// v6audit probes every portal of an inventory for AAAA records, IPv6
/// reachability, HTTP and TLS over IPv6 and parity with IPv4, and judges each
/// with a rule pack: findings, a migration stage (0 ipv4-only, 1 broken,
/// 2 reachable, 3 dual-stack, 4 ipv6-complete), a score and a priority.
#[derive(Debug, Parser)]
#[command(
    name = "v6audit",
    // The version and the commit it was built from (build.rs).
    version = env!("V6AUDIT_VERSION"),
    propagate_version = true,
    max_term_width = 100,
    after_long_help = "\
Exit status: 0 done; 1 the command ran but failed its purpose (check: the
policy failed; self-check: this vantage cannot audit IPv6; agent --once:
reports wait in the spool); 2 bad input (an inventory, a pack, a flag, a
configuration), and for check, an audit that cannot be trusted.

Files (the Debian package): /etc/v6audit/agent.yaml and collector.yaml,
documented; /etc/v6audit/agent.token and admin.token, secrets handed to the
services as systemd credentials; /var/lib/v6audit, the collector's state;
/var/lib/v6audit-agent, the agent's spool; /usr/share/v6audit/inventories,
the Vietnamese public-services inventory.

Environment: V6AUDIT_LOG or RUST_LOG (`level` or `target=level`,
comma-separated, e.g. debug or v6audit_agent=trace), NO_COLOR, and the
V6AUDIT_COLLECTOR_* and V6AUDIT_AGENT_* variables each command lists."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Audit the portals of an inventory (or --target) and print the results.
    Audit(audit::AuditArgs),
    /// Audit, apply a policy, exit 0/1/2: for CI pipelines (JUnit, SARIF, GitHub annotations).
    Check(check::CheckArgs),
    /// The prioritised migration plan: what to fix first, and how, step by step.
    Plan(plan::PlanArgs),
    /// A live, interactive audit in the terminal.
    Tui(tui::TuiArgs),
    /// Check inventories (and a rule pack) without auditing: every problem listed, exit 0/2.
    Validate(validate::ValidateArgs),
    /// Run the simulated portals of the lab on loopback.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Start the lab, audit it and print the table: v6audit in one command.
    Demo(demo::DemoArgs),
    /// Audit on a schedule and report to a collector (see packaging/agent.yaml).
    Agent(agent::AgentArgs),
    /// The collector: serve its API, migrate, manage agent tokens, re-score history.
    #[command(subcommand)]
    Collector(collector::CollectorCommand),
    /// What this vantage can audit: routes, resolver, raw sockets, clock, collector.
    SelfCheck(selfcheck::SelfCheckArgs),
    /// Write man pages or shell completions (for packagers and installs without a package).
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
}

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// `check`: the policy failed.
    PolicyFailed,
    /// The command ran but could not do its job: `self-check` found no way to
    /// audit IPv6, `agent --once` left reports in its spool.
    Failed,
    /// Bad input: an inventory, a pack, a flag or a file that cannot be used;
    /// or, for `check`, an audit that cannot be trusted.
    BadInput,
    /// `audit`: it ran, but nothing could be measured from this vantage (no
    /// route, or a resolver that never answered): exit status 3.
    Unmeasured,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Sockets are the agent's working material: take all the kernel allows
    // (commands size their concurrency from it; see agent::limits).
    let _ = v6audit_agent::limits::raise_nofile();
    // Services log what they do; one-shot commands only what goes wrong.
    let service = matches!(cli.command, Command::Agent(_) | Command::Collector(_));
    use tracing_subscriber::filter::LevelFilter;
    init_logging(if service {
        LevelFilter::INFO
    } else {
        LevelFilter::WARN
    });
    // For `check`, 1 means "the policy failed"; any other failure must not say so.
    let failure = if matches!(cli.command, Command::Check(_)) {
        2
    } else {
        1
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("v6audit: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Audit(args) => audit::run(args).await,
            Command::Check(args) => check::run(args).await,
            Command::Plan(args) => plan::run(args).await,
            Command::Tui(args) => tui::run(args).await,
            Command::Validate(args) => validate::run(args),
            Command::Lab(cmd) => lab::run(cmd).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Agent(args) => agent::run(args).await,
            Command::Collector(cmd) => collector::run(cmd).await,
            Command::SelfCheck(args) => selfcheck::run(args).await,
            Command::Generate(cmd) => generate::run(cmd, Cli::command()),
        }
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::PolicyFailed | Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::BadInput) => ExitCode::from(2),
        Ok(Outcome::Unmeasured) => ExitCode::from(3),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain may quote a portal, a file or a collector's answer.
            eprintln!("v6audit: {}", v6audit_report::terminal(&format!("{e:#}")));
            ExitCode::from(failure)
        }
    }
}

/// A closed pipe (`v6audit audit ... | head`) is not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs to standard error: v6audit's own crates at `default`, libraries not
/// at all (hickory's server warns for every lab answer it skips, and those
/// lines are noise to a user), unless `V6AUDIT_LOG` or `RUST_LOG` asks for
/// more: a comma-separated list of `level` and `target=level` (`debug`,
/// `v6audit_agent=trace,rustls=debug`). A value that does not read as one is
/// said once and the default kept; an empty one is as if unset.
fn init_logging(default: tracing_subscriber::filter::LevelFilter) {
    use tracing_subscriber::prelude::*;
    let asked = ["V6AUDIT_LOG", "RUST_LOG"].into_iter().find_map(|name| {
        // Set but empty (`RUST_LOG=`) is not a request for silence.
        let value = std::env::var(name).ok()?;
        (!value.trim().is_empty()).then_some((name, value))
    });
    let filter = match asked.map(|(name, value)| (name, log_filter(&value))) {
        Some((_, Ok(filter))) => Some(filter),
        Some((name, Err(e))) => {
            eprintln!(
                "v6audit: {name}: {e} (expected `level` or `target=level`, comma-separated); \
                 logging at the default"
            );
            None
        }
        None => None,
    }
    .unwrap_or_else(|| default_log_filter(default));
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// v6audit's own lines at `level`, nothing else: a target is a prefix of the
/// module path, so `v6audit` covers every crate of the workspace
/// (`v6audit_agent`, `v6audit_collector`, …).
fn default_log_filter(level: tracing_subscriber::filter::LevelFilter) -> Targets {
    Targets::new().with_target("v6audit", level)
}

/// Reads a log filter: `level` and `target=level` pieces, comma-separated,
/// blanks around them and empty pieces ignored. A piece that is neither (a
/// misspelt level, a span or field filter) is refused, named, rather than
/// read as a target to trace.
fn log_filter(value: &str) -> Result<Targets, String> {
    use tracing_subscriber::filter::LevelFilter;
    let mut pieces = Vec::new();
    for piece in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (target, level) = match piece.split_once('=') {
            Some((target, level)) => (Some(target.trim()), level.trim()),
            None => (None, piece),
        };
        if let Some(target) = target
            && (target.is_empty()
                || !target
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_:-".contains(c)))
        {
            return Err(format!(
                "{piece:?} does not name a crate or module (span and field filters are not read)"
            ));
        }
        if level.parse::<LevelFilter>().is_err() {
            return Err(format!(
                "{level:?} is not a level (off, error, warn, info, debug, trace)"
            ));
        }
        pieces.push(target.map_or_else(|| level.to_owned(), |t| format!("{t}={level}")));
    }
    if pieces.is_empty() {
        return Err("no level in it".to_owned());
    }
    pieces
        .join(",")
        .parse::<Targets>()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod log_filter_tests {
    use tracing::Level;

    use tracing_subscriber::filter::LevelFilter;

    use super::{default_log_filter, log_filter};

    #[test]
    fn pieces_are_trimmed_and_empty_ones_skipped() {
        let f = log_filter(" info , rustls = debug ,,").unwrap();
        assert!(f.would_enable("v6audit_agent::runner", &Level::INFO));
        assert!(!f.would_enable("v6audit_agent::runner", &Level::DEBUG));
        assert!(f.would_enable("rustls::client", &Level::DEBUG));
    }

    #[test]
    fn a_misspelt_level_or_a_span_filter_is_refused_not_traced() {
        let e = log_filter("debgu").unwrap_err();
        assert!(e.contains("\"debgu\" is not a level"), "{e}");
        let e = log_filter("info,[span{field=1}]=debug").unwrap_err();
        assert!(e.contains("span and field filters are not read"), "{e}");
        let e = log_filter("=debug").unwrap_err();
        assert!(e.contains("does not name a crate or module"), "{e}");
        assert_eq!(log_filter(" , ").unwrap_err(), "no level in it");
        // Named with its control characters escaped.
        let e = log_filter("\u{1b}[2J").unwrap_err();
        assert!(e.contains("\\u{1b}") && !e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn the_default_turns_libraries_off_and_keeps_ours() {
        let f = default_log_filter(LevelFilter::WARN);
        for ours in [
            "v6audit",
            "v6audit_lab::dns",
            "v6audit_agent::runner",
            "v6audit_collector",
        ] {
            assert!(f.would_enable(ours, &Level::WARN), "{ours}");
            assert!(!f.would_enable(ours, &Level::INFO), "{ours}");
        }
        assert!(!f.would_enable("hickory_server::server", &Level::ERROR));
        assert!(!f.would_enable("rustls::client", &Level::ERROR));
        let f = default_log_filter(LevelFilter::INFO);
        assert!(f.would_enable("v6audit_collector::ingest", &Level::INFO));
    }
}
