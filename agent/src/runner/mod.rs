//! The audit runner: observes each portal (probes in parallel within a portal,
//! portals in parallel up to the concurrency limit), bounds each portal by its
//! budget, judges each observation with the rule pack, and streams results as
//! they finish, so a table, a TUI or a JSON-lines writer can show them live.

mod observe;
mod portals;

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;
use v6audit_model::{
    AgentInfo, Lang, Observation, PackInfo, Portal, PortalInfo, PortalResult, REPORT_SCHEMA,
    Report, Summary, Tally, Unmeasured, Vantage,
};
use v6audit_rules::Pack;

use crate::error::AgentError;
use crate::net::Routes;
use crate::probe::{self, Context, dns};
use crate::resolver::{self, Dns};
use crate::settings::{ResolverChoice, Settings};
use observe::{empty_observation, observe_within};
pub use portals::Portals;

/// Something that happened during a run.
#[derive(Debug)]
pub enum Event {
    /// A portal's probes started.
    Started {
        /// The portal's position among those audited (counterparts included), from 0.
        index: usize,
        /// The portal's id.
        id: String,
    },
    /// A portal is done.
    Finished {
        /// The position its `Started` gave.
        index: usize,
        /// Its observation and verdict.
        result: Box<PortalResult>,
    },
}

/// What a streamed run ([`Auditor::audit_streamed`]) ends with.
#[derive(Debug)]
pub struct Streamed {
    /// The report without its results, with the summary of them all.
    pub report: Report,
    /// Why nothing could be measured, as [`Report::unmeasured`] says of a
    /// whole report.
    pub unmeasured: Option<Unmeasured>,
}

/// Probes portals and judges them.
#[derive(Debug, Clone)]
pub struct Auditor {
    ctx: Arc<Context>,
    vantage: Vantage,
}

impl Auditor {
    /// Sets up the resolver, trust anchors and the vantage check.
    pub async fn new(settings: Settings) -> Result<Self, AgentError> {
        let dns = Dns::new(
            &settings.resolver,
            settings.ns_timeout.min(settings.timeout),
        )?;
        let tls = probe::tls::TlsClient::new(settings.ca_file.as_deref())?;
        let reach = Routes::measure().await;
        let on_loopback = match &settings.resolver {
            ResolverChoice::At(a) => resolver::is_loopback(a),
            ResolverChoice::System => false,
        };
        let vantage = reach.vantage(on_loopback);
        Ok(Self {
            ctx: Arc::new(Context {
                settings,
                dns,
                tls,
                reach,
                zones: dns::ZoneCache::default(),
                mail: probe::smtp::SessionCache::default(),
                hosts: probe::subresources::HostCache::default(),
                pinger: probe::icmp::Pinger::default(),
            }),
            vantage,
        })
    }

    /// The families this machine can send over, as reports state them.
    pub fn vantage(&self) -> Vantage {
        self.vantage
    }

    /// Checks that the resolver answers before a run whose results must be
    /// trusted (`v6audit check`).
    pub async fn resolver_answers(&self) -> Result<(), String> {
        self.ctx.dns.answers().await
    }

    /// The settings the run probes with.
    pub fn settings(&self) -> &Settings {
        &self.ctx.settings
    }

    /// Observes one portal within its budget.
    pub async fn observe(&self, portal: &Portal) -> Observation {
        let budget = self.ctx.settings.portal_budget;
        let started_at = OffsetDateTime::now_utc();
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + budget;
        // The steps inside respect the deadline; this outer bound is a last
        // guard (a second of grace) should one of them not.
        let guard = deadline + std::time::Duration::from_secs(1);
        match tokio::time::timeout_at(
            guard,
            observe_within(&self.ctx, self.vantage, portal, deadline, started_at),
        )
        .await
        {
            Ok(mut obs) => {
                obs.duration_ms = ms(start);
                obs.budget_exhausted = tokio::time::Instant::now() >= deadline;
                obs
            }
            Err(_) => {
                let mut obs = empty_observation(
                    &self.ctx,
                    self.vantage,
                    portal,
                    started_at,
                    "the portal's time budget ran out",
                );
                obs.duration_ms = ms(start);
                obs.budget_exhausted = true;
                obs
            }
        }
    }

    /// Audits portals concurrently; results arrive on the channel as they finish.
    pub fn run(
        &self,
        portals: impl Into<Portals>,
        pack: Arc<Pack>,
        lang: Lang,
    ) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel(256);
        let limit = Arc::new(Semaphore::new(self.ctx.settings.concurrency.max(1)));
        let me = self.clone();
        let mut portals = portals.into().into_stream().enumerate();
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            while let Some((index, portal)) = portals.next().await {
                // Acquire before spawning: at most `concurrency` portals exist at once.
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let (me, pack, tx) = (me.clone(), pack.clone(), tx.clone());
                tasks.spawn(async move {
                    let _permit = permit;
                    let _ = tx
                        .send(Event::Started {
                            index,
                            id: portal.id.clone(),
                        })
                        .await;
                    let result = me.audit_one(&portal, &pack, lang).await;
                    let _ = tx
                        .send(Event::Finished {
                            index,
                            result: Box::new(result),
                        })
                        .await;
                });
                // Reap finished tasks as we go so the set stays small.
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        });
        rx
    }

    /// Forgets the facts shared between the portals of a run (zones, mail
    /// servers), so that the next run measures them again: the TUI's `r`.
    pub fn forget_shared(&self) {
        self.ctx.zones.clear();
        self.ctx.mail.clear();
        self.ctx.hosts.clear();
    }

    /// Observes and judges one portal.
    pub async fn audit_one(&self, portal: &Portal, pack: &Pack, lang: Lang) -> PortalResult {
        tracing::debug!(portal = %portal.id, url = %portal.url, "probing");
        let observation = self.observe(portal).await;
        let info = PortalInfo::from(portal);
        let verdict = v6audit_rules::evaluate(pack, &observation, &info, lang);
        tracing::debug!(
            portal = %portal.id,
            ms = observation.duration_ms,
            budget_exhausted = observation.budget_exhausted,
            stage = verdict.stage.number(),
            "judged"
        );
        PortalResult {
            id: Uuid::now_v7(),
            portal: info,
            observation,
            verdict,
        }
    }

    /// Audits every portal and returns the whole report, in inventory order.
    pub async fn audit(
        &self,
        portals: impl Into<Portals>,
        pack: Arc<Pack>,
        lang: Lang,
        agent_id: &str,
        inventory: Option<String>,
    ) -> Report {
        let never = |_: &Event| Ok::<(), std::convert::Infallible>(());
        match self
            .audit_with(portals, pack, lang, agent_id, inventory, never)
            .await
        {
            Ok(report) => report,
            Err(never) => match never {},
        }
    }

    /// Like [`Auditor::audit`], calling `on_event` as each portal starts and
    /// finishes (a progress bar, a JSON-lines writer). An error from it stops
    /// waiting for the rest.
    pub async fn audit_with<E>(
        &self,
        portals: impl Into<Portals>,
        pack: Arc<Pack>,
        lang: Lang,
        agent_id: &str,
        inventory: Option<String>,
        mut on_event: impl FnMut(&Event) -> Result<(), E>,
    ) -> Result<Report, E> {
        let mut slots: Vec<Option<PortalResult>> = Vec::new();
        let streamed = self
            .audit_streamed(portals, pack, lang, agent_id, inventory, |event| {
                on_event(&event)?;
                if let Event::Finished { index, result } = event {
                    if slots.len() <= index {
                        slots.resize_with(index + 1, || None);
                    }
                    slots[index] = Some(*result);
                }
                Ok(())
            })
            .await?;
        let mut report = streamed.report;
        report.results = slots.into_iter().flatten().collect();
        Ok(report)
    }

    /// Audits every portal, handing each event to `on_event` and keeping
    /// nothing: memory stays flat whatever the inventory's size. The report
    /// it ends with has no results (they went to `on_event`), and its
    /// summary and [`Streamed::unmeasured`] were counted as they passed.
    pub async fn audit_streamed<E>(
        &self,
        portals: impl Into<Portals>,
        pack: Arc<Pack>,
        lang: Lang,
        agent_id: &str,
        inventory: Option<String>,
        mut on_event: impl FnMut(Event) -> Result<(), E>,
    ) -> Result<Streamed, E> {
        let start = Instant::now();
        let portals = self.expanded(portals.into());
        let mut rx = self.run(portals, pack.clone(), lang);
        let mut tally = Tally::default();
        while let Some(event) = rx.recv().await {
            if let Event::Finished { result, .. } = &event {
                tally.add(result);
            }
            on_event(event)?;
        }
        let mut report = self.report(Vec::new(), &pack, agent_id, inventory, 0);
        report.summary = tally.summary(ms(start));
        Ok(Streamed {
            report,
            unmeasured: tally.unmeasured(self.vantage),
        })
    }

    /// The head of a report (schema, id, agent, pack) for results sent in
    /// parts: `results` and `summary` are the caller's.
    pub fn report_head(&self, pack: &Pack, agent_id: &str, inventory: Option<String>) -> Report {
        self.report(Vec::new(), pack, agent_id, inventory, 0)
    }

    /// Wraps results into a v1 report.
    pub fn report(
        &self,
        results: Vec<PortalResult>,
        pack: &Pack,
        agent_id: &str,
        inventory: Option<String>,
        duration_ms: u64,
    ) -> Report {
        let summary = Summary::of(&results, duration_ms);
        Report {
            schema: REPORT_SCHEMA.to_owned(),
            id: Uuid::now_v7(),
            generated_at: OffsetDateTime::now_utc(),
            agent: AgentInfo {
                id: agent_id.to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                vantage: self.vantage,
                shard: None,
            },
            inventory,
            rules: PackInfo {
                name: pack.name.clone(),
                version: pack.version,
            },
            results,
            summary,
        }
    }
}

fn ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
