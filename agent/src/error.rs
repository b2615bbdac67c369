//! The agent's error type: what can stop an audit from starting. Once an audit
//! runs, failures are facts in the Observation, never errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The system resolver configuration could not be read.
    #[error(
        "cannot read the system resolver configuration (/etc/resolv.conf): {0}; pass --resolver IP:PORT"
    )]
    SystemResolver(String),
    /// The resolver could not be built.
    #[error("cannot set up the DNS resolver {resolver}: {reason}")]
    Resolver { resolver: String, reason: String },
    /// The `--ca-file` could not be read or holds no certificate.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    /// The TLS configuration could not be built.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
