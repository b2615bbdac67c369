//! Each name server address asked directly, over its own family, for the
//! zone's DNSKEY and SOA with their signatures, and judged against the walk.

use super::*;

/// One name server address asked for the zone's DNSKEY and SOA: the
/// record of the exchange, and the answers to judge once the chain is known.
pub(super) struct ServerAnswers {
    pub(super) out: DnssecServer,
    pub(super) answers: Option<(Message, Message)>,
}

/// Asks one name server address directly for the zone's DNSKEY and SOA;
/// an address the contact policy refuses is recorded and sent nothing.
pub(super) async fn fetch_server(
    reach: &Routes,
    asking: Asking<'_>,
    zone: &str,
    name: String,
    server: SocketAddr,
) -> ServerAnswers {
    let family = Family::of(&server.ip());
    let mut out = DnssecServer {
        name,
        family,
        addr: server.ip(),
        port: server.port(),
        served: DnssecServed::NoAnswer,
        key_tags: Vec::new(),
        error: None,
        why: None,
        ms: 0,
    };
    // The contact policy first, as for the zone's SOA questions.
    if let Some(why) = asking.contact.refuses(server.ip(), asking.internal) {
        out.served = DnssecServed::NotContacted;
        out.error = Some(why);
        return ServerAnswers { out, answers: None };
    }
    if !reach.can_reach(server.ip()) {
        out.served = DnssecServed::NoVantage;
        said(
            &mut out,
            Why::new("vantage.no_family").with("family", family.label()),
        );
        return ServerAnswers { out, answers: None };
    }
    let Ok(apex) = fqdn(zone) else {
        said(&mut out, Why::new("dns.bad_name").with("name", zone));
        return ServerAnswers { out, answers: None };
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
            said(&mut out, e);
            return ServerAnswers { out, answers: None };
        }
    };
    for msg in [&keys_msg, &soa_msg] {
        if msg.metadata.response_code != ResponseCode::NoError {
            let code = msg.metadata.response_code;
            said(&mut out, Why::new("dns.code").with("code", code));
            return ServerAnswers { out, answers: None };
        }
        // A referral or a cached answer is a lame delegation, for
        // dns.ns-v6-answers to report; it says nothing of DNSSEC.
        if !msg.metadata.authoritative {
            said(&mut out, Why::new("dns.not_authoritative"));
            return ServerAnswers { out, answers: None };
        }
    }
    ServerAnswers {
        out,
        answers: Some((keys_msg, soa_msg)),
    }
}

/// Records why a server's answers are not what they should be.
fn said(out: &mut DnssecServer, why: Why) {
    out.error = Some(in_english(&why));
    out.why = Some(why);
}

/// Judges what one name server served against the chain: on a secure chain
/// its key set must be signed by a key the DS (or the anchor) names, and its
/// SOA by one of its keys; elsewhere the keys and SOA must at least verify.
pub(super) fn judge_server(fetched: ServerAnswers, zone: &str, walk: &Walk) -> DnssecServer {
    let ServerAnswers { mut out, answers } = fetched;
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
            said(
                &mut out,
                Why::new("dnssec.served_no_keys")
                    .with("ds_tags", tags_text(ds.iter().map(DS::key_tag))),
            );
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
            let key_tags = tags_text(out.key_tags.iter().copied());
            let why = if walk.anchor_keys.is_empty() {
                Why::new("dnssec.served_ds_mismatch")
                    .with("ds_tags", tags_text(ds.iter().map(DS::key_tag)))
                    .with("key_tags", key_tags)
            } else {
                Why::new("dnssec.served_not_anchor").with("key_tags", key_tags)
            };
            said(&mut out, why);
            return out;
        }
        named
    } else {
        keys.clone()
    };
    if let Err(e) = verify(&apex, &key_records, &key_sigs, &signing, &apex) {
        out.served = DnssecServed::Bogus;
        said(
            &mut out,
            Why::new("dnssec.served_keys_invalid").with_whys("cause", &e),
        );
        return out;
    }
    let (soa_records, soa_sigs) = rrset(&soa_msg, &apex, RecordType::SOA);
    if let Err(e) = verify(&apex, &soa_records, &soa_sigs, &keys, &apex) {
        out.served = DnssecServed::Bogus;
        said(
            &mut out,
            Why::new("dnssec.served_soa_invalid").with_whys("cause", &e),
        );
        return out;
    }
    out.served = DnssecServed::Valid;
    out
}
