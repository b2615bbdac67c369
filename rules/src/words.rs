//! The fixed words a rule's values are built from besides the portal's own
//! facts: why a connection, a handshake, a lookup, an exchange or a mail
//! session failed, and what a certificate's chain is. A value names a word
//! as `{=key}`; the pack says each word in every language (`words:` in
//! `packs/default.yaml`), and the `render` module expands it in the reader's
//! language, so one stored finding reads in English or in Vietnamese.
//!
//! The engine takes keys only from the functions here, and [`ALL`] lists
//! every key they can return: a pack must word each of them, so no value can
//! reach a reader as a bare key.

use crate::addr::AddressClass;
use v6audit_model::{
    ChainStatus, DnsOutcome, EchoOutcome, FetchOutcome, HttpOutcome, SmtpOutcome, TcpOutcome,
    TlsOutcome,
};

/// Every word key, in the order `packs/default.yaml` lists them.
pub const ALL: &[&str] = &[
    "tcp.connected",
    "tcp.refused",
    "tcp.timeout",
    "tcp.unreachable",
    "tcp.no_route",
    "tcp.no_vantage",
    "tcp.error",
    "tcp.not_tried",
    "tcp.local_error",
    "tcp.not_contacted",
    "tls.ok",
    "tls.timeout",
    "tls.alert",
    "tls.protocol_version",
    "tls.closed",
    "tls.error",
    "tls.no_tcp",
    "http.ok",
    "http.timeout",
    "http.body_timeout",
    "http.headers_too_large",
    "http.protocol",
    "http.closed",
    "http.not_sent",
    "http.error",
    "dns.ok",
    "dns.timeout",
    "dns.servfail",
    "dns.refused",
    "dns.not_asked",
    "dns.nxdomain",
    "dns.no_data",
    "dns.error",
    "dns.not_contacted",
    "dns.no_ns",
    "dns.lame",
    "dns.no_answer",
    "dnssec.bogus",
    "chain.valid",
    "chain.expired",
    "chain.not_yet_valid",
    "chain.name_mismatch",
    "chain.unknown_issuer",
    "chain.revoked",
    "chain.invalid",
    "cert.on",
    "cert.valid_for",
    "cert.and_name_mismatch",
    "smtp.ok",
    "smtp.timeout",
    "smtp.refused",
    "smtp.no_greeting",
    "smtp.ehlo_refused",
    "smtp.unreachable",
    "smtp.no_vantage",
    "smtp.error",
    "echo.reply",
    "echo.no_reply",
    "echo.no_permission",
    "echo.no_vantage",
    "echo.error",
    "echo.not_sent",
    "echo.hop_limit",
    "latency.no_answer_in",
    "addr.global",
    "addr.unspecified",
    "addr.loopback",
    "addr.link_local",
    "addr.site_local",
    "addr.unique_local",
    "addr.multicast",
    "addr.documentation",
    "addr.ipv4_mapped",
    "addr.ipv4_compatible",
    "addr.nat64",
    "addr.six_to_four",
    "addr.teredo",
    "addr.discard_only",
    "addr.benchmarking",
    "addr.orchid",
    "addr.reserved",
    "addr.private",
    "addr.shared",
    "dns.no_aaaa",
    "dns.no_a",
    "chain.not_checked",
    "tls.no_certificate",
    "fetch.not_fetched",
    "fetch.stopped",
    "fetch.no_vantage",
    "fetch.left_family",
    "fetch.redirect_loop",
    "fetch.too_many_redirects",
    "none",
    "failed",
    "unknown",
];

/// The words an agent says its reasons with ([`v6audit_model::Why`]), each
/// with the placeholders its text may use, in the order
/// `packs/default.yaml` lists them. Like [`ALL`], every pack words them all.
pub const SAID: &[(&str, &[&str])] = &[
    ("said", &["text"]),
    ("dns.bad_name", &["name"]),
    ("dns.no_resolver", &[]),
    ("dns.answered", &["server", "code"]),
    ("dns.code", &["code"]),
    ("dns.server_failed", &["server", "cause"]),
    ("dns.mismatched_answer", &[]),
    ("dns.not_authoritative", &[]),
    ("vantage.no_family", &["family"]),
    ("dnssec.not_under_anchor", &["zone", "anchors"]),
    ("dnssec.no_anchor_dnskey_answer", &["zone", "cause"]),
    ("dnssec.anchor_unsigned", &["zone"]),
    ("dnssec.anchor_keys_unsigned", &["zone"]),
    ("dnssec.anchor_mismatch", &["zone", "anchor"]),
    ("dnssec.keys_invalid", &["zone", "cause"]),
    ("dnssec.too_deep", &["zone", "max"]),
    ("dnssec.no_ds_answer", &["name", "cause"]),
    ("dnssec.not_delegated", &["zone"]),
    ("dnssec.no_soa_answer", &["name", "cause"]),
    ("dnssec.ds_unsigned", &["name"]),
    ("dnssec.ds_unsupported", &["name", "algorithms"]),
    ("dnssec.ds_algorithm", &["algorithm", "digest"]),
    ("dnssec.ds_invalid", &["name", "parent", "cause"]),
    ("dnssec.no_dnskey_answer", &["name", "cause"]),
    ("dnssec.dnskey_unsigned", &["name"]),
    ("dnssec.ds_mismatch", &["name", "ds_tags", "key_tags"]),
    ("dnssec.walk_out_of_time", &["secs"]),
    ("dnssec.out_of_time", &["secs"]),
    ("dnssec.no_records", &[]),
    ("dnssec.no_rrsig", &["rtype"]),
    ("dnssec.sig_algorithm", &["tag", "algorithm"]),
    ("dnssec.sig_signer", &["signer", "expected"]),
    ("dnssec.sig_expired", &["tag", "at"]),
    ("dnssec.sig_not_yet_valid", &["tag", "from"]),
    ("dnssec.sig_unknown_key", &["tag", "algorithm", "keys"]),
    ("dnssec.too_many_checks", &["max"]),
    ("dnssec.sig_invalid", &["tag", "cause"]),
    ("dnssec.served_no_keys", &["ds_tags"]),
    ("dnssec.served_ds_mismatch", &["ds_tags", "key_tags"]),
    ("dnssec.served_not_anchor", &["key_tags"]),
    ("dnssec.served_keys_invalid", &["cause"]),
    ("dnssec.served_soa_invalid", &["cause"]),
    ("http.body_read_before_timeout", &["bytes"]),
    ("http.head_larger_than", &["kib"]),
    ("http.closed_before_response", &[]),
    ("http.cannot_build_request", &["cause"]),
    ("fetch.redirect_not_http", &["location"]),
    ("fetch.lookup_out_of_time", &["host"]),
    ("fetch.no_family_address", &["host", "family"]),
    ("echo.unreachable", &["by", "reason", "code"]),
    ("icmp.no_route", &[]),
    ("icmp.prohibited", &[]),
    ("icmp.beyond_scope", &[]),
    ("icmp.address_unreachable", &[]),
    ("icmp.port_unreachable", &[]),
    ("icmp.source_policy", &[]),
    ("icmp.reject_route", &[]),
    ("icmp.source_routing", &[]),
    ("icmp.headers_too_long", &[]),
    ("icmp.unknown_code", &[]),
    ("icmp.a_router", &[]),
    ("echo.out_of_time", &[]),
    ("fetch.no_connection", &[]),
];

/// The placeholders the reason word `key` offers, when it is one.
pub fn said_params(key: &str) -> Option<&'static [&'static str]> {
    SAID.iter().find(|(k, _)| *k == key).map(|(_, p)| *p)
}

/// Whether every pack words `key` (a plain word or a reason's).
pub fn known(key: &str) -> bool {
    ALL.contains(&key) || said_params(key).is_some()
}

/// A value that names the word `key`, expanded when the finding is rendered.
pub fn word(key: &'static str) -> String {
    debug_assert!(ALL.contains(&key), "word `{key}` is not in words::ALL");
    format!("{{={key}}}")
}

/// How a TCP connect ended.
pub fn tcp(o: TcpOutcome) -> &'static str {
    match o {
        TcpOutcome::Connected => "tcp.connected",
        TcpOutcome::Refused => "tcp.refused",
        TcpOutcome::Timeout => "tcp.timeout",
        TcpOutcome::Unreachable => "tcp.unreachable",
        TcpOutcome::NoRoute => "tcp.no_route",
        TcpOutcome::NoVantage => "tcp.no_vantage",
        TcpOutcome::Error => "tcp.error",
        TcpOutcome::NotTried => "tcp.not_tried",
        TcpOutcome::LocalError => "tcp.local_error",
        TcpOutcome::NotContacted => "tcp.not_contacted",
    }
}

/// How a TLS handshake ended.
pub fn tls(o: TlsOutcome) -> &'static str {
    match o {
        TlsOutcome::Ok => "tls.ok",
        TlsOutcome::Timeout => "tls.timeout",
        TlsOutcome::Alert => "tls.alert",
        TlsOutcome::ProtocolVersion => "tls.protocol_version",
        TlsOutcome::Closed => "tls.closed",
        TlsOutcome::Error => "tls.error",
    }
}

/// How an HTTP exchange ended.
pub fn http(o: HttpOutcome) -> &'static str {
    match o {
        HttpOutcome::Ok => "http.ok",
        HttpOutcome::Timeout => "http.timeout",
        HttpOutcome::BodyTimeout => "http.body_timeout",
        HttpOutcome::HeadersTooLarge => "http.headers_too_large",
        HttpOutcome::Protocol => "http.protocol",
        HttpOutcome::Closed => "http.closed",
        HttpOutcome::NotSent => "http.not_sent",
        HttpOutcome::Error => "http.error",
    }
}

/// How a DNS question ended.
pub fn dns(o: DnsOutcome) -> &'static str {
    match o {
        DnsOutcome::Ok => "dns.ok",
        DnsOutcome::Timeout => "dns.timeout",
        DnsOutcome::ServFail => "dns.servfail",
        DnsOutcome::Refused => "dns.refused",
        DnsOutcome::NotAsked => "dns.not_asked",
        DnsOutcome::NxDomain => "dns.nxdomain",
        DnsOutcome::NoData => "dns.no_data",
        DnsOutcome::Error => "dns.error",
        DnsOutcome::NotContacted => "dns.not_contacted",
    }
}

/// What a certificate chain is.
pub fn chain(s: ChainStatus) -> &'static str {
    match s {
        ChainStatus::Valid => "chain.valid",
        ChainStatus::Expired => "chain.expired",
        ChainStatus::NotYetValid => "chain.not_yet_valid",
        ChainStatus::NameMismatch => "chain.name_mismatch",
        ChainStatus::UnknownIssuer => "chain.unknown_issuer",
        ChainStatus::Revoked => "chain.revoked",
        ChainStatus::Invalid => "chain.invalid",
    }
}

/// How an SMTP session ended.
pub fn smtp(o: SmtpOutcome) -> &'static str {
    match o {
        SmtpOutcome::Ok => "smtp.ok",
        SmtpOutcome::Timeout => "smtp.timeout",
        SmtpOutcome::Refused => "smtp.refused",
        SmtpOutcome::NoGreeting => "smtp.no_greeting",
        SmtpOutcome::EhloRefused => "smtp.ehlo_refused",
        SmtpOutcome::Unreachable => "smtp.unreachable",
        SmtpOutcome::NoVantage => "smtp.no_vantage",
        SmtpOutcome::Error => "smtp.error",
    }
}

/// What kind of address an address is.
pub fn class(c: AddressClass) -> &'static str {
    match c {
        AddressClass::Global => "addr.global",
        AddressClass::Unspecified => "addr.unspecified",
        AddressClass::Loopback => "addr.loopback",
        AddressClass::LinkLocal => "addr.link_local",
        AddressClass::SiteLocal => "addr.site_local",
        AddressClass::UniqueLocal => "addr.unique_local",
        AddressClass::Multicast => "addr.multicast",
        AddressClass::Documentation => "addr.documentation",
        AddressClass::Ipv4Mapped => "addr.ipv4_mapped",
        AddressClass::Ipv4Compatible => "addr.ipv4_compatible",
        AddressClass::Nat64 => "addr.nat64",
        AddressClass::SixToFour => "addr.six_to_four",
        AddressClass::Teredo => "addr.teredo",
        AddressClass::DiscardOnly => "addr.discard_only",
        AddressClass::Benchmarking => "addr.benchmarking",
        AddressClass::Orchid => "addr.orchid",
        AddressClass::Reserved => "addr.reserved",
        AddressClass::Private => "addr.private",
        AddressClass::Shared => "addr.shared",
    }
}

/// How a page fetch that reached no final page ended (`None` when it did).
pub fn fetch(o: FetchOutcome) -> Option<&'static str> {
    match o {
        FetchOutcome::Complete => None,
        FetchOutcome::LeftFamily => Some("fetch.left_family"),
        FetchOutcome::RedirectLoop => Some("fetch.redirect_loop"),
        FetchOutcome::TooManyRedirects => Some("fetch.too_many_redirects"),
        FetchOutcome::Failed => Some("failed"),
        FetchOutcome::NoAddress => Some("fetch.not_fetched"),
        FetchOutcome::NoVantage => Some("fetch.no_vantage"),
    }
}

/// How an ICMPv6 echo ended.
pub fn echo(o: EchoOutcome) -> &'static str {
    match o {
        EchoOutcome::Reply => "echo.reply",
        EchoOutcome::NoReply => "echo.no_reply",
        EchoOutcome::NoPermission => "echo.no_permission",
        EchoOutcome::NoVantage => "echo.no_vantage",
        EchoOutcome::Error => "echo.error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a mapping returns is in `ALL` (so every pack words it), and
    /// `ALL` has no key twice.
    #[test]
    fn every_outcome_of_every_kind_has_a_listed_word() {
        let mut keys: Vec<&str> = Vec::new();
        keys.extend(
            [
                TcpOutcome::Connected,
                TcpOutcome::Refused,
                TcpOutcome::Timeout,
                TcpOutcome::Unreachable,
                TcpOutcome::NoRoute,
                TcpOutcome::NoVantage,
                TcpOutcome::Error,
                TcpOutcome::NotTried,
                TcpOutcome::LocalError,
                TcpOutcome::NotContacted,
            ]
            .map(tcp),
        );
        keys.extend(
            [
                TlsOutcome::Ok,
                TlsOutcome::Timeout,
                TlsOutcome::Alert,
                TlsOutcome::ProtocolVersion,
                TlsOutcome::Closed,
                TlsOutcome::Error,
            ]
            .map(tls),
        );
        keys.extend(
            [
                HttpOutcome::Ok,
                HttpOutcome::Timeout,
                HttpOutcome::BodyTimeout,
                HttpOutcome::HeadersTooLarge,
                HttpOutcome::Protocol,
                HttpOutcome::Closed,
                HttpOutcome::NotSent,
                HttpOutcome::Error,
            ]
            .map(http),
        );
        keys.extend(
            [
                DnsOutcome::Ok,
                DnsOutcome::Timeout,
                DnsOutcome::ServFail,
                DnsOutcome::Refused,
                DnsOutcome::NotAsked,
                DnsOutcome::NxDomain,
                DnsOutcome::NoData,
                DnsOutcome::Error,
                DnsOutcome::NotContacted,
            ]
            .map(dns),
        );
        keys.extend(
            [
                ChainStatus::Valid,
                ChainStatus::Expired,
                ChainStatus::NotYetValid,
                ChainStatus::NameMismatch,
                ChainStatus::UnknownIssuer,
                ChainStatus::Revoked,
                ChainStatus::Invalid,
            ]
            .map(chain),
        );
        keys.extend(
            [
                SmtpOutcome::Ok,
                SmtpOutcome::Timeout,
                SmtpOutcome::Refused,
                SmtpOutcome::NoGreeting,
                SmtpOutcome::EhloRefused,
                SmtpOutcome::Unreachable,
                SmtpOutcome::NoVantage,
                SmtpOutcome::Error,
            ]
            .map(smtp),
        );
        keys.extend(
            [
                EchoOutcome::Reply,
                EchoOutcome::NoReply,
                EchoOutcome::NoPermission,
                EchoOutcome::NoVantage,
                EchoOutcome::Error,
            ]
            .map(echo),
        );
        keys.extend(
            [
                AddressClass::Global,
                AddressClass::Unspecified,
                AddressClass::Loopback,
                AddressClass::LinkLocal,
                AddressClass::SiteLocal,
                AddressClass::UniqueLocal,
                AddressClass::Multicast,
                AddressClass::Documentation,
                AddressClass::Ipv4Mapped,
                AddressClass::Ipv4Compatible,
                AddressClass::Nat64,
                AddressClass::SixToFour,
                AddressClass::Teredo,
                AddressClass::DiscardOnly,
                AddressClass::Benchmarking,
                AddressClass::Orchid,
                AddressClass::Reserved,
                AddressClass::Private,
                AddressClass::Shared,
            ]
            .map(class),
        );
        for k in keys {
            assert!(ALL.contains(&k), "{k} is not in words::ALL");
        }
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len(), "a key is listed twice");
    }
}
