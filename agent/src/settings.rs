//! The bounds and choices of one audit run: timeouts, budgets, caps and
//! concurrency. Every wait and every buffer in the agent is bounded by one of
//! these, so a hostile or slow portal cannot stall or exhaust the agent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use v6audit_rules::ContactPolicy;

use crate::anchor::Anchor;

/// Where DNS questions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolverChoice {
    /// The system's resolvers, from /etc/resolv.conf.
    System,
    /// One resolver at this address (UDP, then TCP on truncation).
    At(SocketAddr),
}

impl ResolverChoice {
    /// The resolver as reports name it: `system`, or its address.
    pub fn label(&self) -> String {
        match self {
            Self::System => "system".to_owned(),
            Self::At(a) => a.to_string(),
        }
    }
}

/// The settings of one audit run (`v6audit audit`'s flags, or `agent.yaml`'s `audit`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where DNS questions go.
    pub resolver: ResolverChoice,
    /// Extra trust anchors (PEM) besides the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// Portals audited at once.
    pub concurrency: usize,
    /// Each network step (a DNS question, a connect, a handshake, an HTTP
    /// exchange) gets at most this long.
    pub timeout: Duration,
    /// A whole portal gets at most this long; steps still running then are
    /// recorded as timeouts.
    pub portal_budget: Duration,
    /// Direct questions to a zone's name servers get at most this long.
    pub ns_timeout: Duration,
    /// The port name servers are asked on (53; labs use another).
    pub ns_port: u16,
    /// Redirects followed per family; one more ends the chain as too many.
    pub max_redirects: usize,
    /// Response bodies are read up to this many bytes.
    pub body_cap: usize,
    /// A response head larger than this is refused.
    pub header_cap: usize,
    /// The `User-Agent` of every request to a portal.
    pub user_agent: String,
    /// Send ICMPv6 echo to the portal's IPv6 addresses (`net.icmpv6-echo`).
    pub icmpv6: bool,
    /// The port mail servers are asked on (25; labs use another).
    pub smtp_port: u16,
    /// Where DNSSEC validation starts (`dns.dnssec`): the root's keys by
    /// default, a lab's keys in tests; None turns the check off.
    pub dnssec: Option<Arc<Anchor>>,
    /// Which addresses may be connected to: from the rule pack
    /// ([`ContactPolicy::of`]); by default global unicast only.
    pub contact: ContactPolicy,
    /// Addresses probed per family and portal (the pack's
    /// `web.v6-reachable.max_addresses`); the rest are listed as not probed.
    pub max_addresses: usize,
}

impl Settings {
    /// Takes what the rule pack decides about probing: where the agent may
    /// connect, and how many addresses of a portal it probes.
    pub fn follow_pack(&mut self, params: &v6audit_rules::pack::Params) {
        self.contact = ContactPolicy::of(params);
        self.max_addresses = usize::try_from(params.max_addresses).unwrap_or(usize::MAX);
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resolver: ResolverChoice::System,
            ca_file: None,
            concurrency: 64,
            timeout: Duration::from_secs(10),
            portal_budget: Duration::from_secs(30),
            ns_timeout: Duration::from_secs(5),
            ns_port: 53,
            max_redirects: 10,
            body_cap: 1 << 20,
            header_cap: 64 << 10,
            user_agent: format!(
                "v6audit/{} (+https://github.com/v6audit/v6audit; IPv6 readiness audit)",
                env!("CARGO_PKG_VERSION")
            ),
            icmpv6: true,
            smtp_port: 25,
            dnssec: Some(Arc::new(Anchor::root())),
            contact: ContactPolicy::default(),
            max_addresses: 16,
        }
    }
}
