//! Markdown: the summary, a table of portals most urgent first, and each
//! portal's problems with what to do, for tickets and wikis. Strings from an
//! inventory or the network go through [`terminal`] / [`terminal_line`]: the
//! file is read in terminals (`cat`, `less -R`) as much as in a renderer.

use crate::{terminal, terminal_line};
use v6audit_model::{Lang, PortalResult, Report, Status};

use super::{KEY_RULES, by_priority, stage_cell, status_cell, summary_line};

/// Escapes text for a Markdown table cell (or a heading): control
/// characters shown, `|` escaped, a newline made a space.
fn cell(s: &str) -> String {
    terminal(s).replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown in `lang`: the summary line, the table of portals most urgent
/// first, then each portal's problems with what to do.
pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = String::new();
    let (title, portal, stage, score, problems) = match lang {
        Lang::En => (
            "IPv6 audit",
            "Portal",
            "Stage",
            "Score",
            "Problems and what to do",
        ),
        Lang::Vi => (
            "Đánh giá IPv6",
            "Cổng",
            "Giai đoạn",
            "Điểm",
            "Vấn đề và cách khắc phục",
        ),
    };
    out.push_str(&format!("# {title}\n\n{}\n\n", summary_line(report, lang)));
    out.push_str(&format!("| {portal} | {stage} |"));
    for (_, en, vi) in KEY_RULES {
        out.push_str(&format!(" {} |", if lang == Lang::Vi { vi } else { en }));
    }
    out.push_str(&format!(" {score} |\n|---|---|"));
    for _ in KEY_RULES {
        out.push_str("---|");
    }
    out.push_str("---:|\n");
    let rows = by_priority(&report.results);
    for r in &rows {
        out.push_str(&format!(
            "| [{}]({}) | {} |",
            cell(&r.portal.id),
            terminal_line(&r.portal.url),
            stage_cell(r, lang)
        ));
        for (rule, _, _) in KEY_RULES {
            out.push_str(&format!(
                " {} |",
                status_cell(super::key_status(&r.verdict, rule))
            ));
        }
        out.push_str(&format!(" {} |\n", r.verdict.score));
    }
    out.push_str(&format!("\n## {problems}\n"));
    for r in &rows {
        problems_of(&mut out, r, lang);
    }
    out
}

/// A portal's problems (failures, warnings, errors), each with what to do;
/// nothing for a portal without any.
fn problems_of(out: &mut String, r: &PortalResult, lang: Lang) {
    let bad: Vec<_> = r
        .verdict
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn | Status::Error))
        .collect();
    if bad.is_empty() {
        return;
    }
    let name = r
        .portal
        .name
        .as_deref()
        .map(|n| format!(" — {n}"))
        .unwrap_or_default();
    out.push_str(&format!(
        "\n### {}{} ({})\n\n",
        cell(&r.portal.id),
        cell(&name),
        stage_cell(r, lang)
    ));
    for f in bad {
        out.push_str(&format!(
            "- **{}** `{}`: {}\n",
            f.status,
            terminal_line(&f.rule),
            terminal_line(&f.message)
        ));
        if !f.remediation.is_empty() {
            out.push_str(&format!("  - {}\n", terminal(&f.remediation)));
        }
    }
}
