//! The names in an inventory: portal ids, portal URLs (http or https, no
//! credentials, the host as written), host names held to the DNS's limits,
//! and the ports probed on each address.

use url::Url;

use super::PortSpec;

pub(super) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

pub(super) fn parse_portal_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("invalid URL `{text}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid URL `{text}`: the scheme must be http or https, not `{}`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "invalid URL `{text}`: a portal URL must not carry credentials"
        ));
    }
    if url.port() == Some(0) {
        return Err(format!("invalid URL `{text}`: port 0"));
    }
    // The URL parser decodes `%2e` in a host to a dot; the host a user wrote
    // is what the report names, so it must be written as it is.
    let written = written_host(text);
    if let Some(at) = written.find('%') {
        let escape: String = written[at..].chars().take(3).collect();
        return Err(format!(
            "invalid URL `{text}`: the host `{written}` has a percent-escape (`{escape}`); write the host name itself"
        ));
    }
    Ok(url)
}

/// The host (and port) of a URL as written: after the scheme and its
/// slashes, before the path, query or fragment, without user information.
pub(super) fn written_host(text: &str) -> &str {
    let text = text.trim();
    let rest = text.split_once(':').map_or(text, |(_, rest)| rest);
    let rest = rest.trim_start_matches(['/', '\\']);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// The limits of a host name in the DNS (RFC 1035 §2.3.4, RFC 1123 §2.1),
/// checked on its A-label form (IDNs as `xn--` labels): labels of 1 to 63
/// characters, 253 in all without the final dot, each of letters, digits
/// and hyphens (and `_`, which some real names carry).
pub(super) fn check_host_name(host: &str) -> Result<(), String> {
    if host.len() > 253 {
        return Err(format!(
            "the host name is {} characters long; a DNS name has at most 253",
            host.len()
        ));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(format!(
                "`{host}` has an empty label (two dots in a row, or a dot first)"
            ));
        }
        if label.len() > 63 {
            return Err(format!(
                "the label `{label}` is {} characters long; a DNS label has at most 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "the label `{label}` has `{c}`; a host name has only letters, digits and hyphens"
            ));
        }
    }
    Ok(())
}

pub(super) fn host_of(url: &Url) -> Result<String, String> {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            // One final dot is the root: `a.gov.vn.` is `a.gov.vn`.
            let host = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
            if host.is_empty() || !host.contains('.') {
                return Err(format!(
                    "invalid URL `{url}`: `{host}` is not a fully qualified host name"
                ));
            }
            check_host_name(&host).map_err(|why| format!("invalid URL `{url}`: {why}"))?;
            Ok(host)
        }
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Err(format!(
            "invalid URL `{url}`: the host must be a name (an address literal has no AAAA record to audit)"
        )),
        None => Err(format!("invalid URL `{url}`: no host")),
    }
}

pub(super) fn id_from_host(host: &str) -> String {
    let mut id: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while id.contains("--") {
        id = id.replace("--", "-");
    }
    id.trim_matches('-').to_owned()
}

pub(super) fn check_ports(ports: &[u16]) -> Option<String> {
    if ports.is_empty() {
        return Some("ports must list at least one port".to_owned());
    }
    if ports.contains(&0) {
        return Some("port 0 is not a port".to_owned());
    }
    None
}

/// Ports probed by default: the URL's own port when it names one, else 80 and 443.
pub(super) fn default_ports(url: &Url) -> Vec<PortSpec> {
    match url.port() {
        Some(p) => port_specs(url, &[p]),
        None => port_specs(url, &[80, 443]),
    }
}

/// A port speaks TLS when it is 443 or the port of an `https` URL.
pub(super) fn port_specs(url: &Url, ports: &[u16]) -> Vec<PortSpec> {
    let url_port = url.port_or_known_default().unwrap_or(443);
    let mut out: Vec<PortSpec> = Vec::new();
    for &port in ports {
        if out.iter().any(|p| p.port == port) {
            continue;
        }
        let tls = port == 443 || (url.scheme() == "https" && port == url_port);
        out.push(PortSpec { port, tls });
    }
    out
}
