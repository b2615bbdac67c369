//! Fuzzing what name servers and resolvers send the DNSSEC probe
//! (proptest, stable toolchain): any bytes as an answer, a signed zone's
//! answers through the wire and then mutated, and floods of keys and
//! signatures. Decoding and the cryptography are hickory's; the RRsets
//! picked out of an answer, the bounded verification and the judgement of
//! a server are ours. Long run:
//! `PROPTEST_CASES=200000 cargo test --release -p v6audit-agent --lib fuzz`.

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
    let as_record =
        |sig: RRSIG| Record::from_rdata(zone.clone(), 3600, RData::DNSSEC(DNSSECRData::RRSIG(sig)));
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
        why: None,
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
fn judge(keys_msg: Message, soa_msg: Message, walk: &Walk) -> Result<DnssecServer, TestCaseError> {
    let start = Instant::now();
    let fetched = ServerAnswers {
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
            prop_assert!(why.len() <= MAX_REASONS + MAX_KEYS_PER_SIG, "{why:?}");
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
                prop_assert!(good != Some(0), "the first signature is good: {why:?}");
                prop_assert!(why.len() <= MAX_REASONS + MAX_KEYS_PER_SIG, "{why:?}");
            }
        }
    }
}
