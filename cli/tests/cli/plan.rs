//! `v6audit plan`: the plan from a fresh audit and from a report, its
//! snapshot, grouping, formats and Vietnamese.

use crate::*;

#[test]
fn the_plan_puts_broken_portals_first_with_their_steps() {
    let lab = LabProcess::start(13, "fast");
    let report = lab.path("report.json");
    let o = lab.audit(&[
        "--timeout",
        "5",
        // ICMPv6 needs root; tests/lab.rs checks it.
        "--no-icmpv6",
        "--quiet",
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pack = lab.path("lab-pack.yaml");
    let plan = |extra: &[&str]| {
        let o = bin()
            .args([
                "plan",
                "--from",
                report.to_str().unwrap(),
                "--rules",
                pack.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    // Regression (issue "The first hour", 4): without --rules, the report
    // was judged again with the default pack, and every lab portal came out
    // "1 broken" with no warning. Now the report's pack is asked for.
    let o = bin()
        .args(["plan", "--from", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("was judged with the rule pack `lab` (version 1), not the default one; give that pack with --rules PACK.yaml"),
        "{}",
        stderr(&o)
    );
    let md = plan(&[]);
    insta_settings().bind(|| insta::assert_snapshot!("plan_markdown", md));
    // Broken first, then by weight and distance to stage 3.
    let first = md.lines().find(|l| l.starts_with("## 1. ")).unwrap();
    assert!(
        first.contains("v6-refused-0005") || first.contains("non-global-0010"),
        "{first}"
    );
    assert!(!md.contains("{host}"), "every placeholder is filled");
    // The zone-file line, indented as code inside its list item.
    assert!(
        md.contains("\n       ipv4-only-0003.lab.test.  3600  IN  AAAA  <IPv6 address>\n"),
        "{md}"
    );

    let vi = plan(&["--lang", "vi", "--group", "agency"]);
    assert!(vi.starts_with("# Kế hoạch chuyển đổi IPv6"), "{vi}");
    assert!(
        vi.contains("## Bộ Thí nghiệm (Lab Ministry)\n\n### "),
        "{vi}"
    );
    assert!(
        vi.contains("**Các bước**") && vi.contains("*Kiểm tra:*"),
        "{vi}"
    );
    assert!(vi.contains("Khai báo bản ghi AAAA"), "{vi}");
    for english in [
        "**Steps**",
        "*Check:*",
        "Publish the AAAA record",
        "Make the web server listen on IPv6",
    ] {
        assert!(
            !vi.contains(english),
            "English left in the Vietnamese plan: {english}"
        );
    }

    let csv = plan(&["--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "rank,portal,name,agency,category,stage,target,priority,step,rule,title,text,verify"
    );
    assert!(lines.count() > 13);

    let json: serde_json::Value = serde_json::from_str(&plan(&["--format", "json"])).unwrap();
    assert_eq!(json["schema"], "v6audit/plan/v1");
    let items = json["items"].as_array().unwrap();
    assert_eq!(items[0]["rank"], 1);
    assert!(
        items
            .iter()
            .all(|i| i["stage"].as_u64().unwrap() < 3
                || !i["problems"].as_array().unwrap().is_empty())
    );
    // good and cname are done.
    assert_eq!(json["done"].as_array().unwrap().len(), 2);
}

/// Regression: a portal name with escape sequences went raw into
/// `plan --output` (and through it to a terminal), and an agency starting
/// with `=` was a live formula in the plan's CSV. The plan shows them.
#[test]
fn plan_output_shows_escape_sequences_and_no_formula() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/tests/fixtures/report-lab.json");
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    for r in report["results"].as_array_mut().unwrap() {
        r["portal"]["name"] = serde_json::json!("Cổng \u{1b}[2J\u{1b}]0;PWNED\u{7}");
        r["portal"]["agency"] = serde_json::json!("=HYPERLINK(\"http://evil.example/\")");
    }
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("hostile.json");
    std::fs::write(&from, serde_json::to_vec(&report).unwrap()).unwrap();
    // The report was judged with the lab's pack.
    let pack = dir.path().join("lab-pack.yaml");
    std::fs::write(&pack, v6audit_lab::LAB_PACK).unwrap();
    for (format, shown) in [
        ("markdown", "Cổng \\x1b[2J\\x1b]0;PWNED\\x07"),
        ("csv", "\"'=HYPERLINK(\"\"http://evil.example/\"\")\""),
    ] {
        let out = dir.path().join(format!("plan.{format}"));
        let o = bin()
            .args(["plan", "--from"])
            .arg(&from)
            .arg("--rules")
            .arg(&pack)
            .args(["--format", format, "--output"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{format}:\n{text}"
        );
        assert!(text.contains(shown), "{format}:\n{text}");
        assert!(!text.contains(",=HYPERLINK"), "{format}:\n{text}");
    }
}
