//! Benchmark of the dashboard (run by `bench/dashboard.sh`): a collector on
//! SQLite seeded with P portals x D days x V vantages of history, then each
//! page requested over loopback HTTP, once right after the data changed (the
//! projections recomputed) and N times after (steady state), with the JSON
//! API beside it as the peer. Prints p50/p95/max per page and the machine.
//!
//! "Just after new data" is the first request after the cached projections
//! were dropped (as after an ingest, when they are recomputed from the
//! in-memory index of stage changes, which the ingest brought up to date).
//!
//! History is stored through the storage trait's ingest (one report per
//! vantage and day, events derived as on arrival), with compact rows (no
//! observation, no findings) since pages never read old observations; the
//! last day is pushed over HTTP as real reports (full observations from the
//! lab fixture, judged by the collector's pack), as agents would.
//!
//!   cargo run --release -p v6audit-collector --example dashboard_bench -- \
//!       --portals 2000 --days 365 --vantages 3 --requests 40 --db /var/tmp/dash.db

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use v6audit_collector::config::hash_token;
use v6audit_collector::ingest::derive_events;
use v6audit_collector::server::Background;
use v6audit_collector::store::{NewReport, NewResult, Storage, StoredVerdict};
use v6audit_model::Stage;

mod support;
use support::{bench_config, dated, machine, now_ms, peak_rss_mib, percentile};

struct Args {
    portals: usize,
    days: i64,
    vantages: usize,
    requests: usize,
    db: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        portals: 2000,
        days: 365,
        vantages: 3,
        requests: 40,
        db: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--portals" => a.portals = v.parse().unwrap(),
            "--days" => a.days = v.parse().unwrap(),
            "--vantages" => a.vantages = v.parse().unwrap(),
            "--requests" => a.requests = v.parse().unwrap(),
            "--db" => a.db = Some(PathBuf::from(v)),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

const AGENCIES: usize = 60;

fn agency(i: usize) -> String {
    format!("Bộ/Tỉnh số {:02}", i % AGENCIES)
}

fn inventory(portals: usize) -> String {
    let mut s = String::from(
        "schema: v6audit/inventory/v1\nname: dashboard benchmark\ncampaigns:\n  \
         - {id: citizen-2027, name: Citizen services, target_stage: 3, deadline: 2027-06-30, select: {categories: [citizen]}}\n  \
         - {id: all-2028, target_stage: 2, deadline: 2028-12-31}\nportals:\n",
    );
    let cats = ["citizen", "business", "information", "internal"];
    for i in 0..portals {
        s.push_str(&format!(
            "  - {{id: p{i:05}, url: \"https://p{i:05}.bench.gov.vn/\", name: \"Cổng số {i}\", agency: \"{}\", category: {}, audience: {}, tags: [t{}]}}\n",
            agency(i),
            cats[i % 4],
            1000 * (1 + i % 997),
            i % 12
        ));
    }
    s
}

/// A deterministic stage history: portals start low and move up on their
/// own migration day; a few regress for a while; one vantage sees some
/// portals broken.
fn stage(i: usize, v: usize, d: i64, days: i64) -> i64 {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
    let start = [0, 0, 0, 0, 0, 0, 1, 2, 2, 3][(h % 10) as usize];
    let migrate = (h % (2 * days as u64)) as i64;
    let mut s = if d >= migrate {
        (start + 2).min(4)
    } else {
        start
    };
    if i.is_multiple_of(50) && d >= migrate + 10 && d < migrate + 20 {
        s = 1;
    }
    if v == 2 && i.is_multiple_of(17) && s >= 2 {
        s = 1;
    }
    s
}

async fn seed_history(
    store: &v6audit_collector::Store,
    a: &Args,
    offset_s: i64,
) -> (usize, Duration) {
    let t0 = Instant::now();
    let today_start =
        (now_ms() + offset_s * 1000).div_euclid(86_400_000) * 86_400_000 - offset_s * 1000;
    let mut stored = 0;
    // Days before today; today comes as real reports.
    for d in 0..a.days - 1 {
        let day_ms = today_start - (a.days - 1 - d) * 86_400_000;
        for v in 0..a.vantages {
            let observed = day_ms + 2 * 3_600_000 + v as i64 * 600_000;
            let results: Vec<NewResult> = (0..a.portals)
                .map(|i| {
                    let s = stage(i, v, d, a.days);
                    NewResult {
                        id: uuid::Uuid::now_v7().to_string(),
                        portal_id: format!("p{i:05}"),
                        observed_ms: observed + i as i64,
                        portal: String::from("{}"),
                        observation: String::from("{}"),
                        verdict: StoredVerdict {
                            stage: Stage::try_from(s as u8).expect("stage() gives 0 to 4"),
                            stage_certain: true,
                            score: 20 * s + 10,
                            priority: 100 * (4 - s),
                            findings: String::from("[]"),
                            pack: String::from("bench/1"),
                        },
                    }
                })
                .collect();
            let report = NewReport {
                id: uuid::Uuid::now_v7().to_string(),
                agent: format!("vantage-{v}"),
                received_ms: observed + 60_000,
                generated_ms: observed + 30_000,
            };
            let done = store
                .ingest(&report, &results, &derive_events, offset_s)
                .await
                .unwrap();
            stored += done.stored;
        }
        if d % 30 == 0 {
            eprint!(
                "\rseeding: day {}/{} ({:.0} s)",
                d + 1,
                a.days,
                t0.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
    }
    eprintln!();
    (stored, t0.elapsed())
}

/// Today's reports: real observations (the lab fixture's, cycled), one report
/// of at most 500 results per push.
async fn push_today(base: &str, tokens: &[String], portals: usize) {
    let mut fixture: Value =
        serde_json::from_str(include_str!("../tests/fixtures/report-lab.json")).unwrap();
    let started = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    // Its certificates move with it, or they would expire in the bench.
    dated::made_at(&mut fixture, started);
    let samples = fixture["results"].as_array().unwrap();
    let client = reqwest::Client::new();
    for (v, token) in tokens.iter().enumerate() {
        for chunk in (0..portals).collect::<Vec<_>>().chunks(500) {
            let mut report = fixture.clone();
            report["id"] = json!(uuid::Uuid::now_v7().to_string());
            report["results"] = chunk
                .iter()
                .map(|&i| {
                    let mut r = samples[(i + v) % samples.len()].clone();
                    r["id"] = json!(uuid::Uuid::now_v7().to_string());
                    r["portal"]["id"] = json!(format!("p{i:05}"));
                    r["portal"]["url"] = json!(format!("https://p{i:05}.bench.gov.vn/"));
                    r["observation"]["started_at"] = json!(
                        (started + time::Duration::milliseconds(i as i64))
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap()
                    );
                    r
                })
                .collect();
            let body = serde_json::to_vec(&report).unwrap();
            let r = client
                .post(format!("{base}/api/v1/reports"))
                .bearer_auth(token)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let db = a.db.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let config = bench_config(dir.path(), &db, &inventory(a.portals));
    let offset_s = i64::from(config.utc_offset.whole_seconds());
    let state = v6audit_collector::prepare(config).await.unwrap();
    println!("machine: {}", machine());
    println!(
        "history: {} portals x {} days x {} vantages = {} results, SQLite at {}",
        a.portals,
        a.days,
        a.vantages,
        a.portals * a.days as usize * a.vantages,
        db.display()
    );
    let existing = state.store.counts().await.unwrap().results;
    let mut tokens = Vec::new();
    if existing == 0 {
        for v in 0..a.vantages {
            let token = v6audit_collector::new_token().unwrap();
            state
                .store
                .create_agent(
                    &format!("vantage-{v}"),
                    Some(&format!("Vantage {v}")),
                    &hash_token(&token),
                    0,
                )
                .await
                .unwrap();
            tokens.push(token);
        }
        let (n, took) = seed_history(&state.store, &a, offset_s).await;
        println!(
            "seeded {n} results through Storage::ingest in {:.1} s ({:.0} results/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    } else {
        println!("reusing {existing} stored results");
    }
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let server = Background::spawn(listener, state.clone()).unwrap();
    let base = server.base();
    if !tokens.is_empty() {
        let t = Instant::now();
        push_today(&base, &tokens, a.portals).await;
        println!(
            "pushed today's {} real results over HTTP in {:.1} s",
            a.portals * a.vantages,
            t.elapsed().as_secs_f64()
        );
    }
    let counts = state.store.counts().await.unwrap();
    println!(
        "stored: {} results, {} events, {} reports; database {:.0} MiB",
        counts.results,
        counts.events,
        counts.reports,
        std::fs::metadata(&db).map_or(0.0, |m| m.len() as f64 / 1048576.0)
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let pages = [
        ("overview", "/"),
        ("portals", "/portals"),
        ("portals filtered", "/portals?stage=1&q=s%E1%BB%91+1"),
        ("portal detail", "/portals/p00042"),
        ("agencies", "/agencies"),
        (
            "agency",
            "/agency?name=B%E1%BB%99%2FT%E1%BB%89nh+s%E1%BB%91+07",
        ),
        ("fix first", "/fix-first"),
        ("changes", "/changes"),
        ("portal detail vi", "/portals/p00042?lang=vi"),
        ("API portals (peer)", "/api/v1/portals"),
        (
            "API progress 365 d (peer)",
            "/api/v1/progress?from=2000-01-01",
        ),
        ("API ranking (peer)", "/api/v1/ranking"),
    ];
    // The first page after start reads the daily stages into the index.
    let t = Instant::now();
    let r = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await.unwrap();
    println!(
        "first page after start (reads the daily stage index): {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "requests per page: 1 just after new data, then {} (steady state)",
        a.requests
    );
    println!(
        "{:<27} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "page", "cold ms", "p50 ms", "p95 ms", "max ms", "bytes"
    );
    for (name, path) in pages {
        let path = if path.contains("from=2000-01-01") {
            let today = v6audit_collector::views::today(state.config.utc_offset);
            format!(
                "/api/v1/progress?from={}",
                today - time::Duration::days(a.days - 1)
            )
        } else {
            path.to_owned()
        };
        let get = |p: String| {
            let client = client.clone();
            let url = format!("{base}{p}");
            async move {
                let t = Instant::now();
                let r = client.get(url).send().await.unwrap();
                assert_eq!(r.status(), 200, "{p}");
                let n = r.bytes().await.unwrap().len();
                (t.elapsed().as_secs_f64() * 1000.0, n)
            }
        };
        state.projections.invalidate();
        let (cold, bytes) = get(path.clone()).await;
        let mut times = Vec::with_capacity(a.requests);
        for _ in 0..a.requests {
            times.push(get(path.clone()).await.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<27} {cold:>9.1} {:>9.1} {:>9.1} {:>9.1} {bytes:>10}",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or(0.0)
        );
    }
    println!("collector peak RSS: {:.0} MiB", peak_rss_mib());
    let _ = server.stop().await;
}
