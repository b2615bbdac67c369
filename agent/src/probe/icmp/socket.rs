//! The ICMPv6 socket and what crosses it: opening one (raw, else an
//! unprivileged ping socket), the filter that lets through only the run's
//! echo replies, an echo request's bytes, and reading a datagram with its
//! source, hop limit and kernel receive stamp.

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::net::UdpSocket;
use v6audit_model::EchoSocket;

pub(super) const ECHO_REQUEST: u8 = 128;
pub(super) const ECHO_REPLY: u8 = 129;
pub(super) const MAGIC: &[u8; 8] = b"v6audit\0";

/// What opening the run's socket came to.
pub(super) enum Opened {
    Ready(Socket, EchoSocket),
    NoPermission,
    Failed(String),
}

pub(super) fn open() -> Opened {
    for (ty, kind) in [
        (Type::RAW, EchoSocket::Raw),
        (Type::DGRAM, EchoSocket::Datagram),
    ] {
        match Socket::new(Domain::IPV6, ty, Some(Protocol::ICMPV6)) {
            Ok(s) => {
                if let Err(e) = s.set_nonblocking(true) {
                    return Opened::Failed(e.to_string());
                }
                // Without them the reply's hop limit is unknown and its
                // arrival is when it was read; the echo still works.
                let _ = s.set_recv_hoplimit_v6(true);
                let _ = nix::sys::socket::setsockopt(
                    &s,
                    nix::sys::socket::sockopt::ReceiveTimestampns,
                    &true,
                );
                return Opened::Ready(s, kind);
            }
            // EPERM, EACCES: not allowed this kind of socket; try the next.
            Err(e) if matches!(e.raw_os_error(), Some(1 | 13)) => {}
            Err(e) => return Opened::Failed(e.to_string()),
        }
    }
    Opened::NoPermission
}

/// A classic BPF program that passes an ICMPv6 echo reply carrying `id`
/// and drops everything else a raw socket is handed: other programs'
/// echoes, our own requests seen on loopback, neighbour discovery. A raw
/// IPv6 socket's data starts at the ICMPv6 header: the type at offset 0,
/// the identifier at 4.
pub(super) fn reply_filter(id: u16) -> [SockFilter; 6] {
    const LD_B_ABS: u16 = 0x30;
    const LD_H_ABS: u16 = 0x28;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    [
        SockFilter::new(LD_B_ABS, 0, 0, 0),
        SockFilter::new(JEQ_K, 0, 3, u32::from(ECHO_REPLY)),
        SockFilter::new(LD_H_ABS, 0, 0, 4),
        SockFilter::new(JEQ_K, 0, 1, u32::from(id)),
        SockFilter::new(RET_K, 0, 0, u32::MAX),
        SockFilter::new(RET_K, 0, 0, 0),
    ]
}

/// A datagram as read: its length, its source, the hop limit it came
/// with and when the kernel received it.
pub(super) struct Datagram {
    pub(super) len: usize,
    pub(super) from: Option<Ipv6Addr>,
    pub(super) hop: Option<u8>,
    pub(super) arrived: Option<std::time::SystemTime>,
}

/// One datagram into `buf`.
pub(super) fn receive(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Datagram> {
    let mut cmsg = nix::cmsg_space!(nix::libc::c_int, nix::libc::timespec);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn6>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let (mut hop, mut arrived) = (None, None);
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6HopLimit(h) => hop = u8::try_from(h).ok(),
                ControlMessageOwned::ScmTimestampns(t) => {
                    let since = Duration::new(
                        u64::try_from(t.tv_sec()).unwrap_or(0),
                        u32::try_from(t.tv_nsec()).unwrap_or(0),
                    );
                    arrived = std::time::UNIX_EPOCH.checked_add(since);
                }
                _ => {}
            }
        }
    }
    Ok(Datagram {
        len: msg.bytes,
        from: msg.address.map(|a| a.ip()),
        hop,
        arrived,
    })
}

pub(super) fn request(id: u16, seq: u16, nonce: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(24);
    // Type, code, checksum (the kernel fills it in for ICMPv6 sockets).
    p.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(MAGIC);
    p.extend_from_slice(&nonce.to_be_bytes());
    p
}

/// The sequence number and nonce of a datagram that is a reply to one of
/// our requests. A ping socket's kernel sets the identifier itself, so
/// only a raw socket checks it.
pub(super) fn reply_of(d: &[u8], kind: EchoSocket, id: u16) -> Option<(u16, u64)> {
    let ours = d.len() >= 24
        && d[0] == ECHO_REPLY
        && d[1] == 0
        && (kind == EchoSocket::Datagram || d[4..6] == id.to_be_bytes())
        && &d[8..16] == MAGIC;
    ours.then(|| {
        let seq = u16::from_be_bytes([d[6], d[7]]);
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&d[16..24]);
        (seq, u64::from_be_bytes(nonce))
    })
}

/// Sends `request` to `to` once the socket can take it, and says when it
/// went: the moment before the system call, not before the wait for room.
pub(super) async fn send(
    sock: &UdpSocket,
    request: &[u8],
    to: SocketAddr,
) -> io::Result<(Instant, std::time::SystemTime)> {
    loop {
        sock.writable().await?;
        let at = (Instant::now(), std::time::SystemTime::now());
        match sock.try_send_to(request, to) {
            Ok(_) => return Ok(at),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}
