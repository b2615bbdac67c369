//! What the collector's test files share: a fresh database per backend, a
//! collector running on port 0, the lab report fixture, and `battery!`,
//! which runs a test body on SQLite and on PostgreSQL.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) mod dated;

use serde_json::{Value, json};
use v6audit_collector::config::hash_token;
use v6audit_collector::server::Background;
use v6audit_collector::store::{Storage, Store};
use v6audit_collector::{AppState, Config, Overrides};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The lab report every test starts from (18 portals, one per scenario),
/// moved by whole days to between two and 26 hours ago. The pages count
/// "this week" and chart recent days from the clock, so the recorded date
/// aged out of them: a week after it was recorded, the overview's week
/// showed no regressions. Every time in it moves together (certificates
/// too), so each verdict stays what it was; whole days keep the hour, so
/// each result stays on its local day.
pub(crate) fn lab_report() -> Value {
    let mut report: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("report-lab.json")).unwrap())
            .unwrap();
    let age =
        time::OffsetDateTime::now_utc() - time::Duration::hours(2) - dated::generated_at(&report);
    let days = age.whole_seconds().div_euclid(86_400);
    dated::shift_times(&mut report, time::Duration::days(days));
    report
}

/// A fresh database on one backend, dropped with the guard.
pub(crate) struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_name.take() {
            // Best effort, on a runtime of its own: the test's is gone.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sqlx::Executor;
                    if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                        let _ = pool
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub(crate) static NEXT: AtomicU32 = AtomicU32::new(0);

pub(crate) async fn database(backend: &str) -> Option<Db> {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            Some(Db {
                url: format!("sqlite://{}", dir.path().join("collector.db").display()),
                _dir: Some(dir),
                pg_name: None,
            })
        }
        _ => {
            let Ok(admin) = std::env::var("V6AUDIT_TEST_POSTGRES_URL") else {
                assert!(
                    std::env::var_os("V6AUDIT_REQUIRE_POSTGRES").is_none(),
                    "V6AUDIT_TEST_POSTGRES_URL is not set: run ./scripts/test.sh, which starts PostgreSQL"
                );
                eprintln!(
                    "skipping the PostgreSQL run: V6AUDIT_TEST_POSTGRES_URL is not set (./scripts/test.sh sets it)"
                );
                return None;
            };
            use sqlx::Executor;
            let name = format!(
                "v6audit_t{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            Some(Db {
                url: url.to_string(),
                _dir: None,
                pg_name: Some((admin, name)),
            })
        }
    }
}

/// Runs `sql` on the test's database behind the store's back.
pub(crate) async fn execute(db: &Db, sql: &'static str) {
    use sqlx::Executor;
    if db.pg_name.is_some() {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        pool.execute(sql).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        pool.execute(sql).await.unwrap();
        pool.close().await;
    }
}

/// Runs a test body once per backend.
macro_rules! battery {
    ($($name:ident => $body:expr;)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::database("sqlite").await.unwrap();
                    ($body)(db).await;
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = super::database("postgres").await {
                        ($body)(db).await;
                    }
                }
            )*
        }
    };
}

pub(crate) async fn store(db: &Db) -> Store {
    let s = Store::open(&db.url).await.unwrap();
    s.migrate().await.unwrap();
    s
}

/// A collector judging with the lab pack, its lab inventory loaded, on port 0.
pub(crate) struct Running {
    pub base: String,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    server: Background,
}

impl Running {
    pub(crate) async fn start(db: &Db, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(
            None,
            &Overrides {
                listen: Some("[::1]:0".into()),
                database: Some(db.url.clone()),
            },
        )
        .unwrap();
        config.state_dir = dir.keep();
        config.rules = Some(fixture("lab-pack.yaml"));
        config.inventories = vec![fixture("lab-inventory.yaml")];
        config.admin_token_hash = Some(hash_token("admin-secret"));
        tweak(&mut config);
        let state = v6audit_collector::prepare(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let server = Background::spawn(listener, state.clone()).unwrap();
        Self {
            base: server.base(),
            state,
            client: reqwest::Client::new(),
            server,
        }
    }

    pub(crate) async fn token(&self, agent: &str) -> String {
        let token = v6audit_collector::new_token().unwrap();
        self.state
            .store
            .create_agent(agent, Some("VNPT Hà Nội"), &hash_token(&token), 0)
            .await
            .unwrap();
        token
    }

    pub(crate) async fn push(
        &self,
        token: Option<&str>,
        body: Vec<u8>,
        gzip: bool,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/api/v1/reports", self.base))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) async fn results(&self) -> i64 {
        self.state.store.counts().await.unwrap().results
    }

    pub(crate) async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The same report with fresh ids (a later run of the same agent).
pub(crate) fn rerun(report: &Value, minutes_later: i64) -> Value {
    let mut r = report.clone();
    r["id"] = json!(uuid::Uuid::now_v7().to_string());
    for x in r["results"].as_array_mut().unwrap() {
        x["id"] = json!(uuid::Uuid::now_v7().to_string());
        let t = time::OffsetDateTime::parse(
            x["observation"]["started_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        x["observation"]["started_at"] = json!(
            (t + time::Duration::minutes(minutes_later))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        );
    }
    r
}
