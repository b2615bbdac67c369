//! The web facts: HTTP exchanges, the page fetched over each family with its
//! redirects hop by hop, and the other hosts the page loads from.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{AddressLookup, Family, TcpOutcome, TcpProbe};

/// How an HTTP exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpOutcome {
    /// A complete response (head and body, the body possibly cut at the cap).
    Ok,
    /// No response head within the timeout.
    Timeout,
    /// The head arrived but the body did not finish within the timeout.
    BodyTimeout,
    /// The response head exceeded the header size cap.
    HeadersTooLarge,
    /// The peer did not speak valid HTTP/1.1.
    Protocol,
    /// The connection closed before a response.
    Closed,
    /// Not sent, because the connection or handshake before it failed.
    NotSent,
    /// Any other failure; see the error.
    Error,
}

/// One HTTP request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpExchange {
    /// The URL requested.
    pub url: String,
    /// How the exchange ended.
    pub outcome: HttpOutcome,
    /// The response's status code, when a response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the exchange failed, in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` in the pack's words, for readers in another language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::Why>,
    /// Time from sending the request to the end of the body.
    pub ms: u64,
    /// A few response headers worth keeping (`location`, `server`, `content-type`,
    /// `strict-transport-security`, `alt-svc`), names in lower case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Body bytes read (at most the cap).
    #[serde(default)]
    pub body_bytes: u64,
    /// The body was longer than the cap and reading stopped there.
    #[serde(default)]
    pub body_truncated: bool,
    /// The page's `<title>`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// SHA-256 of the normalised page text, lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_sha256: Option<String>,
}

impl HttpExchange {
    /// The `Location` of a redirect response.
    pub fn redirect_location(&self) -> Option<&str> {
        match self.status {
            Some(301 | 302 | 303 | 307 | 308) => self.headers.get("location").map(String::as_str),
            _ => None,
        }
    }
}

/// How fetching the page over one family ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchOutcome {
    /// A final, non-redirect response was reached.
    Complete,
    /// A redirect pointed at a host with no address in this family.
    LeftFamily,
    /// A redirect pointed back at a URL already visited.
    RedirectLoop,
    /// More redirects than the limit.
    TooManyRedirects,
    /// A hop failed (connect, TLS, HTTP or DNS); see the hop.
    Failed,
    /// No address of this family to start from.
    NoAddress,
    /// This vantage cannot send traffic of this family.
    NoVantage,
}

/// One hop of a redirect chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// The URL requested at this hop.
    pub url: String,
    /// The address the request went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<IpAddr>,
    /// The request and its response.
    pub exchange: HttpExchange,
    /// For a redirect: whether the next hop's host has an AAAA record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_host_has_aaaa: Option<bool>,
    /// Earlier tries of this hop that failed as a lost packet can make
    /// them fail (see [`Endpoint::failed_attempts`]), oldest first; a
    /// connection or handshake that failed is an exchange `not_sent` with
    /// the reason.
    ///
    /// [`Endpoint::failed_attempts`]: super::Endpoint::failed_attempts
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<HttpExchange>,
}

/// The page fetched over one family, redirects followed hop by hop in that family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpFetch {
    /// The family every hop went over.
    pub family: Family,
    /// How the fetch ended.
    pub outcome: FetchOutcome,
    /// Each request, the portal's URL first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<Hop>,
    /// Why the fetch stopped short, in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` in the pack's words, for readers in another language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::Why>,
}

impl HttpFetch {
    /// The last hop, which holds the final response when the fetch completed.
    pub fn last(&self) -> Option<&Hop> {
        self.hops.last()
    }

    /// The final response's status, when a final (non-redirect) response was reached.
    pub fn final_status(&self) -> Option<u16> {
        match self.outcome {
            FetchOutcome::Complete => self.last().and_then(|hop| hop.exchange.status),
            _ => None,
        }
    }

    /// The final URL, when a final response was reached.
    pub fn final_url(&self) -> Option<&str> {
        match self.outcome {
            FetchOutcome::Complete => self.last().map(|hop| hop.url.as_str()),
            _ => None,
        }
    }
}

/// What the final page over IPv6 loads from other hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subresources {
    /// The page whose markup was read.
    pub page_url: String,
    /// Resource URLs found in it (scripts, styles, images, media, iframes,
    /// fonts, form actions), at most 500.
    pub urls: usize,
    /// Each other host, with its AAAA lookup and an IPv6 connect.
    pub hosts: Vec<SubresourceHost>,
    /// More hosts than were checked (16 at most).
    #[serde(default)]
    pub truncated: bool,
}

/// One host a page loads from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubresourceHost {
    /// The host name (or address literal), lower case.
    pub host: String,
    /// What it serves the page: `script`, `style`, `image`, `media`,
    /// `iframe`, `font`, `form`, `preload`.
    pub kinds: Vec<String>,
    /// How many of the page's URLs name it.
    pub urls: usize,
    /// The port of its first URL.
    pub port: u16,
    /// Its AAAA lookup.
    pub aaaa: AddressLookup,
    /// A TCP connect to its first IPv6 address, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
}

impl SubresourceHost {
    /// Whether an IPv6-only client reaches it.
    pub fn reachable_over_ipv6(&self) -> bool {
        self.tcp
            .as_ref()
            .is_some_and(|t| t.outcome == TcpOutcome::Connected)
    }
}
