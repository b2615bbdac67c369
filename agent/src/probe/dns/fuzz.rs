//! Fuzzing what the agent makes of the answers name servers send it
//! directly (proptest, stable toolchain): any bytes, and answers built from
//! their parts, then mutated, read as the answer to the zone's SOA
//! question: whether it answers that question, the AA bit, the serial, the
//! outcome. Decoding is hickory's; the wire and its TCP framing are
//! `probe::wire`'s, fuzzed there, whose answers and helpers are used here.
//! Long run:
//! `PROPTEST_CASES=200000 cargo test --release -p v6audit-agent --lib fuzz`.

use std::net::Ipv6Addr;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::probe::wire::fuzz::{answer, config, framed};
use crate::probe::wire::read_answer;

fn query() -> NsQuery {
    NsQuery {
        family: Family::V6,
        addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        port: 53,
        transport: DnsTransport::Udp,
        outcome: DnsOutcome::NotAsked,
        authoritative: false,
        soa_serial: None,
        error: None,
        ms: 0,
    }
}

/// What any answer read promises.
fn check(q: &NsQuery, id: u16, msg: &Message) -> Result<(), TestCaseError> {
    if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
        prop_assert_eq!(q.outcome, DnsOutcome::Error);
        prop_assert!(!q.authoritative && q.soa_serial.is_none());
    }
    if q.outcome == DnsOutcome::Ok {
        prop_assert!(q.soa_serial.is_some());
    }
    prop_assert_eq!(q.outcome == DnsOutcome::Error, q.error.is_some(), "{:?}", q);
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes as a UDP answer and as a TCP stream: never a panic,
    /// and what decodes is read consistently.
    #[test]
    fn dns_answer_survives_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        id in any::<u16>(),
    ) {
        let start = Instant::now();
        if let Ok(msg) = read_answer(&bytes) {
            let mut q = query();
            read_soa_answer(&mut q, id, &msg);
            check(&q, id, &msg)?;
        }
        if let Ok(msg) = framed(&bytes) {
            let mut q = query();
            read_soa_answer(&mut q, id, &msg);
            check(&q, id, &msg)?;
        }
        prop_assert!(start.elapsed() < Duration::from_secs(1));
    }

    /// An answer built from its parts reads back through the wire as
    /// what it says: the question it answers, the AA bit, the first SOA
    /// of the answer section, the outcome of its response code. Then,
    /// mutated (a byte changed, the message cut, the TCP length wrong),
    /// it is still read without a panic.
    #[test]
    fn dns_answer_round_trips_and_survives_mutation(
        (msg, rcode) in answer(),
        asked_other in prop::bool::weighted(0.1),
        flip in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        length in any::<u16>(),
    ) {
        let wire = msg.to_vec().unwrap();
        let asked = if asked_other { msg.metadata.id.wrapping_add(1) } else { msg.metadata.id };
        let read = read_answer(&wire).map_err(|e| TestCaseError::fail(e.1))?;

        let mut q = query();
        read_soa_answer(&mut q, asked, &read);
        check(&q, asked, &read)?;
        let matches = !asked_other && msg.metadata.message_type == MessageType::Response;
        if matches {
            let serial = msg.answers.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            });
            prop_assert_eq!(q.authoritative, msg.metadata.authoritative);
            prop_assert_eq!(q.soa_serial, serial);
            let want = match rcode {
                0 if serial.is_some() => DnsOutcome::Ok,
                0 => DnsOutcome::NoData,
                2 => DnsOutcome::ServFail,
                3 => DnsOutcome::NxDomain,
                5 => DnsOutcome::Refused,
                _ => DnsOutcome::Error,
            };
            prop_assert_eq!(q.outcome, want);
        } else {
            prop_assert_eq!(q.error.as_deref(), Some("the answer does not match the question"));
        }

        let mut mutated = wire;
        for (at, byte) in &flip {
            let i = at.index(mutated.len());
            mutated[i] = *byte;
        }
        mutated.truncate(cut.index(mutated.len() + 1));
        if let Ok(m) = read_answer(&mutated) {
            let mut q = query();
            read_soa_answer(&mut q, asked, &m);
            check(&q, asked, &m)?;
        }
        let mut tcp = length.to_be_bytes().to_vec();
        tcp.extend_from_slice(&mutated);
        if let Ok(m) = framed(&tcp) {
            let mut q = query();
            read_soa_answer(&mut q, asked, &m);
            check(&q, asked, &m)?;
        }
    }
}
