//! Texts with `{placeholders}`: filling them in, and reading which
//! placeholders a text uses (or what is wrong with its braces).

use v6audit_model::Lang;

use super::Text;

/// A message text with `{placeholders}`, checked against the rule's outcome.
#[derive(Debug, Clone)]
pub struct Template {
    pub(super) text: Text,
}

impl Template {
    /// Fills the placeholders. `{{` and `}}` are literal braces.
    pub fn render(&self, lang: Lang, vars: &[(&str, String)]) -> String {
        fill(self.text.get(lang), vars)
    }
}

/// `src` with each `{name}` of `vars` filled in; `{{` and `}}` are literal
/// braces, and a placeholder `vars` lacks is kept as written.
pub(crate) fn fill(src: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(src.len() + 32);
    let mut rest = src;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if tail.starts_with('{') {
            match tail.find('}') {
                Some(end) => {
                    let name = &tail[1..end];
                    match vars.iter().find(|(k, _)| *k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => out.push_str(&tail[..=end]),
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        } else {
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a text uses, or the problem with its braces.
pub(super) fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
        } else if tail.starts_with('{') {
            let end = tail
                .find('}')
                .ok_or_else(|| "a `{` is not closed (write `{{` for a literal brace)".to_owned())?;
            let name = &tail[1..end];
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!("`{{{name}}}` is not a placeholder name"));
            }
            names.push(name);
            rest = &tail[end + 1..];
        } else {
            return Err("a `}` without `{` (write `}}` for a literal brace)".to_owned());
        }
    }
    Ok(names)
}
