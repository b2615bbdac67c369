//! The pack as written: the YAML's shape (serde, `deny_unknown_fields`,
//! values with their locations), every field of a rule optional so that a
//! pack that extends another overrides only what it changes.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_saphyr::Spanned;
use v6audit_model::{Category, Severity};

use super::Text;

/// The pack as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    /// Always `v6audit/rules/v1`.
    pub schema: Spanned<String>,
    /// The pack's name, recorded in each report it judges (`rules.name`).
    pub name: String,
    /// The pack's version; default: the base pack's, else 1.
    #[serde(default)]
    pub version: Option<u32>,
    /// `default`: start from the built-in pack and override.
    #[serde(default)]
    pub extends: Option<Spanned<String>>,
    /// The rules by id (`dns.aaaa`); over a base pack, each sets only what it changes.
    #[serde(default)]
    pub rules: HashMap<Spanned<String>, RuleFile>,
    /// The rules each stage needs; default: the base pack's.
    #[serde(default)]
    pub stages: Option<StagesFile>,
    /// How portals are weighed for priority; default: the base pack's.
    #[serde(default)]
    pub priority: Option<PriorityFile>,
    /// The words values name (`{=tcp.refused}`), in every language.
    #[serde(default)]
    pub words: HashMap<Spanned<String>, Text>,
}

/// One rule as written; every field optional so a derived pack can override one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// What the rule checks, in a line.
    #[serde(default)]
    pub title: Option<Text>,
    /// How much a failure matters.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The rule's share of the score; 0 leaves it out.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Why the rule exists, and what standard it follows.
    #[serde(default)]
    pub why: Option<Text>,
    /// The standards it follows, such as `RFC 3596; Circular 32/2017/TT-BTTTT`.
    #[serde(default)]
    pub standard: Option<String>,
    /// What to do, shown with a `fail` or a `warn`.
    #[serde(default)]
    pub remediation: Option<Text>,
    /// The message of each outcome, by outcome key (`spec.rs` lists them and their placeholders).
    #[serde(default)]
    pub messages: HashMap<Spanned<String>, Text>,
    /// The migration plan's steps for a portal that fails the rule.
    #[serde(default)]
    pub steps: Option<Spanned<Vec<StepFile>>>,
    /// `dns.aaaa-global`: prefixes accepted as if they were global (`2001:db8::/32`).
    #[serde(default)]
    pub allow: Option<Spanned<Vec<Spanned<String>>>>,
    /// `dns.aaaa-global`: accept ULA addresses for `internal` portals.
    #[serde(default)]
    pub allow_ula_for_internal: Option<Spanned<bool>>,
    /// `dns.ns-aaaa`: how many name servers must have AAAA, 1 to 13.
    #[serde(default)]
    pub min_name_servers: Option<Spanned<u32>>,
    /// `web.parity`: the content similarity under which the pages differ, 0 to 1.
    #[serde(default)]
    pub similarity_threshold: Option<Spanned<f64>>,
    /// `tls.v6-cert`: days before expiry at which to warn, at most 3650.
    #[serde(default)]
    pub expiry_warning_days: Option<Spanned<u32>>,
    /// `net.v6-latency`: how many times slower IPv6 may connect than IPv4, 1 to 100.
    #[serde(default)]
    pub slower_ratio: Option<Spanned<f64>>,
    /// `net.v6-latency`: and by how many ms at least, to warn; at most 60000.
    #[serde(default)]
    pub slower_extra_ms: Option<Spanned<u32>>,
    /// `web.v6-reachable`: addresses probed per family and portal, 1 to 256.
    #[serde(default)]
    pub max_addresses: Option<Spanned<u32>>,
}

/// One step of the migration plan, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// What to do, in a line.
    pub title: Text,
    /// How to do it.
    pub text: Text,
    /// How to check that it worked.
    pub verify: Text,
}

/// The rules each stage needs (besides those of the stages below it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StagesFile {
    /// What stage 2, `reachable`, needs.
    pub reachable: Vec<Spanned<String>>,
    /// What stage 3, `dual-stack`, needs besides.
    pub dual_stack: Vec<Spanned<String>>,
    /// What stage 4, `ipv6-complete`, needs besides.
    pub ipv6_complete: Vec<Spanned<String>>,
}

/// How portals are weighed for priority, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityFile {
    /// The weight of each category; one not named weighs 1.
    pub category: BTreeMap<Category, f64>,
    /// Added to a broken portal's priority, so broken portals come first.
    pub broken_bonus: u32,
    /// A portal's weight grows by this much per tenfold audience.
    pub audience_per_decade: f64,
}
