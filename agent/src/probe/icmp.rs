//! ICMPv6 probe: echo requests to a portal's IPv6 addresses, recording the
//! round-trip time and the hop limit the reply arrived with. It sends on a
//! raw ICMPv6 socket (root or CAP_NET_RAW), else on an unprivileged ICMP
//! datagram ("ping") socket where `net.ipv4.ping_group_range` allows one,
//! else records that it may not. Information only: a portal may block ping
//! and serve the web perfectly well.
//!
//! Sockets come from socket2. Tokio drives them through a `UdpSocket` made
//! from the socket's owned descriptor (tokio only polls the descriptor for
//! readiness; `AsyncFd::new` is deprecated and its replacement is unsafe).
//! Replies are read with nix's `recvmsg`, which hands over the
//! `IPV6_HOPLIMIT` control message without unsafe code here.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use v6audit_model::{EchoOutcome, EchoProbe, EchoSocket};

use crate::net::Routes;

/// At most this many of a portal's IPv6 addresses are pinged.
pub const MAX_ADDRESSES: usize = 4;
/// Echo requests per address, each waited for at most [`WAIT`].
pub const REQUESTS: u32 = 3;
/// The most an echo request waits for its reply, within the deadline.
pub const WAIT: Duration = Duration::from_secs(1);

const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const MAGIC: &[u8; 8] = b"v6audit\0";

/// Identifiers for raw sockets, which see every echo reply to this host.
static NEXT_ID: AtomicU16 = AtomicU16::new(0);

enum Opened {
    Ready(UdpSocket, EchoSocket),
    NoPermission,
    Failed(String),
}

fn open() -> Opened {
    for (ty, kind) in [
        (Type::RAW, EchoSocket::Raw),
        (Type::DGRAM, EchoSocket::Datagram),
    ] {
        match Socket::new(Domain::IPV6, ty, Some(Protocol::ICMPV6)) {
            Ok(s) => {
                if let Err(e) = s.set_nonblocking(true) {
                    return Opened::Failed(e.to_string());
                }
                // Without it the reply's hop limit is unknown; the echo still works.
                let _ = s.set_recv_hoplimit_v6(true);
                let owned = std::os::fd::OwnedFd::from(s);
                return match UdpSocket::from_std(std::net::UdpSocket::from(owned)) {
                    Ok(sock) => Opened::Ready(sock, kind),
                    Err(e) => Opened::Failed(e.to_string()),
                };
            }
            // EPERM, EACCES: not allowed this kind of socket; try the next.
            Err(e) if matches!(e.raw_os_error(), Some(1 | 13)) => {}
            Err(e) => return Opened::Failed(e.to_string()),
        }
    }
    Opened::NoPermission
}

/// One datagram and the hop limit it came with.
fn receive(sock: &UdpSocket) -> io::Result<(Vec<u8>, Option<u8>)> {
    let mut buf = [0u8; 1500];
    let mut cmsg = nix::cmsg_space!(nix::libc::c_int);
    let (n, hop) = {
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<SockaddrIn6>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let mut hop = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::Ipv6HopLimit(h) = c {
                    hop = u8::try_from(h).ok();
                }
            }
        }
        (msg.bytes, hop)
    };
    Ok((buf[..n.min(buf.len())].to_vec(), hop))
}

fn request(id: u16, seq: u16, nonce: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(24);
    // Type, code, checksum (the kernel fills it in for ICMPv6 sockets).
    p.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(MAGIC);
    p.extend_from_slice(&nonce.to_be_bytes());
    p
}

/// Whether a datagram is the reply to our request. A ping socket's kernel
/// sets the identifier itself, so only a raw socket checks it.
fn is_reply(d: &[u8], kind: EchoSocket, id: u16, seq: u16, nonce: u64) -> bool {
    d.len() >= 24
        && d[0] == ECHO_REPLY
        && d[1] == 0
        && (kind == EchoSocket::Datagram || d[4..6] == id.to_be_bytes())
        && d[6..8] == seq.to_be_bytes()
        && &d[8..16] == MAGIC
        && d[16..24] == nonce.to_be_bytes()
}

fn probe(addr: Ipv6Addr, outcome: EchoOutcome, error: Option<String>) -> EchoProbe {
    EchoProbe {
        addr: IpAddr::V6(addr),
        outcome,
        sent: 0,
        rtt_ms: None,
        hop_limit: None,
        socket: None,
        error,
    }
}

/// Pings one address: up to [`REQUESTS`] requests, by the deadline.
// Long because one socket sends each request and waits for its reply, and any failure ends it.
pub async fn echo(addr: Ipv6Addr, deadline: tokio::time::Instant, reach: &Routes) -> EchoProbe {
    if !reach.can_reach(IpAddr::V6(addr)) {
        return probe(
            addr,
            EchoOutcome::NoVantage,
            Some("this vantage has no IPv6".to_owned()),
        );
    }
    if addr.to_ipv4_mapped().is_some() {
        return probe(
            addr,
            EchoOutcome::Error,
            Some("an IPv4-mapped address is not reached over ICMPv6".to_owned()),
        );
    }
    let (fd, kind) = match open() {
        Opened::Ready(fd, kind) => (fd, kind),
        Opened::NoPermission => {
            return probe(
                addr,
                EchoOutcome::NoPermission,
                Some("no permission to send ICMPv6 (run as root or grant CAP_NET_RAW)".to_owned()),
            );
        }
        Opened::Failed(e) => return probe(addr, EchoOutcome::Error, Some(e)),
    };
    let mut result = probe(addr, EchoOutcome::NoReply, None);
    result.socket = Some(kind);
    // Replies from other addresses are not delivered to a connected socket.
    if let Err(e) = fd.connect(SocketAddr::new(IpAddr::V6(addr), 0)).await {
        result.outcome = EchoOutcome::Error;
        result.error = Some(e.to_string());
        return result;
    }
    let id = NEXT_ID
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(std::process::id() as u16);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    for seq in 1..=REQUESTS as u16 {
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        let sent_at = Instant::now();
        match tokio::time::timeout_at(deadline, fd.send(&request(id, seq, nonce))).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                result.outcome = EchoOutcome::Error;
                result.error = Some(e.to_string());
                return result;
            }
            Err(_) => break,
        }
        result.sent += 1;
        let wait_until = (tokio::time::Instant::now() + WAIT).min(deadline);
        loop {
            let Ok(ready) = tokio::time::timeout_at(wait_until, fd.readable()).await else {
                break;
            };
            if let Err(e) = ready {
                result.outcome = EchoOutcome::Error;
                result.error = Some(e.to_string());
                return result;
            }
            match fd.try_io(Interest::READABLE, || receive(&fd)) {
                Ok((d, hop)) if is_reply(&d, kind, id, seq, nonce) => {
                    result.outcome = EchoOutcome::Reply;
                    result.rtt_ms =
                        Some((sent_at.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
                    result.hop_limit = hop;
                    return result;
                }
                // Someone else's echo, our own request seen on loopback, an error report.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    result.outcome = EchoOutcome::Error;
                    result.error = Some(e.to_string());
                    return result;
                }
            }
        }
    }
    result.error = Some(format!(
        "no echo reply to {} request(s) in {} ms each",
        result.sent,
        WAIT.as_millis()
    ));
    result
}

/// Pings each of the first [`MAX_ADDRESSES`] IPv6 addresses, at once.
pub async fn echo_all(
    addrs: &[IpAddr],
    deadline: tokio::time::Instant,
    reach: &Routes,
) -> Vec<EchoProbe> {
    let v6: Vec<Ipv6Addr> = crate::net::ipv6_on_the_wire(addrs)
        .take(MAX_ADDRESSES)
        .collect();
    futures_util::future::join_all(v6.into_iter().map(|a| echo(a, deadline, reach))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_matches_its_request_only() {
        let mut r = request(7, 2, 99);
        r[0] = ECHO_REPLY;
        assert!(is_reply(&r, EchoSocket::Raw, 7, 2, 99));
        assert!(
            !is_reply(&r, EchoSocket::Raw, 8, 2, 99),
            "another identifier"
        );
        assert!(
            is_reply(&r, EchoSocket::Datagram, 8, 2, 99),
            "the kernel sets a ping socket's identifier"
        );
        assert!(!is_reply(&r, EchoSocket::Raw, 7, 3, 99), "another sequence");
        assert!(!is_reply(&r, EchoSocket::Raw, 7, 2, 98), "another nonce");
        assert!(
            !is_reply(&request(7, 2, 99), EchoSocket::Raw, 7, 2, 99),
            "our own request"
        );
        assert!(!is_reply(&r[..20], EchoSocket::Raw, 7, 2, 99), "cut short");
    }

    #[tokio::test]
    async fn loopback_answers_or_the_missing_permission_is_named() {
        let reach = Routes {
            ipv6_loopback: true,
            ..Routes::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let p = echo(Ipv6Addr::LOCALHOST, deadline, &reach).await;
        match p.outcome {
            EchoOutcome::Reply => {
                assert!(p.rtt_ms.is_some_and(|r| r >= 0.0), "{p:?}");
                // Loopback replies leave with the default hop limit, one hop or none.
                assert!(p.hop_limit.is_some_and(|h| h >= 63), "{p:?}");
                assert_eq!(p.sent, 1);
            }
            EchoOutcome::NoPermission => {
                assert!(
                    std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none(),
                    "root may ping: {p:?}"
                );
                assert_eq!(
                    p.error.as_deref(),
                    Some("no permission to send ICMPv6 (run as root or grant CAP_NET_RAW)")
                );
            }
            other => panic!("{other:?}: {p:?}"),
        }
        // A vantage without IPv6 does not try.
        let p = echo(Ipv6Addr::LOCALHOST, deadline, &Routes::default()).await;
        assert_eq!(p.outcome, EchoOutcome::NoVantage);
    }
}
