//! A run's results cut into reports of bounded size as they finish, so that
//! neither the agent nor the collector ever holds a whole run: each part is a
//! v1 report of its own (its own id, its results, their summary), gzipped,
//! that the collector stores like any other.

use std::io;
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;
use time::OffsetDateTime;
use uuid::Uuid;
use v6audit_model::{PortalResult, Report, ReportWriter};

/// The most JSON a part holds before compression: half the collector's
/// default body limit (16 MiB, which it applies to a gzip body
/// decompressed too), so that a part is never refused for its size.
pub const PART_BYTES: u64 = 8 << 20;

/// The most results a part holds, so that one acknowledgement never waits on
/// a very long transaction.
pub const PART_RESULTS: usize = 1000;

/// One finished part: a gzipped v1 report.
#[derive(Debug)]
pub struct Part {
    /// The report's id (UUID v7), which also names its file in the spool.
    pub id: Uuid,
    /// How many results the report holds.
    pub results: usize,
    /// The report as gzip-compressed JSON, a push body.
    pub gzip: Vec<u8>,
}

/// Cuts results into parts as they come.
#[derive(Debug)]
pub struct Parts {
    head: Report,
    open: Option<(Uuid, ReportWriter<GzEncoder<Vec<u8>>>)>,
    started: Instant,
    made: usize,
    max_bytes: u64,
    max_results: usize,
}

impl Parts {
    /// Parts with the head of `head` (agent, pack, inventory); each part
    /// gets its own id and time.
    pub fn new(head: Report) -> Self {
        Self::with_limits(head, PART_BYTES, PART_RESULTS)
    }

    /// Parts of at most `max_bytes` of JSON and `max_results` results (a
    /// part always takes at least one result).
    pub fn with_limits(head: Report, max_bytes: u64, max_results: usize) -> Self {
        Self {
            head,
            open: None,
            started: Instant::now(),
            made: 0,
            max_bytes,
            max_results: max_results.max(1),
        }
    }

    /// Adds a result; the part it filled, when it did.
    pub fn add(&mut self, r: &PortalResult) -> io::Result<Option<Part>> {
        if self.open.is_none() {
            self.open = Some(self.start()?);
        }
        let full = match &mut self.open {
            Some((_, w)) => {
                w.add(r)?;
                w.bytes() >= self.max_bytes || w.results() >= self.max_results
            }
            None => false,
        };
        if full { self.close() } else { Ok(None) }
    }

    /// The last part: what came since the last one, or an empty report when
    /// the run had no result at all (so that the collector still hears from
    /// the agent).
    pub fn finish(mut self) -> io::Result<Option<Part>> {
        if self.open.is_none() && self.made == 0 {
            self.open = Some(self.start()?);
        }
        self.close()
    }

    /// Parts made so far.
    pub fn made(&self) -> usize {
        self.made
    }

    fn start(&self) -> io::Result<(Uuid, ReportWriter<GzEncoder<Vec<u8>>>)> {
        let mut head = self.head.clone();
        head.id = Uuid::now_v7();
        head.generated_at = OffsetDateTime::now_utc();
        let out = GzEncoder::new(Vec::new(), Compression::default());
        Ok((head.id, ReportWriter::start(out, &head)?))
    }

    fn close(&mut self) -> io::Result<Option<Part>> {
        let Some((id, w)) = self.open.take() else {
            return Ok(None);
        };
        let results = w.results();
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let gzip = w.finish(ms)?.finish()?;
        self.made += 1;
        Ok(Some(Part { id, results, gzip }))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn lab_report() -> Report {
        serde_json::from_str(include_str!("../../tests/fixtures/report-lab.json")).unwrap()
    }

    fn open(p: &Part) -> Report {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&p.gzip[..])
            .read_to_end(&mut json)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn results_are_cut_into_reports_that_hold_each_result_once() {
        let report = lab_report();
        let n = report.results.len();
        assert!(n >= 5, "{n}");
        let mut parts = Parts::with_limits(report.clone(), u64::MAX, 2);
        let mut made = Vec::new();
        for r in &report.results {
            made.extend(parts.add(r).unwrap());
        }
        made.extend(parts.finish().unwrap());
        assert_eq!(made.len(), n.div_ceil(2));
        let reports: Vec<Report> = made.iter().map(open).collect();
        let ids: Vec<_> = reports
            .iter()
            .flat_map(|r| &r.results)
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, report.results.iter().map(|r| r.id).collect::<Vec<_>>());
        for (p, r) in made.iter().zip(&reports) {
            // Each part is a report of its own, its summary of its results.
            assert_eq!(r.id, p.id);
            assert_eq!(r.results.len(), p.results);
            assert_eq!(r.summary.portals, r.results.len());
            assert_eq!(r.agent, report.agent);
            assert_eq!(r.rules, report.rules);
        }
        let distinct: std::collections::HashSet<_> = made.iter().map(|p| p.id).collect();
        assert_eq!(distinct.len(), made.len());
    }

    #[test]
    fn a_part_closes_at_its_byte_limit() {
        let report = lab_report();
        let mut parts = Parts::with_limits(report.clone(), 1, 1000);
        // Every result fills a part of one byte.
        for r in &report.results {
            let part = parts.add(r).unwrap().expect("one result fills the part");
            assert_eq!(part.results, 1);
        }
        assert!(parts.finish().unwrap().is_none(), "nothing left over");
    }

    #[test]
    fn a_run_without_results_still_makes_one_empty_report() {
        let parts = Parts::new(lab_report());
        let part = parts.finish().unwrap().unwrap();
        assert_eq!(part.results, 0);
        assert_eq!(open(&part).summary.portals, 0);
    }
}
