//! The TLS facts: our own handshake with one address, the verdict on the
//! chain the server presented, and what its leaf certificate says.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How a TLS handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsOutcome {
    /// The handshake completed (the chain verdict is recorded separately).
    Ok,
    /// The server did not complete the handshake within the timeout.
    Timeout,
    /// The server sent a TLS alert.
    Alert,
    /// No protocol version in common (the server speaks only TLS 1.1 or older, say).
    ProtocolVersion,
    /// The server closed the connection during the handshake.
    Closed,
    /// Any other failure; see the error text.
    Error,
}

/// The result of validating the certificate chain the server presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainStatus {
    /// The chain leads to a trusted root, is in date and fits the host name.
    Valid,
    /// A certificate of the chain has expired.
    Expired,
    /// A certificate of the chain is not valid yet.
    NotYetValid,
    /// The leaf is not valid for the host name.
    NameMismatch,
    /// The chain does not lead to a trusted root (the Mozilla roots, and `--ca-file`).
    UnknownIssuer,
    /// A certificate of the chain is revoked.
    Revoked,
    /// Any other reason the chain was rejected; see the reason text.
    Invalid,
}

/// Our own TLS handshake with one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsProbe {
    /// How the handshake ended.
    pub outcome: TlsOutcome,
    /// Why it failed, in the TLS library's or the agent's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Handshake time, or the time until the failure, in ms.
    pub ms: u64,
    /// `TLSv1.2` or `TLSv1.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The cipher suite agreed, as rustls names it (`TLS13_AES_256_GCM_SHA384`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The protocol agreed by ALPN; the agent offers only `http/1.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The chain verdict, when the server presented certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainVerdict>,
    /// The leaf certificate, when the server presented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateFacts>,
}

/// The verifier's verdict on the chain the server presented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainVerdict {
    /// Valid, or the first problem the verifier found.
    pub status: ChainStatus,
    /// Why the chain was rejected, in the verifier's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the leaf is valid for the host name, checked on its own: the
    /// verifier reports only its first problem, so an expired certificate for
    /// the wrong name would otherwise show only "expired".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_matches: Option<bool>,
}

/// Facts read from the leaf certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// SHA-256 of the leaf certificate's DER, lower-case hex.
    pub sha256: String,
    /// The subject's distinguished name (`CN=dichvucong.gov.vn`).
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses the certificate is valid for.
    pub sans: Vec<String>,
    /// The start of the validity period (RFC 3339 on the wire).
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// The end of the validity period (RFC 3339 on the wire).
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Number of certificates the server sent, leaf included.
    pub chain_len: usize,
}
