//! The DNSSEC facts of the portal's zone: its chain of trust from the anchor,
//! and what each name server address serves of the zone's signed keys.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Family;

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
    /// Where the chain of trust from the anchor ended.
    pub chain: DnssecChain,
    /// For an insecure chain: the first zone whose delegation has no DS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_at: Option<String>,
    /// The zone's DS records in its parent (key tags), validated when the
    /// chain is secure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ds_key_tags: Vec<u16>,
    /// Why the chain ended where it did, in English.
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
    /// This vantage cannot send traffic of the address's family, so nothing was asked.
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
    /// The family the questions went over.
    pub family: Family,
    /// The name server address asked.
    pub addr: IpAddr,
    /// The port asked on: 53, or `--ns-port`.
    pub port: u16,
    /// What the address served.
    pub served: DnssecServed,
    /// The key tags of the DNSKEY records served.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_tags: Vec<u16>,
    /// Why the keys did not validate or were not served, in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` in the pack's words, for readers in another language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::Why>,
    /// Time to both answers (DNSKEY and SOA, asked at once), in ms; 0 when not asked.
    pub ms: u64,
}
