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
pub(super) const DEST_UNREACHABLE: u8 = 1;
pub(super) const MAGIC: &[u8; 8] = b"v6audit\0";

/// What opening the run's socket came to.
pub(super) enum Opened {
    Ready(Socket, EchoSocket),
    NoPermission,
    Failed(String),
}

/// Room for the replies of a run's echoes in flight (64 portals, 4
/// addresses each, replies of a kilobyte of kernel memory or so) while the
/// receiver waits for a busy runtime: the default of about 200 KiB could
/// drop some. The kernel caps it at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 1 << 20;

pub(super) fn open() -> Opened {
    use nix::libc::{EACCES, EAFNOSUPPORT, EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT};
    match Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)) {
        Ok(s) => return ready(s, EchoSocket::Raw),
        // Not allowed a raw socket: a ping socket may do.
        Err(e) if matches!(e.raw_os_error(), Some(EPERM | EACCES)) => {}
        Err(e) => return Opened::Failed(e.to_string()),
    }
    match Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::ICMPV6)) {
        Ok(s) => ready(s, EchoSocket::Datagram),
        // Denied one, or a kernel without ping sockets: the raw socket's
        // permission is what is missing.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(EPERM | EACCES | EPROTONOSUPPORT | ESOCKTNOSUPPORT | EAFNOSUPPORT)
            ) =>
        {
            Opened::NoPermission
        }
        // Out of descriptors or memory for a moment: tried again at the
        // next echo, not taken for a missing permission for the whole run.
        Err(e) => Opened::Failed(e.to_string()),
    }
}

fn ready(s: Socket, kind: EchoSocket) -> Opened {
    if let Err(e) = s.set_nonblocking(true) {
        return Opened::Failed(e.to_string());
    }
    // Without them the reply's hop limit is unknown, its arrival is when
    // it was read, and a burst may overflow the queue: the echo still works.
    let _ = s.set_recv_hoplimit_v6(true);
    let _ = nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::ReceiveTimestampns, &true);
    let _ = s.set_recv_buffer_size(RECEIVE_BUFFER);
    Opened::Ready(s, kind)
}

/// One classic BPF instruction: code, jump if true, jump if false, constant.
pub(super) type Instruction = (u16, u8, u8, u32);

pub(super) const LD_B_ABS: u16 = 0x30;
pub(super) const LD_H_ABS: u16 = 0x28;
pub(super) const JA: u16 = 0x05;
pub(super) const JEQ_K: u16 = 0x15;
pub(super) const RET_K: u16 = 0x06;

/// The classic BPF program of a raw socket: it passes an echo reply
/// carrying `id`, and a Destination Unreachable quoting one of our
/// requests (the quoted ICMPv6 header starts at 48: 8 bytes of the error's
/// own, then the 40 of the quoted IPv6 header), and drops everything else
/// a raw socket is handed: other programs' echoes, our own requests seen on
/// loopback, neighbour discovery. A raw IPv6 socket's data starts at the
/// ICMPv6 header: the type at offset 0, the identifier at 4. A load past
/// the datagram's end drops it.
pub(super) fn reply_program(id: u16) -> [Instruction; 11] {
    [
        (LD_B_ABS, 0, 0, 0),
        (JEQ_K, 0, 2, u32::from(ECHO_REPLY)),
        (LD_H_ABS, 0, 0, 4),
        (JA, 0, 0, 4),
        (JEQ_K, 0, 5, u32::from(DEST_UNREACHABLE)),
        (LD_B_ABS, 0, 0, 48),
        (JEQ_K, 0, 3, u32::from(ECHO_REQUEST)),
        (LD_H_ABS, 0, 0, 52),
        (JEQ_K, 0, 1, u32::from(id)),
        (RET_K, 0, 0, u32::MAX),
        (RET_K, 0, 0, 0),
    ]
}

/// [`reply_program`] as the socket takes it.
pub(super) fn reply_filter(id: u16) -> Vec<SockFilter> {
    reply_program(id)
        .iter()
        .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
        .collect()
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

/// What a datagram says of one of our requests, by its sequence number
/// and nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// An echo reply.
    Reply { seq: u16, nonce: u64 },
    /// A Destination Unreachable quoting the request sent to `to`, with
    /// its code.
    Refused {
        seq: u16,
        nonce: u64,
        to: Ipv6Addr,
        code: u8,
    },
}

/// The sequence number and nonce of our echo request or reply at the
/// start of `d`, when it carries our mark (and, on a raw socket, `id`: a
/// ping socket's kernel sets the identifier itself).
fn echo_of(d: &[u8], ty: u8, kind: EchoSocket, id: u16) -> Option<(u16, u64)> {
    let ours = d.len() >= 24
        && d[0] == ty
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

/// What the datagram `d` answers of our requests, if anything: an echo
/// reply, or a Destination Unreachable that quotes our request whole (its
/// IPv6 header with no extension, then our echo request).
pub(super) fn answer_of(d: &[u8], kind: EchoSocket, id: u16) -> Option<Answer> {
    if let Some((seq, nonce)) = echo_of(d, ECHO_REPLY, kind, id) {
        return Some(Answer::Reply { seq, nonce });
    }
    const ICMPV6: u8 = 58;
    let quoted = d.get(8..48)?;
    if d[0] != DEST_UNREACHABLE || quoted[0] >> 4 != 6 || quoted[6] != ICMPV6 {
        return None;
    }
    let (seq, nonce) = echo_of(&d[48..], ECHO_REQUEST, kind, id)?;
    let mut to = [0u8; 16];
    to.copy_from_slice(&quoted[24..40]);
    Some(Answer::Refused {
        seq,
        nonce,
        to: Ipv6Addr::from(to),
        code: d[1],
    })
}

/// The pack's word for a Destination Unreachable code (RFC 4443 codes 0
/// to 6, RFC 6554's 7, RFC 8883's 8).
pub(super) fn unreachable_reason(code: u8) -> &'static str {
    match code {
        0 => "icmp.no_route",
        1 => "icmp.prohibited",
        2 => "icmp.beyond_scope",
        3 => "icmp.address_unreachable",
        4 => "icmp.port_unreachable",
        5 => "icmp.source_policy",
        6 => "icmp.reject_route",
        7 => "icmp.source_routing",
        8 => "icmp.headers_too_long",
        _ => "icmp.unknown_code",
    }
}

/// Tries of a send the kernel had no buffer for (ENOBUFS: the interface's
/// queue is full for a moment), a pause before each.
const NO_BUFFER_TRIES: u32 = 4;

/// Sends `request` to `to` once the socket can take it, and says when it
/// went: the moment before the system call, not before the wait for room.
pub(super) async fn send(sock: &UdpSocket, request: &[u8], to: SocketAddr) -> io::Result<Instant> {
    let mut no_buffer = 0;
    loop {
        sock.writable().await?;
        let at = Instant::now();
        match sock.try_send_to(request, to) {
            Ok(_) => return Ok(at),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e)
                if e.raw_os_error() == Some(nix::libc::ENOBUFS)
                    && no_buffer + 1 < NO_BUFFER_TRIES =>
            {
                no_buffer += 1;
                tokio::time::sleep(Duration::from_millis(10 << no_buffer)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
