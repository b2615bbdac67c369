//! DNS probe: the host's A and AAAA (CNAME chains recorded), the zone that
//! holds it (found by walking up the labels until the DNS names the zone, never
//! by taking the last two labels), its name servers with their addresses, each
//! name server asked for the zone's SOA directly over each family (UDP, then
//! TCP) at the addresses the pack's contact policy allows, and the zone's
//! mail exchangers. Zone facts are cached per zone, so fifty portals under
//! one ministry ask its name servers once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::join_all;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{RData, RecordType};
use tokio::sync::OnceCell;
use v6audit_model::{
    AddressLookup, DnsOutcome, DnsTransport, DnssecObservation, Family, MailExchange,
    MxObservation, NameServer, NsQuery, ZoneObservation,
};
use v6audit_rules::ContactPolicy;

use crate::anchor::Anchor;
use crate::net::Routes;
use crate::probe::dnssec;
use crate::probe::shared::{MAX_SHARED, Shared};
use crate::probe::wire::{exchange, rand_id};
use crate::resolver::{Dns, LookupFailure, fqdn, name_text};

/// At most this many name servers and mail exchangers are followed, so a
/// hostile zone cannot make the agent ask thousands of questions.
const MAX_NAME_SERVERS: usize = 13;
const MAX_MAIL_EXCHANGERS: usize = 10;

/// The host's A and AAAA, looked up at the same time.
pub async fn host_addresses(dns: &Dns, host: &str) -> (AddressLookup, AddressLookup) {
    let (mut a, mut aaaa) = tokio::join!(
        dns.addresses(host, RecordType::A),
        dns.addresses(host, RecordType::AAAA)
    );
    // A name with no address of either family: if its aliases go round in
    // a circle or on too long, that is what happened, not "no records"
    // (the resolver reports a loop as an empty answer).
    // Recursive resolvers often answer a loop with SERVFAIL; the lab's
    // server gives an empty answer.
    let empty = |o: DnsOutcome| matches!(o, DnsOutcome::NoData | DnsOutcome::ServFail);
    if empty(a.outcome) && empty(aaaa.outcome) {
        let chain = alias_chain(dns, host).await;
        if let Some(problem) = crate::resolver::cname_problem(host, &chain) {
            for l in [&mut a, &mut aaaa] {
                l.outcome = DnsOutcome::Error;
                l.error = Some(problem.clone());
                l.cname_chain.clone_from(&chain);
            }
        }
    }
    (a, aaaa)
}

/// The names `host` is an alias of, one CNAME question at a time, up to
/// one more than [`crate::resolver::MAX_CNAME_CHAIN`] and stopping at the
/// first name met twice.
async fn alias_chain(dns: &Dns, host: &str) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut name = host.to_owned();
    for _ in 0..=crate::resolver::MAX_CNAME_CHAIN {
        let Ok(records) = dns.lookup(&name, RecordType::CNAME).await else {
            break;
        };
        let Some(next) = records.iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(name_text(&c.0)),
            _ => None,
        }) else {
            break;
        };
        let seen = chain.contains(&next) || next.trim_end_matches('.') == host;
        chain.push(next.clone());
        if seen {
            break;
        }
        name = next;
    }
    chain
}

/// What is known about one zone, shared by every portal in it.
#[derive(Debug, Clone)]
pub struct ZoneFacts {
    /// The zone's name servers (at most 13), each with its addresses and SOA answers.
    pub name_servers: Vec<NameServer>,
    /// How the NS lookup went.
    pub ns_outcome: DnsOutcome,
    /// Why the NS lookup failed, when it did.
    pub ns_error: Option<String>,
    /// The zone's mail exchangers (at most 10).
    pub mx: MxObservation,
    /// The zone's DNSSEC; None when the check is off.
    pub dnssec: Option<DnssecObservation>,
}

/// A zone's apex, and whether the portal asking is internal.
type ZoneKey = (String, bool);

/// Zone facts by apex, each computed once even when many portals ask at
/// once; and each host's apex once found, so the walk done to find a
/// portal's www./apex counterpart is not done again when it is probed.
/// The facts are kept apart for internal and other portals: an internal
/// portal's zone may be asked at private addresses a public one's may not
/// (the contact policy), so neither may reuse the other's answers.
#[derive(Debug, Default)]
pub struct ZoneCache {
    zones: Shared<ZoneKey, ZoneFacts>,
    apexes: Mutex<HashMap<String, String>>,
}

impl ZoneCache {
    /// Forgets every zone (a new run in the same process).
    pub fn clear(&self) {
        self.zones.clear();
        self.apexes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The apex of `host`'s zone: from the cache, else walked (and a found
    /// one kept; a failure is not, so a later ask may succeed).
    pub async fn apex(&self, dns: &Dns, host: &str) -> Result<String, LookupFailure> {
        let known = {
            let apexes = self.apexes.lock().unwrap_or_else(|p| p.into_inner());
            apexes.get(host).cloned()
        };
        if let Some(apex) = known {
            return Ok(apex);
        }
        let apex = find_apex(dns, host).await?;
        let mut apexes = self.apexes.lock().unwrap_or_else(|p| p.into_inner());
        if apexes.len() >= MAX_SHARED {
            apexes.clear();
        }
        apexes.insert(host.to_owned(), apex.clone());
        Ok(apex)
    }

    /// The facts of the zone at `apex`, as gathered for an internal portal
    /// or not. Bounded ([`Shared`]): a national list of as many zones as
    /// portals must not hold them all; a zone asked again after that is
    /// walked again.
    fn cell(&self, apex: &str, internal: bool) -> Arc<OnceCell<ZoneFacts>> {
        self.zones.cell((apex.to_owned(), internal))
    }
}

/// How the zone facts of a host are gathered.
#[derive(Debug, Clone, Copy)]
pub struct ZoneSettings<'a> {
    /// The port name servers are asked on (53; labs use another).
    pub ns_port: u16,
    /// The most each direct question to a name server may take.
    pub ns_timeout: std::time::Duration,
    /// Where DNSSEC validation starts; None: not checked.
    pub anchor: Option<&'a Anchor>,
    /// Which name server addresses may be asked: the pack's contact policy,
    /// the one every connection of the agent goes through.
    pub contact: &'a ContactPolicy,
    /// The portal is `internal`: its zone's name servers may be asked at
    /// private addresses when the policy allows that for internal portals.
    pub internal: bool,
}

/// The zone of `host` with its name servers, mail exchangers and DNSSEC.
pub async fn zone(
    dns: &Dns,
    cache: &ZoneCache,
    reach: &Routes,
    settings: ZoneSettings<'_>,
    host: &str,
) -> (ZoneObservation, MxObservation, Option<DnssecObservation>) {
    let apex = match cache.apex(dns, host).await {
        Ok(apex) => apex,
        Err(f) => {
            return (
                ZoneObservation {
                    apex: None,
                    outcome: f.outcome,
                    error: f.error,
                    name_servers: Vec::new(),
                },
                MxObservation {
                    outcome: DnsOutcome::NotAsked,
                    error: Some("the zone is unknown".to_owned()),
                    exchanges: Vec::new(),
                },
                None,
            );
        }
    };
    let cell = cache.cell(&apex, settings.internal);
    let facts = cell
        .get_or_init(|| zone_facts(dns, reach, settings, &apex))
        .await
        .clone();
    (
        ZoneObservation {
            apex: Some(apex),
            outcome: facts.ns_outcome,
            error: facts.ns_error,
            name_servers: facts.name_servers,
        },
        facts.mx,
        facts.dnssec,
    )
}

/// Walks from the host towards the root, asking for the SOA at each name: an
/// SOA owned by the name itself, or the SOA a negative answer carries (which
/// names the enclosing zone, RFC 2308), says where the zone starts.
pub async fn find_apex(dns: &Dns, host: &str) -> Result<String, LookupFailure> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    for i in 0..labels.len() {
        let name = labels[i..].join(".");
        match dns.lookup(&name, RecordType::SOA).await {
            Ok(records) => {
                if records
                    .iter()
                    .any(|r| matches!(r.data, RData::SOA(_)) && name_text(&r.name) == name)
                {
                    return Ok(name);
                }
                // An SOA for another name came back through a CNAME: go up.
            }
            Err(f) => match f.outcome {
                DnsOutcome::NoData | DnsOutcome::NxDomain => {
                    if let Some(zone) = &f.soa_zone
                        && !zone.is_empty()
                        && (name == *zone || name.ends_with(&format!(".{zone}")))
                    {
                        return Ok(zone.clone());
                    }
                }
                _ => return Err(f),
            },
        }
    }
    Err(LookupFailure {
        outcome: DnsOutcome::Error,
        error: Some(format!("no zone found above {host}")),
        soa_zone: None,
    })
}

async fn zone_facts(
    dns: &Dns,
    reach: &Routes,
    settings: ZoneSettings<'_>,
    apex: &str,
) -> ZoneFacts {
    let (ns, mx) = tokio::join!(
        name_servers(dns, reach, settings, apex),
        mail_exchangers(dns, apex)
    );
    let (name_servers, ns_outcome, ns_error) = ns;
    let dnssec = match settings.anchor {
        Some(anchor) => {
            let asking = dnssec::Asking {
                timeout: settings.ns_timeout,
                ns_port: settings.ns_port,
                contact: settings.contact,
                internal: settings.internal,
            };
            // Each question is bounded, and the walk as a whole (3 x the
            // timeout, in dnssec::observe); this is the last guard.
            let limit = settings.ns_timeout * 4;
            let observe =
                dnssec::observe(dns.upstreams(), reach, asking, anchor, apex, &name_servers);
            Some(
                tokio::time::timeout(limit, observe)
                    .await
                    .unwrap_or_else(|_| dnssec::timed_out(anchor, apex, limit)),
            )
        }
        None => None,
    };
    ZoneFacts {
        name_servers,
        ns_outcome,
        ns_error,
        mx,
        dnssec,
    }
}

async fn name_servers(
    dns: &Dns,
    reach: &Routes,
    settings: ZoneSettings<'_>,
    apex: &str,
) -> (Vec<NameServer>, DnsOutcome, Option<String>) {
    let names: Vec<String> = match dns.lookup(apex, RecordType::NS).await {
        Ok(records) => {
            let mut names: Vec<String> = records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::NS(ns) => Some(name_text(&ns.0)),
                    _ => None,
                })
                .collect();
            names.sort();
            names.dedup();
            names.truncate(MAX_NAME_SERVERS);
            names
        }
        Err(f) => return (Vec::new(), f.outcome, f.error),
    };
    let servers = names.into_iter().map(|name| async move {
        let (a, aaaa) = host_addresses(dns, &name).await;
        let error = lookup_error(&a, &aaaa);
        let (v4, v6) = (ipv4s(&a), ipv6s(&aaaa));
        let targets: Vec<IpAddr> = aaaa.addrs.iter().chain(&a.addrs).copied().collect();
        let queries = join_all(targets.into_iter().map(|addr| {
            ask_soa(
                reach,
                settings,
                SocketAddr::new(addr, settings.ns_port),
                apex,
            )
        }))
        .await;
        NameServer {
            name,
            a: v4,
            aaaa: v6,
            error,
            queries,
        }
    });
    let servers = join_all(servers).await;
    (servers, DnsOutcome::Ok, None)
}

/// The IPv4 addresses of an A lookup.
fn ipv4s(lookup: &AddressLookup) -> Vec<std::net::Ipv4Addr> {
    lookup
        .addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(v) => Some(*v),
            IpAddr::V6(_) => None,
        })
        .collect()
}

/// The IPv6 addresses of an AAAA lookup.
fn ipv6s(lookup: &AddressLookup) -> Vec<std::net::Ipv6Addr> {
    crate::net::ipv6_on_the_wire(&lookup.addrs).collect()
}

/// Why a server's own A or AAAA lookup failed, if one did (no data is not a failure).
fn lookup_error(a: &AddressLookup, aaaa: &AddressLookup) -> Option<String> {
    [("A", a), ("AAAA", aaaa)]
        .into_iter()
        .find(|(_, l)| !matches!(l.outcome, DnsOutcome::Ok | DnsOutcome::NoData))
        .map(|(kind, l)| {
            format!(
                "{kind} lookup: {}",
                l.error
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", l.outcome))
            )
        })
}

async fn mail_exchangers(dns: &Dns, apex: &str) -> MxObservation {
    let mut mx: Vec<(u16, String)> = match dns.lookup(apex, RecordType::MX).await {
        Ok(records) => records
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
                _ => None,
            })
            .collect(),
        Err(f) => {
            return MxObservation {
                outcome: f.outcome,
                error: f.error,
                exchanges: Vec::new(),
            };
        }
    };
    mx.sort();
    mx.dedup();
    mx.truncate(MAX_MAIL_EXCHANGERS);
    let exchanges = join_all(mx.into_iter().map(|(preference, host)| async move {
        if host.is_empty() || host == "." {
            return MailExchange {
                preference,
                host: ".".to_owned(),
                a: Vec::new(),
                aaaa: Vec::new(),
                error: None,
            };
        }
        let (a, aaaa) = host_addresses(dns, &host).await;
        MailExchange {
            preference,
            error: lookup_error(&a, &aaaa),
            a: ipv4s(&a),
            aaaa: ipv6s(&aaaa),
            host,
        }
    }))
    .await;
    MxObservation {
        outcome: if exchanges.is_empty() {
            DnsOutcome::NoData
        } else {
            DnsOutcome::Ok
        },
        error: None,
        exchanges,
    }
}

/// Asks one name server address for the zone's SOA: UDP first, then TCP when
/// UDP gets no answer or a truncated one. An address the contact policy
/// refuses is recorded as not contacted and sent nothing.
pub async fn ask_soa(
    reach: &Routes,
    settings: ZoneSettings<'_>,
    server: SocketAddr,
    zone: &str,
) -> NsQuery {
    let family = Family::of(&server.ip());
    let mut q = NsQuery {
        family,
        addr: server.ip(),
        port: server.port(),
        transport: DnsTransport::Udp,
        outcome: DnsOutcome::NotAsked,
        authoritative: false,
        soa_serial: None,
        error: None,
        ms: 0,
    };
    // The contact policy first, as for every connection the agent makes: a
    // zone can publish its name servers at any address (a cloud's metadata
    // address, the agent's own loopback, a private network's).
    if let Some(why) = settings.contact.refuses(server.ip(), settings.internal) {
        q.outcome = DnsOutcome::NotContacted;
        q.error = Some(why);
        return q;
    }
    if !reach.can_reach(server.ip()) {
        q.error = Some(format!("this vantage has no {}", family.label()));
        return q;
    }
    let wire = match soa_query(zone) {
        Ok(w) => w,
        Err(e) => {
            q.outcome = DnsOutcome::Error;
            q.error = Some(e);
            return q;
        }
    };
    let start = Instant::now();
    let answer = match exchange(server, &wire.1, settings.ns_timeout).await {
        Ok((msg, transport)) => {
            q.transport = transport;
            Ok(msg)
        }
        Err(e) => {
            q.transport = DnsTransport::Tcp;
            Err(e)
        }
    };
    q.ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match answer {
        Ok(msg) => read_soa_answer(&mut q, wire.0, &msg),
        Err((outcome, error)) => {
            q.outcome = outcome;
            q.error = Some(error);
        }
    }
    q
}

/// What a name server's answer to the SOA question `id` says: whether it
/// answers that question at all, whether it is authoritative, the zone's
/// serial, and the outcome its response code gives.
fn read_soa_answer(q: &mut NsQuery, id: u16, msg: &Message) {
    use hickory_proto::op::ResponseCode;
    if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
        q.outcome = DnsOutcome::Error;
        q.error = Some("the answer does not match the question".to_owned());
        return;
    }
    q.authoritative = msg.metadata.authoritative;
    q.soa_serial = msg.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    });
    q.outcome = match msg.metadata.response_code {
        ResponseCode::NoError if q.soa_serial.is_some() => DnsOutcome::Ok,
        ResponseCode::NoError => DnsOutcome::NoData,
        ResponseCode::NXDomain => DnsOutcome::NxDomain,
        ResponseCode::ServFail => DnsOutcome::ServFail,
        ResponseCode::Refused => DnsOutcome::Refused,
        other => {
            q.error = Some(format!("response code {other}"));
            DnsOutcome::Error
        }
    };
}

fn soa_query(zone: &str) -> Result<(u16, Vec<u8>), String> {
    let id: u16 = rand_id();
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = false;
    msg.add_query(Query::query(fqdn(zone)?, RecordType::SOA));
    let wire = msg.to_vec().map_err(|e| e.to_string())?;
    Ok((id, wire))
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
