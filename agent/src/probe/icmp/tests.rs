//! The echo's tests: replies matched to their echoes, on one socket, timed by the kernel.

use super::socket::ECHO_REPLY;
use super::*;

#[test]
fn a_reply_is_read_for_its_sequence_and_nonce_only_when_it_is_ours() {
    let mut r = request(7, 2, 99);
    r[0] = ECHO_REPLY;
    assert_eq!(reply_of(&r, EchoSocket::Raw, 7), Some((2, 99)));
    assert_eq!(reply_of(&r, EchoSocket::Raw, 8), None, "another identifier");
    assert_eq!(
        reply_of(&r, EchoSocket::Datagram, 8),
        Some((2, 99)),
        "the kernel sets a ping socket's identifier"
    );
    assert_eq!(
        reply_of(&request(7, 2, 99), EchoSocket::Raw, 7),
        None,
        "our own request"
    );
    assert_eq!(reply_of(&r[..20], EchoSocket::Raw, 7), None, "cut short");
    let mut other = r.clone();
    other[8] = b'x';
    assert_eq!(
        reply_of(&other, EchoSocket::Raw, 7),
        None,
        "another program's echo"
    );
}

#[tokio::test]
async fn a_reply_reaches_only_the_echo_that_waits_for_it_from_that_address() {
    let sock = UdpSocket::bind("[::1]:0").await.unwrap();
    let shared = Shared {
        sock,
        kind: EchoSocket::Raw,
        id: 7,
        next_nonce: AtomicU64::new(0),
        waiting: Mutex::default(),
    };
    let portal: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let (tx, mut rx) = oneshot::channel();
    shared.waiting().insert(
        99,
        Waiter {
            from: portal,
            seq: 2,
            tx,
        },
    );
    let mut reply = request(7, 2, 99);
    reply[0] = ECHO_REPLY;
    let now = Arrival {
        stamped: None,
        read: Instant::now(),
    };
    // The right nonce from another address, or to another request: not it.
    shared.dispatch(&reply, Some("2001:db8::2".parse().unwrap()), Some(64), now);
    shared.dispatch(&reply, None, Some(64), now);
    let mut later = request(7, 3, 99);
    later[0] = ECHO_REPLY;
    shared.dispatch(&later, Some(portal), Some(64), now);
    assert!(rx.try_recv().is_err());
    shared.dispatch(&reply, Some(portal), Some(57), now);
    assert!(matches!(rx.try_recv(), Ok(Heard::Reply(_, Some(57)))));
    assert!(shared.waiting().is_empty());
}

#[tokio::test]
async fn loopback_answers_or_the_missing_permission_is_named() {
    let reach = Routes {
        ipv6_loopback: true,
        ..Routes::default()
    };
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
    let reach = Routes {
        ipv6_loopback: true,
        ..Routes::default()
    };
    let pinger = Pinger::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let echoes = (0..64).map(|_| pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach));
    let probes = futures_util::future::join_all(echoes).await;
    if probes[0].outcome == EchoOutcome::NoPermission {
        assert!(std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none());
        return;
    }
    for p in &probes {
        // One request each: no reply went to another echo, none was lost.
        assert_eq!((p.outcome, p.sent), (EchoOutcome::Reply, 1), "{p:?}");
    }
    let Slot::Open(shared, _) = &*pinger.slot.lock().unwrap() else {
        panic!("the socket is not open: {pinger:?}");
    };
    assert!(shared.waiting().is_empty(), "every entry is removed");
}

#[tokio::test(flavor = "current_thread")]
async fn a_busy_agent_does_not_lengthen_the_round_trip() {
    let reach = Routes {
        ipv6_loopback: true,
        ..Routes::default()
    };
    let pinger = Pinger::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    // A first echo opens the socket, and the reactor has seen it
    // writable: the next request goes out at its echo's first poll.
    let first = pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach).await;
    if first.outcome == EchoOutcome::NoPermission {
        assert!(std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none());
        return;
    }
    let echo = pinger.echo(Ipv6Addr::LOCALHOST, deadline, &reach);
    // Then the only thread is busy for 300 ms before the reply can be read.
    let busy = async { std::thread::sleep(Duration::from_millis(300)) };
    let (p, ()) = tokio::join!(echo, busy);
    assert_eq!(p.outcome, EchoOutcome::Reply, "{p:?}");
    assert!(p.rtt_ms.is_some_and(|ms| ms < 100.0), "{p:?}");
}
