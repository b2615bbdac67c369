//! The mail facts: an SMTP session with each mail server address.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Family;

/// How an SMTP session with one mail server address ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpOutcome {
    /// A 220 greeting and a 250 answer to EHLO.
    Ok,
    /// Connected, but no 220 greeting (or an error code) within the timeout.
    NoGreeting,
    /// The greeting came, but EHLO was not answered with 250.
    EhloRefused,
    /// The TCP connect was refused.
    Refused,
    /// No connect, greeting or EHLO answer within the timeout.
    Timeout,
    /// Host or network unreachable, or no route to the address.
    Unreachable,
    /// This vantage cannot send traffic of this family, so nothing was tried.
    NoVantage,
    /// Any other failure (not contacted, the portal's budget spent); see the error.
    Error,
}

/// One SMTP session: connect, read the greeting, EHLO, QUIT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpProbe {
    /// The mail exchanger's name.
    pub host: String,
    /// The family of the address.
    pub family: Family,
    /// The mail server address connected to.
    pub addr: IpAddr,
    /// The port: 25, or `--smtp-port`.
    pub port: u16,
    /// How the session ended.
    pub outcome: SmtpOutcome,
    /// The greeting's first line, cut at 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// The host name the greeting names (its first word after 220).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner_host: Option<String>,
    /// Whether EHLO offered STARTTLS.
    #[serde(default)]
    pub starttls: bool,
    /// The session's length from connect to QUIT, in ms; the connect time when it failed.
    pub ms: u64,
    /// Why the session failed, in the agent's or the system's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
