//! Fuzzing what the agent reads from others, through its public API, on the
//! stable toolchain (proptest): the trust-anchor file, the page a portal
//! serves (its resources, its text and title, the similarity of two pages)
//! and the HTTP response head and body it gets back (over an in-memory
//! stream, so hyper parses real bytes). Whatever comes in, each returns
//! within its bounds and in time; well-formed input reads back as written.
//! The agent's private readers (SMTP replies, DNS answers and their TCP
//! framing, DNSSEC answers) are fuzzed in a `mod fuzz` next to them.
//!
//! A binary of its own (not part of `tests/tui.rs`) so that the long run can
//! be asked for alone:
//! `PROPTEST_CASES=200000 cargo test --release -p v6audit-agent --test fuzz`
//! (and `--lib fuzz` for the private readers). Without `PROPTEST_CASES` each
//! target runs a hundred or a few hundred cases.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use url::Url;
use v6audit_agent::anchor::Anchor;
use v6audit_agent::net::Routes;
use v6audit_agent::page_text::{self, Sketch};
use v6audit_agent::probe::subresources::{self, MAX_URLS};
use v6audit_agent::probe::{Context, dns::ZoneCache, http, tls::TlsClient};
use v6audit_agent::resolver::Dns;
use v6audit_agent::{ResolverChoice, Settings};
use v6audit_model::HttpOutcome;

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

// ---------------------------------------------------------------------------
// The trust anchor (`--trust-anchor`): DNSKEY records in zone-file syntax.

const ANCHOR: &str = "anchor.keys";

/// A DNSKEY record as written, or with one part broken.
#[derive(Debug, Clone)]
struct KeyLine {
    owner: String,
    /// TTL and class, as they may be written before the type.
    before_type: &'static str,
    rtype: &'static str,
    flags: String,
    protocol: String,
    algorithm: String,
    /// The key in base64, cut into chunks.
    key: Vec<String>,
    comment: bool,
}

impl KeyLine {
    fn text(&self) -> String {
        let mut line = format!(
            "{} {}{} {} {} {} {}",
            self.owner,
            self.before_type,
            self.rtype,
            self.flags,
            self.protocol,
            self.algorithm,
            self.key.join(" ")
        );
        if self.comment {
            line.push_str(" ; KSK");
        }
        line
    }
}

prop_compose! {
    fn key_line()(
        labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 0..4),
        upper in any::<bool>(),
        dot in prop::bool::weighted(0.8),
        before_type in prop::sample::select(vec!["3600 IN ", "IN ", "", "86400 ", "3600 in "]),
        rtype in prop::sample::select(vec!["DNSKEY", "dnskey", "DnsKey"]),
        flags in prop_oneof![Just(257u16), Just(256u16), any::<u16>()],
        algorithm in prop_oneof![Just(8u8), Just(13u8), Just(15u8), any::<u8>()],
        key in prop::collection::vec(any::<u8>(), 1..96),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        comment in any::<bool>(),
    ) -> KeyLine {
        let mut owner = if labels.is_empty() { String::new() } else { labels.join(".") };
        if upper {
            owner = owner.to_ascii_uppercase();
        }
        if dot || owner.is_empty() {
            owner.push('.');
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&key);
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(b64.len())).collect();
        at.sort_unstable();
        at.dedup();
        let mut chunks = Vec::new();
        let mut from = 0;
        for cut in at {
            if cut > from {
                chunks.push(b64[from..cut].to_owned());
                from = cut;
            }
        }
        chunks.push(b64[from..].to_owned());
        KeyLine {
            owner,
            before_type,
            rtype,
            flags: flags.to_string(),
            protocol: "3".to_owned(),
            algorithm: algorithm.to_string(),
            key: chunks,
            comment,
        }
    }
}

/// Breaks one part of a record; the error must name its line.
fn break_line(line: &mut KeyLine, how: u8) {
    match how {
        0 => line.rtype = "DS",
        1 => line.flags = "x257".to_owned(),
        2 => line.flags = "70000".to_owned(),
        3 => line.protocol = "4".to_owned(),
        4 => line.algorithm = "300".to_owned(),
        5 => line.key = vec!["!!!!".to_owned()],
        6 => line.key = Vec::new(),
        7 => line.owner = format!("{}.gov.vn.", "a".repeat(64)),
        _ => {
            line.algorithm = String::new();
            line.key = Vec::new();
        }
    }
}

/// Zones as `Anchor::zones_text` lists them: lower case, no final dot,
/// each once, longest first (in file order among equals), the root as `.`.
fn zones_text(owners: &[&str]) -> String {
    let mut zones: Vec<String> = Vec::new();
    for o in owners {
        let z = o.trim_end_matches('.').to_ascii_lowercase();
        if !zones.contains(&z) {
            zones.push(z);
        }
    }
    zones.sort_by_key(|z| std::cmp::Reverse(z.len()));
    zones
        .iter()
        .map(|z| if z.is_empty() { "." } else { z.as_str() })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Pages: the resources they load, built from elements whose expected
// resources are known.

const PAGE: &str = "https://portal.gov.vn/dir/index.html";
const KINDS: &[&str] = &[
    "script", "image", "media", "iframe", "form", "style", "preload", "font",
];

/// A URL as pages write them: absolute, scheme-relative, rooted, relative,
/// or one that loads nothing over HTTP.
fn page_url() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ("[a-z]{1,6}", "[a-z0-9/._-]{0,12}")
            .prop_map(|(h, p)| format!("https://{h}.example/{p}")),
        1 => ("[a-z]{1,6}", "[a-z0-9/._-]{0,12}").prop_map(|(h, p)| format!("http://{h}.example.vn:8080/{p}")),
        1 => "[a-z]{1,6}".prop_map(|h| format!("//cdn-{h}.example/x.js")),
        1 => "[a-z0-9._-]{1,12}".prop_map(|p| format!("/{p}")),
        1 => "[a-z0-9_-]{1,12}".prop_map(|p| format!("{p}.css")),
        1 => prop::sample::select(vec![
            "javascript:alert(1)", "mailto:a@b.vn", "data:image/png;base64,AAAA", "#top",
            "", "  ", "ftp://files.example/x", "https://[2001:db8::1]/x.png",
            " https://padded.example/x ",
        ]).prop_map(str::to_owned),
    ]
}

/// One element of a page: its markup, and the attributes that name
/// resources, as (attribute, kind, URL) in the order the scanner meets them.
#[derive(Debug, Clone)]
struct Element {
    html: String,
    loads: Vec<(&'static str, Vec<String>)>,
}

fn element() -> impl Strategy<Value = Element> {
    let single = |tag: &'static str, attr: &'static str, kind: &'static str| {
        (page_url(), any::<bool>()).prop_map(move |(u, upper)| {
            let (t, a) = if upper {
                (tag.to_ascii_uppercase(), attr.to_ascii_uppercase())
            } else {
                (tag.to_owned(), attr.to_owned())
            };
            let close = if matches!(
                tag,
                "script" | "iframe" | "form" | "video" | "audio" | "object"
            ) {
                format!("</{t}>")
            } else {
                String::new()
            };
            Element {
                html: format!("<{t} {a}=\"{u}\">{close}"),
                loads: vec![(kind, vec![u])],
            }
        })
    };
    prop_oneof![
        single("script", "src", "script"),
        single("img", "src", "image"),
        single("input", "src", "image"),
        single("iframe", "src", "iframe"),
        single("frame", "src", "iframe"),
        single("form", "action", "form"),
        single("audio", "src", "media"),
        single("embed", "src", "media"),
        single("track", "src", "media"),
        single("object", "data", "media"),
        single("source", "src", "media"),
        // srcset: every candidate's URL; on img the src comes first (the
        // scanner meets attributes in name order).
        (
            page_url(),
            prop::collection::vec(
                (
                    "[a-z]{1,6}",
                    prop::sample::select(vec!["1x", "2x", "480w", ""])
                ),
                1..4
            )
        )
            .prop_map(|(src, cands)| {
                let urls: Vec<String> = cands
                    .iter()
                    .map(|(h, _)| format!("https://{h}.img.example/i.png"))
                    .collect();
                let srcset = urls
                    .iter()
                    .zip(&cands)
                    .map(|(u, (_, d))| format!("{u} {d}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                Element {
                    html: format!("<img srcset=\"{srcset}\" src=\"{src}\" alt=\"\">"),
                    loads: vec![("image", vec![src]), ("image", urls)],
                }
            }),
        (page_url(), page_url()).prop_map(|(poster, src)| Element {
            html: format!("<video src=\"{src}\" poster=\"{poster}\"></video>"),
            loads: vec![("image", vec![poster]), ("media", vec![src])],
        }),
        (
            page_url(),
            prop::sample::select(vec![
                ("stylesheet", None, Some("style")),
                ("StyleSheet", None, Some("style")),
                ("icon", None, Some("image")),
                ("shortcut icon", None, Some("image")),
                ("apple-touch-icon", None, Some("image")),
                ("preload", Some("font"), Some("font")),
                ("preload", Some("style"), Some("style")),
                ("preload", Some("script"), Some("script")),
                ("preload", Some("image"), Some("image")),
                ("preload", Some("fetch"), Some("preload")),
                ("modulepreload", None, Some("preload")),
                ("canonical", None, None),
                ("alternate", None, None),
            ]),
        )
            .prop_map(|(href, (rel, r#as, kind))| {
                let as_attr = r#as.map(|a| format!(" as=\"{a}\"")).unwrap_or_default();
                Element {
                    html: format!("<link rel=\"{rel}\"{as_attr} href=\"{href}\">"),
                    loads: kind.map(|k| vec![(k, vec![href])]).unwrap_or_default(),
                }
            }),
        // Markup that loads nothing.
        prop::sample::select(vec![
            "<p>",
            "</p>",
            "<br/>",
            "<div class=\"a b\">",
            "</div>",
            "<a href=\"https://link.example/\">x</a>",
            "<script>var s = \"<img src='https://not.a.tag/x.png'>\";</script>",
            "<style>body { background: url(https://in.css/bg.png) }</style>",
            "<!-- <script src=\"https://commented.example/x.js\"></script> -->",
            "text https://text.example/ more",
            "<img alt=\"no source\">",
        ])
        .prop_map(|h| Element {
            html: h.to_owned(),
            loads: Vec::new()
        }),
    ]
}

/// What the scanner should find: each URL resolved against the base, if
/// it is an http(s) URL with a host, skipping empty, `data:` and `#` ones.
fn expected(elements: &[Element], base: &Url) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in elements {
        for (kind, urls) in &e.loads {
            for u in urls {
                let u = u.trim();
                if u.is_empty() || u.starts_with("data:") || u.starts_with('#') {
                    continue;
                }
                if let Ok(url) = base.join(u)
                    && matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some()
                {
                    out.push(((*kind).to_owned(), url.to_string()));
                }
            }
        }
    }
    out
}

/// What any scan promises.
fn check_resources(found: &[subresources::Resource]) -> Result<(), TestCaseError> {
    prop_assert!(found.len() <= MAX_URLS);
    for r in found {
        prop_assert!(KINDS.contains(&r.kind), "kind {}", r.kind);
        prop_assert!(matches!(r.url.scheme(), "http" | "https"), "{}", r.url);
        prop_assert!(r.url.host_str().is_some(), "{}", r.url);
    }
    Ok(())
}

/// Tokens HTML is made of, for pages that are markup but not well formed.
const HTML_TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "<!--",
    "-->",
    "<!doctype html>",
    "<script",
    "</script>",
    "<style",
    "</style>",
    "<img",
    "<link",
    "<base",
    "<iframe",
    "<source",
    "<video",
    "<form",
    " src=",
    " srcset=",
    " href=",
    " rel=",
    " as=",
    " poster=",
    " action=",
    " data=",
    "\"",
    "'",
    "=",
    "stylesheet",
    "preload",
    "font",
    "icon",
    "https://a.example/",
    "//b.example/",
    "/c",
    "data:",
    "#",
    ",",
    " 1x",
    " ",
    "\n",
    "&amp;",
    "&#",
    "&#x",
    ";",
    "\0",
    "\u{feff}",
    "ạ",
    "<![CDATA[",
    "]]>",
    "<textarea>",
    "<title>",
    "<plaintext>",
    "<noscript>",
    "<template>",
];

// ---------------------------------------------------------------------------
// Page text: documents built from visible words and markup that hides text.

#[derive(Debug, Clone)]
enum Piece {
    Word(String),
    Markup(String),
    Hidden(&'static str, String),
    Comment(String),
    /// An entity and what it decodes to.
    Entity(&'static str, &'static str),
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9ạảãàáâậầấẩẫăắằặẳẵđêềếểễệôồốổỗộơờớởỡợưừứửữựĐÂĂÊÔƠƯỊ]{1,10}"
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => word().prop_map(Piece::Word),
        2 => prop::sample::select(vec![
            "<p>", "</p>", "<br/>", "<B>", "</b>", "<div class=\"x y\">", "</DIV>",
            "<a href=\"/x?y=1\">", "</a>", "<img src=x alt='a b'>", "<td>", "<!doctype html>",
        ]).prop_map(|m| Piece::Markup(m.to_owned())),
        1 => (
            prop::sample::select(vec!["script", "style", "noscript", "template", "SCRIPT", "Style"]),
            "[a-z0-9 <>=;'(){}\"]{0,30}",
        ).prop_map(|(t, junk)| Piece::Hidden(t, junk)),
        // A comment that starts with `>` is closed at once (`<!-->`, WHATWG
        // "abrupt closing of empty comment"), so its text is page text:
        // the generator keeps comments that are comments.
        1 => "[a-z0-9 =;'(){}][a-z0-9 <>=;'(){}]{0,29}".prop_map(Piece::Comment),
        1 => prop::sample::select(vec![
            ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"),
            ("&apos;", "'"), ("&#x41;", "A"), ("&#X42;", "B"), ("&#7883;", "ị"), ("&#65;", "A"),
        ]).prop_map(|(e, d)| Piece::Entity(e, d)),
    ]
}

/// The word 3-shingles of a normalised text, as `Sketch` takes them.
fn shingles(text: &str) -> HashSet<String> {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    match words.len() {
        0 => HashSet::new(),
        1 | 2 => HashSet::from([words.join("\u{1}")]),
        _ => words.windows(3).map(|w| w.join("\u{1}")).collect(),
    }
}

// ---------------------------------------------------------------------------
// HTTP: a response written by a fake server into an in-memory stream.

thread_local! {
    /// A runtime and a probe context per test thread (the DNS and TLS
    /// parts are never used: the exchange runs over the stream). Leaked:
    /// a runtime dropped in a thread-local destructor may find tokio's own
    /// thread-locals gone.
    static HARNESS: &'static (tokio::runtime::Runtime, Context) = Box::leak(Box::new({
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ctx = rt.block_on(async {
            let settings = Settings {
                body_cap: BODY_CAP,
                header_cap: 16 << 10,
                ..Settings::default()
            };
            Context {
                dns: Dns::new(
                    &ResolverChoice::At("[::1]:9".parse().unwrap()),
                    Duration::from_secs(1),
                )
                .unwrap(),
                tls: TlsClient::new(None).unwrap(),
                reach: Routes::default(),
                zones: ZoneCache::default(),
                mail: Default::default(),
                hosts: Default::default(),
                pinger: Default::default(),
                settings,
            }
        });
        (rt, ctx)
    }));
}

/// The body cap of the fuzzed exchanges: small, so bodies cross it.
const BODY_CAP: usize = 1024;

/// Kept headers (besides content-length, which framing sets).
const KEPT: &[&str] = &[
    "location",
    "server",
    "content-type",
    "strict-transport-security",
    "alt-svc",
];

/// Reads the request head, answers with `response`, and closes its side.
async fn serve(mut server: DuplexStream, response: Vec<u8>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match server.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = server.write_all(&response).await;
    let _ = server.shutdown().await;
    while let Ok(n) = server.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// One GET answered with `response`, and how long it took.
fn exchange(response: Vec<u8>) -> (http::PageResponse, Duration) {
    let (rt, ctx) = HARNESS.with(|h| *h);
    rt.block_on(async {
        let (client, server) = tokio::io::duplex(64 << 10);
        let served = tokio::spawn(serve(server, response));
        let url = Url::parse("https://portal.gov.vn/dv/").unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let start = Instant::now();
        let fetched = http::exchange(ctx, client, &url, deadline).await;
        let took = start.elapsed();
        let _ = tokio::time::timeout(Duration::from_secs(1), served).await;
        (fetched, took)
    })
}

/// What any exchange promises.
fn check_fetched(f: &http::PageResponse, took: Duration) -> Result<(), TestCaseError> {
    let x = &f.exchange;
    prop_assert!(
        took < CASE_LIMIT,
        "the exchange took {took:?}: {:?}",
        x.outcome
    );
    for (name, value) in &x.headers {
        prop_assert!(
            KEPT.contains(&name.as_str()) || name == "content-length",
            "{name} kept"
        );
        prop_assert!(
            value.chars().count() <= 512,
            "{name}: {} chars",
            value.chars().count()
        );
    }
    prop_assert!(x.body_bytes as usize <= BODY_CAP);
    if x.body_truncated {
        prop_assert_eq!(x.body_bytes as usize, BODY_CAP);
    }
    prop_assert_eq!(x.status.is_some(), x.text_sha256.is_some());
    prop_assert_eq!(x.status.is_some(), f.sketch.is_some());
    if x.status.is_none() {
        prop_assert!(
            !matches!(x.outcome, HttpOutcome::Ok | HttpOutcome::BodyTimeout),
            "{:?} without a status",
            x.outcome
        );
    }
    if let Some(t) = &x.title {
        prop_assert!(!t.is_empty() && t.chars().count() <= 200);
    }
    check_resources(&f.resources)?;
    Ok(())
}

#[derive(Debug, Clone)]
enum Framing {
    Length,
    Chunked(Vec<prop::sample::Index>),
    Close,
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[!-~]([ -~]{0,40}[!-~])?",
        1 => (600usize..700).prop_map(|n| format!("v{}", "x".repeat(n))),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Any text as a trust-anchor file: a parsed anchor, or an error that
    /// names the file, and the line when a record is at fault.
    #[test]
    fn anchor_parse_survives_arbitrary_text(chars in prop::collection::vec(any::<char>(), 0..1024)) {
        let text: String = chars.into_iter().collect();
        let start = Instant::now();
        let result = Anchor::parse(&text, ANCHOR);
        prop_assert!(start.elapsed() < CASE_LIMIT);
        match result {
            Ok(anchor) => {
                prop_assert_eq!(anchor.source.as_str(), ANCHOR);
                prop_assert!(!anchor.zones_text().is_empty());
            }
            Err(e) => {
                let rest = e.strip_prefix(&format!("{ANCHOR}:")).unwrap_or_default();
                prop_assert!(!rest.is_empty(), "{e}");
                if let Some((n, _)) = rest.split_once(": ") && let Ok(n) = n.parse::<usize>() {
                    prop_assert!((1..=text.lines().count()).contains(&n), "line {n}: {e}");
                }
            }
        }
    }

    /// Records as `dig DNSKEY` prints them (TTL and class or not, the key
    /// cut into chunks, comments, blank lines, CRLF): the anchor lists every
    /// zone; one record broken anywhere names its own line.
    #[test]
    fn anchor_round_trips_or_names_the_bad_line(
        mut lines in prop::collection::vec(key_line(), 1..6),
        noise in prop::collection::vec(prop::sample::select(vec!["", "; a comment", "   ", ";; keys of gov.vn"]), 0..4),
        crlf in any::<bool>(),
        broken in prop::option::of((any::<prop::sample::Index>(), 0u8..9)),
    ) {
        let owners: Vec<String> = lines.iter().map(|l| l.owner.clone()).collect();
        if let Some((at, how)) = broken {
            let i = at.index(lines.len());
            break_line(&mut lines[i], how);
        }
        // Noise first, then the records: the record at index i is on line
        // noise.len() + i + 1.
        let mut text_lines: Vec<String> = noise.iter().map(|n| (*n).to_owned()).collect();
        text_lines.extend(lines.iter().map(KeyLine::text));
        let end = if crlf { "\r\n" } else { "\n" };
        let text = text_lines.join(end) + end;
        let result = Anchor::parse(&text, ANCHOR);
        match broken {
            None => {
                let anchor = result.map_err(|e| TestCaseError::fail(format!("{e}\n---\n{text}")))?;
                let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
                prop_assert_eq!(anchor.zones_text(), zones_text(&owners));
            }
            Some((at, _)) => {
                let line = noise.len() + at.index(lines.len()) + 1;
                let Err(e) = result else {
                    return Err(TestCaseError::fail(format!("accepted:\n{text}")));
                };
                // Every other record is valid: the first error is this one's.
                prop_assert!(e.starts_with(&format!("{ANCHOR}:{line}: ")), "{e}\n---\n{text}");
            }
        }
    }

    /// Any bytes as a page: the resources found are bounded, of a known
    /// kind, http(s) with a host.
    #[test]
    fn page_resources_survive_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..4096)) {
        let start = Instant::now();
        let found = subresources::resources(&body, &Url::parse(PAGE).unwrap());
        prop_assert!(start.elapsed() < CASE_LIMIT);
        check_resources(&found)?;
    }

    /// Pages of HTML's tokens in any order (tags left open, attributes
    /// without values, comments and CDATA never closed).
    #[test]
    fn page_resources_survive_markup_from_a_grammar(
        tokens in prop::collection::vec(prop::sample::select(HTML_TOKENS), 0..300),
    ) {
        let body: String = tokens.concat();
        let start = Instant::now();
        let found = subresources::resources(body.as_bytes(), &Url::parse(PAGE).unwrap());
        prop_assert!(start.elapsed() < CASE_LIMIT);
        check_resources(&found)?;
        // The same markup as page text: words separated by single spaces.
        let page = page_text::page_text(body.as_bytes());
        prop_assert!(
            page.text.is_empty() || page.text.split(' ').all(|w| !w.is_empty()),
            "{:?}",
            page.text
        );
    }

    /// A page built of elements with known resources, maybe under a
    /// `<base href>`: exactly those resources, resolved, in document order.
    #[test]
    fn page_resources_round_trip(
        elements in prop::collection::vec(element(), 0..30),
        base in prop::option::of(prop::sample::select(vec![
            "https://static.gov.vn/assets/", "/other/", "//cdn.gov.vn/", "sub/",
        ])),
        filler in prop::collection::vec("[a-zA-Z0-9 .,]{0,12}", 0..30),
    ) {
        let page = Url::parse(PAGE).unwrap();
        let mut html = String::from("<!doctype html><html><head>");
        let mut resolve = page.clone();
        if let Some(b) = base {
            html.push_str(&format!("<base href=\"{b}\">"));
            resolve = page.join(b).unwrap();
        }
        html.push_str("</head><body>");
        for (i, e) in elements.iter().enumerate() {
            html.push_str(&e.html);
            if let Some(f) = filler.get(i) {
                html.push_str(f);
            }
        }
        html.push_str("</body></html>");
        let found: Vec<(String, String)> = subresources::resources(html.as_bytes(), &page)
            .into_iter()
            .map(|r| (r.kind.to_owned(), r.url.to_string()))
            .collect();
        prop_assert_eq!(found, expected(&elements, &resolve), "{}", html);
    }

    /// Any bytes as a page: its text is words separated by single spaces,
    /// its title short and trimmed.
    #[test]
    fn page_text_survives_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..4096)) {
        let start = Instant::now();
        let page = page_text::page_text(&body);
        let sketch = Sketch::of(&page.text);
        prop_assert!(start.elapsed() < CASE_LIMIT);
        if !page.text.is_empty() {
            prop_assert!(
                page.text.split(' ').all(|w| !w.is_empty() && !w.contains(char::is_whitespace)),
                "{:?}",
                page.text
            );
        }
        if let Some(t) = &page.title {
            prop_assert!(!t.is_empty() && t.chars().count() <= 200 && !t.starts_with(' '));
            prop_assert!(!t.contains("  "), "{t:?}");
        }
        prop_assert_eq!(sketch.similarity(&sketch), 1.0);
    }

    /// A document of words, markup, hidden elements, comments and entities:
    /// its text is exactly the visible words, decoded, in lower case; its
    /// title exactly the title's words.
    #[test]
    fn page_text_round_trips(
        title in prop::option::of(prop::collection::vec(word(), 1..6)),
        pieces in prop::collection::vec(piece(), 0..60),
    ) {
        let mut html = String::new();
        let mut visible: Vec<String> = Vec::new();
        if let Some(t) = &title {
            html.push_str(&format!("<html><head><TITLE> {} </title></head> ", t.join("  ")));
            visible.extend(t.iter().cloned());
        }
        for p in &pieces {
            match p {
                Piece::Word(w) => {
                    html.push_str(w);
                    visible.push(w.clone());
                }
                Piece::Markup(m) => html.push_str(m),
                Piece::Hidden(tag, junk) => html.push_str(&format!("<{tag} type=\"x\">{junk}</{tag}>")),
                Piece::Comment(c) => html.push_str(&format!("<!--{c}-->")),
                Piece::Entity(e, d) => {
                    html.push_str(e);
                    visible.push((*d).to_owned());
                }
            }
            html.push(' ');
        }
        let page = page_text::page_text(html.as_bytes());
        prop_assert_eq!(&page.text, &visible.join(" ").to_lowercase(), "{}", html);
        let want_title = title.map(|t| t.join(" ").chars().take(200).collect::<String>());
        prop_assert_eq!(page.title, want_title, "{}", html);
    }

    /// Similarity is 1 for a page and itself, symmetric, within 0..=1, and
    /// exactly the Jaccard similarity of the shingles of two small pages.
    #[test]
    fn page_similarity_is_exact_on_small_pages(
        a in prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d", "e", "ngày", "12:00"]), 0..200),
        b in prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d", "e", "ngày", "12:01"]), 0..200),
    ) {
        let (a, b) = (a.join(" "), b.join(" "));
        let s = page_text::similarity(&a, &b);
        prop_assert_eq!(s, page_text::similarity(&b, &a));
        prop_assert!((0.0..=1.0).contains(&s), "{s}");
        prop_assert_eq!(page_text::similarity(&a, &a), 1.0);
        let (x, y) = (shingles(&a), shingles(&b));
        let exact = if x.is_empty() && y.is_empty() {
            1.0
        } else {
            x.intersection(&y).count() as f64 / x.union(&y).count() as f64
        };
        prop_assert_eq!(s, exact, "{:?} / {:?}", a, b);
    }
}

proptest! {
    // Each case is an HTTP exchange through hyper.
    #![proptest_config(config(128))]

    /// Any bytes as the response: the exchange ends in time, keeps only
    /// the headers it keeps, at most 512 characters of each, at most the
    /// body cap.
    #[test]
    fn http_exchange_survives_arbitrary_responses(
        response in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..6000),
            (prop::sample::select(vec!["HTTP/1.1 200 OK\r\n", "HTTP/1.1 301 Moved\r\n", "HTTP/1.0 200\r\n", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 999 x\r\n", "HTTP/2 200\r\n"]),
             prop::collection::vec(any::<u8>(), 0..6000))
                .prop_map(|(head, rest)| [head.as_bytes(), rest.as_slice()].concat()),
        ],
    ) {
        let (fetched, took) = exchange(response);
        check_fetched(&fetched, took)?;
    }

    /// A well-formed response (any status with a body, kept and other
    /// headers in any case, values up to and over 512 characters, framed by
    /// length, chunks or the close): its status, its kept headers (cut at
    /// 512 characters), its body up to the cap, the hash of the text of
    /// exactly those bytes, and a redirect's Location.
    #[test]
    fn http_exchange_round_trips(
        status in prop::sample::select(vec![200u16, 201, 203, 301, 302, 303, 307, 308, 400, 403, 404, 418, 500, 503]),
        reason in prop::sample::select(vec!["OK", "", "Moved Permanently", "Tạm thời"]),
        headers in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "Location", "server", "Content-Type", "STRICT-TRANSPORT-SECURITY", "alt-svc",
                    "X-Powered-By", "Set-Cookie", "Cache-Control", "Via",
                ]),
                header_value(),
            ),
            0..8,
        ),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..3000),
            ("[a-zA-Z ]{0,40}", "[a-zA-Z ]{0,400}")
                .prop_map(|(t, b)| format!("<html><title>{t}</title><p>{b}</p><img src=\"https://i.example/x.png\">").into_bytes()),
        ],
        framing in prop_oneof![
            Just(Framing::Length),
            prop::collection::vec(any::<prop::sample::Index>(), 0..6).prop_map(Framing::Chunked),
            Just(Framing::Close),
        ],
    ) {
        let mut kept: BTreeMap<String, String> = BTreeMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut head = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        for (name, value) in &headers {
            let lower = name.to_ascii_lowercase();
            if !seen.insert(lower.clone()) {
                continue;
            }
            head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            if KEPT.contains(&lower.as_str()) {
                kept.insert(lower, value.chars().take(512).collect());
            }
        }
        let mut payload = Vec::new();
        match &framing {
            Framing::Length => {
                head.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                kept.insert("content-length".to_owned(), body.len().to_string());
                payload.extend_from_slice(&body);
            }
            Framing::Chunked(cuts) => {
                head.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
                at.push(body.len());
                at.sort_unstable();
                let mut from = 0;
                for cut in at {
                    if cut > from {
                        payload.extend_from_slice(format!("{:x}\r\n", cut - from).as_bytes());
                        payload.extend_from_slice(&body[from..cut]);
                        payload.extend_from_slice(b"\r\n");
                        from = cut;
                    }
                }
                payload.extend_from_slice(b"0\r\n\r\n");
            }
            Framing::Close => {
                head.extend_from_slice(b"Connection: close\r\n\r\n");
                payload.extend_from_slice(&body);
            }
        }
        head.extend_from_slice(&payload);
        let (fetched, took) = exchange(head);
        check_fetched(&fetched, took)?;
        let x = &fetched.exchange;
        prop_assert_eq!(x.outcome, HttpOutcome::Ok, "{:?}", x.error);
        prop_assert_eq!(x.status, Some(status));
        prop_assert_eq!(&x.headers, &kept);
        let read = body.len().min(BODY_CAP);
        prop_assert_eq!(x.body_bytes as usize, read);
        prop_assert_eq!(x.body_truncated, body.len() > BODY_CAP);
        let page = page_text::page_text(&body[..read]);
        let sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, page.text.as_bytes());
        prop_assert_eq!(x.text_sha256.clone(), Some(v6audit_agent::probe::tls::hex(sha.as_ref())));
        prop_assert_eq!(&x.title, &page.title);
        let location = kept.get("location").map(String::as_str);
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
        prop_assert_eq!(x.redirect_location(), if redirect { location } else { None });
    }
}
