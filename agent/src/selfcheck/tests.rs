//! The self-check's judgements (routes, clock, HTTP dates), without the network.

use std::net::IpAddr;

use time::OffsetDateTime;

use super::vantage::{clock_check, route_check};
use super::{Status, parse_http_date};

#[test]
fn http_dates_parse() {
    let d = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
    assert_eq!(d.unix_timestamp(), 784_111_777);
    assert_eq!(parse_http_date("yesterday"), None);
}

#[test]
fn routes_judge_the_source_address() {
    let v6 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    let ok = route_check("IPv6 route", v6("2001:db8::5"), false, true);
    assert_eq!(ok.status, Status::Ok);
    assert!(ok.detail.contains("source 2001:db8::5"), "{}", ok.detail);
    let link = route_check("IPv6 route", v6("fe80::1"), false, true);
    assert_eq!(link.status, Status::Fail);
    assert!(link.detail.contains("only link-local"), "{}", link.detail);
    assert_eq!(
        route_check("IPv6 route", None, false, true).status,
        Status::Fail
    );
    let ula = route_check("IPv6 route", v6("fd00::2"), false, true);
    assert_eq!(ula.status, Status::Warn);
    assert!(ula.detail.contains("unique-local"), "{}", ula.detail);
    // A lab on loopback needs only ::1.
    assert_eq!(
        route_check("IPv6 route", None, true, true).status,
        Status::Ok
    );
    assert_eq!(
        route_check("IPv6 route", None, true, false).status,
        Status::Fail
    );
    // No IPv4 is worth a warning, not a failure: IPv6 can still be audited.
    assert_eq!(
        route_check("IPv4 route", None, false, false).status,
        Status::Warn
    );
}

#[test]
fn a_clock_before_the_source_date_fails() {
    let source = 1_790_000_000;
    let before = OffsetDateTime::from_unix_timestamp(source - 86_400).unwrap();
    let after = OffsetDateTime::from_unix_timestamp(source + 86_400).unwrap();
    assert_eq!(clock_check(before, source, None).status, Status::Fail);
    assert_eq!(clock_check(after, source, None).status, Status::Ok);
    let skewed = after + time::Duration::minutes(10);
    let c = clock_check(after, source, Some(skewed));
    assert_eq!(c.status, Status::Warn);
    assert!(
        c.detail.contains("-600 s from the collector"),
        "{}",
        c.detail
    );
}
