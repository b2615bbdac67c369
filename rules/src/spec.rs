//! The rules the engine knows: their stable ids (DESIGN.md), the outcomes each
//! can report and the placeholders each outcome's text may use, and the
//! parameters each takes. A pack is checked against this table when it is
//! loaded, so a missing translation or a misspelt placeholder is an error at
//! load time, never a blank message in a report.

use std::fmt;

/// A rule of the default pack. The string ids are a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// `dns.aaaa`: the portal host has an AAAA record.
    DnsAaaa,
    /// `dns.aaaa-global`: every AAAA is global unicast.
    DnsAaaaGlobal,
    /// `dns.ns-aaaa`: enough of the zone's name servers have AAAA (`min_name_servers`).
    DnsNsAaaa,
    /// `dns.ns-v6-answers`: the name servers answer over IPv6, with authority.
    DnsNsV6Answers,
    /// `dns.mx-aaaa`: the zone's mail servers have AAAA.
    DnsMxAaaa,
    /// `dns.dnssec`: the zone's chain of trust validates, and each name server serves valid keys.
    DnsDnssec,
    /// `web.v6-reachable`: every AAAA accepts TCP on the portal's ports.
    WebV6Reachable,
    /// `web.v6-http`: an HTTP(S) request over IPv6 gets a response.
    WebV6Http,
    /// `web.parity`: the same site over IPv6 as over IPv4.
    WebParity,
    /// `web.redirects-v6`: each redirect over IPv6 stays on hosts with AAAA.
    WebRedirectsV6,
    /// `web.subresources-v6`: every other host the page loads from works over IPv6.
    WebSubresourcesV6,
    /// `tls.v6-handshake`: a TLS handshake over IPv6 succeeds on every address.
    TlsV6Handshake,
    /// `tls.v6-cert`: over IPv6 the chain is valid, fits the name and is not about to expire.
    TlsV6Cert,
    /// `tls.parity`: the same certificate and protocol over IPv6 as over IPv4.
    TlsParity,
    /// `net.icmpv6-echo`: each AAAA answers ICMPv6 echo; `info` when it does not.
    NetIcmpv6Echo,
    /// `net.v6-latency`: IPv6 connects are not much slower than IPv4's.
    NetV6Latency,
    /// `mail.v6-smtp`: each mail server with AAAA speaks SMTP over IPv6.
    MailV6Smtp,
}

impl RuleId {
    /// Every rule, in the order findings are reported.
    pub const ALL: [Self; 17] = [
        Self::DnsAaaa,
        Self::DnsAaaaGlobal,
        Self::DnsNsAaaa,
        Self::DnsNsV6Answers,
        Self::DnsMxAaaa,
        Self::DnsDnssec,
        Self::WebV6Reachable,
        Self::WebV6Http,
        Self::WebParity,
        Self::WebRedirectsV6,
        Self::WebSubresourcesV6,
        Self::TlsV6Handshake,
        Self::TlsV6Cert,
        Self::TlsParity,
        Self::NetIcmpv6Echo,
        Self::NetV6Latency,
        Self::MailV6Smtp,
    ];

    /// The rule's stable id, such as `dns.aaaa`.
    pub fn as_str(self) -> &'static str {
        self.spec().id
    }

    /// The rule with this id; None for an id the engine does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What the engine can say about the rule: its outcomes, their placeholders, its parameters.
    pub fn spec(self) -> &'static RuleSpec {
        &SPECS[self as usize]
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pack parameter a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `dns.aaaa-global`: prefixes accepted as if they were global.
    Allow,
    /// `dns.aaaa-global`: accept ULA addresses for `internal` portals.
    AllowUlaForInternal,
    /// `dns.ns-aaaa`: how many name servers must have AAAA.
    MinNameServers,
    /// `web.parity`: the content similarity under which the pages differ.
    SimilarityThreshold,
    /// `tls.v6-cert`: days before expiry at which to warn.
    ExpiryWarningDays,
    /// `net.v6-latency`: how many times slower IPv6 may connect than IPv4.
    SlowerRatio,
    /// `net.v6-latency`: and by how many milliseconds at least, to warn.
    SlowerExtraMs,
    /// `web.v6-reachable`: addresses probed per family and portal.
    MaxAddresses,
}

impl Param {
    /// The parameter's key in a pack, such as `min_name_servers`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::AllowUlaForInternal => "allow_ula_for_internal",
            Self::MinNameServers => "min_name_servers",
            Self::SimilarityThreshold => "similarity_threshold",
            Self::ExpiryWarningDays => "expiry_warning_days",
            Self::SlowerRatio => "slower_ratio",
            Self::SlowerExtraMs => "slower_extra_ms",
            Self::MaxAddresses => "max_addresses",
        }
    }
}

/// What the engine can say about one rule.
#[derive(Debug)]
pub struct RuleSpec {
    /// The rule's stable id, such as `dns.aaaa`.
    pub id: &'static str,
    /// Each outcome key with the placeholders its text may use.
    pub outcomes: &'static [(&'static str, &'static [&'static str])],
    /// The pack parameters the rule reads.
    pub params: &'static [Param],
}

impl RuleSpec {
    /// The placeholders the text of outcome `key` may use; None when `key` is not an outcome.
    pub fn placeholders(&self, key: &str) -> Option<&'static [&'static str]> {
        self.outcomes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

const ZONE_UNKNOWN: (&str, &[&str]) = ("zone_unknown", &["host", "reason"]);
const NO_AAAA: (&str, &[&str]) = ("no_aaaa", &["host"]);
const AAAA_UNKNOWN: (&str, &[&str]) = ("aaaa_unknown", &["host", "reason"]);
const NO_VANTAGE: (&str, &[&str]) = ("no_vantage", &[]);
const NOT_CHECKED: (&str, &[&str]) = ("not_checked", &[]);
/// Name server addresses the pack's contact policy kept the agent from asking.
const NS_NOT_CONTACTED: (&str, &[&str]) = (
    "not_contacted",
    &["zone", "servers", "count", "total", "reason"],
);

/// Indexed by `RuleId as usize`.
static SPECS: [RuleSpec; 17] = [
    RuleSpec {
        id: "dns.aaaa",
        outcomes: &[
            ("present", &["host", "count", "addrs"]),
            ("absent", &["host", "ipv4"]),
            ("no_address", &["host"]),
            ("nxdomain", &["host"]),
            ("lookup_failed", &["host", "reason"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "dns.aaaa-global",
        outcomes: &[
            NO_AAAA,
            AAAA_UNKNOWN,
            ("global", &["addrs"]),
            ("not_global", &["bad", "count"]),
        ],
        params: &[Param::Allow, Param::AllowUlaForInternal],
    },
    RuleSpec {
        id: "dns.ns-aaaa",
        outcomes: &[
            ZONE_UNKNOWN,
            ("enough", &["zone", "count", "total"]),
            ("too_few", &["zone", "count", "total", "min", "missing"]),
            ("too_few_servers", &["zone", "total", "min"]),
            ("none", &["zone", "total", "names"]),
        ],
        params: &[Param::MinNameServers],
    },
    RuleSpec {
        id: "dns.ns-v6-answers",
        outcomes: &[
            ZONE_UNKNOWN,
            ("no_v6_ns", &["zone"]),
            NO_VANTAGE,
            ("all", &["zone", "count"]),
            ("serials_differ", &["zone", "serials"]),
            ("some", &["zone", "failed", "count", "total"]),
            ("none", &["zone", "failed"]),
            NS_NOT_CONTACTED,
        ],
        params: &[],
    },
    RuleSpec {
        id: "dns.mx-aaaa",
        outcomes: &[
            ZONE_UNKNOWN,
            ("no_mx", &["zone"]),
            ("null_mx", &["zone"]),
            ("lookup_failed", &["zone", "reason"]),
            ("all", &["zone", "count", "hosts"]),
            ("some", &["zone", "missing", "count", "total"]),
            ("none", &["zone", "missing"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "dns.dnssec",
        outcomes: &[
            NOT_CHECKED,
            ZONE_UNKNOWN,
            ("unknown", &["zone", "reason"]),
            ("chain_bogus", &["zone", "reason"]),
            ("servers_bogus", &["zone", "count", "total", "servers"]),
            ("no_answer", &["zone", "servers"]),
            NS_NOT_CONTACTED,
            ("unsigned", &["zone"]),
            ("no_ds", &["zone", "tags"]),
            ("insecure_parent", &["zone", "at"]),
            ("secure", &["zone", "anchor", "tags", "v6", "v4"]),
            ("secure_anchor", &["zone", "v6", "v4"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "web.v6-reachable",
        outcomes: &[
            NO_AAAA,
            AAAA_UNKNOWN,
            NO_VANTAGE,
            ("not_tried", &[]),
            ("all", &["count", "ports"]),
            ("unreachable", &["failed", "count", "total"]),
            ("not_contacted", &["failed", "count", "total", "reason"]),
            (
                "all_capped",
                &["count", "ports", "probed", "skipped", "not_probed"],
            ),
            (
                "retried",
                &["total", "ports", "count", "attempts", "failed"],
            ),
        ],
        params: &[Param::MaxAddresses],
    },
    RuleSpec {
        id: "web.v6-http",
        outcomes: &[
            NO_AAAA,
            AAAA_UNKNOWN,
            NO_VANTAGE,
            ("ok", &["status", "url"]),
            ("left_family", &["status", "host"]),
            ("body_truncated", &["status", "url", "cap"]),
            ("body_slow", &["status", "url", "bytes"]),
            ("server_error", &["status", "url"]),
            ("redirect_loop", &["url"]),
            ("too_many_redirects", &["count", "url"]),
            ("failed", &["url", "reason"]),
            ("not_tried", &[]),
            ("retried", &["status", "url", "count", "attempts", "failed"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "web.parity",
        outcomes: &[
            NO_AAAA,
            AAAA_UNKNOWN,
            ("no_a", &["host"]),
            NO_VANTAGE,
            ("not_tried", &[]),
            ("ports_differ", &["ipv4_ports", "ipv6_ports"]),
            ("v6_left_family", &["host"]),
            ("one_failed", &["family", "other", "reason"]),
            ("neither", &[]),
            ("status_differ", &["ipv4_status", "ipv6_status"]),
            ("url_differ", &["ipv4_url", "ipv6_url"]),
            ("content_differ", &["similarity", "threshold"]),
            ("same", &["status", "similarity"]),
        ],
        params: &[Param::SimilarityThreshold],
    },
    RuleSpec {
        id: "web.redirects-v6",
        outcomes: &[
            NO_AAAA,
            AAAA_UNKNOWN,
            NO_VANTAGE,
            ("not_fetched", &[]),
            ("no_redirects", &[]),
            ("all_v6", &["count", "hosts"]),
            ("leaves_v6", &["hosts"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "web.subresources-v6",
        outcomes: &[
            NOT_CHECKED,
            NO_AAAA,
            AAAA_UNKNOWN,
            ("not_fetched", &[]),
            ("none_external", &["urls"]),
            ("all_v6", &["count", "hosts"]),
            ("unreachable", &["hosts", "count", "total"]),
            ("unknown", &["hosts"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "tls.v6-handshake",
        outcomes: &[
            ("no_tls_port", &[]),
            NO_AAAA,
            AAAA_UNKNOWN,
            NO_VANTAGE,
            ("no_connection", &["ports"]),
            ("ok", &["count", "versions"]),
            ("failed", &["failures", "count", "total"]),
            ("not_tried", &[]),
            (
                "retried",
                &["total", "versions", "count", "attempts", "failures"],
            ),
        ],
        params: &[],
    },
    RuleSpec {
        id: "tls.v6-cert",
        outcomes: &[
            ("no_handshake", &[]),
            ("invalid", &["problems"]),
            ("expiring", &["days", "not_after"]),
            ("valid", &["days", "not_after", "issuer"]),
        ],
        params: &[Param::ExpiryWarningDays],
    },
    RuleSpec {
        id: "tls.parity",
        outcomes: &[
            ("not_both", &[]),
            ("cert_differs", &["ipv4_cert", "ipv6_cert"]),
            ("version_differs", &["ipv4_version", "ipv6_version"]),
            ("same", &["cert", "version"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "net.icmpv6-echo",
        outcomes: &[
            ("not_sent", &[]),
            NO_AAAA,
            AAAA_UNKNOWN,
            ("not_ipv6", &["addrs"]),
            NO_VANTAGE,
            ("no_permission", &[]),
            ("answers", &["count", "replies"]),
            ("partly", &["answering", "silent"]),
            ("silent", &["addrs"]),
            ("failed", &["reason"]),
        ],
        params: &[],
    },
    RuleSpec {
        id: "net.v6-latency",
        outcomes: &[
            NOT_CHECKED,
            NO_AAAA,
            AAAA_UNKNOWN,
            NO_VANTAGE,
            ("no_ipv4", &[]),
            ("v4_fails", &["ipv4", "reason"]),
            ("v6_times_out", &["ipv6", "ipv4", "v4_ms"]),
            ("v6_fails", &["ipv6", "reason"]),
            ("slower", &["v6_ms", "v4_ms", "ratio", "ipv6", "ipv4"]),
            ("similar", &["v6_ms", "v4_ms"]),
        ],
        params: &[Param::SlowerRatio, Param::SlowerExtraMs],
    },
    RuleSpec {
        id: "mail.v6-smtp",
        outcomes: &[
            NOT_CHECKED,
            ZONE_UNKNOWN,
            ("no_mx", &["zone"]),
            ("no_v6_mx", &["zone"]),
            NO_VANTAGE,
            ("blocked", &["servers"]),
            ("unreachable", &["servers", "count", "total"]),
            ("no_starttls", &["servers"]),
            ("banner_differs", &["servers"]),
            ("ok", &["count", "servers"]),
        ],
        params: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table_is_indexed_by_rule_id() {
        for id in RuleId::ALL {
            assert_eq!(RuleId::parse(id.as_str()), Some(id));
        }
        assert_eq!(RuleId::DnsAaaa.as_str(), "dns.aaaa");
        assert_eq!(RuleId::NetV6Latency.as_str(), "net.v6-latency");
        assert_eq!(RuleId::parse("dns.nope"), None);
    }
}
