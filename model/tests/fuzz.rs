//! Fuzzing the inventory parser, on the stable toolchain (proptest). An
//! inventory may come from anyone: a file a user was sent, or an upload to
//! the collector. Whatever its text, `Inventory::parse` must return, quickly,
//! either a compiled inventory whose invariants hold or errors that name the
//! file and a line inside it; a problem in one field names that field's line
//! and path; and a valid inventory reads back the same after being written out.
//!
//! A binary of its own (not part of `tests/inventory.rs`) so that the long
//! run can be asked for alone:
//! `PROPTEST_CASES=200000 cargo test --release -p v6audit-model --test fuzz`.
//! Without `PROPTEST_CASES` each target runs a few hundred cases.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use url::Url;
use v6audit_model::source::yaml_path_at;
use v6audit_model::{Category, Inventory, InventoryError, Stage};

/// The most one case may take; a parser that is quadratic on hostile input
/// shows here long before it hangs an agent.
const CASE_LIMIT: Duration = Duration::from_secs(1);

/// The name errors must carry.
const SOURCE: &str = "fuzz.yaml";

/// Cases per target: `PROPTEST_CASES` when it is set (the long run), else `default`.
fn config(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    config
}

/// An upper bound on the lines of `text` as any YAML reader may count them
/// (`\r`, `\n`, NEL, LS and PS each counted as a break).
fn max_lines(text: &str) -> u64 {
    let breaks = text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    breaks as u64 + 1
}

/// Parses with the clock running.
fn parse(text: &str) -> Result<Result<Inventory, InventoryError>, TestCaseError> {
    let start = Instant::now();
    let result = Inventory::parse(text, SOURCE);
    let took = start.elapsed();
    prop_assert!(
        took < CASE_LIMIT,
        "Inventory::parse took {took:?} on {} bytes",
        text.len()
    );
    Ok(result)
}

/// What a compiled inventory promises, so no later code re-checks it.
fn check_compiled(inv: &Inventory) -> Result<(), TestCaseError> {
    prop_assert_eq!(&inv.source, SOURCE);
    let mut ids = std::collections::HashSet::new();
    for p in &inv.portals {
        prop_assert!(
            !p.id.is_empty()
                && p.id.len() <= 128
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !p.id.starts_with('-')
                && !p.id.ends_with('-'),
            "invalid id {:?} compiled",
            p.id
        );
        prop_assert!(ids.insert(p.id.clone()), "duplicate id {:?} compiled", p.id);
        prop_assert!(matches!(p.url.scheme(), "http" | "https"), "{}", p.url);
        prop_assert!(
            p.host.contains('.') && p.host.len() <= 253 && p.host == p.host.to_ascii_lowercase(),
            "host {:?}",
            p.host
        );
        prop_assert!(!p.ports.is_empty(), "{}: no ports", p.id);
        prop_assert!(p.ports.iter().all(|s| s.port != 0), "{}: port 0", p.id);
        prop_assert!(
            p.ports.iter().any(|s| s.port == p.url_port()),
            "{}: ports {:?} miss the URL's port {}",
            p.id,
            p.ports,
            p.url_port()
        );
    }
    Ok(())
}

/// What every error promises: the file's name, a line inside the file (or
/// 0 when the place is unknown), and a message.
fn check_error(text: &str, e: &InventoryError) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(e, InventoryError::Syntax(_) | InventoryError::Invalid(_)),
        "unexpected error kind: {e}"
    );
    let errors = e.errors();
    prop_assert!(!errors.is_empty(), "an error with no problem listed: {e}");
    let lines = max_lines(text);
    for err in &errors {
        prop_assert_eq!(&err.file, SOURCE);
        prop_assert!(
            err.line <= lines,
            "line {} of a text of at most {lines} lines: {err}",
            err.line
        );
        prop_assert!(!err.message.is_empty(), "empty message: {err:?}");
        prop_assert!(err.to_string().starts_with(SOURCE), "{err}");
    }
    Ok(())
}

/// Parses and checks whichever way it went.
fn parse_and_check(text: &str) -> Result<Option<Inventory>, TestCaseError> {
    match parse(text)? {
        Ok(inv) => {
            check_compiled(&inv)?;
            Ok(Some(inv))
        }
        Err(e) => {
            check_error(text, &e)?;
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------
// Valid inventories, generated, and written out as block YAML the way people
// write them, with the line of every field recorded.

#[derive(Debug, Clone)]
struct GenPortal {
    /// Unique: the index is part of it.
    id: String,
    url: String,
    name: Option<String>,
    agency: Option<String>,
    category: Option<Category>,
    audience: Option<u64>,
    ports: Option<Vec<u16>>,
    tags: Vec<String>,
    target_stage: Option<u8>,
    also_www: Option<bool>,
}

#[derive(Debug, Clone, Default)]
struct GenDefaults {
    category: Option<Category>,
    ports: Option<Vec<u16>>,
    tags: Vec<String>,
    target_stage: Option<u8>,
    also_www: Option<bool>,
}

#[derive(Debug, Clone)]
struct GenCampaign {
    id: String,
    name: Option<String>,
    target_stage: u8,
    deadline: String,
    categories: Vec<Category>,
    tags: Vec<String>,
    /// Indexes into the portals.
    portals: Vec<prop::sample::Index>,
}

#[derive(Debug, Clone)]
struct GenInventory {
    name: Option<String>,
    defaults: GenDefaults,
    portals: Vec<GenPortal>,
    campaigns: Vec<GenCampaign>,
}

/// Free text as people write it in names: Vietnamese, punctuation that
/// means something in YAML, quotes and backslashes.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ạảãàáâậầấẩẫăắằặẳẵđêềếểễệôồốổỗộơờớởỡợưừứửữựĐ:#&*!|>'\"%@`,\\[\\]{}\\\\-]{0,40}"
}

fn category() -> impl Strategy<Value = Category> {
    prop::sample::select(Category::ALL.to_vec())
}

fn tag() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}"
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![Just(80u16), Just(443u16), Just(8443u16), 1u16..=65535]
}

prop_compose! {
    /// A portal URL: http or https, a host of one to three labels under a
    /// real-looking zone, sometimes in capitals, with or without a port and a path.
    fn portal_url()(
        https in any::<bool>(),
        // `xn--` (and any `??--`) starts an A-label, which IDNA checks:
        // ordinary labels here.
        labels in prop::collection::vec(
            "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
                .prop_filter("not an A-label", |l: &String| l.get(2..4) != Some("--")),
            1..=3,
        ),
        zone in prop::sample::select(vec!["gov.vn", "lab.test", "example.gov.vn"]),
        upper in any::<bool>(),
        port in prop::option::of(1u16..=65535),
        path in prop::sample::select(vec!["/", "/dv/", "/index.html", "/a/b?x=1"]),
    ) -> String {
        let mut host = format!("{}.{zone}", labels.join("."));
        if upper {
            host = host.to_ascii_uppercase();
        }
        let scheme = if https { "https" } else { "http" };
        match port {
            Some(p) => format!("{scheme}://{host}:{p}{path}"),
            None => format!("{scheme}://{host}{path}"),
        }
    }
}

prop_compose! {
    fn gen_portal(index: usize)(
        suffix in "(-[a-z0-9]{1,6})?",
        url in portal_url(),
        name in prop::option::of(text()),
        agency in prop::option::of(text()),
        category in prop::option::of(category()),
        audience in prop::option::of(any::<u64>()),
        own_ports in prop::option::of((prop::collection::vec(port(), 0..3), any::<prop::sample::Index>())),
        tags in prop::collection::vec(tag(), 0..3),
        target_stage in prop::option::of(0u8..=4),
        also_www in prop::option::of(any::<bool>()),
    ) -> GenPortal {
        // Own ports must include the URL's port: put it in at some place.
        let ports = own_ports.map(|(mut list, at)| {
            let url_port = Url::parse(&url).unwrap().port_or_known_default().unwrap();
            let at = at.index(list.len() + 1);
            list.insert(at, url_port);
            list
        });
        GenPortal {
            id: format!("p{index}{suffix}"),
            url,
            name,
            agency,
            category,
            audience,
            ports,
            tags,
            target_stage,
            also_www,
        }
    }
}

prop_compose! {
    fn gen_defaults()(
        category in prop::option::of(category()),
        ports in prop::option::of(prop::collection::vec(port(), 1..4)),
        tags in prop::collection::vec(tag(), 0..3),
        target_stage in prop::option::of(0u8..=4),
        also_www in prop::option::of(any::<bool>()),
    ) -> GenDefaults {
        // Each tag once: a default tag written twice is kept twice (own
        // tags are kept once), so it would not read back the same.
        let mut seen = std::collections::HashSet::new();
        let mut tags = tags;
        tags.retain(|t| seen.insert(t.clone()));
        GenDefaults { category, ports, tags, target_stage, also_www }
    }
}

prop_compose! {
    fn gen_campaign(index: usize)(
        name in prop::option::of(text()),
        target_stage in 0u8..=4,
        (year, month, day) in (1990u16..2100, 1u8..=12, 1u8..=28),
        categories in prop::collection::vec(category(), 0..3),
        tags in prop::collection::vec(tag(), 0..2),
        portals in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) -> GenCampaign {
        GenCampaign {
            id: format!("c{index}"),
            name,
            target_stage,
            deadline: format!("{year:04}-{month:02}-{day:02}"),
            categories,
            tags,
            portals,
        }
    }
}

fn gen_inventory() -> impl Strategy<Value = GenInventory> {
    (1usize..=6, 0usize..=2)
        .prop_flat_map(|(n, c)| {
            let portals: Vec<_> = (0..n).map(gen_portal).collect();
            let campaigns: Vec<_> = (0..c).map(gen_campaign).collect();
            (
                prop::option::of(text()),
                prop_oneof![Just(GenDefaults::default()), gen_defaults()],
                portals,
                campaigns,
            )
        })
        .prop_map(|(name, defaults, portals, campaigns)| GenInventory {
            name,
            defaults,
            portals,
            campaigns,
        })
}

/// A YAML double-quoted scalar: a JSON string is one.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn flow<T: ToString>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// Block YAML being written, with the line each portal field lands on.
#[derive(Default)]
struct Writer {
    text: String,
    line: u64,
    /// (portal index, field) -> line, 1-based.
    at: std::collections::HashMap<(usize, String), u64>,
}

impl Writer {
    fn push(&mut self, line: String) {
        self.text.push_str(&line);
        self.text.push('\n');
        self.line += 1;
    }

    fn field(&mut self, portal: usize, field: &str, line: String) {
        self.push(line);
        self.at.insert((portal, field.to_owned()), self.line);
    }
}

/// Writes the inventory; `replace` puts another value text into one
/// field of one portal, `extra` adds a line `key: value` to a portal.
fn write(
    inv: &GenInventory,
    replace: Option<(usize, &str, &str)>,
    extra: Option<(usize, &str)>,
) -> Writer {
    let mut w = Writer::default();
    w.push("# generated by model/tests/fuzz.rs".to_owned());
    w.push("schema: v6audit/inventory/v1".to_owned());
    if let Some(n) = &inv.name {
        w.push(format!("name: {}", quoted(n)));
    }
    let d = &inv.defaults;
    if d.category.is_some()
        || d.ports.is_some()
        || !d.tags.is_empty()
        || d.target_stage.is_some()
        || d.also_www.is_some()
    {
        w.push("defaults:".to_owned());
        if let Some(c) = d.category {
            w.push(format!("  category: {c}"));
        }
        if let Some(p) = &d.ports {
            w.push(format!("  ports: {}", flow(p)));
        }
        if !d.tags.is_empty() {
            w.push("  tags:".to_owned());
            for t in &d.tags {
                w.push(format!("    - {}", quoted(t)));
            }
        }
        if let Some(t) = d.target_stage {
            w.push(format!("  target_stage: {t}"));
        }
        if let Some(b) = d.also_www {
            w.push(format!("  also_www: {b}"));
        }
    }
    w.push("portals:".to_owned());
    for (i, p) in inv.portals.iter().enumerate() {
        let value = |field: &str, own: String| match replace {
            Some((at, f, v)) if at == i && f == field => v.to_owned(),
            _ => own,
        };
        w.field(i, "id", format!("  - id: {}", value("id", quoted(&p.id))));
        w.field(
            i,
            "url",
            format!("    url: {}", value("url", quoted(&p.url))),
        );
        if let Some((at, key)) = extra
            && at == i
        {
            w.field(i, key, format!("    {key}: x"));
        }
        if let Some(n) = &p.name {
            w.push(format!("    name: {}", quoted(n)));
        }
        if let Some(a) = &p.agency {
            w.push(format!("    agency: {}", quoted(a)));
        }
        let category = p.category.map(|c| c.to_string());
        if let Some(c) = category
            .or_else(|| replace.and_then(|r| (r.0 == i && r.1 == "category").then(String::new)))
        {
            w.field(
                i,
                "category",
                format!("    category: {}", value("category", c)),
            );
        }
        if let Some(a) = p.audience {
            w.push(format!("    audience: {a}"));
        }
        let ports = p.ports.as_ref().map(|p| flow(p));
        if let Some(ports) =
            ports.or_else(|| replace.and_then(|r| (r.0 == i && r.1 == "ports").then(String::new)))
        {
            w.field(i, "ports", format!("    ports: {}", value("ports", ports)));
        }
        if !p.tags.is_empty() {
            w.push(format!(
                "    tags: [{}]",
                p.tags
                    .iter()
                    .map(|t| quoted(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let stage = p.target_stage.map(|s| s.to_string());
        if let Some(s) = stage
            .or_else(|| replace.and_then(|r| (r.0 == i && r.1 == "target_stage").then(String::new)))
        {
            w.field(
                i,
                "target_stage",
                format!("    target_stage: {}", value("target_stage", s)),
            );
        }
        if let Some(b) = p.also_www {
            w.push(format!("    also_www: {b}"));
        }
    }
    if !inv.campaigns.is_empty() {
        w.push("campaigns:".to_owned());
        for c in &inv.campaigns {
            w.push(format!("  - id: {}", c.id));
            if let Some(n) = &c.name {
                w.push(format!("    name: {}", quoted(n)));
            }
            w.push(format!("    target_stage: {}", c.target_stage));
            w.push(format!("    deadline: {}", quoted(&c.deadline)));
            let portals: Vec<String> = c
                .portals
                .iter()
                .map(|ix| quoted(&inv.portals[ix.index(inv.portals.len())].id))
                .collect();
            if !c.categories.is_empty() || !c.tags.is_empty() || !portals.is_empty() {
                w.push("    select:".to_owned());
                if !c.categories.is_empty() {
                    w.push(format!("      categories: {}", flow(&c.categories)));
                }
                if !c.tags.is_empty() {
                    w.push(format!(
                        "      tags: [{}]",
                        c.tags
                            .iter()
                            .map(|t| quoted(t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !portals.is_empty() {
                    w.push(format!("      portals: [{}]", portals.join(", ")));
                }
            }
        }
    }
    w
}

/// A compiled inventory written out again, as JSON (which is YAML): every
/// value explicit, so it must compile to the same inventory.
fn rewrite(inv: &Inventory) -> String {
    use serde_json::json;
    let portals: Vec<serde_json::Value> = inv
        .portals
        .iter()
        .map(|p| {
            let mut v = json!({
                "id": p.id,
                "url": p.url.as_str(),
                "category": p.category.as_str(),
                "ports": p.ports.iter().map(|s| s.port).collect::<Vec<_>>(),
                "tags": p.tags,
                "also_www": p.also_www,
            });
            let o = v.as_object_mut().unwrap();
            if let Some(n) = &p.name {
                o.insert("name".into(), n.clone().into());
            }
            if let Some(a) = &p.agency {
                o.insert("agency".into(), a.clone().into());
            }
            if let Some(a) = p.audience {
                o.insert("audience".into(), a.into());
            }
            if let Some(s) = p.target_stage {
                o.insert("target_stage".into(), s.number().into());
            }
            v
        })
        .collect();
    let campaigns: Vec<serde_json::Value> = inv
        .campaigns
        .iter()
        .map(|c| {
            let d = c.deadline;
            let mut v = json!({
                "id": c.id,
                "target_stage": c.target_stage.number(),
                "deadline": format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
                "select": c.select,
            });
            if let Some(n) = &c.name {
                v.as_object_mut()
                    .unwrap()
                    .insert("name".into(), n.clone().into());
            }
            v
        })
        .collect();
    let mut doc = json!({
        "schema": "v6audit/inventory/v1",
        "portals": portals,
        "campaigns": campaigns,
    });
    if let Some(n) = &inv.name {
        doc.as_object_mut()
            .unwrap()
            .insert("name".into(), n.clone().into());
    }
    serde_json::to_string_pretty(&doc).unwrap()
}

// ---------------------------------------------------------------------------
// Random YAML from a small grammar: the inventory's own keys and values
// mixed with YAML's features (anchors, aliases, tags, flow collections,
// block scalars, empty values), so the reading piece by piece that follows a
// shape error (inventory/pieces.rs) is driven through every branch.

#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Self)>),
    Seq(Vec<Self>),
}

const KEYS: &[&str] = &[
    "schema",
    "name",
    "description",
    "defaults",
    "portals",
    "campaigns",
    "id",
    "url",
    "agency",
    "category",
    "audience",
    "ports",
    "tags",
    "target_stage",
    "also_www",
    "deadline",
    "select",
    "categories",
    "agencies",
    "agnecy",
    "\"id\"",
    "'url'",
    "? id",
    "<<",
    "x y",
];

const SCALARS: &[&str] = &[
    "v6audit/inventory/v1",
    "v6audit/inventory/v2",
    "https://a.gov.vn/",
    "http://b.lab.test:8080/x",
    "https://[2001:db8::1]/",
    "ftp://c.gov.vn/",
    "https://dich vu.gov.vn/",
    "https://a%2eb.gov.vn/",
    "https://localhost/",
    "a",
    "dichvucong",
    "Bad_Id",
    "-x",
    "citizen",
    "citizens",
    "internal",
    "0",
    "4",
    "7",
    "-1",
    "65536",
    "1e3",
    "0x1BB",
    "true",
    "yes",
    "~",
    "null",
    "''",
    "\"\"",
    "\"esc \\u0041 \\x\"",
    "'it''s'",
    "[80, 443]",
    "[0]",
    "[]",
    "{}",
    "{a: 1, b: [2]}",
    "[a, {b: c}",
    "&anchor v",
    "*anchor",
    "*nowhere",
    "!!str 5",
    "!!binary aGVsbG8=",
    "!custom x",
    "2026-12-31",
    "2026-02-30",
    "|\n  block\n  text",
    ">-\n  folded",
    "#comment",
    "a: b",
    "- item",
    "%YAML 1.2",
    "---",
    "...",
    "\t",
    "Cổng dịch vụ công",
];

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => prop::sample::select(SCALARS).prop_map(|s| Node::Scalar(s.to_owned())),
        1 => "[ -~]{0,12}".prop_map(Node::Scalar),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..6).prop_map(
                |entries| Node::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                )
            ),
            prop::collection::vec(inner, 0..5).prop_map(Node::Seq),
        ]
    })
}

/// Writes a node in block style at `indent`.
fn render(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Scalar(s) => {
            // A scalar on its own line (a document that is one value).
            out.push_str(&pad);
            out.push_str(s);
            out.push('\n');
        }
        Node::Map(entries) if entries.is_empty() => {
            out.push_str(&pad);
            out.push_str("{}\n");
        }
        Node::Seq(items) if items.is_empty() => {
            out.push_str(&pad);
            out.push_str("[]\n");
        }
        Node::Map(entries) => {
            for (k, v) in entries {
                match v {
                    Node::Scalar(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    Node::Map(e) if e.is_empty() => out.push_str(&format!("{pad}{k}: {{}}\n")),
                    Node::Seq(e) if e.is_empty() => out.push_str(&format!("{pad}{k}: []\n")),
                    _ => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(v, indent + 2, out);
                    }
                }
            }
        }
        Node::Seq(items) => {
            for item in items {
                // The item at two more spaces, its first line's indent
                // turned into the dash.
                let mut inner = String::new();
                render(item, indent + 2, &mut inner);
                let body = inner.get(indent + 2..).unwrap_or("");
                out.push_str(&format!("{pad}- {body}"));
            }
        }
    }
}

prop_compose! {
    /// An inventory-shaped document: usually a schema line and a list of
    /// portals, each a map of random keys and values.
    fn grammar_doc()(
        schema in prop::option::of(prop::sample::select(vec![
            "v6audit/inventory/v1", "v6audit/inventory/v1", "v6audit/inventory/v2", "[x]",
        ])),
        portals in prop::collection::vec(
            prop::collection::vec((prop::sample::select(KEYS), node()), 0..6),
            0..5,
        ),
        extra in prop::collection::vec((prop::sample::select(KEYS), node()), 0..3),
    ) -> String {
        let mut top: Vec<(String, Node)> = Vec::new();
        if let Some(s) = schema {
            top.push(("schema".to_owned(), Node::Scalar(s.to_owned())));
        }
        let portals = portals
            .into_iter()
            .map(|entries| {
                Node::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            })
            .collect();
        top.push(("portals".to_owned(), Node::Seq(portals)));
        top.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let mut out = String::new();
        render(&Node::Map(top), 0, &mut out);
        out
    }
}

/// A change to a valid document that must make it invalid: the field
/// changed, the value written in its place, and the field whose line and
/// path the error must name.
fn bad_value() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        prop::sample::select(vec!["Bad_Id", "-x", "x-", "a b", "", "UPPER", "dịch-vụ"])
            .prop_map(|v| ("id", quoted(v))),
        prop::sample::select(vec![
            "ftp://a.gov.vn/",
            "https://[2001:db8::1]/",
            "https://192.0.2.1/",
            "not a url",
            "https://localhost/",
            "https://u:p@a.gov.vn/",
            "https://a.gov.vn:0/",
            "https://a%2eb.gov.vn/",
            "https://dich vu.gov.vn/",
            "",
        ])
        .prop_map(|v| ("url", quoted(v))),
        prop::sample::select(vec![
            "citizens",
            "Citizen",
            "public",
            "\"\"",
            "1",
            "[citizen]"
        ])
        .prop_map(|v| ("category", v.to_owned())),
        (5u8..=255).prop_map(|n| ("target_stage", n.to_string())),
        prop::sample::select(vec!["high", "[1]", "true", "-1"])
            .prop_map(|v| ("target_stage", v.to_owned())),
        prop::sample::select(vec!["[0]", "[]", "[443, 0]", "[70000]", "80", "[http]"])
            .prop_map(|v| ("ports", v.to_owned())),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Any text at all, up to 4 KiB: a parse that returns, within its time,
    /// with a valid inventory or errors placed inside the text.
    #[test]
    fn inventory_parse_survives_arbitrary_text(
        chars in prop::collection::vec(any::<char>(), 0..1024),
        line in 0u64..64,
    ) {
        let text: String = chars.into_iter().collect();
        parse_and_check(&text)?;
        // The field of an error is found from its line, on any text.
        let _ = yaml_path_at(&text, line);
    }

    /// Any bytes, read the way a file is (lossily here: `read_text` refuses
    /// non-UTF-8 before the parser sees it).
    #[test]
    fn inventory_parse_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        parse_and_check(&String::from_utf8_lossy(&bytes))?;
    }

    /// Random YAML from a grammar of the inventory's keys and YAML's
    /// features: well formed or not, it is read within its time and every
    /// error is placed inside the text, and every line's field can be named.
    #[test]
    fn inventory_parse_survives_yaml_from_a_grammar(doc in grammar_doc()) {
        // At most 4 KiB: a larger document is cut (a cut document is fuzz too).
        let mut end = doc.len().min(4096);
        while !doc.is_char_boundary(end) {
            end -= 1;
        }
        let doc = &doc[..end];
        parse_and_check(doc)?;
        for line in 0..=max_lines(doc) {
            let _ = yaml_path_at(doc, line);
        }
    }

    /// A valid inventory, cut anywhere, has lines removed or doubled, or
    /// its indentation shifted: never a panic; what still compiles has only
    /// portals of the original.
    #[test]
    fn inventory_parse_survives_truncated_and_edited_documents(
        inv in gen_inventory(),
        cut in any::<prop::sample::Index>(),
        edit in 0u8..4,
        line in any::<prop::sample::Index>(),
    ) {
        let text = write(&inv, None, None).text;
        let edited = match edit {
            0 => {
                // Cut at a character boundary.
                let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
                text[..bounds[cut.index(bounds.len())]].to_owned()
            }
            _ => {
                let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                let at = line.index(lines.len());
                match edit {
                    1 => { lines.remove(at); }
                    2 => { let l = lines[at].clone(); lines.insert(at, l); }
                    _ => { lines[at] = format!(" {}", lines[at]); }
                }
                lines.join("\n")
            }
        };
        if let Some(compiled) = parse_and_check(&edited)? {
            for p in &compiled.portals {
                prop_assert!(
                    inv.portals.iter().any(|g| g.id == p.id),
                    "portal {} is not in the original",
                    p.id
                );
            }
        }
    }

    /// One field of one portal of a valid inventory given a bad value: the
    /// inventory is refused, and an error names that field's line and path
    /// (`portals[2].url`), as the fixtures' table promises.
    #[test]
    fn inventory_error_names_the_line_and_field_of_a_bad_value(
        inv in gen_inventory(),
        which in any::<prop::sample::Index>(),
        (field, value) in bad_value(),
    ) {
        // Campaigns select portals by id; a bad id would be named there too.
        let inv = GenInventory { campaigns: Vec::new(), ..inv };
        let i = which.index(inv.portals.len());
        let w = write(&inv, Some((i, field, value.as_str())), None);
        let line = w.at[&(i, field.to_owned())];
        let Err(e) = parse(&w.text)? else {
            return Err(TestCaseError::fail(format!(
                "{field}: {value} was accepted:\n{}", w.text
            )));
        };
        check_error(&w.text, &e)?;
        let path = format!("portals[{i}].{field}");
        prop_assert!(
            e.errors().iter().any(|err| err.line == line && err.field.as_deref() == Some(path.as_str())),
            "no error at line {line} naming {path}:\n{e}\n---\n{}",
            w.text
        );
    }

    /// A misspelt key in a portal: refused, naming the key's line and path.
    #[test]
    fn inventory_error_names_an_unknown_field(
        inv in gen_inventory(),
        which in any::<prop::sample::Index>(),
        key in prop::sample::select(vec!["agnecy", "urls", "Category", "tag", "port", "targetstage"]),
    ) {
        let i = which.index(inv.portals.len());
        let w = write(&inv, None, Some((i, key)));
        let line = w.at[&(i, key.to_owned())];
        let Err(e) = parse(&w.text)? else {
            return Err(TestCaseError::fail(format!("`{key}` was accepted:\n{}", w.text)));
        };
        check_error(&w.text, &e)?;
        let path = format!("portals[{i}].{key}");
        prop_assert!(
            e.errors().iter().any(|err| err.line == line
                && err.field.as_deref() == Some(path.as_str())
                && err.message.contains(&format!("unknown field `{key}`"))),
            "no error at line {line} naming {path}:\n{e}"
        );
    }

    /// A valid inventory compiles, with the defaults applied as documented,
    /// and the compiled inventory written out again compiles to itself.
    #[test]
    fn valid_inventory_round_trips(inv in gen_inventory()) {
        let text = write(&inv, None, None).text;
        let compiled = match parse(&text)? {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{text}"))),
        };
        check_compiled(&compiled)?;
        prop_assert_eq!(compiled.name.as_ref(), inv.name.as_ref());
        prop_assert_eq!(compiled.portals.len(), inv.portals.len());
        let d = &inv.defaults;
        for (g, p) in inv.portals.iter().zip(&compiled.portals) {
            let url = Url::parse(&g.url).unwrap();
            prop_assert_eq!(&p.id, &g.id);
            prop_assert_eq!(&p.url, &url);
            prop_assert_eq!(p.host.as_str(), url.host_str().unwrap());
            prop_assert_eq!(&p.name, &g.name);
            prop_assert_eq!(&p.agency, &g.agency);
            prop_assert_eq!(p.audience, g.audience);
            prop_assert_eq!(
                p.category,
                g.category.or(d.category).unwrap_or(Category::Information)
            );
            prop_assert_eq!(
                p.target_stage,
                g.target_stage.or(d.target_stage).map(|s| Stage::try_from(s).unwrap())
            );
            prop_assert_eq!(p.also_www, g.also_www.or(d.also_www).unwrap_or(true));
            let mut tags = d.tags.clone();
            for t in &g.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            prop_assert_eq!(&p.tags, &tags);
            if let Some(own) = &g.ports {
                let mut want: Vec<u16> = Vec::new();
                for port in own {
                    if !want.contains(port) {
                        want.push(*port);
                    }
                }
                let got: Vec<u16> = p.ports.iter().map(|s| s.port).collect();
                prop_assert_eq!(got, want);
            }
            for s in &p.ports {
                let tls = s.port == 443 || (url.scheme() == "https" && s.port == p.url_port());
                prop_assert_eq!(s.tls, tls, "port {} of {}", s.port, p.url);
            }
        }
        prop_assert_eq!(compiled.campaigns.len(), inv.campaigns.len());
        for (g, c) in inv.campaigns.iter().zip(&compiled.campaigns) {
            prop_assert_eq!(&c.id, &g.id);
            prop_assert_eq!(c.target_stage.number(), g.target_stage);
            let d = c.deadline;
            prop_assert_eq!(
                format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
                g.deadline.clone()
            );
            prop_assert_eq!(&c.select.categories, &g.categories);
        }

        let again = rewrite(&compiled);
        match parse(&again)? {
            Ok(reread) => prop_assert_eq!(reread, compiled, "written out as:\n{}", again),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n---\n{again}"))),
        }
    }
}
