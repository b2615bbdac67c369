//! The chain of trust, walked from the anchor down to the zone through the
//! resolvers: each delegation's DS validated with its parent's keys, each
//! DNSKEY set with a key its DS names; and the questions it asks.

use super::*;

// Long because each label's step needs the keys of the one above and any check ends the walk.
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
            Why::new("dnssec.not_under_anchor")
                .with("zone", zone)
                .with("anchors", anchor.zones_text()),
        );
    };
    let start = start.to_owned();
    let unknown = |e: Why| Walk::ended(shown(&start), DnssecChain::Unknown, e);
    let bogus = |e: Why| Walk::ended(shown(&start), DnssecChain::Bogus, e);
    let ask = |name: Name, rtype: RecordType| async move {
        ask_resolvers(upstreams, timeout, &name, rtype).await
    };

    // The anchor zone's keys: a key of the anchor must sign the DNSKEY set.
    let mut current = fqdn_or_root(&start);
    let msg = match ask(current.clone(), RecordType::DNSKEY).await {
        Ok(m) => m,
        Err(e) => {
            return unknown(
                Why::new("dnssec.no_anchor_dnskey_answer")
                    .with("zone", shown(&start))
                    .with_why("cause", &e),
            );
        }
    };
    let (records, sigs) = rrset(&msg, &current, RecordType::DNSKEY);
    // No keys, or keys without signatures, from a resolver: the resolver
    // (a home router, a forwarder) does not pass DNSSEC records. That is
    // this vantage's limit, not the portal's fault.
    if records.is_empty() || sigs.is_empty() {
        let word = if records.is_empty() {
            "dnssec.anchor_unsigned"
        } else {
            "dnssec.anchor_keys_unsigned"
        };
        return unknown(Why::new(word).with("zone", shown(&start)));
    }
    let anchored: Vec<DNSKEY> = dnskeys(&records)
        .into_iter()
        .filter(|k| anchor.trusts(k, &current))
        .collect();
    if anchored.is_empty() {
        return bogus(
            Why::new("dnssec.anchor_mismatch")
                .with("zone", shown(&start))
                .with("anchor", &anchor.source),
        );
    }
    if let Err(e) = verify(&current, &records, &sigs, &anchored, &current) {
        return bogus(
            Why::new("dnssec.keys_invalid")
                .with("zone", shown(&start))
                .with_whys("cause", &e),
        );
    }
    let mut keys = dnskeys(&records);

    // Down one label at a time: a name with DS is a signed delegation; a
    // name with an SOA but no DS is an unsigned one; any other name is
    // inside the current zone.
    let below: Vec<String> = names_below(&start, zone);
    if below.len() > MAX_DEPTH {
        return unknown(
            Why::new("dnssec.too_deep")
                .with("zone", zone)
                .with("max", MAX_DEPTH),
        );
    }
    for name_text in below {
        let name = match fqdn_why(&name_text) {
            Ok(n) => n,
            Err(e) => return unknown(e),
        };
        let msg = match ask(name.clone(), RecordType::DS).await {
            Ok(m) => m,
            Err(e) => {
                return unknown(
                    Why::new("dnssec.no_ds_answer")
                        .with("name", &name_text)
                        .with_why("cause", &e),
                );
            }
        };
        if name_text == zone && msg.metadata.response_code == ResponseCode::NXDomain {
            return unknown(Why::new("dnssec.not_delegated").with("zone", zone));
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
                    Err(e) => {
                        return unknown(
                            Why::new("dnssec.no_soa_answer")
                                .with("name", &name_text)
                                .with_why("cause", &e),
                        );
                    }
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
            return unknown(Why::new("dnssec.ds_unsigned").with("name", &name_text));
        }
        // RFC 4035 5.2: DS records this validator cannot use do not count;
        // a zone with only such DS records cannot be validated here.
        let usable: Vec<DS> = ds
            .iter()
            .filter(|d| d.algorithm().is_supported() && d.digest_type().is_supported())
            .cloned()
            .collect();
        if usable.is_empty() {
            let algorithms: Vec<Why> = ds
                .iter()
                .map(|d| {
                    Why::new("dnssec.ds_algorithm")
                        .with("algorithm", d.algorithm())
                        .with("digest", format!("{:?}", d.digest_type()))
                })
                .collect();
            return unknown(
                Why::new("dnssec.ds_unsupported")
                    .with("name", &name_text)
                    .with_whys("algorithms", &algorithms),
            );
        }
        if let Err(e) = verify(&name, &ds_records, &ds_sigs, &keys, &current) {
            return Walk {
                ds,
                ..bogus(
                    Why::new("dnssec.ds_invalid")
                        .with("name", &name_text)
                        .with("parent", shown(&crate::resolver::name_text(&current)))
                        .with_whys("cause", &e),
                )
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
            Err(e) => {
                return unknown(
                    Why::new("dnssec.no_dnskey_answer")
                        .with("name", &name_text)
                        .with_why("cause", &e),
                );
            }
        };
        let (records, sigs) = rrset(&msg, &name, RecordType::DNSKEY);
        if sigs.is_empty() && !records.is_empty() {
            return unknown(Why::new("dnssec.dnskey_unsigned").with("name", &name_text));
        }
        let zone_keys = dnskeys(&records);
        let named = named_by_ds(&name, &zone_keys, &ds);
        if named.is_empty() {
            return bogus(
                Why::new("dnssec.ds_mismatch")
                    .with("name", &name_text)
                    .with("ds_tags", tags_text(ds.iter().map(DS::key_tag)))
                    .with(
                        "key_tags",
                        tags_text(zone_keys.iter().filter_map(|k| k.calculate_key_tag().ok())),
                    ),
            );
        }
        if let Err(e) = verify(&name, &records, &sigs, &named, &name) {
            return bogus(
                Why::new("dnssec.keys_invalid")
                    .with("zone", &name_text)
                    .with_whys("cause", &e),
            );
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
) -> Result<Message, Why> {
    let mut last = Why::new("dns.no_resolver");
    for server in upstreams {
        match ask(*server, name, rtype, true, timeout).await {
            Ok(msg) => match msg.metadata.response_code {
                ResponseCode::NoError | ResponseCode::NXDomain => return Ok(msg),
                code => {
                    last = Why::new("dns.answered")
                        .with("server", server)
                        .with("code", code);
                }
            },
            Err((_, e)) => {
                last = Why::new("dns.server_failed")
                    .with("server", server)
                    .with_why("cause", &e)
            }
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
) -> Result<Message, (DnsOutcome, Why)> {
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
        .map_err(|e| (DnsOutcome::Error, failed(DnsOutcome::Error, e.to_string())))?;
    let answer = exchange(server, &wire, timeout)
        .await
        .map(|(m, _)| m)
        .map_err(|(o, e)| (o, failed(o, e)))?;
    if answer.metadata.id != id || answer.metadata.message_type != MessageType::Response {
        return Err((DnsOutcome::Error, Why::new("dns.mismatched_answer")));
    }
    Ok(answer)
}
