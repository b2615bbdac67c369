//! End to end on loopback: the lab's portals, probed by the agent, judged by
//! the rules. Each scenario must give exactly its stage and rule statuses.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{describe, mismatches};
use v6audit_agent::anchor::Anchor;
use v6audit_agent::probe::dns::find_apex;
use v6audit_agent::resolver::Dns;
use v6audit_agent::{Auditor, ResolverChoice, Settings};
use v6audit_lab::{Lab, LabConfig, Mix, RecordData, Scenario, Zone};
use v6audit_model::{
    DnsOutcome, FetchOutcome, HttpOutcome, Inventory, Lang, PortalResult, Stage, Status,
    TcpOutcome, TlsOutcome,
};
use v6audit_rules::Pack;

struct Run {
    lab: Lab,
    results: BTreeMap<String, PortalResult>,
    _dir: tempfile::TempDir,
}

fn settings(lab: &Lab, timeout: Duration, budget: Duration) -> Settings {
    Settings {
        resolver: ResolverChoice::At(lab.resolver()),
        ca_file: Some(lab.ca_path.clone()),
        ns_port: lab.dns.port,
        smtp_port: lab.ports.smtp,
        dnssec: Some(std::sync::Arc::new(
            Anchor::from_file(&lab.anchor_path).expect("the lab writes its trust anchor"),
        )),
        timeout,
        portal_budget: budget,
        // The lab's pack allows its loopback prefixes.
        contact: v6audit_rules::ContactPolicy::of(&Pack::load(&lab.pack_path).unwrap().params),
        ..Settings::default()
    }
}

async fn run(portals: usize, mix: Mix, timeout: Duration, budget: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabConfig {
        portals,
        mix,
        dir: dir.path().to_owned(),
    })
    .await
    .unwrap();
    let inventory = Inventory::load(&lab.inventory_path).unwrap();
    let pack = Arc::new(Pack::load(&lab.pack_path).unwrap());
    let auditor = Auditor::new(settings(&lab, timeout, budget)).await.unwrap();
    let report = auditor
        .audit(inventory.portals, pack, Lang::En, "test", None)
        .await;
    assert_eq!(report.results.len(), portals, "every portal gets a result");
    let results = report
        .results
        .into_iter()
        .map(|r| (r.portal.id.clone(), r))
        .collect();
    Run {
        lab,
        results,
        _dir: dir,
    }
}

impl Run {
    fn of(&self, scenario: Scenario) -> &PortalResult {
        let portal = self
            .lab
            .portals
            .iter()
            .find(|p| p.scenario == scenario)
            .unwrap();
        &self.results[&portal.id]
    }
}

/// One host audited with the default pack.
async fn audit_target(settings: Settings, host: &str) -> PortalResult {
    let auditor = Auditor::new(settings).await.unwrap();
    let inventory = Inventory::from_targets(&[host.to_owned()]).unwrap();
    let mut report = auditor
        .audit(
            inventory.portals,
            Arc::new(Pack::default_pack()),
            Lang::En,
            "test",
            None,
        )
        .await;
    report.results.remove(0)
}

/// One lab of every scenario, audited once, checked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_end_to_end() {
    let run = run(
        Scenario::ALL.len(),
        Mix::All,
        Duration::from_secs(3),
        Duration::from_secs(10),
    )
    .await;
    every_scenario_gives_its_stage_and_rule_statuses(&run);
    observations_record_the_facts_behind_each_scenario(&run);
}

fn every_scenario_gives_its_stage_and_rule_statuses(run: &Run) {
    let mut wrong = Vec::new();
    for s in Scenario::ALL {
        wrong.extend(mismatches(
            s.name(),
            run.of(s),
            s.expected_stage(),
            s.expected_statuses(),
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

fn observations_record_the_facts_behind_each_scenario(run: &Run) {
    // The latency series: three connects per family to the URL's port.
    let good = &run.of(Scenario::Good).observation;
    let latency = good.latency.as_ref().expect("latency measured");
    for (family, p) in [("IPv4", &latency.ipv4), ("IPv6", &latency.ipv6)] {
        let p = p.as_ref().unwrap_or_else(|| panic!("{family} series"));
        assert_eq!(p.attempts.len(), 3, "{family}: {p:?}");
        assert!(p.median_ms().is_some(), "{family}: {p:?}");
    }
    // The page over IPv6 is read for what it loads from elsewhere: the lab's
    // CDN host, over IPv6; the stylesheet on its own host is not counted.
    let sub = good.subresources.as_ref().expect("sub-resources read");
    assert_eq!(sub.urls, 2, "{sub:?}");
    let hosts: Vec<(&str, &[String], bool)> = sub
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.kinds.as_slice(), h.reachable_over_ipv6()))
        .collect();
    assert_eq!(hosts, [("edge.lab.test", &["image".to_owned()][..], true)]);
    let v4only = run.of(Scenario::SubresourceV4Only);
    assert_eq!(
        v4only
            .verdict
            .finding("web.subresources-v6")
            .unwrap()
            .message,
        "An IPv6-only visitor cannot load what the page needs from 1 of 2 hosts: sso-v4only.lab.test (no AAAA record; script)."
    );
    // SMTP with mail.lab.test over both families: greeting, EHLO, STARTTLS.
    let smtp = good.smtp.as_ref().expect("SMTP probed");
    let sessions: Vec<(
        &str,
        v6audit_model::Family,
        v6audit_model::SmtpOutcome,
        bool,
        Option<&str>,
    )> = smtp
        .iter()
        .map(|p| {
            (
                p.host.as_str(),
                p.family,
                p.outcome,
                p.starttls,
                p.banner_host.as_deref(),
            )
        })
        .collect();
    use v6audit_model::{Family as F, SmtpOutcome as O};
    assert_eq!(
        sessions,
        [
            ("mail.lab.test", F::V6, O::Ok, true, Some("mail.lab.test")),
            ("mail.lab.test", F::V4, O::Ok, true, Some("mail.lab.test")),
        ]
    );
    // ICMPv6 echo to ::1: answered as root (or where ping sockets are
    // allowed), else the missing permission is named.
    let echo = good.icmpv6.as_ref().expect("ICMPv6 probed");
    assert_eq!(echo.len(), 1);
    assert_eq!(echo[0].addr, "::1".parse::<std::net::IpAddr>().unwrap());
    let finding = run
        .of(Scenario::Good)
        .verdict
        .finding("net.icmpv6-echo")
        .unwrap()
        .clone();
    if std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_some() {
        // scripts/test.sh sets it when running as root: raw sockets work.
        assert_eq!(
            echo[0].outcome,
            v6audit_model::EchoOutcome::Reply,
            "{echo:?}"
        );
        assert_eq!(echo[0].socket, Some(v6audit_model::EchoSocket::Raw));
        assert!(echo[0].hop_limit.is_some(), "{echo:?}");
        assert!(
            finding
                .message
                .starts_with("1 IPv6 address(es) answer ICMPv6 echo: ::1 ")
                && finding.message.contains(" ms (hop limit "),
            "{}",
            finding.message
        );
    } else if echo[0].outcome == v6audit_model::EchoOutcome::NoPermission {
        assert_eq!(
            finding.message,
            "No permission to send ICMPv6 (run as root or grant CAP_NET_RAW)."
        );
    }

    // A CNAME chain is followed and recorded.
    let cname = &run.of(Scenario::Cname).observation;
    assert_eq!(cname.dns.aaaa.cname_chain, vec!["edge.lab.test".to_owned()]);
    assert_eq!(
        cname.dns.aaaa.addrs,
        vec!["::1".parse::<std::net::IpAddr>().unwrap()]
    );

    // A name that is gone: NXDOMAIN, and the finding says so.
    let gone = run.of(Scenario::Gone);
    assert_eq!(gone.observation.dns.aaaa.outcome, DnsOutcome::NxDomain);
    assert!(
        gone.verdict
            .finding("dns.aaaa")
            .unwrap()
            .message
            .contains("NXDOMAIN")
    );

    // The good portal: zone, name servers asked directly over IPv6 with authority, TLS facts.
    let good = &run.of(Scenario::Good).observation;
    assert_eq!(good.dns.zone.apex.as_deref(), Some("lab.test"));
    assert_eq!(good.dns.zone.name_servers.len(), 2);
    let q6 = good.dns.zone.name_servers[0]
        .queries
        .iter()
        .find(|q| q.addr.is_ipv6())
        .unwrap();
    assert!(q6.authoritative && q6.soa_serial.is_some(), "{q6:?}");
    let tls6 = good
        .endpoints
        .iter()
        .find(|e| e.addr.is_ipv6() && e.tls_port)
        .and_then(|e| e.tls.as_ref())
        .unwrap();
    assert_eq!(tls6.outcome, TlsOutcome::Ok);
    assert_eq!(tls6.alpn.as_deref(), Some("http/1.1"));
    let cert = tls6.certificate.as_ref().unwrap();
    assert!(cert.sans.contains(&"*.lab.test".to_owned()));
    assert_eq!(cert.sha256.len(), 64);
    assert_eq!(good.content_similarity, Some(1.0));
    // Port 80 (the lab's plain port) redirects to HTTPS, recorded on its endpoint.
    let plain6 = good
        .endpoints
        .iter()
        .find(|e| e.addr.is_ipv6() && !e.tls_port)
        .unwrap();
    assert_eq!(plain6.http.as_ref().unwrap().status, Some(301));

    // The ns-v4-only portal's zone is found below lab.test, not by taking two labels.
    let nsv4 = &run.of(Scenario::NsV4Only).observation;
    assert_eq!(nsv4.dns.zone.apex.as_deref(), Some("v4ns.lab.test"));

    // Refused over IPv6, connected over IPv4.
    let refused = &run.of(Scenario::V6Refused).observation;
    for e in &refused.endpoints {
        let want = if e.addr.is_ipv6() {
            TcpOutcome::Refused
        } else {
            TcpOutcome::Connected
        };
        assert_eq!(e.tcp.outcome, want, "{e:?}");
    }

    // TLS that never answers over IPv6 is a handshake timeout.
    let silent = &run.of(Scenario::V6TlsSilent).observation;
    let tls = silent
        .endpoints
        .iter()
        .find(|e| e.addr.is_ipv6() && e.tls_port)
        .and_then(|e| e.tls.as_ref())
        .unwrap();
    assert_eq!(tls.outcome, TlsOutcome::Timeout);

    // Wrong and expired certificates over IPv6 are named, and the page still arrives.
    let wrong = run.of(Scenario::V6WrongCert);
    assert!(
        wrong
            .verdict
            .finding("tls.v6-cert")
            .unwrap()
            .message
            .contains("name mismatch (valid for portal.other.test)"),
        "{}",
        describe(wrong)
    );
    assert_eq!(
        wrong.observation.http.ipv6.as_ref().unwrap().final_status(),
        Some(200)
    );
    let expired = run.of(Scenario::V6ExpiredCert);
    assert!(
        expired
            .verdict
            .finding("tls.v6-cert")
            .unwrap()
            .message
            .contains(": expired on ")
    );

    // Redirect to a host without AAAA: the IPv6 chain stops there, the IPv4 one completes.
    let redirect = &run.of(Scenario::RedirectV4Only).observation;
    let v6 = redirect.http.ipv6.as_ref().unwrap();
    assert_eq!(v6.outcome, FetchOutcome::LeftFamily);
    assert_eq!(v6.hops[0].next_host_has_aaaa, Some(false));
    let v4 = redirect.http.ipv4.as_ref().unwrap();
    assert_eq!(v4.outcome, FetchOutcome::Complete);
    assert_eq!(v4.hops.len(), 2);
    assert!(v4.final_url().unwrap().contains("sso-v4only.lab.test"));

    // Different content over IPv6: similarity well under the threshold.
    let content = &run.of(Scenario::V6Content).observation;
    assert!(
        content.content_similarity.unwrap() < 0.5,
        "{:?}",
        content.content_similarity
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_portals_are_cut_off_and_the_audit_finishes() {
    // Regression guard for the agent's bounds: endless headers, an endless
    // body, a byte a second and a redirect loop, with a budget shorter than
    // the slow portal needs.
    let mix = [
        Scenario::HostileHeaders,
        Scenario::HostileBody,
        Scenario::HostileSlow,
        Scenario::HostileRedirectLoop,
    ];
    let dir = tempfile::tempdir().unwrap();
    // Two of each scenario.
    let lab = Lab::start(LabConfig {
        portals: 2 * Scenario::ALL.len(),
        mix: Mix::All,
        dir: dir.path().to_owned(),
    })
    .await
    .unwrap();
    let inventory = Inventory::load(&lab.inventory_path).unwrap();
    let portals: Vec<_> = inventory
        .portals
        .into_iter()
        .filter(|p| mix.iter().any(|s| p.id.starts_with(s.name())))
        .collect();
    assert_eq!(portals.len(), 8);
    let pack = Arc::new(Pack::load(&lab.pack_path).unwrap());
    // Each step may take 8 s but a portal only 4 s: the budget must win. (4 s,
    // not less: a redirect loop is followed hop by hop, and on a loaded
    // two-core machine a 2 s budget ran out before the loop showed.)
    let auditor = Auditor::new(settings(
        &lab,
        Duration::from_secs(8),
        Duration::from_secs(4),
    ))
    .await
    .unwrap();
    let report = auditor.audit(portals, pack, Lang::En, "test", None).await;
    assert_eq!(report.results.len(), 8);
    for r in &report.results {
        let v6 = r.observation.http.ipv6.as_ref().unwrap();
        let http = r.verdict.finding("web.v6-http").unwrap();
        let id = &r.portal.id;
        if id.starts_with("hostile-headers") {
            assert_eq!(
                v6.hops[0].exchange.outcome,
                HttpOutcome::HeadersTooLarge,
                "{id}"
            );
            assert_eq!(http.status, Status::Fail);
            assert!(
                http.message
                    .contains("response headers larger than the cap"),
                "{}",
                http.message
            );
        } else if id.starts_with("hostile-body") {
            let x = &v6.hops[0].exchange;
            assert!(x.body_truncated, "{id}");
            assert_eq!(x.body_bytes, 1 << 20);
            assert_eq!(http.status, Status::Warn);
        } else if id.starts_with("hostile-slow") {
            assert_eq!(http.status, Status::Fail, "{}", describe(r));
            assert!(
                r.observation.budget_exhausted,
                "{id}: the 4 s budget ran out before the 8 s step timeout"
            );
            assert_eq!(r.verdict.stage, Stage::Broken);
        } else {
            assert_eq!(
                v6.outcome,
                FetchOutcome::RedirectLoop,
                "{id}: {}",
                describe(r)
            );
            assert!(http.message.contains("loop back to"), "{}", http.message);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zone_cut_is_found_by_walking_up_not_by_counting_labels() {
    // gov.vn holds mic.gov.vn's names; hanoi.gov.vn is a zone of its own.
    let mut gov = Zone::new("gov.vn");
    gov.add("gov.vn", RecordData::Ns("ns1.gov.vn".into()))
        .host("ns1.gov.vn", true, Some(std::net::Ipv6Addr::LOCALHOST))
        .host("www.mic.gov.vn", true, None)
        .add(
            "alias.gov.vn",
            RecordData::Cname("dichvucong.hanoi.gov.vn".into()),
        );
    let mut hanoi = Zone::new("hanoi.gov.vn");
    hanoi
        .add("hanoi.gov.vn", RecordData::Ns("ns1.hanoi.gov.vn".into()))
        .host(
            "ns1.hanoi.gov.vn",
            true,
            Some(std::net::Ipv6Addr::LOCALHOST),
        )
        .host(
            "dichvucong.hanoi.gov.vn",
            true,
            Some(std::net::Ipv6Addr::LOCALHOST),
        );
    let server = v6audit_lab::DnsServer::start(&[gov, hanoi]).await.unwrap();
    let dns = Dns::new(
        &ResolverChoice::At(server.addr_v6()),
        Duration::from_secs(2),
    )
    .unwrap();
    let cases = [
        ("dichvucong.hanoi.gov.vn", "hanoi.gov.vn"),
        ("hanoi.gov.vn", "hanoi.gov.vn"),
        ("www.mic.gov.vn", "gov.vn"),
        // A name that does not exist still lies in a zone.
        ("nothing.here.hanoi.gov.vn", "hanoi.gov.vn"),
        // A CNAME in gov.vn: the alias's own zone, not its target's.
        ("alias.gov.vn", "gov.vn"),
    ];
    for (host, zone) in cases {
        assert_eq!(find_apex(&dns, host).await.unwrap(), zone, "{host}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_resolver_is_an_error_not_a_missing_aaaa() {
    // A resolver address where nothing answers: every DNS fact is unknown.
    let port = std::net::UdpSocket::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = Settings {
        resolver: ResolverChoice::At(std::net::SocketAddr::new(
            std::net::Ipv6Addr::LOCALHOST.into(),
            port,
        )),
        timeout: Duration::from_millis(500),
        ns_timeout: Duration::from_millis(500),
        portal_budget: Duration::from_secs(5),
        ..Settings::default()
    };
    let result = audit_target(settings, "portal.lab.test").await;
    let v = &result.verdict;
    assert_eq!(
        v.status("dns.aaaa"),
        Some(Status::Error),
        "{}",
        describe(&result)
    );
    assert!(
        v.finding("dns.aaaa")
            .unwrap()
            .message
            .starts_with("Unknown: the AAAA lookup")
    );
    assert!(!v.stage_certain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_at_its_zones_apex_brings_its_www_and_the_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabConfig {
        portals: 1,
        mix: Mix::All,
        dir: dir.path().to_owned(),
    })
    .await
    .unwrap();
    let pack = Arc::new(Pack::load(&lab.pack_path).unwrap());
    let auditor = Auditor::new(settings(
        &lab,
        Duration::from_secs(5),
        Duration::from_secs(15),
    ))
    .await
    .unwrap();
    let https = lab.ports.https;
    let target = |host: &str| {
        v6audit_model::Portal::from_target(&format!("https://{host}:{https}/")).unwrap()
    };
    let audit = |portals: Vec<v6audit_model::Portal>| {
        let (auditor, pack) = (auditor.clone(), pack.clone());
        async move {
            auditor
                .audit(portals, pack, v6audit_model::Lang::En, "test", None)
                .await
                .results
                .into_iter()
                .map(|r| (r.portal.id, r.observation.host, r.verdict.stage))
                .collect::<Vec<_>>()
        }
    };
    // The apex (found by the zone walk) brings www.; each is audited.
    let got = audit(vec![target("lab.test")]).await;
    let (apex_id, www_id) = (got[0].0.clone(), got[1].0.clone());
    assert_eq!(
        got,
        [
            (apex_id.clone(), "lab.test".to_owned(), Stage::Ipv6Complete),
            (
                format!("{apex_id}-www"),
                "www.lab.test".to_owned(),
                Stage::Ipv6Complete
            ),
        ]
    );
    assert_eq!(www_id, format!("{apex_id}-www"));
    // www. brings the apex.
    let got = audit(vec![target("www.lab.test")]).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].1, "lab.test");
    assert!(got[1].0.ends_with("-apex"), "{got:?}");
    // Both named already, a portal below the apex, or also_www: false: nothing added.
    assert_eq!(
        audit(vec![target("lab.test"), target("www.lab.test")])
            .await
            .len(),
        2
    );
    let below = lab.portals[0].host.clone();
    assert_eq!(audit(vec![target(&below)]).await.len(), 1);
    let mut off = target("lab.test");
    off.also_www = false;
    assert_eq!(audit(vec![off]).await.len(), 1);
    // In an inventory, per portal or in its defaults.
    let inv = v6audit_model::Inventory::parse(
        &format!("schema: v6audit/inventory/v1\ndefaults: {{also_www: false}}\nportals:\n  - {{id: apex, url: \"https://lab.test:{https}/\"}}\n  - {{id: apex2, url: \"https://lab.test:{https}/x\", also_www: true}}\n"),
        "t",
    )
    .unwrap();
    assert_eq!(
        inv.portals.iter().map(|p| p.also_www).collect::<Vec<_>>(),
        [false, true]
    );
    lab.shutdown().await;
}

/// DNSSEC starts from the anchor it is given: another key than the zone's
/// breaks the chain at once, and the root's keys cannot be followed through
/// a resolver that serves only the lab; with --no-dnssec nothing is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnssec_follows_the_anchor_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabConfig {
        portals: 1,
        mix: Mix::Only(Scenario::Good),
        dir: dir.path().to_owned(),
    })
    .await
    .unwrap();
    let lab_ref = &lab;
    let audit = |dnssec: Option<Anchor>| {
        let lab = lab_ref;
        let mut s = settings(lab, Duration::from_secs(2), Duration::from_secs(8));
        s.dnssec = dnssec.map(Arc::new);
        async move {
            let auditor = Auditor::new(s).await.unwrap();
            let inventory = Inventory::load(&lab.inventory_path).unwrap();
            let pack = Arc::new(Pack::load(&lab.pack_path).unwrap());
            let report = auditor
                .audit(inventory.portals, pack, Lang::En, "test", None)
                .await;
            let good = report
                .results
                .into_iter()
                .find(|r| r.portal.id.starts_with("good-"))
                .unwrap();
            let f = good.verdict.finding("dns.dnssec").unwrap().clone();
            (f.status, f.message)
        }
    };
    // Another key for lab.test than the one it is signed with.
    let other = "lab.test. 3600 IN DNSKEY 257 3 13 \
        mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    let (status, message) = audit(Some(Anchor::parse(other, "other.keys").unwrap())).await;
    assert_eq!(status, Status::Fail, "{message}");
    assert_eq!(
        message,
        "The chain of trust of lab.test is broken: no DNSKEY of lab.test matches the trust anchor (other.keys). Validating resolvers refuse its names."
    );
    // The root's keys: the lab's resolver serves no root zone.
    let (status, message) = audit(Some(Anchor::root())).await;
    assert_eq!(status, Status::Error, "{message}");
    assert!(
        message.starts_with(
            "Unknown: the chain of trust of lab.test could not be followed (no DNSKEY of the anchor zone . from the resolver: "
        ),
        "{message}"
    );
    let (status, message) = audit(None).await;
    assert_eq!(status, Status::Skip, "{message}");
    lab.shutdown().await;
}

/// The chain is followed through every delegation between the anchor and
/// the portal's zone, however deep (vn → gov.vn → hanoi.gov.vn here), and an
/// unsigned zone on the way ends it as insecure, naming that zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnssec_is_followed_through_every_delegation_down_to_the_zone() {
    use v6audit_lab::Signing;
    let zones = |top: Signing, middle: Signing| {
        let mut vn = Zone::new("vn").signed(top);
        vn.add("vn", RecordData::Ns("ns1.vn".into())).host(
            "ns1.vn",
            true,
            Some(std::net::Ipv6Addr::LOCALHOST),
        );
        let mut gov = Zone::new("gov.vn").signed(middle);
        gov.add("gov.vn", RecordData::Ns("ns1.vn".into()));
        let mut hanoi = Zone::new("hanoi.gov.vn").signed(Signing::Signed);
        hanoi
            .add("hanoi.gov.vn", RecordData::Ns("ns1.vn".into()))
            .host(
                "dichvucong.hanoi.gov.vn",
                true,
                Some(std::net::Ipv6Addr::LOCALHOST),
            );
        vec![vn, gov, hanoi]
    };
    let lab_pack = Pack::parse(v6audit_lab::LAB_PACK, "lab pack").unwrap();
    // A key of vn's for when the lab did not sign it.
    let other = "vn. 3600 IN DNSKEY 257 3 13 \
        mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    for (top, middle, status, message) in [
        (
            Signing::Signed,
            Signing::Signed,
            Status::Pass,
            "hanoi.gov.vn validates from the trust anchor at vn (DS ",
        ),
        (
            Signing::Signed,
            Signing::Unsigned,
            Status::Warn,
            "The delegation of gov.vn above hanoi.gov.vn is not signed, so no chain of trust reaches hanoi.gov.vn.",
        ),
        // An anchor zone that answers without keys: the vantage cannot
        // judge (a resolver stripping DNSSEC looks the same), not a failure.
        (
            Signing::Unsigned,
            Signing::Signed,
            Status::Error,
            "Unknown: the chain of trust of hanoi.gov.vn could not be followed (the resolver gave no DNSKEY for the anchor zone vn: the zone is not signed, or the resolver does not pass DNSSEC records).",
        ),
    ] {
        let server = v6audit_lab::DnsServer::start(&zones(top, middle))
            .await
            .unwrap();
        let anchor = match server.keys.iter().find(|(z, _)| z == "vn") {
            Some((zone, key)) => v6audit_lab::dns::anchor_line(zone, key),
            None => other.to_owned(),
        };
        let anchor = Anchor::parse(&anchor, "vn.keys").unwrap();
        let settings = Settings {
            resolver: ResolverChoice::At(server.addr_v6()),
            ns_port: server.port,
            timeout: Duration::from_secs(2),
            portal_budget: Duration::from_secs(6),
            dnssec: Some(Arc::new(anchor)),
            // ns1.vn is on loopback: the lab's pack lets the agent ask it.
            contact: v6audit_rules::ContactPolicy::of(&lab_pack.params),
            ..Settings::default()
        };
        let r = &audit_target(settings, "dichvucong.hanoi.gov.vn").await;
        let f = r.verdict.finding("dns.dnssec").unwrap();
        assert_eq!(f.status, status, "{top:?} {middle:?}\n{}", describe(r));
        assert!(
            f.message.starts_with(message),
            "{top:?} {middle:?}: {}",
            f.message
        );
        server.shutdown().await;
    }
}

/// Regression (issue "Trust under hostile input", 5): a CNAME loop
/// (a → b → a) read as `dns.aaaa: fail "no AAAA record (IPv4 only: )"`,
/// stage 0, certain. A loop is unknown, named with its chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cname_loop_is_an_error_naming_the_chain_not_ipv4_only() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabConfig {
        portals: 1,
        mix: Mix::All,
        dir: dir.path().to_owned(),
    })
    .await
    .unwrap();
    let s = settings(&lab, Duration::from_secs(5), Duration::from_secs(10));
    let result = audit_target(s, v6audit_lab::CNAME_LOOP).await;
    let v = &result.verdict;
    assert_eq!(
        v.status("dns.aaaa"),
        Some(Status::Error),
        "{}",
        describe(&result)
    );
    let msg = &v.finding("dns.aaaa").unwrap().message;
    assert!(
        msg.contains("a CNAME loop: loop-a.lab.test → loop-b.lab.test → loop-a.lab.test"),
        "{msg}"
    );
    assert!(!msg.contains("IPv4 only"), "{msg}");
    assert_eq!(v.stage, Stage::Ipv4Only);
    assert!(!v.stage_certain, "a loop leaves the stage unknown");
}

/// Regression (issue "Trust under hostile input", 7): a redirect to an
/// address literal (a cloud's metadata address, the agent's own loopback)
/// was connected to. Here a portal on 127.0.0.1 redirects to 127.0.0.2, a
/// loopback address the pack does not allow (standing in for
/// 169.254.169.254, which no test may send to): the agent records "not
/// contacted" and the target sees no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_an_address_the_pack_does_not_allow_is_not_followed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The forbidden target counts every connection it gets.
    let target = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target_port = target.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = target.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    // The portal: every request is sent to the forbidden address.
    let portal = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = portal.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = portal.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:{target_port}/latest/meta-data/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    let mut zone = Zone::new("ssrf.test");
    zone.host("portal.ssrf.test", true, None);
    let dns = v6audit_lab::DnsServer::start(&[zone]).await.unwrap();
    let pack = Pack::parse(
        "schema: v6audit/rules/v1\nname: t\nextends: default\nrules:\n  dns.aaaa-global:\n    allow: [\"127.0.0.1/32\"]\n",
        "test pack",
    )
    .unwrap();
    let settings = Settings {
        resolver: ResolverChoice::At(dns.addr_v6()),
        ns_port: dns.port,
        timeout: Duration::from_secs(2),
        portal_budget: Duration::from_secs(8),
        dnssec: None,
        icmpv6: false,
        contact: v6audit_rules::ContactPolicy::of(&pack.params),
        ..Settings::default()
    };
    let auditor = Auditor::new(settings).await.unwrap();
    let inventory = Inventory::from_targets(&[format!("http://portal.ssrf.test:{port}/")]).unwrap();
    let mut report = auditor
        .audit(inventory.portals, Arc::new(pack), Lang::En, "test", None)
        .await;
    let r = report.results.remove(0);
    let v4 = r.observation.http.ipv4.as_ref().unwrap();
    assert_eq!(v4.outcome, FetchOutcome::Failed, "{}", describe(&r));
    let last = v4.last().unwrap();
    assert_eq!(last.exchange.outcome, HttpOutcome::NotSent);
    assert_eq!(
        last.exchange.error.as_deref(),
        Some("not contacted: 127.0.0.2 is a loopback address")
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the forbidden address was contacted"
    );
    dns.shutdown().await;
}

/// Regression (issue 13, "the agent connects only where it is allowed
/// to"): the SOA and DNSSEC questions to a zone's name servers went to
/// whatever addresses the zone published, so a hostile zone could make the
/// agent send to 10.0.0.1, 169.254.169.254 or its own loopback. Here
/// nsq.test's name servers are ns1 at 127.0.0.1 and ::1 and ns2 at
/// 127.0.0.2, and the pack allows only 127.0.0.1/32 (::1 and 127.0.0.2, on
/// loopback, stand in for addresses no test may send to): ns1 is asked at
/// 127.0.0.1 alone, 127.0.0.2 hears nothing, and the two rules that read
/// these questions are `error`, naming the addresses not contacted, never
/// `fail`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_servers_at_addresses_the_pack_does_not_allow_are_not_asked() {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::{TcpListener, UdpSocket};
    use v6audit_model::DnssecServed;

    let forbidden = Ipv4Addr::new(127, 0, 0, 2);
    let mut zone = Zone::new("nsq.test").signed(v6audit_lab::Signing::Signed);
    zone.add("nsq.test", RecordData::Ns("ns1.nsq.test".into()));
    zone.add("nsq.test", RecordData::Ns("ns2.nsq.test".into()));
    zone.host("ns1.nsq.test", true, Some(Ipv6Addr::LOCALHOST));
    zone.add("ns2.nsq.test", RecordData::A(forbidden));
    zone.host("portal.nsq.test", true, None);
    let dns = v6audit_lab::DnsServer::start(&[zone]).await.unwrap();
    let key = dns.keys.iter().find(|(z, _)| z == "nsq.test").unwrap();
    let anchor = v6audit_lab::dns::anchor_line(&key.0, &key.1);
    let anchor = Anchor::parse(&anchor, "nsq.keys").unwrap();

    // The forbidden name server counts every question it gets, over UDP and TCP.
    let hits = Arc::new(AtomicUsize::new(0));
    let udp = UdpSocket::bind((forbidden, dns.port)).await.unwrap();
    let tcp = TcpListener::bind((forbidden, dns.port)).await.unwrap();
    let (udp_hits, tcp_hits) = (hits.clone(), hits.clone());
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while udp.recv_from(&mut buf).await.is_ok() {
            udp_hits.fetch_add(1, Ordering::SeqCst);
        }
    });
    tokio::spawn(async move {
        while let Ok((_s, _)) = tcp.accept().await {
            tcp_hits.fetch_add(1, Ordering::SeqCst);
        }
    });
    // The portal's own port is closed: its web probes end at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pack = Pack::parse(
        "schema: v6audit/rules/v1\nname: t\nextends: default\nrules:\n  dns.aaaa-global:\n    allow: [\"127.0.0.1/32\"]\n",
        "test pack",
    )
    .unwrap();
    let settings = Settings {
        resolver: ResolverChoice::At(dns.addr_v6()),
        ns_port: dns.port,
        timeout: Duration::from_secs(2),
        portal_budget: Duration::from_secs(8),
        dnssec: Some(Arc::new(anchor)),
        icmpv6: false,
        contact: v6audit_rules::ContactPolicy::of(&pack.params),
        ..Settings::default()
    };
    let auditor = Auditor::new(settings).await.unwrap();
    let inventory = Inventory::from_targets(&[format!("http://portal.nsq.test:{port}/")]).unwrap();
    let mut report = auditor
        .audit(inventory.portals, Arc::new(pack), Lang::En, "test", None)
        .await;
    let r = report.results.remove(0);

    // What was asked, and what was recorded as not contacted.
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let o = &r.observation;
    let asked: Vec<(&str, std::net::IpAddr, DnsOutcome, Option<&str>)> = o
        .dns
        .zone
        .name_servers
        .iter()
        .flat_map(|ns| {
            ns.queries
                .iter()
                .map(|q| (ns.name.as_str(), q.addr, q.outcome, q.error.as_deref()))
        })
        .collect();
    assert_eq!(
        asked,
        [
            (
                "ns1.nsq.test",
                ip("::1"),
                DnsOutcome::NotContacted,
                Some("not contacted: ::1 is a loopback address"),
            ),
            ("ns1.nsq.test", ip("127.0.0.1"), DnsOutcome::Ok, None),
            (
                "ns2.nsq.test",
                ip("127.0.0.2"),
                DnsOutcome::NotContacted,
                Some("not contacted: 127.0.0.2 is a loopback address"),
            ),
        ],
        "{}",
        describe(&r)
    );
    let served: Vec<(&str, std::net::IpAddr, DnssecServed)> = o
        .dnssec
        .as_ref()
        .unwrap()
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.addr, s.served))
        .collect();
    assert_eq!(
        served,
        [
            ("ns1.nsq.test", ip("::1"), DnssecServed::NotContacted),
            ("ns1.nsq.test", ip("127.0.0.1"), DnssecServed::Valid),
            ("ns2.nsq.test", ip("127.0.0.2"), DnssecServed::NotContacted),
        ],
        "{}",
        describe(&r)
    );

    // What a user reads.
    let f = r.verdict.finding("dns.ns-v6-answers").unwrap();
    assert_eq!(f.status, Status::Error, "{}", describe(&r));
    assert_eq!(
        f.message,
        "Unknown: 1 of 1 IPv6 name server addresses of nsq.test were not asked, because the rule pack does not let the agent contact them: ns1.nsq.test [::1] (not contacted: ::1 is a loopback address). If the agent may reach them (an internal zone, a lab), add their prefix to the allow list of dns.aaaa-global."
    );
    let f = r.verdict.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Error, "{}", describe(&r));
    let p = dns.port;
    let want = format!(
        "Unknown: 2 of 3 name server addresses of nsq.test were not asked for its keys, because the rule pack does not let the agent contact them: ns1.nsq.test ([::1]:{p}), ns2.nsq.test (127.0.0.2:{p}) (not contacted: 127.0.0.2 is a loopback address; not contacted: ::1 is a loopback address). If the agent may reach them (an internal zone, a lab), add their prefix to the allow list of dns.aaaa-global."
    );
    assert_eq!(f.message, want);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a name server at an address the pack does not allow was asked"
    );
    dns.shutdown().await;
}

/// Regression (issue "Trust under hostile input", 1): a portal with 2,000
/// AAAA records exhausted the agent's file descriptors and other portals
/// were judged on sockets it could not open. At most the pack's
/// `max_addresses` per family are probed; the rest are listed. The
/// addresses are documentation ones the pack does not allow, so nothing is
/// sent to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_with_many_aaaa_is_probed_on_the_first_16_and_lists_the_rest() {
    let mut zone = Zone::new("cap.test");
    zone.add(
        "many.cap.test",
        RecordData::A(std::net::Ipv4Addr::LOCALHOST),
    );
    for i in 1..=40u16 {
        zone.add(
            "many.cap.test",
            RecordData::Aaaa(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)),
        );
    }
    let dns = v6audit_lab::DnsServer::start(&[zone]).await.unwrap();
    let settings = Settings {
        resolver: ResolverChoice::At(dns.addr_v6()),
        ns_port: dns.port,
        timeout: Duration::from_secs(2),
        portal_budget: Duration::from_secs(8),
        dnssec: None,
        icmpv6: false,
        ..Settings::default()
    };
    let r = audit_target(settings, "many.cap.test").await;
    let o = &r.observation;
    assert_eq!(o.dns.aaaa.addrs.len(), 40, "{}", describe(&r));
    let v6: Vec<_> = o
        .endpoints
        .iter()
        .filter(|e| e.family == v6audit_model::Family::V6)
        .collect();
    // 16 addresses x the two default ports.
    assert_eq!(v6.len(), 32);
    assert_eq!(o.not_probed.len(), 24);
    assert!(v6.iter().all(|e| e.tcp.outcome == TcpOutcome::NotContacted));
    let msg = &r.verdict.finding("web.v6-reachable").unwrap().message;
    assert!(msg.contains("not contacted"), "{msg}");
    dns.shutdown().await;
}
