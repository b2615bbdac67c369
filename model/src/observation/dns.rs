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
    /// How the lookup ended.
    pub outcome: DnsOutcome,
    /// The addresses, in the order the resolver gave them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<IpAddr>,
    /// The CNAME chain followed from the host, in order (targets only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cname_chain: Vec<String>,
    /// The resolver's error, or why the lookup was not made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the lookup took, in ms.
    pub ms: u64,
}

impl AddressLookup {
    /// A lookup that was not made, and `reason` why.
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
    /// The host's A lookup.
    pub a: AddressLookup,
    /// The host's AAAA lookup.
    pub aaaa: AddressLookup,
    /// The zone that holds the host, and its name servers.
    pub zone: ZoneObservation,
    /// The zone's mail exchangers.
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
    /// How finding the zone and its NS records ended.
    pub outcome: DnsOutcome,
    /// Why the zone or its name servers could not be found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The zone's name servers (NS), each with its addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_servers: Vec<NameServer>,
}

/// One of the zone's name servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameServer {
    /// The name server's host name.
    pub name: String,
    /// Its IPv4 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<Ipv4Addr>,
    /// Its IPv6 addresses.
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
    /// UDP, asked first.
    Udp,
    /// TCP, when UDP got no answer or a truncated one.
    Tcp,
}

/// The zone's SOA asked of one name server address directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NsQuery {
    /// The family the question went over.
    pub family: Family,
    /// The name server address asked.
    pub addr: IpAddr,
    /// The port asked on: 53, or `--ns-port`.
    pub port: u16,
    /// The transport of the last attempt (UDP first, TCP when UDP failed or was truncated).
    pub transport: DnsTransport,
    /// How the SOA question ended.
    pub outcome: DnsOutcome,
    /// The answer had the AA (authoritative answer) flag.
    #[serde(default)]
    pub authoritative: bool,
    /// The serial of the SOA the server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soa_serial: Option<u32>,
    /// Why the question got no usable answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time to the answer, or to the failure, in ms.
    pub ms: u64,
}

/// The zone's mail exchangers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MxObservation {
    /// How the MX lookup ended: `no_data` for a zone without MX records.
    pub outcome: DnsOutcome,
    /// Why the MX lookup failed or was not made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The mail exchangers, lowest preference first, at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<MailExchange>,
}

/// One MX record of the zone, with the exchanger's addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailExchange {
    /// The MX preference: lower is tried first.
    pub preference: u16,
    /// The exchanger's host name; `.` for a null MX (RFC 7505, no mail accepted).
    pub host: String,
    /// Its IPv4 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<Ipv4Addr>,
    /// Its IPv6 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aaaa: Vec<Ipv6Addr>,
    /// Set when the exchanger's own A or AAAA lookup failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
