//! The migration plan as a team reads it: Markdown (headings and steps in the
//! plan's language, optionally grouped by agency), CSV (one row per step, for
//! a tracker) and JSON (`v6audit/plan/v1`). Markdown writes every string from
//! an inventory or a portal through [`terminal`] / [`terminal_line`], CSV
//! every text cell through [`csv_cell`]; JSON keeps the exact strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::{csv_cell, terminal, terminal_line};
use v6audit_model::{Lang, Status};
use v6audit_rules::plan::{Plan, PlanItem};

struct Words {
    lang: Lang,
    title: &'static str,
    to_do: &'static str,
    done: &'static str,
    nothing: &'static str,
    agency: &'static str,
    category: &'static str,
    stage: &'static str,
    target: &'static str,
    unknown: &'static str,
    problems: &'static str,
    steps: &'static str,
    check: &'static str,
    no_steps: &'static str,
    no_agency: &'static str,
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            lang: Lang::En,
            title: "IPv6 migration plan",
            to_do: "portals to work on, most urgent first",
            done: "already at their target",
            nothing: "Every portal is at its target: nothing to do.",
            agency: "Agency",
            category: "Category",
            stage: "Stage",
            target: "target",
            unknown: "not fully measured",
            problems: "Problems",
            steps: "Steps",
            check: "Check",
            no_steps: "Measure again from a vantage with IPv6: some facts could not be established here.",
            no_agency: "(no agency)",
        },
        Lang::Vi => Words {
            lang: Lang::Vi,
            title: "Kế hoạch chuyển đổi IPv6",
            to_do: "cổng cần xử lý, xếp theo mức độ cấp thiết",
            done: "đã đạt mục tiêu",
            nothing: "Mọi cổng đều đã đạt mục tiêu: không có việc cần làm.",
            agency: "Cơ quan",
            category: "Nhóm",
            stage: "Giai đoạn",
            target: "mục tiêu",
            unknown: "chưa đo đủ",
            problems: "Vấn đề",
            steps: "Các bước",
            check: "Kiểm tra",
            no_steps: "Đo lại từ nơi có IPv6: một số thông tin không xác định được tại đây.",
            no_agency: "(không rõ cơ quan)",
        },
    }
}

/// Indents every line of `text` by `n` spaces (so it stays inside a list item).
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn item_md(out: &mut String, item: &PlanItem, w: &Words, heading: &str) {
    let p = &item.portal;
    let name = p
        .name
        .as_deref()
        .map(|n| format!(" — {}", terminal_line(n)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{heading} {}. {}{name}\n",
        item.rank,
        terminal_line(&p.id)
    );
    let mut facts = vec![];
    if let Some(a) = &p.agency {
        facts.push(format!("{}: {}", w.agency, terminal_line(a)));
    }
    facts.push(format!("{}: {}", w.category, p.category.label(w.lang)));
    facts.push(format!(
        "{}: {}{} → {} {}",
        w.stage,
        item.stage.numbered(w.lang),
        if item.stage_certain {
            String::new()
        } else {
            format!(" ({})", w.unknown)
        },
        w.target,
        item.target.numbered(w.lang)
    ));
    let _ = writeln!(out, "{} · <{}>\n", facts.join(" · "), terminal_line(&p.url));
    let _ = writeln!(out, "**{}**\n", w.problems);
    for pr in &item.problems {
        let mark = match pr.status {
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            _ => "?",
        };
        let _ = writeln!(
            out,
            "- {mark} `{}`: {}",
            terminal_line(&pr.rule),
            terminal_line(&pr.message)
        );
    }
    let _ = writeln!(out, "\n**{}**\n", w.steps);
    if item.steps.is_empty() {
        let _ = writeln!(out, "{}", w.no_steps);
    }
    for (i, s) in item.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. **{}** (`{}`)\n",
            i + 1,
            terminal_line(&s.title),
            terminal_line(&s.rule)
        );
        let _ = writeln!(out, "{}\n", indent(&terminal(&s.text), 3));
        let _ = writeln!(
            out,
            "{}\n",
            indent(&format!("*{}:* {}", w.check, terminal(&s.verify)), 3)
        );
    }
}

/// The plan in Markdown; `by_agency` groups portals under their agency.
pub fn markdown(plan: &Plan, by_agency: bool) -> String {
    let w = words(plan.lang);
    let mut out = format!(
        "# {}\n\n{} {} · {} {}.\n",
        w.title,
        plan.items.len(),
        w.to_do,
        plan.done.len(),
        w.done
    );
    if plan.items.is_empty() {
        let _ = writeln!(out, "\n{}", w.nothing);
        return out;
    }
    if by_agency {
        let mut groups: BTreeMap<&str, Vec<&PlanItem>> = BTreeMap::new();
        for item in &plan.items {
            groups
                .entry(item.portal.agency.as_deref().unwrap_or(w.no_agency))
                .or_default()
                .push(item);
        }
        // Agencies in the order of their most urgent portal.
        let mut ordered: Vec<(&str, Vec<&PlanItem>)> = groups.into_iter().collect();
        ordered.sort_by_key(|(_, items)| items.first().map_or(usize::MAX, |i| i.rank));
        for (agency, items) in ordered {
            let _ = writeln!(out, "\n## {}", terminal_line(agency));
            for item in items {
                item_md(&mut out, item, &w, "###");
            }
        }
    } else {
        for item in &plan.items {
            item_md(&mut out, item, &w, "##");
        }
    }
    out
}

/// One row per step, for a tracker or a spreadsheet.
pub fn csv(plan: &Plan) -> String {
    let mut out = String::from(
        "rank,portal,name,agency,category,stage,target,priority,step,rule,title,text,verify\r\n",
    );
    for item in &plan.items {
        let p = &item.portal;
        let head = [
            item.rank.to_string(),
            csv_cell(&p.id).into_owned(),
            csv_cell(p.name.as_deref().unwrap_or("")).into_owned(),
            csv_cell(p.agency.as_deref().unwrap_or("")).into_owned(),
            p.category.to_string(),
            item.stage.number().to_string(),
            item.target.number().to_string(),
            item.priority.to_string(),
        ]
        .join(",");
        if item.steps.is_empty() {
            let _ = write!(out, "{head},,,,,\r\n");
        }
        for (i, s) in item.steps.iter().enumerate() {
            let _ = write!(
                out,
                "{head},{},{},{},{},{}\r\n",
                i + 1,
                csv_cell(&s.rule),
                csv_cell(&s.title),
                csv_cell(&s.text),
                csv_cell(&s.verify)
            );
        }
    }
    out
}

/// The plan as JSON (`v6audit/plan/v1`).
pub fn json(plan: &Plan) -> String {
    let s = serde_json::to_string_pretty(plan).unwrap_or_default();
    let mut s = crate::json_text(&s).into_owned();
    s.push('\n');
    s
}
