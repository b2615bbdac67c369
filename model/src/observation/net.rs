//! The network facts: TCP connects (one per address and port, carrying the
//! TLS handshake and the first HTTP exchange), the latency series per
//! family, and ICMPv6 echo.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Family, HttpExchange, TlsProbe};

/// How a TCP connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpOutcome {
    /// The TCP handshake completed.
    Connected,
    /// Refused (a reset came back): nothing listens on the port, or a firewall rejects.
    Refused,
    /// No answer to the SYN within the timeout.
    Timeout,
    /// Host or network unreachable (an ICMP error came back).
    Unreachable,
    /// The agent has no route to this address.
    NoRoute,
    /// This vantage cannot send traffic of this family, so nothing was tried.
    NoVantage,
    /// Any other failure; see the error.
    Error,
    /// Not tried, because the portal's budget ran out first.
    NotTried,
    /// The agent itself could not open a socket (too many open files, say):
    /// says nothing about the portal.
    LocalError,
    /// Deliberately not connected to: the address is not one the portal
    /// can be reached at over this family (an IPv4-mapped address in an
    /// AAAA record), or not one the agent may contact; the error says which.
    NotContacted,
}

/// One address and port of the portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The family the address is reached over ([`Family::of`]).
    pub family: Family,
    /// The portal's address, from its A or AAAA record.
    pub addr: IpAddr,
    /// The port, one of the portal's `ports`.
    pub port: u16,
    /// Whether the port is probed with TLS.
    pub tls_port: bool,
    /// The TCP connect.
    pub tcp: TcpProbe,
    /// The TLS handshake, on a TLS port once TCP connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsProbe>,
    /// The first HTTP exchange, sent over this same connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpExchange>,
    /// The attempts before the one recorded above that failed in a way a
    /// lost packet can cause (a timeout, a reset, a connection closed during
    /// the handshake or before a response), oldest first. The fields above
    /// are the last attempt's. Empty when the first attempt was judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<EndpointAttempt>,
}

/// One earlier attempt at an endpoint: how far it got and how it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointAttempt {
    /// The attempt's TCP connect.
    pub tcp: TcpProbe,
    /// Its TLS handshake, when it got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsProbe>,
    /// Its HTTP exchange, when it got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpExchange>,
}

impl Endpoint {
    /// How many times this endpoint was tried.
    pub fn attempts(&self) -> usize {
        self.failed_attempts.len() + 1
    }
}

/// One TCP connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpProbe {
    /// How the connect ended.
    pub outcome: TcpOutcome,
    /// Connect time, or the time until the failure.
    pub ms: u64,
    /// Why it failed or was not tried, in the system's or the agent's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Connect times to one address and port, one attempt after another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyProbe {
    /// The address connected to.
    pub addr: IpAddr,
    /// The port connected to: the URL's.
    pub port: u16,
    /// Each attempt; the series stops at the first one that does not connect.
    pub attempts: Vec<TcpProbe>,
}

impl LatencyProbe {
    /// The median connect time of the attempts that connected, when all did.
    pub fn median_ms(&self) -> Option<u64> {
        if self.attempts.is_empty()
            || self
                .attempts
                .iter()
                .any(|a| a.outcome != TcpOutcome::Connected)
        {
            return None;
        }
        let mut ms: Vec<u64> = self.attempts.iter().map(|a| a.ms).collect();
        ms.sort_unstable();
        Some(ms[ms.len() / 2])
    }

    /// The attempt that failed, when one did.
    pub fn failure(&self) -> Option<&TcpProbe> {
        self.attempts
            .iter()
            .find(|a| a.outcome != TcpOutcome::Connected)
    }
}

/// How an ICMPv6 echo to one address ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoOutcome {
    /// An echo reply came back.
    Reply,
    /// No reply to any request within the timeout.
    NoReply,
    /// The agent may not send ICMPv6: no raw socket (root or CAP_NET_RAW)
    /// and no ping socket (net.ipv4.ping_group_range).
    NoPermission,
    /// This vantage has no IPv6.
    NoVantage,
    /// Any other failure to send; see the error.
    Error,
}

/// How the agent sent ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoSocket {
    /// A raw ICMPv6 socket (root or CAP_NET_RAW).
    Raw,
    /// An unprivileged ICMP datagram ("ping") socket.
    Datagram,
}

/// ICMPv6 echo to one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoProbe {
    /// The AAAA address the requests went to.
    pub addr: IpAddr,
    /// How the echo ended.
    pub outcome: EchoOutcome,
    /// Echo requests sent.
    pub sent: u32,
    /// Round-trip time of the first reply, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The hop limit the reply arrived with (its sender's initial value,
    /// often 64 or 255, less the hops on the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_limit: Option<u8>,
    /// The socket the requests went out on, when one could be opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<EchoSocket>,
    /// Why sending failed, in the system's words; or, with `no_reply`,
    /// why no reply came, such as a Destination Unreachable that answered
    /// instead of the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `error` in the pack's words, when the agent has them (a refusal:
    /// `echo.unreachable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::Why>,
}
