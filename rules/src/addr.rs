//! Address classification for `dns.aaaa-global`: which IPv6 addresses a
//! client on the public Internet can reach.
//!
//! Follows the IANA IPv6 Special-Purpose Address Registry (RFC 6890 and its
//! updates): an AAAA record that points at one of these ranges is a
//! configuration mistake on a public portal, except where the pack allows the
//! prefix (a lab on `::1`, tests on 2001:db8::/32, ULA for internal portals).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an IPv6 address is, or is not, global unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Global unicast (2000::/3 outside the special ranges below).
    Global,
    /// `::`, or 0.0.0.0.
    Unspecified,
    /// `::1`, or 127.0.0.0/8.
    Loopback,
    /// fe80::/10
    LinkLocal,
    /// fec0::/10, deprecated by RFC 3879.
    SiteLocal,
    /// fc00::/7, RFC 4193.
    UniqueLocal,
    /// ff00::/8
    Multicast,
    /// 2001:db8::/32 and 3fff::/20, RFC 3849 and RFC 9637.
    Documentation,
    /// ::ffff:0:0/96: an IPv4 address in an AAAA record.
    Ipv4Mapped,
    /// ::/96, deprecated IPv4-compatible addresses.
    Ipv4Compatible,
    /// 64:ff9b::/96 and 64:ff9b:1::/48: synthesised by a NAT64 DNS64 resolver.
    Nat64,
    /// 2002::/16, RFC 3056: 6to4 relays, long unreliable.
    SixToFour,
    /// 2001::/32, RFC 4380.
    Teredo,
    /// 100::/64, RFC 6666.
    DiscardOnly,
    /// 2001:2::/48, RFC 5180.
    Benchmarking,
    /// 2001:10::/28 and 2001:20::/28, RFC 4843 and RFC 7343.
    Orchid,
    /// Any other address outside 2000::/3, not allocated for unicast (for
    /// IPv4: 0.0.0.0/8, 192.0.0.0/24, 240.0.0.0/4 and the broadcast address).
    Reserved,
    /// IPv4 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918).
    Private,
    /// IPv4 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    Shared,
}

impl AddressClass {
    /// The class of an IPv6 address (IANA IPv6 Special-Purpose Address Registry).
    pub fn of(addr: &Ipv6Addr) -> Self {
        let s = addr.segments();
        let o = addr.octets();
        if addr.is_unspecified() {
            Self::Unspecified
        } else if addr.is_loopback() {
            Self::Loopback
        } else if s[0..5] == [0; 5] && s[5] == 0xffff {
            Self::Ipv4Mapped
        } else if s[0..6] == [0; 6] {
            Self::Ipv4Compatible
        } else if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1) {
            Self::Nat64
        } else if s[0] == 0x100 && s[1..4] == [0; 3] {
            Self::DiscardOnly
        } else if o[0] == 0xff {
            Self::Multicast
        } else if s[0] & 0xffc0 == 0xfe80 {
            Self::LinkLocal
        } else if s[0] & 0xffc0 == 0xfec0 {
            Self::SiteLocal
        } else if s[0] & 0xfe00 == 0xfc00 {
            Self::UniqueLocal
        } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] & 0xf000 == 0) {
            Self::Documentation
        } else if s[0] == 0x2001 && s[1] == 0 {
            Self::Teredo
        } else if s[0] == 0x2001 && s[1] == 2 && s[2] == 0 {
            Self::Benchmarking
        } else if s[0] == 0x2001 && (s[1] & 0xfff0 == 0x10 || s[1] & 0xfff0 == 0x20) {
            Self::Orchid
        } else if s[0] == 0x2002 {
            Self::SixToFour
        } else if s[0] & 0xe000 == 0x2000 {
            Self::Global
        } else {
            Self::Reserved
        }
    }

    /// The class of an IPv4 address (IANA IPv4 Special-Purpose Address
    /// Registry, RFC 6890). 169.254.0.0/16, where clouds serve instance
    /// metadata, is link-local.
    pub fn of_v4(addr: &Ipv4Addr) -> Self {
        let o = addr.octets();
        if addr.is_unspecified() {
            Self::Unspecified
        } else if o[0] == 127 {
            Self::Loopback
        } else if o[0] == 169 && o[1] == 254 {
            Self::LinkLocal
        } else if o[0] == 10 || (o[0] == 172 && o[1] & 0xf0 == 16) || (o[0] == 192 && o[1] == 168) {
            Self::Private
        } else if o[0] == 100 && o[1] & 0xc0 == 64 {
            Self::Shared
        } else if (o[0], o[1], o[2]) == (192, 0, 2)
            || (o[0], o[1], o[2]) == (198, 51, 100)
            || (o[0], o[1], o[2]) == (203, 0, 113)
        {
            Self::Documentation
        } else if o[0] == 198 && o[1] & 0xfe == 18 {
            Self::Benchmarking
        } else if o[0] & 0xf0 == 224 {
            Self::Multicast
        } else if o[0] == 0 || o[0] & 0xf0 == 240 || (o[0], o[1], o[2]) == (192, 0, 0) {
            Self::Reserved
        } else {
            Self::Global
        }
    }

    /// The class of the address a packet to `ip` actually goes to: an
    /// IPv4-mapped IPv6 address is classed by its IPv4 address, as that is
    /// where a connection to it lands. An IPv4-compatible one (deprecated,
    /// RFC 4291) keeps its own class, which is never global.
    pub fn on_the_wire(ip: &IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::of_v4(&v4),
                None => Self::of(v6),
            },
        }
    }

    /// Whether a client on the public Internet can reach an address of this class.
    pub fn is_global(self) -> bool {
        self == Self::Global
    }

    /// Whether a local source address of this class can carry traffic off
    /// the link: not loopback, unspecified or link-local. A route whose
    /// source is one of these is no route to the Internet.
    pub fn leaves_the_link(self) -> bool {
        !matches!(self, Self::Loopback | Self::Unspecified | Self::LinkLocal)
    }

    /// The short name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Global => "global unicast",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::LinkLocal => "link-local",
            Self::SiteLocal => "site-local (deprecated)",
            Self::UniqueLocal => "unique local (ULA)",
            Self::Multicast => "multicast",
            Self::Documentation => "documentation",
            Self::Ipv4Mapped => "IPv4-mapped",
            Self::Ipv4Compatible => "IPv4-compatible (deprecated)",
            Self::Nat64 => "NAT64-synthesised",
            Self::SixToFour => "6to4",
            Self::Teredo => "Teredo",
            Self::DiscardOnly => "discard-only",
            Self::Benchmarking => "benchmarking",
            Self::Orchid => "ORCHID",
            Self::Reserved => "reserved",
            Self::Private => "private (RFC 1918)",
            Self::Shared => "shared (carrier-grade NAT)",
        }
    }
}

/// Where the agent may connect: to global unicast addresses, to those inside
/// the pack's allow-list (`dns.aaaa-global`'s `allow`, which is how labs and
/// tests reach loopback and documentation prefixes), and, for `internal`
/// portals when the pack allows ULA for them, to ULA and RFC 1918 addresses.
/// Anything else (link-local, where clouds serve instance metadata; loopback;
/// private ranges for a public portal) is never contacted, whoever named it: a
/// portal's DNS, a redirect, a page.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPolicy {
    /// Prefixes contacted as if global (`dns.aaaa-global`'s `allow`); an IPv4-mapped address
    /// matches by itself or by its IPv4 address.
    pub allow: Vec<ipnet::IpNet>,
    /// ULA and RFC 1918 addresses are contacted for `internal` portals (`allow_ula_for_internal`).
    pub private_for_internal: bool,
}

impl Default for ContactPolicy {
    /// The default pack's: global addresses only, private ones for internal portals.
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            private_for_internal: true,
        }
    }
}

impl ContactPolicy {
    /// Why the agent will not connect to `ip` for a portal (`internal` when
    /// its category is), if it will not: "not contacted: 169.254.169.254 is
    /// a link-local address".
    pub fn refuses(&self, ip: IpAddr, internal: bool) -> Option<String> {
        let class = AddressClass::on_the_wire(&ip);
        let wire = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let allowed = class.is_global()
            || self
                .allow
                .iter()
                .any(|net| net.contains(&ip) || net.contains(&wire))
            || (internal
                && self.private_for_internal
                && matches!(class, AddressClass::UniqueLocal | AddressClass::Private));
        (!allowed).then(|| format!("not contacted: {ip} is a {class} address"))
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::AddressClass::{self, *};

    fn class(s: &str) -> AddressClass {
        AddressClass::of(&s.parse().unwrap())
    }

    #[test]
    fn classifies_every_special_range() {
        let cases = [
            ("2400:cb00:2049::1", Global),
            ("2001:ee0:4141::1", Global),
            ("2a00:1450:4001::1", Global),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("fd00::1", UniqueLocal),
            ("fc12:3456::1", UniqueLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("2001:db8:ffff::1", Documentation),
            ("3fff:0fff::1", Documentation),
            ("::ffff:203.0.113.7", Ipv4Mapped),
            ("::ffff:127.0.0.1", Ipv4Mapped),
            ("::192.0.2.1", Ipv4Compatible),
            ("64:ff9b::c000:201", Nat64),
            ("64:ff9b:1::1", Nat64),
            ("2002:c000:201::1", SixToFour),
            ("2001:0:4136:e378::1", Teredo),
            ("100::1", DiscardOnly),
            ("2001:2::1", Benchmarking),
            ("2001:10::1", Orchid),
            ("2001:20::1", Orchid),
            ("4000::1", Reserved),
            ("1::1", Reserved),
        ];
        for (addr, want) in cases {
            assert_eq!(class(addr), want, "{addr}");
        }
    }

    #[test]
    fn classifies_ipv4_on_the_wire() {
        let on = |s: &str| AddressClass::on_the_wire(&s.parse().unwrap());
        for (addr, want) in [
            ("169.254.169.254", LinkLocal),
            ("::ffff:169.254.169.254", LinkLocal),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.32.0.1", Global),
            ("192.168.1.1", Private),
            ("100.64.0.1", Shared),
            ("127.0.0.1", Loopback),
            ("0.0.0.0", Unspecified),
            ("192.0.2.1", Documentation),
            ("198.18.0.1", Benchmarking),
            ("224.0.0.1", Multicast),
            ("255.255.255.255", Reserved),
            ("203.162.4.191", Global),
            ("fe80::1", LinkLocal),
            ("2001:ee0:4141::1", Global),
        ] {
            assert_eq!(on(addr), want, "{addr}");
        }
    }

    #[test]
    fn the_agent_contacts_only_global_or_allowed_addresses() {
        let policy = super::ContactPolicy {
            allow: vec!["::1/128".parse().unwrap(), "127.0.0.0/8".parse().unwrap()],
            private_for_internal: true,
        };
        let refuses = |s: &str, internal| policy.refuses(s.parse().unwrap(), internal);
        assert_eq!(
            refuses("169.254.169.254", false).as_deref(),
            Some("not contacted: 169.254.169.254 is a link-local address")
        );
        assert_eq!(
            refuses("::ffff:169.254.169.254", false).as_deref(),
            Some("not contacted: ::ffff:169.254.169.254 is a link-local address")
        );
        assert!(refuses("fe80::1", false).is_some());
        assert!(refuses("10.0.0.1", false).is_some());
        assert!(refuses("10.0.0.1", true).is_none());
        assert!(refuses("fd00::1", true).is_none());
        assert!(refuses("fd00::1", false).is_some());
        assert!(refuses("::1", false).is_none());
        assert!(refuses("127.0.0.1", false).is_none());
        assert!(refuses("::ffff:127.0.0.1", false).is_none());
        assert!(refuses("203.162.4.191", false).is_none());
        assert!(refuses("2001:ee0:4141::1", false).is_none());
        assert!(
            super::ContactPolicy::default()
                .refuses("::1".parse().unwrap(), false)
                .is_some()
        );
    }

    #[test]
    fn only_global_unicast_is_global() {
        assert!(class("2001:4860::8888").is_global());
        assert!(!class("64:ff9b::808:808").is_global());
        assert!(!class("2001:db8::1").is_global());
        // 2001:1::/32 is inside 2001::/23 but not Teredo (2001::/32): global here.
        assert!(class("2001:1::1").is_global());
    }
}
