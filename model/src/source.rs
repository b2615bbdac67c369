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
    pub message: String,
}

impl SourceError {
    pub fn at(file: &str, location: Location, field: Option<String>, message: String) -> Self {
        SourceError {
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

    /// An error that serde-saphyr raised while reading the document.
    pub fn from_yaml(file: &str, err: &serde_saphyr::Error) -> Self {
        let inner = err.without_snippet();
        let location = inner.location();
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
        SourceError {
            file: file.to_owned(),
            line: location.map_or(0, |l| l.line()),
            column: location.map_or(0, |l| l.column()),
            field: None,
            message,
        }
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
        },
    }
}

/// The largest YAML file v6audit reads (an inventory of 100,000 portals is well under this).
pub const MAX_YAML_BYTES: usize = 64 << 20;
