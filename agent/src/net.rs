//! Address families in one place: what this vantage can reach, and which
//! addresses of a lookup belong to a family. Socket addresses are only ever
//! built as `SocketAddr` (a `format!("{ip}:{port}")` breaks on IPv6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;
use v6audit_model::{Family, Vantage};
use v6audit_rules::addr::AddressClass;

/// The routes this machine has: which destinations (loopback, the Internet,
/// per family) it can send traffic to, measured once before a run. What a
/// report calls the vantage (`Vantage`) is derived from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Routes {
    /// The kernel has a route to a global IPv4 address (192.0.2.1).
    pub ipv4_global: bool,
    /// The kernel has a route to a global IPv6 address (2001:db8::1).
    pub ipv6_global: bool,
    /// A UDP socket can be bound on 127.0.0.1.
    pub ipv4_loopback: bool,
    /// A UDP socket can be bound on `::1`.
    pub ipv6_loopback: bool,
}

impl Routes {
    /// Measures routes without sending a packet: a UDP `connect` only asks the
    /// kernel for a route and a source address. The destinations are
    /// documentation addresses (RFC 5737, RFC 3849), so nothing real is named.
    pub async fn measure() -> Self {
        Self {
            ipv4_global: has_route(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), 53)).await,
            ipv6_global: has_route(SocketAddr::new(
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
                53,
            ))
            .await,
            ipv4_loopback: UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.is_ok(),
            ipv6_loopback: UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).await.is_ok(),
        }
    }

    /// Whether this vantage can send traffic to `addr`.
    pub fn can_reach(&self, addr: IpAddr) -> bool {
        match canonical(addr) {
            IpAddr::V4(v4) if v4.is_loopback() => self.ipv4_loopback,
            IpAddr::V4(_) => self.ipv4_global,
            IpAddr::V6(v6) if v6.is_loopback() => self.ipv6_loopback,
            IpAddr::V6(_) => self.ipv6_global,
        }
    }

    /// The vantage as reported: a family counts when it has a global route, or
    /// when the resolver is on loopback (a lab) and loopback works.
    pub fn vantage(&self, resolver_on_loopback: bool) -> Vantage {
        Vantage {
            ipv4: self.ipv4_global || (resolver_on_loopback && self.ipv4_loopback),
            ipv6: self.ipv6_global || (resolver_on_loopback && self.ipv6_loopback),
        }
    }
}

/// An IPv4-mapped or -compatible IPv6 address is an IPv4 address on the
/// wire ([`Family::of`] decides which, in one place).
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6audit_model::embedded_ipv4(&v6).map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

async fn has_route(dest: SocketAddr) -> bool {
    let bind: SocketAddr = match dest {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(bind).await else {
        return false;
    };
    if sock.connect(dest).await.is_err() {
        return false;
    }
    sock.local_addr()
        .is_ok_and(|a| AddressClass::on_the_wire(&a.ip()).leaves_the_link())
}

/// The addresses of one family from a lookup, in the resolver's order.
pub fn of_family(addrs: &[IpAddr], family: Family) -> impl Iterator<Item = IpAddr> + '_ {
    addrs
        .iter()
        .copied()
        .filter(move |a| Family::of(a) == family)
}

/// The IPv6 addresses of a lookup that travel as IPv6: a mapped or
/// compatible AAAA is IPv4 on the wire, not a way to reach anything over IPv6.
pub fn ipv6_on_the_wire(addrs: &[IpAddr]) -> impl Iterator<Item = Ipv6Addr> + '_ {
    addrs.iter().filter_map(|a| match a {
        IpAddr::V6(v6) if Family::of(a) == Family::V6 => Some(*v6),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_are_reached_over_ipv4() {
        let reach = Routes {
            ipv4_global: false,
            ipv6_global: true,
            ipv4_loopback: true,
            ipv6_loopback: false,
        };
        assert!(reach.can_reach("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!reach.can_reach("::1".parse().unwrap()));
        assert!(reach.can_reach("2001:db8::1".parse().unwrap()));
        assert!(!reach.can_reach("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn a_lab_vantage_counts_loopback() {
        let reach = Routes {
            ipv4_global: true,
            ipv6_global: false,
            ipv4_loopback: true,
            ipv6_loopback: true,
        };
        assert_eq!(
            reach.vantage(false),
            Vantage {
                ipv4: true,
                ipv6: false
            }
        );
        assert_eq!(
            reach.vantage(true),
            Vantage {
                ipv4: true,
                ipv6: true
            }
        );
    }
}
