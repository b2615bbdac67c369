//! `v6audit check`: exit codes on lab scenarios, baselines, the CI formats
//! (golden snapshots, and validation by independent consumers), and GitHub
//! Actions annotations.

use crate::*;

#[test]
fn good_portals_pass_and_a_broken_one_fails_naming_it() {
    let good = LabProcess::start(3, "good");
    let o = good.command("check", &["--timeout", "3", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("check: policy holds for 3 portals (min stage 3 dual-stack)"),
        "{}",
        stderr(&o)
    );

    let broken = LabProcess::start(1, "v6-refused");
    let o = broken.command("check", &["--timeout", "3", "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("check: FAILED: 1 of 1 portals fail the policy"),
        "{err}"
    );
    assert!(
        err.contains(
            "v6-refused-0001 is broken (AAAA published but not working): web.v6-reachable:"
        ),
        "{err}"
    );
    // A lower bar still fails a broken portal: broken is its own condition.
    let o = broken.command("check", &["--timeout", "3", "--quiet", "--min-stage", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = broken.command(
        "check",
        &[
            "--timeout",
            "3",
            "--quiet",
            "--min-stage",
            "0",
            "--fail-on",
            "below-target",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_baseline_fails_only_on_regressions() {
    let lab = LabProcess::start(2, "v6-refused");
    let base = lab.path("base.json");
    // Today's state as the baseline: nothing regressed, so the check passes,
    // although both portals are broken.
    let o = lab.command(
        "check",
        &[
            "--timeout",
            "3",
            "--quiet",
            "--write-baseline",
            base.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = lab.command(
        "check",
        &[
            "--timeout",
            "3",
            "--quiet",
            "--baseline",
            base.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no regression since the baseline"),
        "{}",
        stderr(&o)
    );

    // A baseline in which the first portal was reachable over IPv6: now it regressed.
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let first = &mut report["results"][0];
    first["verdict"]["stage"] = serde_json::json!(3);
    for f in first["verdict"]["findings"].as_array_mut().unwrap() {
        if f["rule"] == "web.v6-reachable" {
            f["status"] = serde_json::json!("pass");
        }
    }
    let id = first["portal"]["id"].as_str().unwrap().to_owned();
    let older = write(lab.dir.path(), "older.json", &report.to_string());
    let o = lab.command(
        "check",
        &[
            "--timeout",
            "3",
            "--quiet",
            "--baseline",
            older.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{id} dropped from stage 3 dual-stack to 1 broken since the baseline"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{id}: web.v6-reachable passed in the baseline and fails now"
        )),
        "{err}"
    );
    assert!(
        !err.contains("v6-refused-0002"),
        "the other portal did not regress: {err}"
    );

    // A baseline that is not a report is bad input.
    let junk = write(
        lab.dir.path(),
        "junk.json",
        "{\"schema\": \"v6audit/inventory/v1\"}",
    );
    let o = lab.command("check", &["--quiet", "--baseline", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("schema: `v6audit/inventory/v1` is not a report"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unreachable_resolver_is_exit_2_never_a_false_failure() {
    // Nothing listens on this port.
    let port = std::net::UdpSocket::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let resolver = format!("[::1]:{port}");
    let o = run(&[
        "check",
        "--target",
        "portal.lab.test",
        "--resolver",
        &resolver,
        "--timeout",
        "0.5",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("the resolver {resolver} does not answer")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn junit_and_sarif_match_their_snapshots_and_independent_validators() {
    // The first 13 fast scenarios: no timeouts, so every run gives the same findings.
    let lab = LabProcess::start(13, "fast");
    let junit = lab.path("audit.xml");
    let sarif = lab.path("audit.sarif");
    let o = lab.command(
        "check",
        &[
            "--timeout",
            "5",
            // ICMPv6 needs root; tests/lab.rs checks it.
            "--no-icmpv6",
            "--quiet",
            "--format",
            "junit",
            "--sarif",
            sarif.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // The console output in JUnit format is the same document as --junit.
    assert_eq!(stdout(&o), std::fs::read_to_string(&junit).unwrap());
    let junit_text = std::fs::read_to_string(&junit).unwrap();
    let sarif_text = std::fs::read_to_string(&sarif).unwrap();
    insta_settings().bind(|| {
        insta::assert_snapshot!("check_junit", junit_text);
        insta::assert_snapshot!("check_sarif", sarif_text);
    });

    // What an independent parser reads agrees with what v6audit wrote.
    let sarif_json: serde_json::Value = serde_json::from_str(&sarif_text).unwrap();
    let failing = sarif_json["runs"][0]["results"].as_array().unwrap().len();
    if let Some(counts) = validate("junit", &junit) {
        assert_eq!(counts["suites"], 13);
        assert_eq!(counts["cases"], 13 * v6audit_rules::RuleId::ALL.len());
        assert_eq!(counts["failures"].as_u64().unwrap() as usize, failing);
    }
    if let Some(counts) = validate("sarif", &sarif) {
        assert_eq!(counts["rules"], v6audit_rules::RuleId::ALL.len());
    }
}

#[test]
fn github_actions_get_annotations_and_a_step_summary() {
    let lab = LabProcess::start(1, "v6-wrong-cert");
    let summary = lab.path("summary.md");
    let o = bin()
        .arg("check")
        .args(&lab.args[1..])
        .args(["--timeout", "3", "--quiet", "--format", "csv", "--output"])
        .arg(lab.path("out.csv"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("::error title=v6audit%3A v6-wrong-cert-0001::v6-wrong-cert-0001 is at stage 2 reachable, below its target 3 dual-stack: tls.v6-cert: The certificate over IPv6 is not valid"),
        "{out}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## v6audit check"), "{md}");
    assert!(md.contains("check: FAILED: 1 of 1 portals"), "{md}");
    assert!(md.contains("| [v6-wrong-cert-0001]"), "{md}");
}

#[test]
fn the_ci_templates_are_valid_yaml_that_run_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/ci");
    for (file, key) in [
        ("github-actions.yml", "jobs"),
        ("gitlab-ci.yml", "ipv6-audit"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(doc.get(key).is_some(), "{file} has no `{key}`");
        assert!(
            text.contains("v6audit check "),
            "{file} does not run v6audit check"
        );
        assert!(
            text.contains("--junit v6audit.xml"),
            "{file} keeps no JUnit report"
        );
    }
}
