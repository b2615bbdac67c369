//! The collector's checks: `GET /healthz` over each family it has
//! addresses in (with its clock, from the `Date` header), and the health
//! check of `v6audit collector health`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use url::Url;

use v6audit_model::Family;

use super::{Check, Input, Status, check, first_of};

/// GET /healthz on the collector over each family it has addresses in.
/// Returns the rows and the collector's clock, when it answered.
pub(super) async fn collector_checks(input: &Input) -> (Vec<Check>, Option<OffsetDateTime>) {
    let Some(base) = &input.collector else {
        return (
            vec![check(
                "collector",
                Status::Ok,
                "none configured (--collector or --config to check one)",
            )],
            None,
        );
    };
    let (Some(host), Some(port)) = (base.host_str(), base.port_or_known_default()) else {
        return (
            vec![check(
                "collector",
                Status::Warn,
                format!("`{base}` names no host"),
            )],
            None,
        );
    };
    let host = host.trim_matches(['[', ']']).to_owned();
    let addrs = match collector_addrs(&host, port, input.timeout).await {
        Ok(addrs) => addrs,
        Err(why) => return (vec![check("collector", Status::Warn, why)], None),
    };
    let url = match base.join("healthz") {
        Ok(u) => u,
        Err(e) => {
            return (
                vec![check("collector", Status::Warn, format!("`{base}`: {e}"))],
                None,
            );
        }
    };
    let mut rows = Vec::new();
    let mut date = None;
    let (v4, v6) = (first_of(&addrs, Family::V4), first_of(&addrs, Family::V6));
    let (r4, r6) = tokio::join!(
        get_over(&url, &host, v4, input),
        get_over(&url, &host, v6, input)
    );
    for (name, addr, result) in [
        ("collector over IPv6", v6, r6),
        ("collector over IPv4", v4, r4),
    ] {
        rows.push(match (addr, result) {
            (None, _) => check(
                name,
                Status::Warn,
                format!("{host} has no address of this family"),
            ),
            (Some(a), Some(Ok((ms, d)))) => {
                date = date.or(d);
                check(
                    name,
                    Status::Ok,
                    format!("{url} via {a}: healthy in {ms} ms"),
                )
            }
            (Some(a), Some(Err(e))) => check(
                name,
                Status::Warn,
                format!("{url} via {a}: {e}; reports will wait in the spool"),
            ),
            (Some(_), None) => check(name, Status::Warn, "not checked"),
        });
    }
    (rows, date)
}

/// The collector's addresses: its host when that is an address, else what
/// the host resolves to within `timeout`; why not, when it does not.
async fn collector_addrs(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, String> {
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        Err(_) => {
            match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(a)) => Ok(a.collect()),
                Ok(Err(e)) => Err(format!(
                    "cannot resolve {host}: {e}; reports will wait in the spool"
                )),
                Err(_) => Err(format!(
                    "{host} did not resolve within {} s",
                    timeout.as_secs()
                )),
            }
        }
    }
}

/// One GET pinned to `addr` (the host name kept for TLS and Host).
async fn get_over(
    url: &Url,
    host: &str,
    addr: Option<SocketAddr>,
    input: &Input,
) -> Option<Result<(u128, Option<OffsetDateTime>), String>> {
    let addr = addr?;
    Some(
        get(
            url,
            Some((host, addr)),
            input.collector_ca.as_deref(),
            input.timeout,
        )
        .await,
    )
}

/// `GET {base}/healthz` on a collector, for container and load-balancer
/// health checks (`v6audit collector health`): the milliseconds it took.
pub async fn collector_health(
    base: &Url,
    ca_file: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<u128, String> {
    let url = base
        .join("healthz")
        .map_err(|e| format!("`{base}` cannot take a path: {e}"))?;
    get(&url, None, ca_file, timeout)
        .await
        .map(|(ms, _)| ms)
        .map_err(|e| format!("{url}: {e}"))
}

/// One bounded GET, optionally pinned to an address: how long it took and
/// the server's clock.
async fn get(
    url: &Url,
    pin: Option<(&str, SocketAddr)>,
    ca_file: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<(u128, Option<OffsetDateTime>), String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("v6audit-self-check/", env!("CARGO_PKG_VERSION")));
    if let Some((host, addr)) = pin {
        builder = builder.resolve(host, addr);
    }
    if let Some(path) = ca_file {
        builder = crate::daemon::push::trust_ca_file(builder, path)?;
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let start = Instant::now();
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let ms = start.elapsed().as_millis();
    let date = response
        .headers()
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    if response.status().is_success() {
        Ok((ms, date))
    } else {
        Err(format!("answered {}", response.status()))
    }
}

/// An error with its causes, for one line of the table.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

/// An HTTP date (RFC 9110 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}
