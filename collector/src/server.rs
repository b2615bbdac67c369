//! Serving the API: on a listener it is given (tests bind port 0), plain
//! HTTP or TLS (rustls), until a shutdown future resolves; SIGHUP rereads
//! the inventories. This module owns the bounds on connections: how many
//! are served at once, how long a client has to send a request's head, when
//! an idle connection is closed, and how long a stopping collector waits.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::Request;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::router::router;
use crate::state::AppState;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The TLS certificate or key could not be read or used.
    #[error("cannot use the TLS certificate or key: {0}")]
    Tls(String),
    /// An I/O error; `serve` itself returns none (a failed accept is retried).
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let err = |e: String| ServeError::Tls(e);
    let read = |path: &Path| {
        v6audit_model::input::read_bytes(path, v6audit_model::FileKind::TlsCertificate)
            .map_err(|e| err(e.to_string()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| err(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A collector serving in a task of the current runtime until stopped: the
/// demo, the benchmarks and the tests run one beside their own work.
#[derive(Debug)]
pub struct Background {
    /// The address it listens on (with the port chosen when port 0 was asked for).
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Background {
    /// Starts serving `state` on `listener`.
    pub fn spawn(listener: TcpListener, state: Arc<AppState>) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self { addr, stop, task })
    }

    /// `http://<address>`, without a final slash.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops taking connections, lets requests in flight finish (within the
    /// shutdown deadline), and says how serving ended. A panic in the server
    /// goes on in the caller.
    pub async fn stop(self) -> Result<(), ServeError> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Ok(()),
        }
    }
}

/// The bounds every connection is served within (from the configuration).
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
    shutdown_timeout: Duration,
}

/// How long the accept loop rests after a failed accept (most often: out of
/// file descriptors), rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves until `shutdown` resolves, then lets requests in flight finish
/// within the shutdown deadline and drops the connections still open.
///
/// Connections are HTTP/1.1 (hyper's HTTP/2 has no header-read timeout). A
/// client has `header_timeout` to send a request's head, the TLS handshake
/// included, and again for each next head on a kept-alive connection; a
/// connection on which nothing moves for `idle_timeout` while no request is
/// being handled is closed. At most `max_connections` are served at once:
/// past that the collector stops accepting, so new clients wait in the
/// kernel's listen queue until a connection closes (each is bounded by the
/// timeouts above) instead of being turned away or using up descriptors.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let tls = match &state.config.tls {
        None => None,
        Some((cert, key)) => Some(tokio_rustls::TlsAcceptor::from(tls_config(cert, key)?)),
    };
    let limits = Limits {
        max_connections: state.config.max_connections,
        header_timeout: state.config.header_timeout,
        idle_timeout: state.config.idle_timeout,
        shutdown_timeout: state.config.shutdown_timeout,
    };
    let reload = state.clone();
    #[cfg(unix)]
    let sighup = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match reload.reload_catalog().await {
                Ok(()) => tracing::info!("inventories reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "inventories not reloaded; keeping the previous ones")
                }
            }
        }
    });
    // Read the daily stages into the projections' index now, not on the
    // first visitor's time.
    crate::projections::warm(state.clone());
    let app = router(state.clone());
    accept_loop(listener, tls, app, limits, shutdown).await;
    #[cfg(unix)]
    sighup.abort();
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut connections = JoinSet::new();
    loop {
        // Forget the connections that ended (each holds its slot until then).
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let tcp = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    drop(slot);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let (tls, app, watcher) = (tls.clone(), app.clone(), graceful.watcher());
        connections.spawn(async move {
            serve_connection(tcp, tls, app, limits, watcher).await;
            drop(slot);
        });
    }
    drop(listener);
    // Idle connections close now; requests in flight have until the deadline.
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "shutdown deadline passed; dropping the connections still open"
        );
    }
    connections.shutdown().await;
}

/// One connection, from the TLS handshake (when serving TLS) to its end.
async fn serve_connection(
    tcp: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    limits: Limits,
    watcher: Watcher,
) {
    let activity = Arc::new(Activity::new());
    match tls {
        None => {
            serve_http(
                Watched::new(tcp, activity.clone()),
                app,
                limits,
                watcher,
                activity,
            )
            .await
        }
        Some(acceptor) => {
            // The handshake is bounded like a request's head.
            let Ok(Ok(stream)) =
                tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await
            else {
                return;
            };
            serve_http(
                Watched::new(stream, activity.clone()),
                app,
                limits,
                watcher,
                activity,
            )
            .await;
        }
    }
}

async fn serve_http<T>(
    io: Watched<T>,
    app: axum::Router,
    limits: Limits,
    watcher: Watcher,
    activity: Arc<Activity>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let service = Tracked {
        inner: TowerToHyperService::new(app),
        activity: activity.clone(),
    };
    let conn = watcher.watch(http.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        _ = conn => {}
        () = idle(&activity, limits.idle_timeout) => {
            tracing::debug!("closing a connection idle for {:?}", limits.idle_timeout);
        }
    }
}

/// What a connection did lately: when a byte last moved, and how many
/// requests are being handled.
#[derive(Debug)]
struct Activity {
    born: Instant,
    /// Milliseconds after `born`.
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            born: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(last)
    }
}

/// Resolves once nothing moved on the connection for `limit` while no
/// request was being handled (a handler that works long without I/O is not
/// idle; a body that stalls is the handler's to give up on).
async fn idle(activity: &Activity, limit: Duration) {
    loop {
        let quiet = activity.quiet_for();
        let wait = if activity.busy.load(Ordering::Relaxed) > 0 {
            limit
        } else if quiet >= limit {
            return;
        } else {
            limit - quiet
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// Counts a request as being handled until its response is ready.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// The router, counting the requests being handled on its connection.
#[derive(Debug, Clone)]
struct Tracked {
    inner: TowerToHyperService<axum::Router>,
    activity: Arc<Activity>,
}

type Answer = Result<axum::response::Response, std::convert::Infallible>;

impl Service<Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = Busy::new(&self.activity);
        let answer = self.inner.call(req);
        Box::pin(async move {
            let out = answer.await;
            drop(busy);
            out
        })
    }
}

/// A stream that notes in its [`Activity`] each time bytes move.
#[derive(Debug)]
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    fn new(inner: T, activity: Arc<Activity>) -> Self {
        activity.touch();
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
