//! The lab of real servers: hosts in network namespaces this test makes
//! itself (veth pairs, the documentation prefixes 2001:db8::/32 and
//! 192.0.2.0/24, nothing routed off the machine), each running a real server
//! from Debian's packages: nginx with a dual-stack portal and its
//! misconfigured variants, Knot DNS with a signed, an unsigned and a
//! broken-DS zone, postfix for mail. A router namespace between the agent
//! and the servers drops every ICMPv6 packet it would forward, the link to
//! the web host has the IPv6 minimum MTU (1280), and one host's nftables
//! silently drops TCP over IPv6. The agent runs in its own namespace (a
//! thread of this test that joined it) and every portal must come out with
//! its exact rule statuses and stage.
//!
//! Needs root, iproute2, nftables, nginx, knot, knot-dnsutils and postfix
//! (scripts/test.sh installs them as root). Elsewhere it skips with the
//! reason, unless V6AUDIT_REQUIRE_REAL_SERVERS is set (then it fails).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod echo;
mod net;
mod servers;

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use common::mismatches;
use net::{Netns, link};
use servers::{BADDS, Host, PARENT, SIGNED, Site, UNSIGNED, V4NS};
use v6audit_agent::anchor::Anchor;
use v6audit_agent::{Auditor, ResolverChoice, Settings};
use v6audit_model::{Inventory, Lang, Report, Stage, Status};
use v6audit_rules::Pack;

/// The tools the lab needs, each from a Debian package.
const TOOLS: [(&str, &str); 7] = [
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("nginx", "nginx-light"),
    ("knotd", "knot"),
    ("keymgr", "knot"),
    ("kdig", "knot-dnsutils"),
    ("postfix", "postfix"),
];

fn missing() -> Option<String> {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Some("needs root to make network namespaces".to_owned());
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = |tool: &str| {
        path.split(':')
            .chain(["/usr/sbin", "/sbin"])
            .any(|d| std::path::Path::new(d).join(tool).is_file())
    };
    let absent: Vec<String> = TOOLS
        .iter()
        .filter(|(t, _)| !found(t))
        .map(|(t, p)| format!("{t} (package {p})"))
        .collect();
    (!absent.is_empty()).then(|| format!("missing: {}", absent.join(", ")))
}

/// A page big enough to need many 1280-byte packets, with an image from a
/// dual-stack host of the zone.
fn portal_page() -> String {
    let mut page = String::from(
        "<!doctype html><html lang=vi><head><title>Cổng dịch vụ công thử nghiệm</title></head><body><h1>Cổng dịch vụ công</h1><img src=\"https://cdn.v6lab.test/logo.png\" alt=logo>",
    );
    for i in 0..400 {
        page.push_str(&format!(
            "<p>Thủ tục hành chính số {i}: nộp hồ sơ trực tuyến, tra cứu kết quả và thanh toán phí.</p>"
        ));
    }
    page.push_str("</body></html>");
    page
}

/// A page whose script comes from a host without AAAA.
const LEGACY_PAGE: &str = "<!doctype html><html lang=vi><head><title>Dịch vụ công cũ</title><script src=\"https://sso.v6lab.test/app.js\"></script></head><body><h1>Dịch vụ công</h1><p>Đăng nhập để nộp hồ sơ.</p></body></html>";

const OTHER_PAGE: &str = "<!doctype html><html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1><p>If you see this page, the nginx web server is successfully installed and working.</p></body></html>";

/// A portal's id, its stage, and the statuses of the rules that matter for it.
type Expected = (&'static str, Stage, Vec<(&'static str, Status)>);

/// What each portal must come out as.
fn expected() -> Vec<Expected> {
    use Status::*;
    vec![
        (
            "good",
            Stage::Ipv6Complete,
            vec![
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
                ("web.subresources-v6", Pass),
                ("tls.v6-handshake", Pass),
                ("tls.v6-cert", Pass),
                ("tls.parity", Pass),
                // The router drops ICMPv6: echo goes unanswered, which is
                // information, not a fault, when the web works.
                ("net.icmpv6-echo", Info),
                ("net.v6-latency", Pass),
                ("mail.v6-smtp", Pass),
            ],
        ),
        (
            "v4-listener",
            Stage::Broken,
            vec![
                ("dns.aaaa", Pass),
                ("web.v6-reachable", Fail),
                ("tls.v6-handshake", Fail),
                ("web.parity", Fail),
            ],
        ),
        (
            "other-site-v6",
            Stage::Ipv6Complete,
            vec![
                ("web.v6-http", Pass),
                ("web.parity", Warn),
                ("tls.parity", Pass),
            ],
        ),
        (
            "other-cert-v6",
            Stage::Reachable,
            vec![
                ("tls.v6-handshake", Pass),
                ("tls.v6-cert", Fail),
                ("tls.parity", Fail),
                ("web.v6-http", Pass),
            ],
        ),
        (
            "redirect-to-v4",
            Stage::DualStack,
            vec![
                ("web.v6-http", Pass),
                ("web.redirects-v6", Fail),
                ("tls.v6-cert", Pass),
            ],
        ),
        (
            "script-from-v4",
            Stage::DualStack,
            vec![
                ("web.v6-http", Pass),
                ("web.parity", Pass),
                ("web.subresources-v6", Fail),
            ],
        ),
        (
            "v6-dropped",
            Stage::Broken,
            vec![
                ("dns.aaaa", Pass),
                ("web.v6-reachable", Fail),
                ("web.v6-http", Fail),
                ("net.v6-latency", Fail),
            ],
        ),
        (
            "dnssec-signed",
            Stage::Ipv6Complete,
            vec![
                ("dns.dnssec", Pass),
                ("dns.ns-aaaa", Pass),
                ("web.parity", Pass),
            ],
        ),
        (
            "dnssec-unsigned",
            Stage::Ipv6Complete,
            vec![("dns.dnssec", Warn), ("web.parity", Pass)],
        ),
        (
            "dnssec-broken-ds",
            Stage::Ipv6Complete,
            vec![("dns.dnssec", Fail), ("web.parity", Pass)],
        ),
        (
            "ns-v4-only",
            Stage::Reachable,
            vec![
                ("dns.ns-aaaa", Fail),
                ("dns.ns-v6-answers", Skip),
                ("dns.dnssec", Warn),
            ],
        ),
    ]
}

/// Audits in the agent's namespace: a thread joins it, then runs the agent.
fn audit_in(ns: &Netns, settings: Settings, inventory: Inventory, pack: Arc<Pack>) -> Report {
    net::within(ns, move |rt| {
        rt.block_on(async {
            let auditor = Auditor::new(settings).await.unwrap();
            let vantage = auditor.vantage();
            assert!(vantage.ipv4 && vantage.ipv6, "{vantage:?}");
            auditor
                .audit(inventory.portals, pack, Lang::En, "netns", None)
                .await
        })
    })
}

#[test]
fn real_servers_in_network_namespaces() {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_REAL_SERVERS").is_none(),
            "V6AUDIT_REQUIRE_REAL_SERVERS is set, but {why}"
        );
        eprintln!("skipping the lab of real servers: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // postfix's daemons run as the postfix user and must reach their queue.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path();
    let p = format!("v6a{}", std::process::id() % 100_000);

    // Hosts and links. Declared before the servers, so dropped after them.
    let agent = Netns::new(&format!("{p}-agent"));
    let router = Netns::new(&format!("{p}-router"));
    let web = Netns::new(&format!("{p}-web"));
    let dns = Netns::new(&format!("{p}-dns"));
    let mail = Netns::new(&format!("{p}-mail"));
    let dropper = Netns::new(&format!("{p}-drop"));
    link(&agent, "a0", &router, "r0", None);
    link(&router, "r1", &web, "w0", Some(1280));
    link(&router, "r2", &dns, "d0", None);
    link(&router, "r3", &mail, "m0", None);
    link(&router, "r4", &dropper, "x0", None);
    agent.addrs("a0", &["2001:db8:a::2/64", "192.0.2.2/28"]);
    agent.gateway("2001:db8:a::1", "192.0.2.1");
    router.addrs("r0", &["2001:db8:a::1/64", "192.0.2.1/28"]);
    router.addrs("r1", &["2001:db8:b::1/64", "192.0.2.17/28"]);
    router.addrs("r2", &["2001:db8:c::1/64", "192.0.2.33/28"]);
    router.addrs("r3", &["2001:db8:d::1/64", "192.0.2.49/28"]);
    router.addrs("r4", &["2001:db8:e::1/64", "192.0.2.65/28"]);
    router.exec(&["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    router.exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    web.addrs(
        "w0",
        &[
            "2001:db8:b::10/64",
            "2001:db8:b::11/64",
            "2001:db8:b::12/64",
            "2001:db8:b::13/64",
            "2001:db8:b::14/64",
            "2001:db8:b::15/64",
            "192.0.2.18/28",
            "192.0.2.19/28",
            "192.0.2.20/28",
            "192.0.2.21/28",
            "192.0.2.22/28",
            "192.0.2.23/28",
            "192.0.2.24/28",
        ],
    );
    web.gateway("2001:db8:b::1", "192.0.2.17");
    dns.addrs(
        "d0",
        &[
            "2001:db8:c::53/64",
            "2001:db8:c::54/64",
            "192.0.2.34/28",
            "192.0.2.35/28",
        ],
    );
    dns.gateway("2001:db8:c::1", "192.0.2.33");
    mail.addrs("m0", &["2001:db8:d::25/64", "192.0.2.50/28"]);
    mail.gateway("2001:db8:d::1", "192.0.2.49");
    dropper.addrs("x0", &["2001:db8:e::10/64", "192.0.2.66/28"]);
    dropper.gateway("2001:db8:e::1", "192.0.2.65");
    // The router forwards no ICMPv6 at all (echo, Packet Too Big, errors):
    // the firewall many portals sit behind.
    router.nft(
        "table inet lab {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    meta l4proto ipv6-icmp drop\n  }\n}\n",
        dir,
    );
    // This host silently drops TCP over IPv6: connects time out.
    dropper.nft(
        "table inet lab {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    meta nfproto ipv6 meta l4proto tcp drop\n  }\n}\n",
        dir,
    );

    // Certificates from the lab's CA: one for every lab name, one for another.
    let names: Vec<String> = [PARENT, SIGNED, UNSIGNED, BADDS, V4NS]
        .iter()
        .map(|z| format!("*.{z}"))
        .collect();
    let pki = v6audit_lab::pki::Pki::new(&names).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, &pki.ca_pem).unwrap();
    let good = (
        "good",
        pki.good_pem.chain.as_str(),
        pki.good_pem.key.as_str(),
    );
    let wrong = (
        "wrong",
        pki.wrong_name_pem.chain.as_str(),
        pki.wrong_name_pem.key.as_str(),
    );

    // The servers.
    let ns1 = Host {
        name: "ns1.v6lab.test",
        aaaa: &["2001:db8:c::53"],
        a: &["192.0.2.34"],
    };
    let hosts = [
        ns1,
        Host {
            name: "ns2.v6lab.test",
            aaaa: &["2001:db8:c::54"],
            a: &["192.0.2.35"],
        },
        Host {
            name: "ns4.v6lab.test",
            aaaa: &[],
            a: &["192.0.2.34"],
        },
        Host {
            name: "mail.v6lab.test",
            aaaa: &["2001:db8:d::25"],
            a: &["192.0.2.50"],
        },
        Host {
            name: "good.v6lab.test",
            aaaa: &["2001:db8:b::10"],
            a: &["192.0.2.18"],
        },
        Host {
            name: "v4listen.v6lab.test",
            aaaa: &["2001:db8:b::11"],
            a: &["192.0.2.19"],
        },
        Host {
            name: "othersite.v6lab.test",
            aaaa: &["2001:db8:b::12"],
            a: &["192.0.2.20"],
        },
        Host {
            name: "othercert.v6lab.test",
            aaaa: &["2001:db8:b::13"],
            a: &["192.0.2.21"],
        },
        Host {
            name: "cdn.v6lab.test",
            aaaa: &["2001:db8:b::10"],
            a: &["192.0.2.18"],
        },
        Host {
            name: "redirect.v6lab.test",
            aaaa: &["2001:db8:b::14"],
            a: &["192.0.2.22"],
        },
        Host {
            name: "sso.v6lab.test",
            aaaa: &[],
            a: &["192.0.2.23"],
        },
        Host {
            name: "legacy.v6lab.test",
            aaaa: &["2001:db8:b::15"],
            a: &["192.0.2.24"],
        },
        Host {
            name: "dropped.v6lab.test",
            aaaa: &["2001:db8:e::10"],
            a: &["192.0.2.66"],
        },
    ];
    let child_portal = Host {
        name: "portal",
        aaaa: &["2001:db8:b::10"],
        a: &["192.0.2.18"],
    };
    let mut knot = servers::knot(
        &dns,
        dir,
        &[
            "2001:db8:c::53",
            "2001:db8:c::54",
            "192.0.2.34",
            "192.0.2.35",
        ],
        &hosts,
        &child_portal,
    );
    let pages = [
        ("site", portal_page()),
        ("other", OTHER_PAGE.to_owned()),
        ("legacy", LEGACY_PAGE.to_owned()),
    ];
    let mut nginx_web = servers::nginx(
        &web,
        dir,
        "nginx-web",
        &[
            Site {
                listen: &["192.0.2.18", "[2001:db8:b::10]"],
                root: "site",
                cert: None,
            },
            // An IPv4-only listener behind a published AAAA.
            Site {
                listen: &["192.0.2.19"],
                root: "site",
                cert: None,
            },
            // Another site on IPv6 (a default page).
            Site {
                listen: &["192.0.2.20"],
                root: "site",
                cert: None,
            },
            Site {
                listen: &["[2001:db8:b::12]"],
                root: "other",
                cert: None,
            },
            // Another certificate on IPv6.
            Site {
                listen: &["192.0.2.21"],
                root: "site",
                cert: None,
            },
            Site {
                listen: &["[2001:db8:b::13]"],
                root: "site",
                cert: Some("wrong"),
            },
            // A redirect to a single sign-on host that has no AAAA.
            Site {
                listen: &["192.0.2.22", "[2001:db8:b::14]"],
                root: "redirect",
                cert: None,
            },
            Site {
                listen: &["192.0.2.23"],
                root: "site",
                cert: None,
            },
            // A page whose script comes from that IPv4-only host.
            Site {
                listen: &["192.0.2.24", "[2001:db8:b::15]"],
                root: "legacy",
                cert: None,
            },
        ],
        &[good, wrong],
        &pages,
    );
    let mut nginx_drop = servers::nginx(
        &dropper,
        dir,
        "nginx-drop",
        &[Site {
            listen: &["192.0.2.66", "[2001:db8:e::10]"],
            root: "site",
            cert: None,
        }],
        &[good],
        &pages[..1],
    );
    let mut postfix = servers::postfix(&mail, dir, "mail.v6lab.test", good.1, good.2);

    // The inventory, the pack (the documentation prefix allowed through
    // dns.aaaa-global, as a lab must) and the agent's settings.
    let portals = [
        ("good", "good.v6lab.test"),
        ("v4-listener", "v4listen.v6lab.test"),
        ("other-site-v6", "othersite.v6lab.test"),
        ("other-cert-v6", "othercert.v6lab.test"),
        ("redirect-to-v4", "redirect.v6lab.test"),
        ("script-from-v4", "legacy.v6lab.test"),
        ("v6-dropped", "dropped.v6lab.test"),
        ("dnssec-signed", "portal.signed.v6lab.test"),
        ("dnssec-unsigned", "portal.unsigned.v6lab.test"),
        ("dnssec-broken-ds", "portal.badds.v6lab.test"),
        ("ns-v4-only", "portal.v4ns.v6lab.test"),
    ];
    let mut yaml = String::from("schema: v6audit/inventory/v1\nname: real servers\nportals:\n");
    for (id, host) in portals {
        yaml.push_str(&format!(
            "  - id: {id}\n    url: https://{host}/\n    name: {id}\n    agency: Lab\n    category: citizen\n"
        ));
    }
    let inventory = Inventory::parse(&yaml, "netns inventory").unwrap();
    let pack = Arc::new(
        Pack::parse(
            "schema: v6audit/rules/v1\nname: netns\nextends: default\nrules:\n  dns.aaaa-global:\n    allow: [\"2001:db8::/32\", \"192.0.2.0/24\"]\n",
            "netns pack",
        )
        .unwrap(),
    );
    let settings = Settings {
        resolver: ResolverChoice::At("[2001:db8:c::53]:53".parse().unwrap()),
        ca_file: Some(ca_path),
        timeout: Duration::from_secs(2),
        portal_budget: Duration::from_secs(12),
        dnssec: Some(Arc::new(Anchor::from_file(&knot.anchor).unwrap())),
        contact: v6audit_rules::ContactPolicy::of(&pack.params),
        ..Settings::default()
    };
    let report = audit_in(&agent, settings, inventory, pack);
    // Every server outlived the audit (none was crashed by what it was asked).
    for s in [
        &mut knot.server,
        &mut nginx_web,
        &mut nginx_drop,
        &mut postfix,
    ] {
        s.assert_running();
    }

    let mut wrong_results = Vec::new();
    for (id, stage, statuses) in expected() {
        let r = report
            .results
            .iter()
            .find(|r| r.portal.id == id)
            .unwrap_or_else(|| panic!("no result for {id}"));
        wrong_results.extend(mismatches(id, r, stage, &statuses));
    }
    assert!(wrong_results.is_empty(), "{}", wrong_results.join("\n\n"));

    // What the findings say, exactly, where a real server gives the reason.
    let message = |id: &str, rule: &str| {
        report
            .results
            .iter()
            .find(|r| r.portal.id == id)
            .and_then(|r| r.verdict.finding(rule))
            .map(|f| f.message.clone())
            .unwrap()
    };
    assert_eq!(
        message("dnssec-unsigned", "dns.dnssec"),
        "unsigned.v6lab.test is not signed with DNSSEC."
    );
    let broken = message("dnssec-broken-ds", "dns.dnssec");
    assert!(
        broken.starts_with("4 of 4 name server addresses of badds.v6lab.test serve keys or signatures that do not validate: no DNSKEY matches the parent's DS (DS key tags ")
            && broken.ends_with("(ns1.v6lab.test [2001:db8:c::53]:53, ns1.v6lab.test 192.0.2.34:53, ns2.v6lab.test [2001:db8:c::54]:53, ns2.v6lab.test 192.0.2.35:53)."),
        "{broken}"
    );
    let signed = message("dnssec-signed", "dns.dnssec");
    assert!(
        signed.starts_with("signed.v6lab.test validates from the trust anchor at v6lab.test (DS ")
            && signed.ends_with("from 2 name server address(es) over IPv6 and 2 over IPv4."),
        "{signed}"
    );
    assert_eq!(
        message("script-from-v4", "web.subresources-v6"),
        "An IPv6-only visitor cannot load what the page needs from 1 of 1 hosts: sso.v6lab.test (no AAAA record; script)."
    );
    assert_eq!(
        message("good", "dns.dnssec"),
        "v6lab.test is the trust anchor's own zone and serves the anchor's key; signed keys and SOA come from 2 name server address(es) over IPv6 and 2 over IPv4."
    );
    let smtp = message("good", "mail.v6-smtp");
    assert_eq!(
        smtp,
        "1 mail server address(es) greet, answer EHLO and offer STARTTLS over IPv6: mail.v6lab.test ([2001:db8:d::25]:25)."
    );
    // The whole page came over the 1280-byte link, the same over both families.
    let good_obs = &report
        .results
        .iter()
        .find(|r| r.portal.id == "good")
        .unwrap()
        .observation;
    assert_eq!(good_obs.content_similarity, Some(1.0), "{good_obs:?}");

    drop(postfix);
    drop(nginx_drop);
    drop(nginx_web);
    drop(knot);
}
