//! GitHub Actions: workflow-command annotations (`::error ...::`) that the
//! Actions log and pull-request views show natively. The log is a terminal
//! emulator (it obeys ANSI escapes), so titles and messages are first
//! neutralised by [`terminal`], then escaped by the workflow-command rules.

use crate::terminal;

/// Escapes an annotation's message (GitHub's workflow-command rules).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes an annotation property such as `title`.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation line: `level` is `error`, `warning` or `notice`.
pub fn annotation(level: &str, title: &str, message: &str) -> String {
    format!(
        "::{level} title={}::{}\n",
        property(&terminal(title)),
        data(&terminal(message))
    )
}

#[cfg(test)]
mod tests {
    use super::annotation;

    #[test]
    fn annotations_escape_what_github_reads_as_syntax() {
        assert_eq!(
            annotation("error", "dichvucong: web.v6-http", "50% down\nsecond line"),
            "::error title=dichvucong%3A web.v6-http::50%25 down%0Asecond line\n"
        );
    }

    #[test]
    fn annotations_show_escape_sequences_instead_of_sending_them_to_the_log() {
        // Regression: a hostile certificate name reached the Actions log raw.
        let line = annotation("warning", "x\u{1b}[31m", "cert \u{1b}]0;PWNED\u{7}\r\n");
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
        assert_eq!(
            line,
            "::warning title=x\\x1b[31m::cert \\x1b]0;PWNED\\x07\\r%0A\n"
        );
    }
}
