//! The lab's web listeners on loopback: plain HTTP and TLS, per address
//! family, answering per portal (found by the Host header or SNI) with the
//! behaviour of its scenario. Every hostile behaviour is bounded in bytes and
//! time, so the lab cannot run away either.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::LazyConfigAcceptor;
use v6audit_model::Family;

use crate::pki::Pki;
use crate::scenario::Scenario;

/// How long the lab waits for a request head, and its largest size.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REQUEST_HEAD: usize = 16 << 10;
/// Bounds on the hostile behaviours.
const HOSTILE_MAX_BYTES: usize = 64 << 20;
const HOSTILE_MAX_TIME: Duration = Duration::from_secs(120);
/// How long a silent listener holds a connection.
const SILENT_HOLD: Duration = Duration::from_secs(120);

/// What one listener does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP, without TLS.
    Plain,
    /// TLS, the certificate chosen by the site's scenario and family, then HTTP.
    Tls,
    /// Accept, then never say a word.
    Silent,
}

/// A lab portal as the web side sees it.
#[derive(Debug, Clone)]
pub struct Site {
    /// How the site behaves.
    pub scenario: Scenario,
    /// The portal's name, the title of its page.
    pub name: String,
    /// The TLS port, for redirects from plain HTTP.
    pub tls_port: u16,
    /// TLS handshakes over IPv6 with this site in the current visit, and
    /// when the last one began (ms since the lab started): `flaky-v6` cuts
    /// the odd ones of a visit (the first, the third...), so an agent's
    /// first try fails and its second succeeds however slow the machine; a
    /// visit ends after 10 s without a handshake.
    pub v6_handshakes: Arc<std::sync::Mutex<(u32, u64)>>,
}

impl Site {
    /// A site that has seen no handshake yet.
    pub fn new(scenario: Scenario, name: String, tls_port: u16) -> Self {
        Self {
            scenario,
            name,
            tls_port,
            v6_handshakes: Arc::default(),
        }
    }
}

/// Sites by host name, shared by every listener.
#[derive(Debug)]
pub struct Sites {
    /// Each site by its host name, in lower case.
    pub by_host: HashMap<String, Site>,
    /// The certificates the TLS listeners present.
    pub pki: Pki,
    /// The host without AAAA that `redirect-v4-only` portals send visitors to,
    /// and its TLS port.
    pub v4_only_target: (String, u16),
    /// When the lab started, for the sites' clocks.
    pub started: std::time::Instant,
}

/// Serves one listener until the task set is dropped.
pub fn serve(
    tasks: &mut JoinSet<()>,
    listener: TcpListener,
    mode: Mode,
    family: Family,
    sites: Arc<Sites>,
) {
    tasks.spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                // Out of file descriptors (or a connection reset while
                // queued): the connection stays queued, so pause rather
                // than spin on the same error.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let sites = sites.clone();
            conns.spawn(async move {
                let _ = tokio::time::timeout(
                    HOSTILE_MAX_TIME + Duration::from_secs(10),
                    handle(stream, mode, family, sites),
                )
                .await;
            });
            while conns.try_join_next().is_some() {}
        }
    });
}

async fn handle(stream: TcpStream, mode: Mode, family: Family, sites: Arc<Sites>) {
    match mode {
        Mode::Silent => {
            // Read (and drop) whatever comes until the peer leaves or time is up.
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(SILENT_HOLD, async {
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
        Mode::Plain => respond(stream, false, family, &sites).await,
        Mode::Tls => {
            let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let Ok(Ok(start)) = tokio::time::timeout(REQUEST_TIMEOUT, acceptor).await else {
                return;
            };
            let host = start
                .client_hello()
                .server_name()
                .map(str::to_ascii_lowercase);
            let site = host.as_deref().and_then(|h| sites.by_host.get(h));
            let scenario = site.map(|s| s.scenario);
            if let Some(site) = site
                && site.scenario == Scenario::FlakyV6
                && family == Family::V6
                && first_of_a_visit(&site.v6_handshakes, sites.started)
            {
                // A lost flight: the connection ends after the ClientHello.
                return;
            }
            let config = match (scenario, family) {
                (Some(Scenario::V6WrongCert), Family::V6) => sites.pki.wrong_name.clone(),
                (Some(Scenario::V6ExpiredCert), Family::V6) => sites.pki.expired.clone(),
                _ => sites.pki.good.clone(),
            };
            let Ok(Ok(tls)) =
                tokio::time::timeout(REQUEST_TIMEOUT, start.into_stream(config)).await
            else {
                return;
            };
            respond(tls, true, family, &sites).await;
        }
    }
}

/// Whether a handshake now is an odd one of its visit (the first, the
/// third...), a visit ending after 10 s without a handshake. Counts it.
fn first_of_a_visit(seen: &std::sync::Mutex<(u32, u64)>, started: std::time::Instant) -> bool {
    let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let (count, last) = *seen;
    let count = if count > 0 && now.saturating_sub(last) > 10_000 {
        0
    } else {
        count
    };
    *seen = (count + 1, now);
    count % 2 == 0
}

/// The request line's path and the Host header, once the head has arrived.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, String)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if buf.len() > MAX_REQUEST_HEAD {
                return None;
            }
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read).await.ok()??;
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let host = lines
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("host")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    // Drop the port.
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h.to_owned(),
        _ => host,
    };
    Some((path, host.to_ascii_lowercase()))
}

fn page(title: &str, paragraphs: &[String]) -> String {
    let mut body = format!(
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif}}</style><script>var started = Date.now();</script></head><body>\n<h1>{title}</h1>\n"
    );
    for p in paragraphs {
        body.push_str(&format!("<p>{p}</p>\n"));
    }
    body.push_str("</body></html>\n");
    body
}

/// A portal's page. It loads a stylesheet from its own host and an image
/// from the lab's CDN host (edge.lab.test, with AAAA); `subresource-v4-only`
/// loads its script from the host without AAAA.
fn portal_page(site: &Site, sites: &Sites) -> String {
    let name = &site.name;
    let (v4_only, https) = &sites.v4_only_target;
    let mut resources = format!(
        "<link rel=\"stylesheet\" href=\"/assets/site.css\"><img src=\"https://{}:{https}/logo.png\" alt=\"\">",
        crate::CNAME_EDGE
    );
    if site.scenario == Scenario::SubresourceV4Only {
        resources.push_str(&format!(
            "<script src=\"https://{v4_only}:{https}/app.js\"></script>"
        ));
    }
    let page = page(
        name,
        &[
            format!("Chào mừng đến với {name}. Cổng cung cấp thông tin và dịch vụ công trực tuyến cho người dân và doanh nghiệp."),
            "Tra cứu hồ sơ, nộp hồ sơ trực tuyến, thanh toán phí và lệ phí, theo dõi kết quả giải quyết thủ tục hành chính.".to_owned(),
            "Welcome. This portal offers public information and online services to citizens and businesses: \
             search records, submit applications, pay fees and follow the progress of administrative procedures."
                .to_owned(),
            "Đường dây nóng: 1900 0000. Giờ làm việc: thứ Hai đến thứ Sáu, 7 giờ 30 đến 17 giờ.".to_owned(),
        ],
    );
    page.replacen("</body>", &format!("{resources}</body>"), 1)
}

fn default_page() -> String {
    page(
        "Welcome to nginx!",
        &[
            "If you see this page, the nginx web server is successfully installed and working. Further configuration is required.".to_owned(),
            "For online documentation and support please refer to nginx.org.".to_owned(),
            "Thank you for using nginx.".to_owned(),
        ],
    )
}

async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    extra: &[(&str, String)],
    body: &str,
) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nServer: v6audit-lab\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

// Long because it is the lab's dispatch: each case's answer, in the order the cases apply.
async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    tls: bool,
    family: Family,
    sites: &Sites,
) {
    let Some((path, host)) = read_head(&mut stream).await else {
        return;
    };
    let site = if host == sites.v4_only_target.0 {
        None
    } else {
        match sites.by_host.get(&host) {
            Some(s) => Some(s),
            None => {
                write_response(
                    &mut stream,
                    "404 Not Found",
                    &[],
                    &page("Not found", &[format!("No lab portal is called {host}.")]),
                )
                .await;
                return;
            }
        }
    };
    let Some(site) = site else {
        // The IPv4-only redirect target: an ordinary page.
        let body = page(
            "Đăng nhập một cửa",
            &["Trang đăng nhập dùng chung (single sign-on) của các cổng dịch vụ công.".to_owned()],
        );
        write_response(&mut stream, "200 OK", &[], &body).await;
        return;
    };
    match site.scenario {
        Scenario::HostileHeaders => return hostile_headers(&mut stream).await,
        Scenario::HostileBody => return hostile_body(&mut stream).await,
        Scenario::HostileSlow => return hostile_slow(&mut stream, &portal_page(site, sites)).await,
        Scenario::HostileRedirectLoop => {
            let next = if path == "/a" { "/b" } else { "/a" };
            return write_response(
                &mut stream,
                "302 Found",
                &[("Location", next.to_owned())],
                "",
            )
            .await;
        }
        _ => {}
    }
    if !tls {
        // Plain HTTP sends visitors to HTTPS, as a well-run portal does.
        let location = format!("https://{host}:{}{path}", site.tls_port);
        return write_response(
            &mut stream,
            "301 Moved Permanently",
            &[("Location", location)],
            "",
        )
        .await;
    }
    match (site.scenario, family) {
        (Scenario::RedirectV4Only, _) if path == "/" => {
            let (target, port) = &sites.v4_only_target;
            let location = format!("https://{target}:{port}/login");
            write_response(&mut stream, "302 Found", &[("Location", location)], "").await;
        }
        (Scenario::V6Status, Family::V6) => {
            write_response(
                &mut stream,
                "404 Not Found",
                &[],
                &page(
                    "404 Not Found",
                    &["The requested URL was not found on this server.".to_owned()],
                ),
            )
            .await;
        }
        (Scenario::V6Content, Family::V6) => {
            write_response(&mut stream, "200 OK", &[], &default_page()).await
        }
        _ => write_response(&mut stream, "200 OK", &[], &portal_page(site, sites)).await,
    }
}

/// A status line, then headers forever (bounded by the lab's limits).
async fn hostile_headers<S: AsyncWrite + Unpin>(stream: &mut S) {
    let _ = tokio::time::timeout(HOSTILE_MAX_TIME, async {
        if stream.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
            return;
        }
        let line = format!("X-Padding: {}\r\n", "a".repeat(1000));
        let mut sent = 0;
        while sent < HOSTILE_MAX_BYTES {
            if stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            sent += line.len();
        }
    })
    .await;
}

/// A complete head, then a body that never ends (bounded by the lab's limits).
async fn hostile_body<S: AsyncWrite + Unpin>(stream: &mut S) {
    let _ = tokio::time::timeout(HOSTILE_MAX_TIME, async {
        let head = "HTTP/1.1 200 OK\r\nServer: v6audit-lab\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><head><title>Endless</title></head><body>";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = "<p>Dữ liệu không bao giờ kết thúc. Endless data.</p>\n".repeat(64);
        let mut sent = 0;
        while sent < HOSTILE_MAX_BYTES {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
            sent += chunk.len();
        }
    })
    .await;
}

/// A whole response, one byte per second.
async fn hostile_slow<S: AsyncWrite + Unpin>(stream: &mut S, body: &str) {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(HOSTILE_MAX_TIME, async {
        for b in response.as_bytes() {
            if stream.write_all(&[*b]).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
}

/// Binds an IPv4 listener and the same port on IPv6, retrying until both are free.
/// `v6` chooses what the IPv6 side is: a listener, or a socket that is bound
/// but never listens (so connections to it are refused).
pub fn bind_pair(v6_listens: bool) -> std::io::Result<(TcpListener, V6Side, u16)> {
    let mut last_err = None;
    for _ in 0..50 {
        let v4 = listen(SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 0))?;
        let port = v4.local_addr()?.port();
        let v6_addr = SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), port);
        let v6 = if v6_listens {
            listen(v6_addr).map(V6Side::Listening)
        } else {
            bound_only(v6_addr).map(V6Side::Refusing)
        };
        match v6 {
            Ok(side) => {
                v4.set_nonblocking(true)?;
                return Ok((TcpListener::from_std(v4)?, side, port));
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port pair on loopback")))
}

/// The IPv6 half of a port pair.
#[derive(Debug)]
pub enum V6Side {
    /// A listener on `::1`, IPv6 only.
    Listening(std::net::TcpListener),
    /// Bound, never listening: holds the port so connecting is refused.
    Refusing(socket2::Socket),
}

/// How many connections may wait to be accepted on a listener. One listener
/// serves every lab portal of its kind, and 64 portals in flight open
/// several connections each at once: the default backlog of 128 overflowed,
/// the kernel then dropped the handshake's last ACK, and the agent met
/// connections that stalled or closed during the TLS handshake. The kernel
/// caps it at `net.core.somaxconn` (4096 on current kernels).
pub const BACKLOG: i32 = 4096;

/// A listening socket on `addr` with the lab's backlog (IPv6 only on an
/// IPv6 address, so the two families stay two listeners).
pub fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

fn bound_only(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    let s = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?;
    s.set_only_v6(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}
