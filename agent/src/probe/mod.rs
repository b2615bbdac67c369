//! The probes, one file per kind, all of one shape: a target, the run's
//! settings and a deadline in; a typed piece of the Observation out. This
//! module holds what they share (the [`Context`]) and the one place where
//! the TCP, TLS and first HTTP facts of an address share one connection.

pub mod dns;
pub mod dnssec;
pub mod http;
pub mod icmp;
pub mod page;
pub mod smtp;
pub mod tcp;
pub mod tls;

use std::net::{IpAddr, SocketAddr};

use url::Url;
use v6audit_model::{Endpoint, Family, PortSpec, Portal};

use crate::net::Reach;
use crate::resolver::Dns;
use crate::settings::Settings;

/// What every probe of a run shares.
#[derive(Debug)]
pub struct Context {
    pub settings: Settings,
    pub dns: Dns,
    pub tls: tls::TlsClient,
    pub reach: Reach,
    pub zones: dns::ZoneCache,
}

impl Context {
    /// The deadline of the next step: the step timeout, within the portal's budget.
    pub fn step_deadline(&self, portal_deadline: tokio::time::Instant) -> tokio::time::Instant {
        (tokio::time::Instant::now() + self.settings.timeout).min(portal_deadline)
    }
}

/// The URL requested on a port: the portal's URL on its own port, else the
/// same path with the port's scheme.
pub fn url_for_port(portal: &Portal, spec: PortSpec) -> Url {
    if spec.port == portal.url_port() {
        return portal.url.clone();
    }
    let mut url = portal.url.clone();
    let scheme = if spec.tls { "https" } else { "http" };
    // Both are special schemes, so set_scheme cannot fail between them.
    let _ = url.set_scheme(scheme);
    let default = if spec.tls { 443 } else { 80 };
    let _ = url.set_port(if spec.port == default {
        None
    } else {
        Some(spec.port)
    });
    url
}

/// One address and port: TCP connect, TLS handshake on a TLS port, then the
/// first GET, all over one connection. Returns the body for the parity check.
pub async fn endpoint(
    ctx: &Context,
    portal: &Portal,
    ip: IpAddr,
    spec: PortSpec,
    portal_deadline: tokio::time::Instant,
) -> (Endpoint, Option<http::Fetched>) {
    let addr = SocketAddr::new(ip, spec.port);
    let url = url_for_port(portal, spec);
    let (stream, tcp) = tcp::connect(addr, ctx.step_deadline(portal_deadline), &ctx.reach).await;
    let mut endpoint = Endpoint {
        family: Family::of(&ip),
        addr: ip,
        port: spec.port,
        tls_port: spec.tls,
        tcp,
        tls: None,
        http: None,
    };
    let Some(stream) = stream else {
        return (endpoint, None);
    };
    let fetched = if spec.tls {
        let (tls_stream, tls) = ctx
            .tls
            .handshake(stream, &portal.host, ctx.step_deadline(portal_deadline))
            .await;
        endpoint.tls = Some(tls);
        match tls_stream {
            Some(s) => Some(http::exchange(ctx, s, &url, ctx.step_deadline(portal_deadline)).await),
            None => None,
        }
    } else {
        Some(http::exchange(ctx, stream, &url, ctx.step_deadline(portal_deadline)).await)
    };
    endpoint.http = fetched.as_ref().map(|f| f.exchange.clone());
    (endpoint, fetched)
}
