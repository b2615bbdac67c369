//! What the collector's benchmarks share: the machine line they print, the
//! process's peak memory, a percentile, and the clock in milliseconds.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// The lab fixture moved in time, as the tests move it.
#[path = "../../tests/support/dated.rs"]
pub(crate) mod dated;

/// A benchmark collector's configuration: SQLite at `db`, state and the
/// inventory text in `dir`, listening on an ephemeral `[::1]` port, and no
/// rate limit an agent of the benchmark could meet.
pub(crate) fn bench_config(
    dir: &std::path::Path,
    db: &std::path::Path,
    inventory: &str,
) -> v6audit_collector::Config {
    let inv = dir.join("inventory.yaml");
    std::fs::write(&inv, inventory).unwrap();
    let mut config = v6audit_collector::Config::load(
        None,
        &v6audit_collector::Overrides {
            listen: Some("[::1]:0".into()),
            database: Some(format!("sqlite://{}", db.display())),
        },
    )
    .unwrap();
    config.state_dir = dir.join("state");
    config.inventories = vec![inv];
    config.reports_per_minute = 1_000_000;
    config.burst = 1_000_000;
    config
}

/// The CPU model, cores, kernel and time, for the first line of a run.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{cpu}, {cores} cores, Linux {}, {}",
        kernel.trim(),
        now.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    )
}

/// The process's peak resident memory (VmHWM) in MiB.
pub(crate) fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

/// CPU seconds (user + system) this process has used so far.
pub(crate) fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line (clock ticks of 1/100 s
    // on Linux); after ')' the first field is the 3rd, so they sit at 11 and 12.
    let ticks: f64 = f.get(11..13).map_or(0.0, |t| {
        t.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn status_kib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// The p-th percentile (0..=1) of sorted values, nearest rank.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[k]
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}
