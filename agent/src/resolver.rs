//! The agent's DNS resolver: hickory with an explicit upstream (or the
//! system's), an explicit lookup strategy, and answers classified into the
//! outcomes an Observation records (NXDOMAIN, no data, SERVFAIL, timeout...).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use v6audit_model::{AddressLookup, DnsOutcome};

use crate::error::AgentError;
use crate::settings::ResolverChoice;

/// A resolver and the label it is reported under.
#[derive(Debug)]
pub struct Dns {
    resolver: TokioResolver,
    label: String,
    timeout: Duration,
    /// The resolvers' addresses, for questions the agent builds itself
    /// (DNSSEC's, with the DO bit).
    upstreams: Vec<SocketAddr>,
}

/// A failed lookup, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupFailure {
    /// The outcome as the Observation records it (NXDOMAIN, no data, SERVFAIL, timeout…).
    pub outcome: DnsOutcome,
    /// What went wrong, in words.
    pub error: Option<String>,
    /// For a negative answer: the zone apex named by its SOA (RFC 2308).
    pub soa_zone: Option<String>,
}

fn opts(timeout: Duration) -> ResolverOpts {
    let mut o = ResolverOpts::default();
    // Every lookup the agent makes names its record type; the strategy only
    // matters for lookup_ip, but is set so nothing races the families.
    o.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    o.timeout = timeout;
    // Three sends in all, as a stub resolver does: a lost UDP packet is common,
    // and one loss must not read as a missing record.
    o.attempts = 2;
    o.cache_size = 4096;
    // /etc/hosts would answer for names the audit must ask DNS about.
    o.use_hosts_file = ResolveHosts::Never;
    o.preserve_intermediates = true;
    o.ndots = 0;
    o
}

impl Dns {
    /// A resolver as `choice` says: `timeout` bounds each try, three times it each lookup.
    pub fn new(choice: &ResolverChoice, timeout: Duration) -> Result<Self, AgentError> {
        let mut upstreams = Vec::new();
        let resolver = match choice {
            ResolverChoice::System => {
                let mut b = TokioResolver::builder_tokio()
                    .map_err(|e| AgentError::SystemResolver(Box::new(e)))?;
                upstreams = system_upstreams();
                let keep = b.options_mut().clone();
                let mut o = opts(timeout);
                o.ndots = keep.ndots;
                b = b.with_options(o);
                b.build().map_err(|e| AgentError::Resolver {
                    resolver: "system".to_owned(),
                    source: Box::new(e),
                })?
            }
            ResolverChoice::At(addr) => {
                upstreams.push(*addr);
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
                .with_options(opts(timeout))
                .build()
                .map_err(|e| AgentError::Resolver {
                    resolver: addr.to_string(),
                    source: Box::new(e),
                })?
            }
        };
        Ok(Self {
            resolver,
            label: choice.label(),
            timeout,
            upstreams,
        })
    }

    /// The resolvers' addresses.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// The resolver as reports name it: `system`, or its address.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Looks up `name` (a host name, with or without the final dot).
    pub async fn lookup(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<Vec<Record>, LookupFailure> {
        let fqdn = fqdn(name).map_err(|e| LookupFailure {
            outcome: DnsOutcome::Error,
            error: Some(e),
            soa_zone: None,
        })?;
        // hickory bounds each try by its timeout; this bounds the whole lookup
        // (retries and CNAME chasing included).
        let limit = self.timeout * 3;
        match tokio::time::timeout(limit, self.resolver.lookup(fqdn, rtype)).await {
            Ok(Ok(lookup)) => Ok(lookup.answers().to_vec()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(LookupFailure {
                outcome: DnsOutcome::Timeout,
                error: Some(format!(
                    "no answer within {:.0} s (3 tries of {:.0} s each)",
                    limit.as_secs_f64(),
                    self.timeout.as_secs_f64()
                )),
                soa_zone: None,
            }),
        }
    }

    /// Whether the resolver answers at all: any response, even REFUSED or
    /// SERVFAIL, says it is there; silence or a refused connection says not.
    pub async fn answers(&self) -> Result<(), String> {
        let limit = self.timeout * 3;
        match tokio::time::timeout(limit, self.resolver.lookup(Name::root(), RecordType::NS)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => match classify(&e).outcome {
                DnsOutcome::NoData
                | DnsOutcome::NxDomain
                | DnsOutcome::ServFail
                | DnsOutcome::Refused => Ok(()),
                _ => Err(format!("the resolver {} does not answer: {e}", self.label)),
            },
            Err(_) => Err(format!(
                "the resolver {} does not answer (no response within {} s)",
                self.label,
                limit.as_secs()
            )),
        }
    }

    /// A or AAAA for a host, with the CNAME chain followed and recorded.
    pub async fn addresses(&self, host: &str, rtype: RecordType) -> AddressLookup {
        let start = Instant::now();
        let result = self.lookup(host, rtype).await;
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(records) => {
                let mut addrs = Vec::new();
                let mut cname_chain = Vec::new();
                for r in &records {
                    match &r.data {
                        RData::A(a) if rtype == RecordType::A => addrs.push(IpAddr::V4(a.0)),
                        RData::AAAA(a) if rtype == RecordType::AAAA => addrs.push(IpAddr::V6(a.0)),
                        RData::CNAME(c) => cname_chain.push(name_text(&c.0)),
                        _ => {}
                    }
                }
                // Aliases that lead nowhere are their own outcome: a loop or
                // an over-long chain says nothing about which records exist.
                let problem = addrs
                    .is_empty()
                    .then(|| cname_problem(host, &cname_chain))
                    .flatten();
                AddressLookup {
                    outcome: match (&problem, addrs.is_empty()) {
                        (Some(_), _) => DnsOutcome::Error,
                        (None, true) => DnsOutcome::NoData,
                        (None, false) => DnsOutcome::Ok,
                    },
                    addrs,
                    cname_chain,
                    error: problem,
                    ms,
                }
            }
            Err(f) => AddressLookup {
                outcome: f.outcome,
                addrs: Vec::new(),
                cname_chain: Vec::new(),
                error: f.error,
                ms,
            },
        }
    }
}

/// The longest CNAME chain a lookup may follow (BIND and Unbound stop at
/// 16 and 11 hops; no portal needs more than a few).
pub const MAX_CNAME_CHAIN: usize = 8;

/// What is wrong with the aliases of `host` when they gave no address: a
/// loop (a name met twice) or a chain over [`MAX_CNAME_CHAIN`] names, as a
/// sentence naming the chain.
pub fn cname_problem(host: &str, chain: &[String]) -> Option<String> {
    let norm = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
    let mut names = vec![norm(host)];
    for c in chain {
        let c = norm(c);
        let looped = names.contains(&c);
        names.push(c);
        if looped {
            return Some(format!("a CNAME loop: {}", names.join(" → ")));
        }
    }
    (chain.len() > MAX_CNAME_CHAIN).then(|| {
        format!(
            "a CNAME chain of {} names, over the limit of {MAX_CNAME_CHAIN}: {}",
            chain.len(),
            names.join(" → ")
        )
    })
}

/// The system's resolvers (/etc/resolv.conf), each on its UDP port.
fn system_upstreams() -> Vec<SocketAddr> {
    let Ok((config, _)) = hickory_resolver::system_conf::read_system_conf() else {
        return Vec::new();
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map_or(53, |c| c.port);
        let addr = SocketAddr::new(ns.ip, port);
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// `name` as an absolute DNS name.
pub fn fqdn(name: &str) -> Result<Name, String> {
    let text = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&text).map_err(|e| format!("`{name}` is not a valid DNS name: {e}"))
}

/// A DNS name as reported: lower case, no final dot.
pub fn name_text(name: &Name) -> String {
    let s = name.to_ascii();
    s.trim_end_matches('.').to_ascii_lowercase()
}

/// Classifies a failed lookup.
pub fn classify(e: &NetError) -> LookupFailure {
    let fail = |outcome, error: Option<String>| LookupFailure {
        outcome,
        error,
        soa_zone: None,
    };
    match e {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code, soa, ..
        })) => {
            let soa_zone = soa.as_ref().map(|s| name_text(&s.name));
            let outcome = match *response_code {
                ResponseCode::NXDomain => DnsOutcome::NxDomain,
                ResponseCode::NoError => DnsOutcome::NoData,
                ResponseCode::ServFail => DnsOutcome::ServFail,
                ResponseCode::Refused => DnsOutcome::Refused,
                _ => DnsOutcome::Error,
            };
            LookupFailure {
                outcome,
                error: (outcome == DnsOutcome::Error)
                    .then(|| format!("response code {response_code}")),
                soa_zone,
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
            fail(DnsOutcome::ServFail, None)
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => {
            fail(DnsOutcome::Refused, None)
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            fail(DnsOutcome::Error, Some(format!("response code {code}")))
        }
        NetError::Timeout => fail(
            DnsOutcome::Timeout,
            Some("no answer from the resolver".to_owned()),
        ),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => fail(
            DnsOutcome::Error,
            Some("the resolver refused the connection".to_owned()),
        ),
        other => fail(DnsOutcome::Error, Some(other.to_string())),
    }
}

/// Whether a resolver address is on loopback (a lab, or a local cache).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod cname_tests {
    use super::*;

    #[test]
    fn a_cname_loop_is_named_with_its_chain() {
        let chain = vec!["b.lab.test.".to_owned(), "a.lab.test.".to_owned()];
        assert_eq!(
            cname_problem("a.lab.test", &chain).as_deref(),
            Some("a CNAME loop: a.lab.test → b.lab.test → a.lab.test")
        );
        assert_eq!(cname_problem("a.lab.test", &chain[..1]), None);
        let long: Vec<String> = (0..9).map(|i| format!("n{i}.test")).collect();
        assert!(
            cname_problem("a.test", &long)
                .unwrap()
                .starts_with("a CNAME chain of 9 names")
        );
    }
}
