//! The lab's certificates: one throw-away CA (written out as the CA file the
//! agent trusts with `--ca-file`) and the leaves the scenarios present: a good
//! one for every lab name, one for another name, and one that has expired;
//! each also in PEM, for real servers (nginx, postfix) in the tests.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::LabError;

/// Server configurations for each certificate the lab presents.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// A leaf for every lab name, valid from a day ago to 90 days ahead.
    pub good: Arc<ServerConfig>,
    /// A leaf for `portal.other.test` only (`v6-wrong-cert` over IPv6).
    pub wrong_name: Arc<ServerConfig>,
    /// A leaf for every lab name that expired two days ago (`v6-expired-cert` over IPv6).
    pub expired: Arc<ServerConfig>,
    /// The good and the wrong-name leaves as PEM files hold them.
    pub good_pem: LeafPem,
    /// The leaf for `portal.other.test` in PEM.
    pub wrong_name_pem: LeafPem,
}

/// A leaf certificate in PEM: the chain (leaf, then CA) and its key.
#[derive(Debug, Clone)]
pub struct LeafPem {
    /// The leaf, then the CA.
    pub chain: String,
    /// The leaf's private key (PKCS#8).
    pub key: String,
}

fn pki_err(e: impl std::fmt::Display) -> LabError {
    LabError::Pki(e.to_string())
}

impl Pki {
    /// A new CA and leaves. `names` are the DNS names of the good leaf.
    pub fn new(names: &[String]) -> Result<Self, LabError> {
        let now = OffsetDateTime::now_utc();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "v6audit lab CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "v6audit lab");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = now - Duration::days(1);
        ca_params.not_after = now + Duration::days(3650);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(pki_err)?)
            .map_err(pki_err)?;

        let leaf = |names: &[String],
                    not_before: OffsetDateTime,
                    not_after: OffsetDateTime|
         -> Result<(Arc<ServerConfig>, LeafPem), LabError> {
            let key = KeyPair::generate().map_err(pki_err)?;
            let mut p = CertificateParams::new(names.to_vec()).map_err(pki_err)?;
            p.distinguished_name.push(
                DnType::CommonName,
                names.first().map_or("lab", String::as_str),
            );
            p.is_ca = IsCa::NoCa;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.use_authority_key_identifier_extension = true;
            p.not_before = not_before;
            p.not_after = not_after;
            let cert = p.signed_by(&key, &ca).map_err(pki_err)?;
            let pem = LeafPem {
                chain: format!("{}{}", cert.pem(), ca.pem()),
                key: key.serialize_pem(),
            };
            let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca.der().clone()];
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
            Ok((server_config(chain, key)?, pem))
        };
        let (good, good_pem) = leaf(names, now - Duration::days(1), now + Duration::days(90))?;
        let (wrong_name, wrong_name_pem) = leaf(
            &["portal.other.test".to_owned()],
            now - Duration::days(1),
            now + Duration::days(90),
        )?;
        Ok(Self {
            good,
            wrong_name,
            expired: leaf(names, now - Duration::days(60), now - Duration::days(2))?.0,
            good_pem,
            wrong_name_pem,
            ca_pem: ca.pem(),
        })
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, LabError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(pki_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(pki_err)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
