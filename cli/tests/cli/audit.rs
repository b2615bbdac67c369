//! `v6audit audit`: bad input, help, the JSON contract, formats, and 1,000 lab portals.

use crate::*;

#[test]
fn bad_input_exits_2_with_the_place_of_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let inv = write(
        dir.path(),
        "inv.yaml",
        "schema: v6audit/inventory/v1\nportals:\n  - id: a\n    url: https://a.gov.vn/\n  - id: a\n    url: https://b.gov.vn/\n",
    );
    let o = run(&["audit", inv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "v6audit: invalid inventory:\n{}:5:9: portals[1].id: duplicate id `a` (first used at line 3)\n",
            inv.display()
        )
    );
    assert!(o.stdout.is_empty());

    let pack = write(
        dir.path(),
        "pack.yaml",
        "schema: v6audit/rules/v1\nname: x\nextends: default\nrules:\n  web.parity:\n    similarity_threshold: 2\n",
    );
    let o = run(&[
        "audit",
        "--target",
        "a.gov.vn",
        "--rules",
        pack.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}:6:27: rules.web.parity.similarity_threshold: must be between 0 and 1, not 2",
            pack.display()
        )),
        "{}",
        stderr(&o)
    );

    let anchor = write(
        dir.path(),
        "anchor.keys",
        "; the lab's key\nlab.test. 3600 IN DS 12345 13 2 ABCDEF\n",
    );
    let o = run(&[
        "audit",
        "--target",
        "a.gov.vn",
        "--trust-anchor",
        anchor.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "v6audit: invalid trust anchor: {}:2: not a DNSKEY record (`<zone>. <ttl> IN DNSKEY <flags> 3 <algorithm> <key>`)\n",
            anchor.display()
        )
    );

    let o = run(&["audit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing to audit"), "{}", stderr(&o));

    let o = run(&["audit", "--target", "a.gov.vn", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown format `xml`"),
        "{}",
        stderr(&o)
    );

    let o = run(&[
        "audit",
        "--target",
        "a.gov.vn",
        "--resolver",
        "not-an-address",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not IP:PORT"), "{}", stderr(&o));

    let o = run(&["audit", "--target", "https://[2001:db8::1]/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the host must be a name"),
        "{}",
        stderr(&o)
    );

    let missing = dir.path().join("no-such-ca.pem");
    let o = run(&[
        "audit",
        "--target",
        "a.lab.test",
        "--resolver",
        "[::1]:9",
        "--ca-file",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the CA file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_explains_the_command() {
    let o = run(&["audit", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    for needle in [
        "--resolver",
        "--ca-file",
        "--concurrency",
        "--timeout",
        "--format",
        "Exit status",
        "jsonl",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn the_json_report_follows_the_v1_contract() {
    let lab = LabProcess::start(18, "all");
    let o = lab.audit(&[
        "--format",
        "json",
        "--timeout",
        "2",
        "--agent-id",
        "ci-agent",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["schema"], "v6audit/report/v1");
    assert_eq!(report["agent"]["id"], "ci-agent");
    assert_eq!(report["agent"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["agent"]["vantage"]["ipv6"], true);
    assert!(report["agent"]["vantage"]["ipv4"].is_boolean());
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 18);
    let statuses = ["pass", "fail", "warn", "info", "skip", "error"];
    for r in results {
        for key in ["id", "url", "agency", "category"] {
            assert!(r["portal"][key].is_string(), "portal.{key} in {r}");
        }
        assert!(r["observation"]["dns"]["aaaa"].is_object());
        let v = &r["verdict"];
        let stage = v["stage"].as_u64().unwrap();
        assert!(stage <= 4);
        assert!(v["stage_name"].is_string());
        assert!(v["score"].as_u64().unwrap() <= 100);
        assert!(v["priority"].is_u64());
        let findings = v["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 17, "every rule of the pack reports");
        for f in findings {
            for key in ["rule", "status", "severity", "message"] {
                assert!(f[key].is_string(), "{key} in {f}");
            }
            assert!(statuses.contains(&f["status"].as_str().unwrap()));
        }
    }
    assert_eq!(report["summary"]["portals"], 18);
    assert_eq!(report["summary"]["stages"]["broken"], 6);
}

#[test]
fn formats_table_jsonl_csv_markdown_and_vietnamese() {
    let lab = LabProcess::start(18, "all");
    let table = lab.audit(&["--timeout", "2"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PORTAL"), "{text}");
    // Most urgent first: a broken portal heads the table.
    assert!(lines[1].contains("1 broken"), "{text}");
    assert!(
        text.contains(
            "18 portals: 2 ipv4-only, 6 broken, 4 reachable, 2 dual-stack, 4 ipv6-complete"
        ),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour when NO_COLOR is set or output is not a terminal"
    );

    let jsonl = lab.audit(&["--timeout", "2", "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = stdout(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 18);
    assert!(rows.iter().all(|r| r["verdict"]["stage"].is_u64()));

    let out = lab.dir.path().join("audit.csv");
    let csv = lab.audit(&[
        "--timeout",
        "2",
        "--format",
        "csv",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(csv.status.code(), Some(0));
    assert!(
        csv.stdout.is_empty(),
        "--output writes the file, not stdout"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with(
        "id,url,name,agency,category,stage,stage_name,stage_certain,score,priority,dns.aaaa,"
    ));
    assert_eq!(lines.count(), 18);
    assert!(
        text.contains("good-0001,https://good-0001.lab.test:"),
        "{text}"
    );

    let md = lab.audit(&["--timeout", "2", "--format", "markdown"]);
    let text = stdout(&md);
    assert!(text.starts_with("# IPv6 audit"), "{text}");
    assert!(text.contains("| Portal | Stage |"));
    assert!(text.contains("### v6-refused-0005"), "{text}");

    let vi = lab.audit(&["--timeout", "2", "--lang", "vi", "--format", "markdown"]);
    let text = stdout(&vi);
    assert!(text.starts_with("# Đánh giá IPv6"), "{text}");
    assert!(text.contains("không nhận kết nối TCP"), "{text}");
}

#[test]
fn a_thousand_lab_portals_each_get_their_expected_stage() {
    use v6audit_lab::Scenario;
    let lab = LabProcess::start(1000, "all");
    // The default 10 s timeout: this runs beside other tests on a shared
    // two-core machine, and a starved lab must not read as a broken portal.
    // The silent and slow portals wait it out, 64 at a time.
    let o = lab.audit(&["--format", "jsonl", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1000);
    let mut wrong = Vec::new();
    for r in &rows {
        let id = r["portal"]["id"].as_str().unwrap();
        let scenario: Scenario = scenario_of(id).parse().unwrap();
        let stage = r["verdict"]["stage"].as_u64().unwrap();
        if stage != u64::from(scenario.expected_stage().number()) {
            let bad: Vec<String> = r["verdict"]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| matches!(f["status"].as_str(), Some("fail" | "error" | "warn")))
                .map(|f| format!("    {} {}: {}", f["rule"], f["status"], f["message"]))
                .collect();
            wrong.push(format!(
                "{id}: stage {stage}, expected {}\n{}",
                scenario.expected_stage(),
                bad.join("\n")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 1000 wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Regression (issue "The first hour", 1): with a resolver that never
/// answers, an audit exited 0 and read as a real result ("1 ipv4-only"),
/// with rules saying the portal "has no AAAA record".
#[test]
fn a_silent_resolver_says_nothing_was_measured_and_exits_3() {
    // A UDP port on loopback that is bound and never answers.
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
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "Nothing could be measured from here: the resolver {resolver} did not answer"
        )),
        "{out}"
    );
    assert!(out.contains("? unmeasured"), "{out}");
    assert!(!out.contains("ipv4-only"), "{out}");
    assert!(!out.contains("has no AAAA record"), "{out}");
    assert!(
        stderr(&o).contains("nothing could be measured from here"),
        "{}",
        stderr(&o)
    );
}

/// Regression (issue "Trust under hostile input", 6): `--budget 3
/// --timeout 10` ran each portal for 10 s (the budget was raised to the
/// timeout). A budget below the timeout is honoured, with a warning.
#[test]
fn a_budget_below_the_timeout_is_honoured_with_a_warning() {
    let silent = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let resolver = silent.local_addr().unwrap().to_string();
    let start = std::time::Instant::now();
    let o = run(&[
        "audit",
        "--target",
        "dichvucong.gov.vn",
        "--resolver",
        &resolver,
        "--budget",
        "3",
        "--timeout",
        "10",
        "--no-icmpv6",
        "--format",
        "json",
    ]);
    assert!(
        stderr(&o).contains("warning: --budget 3 is shorter than --timeout 10"),
        "{}",
        stderr(&o)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let obs = &report["results"][0]["observation"];
    // The budget and the last second of grace, never the 10 s timeout.
    assert!(obs["duration_ms"].as_u64().unwrap() <= 4_000, "{obs}");
    assert_eq!(obs["budget_exhausted"], true, "{obs}");
    // The counterpart (apex/www) lookups end by the budget too: two budgets
    // at most, with room for a loaded machine, never 10 s timeouts.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(9),
        "{:?}",
        start.elapsed()
    );
}
