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
    DnsOutcome, DnssecChain, DnssecObservation, DnssecServed, DnssecServer, Family, NameServer,
};
use v6audit_rules::ContactPolicy;

use crate::anchor::Anchor;
use crate::net::Reach;
use crate::probe::wire::{exchange, rand_id};
use crate::resolver::fqdn;

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
    pub timeout: Duration,
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
    reach: &Reach,
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
                    format!(
                        "the chain of trust was not followed within {} s",
                        limit.as_secs()
                    ),
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
        error: walk.error.clone(),
        servers: checks,
    }
}

/// What is reported when the DNSSEC check as a whole ran out of time.
pub fn timed_out(anchor: &Anchor, zone: &str, limit: Duration) -> DnssecObservation {
    DnssecObservation {
        zone: zone.to_owned(),
        anchor: anchor.zone_for(zone).map_or("", shown).to_owned(),
        chain: DnssecChain::Unknown,
        insecure_at: None,
        ds_key_tags: Vec::new(),
        error: Some(format!(
            "the chain and the name servers were not all asked within {} s",
            limit.as_secs()
        )),
        servers: Vec::new(),
    }
}

/// Where the walk from the anchor ended.
struct Walk {
    anchor: String,
    chain: DnssecChain,
    insecure_at: Option<String>,
    /// The zone's DS records (validated when the chain is secure).
    ds: Vec<DS>,
    /// When the zone is the anchor's own: the anchor's keys it must serve.
    anchor_keys: Vec<DNSKEY>,
    error: Option<String>,
}

impl Walk {
    fn ended(anchor: &str, chain: DnssecChain, error: String) -> Self {
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

fn shown(zone: &str) -> &str {
    if zone.is_empty() { "." } else { zone }
}

async fn walk_chain(
    upstreams: &[SocketAddr],
    timeout: Duration,
    anchor: &Anchor,
    zone: &str,
) -> Walk {
    let Some(start) = anchor.zone_for(zone) else {
        return Walk::ended(
            "",
            DnssecChain::Unknown,
            format!(
                "{zone} is not under the trust anchor's zones ({})",
                anchor.zones_text()
            ),
        );
    };
    let start = start.to_owned();
    let unknown = |e: String| Walk::ended(shown(&start), DnssecChain::Unknown, e);
    let bogus = |e: String| Walk::ended(shown(&start), DnssecChain::Bogus, e);
    let ask = |name: Name, rtype: RecordType| async move {
        ask_resolvers(upstreams, timeout, &name, rtype).await
    };

    // The anchor zone's keys: a key of the anchor must sign the DNSKEY set.
    let mut current = fqdn_or_root(&start);
    let msg = match ask(current.clone(), RecordType::DNSKEY).await {
        Ok(m) => m,
        Err(e) => {
            return unknown(format!(
                "no DNSKEY of the anchor zone {} from the resolver: {e}",
                shown(&start)
            ));
        }
    };
    let (records, sigs) = rrset(&msg, &current, RecordType::DNSKEY);
    // No keys, or keys without signatures, from a resolver: the resolver
    // (a home router, a forwarder) does not pass DNSSEC records. That is
    // this vantage's limit, not the portal's fault.
    if records.is_empty() || sigs.is_empty() {
        return unknown(if records.is_empty() {
            format!(
                "the resolver gave no DNSKEY for the anchor zone {}: the zone is not signed, or the resolver does not pass DNSSEC records",
                shown(&start)
            )
        } else {
            format!(
                "the resolver gave the DNSKEY records of the anchor zone {} without RRSIG: it does not seem to pass DNSSEC records",
                shown(&start)
            )
        });
    }
    let anchored: Vec<DNSKEY> = dnskeys(&records)
        .into_iter()
        .filter(|k| anchor.trusts(k, &current))
        .collect();
    if anchored.is_empty() {
        return bogus(format!(
            "no DNSKEY of {} matches the trust anchor ({})",
            shown(&start),
            anchor.source
        ));
    }
    if let Err(e) = verify(&current, &records, &sigs, &anchored, &current) {
        return bogus(format!(
            "the DNSKEY set of {} does not validate: {e}",
            shown(&start)
        ));
    }
    let mut keys = dnskeys(&records);

    // Down one label at a time: a name with DS is a signed delegation; a
    // name with an SOA but no DS is an unsigned one; any other name is
    // inside the current zone.
    let below: Vec<String> = names_below(&start, zone);
    if below.len() > MAX_DEPTH {
        return unknown(format!(
            "{zone} is more than {MAX_DEPTH} labels below the anchor"
        ));
    }
    for name_text in below {
        let name = match fqdn(&name_text) {
            Ok(n) => n,
            Err(e) => return unknown(e),
        };
        let msg = match ask(name.clone(), RecordType::DS).await {
            Ok(m) => m,
            Err(e) => return unknown(format!("no answer for the DS of {name_text}: {e}")),
        };
        if name_text == zone && msg.metadata.response_code == ResponseCode::NXDomain {
            return unknown(format!(
                "the DS question for {zone} got NXDOMAIN: its parent does not delegate it"
            ));
        }
        let (ds_records, ds_sigs) = rrset(&msg, &name, RecordType::DS);
        let ds: Vec<DS> = ds_records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds.clone()),
                _ => None,
            })
            .collect();
        if ds.is_empty() {
            let cut = if name_text == zone {
                true
            } else {
                match ask(name.clone(), RecordType::SOA).await {
                    Ok(m) => !rrset(&m, &name, RecordType::SOA).0.is_empty(),
                    Err(e) => return unknown(format!("no answer for the SOA of {name_text}: {e}")),
                }
            };
            if cut {
                return Walk {
                    anchor: shown(&start).to_owned(),
                    chain: DnssecChain::Insecure,
                    insecure_at: Some(name_text),
                    ds: Vec::new(),
                    anchor_keys: Vec::new(),
                    error: None,
                };
            }
            continue;
        }
        if ds_sigs.is_empty() {
            return unknown(format!(
                "the resolver gave the DS of {name_text} without its RRSIG; it does not seem to pass DNSSEC records"
            ));
        }
        // RFC 4035 5.2: DS records this validator cannot use do not count;
        // a zone with only such DS records cannot be validated here.
        let usable: Vec<DS> = ds
            .iter()
            .filter(|d| d.algorithm().is_supported() && d.digest_type().is_supported())
            .cloned()
            .collect();
        if usable.is_empty() {
            return unknown(format!(
                "the DS records of {name_text} use only algorithms or digests this agent cannot validate ({})",
                ds.iter()
                    .map(|d| format!("algorithm {}, digest {:?}", d.algorithm(), d.digest_type()))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        if let Err(e) = verify(&name, &ds_records, &ds_sigs, &keys, &current) {
            return Walk {
                ds,
                ..bogus(format!(
                    "the DS of {name_text} in {} does not validate: {e}",
                    shown(&crate::resolver::name_text(&current))
                ))
            };
        }
        let ds = usable;
        if name_text == zone {
            return Walk {
                anchor: shown(&start).to_owned(),
                chain: DnssecChain::Secure,
                insecure_at: None,
                ds,
                anchor_keys: Vec::new(),
                error: None,
            };
        }
        // A zone between the anchor and the portal's: its keys, named by its DS.
        let msg = match ask(name.clone(), RecordType::DNSKEY).await {
            Ok(m) => m,
            Err(e) => return unknown(format!("no DNSKEY of {name_text} from the resolver: {e}")),
        };
        let (records, sigs) = rrset(&msg, &name, RecordType::DNSKEY);
        if sigs.is_empty() && !records.is_empty() {
            return unknown(format!(
                "the resolver gave the DNSKEY of {name_text} without its RRSIG; it does not seem to pass DNSSEC records"
            ));
        }
        let zone_keys = dnskeys(&records);
        let named = named_by_ds(&name, &zone_keys, &ds);
        if named.is_empty() {
            return bogus(format!(
                "no DNSKEY of {name_text} matches its DS (DS key tags {}; DNSKEY key tags {})",
                tags_text(ds.iter().map(DS::key_tag)),
                tags_text(zone_keys.iter().filter_map(|k| k.calculate_key_tag().ok()))
            ));
        }
        if let Err(e) = verify(&name, &records, &sigs, &named, &name) {
            return bogus(format!(
                "the DNSKEY set of {name_text} does not validate: {e}"
            ));
        }
        keys = zone_keys;
        current = name;
    }
    // The zone is the anchor's own: its servers must serve the anchor's keys.
    Walk {
        anchor: shown(&start).to_owned(),
        chain: DnssecChain::Secure,
        insecure_at: None,
        ds: Vec::new(),
        anchor_keys: anchored,
        error: None,
    }
}

fn fqdn_or_root(zone: &str) -> Name {
    if zone.is_empty() {
        Name::root()
    } else {
        fqdn(zone).unwrap_or_else(|_| Name::root())
    }
}

/// The names from just below `top` down to `zone`, top first.
fn names_below(top: &str, zone: &str) -> Vec<String> {
    let labels: Vec<&str> = zone.split('.').collect();
    let top_labels = if top.is_empty() {
        0
    } else {
        top.split('.').count()
    };
    (0..labels.len().saturating_sub(top_labels))
        .rev()
        .map(|i| labels[i..].join("."))
        .collect()
}

fn tags_text(tags: impl Iterator<Item = u16>) -> String {
    let list: Vec<String> = tags.map(|t| t.to_string()).collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

fn dnskeys(records: &[Record]) -> Vec<DNSKEY> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

/// The keys a DS record names (digest over the owner name and the key).
fn named_by_ds(zone: &Name, keys: &[DNSKEY], ds: &[DS]) -> Vec<DNSKEY> {
    keys.iter()
        .filter(|k| ds.iter().any(|d| d.covers(zone, k).unwrap_or(false)))
        .cloned()
        .collect()
}

/// The records of one type owned by `name` in the answer, and the RRSIGs over them.
fn rrset(msg: &Message, name: &Name, rtype: RecordType) -> (Vec<Record>, Vec<RRSIG>) {
    let mut records = Vec::new();
    let mut sigs = Vec::new();
    for r in &msg.answers {
        if r.name.to_lowercase() != name.to_lowercase() {
            continue;
        }
        match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => {
                sigs.push(sig.clone());
            }
            // RFC 4034 6.3: duplicates go before the RRset is verified.
            data if data.record_type() == rtype
                && !records.iter().any(|k: &Record| k.data == *data) =>
            {
                records.push(r.clone());
            }
            _ => {}
        }
    }
    (records, sigs)
}

/// Seconds since the epoch, as RRSIG times count them (modulo 2^32).
fn now_serial() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secs as u32
}

fn sig_time(serial: u32) -> String {
    // RRSIG times are the epoch second modulo 2^32 (RFC 4034 3.1.5): the
    // reading nearest to now is the right one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let secs = now + i64::from(serial.wrapping_sub(now_serial()) as i32);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// Verifies an RRset with one of `keys`, its signature made by `signer` and
/// within its validity period now. Says why when none verifies.
fn verify(
    name: &Name,
    records: &[Record],
    sigs: &[RRSIG],
    keys: &[DNSKEY],
    signer: &Name,
) -> Result<u16, String> {
    let rtype = records
        .first()
        .map_or_else(|| "records".to_owned(), |r| r.record_type().to_string());
    if records.is_empty() {
        return Err("no records to validate".to_owned());
    }
    if sigs.is_empty() {
        return Err(format!("no RRSIG over the {rtype} records"));
    }
    let now = now_serial();
    let mut why = Vec::new();
    let mut checks = 0;
    for sig in sigs {
        let input = sig.input();
        if why.len() >= MAX_REASONS {
            break;
        }
        if !input.algorithm.is_supported() {
            why.push(format!(
                "RRSIG by key {} uses algorithm {}, which this agent cannot validate",
                input.key_tag, input.algorithm
            ));
            continue;
        }
        if input.signer_name.to_lowercase() != signer.to_lowercase() {
            why.push(format!(
                "RRSIG by {} (expected {})",
                input.signer_name, signer
            ));
            continue;
        }
        let expires = input.sig_expiration.get();
        let incepts = input.sig_inception.get();
        if (expires.wrapping_sub(now) as i32) < 0 {
            why.push(format!(
                "RRSIG by key {} expired at {}",
                input.key_tag,
                sig_time(expires)
            ));
            continue;
        }
        if (now.wrapping_sub(incepts) as i32) < 0 {
            why.push(format!(
                "RRSIG by key {} is valid only from {}",
                input.key_tag,
                sig_time(incepts)
            ));
            continue;
        }
        // Key tags collide easily: a few keys per signature at most, so a
        // hostile answer cannot make the agent verify without end (KeyTrap,
        // CVE-2023-50387).
        let candidates: Vec<&DNSKEY> = keys
            .iter()
            .filter(|k| {
                k.zone_key()
                    && !k.revoke()
                    && k.algorithm() == input.algorithm
                    && k.calculate_key_tag().ok() == Some(input.key_tag)
            })
            .take(MAX_KEYS_PER_SIG)
            .collect();
        if candidates.is_empty() {
            why.push(format!(
                "RRSIG by key {} (algorithm {}), which is not among the keys ({})",
                input.key_tag,
                input.algorithm,
                tags_text(keys.iter().filter_map(|k| k.calculate_key_tag().ok()))
            ));
            continue;
        }
        for key in candidates {
            if checks == MAX_CHECKS {
                why.push(format!(
                    "gave up after {MAX_CHECKS} signature checks (too many keys or signatures)"
                ));
                return Err(why.join("; "));
            }
            checks += 1;
            match key.verify_rrsig(name, DNSClass::IN, sig, records.iter()) {
                Ok(()) => return Ok(input.key_tag),
                Err(e) => why.push(format!(
                    "RRSIG by key {} does not verify: {e}",
                    input.key_tag
                )),
            }
        }
    }
    Err(why.join("; "))
}

/// Asks the resolvers in turn (recursion desired, DNSSEC OK, checking
/// disabled so a validating resolver hands over what it would reject).
async fn ask_resolvers(
    upstreams: &[SocketAddr],
    timeout: Duration,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, String> {
    let mut last = "no resolver is configured".to_owned();
    for server in upstreams {
        match ask(*server, name, rtype, true, timeout).await {
            Ok(msg) => match msg.metadata.response_code {
                ResponseCode::NoError | ResponseCode::NXDomain => return Ok(msg),
                code => last = format!("{server} answered {code}"),
            },
            Err((_, e)) => last = format!("{server}: {e}"),
        }
    }
    Err(last)
}

/// One question with the DO bit, UDP then TCP on truncation or silence.
async fn ask(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recurse: bool,
    timeout: Duration,
) -> Result<Message, (DnsOutcome, String)> {
    let id = rand_id();
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = recurse;
    msg.metadata.checking_disabled = recurse;
    msg.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232).set_dnssec_ok(true);
    msg.set_edns(edns);
    let wire = msg
        .to_vec()
        .map_err(|e| (DnsOutcome::Error, e.to_string()))?;
    let answer = exchange(server, &wire, timeout).await.map(|(m, _)| m)?;
    if answer.metadata.id != id || answer.metadata.message_type != MessageType::Response {
        return Err((
            DnsOutcome::Error,
            "the answer does not match the question".to_owned(),
        ));
    }
    Ok(answer)
}

/// One name server address asked for the zone's DNSKEY and SOA: the
/// record of the exchange, and the answers to judge once the chain is known.
struct Fetched {
    out: DnssecServer,
    answers: Option<(Message, Message)>,
}

/// Asks one name server address directly for the zone's DNSKEY and SOA;
/// an address the contact policy refuses is recorded and sent nothing.
async fn fetch_server(
    reach: &Reach,
    asking: Asking<'_>,
    zone: &str,
    name: String,
    server: SocketAddr,
) -> Fetched {
    let family = Family::of(&server.ip());
    let mut out = DnssecServer {
        name,
        family,
        addr: server.ip(),
        port: server.port(),
        served: DnssecServed::NoAnswer,
        key_tags: Vec::new(),
        error: None,
        ms: 0,
    };
    // The contact policy first, as for the zone's SOA questions.
    if let Some(why) = asking.contact.refuses(server.ip(), asking.internal) {
        out.served = DnssecServed::NotContacted;
        out.error = Some(why);
        return Fetched { out, answers: None };
    }
    if !reach.can_reach(server.ip()) {
        out.served = DnssecServed::NoVantage;
        out.error = Some(format!("this vantage has no {}", family.label()));
        return Fetched { out, answers: None };
    }
    let Ok(apex) = fqdn(zone) else {
        out.error = Some(format!("`{zone}` is not a valid DNS name"));
        return Fetched { out, answers: None };
    };
    let start = Instant::now();
    let (keys_msg, soa_msg) = tokio::join!(
        ask(server, &apex, RecordType::DNSKEY, false, asking.timeout),
        ask(server, &apex, RecordType::SOA, false, asking.timeout)
    );
    out.ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (keys_msg, soa_msg) = match (keys_msg, soa_msg) {
        (Ok(k), Ok(s)) => (k, s),
        (Err((_, e)), _) | (_, Err((_, e))) => {
            out.error = Some(e);
            return Fetched { out, answers: None };
        }
    };
    for msg in [&keys_msg, &soa_msg] {
        if msg.metadata.response_code != ResponseCode::NoError {
            out.error = Some(format!("answered {}", msg.metadata.response_code));
            return Fetched { out, answers: None };
        }
        // A referral or a cached answer is a lame delegation, for
        // dns.ns-v6-answers to report; it says nothing of DNSSEC.
        if !msg.metadata.authoritative {
            out.error = Some("not authoritative for the zone (lame delegation)".to_owned());
            return Fetched { out, answers: None };
        }
    }
    Fetched {
        out,
        answers: Some((keys_msg, soa_msg)),
    }
}

/// Judges what one name server served against the chain: on a secure chain
/// its key set must be signed by a key the DS (or the anchor) names, and its
/// SOA by one of its keys; elsewhere the keys and SOA must at least verify.
fn judge_server(fetched: Fetched, zone: &str, walk: &Walk) -> DnssecServer {
    let Fetched { mut out, answers } = fetched;
    let Some((keys_msg, soa_msg)) = answers else {
        return out;
    };
    let Ok(apex) = fqdn(zone) else {
        return out;
    };
    let secure = walk.chain == DnssecChain::Secure;
    let ds = walk.ds.as_slice();
    let (key_records, key_sigs) = rrset(&keys_msg, &apex, RecordType::DNSKEY);
    let keys = dnskeys(&key_records);
    out.key_tags = keys
        .iter()
        .filter_map(|k| k.calculate_key_tag().ok())
        .collect();
    if keys.is_empty() {
        if secure {
            out.served = DnssecServed::Bogus;
            out.error = Some(format!(
                "serves no DNSKEY, but the parent has DS {}",
                tags_text(ds.iter().map(DS::key_tag))
            ));
        } else {
            out.served = DnssecServed::Unsigned;
        }
        return out;
    }
    let signing: Vec<DNSKEY> = if secure {
        let named: Vec<DNSKEY> = if walk.anchor_keys.is_empty() {
            named_by_ds(&apex, &keys, ds)
        } else {
            keys.iter()
                .filter(|k| {
                    walk.anchor_keys
                        .iter()
                        .any(|a| a.public_key() == k.public_key())
                })
                .cloned()
                .collect()
        };
        if named.is_empty() {
            out.served = DnssecServed::Bogus;
            out.error = Some(if walk.anchor_keys.is_empty() {
                format!(
                    "no DNSKEY matches the parent's DS (DS key tags {}; DNSKEY key tags {})",
                    tags_text(ds.iter().map(DS::key_tag)),
                    tags_text(out.key_tags.iter().copied())
                )
            } else {
                format!(
                    "no DNSKEY is the trust anchor's (DNSKEY key tags {})",
                    tags_text(out.key_tags.iter().copied())
                )
            });
            return out;
        }
        named
    } else {
        keys.clone()
    };
    if let Err(e) = verify(&apex, &key_records, &key_sigs, &signing, &apex) {
        out.served = DnssecServed::Bogus;
        out.error = Some(format!("DNSKEY: {e}"));
        return out;
    }
    let (soa_records, soa_sigs) = rrset(&soa_msg, &apex, RecordType::SOA);
    if let Err(e) = verify(&apex, &soa_records, &soa_sigs, &keys, &apex) {
        out.served = DnssecServed::Bogus;
        out.error = Some(format!("SOA: {e}"));
        return out;
    }
    out.served = DnssecServed::Valid;
    out
}

#[cfg(test)]
mod tests {
    use hickory_proto::dnssec::Algorithm;

    use super::*;

    #[test]
    fn names_are_walked_from_below_the_anchor_down_to_the_zone() {
        assert_eq!(
            names_below("", "hanoi.gov.vn"),
            vec!["vn", "gov.vn", "hanoi.gov.vn"]
        );
        assert_eq!(
            names_below("lab.test", "signed.lab.test"),
            vec!["signed.lab.test"]
        );
        assert!(names_below("lab.test", "lab.test").is_empty());
    }

    /// A zone's SOA signed by a fresh key, the signature made `age` ago and
    /// valid for 30 days.
    fn signed_soa(age: time::Duration) -> (Name, Vec<Record>, Vec<RRSIG>, DNSKEY) {
        use hickory_proto::dnssec::crypto::EcdsaSigningKey;
        use hickory_proto::dnssec::{DnssecSigner, SigningKey as _};
        use hickory_proto::rr::RecordSet;
        use hickory_proto::rr::rdata::SOA;
        let zone = fqdn("example.gov.vn").unwrap();
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).unwrap();
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256).unwrap();
        let dnskey = DNSKEY::from_key(&key.to_public_key().unwrap());
        let signer = DnssecSigner::new(
            dnskey.clone(),
            Box::new(key),
            zone.clone(),
            std::time::Duration::from_secs(30 * 86_400),
        );
        let soa = Record::from_rdata(
            zone.clone(),
            3600,
            RData::SOA(SOA::new(
                zone.clone(),
                zone.clone(),
                1,
                3600,
                600,
                86_400,
                60,
            )),
        );
        let mut set = RecordSet::new(zone.clone(), RecordType::SOA, 1);
        set.insert(soa.clone(), 1);
        let sig = RRSIG::from_rrset(
            &set,
            DNSClass::IN,
            time::OffsetDateTime::now_utc() - age,
            &signer,
        )
        .unwrap();
        (zone, vec![soa], vec![sig], dnskey)
    }

    #[test]
    fn a_fresh_signature_verifies_and_an_expired_one_says_when_it_expired() {
        let (zone, records, sigs, key) = signed_soa(time::Duration::hours(1));
        let tag = key.calculate_key_tag().unwrap();
        assert_eq!(verify(&zone, &records, &sigs, &[key], &zone), Ok(tag));

        let (zone, records, sigs, key) = signed_soa(time::Duration::days(40));
        let tag = key.calculate_key_tag().unwrap();
        let err = verify(&zone, &records, &sigs, &[key], &zone).unwrap_err();
        let expired = (time::OffsetDateTime::now_utc() - time::Duration::days(10)).date();
        assert!(
            err.starts_with(&format!("RRSIG by key {tag} expired at {expired}T")),
            "{err}"
        );
    }

    #[test]
    fn a_signature_by_a_key_not_in_the_set_or_over_other_records_is_named() {
        let (zone, records, sigs, _) = signed_soa(time::Duration::hours(1));
        let (_, _, _, other) = signed_soa(time::Duration::hours(1));
        let other_tag = other.calculate_key_tag().unwrap();
        let err = verify(&zone, &records, &sigs, &[other], &zone).unwrap_err();
        assert!(
            err.ends_with(&format!("which is not among the keys ({other_tag})")),
            "{err}"
        );
        assert_eq!(
            verify(&zone, &records, &[], &[], &zone),
            Err("no RRSIG over the SOA records".to_owned())
        );
        // A record changed after signing no longer verifies.
        let (zone, mut records, sigs, key) = signed_soa(time::Duration::hours(1));
        if let RData::SOA(soa) = &mut records[0].data {
            soa.serial = 2;
        }
        let err = verify(&zone, &records, &sigs, &[key], &zone).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
    }

    #[test]
    fn algorithms_the_agent_cannot_validate_are_named_not_tried() {
        let (zone, records, sigs, key) = signed_soa(time::Duration::hours(1));
        // The same signature claimed under Ed448 (16), which aws-lc-rs lacks.
        let mut input = sigs[0].input().clone();
        input.algorithm = Algorithm::from_u8(16);
        let ed448 = RRSIG::from_sig(input, sigs[0].sig().to_vec());
        let err = verify(&zone, &records, &[ed448], &[key], &zone).unwrap_err();
        assert!(err.ends_with("which this agent cannot validate"), "{err}");
    }

    #[test]
    fn a_flood_of_bad_signatures_is_given_up_on_early() {
        let (zone, mut records, sigs, key) = signed_soa(time::Duration::hours(1));
        if let RData::SOA(soa) = &mut records[0].data {
            soa.serial = 2;
        }
        let flood: Vec<RRSIG> = std::iter::repeat_n(sigs[0].clone(), 500).collect();
        let err = verify(&zone, &records, &flood, &[key], &zone).unwrap_err();
        assert_eq!(err.matches("does not verify").count(), MAX_REASONS, "{err}");
    }

    #[test]
    fn duplicate_records_in_an_answer_are_verified_once() {
        let (zone, records, sigs, key) = signed_soa(time::Duration::hours(1));
        let mut msg = Message::new(1, MessageType::Response, OpCode::Query);
        for r in records.iter().chain(records.iter()) {
            msg.answers.push(r.clone());
        }
        let sig = Record::from_rdata(
            zone.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::RRSIG(sigs[0].clone())),
        );
        msg.answers.push(sig);
        let (set, found) = rrset(&msg, &zone, RecordType::SOA);
        assert_eq!(set.len(), 1);
        assert!(verify(&zone, &set, &found, &[key], &zone).is_ok());
    }

    /// One name server address asked for the zone's keys, as `ns1.example.gov.vn`.
    async fn fetch(reach: &Reach, asking: Asking<'_>, server: SocketAddr) -> DnssecServer {
        let name = "ns1.example.gov.vn".to_owned();
        let f = fetch_server(reach, asking, "example.gov.vn", name, server).await;
        assert!(f.answers.is_none(), "{:?}", f.out);
        f.out
    }

    /// Regression (issue 13, "the agent connects only where it is allowed
    /// to"): the DNSSEC questions went to every address a zone published for
    /// its name servers. One the contact policy refuses is recorded as not
    /// contacted and hears nothing; one it allows for an internal portal (a
    /// ULA) is asked, which here stops at a vantage that reaches no network.
    #[tokio::test]
    async fn a_name_server_address_the_policy_refuses_is_not_asked_for_keys() {
        let server = tokio::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let policy = ContactPolicy::default();
        let asking = Asking {
            timeout: Duration::from_millis(300),
            ns_port: addr.port(),
            contact: &policy,
            internal: true,
        };
        let everywhere = Reach {
            ipv4_global: true,
            ipv6_global: true,
            ipv4_loopback: true,
            ipv6_loopback: true,
        };
        let out = fetch(&everywhere, asking, addr).await;
        assert_eq!(out.served, DnssecServed::NotContacted);
        assert_eq!(
            out.error.as_deref(),
            Some("not contacted: 127.0.0.1 is a loopback address")
        );
        let mut buf = [0u8; 512];
        let heard = tokio::time::timeout(Duration::from_millis(200), server.recv_from(&mut buf));
        assert!(heard.await.is_err(), "the refused name server was asked");

        let ula: SocketAddr = "[fd00::53]:53".parse().unwrap();
        let out = fetch(&Reach::default(), asking, ula).await;
        assert_eq!(out.served, DnssecServed::NoVantage, "{out:?}");
        let public = Asking {
            internal: false,
            ..asking
        };
        let out = fetch(&Reach::default(), public, ula).await;
        assert_eq!(out.served, DnssecServed::NotContacted);
        assert_eq!(
            out.error.as_deref(),
            Some("not contacted: fd00::53 is a unique local (ULA) address")
        );
    }
}

/// Fuzzing what name servers and resolvers send the DNSSEC probe
/// (proptest, stable toolchain): any bytes as an answer, a signed zone's
/// answers through the wire and then mutated, and floods of keys and
/// signatures. Decoding and the cryptography are hickory's; the RRsets
/// picked out of an answer, the bounded verification and the judgement of
/// a server are ours. Long run:
/// `PROPTEST_CASES=200000 cargo test --release -p v6audit-agent --lib fuzz`.
#[cfg(test)]
mod fuzz {
    use std::net::Ipv6Addr;

    use hickory_proto::dnssec::crypto::EcdsaSigningKey;
    use hickory_proto::dnssec::{Algorithm, DigestType, DnssecSigner, SigningKey as _};
    use hickory_proto::rr::RecordSet;
    use hickory_proto::rr::rdata::SOA;
    use proptest::prelude::*;

    use super::*;

    const ZONE: &str = "example.gov.vn";

    /// The most one case may take; a flood of keys and signatures must not
    /// come near it (KeyTrap).
    const CASE_LIMIT: Duration = Duration::from_secs(1);

    /// Cases per target: `PROPTEST_CASES` when it is set, else `default`.
    fn config(default: u32) -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = default;
        }
        config
    }

    /// A signed zone's answers: its DNSKEY set and its SOA, each with an
    /// RRSIG by its one key, and the DS of that key.
    #[derive(Clone)]
    struct Signed {
        zone: Name,
        key: DNSKEY,
        ds: DS,
        /// The SOA record and a good signature over it.
        soa: Record,
        soa_sig: RRSIG,
        keys_msg: Message,
        soa_msg: Message,
    }

    fn sign() -> Signed {
        let zone = fqdn(ZONE).unwrap();
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).unwrap();
        let signing = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256).unwrap();
        let key = DNSKEY::from_key(&signing.to_public_key().unwrap());
        let signer = DnssecSigner::new(
            key.clone(),
            Box::new(signing),
            zone.clone(),
            Duration::from_secs(30 * 86_400),
        );
        let inception = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        let signature = |record: &Record| {
            let mut set = RecordSet::new(zone.clone(), record.record_type(), 1);
            set.insert(record.clone(), 1);
            RRSIG::from_rrset(&set, DNSClass::IN, inception, &signer).unwrap()
        };
        let as_record = |sig: RRSIG| {
            Record::from_rdata(zone.clone(), 3600, RData::DNSSEC(DNSSECRData::RRSIG(sig)))
        };
        let key_record = Record::from_rdata(
            zone.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::DNSKEY(key.clone())),
        );
        let soa = Record::from_rdata(
            zone.clone(),
            3600,
            RData::SOA(SOA::new(
                zone.clone(),
                zone.clone(),
                1,
                3600,
                600,
                86_400,
                60,
            )),
        );
        let soa_sig = signature(&soa);
        let response = |answers: Vec<Record>| {
            let mut m = Message::new(1, MessageType::Response, OpCode::Query);
            m.metadata.authoritative = true;
            m.answers = answers;
            m
        };
        let keys_msg = response(vec![key_record.clone(), as_record(signature(&key_record))]);
        let soa_msg = response(vec![soa.clone(), as_record(soa_sig.clone())]);
        let digest = key.to_digest(&zone, DigestType::SHA256).unwrap();
        let ds = DS::new(
            key.calculate_key_tag().unwrap(),
            key.algorithm(),
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        );
        Signed {
            zone,
            key,
            ds,
            soa,
            soa_sig,
            keys_msg,
            soa_msg,
        }
    }

    thread_local! {
        /// Signed once per test thread: key generation is not what is fuzzed.
        static SIGNED: Signed = sign();
    }

    fn signed() -> Signed {
        SIGNED.with(Signed::clone)
    }

    fn server() -> DnssecServer {
        DnssecServer {
            name: format!("ns1.{ZONE}"),
            family: Family::V6,
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: 53,
            served: DnssecServed::NoAnswer,
            key_tags: Vec::new(),
            error: None,
            ms: 0,
        }
    }

    /// The walks a server is judged against: 0 insecure, 1 secure by the
    /// key's DS, 2 secure with the key as the anchor's, 3 secure by the DS
    /// of another key.
    fn walk(kind: u8, s: &Signed) -> Walk {
        let mut other = s.ds.clone();
        if kind == 3 {
            let mut digest = s.ds.digest().to_vec();
            digest[0] ^= 0xff;
            other = DS::new(s.ds.key_tag(), s.ds.algorithm(), s.ds.digest_type(), digest);
        }
        Walk {
            anchor: String::new(),
            chain: if kind == 0 {
                DnssecChain::Insecure
            } else {
                DnssecChain::Secure
            },
            insecure_at: None,
            ds: match kind {
                1 => vec![s.ds.clone()],
                3 => vec![other],
                _ => Vec::new(),
            },
            anchor_keys: if kind == 2 {
                vec![s.key.clone()]
            } else {
                Vec::new()
            },
            error: None,
        }
    }

    /// Judges a server that sent these answers, on the clock.
    fn judge(
        keys_msg: Message,
        soa_msg: Message,
        walk: &Walk,
    ) -> Result<DnssecServer, TestCaseError> {
        let start = Instant::now();
        let fetched = Fetched {
            out: server(),
            answers: Some((keys_msg, soa_msg)),
        };
        let out = judge_server(fetched, ZONE, walk);
        let took = start.elapsed();
        prop_assert!(took < CASE_LIMIT, "judge_server took {took:?}");
        prop_assert!(
            out.served != DnssecServed::NoAnswer,
            "answers were given: {:?}",
            out
        );
        prop_assert_eq!(
            out.served == DnssecServed::Bogus,
            out.error.is_some(),
            "{:?}",
            out
        );
        Ok(out)
    }

    /// Whatever an answer holds, the RRsets picked out of it and their
    /// verification by the keys it carries stay bounded.
    fn pick_and_verify(msg: &Message, zone: &Name) -> Result<(), TestCaseError> {
        let start = Instant::now();
        for rtype in [RecordType::DNSKEY, RecordType::SOA, RecordType::DS] {
            let (records, sigs) = rrset(msg, zone, rtype);
            for r in &records {
                prop_assert_eq!(r.record_type(), rtype);
                prop_assert!(r.name.to_lowercase() == zone.to_lowercase());
            }
            for (i, r) in records.iter().enumerate() {
                prop_assert!(
                    !records[..i].iter().any(|k| k.data == r.data),
                    "a duplicate kept"
                );
            }
            let keys = dnskeys(&rrset(msg, zone, RecordType::DNSKEY).0);
            if let Err(why) = verify(zone, &records, &sigs, &keys, zone) {
                // A signature's keys may each add a reason after the limit is near.
                prop_assert!(
                    why.split("; ").count() <= MAX_REASONS + MAX_KEYS_PER_SIG,
                    "{why}"
                );
            }
        }
        let took = start.elapsed();
        prop_assert!(took < CASE_LIMIT, "rrset and verify took {took:?}");
        Ok(())
    }

    /// A message whose header is well formed and whose counts claim
    /// records, then any bytes: decoding goes further than from noise.
    fn answer_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..4096),
            (
                any::<u16>(),
                prop::collection::vec(0u8..4, 8),
                prop::collection::vec(any::<u8>(), 0..4096),
            )
                .prop_map(|(id, counts, rest)| {
                    let mut b = id.to_be_bytes().to_vec();
                    b.extend_from_slice(&[0x84, 0x00]);
                    b.extend_from_slice(&counts);
                    b.extend_from_slice(&rest);
                    b
                }),
        ]
    }

    proptest! {
        #![proptest_config(config(256))]

        /// Any bytes as the answers of a name server or a resolver.
        #[test]
        fn dnssec_answers_survive_arbitrary_bytes(
            keys in answer_bytes(),
            soa in answer_bytes(),
            kind in 0u8..4,
            top in "[a-z.]{0,20}",
            below in "[a-z.]{0,40}",
        ) {
            let s = signed();
            let (keys, soa) = (Message::from_vec(&keys), Message::from_vec(&soa));
            if let Ok(m) = &keys {
                pick_and_verify(m, &s.zone)?;
            }
            if let (Ok(k), Ok(a)) = (keys, soa) {
                judge(k, a, &walk(kind, &s))?;
            }
            let _ = names_below(&top, &below);
        }
    }

    proptest! {
        // Each case verifies up to a few ECDSA signatures.
        #![proptest_config(config(128))]

        /// A signed zone's answers read back from the wire validate against
        /// every walk they should (and not against the DS of another key);
        /// mutated (bytes changed, the message cut, records doubled), they
        /// are still judged, in time.
        #[test]
        fn dnssec_signed_answers_round_trip_and_survive_mutation(
            kind in 0u8..4,
            flips in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in prop::option::of((any::<bool>(), any::<prop::sample::Index>())),
            doubled in 0usize..20,
        ) {
            let s = signed();
            let mut keys_wire = s.keys_msg.to_vec().unwrap();
            let mut soa_wire = s.soa_msg.to_vec().unwrap();
            let out = judge(
                Message::from_vec(&keys_wire).unwrap(),
                Message::from_vec(&soa_wire).unwrap(),
                &walk(kind, &s),
            )?;
            let want = if kind == 3 { DnssecServed::Bogus } else { DnssecServed::Valid };
            prop_assert_eq!(out.served, want, "{:?}", out.error);
            prop_assert_eq!(out.key_tags, vec![s.ds.key_tag()]);

            for (in_keys, at, byte) in &flips {
                let wire = if *in_keys { &mut keys_wire } else { &mut soa_wire };
                let i = at.index(wire.len());
                wire[i] = *byte;
            }
            if let Some((in_keys, at)) = cut {
                let wire = if in_keys { &mut keys_wire } else { &mut soa_wire };
                wire.truncate(at.index(wire.len() + 1));
            }
            if let (Ok(mut k), Ok(mut a)) = (Message::from_vec(&keys_wire), Message::from_vec(&soa_wire)) {
                // Records doubled: the RRset keeps each once.
                let (kc, ac) = (k.answers.clone(), a.answers.clone());
                for _ in 0..doubled {
                    k.answers.extend(kc.iter().cloned());
                    a.answers.extend(ac.iter().cloned());
                }
                pick_and_verify(&k, &s.zone)?;
                pick_and_verify(&a, &s.zone)?;
                judge(k, a, &walk(kind, &s))?;
            }
        }

        /// A flood of signatures that do not verify, by keys that match
        /// their tag, duplicated: given up after a bounded number of checks,
        /// with a bounded list of reasons; one good signature among them
        /// still verifies when it comes before the limit.
        #[test]
        fn dnssec_verify_is_bounded_under_a_flood(
            bad in 0usize..300,
            copies in 1usize..50,
            good_at in prop::option::of(any::<prop::sample::Index>()),
        ) {
            let s = signed();
            let mut forged = s.soa_sig.sig().to_vec();
            forged[0] ^= 0x55;
            let forged = RRSIG::from_sig(s.soa_sig.input().clone(), forged);
            let mut sigs: Vec<RRSIG> = std::iter::repeat_n(forged, bad).collect();
            let good = good_at.map(|at| at.index(bad + 1));
            if let Some(i) = good {
                sigs.insert(i, s.soa_sig.clone());
            }
            let keys: Vec<DNSKEY> = std::iter::repeat_n(s.key.clone(), copies).collect();
            let start = Instant::now();
            let result = verify(&s.zone, std::slice::from_ref(&s.soa), &sigs, &keys, &s.zone);
            let took = start.elapsed();
            prop_assert!(took < CASE_LIMIT, "{took:?} for {} signatures", sigs.len());
            match result {
                Ok(tag) => {
                    prop_assert_eq!(tag, s.ds.key_tag());
                    prop_assert!(good.is_some(), "a forged signature verified");
                }
                Err(why) => {
                    prop_assert!(good != Some(0), "the first signature is good: {why}");
                    prop_assert!(why.split("; ").count() <= MAX_REASONS + MAX_KEYS_PER_SIG, "{why}");
                }
            }
        }
    }
}
