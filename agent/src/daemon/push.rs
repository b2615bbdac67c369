//! Pushing reports to a collector: `POST /api/v1/reports`, gzip-compressed,
//! with the agent's token. The answer says whether a failure is worth
//! retrying (the collector is away, busy or rate-limiting) or not (the
//! report was refused for what it is).

use std::path::Path;
use std::time::Duration;

use url::Url;

/// What the collector said it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// Results the collector stored.
    pub stored: u64,
    /// Results the collector already had (by their id), not stored again.
    pub duplicates: u64,
}

/// Why a push did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// Try again later: no connection, a timeout, 5xx, 429, or a revoked or
    /// unknown token (which an operator can fix without losing reports).
    #[error("{0}")]
    Retry(String),
    /// The collector refused the report itself (400, 413): sending it again cannot help.
    #[error("{0}")]
    Refused(String),
}

/// A client for one collector.
#[derive(Debug, Clone)]
pub struct Pusher {
    client: reqwest::Client,
    endpoint: Url,
    token: String,
}

impl Pusher {
    /// `base` is the collector's address (`https://collector:8080/`).
    pub fn new(
        base: &Url,
        token: &str,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let endpoint = base
            .join("api/v1/reports")
            .map_err(|e| format!("`{base}` cannot take a path: {e}"))?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("v6audit-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            builder = trust_ca_file(builder, path)?;
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Self {
            client,
            endpoint,
            token: token.trim().to_owned(),
        })
    }

    /// An API address of the collector: `path` beside the reports endpoint,
    /// so `url("inventory")` is `<base>/api/v1/inventory`.
    pub fn url(&self, path: &str) -> Result<Url, String> {
        self.endpoint.join(path).map_err(|e| e.to_string())
    }

    /// The HTTP client, with the collector's CA and the timeouts, for other requests to it.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The agent's token (trimmed), sent as a bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends one gzip-compressed v1 report.
    pub async fn push(&self, gzipped_report: Vec<u8>) -> Result<Acked, PushError> {
        let response = self
            .client
            .post(self.endpoint.clone())
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(gzipped_report)
            .send()
            .await
            .map_err(|e| {
                PushError::Retry(format!(
                    "cannot reach the collector at {}: {e}",
                    self.endpoint
                ))
            })?;
        let status = response.status();
        // The answer is small JSON; read at most 64 KiB of it.
        let text = read_capped(response, 64 << 10).await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status.is_success() {
            return Ok(Acked {
                stored: body["stored"].as_u64().unwrap_or(0),
                duplicates: body["duplicates"].as_u64().unwrap_or(0),
            });
        }
        let message = body["message"].as_str().unwrap_or(text.trim());
        let field = body["field"]
            .as_str()
            .map(|f| format!(" (field {f})"))
            .unwrap_or_default();
        let why = format!("the collector answered {status}: {message}{field}");
        match status.as_u16() {
            400 | 413 | 415 | 422 => Err(PushError::Refused(why)),
            _ => Err(PushError::Retry(why)),
        }
    }
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Option<String> {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() > cap {
            buf.truncate(cap);
            break;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Adds the CA certificates of a PEM file (read within the CA file's bound)
/// to an HTTP client's roots: how the agent's push and the self-check both
/// trust a collector's private CA.
pub fn trust_ca_file(
    mut builder: reqwest::ClientBuilder,
    path: &Path,
) -> Result<reqwest::ClientBuilder, String> {
    let pem = v6audit_model::input::read_bytes(path, v6audit_model::FileKind::CaFile)
        .map_err(|e| e.to_string())?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    for c in certs {
        builder = builder.add_root_certificate(c);
    }
    Ok(builder)
}

/// A report as a push body: JSON, gzip-compressed.
pub fn gzip_report(report: &v6audit_model::Report) -> Vec<u8> {
    use std::io::Write;
    let json = serde_json::to_vec(report).unwrap_or_default();
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(&json);
    enc.finish().unwrap_or_default()
}
