//! Output formats of an audit: a coloured table for people, the v1 JSON
//! report and JSON lines for programs, CSV for spreadsheets and Markdown for
//! tickets and wikis. The human-readable formats write every string from an
//! inventory or the network through `crate::escape` (control
//! characters and bidi overrides shown, CSV formulas made text); JSON and
//! SARIF keep the exact strings, escaped by serde.

pub mod csv;
pub mod github;
pub mod junit;
pub mod markdown;
pub mod plan;
pub mod sarif;
pub mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use v6audit_model::{Lang, PortalResult, Report, Stage, Status};

/// An output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The table for a terminal, statuses coloured.
    Table,
    /// The v1 report, pretty JSON.
    Json,
    /// One result per line as each portal finishes, nothing kept.
    Jsonl,
    /// CSV for spreadsheets, a row per portal.
    Csv,
    /// Markdown for tickets and wikis.
    Markdown,
    /// JUnit XML (CI test reports).
    Junit,
    /// SARIF 2.1.0 (code-scanning views).
    Sarif,
}

impl Format {
    /// The names `--format` takes (it also reads `md` as `markdown`).
    pub const NAMES: [&'static str; 7] = [
        "table", "json", "jsonl", "csv", "markdown", "junit", "sarif",
    ];
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "jsonl" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            "markdown" | "md" => Ok(Self::Markdown),
            "junit" => Ok(Self::Junit),
            "sarif" => Ok(Self::Sarif),
            other => Err(format!(
                "unknown format `{other}` (expected one of {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Table => "table",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Markdown => "markdown",
            Self::Junit => "junit",
            Self::Sarif => "sarif",
        })
    }
}

/// The whole report as pretty JSON (the v1 contract), ending in a newline.
pub fn json(report: &Report) -> String {
    // A Report holds only strings, numbers, booleans and maps with string
    // keys, so serialising it cannot fail.
    let s = serde_json::to_string_pretty(report).unwrap_or_default();
    let mut s = crate::json_text(&s).into_owned();
    s.push('\n');
    s
}

/// One result as a run that writes one JSON document holds it until the
/// end: its compact JSON, not the object (a fifth of the pretty text, a
/// small part of the object's memory). [`write_json_with_results`] writes
/// the document from these.
pub fn json_held(result: &PortalResult) -> Box<str> {
    serde_json::to_string(result)
        .unwrap_or_default()
        .into_boxed_str()
}

/// Writes the same text as [`json`] of `head` holding `results`, in their
/// order, from `head` (whose own `results` are not written) and the results
/// as [`json_held`] kept them: each read back and written pretty in turn,
/// so the document is never in memory whole.
pub fn write_json_with_results(
    out: &mut dyn std::io::Write,
    head: &Report,
    results: &[Box<str>],
) -> std::io::Result<()> {
    let text = if head.results.is_empty() {
        serde_json::to_string_pretty(head)
    } else {
        let mut empty = head.clone();
        empty.results.clear();
        serde_json::to_string_pretty(&empty)
    }
    .map_err(std::io::Error::other)?;
    let text = crate::json_text(&text);
    let hole = "\n  \"results\": [],\n";
    if results.is_empty() {
        out.write_all(text.as_bytes())?;
        return out.write_all(b"\n");
    }
    // Never written without its results: a head whose list is not where
    // it is looked for is an error, not a document short of them.
    let at = text
        .find(hole)
        .ok_or_else(|| std::io::Error::other("the report's results have no place in its head"))?;
    out.write_all(&text.as_bytes()[..at])?;
    out.write_all(b"\n  \"results\": [\n")?;
    for (i, held) in results.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        let result: PortalResult = serde_json::from_str(held).map_err(std::io::Error::other)?;
        let pretty = serde_json::to_string_pretty(&result).map_err(std::io::Error::other)?;
        let pretty = crate::json_text(&pretty);
        // JSON strings escape their line breaks, so every one here is the
        // printer's own: each line moves in by the two levels of its place.
        for (j, line) in pretty.split('\n').enumerate() {
            if j > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"    ")?;
            out.write_all(line.as_bytes())?;
        }
    }
    out.write_all(b"\n  ],\n")?;
    out.write_all(&text.as_bytes()[at + hole.len()..])?;
    out.write_all(b"\n")
}

/// One result as a JSON line.
pub fn jsonl_line(result: &PortalResult) -> String {
    let s = serde_json::to_string(result).unwrap_or_default();
    let mut s = crate::json_text(&s).into_owned();
    s.push('\n');
    s
}

/// The columns that summarise a portal, in table order.
pub const KEY_RULES: [(&str, &str, &str); 5] = [
    ("dns.aaaa", "AAAA", "AAAA"),
    ("web.v6-reachable", "v6 TCP", "TCP v6"),
    ("web.v6-http", "v6 HTTP", "HTTP v6"),
    ("tls.v6-handshake", "v6 TLS", "TLS v6"),
    ("web.parity", "parity", "so v4"),
];

/// The status a summary column shows: its rule's, except that the TLS
/// column also carries the certificate's verdict (a handshake that
/// succeeds with an expired or wrong-name certificate is not "ok").
pub fn key_status(verdict: &v6audit_model::Verdict, rule: &str) -> Option<Status> {
    let own = verdict.status(rule);
    if rule != "tls.v6-handshake" {
        return own;
    }
    let rank = |s: Status| match s {
        Status::Fail => 4,
        Status::Error => 3,
        Status::Warn => 2,
        Status::Pass | Status::Info => 1,
        Status::Skip => 0,
    };
    match (own, verdict.status("tls.v6-cert")) {
        (Some(h), Some(c)) if h == Status::Pass && rank(c) > rank(h) => Some(c),
        (own, _) => own,
    }
}

/// A short cell for a rule status.
pub fn status_cell(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Pass) => "ok",
        Some(Status::Fail) => "FAIL",
        Some(Status::Warn) => "warn",
        Some(Status::Info) => "info",
        Some(Status::Skip) | None => "-",
        Some(Status::Error) => "?",
    }
}

/// "2 reachable", with a mark when the stage is only a floor.
pub fn stage_cell(result: &PortalResult, lang: Lang) -> String {
    let v = &result.verdict;
    // Stage 0 because the AAAA lookup failed is no stage at all.
    if !v.stage_certain && v.stage == Stage::Ipv4Only {
        return unmeasured_cell(lang).to_owned();
    }
    let mark = if v.stage_certain { "" } else { "?" };
    format!("{}{mark}", v.stage.numbered(lang))
}

/// The stage cell of a portal whose stage could not be measured.
fn unmeasured_cell(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "? unmeasured",
        Lang::Vi => "? chưa đo được",
    }
}

/// The widest stage cell in `lang`, a floor's `?` included.
pub fn stage_cell_width(lang: Lang) -> usize {
    Stage::ALL
        .iter()
        .map(|s| s.numbered(lang).chars().count() + 1)
        .chain([unmeasured_cell(lang).chars().count()])
        .max()
        .unwrap_or(16)
}

/// The line that opens and closes an output when nothing could be
/// measured from this vantage ([`Report::unmeasured`]).
pub fn unmeasured_line(report: &Report, lang: Lang) -> Option<String> {
    let reason = report.unmeasured()?;
    let reason = reason.text(lang);
    let reason = crate::terminal_line(&reason);
    Some(match lang {
        Lang::En => format!(
            "Nothing could be measured from here: {reason}. Every result below is unknown, not a fact about the portals."
        ),
        Lang::Vi => format!(
            "Không đo được gì từ điểm đo này: {reason}. Mọi kết quả dưới đây là chưa xác định, không phải sự thật về các cổng."
        ),
    })
}

/// Results in the order to act on them: most urgent first, then by id.
pub fn by_priority(results: &[PortalResult]) -> Vec<&PortalResult> {
    let mut sorted: Vec<&PortalResult> = results.iter().collect();
    sorted.sort_by(|a, b| {
        b.verdict
            .priority
            .cmp(&a.verdict.priority)
            .then(a.verdict.stage.cmp(&b.verdict.stage))
            .then(a.portal.id.cmp(&b.portal.id))
    });
    sorted
}

/// The summary line: portals per stage.
pub fn summary_line(report: &Report, lang: Lang) -> String {
    if let Some(line) = unmeasured_line(report, lang) {
        return line;
    }
    let s = &report.summary;
    let stages: Vec<String> = Stage::ALL
        .iter()
        .map(|st| format!("{} {}", s.at(*st), st.label(lang)))
        .collect();
    let secs = s.duration_ms as f64 / 1000.0;
    match lang {
        Lang::En => {
            let mut line = format!(
                "{} {}: {} · mean score {} · {secs:.1} s",
                s.portals,
                if s.portals == 1 { "portal" } else { "portals" },
                stages.join(", "),
                s.mean_score
            );
            if s.uncertain > 0 {
                line.push_str(&format!(
                    " · {} with a stage not fully measured (?)",
                    s.uncertain
                ));
            }
            line
        }
        Lang::Vi => {
            let mut line = format!(
                "{} cổng: {} · điểm trung bình {} · {secs:.1} giây",
                s.portals,
                stages.join(", "),
                s.mean_score
            );
            if s.uncertain > 0 {
                line.push_str(&format!(" · {} cổng chưa đo đủ giai đoạn (?)", s.uncertain));
            }
            line
        }
    }
}
