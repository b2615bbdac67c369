//! `/metrics`: Prometheus text exposition, written by hand (a handful of
//! series): portals by stage and agency, ingest counters, and the last report
//! of each agent. Label values are cut to [`MAX_LABEL_BYTES`], so one long
//! name cannot swell every scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::Agent;
use crate::views::PortalView;

/// Counters kept while the collector runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Reports accepted.
    pub reports_accepted: AtomicU64,
    /// Reports refused for any reason but the rate limit.
    pub reports_rejected: AtomicU64,
    /// Results stored for the first time.
    pub results_stored: AtomicU64,
    /// Results whose id was already stored, so not stored again.
    pub results_duplicate: AtomicU64,
    /// Reports refused by the per-agent rate limit (429).
    pub rate_limited: AtomicU64,
    /// Webhook deliveries the receiver accepted (2xx).
    pub webhooks_sent: AtomicU64,
    /// Webhook deliveries given up after every attempt.
    pub webhooks_failed: AtomicU64,
    /// Events not queued for the webhooks because the queue was full.
    pub webhooks_dropped: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter` (relaxed: no other memory is ordered by it).
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The longest label value written, in bytes; a longer one is cut at a
/// character boundary and ends with [`CUT_MARKER`].
pub const MAX_LABEL_BYTES: usize = 128;
/// What ends a label value that was cut.
pub const CUT_MARKER: &str = "…";

/// A label value within [`MAX_LABEL_BYTES`] (plus the marker when cut).
fn capped(s: &str) -> String {
    if s.len() <= MAX_LABEL_BYTES {
        return s.to_owned();
    }
    let mut end = MAX_LABEL_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT_MARKER}", &s[..end])
}

/// Escapes a label value (already capped).
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `/metrics` text: the counters, portals by stage and agency, each agent's last report.
pub fn render(counters: &Counters, views: &[PortalView], agents: &[Agent]) -> String {
    let mut out = String::new();
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    counter(
        "v6audit_ingest_reports_total",
        "Reports pushed by agents, by outcome.",
        &[
            ("{outcome=\"accepted\"}", c(&counters.reports_accepted)),
            ("{outcome=\"rejected\"}", c(&counters.reports_rejected)),
            ("{outcome=\"rate_limited\"}", c(&counters.rate_limited)),
        ],
    );
    counter(
        "v6audit_ingest_results_total",
        "Results received, by whether they were new or already stored.",
        &[
            ("{outcome=\"stored\"}", c(&counters.results_stored)),
            ("{outcome=\"duplicate\"}", c(&counters.results_duplicate)),
        ],
    );
    counter(
        "v6audit_webhooks_total",
        "Webhook deliveries, by outcome.",
        &[
            ("{outcome=\"sent\"}", c(&counters.webhooks_sent)),
            ("{outcome=\"failed\"}", c(&counters.webhooks_failed)),
            ("{outcome=\"dropped\"}", c(&counters.webhooks_dropped)),
        ],
    );
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for v in views {
        let stage = v.combined.stage_name.unwrap_or("unmeasured").to_owned();
        // Capped before counting: names that differ only past the cut count
        // as one series, never as two series with the same labels.
        let agency = capped(v.portal.agency.as_deref().unwrap_or_default());
        *by.entry((stage, agency)).or_default() += 1;
    }
    let _ = writeln!(
        out,
        "# HELP v6audit_portals Portals by their lowest stage over vantages, and agency.\n# TYPE v6audit_portals gauge"
    );
    for ((stage, agency), n) in by {
        let _ = writeln!(
            out,
            "v6audit_portals{{stage=\"{}\",agency=\"{}\"}} {n}",
            label(&stage),
            label(&agency)
        );
    }
    let _ = writeln!(
        out,
        "# HELP v6audit_agent_last_report_timestamp_seconds When each agent last pushed a report.\n# TYPE v6audit_agent_last_report_timestamp_seconds gauge"
    );
    let mut last: BTreeMap<(String, String), i64> = BTreeMap::new();
    for a in agents {
        if let Some(ms) = a.last_report_ms {
            let key = (capped(&a.name), capped(a.vantage.as_deref().unwrap_or("")));
            let newest = last.entry(key).or_insert(ms);
            *newest = (*newest).max(ms);
        }
    }
    for ((agent, vantage), ms) in last {
        let _ = writeln!(
            out,
            "v6audit_agent_last_report_timestamp_seconds{{agent=\"{}\",vantage=\"{}\"}} {}",
            label(&agent),
            label(&vantage),
            ms as f64 / 1000.0
        );
    }
    out
}
