//! The agent's error type: what can stop an audit from starting. Once an audit
//! runs, failures are facts in the Observation, never errors.

use std::path::PathBuf;

/// A library's own error, kept as the source (its chain intact) whatever
/// its type.
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// What stops an audit from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The system resolver configuration could not be read.
    #[error(
        "cannot read the system resolver configuration (/etc/resolv.conf): {0}; pass --resolver IP:PORT"
    )]
    SystemResolver(#[source] Source),
    /// The resolver could not be built.
    #[error("cannot set up the DNS resolver {resolver}: {source}")]
    Resolver {
        /// The resolver: `system`, or its address.
        resolver: String,
        /// hickory's error.
        #[source]
        source: Source,
    },
    /// The `--ca-file` holds no certificate, or one that cannot be used.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The CA file, as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file given by the user could not be read: missing, not a regular
    /// file (`/dev/zero`, a FIFO), too large.
    #[error(transparent)]
    Read(#[from] v6audit_model::ReadError),
    /// The TLS configuration could not be built.
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] Source),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}
