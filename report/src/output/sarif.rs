//! SARIF 2.1.0 for code-scanning views: the pack's rules as rule metadata
//! (title, rationale, remediation as help), and one result per failing rule
//! per portal, located at the portal's URL.

use serde_json::{Value, json};
use v6audit_model::{Lang, Report, Severity, Status};
use v6audit_rules::{Pack, RuleId};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The report as SARIF 2.1.0: the pack's rules in `lang` as rule metadata, and a result per
/// failing rule of each portal, located at its URL.
pub fn render(report: &Report, pack: &Pack, lang: Lang) -> String {
    let rules = rule_metadata(pack, lang);
    let mut results = Vec::new();
    for r in &report.results {
        for f in r
            .verdict
            .findings
            .iter()
            .filter(|f| f.status == Status::Fail)
        {
            let index = RuleId::ALL.iter().position(|id| id.as_str() == f.rule);
            let mut result = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": r.portal.url}},
                    "logicalLocations": [{"name": r.portal.id, "kind": "resource"}],
                }],
                "partialFingerprints": {"v6audit/portal-rule": format!("{}/{}", r.portal.id, f.rule)},
                "properties": {
                    "portal": r.portal.id,
                    "agency": r.portal.agency,
                    "category": r.portal.category.as_str(),
                    "stage": r.verdict.stage.number(),
                    "stageName": r.verdict.stage.name(),
                    "remediation": f.remediation,
                },
            });
            if let (Some(i), Some(obj)) = (index, result.as_object_mut()) {
                obj.insert("ruleIndex".to_owned(), json!(i));
            }
            results.push(result);
        }
    }
    let generated = report
        .generated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "v6audit",
                "version": report.agent.version,
                "semanticVersion": report.agent.version,
                "informationUri": "https://github.com/v6audit/v6audit",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("v6audit/{}/", pack.name)},
            "invocations": [{"executionSuccessful": true, "endTimeUtc": generated}],
            "results": results,
            "properties": {"reportId": report.id.to_string(), "agent": report.agent.id, "rulePack": pack.name},
        }],
    });
    let text = serde_json::to_string_pretty(&log).unwrap_or_default();
    let mut text = crate::json_text(&text).into_owned();
    text.push('\n');
    text
}

/// The pack's rules as SARIF rule metadata, in [`RuleId::ALL`] order (a
/// result's `ruleIndex`).
fn rule_metadata(pack: &Pack, lang: Lang) -> Vec<Value> {
    RuleId::ALL
        .iter()
        .map(|id| {
            let r = pack.rule(*id);
            let remediation = r.remediation.get(lang).trim();
            let why = r.why.get(lang).trim();
            json!({
                "id": id.as_str(),
                "shortDescription": {"text": r.title.get(lang)},
                "fullDescription": {"text": why},
                "help": {
                    "text": format!("{remediation}\n\n{why} ({})", r.standard),
                    "markdown": format!("**{}**\n\n{remediation}\n\n*{why}* ({})", r.title.get(lang), r.standard),
                },
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {
                    "tags": ["ipv6", id.as_str().split('.').next().unwrap_or("ipv6")],
                    "standard": r.standard,
                    "severity": r.severity.as_str(),
                },
            })
        })
        .collect()
}
