//! The pack's words: the texts a value or a reason names (`{=tcp.refused}`),
//! the base pack's first with the file's laid over them, each checked for
//! its placeholders, and every key of [`crate::words`] required.

use std::collections::HashMap;

use serde_saphyr::Spanned;
use v6audit_model::Lang;

use super::builder::Builder;
use super::template::placeholders;
use super::{Pack, Text};

impl Builder<'_> {
    /// The words: the base pack's, with the file's laid over them, each one
    /// checked; every key of [`crate::words::ALL`] and [`crate::words::SAID`]
    /// required.
    pub(super) fn read_words(
        &mut self,
        file_words: HashMap<Spanned<String>, Text>,
        base: Option<&Pack>,
    ) -> HashMap<&'static str, Text> {
        let mut words: HashMap<&'static str, Text> =
            base.map(|b| b.words.clone()).unwrap_or_default();
        let mut entries: Vec<_> = file_words.into_iter().collect();
        entries.sort_by_key(|(k, _)| (k.referenced.line(), k.referenced.column()));
        for (key, text) in entries {
            let known = crate::words::ALL
                .iter()
                .map(|k| (*k, &[][..]))
                .chain(crate::words::SAID.iter().copied())
                .find(|(k, _)| *k == key.value);
            match known {
                Some((k, offered)) => {
                    self.check_word(&key, &text, offered);
                    words.insert(k, text);
                }
                None => self.err(
                    &key,
                    "words",
                    format!(
                        "unknown word `{}`; the words are the keys of `words:` in the \
                         built-in pack, rules/packs/default.yaml",
                        key.value
                    ),
                ),
            }
        }
        let missing: Vec<_> = crate::words::ALL
            .iter()
            .chain(crate::words::SAID.iter().map(|(k, _)| k))
            .filter(|k| !words.contains_key(*k))
            .copied()
            .collect();
        if !missing.is_empty() {
            self.err_nowhere(
                "words".to_owned(),
                format!(
                    "missing: a pack without `extends: default` must word every key; missing {}",
                    missing.join(", ")
                ),
            );
        }
        words
    }

    /// Checks word `key`'s text in every language: not empty, and using only
    /// the placeholders the word `offered`.
    fn check_word(&mut self, key: &Spanned<String>, text: &Text, offered: &[&str]) {
        for lang in Lang::ALL {
            let field = format!("words.{}.{lang}", key.value);
            let t = text.get(lang);
            if t.trim().is_empty() {
                self.err(
                    key,
                    &field,
                    "empty: every word needs a text in every language".to_owned(),
                );
            }
            match placeholders(t) {
                Err(e) => self.err(key, &field, e),
                Ok(used) => {
                    for n in used.iter().filter(|n| !offered.contains(n)) {
                        let offers = if offered.is_empty() {
                            "this word offers none".to_owned()
                        } else {
                            format!(
                                "this word offers: {}",
                                offered
                                    .iter()
                                    .map(|o| format!("{{{o}}}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        self.err(
                            key,
                            &field,
                            format!("unknown placeholder `{{{n}}}`; {offers}"),
                        );
                    }
                }
            }
        }
    }
}
