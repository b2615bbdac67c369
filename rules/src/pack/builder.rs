//! The [`Builder`] that compiling a pack goes through: it collects every
//! problem, each with its file, line, column and field, and knows which rule
//! takes which parameter. `compile.rs`, `params.rs` and `words.rs` add the
//! phases to it.

use serde_saphyr::Spanned;
use v6audit_model::{SourceError, SourceErrors};

use super::PackError;
use crate::spec::{Param, RuleId};

/// Collects errors while compiling one file.
pub(super) struct Builder<'a> {
    pub(super) file: &'a str,
    pub(super) errors: Vec<SourceError>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(file: &'a str) -> Self {
        Builder {
            file,
            errors: Vec::new(),
        }
    }

    pub(super) fn err<T>(&mut self, at: &Spanned<T>, field: &str, message: String) {
        self.errors.push(SourceError::spanned(
            self.file,
            at,
            field.to_owned(),
            message,
        ));
    }

    pub(super) fn err_at(&mut self, at: serde_saphyr::Location, field: &str, message: String) {
        self.errors.push(SourceError::at(
            self.file,
            at,
            Some(field.to_owned()),
            message,
        ));
    }

    pub(super) fn err_nowhere(&mut self, field: String, message: String) {
        self.errors.push(SourceError {
            file: self.file.to_owned(),
            line: 0,
            column: 0,
            field: Some(field),
            message,
        });
    }

    /// Whether `rule` takes the parameter; if not, records where it was wrongly set.
    pub(super) fn owns(
        &mut self,
        rule: RuleId,
        which: Param,
        at: Option<serde_saphyr::Location>,
    ) -> bool {
        let spec = rule.spec();
        if spec.params.contains(&which) {
            return true;
        }
        let owner = RuleId::ALL
            .iter()
            .find(|r| r.spec().params.contains(&which))
            .map_or("no rule", |r| r.as_str());
        self.errors.push(SourceError {
            file: self.file.to_owned(),
            line: at.map_or(0, |l| l.line()),
            column: at.map_or(0, |l| l.column()),
            field: Some(format!("rules.{}.{}", spec.id, which.name())),
            message: format!(
                "{} does not take `{}` (it belongs to {owner})",
                spec.id,
                which.name()
            ),
        });
        false
    }

    pub(super) fn finish_err(self) -> PackError {
        PackError::Invalid(SourceErrors(self.errors))
    }
}
