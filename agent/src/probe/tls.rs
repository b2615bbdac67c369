//! TLS probe: our own rustls handshake with one address, SNI set to the host.
//! The certificate verifier records the chain verdict (and why) without
//! aborting, so a wrong certificate still yields its facts and the page behind
//! it; the same connection then carries the first HTTP exchange.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use v6audit_model::{CertificateFacts, ChainStatus, ChainVerdict, TlsOutcome, TlsProbe};
use x509_parser::prelude::{GeneralName, parse_x509_certificate};

use crate::error::AgentError;

/// The provider with its TLS 1.3 suites offered in a browser's order:
/// Chrome and Firefox offer AES-128-GCM before AES-256-GCM, and a server that
/// follows the client's order (rustls and nginx do by default) then agrees
/// the suite a citizen's browser gets. It is also the cheaper handshake:
/// SHA-256 has instructions of its own on most CPUs, SHA-384 does not.
fn browser_order(mut provider: CryptoProvider) -> CryptoProvider {
    let rank = |s: &rustls::SupportedCipherSuite| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        _ => 2,
    };
    // Stable: everything but the two keeps rustls's order.
    provider.cipher_suites.sort_by_key(rank);
    provider
}

/// Trust anchors and the crypto provider, built once per run.
#[derive(Debug, Clone)]
pub struct TlsClient {
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
    verdicts: Arc<VerdictCache>,
}

impl TlsClient {
    /// Mozilla's roots (webpki-roots), plus every certificate in `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, AgentError> {
        let provider = Arc::new(browser_order(rustls::crypto::aws_lc_rs::default_provider()));
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = ca_file {
            let ca_err = |reason: String| AgentError::CaFile {
                path: path.to_owned(),
                reason,
            };
            // A regular file of bounded size: `--ca-file /dev/zero` once
            // tried to allocate 4 GiB.
            let pem = v6audit_model::input::read_bytes(path, v6audit_model::FileKind::CaFile)?;
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| ca_err(e.to_string()))?;
                roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
                added += 1;
            }
            if added == 0 {
                return Err(ca_err("no PEM certificate in the file".to_owned()));
            }
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| AgentError::Tls(Box::new(e)))?;
        Ok(Self {
            provider,
            webpki,
            verdicts: Arc::default(),
        })
    }

    /// A connector for one connection, and the slot its verifier records into.
    /// A fresh config per connection means no session resumption, so every
    /// handshake really verifies the certificate.
    fn connector(&self) -> Result<(TlsConnector, Recorded), String> {
        let recorded: Recorded = Arc::default();
        let verifier = Arc::new(RecordingVerifier {
            inner: self.webpki.clone(),
            verdicts: self.verdicts.clone(),
            recorded: recorded.clone(),
        });
        let mut cfg = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        cfg.resumption = rustls::client::Resumption::disabled();
        Ok((TlsConnector::from(Arc::new(cfg)), recorded))
    }

    /// Handshakes over `tcp` for `host`, by the deadline.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        deadline: tokio::time::Instant,
    ) -> (Option<TlsStream<TcpStream>>, TlsProbe) {
        let mut probe = TlsProbe {
            outcome: TlsOutcome::Error,
            error: None,
            ms: 0,
            version: None,
            cipher_suite: None,
            alpn: None,
            chain: None,
            certificate: None,
        };
        let (connector, recorded) = match self.connector() {
            Ok(c) => c,
            Err(e) => {
                probe.error = Some(e);
                return (None, probe);
            }
        };
        let name = match ServerName::try_from(host.to_owned()) {
            Ok(n) => n,
            Err(e) => {
                probe.error = Some(format!("`{host}` cannot be sent as SNI: {e}"));
                return (None, probe);
            }
        };
        let start = Instant::now();
        let result = tokio::time::timeout_at(deadline, connector.connect(name, tcp)).await;
        probe.ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        // What the verifier saw, even when the handshake failed afterwards.
        let seen = recorded.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(seen) = &seen {
            probe.chain = Some(seen.verdict.clone());
        }
        match result {
            Err(_) => {
                probe.outcome = TlsOutcome::Timeout;
                probe.error = Some("the server did not complete the handshake".to_owned());
                (None, probe)
            }
            Ok(Err(e)) => {
                let (outcome, reason) = classify_handshake_error(&e);
                probe.outcome = outcome;
                probe.error = Some(reason);
                (None, probe)
            }
            Ok(Ok(stream)) => {
                let (_, conn) = stream.get_ref();
                probe.outcome = TlsOutcome::Ok;
                probe.version = conn.protocol_version().map(version_name);
                probe.cipher_suite = conn.negotiated_cipher_suite().map(|s| {
                    s.suite()
                        .as_str()
                        .map_or_else(|| format!("{:?}", s.suite()), str::to_owned)
                });
                probe.alpn = conn
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                if let Some(certs) = conn.peer_certificates()
                    && let Some(leaf) = certs.first()
                {
                    probe.certificate = certificate_facts(leaf.as_ref(), certs.len());
                }
                (Some(stream), probe)
            }
        }
    }
}

fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".to_owned(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".to_owned(),
        other => format!("{other:?}"),
    }
}

/// What the verifier saw during one handshake.
#[derive(Debug, Clone)]
struct Seen {
    verdict: ChainVerdict,
}

type Recorded = Arc<Mutex<Option<Seen>>>;

/// Delegates to webpki, records its verdict, and lets the handshake go on.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    verdicts: Arc<VerdictCache>,
    recorded: Recorded,
}

impl RecordingVerifier {
    /// webpki's verdict on the chain for the name, and whether the name
    /// matches on its own (webpki reports only its first problem).
    fn judge_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> ChainVerdict {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let name_matches = rustls::server::ParsedCertificate::try_from(end_entity)
            .ok()
            .map(|parsed| rustls::client::verify_server_name(&parsed, server_name).is_ok());
        match result {
            Ok(_) => ChainVerdict {
                status: ChainStatus::Valid,
                reason: None,
                name_matches,
            },
            Err(e) => ChainVerdict {
                status: chain_status(&e),
                reason: Some(e.to_string()),
                name_matches,
            },
        }
    }
}

/// How long a chain verdict is reused: a certificate that expires meanwhile
/// is judged valid for at most this much longer.
const VERDICT_SECONDS: u64 = 60;

/// The most verdicts kept; past it the cache starts again, so that a run of
/// any size holds a bounded number.
const MAX_VERDICTS: usize = 4096;

/// Chain verdicts of one run, by [`chain_key`].
#[derive(Debug, Default)]
struct VerdictCache {
    map: Mutex<std::collections::HashMap<[u8; 32], ChainVerdict>>,
}

impl VerdictCache {
    fn get(&self, key: &[u8; 32]) -> Option<ChainVerdict> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn put(&self, key: [u8; 32], verdict: ChainVerdict) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_VERDICTS {
            map.clear();
        }
        map.insert(key, verdict);
    }
}

/// SHA-256 of everything a chain verdict depends on: every certificate's
/// bytes (each with its length, so no two chains read alike), the name, the
/// stapled OCSP response and the minute. The roots are the run's own.
fn chain_key(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp_response: &[u8],
    now: UnixTime,
) -> [u8; 32] {
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for cert in std::iter::once(end_entity).chain(intermediates) {
        h.update(&(cert.len() as u64).to_be_bytes());
        h.update(cert.as_ref());
    }
    let name = server_name.to_str();
    h.update(&(name.len() as u64).to_be_bytes());
    h.update(name.as_bytes());
    h.update(&(ocsp_response.len() as u64).to_be_bytes());
    h.update(ocsp_response);
    h.update(&(now.as_secs() / VERDICT_SECONDS).to_be_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(h.finish().as_ref());
    key
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The same chain for the same name within the same minute gets
        // the same verdict: a run that meets one certificate on many
        // addresses and portals checks it once.
        let key = chain_key(end_entity, intermediates, server_name, ocsp_response, now);
        let verdict = match self.verdicts.get(&key) {
            Some(v) => v,
            None => {
                let v =
                    self.judge_chain(end_entity, intermediates, server_name, ocsp_response, now);
                self.verdicts.put(key, v.clone());
                v
            }
        };
        *self.recorded.lock().unwrap_or_else(|p| p.into_inner()) = Some(Seen { verdict });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn chain_status(e: &rustls::Error) -> ChainStatus {
    match e {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                ChainStatus::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                ChainStatus::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ChainStatus::NameMismatch
            }
            CertificateError::UnknownIssuer => ChainStatus::UnknownIssuer,
            CertificateError::Revoked => ChainStatus::Revoked,
            _ => ChainStatus::Invalid,
        },
        _ => ChainStatus::Invalid,
    }
}

/// Maps a failed handshake to its outcome and a reason a person can act on.
fn classify_handshake_error(e: &std::io::Error) -> (TlsOutcome, String) {
    use rustls::{AlertDescription, PeerIncompatible};
    if let Some(te) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match te {
            rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)
            | rustls::Error::PeerIncompatible(
                PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
            ) => (
                TlsOutcome::ProtocolVersion,
                "the server offers only TLS 1.1 or older".to_owned(),
            ),
            rustls::Error::AlertReceived(alert) => (
                TlsOutcome::Alert,
                format!("the server sent the alert {alert:?}"),
            ),
            // Too large is TLS all right, just more than any client takes.
            rustls::Error::InvalidMessage(
                m @ (rustls::InvalidMessage::HandshakePayloadTooLarge
                | rustls::InvalidMessage::CertificatePayloadTooLarge
                | rustls::InvalidMessage::MessageTooLarge),
            ) => (
                TlsOutcome::Error,
                format!(
                    "the server sent a handshake message larger than a TLS client accepts ({m:?}): a certificate chain of megabytes?"
                ),
            ),
            // Records that are not TLS at all: most often plain HTTP.
            rustls::Error::InvalidMessage(
                m @ (rustls::InvalidMessage::InvalidContentType
                | rustls::InvalidMessage::UnknownProtocolVersion),
            ) => (
                TlsOutcome::Error,
                format!("the server did not speak TLS ({m:?}); is this port plain HTTP?"),
            ),
            rustls::Error::InvalidMessage(m) => (
                TlsOutcome::Error,
                format!("the server sent a malformed TLS message ({m:?})"),
            ),
            other => (TlsOutcome::Error, other.to_string()),
        };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => (
            TlsOutcome::Closed,
            "the server closed the connection during the handshake".to_owned(),
        ),
        _ => (TlsOutcome::Error, e.to_string()),
    }
}

/// Facts from the leaf certificate's DER.
pub fn certificate_facts(der: &[u8], chain_len: usize) -> Option<CertificateFacts> {
    let (_, cert) = parse_x509_certificate(der).ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => {
                        let mut b = [0u8; 4];
                        b.copy_from_slice(bytes);
                        sans.push(std::net::IpAddr::from(b).to_string());
                    }
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(bytes);
                        sans.push(std::net::IpAddr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let validity = cert.validity();
    Some(CertificateFacts {
        sha256: hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        chain_len,
    })
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod verdict_tests {
    use super::*;

    fn name(n: &str) -> ServerName<'static> {
        ServerName::try_from(n.to_owned()).unwrap()
    }

    #[test]
    fn a_verdict_is_reused_only_for_the_same_chain_name_and_minute() {
        let leaf = CertificateDer::from(vec![1u8, 2, 3]);
        let other = CertificateDer::from(vec![1u8, 2, 4]);
        let ca = CertificateDer::from(vec![9u8]);
        let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000));
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000 + 61));
        let key = chain_key(&leaf, std::slice::from_ref(&ca), &name("a.gov.vn"), b"", t);
        assert_eq!(
            key,
            chain_key(&leaf, std::slice::from_ref(&ca), &name("a.gov.vn"), b"", t)
        );
        assert_ne!(
            key,
            chain_key(&other, std::slice::from_ref(&ca), &name("a.gov.vn"), b"", t)
        );
        assert_ne!(
            key,
            chain_key(&leaf, std::slice::from_ref(&ca), &name("b.gov.vn"), b"", t)
        );
        assert_ne!(key, chain_key(&leaf, &[], &name("a.gov.vn"), b"", t));
        assert_ne!(
            key,
            chain_key(
                &leaf,
                std::slice::from_ref(&ca),
                &name("a.gov.vn"),
                b"",
                later
            )
        );
        // The bytes of a chain cannot be moved between its certificates.
        let joined = CertificateDer::from(vec![1u8, 2, 3, 9]);
        assert_ne!(key, chain_key(&joined, &[], &name("a.gov.vn"), b"", t));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerdictCache::default();
        let v = ChainVerdict {
            status: ChainStatus::Valid,
            reason: None,
            name_matches: Some(true),
        };
        for i in 0..(MAX_VERDICTS + 10) {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_be_bytes());
            cache.put(key, v.clone());
        }
        assert!(cache.map.lock().unwrap().len() <= MAX_VERDICTS);
        let mut last = [0u8; 32];
        last[..8].copy_from_slice(&((MAX_VERDICTS + 9) as u64).to_be_bytes());
        assert_eq!(cache.get(&last), Some(v));
    }

    #[test]
    fn the_agent_offers_aes_128_gcm_first_as_browsers_do() {
        let provider = browser_order(rustls::crypto::aws_lc_rs::default_provider());
        let suites: Vec<_> = provider.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            suites[..2],
            [
                rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
                rustls::CipherSuite::TLS13_AES_256_GCM_SHA384
            ]
        );
        // Nothing is dropped and the rest keep rustls's order.
        let default = rustls::crypto::aws_lc_rs::default_provider();
        let rest: Vec<_> = default
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .skip(2)
            .collect();
        assert_eq!(suites[2..], rest[..]);
    }
}
