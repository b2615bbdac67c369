//! The lab's scenarios: each a kind of portal met in the field, with what it
//! publishes in DNS, how it behaves per address family, and what an audit
//! must conclude about it (the stage and the key rule statuses), so tests and
//! `v6audit lab serve` share one statement of the expected outcome.

use std::fmt;
use std::str::FromStr;

use v6audit_model::{Stage, Status};

/// A kind of lab portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Dual-stack done right: same site, same certificate, IPv6 name and mail servers.
    Good,
    /// Like `Good`, reached through a CNAME.
    Cname,
    /// No AAAA at all.
    Ipv4Only,
    /// The name does not exist any more (NXDOMAIN).
    Gone,
    /// AAAA published, but nothing accepts connections on it.
    V6Refused,
    /// AAAA published, TCP accepted, but the TLS handshake never gets an answer.
    V6TlsSilent,
    /// A different status over IPv6 (404 instead of 200).
    V6Status,
    /// Different page content over IPv6 (a default page).
    V6Content,
    /// Another name's certificate over IPv6.
    V6WrongCert,
    /// An expired certificate over IPv6.
    V6ExpiredCert,
    /// An AAAA that is not global unicast (an IPv4-mapped address).
    NonGlobal,
    /// The page redirects to a host that has no AAAA.
    RedirectV4Only,
    /// The zone's name servers have no AAAA.
    NsV4Only,
    /// The zone's mail server has no AAAA.
    MailV4Only,
    /// Response headers that never end.
    HostileHeaders,
    /// A response body that never ends.
    HostileBody,
    /// A response sent one byte per second.
    HostileSlow,
    /// Redirects in a circle.
    HostileRedirectLoop,
    /// The page loads a script from a host that has no AAAA.
    SubresourceV4Only,
    /// Dual-stack done right, in a signed zone whose parent's DS names
    /// another key: DNSSEC-validating resolvers refuse it.
    DnssecBrokenDs,
    /// Dual-stack done right, on a path that loses now and then: the odd TLS
    /// handshakes over IPv6 of each visit (a visit ends after 10 s without
    /// one) are cut after the ClientHello, so an agent's first try fails and
    /// its second succeeds.
    FlakyV6,
}

impl Scenario {
    /// Every scenario, in the order `--mix all` deals them.
    pub const ALL: [Self; 21] = [
        Self::Good,
        Self::Cname,
        Self::Ipv4Only,
        Self::Gone,
        Self::V6Refused,
        Self::V6TlsSilent,
        Self::V6Status,
        Self::V6Content,
        Self::V6WrongCert,
        Self::V6ExpiredCert,
        Self::NonGlobal,
        Self::RedirectV4Only,
        Self::NsV4Only,
        Self::MailV4Only,
        Self::HostileHeaders,
        Self::HostileBody,
        Self::HostileSlow,
        Self::HostileRedirectLoop,
        Self::SubresourceV4Only,
        Self::DnssecBrokenDs,
        Self::FlakyV6,
    ];

    /// Its name in ids, tags, `--mix` and `lab-expected.tsv`, such as `v6-refused`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Cname => "cname",
            Self::Ipv4Only => "ipv4-only",
            Self::Gone => "gone",
            Self::V6Refused => "v6-refused",
            Self::V6TlsSilent => "v6-tls-silent",
            Self::V6Status => "v6-status",
            Self::V6Content => "v6-content",
            Self::V6WrongCert => "v6-wrong-cert",
            Self::V6ExpiredCert => "v6-expired-cert",
            Self::NonGlobal => "non-global",
            Self::RedirectV4Only => "redirect-v4-only",
            Self::NsV4Only => "ns-v4-only",
            Self::MailV4Only => "mail-v4-only",
            Self::HostileHeaders => "hostile-headers",
            Self::HostileBody => "hostile-body",
            Self::HostileSlow => "hostile-slow",
            Self::HostileRedirectLoop => "hostile-redirect-loop",
            Self::SubresourceV4Only => "subresource-v4-only",
            Self::DnssecBrokenDs => "dnssec-broken-ds",
            Self::FlakyV6 => "flaky-v6",
        }
    }

    /// What a person sees in `lab serve`'s listing.
    pub fn description(self) -> &'static str {
        match self {
            Self::Good => "dual-stack done right",
            Self::Cname => "dual-stack behind a CNAME",
            Self::Ipv4Only => "no AAAA record",
            Self::Gone => "name no longer exists (NXDOMAIN)",
            Self::V6Refused => "AAAA, but connections over IPv6 are refused",
            Self::V6TlsSilent => "AAAA, but TLS over IPv6 never answers",
            Self::V6Status => "404 over IPv6, 200 over IPv4",
            Self::V6Content => "a different page over IPv6",
            Self::V6WrongCert => "another name's certificate over IPv6",
            Self::V6ExpiredCert => "an expired certificate over IPv6",
            Self::NonGlobal => "AAAA is an IPv4-mapped address",
            Self::RedirectV4Only => "redirects to a host without AAAA",
            Self::NsV4Only => "name servers without AAAA",
            Self::MailV4Only => "mail server without AAAA",
            Self::HostileHeaders => "endless response headers",
            Self::HostileBody => "endless response body",
            Self::HostileSlow => "answers one byte per second",
            Self::HostileRedirectLoop => "redirect loop",
            Self::SubresourceV4Only => "loads a script from a host without AAAA",
            Self::DnssecBrokenDs => "signed zone whose parent's DS names another key",
            Self::FlakyV6 => {
                "the first TLS handshake over IPv6 of each visit is cut (one lost try)"
            }
        }
    }

    /// The zone the portal's name lives in.
    pub fn zone(self) -> &'static str {
        match self {
            Self::NsV4Only => crate::ZONE_V4NS,
            Self::MailV4Only => crate::ZONE_MAILV4,
            Self::DnssecBrokenDs => crate::ZONE_BADDS,
            _ => crate::ZONE,
        }
    }

    /// The stage an audit must find.
    pub fn expected_stage(self) -> Stage {
        match self {
            // DNSSEC is beside the IPv6 stages, not one of them.
            Self::Good
            | Self::Cname
            | Self::V6Content
            | Self::HostileBody
            | Self::DnssecBrokenDs
            | Self::FlakyV6 => Stage::Ipv6Complete,
            Self::RedirectV4Only | Self::MailV4Only | Self::SubresourceV4Only => Stage::DualStack,
            Self::V6Status | Self::V6WrongCert | Self::V6ExpiredCert | Self::NsV4Only => {
                Stage::Reachable
            }
            Self::V6Refused
            | Self::V6TlsSilent
            | Self::NonGlobal
            | Self::HostileHeaders
            | Self::HostileSlow
            | Self::HostileRedirectLoop => Stage::Broken,
            Self::Ipv4Only | Self::Gone => Stage::Ipv4Only,
        }
    }

    /// The rule statuses an audit must report (the rest follow from these).
    // Long because it is a table: one arm per scenario, with its statuses.
    pub fn expected_statuses(self) -> &'static [(&'static str, Status)] {
        use Status::*;
        match self {
            Self::Good | Self::Cname => &[
                ("dns.aaaa", Pass),
                ("dns.aaaa-global", Pass),
                ("dns.ns-aaaa", Pass),
                ("dns.ns-v6-answers", Pass),
                ("dns.mx-aaaa", Pass),
                ("dns.dnssec", Pass),
                ("web.v6-reachable", Pass),
                ("web.v6-http", Pass),
                ("web.parity", Pass),
                ("web.redirects-v6", Skip),
                ("tls.v6-handshake", Pass),
                ("tls.v6-cert", Pass),
                ("tls.parity", Pass),
                ("net.v6-latency", Pass),
                ("web.subresources-v6", Pass),
                ("mail.v6-smtp", Pass),
            ],
            Self::Ipv4Only => &[
                ("dns.aaaa", Fail),
                ("dns.aaaa-global", Skip),
                ("net.v6-latency", Skip),
                ("net.icmpv6-echo", Skip),
                ("web.v6-reachable", Skip),
                ("web.v6-http", Skip),
                ("tls.v6-handshake", Skip),
                ("dns.ns-aaaa", Pass),
            ],
            Self::Gone => &[
                ("dns.aaaa", Fail),
                ("web.v6-reachable", Skip),
                ("web.parity", Skip),
            ],
            Self::V6Refused => &[
                ("dns.aaaa", Pass),
                ("web.v6-reachable", Fail),
                ("web.v6-http", Fail),
                ("tls.v6-handshake", Fail),
                ("web.parity", Fail),
                // Refused is web.v6-reachable's failure; nothing to time.
                ("net.v6-latency", Skip),
            ],
            Self::V6TlsSilent => &[
                ("web.v6-reachable", Pass),
                ("tls.v6-handshake", Fail),
                ("web.v6-http", Fail),
                ("tls.v6-cert", Skip),
            ],
            Self::V6Status => &[
                ("web.v6-http", Pass),
                ("web.parity", Fail),
                ("tls.parity", Pass),
            ],
            Self::V6Content => &[("web.v6-http", Pass), ("web.parity", Warn)],
            Self::V6WrongCert => &[
                ("tls.v6-handshake", Pass),
                ("tls.v6-cert", Fail),
                ("tls.parity", Fail),
                ("web.parity", Pass),
            ],
            Self::V6ExpiredCert => &[
                ("tls.v6-handshake", Pass),
                ("tls.v6-cert", Fail),
                ("tls.parity", Fail),
            ],
            Self::NonGlobal => &[("dns.aaaa", Pass), ("dns.aaaa-global", Fail)],
            Self::RedirectV4Only => &[
                ("web.v6-http", Pass),
                ("web.redirects-v6", Fail),
                ("web.parity", Warn),
            ],
            Self::NsV4Only => &[
                ("dns.ns-aaaa", Fail),
                ("dns.ns-v6-answers", Skip),
                ("web.parity", Pass),
                ("dns.dnssec", Warn),
            ],
            Self::MailV4Only => &[
                ("dns.mx-aaaa", Fail),
                ("mail.v6-smtp", Skip),
                ("dns.ns-aaaa", Pass),
                ("web.parity", Pass),
                ("dns.dnssec", Pass),
            ],
            Self::HostileHeaders => &[("web.v6-reachable", Pass), ("web.v6-http", Fail)],
            Self::HostileBody => &[("web.v6-http", Warn), ("web.parity", Pass)],
            Self::HostileSlow => &[("web.v6-reachable", Pass), ("web.v6-http", Fail)],
            Self::HostileRedirectLoop => &[("web.v6-http", Fail)],
            Self::SubresourceV4Only => &[
                ("web.v6-http", Pass),
                ("web.parity", Pass),
                ("web.subresources-v6", Fail),
                ("dns.mx-aaaa", Pass),
            ],
            // One cut handshake is tried again: a warning, never "broken".
            Self::FlakyV6 => &[
                ("web.v6-reachable", Pass),
                ("tls.v6-handshake", Warn),
                ("tls.v6-cert", Pass),
                ("web.v6-http", Pass),
                ("web.parity", Pass),
            ],
            Self::DnssecBrokenDs => &[
                ("dns.dnssec", Fail),
                ("dns.ns-aaaa", Pass),
                ("dns.ns-v6-answers", Pass),
                ("web.v6-http", Pass),
                ("web.parity", Pass),
                ("mail.v6-smtp", Pass),
            ],
        }
    }

    /// Whether a scenario makes the agent wait out a timeout (tests use a short one).
    pub fn is_slow(self) -> bool {
        matches!(self, Self::V6TlsSilent | Self::HostileSlow)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| format!("unknown scenario `{s}`"))
    }
}

/// How scenarios are spread over the lab's portals (`--mix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mix {
    /// Every scenario in turn.
    All,
    /// Roughly what an inventory of government portals looks like today:
    /// mostly IPv4-only, some dual-stack, a few broken.
    Realistic,
    /// Only the scenarios that answer at once (no timeouts to wait out).
    Fast,
    /// One scenario only.
    Only(Scenario),
}

impl Mix {
    /// What `--mix` accepts, as its errors say.
    pub const NAMES: &'static str = "all, realistic, fast, or a scenario name";

    /// The scenario of the `i`-th portal.
    pub fn scenario(&self, i: usize) -> Scenario {
        match self {
            Self::All => Scenario::ALL[i % Scenario::ALL.len()],
            Self::Fast => {
                let fast: Vec<Scenario> =
                    Scenario::ALL.into_iter().filter(|s| !s.is_slow()).collect();
                fast[i % fast.len()]
            }
            Self::Only(s) => *s,
            Self::Realistic => {
                // Out of 20: 10 IPv4-only, 4 good, 1 gone, 5 of the faults that matter most.
                const PLAN: [Scenario; 20] = [
                    Scenario::Ipv4Only,
                    Scenario::Good,
                    Scenario::Ipv4Only,
                    Scenario::V6Refused,
                    Scenario::Ipv4Only,
                    Scenario::Cname,
                    Scenario::Ipv4Only,
                    Scenario::V6WrongCert,
                    Scenario::Ipv4Only,
                    Scenario::Good,
                    Scenario::Ipv4Only,
                    Scenario::NsV4Only,
                    Scenario::Ipv4Only,
                    Scenario::RedirectV4Only,
                    Scenario::Ipv4Only,
                    Scenario::Good,
                    Scenario::Ipv4Only,
                    Scenario::Gone,
                    Scenario::Ipv4Only,
                    Scenario::MailV4Only,
                ];
                PLAN[i % PLAN.len()]
            }
        }
    }
}

impl FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Self::All),
            "realistic" => Ok(Self::Realistic),
            "fast" => Ok(Self::Fast),
            other => other
                .parse::<Scenario>()
                .map(Mix::Only)
                .map_err(|_| format!("unknown mix `{other}` (expected {})", Self::NAMES)),
        }
    }
}
