//! Errors that point into a YAML file: file, line, column and field, the way a
//! compiler reports them, so an editor can jump to the spot.

use std::fmt;

use serde_saphyr::{Location, Spanned};

/// One problem at one place in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based; 0 when the place is unknown.
    pub line: u64,
    /// 1-based, counted in characters; 0 when unknown.
    pub column: u64,
    /// The field, as a path such as `portals[3].url`, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl SourceError {
    /// An error at `location` in `file`.
    pub fn at(file: &str, location: Location, field: Option<String>, message: String) -> Self {
        Self {
            file: file.to_owned(),
            line: location.line(),
            column: location.column(),
            field,
            message,
        }
    }

    /// An error about a value read with its location.
    pub fn spanned<T>(file: &str, value: &Spanned<T>, field: String, message: String) -> Self {
        Self::at(file, value.referenced, Some(field), message)
    }

    /// An error that serde-saphyr raised while reading the document `text`.
    /// The field is found from the error's line (see [`yaml_path_at`]).
    pub fn from_yaml(file: &str, text: &str, err: &serde_saphyr::Error) -> Self {
        Self::from_yaml_shifted(file, text, err, 0)
    }

    /// An error serde-saphyr raised while reading a piece of the document
    /// `text` on its own, a piece that started after `shift` lines of it:
    /// the line is moved down by that much (columns are kept as they are).
    pub fn from_yaml_shifted(
        file: &str,
        text: &str,
        err: &serde_saphyr::Error,
        shift: u64,
    ) -> Self {
        let inner = err.without_snippet();
        let location = inner.location();
        let field = location
            .and_then(|l| yaml_path_at(text, l.line() + shift))
            .and_then(|path| {
                // A missing field is reported at the last key read in its mapping:
                // the mapping is the place to name.
                if matches!(inner, serde_saphyr::Error::SerdeMissingField { .. }) {
                    parent_path(&path)
                } else {
                    Some(path)
                }
            });
        // The plain message ends with " at line L, column C"; the location is
        // reported in front instead, the way compilers do.
        let text = inner.to_string();
        let message = match location {
            Some(loc) => {
                let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
                text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
            }
            None => text,
        };
        let message = in_our_words(message);
        Self {
            file: file.to_owned(),
            line: location.map_or(0, |l| l.line() + shift),
            column: location.map_or(0, |l| l.column()),
            field,
            message,
        }
    }
}

/// The path of the key on a line of block-style YAML, such as
/// `portals[3].category`, worked out from indentation. None when the line
/// holds no key or the layout is not block style (flow mappings, say).
pub fn yaml_path_at(text: &str, line: u64) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let idx = usize::try_from(line).ok()?.checked_sub(1)?;
    let (indent, content) = split_indent(lines.get(idx)?);
    // Innermost first: keys, and item indexes as "[n]".
    let mut segments: Vec<String> = Vec::new();
    let mut need;
    let mut in_item;
    match content.strip_prefix("- ") {
        Some(body) => {
            if let Some(k) = key_of(body) {
                segments.push(k.to_owned());
            }
            segments.push(format!("[{}]", item_index(&lines, idx, indent)));
            need = indent;
            in_item = true;
        }
        None => {
            segments.push(key_of(content)?.to_owned());
            need = indent;
            in_item = false;
        }
    }
    for j in (0..idx).rev() {
        let (ind, content) = split_indent(lines[j]);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(body) = content.strip_prefix("- ") {
            // A key inside a sequence item: the item is its parent.
            if !in_item && ind + 2 == need {
                let _ = body;
                segments.push(format!("[{}]", item_index(&lines, j, ind)));
                need = ind;
                in_item = true;
            }
            continue;
        }
        // A key at a smaller indent is the parent; a sequence may also sit at
        // its key's own indent (`portals:` then `- id: a`).
        let parent = if in_item { ind <= need } else { ind < need };
        if parent {
            segments.push(key_of(content)?.to_owned());
            if ind == 0 {
                break;
            }
            need = ind;
            in_item = false;
        }
    }
    segments.reverse();
    let mut path = String::new();
    for s in segments {
        if !s.starts_with('[') && !path.is_empty() {
            path.push('.');
        }
        path.push_str(&s);
    }
    Some(path)
}

/// `portals[3]` for `portals[3].url`; None at the top.
fn parent_path(path: &str) -> Option<String> {
    let cut = path.rfind(['.', '['])?;
    Some(path[..cut].to_owned()).filter(|p| !p.is_empty())
}

fn split_indent(line: &str) -> (usize, &str) {
    let trimmed = line.trim_start_matches(' ');
    (line.len() - trimmed.len(), trimmed.trim_end())
}

/// The key of `key: value` or `key:`.
fn key_of(content: &str) -> Option<&str> {
    let (key, _) = content.split_once(':')?;
    let key = key.trim().trim_matches(['"', '\'']);
    (!key.is_empty() && !key.contains([' ', '{', '[', ','])).then_some(key)
}

/// The index of the sequence item on line `idx` among its siblings at `indent`.
fn item_index(lines: &[&str], idx: usize, indent: usize) -> usize {
    let mut n = 0;
    for line in lines[..idx].iter().rev() {
        let (ind, content) = split_indent(line);
        if content.is_empty() || content.starts_with('#') || ind > indent {
            continue;
        }
        if ind == indent && content.starts_with("- ") {
            n += 1;
        } else {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
schema: v6audit/inventory/v1
defaults:
  category: information
portals:
  # national
  - id: a
    url: https://a.gov.vn/
    tags:
      - x
  - id: b

    category: citizens
compact:
- id: c
  url: u
";

    #[test]
    fn paths_follow_indentation() {
        let at = |line| yaml_path_at(DOC, line);
        assert_eq!(at(1).as_deref(), Some("schema"));
        assert_eq!(at(3).as_deref(), Some("defaults.category"));
        assert_eq!(at(6).as_deref(), Some("portals[0].id"));
        assert_eq!(at(7).as_deref(), Some("portals[0].url"));
        assert_eq!(at(9).as_deref(), Some("portals[0].tags[0]"));
        assert_eq!(at(10).as_deref(), Some("portals[1].id"));
        assert_eq!(at(12).as_deref(), Some("portals[1].category"));
        assert_eq!(at(14).as_deref(), Some("compact[0].id"));
        assert_eq!(at(15).as_deref(), Some("compact[0].url"));
        assert_eq!(at(11), None);
        assert_eq!(at(99), None);
    }

    #[test]
    fn parents() {
        assert_eq!(parent_path("portals[3].url").as_deref(), Some("portals[3]"));
        assert_eq!(parent_path("portals[3]").as_deref(), Some("portals"));
        assert_eq!(parent_path("schema"), None);
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SourceError {}

/// Several problems in one file, reported together so a user can fix them in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceErrors(pub Vec<SourceError>);

impl fmt::Display for SourceErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SourceErrors {}

/// The options every v6audit YAML file is read with: strict booleans, duplicate
/// keys rejected, and a budget small enough that a hostile file (deep nesting,
/// alias bombs) is refused quickly.
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_depth: 32,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_total_scalar_bytes: 64 << 20,
            // A national list: 100,000 portals are about 2.5 million nodes
            // and twice as many events. The file-size limit (64 MiB) is
            // what bounds the work; these only must not refuse less.
            max_nodes: 16_000_000,
            max_events: 32_000_000,
        },
    }
}

/// The largest YAML file v6audit reads (an inventory of 100,000 portals is well under this).
pub const MAX_YAML_BYTES: usize = 64 << 20;

/// A YAML reader's message without its advice to the program that called
/// it (serde-saphyr ends a duplicate key's with "set DuplicateKeyPolicy in
/// Options if acceptable", a setting the user cannot reach).
fn in_our_words(mut message: String) -> String {
    if let Some(kept) = message
        .strip_suffix(", set DuplicateKeyPolicy in Options if acceptable")
        .map(str::len)
    {
        message.truncate(kept);
    }
    match message.strip_prefix("duplicate mapping key: ") {
        Some(key) => format!("duplicate key `{key}`: write each key once"),
        None => message,
    }
}
