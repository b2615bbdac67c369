//! Ingest: turns a pushed body into stored results, or into a 4xx answer
//! that names the problem. The body is read within its limit (gzip too, and
//! the decompressed size is held to the same limit and to the memory
//! budget), parsed as a v1 report, every string is held to its field's
//! length limit (the `MAX_*` constants), every result is checked, and each
//! observation is judged with the collector's own pack.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;
use v6audit_model::{Finding, Lang, REPORT_SCHEMA, Report, Stage, Status};
use v6audit_rules::Pack;

use crate::catalog::Catalog;
use crate::store::{EventKind, NewEvent, NewResult, StoredVerdict};

/// Why a body was refused: an HTTP status and a JSON answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The HTTP status it is answered with; not in the JSON.
    #[serde(skip)]
    pub status: u16,
    /// A short machine-readable kind.
    pub error: &'static str,
    /// What was wrong, in words for a person.
    pub message: String,
    /// The field at fault, as a path such as `results[3].portal.url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again (`Retry-After`), for 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Refusal {
    /// A refusal with this status, kind and message, naming no field.
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 503: the collector cannot take this now; retry after `seconds`.
    pub fn busy(message: impl Into<String>, seconds: u32) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(503, "busy", message)
        }
    }

    fn at(field: String, message: String) -> Self {
        Self {
            status: 400,
            error: "invalid_result",
            message,
            field: Some(field),
            retry_after: None,
        }
    }
}

/// The most results one report may carry.
pub const MAX_RESULTS: usize = 100_000;

/// The longest portal name and agency (UTF-8 bytes): each is shown on every
/// page and is a label in /metrics.
pub const MAX_NAME_BYTES: usize = 512;
/// The longest portal id (the id must also be `[a-z0-9-]+`).
pub const MAX_ID_BYTES: usize = 128;
/// The longest portal URL.
pub const MAX_URL_BYTES: usize = 2048;
/// The most tags a portal may carry.
pub const MAX_TAGS: usize = 64;
/// The longest tag (UTF-8 bytes).
pub const MAX_TAG_BYTES: usize = 64;
/// The longest of any other string in a report (finding messages,
/// remediation, errors, certificate names, banners, page titles, URLs the
/// agent saw): as much as the agent reads of a response head, so anything a
/// portal can make an agent record still fits.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// The longest object key; no field of the report format comes near it.
pub const MAX_KEY_BYTES: usize = 256;

/// Decompresses a gzip body, refusing one that grows past `limit` (413),
/// or whose memory `grow` cannot spare (503): `grow(n)` is asked before the
/// output's buffer grows to `n` bytes.
pub fn gunzip(
    body: &[u8],
    limit: usize,
    grow: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<u8>, Refusal> {
    let mut out: Vec<u8> = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body);
    let mut piece = vec![0u8; 64 * 1024];
    loop {
        let n = decoder.read(&mut piece).map_err(|e| {
            Refusal::new(
                400,
                "bad_encoding",
                format!("the gzip body cannot be read: {e}"),
            )
        })?;
        if n == 0 {
            break;
        }
        let need = out.len().saturating_add(n);
        if need > limit {
            return Err(Refusal::new(
                413,
                "too_large",
                format!(
                    "the decompressed body is larger than the limit of {} MiB",
                    limit >> 20
                ),
            ));
        }
        if need > out.capacity() {
            let capacity = need.max(out.capacity().saturating_mul(2)).min(limit);
            if !grow(capacity) {
                return Err(Refusal::busy(
                    "the collector is reading too many bodies at once; retry later",
                    crate::budget::RETRY_AFTER_S,
                ));
            }
            out.reserve_exact(capacity - out.len());
        }
        out.extend_from_slice(&piece[..n]);
    }
    Ok(out)
}

/// A step of the path to a value in a report.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_text(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The longest a string at `path` may be.
fn string_limit(path: &[Step<'_>]) -> usize {
    use Step::{Index, Key};
    match path {
        [Key("results"), Index(_), Key("portal"), Key(field)] => match *field {
            "name" | "agency" => MAX_NAME_BYTES,
            "id" => MAX_ID_BYTES,
            "url" => MAX_URL_BYTES,
            _ => MAX_TEXT_BYTES,
        },
        [
            Key("results"),
            Index(_),
            Key("portal"),
            Key("tags"),
            Index(_),
        ] => MAX_TAG_BYTES,
        _ => MAX_TEXT_BYTES,
    }
}

fn too_long(path: &[Step<'_>], message: String) -> Refusal {
    let error = match path.first() {
        Some(Step::Key("results")) => "invalid_result",
        _ => "invalid_report",
    };
    Refusal {
        field: Some(path_text(path)),
        ..Refusal::new(400, error, message)
    }
}

/// Refuses the first string (or key, or list of tags) over its limit,
/// naming its field; the string itself is not repeated in the answer.
fn check_lengths<'a>(
    value: &'a serde_json::Value,
    path: &mut Vec<Step<'a>>,
) -> Result<(), Refusal> {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let limit = string_limit(path);
            if s.len() > limit {
                return Err(too_long(
                    path,
                    format!("is {} bytes long; the limit is {limit}", s.len()),
                ));
            }
        }
        Value::Array(items) => {
            if let [
                Step::Key("results"),
                Step::Index(_),
                Step::Key("portal"),
                Step::Key("tags"),
            ] = path.as_slice()
                && items.len() > MAX_TAGS
            {
                return Err(too_long(
                    path,
                    format!("has {} tags; the limit is {MAX_TAGS}", items.len()),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                check_lengths(item, path)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if k.len() > MAX_KEY_BYTES {
                    return Err(too_long(
                        path,
                        format!(
                            "has a key {} bytes long; the limit is {MAX_KEY_BYTES}",
                            k.len()
                        ),
                    ));
                }
                path.push(Step::Key(k));
                check_lengths(v, path)?;
                path.pop();
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Parses and checks a report.
pub fn parse(body: &[u8]) -> Result<Report, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::new(400, "malformed_json", format!("the body is not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(REPORT_SCHEMA) => {}
        Some(other) => {
            let mut r = Refusal::new(
                400,
                "unknown_schema",
                format!("unknown report schema `{other}`; this collector reads `{REPORT_SCHEMA}`"),
            );
            r.field = Some("schema".to_owned());
            return Err(r);
        }
        None => {
            let mut r = Refusal::new(
                400,
                "unknown_schema",
                format!("no `schema` field; a report says `{REPORT_SCHEMA}`"),
            );
            r.field = Some("schema".to_owned());
            return Err(r);
        }
    }
    check_lengths(&value, &mut Vec::new())?;
    let report: Report = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Refusal {
            field: Some(path),
            ..Refusal::new(400, "invalid_report", e.inner().to_string())
        }
    })?;
    validate(&report)?;
    Ok(report)
}

fn validate(report: &Report) -> Result<(), Refusal> {
    if report.results.len() > MAX_RESULTS {
        let mut r = Refusal::new(
            400,
            "invalid_report",
            format!("more than {MAX_RESULTS} results in one report"),
        );
        r.field = Some("results".to_owned());
        return Err(r);
    }
    let now = time::OffsetDateTime::now_utc();
    let mut seen: HashMap<uuid::Uuid, usize> = HashMap::new();
    for (i, r) in report.results.iter().enumerate() {
        let at = |f: &str| format!("results[{i}].{f}");
        if r.id.get_version_num() != 7 {
            return Err(Refusal::at(
                at("id"),
                format!("`{}` is not a UUID v7", r.id),
            ));
        }
        if let Some(first) = seen.insert(r.id, i) {
            return Err(Refusal::at(
                at("id"),
                format!("`{}` repeats results[{first}].id", r.id),
            ));
        }
        let id = &r.portal.id;
        let id_ok = !id.is_empty()
            && id.len() <= MAX_ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-')
            && !id.ends_with('-');
        if !id_ok {
            return Err(Refusal::at(
                at("portal.id"),
                format!("`{id}` is not a portal id ([a-z0-9-]+)"),
            ));
        }
        match url::Url::parse(&r.portal.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(Refusal::at(
                    at("portal.url"),
                    format!("`{}` is not an http(s) URL", r.portal.url),
                ));
            }
        }
        let host = &r.observation.host;
        if host.is_empty()
            || host.len() > 253
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(Refusal::at(
                at("observation.host"),
                format!("`{host}` is not a host name"),
            ));
        }
        if r.observation.started_at > now + time::Duration::days(1) {
            return Err(Refusal::at(
                at("observation.started_at"),
                format!(
                    "{} is in the future; is the agent's clock right?",
                    r.observation.started_at
                ),
            ));
        }
    }
    Ok(())
}

fn ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Judges each result with the collector's pack (in English; pages render
/// other languages when asked) and the catalog's description of its portal.
/// Fails only if a value cannot be written as JSON, which would be a bug:
/// nothing is stored with an empty column in its place.
pub fn stored_results(
    report: &Report,
    pack: &Pack,
    catalog: &Catalog,
) -> Result<Vec<NewResult>, serde_json::Error> {
    report
        .results
        .iter()
        .map(|r| {
            let portal = catalog
                .describe(&r.portal.id, Some(&r.portal))
                .unwrap_or_else(|| r.portal.clone());
            Ok(NewResult {
                id: r.id.to_string(),
                portal_id: r.portal.id.clone(),
                observed_ms: ms(r.observation.started_at),
                portal: serde_json::to_string(&r.portal)?,
                observation: serde_json::to_string(&r.observation)?,
                verdict: stored_verdict(pack, &r.observation, &portal)?,
            })
        })
        .collect()
}

/// The collector's verdict of one observation of a portal: what ingest
/// stores and what `collector rescore` stores again.
pub fn stored_verdict(
    pack: &Pack,
    observation: &v6audit_model::Observation,
    portal: &v6audit_model::PortalInfo,
) -> Result<StoredVerdict, serde_json::Error> {
    let v = v6audit_rules::evaluate(pack, observation, portal, Lang::En);
    Ok(StoredVerdict {
        stage: v.stage,
        stage_certain: v.stage_certain,
        score: i64::from(v.score),
        priority: i64::from(v.priority),
        findings: serde_json::to_string(&v.findings)?,
        pack: format!("{}/{}", pack.name, pack.version),
    })
}

/// `tls.v6-cert` failing because a certificate over IPv6 expired: its
/// `invalid` outcome with a chain that names the `expired` word.
fn cert_expired(f: &Finding) -> bool {
    use v6audit_rules::words;
    let expired = words::word(words::chain(v6audit_model::ChainStatus::Expired));
    f.rule == "tls.v6-cert"
        && f.status == Status::Fail
        && f.outcome == "invalid"
        && f.values.values().any(|v| v.contains(&expired))
}

/// What changed between a portal's previous verdict and its new one.
pub fn derive_events(new: &NewResult, previous: Option<&StoredVerdict>) -> Vec<NewEvent> {
    let Some(prev) = previous else {
        return Vec::new();
    };
    let (from, to) = (prev.stage, new.verdict.stage);
    let mut events = Vec::new();
    let event = |kind: EventKind, message: String| NewEvent {
        kind,
        from_stage: Some(from),
        to_stage: to,
        rule: None,
        message,
    };
    if to < from {
        let kind = if from >= Stage::Reachable && to <= Stage::Broken {
            EventKind::LostIpv6
        } else {
            EventKind::Regression
        };
        events.push(event(
            kind,
            format!("{} went from stage {} to {}", new.portal_id, from, to),
        ));
    } else if to > from {
        let kind = if from <= Stage::Broken && to == Stage::Reachable {
            EventKind::GainedIpv6
        } else if from < Stage::DualStack && to >= Stage::DualStack {
            EventKind::ReachedDualStack
        } else {
            EventKind::Improvement
        };
        events.push(event(
            kind,
            format!("{} went from stage {} to {}", new.portal_id, from, to),
        ));
    }
    let parse = |json: &str| serde_json::from_str::<Vec<Finding>>(json).unwrap_or_default();
    let (old, now) = (parse(&prev.findings), parse(&new.verdict.findings));
    for f in now.iter().filter(|f| f.status == Status::Fail) {
        let before = old.iter().find(|o| o.rule == f.rule).map(|o| o.status);
        // Decided from the rule, the status and the stored outcome and
        // values, never from the words (a pack may word them otherwise).
        if before.is_some_and(|s| s != Status::Fail) && cert_expired(f) {
            events.push(NewEvent {
                kind: EventKind::CertExpiredV6,
                from_stage: Some(from),
                to_stage: to,
                rule: Some(f.rule.clone()),
                message: format!("{}: {}", new.portal_id, f.message),
            });
        } else if before == Some(Status::Pass) {
            events.push(NewEvent {
                kind: EventKind::RuleRegressed,
                from_stage: Some(from),
                to_stage: to,
                rule: Some(f.rule.clone()),
                message: format!(
                    "{}: {} passed before and fails now: {}",
                    new.portal_id, f.rule, f.message
                ),
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use v6audit_model::Severity;

    fn verdict(stage: u8, cert: Finding) -> StoredVerdict {
        StoredVerdict {
            stage: Stage::try_from(stage).unwrap(),
            stage_certain: true,
            score: 90,
            priority: 0,
            findings: serde_json::to_string(&[cert]).unwrap(),
            pack: "default/1".to_owned(),
        }
    }

    fn cert(status: Status, outcome: &str, problems: &str, message: &str) -> Finding {
        Finding {
            rule: "tls.v6-cert".to_owned(),
            status,
            severity: Severity::High,
            outcome: outcome.to_owned(),
            values: [("problems".to_owned(), problems.to_owned())].into(),
            message: message.to_owned(),
            remediation: String::new(),
        }
    }

    /// Regression (issue 14.1): `cert_expired_v6` was decided by
    /// `message.contains("expired")`, so a pack worded otherwise (or a
    /// Vietnamese one) silently stopped it. It is decided from the rule,
    /// the status, the outcome and the values now.
    #[test]
    fn an_expired_certificate_is_an_event_whatever_the_words() {
        let before = verdict(3, cert(Status::Pass, "valid", "", "valid"));
        let new = |message: &str, problems: &str| NewResult {
            id: "r".to_owned(),
            portal_id: "p".to_owned(),
            observed_ms: 0,
            portal: String::new(),
            observation: String::new(),
            verdict: verdict(2, cert(Status::Fail, "invalid", problems, message)),
        };
        let kinds = |r: &NewResult| {
            derive_events(r, Some(&before))
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>()
        };
        let expired = new(
            "Chứng thư qua IPv6 không hợp lệ",
            "[2001:db8::1]:443: {=chain.expired} {=cert.on} 2026-01-01",
        );
        assert_eq!(
            kinds(&expired),
            [EventKind::Regression, EventKind::CertExpiredV6]
        );
        // "expired" in the words but not in the facts: a wrong name.
        let wrong_name = new(
            "certificate expired? no: name mismatch",
            "[2001:db8::1]:443: {=chain.name_mismatch}",
        );
        assert_eq!(
            kinds(&wrong_name),
            [EventKind::Regression, EventKind::RuleRegressed]
        );
    }
}
