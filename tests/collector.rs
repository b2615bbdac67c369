//! End to end over real HTTP: the lab's portals, audited by the agent
//! daemon, pushed to the collector, and answered by the collector's API with
//! each scenario's stage, on SQLite and on PostgreSQL (when
//! V6AUDIT_TEST_POSTGRES_URL names a server, as `scripts/test.sh` does).

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::Lines;
use serde_json::Value;
use v6audit_agent::daemon::{AgentConfig, Daemon};
use v6audit_collector::config::hash_token;
use v6audit_collector::server::Background;
use v6audit_collector::store::Storage;
use v6audit_lab::{Lab, LabConfig, Mix, Scenario};

async fn postgres_database() -> Option<String> {
    let Ok(admin) = std::env::var("V6AUDIT_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_POSTGRES").is_none(),
            "V6AUDIT_TEST_POSTGRES_URL is not set: run ./scripts/test.sh"
        );
        eprintln!("skipping the PostgreSQL run: V6AUDIT_TEST_POSTGRES_URL is not set");
        return None;
    };
    use sqlx::Executor;
    let name = format!("v6audit_e2e_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .unwrap();
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

async fn lab_to_agent_to_collector(database: String) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabConfig {
        portals: Scenario::ALL.len(),
        mix: Mix::All,
        dir: dir.path().join("lab"),
    })
    .await
    .unwrap();

    // The collector judges with the lab's pack and knows the lab's inventory.
    let config = common::lab_collector_config(dir.path(), &lab, database);
    let state = v6audit_collector::prepare(config).await.unwrap();
    let token = v6audit_collector::new_token().unwrap();
    state
        .store
        .create_agent("lab-agent", Some("loopback"), &hash_token(&token), 0)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let server = Background::spawn(listener, state.clone()).unwrap();
    let base = server.base();

    // The agent daemon: inventory from the collector, two runs a second apart.
    let agent_yaml = common::lab_agent_yaml(dir.path(), &lab, &base, &token, "lab-agent");
    let config = AgentConfig::load(&agent_yaml, dir.path(), "lab-agent").unwrap();
    let daemon = Daemon::new(config).unwrap();
    let log = Arc::new(Lines::default());
    daemon.run(Some(2), &*log, std::future::pending()).await;
    let lines = log.0.lock().unwrap().clone();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("acknowledged report "))
            .count(),
        2,
        "{lines:#?}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("done: 2 runs, spool empty"),
        "{lines:#?}"
    );
    assert!(daemon.spool().pending().unwrap().is_empty());

    // A restarted agent sends what an earlier run left in its spool first:
    // here a report spooled while nobody listened.
    let lab_inv = v6audit_model::Inventory::load(&lab.inventory_path).unwrap();
    let mut settings = AgentConfig::load(&agent_yaml, dir.path(), "lab-agent")
        .unwrap()
        .settings;
    settings.contact = v6audit_rules::ContactPolicy::of(
        &v6audit_rules::Pack::load(&lab.pack_path).unwrap().params,
    );
    let auditor = v6audit_agent::Auditor::new(settings).await.unwrap();
    let left = auditor
        .audit(
            lab_inv.portals.into_iter().take(3).collect::<Vec<_>>(),
            Arc::new(v6audit_rules::Pack::load(&lab.pack_path).unwrap()),
            v6audit_model::Lang::En,
            "lab-agent",
            None,
        )
        .await;
    daemon
        .spool()
        .put(
            &left.id.to_string(),
            &v6audit_agent::daemon::push::gzip_report(&left),
        )
        .unwrap();
    let restarted =
        Daemon::new(AgentConfig::load(&agent_yaml, dir.path(), "lab-agent").unwrap()).unwrap();
    let log = Lines::default();
    restarted.run(Some(0), &log, std::future::pending()).await;
    let lines = log.0.lock().unwrap().clone();
    assert_eq!(
        lines[0],
        format!(
            "acknowledged report {}: 3 stored, 0 already stored",
            left.id
        ),
        "{lines:#?}"
    );
    assert!(restarted.spool().pending().unwrap().is_empty());

    // The API answers each scenario's stage.
    let portals: Value = reqwest::get(format!("{base}/api/v1/portals"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut wrong = Vec::new();
    for p in portals["portals"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let scenario: Scenario = id.rsplit_once('-').unwrap().0.parse().unwrap();
        if p["combined"]["stage"].as_u64() != Some(u64::from(scenario.expected_stage().number())) {
            wrong.push(format!(
                "{id}: {} (expected {})",
                p["combined"],
                scenario.expected_stage()
            ));
        }
        assert_eq!(p["combined"]["vantages"], 1, "{p}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        portals["portals"].as_array().unwrap().len(),
        Scenario::ALL.len()
    );
    // Two runs of every portal, and the three results left in the spool.
    assert_eq!(
        state.store.counts().await.unwrap().results,
        2 * Scenario::ALL.len() as i64 + 3
    );

    server.stop().await.unwrap();
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_agent_collector_api_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    lab_to_agent_to_collector(format!("sqlite://{}", dir.path().join("c.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_agent_collector_api_on_postgres() {
    if let Some(url) = postgres_database().await {
        lab_to_agent_to_collector(url).await;
    }
}
