//! Rule packs: the YAML that sets each rule's severity, weight, thresholds,
//! rationale, and its messages and remediation in English and Vietnamese.
//!
//! A pack is read once into [`PackFile`] (serde, `deny_unknown_fields`, values
//! with their locations) and compiled into a [`Pack`] that the engine trusts.
//! A pack may say `extends: default` and override only what it changes (the
//! lab and the tests allow their loopback and documentation prefixes this way);
//! otherwise it must define every rule completely. Every problem names the
//! file, line, column and field.
//!
//! This file holds the compiled pack and the ways to load one; [`file`] the
//! pack as written, [`compile`] the checks that turn one into the other (the
//! rules, their messages and plan steps, the stages and the priority), with
//! [`params`] for the rules' parameters and [`words`] for the pack's words,
//! each a phase of the [`builder`] that collects the problems; [`template`]
//! the texts with placeholders.

mod builder;
mod compile;
mod file;
mod params;
mod template;
#[cfg(test)]
mod tests;
mod words;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use v6audit_model::input::{self, FileKind, ReadError};
use v6audit_model::source::{MAX_YAML_BYTES, yaml_options};
use v6audit_model::{Category, Lang, Severity, SourceError, SourceErrors};

use crate::addr::ContactPolicy;
use crate::spec::RuleId;
use builder::Builder;

pub use file::{PackFile, PriorityFile, RuleFile, StagesFile, StepFile};
pub use template::Template;
pub(crate) use template::fill;

/// The schema tag of a v1 rule pack.
pub const PACK_SCHEMA: &str = "v6audit/rules/v1";

/// The default pack, embedded in the binary.
pub const DEFAULT_PACK_YAML: &str = include_str!("../../packs/default.yaml");
const DEFAULT_PACK_NAME: &str = "rules/packs/default.yaml (built in)";

/// A text in every language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// English.
    pub en: String,
    /// Vietnamese.
    pub vi: String,
}

impl Text {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Vi => &self.vi,
        }
    }
}

/// One step of the migration plan: what to do, and how to check it worked.
/// Its texts may use the placeholders of [`PLAN_PLACEHOLDERS`].
#[derive(Debug, Clone)]
pub struct Step {
    /// What to do, in a line.
    pub title: Template,
    /// How to do it.
    pub text: Template,
    /// How to check that it worked.
    pub verify: Template,
}

/// What a plan step's text may name, filled from the portal's observation.
pub const PLAN_PLACEHOLDERS: &[&str] = &[
    "host",
    "zone",
    "url",
    "ipv4",
    "ipv6",
    "tls_port",
    "cert_names",
    "ns_missing",
    "mx_missing",
    "redirect_hosts",
    "subresource_hosts",
];

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Which rule.
    pub id: RuleId,
    /// What the rule checks, in a line.
    pub title: Text,
    /// How much a failure matters.
    pub severity: Severity,
    /// The rule's share of the score; 0 leaves it out.
    pub weight: u32,
    /// Why the rule exists, and what standard it follows.
    pub why: Text,
    /// The standards it follows, such as `RFC 3596; Circular 32/2017/TT-BTTTT`.
    pub standard: String,
    /// What to do, shown with a `fail` or a `warn`.
    pub remediation: Text,
    /// The message of each of the rule's outcomes, by outcome key.
    pub messages: HashMap<&'static str, Template>,
    /// The migration plan's steps for a portal that fails the rule or warns on it.
    pub steps: Vec<Step>,
}

/// Parameters the rules read.
#[derive(Debug, Clone)]
pub struct Params {
    /// Prefixes taken as global: by `dns.aaaa-global`, and by the agent,
    /// which connects only to global addresses or to these.
    pub allow: Vec<IpNet>,
    /// `dns.aaaa-global` accepts ULA addresses for `internal` portals, and the agent contacts
    /// ULA and RFC 1918 addresses for them.
    pub allow_ula_for_internal: bool,
    /// `dns.ns-aaaa`: how many name servers must have AAAA.
    pub min_name_servers: u32,
    /// `web.parity`: the content similarity (0 to 1) under which the pages differ.
    pub similarity_threshold: f64,
    /// `tls.v6-cert`: days before expiry at which to warn.
    pub expiry_warning_days: u32,
    /// IPv6 connects slower than IPv4 by this factor…
    pub slower_ratio: f64,
    /// …and by at least this many milliseconds draws a warning.
    pub slower_extra_ms: u32,
    /// `web.v6-reachable`: the addresses probed per family and portal; the
    /// rest are recorded as not probed.
    pub max_addresses: u32,
}

// Here rather than in `addr.rs`, so the address rules need nothing of the pack.
impl ContactPolicy {
    /// The policy a pack's parameters set.
    pub fn of(params: &Params) -> Self {
        Self {
            allow: params.allow.clone(),
            private_for_internal: params.allow_ula_for_internal,
        }
    }
}

/// How portals are weighed for priority ([`crate::priority_of`]).
#[derive(Debug, Clone)]
pub struct Priority {
    /// The weight of each category; one not named weighs 1.
    pub category: BTreeMap<Category, f64>,
    /// Added to the priority of a portal certainly broken, so broken portals come first.
    pub broken_bonus: u32,
    /// A portal's weight grows by this much per tenfold audience.
    pub audience_per_decade: f64,
}

/// A compiled pack: every rule complete in every language.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The pack's name, recorded in each report it judges (`rules.name`).
    pub name: String,
    /// The pack's version: its own, else its base's, else 1.
    pub version: u32,
    /// Where it came from.
    pub source: String,
    /// In [`RuleId::ALL`] order.
    pub rules: Vec<Rule>,
    /// The parameters the rules read.
    pub params: Params,
    /// The rules needed for stages 2, 3 and 4.
    pub stages: [Vec<RuleId>; 3],
    /// How portals are weighed for priority.
    pub priority: Priority,
    /// Every key of [`crate::words::ALL`], in every language.
    pub words: HashMap<&'static str, Text>,
}

/// Why a pack could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The file could not be read: missing, not a regular file, too large, not UTF-8.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The text is larger than v6audit reads.
    #[error(
        "{path}: rule pack is {size} bytes, more than the {MAX_YAML_BYTES} bytes v6audit reads"
    )]
    TooLarge {
        /// The pack, as the user named it.
        path: String,
        /// The text's length, in bytes.
        size: usize,
    },
    /// Every problem, with file, line, column and field.
    #[error("{0}")]
    Invalid(SourceErrors),
}

impl PackError {
    /// Every problem with its place in the file; none for a file that could not be read.
    pub fn errors(&self) -> &[SourceError] {
        match self {
            Self::Invalid(e) => &e.0,
            _ => &[],
        }
    }
}

impl Pack {
    /// The built-in default pack.
    pub fn default_pack() -> Self {
        // The embedded pack is checked by the test suite (tests::default_pack_compiles),
        // so it always compiles in a released binary.
        #[allow(clippy::expect_used)]
        Self::parse(DEFAULT_PACK_YAML, DEFAULT_PACK_NAME).expect("the built-in rule pack is valid")
    }

    /// Reads and compiles a pack file.
    pub fn load(path: &Path) -> Result<Self, PackError> {
        let name = path.display().to_string();
        let text = input::read_text(path, FileKind::RulePack)?;
        Self::parse(&text, &name)
    }

    /// Compiles a pack from its text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, PackError> {
        if text.len() > MAX_YAML_BYTES {
            return Err(PackError::TooLarge {
                path: source.to_owned(),
                size: text.len(),
            });
        }
        let file: PackFile =
            serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
                PackError::Invalid(SourceErrors(vec![SourceError::from_yaml(source, text, &e)]))
            })?;
        let mut b = Builder::new(source);
        if file.schema.value != PACK_SCHEMA {
            b.err(
                &file.schema,
                "schema",
                format!(
                    "unknown rule pack schema `{}`; this v6audit reads `{PACK_SCHEMA}`",
                    file.schema.value
                ),
            );
            return Err(b.finish_err());
        }
        let base = match &file.extends {
            None => None,
            Some(e) if e.value == "default" => Some(Self::default_pack()),
            Some(e) => {
                b.err(
                    e,
                    "extends",
                    format!(
                        "unknown base pack `{}` (only `default` can be extended)",
                        e.value
                    ),
                );
                return Err(b.finish_err());
            }
        };
        b.compile(file, base)
    }

    /// The word `key` in `lang`; `None` for a key the pack does not word
    /// (only a key outside [`crate::words::ALL`]: compile() requires them all).
    pub fn word(&self, key: &str, lang: Lang) -> Option<&str> {
        self.words.get(key).map(|t| t.get(lang))
    }

    /// The compiled rule `id`.
    pub fn rule(&self, id: RuleId) -> &Rule {
        // `rules` holds every RuleId in order; compile() guarantees it.
        &self.rules[id as usize]
    }
}
