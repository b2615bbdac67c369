//! The on-disk spool of reports not yet acknowledged by the collector: one
//! gzip file per report, named by its UUID v7 so names sort by time, written
//! atomically (temporary file, fsync, rename, fsync of the directory). It is
//! bounded: past its size the oldest reports are dropped, and counted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A spool directory, and the most bytes of reports it keeps.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
}

const DROPPED: &str = "dropped.count";
const REFUSED_DIR: &str = "refused";

impl Spool {
    /// Opens (creating) a spool directory holding at most `max_bytes` of reports.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sync_dir(&self) -> io::Result<()> {
        fs::File::open(&self.dir)?.sync_all()
    }

    /// Stores a report durably, then drops the oldest while over the bound.
    pub fn put(&self, report_id: &str, body: &[u8]) -> io::Result<()> {
        let name = format!("{report_id}.json.gz");
        let tmp = self.dir.join(format!(".{name}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(body)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(&name))?;
        self.sync_dir()?;
        self.enforce_bound(&name)
    }

    fn enforce_bound(&self, keep: &str) -> io::Result<()> {
        let mut files = self.pending()?;
        let mut total: u64 = files
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let mut dropped = 0;
        files.retain(|p| p.file_name().is_some_and(|n| n != keep));
        for oldest in files {
            if total <= self.max_bytes {
                break;
            }
            let len = fs::metadata(&oldest).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&oldest)?;
            total = total.saturating_sub(len);
            dropped += 1;
        }
        if dropped > 0 {
            tracing::warn!(dropped, "spool full: the oldest reports were dropped");
            self.add_dropped(dropped)?;
        }
        Ok(())
    }

    /// Reports waiting, oldest first.
    pub fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Forgets a report the collector acknowledged.
    pub fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)?;
        self.sync_dir()
    }

    /// Sets aside a report the collector refused, for an operator to inspect.
    pub fn set_aside(&self, path: &Path) -> io::Result<PathBuf> {
        let dir = self.dir.join(REFUSED_DIR);
        fs::create_dir_all(&dir)?;
        let to = dir.join(path.file_name().unwrap_or_default());
        fs::rename(path, &to)?;
        self.sync_dir()?;
        Ok(to)
    }

    /// Reports dropped because the spool was full, since it was created.
    pub fn dropped(&self) -> u64 {
        fs::read_to_string(self.dir.join(DROPPED))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn add_dropped(&self, n: u64) -> io::Result<()> {
        let total = self.dropped() + n;
        fs::write(self.dir.join(DROPPED), format!("{total}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_come_back_in_order_and_the_oldest_are_dropped_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 250).unwrap();
        for id in ["0193-a", "0193-b", "0193-c"] {
            spool.put(id, &[0u8; 100]).unwrap();
        }
        // 300 bytes > 250: the oldest went.
        let names: Vec<String> = spool
            .pending()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["0193-b.json.gz", "0193-c.json.gz"]);
        assert_eq!(spool.dropped(), 1);
        // A spool reopened after a restart sees the same reports.
        let again = Spool::open(dir.path(), 250).unwrap();
        assert_eq!(again.pending().unwrap().len(), 2);
        again.remove(&again.pending().unwrap()[0]).unwrap();
        assert_eq!(again.pending().unwrap().len(), 1);
        let aside = again.set_aside(&again.pending().unwrap()[0]).unwrap();
        assert!(aside.exists());
        assert!(again.pending().unwrap().is_empty());
    }
}
