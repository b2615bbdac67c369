//! The lab fixture moved in time: every RFC 3339 time in it by one offset
//! (observations and certificates alike), so what it is judged to be stays
//! what it was when it was recorded. Shared by the tests and the benches.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// When the report was made (its `generated_at`).
pub(crate) fn generated_at(report: &Value) -> OffsetDateTime {
    report["generated_at"]
        .as_str()
        .and_then(parse)
        .expect("the fixture has a generated_at")
}

/// Moves every RFC 3339 time in `v` by `by`.
pub(crate) fn shift_times(v: &mut Value, by: Duration) {
    match v {
        Value::String(s) => {
            if let Some(t) = parse(s) {
                *s = (t + by).format(&Rfc3339).expect("a time within range");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| shift_times(x, by)),
        Value::Object(fields) => fields.values_mut().for_each(|x| shift_times(x, by)),
        _ => {}
    }
}

/// Moves the report so that it was made at `at`.
pub(crate) fn made_at(report: &mut Value, at: OffsetDateTime) {
    let by = at - generated_at(report);
    shift_times(report, by);
}

fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}
