//! TCP probe: connect to one address and port by a deadline, recording the
//! time and the kind of failure (refused, timeout, unreachable, no route), or
//! that this vantage cannot reach the address's family at all; and the
//! latency series (a few connects in a row to one address) that
//! `net.v6-latency` compares between the families.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;
use v6audit_model::{Family, LatencyProbe, TcpOutcome, TcpProbe};

use crate::net::Routes;

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Connects to one address, by the deadline; the outcome is always recorded.
pub async fn connect(
    addr: SocketAddr,
    deadline: tokio::time::Instant,
    reach: &Routes,
) -> (Option<TcpStream>, TcpProbe) {
    if !reach.can_reach(addr.ip()) {
        return (
            None,
            TcpProbe {
                outcome: TcpOutcome::NoVantage,
                ms: 0,
                error: Some(format!(
                    "this vantage has no {}",
                    Family::of(&addr.ip()).label()
                )),
            },
        );
    }
    if tokio::time::Instant::now() >= deadline {
        return (
            None,
            TcpProbe {
                outcome: TcpOutcome::NotTried,
                ms: 0,
                error: Some("the portal's time budget ran out".to_owned()),
            },
        );
    }
    let start = Instant::now();
    match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            // Small requests: do not wait to coalesce them.
            let _ = stream.set_nodelay(true);
            (
                Some(stream),
                TcpProbe {
                    outcome: TcpOutcome::Connected,
                    ms: ms_since(start),
                    error: None,
                },
            )
        }
        Ok(Err(e)) => (
            None,
            TcpProbe {
                outcome: classify_connect_error(&e),
                ms: ms_since(start),
                error: Some(e.to_string()),
            },
        ),
        Err(_) => (
            None,
            TcpProbe {
                outcome: TcpOutcome::Timeout,
                ms: ms_since(start),
                error: Some("no answer to the connection attempt".to_owned()),
            },
        ),
    }
}

/// Connects this many times in a row for the latency series.
pub const LATENCY_ATTEMPTS: usize = 3;

/// Connects to `addr` until the series holds [`LATENCY_ATTEMPTS`] attempts,
/// one after another, closing each connection at once; stops at the first
/// attempt that does not connect (a timeout is not worth waiting for twice).
/// `first` is a connect already made to the address (the endpoint's): it is
/// the series' first attempt, not made again. Each attempt is bounded by
/// `step` and all of them by `deadline`.
pub async fn latency(
    addr: SocketAddr,
    first: Option<TcpProbe>,
    step: std::time::Duration,
    deadline: tokio::time::Instant,
    reach: &Routes,
) -> LatencyProbe {
    let mut attempts = Vec::with_capacity(LATENCY_ATTEMPTS);
    if let Some(first) = first {
        let connected = first.outcome == TcpOutcome::Connected;
        attempts.push(first);
        if !connected {
            return LatencyProbe {
                addr: addr.ip(),
                port: addr.port(),
                attempts,
            };
        }
    }
    while attempts.len() < LATENCY_ATTEMPTS {
        let by = (tokio::time::Instant::now() + step).min(deadline);
        let (stream, probe) = connect(addr, by, reach).await;
        drop(stream);
        let connected = probe.outcome == TcpOutcome::Connected;
        attempts.push(probe);
        if !connected {
            break;
        }
    }
    LatencyProbe {
        addr: addr.ip(),
        port: addr.port(),
        attempts,
    }
}

/// Maps a connect error to its outcome.
pub fn classify_connect_error(e: &io::Error) -> TcpOutcome {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the agent's own limits, not the portal's.
    if matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) {
        return TcpOutcome::LocalError;
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        io::ErrorKind::TimedOut => TcpOutcome::Timeout,
        io::ErrorKind::HostUnreachable => TcpOutcome::Unreachable,
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::AddrNotAvailable => TcpOutcome::NoRoute,
        _ => TcpOutcome::Error,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[tokio::test]
    async fn refused_connect_is_recorded_as_refused() {
        // Bind a port and drop it, so nothing listens there.
        let port = std::net::TcpListener::bind("[::1]:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let reach = Routes {
            ipv6_loopback: true,
            ..Routes::default()
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let (stream, probe) = connect(
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
            deadline,
            &reach,
        )
        .await;
        assert!(stream.is_none());
        assert_eq!(probe.outcome, TcpOutcome::Refused);
    }

    #[tokio::test]
    async fn the_latency_series_connects_three_times_and_stops_at_a_failure() {
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reach = Routes {
            ipv6_loopback: true,
            ..Routes::default()
        };
        let step = std::time::Duration::from_secs(2);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let p = latency(addr, None, step, deadline, &reach).await;
        assert_eq!(p.attempts.len(), LATENCY_ATTEMPTS);
        assert!(p.median_ms().is_some());
        // An endpoint's connect is the first attempt, not made again.
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counting = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let at = counting.local_addr().unwrap();
        let n = accepted.clone();
        let accepting = tokio::spawn(async move {
            while counting.accept().await.is_ok() {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let (_, endpoint) = connect(at, deadline, &reach).await;
        let p = latency(at, Some(endpoint.clone()), step, deadline, &reach).await;
        assert_eq!(p.attempts.len(), LATENCY_ATTEMPTS);
        assert_eq!(p.attempts[0], endpoint);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            LATENCY_ATTEMPTS
        );
        accepting.abort();
        drop(listener);
        let p = latency(addr, None, step, deadline, &reach).await;
        assert_eq!(p.attempts.len(), 1, "{p:?}");
        assert_eq!(p.failure().map(|f| f.outcome), Some(TcpOutcome::Refused));
        assert_eq!(p.median_ms(), None);
    }

    #[tokio::test]
    async fn a_silently_dropped_connect_is_a_timeout_and_not_waited_twice() {
        // A listener whose accept queue is full drops further SYNs: the
        // client hears nothing, as behind a firewall that drops IPv6.
        let l = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
        l.bind(&SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 0).into())
            .unwrap();
        l.listen(0).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        let _filler = std::net::TcpStream::connect(addr).unwrap();
        let reach = Routes {
            ipv6_loopback: true,
            ..Routes::default()
        };
        let step = std::time::Duration::from_millis(600);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let started = std::time::Instant::now();
        let p = latency(addr, None, step, deadline, &reach).await;
        assert_eq!(p.attempts.len(), 1, "{p:?}");
        assert_eq!(p.attempts[0].outcome, TcpOutcome::Timeout);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
