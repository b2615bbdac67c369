//! JUnit XML for CI systems: one test suite per portal, one test case per
//! rule. A failed rule carries its message and remediation; `error` (not
//! measurable here) is a JUnit error; `skip` is skipped. Warnings pass, with
//! their message on the test case's output. Text and attribute values are
//! escaped by [`crate::xml`], control characters shown, not dropped.

use std::fmt::Write as _;

use crate::xml;
use v6audit_model::{Finding, PortalResult, Report, Status};

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// The report as JUnit XML: a test suite per portal, a test case per rule.
pub fn render(report: &Report) -> String {
    let count = |s: Status| {
        report
            .results
            .iter()
            .flat_map(|r| &r.verdict.findings)
            .filter(|f| f.status == s)
            .count()
    };
    let tests: usize = report
        .results
        .iter()
        .map(|r| r.verdict.findings.len())
        .sum();
    let timestamp = report
        .generated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"v6audit\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{timestamp}\">",
        count(Status::Fail),
        count(Status::Error),
        count(Status::Skip),
        secs(report.summary.duration_ms),
    );
    for r in &report.results {
        testsuite(&mut x, r);
    }
    x.push_str("</testsuites>\n");
    x
}

/// One portal's test suite: its properties, and a test case per rule.
fn testsuite(x: &mut String, r: &PortalResult) {
    let v = &r.verdict;
    let n = |s: Status| v.findings.iter().filter(|f| f.status == s).count();
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        xml(&r.portal.id),
        v.findings.len(),
        n(Status::Fail),
        n(Status::Error),
        n(Status::Skip),
        secs(r.observation.duration_ms),
        r.observation
            .started_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    );
    x.push_str("    <properties>\n");
    let mut props = vec![
        ("url", r.portal.url.clone()),
        ("category", r.portal.category.to_string()),
        ("stage", v.stage.number().to_string()),
        ("stage_name", v.stage.name().to_owned()),
        ("score", v.score.to_string()),
    ];
    if let Some(a) = &r.portal.agency {
        props.push(("agency", a.clone()));
    }
    if let Some(name) = &r.portal.name {
        props.push(("name", name.clone()));
    }
    for (k, val) in props {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", xml(&val));
    }
    x.push_str("    </properties>\n");
    for f in &v.findings {
        testcase(x, f, &r.portal.id);
    }
    x.push_str("  </testsuite>\n");
}

/// One rule's test case, in the suite of `portal_id`.
fn testcase(x: &mut String, f: &Finding, portal_id: &str) {
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
        xml(&f.rule),
        xml(&format!("v6audit.{portal_id}"))
    );
    match f.status {
        Status::Fail => {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                xml(&f.message),
                f.severity.as_str(),
                xml(&format!("{}\n\n{}", f.message, f.remediation))
            );
        }
        Status::Error => {
            let _ = writeln!(
                x,
                ">\n      <error message=\"{}\" type=\"unmeasured\">{}</error>\n    </testcase>",
                xml(&f.message),
                xml(&f.remediation)
            );
        }
        Status::Skip => {
            let _ = writeln!(
                x,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(&f.message)
            );
        }
        Status::Warn | Status::Info | Status::Pass => {
            let _ = writeln!(
                x,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                xml(&format!("{}: {}", f.status, f.message))
            );
        }
    }
}
