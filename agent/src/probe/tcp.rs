//! TCP probe: connect to one address and port by a deadline, recording the
//! time and the kind of failure (refused, timeout, unreachable, no route), or
//! that this vantage cannot reach the address's family at all.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;
use v6audit_model::{Family, TcpOutcome, TcpProbe};

use crate::net::Reach;

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Connects to one address, by the deadline; the outcome is always recorded.
pub async fn connect(
    addr: SocketAddr,
    deadline: tokio::time::Instant,
    reach: &Reach,
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
        let reach = Reach {
            ipv6_loopback: true,
            ..Reach::default()
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
}
