//! A finding in words: a pure function of the pack, the rule, the outcome
//! key, the values and the language. The engine uses it to fill a finding's
//! `message` and `remediation`; the collector's API and dashboard use it to
//! show a stored finding in another language, from the same stored outcome,
//! without judging the observation again.

use std::collections::BTreeMap;

use v6audit_model::{Finding, Lang, Status};

use crate::pack::Pack;
use crate::spec::RuleId;

/// The message of `rule`'s `outcome`, its placeholders filled from `values`
/// and the words those name said in `lang`. An outcome the pack does not
/// word (a report from a newer agent) reads as `rule: outcome`.
pub fn message(
    pack: &Pack,
    rule: RuleId,
    outcome: &str,
    values: &BTreeMap<String, String>,
    lang: Lang,
) -> String {
    let Some(template) = pack.rule(rule).messages.get(outcome) else {
        return format!("{}: {outcome}", rule.as_str());
    };
    let vars: Vec<(&str, String)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), expand_words(pack, v, lang)))
        .collect();
    template.render(lang, &vars)
}

/// What to do, for a `fail` or a `warn`; nothing otherwise. An `error` is
/// the agent's not knowing (its vantage, its budget): advice to the portal's
/// owners would be advice about nothing.
pub fn remediation(pack: &Pack, rule: RuleId, status: Status, lang: Lang) -> String {
    match status {
        Status::Fail | Status::Warn => pack.rule(rule).remediation.get(lang).trim().to_owned(),
        _ => String::new(),
    }
}

/// A stored finding's message and remediation in `lang`, from its outcome
/// and values; `None` when it has no outcome (a report written before
/// findings carried one) or names a rule this pack does not know, so the
/// caller shows the stored words.
pub fn finding(pack: &Pack, f: &Finding, lang: Lang) -> Option<(String, String)> {
    let rule = RuleId::parse(&f.rule)?;
    if f.outcome.is_empty() || !pack.rule(rule).messages.contains_key(f.outcome.as_str()) {
        return None;
    }
    Some((
        message(pack, rule, &f.outcome, &f.values, lang),
        remediation(pack, rule, f.status, lang),
    ))
}

/// `value` with every `{=key}` the pack words replaced by that word in
/// `lang`. Anything else, a `{=` the pack does not know included, is kept as
/// written: values carry portals' own text (names, errors), which must read
/// as it came.
pub fn expand_words(pack: &Pack, value: &str, lang: Lang) -> String {
    if !value.contains("{=") {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 16);
    let mut rest = value;
    while let Some(i) = rest.find("{=") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let word = tail
            .find('}')
            .and_then(|end| pack.word(&tail[2..end], lang).map(|w| (w, end)));
        match word {
            Some((w, end)) => {
                out.push_str(w);
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str("{=");
                rest = &tail[2..];
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
    fn words_are_said_in_the_language_and_unknown_keys_are_kept() {
        let pack = Pack::default_pack();
        let v = "2001:db8::1 ({=tcp.refused}), x ({=no.such}), {=, }{=tcp.timeout";
        assert_eq!(
            expand_words(&pack, v, Lang::En),
            "2001:db8::1 (refused), x ({=no.such}), {=, }{=tcp.timeout"
        );
        assert_eq!(
            expand_words(&pack, "{=tcp.refused}", Lang::Vi),
            "bị từ chối"
        );
    }

    #[test]
    fn a_finding_without_an_outcome_keeps_its_stored_words() {
        let pack = Pack::default_pack();
        let f = Finding {
            rule: "dns.aaaa".to_owned(),
            status: Status::Fail,
            severity: v6audit_model::Severity::High,
            outcome: String::new(),
            values: BTreeMap::new(),
            message: "stored".to_owned(),
            remediation: String::new(),
        };
        assert_eq!(finding(&pack, &f, Lang::Vi), None);
    }
}
