//! A finding in words: a pure function of the pack, the rule, the outcome
//! key, the values and the language. The engine uses it to fill a finding's
//! `message` and `remediation`; the collector's API and dashboard use it to
//! show a stored finding in another language, from the same stored outcome,
//! without judging the observation again.

use std::collections::BTreeMap;

use v6audit_model::why::unescape;
use v6audit_model::{Finding, Lang, Status, Why};

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
/// `lang`, and every reason token `{=key|name=value|…}` ([`Why::token`]) by
/// its word with the placeholders filled from its values, themselves said
/// in `lang`. Anything else, a `{=` the pack does not know included, is kept
/// as written: values carry portals' own text (names, errors), which must
/// read as it came.
pub fn expand_words(pack: &Pack, value: &str, lang: Lang) -> String {
    expand(pack, value, lang, MAX_NESTING)
}

/// How deep reasons may nest in one another (a DS that does not validate
/// because a signature expired is two); deeper values are shown as written.
const MAX_NESTING: usize = 4;

/// The most a value grows to when its words are said: a hostile observation
/// cannot make a reader's page large by nesting reasons.
const MAX_SAID_BYTES: usize = 16 << 10;

fn expand(pack: &Pack, value: &str, lang: Lang, depth: usize) -> String {
    if !value.contains("{=") {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 16);
    let mut rest = value;
    while let Some(i) = rest.find("{=") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let said = tail
            .find('}')
            .and_then(|end| say(pack, &tail[2..end], lang, depth).map(|w| (w, end)));
        match said {
            Some((w, end)) => {
                out.push_str(&w);
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str("{=");
                rest = &tail[2..];
            }
        }
        if out.len() > MAX_SAID_BYTES {
            truncate_at_char(&mut out, MAX_SAID_BYTES);
            out.push('…');
            return out;
        }
    }
    out.push_str(rest);
    out
}

/// One token's inside, `key` or `key|name=value|…`, said in `lang`.
fn say(pack: &Pack, inside: &str, lang: Lang, depth: usize) -> Option<String> {
    let mut parts = inside.split('|');
    let key = unescape(parts.next()?);
    let word = pack.word(&key, lang)?;
    let vars: Vec<(&str, String)> = parts
        .filter_map(|p| p.split_once('='))
        .filter_map(|(name, v)| {
            let v = unescape(v);
            let v = if depth > 0 {
                expand(pack, &v, lang, depth - 1)
            } else {
                v
            };
            // A name is one of the word's own placeholders (words::SAID).
            let offered = crate::words::said_params(&key)?;
            offered.iter().find(|o| **o == name).map(|o| (*o, v))
        })
        .collect();
    if vars.is_empty() && !word.contains('{') {
        return Some(word.to_owned());
    }
    Some(crate::pack::fill(word, &vars))
}

fn truncate_at_char(s: &mut String, max: usize) {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

/// A reason in `lang`, in `pack`'s words.
pub fn said(pack: &Pack, why: &Why, lang: Lang) -> String {
    expand_words(pack, &why.token(), lang)
}

/// A reason in English, in the built-in pack's words: the sentence an agent
/// writes in an observation's `error`, beside the reason itself.
pub fn in_english(why: &Why) -> String {
    static PACK: std::sync::LazyLock<Pack> = std::sync::LazyLock::new(Pack::default_pack);
    debug_assert!(
        crate::words::known(&why.word),
        "reason word `{}` is in neither words::SAID nor words::ALL",
        why.word
    );
    said(&PACK, why, Lang::En)
}

/// The value a rule's message shows for a reason: the reason's token when it
/// names one of the pack's reason words, otherwise the agent's own sentence
/// (an observation from before reasons were recorded, or from a newer agent).
pub fn reason_value(why: Option<&Why>, error: Option<&str>) -> Option<String> {
    match why {
        Some(w) if crate::words::known(&w.word) => Some(w.token()),
        _ => error.map(str::to_owned),
    }
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

    #[test]
    fn a_dnssec_reason_reads_in_vietnamese_with_its_nested_cause() {
        let pack = Pack::default_pack();
        let cause = Why::new("dnssec.sig_expired")
            .with("tag", 12345)
            .with("at", "2026-01-01 00:00:00 UTC");
        let why = Why::new("dnssec.ds_invalid")
            .with("name", "a.lab.test")
            .with("parent", "lab.test")
            .with_whys("cause", &[cause.clone(), cause]);
        assert_eq!(
            in_english(&why),
            "the DS of a.lab.test in lab.test does not validate: RRSIG by key 12345 expired at \
             2026-01-01 00:00:00 UTC; RRSIG by key 12345 expired at 2026-01-01 00:00:00 UTC"
        );
        let vi = said(&pack, &why, Lang::Vi);
        assert!(
            vi.starts_with(
                "DS của a.lab.test trong lab.test không hợp lệ: RRSIG của khóa 12345 hết hạn"
            ),
            "{vi}"
        );
        assert!(!vi.contains("expired") && !vi.contains("{="), "{vi}");
    }

    #[test]
    fn a_reason_value_is_shown_as_it_came_and_names_only_its_own_placeholders() {
        let pack = Pack::default_pack();
        // A portal's text that looks like a token, and a placeholder the
        // word does not offer, are shown as written / ignored.
        let why = Why::new("dns.answered")
            .with("server", "{=tcp.refused} %7D")
            .with("code", "REFUSED")
            .with("zone", "ignored");
        assert_eq!(
            said(&pack, &why, Lang::En),
            "refused %7D answered REFUSED",
            "a value may name a word, as every value may"
        );
        let why = Why::new("dns.bad_name").with("name", "a}b|c=d");
        assert_eq!(
            said(&pack, &why, Lang::En),
            "`a}b|c=d` is not a valid DNS name"
        );
    }

    #[test]
    fn nested_reasons_cannot_grow_a_value_without_bound() {
        let pack = Pack::default_pack();
        let mut why = Why::new("dns.no_resolver");
        for _ in 0..40 {
            let many: Vec<Why> = (0..8).map(|_| why.clone()).collect();
            why = Why::new("dnssec.keys_invalid")
                .with("zone", "z")
                .with_whys("cause", &many);
            if why.token().len() > 1 << 20 {
                break;
            }
        }
        let out = said(&pack, &why, Lang::Vi);
        assert!(out.len() <= MAX_SAID_BYTES + 4, "{}", out.len());
    }

    #[test]
    fn a_reason_of_an_unknown_word_shows_the_agents_sentence() {
        let why = Why::new("dnssec.from_a_newer_agent");
        assert_eq!(
            reason_value(Some(&why), Some("the agent's words")).as_deref(),
            Some("the agent's words")
        );
    }
}
