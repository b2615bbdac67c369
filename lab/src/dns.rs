//! The lab's authoritative DNS server (hickory-server) on `[::1]` and
//! `127.0.0.1`, one port for UDP and TCP on both, serving zones built in
//! memory. Tests use it for any zone layout they need (a `hanoi.gov.vn`
//! under `gov.vn`, say), always on loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use crate::LabError;

/// A zone being described.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: String,
    pub records: Vec<(String, RecordData)>,
}

/// The record types the lab publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ns(String),
    Mx(u16, String),
}

impl Zone {
    pub fn new(origin: &str) -> Zone {
        Zone {
            origin: origin.trim_end_matches('.').to_owned(),
            records: Vec::new(),
        }
    }

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

fn build(zone: &Zone, serial: u32) -> Result<Arc<InMemoryZoneHandler>, LabError> {
    let origin = name(&zone.origin)?;
    let mut handler: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
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
    if !handler.upsert_mut(Record::from_rdata(origin, 3600, RData::SOA(soa)), serial) {
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
        };
        if !handler.upsert_mut(Record::from_rdata(name(owner)?, 60, rdata), serial) {
            return Err(LabError::Dns(format!(
                "cannot add {owner} {data:?} to {}",
                zone.origin
            )));
        }
    }
    Ok(Arc::new(handler))
}

/// A running lab DNS server.
pub struct DnsServer {
    server: Server<Catalog>,
    pub port: u16,
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
    pub async fn start(zones: &[Zone]) -> Result<DnsServer, LabError> {
        let mut catalog = Catalog::new();
        for zone in zones {
            let handler: Arc<dyn ZoneHandler> = build(zone, 2_026_112_701)?;
            catalog.upsert(LowerName::from(name(&zone.origin)?), vec![handler]);
        }
        let (udp6, tcp6, udp4, tcp4, port) = bind_dns().await?;
        let mut server = Server::new(catalog);
        server.register_socket(udp6);
        server.register_socket(udp4);
        server.register_listener(tcp6, Duration::from_secs(5), 32);
        server.register_listener(tcp4, Duration::from_secs(5), 32);
        Ok(DnsServer { server, port })
    }

    /// The server's IPv6 address.
    pub fn addr_v6(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.port)
    }

    /// The server's IPv4 address.
    pub fn addr_v4(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }

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
