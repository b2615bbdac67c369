//! Observation: the raw facts an agent saw about one portal, with no judgement.
//!
//! Everything here is a measurement (an address, a status code, a handshake
//! outcome, a time). Rules turn it into a verdict later, so the collector can
//! re-score history when a rule changes without probing again. Every fact that
//! depends on an address family records the family and the address used.
//!
//! This file holds the observation itself, the address family and what the
//! vantage reaches; each probe's facts are in a file of their own: [`dns`]
//! (addresses, zone, name servers, MX), [`dnssec`], [`net`] (TCP endpoints,
//! latency, ICMPv6 echo), [`tls`], [`web`] (HTTP exchanges, fetches, the
//! page's other hosts) and [`mail`] (SMTP).

mod dns;
mod dnssec;
mod mail;
mod net;
mod tls;
mod web;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::inventory::PortSpec;

pub use dns::{
    AddressLookup, DnsObservation, DnsOutcome, DnsTransport, MailExchange, MxObservation,
    NameServer, NsQuery, ZoneObservation,
};
pub use dnssec::{DnssecChain, DnssecObservation, DnssecServed, DnssecServer};
pub use mail::{SmtpOutcome, SmtpProbe};
pub use net::{
    EchoOutcome, EchoProbe, EchoSocket, Endpoint, EndpointAttempt, LatencyProbe, TcpOutcome,
    TcpProbe,
};
pub use tls::{CertificateFacts, ChainStatus, ChainVerdict, TlsOutcome, TlsProbe};
pub use web::{
    FetchOutcome, Hop, HttpExchange, HttpFetch, HttpOutcome, SubresourceHost, Subresources,
};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// IPv4, `ipv4` on the wire.
    #[serde(rename = "ipv4")]
    V4,
    /// IPv6, `ipv6` on the wire.
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
    /// Whether the agent can send traffic of `family`.
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
    /// When the agent started on this portal (RFC 3339 on the wire).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long the whole observation took, in ms.
    pub duration_ms: u64,
    /// The per-portal budget ran out before every probe finished; facts that
    /// were not established are recorded as timeouts.
    #[serde(default)]
    pub budget_exhausted: bool,
    /// The agent's connectivity during this observation.
    pub vantage: Vantage,
    /// The host's addresses, its zone and name servers, and the zone's mail exchangers.
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

/// A pair of values, one per address family.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerFamily<T> {
    /// The value for IPv4.
    pub ipv4: T,
    /// The value for IPv6.
    pub ipv6: T,
}

impl<T> PerFamily<T> {
    /// The value for `family`.
    pub fn get(&self, family: Family) -> &T {
        match family {
            Family::V4 => &self.ipv4,
            Family::V6 => &self.ipv6,
        }
    }

    /// The value for `family`, to change.
    pub fn get_mut(&mut self, family: Family) -> &mut T {
        match family {
            Family::V4 => &mut self.ipv4,
            Family::V6 => &mut self.ipv6,
        }
    }
}
