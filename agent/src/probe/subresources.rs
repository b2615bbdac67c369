//! Page probe: what an IPv6-only visitor's browser loads besides the page.
//! The final page fetched over IPv6 is tokenized as HTML (html5gum, a
//! WHATWG tokenizer, not patterns over the text) for the URLs of scripts,
//! styles, images, media, iframes, fonts and form actions; then each other
//! host they name is looked up for AAAA and connected to over IPv6. Bounded:
//! at most [`MAX_URLS`] URLs are kept from a page and [`MAX_HOSTS`] hosts
//! checked, each within the step timeout and the portal's budget, and each
//! host once a run however many portals load from it ([`HostCache`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use html5gum::{DefaultEmitter, Token, Tokenizer};
use url::Url;
use v6audit_model::{AddressLookup, DnsOutcome, Family, SubresourceHost, Subresources, TcpProbe};

use crate::probe::Context;
use crate::probe::shared::Shared;

/// URLs kept from one page.
pub const MAX_URLS: usize = 500;
/// Hosts checked for one page.
pub const MAX_HOSTS: usize = 16;

/// A URL the page loads, and what loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// What loads it: `script`, `style`, `image`, `media`, `iframe`, `form` or `preload`.
    pub kind: &'static str,
    /// The URL, resolved against the page's (or its `<base href>`).
    pub url: Url,
}

/// The kind of resource an element and attribute load, if any.
fn kind_of(tag: &[u8], attr: &[u8], rel: Option<&[u8]>) -> Option<&'static str> {
    match (tag, attr) {
        (b"script", b"src") => Some("script"),
        (b"img" | b"picture" | b"input", b"src") => Some("image"),
        (b"source", b"src" | b"srcset") => Some("media"),
        (b"img", b"srcset") => Some("image"),
        (b"video" | b"audio" | b"track" | b"embed", b"src") => Some("media"),
        (b"video", b"poster") => Some("image"),
        (b"iframe" | b"frame", b"src") => Some("iframe"),
        (b"object", b"data") => Some("media"),
        (b"form", b"action") => Some("form"),
        (b"link", b"href") => {
            let rel = String::from_utf8_lossy(rel?).to_ascii_lowercase();
            let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
            if rels.contains(&"stylesheet") {
                Some("style")
            } else if rels
                .iter()
                .any(|r| matches!(*r, "icon" | "apple-touch-icon"))
            {
                Some("image")
            } else if rels
                .iter()
                .any(|r| matches!(*r, "preload" | "modulepreload"))
            {
                Some("preload")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The resources a page loads, resolved against its URL (a `<base href>`
/// counts), in document order, at most [`MAX_URLS`].
pub fn resources(body: &[u8], page: &Url) -> Vec<Resource> {
    let mut emitter = DefaultEmitter::default();
    // Script and style contents are not markup.
    emitter.naively_switch_states(true);
    let mut base = page.clone();
    let mut out = Vec::new();
    for token in Tokenizer::new_with_emitter(body, emitter) {
        let Ok(Token::StartTag(tag)) = token else {
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
            // A preload says what it loads: as="font", "style", "script"…
            let kind = match (kind, attr("as")) {
                ("preload", Some(b"font")) => "font",
                ("preload", Some(b"style")) => "style",
                ("preload", Some(b"script")) => "script",
                ("preload", Some(b"image")) => "image",
                (k, _) => k,
            };
            let text = String::from_utf8_lossy(&value.value);
            // srcset: "url 1x, url 2x"; every candidate's URL.
            let candidates: Vec<&str> = if key.as_slice() == b"srcset" {
                text.split(',')
                    .filter_map(|c| c.split_ascii_whitespace().next())
                    .collect()
            } else {
                vec![text.trim()]
            };
            for c in candidates {
                if c.is_empty() || c.starts_with("data:") || c.starts_with('#') {
                    continue;
                }
                if let Ok(url) = base.join(c)
                    && matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some()
                {
                    out.push(Resource { kind, url });
                    if out.len() >= MAX_URLS {
                        return out;
                    }
                }
            }
        }
    }
    out
}

/// Checks each host the page loads from, other than the page's own, over IPv6.
pub async fn check(
    ctx: &Context,
    page: &Url,
    found: &[Resource],
    internal: bool,
    deadline: tokio::time::Instant,
) -> Subresources {
    let own = page.host_str().unwrap_or("").to_ascii_lowercase();
    // Host -> (kinds, URL count, port of its first URL).
    let mut hosts: BTreeMap<String, (Vec<String>, usize, u16)> = BTreeMap::new();
    for r in found {
        let Some(host) = r.url.host_str() else {
            continue;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host == own {
            continue;
        }
        let port = r.url.port_or_known_default().unwrap_or(443);
        let entry = hosts.entry(host).or_insert((Vec::new(), 0, port));
        if !entry.0.iter().any(|k| k == r.kind) {
            entry.0.push(r.kind.to_owned());
        }
        entry.1 += 1;
    }
    let truncated = hosts.len() > MAX_HOSTS;
    let checks = hosts
        .into_iter()
        .take(MAX_HOSTS)
        .map(|(host, (kinds, urls, port))| {
            check_host(ctx, host, kinds, urls, port, internal, deadline)
        });
    Subresources {
        page_url: page.to_string(),
        urls: found.len(),
        hosts: futures_util::future::join_all(checks).await,
        truncated,
    }
}

/// A sub-resource host's AAAA lookup and IPv6 connect, by host, port and
/// contact policy: many portals load from the same hosts (a ministry's
/// static server, a font or script CDN), so each is checked once a run.
pub type HostCache = Shared<(String, u16, bool), (AddressLookup, Option<TcpProbe>)>;

async fn check_host(
    ctx: &Context,
    host: String,
    kinds: Vec<String>,
    urls: usize,
    port: u16,
    internal: bool,
    deadline: tokio::time::Instant,
) -> SubresourceHost {
    // A lookup and a connect, on their own step timeouts.
    let own = tokio::time::Instant::now() + ctx.settings.timeout.saturating_mul(2);
    let key = (host.clone(), port, internal);
    let shared = ctx
        .hosts
        .within(
            key,
            || reach_host(ctx, &host, port, internal, own),
            deadline,
        )
        .await;
    let (aaaa, tcp) = match shared {
        Some(found) => found,
        None => (
            AddressLookup {
                outcome: DnsOutcome::Timeout,
                addrs: vec![],
                cname_chain: vec![],
                error: Some("the portal's time budget ran out".to_owned()),
                ms: 0,
            },
            None,
        ),
    };
    SubresourceHost {
        host,
        kinds,
        urls,
        port,
        aaaa,
        tcp,
    }
}

/// The host's AAAA (an address literal needs no lookup) and a connect to its
/// first IPv6 address, where the contact policy allows it.
async fn reach_host(
    ctx: &Context,
    host: &str,
    port: u16,
    internal: bool,
    deadline: tokio::time::Instant,
) -> (AddressLookup, Option<TcpProbe>) {
    // A mapped literal is IPv4 on the wire.
    let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
    let aaaa = match literal {
        Some(ip) => AddressLookup {
            outcome: DnsOutcome::Ok,
            addrs: if Family::of(&ip) == Family::V6 {
                vec![ip]
            } else {
                vec![]
            },
            cname_chain: vec![],
            error: None,
            ms: 0,
        },
        None => {
            match tokio::time::timeout_at(
                ctx.step_deadline(deadline),
                crate::probe::dns::host_addresses(&ctx.dns, host),
            )
            .await
            {
                Ok((_, aaaa)) => aaaa,
                Err(_) => AddressLookup {
                    outcome: DnsOutcome::Timeout,
                    addrs: vec![],
                    cname_chain: vec![],
                    error: Some("no answer within the step timeout".to_owned()),
                    ms: 0,
                },
            }
        }
    };
    let tcp = match aaaa.addrs.iter().find(|a| Family::of(a) == Family::V6) {
        // A page cannot make the agent connect where it may not.
        Some(ip) if let Some(why) = ctx.settings.contact.refuses(*ip, internal) => Some(TcpProbe {
            outcome: v6audit_model::TcpOutcome::NotContacted,
            ms: 0,
            error: Some(why),
        }),
        Some(ip) => Some(
            crate::probe::tcp::connect(
                SocketAddr::new(*ip, port),
                ctx.step_deadline(deadline),
                &ctx.reach,
            )
            .await
            .1,
        ),
        None => None,
    };
    (aaaa, tcp)
}

#[cfg(test)]
mod tests {
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
}
