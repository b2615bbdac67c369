//! The lab's authoritative DNS server (hickory-server) on `[::1]` and
//! `127.0.0.1`, one port for UDP and TCP on both, serving zones built in
//! memory, signed with DNSSEC when asked (each signed zone's DS published in
//! its parent, or a DS naming a key the zone does not have), and answered in
//! constant time per question at any zone size (`indexed.rs`). Tests use it
//! for any zone layout they need (a `hanoi.gov.vn` under `gov.vn`, say),
//! always on loopback.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_proto::dnssec::{
    Algorithm, DigestType, DnssecSigner, PublicKey as _, SigningKey as _, Verifier as _,
};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use rustls_pki_types::PrivatePkcs8KeyDer;
use tokio::net::{TcpListener, UdpSocket};

use crate::LabError;

mod indexed;
use indexed::IndexedZone;

/// A zone being described.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The zone's apex, without the final dot.
    pub origin: String,
    /// Its records, each under its owner name (without the final dot).
    pub records: Vec<(String, RecordData)>,
    /// Whether and how it is signed.
    pub signing: Signing,
}

/// Whether and how a zone is signed (DNSSEC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Not signed, and no DS in the parent.
    Unsigned,
    /// Signed, with its DS in the parent zone (when the lab serves the parent).
    Signed,
    /// Signed, but the parent's DS names another key (a key rolled without
    /// updating the parent): validating resolvers refuse the zone.
    BrokenDs,
}

/// The record types the lab publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// An alias: the name it stands for.
    Cname(String),
    /// A name server: at the apex, or at a child zone's delegation.
    Ns(String),
    /// A mail exchanger: its preference and host.
    Mx(u16, String),
    /// A child zone's DS, in its parent.
    Ds(DS),
}

impl Zone {
    /// An unsigned zone at `origin` (a final dot dropped), with no record yet.
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('.').to_owned(),
            records: Vec::new(),
            signing: Signing::Unsigned,
        }
    }

    /// The zone, signed as `signing` says.
    pub fn signed(mut self, signing: Signing) -> Self {
        self.signing = signing;
        self
    }

    /// Adds a record at `name` (a final dot dropped).
    pub fn add(&mut self, name: &str, data: RecordData) -> &mut Self {
        self.records
            .push((name.trim_end_matches('.').to_owned(), data));
        self
    }

    /// A name's A and AAAA on loopback.
    pub fn host(&mut self, name: &str, v4: bool, v6: Option<Ipv6Addr>) -> &mut Self {
        if v4 {
            self.add(name, RecordData::A(Ipv4Addr::LOCALHOST));
        }
        if let Some(v6) = v6 {
            self.add(name, RecordData::Aaaa(v6));
        }
        self
    }
}

fn name(s: &str) -> Result<Name, LabError> {
    let text = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&text).map_err(|e| LabError::Dns(format!("bad name `{s}`: {e}")))
}

fn build(zone: &Zone, serial: u32, key: Option<&ZoneKey>) -> Result<Arc<IndexedZone>, LabError> {
    let origin = name(&zone.origin)?;
    let nx = key.map(|_| NxProofKind::Nsec);
    let mut handler: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny, nx);
    let mname = zone
        .records
        .iter()
        .find_map(|(owner, d)| match d {
            RecordData::Ns(ns) if *owner == zone.origin => Some(ns.clone()),
            _ => None,
        })
        .unwrap_or_else(|| format!("ns1.{}", zone.origin));
    let soa = SOA::new(
        name(&mname)?,
        name(&format!("hostmaster.{}", zone.origin))?,
        serial,
        3600,
        600,
        86400,
        60,
    );
    if !handler.upsert_mut(
        Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)),
        serial,
    ) {
        return Err(LabError::Dns(format!(
            "cannot add the SOA of {}",
            zone.origin
        )));
    }
    for (owner, data) in &zone.records {
        let rdata = match data {
            RecordData::A(v4) => RData::A(A(*v4)),
            RecordData::Aaaa(v6) => RData::AAAA(AAAA(*v6)),
            RecordData::Cname(target) => RData::CNAME(CNAME(name(target)?)),
            RecordData::Ns(ns) => RData::NS(NS(name(ns)?)),
            RecordData::Mx(pref, host) => RData::MX(MX::new(*pref, name(host)?)),
            RecordData::Ds(ds) => RData::DNSSEC(DNSSECRData::DS(ds.clone())),
        };
        if !handler.upsert_mut(Record::from_rdata(name(owner)?, 60, rdata), serial) {
            return Err(LabError::Dns(format!(
                "cannot add {owner} {data:?} to {}",
                zone.origin
            )));
        }
    }
    if let Some(key) = key {
        let dnssec = |e: hickory_proto::dnssec::DnsSecError| {
            LabError::Dns(format!("cannot sign {}: {e}", zone.origin))
        };
        handler
            .add_zone_signing_key_mut(key.signer(&origin)?)
            .map_err(dnssec)?;
        handler.secure_zone_mut().map_err(dnssec)?;
    }
    Ok(Arc::new(IndexedZone::new(handler)))
}

/// A zone's signing key (one combined key, ECDSA P-256: flags 257).
pub struct ZoneKey {
    pkcs8: Vec<u8>,
    /// The public key, as the zone's DNSKEY publishes it.
    pub dnskey: DNSKEY,
}

impl std::fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneKey")
            .field("dnskey", &self.dnskey)
            .finish_non_exhaustive()
    }
}

impl ZoneKey {
    /// A new ECDSA P-256 key.
    pub fn generate() -> Result<Self, LabError> {
        let err = |e: hickory_proto::dnssec::DnsSecError| LabError::Dns(format!("key: {e}"));
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(err)?;
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256).map_err(err)?;
        let dnskey = DNSKEY::from_key(&key.to_public_key().map_err(err)?);
        Ok(Self {
            pkcs8: pkcs8.secret_pkcs8_der().to_vec(),
            dnskey,
        })
    }

    fn signer(&self, origin: &Name) -> Result<DnssecSigner, LabError> {
        let err = |e: hickory_proto::dnssec::DnsSecError| LabError::Dns(format!("key: {e}"));
        let der = PrivatePkcs8KeyDer::from(self.pkcs8.clone());
        let key = EcdsaSigningKey::from_pkcs8(&der, Algorithm::ECDSAP256SHA256).map_err(err)?;
        Ok(DnssecSigner::new(
            self.dnskey.clone(),
            Box::new(key),
            origin.clone(),
            Duration::from_secs(30 * 86_400),
        ))
    }

    /// The DS a parent publishes for this key.
    pub fn ds(&self, owner: &str) -> Result<DS, LabError> {
        let owner = name(owner)?;
        let tag = self
            .dnskey
            .calculate_key_tag()
            .map_err(|e| LabError::Dns(e.to_string()))?;
        let digest = self
            .dnskey
            .to_digest(&owner, DigestType::SHA256)
            .map_err(|e| LabError::Dns(e.to_string()))?;
        Ok(DS::new(
            tag,
            self.dnskey.algorithm(),
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        ))
    }
}

/// A zone's key as a trust anchor line (`<zone>. 3600 IN DNSKEY 257 3 13 <key>`).
pub fn anchor_line(zone: &str, key: &DNSKEY) -> String {
    use base64::Engine as _;
    format!(
        "{}. 3600 IN DNSKEY {} 3 {} {}",
        zone.trim_end_matches('.'),
        key.flags(),
        u8::from(key.algorithm()),
        base64::engine::general_purpose::STANDARD.encode(key.public_key().public_bytes())
    )
}

/// Answers DS questions from the parent zone, as the DNS does (RFC 4034
/// 5: the DS lives at the parent's side of the cut): every other question
/// goes to the closest zone.
struct LabHandler {
    all: Catalog,
    /// For each zone whose parent the lab also serves: every zone but it,
    /// so its DS comes from the closest enclosing zone, however deep.
    without: HashMap<LowerName, Catalog>,
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let parent_side = request
            .request_info()
            .ok()
            .filter(|i| i.query.query_type() == RecordType::DS)
            .and_then(|i| self.without.get(i.query.name()));
        if let Some(catalog) = parent_side {
            catalog
                .handle_request::<R, T>(request, response_handle)
                .await
        } else {
            self.all
                .handle_request::<R, T>(request, response_handle)
                .await
        }
    }
}

/// A running lab DNS server.
pub struct DnsServer {
    server: Server<LabHandler>,
    /// The port, UDP and TCP, on `[::1]` and `127.0.0.1`.
    pub port: u16,
    /// Each signed zone's key, by zone.
    pub keys: Vec<(String, DNSKEY)>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Serves the zones on `[::1]:port` and `127.0.0.1:port` (UDP and TCP).
    /// A signed zone whose parent is also served gets its DS (or, for
    /// [`Signing::BrokenDs`], a DS of a key it does not have) in the parent.
    pub async fn start(zones: &[Zone]) -> Result<Self, LabError> {
        let mut zones: Vec<Zone> = zones.to_vec();
        let parent_of = |child: &str, zones: &[Zone]| {
            zones
                .iter()
                .filter(|z| child.ends_with(&format!(".{}", z.origin)))
                .max_by_key(|z| z.origin.len())
                .map(|z| z.origin.clone())
        };
        let mut keys: Vec<Option<ZoneKey>> = Vec::with_capacity(zones.len());
        for zone in &zones {
            keys.push(match zone.signing {
                Signing::Unsigned => None,
                Signing::Signed | Signing::BrokenDs => Some(ZoneKey::generate()?),
            });
        }
        // Every child the lab serves is delegated from its parent (NS), and
        // a signed one has its DS there too.
        for i in 0..zones.len() {
            let child = zones[i].origin.clone();
            let Some(parent) = parent_of(&child, &zones) else {
                continue;
            };
            let ds = match (&keys[i], zones[i].signing) {
                (None, _) => None,
                (Some(_), Signing::BrokenDs) => Some(ZoneKey::generate()?.ds(&child)?),
                (Some(key), _) => Some(key.ds(&child)?),
            };
            let delegation: Vec<String> = zones[i]
                .records
                .iter()
                .filter_map(|(owner, d)| match d {
                    RecordData::Ns(ns) if *owner == child => Some(ns.clone()),
                    _ => None,
                })
                .collect();
            if let Some(p) = zones.iter_mut().find(|z| z.origin == parent) {
                for ns in delegation {
                    p.add(&child, RecordData::Ns(ns));
                }
                if let Some(ds) = ds {
                    p.add(&child, RecordData::Ds(ds));
                }
            }
        }
        let mut handlers: Vec<(LowerName, Arc<dyn ZoneHandler>, bool)> = Vec::new();
        for (zone, key) in zones.iter().zip(&keys) {
            let handler: Arc<dyn ZoneHandler> = build(zone, 2_026_112_701, key.as_ref())?;
            let has_parent = parent_of(&zone.origin, &zones).is_some();
            handlers.push((LowerName::from(name(&zone.origin)?), handler, has_parent));
        }
        let catalog = |skip: Option<&LowerName>| {
            let mut c = Catalog::new();
            for (origin, handler, _) in &handlers {
                if Some(origin) != skip {
                    c.upsert(origin.clone(), vec![handler.clone()]);
                }
            }
            c
        };
        let all = catalog(None);
        let without = handlers
            .iter()
            .filter(|(_, _, has_parent)| *has_parent)
            .map(|(origin, _, _)| (origin.clone(), catalog(Some(origin))))
            .collect();
        let keys = zones
            .iter()
            .zip(keys)
            .filter_map(|(z, k)| k.map(|k| (z.origin.clone(), k.dnskey)))
            .collect();
        let (udp6, tcp6, udp4, tcp4, port) = bind_dns().await?;
        let mut server = Server::new(LabHandler { all, without });
        server.register_socket(udp6);
        server.register_socket(udp4);
        server.register_listener(tcp6, Duration::from_secs(5), 32);
        server.register_listener(tcp4, Duration::from_secs(5), 32);
        Ok(Self { server, port, keys })
    }

    /// The server's IPv6 address.
    pub fn addr_v6(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.port)
    }

    /// The server's IPv4 address.
    pub fn addr_v4(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }

    /// Stops the server, letting the answers in flight finish.
    pub async fn shutdown(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

/// One port for UDP and TCP on both loopback addresses.
async fn bind_dns() -> Result<(UdpSocket, TcpListener, UdpSocket, TcpListener, u16), LabError> {
    let mut last = String::new();
    for _ in 0..50 {
        let udp6 = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0))
            .await
            .map_err(|e| LabError::Bind(format!("UDP [::1]: {e}")))?;
        let port = udp6
            .local_addr()
            .map_err(|e| LabError::Bind(e.to_string()))?
            .port();
        let rest = async {
            let tcp6 = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await?;
            let udp4 = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).await?;
            let tcp4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
            Ok::<_, std::io::Error>((tcp6, udp4, tcp4))
        };
        match rest.await {
            Ok((tcp6, udp4, tcp4)) => return Ok((udp6, tcp6, udp4, tcp4, port)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(LabError::Bind(format!(
        "no free DNS port on loopback: {last}"
    )))
}
