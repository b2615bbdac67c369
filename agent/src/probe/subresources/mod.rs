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

use html5gum::emitters::callback::{Callback, CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};
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

/// Whether a start tag of this name can load a resource (or is `<base>`):
/// the tags [`kind_of`] knows.
fn may_load(tag: &[u8]) -> bool {
    matches!(
        tag,
        b"script"
            | b"img"
            | b"picture"
            | b"input"
            | b"source"
            | b"video"
            | b"audio"
            | b"track"
            | b"embed"
            | b"iframe"
            | b"frame"
            | b"object"
            | b"form"
            | b"link"
            | b"base"
    )
}

/// A start tag that may load a resource: its name and its attributes,
/// sorted by name, the first of a repeated name kept (as WHATWG says and
/// html5gum's own emitter does).
struct StartTag {
    name: Vec<u8>,
    attributes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The tokenizer's events, of which only the start tags that may load a
/// resource are kept: html5gum's default emitter allocates for every token
/// (each run of text, each tag name and attribute), which was most of the
/// agent's allocations (issue "Speed and scale", goal 2).
#[derive(Default)]
struct StartTags {
    name: Vec<u8>,
    wanted: bool,
    attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// The attribute whose value is being read, if it is kept.
    current: Option<usize>,
}

impl Callback<StartTag, ()> for StartTags {
    fn handle_event(&mut self, event: CallbackEvent<'_>, _: Span<()>) -> Option<StartTag> {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.name.clear();
                self.name.extend_from_slice(name);
                self.wanted = may_load(name);
                self.attributes.clear();
                self.current = None;
                None
            }
            CallbackEvent::AttributeName { name } => {
                self.current = None;
                if self.wanted && !self.attributes.iter().any(|(k, _)| k.as_slice() == name) {
                    self.attributes.push((name.to_vec(), Vec::new()));
                    self.current = Some(self.attributes.len() - 1);
                }
                None
            }
            CallbackEvent::AttributeValue { value } => {
                if let Some(i) = self.current {
                    self.attributes[i].1.extend_from_slice(value);
                }
                None
            }
            CallbackEvent::CloseStartTag { .. } => {
                self.current = None;
                if !std::mem::take(&mut self.wanted) {
                    return None;
                }
                let mut attributes = std::mem::take(&mut self.attributes);
                attributes.sort_by(|a, b| a.0.cmp(&b.0));
                Some(StartTag {
                    name: self.name.clone(),
                    attributes,
                })
            }
            // Attributes written in an end tag belong to no start tag.
            CallbackEvent::EndTag { .. } => {
                self.wanted = false;
                self.attributes.clear();
                self.current = None;
                None
            }
            _ => None,
        }
    }
}

/// The resources a page loads, resolved against its URL (a `<base href>`
/// counts), in document order, at most [`MAX_URLS`].
pub fn resources(body: &[u8], page: &Url) -> Vec<Resource> {
    let mut emitter = CallbackEmitter::new(StartTags::default());
    // Script and style contents are not markup.
    emitter.naively_switch_states(true);
    let mut base = page.clone();
    let mut out = Vec::new();
    for Ok(tag) in Tokenizer::new_with_emitter(body, emitter) {
        let name: &[u8] = &tag.name;
        let attr = |n: &str| {
            tag.attributes
                .iter()
                .find(|(k, _)| k.as_slice() == n.as_bytes())
                .map(|(_, v)| v.as_slice())
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
            if !add_urls(&mut out, &base, kind, key, value) {
                return out;
            }
        }
    }
    out
}

/// What a preload loads, as its `as` says (`font`, `style`, `script`,
/// `image`); any other kind as it is.
fn preloaded(kind: &'static str, as_attr: Option<&[u8]>) -> &'static str {
    match (kind, as_attr) {
        ("preload", Some(b"font")) => "font",
        ("preload", Some(b"style")) => "style",
        ("preload", Some(b"script")) => "script",
        ("preload", Some(b"image")) => "image",
        (k, _) => k,
    }
}

/// Adds to `out` the URLs an attribute's value names (each candidate of a
/// `srcset`), resolved against `base`, `http` and `https` only; false once
/// `out` holds [`MAX_URLS`].
fn add_urls(
    out: &mut Vec<Resource>,
    base: &Url,
    kind: &'static str,
    key: &[u8],
    value: &[u8],
) -> bool {
    let text = String::from_utf8_lossy(value);
    // srcset: "url 1x, url 2x"; every candidate's URL.
    let candidates: Vec<&str> = if key == b"srcset" {
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
                return false;
            }
        }
    }
    true
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
mod tests;
