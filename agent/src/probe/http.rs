//! HTTP probe: a GET over a connection the agent opened itself (plain TCP or
//! our TLS stream) with hyper, bounded in time, header size and body size; and
//! the redirect chain of one family, followed hop by hop in that family, each
//! hop recording its URL, status, address and whether the next host has AAAA.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;
use v6audit_model::{
    Family, FetchOutcome, Hop, HttpExchange, HttpFetch, HttpOutcome, TcpOutcome, TlsOutcome, Why,
};

use crate::page_text::{self, Sketch};
use crate::probe::{Context, tcp};

/// Headers kept in the Observation.
const KEPT_HEADERS: [&str; 6] = [
    "location",
    "server",
    "content-type",
    "strict-transport-security",
    "alt-svc",
    "content-length",
];

/// A response, and a sketch of its page text for the parity check. The body
/// itself is dropped as soon as it is read, so a portal in flight holds a few
/// kilobytes per page, not up to the body cap.
#[derive(Debug)]
pub struct PageResponse {
    /// The exchange as the Observation records it.
    pub exchange: HttpExchange,
    /// The page text's sketch; None when no page was read.
    pub sketch: Option<Sketch>,
    /// The URLs the page loads (scripts, styles, images…), from its markup.
    pub resources: Vec<crate::probe::subresources::Resource>,
}

impl PageResponse {
    /// No request was sent, for the reason given.
    pub fn not_sent(url: &Url, reason: String) -> Self {
        Self {
            exchange: HttpExchange {
                url: url.to_string(),
                outcome: HttpOutcome::NotSent,
                status: None,
                error: Some(reason),
                why: None,
                ms: 0,
                headers: BTreeMap::new(),
                body_bytes: 0,
                body_truncated: false,
                title: None,
                text_sha256: None,
            },
            sketch: None,
            resources: Vec::new(),
        }
    }
}

/// The `Host` header for a URL: the host, and the port when it is not the scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// Sends `GET url` over `io` and reads the response by the deadline.
pub async fn exchange<IO>(
    ctx: &Context,
    io: IO,
    url: &Url,
    deadline: tokio::time::Instant,
) -> PageResponse
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let start = Instant::now();
    let mut fetched = PageResponse::not_sent(url, String::new());
    fetched.exchange.error = None;
    let finish = |mut f: PageResponse, outcome: HttpOutcome, (error, why): Said| {
        f.exchange.outcome = outcome;
        f.exchange.error = error;
        f.exchange.why = why;
        f.exchange.ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        f
    };
    let settings = &ctx.settings;
    let handshake = http1::Builder::new()
        .max_buf_size(settings.header_cap.max(8192))
        .max_headers(200)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io));
    let (mut sender, conn) = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return finish(fetched, HttpOutcome::Error, text(e.to_string())),
        Err(_) => return finish(fetched, HttpOutcome::Timeout, (None, None)),
    };
    let conn_task = tokio::spawn(async move {
        let _ = conn.await;
    });
    // Dropping the guard aborts the connection task however this function ends.
    let _guard = AbortOnDrop(conn_task);
    let request = match get_request(url, &settings.user_agent) {
        Ok(r) => r,
        Err(e) => {
            return finish(
                fetched,
                HttpOutcome::Error,
                said(Why::new("http.cannot_build_request").with("cause", e)),
            );
        }
    };
    let response = match tokio::time::timeout_at(deadline, sender.send_request(request)).await {
        Err(_) => {
            return finish(
                fetched,
                HttpOutcome::Timeout,
                text("no response head within the timeout".to_owned()),
            );
        }
        Ok(Err(e)) => {
            let (outcome, reason) = classify_hyper_error(&e, settings.header_cap);
            return finish(fetched, outcome, reason);
        }
        Ok(Ok(r)) => r,
    };
    fetched.exchange.status = Some(response.status().as_u16());
    keep_headers(response.headers(), &mut fetched.exchange.headers);
    let announced = announced_length(response.headers());
    let read = read_body(
        response.into_body(),
        deadline,
        announced,
        settings.body_cap,
        settings.header_cap,
    )
    .await;
    if read.truncated {
        fetched.exchange.body_truncated = true;
    }
    page_facts(&mut fetched, &read.buf, url);
    drop(read.buf);
    finish(fetched, read.outcome, read.error)
}

/// The length a response announces, else 16 KiB: the room made for its body
/// at once (within the cap), so the buffer does not grow by doubling past
/// what it will hold.
fn announced_length(headers: &header::HeaderMap) -> usize {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(16 << 10)
}

/// The GET request for `url`: its path and query, a `Host` header, and no
/// compression, keep-alive or body.
fn get_request(url: &Url, user_agent: &str) -> Result<Request<Empty<Bytes>>, ::http::Error> {
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    Request::builder()
        .method("GET")
        .uri(path)
        .header(header::HOST, host_header(url))
        .header(header::USER_AGENT, user_agent)
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .header(header::ACCEPT_ENCODING, "identity")
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
}

/// The response headers worth keeping ([`KEPT_HEADERS`]), each cut at 512
/// characters.
fn keep_headers(headers: &header::HeaderMap, kept: &mut BTreeMap<String, String>) {
    for name in KEPT_HEADERS {
        if let Some(v) = headers.get(name) {
            let value: String = String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(512)
                .collect();
            kept.insert(name.to_owned(), value);
        }
    }
}

/// A response body as read: its bytes (at most the cap), whether it was
/// longer than the cap, and how the reading ended.
struct BodyRead {
    buf: Vec<u8>,
    truncated: bool,
    outcome: HttpOutcome,
    error: Said,
}

/// Reads `body` by the deadline, at most `cap` bytes, with room for the
/// `announced` length made at once.
async fn read_body(
    mut body: hyper::body::Incoming,
    deadline: tokio::time::Instant,
    announced: usize,
    cap: usize,
    header_cap: usize,
) -> BodyRead {
    let mut buf: Vec<u8> = Vec::with_capacity(announced.min(cap));
    let mut truncated = false;
    let mut outcome = HttpOutcome::Ok;
    let mut error: Said = (None, None);
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                outcome = HttpOutcome::BodyTimeout;
                error = said(Why::new("http.body_read_before_timeout").with("bytes", buf.len()));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                // A body cut short after a good head is still a response.
                if buf.is_empty() {
                    let (o, reason) = classify_hyper_error(&e, header_cap);
                    outcome = o;
                    error = reason;
                }
                break;
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let room = cap - buf.len();
                    if data.len() > room {
                        buf.reserve_exact(room);
                        buf.extend_from_slice(&data[..room]);
                        truncated = true;
                        break;
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    BodyRead {
        buf,
        truncated,
        outcome,
        error,
    }
}

/// What the page in `buf` says: its size, title, text digest and sketch,
/// and the resources it loads.
fn page_facts(fetched: &mut PageResponse, buf: &[u8], url: &Url) {
    fetched.exchange.body_bytes = buf.len() as u64;
    let page = page_text::page_text(buf);
    fetched.exchange.title = page.title;
    fetched.exchange.text_sha256 = Some(crate::probe::tls::hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, page.text.as_bytes()).as_ref(),
    ));
    fetched.sketch = Some(Sketch::of(&page.text));
    fetched.resources = crate::probe::subresources::resources(buf, url);
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error as the agent's English sentence and, when the pack words it,
/// the reason itself (`why`), which readers see in their language.
type Said = (Option<String>, Option<Why>);

/// A library's own sentence, which no pack words.
fn text(s: String) -> Said {
    (Some(s), None)
}

fn said(why: Why) -> Said {
    (Some(v6audit_rules::render::in_english(&why)), Some(why))
}

fn classify_hyper_error(e: &hyper::Error, header_cap: usize) -> (HttpOutcome, Said) {
    // hyper offers is_parse_too_large() only with its server feature; its
    // message for a head over the buffer limit is stable and tested by the
    // hostile-headers lab scenario.
    if e.is_parse() && e.to_string().contains("too large") {
        (
            HttpOutcome::HeadersTooLarge,
            said(Why::new("http.head_larger_than").with("kib", header_cap / 1024)),
        )
    } else if e.is_parse() || e.is_parse_status() {
        (HttpOutcome::Protocol, text(e.to_string()))
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        (
            HttpOutcome::Closed,
            said(Why::new("http.closed_before_response")),
        )
    } else if e.is_timeout() {
        (HttpOutcome::Timeout, text(e.to_string()))
    } else {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        (HttpOutcome::Error, text(msg))
    }
}

/// Connects to `addr` (with TLS when the URL is https) and sends one GET,
/// trying again (up to [`super::ATTEMPTS`]) after a transient failure.
/// Returns the last try and the exchanges of the earlier ones.
pub async fn fetch_at(
    ctx: &Context,
    url: &Url,
    addr: SocketAddr,
    deadline: tokio::time::Instant,
) -> (PageResponse, Vec<HttpExchange>) {
    let mut failed = Vec::new();
    loop {
        let began = Instant::now();
        let (fetched, transient) = fetch_once(ctx, url, addr, deadline).await;
        if !transient
            || failed.len() + 1 >= super::ATTEMPTS
            || !super::room_for_retry(ctx, deadline, began.elapsed())
        {
            return (fetched, failed);
        }
        failed.push(fetched.exchange);
        tokio::time::sleep(super::RETRY_PAUSE).await;
    }
}

/// One try of [`fetch_at`], and whether its failure was transient.
async fn fetch_once(
    ctx: &Context,
    url: &Url,
    addr: SocketAddr,
    deadline: tokio::time::Instant,
) -> (PageResponse, bool) {
    let (stream, tcp) = tcp::connect(addr, deadline, &ctx.reach).await;
    let Some(stream) = stream else {
        let transient = super::transient(&tcp, None, None);
        let fetched = PageResponse::not_sent(
            url,
            format!(
                "TCP to {addr} {}",
                match tcp.outcome {
                    TcpOutcome::Refused => "refused".to_owned(),
                    TcpOutcome::Timeout => "timed out".to_owned(),
                    _ => tcp.error.unwrap_or_else(|| format!("{:?}", tcp.outcome)),
                }
            ),
        );
        return (fetched, transient);
    };
    let fetched = if url.scheme() == "https" {
        let host = url.host_str().unwrap_or_default();
        let (tls, probe) = ctx.tls.handshake(stream, host, deadline).await;
        match tls {
            Some(tls) => exchange(ctx, tls, url, deadline).await,
            None => {
                let transient = super::transient(&tcp, Some(&probe), None);
                let fetched = PageResponse::not_sent(
                    url,
                    format!(
                        "TLS with {addr} failed: {}",
                        probe.error.unwrap_or_else(|| match probe.outcome {
                            TlsOutcome::Timeout => "timeout".to_owned(),
                            other => format!("{other:?}"),
                        })
                    ),
                );
                return (fetched, transient);
            }
        }
    } else {
        exchange(ctx, stream, url, deadline).await
    };
    let transient = super::transient(&tcp, None, Some(&fetched.exchange));
    (fetched, transient)
}

/// Follows the redirect chain of one family from its first exchange.
// Long because the hops are followed in one loop, and each check ends the chain with its outcome.
pub async fn follow(
    ctx: &Context,
    family: Family,
    internal: bool,
    first_addr: SocketAddr,
    first: PageResponse,
    deadline: tokio::time::Instant,
) -> (
    HttpFetch,
    Option<Sketch>,
    Vec<crate::probe::subresources::Resource>,
) {
    let mut hops = vec![Hop {
        url: first.exchange.url.clone(),
        addr: Some(first_addr.ip()),
        exchange: first.exchange,
        next_host_has_aaaa: None,
        // The first exchange's earlier tries are its endpoint's.
        failed_attempts: Vec::new(),
    }];
    let mut sketch = first.sketch;
    let mut resources = first.resources;
    let mut visited: HashSet<String> = HashSet::new();
    let done = |outcome, hops, why: Option<Why>| HttpFetch {
        family,
        outcome,
        hops,
        error: why.as_ref().map(v6audit_rules::render::in_english),
        why,
    };
    // A fetch that ended without a final page.
    let ended = |outcome, hops, why: Option<Why>| (done(outcome, hops, why), None, Vec::new());
    loop {
        let Some(last) = hops.last_mut() else {
            return ended(FetchOutcome::Failed, hops, None);
        };
        visited.insert(last.url.clone());
        // A head that arrived is a response, even when its body was cut short
        // by the timeout (web.v6-http warns about that).
        if !matches!(
            last.exchange.outcome,
            HttpOutcome::Ok | HttpOutcome::BodyTimeout
        ) {
            return ended(FetchOutcome::Failed, hops, None);
        }
        let Some(location) = last.exchange.redirect_location().map(str::to_owned) else {
            return (done(FetchOutcome::Complete, hops, None), sketch, resources);
        };
        let next = match Url::parse(&last.url).and_then(|base| base.join(&location)) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            _ => {
                let error = Why::new("fetch.redirect_not_http").with("location", &location);
                return ended(FetchOutcome::Failed, hops, Some(error));
            }
        };
        let Some(next_host) = next.host_str().map(str::to_owned) else {
            return ended(FetchOutcome::Failed, hops, None);
        };
        // Where the next hop lives: its AAAA decides web.redirects-v6.
        let Some((addrs, has_aaaa)) = redirect_addresses(ctx, &next_host, deadline).await else {
            let error = Why::new("fetch.lookup_out_of_time").with("host", &next_host);
            return ended(FetchOutcome::Failed, hops, Some(error));
        };
        last.next_host_has_aaaa = Some(has_aaaa);
        if visited.contains(next.as_str()) {
            return ended(FetchOutcome::RedirectLoop, hops, None);
        }
        if hops.len() > ctx.settings.max_redirects {
            return ended(FetchOutcome::TooManyRedirects, hops, None);
        }
        let Some(ip) = crate::net::of_family(&addrs, family).next() else {
            let error = Why::new("fetch.no_family_address")
                .with("host", &next_host)
                .with("family", family.label());
            return ended(FetchOutcome::LeftFamily, hops, Some(error));
        };
        let port = next.port_or_known_default().unwrap_or(443);
        let addr = SocketAddr::new(ip, port);
        // A redirect cannot make the agent connect where it may not (a
        // cloud's metadata address, the agent's own loopback).
        if let Some(why) = ctx.settings.contact.refuses(ip, internal) {
            hops.push(Hop {
                url: next.to_string(),
                addr: Some(ip),
                exchange: PageResponse::not_sent(&next, why).exchange,
                next_host_has_aaaa: None,
                failed_attempts: Vec::new(),
            });
            return ended(FetchOutcome::Failed, hops, None);
        }
        let (fetched, failed_attempts) = fetch_at(ctx, &next, addr, deadline).await;
        sketch = fetched.sketch;
        resources = fetched.resources;
        hops.push(Hop {
            url: next.to_string(),
            addr: Some(ip),
            exchange: fetched.exchange,
            next_host_has_aaaa: None,
            failed_attempts,
        });
    }
}

/// The addresses of a redirect's host (the host itself when it is an
/// address), and whether one is IPv6 on the wire; None when its lookup ran
/// out of time.
async fn redirect_addresses(
    ctx: &Context,
    host: &str,
    deadline: tokio::time::Instant,
) -> Option<(Vec<std::net::IpAddr>, bool)> {
    let ip_literal: Option<std::net::IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    match ip_literal {
        Some(ip) => Some((vec![ip], Family::of(&ip) == Family::V6)),
        None => {
            // Bounded by the fetch's deadline: a hostile redirect to a
            // name whose questions are dropped cannot outlast it.
            let Ok((a, aaaa)) = tokio::time::timeout_at(
                deadline,
                crate::probe::dns::host_addresses(&ctx.dns, host),
            )
            .await
            else {
                return None;
            };
            // A mapped address in an AAAA is IPv4 on the wire.
            let has = aaaa.addrs.iter().any(|ip| Family::of(ip) == Family::V6);
            Some((
                a.addrs.into_iter().chain(aaaa.addrs).collect::<Vec<_>>(),
                has,
            ))
        }
    }
}
