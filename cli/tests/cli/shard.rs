//! Agents that share one inventory: four `v6audit agent --once --shard K/4`
//! processes from one vantage audit every lab portal exactly once between
//! them, and the collector (on PostgreSQL when the suite has one) shows one
//! vantage per portal; cut anew into one shard, the newest measurement
//! speaks for the vantage.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::collector::{collector, free_port};
use crate::*;

/// A fresh PostgreSQL database when the suite has a server
/// (`V6AUDIT_TEST_POSTGRES_URL`, as `scripts/test.sh` sets), else a SQLite
/// file in `dir`.
fn database(dir: &Path) -> String {
    let Ok(admin) = std::env::var("V6AUDIT_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_POSTGRES").is_none(),
            "V6AUDIT_TEST_POSTGRES_URL is not set: run ./scripts/test.sh"
        );
        eprintln!("no PostgreSQL here (V6AUDIT_TEST_POSTGRES_URL): sharing on SQLite");
        return format!("sqlite://{}", dir.join("collector.db").display());
    };
    let name = format!("v6audit_shard_{}", std::process::id());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Executor;
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        pool.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
        pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
    });
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// `v6audit agent --once` with this shard, its configuration in `dir`.
fn agent(dir: &Path, lab: &LabProcess, port: u16, name: &str, token: &str, shard: &str) -> Child {
    let arg = |flag: &str| {
        lab.args
            .iter()
            .position(|a| a == flag)
            .map(|i| lab.args[i + 1].clone())
            .unwrap()
    };
    let yaml = write(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "agent_id: {name}\ncollector:\n  url: http://[::1]:{port}/\n  token: {token}\ninventory: {}\n\
             spool:\n  dir: {}\naudit:\n  resolver: \"{}\"\n  ns_port: {}\n  smtp_port: {}\n  ca_file: {}\n  rules: {}\n  trust_anchor: {}\n  timeout: 3s\n",
            lab.args[1],
            dir.join(format!("spool-{name}")).display(),
            arg("--resolver"),
            arg("--ns-port"),
            arg("--smtp-port"),
            arg("--ca-file"),
            arg("--rules"),
            arg("--trust-anchor"),
        ),
    );
    bin()
        .args(["agent", "--once", "--shard", shard, "--config"])
        .arg(&yaml)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for an agent, at most two minutes; its stdout lines.
fn finish(mut child: Child, name: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(status.success(), "{name}: {status}\n{}", stderr(&out));
            return stdout(&out).lines().map(str::to_owned).collect();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{name} did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The collector's portals by id, as its API lists them.
fn portals(port: u16) -> BTreeMap<String, Value> {
    let v: Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(format!("http://[::1]:{port}/api/v1/portals"))
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    v["portals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

#[test]
fn four_agents_sharing_one_inventory_audit_each_portal_once_as_one_vantage() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let lab = LabProcess::start(24, "good");
    let ids: BTreeSet<String> = serde_saphyr::from_str::<Value>(
        &std::fs::read_to_string(&lab.args[1]).unwrap(),
    )
    .unwrap()["portals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 24);

    // Four tokens, one vantage name: four machines in one network.
    let names = ["hanoi-1", "hanoi-2", "hanoi-3", "hanoi-4"];
    let tokens: Vec<String> = names
        .iter()
        .map(|name| {
            let o = run(&[
                "collector",
                "token",
                "create",
                name,
                "--vantage",
                "hanoi",
                "--database",
                &db,
            ]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            stdout(&o).trim().to_owned()
        })
        .collect();
    let port = free_port();
    let _server = collector(&db, port);

    let children: Vec<Child> = names
        .iter()
        .zip(&tokens)
        .enumerate()
        .map(|(k, (name, token))| {
            agent(dir.path(), &lab, port, name, token, &format!("{}/4", k + 1))
        })
        .collect();
    let mut audited = 0;
    for (child, name) in children.into_iter().zip(names) {
        let lines = finish(child, name);
        let results: usize = lines
            .iter()
            .find_map(|l| {
                l.strip_prefix("audited report ")
                    .and_then(|rest| rest.split(": ").nth(1))
                    .and_then(|n| n.strip_suffix(" results"))
                    .map(|n| n.parse().unwrap())
            })
            .unwrap_or_else(|| panic!("{name}: {lines:#?}"));
        assert!(
            lines.iter().any(|l| l.starts_with("acknowledged report ")),
            "{name}: {lines:#?}"
        );
        audited += results;
    }
    // Each portal audited by exactly one of the four.
    assert_eq!(audited, ids.len());

    let seen = portals(port);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), ids);
    let mut by_agent: BTreeMap<String, usize> = BTreeMap::new();
    for (id, p) in &seen {
        assert_eq!(p["combined"]["vantages"], 1, "{id}: {p}");
        let vantages = p["vantages"].as_array().unwrap();
        assert_eq!(vantages.len(), 1, "{id}: {p}");
        assert_eq!(vantages[0]["vantage"], "hanoi", "{id}: {p}");
        *by_agent
            .entry(vantages[0]["agent"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(by_agent.len(), 4, "every agent audited some: {by_agent:?}");

    // Cut anew: hanoi-1 alone takes the whole inventory (1/1). Each portal
    // now has two agents' results in one vantage; the newest speaks.
    let lines = finish(
        agent(dir.path(), &lab, port, names[0], &tokens[0], "1/1"),
        names[0],
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!(": {} results", ids.len()))),
        "{lines:#?}"
    );
    let seen = portals(port);
    assert_eq!(seen.len(), ids.len());
    for (id, p) in &seen {
        assert_eq!(p["combined"]["vantages"], 1, "{id}: {p}");
        let vantages = p["vantages"].as_array().unwrap();
        assert_eq!(vantages.len(), 1, "{id}: {p}");
        assert_eq!(vantages[0]["agent"], "hanoi-1", "{id}: {p}");
    }
}
