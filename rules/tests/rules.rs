//! The rule engine and packs, as a user meets them: packs that load, packs
//! that fail with an exact error, and verdicts (statuses, stage, score,
//! priority) for observations that stand for portals met in the field.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use time::macros::datetime;
use v6audit_model::*;
use v6audit_rules::{Pack, RuleId, evaluate, priority_of, priority_parts};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/packs")
}

fn load(rel: &str) -> Result<Pack, String> {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    Pack::parse(&text, rel).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- packs

#[test]
fn good_packs_load_and_override_only_what_they_name() {
    let lab = load("good/lab.yaml").unwrap();
    assert_eq!(lab.name, "lab");
    assert_eq!(lab.params.allow.len(), 1);
    assert_eq!(lab.params.allow[0].to_string(), "::1/128");
    // Everything else is the default pack's.
    assert_eq!(lab.params.similarity_threshold, 0.9);

    let strict = load("good/strict-ministry.yaml").unwrap();
    assert_eq!(strict.version, 3);
    assert_eq!(strict.params.similarity_threshold, 0.95);
    assert_eq!(strict.params.expiry_warning_days, 30);
    assert_eq!(strict.params.min_name_servers, 3);
    assert_eq!(strict.rule(RuleId::WebParity).severity, Severity::Critical);
    // A message override is used, with its placeholders filled.
    let obs = ObsBuilder::good().no_aaaa().build();
    let v = evaluate(&strict, &obs, &portal(Category::Citizen), Lang::Vi);
    assert_eq!(
        v.finding("dns.aaaa").unwrap().message,
        "portal.example.gov.vn vẫn chỉ có IPv4 (192.0.2.10): xem bước 1 của kế hoạch IPv6 của Bộ."
    );
}

#[test]
fn invalid_packs_give_exact_errors() {
    let rules = "dns.aaaa, dns.aaaa-global, dns.ns-aaaa, dns.ns-v6-answers, dns.mx-aaaa, dns.dnssec, web.v6-reachable, web.v6-http, web.parity, web.redirects-v6, web.subresources-v6, tls.v6-handshake, tls.v6-cert, tls.parity, net.icmpv6-echo, net.v6-latency, mail.v6-smtp";
    let unknown_rule = format!(
        "invalid/unknown-rule.yaml:5:3: rules: unknown rule `dns.aaa`; the rules are: {rules}"
    );
    let cases: Vec<(&str, String)> = vec![
        ("invalid/unknown-rule.yaml", unknown_rule),
        (
            "invalid/unknown-word.yaml",
            "invalid/unknown-word.yaml:5:3: words: unknown word `tcp.refsed`; the words are the keys of `words:` in the built-in pack, rules/packs/default.yaml\n\
             invalid/unknown-word.yaml:6:3: words.tcp.timeout.vi: empty: every word needs a text in every language".into(),
        ),
        (
            "invalid/unknown-field.yaml",
            "invalid/unknown-field.yaml:6:5: rules.dns.aaaa.severty: unknown field `severty`, expected one of title, severity, weight, why, standard, remediation, messages, steps, allow, allow_ula_for_internal, min_name_servers, similarity_threshold, expiry_warning_days, slower_ratio, slower_extra_ms, max_addresses".into(),
        ),
        (
            "invalid/bad-severity.yaml",
            "invalid/bad-severity.yaml:6:15: rules.web.v6-http.severity: unknown variant `urgent`, expected one of info, low, medium, high, critical".into(),
        ),
        (
            "invalid/wrong-param.yaml",
            "invalid/wrong-param.yaml:6:12: rules.web.parity.allow: web.parity does not take `allow` (it belongs to dns.aaaa-global)".into(),
        ),
        (
            "invalid/bad-prefix.yaml",
            "invalid/bad-prefix.yaml:8:9: rules.dns.aaaa-global.allow: `2001:db8::/129` is not an IP prefix (write it like 2001:db8::/32, ::1/128 or 127.0.0.0/8)".into(),
        ),
        (
            "invalid/bad-threshold.yaml",
            "invalid/bad-threshold.yaml:6:27: rules.web.parity.similarity_threshold: must be between 0 and 1, not 1.5".into(),
        ),
        (
            "invalid/unknown-placeholder.yaml",
            "invalid/unknown-placeholder.yaml:7:7: rules.dns.aaaa.messages.absent.en: unknown placeholder `{hots}`; this outcome offers: {host}, {ipv4}".into(),
        ),
        (
            "invalid/unknown-outcome.yaml",
            "invalid/unknown-outcome.yaml:7:7: rules.dns.aaaa.messages: `passed` is not an outcome of dns.aaaa; its outcomes are: present, absent, no_address, nxdomain, lookup_failed".into(),
        ),
        (
            "invalid/missing-translation.yaml",
            "invalid/missing-translation.yaml:7:7: rules.dns.aaaa.remediation: missing field `vi`".into(),
        ),
        (
            "invalid/wrong-schema.yaml",
            "invalid/wrong-schema.yaml:1:9: schema: unknown rule pack schema `v6audit/rules/v9`; this v6audit reads `v6audit/rules/v1`".into(),
        ),
        (
            "invalid/bad-extends.yaml",
            "invalid/bad-extends.yaml:3:10: extends: unknown base pack `strict` (only `default` can be extended)".into(),
        ),
        (
            "invalid/stage-unknown-rule.yaml",
            "invalid/stage-unknown-rule.yaml:5:33: stages.reachable: unknown rule `web.v6-https`".into(),
        ),
        (
            "invalid/bad-step-placeholder.yaml",
            "invalid/bad-step-placeholder.yaml:7:7: rules.dns.aaaa.steps[0].text.en: unknown placeholder `{address}`; plan steps offer: {host}, {zone}, {url}, {ipv4}, {ipv6}, {tls_port}, {cert_names}, {ns_missing}, {mx_missing}, {redirect_hosts}, {subresource_hosts}".into(),
        ),
        (
            "invalid/bad-word-placeholder.yaml",
            "invalid/bad-word-placeholder.yaml:5:3: words.dnssec.sig_expired.en: unknown placeholder `{tga}`; this word offers: {tag}, {at}".into(),
        ),
        (
            "invalid/bad-braces.yaml",
            "invalid/bad-braces.yaml:7:7: rules.web.v6-http.messages.ok.en: `{url answers {status}` is not a placeholder name".into(),
        ),
    ];
    let mut wrong = Vec::new();
    for (file, want) in &cases {
        match load(file) {
            Ok(_) => wrong.push(format!("{file} loaded, but must fail with:\n  {want}")),
            Err(got) if got != *want => {
                wrong.push(format!("{file}:\n  want: {want}\n  got:  {got}"))
            }
            Err(_) => {}
        }
    }
    // The incomplete pack lists what every rule lacks; check its first lines.
    let incomplete = load("invalid/incomplete.yaml").unwrap_err();
    assert!(
        incomplete.contains(
            "invalid/incomplete.yaml: rules.dns.aaaa: missing title, weight, why, standard, remediation, steps, messages.present, messages.absent, messages.no_address, messages.nxdomain, messages.lookup_failed\n\
             invalid/incomplete.yaml: rules.dns.aaaa-global: missing title, severity,"
        ),
        "{incomplete}"
    );
    // One line each for words, stages and priority, one per rule, one per
    // parameter.
    assert_eq!(
        incomplete.lines().count(),
        3 + RuleId::ALL.len() + 8,
        "{incomplete}"
    );
    assert!(
        incomplete.ends_with(
            "invalid/incomplete.yaml: rules.web.v6-reachable.max_addresses: missing parameter"
        ),
        "{incomplete}"
    );
    assert!(incomplete.contains("invalid/incomplete.yaml: stages: missing: a pack without `extends: default` must list the rules of each stage"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let on_disk = std::fs::read_dir(fixtures().join("invalid"))
        .unwrap()
        .count();
    assert_eq!(
        cases.len() + 1,
        on_disk,
        "each file under invalid/ needs a row in this test"
    );
}

#[test]
fn every_rule_has_both_languages_for_every_outcome_in_the_default_pack() {
    let pack = Pack::default_pack();
    for id in RuleId::ALL {
        let rule = pack.rule(id);
        assert!(
            !rule.title.en.is_empty() && !rule.title.vi.is_empty(),
            "{id}"
        );
        assert!(
            !rule.why.vi.is_empty() && !rule.remediation.vi.is_empty(),
            "{id}"
        );
        assert!(!rule.standard.is_empty(), "{id}");
        for (key, _) in id.spec().outcomes {
            assert!(rule.messages.contains_key(key), "{id} {key}");
        }
        // Vietnamese text is not a copy of the English.
        assert_ne!(rule.remediation.en, rule.remediation.vi, "{id}");
    }
}

// ---------------------------------------------------------------- observations

fn portal(category: Category) -> PortalInfo {
    PortalInfo {
        id: "portal".into(),
        url: "https://portal.example.gov.vn/".into(),
        name: Some("Cổng".into()),
        agency: Some("Bộ Ví dụ".into()),
        category,
        audience: None,
        tags: vec![],
        target_stage: None,
    }
}

const V6: &str = "2001:ee0:100::10";
const V4: &str = "192.0.2.10";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn exchange(url: &str, status: u16) -> HttpExchange {
    HttpExchange {
        url: url.into(),
        outcome: HttpOutcome::Ok,
        status: Some(status),
        error: None,
        why: None,
        ms: 20,
        headers: BTreeMap::new(),
        body_bytes: 5000,
        body_truncated: false,
        title: Some("Cổng".into()),
        text_sha256: Some("ab".into()),
    }
}

fn cert(sha: &str, not_after: time::OffsetDateTime) -> CertificateFacts {
    CertificateFacts {
        sha256: sha.repeat(32),
        subject: "CN=portal.example.gov.vn".into(),
        issuer: "CN=Example CA".into(),
        sans: vec!["portal.example.gov.vn".into()],
        not_before: datetime!(2026-01-01 0:00 UTC),
        not_after,
        chain_len: 2,
    }
}

fn tls_ok(sha: &str) -> TlsProbe {
    TlsProbe {
        outcome: TlsOutcome::Ok,
        error: None,
        ms: 10,
        version: Some("TLSv1.3".into()),
        cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
        alpn: Some("http/1.1".into()),
        chain: Some(ChainVerdict {
            status: ChainStatus::Valid,
            reason: None,
            name_matches: Some(true),
        }),
        certificate: Some(cert(sha, datetime!(2027-06-01 0:00 UTC))),
    }
}

fn endpoint(addr: &str, port: u16) -> Endpoint {
    let a = ip(addr);
    Endpoint {
        family: Family::of(&a),
        addr: a,
        port,
        tls_port: port == 443,
        tcp: TcpProbe {
            outcome: TcpOutcome::Connected,
            ms: 5,
            error: None,
        },
        tls: (port == 443).then(|| tls_ok("a")),
        http: Some(exchange("https://portal.example.gov.vn/", 200)),
        failed_attempts: vec![],
    }
}

fn fetch(family: Family, addr: &str) -> HttpFetch {
    HttpFetch {
        family,
        outcome: FetchOutcome::Complete,
        hops: vec![Hop {
            url: "https://portal.example.gov.vn/".into(),
            addr: Some(ip(addr)),
            exchange: exchange("https://portal.example.gov.vn/", 200),
            next_host_has_aaaa: None,
            failed_attempts: vec![],
        }],
        error: None,
        why: None,
    }
}

fn lookup(addrs: &[&str]) -> AddressLookup {
    AddressLookup {
        outcome: if addrs.is_empty() {
            DnsOutcome::NoData
        } else {
            DnsOutcome::Ok
        },
        addrs: addrs.iter().map(|a| ip(a)).collect(),
        cname_chain: vec![],
        error: None,
        ms: 3,
    }
}

fn ns(name: &str, v6: bool) -> NameServer {
    let v6addr: std::net::Ipv6Addr = "2001:ee0:1::53".parse().unwrap();
    NameServer {
        name: name.into(),
        a: vec!["192.0.2.53".parse().unwrap()],
        aaaa: if v6 { vec![v6addr] } else { vec![] },
        error: None,
        queries: if v6 {
            vec![NsQuery {
                family: Family::V6,
                addr: IpAddr::V6(v6addr),
                port: 53,
                transport: DnsTransport::Udp,
                outcome: DnsOutcome::Ok,
                authoritative: true,
                soa_serial: Some(1),
                error: None,
                ms: 4,
            }]
        } else {
            vec![]
        },
    }
}

/// Connects to an address on 443 that took these times.
fn series(addr: &str, ms: &[u64]) -> LatencyProbe {
    LatencyProbe {
        addr: addr.parse().unwrap(),
        port: 443,
        attempts: ms
            .iter()
            .map(|ms| TcpProbe {
                outcome: TcpOutcome::Connected,
                ms: *ms,
                error: None,
            })
            .collect(),
    }
}

/// A host the page loads a script and a style from: with a working AAAA, or
/// with none at all.
fn cdn_host(host: &str, ipv6: bool) -> SubresourceHost {
    SubresourceHost {
        host: host.into(),
        kinds: vec!["script".into(), "style".into()],
        urls: 2,
        port: 443,
        aaaa: if ipv6 {
            lookup(&["2001:ee0:200::1"])
        } else {
            lookup(&[])
        },
        tcp: ipv6.then_some(TcpProbe {
            outcome: TcpOutcome::Connected,
            ms: 12,
            error: None,
        }),
    }
}

/// An SMTP session with mail.example.gov.vn at this address.
fn smtp(addr: &str, outcome: SmtpOutcome) -> SmtpProbe {
    let addr: IpAddr = addr.parse().unwrap();
    let ok = outcome == SmtpOutcome::Ok;
    SmtpProbe {
        host: "mail.example.gov.vn".into(),
        family: Family::of(&addr),
        addr,
        port: 25,
        outcome,
        banner: ok.then(|| "220 mail.example.gov.vn ESMTP".to_owned()),
        banner_host: ok.then(|| "mail.example.gov.vn".to_owned()),
        starttls: ok,
        ms: 30,
        error: None,
    }
}

/// A name server address asked for the zone's signed keys and SOA.
fn dnssec_server(addr: &str, served: DnssecServed) -> DnssecServer {
    let addr: IpAddr = addr.parse().unwrap();
    DnssecServer {
        name: "ns1.example.gov.vn".into(),
        family: Family::of(&addr),
        addr,
        port: 53,
        served,
        key_tags: if served == DnssecServed::Unsigned {
            vec![]
        } else {
            vec![12345]
        },
        error: (served == DnssecServed::Bogus).then(|| {
            "no DNSKEY matches the parent's DS (DS key tags 12345; DNSKEY key tags 54321)".into()
        }),
        why: (served == DnssecServed::Bogus).then(|| {
            v6audit_model::Why::new("dnssec.served_ds_mismatch")
                .with("ds_tags", "12345")
                .with("key_tags", "54321")
        }),
        ms: 5,
    }
}

/// A dual-stack portal done right, to be spoilt one fact at a time.
struct ObsBuilder(Observation);

impl ObsBuilder {
    fn good() -> Self {
        Self(Observation {
            host: "portal.example.gov.vn".into(),
            url: "https://portal.example.gov.vn/".into(),
            ports: vec![
                PortSpec {
                    port: 80,
                    tls: false,
                },
                PortSpec {
                    port: 443,
                    tls: true,
                },
            ],
            started_at: datetime!(2026-11-27 0:00 UTC),
            duration_ms: 300,
            budget_exhausted: false,
            vantage: Vantage {
                ipv4: true,
                ipv6: true,
            },
            dns: DnsObservation {
                resolver: "system".into(),
                a: lookup(&[V4]),
                aaaa: lookup(&[V6]),
                zone: ZoneObservation {
                    apex: Some("example.gov.vn".into()),
                    outcome: DnsOutcome::Ok,
                    error: None,
                    name_servers: vec![
                        ns("ns1.example.gov.vn", true),
                        ns("ns2.example.gov.vn", true),
                    ],
                },
                mx: MxObservation {
                    outcome: DnsOutcome::Ok,
                    error: None,
                    exchanges: vec![MailExchange {
                        preference: 10,
                        host: "mail.example.gov.vn".into(),
                        a: vec!["192.0.2.25".parse().unwrap()],
                        aaaa: vec!["2001:ee0:1::25".parse().unwrap()],
                        error: None,
                    }],
                },
            },
            endpoints: vec![
                endpoint(V6, 80),
                endpoint(V6, 443),
                endpoint(V4, 80),
                endpoint(V4, 443),
            ],
            http: PerFamily {
                ipv4: Some(fetch(Family::V4, V4)),
                ipv6: Some(fetch(Family::V6, V6)),
            },
            content_similarity: Some(1.0),
            latency: Some(PerFamily {
                ipv4: Some(series(V4, &[20, 22, 25])),
                ipv6: Some(series(V6, &[21, 23, 30])),
            }),
            icmpv6: Some(vec![EchoProbe {
                addr: V6.parse().unwrap(),
                outcome: EchoOutcome::Reply,
                sent: 1,
                rtt_ms: Some(12.5),
                hop_limit: Some(57),
                socket: Some(EchoSocket::Raw),
                error: None,
                why: None,
            }]),
            subresources: Some(Subresources {
                page_url: "https://portal.example.gov.vn/".into(),
                urls: 3,
                hosts: vec![cdn_host("cdn.example.vn", true)],
                truncated: false,
            }),
            smtp: Some(vec![
                smtp("2001:ee0:1::25", SmtpOutcome::Ok),
                smtp("192.0.2.25", SmtpOutcome::Ok),
            ]),
            dnssec: Some(DnssecObservation {
                zone: "example.gov.vn".into(),
                anchor: ".".into(),
                chain: DnssecChain::Secure,
                insecure_at: None,
                ds_key_tags: vec![12345],
                error: None,
                why: None,
                servers: vec![
                    dnssec_server("2001:ee0:1::53", DnssecServed::Valid),
                    dnssec_server("192.0.2.53", DnssecServed::Valid),
                ],
            }),
            not_probed: vec![],
        })
    }

    fn no_aaaa(mut self) -> Self {
        self.0.dns.aaaa = lookup(&[]);
        self.0.endpoints.retain(|e| e.family == Family::V4);
        self.0.http.ipv6 = Some(HttpFetch {
            family: Family::V6,
            outcome: FetchOutcome::NoAddress,
            hops: vec![],
            error: None,
            why: None,
        });
        self.0.content_similarity = None;
        self
    }

    fn v6_endpoints(mut self, f: impl Fn(&mut Endpoint)) -> Self {
        for e in self
            .0
            .endpoints
            .iter_mut()
            .filter(|e| e.family == Family::V6)
        {
            f(e);
        }
        self
    }

    fn with(mut self, f: impl FnOnce(&mut Observation)) -> Self {
        f(&mut self.0);
        self
    }

    fn build(self) -> Observation {
        self.0
    }
}

/// The message of `rule` for `obs` in `lang`, with the default pack.
fn message_in(lang: Lang, obs: &Observation, rule: &str) -> String {
    let v = evaluate(&Pack::default_pack(), obs, &portal(Category::Citizen), lang);
    v.finding(rule).unwrap().message.clone()
}

/// The good observation, its first echo ended as `outcome` with no round
/// trip, then changed by `more`.
fn echo_ended(outcome: EchoOutcome, more: impl FnOnce(&mut EchoProbe)) -> Observation {
    ObsBuilder::good()
        .with(|o| {
            let p = &mut o.icmpv6.as_mut().unwrap()[0];
            p.outcome = outcome;
            p.rtt_ms = None;
            p.hop_limit = None;
            more(p);
        })
        .build()
}

fn verdict(obs: &Observation) -> Verdict {
    evaluate(
        &Pack::default_pack(),
        obs,
        &portal(Category::Citizen),
        Lang::En,
    )
}

fn status(v: &Verdict, rule: &str) -> Status {
    v.status(rule)
        .unwrap_or_else(|| panic!("no finding for {rule}"))
}

// ---------------------------------------------------------------- verdicts

#[test]
fn a_dual_stack_portal_done_right_is_ipv6_complete() {
    let v = verdict(&ObsBuilder::good().build());
    for f in &v.findings {
        assert!(
            matches!(f.status, Status::Pass | Status::Skip),
            "{}: {:?} {}",
            f.rule,
            f.status,
            f.message
        );
    }
    assert_eq!(v.stage, Stage::Ipv6Complete);
    assert!(v.stage_certain);
    assert_eq!(v.score, 100);
    assert_eq!(v.priority, 0);
    assert_eq!(
        v.finding("web.subresources-v6").unwrap().message,
        "All 1 other hosts the page loads from are reachable over IPv6: cdn.example.vn."
    );
    assert_eq!(
        v.finding("net.icmpv6-echo").unwrap().message,
        "1 IPv6 address(es) answer ICMPv6 echo: 2001:ee0:100::10 12.5 ms (hop limit 57)."
    );
    assert_eq!(
        v.finding("net.v6-latency").unwrap().message,
        "IPv6 connects in 23 ms, IPv4 in 22 ms (medians of 3 connects)."
    );
    assert_eq!(v.findings.len(), RuleId::ALL.len());
}

#[test]
fn no_aaaa_is_stage_0_and_ipv6_rules_do_not_apply() {
    let v = verdict(&ObsBuilder::good().no_aaaa().build());
    assert_eq!(v.stage, Stage::Ipv4Only);
    assert_eq!(status(&v, "dns.aaaa"), Status::Fail);
    assert_eq!(
        v.finding("dns.aaaa").unwrap().message,
        "portal.example.gov.vn has no AAAA record (IPv4 only: 192.0.2.10)."
    );
    for rule in [
        "dns.aaaa-global",
        "web.v6-reachable",
        "web.v6-http",
        "web.parity",
        "tls.v6-handshake",
        "tls.v6-cert",
    ] {
        assert_eq!(status(&v, rule), Status::Skip, "{rule}");
    }
    assert!(!v.finding("dns.aaaa").unwrap().remediation.is_empty());
}

#[test]
fn refused_ipv6_is_broken_and_comes_first() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            e.tcp.outcome = TcpOutcome::Refused;
            e.tls = None;
            e.http = None;
        })
        .with(|o| {
            o.http.ipv6 = Some(HttpFetch {
                family: Family::V6,
                outcome: FetchOutcome::Failed,
                hops: vec![],
                error: Some("TCP refused".into()),
                why: None,
            })
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.v6-reachable"), Status::Fail);
    assert_eq!(
        v.finding("web.v6-reachable").unwrap().message,
        "2 of 2 IPv6 endpoints do not accept TCP: [2001:ee0:100::10]:80 refused, [2001:ee0:100::10]:443 refused."
    );
    assert_eq!(status(&v, "tls.v6-handshake"), Status::Fail);
    assert_eq!(status(&v, "web.parity"), Status::Fail);
    assert_eq!(v.stage, Stage::Broken);
    // Broken outranks an IPv4-only citizen portal with a million users.
    let pack = Pack::default_pack();
    let ipv4_only_big = priority_of(
        &pack,
        Stage::Ipv4Only,
        true,
        Category::Citizen,
        Some(1_000_000),
    );
    assert!(
        v.priority > ipv4_only_big,
        "{} vs {ipv4_only_big}",
        v.priority
    );
}

#[test]
fn no_ipv6_at_the_vantage_is_error_not_fail() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            e.tcp.outcome = TcpOutcome::NoVantage;
            e.tls = None;
            e.http = None;
        })
        .with(|o| {
            o.vantage.ipv6 = false;
            o.http.ipv6 = Some(HttpFetch {
                family: Family::V6,
                outcome: FetchOutcome::NoVantage,
                hops: vec![],
                error: None,
                why: None,
            });
        })
        .build();
    let v = verdict(&obs);
    for rule in [
        "web.v6-reachable",
        "web.v6-http",
        "tls.v6-handshake",
        "dns.ns-v6-answers",
        "web.parity",
    ] {
        assert_eq!(status(&v, rule), Status::Error, "{rule}");
        assert!(
            v.finding(rule)
                .unwrap()
                .message
                .contains("this vantage has no IPv6"),
            "{rule}"
        );
    }
    assert_eq!(
        v.findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .count(),
        0
    );
    // The stage is a floor, and no portal is called broken for it.
    assert_eq!(v.stage, Stage::Broken);
    assert!(!v.stage_certain);
    assert!(v.priority < 10_000, "{}", v.priority);
}

#[test]
fn non_global_aaaa_fails_unless_the_pack_allows_it() {
    let obs = ObsBuilder::good()
        .with(|o| o.dns.aaaa = lookup(&["fd00::10", "2001:db8::1", V6]))
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "dns.aaaa-global"), Status::Fail);
    assert_eq!(
        v.finding("dns.aaaa-global").unwrap().message,
        "2 AAAA record(s) cannot be reached from the Internet: fd00::10 (unique local (ULA)), 2001:db8::1 (documentation)."
    );
    assert_eq!(v.stage, Stage::Broken);
    // An internal portal may use ULA; documentation space still fails.
    let internal = evaluate(
        &Pack::default_pack(),
        &obs,
        &portal(Category::Internal),
        Lang::En,
    );
    assert!(
        internal
            .finding("dns.aaaa-global")
            .unwrap()
            .message
            .starts_with("1 AAAA record(s)")
    );
    // A pack that allows the prefixes (as tests in network namespaces do) passes.
    let pack = Pack::parse(
        "schema: v6audit/rules/v1\nname: netns\nextends: default\nrules:\n  dns.aaaa-global:\n    allow: [2001:db8::/32, fd00::/8]\n",
        "netns.yaml",
    )
    .unwrap();
    let allowed = evaluate(&pack, &obs, &portal(Category::Citizen), Lang::En);
    assert_eq!(allowed.status("dns.aaaa-global"), Some(Status::Pass));
}

#[test]
fn parity_fails_on_status_and_warns_on_content() {
    let obs = ObsBuilder::good()
        .with(|o| o.http.ipv6.as_mut().unwrap().hops[0].exchange.status = Some(404))
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.parity"), Status::Fail);
    assert_eq!(
        v.finding("web.parity").unwrap().message,
        "Different status: 200 over IPv4, 404 over IPv6."
    );
    assert_eq!(v.stage, Stage::Reachable);

    let obs = ObsBuilder::good()
        .with(|o| o.content_similarity = Some(0.42))
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.parity"), Status::Warn);
    assert_eq!(
        v.finding("web.parity").unwrap().message,
        "The page text differs between IPv4 and IPv6: 42% similar (threshold 90%)."
    );
    // Just above the threshold is the same page.
    let obs = ObsBuilder::good()
        .with(|o| o.content_similarity = Some(0.91))
        .build();
    assert_eq!(status(&verdict(&obs), "web.parity"), Status::Pass);
}

#[test]
fn certificate_problems_over_ipv6_are_named() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            if let Some(tls) = &mut e.tls {
                tls.chain = Some(ChainVerdict {
                    status: ChainStatus::Expired,
                    reason: Some("certificate expired".into()),
                    name_matches: Some(false),
                });
                tls.certificate = Some(cert("b", datetime!(2026-11-01 0:00 UTC)));
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "tls.v6-cert"), Status::Fail);
    assert_eq!(
        v.finding("tls.v6-cert").unwrap().message,
        "The certificate over IPv6 is not valid: [2001:ee0:100::10]:443: expired on 2026-11-01, and name mismatch (valid for portal.example.gov.vn)."
    );
    assert_eq!(status(&v, "tls.parity"), Status::Fail);
    assert_eq!(v.stage, Stage::Reachable);

    // Ten days left: a warning, and the stage holds.
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            if let Some(tls) = &mut e.tls {
                tls.certificate = Some(cert("a", datetime!(2026-12-07 0:00 UTC)));
            }
        })
        .with(|o| {
            for e in o.endpoints.iter_mut().filter(|e| e.family == Family::V4) {
                if let Some(tls) = &mut e.tls {
                    tls.certificate = Some(cert("a", datetime!(2026-12-07 0:00 UTC)));
                }
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "tls.v6-cert"), Status::Warn);
    assert_eq!(
        v.finding("tls.v6-cert").unwrap().message,
        "The certificate over IPv6 expires in 10 day(s), on 2026-12-07."
    );
    assert_eq!(v.stage, Stage::Ipv6Complete);
}

#[test]
fn a_redirect_off_ipv6_stops_at_dual_stack() {
    let obs = ObsBuilder::good()
        .with(|o| {
            let v6 = o.http.ipv6.as_mut().unwrap();
            v6.outcome = FetchOutcome::LeftFamily;
            let hop = &mut v6.hops[0];
            hop.exchange.status = Some(302);
            hop.exchange
                .headers
                .insert("location".into(), "https://sso.example.gov.vn/login".into());
            hop.next_host_has_aaaa = Some(false);
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.redirects-v6"), Status::Fail);
    assert_eq!(
        v.finding("web.redirects-v6").unwrap().message,
        "Over IPv6 the redirects lead to hosts without AAAA: sso.example.gov.vn."
    );
    assert_eq!(status(&v, "web.v6-http"), Status::Pass);
    assert_eq!(status(&v, "web.parity"), Status::Warn);
    assert_eq!(v.stage, Stage::DualStack);
}

#[test]
fn name_servers_and_mail() {
    let obs = ObsBuilder::good()
        .with(|o| {
            o.dns.zone.name_servers = vec![
                ns("ns1.example.gov.vn", true),
                ns("ns2.example.gov.vn", false),
            ];
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "dns.ns-aaaa"), Status::Warn);
    assert_eq!(
        v.finding("dns.ns-aaaa").unwrap().message,
        "Only 1 of the 2 name servers of example.gov.vn have AAAA (at least 2 needed); without: ns2.example.gov.vn."
    );
    assert_eq!(
        v.stage,
        Stage::Ipv6Complete,
        "a warning does not hold the stage back"
    );

    let obs = ObsBuilder::good()
        .with(|o| {
            for n in &mut o.dns.zone.name_servers {
                n.queries[0].authoritative = false;
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "dns.ns-v6-answers"), Status::Fail);
    assert!(
        v.finding("dns.ns-v6-answers")
            .unwrap()
            .message
            .contains("answered without authority (lame delegation)")
    );
    assert_eq!(v.stage, Stage::Reachable);

    let obs = ObsBuilder::good()
        .with(|o| o.dns.mx.exchanges[0].aaaa.clear())
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "dns.mx-aaaa"), Status::Fail);
    assert_eq!(v.stage, Stage::DualStack);

    let obs = ObsBuilder::good()
        .with(|o| {
            o.dns.mx.outcome = DnsOutcome::NoData;
            o.dns.mx.exchanges.clear();
        })
        .build();
    assert_eq!(status(&verdict(&obs), "dns.mx-aaaa"), Status::Skip);
}

#[test]
fn failures_of_the_ipv6_page_are_explained() {
    let obs = ObsBuilder::good()
        .with(|o| {
            let x = &mut o.http.ipv6.as_mut().unwrap();
            x.outcome = FetchOutcome::Failed;
            x.hops[0].exchange.outcome = HttpOutcome::HeadersTooLarge;
            x.hops[0].exchange.status = None;
            x.hops[0].exchange.error = Some("the response head is larger than 64 KiB".into());
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.v6-http"), Status::Fail);
    assert_eq!(
        v.finding("web.v6-http").unwrap().message,
        "Over IPv6, https://portal.example.gov.vn/ gives no usable response: response headers larger than the cap: the response head is larger than 64 KiB."
    );
    assert_eq!(v.stage, Stage::Broken);
}

#[test]
fn vietnamese_verdicts_read_in_vietnamese() {
    let v = evaluate(
        &Pack::default_pack(),
        &ObsBuilder::good().no_aaaa().build(),
        &portal(Category::Citizen),
        Lang::Vi,
    );
    let f = v.finding("dns.aaaa").unwrap();
    assert_eq!(
        f.message,
        "portal.example.gov.vn không có bản ghi AAAA (chỉ có IPv4: 192.0.2.10)."
    );
    assert!(
        f.remediation.starts_with("Cấp cho máy chủ web"),
        "{}",
        f.remediation
    );
}

#[test]
fn priority_puts_broken_first_then_citizen_and_business_by_audience_and_distance() {
    let pack = Pack::default_pack();
    let p = |stage, cat, aud| priority_of(&pack, stage, true, cat, aud);
    let order = [
        p(Stage::Broken, Category::Information, None),
        p(Stage::Ipv4Only, Category::Citizen, Some(1_000_000)),
        p(Stage::Ipv4Only, Category::Citizen, Some(1_000)),
        p(Stage::Ipv4Only, Category::Business, None),
        // An information portal without IPv6 is further from stage 3 than a
        // citizen portal that is already reachable.
        p(Stage::Ipv4Only, Category::Information, None),
        p(Stage::Reachable, Category::Citizen, None),
        p(Stage::Ipv4Only, Category::Internal, None),
        p(Stage::DualStack, Category::Citizen, Some(1_000_000)),
    ];
    for pair in order.windows(2) {
        assert!(pair[0] > pair[1], "{order:?}");
    }
    assert_eq!(p(Stage::Ipv6Complete, Category::Citizen, None), 0);
}

#[test]
fn a_priority_is_the_sum_of_its_parts() {
    let pack = Pack::default_pack();
    // A broken business portal for 50,000 people: the bonus, then the
    // category's 3 × (1 + 0.1 × log10 50,000) × 2 stages to go × 100.
    let parts = priority_parts(&pack, Stage::Broken, true, Category::Business, Some(50_000));
    assert_eq!(parts.bonus, 10_000);
    assert!((parts.category_weight - 3.0).abs() < 1e-9, "{parts:?}");
    assert!(
        (parts.audience_factor - 1.469_897).abs() < 1e-6,
        "{parts:?}"
    );
    assert!((parts.weight - 4.409_691).abs() < 1e-6, "{parts:?}");
    assert_eq!(parts.distance, 2);
    assert_eq!(parts.total, 10_882);
    // No bonus when an error, not a failure, left the stage at 1; none
    // without an audience; nothing to do at stage 3.
    let uncertain = priority_parts(&pack, Stage::Broken, false, Category::Citizen, None);
    assert_eq!(uncertain.bonus, 0);
    assert!(
        (uncertain.audience_factor - 1.0).abs() < 1e-9,
        "{uncertain:?}"
    );
    assert_eq!(uncertain.total, 800);
    let done = priority_parts(&pack, Stage::DualStack, true, Category::Citizen, None);
    assert_eq!((done.distance, done.total), (0, 0));
    // `priority_of` is the total, for every stage and category.
    for stage in Stage::ALL {
        for category in Category::ALL {
            for audience in [None, Some(1), Some(2_000_000)] {
                for certain in [true, false] {
                    assert_eq!(
                        priority_of(&pack, stage, certain, category, audience),
                        priority_parts(&pack, stage, certain, category, audience).total
                    );
                }
            }
        }
    }
}

#[test]
fn scores_weigh_rules_and_leave_out_skips_and_errors() {
    let good = verdict(&ObsBuilder::good().build());
    let warned = verdict(
        &ObsBuilder::good()
            .with(|o| o.content_similarity = Some(0.5))
            .build(),
    );
    let v4 = verdict(&ObsBuilder::good().no_aaaa().build());
    assert_eq!(good.score, 100);
    assert!(warned.score < 100 && warned.score > 90, "{}", warned.score);
    assert!(v4.score < 50, "{}", v4.score);
}

#[test]
fn the_readme_documents_every_rule() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    for id in RuleId::ALL {
        assert!(
            readme.contains(&format!("| `{id}` |")),
            "README.md's rule table lacks {id}"
        );
    }
}

/// `plan --lang vi` must leave no English step: every step of every rule has
/// Vietnamese text of its own, with the same placeholders as the English.
#[test]
fn every_plan_step_is_translated() {
    let pack = Pack::default_pack();
    let obs = ObsBuilder::good().no_aaaa().build();
    let values = [("host", "portal.example.gov.vn".to_owned())];
    let mut steps = 0;
    for id in RuleId::ALL {
        let rule = pack.rule(id);
        assert!(!rule.steps.is_empty(), "{id} has no plan steps");
        for step in &rule.steps {
            for t in [&step.title, &step.text, &step.verify] {
                let (en, vi) = (t.render(Lang::En, &values), t.render(Lang::Vi, &values));
                assert_ne!(en, vi, "{id}: a step is not translated: {en}");
                assert!(
                    vi.chars().any(|c| {
                        "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
                            .contains(c)
                    }),
                    "{id}: not Vietnamese: {vi}"
                );
            }
            steps += 1;
        }
    }
    assert!(steps >= 20, "{steps}");
    // A plan in Vietnamese carries the Vietnamese steps.
    let result = PortalResult {
        id: uuid::Uuid::nil(),
        portal: portal(Category::Citizen),
        verdict: evaluate(&pack, &obs, &portal(Category::Citizen), Lang::Vi),
        observation: obs,
    };
    let plan = v6audit_rules::plan::plan(&[result], &pack, Lang::Vi, Stage::DualStack);
    let titles: Vec<&str> = plan.items[0]
        .steps
        .iter()
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Cấp địa chỉ IPv6 toàn cầu cho máy chủ",
            "Cấu hình máy chủ web lắng nghe trên IPv6",
            "Mở HTTP và HTTPS qua IPv6 trên tường lửa",
            "Dùng cùng chứng chỉ trên IPv6",
            "Khai báo bản ghi AAAA",
        ]
    );
    assert!(
        plan.items[0].steps[4]
            .text
            .contains("portal.example.gov.vn.  3600  IN  AAAA  <địa chỉ IPv6>")
    );
}

#[test]
fn ipv6_markedly_slower_warns_and_a_v6_timeout_fails() {
    // 1.5 times slower and 50 ms more: both thresholds of the default pack.
    let slow = ObsBuilder::good()
        .with(|o| {
            o.latency.as_mut().unwrap().ipv6 = Some(series(V6, &[180, 190, 200]));
        })
        .build();
    let v = verdict(&slow);
    let f = v.finding("net.v6-latency").unwrap();
    assert_eq!(f.status, Status::Warn);
    assert_eq!(
        f.message,
        "IPv6 connects in 190 ms against 22 ms over IPv4 (8.6× slower; [2001:ee0:100::10]:443 against 192.0.2.10:443); browsers may fall back to IPv4."
    );
    // The stage does not depend on it.
    assert_eq!(v.stage, Stage::Ipv6Complete);
    // Slower by the ratio but by less than 50 ms: fine.
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| o.latency.as_mut().unwrap().ipv6 = Some(series(V6, &[40, 60, 70])))
            .build(),
    );
    assert_eq!(status(&v, "net.v6-latency"), Status::Pass);
    // IPv6 times out where IPv4 connects.
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                o.latency.as_mut().unwrap().ipv6 = Some(LatencyProbe {
                    addr: V6.parse().unwrap(),
                    port: 443,
                    attempts: vec![TcpProbe {
                        outcome: TcpOutcome::Timeout,
                        ms: 10_000,
                        error: Some("no answer to the connection attempt".into()),
                    }],
                });
            })
            .build(),
    );
    let f = v.finding("net.v6-latency").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.message.starts_with("Connecting to [2001:ee0:100::10]:443 over IPv6 times out, while IPv4 (192.0.2.10:443) connects in 22 ms"), "{}", f.message);
    // Refused over IPv6: web.v6-reachable says so; latency has nothing to compare.
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                o.latency.as_mut().unwrap().ipv6 = Some(LatencyProbe {
                    addr: V6.parse().unwrap(),
                    port: 443,
                    attempts: vec![TcpProbe {
                        outcome: TcpOutcome::Refused,
                        ms: 1,
                        error: Some("Connection refused (os error 111)".into()),
                    }],
                });
            })
            .build(),
    );
    assert_eq!(status(&v, "net.v6-latency"), Status::Skip);
    // A stricter pack: its own thresholds.
    let text = "schema: v6audit/rules/v1\nname: strict\nextends: default\nrules:\n  net.v6-latency:\n    slower_ratio: 1.1\n    slower_extra_ms: 0\n";
    let pack = Pack::parse(text, "strict.yaml").unwrap();
    let obs = ObsBuilder::good()
        .with(|o| o.latency.as_mut().unwrap().ipv6 = Some(series(V6, &[40, 40, 40])))
        .build();
    let v = evaluate(&pack, &obs, &portal(Category::Citizen), Lang::En);
    assert_eq!(status(&v, "net.v6-latency"), Status::Warn);
    // The parameter belongs to net.v6-latency only, and is range-checked.
    let bad = "schema: v6audit/rules/v1\nname: bad\nextends: default\nrules:\n  net.v6-latency:\n    slower_ratio: 0.5\n";
    let err = Pack::parse(bad, "bad.yaml").unwrap_err().to_string();
    assert!(
        err.contains("rules.net.v6-latency.slower_ratio: must be between 1 and 100, not 0.5"),
        "{err}"
    );
}

#[test]
fn icmpv6_echo_is_information_and_a_missing_permission_is_named() {
    let silent = echo_ended(EchoOutcome::NoReply, |_| {});
    let v = verdict(&silent);
    let f = v.finding("net.icmpv6-echo").unwrap();
    assert_eq!(f.status, Status::Info);
    assert!(
        f.message
            .starts_with("No answer to ICMPv6 echo from 2001:ee0:100::10."),
        "{}",
        f.message
    );
    // A portal that blocks ping but serves the web keeps its stage and score.
    assert_eq!(v.stage, Stage::Ipv6Complete);
    assert_eq!(v.score, 100);
    let denied = ObsBuilder::good()
        .with(|o| o.icmpv6.as_mut().unwrap()[0].outcome = EchoOutcome::NoPermission)
        .build();
    let v = verdict(&denied);
    let f = v.finding("net.icmpv6-echo").unwrap();
    assert_eq!(f.status, Status::Error);
    assert_eq!(
        f.message,
        "No permission to send ICMPv6 (run as root or grant CAP_NET_RAW)."
    );
    assert!(v.stage_certain, "not a stage rule: the stage stays certain");
    assert_eq!(
        message_in(Lang::Vi, &denied, "net.icmpv6-echo"),
        "Không có quyền gửi ICMPv6 (hãy chạy với quyền root hoặc cấp CAP_NET_RAW)."
    );
    // Observations from older agents: not checked.
    let old = ObsBuilder::good().with(|o| o.icmpv6 = None).build();
    assert_eq!(status(&verdict(&old), "net.icmpv6-echo"), Status::Skip);
}

/// Regression: a firewall's reject of echo (a Destination Unreachable,
/// "administratively prohibited") was recorded by the agent but the
/// finding read "No answer", as if the network had said nothing.
#[test]
fn a_refused_echo_names_who_refused_it_and_why_in_each_language() {
    let refused = echo_ended(EchoOutcome::NoReply, |p| {
        p.why = Some(
            v6audit_model::Why::new("echo.unreachable")
                .with("by", "2001:ee0:100::1")
                .with_why("reason", &v6audit_model::Why::new("icmp.prohibited"))
                .with("code", 1),
        );
    });
    let v = verdict(&refused);
    let f = v.finding("net.icmpv6-echo").unwrap();
    assert_eq!(f.status, Status::Info);
    assert!(
        f.message.starts_with(
            "No answer to ICMPv6 echo from 2001:ee0:100::10 (destination unreachable \
             from 2001:ee0:100::1: administratively prohibited (code 1))."
        ),
        "{}",
        f.message
    );
    let vi = message_in(Lang::Vi, &refused, "net.icmpv6-echo");
    assert!(
        vi.starts_with(
            "2001:ee0:100::10 (2001:ee0:100::1 báo không tới được đích: \
             bị chặn theo chính sách quản trị (mã 1)) không trả lời ICMPv6 echo."
        ),
        "{vi}"
    );
}

/// An echo the portal's time ran out before is the agent's budget, said
/// in the reader's language, not silence and not the agent's English.
#[test]
fn an_echo_with_no_time_left_is_an_error_in_the_readers_words() {
    let late = echo_ended(EchoOutcome::Error, |p| {
        p.sent = 0;
        p.error = Some("no time was left to send an echo request".into());
        p.why = Some(v6audit_model::Why::new("echo.out_of_time"));
    });
    let f = verdict(&late).finding("net.icmpv6-echo").unwrap().clone();
    assert_eq!(f.status, Status::Error);
    assert_eq!(
        f.message,
        "ICMPv6 echo could not be sent: no time was left to send an echo request."
    );
    assert_eq!(
        message_in(Lang::Vi, &late, "net.icmpv6-echo"),
        "Không gửi được ICMPv6 echo: không còn thời gian để gửi yêu cầu echo."
    );
}

#[test]
fn a_page_loading_from_an_ipv4_only_host_is_not_ipv6_complete() {
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                let s = o.subresources.as_mut().unwrap();
                s.hosts.push(cdn_host("static.example.net", false));
            })
            .build(),
    );
    let f = v.finding("web.subresources-v6").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.message,
        "An IPv6-only visitor cannot load what the page needs from 1 of 2 hosts: static.example.net (no AAAA record; script, style)."
    );
    // Stage 4 needs it; the portal stays dual-stack.
    assert_eq!(v.stage, Stage::DualStack);
    // The plan names the host.
    let result = PortalResult {
        id: uuid::Uuid::nil(),
        portal: portal(Category::Citizen),
        observation: ObsBuilder::good()
            .with(|o| {
                o.subresources.as_mut().unwrap().hosts = vec![cdn_host("static.example.net", false)]
            })
            .build(),
        verdict: v.clone(),
    };
    let plan =
        v6audit_rules::plan::plan(&[result], &Pack::default_pack(), Lang::En, Stage::DualStack);
    let step = plan.items[0]
        .steps
        .iter()
        .find(|s| s.rule == "web.subresources-v6")
        .unwrap();
    assert!(
        step.text
            .ends_with("Not reachable over IPv6 now: static.example.net."),
        "{}",
        step.text
    );
    // A page with nothing from elsewhere passes; no page over IPv6 says so.
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| o.subresources.as_mut().unwrap().hosts.clear())
            .build(),
    );
    assert_eq!(
        v.finding("web.subresources-v6").unwrap().message,
        "The page loads nothing from other hosts (3 resource URLs, all on its own host)."
    );
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                o.subresources = None;
                o.http.ipv6.as_mut().unwrap().outcome = FetchOutcome::Failed;
            })
            .build(),
    );
    assert_eq!(status(&v, "web.subresources-v6"), Status::Skip);
    assert_eq!(
        v.finding("web.subresources-v6").unwrap().message,
        "No page came back over IPv6, so there is nothing to read (see web.v6-http)."
    );
}

#[test]
fn mail_over_ipv6_greets_offers_starttls_and_names_the_same_host() {
    let v = verdict(&ObsBuilder::good().build());
    assert_eq!(
        v.finding("mail.v6-smtp").unwrap().message,
        "1 mail server address(es) greet, answer EHLO and offer STARTTLS over IPv6: mail.example.gov.vn ([2001:ee0:1::25]:25)."
    );
    let with = |f: fn(&mut Vec<SmtpProbe>)| {
        verdict(
            &ObsBuilder::good()
                .with(|o| f(o.smtp.as_mut().unwrap()))
                .build(),
        )
    };
    let v = with(|p| p[0] = smtp("2001:ee0:1::25", SmtpOutcome::Refused));
    let f = v.finding("mail.v6-smtp").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.message,
        "1 of 1 mail server addresses do not speak SMTP over IPv6: mail.example.gov.vn ([2001:ee0:1::25]:25): refused."
    );
    // Not a stage rule: the portal is still complete.
    assert_eq!(v.stage, Stage::Ipv6Complete);
    let v = with(|p| p[0].starttls = false);
    assert_eq!(status(&v, "mail.v6-smtp"), Status::Warn);
    let v = with(|p| p[0].banner_host = Some("mx-v6.example.net".into()));
    assert_eq!(
        v.finding("mail.v6-smtp").unwrap().message,
        "The greeting names another host over IPv6 than over IPv4: mail.example.gov.vn (IPv6 says mx-v6.example.net, IPv4 says mail.example.gov.vn)."
    );
    // Port 25 silent over both families: this vantage probably blocks it.
    let v = with(|p| {
        p[0] = smtp("2001:ee0:1::25", SmtpOutcome::Timeout);
        p[1] = smtp("192.0.2.25", SmtpOutcome::Timeout);
    });
    assert_eq!(status(&v, "mail.v6-smtp"), Status::Error);
    // No mail server with AAAA: dns.mx-aaaa says so; nothing to connect to.
    let v = with(|p| p.clear());
    assert_eq!(status(&v, "mail.v6-smtp"), Status::Skip);
}

#[test]
fn name_servers_that_hand_out_different_zone_serials_warn() {
    let v = verdict(&ObsBuilder::good().build());
    assert_eq!(status(&v, "dns.ns-v6-answers"), Status::Pass);
    let stale = ObsBuilder::good()
        .with(|o| {
            for ns in &mut o.dns.zone.name_servers {
                for q in &mut ns.queries {
                    q.soa_serial = Some(2026112701);
                }
            }
            let q = &mut o.dns.zone.name_servers[1].queries[0];
            q.soa_serial = Some(2026110101);
        })
        .build();
    let v = verdict(&stale);
    let f = v.finding("dns.ns-v6-answers").unwrap();
    assert_eq!(f.status, Status::Warn, "{}", f.message);
    assert!(
        f.message
            .contains("SOA serials 2026110101 from ns2.example.gov.vn ("),
        "{}",
        f.message
    );
    // A warning does not hold the portal back.
    assert_eq!(v.stage, Stage::Ipv6Complete);
}

#[test]
fn dnssec_that_validates_passes_and_names_each_family() {
    let v = verdict(&ObsBuilder::good().build());
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Pass);
    assert_eq!(
        f.message,
        "example.gov.vn validates from the trust anchor at . (DS 12345); signed keys and SOA come from 1 name server address(es) over IPv6 and 1 over IPv4."
    );
}

#[test]
fn dnssec_of_the_anchors_own_zone_says_so() {
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                let d = o.dnssec.as_mut().unwrap();
                d.anchor = "example.gov.vn".into();
                d.ds_key_tags.clear();
            })
            .build(),
    );
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Pass);
    assert_eq!(
        f.message,
        "example.gov.vn is the trust anchor's own zone and serves the anchor's key; signed keys and SOA come from 1 name server address(es) over IPv6 and 1 over IPv4."
    );
}

#[test]
fn dnssec_outcomes_warn_when_unsigned_and_fail_when_broken() {
    let with = |f: fn(&mut DnssecObservation)| {
        verdict(
            &ObsBuilder::good()
                .with(|o| f(o.dnssec.as_mut().unwrap()))
                .build(),
        )
    };
    // A bogus answer over IPv4 only: the failure names the family.
    let v = with(|d| d.servers[1] = dnssec_server("192.0.2.53", DnssecServed::Bogus));
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.message,
        "1 of 2 name server addresses of example.gov.vn serve keys or signatures that do not validate: no DNSKEY matches the parent's DS (DS key tags 12345; DNSKEY key tags 54321) (ns1.example.gov.vn 192.0.2.53:53)."
    );
    // DNSSEC is beside the IPv6 stages: the portal is still complete.
    assert_eq!(v.stage, Stage::Ipv6Complete);

    let v = with(|d| {
        d.chain = DnssecChain::Bogus;
        d.error = Some(
            "the DS of example.gov.vn in gov.vn does not validate: no RRSIG over the DS records"
                .into(),
        );
    });
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.message.starts_with("The chain of trust of example.gov.vn is broken: the DS of example.gov.vn in gov.vn does not validate"), "{}", f.message);

    let v = with(|d| {
        d.chain = DnssecChain::Insecure;
        d.insecure_at = Some("example.gov.vn".into());
        d.ds_key_tags.clear();
        for s in &mut d.servers {
            s.served = DnssecServed::Unsigned;
            s.key_tags.clear();
        }
    });
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(
        (f.status, f.message.as_str()),
        (Status::Warn, "example.gov.vn is not signed with DNSSEC.")
    );

    let v = with(|d| {
        d.chain = DnssecChain::Insecure;
        d.insecure_at = Some("example.gov.vn".into());
        d.ds_key_tags.clear();
    });
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Warn);
    assert_eq!(
        f.message,
        "example.gov.vn is signed (keys 12345) but its parent has no DS record, so no resolver can validate it."
    );

    let v = with(|d| {
        d.chain = DnssecChain::Insecure;
        d.insecure_at = Some("gov.vn".into());
    });
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Warn);
    assert_eq!(
        f.message,
        "The delegation of gov.vn above example.gov.vn is not signed, so no chain of trust reaches example.gov.vn."
    );

    let v = with(|d| {
        for s in &mut d.servers {
            s.served = DnssecServed::NoAnswer;
            s.error = Some("no answer over UDP or TCP".into());
        }
    });
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Error);
    assert!(
        f.message
            .contains("ns1.example.gov.vn ([2001:ee0:1::53]:53): no answer over UDP or TCP"),
        "{}",
        f.message
    );

    let v = with(|d| {
        d.chain = DnssecChain::Unknown;
        d.error = Some("no answer for the DS of gov.vn: [::1]:53 answered SERVFAIL".into());
    });
    assert_eq!(status(&v, "dns.dnssec"), Status::Error);

    let v = verdict(&ObsBuilder::good().with(|o| o.dnssec = None).build());
    assert_eq!(status(&v, "dns.dnssec"), Status::Skip);
}

// ------------------------------------------ name servers not contacted

/// ns2's IPv6 address made link-local, which the contact policy kept the
/// agent from asking.
fn ns2_not_contacted(o: &mut Observation) {
    let ll: std::net::Ipv6Addr = "fe80::53".parse().unwrap();
    let ns = &mut o.dns.zone.name_servers[1];
    ns.aaaa = vec![ll];
    let q = &mut ns.queries[0];
    q.addr = IpAddr::V6(ll);
    q.outcome = DnsOutcome::NotContacted;
    q.authoritative = false;
    q.soa_serial = None;
    q.error = Some("not contacted: fe80::53 is a link-local address".into());
    q.ms = 0;
}

/// Regression (issue 13, "the agent connects only where it is allowed
/// to"): the name servers were asked at whatever addresses their zone
/// published. An address the contact policy refuses is now not asked; the
/// rule cannot know how it answers, so it is `error` naming the address and
/// why, never `fail`, and the stage is a floor.
#[test]
fn a_name_server_address_not_contacted_is_an_error_naming_it_never_a_failure() {
    let v = verdict(&ObsBuilder::good().with(ns2_not_contacted).build());
    let f = v.finding("dns.ns-v6-answers").unwrap();
    assert_eq!(f.status, Status::Error, "{}", f.message);
    assert_eq!(
        f.message,
        "Unknown: 1 of 2 IPv6 name server addresses of example.gov.vn were not asked, because the rule pack does not let the agent contact them: ns2.example.gov.vn [fe80::53] (not contacted: fe80::53 is a link-local address). If the agent may reach them (an internal zone, a lab), add their prefix to the allow list of dns.aaaa-global."
    );
    assert!(f.remediation.is_empty(), "no advice about nothing");
    assert!(v.findings.iter().all(|f| f.status != Status::Fail));
    assert_eq!(v.stage, Stage::Reachable);
    assert!(!v.stage_certain);

    // An address asked that does not answer is still a failure, judged on
    // the addresses asked alone.
    let v = verdict(
        &ObsBuilder::good()
            .with(ns2_not_contacted)
            .with(|o| {
                let q = &mut o.dns.zone.name_servers[0].queries[0];
                q.outcome = DnsOutcome::Timeout;
                q.authoritative = false;
                q.soa_serial = None;
                q.error = Some("no answer over UDP or TCP".into());
            })
            .build(),
    );
    let f = v.finding("dns.ns-v6-answers").unwrap();
    let msg = &f.message;
    assert_eq!(f.status, Status::Fail, "{msg}");
    assert!(
        msg.starts_with("Only 0 of 1 IPv6 name server addresses of example.gov.vn answer"),
        "{msg}"
    );
    assert!(
        msg.contains("ns1.example.gov.vn [2001:ee0:1::53] no answer within the timeout"),
        "{msg}"
    );
    assert!(!msg.contains("fe80::53"), "{msg}");
}

/// Regression (issue 13): the DNSSEC questions went to every address the
/// zone published. One the contact policy refuses is `error`, naming it,
/// when every server asked validates; a server asked that does not validate
/// still fails.
#[test]
fn dnssec_with_a_name_server_address_not_contacted_is_an_error_naming_it() {
    let private = |served: DnssecServed| {
        let mut s = dnssec_server("10.0.0.53", DnssecServed::Valid);
        s.served = served;
        s.key_tags.clear();
        s.error = Some("not contacted: 10.0.0.53 is a private (RFC 1918) address".into());
        s.ms = 0;
        s
    };
    let one = |o: &mut Observation| {
        o.dnssec.as_mut().unwrap().servers[1] = private(DnssecServed::NotContacted);
    };
    let v = verdict(&ObsBuilder::good().with(one).build());
    let f = v.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Error, "{}", f.message);
    assert_eq!(
        f.message,
        "Unknown: 1 of 2 name server addresses of example.gov.vn were not asked for its keys, because the rule pack does not let the agent contact them: ns1.example.gov.vn (10.0.0.53:53) (not contacted: 10.0.0.53 is a private (RFC 1918) address). If the agent may reach them (an internal zone, a lab), add their prefix to the allow list of dns.aaaa-global."
    );

    // None could be asked: the same, not "no name server answered".
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                for s in &mut o.dnssec.as_mut().unwrap().servers {
                    *s = private(DnssecServed::NotContacted);
                }
            })
            .build(),
    );
    let f = v.finding("dns.dnssec").unwrap();
    let msg = &f.message;
    assert_eq!(f.status, Status::Error, "{msg}");
    assert!(
        msg.starts_with("Unknown: 2 of 2 name server addresses"),
        "{msg}"
    );

    // A server asked whose keys do not validate fails all the same.
    let v = verdict(
        &ObsBuilder::good()
            .with(|o| {
                let d = o.dnssec.as_mut().unwrap();
                d.servers[0] = dnssec_server("2001:ee0:1::53", DnssecServed::Bogus);
                d.servers[1] = private(DnssecServed::NotContacted);
            })
            .build(),
    );
    assert_eq!(status(&v, "dns.dnssec"), Status::Fail);
}

// ------------------------------------------------------- transient failures

/// An attempt that failed before the one recorded: `at` is the step.
fn failed_attempt(at: &str) -> v6audit_model::EndpointAttempt {
    let mut a = v6audit_model::EndpointAttempt {
        tcp: TcpProbe {
            outcome: TcpOutcome::Connected,
            ms: 5,
            error: None,
        },
        tls: None,
        http: None,
    };
    match at {
        "tcp" => {
            a.tcp.outcome = TcpOutcome::Timeout;
            a.tcp.error = Some("no answer to the connection attempt".into());
        }
        "tls" => {
            let mut t = tls_ok("a");
            t.outcome = v6audit_model::TlsOutcome::Closed;
            t.error = Some("the server closed the connection during the handshake".into());
            a.tls = Some(t);
        }
        _ => {
            a.tls = Some(tls_ok("a"));
            let mut x = exchange("https://portal.example.gov.vn/", 200);
            x.outcome = HttpOutcome::Timeout;
            x.status = None;
            x.error = Some("no response head within the timeout".into());
            a.http = Some(x);
        }
    }
    a
}

/// Regression (issue "One lost packet"): one cut handshake over IPv6 made a
/// good portal "broken" with its stage marked certain. A try that failed and
/// then succeeded is a warning, and the stage stands.
#[test]
fn one_lost_handshake_then_success_warns_and_keeps_the_stage() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            if e.port == 443 {
                e.failed_attempts = vec![failed_attempt("tls")];
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "tls.v6-handshake"), Status::Warn);
    assert_eq!(
        v.finding("tls.v6-handshake").unwrap().message,
        "TLS handshake over IPv6 succeeds on all 1 endpoint(s) (TLSv1.3), but 1 of 2 handshakes failed before a second try succeeded: [2001:ee0:100::10]:443 (TLS: closed during the handshake)."
    );
    assert_eq!(status(&v, "web.v6-reachable"), Status::Pass);
    assert_eq!(status(&v, "web.v6-http"), Status::Pass);
    assert_eq!(v.stage, Stage::Ipv6Complete);
    assert!(v.stage_certain);
}

#[test]
fn a_lost_syn_then_success_warns_on_reachability_only() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            if e.port == 80 {
                e.failed_attempts = vec![failed_attempt("tcp")];
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.v6-reachable"), Status::Warn);
    assert_eq!(
        v.finding("web.v6-reachable").unwrap().message,
        "All 2 IPv6 endpoints accept TCP (ports 80, 443), but 1 of 3 connection attempts failed before a second try succeeded: [2001:ee0:100::10]:80 (TCP: no answer within the timeout). One lost packet does that now and then; if it recurs, look for a path or firewall that drops some IPv6 packets."
    );
    assert_eq!(status(&v, "tls.v6-handshake"), Status::Pass);
    assert_eq!(v.stage, Stage::Ipv6Complete);
}

#[test]
fn a_lost_response_then_success_warns_on_the_ipv6_request() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            if e.port == 443 {
                e.failed_attempts = vec![failed_attempt("http")];
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.v6-http"), Status::Warn);
    assert_eq!(
        v.finding("web.v6-http").unwrap().message,
        "Over IPv6, https://portal.example.gov.vn/ answers 200, but 1 of 2 requests got no response before a second try did: [2001:ee0:100::10]:443 (HTTP: no response within the timeout)."
    );
    assert_eq!(status(&v, "tls.v6-handshake"), Status::Pass);
    assert_eq!(v.stage, Stage::Ipv6Complete);
}

/// Regression (issue "Trust under hostile input", 4): with two AAAA of which
/// one refused TCP, tls.v6-handshake said "succeeds on all 1 endpoint(s)".
#[test]
fn handshake_count_names_the_address_that_refused() {
    let obs = ObsBuilder::good()
        .with(|o| {
            let mut second = o
                .endpoints
                .iter()
                .find(|e| e.family == Family::V6 && e.port == 443)
                .unwrap()
                .clone();
            second.addr = ip("2001:ee0:100::11");
            second.tcp.outcome = TcpOutcome::Refused;
            second.tcp.error = Some("Connection refused (os error 111)".into());
            second.tls = None;
            second.http = None;
            o.endpoints.push(second);
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "tls.v6-handshake"), Status::Fail);
    assert_eq!(
        v.finding("tls.v6-handshake").unwrap().message,
        "TLS handshake over IPv6 fails on 1 of 2 endpoint(s): [2001:ee0:100::11]:443 no TCP connection (refused)."
    );
}

/// Regression (issue "Trust under hostile input", 3): a zone whose second
/// name server had an AAAA on which nothing answered got a warning, and the
/// portal reached stage 4.
#[test]
fn a_dead_ipv6_name_server_address_fails_and_holds_the_portal_back() {
    let obs = ObsBuilder::good()
        .with(|o| {
            let q = &mut o.dns.zone.name_servers[1].queries[0];
            q.outcome = DnsOutcome::Timeout;
            q.authoritative = false;
            q.soa_serial = None;
            q.error = Some("no answer within 5 s".into());
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "dns.ns-v6-answers"), Status::Fail);
    let msg = &v.finding("dns.ns-v6-answers").unwrap().message;
    assert!(
        msg.starts_with("Only 1 of 2 IPv6 name server addresses of"),
        "{msg}"
    );
    assert!(msg.contains("[2001:ee0:1::53]"), "{msg}");
    assert_eq!(v.stage, Stage::Reachable);
}

/// Regression (issue "Trust under hostile input", 5): one name server with
/// AAAA printed "Only 1 of the 1 … without: ." with an empty list.
#[test]
fn a_zone_with_one_name_server_says_so_not_an_empty_list() {
    let obs = ObsBuilder::good()
        .with(|o| {
            o.dns.zone.name_servers.truncate(1);
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "dns.ns-aaaa"), Status::Warn);
    let msg = &v.finding("dns.ns-aaaa").unwrap().message;
    assert!(
        msg.contains("has only 1 name server(s), all with AAAA; at least 2 with AAAA are needed"),
        "{msg}"
    );
}

/// Regression (issue "Trust under hostile input", 1): addresses beyond the
/// pack's per-family limit are named as not probed, never silently dropped.
#[test]
fn addresses_beyond_the_limit_are_named_as_not_probed() {
    let obs = ObsBuilder::good()
        .with(|o| {
            o.not_probed = vec![ip("2001:ee0:100::11"), ip("2001:ee0:100::12")];
            o.dns.aaaa.addrs.extend(o.not_probed.clone());
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.v6-reachable"), Status::Pass);
    assert_eq!(
        v.finding("web.v6-reachable").unwrap().message,
        "All 2 IPv6 endpoints probed accept TCP (ports 80, 443): the first 1 addresses; 2 more were not probed (the pack probes at most max_addresses per family), among them 2001:ee0:100::11, 2001:ee0:100::12."
    );
}

/// Regression (issue "Trust under hostile input", 1): with the agent out of
/// file descriptors, good portals got `web.parity fail: Different ports are
/// open: IPv4 none, IPv6 …` with the stage marked certain.
#[test]
fn out_of_sockets_is_an_error_never_a_closed_port() {
    let obs = ObsBuilder::good()
        .with(|o| {
            for e in o.endpoints.iter_mut().filter(|e| e.family == Family::V4) {
                e.tcp.outcome = TcpOutcome::LocalError;
                e.tcp.error = Some("Too many open files (os error 24)".into());
                e.tls = None;
                e.http = None;
            }
        })
        .build();
    let v = verdict(&obs);
    assert_eq!(status(&v, "web.parity"), Status::Error);
    assert!(
        v.findings.iter().all(|f| f.status != Status::Fail),
        "{:?}",
        v.findings
    );
    assert!(!v.stage_certain);
}

/// Regression (issue 17.5): `--lang vi` read "[2001:…]:80 refused" — the
/// reason words of a message came from the engine in English. Every word now
/// comes from the pack's table in the reader's language, and the finding
/// keeps its outcome key and values, so the same stored finding reads in
/// either language.
#[test]
fn a_vietnamese_reader_reads_no_english_reason_words() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            e.tcp.outcome = TcpOutcome::Refused;
            e.tls = None;
            e.http = None;
        })
        .build();
    let pack = Pack::default_pack();
    let vi = evaluate(&pack, &obs, &portal(Category::Citizen), Lang::Vi);
    let f = vi.finding("web.v6-reachable").unwrap();
    assert_eq!(
        f.message,
        "2/2 điểm cuối IPv6 không nhận kết nối TCP: [2001:ee0:100::10]:80 bị từ chối, [2001:ee0:100::10]:443 bị từ chối."
    );
    assert_eq!(f.outcome, "unreachable");
    assert!(
        f.values["failed"].contains("{=tcp.refused}"),
        "{:?}",
        f.values
    );
    // The same finding, rendered again in English from its outcome and values.
    let (en, _) = v6audit_rules::render::finding(&pack, f, Lang::En).unwrap();
    assert_eq!(
        en,
        "2 of 2 IPv6 endpoints do not accept TCP: [2001:ee0:100::10]:80 refused, [2001:ee0:100::10]:443 refused."
    );
}

/// Regression (issue 17.5): with IPv6 connections refused, `--lang vi`
/// read "… không có phản hồi dùng được: TCP to [::1]:51559: Connection
/// refused (os error 111)": a fetch that sent nothing carried the agent's
/// English sentence. The reason is now said from the endpoints on the URL's
/// port, in the reader's language (here `web.v6-http`; `web.parity` says a
/// failed family's reason the same way).
#[test]
fn a_refused_ipv6_fetch_reads_in_vietnamese_not_the_agents_english() {
    let obs = ObsBuilder::good()
        .v6_endpoints(|e| {
            e.tcp.outcome = TcpOutcome::Refused;
            e.tcp.error = Some("Connection refused (os error 111)".into());
            e.tls = None;
            e.http = None;
        })
        .with(|o| {
            let f = o.http.ipv6.as_mut().unwrap();
            f.outcome = FetchOutcome::Failed;
            f.hops.clear();
            f.error =
                Some("TCP to [2001:ee0:100::10]:443: Connection refused (os error 111)".into());
        })
        .build();
    let pack = Pack::default_pack();
    let vi = evaluate(&pack, &obs, &portal(Category::Citizen), Lang::Vi);
    let rule = "web.v6-http";
    let f = vi.finding(rule).unwrap();
    assert_eq!(f.status, Status::Fail, "{rule}");
    assert!(
        f.message.contains("TCP [2001:ee0:100::10]:443 bị từ chối"),
        "{rule}: {}",
        f.message
    );
    assert!(
        !f.message.contains("Connection refused") && !f.message.contains("TCP to"),
        "{rule}: {}",
        f.message
    );
    let en = evaluate(&pack, &obs, &portal(Category::Citizen), Lang::En);
    assert!(
        en.finding("web.v6-http")
            .unwrap()
            .message
            .contains("TCP [2001:ee0:100::10]:443 refused"),
        "{}",
        en.finding("web.v6-http").unwrap().message
    );
}

/// Every outcome of every rule, and every word a value can name, has a
/// Vietnamese text of its own (not the English one copied): what issue 17.5
/// asks a test to walk. Names that are the same in both languages (protocol
/// and technology names) are listed.
#[test]
fn every_outcome_and_word_has_its_own_vietnamese_text() {
    let pack = Pack::default_pack();
    let mut same = Vec::new();
    for id in RuleId::ALL {
        let rule = pack.rule(id);
        for (key, _) in id.spec().outcomes {
            let t = &rule.messages[key];
            let (en, vi) = (t.render(Lang::En, &[]), t.render(Lang::Vi, &[]));
            if en == vi || vi.trim().is_empty() {
                same.push(format!("{id}.{key}"));
            }
        }
        if rule.remediation.en == rule.remediation.vi || rule.title.en == rule.title.vi {
            same.push(format!("{id} (title or remediation)"));
        }
    }
    const NAMES: &[&str] = &[
        "addr.multicast",
        "addr.six_to_four",
        "addr.teredo",
        "addr.orchid",
    ];
    for key in v6audit_rules::words::ALL {
        let (en, vi) = (
            pack.word(key, Lang::En).unwrap(),
            pack.word(key, Lang::Vi).unwrap(),
        );
        if en == vi && !NAMES.contains(key) {
            same.push(format!("words.{key}"));
        }
    }
    // Reasons that are only their values ("{server}: {cause}") read the same.
    const FORMS: &[&str] = &[
        "said",
        "dns.server_failed",
        "dnssec.served_keys_invalid",
        "dnssec.served_soa_invalid",
    ];
    for (key, _) in v6audit_rules::words::SAID {
        let (en, vi) = (
            pack.word(key, Lang::En).unwrap(),
            pack.word(key, Lang::Vi).unwrap(),
        );
        if en == vi && !FORMS.contains(key) {
            same.push(format!("words.{key}"));
        }
    }
    assert!(same.is_empty(), "no Vietnamese of their own: {same:?}");
}

/// Issue 17.5: a DNSSEC reason the agent found (a name server's keys that
/// match no DS, a DS whose signature expired) reads in Vietnamese, nested
/// cause included, not in the agent's English.
#[test]
fn a_dnssec_reason_reads_in_vietnamese_not_the_agents_english() {
    use v6audit_model::Why;
    let pack = Pack::default_pack();
    let server_bogus = ObsBuilder::good()
        .with(|o| {
            o.dnssec.as_mut().unwrap().servers[1] =
                dnssec_server("192.0.2.53", DnssecServed::Bogus);
        })
        .build();
    let vi = evaluate(&pack, &server_bogus, &portal(Category::Citizen), Lang::Vi);
    let f = vi.finding("dns.dnssec").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message.contains(
            "không DNSKEY nào khớp với DS của vùng cha (thẻ khóa DS 12345; thẻ khóa DNSKEY 54321)"
        ),
        "{}",
        f.message
    );
    assert!(!f.message.contains("matches the parent"), "{}", f.message);

    let expired = Why::new("dnssec.sig_expired")
        .with("tag", 12345)
        .with("at", "2026-11-01 00:00:00 UTC");
    let why = Why::new("dnssec.ds_invalid")
        .with("name", "example.gov.vn")
        .with("parent", "gov.vn")
        .with_whys("cause", &[expired]);
    let chain_bogus = ObsBuilder::good()
        .with(|o| {
            let d = o.dnssec.as_mut().unwrap();
            d.chain = DnssecChain::Bogus;
            d.error = Some(v6audit_rules::render::in_english(&why));
            d.why = Some(why.clone());
        })
        .build();
    for (lang, said) in [
        (
            Lang::Vi,
            "DS của example.gov.vn trong gov.vn không hợp lệ: RRSIG của khóa 12345 hết hạn lúc 2026-11-01 00:00:00 UTC",
        ),
        (
            Lang::En,
            "the DS of example.gov.vn in gov.vn does not validate: RRSIG by key 12345 expired at 2026-11-01 00:00:00 UTC",
        ),
    ] {
        let v = evaluate(&pack, &chain_bogus, &portal(Category::Citizen), lang);
        let f = v.finding("dns.dnssec").unwrap();
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains(said), "{lang:?}: {}", f.message);
        // The stored values say it again in the other language: the
        // collector shows a stored finding in either without judging again.
        let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
        let (again, _) = v6audit_rules::render::finding(&pack, f, other).unwrap();
        assert!(!again.contains(said), "{again}");
    }
}
