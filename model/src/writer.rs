//! A v1 report written as its results pass: the head, each result as it
//! finishes, then the summary counted on the way. What a streamed run uses
//! for JSON it sends or spools, so that it never holds its results.

use std::io::{self, Write};

use crate::PortalResult;
use crate::report::{Report, Tally};

/// Writes one v1 report to `W` a result at a time. The bytes are those of
/// `serde_json::to_writer(&report)` for the same report: the fields in
/// their declared order, compact.
#[derive(Debug)]
pub struct ReportWriter<W: Write> {
    out: Counted<W>,
    tally: Tally,
}

impl<W: Write> ReportWriter<W> {
    /// Writes the head of `head` (its `results` and `summary` are not
    /// written: the results come through [`ReportWriter::add`] and the
    /// summary is counted from them).
    pub fn start(out: W, head: &Report) -> io::Result<Self> {
        let mut out = Counted {
            inner: out,
            bytes: 0,
        };
        out.write_all(b"{\"schema\":")?;
        serde_json::to_writer(&mut out, &head.schema)?;
        out.write_all(b",\"id\":")?;
        serde_json::to_writer(&mut out, &head.id)?;
        out.write_all(b",\"generated_at\":")?;
        let at = head
            .generated_at
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(io::Error::other)?;
        serde_json::to_writer(&mut out, &at)?;
        out.write_all(b",\"agent\":")?;
        serde_json::to_writer(&mut out, &head.agent)?;
        if let Some(inventory) = &head.inventory {
            out.write_all(b",\"inventory\":")?;
            serde_json::to_writer(&mut out, inventory)?;
        }
        out.write_all(b",\"rules\":")?;
        serde_json::to_writer(&mut out, &head.rules)?;
        out.write_all(b",\"results\":[")?;
        Ok(Self {
            out,
            tally: Tally::default(),
        })
    }

    /// Writes one result and counts it.
    pub fn add(&mut self, r: &PortalResult) -> io::Result<()> {
        if self.tally.portals() > 0 {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.out, r)?;
        self.tally.add(r);
        Ok(())
    }

    /// Results written so far.
    pub fn results(&self) -> usize {
        self.tally.portals()
    }

    /// Bytes written so far (before any compression `W` does).
    pub fn bytes(&self) -> u64 {
        self.out.bytes
    }

    /// Writes the summary of the results written, for a run that took
    /// `duration_ms`, and closes the report.
    pub fn finish(mut self, duration_ms: u64) -> io::Result<W> {
        self.out.write_all(b"],\"summary\":")?;
        serde_json::to_writer(&mut self.out, &self.tally.summary(duration_ms))?;
        self.out.write_all(b"}")?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

/// A writer that counts what passes through it.
#[derive(Debug)]
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real report of the lab, as the agent's tests keep it.
    fn lab_report() -> Report {
        serde_json::from_str(include_str!("../../agent/tests/fixtures/report-lab.json")).unwrap()
    }

    #[test]
    fn a_report_written_result_by_result_is_the_report_serde_writes() {
        let report = lab_report();
        assert!(report.results.len() > 1);
        let mut w = ReportWriter::start(Vec::new(), &report).unwrap();
        for r in &report.results {
            w.add(r).unwrap();
        }
        assert_eq!(w.results(), report.results.len());
        let bytes = w.finish(report.summary.duration_ms).unwrap();
        let mut want = report.clone();
        want.summary = crate::Summary::of(&report.results, report.summary.duration_ms);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
    }

    #[test]
    fn a_report_of_no_results_is_valid_json_with_an_empty_summary() {
        let mut head = lab_report();
        head.inventory = None;
        let bytes = ReportWriter::start(Vec::new(), &head)
            .unwrap()
            .finish(0)
            .unwrap();
        let back: Report = serde_json::from_slice(&bytes).unwrap();
        assert!(back.results.is_empty());
        assert_eq!(back.summary.portals, 0);
        assert_eq!(back.inventory, None);
    }
}
