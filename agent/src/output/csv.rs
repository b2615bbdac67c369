//! CSV: one row per portal with its stage, score, priority and every rule's
//! status, for spreadsheets (RFC 4180 quoting).

use v6audit_model::Report;
use v6audit_rules::RuleId;

use super::by_priority;

/// Quotes a field when it needs it.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

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

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("Bộ Công an"), "Bộ Công an");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
