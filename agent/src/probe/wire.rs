//! The DNS wire exchange the agent does itself, for the questions it builds
//! (each name server asked for its zone's SOA, the DNSSEC questions with the
//! DO bit): one question to one server, UDP first, then TCP when UDP gets no
//! answer or a truncated one, each bounded, and the answer read off the wire
//! (decoded by hickory-proto, framed by us over TCP). `probe::dns` and
//! `probe::dnssec` both use it; the resolver's lookups go through
//! hickory-resolver instead.

use std::net::SocketAddr;

use hickory_proto::op::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use v6audit_model::{DnsOutcome, DnsTransport};

/// One question to one server: UDP first, then TCP when UDP gets no answer
/// or a truncated one; each bounded by `timeout`.
pub(crate) async fn exchange(
    server: SocketAddr,
    wire: &[u8],
    timeout: std::time::Duration,
) -> Result<(Message, DnsTransport), (DnsOutcome, String)> {
    match tokio::time::timeout(timeout, udp_exchange(server, wire)).await {
        Ok(Ok(msg)) if !msg.metadata.truncation => Ok((msg, DnsTransport::Udp)),
        _ => match tokio::time::timeout(timeout, tcp_exchange(server, wire)).await {
            Ok(r) => r.map(|m| (m, DnsTransport::Tcp)),
            Err(_) => Err((DnsOutcome::Timeout, "no answer over UDP or TCP".to_owned())),
        },
    }
}

/// A query id that differs between questions (not a secret: the source port
/// and the exact question are checked too).
pub(crate) fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (NEXT.fetch_add(0x9e37, Ordering::Relaxed) ^ seed) as u16
}

async fn udp_exchange(server: SocketAddr, wire: &[u8]) -> Result<Message, (DnsOutcome, String)> {
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let io = |e: std::io::Error| (DnsOutcome::Error, e.to_string());
    let sock = UdpSocket::bind(bind).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    sock.send(wire).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut buf).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            (
                DnsOutcome::Error,
                "port unreachable (nothing listens on port 53)".to_owned(),
            )
        } else {
            io(e)
        }
    })?;
    read_answer(&buf[..n])
}

/// An answer as it came off the wire; a malformed one is an error saying why.
pub(crate) fn read_answer(wire: &[u8]) -> Result<Message, (DnsOutcome, String)> {
    Message::from_vec(wire).map_err(|e| (DnsOutcome::Error, format!("malformed answer: {e}")))
}

/// One answer over TCP: a two-byte length, then that many bytes (RFC 1035,
/// 4.2.2). At most 65,535 bytes: the two-byte length bounds the read.
pub(crate) async fn read_framed<R: AsyncRead + Unpin>(
    stream: &mut R,
) -> Result<Message, (DnsOutcome, String)> {
    let io = |e: std::io::Error| (DnsOutcome::Error, e.to_string());
    let mut len_buf = [0u8; 2];
    stream.read_exact(&mut len_buf).await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len_buf))];
    stream.read_exact(&mut buf).await.map_err(io)?;
    read_answer(&buf)
}

async fn tcp_exchange(server: SocketAddr, wire: &[u8]) -> Result<Message, (DnsOutcome, String)> {
    let io = |e: std::io::Error| (DnsOutcome::Error, e.to_string());
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len =
        u16::try_from(wire.len()).map_err(|_| (DnsOutcome::Error, "query too long".to_owned()))?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(wire);
    stream.write_all(&framed).await.map_err(io)?;
    read_framed(&mut stream).await
}

/// Fuzzing the answers name servers send the agent directly, as bytes
/// (proptest, stable toolchain): any bytes as a UDP answer or a TCP stream,
/// and answers built from their parts, through the wire, then mutated.
/// Decoding is hickory's; the framing, and an error for what does not
/// decode, are checked here. What `probe::dns` makes of an answer is fuzzed
/// there, with the answers and the helpers of this module. Long run:
/// `PROPTEST_CASES=200000 cargo test --release -p v6audit-agent --lib fuzz`.
#[cfg(test)]
pub(crate) mod fuzz {
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    use hickory_proto::op::{MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{RData, Record, RecordType};
    use proptest::prelude::*;

    use super::*;
    use crate::resolver::fqdn;

    /// Cases per target: `PROPTEST_CASES` when it is set, else `default`.
    pub(crate) fn config(default: u32) -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = default;
        }
        config
    }

    /// The answer read from a TCP stream of these bytes.
    pub(crate) fn framed(bytes: &[u8]) -> Result<Message, (DnsOutcome, String)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut reader = bytes;
        rt.block_on(read_framed(&mut reader))
    }

    #[derive(Debug, Clone)]
    enum Answer {
        Soa(u32),
        A(u32),
    }

    prop_compose! {
        /// An answer to the SOA question of example.gov.vn, and its response
        /// code: header flags, a response code, SOA and A records in the
        /// answer, maybe an SOA in the authority section (which is not the
        /// zone's serial as an answer).
        pub(crate) fn answer()(
            id in any::<u16>(),
            response in prop::bool::weighted(0.9),
            aa in any::<bool>(),
            tc in any::<bool>(),
            rcode in prop_oneof![Just(0u16), Just(3u16), 0u16..16],
            answers in prop::collection::vec(
                prop_oneof![any::<u32>().prop_map(Answer::Soa), any::<u32>().prop_map(Answer::A)],
                0..4,
            ),
            authority in prop::option::of(any::<u32>()),
        ) -> (Message, u16) {
            let zone = fqdn("example.gov.vn").unwrap();
            let kind = if response { MessageType::Response } else { MessageType::Query };
            let mut msg = Message::new(id, kind, OpCode::Query);
            msg.metadata.authoritative = aa;
            msg.metadata.truncation = tc;
            msg.metadata.response_code = <ResponseCode as From<u16>>::from(rcode);
            msg.add_query(Query::query(zone.clone(), RecordType::SOA));
            let soa = |serial| {
                Record::from_rdata(
                    zone.clone(),
                    3600,
                    RData::SOA(SOA::new(zone.clone(), zone.clone(), serial, 3600, 600, 86_400, 60)),
                )
            };
            for a in &answers {
                msg.answers.push(match a {
                    Answer::Soa(serial) => soa(*serial),
                    Answer::A(bits) => {
                        Record::from_rdata(zone.clone(), 60, RData::A(A(Ipv4Addr::from(*bits))))
                    }
                });
            }
            if let Some(serial) = authority {
                msg.authorities.push(soa(serial));
            }
            (msg, rcode)
        }
    }

    proptest! {
        #![proptest_config(config(256))]

        /// Any bytes as a UDP answer and as a TCP stream: never a panic, an
        /// error saying so for what does not decode, and the bytes framed
        /// with their own length read as they do over UDP.
        #[test]
        fn wire_answer_survives_arbitrary_bytes(
            bytes in prop::collection::vec(any::<u8>(), 0..4096),
        ) {
            let start = Instant::now();
            let udp = read_answer(&bytes);
            if let Err((outcome, error)) = &udp {
                prop_assert_eq!(*outcome, DnsOutcome::Error);
                prop_assert!(error.starts_with("malformed answer: "), "{}", error);
            }
            let _ = framed(&bytes);
            let mut tcp = (bytes.len() as u16).to_be_bytes().to_vec();
            tcp.extend_from_slice(&bytes);
            prop_assert_eq!(framed(&tcp), udp);
            prop_assert!(start.elapsed() < Duration::from_secs(1));
        }

        /// An answer built from its parts reads back the same over UDP and
        /// framed for TCP, bytes after the frame left unread. Mutated (a
        /// byte changed, the message cut, the TCP length wrong), it is still
        /// read without a panic, and a length beyond the bytes sent is an
        /// error, not a wait.
        #[test]
        fn wire_answer_round_trips_and_survives_mutation(
            (msg, _) in answer(),
            flip in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            length in any::<u16>(),
        ) {
            let wire = msg.to_vec().unwrap();
            let read = read_answer(&wire).map_err(|e| TestCaseError::fail(e.1))?;
            let mut tcp = (wire.len() as u16).to_be_bytes().to_vec();
            tcp.extend_from_slice(&wire);
            tcp.extend_from_slice(b"trailing bytes are not read");
            prop_assert_eq!(framed(&tcp).map_err(|e| TestCaseError::fail(e.1))?, read);

            let mut mutated = wire.clone();
            for (at, byte) in &flip {
                let i = at.index(mutated.len());
                mutated[i] = *byte;
            }
            mutated.truncate(cut.index(mutated.len() + 1));
            let _ = read_answer(&mutated);
            let mut tcp = length.to_be_bytes().to_vec();
            tcp.extend_from_slice(&mutated);
            let got = framed(&tcp);
            if usize::from(length) > mutated.len() {
                prop_assert!(got.is_err(), "{} bytes read as {}", mutated.len(), length);
            }
        }
    }
}
