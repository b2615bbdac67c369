//! The rule pack's texts (remediation, plan steps) as HTML: escaped first,
//! then each pair of backticks on a line made a `<code>` span, so `dig AAAA
//! host` reads as code and not as literal backticks. Nothing else is markup:
//! whatever the pack or a placeholder's value holds, only `<code>` and
//! `</code>` tags come out of [`inline_code`].

/// HTML-escapes text for an element's content or an attribute value.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Escaped text with `code` spans. Backticks pair within a line; an unpaired
/// one (the last of an odd count) stays a backtick. The result is meant for
/// a template's `|safe`.
pub(super) fn inline_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 32);
    for (n, line) in s.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let ticks = line.matches('`').count();
        // The backticks that open or close a span; any after are literal.
        let paired = ticks - ticks % 2;
        for (i, part) in line.split('`').enumerate() {
            if i > 0 {
                let tick = i - 1;
                let mark = if tick >= paired {
                    "`"
                } else if tick % 2 == 0 {
                    "<code>"
                } else {
                    "</code>"
                };
                out.push_str(mark);
            }
            escape(part, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_code_spans() {
        assert_eq!(
            inline_code("Check with `dig AAAA <host>` from outside."),
            "Check with <code>dig AAAA &lt;host&gt;</code> from outside."
        );
        assert_eq!(
            inline_code("`a` and `b`\n`c`"),
            "<code>a</code> and <code>b</code>\n<code>c</code>"
        );
        assert_eq!(inline_code("no code here"), "no code here");
    }

    #[test]
    fn hostile_text_stays_text() {
        // Markup outside and inside backticks, quotes, an entity, and an
        // unpaired backtick that must not open a span to the end.
        let out = inline_code(
            "<script>alert(1)</script> `<script>alert(2)</script>` \"'&amp; `<img src=x onerror=alert(3)>",
        );
        assert_eq!(
            out,
            "&lt;script&gt;alert(1)&lt;/script&gt; <code>&lt;script&gt;alert(2)&lt;/script&gt;</code> \
             &quot;&#39;&amp;amp; `&lt;img src=x onerror=alert(3)&gt;"
        );
        // The only tags are ours.
        let tags: Vec<&str> = out
            .match_indices('<')
            .map(|(i, _)| &out[i..i + out[i..].find('>').map_or(1, |j| j + 1)])
            .collect();
        assert_eq!(tags, ["<code>", "</code>"]);
        // A backtick pairs only on its own line.
        assert_eq!(inline_code("`a\nb`"), "`a\nb`");
        assert_eq!(inline_code("``"), "<code></code>");
    }
}
