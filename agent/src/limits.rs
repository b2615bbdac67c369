//! The agent's own limits: the soft file-descriptor limit raised to the hard
//! one at start-up (as Go's runtime does), and the number of portals in
//! flight that fits in it, so one portal with many addresses cannot starve
//! the others of sockets.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// File descriptors a portal in flight holds at most at once in the common
/// case: one per address and port probed together (two ports, a few
/// addresses per family), the latency connects, DNS and SMTP sockets.
pub const FDS_PER_PORTAL: u64 = 16;
/// Descriptors kept for everything else (the resolver, the output, the TUI,
/// the collector connection).
pub const RESERVED_FDS: u64 = 64;
/// The highest soft limit asked for when the hard limit is "unlimited"
/// (Linux refuses more than `fs.nr_open`, 1,048,576 by default).
const MAX_SOFT: u64 = 1 << 20;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft
/// limit now in force (`None` when it cannot be read).
pub fn raise_nofile() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let want = hard.min(MAX_SOFT);
    if soft < want && setrlimit(Resource::RLIMIT_NOFILE, want, hard).is_ok() {
        return Some(want);
    }
    Some(soft)
}

/// How many portals may be in flight with `nofile` descriptors.
pub fn concurrency_for(nofile: u64) -> usize {
    let n = nofile.saturating_sub(RESERVED_FDS) / FDS_PER_PORTAL;
    usize::try_from(n.max(1)).unwrap_or(usize::MAX)
}

/// `wanted`, lowered to what the descriptor limit allows; the second value
/// says it was lowered (and the limit), for a warning.
pub fn fit_concurrency(wanted: usize) -> (usize, Option<u64>) {
    match raise_nofile() {
        Some(limit) if concurrency_for(limit) < wanted => (concurrency_for(limit), Some(limit)),
        _ => (wanted, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_fits_in_the_descriptor_limit() {
        assert_eq!(concurrency_for(1024), 60);
        assert_eq!(concurrency_for(10), 1);
        assert!(concurrency_for(1 << 20) > 4096);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let now = raise_nofile().unwrap();
        assert_eq!(now, hard.min(MAX_SOFT));
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap().0, now);
    }
}
