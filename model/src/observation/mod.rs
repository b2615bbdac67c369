//! Observation: the raw facts an agent saw about one portal, with no judgement.
//!
//! Everything here is a measurement (an address, a status code, a handshake
//! outcome, a time). Rules turn it into a verdict later, so the collector can
//! re-score history when a rule changes without probing again. Every fact that
//! depends on an address family records the family and the address used.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::inventory::PortSpec;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    #[serde(rename = "ipv4")]
    V4,
    #[serde(rename = "ipv6")]
    V6,
}

impl Family {
    /// The family a packet to this address actually travels in: the one
    /// place that decides it. An IPv4-mapped (`::ffff:a.b.c.d`) or
    /// IPv4-compatible (`::a.b.c.d`, RFC 4291 2.5.5.1) address is reached
    /// over IPv4 (the kernel sends IPv4 packets to a mapped address, and the
    /// server sees an IPv4 peer), so it counts as IPv4 wherever a family is
    /// judged: endpoints, redirects, sub-resources. That it was published as
    /// an AAAA record is `dns.aaaa-global`'s concern, which flags it.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(v6) if embedded_ipv4(v6).is_some() => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    /// `IPv4` or `IPv6`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or
/// IPv4-compatible (`::a.b.c.d`, not `::` or `::1`) IPv6 address.
pub fn embedded_ipv4(v6: &Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let compatible = s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1);
    compatible.then(|| Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8))
}

/// What this agent's network position can reach, measured before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Vantage {
    /// The agent can send IPv4 traffic to the portals it audits.
    pub ipv4: bool,
    /// The agent can send IPv6 traffic to the portals it audits.
    pub ipv6: bool,
}

impl Vantage {
    pub fn has(&self, family: Family) -> bool {
        match family {
            Family::V4 => self.ipv4,
            Family::V6 => self.ipv6,
        }
    }
}

/// All facts about one portal from one agent run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The host name probed (lower case, no trailing dot).
    pub host: String,
    /// The URL the portal is reached at.
    pub url: String,
    /// The ports probed, each with whether it speaks TLS.
    pub ports: Vec<PortSpec>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    pub duration_ms: u64,
    /// The per-portal budget ran out before every probe finished; facts that
    /// were not established are recorded as timeouts.
    #[serde(default)]
    pub budget_exhausted: bool,
    /// The agent's connectivity during this observation.
    pub vantage: Vantage,
    pub dns: DnsObservation,
    /// One entry per address and port: the TCP connect, the TLS handshake on a
    /// TLS port, and the first HTTP exchange, all over one connection.
    pub endpoints: Vec<Endpoint>,
    /// The page fetched over each family, following redirects in that family.
    pub http: PerFamily<Option<HttpFetch>>,
    /// Similarity (0..=1) of the normalised text of the final pages fetched
    /// over IPv4 and over IPv6, when both were fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_similarity: Option<f64>,
    /// Repeated TCP connects to one address of each family, for comparing
    /// the families' latency. None from agents that do not measure it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<PerFamily<Option<LatencyProbe>>>,
    /// ICMPv6 echo to each AAAA address (at most a few). None from agents
    /// that do not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmpv6: Option<Vec<EchoProbe>>,
    /// The other hosts the page fetched over IPv6 loads from, each checked
    /// over IPv6. None when no page came over IPv6, or from agents that do
    /// not look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresources: Option<Subresources>,
    /// SMTP to the mail servers (MX) that have AAAA, over IPv6 and, to
    /// compare, over IPv4. None from agents that do not look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<Vec<SmtpProbe>>,
    /// The zone's DNSSEC: its chain of trust from the trust anchor, and each
    /// name server address asked for the zone's signed keys and SOA. None
    /// from agents that do not look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecObservation>,
    /// Addresses the portal publishes beyond the pack's per-family limit
    /// (`max_addresses`), in the resolver's order: listed, not probed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_probed: Vec<IpAddr>,
}

/// Where the chain of trust from the anchor down to the zone ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecChain {
    /// Every DS and DNSKEY from the anchor down to the zone validates.
    Secure,
    /// A zone on the way (or the zone itself) has no DS in its parent: the
    /// delegation is unsigned, so nothing below it can be validated.
    Insecure,
    /// A signature or a DS on the way does not validate; the error says which.
    Bogus,
    /// The chain could not be followed (the resolver did not answer, the
    /// zone is not under the trust anchor, ...); the error says why.
    Unknown,
}

/// The DNSSEC facts of the portal's zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnssecObservation {
    /// The zone whose keys were checked.
    pub zone: String,
    /// The trust anchor's zone the chain starts at (the root unless the
    /// agent was given another anchor).
    pub anchor: String,
    pub chain: DnssecChain,
    /// For an insecure chain: the first zone whose delegation has no DS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_at: Option<String>,
    /// The zone's DS records in its parent (key tags), validated when the
    /// chain is secure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ds_key_tags: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` in the pack's words, for readers in another language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::Why>,
    /// Each name server address asked for the zone's DNSKEY and SOA with
    /// their signatures, directly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<DnssecServer>,
}

/// What one name server address serves of the zone's DNSSEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecServed {
    /// DNSKEY and SOA come signed, the signatures verify, and (on a secure
    /// chain) a key matches the parent's DS.
    Valid,
    /// No DNSKEY in the answer: the server serves the zone unsigned.
    Unsigned,
    /// Keys or signatures that do not validate; the error says which.
    Bogus,
    /// The server did not answer (see the error).
    NoAnswer,
    NoVantage,
    /// Not asked: the pack's contact policy does not let the agent send to
    /// this address (the error says why: "not contacted: ::1 is a loopback
    /// address").
    NotContacted,
}

/// One name server address asked for the zone's DNSKEY and SOA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnssecServer {
    /// The name server's name.
    pub name: String,
    pub family: Family,
    pub addr: IpAddr,
    pub port: u16,
    pub served: DnssecServed,
    /// The key tags of the DNSKEY records served.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_tags: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` in the pack's words, for readers in another language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::Why>,
    pub ms: u64,
}

/// How an SMTP session with one mail server address ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpOutcome {
    /// A 220 greeting and a 250 answer to EHLO.
    Ok,
    /// Connected, but no 220 greeting (or an error code) within the timeout.
    NoGreeting,
    /// The greeting came, but EHLO was not answered with 250.
    EhloRefused,
    Refused,
    Timeout,
    Unreachable,
    NoVantage,
    Error,
}

/// One SMTP session: connect, read the greeting, EHLO, QUIT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpProbe {
    /// The mail exchanger's name.
    pub host: String,
    pub family: Family,
    pub addr: IpAddr,
    pub port: u16,
    pub outcome: SmtpOutcome,
    /// The greeting's first line, cut at 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// The host name the greeting names (its first word after 220).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner_host: Option<String>,
    /// Whether EHLO offered STARTTLS.
    #[serde(default)]
    pub starttls: bool,
    pub ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    pub host: String,
    /// What it serves the page: `script`, `style`, `image`, `media`,
    /// `iframe`, `font`, `form`, `preload`.
    pub kinds: Vec<String>,
    /// How many of the page's URLs name it.
    pub urls: usize,
    /// The port of its first URL.
    pub port: u16,
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

/// Connect times to one address and port, one attempt after another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyProbe {
    pub addr: IpAddr,
    pub port: u16,
    /// Each attempt; the series stops at the first one that does not connect.
    pub attempts: Vec<TcpProbe>,
}

impl LatencyProbe {
    /// The median connect time of the attempts that connected, when all did.
    pub fn median_ms(&self) -> Option<u64> {
        if self.attempts.is_empty()
            || self
                .attempts
                .iter()
                .any(|a| a.outcome != TcpOutcome::Connected)
        {
            return None;
        }
        let mut ms: Vec<u64> = self.attempts.iter().map(|a| a.ms).collect();
        ms.sort_unstable();
        Some(ms[ms.len() / 2])
    }

    /// The attempt that failed, when one did.
    pub fn failure(&self) -> Option<&TcpProbe> {
        self.attempts
            .iter()
            .find(|a| a.outcome != TcpOutcome::Connected)
    }
}

/// How an ICMPv6 echo to one address ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoOutcome {
    /// An echo reply came back.
    Reply,
    /// No reply to any request within the timeout.
    NoReply,
    /// The agent may not send ICMPv6: no raw socket (root or CAP_NET_RAW)
    /// and no ping socket (net.ipv4.ping_group_range).
    NoPermission,
    /// This vantage has no IPv6.
    NoVantage,
    /// Any other failure to send; see the error.
    Error,
}

/// How the agent sent ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoSocket {
    /// A raw ICMPv6 socket (root or CAP_NET_RAW).
    Raw,
    /// An unprivileged ICMP datagram ("ping") socket.
    Datagram,
}

/// ICMPv6 echo to one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoProbe {
    pub addr: IpAddr,
    pub outcome: EchoOutcome,
    /// Echo requests sent.
    pub sent: u32,
    /// Round-trip time of the first reply, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The hop limit the reply arrived with (its sender's initial value,
    /// often 64 or 255, less the hops on the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_limit: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<EchoSocket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A pair of values, one per address family.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerFamily<T> {
    pub ipv4: T,
    pub ipv6: T,
}

impl<T> PerFamily<T> {
    pub fn get(&self, family: Family) -> &T {
        match family {
            Family::V4 => &self.ipv4,
            Family::V6 => &self.ipv6,
        }
    }

    pub fn get_mut(&mut self, family: Family) -> &mut T {
        match family {
            Family::V4 => &mut self.ipv4,
            Family::V6 => &mut self.ipv6,
        }
    }
}

/// How a DNS question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsOutcome {
    /// Records of the asked type came back.
    Ok,
    /// The name exists but has no records of this type (NOERROR, empty answer).
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The server answered SERVFAIL.
    ServFail,
    /// The server refused to answer.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// Any other failure; see the error text.
    Error,
    /// Not asked, because an earlier step failed or the budget ran out.
    NotAsked,
    /// Not asked: the pack's contact policy does not let the agent send to
    /// this address (a name server a zone publishes at 169.254.169.254, say);
    /// the error says why.
    NotContacted,
}

impl DnsOutcome {
    /// The name server gave a definite answer (records, no data, no such name).
    pub fn is_definite(self) -> bool {
        matches!(self, Self::Ok | Self::NoData | Self::NxDomain)
    }
}

/// An A or AAAA lookup through the agent's resolver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressLookup {
    pub outcome: DnsOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<IpAddr>,
    /// The CNAME chain followed from the host, in order (targets only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cname_chain: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: u64,
}

impl AddressLookup {
    pub fn not_asked(reason: &str) -> Self {
        Self {
            outcome: DnsOutcome::NotAsked,
            addrs: Vec::new(),
            cname_chain: Vec::new(),
            error: Some(reason.to_owned()),
            ms: 0,
        }
    }

    /// A lookup cut short (by the portal's budget, say): unknown, not absent.
    pub fn timed_out(reason: &str) -> Self {
        Self {
            outcome: DnsOutcome::Timeout,
            ..Self::not_asked(reason)
        }
    }
}

/// Everything the agent learnt from DNS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsObservation {
    /// The resolver used: `system` or an `IP:PORT`.
    pub resolver: String,
    pub a: AddressLookup,
    pub aaaa: AddressLookup,
    pub zone: ZoneObservation,
    pub mx: MxObservation,
}

impl DnsObservation {
    /// The addresses of one family, in the order the resolver gave them.
    pub fn addrs(&self, family: Family) -> &[IpAddr] {
        match family {
            Family::V4 => &self.a.addrs,
            Family::V6 => &self.aaaa.addrs,
        }
    }
}

/// The zone that holds the host and its name servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneObservation {
    /// The zone apex, found by walking up the host's labels until an SOA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apex: Option<String>,
    pub outcome: DnsOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_servers: Vec<NameServer>,
}

/// One of the zone's name servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameServer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aaaa: Vec<Ipv6Addr>,
    /// Set when the name server's own A or AAAA lookup failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The zone's SOA asked of this server directly, per address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<NsQuery>,
}

/// A transport for a DNS question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsTransport {
    Udp,
    Tcp,
}

/// The zone's SOA asked of one name server address directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NsQuery {
    pub family: Family,
    pub addr: IpAddr,
    pub port: u16,
    /// The transport of the last attempt (UDP first, TCP when UDP failed or was truncated).
    pub transport: DnsTransport,
    pub outcome: DnsOutcome,
    /// The answer had the AA (authoritative answer) flag.
    #[serde(default)]
    pub authoritative: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soa_serial: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: u64,
}

/// The zone's mail exchangers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MxObservation {
    pub outcome: DnsOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<MailExchange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailExchange {
    pub preference: u16,
    pub host: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aaaa: Vec<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How a TCP connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpOutcome {
    Connected,
    Refused,
    Timeout,
    /// Host or network unreachable (an ICMP error came back).
    Unreachable,
    /// The agent has no route to this address.
    NoRoute,
    /// This vantage cannot send traffic of this family, so nothing was tried.
    NoVantage,
    Error,
    /// Not tried, because the portal's budget ran out first.
    NotTried,
    /// The agent itself could not open a socket (too many open files, say):
    /// says nothing about the portal.
    LocalError,
    /// Deliberately not connected to: the address is not one the portal
    /// can be reached at over this family (an IPv4-mapped address in an
    /// AAAA record), or not one the agent may contact; the error says which.
    NotContacted,
}

/// One address and port of the portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub family: Family,
    pub addr: IpAddr,
    pub port: u16,
    /// Whether the port is probed with TLS.
    pub tls_port: bool,
    pub tcp: TcpProbe,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsProbe>,
    /// The first HTTP exchange, sent over this same connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpExchange>,
    /// The attempts before the one recorded above that failed in a way a
    /// lost packet can cause (a timeout, a reset, a connection closed during
    /// the handshake or before a response), oldest first. The fields above
    /// are the last attempt's. Empty when the first attempt was judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<EndpointAttempt>,
}

/// One earlier attempt at an endpoint: how far it got and how it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointAttempt {
    pub tcp: TcpProbe,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpExchange>,
}

impl Endpoint {
    /// How many times this endpoint was tried.
    pub fn attempts(&self) -> usize {
        self.failed_attempts.len() + 1
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpProbe {
    pub outcome: TcpOutcome,
    /// Connect time, or the time until the failure.
    pub ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How a TLS handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsOutcome {
    /// The handshake completed (the chain verdict is recorded separately).
    Ok,
    /// The server did not complete the handshake within the timeout.
    Timeout,
    /// The server sent a TLS alert.
    Alert,
    /// No protocol version in common (the server speaks only TLS 1.1 or older, say).
    ProtocolVersion,
    /// The server closed the connection during the handshake.
    Closed,
    /// Any other failure; see the error text.
    Error,
}

/// The result of validating the certificate chain the server presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainStatus {
    Valid,
    Expired,
    NotYetValid,
    NameMismatch,
    UnknownIssuer,
    Revoked,
    /// Any other reason the chain was rejected; see the reason text.
    Invalid,
}

/// Our own TLS handshake with one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsProbe {
    pub outcome: TlsOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: u64,
    /// `TLSv1.2` or `TLSv1.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The chain verdict, when the server presented certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainVerdict>,
    /// The leaf certificate, when the server presented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateFacts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainVerdict {
    pub status: ChainStatus,
    /// Why the chain was rejected, in the verifier's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the leaf is valid for the host name, checked on its own: the
    /// verifier reports only its first problem, so an expired certificate for
    /// the wrong name would otherwise show only "expired".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_matches: Option<bool>,
}

/// Facts read from the leaf certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// SHA-256 of the leaf certificate's DER, lower-case hex.
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses the certificate is valid for.
    pub sans: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Number of certificates the server sent, leaf included.
    pub chain_len: usize,
}

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
    Error,
}

/// One HTTP request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpExchange {
    pub url: String,
    pub outcome: HttpOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
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
    pub url: String,
    /// The address the request went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<IpAddr>,
    pub exchange: HttpExchange,
    /// For a redirect: whether the next hop's host has an AAAA record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_host_has_aaaa: Option<bool>,
    /// Earlier tries of this hop that failed as a lost packet can make
    /// them fail (see [`Endpoint::failed_attempts`]), oldest first; a
    /// connection or handshake that failed is an exchange `not_sent` with
    /// the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<HttpExchange>,
}

/// The page fetched over one family, redirects followed hop by hop in that family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpFetch {
    pub family: Family,
    pub outcome: FetchOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<Hop>,
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
