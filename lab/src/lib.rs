//! The lab: a simulated fleet of portals on loopback for tests, benchmarks
//! and the demo. An authoritative DNS server, dual-stack HTTP and TLS
//! listeners with chosen faults, a throw-away CA, and the matching inventory,
//! CA file and rule pack written out. Nothing here reaches beyond loopback.

#![warn(missing_docs)]

pub mod dns;
pub mod mail;
pub mod pki;
pub mod scenario;
pub mod web;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use v6audit_model::{Category, Family};

pub use dns::{DnsServer, RecordData, Signing, Zone};
pub use scenario::{Mix, Scenario};

/// The lab's zones, under the reserved `.test` TLD (RFC 6761).
pub const ZONE: &str = "lab.test";
/// An unsigned zone whose name servers have no AAAA (`ns-v4-only`).
pub const ZONE_V4NS: &str = "v4ns.lab.test";
/// A signed zone whose mail exchanger has no AAAA (`mail-v4-only`).
pub const ZONE_MAILV4: &str = "mailv4.lab.test";
/// A signed zone whose DS in lab.test names a key it does not have.
pub const ZONE_BADDS: &str = "badds.lab.test";
const V4_ONLY_TARGET: &str = "sso-v4only.lab.test";
pub(crate) const CNAME_EDGE: &str = "edge.lab.test";
/// A name whose aliases go round in a circle (loop-a → loop-b → loop-a),
/// not in any inventory: tests audit it as a `--target`.
pub const CNAME_LOOP: &str = "loop-a.lab.test";
/// The mail server of the lab's main zone.
const MAIL_HOST: &str = "mail.lab.test";

/// Agencies the lab's portals are spread over.
const AGENCIES: [&str; 4] = [
    "Bộ Thí nghiệm (Lab Ministry)",
    "Sở Mô phỏng Hà Nội",
    "Tổng cục Kiểm thử",
    "UBND tỉnh Loopback",
];

/// Why the lab could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A socket could not be bound on loopback.
    #[error("cannot bind a lab socket: {0}")]
    Bind(String),
    /// A zone could not be built or signed.
    #[error("lab DNS: {0}")]
    Dns(String),
    /// The CA or a leaf certificate could not be made.
    #[error("lab certificates: {0}")]
    Pki(String),
    /// A lab file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file, or the directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// How many portals to simulate.
    pub portals: usize,
    /// Which scenario each portal gets.
    pub mix: Mix,
    /// Where the inventory, CA and pack are written.
    pub dir: PathBuf,
}

/// One simulated portal.
#[derive(Debug, Clone)]
pub struct LabPortal {
    /// Its id in the inventory: the scenario's name and a number from 1 (`good-0001`).
    pub id: String,
    /// Its host name, in its scenario's zone.
    pub host: String,
    /// Its URL in the inventory: `https://` on the scenario's TLS port.
    pub url: String,
    /// How it behaves, and what an audit must find.
    pub scenario: Scenario,
}

/// A running lab. Dropping it stops every listener.
#[derive(Debug)]
pub struct Lab {
    /// The DNS server of every lab zone.
    pub dns: DnsServer,
    /// The portals, in the inventory's order.
    pub portals: Vec<LabPortal>,
    /// `lab-inventory.yaml`: the inventory of the portals.
    pub inventory_path: PathBuf,
    /// `lab-ca.pem`: the CA of the lab's certificates (`--ca-file`).
    pub ca_path: PathBuf,
    /// `lab-pack.yaml`: [`LAB_PACK`] (`--rules`).
    pub pack_path: PathBuf,
    /// lab.test's key, the trust anchor of the lab's DNSSEC (`--trust-anchor`).
    pub anchor_path: PathBuf,
    /// Ports: plain HTTP and TLS on both families; the pair that refuses IPv6;
    /// the TLS port that is silent over IPv6.
    pub ports: LabPorts,
    tasks: JoinSet<()>,
    // Held so the refusing IPv6 ports stay bound.
    _held: Vec<web::V6Side>,
}

/// The lab's listener ports, the same on 127.0.0.1 and `::1`; one port serves many portals.
#[derive(Debug, Clone, Copy)]
pub struct LabPorts {
    /// Plain HTTP on both families.
    pub http: u16,
    /// TLS on both families.
    pub https: u16,
    /// Plain HTTP over IPv4; over IPv6, connections are refused.
    pub http_v6_refused: u16,
    /// TLS over IPv4; over IPv6, connections are refused.
    pub https_v6_refused: u16,
    /// TLS over IPv4; over IPv6, connections are accepted and never answered.
    pub https_v6_silent: u16,
    /// SMTP of mail.lab.test, on both families.
    pub smtp: u16,
}

impl Lab {
    /// Starts the lab and writes its files into `config.dir`.
    pub async fn start(config: LabConfig) -> Result<Self, LabError> {
        let bind = |e: std::io::Error| LabError::Bind(e.to_string());
        std::fs::create_dir_all(&config.dir).map_err(|source| LabError::Write {
            path: config.dir.clone(),
            source,
        })?;
        // Listeners first: the inventory names their ports.
        let (main_http, main_http6, http) = web::bind_pair(true).map_err(bind)?;
        let (main_tls, main_tls6, https) = web::bind_pair(true).map_err(bind)?;
        let (ref_http, ref_http6, http_v6_refused) = web::bind_pair(false).map_err(bind)?;
        let (ref_tls, ref_tls6, https_v6_refused) = web::bind_pair(false).map_err(bind)?;
        let (sil_tls, sil_tls6, https_v6_silent) = web::bind_pair(true).map_err(bind)?;
        let (smtp4, smtp6, smtp) = web::bind_pair(true).map_err(bind)?;
        let ports = LabPorts {
            http,
            https,
            http_v6_refused,
            https_v6_refused,
            https_v6_silent,
            smtp,
        };

        // Portals and their DNS.
        let mut zones = LabZones::base();
        let (portals, by_host, inventory) = lab_portals(&config, ports, &mut zones);
        let names: Vec<String> = vec![
            ZONE.to_owned(),
            format!("*.{ZONE}"),
            format!("*.{ZONE_V4NS}"),
            format!("*.{ZONE_MAILV4}"),
            format!("*.{ZONE_BADDS}"),
        ];
        let pki = pki::Pki::new(&names)?;
        let sites = Arc::new(web::Sites {
            by_host,
            pki: pki.clone(),
            v4_only_target: (V4_ONLY_TARGET.to_owned(), https),
            started: std::time::Instant::now(),
        });

        let dns = DnsServer::start(&[zones.main, zones.v4ns, zones.mailv4, zones.badds]).await?;

        use web::Mode;
        let (tasks, held) = serve_all(
            [
                (main_http, main_http6, Mode::Plain, Mode::Plain),
                (main_tls, main_tls6, Mode::Tls, Mode::Tls),
                (ref_http, ref_http6, Mode::Plain, Mode::Plain),
                (ref_tls, ref_tls6, Mode::Tls, Mode::Tls),
                (sil_tls, sil_tls6, Mode::Tls, Mode::Silent),
            ],
            (smtp4, smtp6),
            &sites,
        )?;

        let [inventory_path, ca_path, pack_path, anchor_path] =
            write_files(&config.dir, &inventory, &pki.ca_pem, &portals, &dns)?;
        let lab = Self {
            dns,
            portals,
            inventory_path,
            ca_path,
            pack_path,
            anchor_path,
            ports,
            tasks,
            _held: held,
        };
        write(
            &config.dir.join("lab-audit.txt"),
            &format!("{}\n", lab.audit_args().join(" ")),
        )?;
        Ok(lab)
    }

    /// The resolver the agent should use (the lab's DNS server over IPv6).
    pub fn resolver(&self) -> SocketAddr {
        self.dns.addr_v6()
    }

    /// The arguments of `v6audit audit` that audit this lab.
    pub fn audit_args(&self) -> Vec<String> {
        vec![
            "v6audit".to_owned(),
            "audit".to_owned(),
            self.inventory_path.display().to_string(),
            "--resolver".to_owned(),
            self.resolver().to_string(),
            "--ns-port".to_owned(),
            self.dns.port.to_string(),
            "--smtp-port".to_owned(),
            self.ports.smtp.to_string(),
            "--ca-file".to_owned(),
            self.ca_path.display().to_string(),
            "--rules".to_owned(),
            self.pack_path.display().to_string(),
            "--trust-anchor".to_owned(),
            self.anchor_path.display().to_string(),
        ]
    }

    /// Stops every listener.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
        self.dns.shutdown().await;
    }
}

/// The lab's rule pack: the default pack, with the lab's loopback prefix
/// allowed through `dns.aaaa-global` (never a special case in code).
pub const LAB_PACK: &str = "\
# The rule pack for auditing the v6audit lab: the default pack, with the
# lab's own loopback addresses accepted as if they were global unicast (and
# so the agent may connect to them).
schema: v6audit/rules/v1
name: lab
extends: default
rules:
  dns.aaaa-global:
    allow: [\"::1/128\", \"127.0.0.0/8\"]
";

/// The lab's zones. lab.test is signed and is the trust anchor the lab's
/// audits start from; mailv4 is signed with its DS in lab.test, v4ns
/// unsigned, badds signed under a DS of another key.
struct LabZones {
    main: Zone,
    v4ns: Zone,
    mailv4: Zone,
    badds: Zone,
}

impl LabZones {
    /// The zones with their name servers, mail exchangers and the lab's own
    /// names, before any portal.
    fn base() -> Self {
        let mut zone = Zone::new(ZONE).signed(Signing::Signed);
        let mut zone_v4ns = Zone::new(ZONE_V4NS);
        let mut zone_mailv4 = Zone::new(ZONE_MAILV4).signed(Signing::Signed);
        let mut zone_badds = Zone::new(ZONE_BADDS).signed(Signing::BrokenDs);
        zone_badds.add(ZONE_BADDS, RecordData::Mx(10, format!("mail.{ZONE}")));
        for z in [&mut zone, &mut zone_mailv4, &mut zone_badds] {
            let origin = z.origin.clone();
            z.add(&origin, RecordData::Ns(format!("ns1.{ZONE}")));
            z.add(&origin, RecordData::Ns(format!("ns2.{ZONE}")));
        }
        for ns in ["ns1", "ns2"] {
            zone.host(&format!("{ns}.{ZONE}"), true, Some(Ipv6Addr::LOCALHOST));
            zone_v4ns.host(&format!("{ns}.{ZONE_V4NS}"), true, None);
            zone_v4ns.add(ZONE_V4NS, RecordData::Ns(format!("{ns}.{ZONE_V4NS}")));
        }
        zone.add(ZONE, RecordData::Mx(10, format!("mail.{ZONE}")));
        zone.host(&format!("mail.{ZONE}"), true, Some(Ipv6Addr::LOCALHOST));
        zone_mailv4.add(ZONE_MAILV4, RecordData::Mx(10, format!("mx.{ZONE_MAILV4}")));
        zone_mailv4.host(&format!("mx.{ZONE_MAILV4}"), true, None);
        zone.host(V4_ONLY_TARGET, true, None);
        zone.host(CNAME_EDGE, true, Some(Ipv6Addr::LOCALHOST));
        zone.add(CNAME_LOOP, RecordData::Cname("loop-b.lab.test".to_owned()));
        zone.add("loop-b.lab.test", RecordData::Cname(CNAME_LOOP.to_owned()));
        // The zone's apex and its www. both serve a portal done right, for
        // the apex/www counterparts (`also_www`).
        zone.host(ZONE, true, Some(Ipv6Addr::LOCALHOST));
        zone.host(&format!("www.{ZONE}"), true, Some(Ipv6Addr::LOCALHOST));
        Self {
            main: zone,
            v4ns: zone_v4ns,
            mailv4: zone_mailv4,
            badds: zone_badds,
        }
    }

    /// The zone named `name` (lab.test for any other name).
    fn of(&mut self, name: &str) -> &mut Zone {
        match name {
            ZONE_V4NS => &mut self.v4ns,
            ZONE_MAILV4 => &mut self.mailv4,
            ZONE_BADDS => &mut self.badds,
            _ => &mut self.main,
        }
    }
}

/// The lab's portals, each with its records in `zones`: the portals, the
/// site each host serves (the zone's apex and www. included), and the
/// inventory that lists them.
fn lab_portals(
    config: &LabConfig,
    ports: LabPorts,
    zones: &mut LabZones,
) -> (Vec<LabPortal>, HashMap<String, web::Site>, String) {
    let mut portals = Vec::with_capacity(config.portals);
    let mut by_host = HashMap::new();
    for (host, name) in [
        (ZONE.to_owned(), "Cổng gốc của vùng lab.test"),
        (format!("www.{ZONE}"), "Cổng www của vùng lab.test"),
    ] {
        by_host.insert(
            host,
            web::Site::new(Scenario::Good, name.to_owned(), ports.https),
        );
    }
    let mut inventory = inventory_header(config);
    for i in 0..config.portals {
        let scenario = config.mix.scenario(i);
        let id = format!("{}-{:04}", scenario.name(), i + 1);
        let zone_name = scenario.zone();
        let host = format!("{id}.{zone_name}");
        add_portal_records(zones.of(zone_name), &host, scenario);
        let (plain, tls) = match scenario {
            Scenario::V6Refused => (ports.http_v6_refused, ports.https_v6_refused),
            Scenario::V6TlsSilent => (ports.http, ports.https_v6_silent),
            _ => (ports.http, ports.https),
        };
        let url = format!("https://{host}:{tls}/");
        let name = format!("Cổng thử nghiệm {} ({})", i + 1, scenario.description());
        let category = [Category::Citizen, Category::Business, Category::Information][i % 3];
        let audience = [1_000_000u64, 50_000, 2_000][i % 3];
        let _ = writeln!(
            inventory,
            "  - id: {id}\n    url: {url}\n    name: \"{name}\"\n    agency: \"{}\"\n    category: {category}\n    audience: {audience}\n    ports: [{plain}, {tls}]\n    tags: [lab, {}]",
            AGENCIES[i % AGENCIES.len()],
            scenario.name()
        );
        by_host.insert(host.clone(), web::Site::new(scenario, name, tls));
        portals.push(LabPortal {
            id,
            host,
            url,
            scenario,
        });
    }
    (portals, by_host, inventory)
}

/// The lab inventory's first lines, up to `portals:`.
fn inventory_header(config: &LabConfig) -> String {
    let mut inventory = String::new();
    let _ = writeln!(
        inventory,
        "# Written by `v6audit lab serve`: {} simulated portals on loopback.\n\
         # Audit them with the lab's resolver, CA file and pack (see lab-audit.txt).\n\
         schema: v6audit/inventory/v1\n\
         name: v6audit lab — {} portals ({})\n\
         portals:",
        config.portals,
        config.portals,
        match &config.mix {
            Mix::All => "all scenarios".to_owned(),
            Mix::Realistic => "realistic mix".to_owned(),
            Mix::Fast => "fast scenarios".to_owned(),
            Mix::Only(s) => format!("{s} only"),
        }
    );
    inventory
}

/// The records of a portal's `host` in its zone, as its scenario has them.
fn add_portal_records(target: &mut Zone, host: &str, scenario: Scenario) {
    match scenario {
        Scenario::Ipv4Only => {
            target.host(host, true, None);
        }
        Scenario::Gone => {}
        Scenario::NonGlobal => {
            // ::ffff:127.0.0.1 reaches the IPv4 listener: it "works", but no
            // IPv6-only client could use it.
            target.host(
                host,
                true,
                Some(std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
            );
        }
        Scenario::Cname => {
            target.add(host, RecordData::Cname(CNAME_EDGE.to_owned()));
        }
        _ => {
            target.host(host, true, Some(Ipv6Addr::LOCALHOST));
        }
    }
}

/// Serves the sites on each listener pair with its modes (IPv4, IPv6) and
/// mail on the SMTP pair; returns the tasks, and the IPv6 sides that refuse,
/// held so their ports stay bound.
fn serve_all(
    pairs: [(TcpListener, web::V6Side, web::Mode, web::Mode); 5],
    smtp: (TcpListener, web::V6Side),
    sites: &Arc<web::Sites>,
) -> Result<(JoinSet<()>, Vec<web::V6Side>), LabError> {
    let mut tasks = JoinSet::new();
    let mut held = Vec::new();
    for (v4, v6side, mode, v6mode) in pairs {
        web::serve(&mut tasks, v4, mode, Family::V4, sites.clone());
        if let Some(l6) = v6_listener(v6side, &mut held)? {
            web::serve(&mut tasks, l6, v6mode, Family::V6, sites.clone());
        }
    }
    let (smtp4, smtp6) = smtp;
    mail::serve(&mut tasks, smtp4, MAIL_HOST);
    if let Some(l6) = v6_listener(smtp6, &mut held)? {
        mail::serve(&mut tasks, l6, MAIL_HOST);
    }
    Ok((tasks, held))
}

/// The IPv6 side of a listener pair, ready to serve; None when it refuses
/// (it is then pushed to `held`).
fn v6_listener(
    side: web::V6Side,
    held: &mut Vec<web::V6Side>,
) -> Result<Option<TcpListener>, LabError> {
    match side {
        web::V6Side::Listening(l) => {
            l.set_nonblocking(true)
                .map_err(|e| LabError::Bind(e.to_string()))?;
            Ok(Some(
                TcpListener::from_std(l).map_err(|e| LabError::Bind(e.to_string()))?,
            ))
        }
        refusing => {
            held.push(refusing);
            Ok(None)
        }
    }
}

/// Writes the files a user (or a test) audits the lab with into `dir`: the
/// inventory, the CA, the pack and the DNSSEC trust anchor (their paths, in
/// that order), and what an audit must find, for scripts that judge a run
/// (bench/).
fn write_files(
    dir: &Path,
    inventory: &str,
    ca_pem: &str,
    portals: &[LabPortal],
    server: &DnsServer,
) -> Result<[PathBuf; 4], LabError> {
    let inventory_path = dir.join("lab-inventory.yaml");
    let ca_path = dir.join("lab-ca.pem");
    let pack_path = dir.join("lab-pack.yaml");
    let anchor_path = dir.join("lab-trust-anchor.keys");
    write(&inventory_path, inventory)?;
    write(&ca_path, ca_pem)?;
    write(&pack_path, LAB_PACK)?;
    let mut expected = String::from("# id\tscenario\texpected stage\n");
    for p in portals {
        let _ = writeln!(
            expected,
            "{}\t{}\t{}",
            p.id,
            p.scenario,
            p.scenario.expected_stage().number()
        );
    }
    write(&dir.join("lab-expected.tsv"), &expected)?;
    let anchor = server
        .keys
        .iter()
        .find(|(z, _)| z == ZONE)
        .map(|(z, k)| dns::anchor_line(z, k))
        .ok_or_else(|| LabError::Dns(format!("{ZONE} is not signed")))?;
    write(
        &anchor_path,
        &format!("; The lab's DNSSEC trust anchor: the key of {ZONE}, made at start.\n{anchor}\n"),
    )?;
    Ok([inventory_path, ca_path, pack_path, anchor_path])
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text).map_err(|source| LabError::Write {
        path: path.to_owned(),
        source,
    })
}
