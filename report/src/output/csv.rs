//! CSV: one row per portal with its stage, score, priority and every rule's
//! status, for spreadsheets. Every text cell goes through [`csv_cell`]: RFC
//! 4180 quoting, control characters shown, and a cell that would start a
//! formula (`=`, `+`, `-`, `@`, tab, CR) made text with a leading `'`.

use crate::csv_cell;
use v6audit_model::Report;
use v6audit_rules::RuleId;

use super::by_priority;

/// A text cell, owned for the row.
fn field(s: &str) -> String {
    csv_cell(s).into_owned()
}

/// The report as CSV, most urgent portal first: the portal, its stage, score and priority,
/// a column per rule's status and the top finding; lines end in CRLF (RFC 4180).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = [
        "id",
        "url",
        "name",
        "agency",
        "category",
        "stage",
        "stage_name",
        "stage_certain",
        "score",
        "priority",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    header.extend(RuleId::ALL.iter().map(|r| r.as_str().to_owned()));
    header.push("top_finding".to_owned());
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in by_priority(&report.results) {
        let v = &r.verdict;
        let mut row = vec![
            field(&r.portal.id),
            field(&r.portal.url),
            field(r.portal.name.as_deref().unwrap_or("")),
            field(r.portal.agency.as_deref().unwrap_or("")),
            r.portal.category.to_string(),
            v.stage.number().to_string(),
            v.stage.name().to_owned(),
            v.stage_certain.to_string(),
            v.score.to_string(),
            v.priority.to_string(),
        ];
        for rule in RuleId::ALL {
            row.push(
                v.status(rule.as_str())
                    .map_or(String::new(), |s| s.to_string()),
            );
        }
        row.push(field(
            &v.top_finding()
                .map(|f| format!("{}: {}", f.rule, f.message))
                .unwrap_or_default(),
        ));
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}
