//! DNSSEC probe: the zone's chain of trust, followed from a trust anchor (the
//! root's keys unless the agent is given another) down to the zone through
//! the resolver (each DS validated with its parent's keys, each DNSKEY set
//! with a key its DS names), then each name server address asked directly,
//! over its own family, for the zone's DNSKEY and SOA with their signatures
//! (each address first checked against the pack's contact policy).
//! The cryptography is hickory-proto's DNSSEC verifier (aws-lc-rs); the walk
//! and the reasons it gives are ours. Not checked: the NSEC/NSEC3 proof
//! behind a missing DS (the resolver's negative answer is taken as given).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use v6audit_model::{
    DnsOutcome, DnssecChain, DnssecObservation, DnssecServed, DnssecServer, Family, NameServer, Why,
};
use v6audit_rules::ContactPolicy;

use crate::anchor::Anchor;
use crate::net::Routes;
use crate::probe::wire::{exchange, rand_id};
use crate::resolver::fqdn;
use v6audit_rules::render::in_english;

mod chain;
#[cfg(test)]
mod fuzz;
mod servers;
#[cfg(test)]
mod tests;
mod verify;

use chain::*;
use servers::*;
use verify::*;

/// At most this many zones are walked between the anchor and the portal's
/// zone, so a very deep name cannot make the agent ask without end.
const MAX_DEPTH: usize = 16;
/// Signature checks per RRset, and keys tried per signature: hostile answers
/// with colliding key tags must not cost unbounded CPU (KeyTrap).
const MAX_CHECKS: usize = 16;
const MAX_KEYS_PER_SIG: usize = 4;
/// Reasons collected for one RRset before giving up.
const MAX_REASONS: usize = 8;

/// How the probe asks.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    /// The most each question may take; the walk from the anchor gets three times it.
    pub timeout: Duration,
    /// The port name servers are asked on (53; labs use another).
    pub ns_port: u16,
    /// Which name server addresses may be asked (the pack's contact policy).
    pub contact: &'a ContactPolicy,
    /// The portal is `internal` (private name server addresses may be asked
    /// when the policy allows that for internal portals).
    pub internal: bool,
}

/// The zone's DNSSEC: its chain from the anchor through `upstreams` (the
/// resolvers), then each of `servers`' addresses asked directly.
pub async fn observe(
    upstreams: &[SocketAddr],
    reach: &Routes,
    asking: Asking<'_>,
    anchor: &Anchor,
    zone: &str,
    servers: &[NameServer],
) -> DnssecObservation {
    // The walk has a deadline of its own; the name servers are asked at the
    // same time (each question bounded), so a slow resolver and a silent
    // name server do not add up, and neither loses the other's results.
    let limit = asking.timeout * 3;
    let walk = async {
        tokio::time::timeout(limit, walk_chain(upstreams, asking.timeout, anchor, zone))
            .await
            .unwrap_or_else(|_| {
                Walk::ended(
                    anchor.zone_for(zone).map_or("", shown),
                    DnssecChain::Unknown,
                    Why::new("dnssec.walk_out_of_time").with("secs", limit.as_secs()),
                )
            })
    };
    let targets: Vec<(String, IpAddr)> = servers
        .iter()
        .flat_map(|ns| {
            let v6 = ns.aaaa.iter().map(|a| IpAddr::V6(*a));
            let v4 = ns.a.iter().map(|a| IpAddr::V4(*a));
            v6.chain(v4).map(|ip| (ns.name.clone(), ip))
        })
        .collect();
    let fetches = join_all(targets.into_iter().map(|(name, ip)| {
        fetch_server(
            reach,
            asking,
            zone,
            name,
            SocketAddr::new(ip, asking.ns_port),
        )
    }));
    let (walk, fetched) = tokio::join!(walk, fetches);
    let checks = fetched
        .into_iter()
        .map(|f| judge_server(f, zone, &walk))
        .collect();
    DnssecObservation {
        zone: zone.to_owned(),
        anchor: walk.anchor.clone(),
        chain: walk.chain,
        insecure_at: walk.insecure_at.clone(),
        ds_key_tags: walk.ds.iter().map(DS::key_tag).collect(),
        error: walk.error.as_ref().map(in_english),
        why: walk.error.clone(),
        servers: checks,
    }
}

/// What is reported when the DNSSEC check as a whole ran out of time.
pub fn timed_out(anchor: &Anchor, zone: &str, limit: Duration) -> DnssecObservation {
    let why = Why::new("dnssec.out_of_time").with("secs", limit.as_secs());
    DnssecObservation {
        zone: zone.to_owned(),
        anchor: anchor.zone_for(zone).map_or("", shown).to_owned(),
        chain: DnssecChain::Unknown,
        insecure_at: None,
        ds_key_tags: Vec::new(),
        error: Some(in_english(&why)),
        why: Some(why),
        servers: Vec::new(),
    }
}

/// Where the walk from the anchor ended.
pub(super) struct Walk {
    pub(super) anchor: String,
    pub(super) chain: DnssecChain,
    pub(super) insecure_at: Option<String>,
    /// The zone's DS records (validated when the chain is secure).
    pub(super) ds: Vec<DS>,
    /// When the zone is the anchor's own: the anchor's keys it must serve.
    pub(super) anchor_keys: Vec<DNSKEY>,
    pub(super) error: Option<Why>,
}

impl Walk {
    pub(super) fn ended(anchor: &str, chain: DnssecChain, error: Why) -> Self {
        Self {
            anchor: anchor.to_owned(),
            chain,
            insecure_at: None,
            ds: Vec::new(),
            anchor_keys: Vec::new(),
            error: Some(error),
        }
    }
}

/// How one question failed, as a reason: its outcome's word, or the
/// library's own sentence for any other error.
pub(super) fn failed(outcome: DnsOutcome, text: String) -> Why {
    match outcome {
        DnsOutcome::Error | DnsOutcome::NotContacted => Why::new("said").with("text", text),
        o => Why::new(v6audit_rules::words::dns(o)),
    }
}

/// `name` as a DNS name, or the reason it is not one.
pub(super) fn fqdn_why(name: &str) -> Result<Name, Why> {
    fqdn(name).map_err(|_| Why::new("dns.bad_name").with("name", name))
}

pub(super) fn shown(zone: &str) -> &str {
    if zone.is_empty() { "." } else { zone }
}
