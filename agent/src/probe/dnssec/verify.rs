//! Checking an RRset's signatures against keys, within the KeyTrap
//! bounds, and the words its reasons use (key tags, signature times).

use super::*;

pub(super) fn tags_text(tags: impl Iterator<Item = u16>) -> String {
    let list: Vec<String> = tags.map(|t| t.to_string()).collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

pub(super) fn dnskeys(records: &[Record]) -> Vec<DNSKEY> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

/// The keys a DS record names (digest over the owner name and the key).
pub(super) fn named_by_ds(zone: &Name, keys: &[DNSKEY], ds: &[DS]) -> Vec<DNSKEY> {
    keys.iter()
        .filter(|k| ds.iter().any(|d| d.covers(zone, k).unwrap_or(false)))
        .cloned()
        .collect()
}

/// The records of one type owned by `name` in the answer, and the RRSIGs over them.
pub(super) fn rrset(msg: &Message, name: &Name, rtype: RecordType) -> (Vec<Record>, Vec<RRSIG>) {
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
pub(super) fn now_serial() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secs as u32
}

pub(super) fn sig_time(serial: u32) -> String {
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
pub(super) fn verify(
    name: &Name,
    records: &[Record],
    sigs: &[RRSIG],
    keys: &[DNSKEY],
    signer: &Name,
) -> Result<u16, Vec<Why>> {
    let rtype = records
        .first()
        .map_or_else(|| "records".to_owned(), |r| r.record_type().to_string());
    if records.is_empty() {
        return Err(vec![Why::new("dnssec.no_records")]);
    }
    if sigs.is_empty() {
        return Err(vec![Why::new("dnssec.no_rrsig").with("rtype", rtype)]);
    }
    let now = now_serial();
    let mut why = Vec::new();
    let mut checks = 0;
    for sig in sigs {
        let input = sig.input();
        if why.len() >= MAX_REASONS {
            break;
        }
        if let Some(reason) = unusable(sig, signer, now) {
            why.push(reason);
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
            why.push(
                Why::new("dnssec.sig_unknown_key")
                    .with("tag", input.key_tag)
                    .with("algorithm", input.algorithm)
                    .with(
                        "keys",
                        tags_text(keys.iter().filter_map(|k| k.calculate_key_tag().ok())),
                    ),
            );
            continue;
        }
        for key in candidates {
            if checks == MAX_CHECKS {
                why.push(Why::new("dnssec.too_many_checks").with("max", MAX_CHECKS));
                return Err(why);
            }
            checks += 1;
            match key.verify_rrsig(name, DNSClass::IN, sig, records.iter()) {
                Ok(()) => return Ok(input.key_tag),
                Err(e) => why.push(
                    Why::new("dnssec.sig_invalid")
                        .with("tag", input.key_tag)
                        .with_why("cause", &Why::new("said").with("text", e)),
                ),
            }
        }
    }
    Err(why)
}

/// Why signature `sig` cannot verify anything `now`, before any key is
/// tried: an algorithm this validator lacks, a signer other than `signer`,
/// or a time outside its validity period. None when it is worth trying.
fn unusable(sig: &RRSIG, signer: &Name, now: u32) -> Option<Why> {
    let input = sig.input();
    if !input.algorithm.is_supported() {
        return Some(
            Why::new("dnssec.sig_algorithm")
                .with("tag", input.key_tag)
                .with("algorithm", input.algorithm),
        );
    }
    if input.signer_name.to_lowercase() != signer.to_lowercase() {
        return Some(
            Why::new("dnssec.sig_signer")
                .with("signer", &input.signer_name)
                .with("expected", signer),
        );
    }
    let expires = input.sig_expiration.get();
    let incepts = input.sig_inception.get();
    if (expires.wrapping_sub(now) as i32) < 0 {
        return Some(
            Why::new("dnssec.sig_expired")
                .with("tag", input.key_tag)
                .with("at", sig_time(expires)),
        );
    }
    if (now.wrapping_sub(incepts) as i32) < 0 {
        return Some(
            Why::new("dnssec.sig_not_yet_valid")
                .with("tag", input.key_tag)
                .with("from", sig_time(incepts)),
        );
    }
    None
}
