//! The table a person reads in a terminal: one row per portal, most urgent
//! first, statuses coloured, then the summary line. Every string from an
//! inventory or the network (the portal's id, a finding's message) is
//! written through [`terminal_line`], so it cannot move the cursor, clear the
//! screen or retitle the terminal.

use crate::terminal_line;
use anstyle::{AnsiColor, Style};
use v6audit_model::{Lang, Report, Stage, Status};

use super::{KEY_RULES, by_priority, stage_cell, status_cell, summary_line};

fn status_style(status: Option<Status>) -> Style {
    match status {
        Some(Status::Pass) => AnsiColor::Green.on_default(),
        Some(Status::Fail) => AnsiColor::Red.on_default().bold(),
        Some(Status::Warn) => AnsiColor::Yellow.on_default(),
        Some(Status::Error) => AnsiColor::Magenta.on_default(),
        _ => Style::new().dimmed(),
    }
}

fn stage_style(stage: Stage) -> Style {
    match stage {
        Stage::Ipv4Only => Style::new().dimmed(),
        Stage::Broken => AnsiColor::Red.on_default().bold(),
        Stage::Reachable => AnsiColor::Yellow.on_default(),
        Stage::DualStack => AnsiColor::Green.on_default(),
        Stage::Ipv6Complete => AnsiColor::Green.on_default().bold(),
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_owned()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Renders the table. With a terminal `width`, a top finding that does not
/// fit beside its row goes on the next line, cut to the width; without one
/// (a pipe, a file) every row is one whole line.
// Long because the column widths and the header come first, and each row is laid against them.
pub fn render(report: &Report, lang: Lang, color: bool, width: Option<usize>) -> String {
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let mut banner = String::new();
    if let Some(line) = super::unmeasured_line(report, lang) {
        banner = format!("{}\n\n", paint(Style::new().bold(), &line));
    }
    let rows = by_priority(&report.results);
    let id_w = rows
        .iter()
        .map(|r| terminal_line(&r.portal.id).chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 40);
    let stage_w = super::stage_cell_width(lang).max(16);
    let col_w: Vec<usize> = KEY_RULES
        .iter()
        .map(|(_, en, vi)| {
            if lang == Lang::Vi {
                vi.chars().count()
            } else {
                en.chars().count()
            }
            .max(5)
        })
        .collect();
    let (h_portal, h_stage, h_score, h_top) = match lang {
        Lang::En => ("PORTAL", "STAGE", "SCORE", "TOP FINDING"),
        Lang::Vi => ("CỔNG", "GIAI ĐOẠN", "ĐIỂM", "VẤN ĐỀ CHÍNH"),
    };
    let mut out = banner;
    let mut header = format!("{}  {}", pad(h_portal, id_w), pad(h_stage, stage_w));
    for ((_, en, vi), w) in KEY_RULES.iter().zip(&col_w) {
        header.push_str("  ");
        header.push_str(&pad(if lang == Lang::Vi { vi } else { en }, *w));
    }
    header.push_str(&format!("  {}  {h_top}", pad(h_score, 5)));
    out.push_str(&paint(Style::new().bold(), &header));
    out.push('\n');
    let used = header.chars().count() - h_top.chars().count();
    for r in rows {
        let v = &r.verdict;
        let mut line = format!(
            "{}  {}",
            pad(&truncate(&terminal_line(&r.portal.id), id_w), id_w),
            paint(stage_style(v.stage), &pad(&stage_cell(r, lang), stage_w))
        );
        for ((rule, _, _), w) in KEY_RULES.iter().zip(&col_w) {
            let status = super::key_status(v, rule);
            line.push_str("  ");
            line.push_str(&paint(status_style(status), &pad(status_cell(status), *w)));
        }
        let top = v
            .top_finding()
            .map(|f| format!("{}: {}", terminal_line(&f.rule), terminal_line(&f.message)))
            .unwrap_or_default();
        line.push_str(&format!("  {}", pad(&v.score.to_string(), 5)));
        match width {
            Some(w) if !top.is_empty() && used + top.chars().count() > w => {
                out.push_str(line.trim_end());
                out.push_str("\n    ");
                out.push_str(&paint(
                    Style::new().dimmed(),
                    &truncate(&top, w.saturating_sub(4).max(20)),
                ));
            }
            _ => {
                line.push_str("  ");
                line.push_str(&top);
                out.push_str(line.trim_end());
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&summary_line(report, lang));
    out.push('\n');
    out
}
