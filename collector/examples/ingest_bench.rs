//! Benchmark of ingest (run by `bench/ingest.sh`): how many results per
//! second a collector on SQLite acknowledges, durably stored, as agents push
//! real reports over loopback HTTP.
//!
//! Cases, each on a fresh database so they compare:
//! - one agent pushing reports of 100, 1,000 and 10,000 results (ingest must
//!   be linear in a report's size: the same results/s at every size);
//! - four agents pushing 100-result reports at once (the collector's
//!   everyday load: does one agent's transaction hold the others back?);
//! - one report whose results are all for one portal at one timestamp (the
//!   "previous verdict" query once sorted every tied row: 6,000 such results
//!   took 72 s and locked other agents out).
//!
//! Results are the lab fixture's real observations (about 8 KiB of JSON
//! each), cycled over an inventory of 10,000 portals; the collector judges
//! each with its pack, as in production. Bodies are serialised before the
//! clock starts, so the figures are the collector's. A 503 (busy) answer is
//! waited out for its `Retry-After` and sent again, as the agent does, and
//! counted.
//!
//!   cargo run --release -p v6audit-collector --example ingest_bench -- --results 20000

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use v6audit_collector::config::hash_token;
use v6audit_collector::server::Background;
use v6audit_collector::store::Storage;

mod support;
use support::{bench_config, cpu_seconds, dated, machine, peak_rss_mib};

/// Portals in the benchmark's inventory; results cycle over them.
const PORTALS: usize = 10_000;

struct Args {
    /// Results pushed per case (the tied case pushes one report of the
    /// largest size instead).
    results: usize,
    sizes: Vec<usize>,
    agents: usize,
}

fn args() -> Args {
    let mut a = Args {
        results: 20_000,
        sizes: vec![100, 1_000, 10_000],
        agents: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--results" => a.results = v.parse().unwrap(),
            "--sizes" => a.sizes = v.split(',').map(|s| s.parse().unwrap()).collect(),
            "--agents" => a.agents = v.parse().unwrap(),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn inventory() -> String {
    let mut s = String::from("schema: v6audit/inventory/v1\nname: ingest benchmark\nportals:\n");
    for i in 0..PORTALS {
        s.push_str(&format!(
            "  - {{id: p{i:05}, url: \"https://p{i:05}.bench.gov.vn/\", name: \"Cổng số {i}\", agency: \"Bộ số {:02}\", category: citizen}}\n",
            i % 60
        ));
    }
    s
}

/// A collector on a fresh SQLite database, with `agents` tokens.
struct Collector {
    server: Background,
    tokens: Vec<String>,
    _dir: tempfile::TempDir,
}

async fn collector(agents: usize) -> Collector {
    let dir = tempfile::tempdir().unwrap();
    let mut config = bench_config(dir.path(), &dir.path().join("ingest.db"), &inventory());
    // A 10,000-result report of real observations is about 80 MiB of JSON.
    config.body_limit = 256 << 20;
    config.body_budget = 1 << 30;
    let state = v6audit_collector::prepare(config).await.unwrap();
    let mut tokens = Vec::new();
    for a in 0..agents {
        let token = v6audit_collector::new_token().unwrap();
        state
            .store
            .create_agent(&format!("bench-{a}"), None, &hash_token(&token), 0)
            .await
            .unwrap();
        tokens.push(token);
    }
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let server = Background::spawn(listener, state).unwrap();
    Collector {
        server,
        tokens,
        _dir: dir,
    }
}

/// Report bodies of `size` results each, `count` of them. `tied` puts every
/// result on one portal at one timestamp.
fn bodies(fixture: &Value, size: usize, count: usize, first: usize, tied: bool) -> Vec<Vec<u8>> {
    let samples = fixture["results"].as_array().unwrap();
    let start = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let stamp = |k: usize| {
        (start + time::Duration::milliseconds(k as i64))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    (0..count)
        .map(|c| {
            let mut report = fixture.clone();
            report["id"] = json!(uuid::Uuid::now_v7().to_string());
            report["results"] = (0..size)
                .map(|j| {
                    let k = first + c * size + j;
                    let i = if tied { 7 } else { k % PORTALS };
                    let mut r = samples[k % samples.len()].clone();
                    r["id"] = json!(uuid::Uuid::now_v7().to_string());
                    r["portal"]["id"] = json!(format!("p{i:05}"));
                    r["portal"]["url"] = json!(format!("https://p{i:05}.bench.gov.vn/"));
                    r["observation"]["started_at"] = json!(stamp(if tied { 0 } else { k }));
                    r
                })
                .collect();
            serde_json::to_vec(&report).unwrap()
        })
        .collect()
}

/// Pushes each body until it is acknowledged; returns the 503s waited out.
async fn push(base: String, token: String, bodies: Vec<Vec<u8>>) -> usize {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let mut busy = 0;
    for body in bodies {
        loop {
            let r = client
                .post(format!("{base}/api/v1/reports"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 503 {
                let wait = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                busy += 1;
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            assert_eq!(status, 200, "{}", r.text().await.unwrap());
            break;
        }
    }
    busy
}

struct Case {
    name: String,
    agents: usize,
    size: usize,
    reports: usize,
    tied: bool,
}

async fn run(fixture: &Value, case: &Case) {
    let c = collector(case.agents).await;
    let per_agent = case.reports.div_ceil(case.agents);
    let work: Vec<Vec<Vec<u8>>> = (0..case.agents)
        .map(|a| {
            bodies(
                fixture,
                case.size,
                per_agent,
                a * per_agent * case.size,
                case.tied,
            )
        })
        .collect();
    let results = case.agents * per_agent * case.size;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .zip(&c.tokens)
        .map(|(b, token)| tokio::spawn(push(c.server.base(), token.clone(), b)))
        .collect();
    let mut busy = 0;
    for task in tasks {
        busy += task.await.unwrap();
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{:<34} {:>7} {:>8} {:>8.2} {:>10.0} {:>10.1} {:>8.2} {:>5}",
        case.name,
        case.agents * per_agent,
        results,
        wall,
        results as f64 / wall,
        wall * 1000.0 / (case.agents * per_agent) as f64,
        cpu * 1000.0 / results as f64,
        busy
    );
    let _ = c.server.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let mut fixture: Value =
        serde_json::from_str(include_str!("../tests/fixtures/report-lab.json")).unwrap();
    // An hour ago, as the results will be, its certificates with it.
    dated::made_at(
        &mut fixture,
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    let sample = serde_json::to_vec(&fixture["results"][0]).unwrap().len();
    println!("machine: {}", machine());
    println!(
        "collector: SQLite, a fresh database per case; results are the lab fixture's real observations (~{} KiB of JSON each), judged by the collector's pack",
        sample / 1024
    );
    println!(
        "{:<34} {:>7} {:>8} {:>8} {:>10} {:>10} {:>8} {:>5}",
        "case", "reports", "results", "wall s", "results/s", "ms/report", "CPU ms/r", "503s"
    );
    let mut cases: Vec<Case> = a
        .sizes
        .iter()
        .map(|&size| Case {
            name: format!("1 agent, {size} per report"),
            agents: 1,
            size,
            reports: a.results.div_ceil(size).max(2),
            tied: false,
        })
        .collect();
    cases.push(Case {
        name: format!("{} agents at once, 100 per report", a.agents),
        agents: a.agents,
        size: 100,
        reports: a.results.div_ceil(100),
        tied: false,
    });
    let largest = a.sizes.iter().copied().max().unwrap_or(10_000);
    cases.push(Case {
        name: format!("tied: {largest} on 1 portal at 1 time"),
        agents: 1,
        size: largest,
        reports: 1,
        tied: true,
    });
    for case in &cases {
        run(&fixture, case).await;
    }
    println!(
        "CPU ms/r is the whole process (collector and the pushing client) per result; peak RSS {:.0} MiB (bodies built up front included)",
        peak_rss_mib()
    );
}
