//! The self-check's table for a person: check, status, detail, and what it
//! means.

use super::{SelfCheck, Status};

/// The table: check, status, detail; then one line saying what it means.
pub fn render(result: &SelfCheck, color: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let width = result
        .checks
        .iter()
        .map(|c| c.check.len())
        .max()
        .unwrap_or(0)
        .max("CHECK".len());
    let mut out = paint(
        Style::new().bold(),
        &format!("{:<width$}  {:<6}  DETAIL", "CHECK", "STATUS"),
    );
    out.push('\n');
    for c in &result.checks {
        let (word, style) = match c.status {
            Status::Ok => ("ok", AnsiColor::Green.on_default()),
            Status::Warn => ("warn", AnsiColor::Yellow.on_default()),
            Status::Fail => ("FAIL", AnsiColor::Red.on_default().bold()),
        };
        let cell = paint(style, &format!("{word:<6}"));
        out.push_str(&format!("{:<width$}  {cell}  {}\n", c.check, c.detail));
    }
    out.push('\n');
    out.push_str(if result.ipv6_audit {
        "This vantage can audit IPv6.\n"
    } else {
        "This vantage cannot audit IPv6 as it is: fix the FAIL lines above.\n"
    });
    out
}
