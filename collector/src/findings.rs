//! A stored verdict in a reader's language. Findings are stored with their
//! outcome key and values (report v1), so the API and the dashboard say them
//! in Vietnamese or English with `rules::render`, from the same stored
//! outcome, without judging the observation again: `collector rescore` is
//! the only path that judges stored results anew.

use v6audit_model::{Finding, Lang, Verdict};
use v6audit_rules::Pack;

use crate::store::StoredVerdict;

/// The findings stored as `json`, worded in `lang`. A finding stored before
/// findings carried an outcome keeps its stored (English) words.
pub fn findings_in(pack: &Pack, json: &str, lang: Lang) -> Result<Vec<Finding>, String> {
    let mut findings: Vec<Finding> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    if lang != Lang::En {
        for f in &mut findings {
            if let Some((message, remediation)) = v6audit_rules::render::finding(pack, f, lang) {
                f.message = message;
                f.remediation = remediation;
            }
        }
    }
    Ok(findings)
}

/// The stored verdict as the model's, its findings worded in `lang`.
pub fn verdict_in(pack: &Pack, stored: &StoredVerdict, lang: Lang) -> Result<Verdict, String> {
    let stage = stored.stage;
    Ok(Verdict {
        stage,
        stage_name: stage.name().to_owned(),
        stage_certain: stored.stage_certain,
        score: u8::try_from(stored.score.clamp(0, 100)).unwrap_or(0),
        priority: u32::try_from(stored.priority.max(0)).unwrap_or(u32::MAX),
        findings: findings_in(pack, &stored.findings, lang)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use v6audit_model::{Severity, Status};

    /// Regression (issue 14.1): the Vietnamese view of a stored finding was
    /// judged again from the observation; it now comes from the stored
    /// outcome and values, the same ones the English view shows.
    #[test]
    fn the_vietnamese_view_comes_from_the_stored_outcome() {
        let pack = Pack::default_pack();
        let f = Finding {
            rule: "web.v6-reachable".to_owned(),
            status: Status::Fail,
            severity: Severity::Critical,
            outcome: "unreachable".to_owned(),
            values: [
                ("count", "1"),
                ("total", "1"),
                ("failed", "[2001:db8::1]:443 {=tcp.refused}"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            message: "1 of 1 IPv6 endpoints do not accept TCP: [2001:db8::1]:443 refused."
                .to_owned(),
            remediation: "Make the web server listen on IPv6".to_owned(),
        };
        let old = Finding {
            outcome: String::new(),
            values: Default::default(),
            message: "stored words".to_owned(),
            ..f.clone()
        };
        let json = serde_json::to_string(&[f, old]).unwrap();
        let vi = findings_in(&pack, &json, Lang::Vi).unwrap();
        assert_eq!(
            vi[0].message,
            "1/1 điểm cuối IPv6 không nhận kết nối TCP: [2001:db8::1]:443 bị từ chối."
        );
        assert!(
            !vi[0].remediation.is_empty()
                && vi[0].remediation != "Make the web server listen on IPv6"
        );
        assert_eq!(vi[1].message, "stored words");
        let en = findings_in(&pack, &json, Lang::En).unwrap();
        assert!(en[0].message.ends_with("refused."), "{}", en[0].message);
    }
}
