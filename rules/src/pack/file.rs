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
    pub schema: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub version: Option<u32>,
    /// `default`: start from the built-in pack and override.
    #[serde(default)]
    pub extends: Option<Spanned<String>>,
    #[serde(default)]
    pub rules: HashMap<Spanned<String>, RuleFile>,
    #[serde(default)]
    pub stages: Option<StagesFile>,
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
    #[serde(default)]
    pub title: Option<Text>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub weight: Option<u32>,
    /// Why the rule exists, and what standard it follows.
    #[serde(default)]
    pub why: Option<Text>,
    #[serde(default)]
    pub standard: Option<String>,
    #[serde(default)]
    pub remediation: Option<Text>,
    #[serde(default)]
    pub messages: HashMap<Spanned<String>, Text>,
    /// The migration plan's steps for a portal that fails the rule.
    #[serde(default)]
    pub steps: Option<Spanned<Vec<StepFile>>>,
    #[serde(default)]
    pub allow: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub allow_ula_for_internal: Option<Spanned<bool>>,
    #[serde(default)]
    pub min_name_servers: Option<Spanned<u32>>,
    #[serde(default)]
    pub similarity_threshold: Option<Spanned<f64>>,
    #[serde(default)]
    pub expiry_warning_days: Option<Spanned<u32>>,
    #[serde(default)]
    pub slower_ratio: Option<Spanned<f64>>,
    #[serde(default)]
    pub slower_extra_ms: Option<Spanned<u32>>,
    #[serde(default)]
    pub max_addresses: Option<Spanned<u32>>,
}

/// One step of the migration plan, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub title: Text,
    pub text: Text,
    pub verify: Text,
}

/// The rules each stage needs (besides those of the stages below it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StagesFile {
    pub reachable: Vec<Spanned<String>>,
    pub dual_stack: Vec<Spanned<String>>,
    pub ipv6_complete: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityFile {
    pub category: BTreeMap<Category, f64>,
    /// Added to a broken portal's priority, so broken portals come first.
    pub broken_bonus: u32,
    /// A portal's weight grows by this much per tenfold audience.
    pub audience_per_decade: f64,
}
