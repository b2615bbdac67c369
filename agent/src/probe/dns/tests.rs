//! The DNS probe's zone walk, name-server questions and their bounds, on
//! answers built in memory.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;

/// A vantage that reaches everything: only the policy can stop a question.
const EVERYWHERE: Routes = Routes {
    ipv4_global: true,
    ipv6_global: true,
    ipv4_loopback: true,
    ipv6_loopback: true,
};

/// The zone's SOA asked of `server` under `policy`.
async fn ask(
    policy: &ContactPolicy,
    internal: bool,
    reach: &Routes,
    server: SocketAddr,
) -> NsQuery {
    let settings = ZoneSettings {
        ns_port: server.port(),
        ns_timeout: Duration::from_millis(300),
        anchor: None,
        contact: policy,
        internal,
    };
    ask_soa(reach, settings, server, "example.gov.vn").await
}

/// Whether a question reaches `sock` within a short wait.
async fn heard(sock: &tokio::net::UdpSocket) -> bool {
    let mut buf = [0u8; 512];
    tokio::time::timeout(Duration::from_millis(200), sock.recv_from(&mut buf))
        .await
        .is_ok()
}

/// Regression (issue 13, "the agent connects only where it is allowed
/// to"): a zone's name servers were asked for its SOA at whatever
/// address the zone published (169.254.169.254, ::1, 10.0.0.1). Here a
/// name server on 127.0.0.1, which the default policy refuses (global
/// addresses only), hears nothing, and the query says why; in the
/// pack's allow-list, the same address is asked.
#[tokio::test]
async fn a_name_server_address_the_policy_refuses_is_sent_nothing() {
    let server = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let q = ask(&ContactPolicy::default(), false, &EVERYWHERE, addr).await;
    assert_eq!(q.outcome, DnsOutcome::NotContacted);
    assert_eq!(
        q.error.as_deref(),
        Some("not contacted: 127.0.0.1 is a loopback address")
    );
    assert_eq!((q.addr, q.port, q.ms), (addr.ip(), addr.port(), 0));
    assert!(!heard(&server).await, "the refused name server was asked");
    // As the JSON report says it.
    let json = serde_json::to_value(&q).unwrap();
    assert_eq!(json["outcome"], "not_contacted");

    let allowed = ContactPolicy {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
        private_for_internal: true,
    };
    let (q, asked) = tokio::join!(ask(&allowed, false, &EVERYWHERE, addr), heard(&server));
    assert!(asked, "the allowed name server was not asked: {q:?}");
    assert_ne!(q.outcome, DnsOutcome::NotContacted);
}

/// An internal portal's zone may be asked at private addresses (the
/// default pack allows that), a public one's may not; link-local never.
/// Nothing is sent: this vantage reaches no network, so an address the
/// policy allows stops at the vantage instead.
#[tokio::test]
async fn private_name_servers_are_asked_for_internal_portals_only() {
    let policy = ContactPolicy::default();
    for (addr, internal, outcome, error) in [
        (
            "10.0.0.53:53",
            false,
            DnsOutcome::NotContacted,
            "not contacted: 10.0.0.53 is a private (RFC 1918) address",
        ),
        (
            "10.0.0.53:53",
            true,
            DnsOutcome::NotAsked,
            "this vantage has no IPv4",
        ),
        (
            "[fd00::53]:53",
            true,
            DnsOutcome::NotAsked,
            "this vantage has no IPv6",
        ),
        (
            "[fe80::53]:53",
            true,
            DnsOutcome::NotContacted,
            "not contacted: fe80::53 is a link-local address",
        ),
        (
            "169.254.169.254:53",
            true,
            DnsOutcome::NotContacted,
            "not contacted: 169.254.169.254 is a link-local address",
        ),
    ] {
        let server: SocketAddr = addr.parse().unwrap();
        let q = ask(&policy, internal, &Routes::default(), server).await;
        assert_eq!(
            (q.outcome, q.error.as_deref()),
            (outcome, Some(error)),
            "{addr}, internal: {internal}"
        );
    }
}

/// A public portal must not reuse what its zone's name servers answered
/// an internal portal at private addresses: their facts are kept apart.
#[test]
fn zone_facts_are_kept_apart_for_internal_and_public_portals() {
    let cache = ZoneCache::default();
    let public = cache.cell("gov.vn", false);
    assert!(Arc::ptr_eq(&public, &cache.cell("gov.vn", false)));
    assert!(!Arc::ptr_eq(&public, &cache.cell("gov.vn", true)));
}
