//! Fuzzing report ingest, on the stable toolchain (proptest). Anyone with
//! an agent token can push a body; whatever it holds, `ingest::gunzip` and
//! `ingest::parse` must return quickly, with a 4xx refusal that names the
//! field at fault (never repeating an over-long string), or with a report
//! that is valid, reads back the same after being written out, and that the
//! collector's pack can judge.
//!
//! A binary of its own (not part of `tests/collector.rs`: no database, no
//! server) so that the long run can be asked for alone:
//! `PROPTEST_CASES=200000 cargo test --release -p v6audit-collector --test fuzz`.
//! Without `PROPTEST_CASES` each target runs a hundred or a few hundred cases.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use v6audit_collector::catalog::Catalog;
use v6audit_collector::ingest::{self, MAX_TEXT_BYTES, Refusal};
use v6audit_model::{REPORT_SCHEMA, Report};
use v6audit_rules::Pack;

/// The most one case may take.
const CASE_LIMIT: Duration = Duration::from_secs(1);

/// Cases per target: `PROPTEST_CASES` when it is set (the long run), else `default`.
fn config(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    config
}

/// The lab report (18 portals, one per scenario), which ingests as it is.
static LAB_REPORT: LazyLock<Value> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-lab.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
});

static PACK: LazyLock<Pack> = LazyLock::new(Pack::default_pack);

/// The refusals ingest gives for a body it reads.
const KINDS: &[&str] = &[
    "malformed_json",
    "unknown_schema",
    "invalid_report",
    "invalid_result",
];

fn parse(body: &[u8]) -> Result<Result<Report, Refusal>, TestCaseError> {
    let start = Instant::now();
    let result = ingest::parse(body);
    let took = start.elapsed();
    prop_assert!(
        took < CASE_LIMIT,
        "ingest::parse took {took:?} on {} bytes",
        body.len()
    );
    Ok(result)
}

fn check_refusal(r: &Refusal) -> Result<(), TestCaseError> {
    prop_assert_eq!(r.status, 400, "{:?}", r);
    prop_assert!(KINDS.contains(&r.error), "unknown kind {:?}", r);
    prop_assert!(!r.message.is_empty(), "{:?}", r);
    prop_assert!(r.retry_after.is_none(), "{:?}", r);
    // The answer is JSON a client can read.
    let answer = serde_json::to_value(r).unwrap();
    prop_assert_eq!(answer["error"].as_str(), Some(r.error));
    Ok(())
}

/// What an accepted report promises the store and the dashboard.
fn check_accepted(report: &Report) -> Result<(), TestCaseError> {
    prop_assert_eq!(report.schema.as_str(), REPORT_SCHEMA);
    let mut ids = std::collections::HashSet::new();
    for r in &report.results {
        prop_assert_eq!(r.id.get_version_num(), 7, "{}", r.id);
        prop_assert!(ids.insert(r.id), "{} twice", r.id);
        let id = &r.portal.id;
        prop_assert!(
            !id.is_empty()
                && id.len() <= ingest::MAX_ID_BYTES
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "portal id {:?}",
            id
        );
        prop_assert!(r.portal.url.len() <= ingest::MAX_URL_BYTES);
        prop_assert!(r.portal.tags.len() <= ingest::MAX_TAGS);
        let host = &r.observation.host;
        prop_assert!(!host.is_empty() && host.len() <= 253, "host {:?}", host);
    }
    Ok(())
}

/// An accepted report written out is accepted again, unchanged; and the
/// collector's pack judges every result (the rule engine on whatever an
/// agent may claim it observed), and events derive between any two.
fn round_trip(report: &Report) -> Result<(), TestCaseError> {
    check_accepted(report)?;
    let body = serde_json::to_vec(report).unwrap();
    match parse(&body)? {
        Ok(again) => prop_assert_eq!(&again, report),
        Err(r) => return Err(TestCaseError::fail(format!("written out, refused: {r:?}"))),
    }
    let start = Instant::now();
    let judged = ingest::stored_results(report, &PACK, &Catalog::default()).unwrap();
    prop_assert_eq!(judged.len(), report.results.len());
    for pair in judged.windows(2) {
        let _ = ingest::derive_events(&pair[1], Some(&pair[0].verdict));
    }
    let took = start.elapsed();
    prop_assert!(took < CASE_LIMIT, "judging took {took:?}");
    for j in &judged {
        prop_assert!(
            (0..=100).contains(&j.verdict.score),
            "score {}",
            j.verdict.score
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Mutations of the lab report: one value replaced, removed or added, at any
// place of the document.

/// A step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The path as ingest names fields: `results[3].portal.url`.
fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Every path in `v`, the root (empty) first.
fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                at.push(Step::Key(k.clone()));
                paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn get<'a>(v: &'a Value, path: &[Step]) -> &'a Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &v[k.as_str()],
        Step::Index(i) => &v[*i],
    })
}

fn get_mut<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// Whether a refusal's field and the place changed are on one path: the
/// field is the place, inside it, or what holds it (a missing field is
/// named at its object, an internally buffered value at its enum).
fn related(changed: &str, field: &str) -> bool {
    let within = |outer: &str, inner: &str| {
        outer.is_empty()
            || inner == outer
            || (inner.starts_with(outer) && matches!(inner.as_bytes()[outer.len()], b'.' | b'['))
    };
    field == "." || field.contains('?') || within(changed, field) || within(field, changed)
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(prop::sample::Index, Value),
    Remove(prop::sample::Index),
    Insert(prop::sample::Index, String, Value),
}

/// A JSON value of any shape, with strings a report holds (dates, UUIDs,
/// addresses, outcomes) and strings over every length limit.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        // Short decimals: they read back as the same f64.
        (-100_000i64..100_000).prop_map(|n| json!(n as f64 / 100.0)),
        "[ -~]{0,16}".prop_map(Value::String),
        prop::sample::select(vec![
            "ok",
            "error",
            "timeout",
            "ipv6",
            "ipv4",
            "udp",
            "citizen",
            "2026-11-27T04:36:58.625118843Z",
            "2026-11-27T04:36:58+07:00",
            "2999-01-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "01a21b4a-d4e0-7576-9ea4-d3525334d1c0",
            "00000000-0000-4000-8000-000000000000",
            "https://x.gov.vn/",
            "ftp://x.gov.vn/",
            "https://",
            "-bad-",
            "Bad_Id",
            "a.gov.vn",
            "a b.gov.vn",
            "",
            "::1",
            "::ffff:192.0.2.1",
            "127.0.0.1",
            "not an address",
            "v6audit/report/v2",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        // Over the limit of a tag, an id, a name, a URL, any text.
        prop::sample::select(vec![65usize, 129, 513, 2049, MAX_TEXT_BYTES + 1])
            .prop_map(|n| Value::String("a".repeat(n))),
        // A key over its limit, and more tags than a portal may carry.
        Just({
            let mut map = serde_json::Map::new();
            map.insert("k".repeat(ingest::MAX_KEY_BYTES + 1), json!(1));
            Value::Object(map)
        }),
        Just(Value::Array(vec![json!("t"); ingest::MAX_TAGS + 1])),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<prop::sample::Index>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
        2 => (any::<prop::sample::Index>(), "[a-z_]{1,12}", json_value())
            .prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

/// The lab report with only some of its results (fewer bytes per case).
fn seed(picks: &[prop::sample::Index]) -> Value {
    let mut report = LAB_REPORT.clone();
    let all = report["results"].as_array().unwrap().clone();
    let mut chosen: Vec<usize> = picks.iter().map(|p| p.index(all.len())).collect();
    chosen.sort_unstable();
    chosen.dedup();
    report["results"] = Value::Array(chosen.into_iter().map(|i| all[i].clone()).collect());
    report
}

/// Applies the mutation; returns the path it changed.
fn apply(doc: &mut Value, m: &Mutation) -> String {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    match m {
        Mutation::Replace(at, value) => {
            let path = &all[at.index(all.len())];
            *get_mut(doc, path) = value.clone();
            path_text(path)
        }
        Mutation::Remove(at) => {
            // Of what has a parent; the root cannot be removed.
            let path = &all[1 + at.index(all.len() - 1)];
            let (last, parent) = path.split_last().unwrap();
            match (get_mut(doc, parent), last) {
                (Value::Object(map), Step::Key(k)) => {
                    map.remove(k);
                }
                (Value::Array(items), Step::Index(i)) => {
                    items.remove(*i);
                }
                _ => unreachable!("a path's parent holds it"),
            }
            path_text(path)
        }
        Mutation::Insert(at, key, value) => {
            let objects: Vec<&Vec<Step>> = all.iter().filter(|p| get(doc, p).is_object()).collect();
            let path = objects[at.index(objects.len())].clone();
            let Value::Object(map) = get_mut(doc, &path) else {
                unreachable!("chosen among objects")
            };
            map.insert(key.clone(), value.clone());
            let mut inserted = path;
            inserted.push(Step::Key(key.clone()));
            path_text(&inserted)
        }
    }
}

/// Whether a value holds a string over every length limit.
fn holds_long_string(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() > MAX_TEXT_BYTES,
        Value::Array(items) => items.iter().any(holds_long_string),
        Value::Object(map) => map.values().any(holds_long_string),
        _ => false,
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes, up to 4 KiB.
    #[test]
    fn ingest_parse_survives_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..4096)) {
        match parse(&body)? {
            Ok(report) => round_trip(&report)?,
            Err(r) => check_refusal(&r)?,
        }
    }

    /// Any JSON document claiming to be a v1 report.
    #[test]
    fn ingest_parse_survives_json_with_the_schema(mut doc in json_value(), with_schema in any::<bool>()) {
        if with_schema && let Value::Object(map) = &mut doc {
            map.insert("schema".to_owned(), json!(REPORT_SCHEMA));
        }
        let body = serde_json::to_vec(&doc).unwrap();
        match parse(&body)? {
            Ok(report) => round_trip(&report)?,
            Err(r) => check_refusal(&r)?,
        }
    }

    /// Any bytes as a gzip body, or bytes after a valid gzip header: a
    /// refusal (400, or 413 past the limit), or at most the limit inflated,
    /// and no buffer ever asked for beyond it.
    #[test]
    fn gunzip_survives_arbitrary_bytes(
        tail in prop::collection::vec(any::<u8>(), 0..4096),
        header in any::<bool>(),
        limit in prop::sample::select(vec![16usize, 1024, 1 << 20]),
    ) {
        let mut body = if header { vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff] } else { Vec::new() };
        body.extend_from_slice(&tail);
        let mut asked = 0usize;
        let start = Instant::now();
        let result = ingest::gunzip(&body, limit, &mut |n| {
            asked = asked.max(n);
            true
        });
        prop_assert!(start.elapsed() < CASE_LIMIT);
        prop_assert!(asked <= limit, "asked for {asked} of a {limit} limit");
        match result {
            Ok(out) => prop_assert!(out.len() <= limit),
            Err(r) => prop_assert!(matches!((r.status, r.error), (400, "bad_encoding") | (413, "too_large")), "{:?}", r),
        }
    }
}

proptest! {
    // Each case reads a third of the lab report, or inflates megabytes.
    #![proptest_config(config(128))]

    /// The lab report with one value replaced, removed or added anywhere:
    /// refused with a 400 that names the place changed (or a field inside
    /// it, or the object holding it), never repeating an over-long string;
    /// or accepted, and then it reads back the same and can be judged.
    #[test]
    fn ingest_refusal_names_the_changed_field_or_round_trips(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..=3),
        m in mutation(),
    ) {
        let mut doc = seed(&picks);
        let changed = apply(&mut doc, &m);
        let body = serde_json::to_vec(&doc).unwrap();
        match parse(&body)? {
            Ok(report) => round_trip(&report)?,
            Err(r) => {
                check_refusal(&r)?;
                let field = r.field.clone().unwrap_or_default();
                prop_assert!(
                    r.field.is_some() && related(&changed, &field),
                    "changed `{changed}`, refused at {:?}: {}", r.field, r.message
                );
                let value = match &m {
                    Mutation::Replace(_, v) | Mutation::Insert(_, _, v) => Some(v),
                    Mutation::Remove(_) => None,
                };
                if value.is_some_and(holds_long_string) {
                    prop_assert!(
                        !r.message.contains(&"a".repeat(100)),
                        "the refusal repeats the long string: {}", r.message.len()
                    );
                }
            }
        }
    }

    /// The lab report itself, any of its results: accepted, and it reads
    /// back the same.
    #[test]
    fn lab_report_round_trips(picks in prop::collection::vec(any::<prop::sample::Index>(), 1..=4)) {
        let body = serde_json::to_vec(&seed(&picks)).unwrap();
        match parse(&body)? {
            Ok(report) => round_trip(&report)?,
            Err(r) => return Err(TestCaseError::fail(format!("the lab report was refused: {r:?}"))),
        }
    }

    /// A gzip body inflates to exactly what was compressed when it fits the
    /// limit, and is refused with 413 when it does not (a gzip bomb of
    /// zeros too), without a buffer beyond the limit; a memory budget that
    /// says no gives 503 with Retry-After.
    #[test]
    fn gzip_round_trips_within_its_limit(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..4096),
            (0usize..(4 << 20)).prop_map(|n| vec![0u8; n]),
        ],
        limit in prop::sample::select(vec![1024usize, 64 << 10, 1 << 20]),
        budget in prop::option::of(0usize..(2 << 20)),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&data).unwrap();
        let mut body = encoder.finish().unwrap();
        if let Some(cut) = cut {
            body.truncate(cut.index(body.len()));
        }
        let mut asked = 0usize;
        let start = Instant::now();
        let result = ingest::gunzip(&body, limit, &mut |n| {
            asked = asked.max(n);
            budget.is_none_or(|b| n <= b)
        });
        prop_assert!(start.elapsed() < CASE_LIMIT);
        prop_assert!(asked <= limit, "asked for {asked} of a {limit} limit");
        match (result, cut, budget) {
            (Ok(out), None, _) => {
                prop_assert!(data.len() <= limit);
                prop_assert!(out == data, "inflated {} bytes, not the {} compressed", out.len(), data.len());
            }
            (Ok(out), Some(_), _) => prop_assert!(out.len() <= limit && data.starts_with(&out)),
            (Err(r), _, _) if r.status == 413 => {
                prop_assert_eq!(r.error, "too_large");
                prop_assert!(data.len() > limit, "{} bytes refused with a {limit} limit", data.len());
            }
            (Err(r), _, Some(_)) if r.status == 503 => {
                prop_assert_eq!(r.error, "busy");
                prop_assert!(r.retry_after.is_some());
            }
            (Err(r), Some(_), _) => prop_assert_eq!(r.status, 400, "{:?}", r),
            (Err(r), None, _) => return Err(TestCaseError::fail(format!("whole body refused: {r:?}"))),
        }
    }
}
