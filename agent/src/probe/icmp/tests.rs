//! The echo's tests: replies matched to their echoes, on one socket, timed by the kernel.

use super::socket::{
    DEST_UNREACHABLE, ECHO_REPLY, Instruction, JA, JEQ_K, LD_B_ABS, LD_H_ABS, RET_K, reply_program,
};
use super::*;

/// The routes of a vantage with IPv6 on loopback only.
fn loopback() -> Routes {
    Routes {
        ipv6_loopback: true,
        ..Routes::default()
    }
}

/// Our echo reply as the portal sends it.
fn reply(id: u16, seq: u16, nonce: u64) -> Vec<u8> {
    let mut r = request(id, seq, nonce);
    r[0] = ECHO_REPLY;
    r
}

/// A Destination Unreachable with `code`, quoting `request` as sent to `to`.
fn refusal(code: u8, to: Ipv6Addr, request: &[u8]) -> Vec<u8> {
    let mut d = vec![DEST_UNREACHABLE, code, 0, 0, 0, 0, 0, 0];
    let mut ip = [0u8; 40];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&(request.len() as u16).to_be_bytes());
    ip[6] = 58;
    ip[7] = 64;
    ip[24..40].copy_from_slice(&to.octets());
    d.extend_from_slice(&ip);
    d.extend_from_slice(request);
    d
}

/// What the kernel does with a classic BPF program of the five
/// instructions the filter uses: whether `packet` is passed.
fn passes(program: &[Instruction], packet: &[u8]) -> bool {
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let (code, jt, jf, k) = program[pc];
        let at = k as usize;
        match code {
            LD_B_ABS => match packet.get(at) {
                Some(b) => acc = u32::from(*b),
                None => return false,
            },
            LD_H_ABS => match packet.get(at..at + 2) {
                Some(h) => acc = u32::from(u16::from_be_bytes([h[0], h[1]])),
                None => return false,
            },
            JA => pc += at,
            JEQ_K => pc += usize::from(if acc == k { jt } else { jf }),
            RET_K => return k != 0,
            other => panic!("an instruction the filter does not use: {other:#x}"),
        }
        pc += 1;
    }
}

#[test]
fn the_socket_filter_passes_our_replies_and_refusals_and_nothing_else() {
    let program = reply_program(7);
    let portal: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert!(passes(&program, &reply(7, 1, 99)), "our reply");
    assert!(
        passes(&program, &refusal(1, portal, &request(7, 1, 99))),
        "a refusal of our request"
    );
    assert!(
        !passes(&program, &reply(8, 1, 99)),
        "another program's reply"
    );
    assert!(
        !passes(&program, &request(7, 1, 99)),
        "our request on loopback"
    );
    assert!(
        !passes(&program, &refusal(1, portal, &request(8, 1, 99))),
        "a refusal of another program's request"
    );
    let mut solicitation = vec![135, 0, 0, 0, 0, 0, 0, 0];
    solicitation.extend_from_slice(&portal.octets());
    assert!(!passes(&program, &solicitation), "neighbour discovery");
    assert!(!passes(&program, &[ECHO_REPLY, 0, 0]), "cut short");
    assert!(
        !passes(&program, &refusal(1, portal, &request(7, 1, 99))[..50]),
        "a refusal that quotes too little"
    );
}

#[test]
fn a_datagram_is_read_for_its_sequence_and_nonce_only_when_it_is_ours() {
    let r = reply(7, 2, 99);
    let ours = Some(Answer::Reply { seq: 2, nonce: 99 });
    assert_eq!(answer_of(&r, EchoSocket::Raw, 7), ours);
    assert_eq!(
        answer_of(&r, EchoSocket::Raw, 8),
        None,
        "another identifier"
    );
    assert_eq!(
        answer_of(&r, EchoSocket::Datagram, 8),
        ours,
        "the kernel sets a ping socket's identifier"
    );
    assert_eq!(
        answer_of(&request(7, 2, 99), EchoSocket::Raw, 7),
        None,
        "our own request"
    );
    assert_eq!(answer_of(&r[..20], EchoSocket::Raw, 7), None, "cut short");
    let mut other = r;
    other[8] = b'x';
    assert_eq!(
        answer_of(&other, EchoSocket::Raw, 7),
        None,
        "another program's echo"
    );
    let portal: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        answer_of(&refusal(1, portal, &request(7, 2, 99)), EchoSocket::Raw, 7),
        Some(Answer::Refused {
            seq: 2,
            nonce: 99,
            to: portal,
            code: 1
        })
    );
}

/// A raw socket's shared state (identifier 7) with one echo waiting for
/// the reply of `portal` to its request `seq`, nonce 99; what it hears;
/// and a moment of arrival.
async fn one_waiting(
    portal: Ipv6Addr,
    seq: u16,
) -> (Shared, mpsc::Receiver<(u16, Heard)>, Arrival) {
    let shared = Shared {
        sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        kind: EchoSocket::Raw,
        id: 7,
        waiting: Mutex::default(),
        receiving: AtomicBool::new(true),
    };
    let (tx, rx) = mpsc::channel(REQUESTS as usize);
    let waiter = Waiter {
        to: portal,
        seq,
        tx,
    };
    shared.waiting().insert(99, waiter);
    (shared, rx, Arrival::now(None))
}

#[tokio::test]
async fn a_reply_reaches_only_the_echo_that_waits_for_it_from_that_address() {
    let portal: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let (shared, mut rx, now) = one_waiting(portal, 2).await;
    let ours = reply(7, 2, 99);
    // The right nonce from another address, or to another request: not it.
    shared.dispatch(&ours, Some("2001:db8::2".parse().unwrap()), Some(64), now);
    shared.dispatch(&ours, None, Some(64), now);
    shared.dispatch(&reply(7, 3, 99), Some(portal), Some(64), now);
    assert!(rx.try_recv().is_err());
    // Another nonce, from the right address: not it either.
    shared.dispatch(&reply(7, 2, 98), Some(portal), Some(64), now);
    assert!(rx.try_recv().is_err());
    shared.dispatch(&ours, Some(portal), Some(57), now);
    assert!(matches!(rx.try_recv(), Ok((2, Heard::Reply(_, Some(57))))));
    assert!(shared.waiting().is_empty());
}

#[tokio::test]
async fn a_refusal_from_a_router_ends_the_echo_it_quotes_with_its_reason() {
    let portal: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let router: Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
    let (shared, mut rx, now) = one_waiting(portal, 1).await;
    // Quoting the request as sent to another address: not this echo's.
    let elsewhere = "2001:db8::2".parse().unwrap();
    shared.dispatch(
        &refusal(1, elsewhere, &request(7, 1, 99)),
        Some(router),
        None,
        now,
    );
    assert!(rx.try_recv().is_err());
    shared.dispatch(
        &refusal(1, portal, &request(7, 1, 99)),
        Some(router),
        None,
        now,
    );
    match rx.try_recv() {
        Ok((1, Heard::Refused(why))) => assert_eq!(
            v6audit_rules::render::in_english(&why),
            "destination unreachable from 2001:db8:ffff::1: administratively prohibited (code 1)"
        ),
        other => panic!("the refusal did not reach its echo: {other:?}"),
    }
}

/// Regression: the requests' nonces counted up from one random start, so a
/// portal that saw its own request could guess the nonces of the echoes in
/// flight beside it and end them with forged refusals. Each is drawn anew.
#[test]
fn no_two_requests_share_a_nonce_nor_follow_one_another() {
    let nonces: Vec<u64> = (0..1000).map(|_| random_nonce().unwrap()).collect();
    let mut seen = std::collections::HashSet::new();
    assert!(nonces.iter().all(|n| seen.insert(*n)), "a nonce came twice");
    let steps = nonces
        .windows(2)
        .filter(|w| w[1].wrapping_sub(w[0]) < 1 << 20)
        .count();
    assert!(steps < 5, "{steps} nonces follow the one before");
}

#[test]
fn the_round_trip_is_the_monotonic_clock_less_the_kernels_queue() {
    let sent = Instant::now();
    let read = sent + Duration::from_millis(200);
    let at = |queued| Arrival { read, queued };
    assert_eq!(at(Duration::ZERO).since(sent), Duration::from_millis(200));
    // Read 150 ms after the kernel had it: the round trip was 50 ms.
    assert_eq!(
        at(Duration::from_millis(150)).since(sent),
        Duration::from_millis(50)
    );
    // A wall clock stepped forward between the stamp and the read cannot
    // make the round trip negative, nor longer than the whole.
    assert_eq!(at(Duration::from_secs(3600)).since(sent), Duration::ZERO);
    // A stamp after the read (a clock stepped back): no wait is taken off.
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    assert_eq!(Arrival::now(Some(later)).queued, Duration::ZERO);
}

/// A pinger whose socket a first echo to loopback opened (and the reactor
/// has seen writable), with the deadline of the test's echoes; `None`
/// where the agent may not ping and need not.
async fn opened_pinger() -> Option<(Pinger, tokio::time::Instant)> {
    let pinger = Pinger::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let first = pinger
        .echo(Ipv6Addr::LOCALHOST, deadline, &loopback())
        .await;
    if first.outcome == EchoOutcome::NoPermission {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none(),
            "root may ping: {first:?}"
        );
        return None;
    }
    Some((pinger, deadline))
}

#[tokio::test(flavor = "current_thread")]
async fn an_echo_dropped_while_it_waits_leaves_nothing_waiting() {
    let reach = loopback();
    let Some((pinger, deadline)) = opened_pinger().await else {
        return;
    };
    let shared = match &*pinger.slot.lock().unwrap() {
        Slot::Open(shared, _) => shared.clone(),
        _ => panic!("the socket is not open: {pinger:?}"),
    };
    // Polled once, the echo has sent its request and waits; on the only
    // thread, the receiver cannot have read the reply yet. Then it is
    // dropped, as a portal's budget ending drops it.
    let mut echo = Box::pin(pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach));
    let first_poll = std::future::poll_fn(|cx| std::task::Poll::Ready(echo.as_mut().poll(cx)));
    assert!(first_poll.await.is_pending());
    assert_eq!(shared.waiting().len(), 1, "the request waits");
    drop(echo);
    assert!(
        shared.waiting().is_empty(),
        "a dropped echo left its request"
    );
}

#[test]
fn a_raw_socket_takes_the_filter() {
    match socket::open() {
        socket::Opened::Ready(sock, EchoSocket::Raw) => {
            sock.attach_filter(&socket::reply_filter(7))
                .expect("the kernel takes the filter");
        }
        _ => assert!(
            std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none(),
            "root may open a raw socket"
        ),
    }
}

proptest::proptest! {
    /// Whatever a hostile host sends, reading it neither panics nor takes
    /// it for ours unless it carries our mark.
    #[test]
    fn any_datagram_is_read_without_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
        for kind in [EchoSocket::Raw, EchoSocket::Datagram] {
            if answer_of(&d, kind, 7).is_some() {
                proptest::prop_assert!(d.windows(8).any(|w| w == socket::MAGIC));
            }
        }
    }
}

#[tokio::test]
async fn loopback_answers_or_the_missing_permission_is_named() {
    let reach = loopback();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let pinger = Pinger::default();
    let p = pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach).await;
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
    let p = pinger
        .echo(Ipv6Addr::LOCALHOST, deadline, &Routes::default())
        .await;
    assert_eq!(p.outcome, EchoOutcome::NoVantage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_echoes_at_once_share_one_socket_and_each_hears_its_own_reply() {
    let reach = loopback();
    let pinger = Pinger::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let echoes = (0..64).map(|_| pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach));
    let probes = futures_util::future::join_all(echoes).await;
    if probes[0].outcome == EchoOutcome::NoPermission {
        assert!(std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none());
        return;
    }
    for p in &probes {
        // One request each, each answered: none was lost or left waiting
        // (that a reply reaches only its own echo is the dispatch test's).
        assert_eq!((p.outcome, p.sent), (EchoOutcome::Reply, 1), "{p:?}");
    }
    let Slot::Open(shared, _) = &*pinger.slot.lock().unwrap() else {
        panic!("the socket is not open: {pinger:?}");
    };
    assert!(shared.waiting().is_empty(), "every entry is removed");
}

#[tokio::test(flavor = "current_thread")]
async fn a_busy_agent_does_not_lengthen_the_round_trip() {
    let reach = loopback();
    // Opened: the next request goes out at its echo's first poll.
    let Some((pinger, deadline)) = opened_pinger().await else {
        return;
    };
    // The kernel turns receive stamps on from a work queue after the
    // first socket asks (until then it stamps a datagram when it is
    // read): a loaded machine may take a while to run it, so the busy
    // echo is tried up to five times, a pause before each.
    let mut seen = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let echo = pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach);
        // The only thread is busy for 300 ms before the reply can be read.
        let busy = async { std::thread::sleep(Duration::from_millis(300)) };
        let (p, ()) = tokio::join!(echo, busy);
        assert_eq!(p.outcome, EchoOutcome::Reply, "{p:?}");
        if p.rtt_ms.is_some_and(|ms| ms < 100.0) {
            return;
        }
        seen.push(p);
    }
    panic!("every busy echo took the agent's delay: {seen:?}");
}
