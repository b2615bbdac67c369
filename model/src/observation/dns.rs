//! The DNS facts: the host's A and AAAA lookups, the zone that holds it with
//! its name servers (each asked for the zone's SOA directly), and the zone's
//! mail exchangers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::Family;

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
