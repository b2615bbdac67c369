//! ICMPv6 probe: echo requests to a portal's IPv6 addresses, recording the
//! round-trip time and the hop limit the reply arrived with. It sends on a
//! raw ICMPv6 socket (root or CAP_NET_RAW), else on an unprivileged ICMP
//! datagram ("ping") socket where `net.ipv4.ping_group_range` allows one,
//! else records that it may not. Information only: a portal may block ping
//! and serve the web perfectly well.
//!
//! One socket serves the whole run ([`Pinger`]): the kernel hands every
//! echo reply to every raw ICMPv6 socket whose address matches, so a socket
//! per portal woke each of the run's sockets for each reply (64 portals in
//! flight on one hosting address made 64 wake-ups of every reply). A
//! receiving task reads the shared socket and hands each reply to the echo
//! that waits for it, by its nonce and source address (each request's
//! nonce is drawn at random: a host that has not seen a request can neither
//! answer nor refuse it); a socket filter lets only echo replies with the
//! run's identifier, and refusals of its requests, through to it.
//!
//! A Destination Unreachable that quotes one of our requests (a firewall's
//! reject, a router without a route) ends that echo at once as no reply,
//! with the refusal's words: it is the portal's network answering, not a
//! lost packet. The socket is not connected, so the kernel reports no such
//! error as a failure to read. A ping socket is not handed them at all: a
//! refusal reads as silence there.
//!
//! The round trip is timed by the kernel: a reply's arrival is the
//! `SO_TIMESTAMPNS` stamp the kernel gives it, not the moment the busy agent
//! got round to reading it (64 portals in flight made loopback echoes look
//! 15 ms long, some 120 ms). The monotonic clock times the whole, less the
//! reply's wait in the queue (the stamp against the wall clock at the read):
//! a clock stepped during the round trip cannot move it, and one stepped
//! between the stamp and the read moves it only within the monotonic whole.
//!
//! Sockets come from socket2. Tokio drives them through a `UdpSocket` made
//! from the socket's owned descriptor (tokio only polls the descriptor for
//! readiness; `AsyncFd::new` is deprecated and its replacement is unsafe).
//! Replies are read with nix's `recvmsg`, which hands over the
//! `IPV6_HOPLIMIT` control message without unsafe code here.

mod socket;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use v6audit_model::{EchoOutcome, EchoProbe, EchoSocket, Why};

use crate::net::Routes;
use socket::{
    Answer, Opened, answer_of, open, receive, reply_filter, request, send, unreachable_reason,
};

/// At most this many of a portal's IPv6 addresses are pinged.
pub const MAX_ADDRESSES: usize = 4;
/// Echo requests per address, each waited for at most [`WAIT`].
pub const REQUESTS: u32 = 3;
/// The most an echo request waits for its reply, within the deadline.
pub const WAIT: Duration = Duration::from_secs(1);

fn probe(addr: Ipv6Addr, outcome: EchoOutcome, error: Option<String>) -> EchoProbe {
    EchoProbe {
        addr: IpAddr::V6(addr),
        outcome,
        sent: 0,
        rtt_ms: None,
        hop_limit: None,
        socket: None,
        error,
        why: None,
    }
}

/// When the system's random generator fails (it does not, in practice).
const NO_RANDOM: &str = "the system's random generator failed";

/// When a reply arrived: when it was read, and how long it had waited in
/// the socket's queue by then (the kernel's receive stamp against the wall
/// clock at the read).
#[derive(Debug, Clone, Copy)]
struct Arrival {
    read: Instant,
    queued: Duration,
}

impl Arrival {
    /// A datagram read now, stamped by the kernel at `stamped`. Only the
    /// moment between the stamp and the read is timed on the wall clock: a
    /// clock stepped during the rest of the round trip cannot move it; one
    /// stepped back between the stamp and the read counts as no wait, one
    /// stepped forward there as at most the whole.
    fn now(stamped: Option<std::time::SystemTime>) -> Self {
        let queued = stamped
            .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
            .unwrap_or(Duration::ZERO);
        Self {
            read: Instant::now(),
            queued,
        }
    }

    /// The round trip of a request sent at `sent`: until it was read, less
    /// its wait in the queue (never more than the whole).
    fn since(&self, sent: Instant) -> Duration {
        let whole = self.read.saturating_duration_since(sent);
        whole - self.queued.min(whole)
    }
}

/// What the receiving task hands an echo.
#[derive(Debug)]
enum Heard {
    /// The reply: when it arrived, and its hop limit.
    Reply(Arrival, Option<u8>),
    /// The request was refused: a Destination Unreachable, as said.
    Refused(Why),
    /// Reading the socket failed, in the system's words.
    Failed(String),
}

/// A request waiting for its answer: to whom it went, its sequence number,
/// and the echo it belongs to.
struct Waiter {
    to: Ipv6Addr,
    seq: u16,
    tx: mpsc::Sender<(u16, Heard)>,
}

/// The run's open socket and the requests waiting on it, by nonce.
struct Shared {
    sock: UdpSocket,
    kind: EchoSocket,
    id: u16,
    waiting: Mutex<HashMap<u64, Waiter>>,
    /// Whether the receiving task still reads the socket.
    receiving: AtomicBool,
}

impl Shared {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiter>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands a datagram to the echo it answers, if one waits for it: a
    /// reply from the address pinged, or a refusal (from any router on the
    /// way) quoting the request sent to it. Each request's nonce is drawn
    /// at random, so no one who has not seen the request can answer it.
    fn dispatch(&self, d: &[u8], from: Option<Ipv6Addr>, hop: Option<u8>, at: Arrival) {
        let (seq, nonce, to, heard) = match answer_of(d, self.kind, self.id) {
            Some(Answer::Reply { seq, nonce }) => (seq, nonce, from, Heard::Reply(at, hop)),
            Some(Answer::Refused {
                seq,
                nonce,
                to,
                code,
            }) => {
                let why = Why::new("echo.unreachable");
                let why = match from {
                    Some(by) => why.with("by", by),
                    None => why.with_why("by", &Why::new("icmp.a_router")),
                };
                let why = why
                    .with_why("reason", &Why::new(unreachable_reason(code)))
                    .with("code", code);
                (seq, nonce, Some(to), Heard::Refused(why))
            }
            None => return,
        };
        let mut waiting = self.waiting();
        let answers = waiting
            .get(&nonce)
            .is_some_and(|w| Some(w.to) == to && w.seq == seq);
        // A request is removed as it is answered, so an echo's channel
        // (room for each of its requests) is never full.
        if answers && let Some(w) = waiting.remove(&nonce) {
            let _ = w.tx.try_send((w.seq, heard));
        }
    }

    /// Tells every waiting echo that the socket failed.
    fn fail_all(&self, why: &str) {
        for (_, w) in self.waiting().drain() {
            let _ = w.tx.try_send((w.seq, Heard::Failed(why.to_owned())));
        }
    }
}

/// Marks the receiver stopped however its task ends (returned, aborted,
/// or panicked), so an echo waiting on it says so instead of silence.
struct Receiving(Arc<Shared>);

impl Drop for Receiving {
    fn drop(&mut self) {
        self.0.receiving.store(false, Ordering::Release);
    }
}

/// Reads the shared socket for as long as the run lasts.
async fn receive_replies(shared: Arc<Shared>) {
    let _receiving = Receiving(shared.clone());
    let mut buf = [0u8; 1500];
    // Failed reads in a row: two are tried again after a pause, each
    // further one fails the echoes then waiting; a good read starts over.
    let mut failures = 0;
    loop {
        if let Err(e) = shared.sock.readable().await {
            shared.fail_all(&e.to_string());
            return;
        }
        match shared
            .sock
            .try_io(Interest::READABLE, || receive(&shared.sock, &mut buf))
        {
            Ok(got) => {
                let at = Arrival::now(got.arrived);
                let n = got.len.min(buf.len());
                shared.dispatch(&buf[..n], got.from, got.hop, at);
                failures = 0;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                failures += 1;
                if failures >= 3 {
                    shared.fail_all(&e.to_string());
                }
                // Not a busy loop on an error that stays.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Eight bytes from the system's generator: a request's nonce.
fn random_nonce() -> Option<u64> {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(u64::from_be_bytes(b))
}

/// An echo's requests among the waiting, removed when the echo stops
/// waiting (answered, timed out, or its portal's budget gone).
struct Expecting<'s> {
    shared: &'s Shared,
    nonces: Vec<u64>,
}

impl Drop for Expecting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.shared.waiting();
        for nonce in &self.nonces {
            waiting.remove(nonce);
        }
    }
}

/// The state of the run's socket.
enum Slot {
    /// Not opened yet, or its receiver stopped (its runtime ended).
    Closed,
    /// Neither kind of socket is permitted: asked once a run.
    Denied,
    Open(Arc<Shared>, tokio::task::AbortHandle),
}

/// The run's ICMPv6 socket, opened at the first echo and shared by every
/// echo of the run (see the module's documentation); its receiving task
/// ends when the pinger is dropped.
pub struct Pinger {
    slot: Mutex<Slot>,
}

impl Default for Pinger {
    fn default() -> Self {
        Self {
            slot: Mutex::new(Slot::Closed),
        }
    }
}

impl std::fmt::Debug for Pinger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.slot.lock().unwrap_or_else(|p| p.into_inner()) {
            Slot::Closed => "closed",
            Slot::Denied => "denied",
            Slot::Open(..) => "open",
        };
        f.debug_struct("Pinger").field("socket", &state).finish()
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        if let Slot::Open(_, task) = &*self.slot.lock().unwrap_or_else(|p| p.into_inner()) {
            task.abort();
        }
    }
}

impl Pinger {
    /// The open socket, opened now if need be; the outcome that stands for
    /// the echo when there is none.
    fn socket(&self) -> Result<Arc<Shared>, (EchoOutcome, String)> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Slot::Open(shared, task) if !task.is_finished() => return Ok(shared.clone()),
            Slot::Denied => return Err(denied()),
            Slot::Open(..) | Slot::Closed => {}
        }
        let (sock, kind) = match open() {
            Opened::Ready(sock, kind) => (sock, kind),
            Opened::NoPermission => {
                *slot = Slot::Denied;
                return Err(denied());
            }
            Opened::Failed(e) => return Err((EchoOutcome::Error, e)),
        };
        let Some(seed) = random_nonce() else {
            return Err((EchoOutcome::Error, NO_RANDOM.to_owned()));
        };
        let id = (seed & 0xffff) as u16;
        if kind == EchoSocket::Raw
            && let Err(e) = sock.attach_filter(&reply_filter(id))
        {
            // Without the filter every datagram still reaches the
            // receiver, which tells them apart anyway.
            tracing::debug!("the ICMPv6 socket filter was not attached: {e}");
        }
        let owned = std::os::fd::OwnedFd::from(sock);
        let sock = UdpSocket::from_std(std::net::UdpSocket::from(owned))
            .map_err(|e| (EchoOutcome::Error, e.to_string()))?;
        let shared = Arc::new(Shared {
            sock,
            kind,
            id,
            waiting: Mutex::default(),
            receiving: AtomicBool::new(true),
        });
        let task = tokio::spawn(receive_replies(shared.clone())).abort_handle();
        if let Slot::Open(_, old) = std::mem::replace(&mut *slot, Slot::Open(shared.clone(), task))
        {
            old.abort();
        }
        Ok(shared)
    }

    /// Pings one address: up to [`REQUESTS`] requests, by the deadline.
    pub async fn echo(
        &self,
        addr: Ipv6Addr,
        deadline: tokio::time::Instant,
        reach: &Routes,
    ) -> EchoProbe {
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
        let shared = match self.socket() {
            Ok(shared) => shared,
            Err((outcome, why)) => return probe(addr, outcome, Some(why)),
        };
        let mut result = probe(addr, EchoOutcome::NoReply, None);
        result.socket = Some(shared.kind);
        let to = SocketAddr::new(IpAddr::V6(addr), 0);
        // Every request stays awaited until the echo ends: a reply later
        // than its wait (a path slower than a second) or a refusal that
        // took its time (neighbour discovery gives up after seconds) still
        // counts, timed from its own request.
        let (tx, mut rx) = mpsc::channel(REQUESTS as usize);
        let mut expecting = Expecting {
            shared: &shared,
            nonces: Vec::with_capacity(REQUESTS as usize),
        };
        let mut sent_at = [None; REQUESTS as usize];
        for seq in 1..=REQUESTS as u16 {
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let Some(nonce) = random_nonce() else {
                result.outcome = EchoOutcome::Error;
                result.error = Some(NO_RANDOM.to_owned());
                return result;
            };
            // Waiting before sending: a reply cannot overtake its entry.
            shared.waiting().insert(
                nonce,
                Waiter {
                    to: addr,
                    seq,
                    tx: tx.clone(),
                },
            );
            expecting.nonces.push(nonce);
            let request = request(shared.id, seq, nonce);
            match tokio::time::timeout_at(deadline, send(&shared.sock, &request, to)).await {
                Ok(Ok(at)) => sent_at[usize::from(seq - 1)] = Some(at),
                Ok(Err(e)) => {
                    result.outcome = EchoOutcome::Error;
                    result.error = Some(e.to_string());
                    return result;
                }
                Err(_) => break,
            }
            result.sent += 1;
            let wait_until = (tokio::time::Instant::now() + WAIT).min(deadline);
            match tokio::time::timeout_at(wait_until, rx.recv()).await {
                Ok(Some((seq, Heard::Reply(at, hop)))) => {
                    result.outcome = EchoOutcome::Reply;
                    if let Some(sent) = sent_at[usize::from(seq - 1)] {
                        let rtt = at.since(sent);
                        result.rtt_ms = Some((rtt.as_secs_f64() * 10_000.0).round() / 10.0);
                    }
                    result.hop_limit = hop;
                    return result;
                }
                // An answer, not a lost packet: not asked again.
                Ok(Some((_, Heard::Refused(why)))) => {
                    result.error = Some(v6audit_rules::render::in_english(&why));
                    result.why = Some(why);
                    return result;
                }
                Ok(Some((_, Heard::Failed(e)))) => {
                    result.outcome = EchoOutcome::Error;
                    result.error = Some(e);
                    return result;
                }
                // No reply in time: the next request, unless no one reads
                // the socket any more (the echo holds a sender, so its
                // channel does not close).
                Ok(None) | Err(_) if !shared.receiving.load(Ordering::Acquire) => {
                    result.outcome = EchoOutcome::Error;
                    result.error = Some("the ICMPv6 receiver stopped".to_owned());
                    return result;
                }
                Ok(None) | Err(_) => {}
            }
        }
        if result.sent == 0 {
            // The portal's time was spent before a request could go: the
            // agent's budget, not the portal's silence.
            let why = Why::new("echo.out_of_time");
            result.outcome = EchoOutcome::Error;
            result.error = Some(v6audit_rules::render::in_english(&why));
            result.why = Some(why);
            return result;
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
        &self,
        addrs: &[IpAddr],
        deadline: tokio::time::Instant,
        reach: &Routes,
    ) -> Vec<EchoProbe> {
        let v6: Vec<Ipv6Addr> = crate::net::ipv6_on_the_wire(addrs)
            .take(MAX_ADDRESSES)
            .collect();
        futures_util::future::join_all(v6.into_iter().map(|a| self.echo(a, deadline, reach))).await
    }
}

fn denied() -> (EchoOutcome, String) {
    (
        EchoOutcome::NoPermission,
        "no permission to send ICMPv6 (run as root or grant CAP_NET_RAW)".to_owned(),
    )
}
