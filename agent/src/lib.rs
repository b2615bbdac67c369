//! The v6audit agent: probes (DNS, TCP, TLS, HTTP), the audit runner that
//! turns an inventory into observations and verdicts, and the output formats.
//! It depends on the model and the rules, never on the collector.

pub mod anchor;
pub mod daemon;
pub mod error;
pub mod limits;
pub mod net;
pub mod output;
pub mod policy;
pub mod probe;
pub mod push;
pub mod resolver;
pub mod runner;
pub mod schedule;
pub mod selfcheck;
pub mod settings;
pub mod spool;
pub mod text;

pub use error::AgentError;
pub use runner::{Auditor, Event};
pub use settings::{ResolverChoice, Settings};
