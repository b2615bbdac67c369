//! The `net.*` rules: ICMPv6 echo and the latency series over both families.

use std::net::IpAddr;

use v6audit_model::{
    EchoOutcome, EchoProbe, LatencyProbe, Observation, Status, TcpOutcome, TcpProbe,
};

use super::{Outcome, has_aaaa, join, no_aaaa, out};
use crate::pack::Params;
use crate::words::{self, word};

/// ICMPv6 echo: information only, since a portal may block ping and serve
/// the web perfectly well.
pub(super) fn icmpv6_echo(obs: &Observation) -> Outcome {
    let Some(probes) = &obs.icmpv6 else {
        return out(Status::Skip, "not_sent", vec![]);
    };
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    // An IPv4-mapped AAAA is not an IPv6 destination (dns.aaaa-global says so).
    let mapped = |a: &IpAddr| matches!(a, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    if obs.dns.aaaa.addrs.iter().all(mapped) {
        return out(
            Status::Skip,
            "not_ipv6",
            vec![("addrs", join(&obs.dns.aaaa.addrs))],
        );
    }
    let probes: Vec<&EchoProbe> = probes.iter().filter(|p| !mapped(&p.addr)).collect();
    if !obs.vantage.ipv6 || probes.iter().any(|p| p.outcome == EchoOutcome::NoVantage) {
        return out(Status::Error, "no_vantage", vec![]);
    }
    if probes
        .iter()
        .any(|p| p.outcome == EchoOutcome::NoPermission)
    {
        return out(Status::Error, "no_permission", vec![]);
    }
    let answering: Vec<&EchoProbe> = probes
        .iter()
        .copied()
        .filter(|p| p.outcome == EchoOutcome::Reply)
        .collect();
    // A refusal (a Destination Unreachable instead of a reply) is named
    // beside its address: the network answered, and said why.
    let silent: Vec<String> = probes
        .iter()
        .filter(|p| p.outcome == EchoOutcome::NoReply)
        .map(
            |p| match crate::render::reason_value(p.why.as_ref(), None) {
                Some(why) => format!("{} ({why})", p.addr),
                None => p.addr.to_string(),
            },
        )
        .collect();
    let reply = |p: &EchoProbe| {
        let rtt = p.rtt_ms.map_or_else(String::new, |r| format!(" {r:.1} ms"));
        let hops = p.hop_limit.map_or_else(String::new, |h| {
            format!(" ({} {h})", word("echo.hop_limit"))
        });
        format!("{}{rtt}{hops}", p.addr)
    };
    match (answering.is_empty(), silent.is_empty()) {
        (true, true) => out(
            Status::Error,
            "failed",
            vec![(
                "reason",
                probes
                    .iter()
                    .find_map(|p| match p.outcome {
                        EchoOutcome::Error => Some(
                            crate::render::reason_value(p.why.as_ref(), p.error.as_deref())
                                .filter(|r| !r.is_empty())
                                .unwrap_or_else(|| word(words::echo(EchoOutcome::Error))),
                        ),
                        EchoOutcome::NoReply => None,
                        o => Some(word(words::echo(o))),
                    })
                    .unwrap_or_else(|| word("echo.not_sent")),
            )],
        ),
        (false, true) => out(
            Status::Pass,
            "answers",
            vec![
                ("count", answering.len().to_string()),
                ("replies", join(answering.iter().map(|p| reply(p)))),
            ],
        ),
        (true, false) => out(Status::Info, "silent", vec![("addrs", silent.join(", "))]),
        (false, false) => out(
            Status::Info,
            "partly",
            vec![
                ("answering", join(answering.iter().map(|p| reply(p)))),
                ("silent", silent.join(", ")),
            ],
        ),
    }
}

pub(super) fn tcp_failure(p: &TcpProbe) -> String {
    match (&p.outcome, &p.error) {
        (TcpOutcome::Timeout, _) => format!("{} {} ms", word("latency.no_answer_in"), p.ms),
        (TcpOutcome::Error, Some(e)) if !e.is_empty() => e.clone(),
        (o, _) => word(words::tcp(*o)),
    }
}

/// IPv6 against IPv4 connect times (medians of a few connects to one address
/// each): a warning when IPv6 is markedly slower, a failure when IPv6 times
/// out where IPv4 connects, which Happy Eyeballs hides behind a fallback delay.
pub(super) fn v6_latency(obs: &Observation, params: &Params) -> Outcome {
    let Some(latency) = &obs.latency else {
        return out(Status::Skip, "not_checked", vec![]);
    };
    if !has_aaaa(obs) {
        return no_aaaa(obs);
    }
    if !obs.vantage.ipv6 {
        return out(Status::Error, "no_vantage", vec![]);
    }
    let Some(v4) = &latency.ipv4 else {
        return out(Status::Skip, "no_ipv4", vec![]);
    };
    let Some(v6) = &latency.ipv6 else {
        return out(Status::Error, "no_vantage", vec![]);
    };
    let label = |p: &LatencyProbe| std::net::SocketAddr::new(p.addr, p.port).to_string();
    let Some(v4_ms) = v4.median_ms() else {
        return out(
            Status::Skip,
            "v4_fails",
            vec![
                ("ipv4", label(v4)),
                ("reason", v4.failure().map(tcp_failure).unwrap_or_default()),
            ],
        );
    };
    if let Some(f) = v6.failure() {
        return if f.outcome == TcpOutcome::Timeout {
            out(
                Status::Fail,
                "v6_times_out",
                vec![
                    ("ipv6", label(v6)),
                    ("ipv4", label(v4)),
                    ("v4_ms", v4_ms.to_string()),
                ],
            )
        } else {
            out(
                Status::Skip,
                "v6_fails",
                vec![("ipv6", label(v6)), ("reason", tcp_failure(f))],
            )
        };
    }
    let Some(v6_ms) = v6.median_ms() else {
        return out(Status::Skip, "not_checked", vec![]);
    };
    let slower = v6_ms as f64 > v4_ms as f64 * params.slower_ratio
        && v6_ms.saturating_sub(v4_ms) > u64::from(params.slower_extra_ms);
    if slower {
        let ratio = v6_ms as f64 / (v4_ms.max(1)) as f64;
        out(
            Status::Warn,
            "slower",
            vec![
                ("v6_ms", v6_ms.to_string()),
                ("v4_ms", v4_ms.to_string()),
                ("ratio", format!("{ratio:.1}")),
                ("ipv6", label(v6)),
                ("ipv4", label(v4)),
            ],
        )
    } else {
        out(
            Status::Pass,
            "similar",
            vec![("v6_ms", v6_ms.to_string()), ("v4_ms", v4_ms.to_string())],
        )
    }
}
