//! The chain of trust, walked from the anchor down to the zone through the
//! resolvers: each delegation's DS validated with its parent's keys, each
//! DNSKEY set with a key its DS names; and the questions it asks.

use super::*;

pub(super) async fn walk_chain(
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

pub(super) fn fqdn_or_root(zone: &str) -> Name {
    if zone.is_empty() {
        Name::root()
    } else {
        fqdn(zone).unwrap_or_else(|_| Name::root())
    }
}

/// The names from just below `top` down to `zone`, top first.
pub(super) fn names_below(top: &str, zone: &str) -> Vec<String> {
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

/// Asks the resolvers in turn (recursion desired, DNSSEC OK, checking
/// disabled so a validating resolver hands over what it would reject).
pub(super) async fn ask_resolvers(
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
pub(super) async fn ask(
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
