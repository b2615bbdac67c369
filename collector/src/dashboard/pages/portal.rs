//! One portal: its facts and priority, the stage timeline per vantage, each
//! vantage's findings (in the page's language) and evidence (addresses,
//! certificates, redirects, timings, other hosts, mail), and what changed.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use v6audit_model::{Family, Observation};

use super::{
    ChangeRow, PageResult, PriorityWhy, agency_href, change_row, error_page, failed, priority_why,
    serde_name, stage_class,
};
use crate::dashboard::markup::inline_code;
use crate::dashboard::svg::{self, Track};
use crate::dashboard::text::Texts;
use crate::dashboard::{Chrome, PageContext, enc, html, now_ms};
use crate::queries::snapshot;
use crate::store::{EventFilter, Storage};
use crate::views;

#[derive(Debug)]
struct PortalHead {
    id: String,
    url: String,
    agency: String,
    agency_href: String,
    category: &'static str,
    audience: String,
    tags: String,
    stage_label: &'static str,
    stage_class: &'static str,
    summary: String,
    why: PriorityWhy,
    in_inventory: bool,
}

#[derive(Debug)]
struct FindingRow {
    rule: String,
    status: &'static str,
    status_label: &'static str,
    message: String,
    /// HTML: escaped, with `code` spans (`markup::inline_code`).
    remediation: String,
}

#[derive(Debug)]
struct CertRow {
    addr: String,
    chain: String,
    version: String,
    subject: String,
    issuer: String,
    names: String,
    not_after: String,
    sha256: String,
}

#[derive(Debug)]
struct HopRow {
    url: String,
    status: String,
    addr: String,
}

#[derive(Debug)]
struct ChainView {
    family: &'static str,
    outcome: String,
    hops: Vec<HopRow>,
}

#[derive(Debug)]
struct TimingRow {
    what: &'static str,
    v4: String,
    v6: String,
}

#[derive(Debug)]
struct SubRow {
    host: String,
    kinds: String,
    state: String,
    ok: bool,
}

#[derive(Debug)]
struct VantageBlock {
    agent: String,
    title: String,
    stage_label: &'static str,
    stage_class: &'static str,
    score: i64,
    observed: String,
    findings: Vec<FindingRow>,
    addrs_v4: String,
    addrs_v6: String,
    cname: String,
    certs: Vec<CertRow>,
    chains: Vec<ChainView>,
    timings: Vec<TimingRow>,
    subresources: Vec<SubRow>,
    smtp: Vec<SubRow>,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    chrome: Chrome,
    p: PortalHead,
    vantages: Vec<VantageBlock>,
    timeline: String,
    changes: Vec<ChangeRow>,
}

fn addrs(obs: &Observation, family: Family, none: &str) -> String {
    let list = obs.dns.addrs(family);
    if list.is_empty() {
        let lookup = match family {
            Family::V4 => &obs.dns.a,
            Family::V6 => &obs.dns.aaaa,
        };
        format!("{none} ({})", serde_name(&lookup.outcome))
    } else {
        list.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

/// The evidence of one observation: addresses, certificates, redirects, timings.
fn evidence(ctx: &PageContext, obs: &Observation, block: &mut VantageBlock) {
    let t = ctx.t;
    block.addrs_v4 = addrs(obs, Family::V4, t.none);
    block.addrs_v6 = addrs(obs, Family::V6, t.none);
    block.cname = obs
        .dns
        .aaaa
        .cname_chain
        .iter()
        .chain(obs.dns.a.cname_chain.iter())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(" → ");
    block.certs = cert_rows(obs);
    block.chains = redirect_chains(obs);
    block.timings = timing_rows(t, obs);
    if let Some(sessions) = &obs.smtp {
        block.smtp = smtp_rows(t, sessions);
    }
    if let Some(sub) = &obs.subresources {
        block.subresources = subresource_rows(sub);
    }
}

/// The certificate each TLS endpoint presented.
fn cert_rows(obs: &Observation) -> Vec<CertRow> {
    let mut certs = Vec::new();
    for e in &obs.endpoints {
        let Some(tls) = &e.tls else { continue };
        let addr = match e.addr {
            std::net::IpAddr::V6(a) => format!("[{a}]:{}", e.port),
            std::net::IpAddr::V4(a) => format!("{a}:{}", e.port),
        };
        let chain = match (&tls.chain, tls.outcome) {
            (Some(c), _) => serde_name(&c.status),
            (None, o) => serde_name(&o),
        };
        let (subject, issuer, names, not_after, sha256) = match &tls.certificate {
            Some(c) => (
                c.subject.clone(),
                c.issuer.clone(),
                c.sans.join(", "),
                c.not_after.date().to_string(),
                c.sha256.chars().take(16).collect::<String>() + "…",
            ),
            None => Default::default(),
        };
        certs.push(CertRow {
            addr,
            chain,
            version: tls.version.clone().unwrap_or_default(),
            subject,
            issuer,
            names,
            not_after,
            sha256,
        });
    }
    certs
}

/// The page fetched over each family, hop by hop.
fn redirect_chains(obs: &Observation) -> Vec<ChainView> {
    let mut chains = Vec::new();
    for (family, label) in [(Family::V4, "IPv4"), (Family::V6, "IPv6")] {
        let fetch = obs.http.get(family);
        chains.push(match fetch {
            None => ChainView {
                family: label,
                outcome: "—".to_owned(),
                hops: vec![],
            },
            Some(f) => ChainView {
                family: label,
                outcome: serde_name(&f.outcome),
                hops: f
                    .hops
                    .iter()
                    .map(|h| HopRow {
                        url: h.url.clone(),
                        status: h
                            .exchange
                            .status
                            .map_or_else(|| serde_name(&h.exchange.outcome), |s| s.to_string()),
                        addr: h.addr.map(|a| a.to_string()).unwrap_or_default(),
                    })
                    .collect(),
            },
        });
    }
    chains
}

/// The timings of each family: DNS, TCP, TLS and HTTP on the endpoint the
/// page was fetched from, the median connect and ICMPv6 echo.
fn timing_rows(t: &Texts, obs: &Observation) -> Vec<TimingRow> {
    // Timings: the endpoint of each family the page was fetched from (TLS port first).
    let pick = |family: Family| {
        obs.endpoints
            .iter()
            .filter(|e| e.family == family)
            .max_by_key(|e| {
                (
                    e.tls_port,
                    e.tcp.outcome == v6audit_model::TcpOutcome::Connected,
                )
            })
    };
    let (e4, e6) = (pick(Family::V4), pick(Family::V6));
    let mut timings = vec![
        TimingRow {
            what: t.dns_lookup,
            v4: ms(Some(obs.dns.a.ms)),
            v6: ms(Some(obs.dns.aaaa.ms)),
        },
        TimingRow {
            what: t.tcp_connect,
            v4: ms(e4
                .filter(|e| e.tcp.outcome == v6audit_model::TcpOutcome::Connected)
                .map(|e| e.tcp.ms)),
            v6: ms(e6
                .filter(|e| e.tcp.outcome == v6audit_model::TcpOutcome::Connected)
                .map(|e| e.tcp.ms)),
        },
        TimingRow {
            what: t.tls_handshake,
            v4: ms(e4.and_then(|e| e.tls.as_ref()).map(|x| x.ms)),
            v6: ms(e6.and_then(|e| e.tls.as_ref()).map(|x| x.ms)),
        },
        TimingRow {
            what: t.http_response,
            v4: ms(e4.and_then(|e| e.http.as_ref()).map(|x| x.ms)),
            v6: ms(e6.and_then(|e| e.http.as_ref()).map(|x| x.ms)),
        },
    ];
    if let Some(l) = &obs.latency {
        let median = |p: &Option<v6audit_model::LatencyProbe>| {
            p.as_ref().map_or_else(
                || "—".to_owned(),
                |p| match (p.median_ms(), p.failure()) {
                    (Some(m), _) => m.to_string(),
                    (None, Some(f)) => serde_name(&f.outcome),
                    (None, None) => "—".to_owned(),
                },
            )
        };
        timings.push(TimingRow {
            what: t.connect_median,
            v4: median(&l.ipv4),
            v6: median(&l.ipv6),
        });
    }
    if let Some(echo) = &obs.icmpv6 {
        let v6 = echo
            .iter()
            .map(|p| match (p.rtt_ms, p.hop_limit) {
                (Some(r), Some(h)) => format!("{r:.1} ({} {h})", t.hop_limit),
                (Some(r), None) => format!("{r:.1}"),
                _ => serde_name(&p.outcome),
            })
            .collect::<Vec<_>>()
            .join(", ");
        timings.push(TimingRow {
            what: t.icmpv6_echo,
            v4: "—".to_owned(),
            v6: if v6.is_empty() { "—".to_owned() } else { v6 },
        });
    }
    timings
}

/// The SMTP sessions with the mail servers, one row each.
fn smtp_rows(t: &Texts, sessions: &[v6audit_model::SmtpProbe]) -> Vec<SubRow> {
    sessions
        .iter()
        .map(|p| {
            let ok = p.outcome == v6audit_model::SmtpOutcome::Ok;
            let mut state = format!("{}: {}", p.family.label(), serde_name(&p.outcome));
            if ok {
                state.push_str(", ");
                state.push_str(if p.starttls {
                    "STARTTLS"
                } else {
                    t.no_starttls
                });
            }
            if let Some(b) = &p.banner {
                state.push_str(&format!(" · {b}"));
            }
            SubRow {
                host: format!("{} ({})", p.host, std::net::SocketAddr::new(p.addr, p.port)),
                kinds: String::new(),
                state,
                ok,
            }
        })
        .collect()
}

/// The other hosts the page over IPv6 loads from, one row each.
fn subresource_rows(sub: &v6audit_model::Subresources) -> Vec<SubRow> {
    sub.hosts
        .iter()
        .map(|h| {
            let ok = h.reachable_over_ipv6();
            let state = match (&h.tcp, h.aaaa.addrs.first()) {
                (Some(tcp), Some(a)) => format!("{a}: {}", serde_name(&tcp.outcome)),
                _ => format!("AAAA: {}", serde_name(&h.aaaa.outcome)),
            };
            SubRow {
                host: h.host.clone(),
                kinds: h.kinds.join(", "),
                state,
                ok,
            }
        })
        .collect()
}

pub(crate) async fn portal(ctx: PageContext, Path(id): Path<String>) -> Response {
    portal_inner(&ctx, &id).await.unwrap_or_else(|r| r)
}

/// From how many vantages the portal is reachable over IPv6, in the page's
/// words (the API's `summary` is English).
fn reach_summary(t: &Texts, c: &views::Combined) -> String {
    if c.vantages == 0 {
        t.unmeasured.to_owned()
    } else {
        t.reach_summary
            .replace("{n}", &c.reachable_from.to_string())
            .replace("{of}", &c.vantages.to_string())
    }
}

async fn portal_inner(ctx: &PageContext, id: &str) -> PageResult {
    let state = &ctx.state;
    let t = ctx.t;
    let s = snapshot(state).await.map_err(|e| failed(ctx, e))?;
    let Some(view) = s.views.iter().find(|v| v.portal.id == id) else {
        return Err(error_page(
            ctx,
            StatusCode::NOT_FOUND,
            t.not_found,
            t.no_such_portal,
        ));
    };
    let p = &view.portal;
    let blocks = vantage_blocks(ctx, view).await?;
    let timeline = stage_timeline(ctx, id, view, &blocks).await?;
    let events = state
        .store
        .events_before(i64::MAX, Some(id), EventFilter::All, 50)
        .await
        .map_err(|e| failed(ctx, e))?;
    let head = PortalHead {
        id: p.id.clone(),
        url: p.url.clone(),
        agency: p.agency.clone().unwrap_or_default(),
        agency_href: p.agency.as_deref().map(agency_href).unwrap_or_default(),
        category: t.category_label(p.category),
        audience: p.audience.map(|a| a.to_string()).unwrap_or_default(),
        tags: p.tags.join(", "),
        stage_label: t.stage_label(view.combined.stage),
        stage_class: stage_class(view.combined.stage),
        summary: reach_summary(t, &view.combined),
        why: priority_why(t, &state.pack(), p, view.combined.stage),
        in_inventory: view.in_inventory,
    };
    let title = match &p.name {
        Some(n) => format!("{n} ({})", p.id),
        None => p.id.clone(),
    };
    let page = PortalPage {
        chrome: ctx.chrome("portals", title, &format!("/api/v1/portals/{}", enc(id))),
        p: head,
        vantages: blocks,
        timeline,
        changes: events.iter().map(|e| change_row(ctx, e)).collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

/// Each vantage's block: its newest verdict's findings, in the page's
/// language, and the evidence of its observation.
async fn vantage_blocks(
    ctx: &PageContext,
    view: &views::PortalView,
) -> Result<Vec<VantageBlock>, Response> {
    let state = &ctx.state;
    let t = ctx.t;
    let mut blocks = Vec::new();
    for v in &view.vantages {
        let Some(r) = state
            .store
            .result(&v.result_id)
            .await
            .map_err(|e| failed(ctx, e))?
        else {
            continue;
        };
        let obs: Observation = serde_json::from_str(&r.observation).map_err(|e| failed(ctx, e))?;
        let findings = crate::findings::findings_in(&state.pack(), &r.verdict.findings, ctx.lang)
            .map_err(|e| failed(ctx, e))?;
        let observed_ms =
            i64::try_from(obs.started_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut block = VantageBlock {
            agent: v.agent.clone(),
            title: match &v.vantage {
                Some(vt) => format!("{vt} ({})", v.agent),
                None => v.agent.clone(),
            },
            stage_label: t.stage_label(Some(v.stage)),
            stage_class: stage_class(Some(v.stage)),
            score: v.score,
            observed: ctx.datetime(observed_ms),
            findings: findings
                .iter()
                .map(|f| FindingRow {
                    rule: f.rule.clone(),
                    status: f.status.as_str(),
                    status_label: t.status_label(f.status),
                    message: f.message.clone(),
                    remediation: inline_code(&f.remediation),
                })
                .collect(),
            addrs_v4: String::new(),
            addrs_v6: String::new(),
            cname: String::new(),
            certs: vec![],
            chains: vec![],
            timings: vec![],
            subresources: vec![],
            smtp: vec![],
        };
        evidence(ctx, &obs, &mut block);
        blocks.push(block);
    }
    Ok(blocks)
}

/// The stage timeline over the last year, one track per vantage (named as
/// its block is); empty without history.
async fn stage_timeline(
    ctx: &PageContext,
    id: &str,
    view: &views::PortalView,
    blocks: &[VantageBlock],
) -> Result<String, Response> {
    let state = &ctx.state;
    let t = ctx.t;
    let to_ms = now_ms();
    let from_ms = to_ms - 365 * 86_400_000;
    let history = state
        .store
        .history(id, from_ms, to_ms)
        .await
        .map_err(|e| failed(ctx, e))?;
    let mut by_agent: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for h in &history {
        let track = by_agent.entry(h.agent.as_str()).or_default();
        let stage = i64::from(h.stage.number());
        if track.last().is_none_or(|(_, s)| *s != stage) {
            track.push((h.observed_ms, stage));
        }
    }
    let timeline = if history.is_empty() {
        String::new()
    } else {
        let first = history
            .iter()
            .map(|h| h.observed_ms)
            .min()
            .unwrap_or(from_ms);
        let tracks: Vec<Track<'_>> = view
            .vantages
            .iter()
            .map(|v| Track {
                label: blocks
                    .iter()
                    .find(|b| b.agent == v.agent)
                    .map_or(v.agent.as_str(), |b| b.title.as_str()),
                points: by_agent.remove(v.agent.as_str()).unwrap_or_default(),
            })
            .collect();
        svg::stage_timeline(
            t.timeline,
            &t.stages,
            first,
            to_ms,
            (&ctx.datetime(first), &ctx.datetime(to_ms)),
            &tracks,
        )
    };
    Ok(timeline)
}
