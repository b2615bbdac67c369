//! `POST /api/v1/reports`: an agent's report, authenticated, rate-limited,
//! read within the body limit and the memory budget, checked, judged and
//! stored; every refusal drains the body and names the problem.

use super::*;

pub(super) async fn ingest_handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match ingest_inner(&state, &headers, body).await {
        Ok((r, from_day)) => {
            crate::projections::ingested(&state, from_day).await;
            r
        }
        Err(ApiError(refusal)) => {
            if refusal.status == 429 {
                Counters::add(&state.counters.rate_limited, 1);
            } else {
                Counters::add(&state.counters.reports_rejected, 1);
            }
            ApiError(refusal).into_response()
        }
    }
}

/// Why a body was not read, as an answer.
pub(super) fn unread(e: crate::body::Unread, limit: usize) -> ApiError {
    use crate::body::Unread;
    ApiError(match e {
        Unread::TooLarge => Refusal::new(
            413,
            "too_large",
            format!("the body is larger than the limit of {} MiB", limit >> 20),
        ),
        Unread::OverBudget => Refusal::busy(
            "the collector is reading too many bodies at once; retry later",
            crate::budget::RETRY_AFTER_S,
        ),
        Unread::Stalled => Refusal::new(408, "timeout", "the body stopped arriving"),
        Unread::Broken => Refusal::new(400, "bad_body", "the body could not be read"),
    })
}

/// The answer, and the earliest day the stored results fall on.
pub(super) async fn ingest_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, Option<i64>), ApiError> {
    let limit = state.config.body_limit;
    // A refusal before the body is read drains it, keeping none of it, so
    // the sender gets the answer rather than a connection reset mid-upload.
    let agent = match admitted_agent(state, headers).await {
        Ok(a) => a,
        Err(refusal) => {
            crate::body::drain(body, limit).await;
            return Err(refusal);
        }
    };
    // Held, with the memory it stands for, until the answer is sent. A body
    // over the limit is read on and dropped up to four times the limit, so
    // its sender gets the 413; past that the connection closes.
    let (bytes, _held) = crate::body::read(
        body,
        limit,
        limit.saturating_mul(3),
        &state.bodies,
        state.config.idle_timeout,
    )
    .await
    .map_err(|e| unread(e, limit))?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let mut inflated_held = crate::budget::Held::default();
    let inflated;
    let body: &[u8] = if gzip {
        let budget = &state.bodies;
        inflated = ingest::gunzip(&bytes, limit, &mut |n| {
            budget.grow_to(&mut inflated_held, n)
        })
        .map_err(ApiError)?;
        &inflated
    } else {
        &bytes
    };
    let report = ingest::parse(body).map_err(ApiError)?;
    let pack = state.pack();
    let catalog = state.catalog();
    let results = ingest::stored_results(&report, &pack, &catalog).map_err(internal)?;
    let meta = NewReport {
        id: report.id.to_string(),
        agent: agent.name.clone(),
        received_ms: now_ms(),
        generated_ms: i64::try_from(report.generated_at.unix_timestamp_nanos() / 1_000_000)
            .unwrap_or(0),
    };
    let offset = i64::from(state.config.utc_offset.whole_seconds());
    let done = state
        .store
        .ingest(&meta, &results, &ingest::derive_events, offset)
        .await
        .map_err(internal)?;
    Counters::add(&state.counters.reports_accepted, 1);
    Counters::add(&state.counters.results_stored, done.stored as u64);
    Counters::add(&state.counters.results_duplicate, done.duplicates as u64);
    state.webhooks.send(&done.events);
    tracing::info!(agent = %agent.name, report = %meta.id, stored = done.stored, duplicates = done.duplicates, "report stored");
    let from_day = results
        .iter()
        .map(|r| crate::store::day_of(r.observed_ms, offset))
        .min();
    Ok((
        Json(json!({
            "report": meta.id,
            "stored": done.stored,
            "duplicates": done.duplicates,
            "events": done.events.len(),
        }))
        .into_response(),
        from_day,
    ))
}

/// The agent that sends the report, when it is known and within its rate.
async fn admitted_agent(state: &AppState, headers: &HeaderMap) -> Result<Agent, ApiError> {
    let agent = authenticate(state, headers).await?;
    if let Err(wait_s) = state.allow(&agent.name) {
        return Err(ApiError(Refusal {
            retry_after: Some(wait_s),
            ..Refusal::new(
                429,
                "rate_limited",
                format!(
                    "agent `{}` sends more than {} reports a minute; retry later",
                    agent.name, state.config.reports_per_minute
                ),
            )
        }));
    }
    Ok(agent)
}
