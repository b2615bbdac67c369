//! The sub-resource probe's tests: a shared host checked once a run, the
//! resources of a page from its markup, the URL bound, and the emitter that
//! keeps only resource tags held to html5gum's default one.

use super::*;

/// Regression (issue "Speed and scale", 2): a host that many portals'
/// pages load from was connected to again for every portal. A run
/// checks it once, even for pages checked at the same moment.
#[tokio::test]
async fn a_host_many_pages_load_from_is_checked_once_a_run() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let ctx = crate::probe::loopback_context(crate::settings::Settings {
        contact: v6audit_rules::ContactPolicy {
            allow: vec!["::1/128".parse().unwrap()],
            private_for_internal: true,
        },
        ..crate::settings::Settings::default()
    });
    let script = Resource {
        kind: "script",
        url: Url::parse(&format!("https://[::1]:{port}/app.js")).unwrap(),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let pages: Vec<Url> = (0..6)
        .map(|i| Url::parse(&format!("https://portal-{i}.gov.vn/")).unwrap())
        .collect();
    let found = std::slice::from_ref(&script);
    let checked = futures_util::future::join_all(
        pages.iter().map(|p| check(&ctx, p, found, false, deadline)),
    )
    .await;
    for s in &checked {
        assert_eq!(s.hosts.len(), 1);
        let tcp = s.hosts[0].tcp.as_ref().unwrap();
        assert_eq!(tcp.outcome, v6audit_model::TcpOutcome::Connected, "{s:?}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn the_resources_of_a_page_come_from_its_markup_not_its_text() {
    let page = Url::parse("https://portal.gov.vn/dir/index.html").unwrap();
    let html = br#"<!doctype html><html><head>
        <base href="https://static.gov.vn/assets/">
        <link rel="stylesheet" href="site.css">
        <link rel="icon" href="//cdn.example.net/favicon.ico">
        <link rel="canonical" href="https://elsewhere.example/">
        <script src="https://cdn.example.net/app.js"></script>
        <script>var s = "<img src='https://not.a.tag/x.png'>"; if (a < b) {}</script>
        <style>body { background: url(https://in.css/bg.png) }</style>
        </head><body>
        <p>Text mentioning https://text.example/ is not a resource.</p>
        <img src="data:image/png;base64,AAAA" alt="">
        <img srcset="https://img.example/a.png 1x, https://img2.example/b.png 2x">
        <iframe src="https://maps.example/embed"></iframe>
        <form action="/search"></form>
        <!-- <script src="https://commented.example/x.js"></script> -->
        </body></html>"#;
    let found: Vec<(String, String)> = resources(html, &page)
        .into_iter()
        .map(|r| (r.kind.to_owned(), r.url.to_string()))
        .collect();
    let want = [
        ("style", "https://static.gov.vn/assets/site.css"),
        ("image", "https://cdn.example.net/favicon.ico"),
        ("script", "https://cdn.example.net/app.js"),
        ("image", "https://img.example/a.png"),
        ("image", "https://img2.example/b.png"),
        ("iframe", "https://maps.example/embed"),
        ("form", "https://static.gov.vn/search"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, u)| ((*k).to_owned(), (*u).to_owned()))
        .collect();
    assert_eq!(found, want);
}

#[test]
fn a_page_is_read_for_at_most_max_urls() {
    let page = Url::parse("https://portal.gov.vn/").unwrap();
    let html = "<img src=\"https://x.example/i.png\">".repeat(MAX_URLS + 50);
    assert_eq!(resources(html.as_bytes(), &page).len(), MAX_URLS);
}

/// The emitter that keeps only resource tags finds what html5gum's
/// default emitter found, on the test pages and on 3,000 documents
/// made of markup pieces (tags of every kind, repeated and upper-case
/// attributes, end tags with attributes, comments, scripts, broken
/// quotes, character references).
#[test]
fn resources_are_what_the_default_emitter_found() {
    /// [`resources`] as it was written with html5gum's default emitter
    /// (the tokenizing; the URLs are read from the tags alike): the
    /// reference the faster one is held to.
    fn resources_by_default_emitter(body: &[u8], page: &Url) -> Vec<Resource> {
        let mut emitter = html5gum::DefaultEmitter::default();
        // Script and style contents are not markup.
        emitter.naively_switch_states(true);
        let mut base = page.clone();
        let mut out = Vec::new();
        for token in Tokenizer::new_with_emitter(body, emitter) {
            let Ok(html5gum::Token::StartTag(tag)) = token else {
                continue;
            };
            let name: &[u8] = &tag.name;
            let attr = |n: &str| {
                tag.attributes
                    .iter()
                    .find(|(k, _)| k.as_slice() == n.as_bytes())
                    .map(|(_, v)| v.value.as_slice())
            };
            if name == b"base" {
                if let Some(href) = attr("href")
                    && let Ok(b) = page.join(String::from_utf8_lossy(href).trim())
                {
                    base = b;
                }
                continue;
            }
            for (key, value) in &tag.attributes {
                let Some(kind) = kind_of(name, key, attr("rel")) else {
                    continue;
                };
                let kind = preloaded(kind, attr("as"));
                if !add_urls(&mut out, &base, kind, key, &value.value) {
                    return out;
                }
            }
        }
        out
    }
    let page = Url::parse("https://portal.gov.vn/a/b.html").unwrap();
    let pieces: &[&str] = &[
        "<img src=x.png>",
        "<IMG SRC=\"/y.png\" src=dup.png>",
        "<img srcset=\"a.png 1x, b.png 2x\">",
        "<script src=//cdn.example.net/a.js></script>",
        "<script>document.write('<img src=no.png>')</script>",
        "<link rel=stylesheet href=s.css>",
        "<link rel=\"preload\" as=font href=f.woff2>",
        "<link href=p.js rel=modulepreload as=script>",
        "<link rel=icon href=i.ico>",
        "<base href=https://static.example/x/>",
        "<a href=not-a-resource.html>",
        "</a href=z.png>",
        "<!-- <img src=c.png> -->",
        "<div>",
        "</div>",
        "text ",
        "&amp;",
        "<img src=\"q.png?a=1&amp;b=2\">",
        "<iframe src=https://maps.example/e>",
        "<form action=/s>",
        "<video poster=v.jpg src=v.mp4>",
        "<object data=o.swf>",
        "<source srcset=\"s1.webp, s2.webp 2x\">",
        "<img src='unclosed",
        "<img src=data:image/png;base64,AA>",
        "<img src=#frag>",
        "<img src=ftp://x/y>",
        "<style>url(<img src=nope.png>)</style>",
        "<input type=image src=btn.png>",
        "<embed src=e.svg>",
        "<p title=\"<img src=t.png>\">",
        "<img\tsrc=tab.png>",
        "<img src = spaced.png >",
        "<img/src=slash.png>",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3_000 {
        let n = 1 + (next() % 12) as usize;
        let doc: String = (0..n)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let fast: Vec<(&str, String)> = resources(doc.as_bytes(), &page)
            .into_iter()
            .map(|r| (r.kind, r.url.to_string()))
            .collect();
        let reference: Vec<(&str, String)> = resources_by_default_emitter(doc.as_bytes(), &page)
            .into_iter()
            .map(|r| (r.kind, r.url.to_string()))
            .collect();
        assert_eq!(fast, reference, "{doc}");
    }
}
