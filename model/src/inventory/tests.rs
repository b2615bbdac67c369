//! The inventory's own checks: targets, host names and URLs.

use super::names::{check_host_name, written_host};
use super::*;

#[test]
fn target_host_becomes_https_portal_with_default_ports() {
    let p = Portal::from_target("DichVuCong.gov.vn").unwrap();
    assert_eq!(p.id, "dichvucong-gov-vn");
    assert_eq!(p.url.as_str(), "https://dichvucong.gov.vn/");
    assert_eq!(p.host, "dichvucong.gov.vn");
    assert_eq!(
        p.ports,
        vec![
            PortSpec {
                port: 80,
                tls: false
            },
            PortSpec {
                port: 443,
                tls: true
            }
        ]
    );
}

#[test]
fn target_url_with_port_probes_only_that_port() {
    let p = Portal::from_target("https://portal.lab.test:8443/dv").unwrap();
    assert_eq!(
        p.ports,
        vec![PortSpec {
            port: 8443,
            tls: true
        }]
    );
    assert_eq!(p.url_port(), 8443);
}

#[test]
fn targets_on_one_host_get_distinct_ids() {
    let inv = Inventory::from_targets(&["a.gov.vn/x".into(), "https://a.gov.vn/y".into()]);
    // "a.gov.vn/x" is read as https://a.gov.vn/x/
    let inv = inv.unwrap();
    assert_eq!(inv.portals[0].id, "a-gov-vn");
    assert_eq!(inv.portals[1].id, "a-gov-vn-2");
}

#[test]
fn host_names_keep_the_dns_limits() {
    let label = "a".repeat(63);
    let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
    assert_eq!(longest.len(), 253);
    assert_eq!(check_host_name(&longest), Ok(()));
    let err = check_host_name(&format!("{longest}c")).unwrap_err();
    assert_eq!(
        err,
        "the host name is 254 characters long; a DNS name has at most 253"
    );
    let err = check_host_name("dichvucong..gov.vn").unwrap_err();
    assert!(err.contains("has an empty label"), "{err}");
    let err = check_host_name("dich!vu.gov.vn").unwrap_err();
    assert_eq!(
        err,
        "the label `dich!vu` has `!`; a host name has only letters, digits and hyphens"
    );
    assert_eq!(check_host_name("xn--dchvcng-7xa1b.gov.vn"), Ok(()));
}

#[test]
fn names_over_the_dns_limits_are_refused_as_targets() {
    let long = format!("https://{}.gov.vn/", "a".repeat(64));
    let err = Portal::from_target(&long).unwrap_err();
    assert!(err.contains("a DNS label has at most 63"), "{err}");
    let err = Portal::from_target("https://dichvucong%2egov.vn/").unwrap_err();
    assert!(err.contains("percent-escape (`%2e`)"), "{err}");
    // An IDN is checked in its A-label form, and kept in it.
    let p = Portal::from_target("https://dịchvụcông.gov.vn/").unwrap();
    assert!(p.host.starts_with("xn--"), "{}", p.host);
}

#[test]
fn the_written_host_is_found_in_the_url_text() {
    assert_eq!(written_host("https://a.gov.vn/x?y#z"), "a.gov.vn");
    assert_eq!(written_host(" https://u@a%2eb.vn:8443/"), "a%2eb.vn:8443");
    assert_eq!(written_host("https:\\\\a.vn\\x"), "a.vn");
}

#[test]
fn address_literal_targets_are_refused() {
    let err = Portal::from_target("https://[2001:db8::1]/").unwrap_err();
    assert!(err.contains("must be a name"), "{err}");
}
