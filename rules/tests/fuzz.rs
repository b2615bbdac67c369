//! Fuzzing the rule pack parser, on the stable toolchain (proptest). A pack
//! is a file a user names (`--rules`) or a collector is configured with;
//! whatever its text, `Pack::parse` must return quickly, with a pack that
//! is complete in every language or with errors that name the file and a
//! line inside it; a bad parameter, prefix or message names its field and
//! line; and what a derived pack sets is what the compiled pack holds.
//!
//! A binary of its own (not part of `tests/rules.rs`) so that the long run
//! can be asked for alone:
//! `PROPTEST_CASES=200000 cargo test --release -p v6audit-rules --test fuzz`.
//! Without `PROPTEST_CASES` each target runs a few dozen to a few hundred
//! cases (a derived pack compiles the default pack too, some 1,100 lines).

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use v6audit_model::Lang;
use v6audit_rules::pack::DEFAULT_PACK_YAML;
use v6audit_rules::{Pack, PackError, RuleId};

/// The most one case may take.
const CASE_LIMIT: Duration = Duration::from_secs(1);

/// The name errors must carry.
const SOURCE: &str = "fuzz-pack.yaml";

/// Cases per target: `PROPTEST_CASES` when it is set (the long run), else `default`.
fn config(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    config
}

/// An upper bound on the lines of `text` as any YAML reader may count them.
fn max_lines(text: &str) -> u64 {
    let breaks = text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    breaks as u64 + 1
}

fn parse(text: &str) -> Result<Result<Pack, PackError>, TestCaseError> {
    let start = Instant::now();
    let result = Pack::parse(text, SOURCE);
    let took = start.elapsed();
    prop_assert!(
        took < CASE_LIMIT,
        "Pack::parse took {took:?} on {} bytes",
        text.len()
    );
    Ok(result)
}

/// What a compiled pack promises the engine: every rule, every outcome's
/// text, parameters within their ranges.
fn check_compiled(pack: &Pack) -> Result<(), TestCaseError> {
    prop_assert_eq!(pack.rules.len(), RuleId::ALL.len());
    for id in RuleId::ALL {
        let rule = pack.rule(id);
        prop_assert_eq!(rule.id, id);
        for (key, _) in id.spec().outcomes {
            prop_assert!(rule.messages.contains_key(key), "{id}: no text for {key}");
        }
    }
    let p = &pack.params;
    prop_assert!(
        (1..=13).contains(&p.min_name_servers),
        "{}",
        p.min_name_servers
    );
    prop_assert!((0.0..=1.0).contains(&p.similarity_threshold));
    prop_assert!(p.expiry_warning_days <= 3650);
    prop_assert!((1.0..=100.0).contains(&p.slower_ratio));
    prop_assert!(p.slower_extra_ms <= 60_000);
    for stage in &pack.stages {
        prop_assert!(!stage.contains(&RuleId::DnsAaaa));
    }
    Ok(())
}

/// What every error promises: the file's name, a line inside it (0 when
/// the place is unknown) and a message.
fn check_error(text: &str, e: &PackError) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(e, PackError::Invalid(_)),
        "unexpected error kind: {e}"
    );
    let errors = e.errors();
    prop_assert!(!errors.is_empty(), "an error with no problem listed: {e}");
    let lines = max_lines(text);
    for err in errors {
        prop_assert_eq!(&err.file, SOURCE);
        prop_assert!(
            err.line <= lines,
            "line {} of at most {lines}: {err}",
            err.line
        );
        prop_assert!(!err.message.is_empty(), "empty message: {err:?}");
    }
    Ok(())
}

fn parse_and_check(text: &str) -> Result<Option<Pack>, TestCaseError> {
    match parse(text)? {
        Ok(pack) => {
            check_compiled(&pack)?;
            Ok(Some(pack))
        }
        Err(e) => {
            check_error(text, &e)?;
            Ok(None)
        }
    }
}

/// A YAML double-quoted scalar: a JSON string is one.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The head of a pack that extends the default one; its `rules:` line is line 4.
const DERIVED: &str = "schema: v6audit/rules/v1\nname: fuzz\nextends: default\nrules:\n";

/// Refused, with an error at `line` naming `field`.
fn expect_error_at(text: &str, line: u64, field: &str) -> Result<PackError, TestCaseError> {
    let Err(e) = parse(text)? else {
        return Err(TestCaseError::fail(format!("accepted:\n{text}")));
    };
    check_error(text, &e)?;
    prop_assert!(
        e.errors()
            .iter()
            .any(|err| err.line == line && err.field.as_deref() == Some(field)),
        "no error at line {line} naming {field}:\n{e}\n---\n{text}"
    );
    Ok(e)
}

/// Scalars for replacing a value of the default pack.
const VALUES: &[&str] = &[
    "",
    "~",
    "0",
    "14",
    "-1",
    "4294967296",
    "0.5",
    "1e309",
    ".nan",
    "true",
    "yes",
    "critical",
    "severe",
    "[]",
    "{}",
    "[a, b]",
    "{en: x}",
    "{en: x, vi: y}",
    "\"{host}\"",
    "\"{hots}\"",
    "\"{{\"",
    "\"}\"",
    "&a x",
    "*a",
    "*default",
    "!!binary AAAA",
    "|\n  text",
    "\"2001:db8::/129\"",
];

proptest! {
    #![proptest_config(config(256))]

    /// Any text at all, up to 4 KiB.
    #[test]
    fn pack_parse_survives_arbitrary_text(chars in prop::collection::vec(any::<char>(), 0..1024)) {
        let text: String = chars.into_iter().collect();
        parse_and_check(&text)?;
    }

    /// Any bytes, read lossily (`read_text` refuses non-UTF-8 first).
    #[test]
    fn pack_parse_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        parse_and_check(&String::from_utf8_lossy(&bytes))?;
    }
}

proptest! {
    // Each case compiles the 1,100-line default pack too.
    #![proptest_config(config(64))]

    /// A message text built of literal text, `{{`, `}}` and the outcome's
    /// own placeholders: the pack compiles, and the template renders to
    /// exactly the text with each placeholder filled.
    #[test]
    fn message_template_round_trips(
        rule in prop::sample::select(RuleId::ALL.to_vec()),
        outcome in any::<prop::sample::Index>(),
        parts in prop::collection::vec((0u8..4, "[a-zA-Z0-9 .,:;!?()ạđư-]{0,12}", any::<prop::sample::Index>()), 0..12),
        vi in "[a-zA-Z0-9 ạđư]{0,20}",
    ) {
        let spec = rule.spec();
        let (key, allowed) = spec.outcomes[outcome.index(spec.outcomes.len())];
        let mut text = String::new();
        let mut want = String::new();
        for (kind, literal, which) in &parts {
            match *kind {
                0 if !allowed.is_empty() => {
                    let name = allowed[which.index(allowed.len())];
                    text.push_str(&format!("{{{name}}}"));
                    want.push_str(&format!("<{name}>"));
                }
                1 => {
                    text.push_str("{{");
                    want.push('{');
                }
                2 => {
                    text.push_str("}}");
                    want.push('}');
                }
                _ => {
                    text.push_str(literal);
                    want.push_str(literal);
                }
            }
        }
        let doc = format!(
            "{DERIVED}  {rule}:\n    messages:\n      {key}:\n        en: {}\n        vi: {}\n",
            quoted(&text),
            quoted(&vi)
        );
        let pack = match parse(&doc)? {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{doc}"))),
        };
        check_compiled(&pack)?;
        let vars: Vec<(&str, String)> = allowed.iter().map(|n| (*n, format!("<{n}>"))).collect();
        let template = &pack.rule(rule).messages[key];
        prop_assert_eq!(template.render(Lang::En, &vars), want);
        prop_assert_eq!(template.render(Lang::Vi, &vars), vi);
    }

    /// A message with a placeholder its outcome does not offer, a brace
    /// left open or closed alone, or a bad name: refused, naming the
    /// message, its language and its line.
    #[test]
    fn message_error_names_the_outcome_and_language(
        rule in prop::sample::select(RuleId::ALL.to_vec()),
        outcome in any::<prop::sample::Index>(),
        lang in prop::sample::select(Lang::ALL.to_vec()),
        bad in prop::sample::select(vec![
            "{nonexistent_placeholder}", "{", "a { b", "}", "x } y", "{Bad Name}", "{}", "{a-b}",
            "{{ {nonexistent_placeholder} }}",
        ]),
        before in "[a-z ]{0,8}",
    ) {
        let spec = rule.spec();
        let (key, _) = spec.outcomes[outcome.index(spec.outcomes.len())];
        let text = format!("{before}{bad}");
        let (en, vi) = match lang {
            Lang::En => (text.as_str(), "ok"),
            Lang::Vi => ("ok", text.as_str()),
        };
        let doc = format!(
            "{DERIVED}  {rule}:\n    messages:\n      {key}:\n        en: {}\n        vi: {}\n",
            quoted(en),
            quoted(vi)
        );
        // The outcome's key is on line 7.
        expect_error_at(&doc, 7, &format!("rules.{rule}.messages.{key}.{}", lang.code()))?;
    }

    /// A derived pack's parameter: a value in range compiles and is the
    /// pack's; one out of range, of the wrong type, or set on a rule that
    /// does not take it is refused at its line, naming the field.
    #[test]
    fn parameter_round_trips_or_names_its_field(
        which in 0usize..5,
        n in prop_oneof![0u32..20, 0u32..70_000, any::<u32>()],
        milli in -2_000i64..150_000,
        wrong_rule in any::<bool>(),
        // Nothing a number parses from (a quoted "3" or `~` might be read as one, or as none).
        wrong_type in prop::option::of(prop::sample::select(vec!["many", "[1]", "{}", "true", "0x"])),
    ) {
        let (rule, param) = [
            (RuleId::DnsNsAaaa, "min_name_servers"),
            (RuleId::WebParity, "similarity_threshold"),
            (RuleId::TlsV6Cert, "expiry_warning_days"),
            (RuleId::NetV6Latency, "slower_ratio"),
            (RuleId::NetV6Latency, "slower_extra_ms"),
        ][which];
        let float = milli as f64 / 1000.0;
        let value = match (param, wrong_type) {
            (_, Some(v)) => v.to_owned(),
            ("similarity_threshold" | "slower_ratio", None) => format!("{float:?}"),
            _ => n.to_string(),
        };
        // dns.aaaa takes no parameter at all.
        let on = if wrong_rule { RuleId::DnsAaaa } else { rule };
        let doc = format!("{DERIVED}  {on}:\n    {param}: {value}\n");
        let field = format!("rules.{on}.{param}");
        if wrong_rule || wrong_type.is_some() {
            expect_error_at(&doc, 6, &field)?;
            return Ok(());
        }
        let in_range = match param {
            "min_name_servers" => (1..=13).contains(&n),
            "similarity_threshold" => (0.0..=1.0).contains(&float),
            "expiry_warning_days" => n <= 3650,
            "slower_ratio" => (1.0..=100.0).contains(&float),
            _ => n <= 60_000,
        };
        if !in_range {
            let e = expect_error_at(&doc, 6, &field)?;
            prop_assert!(e.to_string().contains("must be"), "{e}");
            return Ok(());
        }
        let pack = match parse(&doc)? {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{doc}"))),
        };
        check_compiled(&pack)?;
        let p = &pack.params;
        match param {
            "min_name_servers" => prop_assert_eq!(p.min_name_servers, n),
            "similarity_threshold" => prop_assert_eq!(p.similarity_threshold, float),
            "expiry_warning_days" => prop_assert_eq!(p.expiry_warning_days, n),
            "slower_ratio" => prop_assert_eq!(p.slower_ratio, float),
            _ => prop_assert_eq!(p.slower_extra_ms, n),
        }
    }

    /// `allow` prefixes: valid ones (IPv6 or IPv4, with or without a
    /// length, host bits set or not) are the pack's allow-list, truncated to
    /// their network; each invalid one is refused at its own line.
    #[test]
    fn allow_prefixes_round_trip_or_name_their_line(
        prefixes in prop::collection::vec(
            prop_oneof![
                (any::<u128>(), 0u8..=128, any::<bool>()).prop_map(|(a, len, bare)| {
                    let addr = IpAddr::V6(Ipv6Addr::from(a));
                    if bare { (addr.to_string(), Some(IpNet::from(addr))) } else {
                        (format!("{addr}/{len}"), Some(IpNet::new(addr, len).unwrap().trunc()))
                    }
                }),
                (any::<u32>(), 0u8..=32, any::<bool>()).prop_map(|(a, len, bare)| {
                    let addr = IpAddr::V4(Ipv4Addr::from(a));
                    if bare { (addr.to_string(), Some(IpNet::from(addr))) } else {
                        (format!("{addr}/{len}"), Some(IpNet::new(addr, len).unwrap().trunc()))
                    }
                }),
                prop::sample::select(vec![
                    "2001:db8::/129", "10.0.0.0/33", "::1/", "/8", "example.gov.vn", "",
                    "2001:db8::g/32", "1.2.3/24", "2001:db8::/-1", "[::1]/128", "::1 /128",
                ]).prop_map(|s| (s.to_owned(), None)),
            ],
            0..6,
        ),
    ) {
        let mut doc = format!("{DERIVED}  dns.aaaa-global:\n    allow:\n");
        for (text, _) in &prefixes {
            doc.push_str(&format!("      - {}\n", quoted(text)));
        }
        if prefixes.is_empty() {
            doc = format!("{DERIVED}  dns.aaaa-global:\n    allow: []\n");
        }
        let bad: Vec<usize> = prefixes
            .iter()
            .enumerate()
            .filter(|(_, (_, net))| net.is_none())
            .map(|(i, _)| i)
            .collect();
        if bad.is_empty() {
            let pack = match parse(&doc)? {
                Ok(p) => p,
                Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{doc}"))),
            };
            check_compiled(&pack)?;
            let want: Vec<IpNet> = prefixes.iter().filter_map(|(_, n)| *n).collect();
            prop_assert_eq!(&pack.params.allow, &want);
        } else {
            // The first item is on line 7.
            let Err(e) = parse(&doc)? else {
                return Err(TestCaseError::fail(format!("accepted:\n{doc}")));
            };
            check_error(&doc, &e)?;
            for i in bad {
                let line = 7 + i as u64;
                prop_assert!(
                    e.errors().iter().any(|err| err.line == line
                        && err.field.as_deref() == Some("rules.dns.aaaa-global.allow")),
                    "no error at line {line}:\n{e}\n---\n{doc}"
                );
            }
        }
    }

    /// The default pack, edited: a line removed, doubled or swapped with
    /// another, a value replaced, or the text cut. Never a panic, always in
    /// time; what still compiles is a complete pack.
    #[test]
    fn pack_parse_survives_an_edited_default_pack(
        edit in 0u8..5,
        at in any::<prop::sample::Index>(),
        other in any::<prop::sample::Index>(),
        value in prop::sample::select(VALUES),
    ) {
        let mut lines: Vec<String> = DEFAULT_PACK_YAML.lines().map(str::to_owned).collect();
        let i = at.index(lines.len());
        let text = match edit {
            0 => {
                lines.remove(i);
                lines.join("\n")
            }
            1 => {
                let line = lines[i].clone();
                lines.insert(i, line);
                lines.join("\n")
            }
            2 => {
                { let j = other.index(lines.len()); lines.swap(i, j); }
                lines.join("\n")
            }
            3 => {
                if let Some((key, _)) = lines[i].split_once(": ") {
                    lines[i] = format!("{key}: {value}");
                }
                lines.join("\n")
            }
            _ => {
                let bounds: Vec<usize> = DEFAULT_PACK_YAML.char_indices().map(|(b, _)| b).collect();
                DEFAULT_PACK_YAML[..bounds[at.index(bounds.len())]].to_owned()
            }
        };
        parse_and_check(&text)?;
    }

    /// A derived pack with random overrides from a small grammar: rules
    /// (known or not), fields (known or not) and values of every kind.
    #[test]
    fn pack_parse_survives_derived_packs_from_a_grammar(
        extends in prop::sample::select(vec!["default", "default", "defualt", "~", "[default]"]),
        entries in prop::collection::vec(
            (
                prop_oneof![
                    4 => prop::sample::select(RuleId::ALL.to_vec()).prop_map(|r| r.to_string()),
                    1 => prop::sample::select(vec!["dns.aaa", "DNS.AAAA", "\"dns.aaaa\"", "x"]).prop_map(str::to_owned),
                ],
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "title", "severity", "weight", "why", "standard", "remediation",
                            "messages", "steps", "allow", "allow_ula_for_internal",
                            "min_name_servers", "similarity_threshold", "expiry_warning_days",
                            "slower_ratio", "slower_extra_ms", "sevrity",
                        ]),
                        prop::sample::select(VALUES),
                    ),
                    0..4,
                ),
            ),
            0..4,
        ),
    ) {
        let mut doc = format!("schema: v6audit/rules/v1\nname: fuzz\nextends: {extends}\nrules:\n");
        for (rule, fields) in &entries {
            doc.push_str(&format!("  {rule}:\n"));
            for (field, value) in fields {
                doc.push_str(&format!("    {field}: {value}\n"));
            }
        }
        parse_and_check(&doc)?;
    }
}
