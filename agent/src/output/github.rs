//! GitHub Actions: workflow-command annotations (`::error ...::`) that the
//! Actions log and pull-request views show natively.

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
    format!("::{level} title={}::{}\n", property(title), data(message))
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
}
