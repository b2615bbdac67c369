//! Address classification for `dns.aaaa-global`: which IPv6 addresses a
//! client on the public Internet can reach.
//!
//! Follows the IANA IPv6 Special-Purpose Address Registry (RFC 6890 and its
//! updates): an AAAA record that points at one of these ranges is a
//! configuration mistake on a public portal, except where the pack allows the
//! prefix (a lab on `::1`, tests on 2001:db8::/32, ULA for internal portals).

use std::fmt;
use std::net::Ipv6Addr;

/// Why an IPv6 address is, or is not, global unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Global unicast (2000::/3 outside the special ranges below).
    Global,
    Unspecified,
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
    /// Any other address outside 2000::/3, not allocated for unicast.
    Reserved,
}

impl AddressClass {
    pub fn of(addr: &Ipv6Addr) -> AddressClass {
        let s = addr.segments();
        let o = addr.octets();
        if addr.is_unspecified() {
            AddressClass::Unspecified
        } else if addr.is_loopback() {
            AddressClass::Loopback
        } else if s[0..5] == [0; 5] && s[5] == 0xffff {
            AddressClass::Ipv4Mapped
        } else if s[0..6] == [0; 6] {
            AddressClass::Ipv4Compatible
        } else if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1) {
            AddressClass::Nat64
        } else if s[0] == 0x100 && s[1..4] == [0; 3] {
            AddressClass::DiscardOnly
        } else if o[0] == 0xff {
            AddressClass::Multicast
        } else if s[0] & 0xffc0 == 0xfe80 {
            AddressClass::LinkLocal
        } else if s[0] & 0xffc0 == 0xfec0 {
            AddressClass::SiteLocal
        } else if s[0] & 0xfe00 == 0xfc00 {
            AddressClass::UniqueLocal
        } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] & 0xf000 == 0) {
            AddressClass::Documentation
        } else if s[0] == 0x2001 && s[1] == 0 {
            AddressClass::Teredo
        } else if s[0] == 0x2001 && s[1] == 2 && s[2] == 0 {
            AddressClass::Benchmarking
        } else if s[0] == 0x2001 && (s[1] & 0xfff0 == 0x10 || s[1] & 0xfff0 == 0x20) {
            AddressClass::Orchid
        } else if s[0] == 0x2002 {
            AddressClass::SixToFour
        } else if s[0] & 0xe000 == 0x2000 {
            AddressClass::Global
        } else {
            AddressClass::Reserved
        }
    }

    pub fn is_global(self) -> bool {
        self == AddressClass::Global
    }

    /// The short name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            AddressClass::Global => "global unicast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link-local",
            AddressClass::SiteLocal => "site-local (deprecated)",
            AddressClass::UniqueLocal => "unique local (ULA)",
            AddressClass::Multicast => "multicast",
            AddressClass::Documentation => "documentation",
            AddressClass::Ipv4Mapped => "IPv4-mapped",
            AddressClass::Ipv4Compatible => "IPv4-compatible (deprecated)",
            AddressClass::Nat64 => "NAT64-synthesised",
            AddressClass::SixToFour => "6to4",
            AddressClass::Teredo => "Teredo",
            AddressClass::DiscardOnly => "discard-only",
            AddressClass::Benchmarking => "benchmarking",
            AddressClass::Orchid => "ORCHID",
            AddressClass::Reserved => "reserved",
        }
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
    fn only_global_unicast_is_global() {
        assert!(class("2001:4860::8888").is_global());
        assert!(!class("64:ff9b::808:808").is_global());
        assert!(!class("2001:db8::1").is_global());
        // 2001:1::/32 is inside 2001::/23 but not Teredo (2001::/32): global here.
        assert!(class("2001:1::1").is_global());
    }
}
