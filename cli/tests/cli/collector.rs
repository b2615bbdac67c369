//! The collector and the agent as processes: a collector killed with SIGKILL
//! while an agent pushes loses nothing it acknowledged, the agent's spool
//! delivers the rest, and the final count is exactly what was produced.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use v6audit_collector::store::{Storage, Store};

use crate::*;

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn collector(db: &str, port: u16) -> Killed {
    let child = bin()
        .args([
            "collector",
            "serve",
            "--database",
            db,
            "--listen",
            &format!("[::1]:{port}"),
        ])
        .env("V6AUDIT_COLLECTOR_STATE_DIR", std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Ready when it answers.
    let start = Instant::now();
    while std::net::TcpStream::connect(("::1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the collector did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Killed(child)
}

#[test]
fn a_collector_killed_mid_push_loses_nothing_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("collector.db").display());
    let o = run(&[
        "collector",
        "token",
        "create",
        "lab-agent",
        "--vantage",
        "loopback",
        "--database",
        &db,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    assert!(
        token.starts_with("v6a_") && !token.contains('\n'),
        "the token is alone on stdout: {token}"
    );

    let lab = LabProcess::start(4, "fast");
    let port = free_port();
    let mut server = collector(&db, port);
    let arg = |flag: &str| {
        lab.args
            .iter()
            .position(|a| a == flag)
            .map(|i| lab.args[i + 1].clone())
            .unwrap()
    };
    let runs = 8;
    let agent_yaml = write(
        dir.path(),
        "agent.yaml",
        &format!(
            "agent_id: lab-agent\ncollector:\n  url: http://[::1]:{port}/\n  token: {token}\ninventory: {}\n\
             schedule:\n  interval: 1s\n  jitter: 0%\nspool:\n  dir: {}\naudit:\n  resolver: \"{}\"\n  ns_port: {}\n  ca_file: {}\n  timeout: 3s\n",
            lab.args[1],
            dir.path().join("spool").display(),
            arg("--resolver"),
            arg("--ns-port"),
            arg("--ca-file"),
        ),
    );
    let mut agent = Killed(
        bin()
            .args(["agent", "--config"])
            .arg(&agent_yaml)
            .args(["--runs", &runs.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel::<String>();
    let out = agent.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let next = |lines: &mut Vec<String>| {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the agent went quiet");
        lines.push(line.clone());
        line
    };
    // Kill the collector as soon as it has acknowledged a report.
    while !next(&mut lines).starts_with("acknowledged report ") {}
    let _ = server.0.kill();
    let _ = server.0.wait();
    // The agent keeps auditing and spooling meanwhile; then the collector comes back.
    std::thread::sleep(Duration::from_secs(3));
    let _server = collector(&db, port);
    while !next(&mut lines).starts_with("done: ") {}
    let status = agent.0.wait().unwrap();
    assert!(status.success(), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("waiting: report ") && l.contains("cannot reach the collector")),
        "the agent saw the collector gone: {lines:#?}"
    );

    let acked: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("acknowledged report ")
                .map(|r| r.split(':').next().unwrap().to_owned())
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (results, reports) = rt.block_on(async {
        let store = Store::open(&db).await.unwrap();
        let mut reports = std::collections::BTreeSet::new();
        let mut after = String::new();
        let mut n = 0;
        loop {
            let batch = store.results_after(&after, 1000).await.unwrap();
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            n += batch.len();
            reports.extend(batch.into_iter().map(|r| r.report_id));
        }
        (n, reports)
    });
    // Exactly what was produced: every run's four results, once.
    assert_eq!(results, runs * 4, "{lines:#?}");
    assert_eq!(reports.len(), runs, "{lines:#?}");
    for id in &acked {
        assert!(
            reports.contains(id),
            "acknowledged report {id} is not stored"
        );
    }
}

#[test]
fn the_example_configurations_are_valid() {
    let packaging = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging");
    let config = v6audit_collector::Config::load(
        Some(&packaging.join("collector.yaml")),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("packaging/collector.yaml: {e}"));
    assert_eq!(config.listen.to_string(), "[::]:8080");
    assert_eq!(config.body_limit, 16 << 20);
    assert_eq!(config.utc_offset.whole_hours(), 7);
    assert_eq!(config.time_zone_name, "Asia/Ho_Chi_Minh");
    assert_eq!(
        config.dashboard.access,
        v6audit_collector::config::Access::Public
    );
    assert_eq!(config.dashboard.stale_after_hours, 24);
    // Dashboard mistakes are named with their field.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(packaging.join("collector.yaml"))
        .unwrap()
        .replace("time_zone: Asia/Ho_Chi_Minh", "time_zone: Asia/Hanoi_City")
        .replace("access: public", "access: secret");
    let bad = write(dir.path(), "collector.yaml", &text);
    let err = v6audit_collector::Config::load(Some(&bad), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("time_zone: `Asia/Hanoi_City` is not a time zone"),
        "{err}"
    );
    assert!(
        err.contains("dashboard.access: `secret` is not an access mode (public or private)"),
        "{err}"
    );
    // The agent's example takes its token from systemd once installed; here,
    // from a file.
    let dir = tempfile::tempdir().unwrap();
    let token = write(dir.path(), "agent.token", "v6a_test\n");
    let text = std::fs::read_to_string(packaging.join("agent.yaml"))
        .unwrap()
        .replace(
            "# token_file: /etc/v6audit/agent.token",
            &format!("token_file: {}", token.display()),
        );
    let agent = write(dir.path(), "agent.yaml", &text);
    let cfg = v6audit_agent::daemon::AgentConfig::load(&agent, dir.path(), "host")
        .unwrap_or_else(|e| panic!("packaging/agent.yaml: {e}"));
    // The host name, unless agent_id says otherwise.
    assert_eq!(cfg.agent_id, "host");
    assert_eq!(cfg.token, "v6a_test");
    assert_eq!(cfg.spool_max_bytes, 256 << 20);
    // A mistake is named with its field.
    let bad = write(
        dir.path(),
        "bad.yaml",
        &text.replace("interval: 6h", "interval: 6 hours"),
    );
    let err = v6audit_agent::daemon::AgentConfig::load(&bad, dir.path(), "host")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("schedule.interval: `6 hours`: unknown unit `hours`"),
        "{err}"
    );
    // DNSSEC from the root's keys unless a trust anchor file says otherwise;
    // a file that is not one is named with its line.
    assert!(cfg.settings.dnssec.is_some());
    let anchor = write(
        dir.path(),
        "anchor.keys",
        "lab.test. IN DNSKEY 257 3 13 %%%\n",
    );
    let bad = write(
        dir.path(),
        "bad-anchor.yaml",
        &text.replace(
            "  # trust_anchor: /etc/v6audit/trust-anchor.keys",
            &format!("  trust_anchor: {}", anchor.display()),
        ),
    );
    let err = v6audit_agent::daemon::AgentConfig::load(&bad, dir.path(), "host")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "audit.trust_anchor: {}:1: the DNSKEY's key is not base64",
            anchor.display()
        )),
        "{err}"
    );
    let off = write(
        dir.path(),
        "no-dnssec.yaml",
        &text.replace("  # dnssec: true", "  dnssec: false"),
    );
    let cfg = v6audit_agent::daemon::AgentConfig::load(&off, dir.path(), "host").unwrap();
    assert!(cfg.settings.dnssec.is_none());
    // The shard of a shared inventory, as the comment shows it; one that is
    // not K/N is named.
    assert_eq!(cfg.shard, None);
    let shared = write(
        dir.path(),
        "shared.yaml",
        &text.replace("# shard: 1/4", "shard: 3/4"),
    );
    let cfg = v6audit_agent::daemon::AgentConfig::load(&shared, dir.path(), "host").unwrap();
    assert_eq!(cfg.shard.map(|s| s.to_string()).as_deref(), Some("3/4"));
    let bad = write(
        dir.path(),
        "bad-shard.yaml",
        &text.replace("# shard: 1/4", "shard: 5/4"),
    );
    let err = v6audit_agent::daemon::AgentConfig::load(&bad, dir.path(), "host")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shard: `5/4` is not a shard: write K/N"),
        "{err}"
    );
}

#[test]
fn tokens_are_listed_and_revoked_and_sighup_rereads_the_inventories() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let token = stdout(&run(&[
        "collector",
        "token",
        "create",
        "hcm-1",
        "--vantage",
        "Viettel TP.HCM",
        "--database",
        &db,
    ]))
    .trim()
    .to_owned();
    let again = run(&["collector", "token", "create", "hcm-1", "--database", &db]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("an agent named `hcm-1` exists already"),
        "{}",
        stderr(&again)
    );
    let list = stdout(&run(&["collector", "token", "list", "--database", &db]));
    assert!(
        list.contains("hcm-1") && list.contains("Viettel TP.HCM") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains(&token), "a token is never shown again");

    let inventory = write(
        dir.path(),
        "inv.yaml",
        "schema: v6audit/inventory/v1\nportals:\n  - {id: a, url: https://a.gov.vn/}\n",
    );
    let config = write(
        dir.path(),
        "collector.yaml",
        &format!("database: {db}\ninventories: [{}]\n", inventory.display()),
    );
    let port = free_port();
    let server = Killed(
        bin()
            .args(["collector", "serve", "--config"])
            .arg(&config)
            .args(["--listen", &format!("[::1]:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("::1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    let count = || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let v: serde_json::Value = http_get(port, "/api/v1/portals").await;
            v["portals"].as_array().unwrap().len()
        })
    };
    assert_eq!(count(), 1);
    write(
        dir.path(),
        "inv.yaml",
        "schema: v6audit/inventory/v1\nportals:\n  - {id: a, url: https://a.gov.vn/}\n  - {id: b, url: https://b.gov.vn/}\n",
    );
    let hup = Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let start = Instant::now();
    while count() != 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "SIGHUP did not reread the inventory"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A pushed report with a revoked token is refused, and `audit --push` says why.
    let o = run(&["collector", "token", "revoke", "hcm-1", "--database", &db]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lab = LabProcess::start(1, "good");
    let o = lab.audit(&[
        "--quiet",
        "--format",
        "csv",
        "--output",
        "/dev/null",
        "--push",
        &format!("http://[::1]:{port}/"),
        "--token",
        &token,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed: the collector answered 401 Unauthorized: the token of agent `hcm-1` was revoked"),
        "{}",
        stderr(&o)
    );
    drop(server);
    // A collector that is not there: the push fails with the reason.
    let o = lab.audit(&[
        "--quiet",
        "--format",
        "csv",
        "--output",
        "/dev/null",
        "--push",
        &format!("http://[::1]:{port}/"),
        "--token",
        &token,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot reach the collector"),
        "{}",
        stderr(&o)
    );
}

async fn http_get(port: u16, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A plain HTTP/1.0 GET: the test needs no HTTP client of its own.
    let mut s = tokio::net::TcpStream::connect(("::1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// `audit --push` streams: JSON lines go out as portals finish and the
/// results reach the collector in parts, none held for the end; a vantage
/// that measured nothing (a silent resolver) sends nothing, since its
/// results are not facts about the portals.
#[test]
fn audit_push_streams_its_results_and_sends_nothing_when_nothing_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let o = run(&["collector", "token", "create", "hcm-1", "--database", &db]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    let port = free_port();
    let _server = collector(&db, port);
    let url = format!("http://[::1]:{port}/");
    let stored = || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = Store::open(&db).await.unwrap();
            store.counts().await.unwrap().results
        })
    };

    let lab = LabProcess::start(6, "good");
    let lines = dir.path().join("out.jsonl");
    let o = lab.audit(&[
        "--quiet",
        "--format",
        "jsonl",
        "--output",
        lines.to_str().unwrap(),
        "--push",
        &url,
        "--token",
        &token,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pushed 1 report: 6 results stored, 0 already stored"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&lines).unwrap().lines().count(), 6);
    assert_eq!(stored(), 6);

    let silent = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let resolver = silent.local_addr().unwrap().to_string();
    let o = run(&[
        "audit",
        "--target",
        "dichvucong.gov.vn",
        "--resolver",
        &resolver,
        "--timeout",
        "1",
        "--budget",
        "10",
        "--no-icmpv6",
        "--format",
        "jsonl",
        "--push",
        &url,
        "--token",
        &token,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("v6audit: --push: nothing was sent"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stored(), 6, "nothing more was stored");
}
