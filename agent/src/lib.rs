//! The v6audit agent: probes (DNS, TCP, TLS, HTTP, SMTP, ICMPv6), the audit
//! runner that turns an inventory into observations and verdicts, and the
//! daemon that schedules, spools and pushes them. What it writes for people
//! and CI (the output formats, the policy of `check`) is in `v6audit-report`.
//! It depends on the model and the rules, never on the collector.

#![warn(missing_docs)]

pub mod anchor;
pub mod daemon;
pub mod error;
pub mod limits;
pub mod net;
pub mod page_text;
pub mod probe;
pub mod resolver;
pub mod runner;
pub mod selfcheck;
pub mod settings;

pub use error::AgentError;
pub use runner::{Auditor, Event, Portals, Streamed};
pub use settings::{ResolverChoice, Settings};
