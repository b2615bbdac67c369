//! The CI policy of `v6audit check`: which portals fail a pipeline (broken,
//! below their target stage, or worse than in a baseline report), and when
//! the audit cannot be trusted to say so (a fact that could not be measured
//! here), so a pipeline never fails on a guess.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use v6audit_model::{PortalResult, Report, Stage, Status};

/// What makes a pipeline fail (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailOn {
    /// A portal at stage 1: AAAA published but not working.
    pub broken: bool,
    /// A portal whose stage dropped, or a rule that went from pass to fail, since the baseline.
    pub regression: bool,
    /// A portal below its target stage (its own `target_stage`, else `--min-stage`).
    pub below_target: bool,
}

impl FailOn {
    /// Every condition: what `check` fails on without `--fail-on`.
    pub const ALL: Self = Self {
        broken: true,
        regression: true,
        below_target: true,
    };
}

impl FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Self {
            broken: false,
            regression: false,
            below_target: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "broken" => f.broken = true,
                "regression" => f.regression = true,
                "below-target" => f.below_target = true,
                other => {
                    return Err(format!(
                        "unknown condition `{other}` (expected broken, regression, below-target)"
                    ));
                }
            }
        }
        Ok(f)
    }
}

/// The policy a check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The stage every portal must reach unless it names its own target.
    pub min_stage: Stage,
    /// What fails the pipeline.
    pub fail_on: FailOn,
}

/// Why a portal fails the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// At stage 1 for certain: AAAA published but not working.
    Broken {
        /// The portal's id.
        portal: String,
        /// Its top finding, as `rule: message`.
        reason: String,
    },
    /// Below its target stage for certain.
    BelowTarget {
        /// The portal's id.
        portal: String,
        /// The stage it reached.
        stage: Stage,
        /// The stage it should reach.
        target: Stage,
        /// Its top finding, as `rule: message`.
        reason: String,
    },
    /// At a lower stage than in the baseline, for certain.
    StageDropped {
        /// The portal's id.
        portal: String,
        /// Its stage in the baseline.
        from: Stage,
        /// Its stage now.
        to: Stage,
    },
    /// A rule that passed in the baseline and fails now.
    RuleRegressed {
        /// The portal's id.
        portal: String,
        /// The rule's id, such as `web.v6-http`.
        rule: String,
        /// The finding's message now.
        message: String,
    },
}

impl Violation {
    /// The id of the portal at fault.
    pub fn portal(&self) -> &str {
        match self {
            Self::Broken { portal, .. }
            | Self::BelowTarget { portal, .. }
            | Self::StageDropped { portal, .. }
            | Self::RuleRegressed { portal, .. } => portal,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Broken { portal, reason } => {
                write!(
                    f,
                    "{portal} is broken (AAAA published but not working): {reason}"
                )
            }
            Self::BelowTarget {
                portal,
                stage,
                target,
                reason,
            } => write!(
                f,
                "{portal} is at stage {stage}, below its target {target}: {reason}"
            ),
            Self::StageDropped { portal, from, to } => {
                write!(
                    f,
                    "{portal} dropped from stage {from} to {to} since the baseline"
                )
            }
            Self::RuleRegressed {
                portal,
                rule,
                message,
            } => write!(
                f,
                "{portal}: {rule} passed in the baseline and fails now: {message}"
            ),
        }
    }
}

/// A fact the policy needed but the audit could not establish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// The portal whose fact is unknown; None for the whole run (no IPv6 at this vantage).
    pub portal: Option<String>,
    /// What could not be established, and why.
    pub reason: String,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.portal {
            Some(p) => write!(f, "{p}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Judgement {
    /// Each way a portal fails the policy; empty when it holds.
    pub violations: Vec<Violation>,
    /// Each needed fact that could not be established; any one makes the exit status 2.
    pub untrusted: Vec<Untrusted>,
    /// Results judged.
    pub portals: usize,
}

impl Judgement {
    /// The exit status of `v6audit check`: 0 holds, 1 failed, 2 untrusted.
    pub fn exit_code(&self) -> u8 {
        if !self.untrusted.is_empty() {
            2
        } else if !self.violations.is_empty() {
            1
        } else {
            0
        }
    }
}

/// The most telling problem of a result, for a one-line reason.
fn reason(r: &PortalResult) -> String {
    r.verdict
        .top_finding()
        .map(|f| format!("{}: {}", f.rule, f.message))
        .unwrap_or_default()
}

/// The first `error` finding: why a stage is only a floor.
fn unknown_reason(r: &PortalResult) -> String {
    r.verdict
        .findings
        .iter()
        .find(|f| f.status == Status::Error)
        .map(|f| format!("{}: {}", f.rule, f.message))
        .unwrap_or_else(|| "a fact could not be established".to_owned())
}

/// Applies the policy to a report, against a baseline when one is given.
pub fn judge(report: &Report, baseline: Option<&Report>, policy: &Policy) -> Judgement {
    let mut j = Judgement {
        portals: report.results.len(),
        ..Judgement::default()
    };
    let any_aaaa = report
        .results
        .iter()
        .any(|r| !r.observation.dns.aaaa.addrs.is_empty());
    if !report.agent.vantage.ipv6 && any_aaaa {
        j.untrusted.push(Untrusted {
            portal: None,
            reason: "this vantage has no IPv6, so IPv6 facts cannot be measured here; run the check where IPv6 works".to_owned(),
        });
    }
    let before: HashMap<&str, &PortalResult> = baseline
        .map(|b| {
            b.results
                .iter()
                .map(|r| (r.portal.id.as_str(), r))
                .collect()
        })
        .unwrap_or_default();
    for r in &report.results {
        let old = before.get(r.portal.id.as_str()).copied();
        judge_portal(&mut j, r, old, policy);
    }
    j
}

/// Applies the policy to one portal's result, against its result in the
/// baseline (`before`) when there is one.
fn judge_portal(
    j: &mut Judgement,
    r: &PortalResult,
    before: Option<&PortalResult>,
    policy: &Policy,
) {
    let v = &r.verdict;
    let id = &r.portal.id;
    let target = r.portal.target_stage.unwrap_or(policy.min_stage);
    if policy.fail_on.broken && v.stage == Stage::Broken && v.stage_certain {
        j.violations.push(Violation::Broken {
            portal: id.clone(),
            reason: reason(r),
        });
    }
    if policy.fail_on.below_target && v.stage < target {
        if v.stage_certain {
            // Broken portals are already named; say it once.
            if !(policy.fail_on.broken && v.stage == Stage::Broken) {
                j.violations.push(Violation::BelowTarget {
                    portal: id.clone(),
                    stage: v.stage,
                    target,
                    reason: reason(r),
                });
            }
        } else {
            j.untrusted.push(Untrusted {
                portal: Some(id.clone()),
                reason: format!(
                    "stage {} or higher, target {target}: unknown because {}",
                    v.stage,
                    unknown_reason(r)
                ),
            });
        }
    }
    if policy.fail_on.regression
        && let Some(old) = before
    {
        if v.stage < old.verdict.stage {
            if v.stage_certain {
                j.violations.push(Violation::StageDropped {
                    portal: id.clone(),
                    from: old.verdict.stage,
                    to: v.stage,
                });
            } else {
                j.untrusted.push(Untrusted {
                    portal: Some(id.clone()),
                    reason: format!(
                        "was at stage {}, now unknown because {}",
                        old.verdict.stage,
                        unknown_reason(r)
                    ),
                });
            }
        }
        for f in v.findings.iter().filter(|f| f.status == Status::Fail) {
            if old.verdict.status(&f.rule) == Some(Status::Pass) {
                j.violations.push(Violation::RuleRegressed {
                    portal: id.clone(),
                    rule: f.rule.clone(),
                    message: f.message.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-portal report with the given vantage and verdict.
    fn report(ipv6_vantage: bool, stage: u8, certain: bool, findings: serde_json::Value) -> Report {
        let lookup = |addrs: serde_json::Value| serde_json::json!({"outcome": "ok", "addrs": addrs, "ms": 1});
        serde_json::from_value(serde_json::json!({
            "schema": "v6audit/report/v1",
            "id": "01900000-0000-7000-8000-000000000000",
            "generated_at": "2026-11-27T00:00:00Z",
            "agent": {"id": "t", "version": "0", "vantage": {"ipv4": true, "ipv6": ipv6_vantage}},
            "rules": {"name": "default", "version": 1},
            "results": [{
                "id": "01900000-0000-7000-8000-000000000001",
                "portal": {"id": "dichvucong", "url": "https://dichvucong.gov.vn/", "category": "citizen"},
                "observation": {
                    "host": "dichvucong.gov.vn", "url": "https://dichvucong.gov.vn/", "ports": [],
                    "started_at": "2026-11-27T00:00:00Z", "duration_ms": 1,
                    "vantage": {"ipv4": true, "ipv6": ipv6_vantage},
                    "dns": {
                        "resolver": "system",
                        "a": lookup(serde_json::json!(["192.0.2.1"])),
                        "aaaa": lookup(serde_json::json!(["2001:ee0::1"])),
                        "zone": {"outcome": "ok"},
                        "mx": {"outcome": "no_data"}
                    },
                    "endpoints": [],
                    "http": {"ipv4": null, "ipv6": null}
                },
                "verdict": {
                    "stage": stage, "stage_name": "x", "stage_certain": certain,
                    "score": 50, "priority": 1, "findings": findings
                }
            }],
            "summary": {"portals": 1, "stages": {}, "statuses": {}, "mean_score": 50, "uncertain": 0, "duration_ms": 1}
        }))
        .unwrap()
    }

    fn finding(rule: &str, status: &str) -> serde_json::Value {
        serde_json::json!({"rule": rule, "status": status, "severity": "high", "message": format!("{rule} {status}")})
    }

    const POLICY: Policy = Policy {
        min_stage: Stage::DualStack,
        fail_on: FailOn::ALL,
    };

    #[test]
    fn no_ipv6_at_the_vantage_is_untrusted_not_failed() {
        let r = report(
            false,
            1,
            false,
            serde_json::json!([finding("web.v6-reachable", "error")]),
        );
        let j = judge(&r, None, &POLICY);
        assert_eq!(j.exit_code(), 2);
        assert!(
            j.untrusted[0]
                .reason
                .starts_with("this vantage has no IPv6"),
            "{j:?}"
        );
        assert!(j.violations.is_empty(), "{j:?}");
    }

    #[test]
    fn broken_below_target_and_regressions() {
        let broken = report(
            true,
            1,
            true,
            serde_json::json!([finding("web.v6-reachable", "fail")]),
        );
        let j = judge(&broken, None, &POLICY);
        assert_eq!(j.exit_code(), 1);
        assert_eq!(
            j.violations,
            vec![Violation::Broken {
                portal: "dichvucong".into(),
                reason: "web.v6-reachable: web.v6-reachable fail".into()
            }]
        );
        // At target: holds.
        let fine = report(
            true,
            3,
            true,
            serde_json::json!([finding("web.v6-reachable", "pass")]),
        );
        assert_eq!(judge(&fine, None, &POLICY).exit_code(), 0);
        // Against a baseline where the rule passed: a regression.
        let j = judge(&broken, Some(&fine), &POLICY);
        assert!(j.violations.contains(&Violation::StageDropped {
            portal: "dichvucong".into(),
            from: Stage::DualStack,
            to: Stage::Broken
        }));
        assert!(j.violations.iter().any(
            |v| matches!(v, Violation::RuleRegressed { rule, .. } if rule == "web.v6-reachable")
        ));
        // An unknown stage below target is untrusted, not a failure.
        let unknown = report(
            true,
            1,
            false,
            serde_json::json!([finding("web.v6-http", "error")]),
        );
        let j = judge(&unknown, None, &POLICY);
        assert_eq!(j.exit_code(), 2);
        assert!(j.violations.is_empty());
    }

    #[test]
    fn fail_on_parses_lists() {
        assert_eq!(
            "broken,regression,below-target".parse::<FailOn>(),
            Ok(FailOn::ALL)
        );
        let only = "regression".parse::<FailOn>().unwrap();
        assert!(only.regression && !only.broken && !only.below_target);
        assert!(
            "brokn"
                .parse::<FailOn>()
                .unwrap_err()
                .contains("unknown condition `brokn`")
        );
    }
}
