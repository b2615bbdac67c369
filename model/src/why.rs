//! Why a step ended as it did, as a word of the rule pack and the values it
//! names, so that a reason the agent found reads in the reader's language.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::{Deserialize, Serialize};

/// A reason in words: the pack's `words:` key and the values its
/// `{placeholders}` are filled from. A value may itself hold a reason (see
/// [`Why::with_why`]). Observations keep the agent's English sentence in
/// `error` beside it, for readers of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    /// The word's key under the pack's `words:`, such as `dnssec.sig_expired`.
    pub word: String,
    /// The values of the word's `{placeholders}`, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

impl Why {
    /// The reason `word`, its values still to add ([`Why::with`]).
    pub fn new(word: &str) -> Self {
        Self {
            word: word.to_owned(),
            values: BTreeMap::new(),
        }
    }

    /// The value of `{name}`, as text.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Display) -> Self {
        self.values.insert(name.to_owned(), value.to_string());
        self
    }

    /// The value of `{name}` is another reason, said in the same language.
    #[must_use]
    pub fn with_why(mut self, name: &str, why: &Self) -> Self {
        self.values.insert(name.to_owned(), why.token());
        self
    }

    /// Several reasons, joined with "; ", as the value of `{name}`.
    #[must_use]
    pub fn with_whys(mut self, name: &str, whys: &[Self]) -> Self {
        let joined = whys.iter().map(Self::token).collect::<Vec<_>>().join("; ");
        self.values.insert(name.to_owned(), joined);
        self
    }

    /// The reason as a value token, `{=word|name=value|…}`, which a
    /// finding's values carry and the renderer says in a language. Values are
    /// escaped (`%`, `{`, `}`, `|` as `%25`, `%7B`, `%7D`, `%7C`), so no value
    /// can end the token or start another.
    pub fn token(&self) -> String {
        let mut out = String::with_capacity(self.word.len() + 16);
        out.push_str("{=");
        escape_into(&self.word, &mut out);
        for (name, value) in &self.values {
            out.push('|');
            escape_into(name, &mut out);
            out.push('=');
            escape_into(value, &mut out);
        }
        out.push('}');
        out
    }
}

fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '|' => out.push_str("%7C"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
}

/// The text [`Why::token`] escaped.
pub fn unescape(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3);
        let c = match code {
            Some("25") => Some('%'),
            Some("7B") => Some('{'),
            Some("7D") => Some('}'),
            Some("7C") => Some('|'),
            Some("3D") => Some('='),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_value_cannot_end_the_token() {
        let why = Why::new("http.protocol_detail").with("detail", "x} {=tcp.refused} | a=b %7D");
        let token = why.token();
        assert_eq!(token.matches('}').count(), 1, "{token}");
        assert!(!token[2..].contains("{"), "{token}");
        let value = token.split_once("detail=").unwrap().1.trim_end_matches('}');
        assert_eq!(unescape(value), "x} {=tcp.refused} | a=b %7D");
    }

    #[test]
    fn a_nested_reason_survives_two_escapes() {
        let inner = Why::new("dns.answered")
            .with("server", "[::1]:53")
            .with("code", "SERVFAIL");
        let outer = Why::new("dnssec.no_ds_answer")
            .with("name", "a.test")
            .with_why("cause", &inner);
        let value = outer.values["cause"].clone();
        assert_eq!(value, inner.token());
        assert!(
            outer
                .token()
                .starts_with("{=dnssec.no_ds_answer|cause=%7B%3Ddns.answered")
        );
    }
}
