//! Every problem of a bad inventory in one run. serde stops at the first
//! problem of a document; when that problem is in the shape of the file (an
//! unknown field such as `audiance`, a category such as `citizens`, a value
//! of the wrong type) rather than in its YAML syntax, the file is read again
//! piece by piece. Its outline first: where `defaults`, each portal and each
//! campaign start. Then each piece on its own, from its own lines (cut out
//! with the columns kept, the line numbers shifted back), so each piece's
//! problem is found; the pieces that read whole are then compiled and
//! checked as usual (ids, duplicates, URLs, host names, ports, campaigns),
//! and of an entry that does not read whole its id and URL are still checked.
//!
//! A piece whose lines cannot be cut out on their own (a flow sequence on one
//! line, an alias to another piece) adds nothing; the first problem is
//! always reported, and nothing is reported twice.

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_saphyr::Spanned;

use super::compile::{EntryKeys, EntryRead, Placed, check_schema, compile_parts};
use super::{CampaignEntry, Defaults, InventoryError, PortalEntry};
use crate::source::{SourceError, yaml_options};

/// Past this many pieces with problems of their own, the rest of the file is
/// not read piece by piece (each problem costs a scan of the file to name its
/// field): what was found is reported.
const MAX_BAD_PIECES: usize = 500;

/// Where the parts of an inventory start; anything else is skipped.
#[derive(Deserialize)]
struct Outline {
    #[serde(default)]
    schema: Option<Spanned<String>>,
    #[serde(default)]
    defaults: Option<Spanned<IgnoredAny>>,
    #[serde(default)]
    portals: Option<Vec<Spanned<IgnoredAny>>>,
    #[serde(default)]
    campaigns: Option<Vec<Spanned<IgnoredAny>>>,
}

/// Every problem of the inventory `text`, whose reading as a whole stopped at `first`.
pub(super) fn every_problem(text: &str, file: &str, first: &serde_saphyr::Error) -> InventoryError {
    let first_error = SourceError::from_yaml(file, text, first);
    if !is_shape_error(first) {
        return InventoryError::Syntax(first_error);
    }
    let Ok(outline) = serde_saphyr::from_str_with_options::<Outline>(text, yaml_options()) else {
        return InventoryError::Syntax(first_error);
    };
    let lines = Lines::new(text);
    let mut errors = vec![first_error];
    let mut bad = 0;
    if let Some(schema) = &outline.schema
        && let Err(e) = check_schema(file, schema)
    {
        errors.push(e);
    }
    let mut defaults = Defaults::default();
    if let Some(at) = &outline.defaults
        && let Some(piece) = cut(&lines, at)
    {
        match read::<Defaults>(file, text, &piece) {
            Some(Ok(d)) => defaults = d,
            Some(Err(e)) => errors.push(e),
            None => {}
        }
    }
    let mut portals = Vec::new();
    for at in outline.portals.iter().flatten() {
        let unread = Placed {
            value: EntryRead::Unread,
            shift: 0,
        };
        let Some(piece) = cut(&lines, at).filter(|_| bad < MAX_BAD_PIECES) else {
            portals.push(unread);
            continue;
        };
        let value = match read::<PortalEntry>(file, text, &piece) {
            Some(Ok(entry)) => EntryRead::Whole(Box::new(entry)),
            Some(Err(e)) => {
                errors.push(e);
                bad += 1;
                match read::<EntryKeys>(file, text, &piece) {
                    Some(Ok(keys)) => EntryRead::Keys(keys),
                    _ => EntryRead::Unread,
                }
            }
            None => EntryRead::Unread,
        };
        portals.push(Placed {
            value,
            shift: piece.shift,
        });
    }
    let mut campaigns = Vec::new();
    for at in outline.campaigns.iter().flatten() {
        let Some(piece) = cut(&lines, at).filter(|_| bad < MAX_BAD_PIECES) else {
            continue;
        };
        match read::<CampaignEntry>(file, text, &piece) {
            Some(Ok(c)) => campaigns.push(Placed {
                value: c,
                shift: piece.shift,
            }),
            Some(Err(e)) => {
                errors.push(e);
                bad += 1;
            }
            None => {}
        }
    }
    // Only the problems matter here: the whole file did not read.
    let _ = compile_parts(file, &defaults, portals, campaigns, &mut errors);
    match InventoryError::from_errors(errors) {
        InventoryError::Invalid(mut list) if list.0.len() == 1 => {
            InventoryError::Syntax(list.0.remove(0))
        }
        other => other,
    }
}

/// A problem with what the file says, as opposed to how it is written (its
/// YAML syntax) or how deep or large it is (the budget).
fn is_shape_error(e: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    matches!(
        e.without_snippet(),
        E::SerdeInvalidType { .. }
            | E::SerdeInvalidValue { .. }
            | E::SerdeInvalidLength { .. }
            | E::SerdeUnknownVariant { .. }
            | E::SerdeUnknownField { .. }
            | E::SerdeMissingField { .. }
            | E::InvalidScalar { .. }
            | E::InvalidBooleanStrict { .. }
            | E::NullIntoString { .. }
            | E::DuplicateMappingKey { .. }
            | E::Unexpected { .. }
    )
}

/// Reads a piece cut out of `text`: what it holds, or its problem (placed in
/// `text`); None when the piece does not read on its own for a reason that
/// is not its own (the cut was wrong, or it refers to an anchor elsewhere).
fn read<T: DeserializeOwned>(
    file: &str,
    text: &str,
    piece: &Cut,
) -> Option<Result<T, SourceError>> {
    match serde_saphyr::from_str_with_options::<T>(&piece.text, yaml_options()) {
        Ok(value) => Some(Ok(value)),
        Err(e) if is_shape_error(&e) => Some(Err(SourceError::from_yaml_shifted(
            file,
            text,
            &e,
            piece.shift,
        ))),
        Err(_) => None,
    }
}

/// Where each line of a text starts, so a piece is found without counting
/// lines from the top each time.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// The text from the start of line `n` (1-based) to the end.
    fn starting_at_line(&self, n: u64) -> Option<&'a str> {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        self.text.get(*self.starts.get(idx)?..)
    }
}

/// A piece of the file, to be read on its own, and the number of lines of
/// the file before it.
struct Cut {
    text: String,
    shift: u64,
}

/// The lines of the block-style node that starts at `at`: from its first
/// character to the first line indented less than it (blank lines and
/// comments aside). What comes before it on its first line (`- `, `key: `)
/// is blanked, so its columns stay those of the file. None when the node
/// is an alias or does not start on the line of its location.
fn cut(lines: &Lines<'_>, at: &Spanned<IgnoredAny>) -> Option<Cut> {
    let start = at.referenced;
    if start != at.defined || start.line() == 0 || start.column() == 0 {
        return None;
    }
    let mut rows = lines.starting_at_line(start.line())?.lines();
    let first = rows.next()?;
    // Columns count characters, from 1.
    let column = usize::try_from(start.column()).ok()? - 1;
    let byte = first.char_indices().nth(column).map(|(i, _)| i)?;
    let mut indent = column;
    let mut body = &first[byte..];
    // A node located at its sequence entry's dash: the dash goes too.
    if let Some(after) = body.strip_prefix('-')
        && after.starts_with(' ')
    {
        indent += 1;
        body = after;
    }
    let trimmed = body.trim_start_matches(' ');
    indent += body.len() - trimmed.len();
    let body = trimmed;
    if body.is_empty() || body.starts_with('#') {
        return None;
    }
    let mut text = " ".repeat(indent);
    text.push_str(body);
    text.push('\n');
    for row in rows {
        let content = row.trim_start_matches(' ');
        let row_indent = row.len() - content.len();
        let blank = content.trim_end().is_empty() || content.starts_with('#');
        if !blank && row_indent < indent {
            break;
        }
        text.push_str(row);
        text.push('\n');
    }
    Some(Cut {
        text,
        shift: start.line() - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(text: &str) -> Outline {
        serde_saphyr::from_str_with_options(text, yaml_options()).unwrap()
    }

    const DOC: &str = "\
schema: v6audit/inventory/v1
defaults: {category: citizen}
portals:
  - id: a
    url: https://a.gov.vn/
    tags:
      - x

  # the next one
  - id: b
    url: https://b.gov.vn/
campaigns: []
";

    #[test]
    fn pieces_are_cut_with_their_columns() {
        let lines = Lines::new(DOC);
        let o = outline(DOC);
        let defaults = cut(&lines, o.defaults.as_ref().unwrap()).unwrap();
        assert_eq!(defaults.shift, 1);
        assert_eq!(defaults.text, "          {category: citizen}\n");
        let portals = o.portals.unwrap();
        let a = cut(&lines, &portals[0]).unwrap();
        assert_eq!(a.shift, 3);
        assert_eq!(
            a.text,
            "    id: a\n    url: https://a.gov.vn/\n    tags:\n      - x\n\n  # the next one\n"
        );
        let b = cut(&lines, &portals[1]).unwrap();
        assert_eq!(b.shift, 9);
        assert_eq!(b.text, "    id: b\n    url: https://b.gov.vn/\n");
    }

    #[test]
    fn a_flow_sequence_on_one_line_is_not_cut_into_wrong_pieces() {
        let text = "schema: v6audit/inventory/v1\nportals: [{id: a, url: u}, {id: b, urll: v}]\n";
        let lines = Lines::new(text);
        let o = outline(text);
        let portals = o.portals.unwrap();
        let a = cut(&lines, &portals[0]).unwrap();
        // The rest of the line comes along: it does not read on its own, so
        // it adds nothing rather than something false.
        assert!(!matches!(read::<PortalEntry>("f", text, &a), Some(Err(_))));
        // The second piece is the rest of the line from its own start: its
        // own problem is found, at its place.
        let b = cut(&lines, &portals[1]).unwrap();
        if let Some(Err(e)) = read::<PortalEntry>("f", text, &b) {
            assert_eq!((e.line, e.column), (2, 36), "{e}");
        }
    }
}
