//! The real servers of the lab, configured for it: Knot DNS (zones signed by
//! Knot itself with keys made by keymgr, one zone unsigned, one whose DS in
//! the parent names another key), nginx (a dual-stack portal and its
//! misconfigured variants) and postfix (SMTP with STARTTLS on both families).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::net::{Netns, Server, run, wait_until};

/// The zones Knot serves and how each is signed.
pub(crate) const PARENT: &str = "v6lab.test";
pub(crate) const SIGNED: &str = "signed.v6lab.test";
pub(crate) const UNSIGNED: &str = "unsigned.v6lab.test";
pub(crate) const BADDS: &str = "badds.v6lab.test";
pub(crate) const V4NS: &str = "v4ns.v6lab.test";

/// A host name and its addresses.
pub(crate) struct Host<'a> {
    pub name: &'a str,
    pub aaaa: &'a [&'a str],
    pub a: &'a [&'a str],
}

/// Knot DNS serving the lab's zones on `listen` (port 53), with the parent's
/// key as the trust anchor written to `anchor`.
pub(crate) struct Knot {
    pub server: Server,
    pub anchor: PathBuf,
}

pub(crate) fn knot(
    ns: &Netns,
    dir: &Path,
    listen: &[&str],
    hosts: &[Host<'_>],
    child_host: &Host<'_>,
) -> Knot {
    let dir = dir.join("knot");
    std::fs::create_dir_all(dir.join("db")).unwrap();
    let d = dir.display();
    let listen: Vec<String> = listen.iter().map(|a| format!("{a}@53")).collect();
    let conf = format!(
        "server:\n    listen: [ {} ]\n    rundir: {d}\ndatabase:\n    storage: {d}/db\n\
         log:\n  - target: stderr\n    any: info\n\
         policy:\n  - id: lab\n    manual: on\n    algorithm: ecdsap256sha256\n\
         template:\n  - id: default\n    storage: {d}\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n\
         zone:\n  - domain: {PARENT}\n    dnssec-signing: on\n    dnssec-policy: lab\n\
         \x20 - domain: {SIGNED}\n    dnssec-signing: on\n    dnssec-policy: lab\n\
         \x20 - domain: {BADDS}\n    dnssec-signing: on\n    dnssec-policy: lab\n\
         \x20 - domain: {UNSIGNED}\n\
         \x20 - domain: {V4NS}\n",
        listen.join(", ")
    );
    let conf_path = dir.join("knot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let conf_arg = conf_path.to_str().unwrap();
    // Keys made before the server starts, so the parent's DS can name them.
    for zone in [PARENT, SIGNED, BADDS] {
        run(&[
            "keymgr",
            "-c",
            conf_arg,
            zone,
            "generate",
            "algorithm=ecdsap256sha256",
            "ksk=yes",
            "zsk=yes",
        ]);
    }
    let ds = |kasp: &[&str], zone: &str| -> String {
        let mut args = vec!["keymgr"];
        args.extend_from_slice(kasp);
        args.extend_from_slice(&[zone, "ds"]);
        run(&args)
            .lines()
            .find(|l| l.contains(" DS ") && l.split_whitespace().nth(4) == Some("2"))
            .unwrap_or_else(|| panic!("keymgr gave no SHA-256 DS for {zone}"))
            .to_owned()
    };
    let signed_ds = ds(&["-c", conf_arg], SIGNED);
    // badds's DS in the parent is of a key badds never had: a key rolled
    // without updating the parent.
    let other_kasp = dir.join("old-keys");
    std::fs::create_dir_all(&other_kasp).unwrap();
    let other = other_kasp.to_str().unwrap();
    run(&[
        "keymgr",
        "-D",
        other,
        BADDS,
        "generate",
        "algorithm=ecdsap256sha256",
        "ksk=yes",
        "zsk=yes",
    ]);
    let badds_ds = ds(&["-D", other], BADDS);

    let soa = |zone: &str| {
        format!(
            "$ORIGIN {zone}.\n$TTL 60\n@ SOA ns1.{PARENT}. hostmaster.{PARENT}. 2026112701 3600 600 86400 60\n"
        )
    };
    let mut parent = soa(PARENT);
    let _ = writeln!(parent, "@ NS ns1.{PARENT}.\n@ NS ns2.{PARENT}.");
    for h in hosts {
        for a in h.aaaa {
            let _ = writeln!(parent, "{}. AAAA {a}", h.name);
        }
        for a in h.a {
            let _ = writeln!(parent, "{}. A {a}", h.name);
        }
    }
    let _ = writeln!(parent, "@ MX 10 mail.{PARENT}.");
    for child in [SIGNED, UNSIGNED, BADDS] {
        let _ = writeln!(
            parent,
            "{child}. NS ns1.{PARENT}.\n{child}. NS ns2.{PARENT}."
        );
    }
    let _ = writeln!(parent, "{V4NS}. NS ns4.{PARENT}.");
    let _ = writeln!(parent, "{signed_ds}\n{badds_ds}");
    std::fs::write(dir.join(format!("{PARENT}.zone")), parent).unwrap();
    for child in [SIGNED, UNSIGNED, BADDS, V4NS] {
        let mut z = soa(child);
        if child == V4NS {
            let _ = writeln!(z, "@ NS ns4.{PARENT}.");
        } else {
            let _ = writeln!(z, "@ NS ns1.{PARENT}.\n@ NS ns2.{PARENT}.");
        }
        let name = format!("portal.{child}");
        for a in child_host.aaaa {
            let _ = writeln!(z, "{name}. AAAA {a}");
        }
        for a in child_host.a {
            let _ = writeln!(z, "{name}. A {a}");
        }
        std::fs::write(dir.join(format!("{child}.zone")), z).unwrap();
    }
    // The trust anchor: the parent's key-signing key.
    let anchor = dir.join("trust-anchor.keys");
    let keys = run(&["keymgr", "-c", conf_arg, PARENT, "dnskey"]);
    let ksk = keys
        .lines()
        .find(|l| l.contains(" DNSKEY 257 "))
        .unwrap_or_else(|| panic!("keymgr gave no KSK for {PARENT}: {keys}"));
    std::fs::write(
        &anchor,
        format!("; {PARENT}'s KSK, made by keymgr\n{ksk}\n"),
    )
    .unwrap();
    let mut server = ns.spawn("knotd", &["knotd", "-c", conf_arg], &dir.join("knotd.log"));
    let probe = listen[0].trim_end_matches("@53").to_owned();
    let ns_name = ns.name.clone();
    wait_until(
        "Knot DNS",
        Duration::from_secs(20),
        &mut [&mut server],
        || {
            std::process::Command::new("ip")
                .args([
                    "netns", "exec", &ns_name, "kdig", "+short", "+time=1", "+dnssec",
                ])
                .arg(format!("@{probe}"))
                .args(["SOA", BADDS])
                .output()
                // +short prints the RRSIG's data, `SOA 13 …`: loaded and signed.
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("SOA 13 "))
        },
    );
    Knot { server, anchor }
}

/// One nginx site: where it listens and what it serves.
pub(crate) struct Site<'a> {
    pub listen: &'a [&'a str],
    pub root: &'a str,
    /// Another certificate than the good one (its file stem in the directory).
    pub cert: Option<&'a str>,
}

/// The root that answers every request with a redirect to sso.v6lab.test.
const REDIRECT_ROOT: &str = "redirect";

/// nginx in `ns` serving `sites`; `certs` are (stem, chain PEM, key PEM).
pub(crate) fn nginx(
    ns: &Netns,
    dir: &Path,
    name: &str,
    sites: &[Site<'_>],
    certs: &[(&str, &str, &str)],
    pages: &[(&str, String)],
) -> Server {
    let dir = dir.join(name);
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    for (stem, chain, key) in certs {
        std::fs::write(dir.join(format!("{stem}.pem")), chain).unwrap();
        std::fs::write(dir.join(format!("{stem}.key")), key).unwrap();
    }
    for (root, page) in pages {
        std::fs::create_dir_all(dir.join(root)).unwrap();
        std::fs::write(dir.join(root).join("index.html"), page).unwrap();
    }
    let d = dir.display();
    let mut conf = format!(
        "worker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 128; }}\nhttp {{\n  access_log off;\n  default_type text/html;\n\
         \x20 client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20 uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         \x20 ssl_certificate {d}/good.pem;\n  ssl_certificate_key {d}/good.key;\n"
    );
    for site in sites {
        conf.push_str("  server {\n");
        for l in site.listen {
            let _ = writeln!(conf, "    listen {l}:80;\n    listen {l}:443 ssl;");
        }
        if let Some(stem) = site.cert {
            let _ = writeln!(
                conf,
                "    ssl_certificate {d}/{stem}.pem;\n    ssl_certificate_key {d}/{stem}.key;"
            );
        }
        if site.root == REDIRECT_ROOT {
            let _ = writeln!(
                conf,
                "    location / {{ return 302 https://sso.{PARENT}/login; }}\n  }}"
            );
        } else {
            let _ = writeln!(conf, "    root {d}/{};\n  }}", site.root);
        }
    }
    conf.push_str("}\n");
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let conf_arg = conf_path.to_str().unwrap();
    ns.exec(&["nginx", "-t", "-q", "-c", conf_arg]);
    let mut server = ns.spawn(
        name,
        &["nginx", "-c", conf_arg, "-g", "daemon off;"],
        &dir.join("nginx.log"),
    );
    let pid = dir.join("nginx.pid");
    wait_until(name, Duration::from_secs(10), &mut [&mut server], || {
        pid.exists()
    });
    server
}

/// postfix in `ns`: SMTP on every address, STARTTLS with the good certificate.
pub(crate) fn postfix(ns: &Netns, dir: &Path, host: &str, chain: &str, key: &str) -> Server {
    let dir = dir.join("postfix");
    let etc = dir.join("etc");
    let data = dir.join("data");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(dir.join("spool")).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    run(&["chown", "postfix", data.to_str().unwrap()]);
    std::fs::write(etc.join("cert.pem"), chain).unwrap();
    std::fs::write(etc.join("key.pem"), key).unwrap();
    std::fs::copy("/usr/share/postfix/master.cf.dist", etc.join("master.cf")).unwrap();
    let d = dir.display();
    std::fs::write(
        etc.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nqueue_directory = {d}/spool\ndata_directory = {d}/data\n\
             mail_owner = postfix\nmyhostname = {host}\nmydestination =\n\
             inet_interfaces = all\ninet_protocols = all\nsmtpd_banner = $myhostname ESMTP\n\
             smtpd_tls_cert_file = {d}/etc/cert.pem\nsmtpd_tls_key_file = {d}/etc/key.pem\n\
             smtpd_tls_security_level = may\nmaillog_file = /dev/stdout\n"
        ),
    )
    .unwrap();
    let etc_arg = etc.to_str().unwrap();
    // Queue directories with postfix's owners and modes.
    run(&["postfix", "-c", etc_arg, "set-permissions"]);
    let mut server = ns.spawn(
        "postfix",
        &["postfix", "-c", etc_arg, "start-fg"],
        &dir.join("postfix.log"),
    );
    server.stop = Some(
        [
            "ip", "netns", "exec", &ns.name, "postfix", "-c", etc_arg, "stop",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    );
    let log = server.log.clone();
    wait_until(
        "postfix",
        Duration::from_secs(20),
        &mut [&mut server],
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("daemon started")),
    );
    server
}
