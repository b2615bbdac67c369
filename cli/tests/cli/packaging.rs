//! What the Debian package relies on, as its users meet it: `--version` with
//! the commit, man pages and completions generated from the CLI, `self-check`
//! against the lab's resolver and a collector (and in a namespace with no
//! network at all), and `agent --once` as the timer runs it.

use v6audit_collector::store::{Storage, Store};

use super::collector::{Killed, collector, free_port};
use crate::*;

#[test]
fn version_names_the_commit() {
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!("v6audit {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    // Built from a git checkout (CI clones one): the commit is HEAD's.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(head) = head {
        assert_eq!(
            text.trim(),
            format!("v6audit {} (commit {head})", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn man_pages_and_completions_come_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    let o = bin()
        .args(["generate", "man", "--out"])
        .arg(&man)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut pages: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for page in [
        "v6audit.1",
        "v6audit-audit.1",
        "v6audit-check.1",
        "v6audit-self-check.1",
        "v6audit-agent.1",
        "v6audit-collector.1",
        "v6audit-collector-serve.1",
        "v6audit-lab-serve.1",
    ] {
        assert!(pages.contains(&page.to_owned()), "{page} in {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
    // Each page lists what it printed.
    assert_eq!(stdout(&o).lines().count(), pages.len());

    let root = std::fs::read_to_string(man.join("v6audit.1")).unwrap();
    assert!(
        root.starts_with(".ie"),
        "roff: {}",
        &root[..80.min(root.len())]
    );
    assert!(root.contains(".TH v6audit 1"), "{root}");
    assert!(root.contains("v6audit manual"), "{root}");
    assert!(root.contains("self\\-check"), "subcommands are listed");
    let audit = std::fs::read_to_string(man.join("v6audit-audit.1")).unwrap();
    assert!(audit.contains("\\-\\-resolver"), "{audit}");
    assert!(
        audit.contains("instead of the system"),
        "the option's help is there: {audit}"
    );

    for (shell, file, marker) in [
        ("bash", "v6audit.bash", "complete -F"),
        ("zsh", "_v6audit", "#compdef v6audit"),
        ("fish", "v6audit.fish", "complete -c v6audit"),
    ] {
        let out = dir.path().join("completions");
        let o = bin()
            .args(["generate", "completions", shell, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(text.contains("self-check"), "{shell} completes subcommands");
        assert!(text.contains("resolver"), "{shell} completes flags");
    }
    // To standard output without --out.
    let o = run(&["generate", "completions", "bash"]);
    assert!(stdout(&o).contains("_v6audit()"), "{}", stdout(&o));
    let o = run(&["generate", "completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'tcsh'"),
        "{}",
        stderr(&o)
    );
}

fn lab_flag(lab: &LabProcess, flag: &str) -> String {
    let i = lab.args.iter().position(|a| a == flag).unwrap();
    lab.args[i + 1].clone()
}

fn checks(o: &Output) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row<'a>(rows: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    rows.iter()
        .find(|r| r.0 == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:#?}"))
}

#[test]
fn self_check_against_the_lab_resolver_and_a_collector() {
    let lab = LabProcess::start(1, "fast");
    let resolver = lab_flag(&lab, "--resolver");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let port = free_port();
    let _collector = collector(&db, port);
    let url = format!("http://[::1]:{port}/");

    let o = run(&[
        "self-check",
        "--resolver",
        &resolver,
        "--collector",
        &url,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let rows = checks(&o);
    let family = if resolver.starts_with('[') {
        "IPv6"
    } else {
        "IPv4"
    };
    let r = row(&rows, &format!("resolver over {family}"));
    assert_eq!(r.1, "ok", "{r:?}");
    assert!(r.2.contains("answered in"), "{r:?}");
    let r = row(&rows, "collector over IPv6");
    assert_eq!(r.1, "ok", "{r:?}");
    assert!(
        r.2.contains(&format!("{url}healthz")) && r.2.contains("healthy"),
        "{r:?}"
    );
    let r = row(&rows, "collector over IPv4");
    assert_eq!(r.1, "warn", "{r:?}");
    assert!(r.2.contains("no address of this family"), "{r:?}");
    // The collector's Date header checks the clock.
    let r = row(&rows, "clock");
    assert_eq!(r.1, "ok", "{r:?}");
    assert!(r.2.contains("of the collector's"), "{r:?}");
    for name in ["IPv4 route", "IPv6 route", "ICMPv6 sockets"] {
        row(&rows, name);
    }

    // The table, for people.
    let o = run(&["self-check", "--resolver", &resolver]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("CHECK"), "{text}");
    assert!(
        text.trim_end().ends_with("This vantage can audit IPv6."),
        "{text}"
    );

    // The container's health check.
    let o = run(&["collector", "health", "--url", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("healthy in "), "{}", stdout(&o));

    // A collector that is down is a warning: reports wait in the spool.
    drop(_collector);
    let o = run(&["collector", "health", "--url", &url, "--timeout", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("the collector is not healthy: {url}healthz")),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "self-check",
        "--resolver",
        &resolver,
        "--collector",
        &url,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = checks(&o);
    let r = row(&rows, "collector over IPv6");
    assert_eq!(r.1, "warn", "{r:?}");
    assert!(r.2.contains("reports will wait in the spool"), "{r:?}");
}

#[test]
fn self_check_fails_when_the_resolver_is_silent_and_names_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    // A UDP port nobody answers on.
    let silent = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let bad = write(
        dir.path(),
        "agent.yaml",
        "collector:\n  url: ftp://example/\n  token: x\ninventory: i.yaml\nschedule:\n  interval: 6h\n",
    );
    let o = bin()
        .args(["self-check", "--resolver", &addr, "--timeout", "0.2"])
        .args(["--format", "json", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let rows = checks(&o);
    let r = row(&rows, "resolver over IPv6");
    assert_eq!(r.1, "fail", "{r:?}");
    assert!(r.2.contains("does not answer"), "{r:?}");
    let r = row(&rows, "agent configuration");
    assert_eq!(r.1, "warn", "{r:?}");
    assert!(r.2.contains("collector.url"), "{r:?}");
    // The table says what to do.
    let o = run(&["self-check", "--resolver", &addr, "--timeout", "0.2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("cannot audit IPv6 as it is: fix the FAIL lines"),
        "{}",
        stdout(&o)
    );
}

/// In a network namespace of its own (loopback down, no routes) nothing can
/// be audited: IPv6 route and resolver fail. Needs root for `unshare -n`.
#[test]
fn self_check_fails_without_ipv6() {
    let probe = Command::new("unshare").args(["-n", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none(),
            "unshare -n failed and V6AUDIT_REQUIRE_NETNS is set"
        );
        eprintln!("skipping: cannot create a network namespace (unshare -n needs root)");
        return;
    }
    let o = Command::new("unshare")
        .arg("-n")
        .arg(env!("CARGO_BIN_EXE_v6audit"))
        .args(["self-check", "--resolver", "[::1]:53", "--timeout", "0.2"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line: {text}"))
            .to_owned()
    };
    assert!(line("IPv6 route").contains("FAIL"), "{text}");
    assert!(
        line("IPv6 route").contains("no IPv6 default route"),
        "{text}"
    );
    assert!(line("IPv4 route").contains("warn"), "{text}");
}

/// `agent --once`, as v6audit-agent.timer runs it: with the collector away
/// the report waits in the spool and the run says so (exit 1); the next run
/// delivers both.
#[test]
fn agent_once_spools_then_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("collector.db").display());
    let o = run(&[
        "collector",
        "token",
        "create",
        "timer-agent",
        "--database",
        &db,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    let lab = LabProcess::start(2, "fast");
    let port = free_port();
    let spool = dir.path().join("spool");
    let agent_yaml = write(
        dir.path(),
        "agent.yaml",
        &format!(
            "agent_id: timer-agent\ncollector:\n  url: http://[::1]:{port}/\n  token: {token}\ninventory: {}\n\
             schedule:\n  interval: 6h\nspool:\n  dir: {}\naudit:\n  resolver: \"{}\"\n  ns_port: {}\n  ca_file: {}\n  timeout: 3s\n",
            lab.args[1],
            spool.display(),
            lab_flag(&lab, "--resolver"),
            lab_flag(&lab, "--ns-port"),
            lab_flag(&lab, "--ca-file"),
        ),
    );
    let once = || {
        bin()
            .args(["agent", "--once", "--config"])
            .arg(&agent_yaml)
            .output()
            .unwrap()
    };
    let o = once();
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("1 report(s) wait in"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 1);

    let _server: Killed = collector(&db, port);
    let o = once();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o).matches("acknowledged report ").count(),
        2,
        "the spooled report, then the new one: {}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stored = rt.block_on(async {
        let store = Store::open(&db).await.unwrap();
        store.results_after("", 1000).await.unwrap().len()
    });
    assert_eq!(stored, 2 * 2, "two runs of two portals");
}

/// Root creating the packaged collector's database would leave the service
/// (its own user) a file it cannot open: refused, saying what to do.
#[test]
fn root_does_not_create_the_services_database() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("skipping: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(61_000), Some(61_000)).unwrap();
    let db = format!("sqlite://{}", state.join("collector.db").display());
    let o = run(&["collector", "token", "create", "a", "--database", &db]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("belongs to the collector's user (uid 61000): start the collector once"),
        "{}",
        stderr(&o)
    );
    assert!(!state.join("collector.db").exists());
    // Once the collector made it (here: an empty file it owns), root may add tokens.
    let file = state.join("collector.db");
    std::fs::write(&file, b"").unwrap();
    std::os::unix::fs::chown(&file, Some(61_000), Some(61_000)).unwrap();
    let o = run(&["collector", "token", "create", "a", "--database", &db]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&file).unwrap().uid(),
        61_000,
        "the owner is kept"
    );
}
