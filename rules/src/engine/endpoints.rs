//! What the web and TLS rules both say of endpoints: the IPv6 ones, why an
//! endpoint's TCP connection, TLS handshake or HTTP exchange failed, which of
//! them the agent could not try, and the earlier tries a second one made good.

use v6audit_model::{
    Endpoint, EndpointAttempt, Family, HttpExchange, HttpOutcome, Observation, TcpOutcome,
    TlsOutcome,
};

use super::endpoint_label;
use crate::words::{self, word};

pub(super) fn v6_endpoints(obs: &Observation) -> impl Iterator<Item = &Endpoint> {
    obs.endpoints.iter().filter(|e| e.family == Family::V6)
}

pub(super) fn tcp_reason(e: &Endpoint) -> String {
    word(words::tcp(e.tcp.outcome))
}

pub(super) fn tls_reason(e: &Endpoint) -> String {
    let Some(tls) = &e.tls else {
        return format!("{} ({})", word("tls.no_tcp"), tcp_reason(e));
    };
    let what = word(words::tls(tls.outcome));
    match &tls.error {
        // An alert's name or the library's reason says what the word cannot;
        // a timeout, a close or a version refusal is said in full by its word.
        Some(err)
            if !err.is_empty() && matches!(tls.outcome, TlsOutcome::Alert | TlsOutcome::Error) =>
        {
            format!("{what} ({err})")
        }
        _ => what,
    }
}

/// Why an exchange gave no usable response, in a few words.
pub fn exchange_reason(x: &HttpExchange) -> String {
    let what = word(words::http(x.outcome));
    match crate::render::reason_value(x.why.as_ref(), x.error.as_deref()) {
        // The outcome says all a timeout or a close can say.
        Some(e)
            if !e.is_empty()
                && !matches!(x.outcome, HttpOutcome::Timeout | HttpOutcome::Closed) =>
        {
            format!("{what}: {e}")
        }
        _ => what,
    }
}

/// Which step of an earlier try failed, and how.
fn attempt_failure(a: &EndpointAttempt) -> String {
    if a.tcp.outcome != TcpOutcome::Connected {
        format!("TCP: {}", word(words::tcp(a.tcp.outcome)))
    } else if let Some(t) = a.tls.as_ref().filter(|t| t.outcome != TlsOutcome::Ok) {
        format!("TLS: {}", word(words::tls(t.outcome)))
    } else {
        match &a.http {
            Some(x) => format!("HTTP: {}", exchange_reason(x)),
            None => "HTTP".to_owned(),
        }
    }
}

/// The earlier tries of `eps` that failed at the step `at` picks, each as
/// "endpoint: how it failed", and the number of tries in all: what a
/// `retried` outcome says when a second try succeeded.
pub(super) fn retries(eps: &[&Endpoint], at: fn(&EndpointAttempt) -> bool) -> (Vec<String>, usize) {
    let attempts = eps.iter().map(|e| e.attempts()).sum();
    let failed = eps
        .iter()
        .flat_map(|e| {
            e.failed_attempts
                .iter()
                .filter(move |a| at(a))
                .map(move |a| format!("{} ({})", endpoint_label(e), attempt_failure(a)))
        })
        .collect();
    (failed, attempts)
}

/// Endpoints of which none could be tried (the agent's budget or sockets).
pub(super) fn none_tried(eps: &[&Endpoint]) -> bool {
    !eps.is_empty()
        && eps
            .iter()
            .all(|e| matches!(e.tcp.outcome, TcpOutcome::NotTried | TcpOutcome::LocalError))
}
