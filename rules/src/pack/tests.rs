//! The built-in pack compiles; templates fill and check their placeholders.

use super::template::placeholders;
use super::*;

#[test]
fn default_pack_compiles() {
    let pack = Pack::parse(DEFAULT_PACK_YAML, DEFAULT_PACK_NAME).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pack.rules.len(), RuleId::ALL.len());
    assert!(
        pack.params.allow.is_empty(),
        "the default pack allows no special prefix"
    );
    assert_eq!(pack.params.similarity_threshold, 0.9);
    assert_eq!(pack.params.expiry_warning_days, 14);
    assert_eq!(pack.params.min_name_servers, 2);
}

#[test]
fn template_fills_placeholders_and_keeps_literal_braces() {
    let t = Template {
        text: Text {
            en: "{count} of {total} {{x}} {unknown}".into(),
            vi: "{count}/{total}".into(),
        },
    };
    let vars = [("count", "2".to_owned()), ("total", "3".to_owned())];
    assert_eq!(t.render(Lang::En, &vars), "2 of 3 {x} {unknown}");
    assert_eq!(t.render(Lang::Vi, &vars), "2/3");
}

#[test]
fn placeholder_syntax_errors_are_named() {
    assert_eq!(placeholders("a {b} c {{d}}").unwrap(), vec!["b"]);
    assert!(placeholders("a {b").unwrap_err().contains("not closed"));
    assert!(placeholders("a } b").unwrap_err().contains("without `{`"));
    assert!(
        placeholders("{Bad Name}")
            .unwrap_err()
            .contains("not a placeholder")
    );
}
