//! ICMPv6 echo against a real kernel's refusal: a namespace whose input
//! rejects echo requests ("administratively prohibited", as an ip6tables
//! REJECT rule does) gets its refusal named at once, not waited out.

use std::time::{Duration, Instant};

use v6audit_agent::net::Routes;
use v6audit_agent::probe::icmp::Pinger;
use v6audit_model::{EchoOutcome, EchoProbe};

use crate::net::Netns;

/// Pings `::1` from a thread that joined `ns`, on one pinger: one echo
/// before the rule and one after.
fn echo_in(ns: &Netns, reject: impl FnOnce() + Send + 'static) -> (EchoProbe, EchoProbe, Duration) {
    crate::net::within(ns, move |rt| {
        rt.block_on(async {
            let reach = Routes {
                ipv6_loopback: true,
                ..Routes::default()
            };
            let pinger = Pinger::default();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let open = pinger
                .echo(std::net::Ipv6Addr::LOCALHOST, deadline, &reach)
                .await;
            reject();
            let started = Instant::now();
            let refused = pinger
                .echo(std::net::Ipv6Addr::LOCALHOST, deadline, &reach)
                .await;
            (open, refused, started.elapsed())
        })
    })
}

#[test]
fn a_rejected_echo_is_named_as_refused_and_not_asked_again() {
    if let Some(why) = crate::missing() {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_NETNS").is_none(),
            "V6AUDIT_REQUIRE_NETNS is set, but {why}"
        );
        eprintln!("skipping the rejected echo: {why}");
        return;
    }
    let ns = Netns::new("v6a-echo-reject");
    let name = ns.name.clone();
    let (open, refused, took) = echo_in(&ns, move || {
        let rules = "table ip6 reject_echo {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    icmpv6 type echo-request reject with icmpv6 type admin-prohibited\n  }\n}\n";
        let file = std::env::temp_dir().join(format!("{name}.nft"));
        std::fs::write(&file, rules).unwrap();
        crate::net::run(&[
            "ip",
            "netns",
            "exec",
            &name,
            "nft",
            "-f",
            file.to_str().unwrap(),
        ]);
        let _ = std::fs::remove_file(file);
    });
    assert_eq!(open.outcome, EchoOutcome::Reply, "{open:?}");
    assert_eq!(refused.outcome, EchoOutcome::NoReply, "{refused:?}");
    assert_eq!(refused.sent, 1, "a refusal is an answer: {refused:?}");
    assert_eq!(
        refused.error.as_deref(),
        Some("destination unreachable from ::1: administratively prohibited (code 1)"),
        "{refused:?}"
    );
    // In the pack's words too, for the finding to say it in each language.
    let why = refused.why.as_ref().expect("the refusal in words");
    assert_eq!(
        (
            why.word.as_str(),
            why.values.get("code").map(String::as_str)
        ),
        ("echo.unreachable", Some("1")),
        "{refused:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "waited {took:?}: {refused:?}"
    );
}
