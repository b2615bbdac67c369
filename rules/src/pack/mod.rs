//! Rule packs: the YAML that sets each rule's severity, weight, thresholds,
//! rationale, and its messages and remediation in English and Vietnamese.
//!
//! A pack is read once into [`PackFile`] (serde, `deny_unknown_fields`, values
//! with their locations) and compiled into a [`Pack`] that the engine trusts.
//! A pack may say `extends: default` and override only what it changes (the
//! lab and the tests allow their loopback and documentation prefixes this way);
//! otherwise it must define every rule completely. Every problem names the
//! file, line, column and field.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use serde_saphyr::Spanned;
use v6audit_model::input::{self, FileKind, ReadError};
use v6audit_model::source::{MAX_YAML_BYTES, yaml_options};
use v6audit_model::{Category, Lang, Severity, SourceError, SourceErrors};

use crate::spec::{Param, RuleId};

/// The schema tag of a v1 rule pack.
pub const PACK_SCHEMA: &str = "v6audit/rules/v1";

/// The default pack, embedded in the binary.
pub const DEFAULT_PACK_YAML: &str = include_str!("../../packs/default.yaml");
const DEFAULT_PACK_NAME: &str = "rules/packs/default.yaml (built in)";

/// A text in every language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub vi: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Vi => &self.vi,
        }
    }
}

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

/// One step of the migration plan: what to do, and how to check it worked.
/// Its texts may use the placeholders of [`PLAN_PLACEHOLDERS`].
#[derive(Debug, Clone)]
pub struct Step {
    pub title: Template,
    pub text: Template,
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

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: RuleId,
    pub title: Text,
    pub severity: Severity,
    pub weight: u32,
    pub why: Text,
    pub standard: String,
    pub remediation: Text,
    pub messages: HashMap<&'static str, Template>,
    pub steps: Vec<Step>,
}

/// Parameters the rules read.
#[derive(Debug, Clone)]
pub struct Params {
    /// Prefixes taken as global: by `dns.aaaa-global`, and by the agent,
    /// which connects only to global addresses or to these.
    pub allow: Vec<IpNet>,
    pub allow_ula_for_internal: bool,
    pub min_name_servers: u32,
    pub similarity_threshold: f64,
    pub expiry_warning_days: u32,
    /// IPv6 connects slower than IPv4 by this factor…
    pub slower_ratio: f64,
    /// …and by at least this many milliseconds draws a warning.
    pub slower_extra_ms: u32,
    /// `web.v6-reachable`: the addresses probed per family and portal; the
    /// rest are recorded as not probed.
    pub max_addresses: u32,
}

#[derive(Debug, Clone)]
pub struct Priority {
    pub category: BTreeMap<Category, f64>,
    pub broken_bonus: u32,
    pub audience_per_decade: f64,
}

/// A compiled pack: every rule complete in every language.
#[derive(Debug, Clone)]
pub struct Pack {
    pub name: String,
    pub version: u32,
    /// Where it came from.
    pub source: String,
    /// In [`RuleId::ALL`] order.
    pub rules: Vec<Rule>,
    pub params: Params,
    /// The rules needed for stages 2, 3 and 4.
    pub stages: [Vec<RuleId>; 3],
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
    #[error(
        "{path}: rule pack is {size} bytes, more than the {MAX_YAML_BYTES} bytes v6audit reads"
    )]
    TooLarge { path: String, size: usize },
    /// Every problem, with file, line, column and field.
    #[error("{0}")]
    Invalid(SourceErrors),
}

impl PackError {
    pub fn errors(&self) -> &[SourceError] {
        match self {
            Self::Invalid(e) => &e.0,
            _ => &[],
        }
    }
}

/// A message text with `{placeholders}`, checked against the rule's outcome.
#[derive(Debug, Clone)]
pub struct Template {
    text: Text,
}

impl Template {
    /// Fills the placeholders. `{{` and `}}` are literal braces.
    pub fn render(&self, lang: Lang, vars: &[(&str, String)]) -> String {
        fill(self.text.get(lang), vars)
    }
}

/// `src` with each `{name}` of `vars` filled in; `{{` and `}}` are literal
/// braces, and a placeholder `vars` lacks is kept as written.
pub(crate) fn fill(src: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(src.len() + 32);
    let mut rest = src;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if tail.starts_with('{') {
            match tail.find('}') {
                Some(end) => {
                    let name = &tail[1..end];
                    match vars.iter().find(|(k, _)| *k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => out.push_str(&tail[..=end]),
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        } else {
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a text uses, or the problem with its braces.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
        } else if tail.starts_with('{') {
            let end = tail
                .find('}')
                .ok_or_else(|| "a `{` is not closed (write `{{` for a literal brace)".to_owned())?;
            let name = &tail[1..end];
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!("`{{{name}}}` is not a placeholder name"));
            }
            names.push(name);
            rest = &tail[end + 1..];
        } else {
            return Err("a `}` without `{` (write `}}` for a literal brace)".to_owned());
        }
    }
    Ok(names)
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

    pub fn rule(&self, id: RuleId) -> &Rule {
        // `rules` holds every RuleId in order; compile() guarantees it.
        &self.rules[id as usize]
    }
}

/// Collects errors while compiling one file.
struct Builder<'a> {
    file: &'a str,
    errors: Vec<SourceError>,
}

/// A rule being assembled from the base pack and the file.
#[derive(Default)]
struct Partial {
    title: Option<Text>,
    severity: Option<Severity>,
    weight: Option<u32>,
    why: Option<Text>,
    standard: Option<String>,
    remediation: Option<Text>,
    messages: HashMap<&'static str, Template>,
    steps: Option<Vec<Step>>,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str) -> Self {
        Builder {
            file,
            errors: Vec::new(),
        }
    }

    fn err<T>(&mut self, at: &Spanned<T>, field: &str, message: String) {
        self.errors.push(SourceError::spanned(
            self.file,
            at,
            field.to_owned(),
            message,
        ));
    }

    fn err_at(&mut self, at: serde_saphyr::Location, field: &str, message: String) {
        self.errors.push(SourceError::at(
            self.file,
            at,
            Some(field.to_owned()),
            message,
        ));
    }

    fn err_nowhere(&mut self, field: String, message: String) {
        self.errors.push(SourceError {
            file: self.file.to_owned(),
            line: 0,
            column: 0,
            field: Some(field),
            message,
        });
    }

    /// Whether `rule` takes the parameter; if not, records where it was wrongly set.
    fn owns(&mut self, rule: RuleId, which: Param, at: Option<serde_saphyr::Location>) -> bool {
        let spec = rule.spec();
        if spec.params.contains(&which) {
            return true;
        }
        let owner = RuleId::ALL
            .iter()
            .find(|r| r.spec().params.contains(&which))
            .map_or("no rule", |r| r.as_str());
        self.errors.push(SourceError {
            file: self.file.to_owned(),
            line: at.map_or(0, |l| l.line()),
            column: at.map_or(0, |l| l.column()),
            field: Some(format!("rules.{}.{}", spec.id, which.name())),
            message: format!(
                "{} does not take `{}` (it belongs to {owner})",
                spec.id,
                which.name()
            ),
        });
        false
    }

    fn finish_err(self) -> PackError {
        PackError::Invalid(SourceErrors(self.errors))
    }

    fn compile(mut self, file: PackFile, base: Option<Pack>) -> Result<Pack, PackError> {
        let mut partial: Vec<Partial> = RuleId::ALL.iter().map(|_| Partial::default()).collect();
        let mut params = base.as_ref().map(|b| b.params.clone());
        let mut allow: Option<Vec<IpNet>> = params.as_ref().map(|p| p.allow.clone());
        let mut allow_ula = params.as_ref().map(|p| p.allow_ula_for_internal);
        let mut min_ns = params.as_ref().map(|p| p.min_name_servers);
        let mut similarity = params.as_ref().map(|p| p.similarity_threshold);
        let mut expiry = params.as_ref().map(|p| p.expiry_warning_days);
        let mut slower_ratio = params.as_ref().map(|p| p.slower_ratio);
        let mut slower_extra = params.as_ref().map(|p| p.slower_extra_ms);
        let mut max_addresses = params.as_ref().map(|p| p.max_addresses);
        if let Some(base) = &base {
            for (p, r) in partial.iter_mut().zip(&base.rules) {
                p.title = Some(r.title.clone());
                p.severity = Some(r.severity);
                p.weight = Some(r.weight);
                p.why = Some(r.why.clone());
                p.standard = Some(r.standard.clone());
                p.remediation = Some(r.remediation.clone());
                p.messages = r.messages.clone();
                p.steps = Some(r.steps.clone());
            }
        }
        let mut entries: Vec<_> = file.rules.into_iter().collect();
        entries.sort_by_key(|(k, _)| (k.referenced.line(), k.referenced.column()));
        for (key, rule) in entries {
            let Some(id) = RuleId::parse(&key.value) else {
                let known: Vec<_> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
                self.err(
                    &key,
                    "rules",
                    format!(
                        "unknown rule `{}`; the rules are: {}",
                        key.value,
                        known.join(", ")
                    ),
                );
                continue;
            };
            let spec = id.spec();
            let field = |f: &str| format!("rules.{}.{f}", spec.id);
            let p = &mut partial[id as usize];
            macro_rules! take {
                ($name:ident) => {
                    if rule.$name.is_some() {
                        p.$name = rule.$name;
                    }
                };
            }
            take!(title);
            take!(severity);
            take!(weight);
            take!(why);
            take!(standard);
            take!(remediation);
            for (mkey, text) in rule.messages {
                let Some(allowed) = spec.placeholders(&mkey.value) else {
                    let keys: Vec<_> = spec.outcomes.iter().map(|(k, _)| *k).collect();
                    self.err(
                        &mkey,
                        &field("messages"),
                        format!(
                            "`{}` is not an outcome of {}; its outcomes are: {}",
                            mkey.value,
                            spec.id,
                            keys.join(", ")
                        ),
                    );
                    continue;
                };
                let mut ok = true;
                for lang in Lang::ALL {
                    match placeholders(text.get(lang)) {
                        Err(problem) => {
                            self.err(
                                &mkey,
                                &field(&format!("messages.{}.{lang}", mkey.value)),
                                problem,
                            );
                            ok = false;
                        }
                        Ok(names) => {
                            for n in names {
                                if !allowed.contains(&n) {
                                    self.err(
                                        &mkey,
                                        &field(&format!("messages.{}.{lang}", mkey.value)),
                                        format!(
                                            "unknown placeholder `{{{n}}}`; this outcome offers: {}",
                                            if allowed.is_empty() {
                                                "none".to_owned()
                                            } else {
                                                allowed.iter().map(|a| format!("{{{a}}}")).collect::<Vec<_>>().join(", ")
                                            }
                                        ),
                                    );
                                    ok = false;
                                }
                            }
                        }
                    }
                }
                if ok {
                    // Outcome keys are 'static in the spec table; store that one.
                    if let Some((k, _)) = spec.outcomes.iter().find(|(k, _)| *k == mkey.value) {
                        p.messages.insert(k, Template { text });
                    }
                }
            }
            if let Some(steps) = rule.steps {
                let mut compiled = Vec::with_capacity(steps.value.len());
                let loc = steps.referenced;
                for (i, step) in steps.value.into_iter().enumerate() {
                    let mut ok = true;
                    for (part, text) in [
                        ("title", &step.title),
                        ("text", &step.text),
                        ("verify", &step.verify),
                    ] {
                        for lang in Lang::ALL {
                            let at = field(&format!("steps[{i}].{part}.{lang}"));
                            match placeholders(text.get(lang)) {
                                Err(problem) => {
                                    self.err_at(loc, &at, problem);
                                    ok = false;
                                }
                                Ok(names) => {
                                    for n in
                                        names.into_iter().filter(|n| !PLAN_PLACEHOLDERS.contains(n))
                                    {
                                        self.err_at(
                                            loc,
                                            &at,
                                            format!(
                                                "unknown placeholder `{{{n}}}`; plan steps offer: {}",
                                                PLAN_PLACEHOLDERS.iter().map(|a| format!("{{{a}}}")).collect::<Vec<_>>().join(", ")
                                            ),
                                        );
                                        ok = false;
                                    }
                                }
                            }
                        }
                    }
                    if ok {
                        compiled.push(Step {
                            title: Template { text: step.title },
                            text: Template { text: step.text },
                            verify: Template { text: step.verify },
                        });
                    }
                }
                p.steps = Some(compiled);
            }
            // Parameters: only the rule that reads one may set it.
            if let Some(list) = &rule.allow
                && self.owns(id, Param::Allow, Some(list.referenced))
            {
                let mut nets = Vec::new();
                for item in &list.value {
                    match parse_prefix(&item.value) {
                        Ok(net) => nets.push(net),
                        Err(m) => self.err(item, &field("allow"), m),
                    }
                }
                allow = Some(nets);
            }
            if let Some(v) = &rule.allow_ula_for_internal
                && self.owns(id, Param::AllowUlaForInternal, Some(v.referenced))
            {
                allow_ula = Some(v.value);
            }
            if let Some(v) = &rule.min_name_servers
                && self.owns(id, Param::MinNameServers, Some(v.referenced))
            {
                if v.value == 0 || v.value > 13 {
                    self.err(
                        v,
                        &field("min_name_servers"),
                        format!("must be 1 to 13, not {}", v.value),
                    );
                } else {
                    min_ns = Some(v.value);
                }
            }
            if let Some(v) = &rule.similarity_threshold
                && self.owns(id, Param::SimilarityThreshold, Some(v.referenced))
            {
                if !(0.0..=1.0).contains(&v.value) {
                    self.err(
                        v,
                        &field("similarity_threshold"),
                        format!("must be between 0 and 1, not {}", v.value),
                    );
                } else {
                    similarity = Some(v.value);
                }
            }
            if let Some(v) = &rule.expiry_warning_days
                && self.owns(id, Param::ExpiryWarningDays, Some(v.referenced))
            {
                if v.value > 3650 {
                    self.err(
                        v,
                        &field("expiry_warning_days"),
                        format!("must be at most 3650, not {}", v.value),
                    );
                } else {
                    expiry = Some(v.value);
                }
            }
            if let Some(v) = &rule.slower_ratio
                && self.owns(id, Param::SlowerRatio, Some(v.referenced))
            {
                if !(1.0..=100.0).contains(&v.value) {
                    self.err(
                        v,
                        &field("slower_ratio"),
                        format!("must be between 1 and 100, not {}", v.value),
                    );
                } else {
                    slower_ratio = Some(v.value);
                }
            }
            if let Some(v) = &rule.slower_extra_ms
                && self.owns(id, Param::SlowerExtraMs, Some(v.referenced))
            {
                if v.value > 60_000 {
                    self.err(
                        v,
                        &field("slower_extra_ms"),
                        format!("must be at most 60000, not {}", v.value),
                    );
                } else {
                    slower_extra = Some(v.value);
                }
            }
            if let Some(v) = &rule.max_addresses
                && self.owns(id, Param::MaxAddresses, Some(v.referenced))
            {
                if v.value == 0 || v.value > 256 {
                    self.err(
                        v,
                        &field("max_addresses"),
                        format!("must be 1 to 256, not {}", v.value),
                    );
                } else {
                    max_addresses = Some(v.value);
                }
            }
        }

        let mut words: HashMap<&'static str, Text> =
            base.as_ref().map(|b| b.words.clone()).unwrap_or_default();
        let mut entries: Vec<_> = file.words.into_iter().collect();
        entries.sort_by_key(|(k, _)| (k.referenced.line(), k.referenced.column()));
        for (key, text) in entries {
            let known = crate::words::ALL
                .iter()
                .map(|k| (*k, &[][..]))
                .chain(crate::words::SAID.iter().copied())
                .find(|(k, _)| *k == key.value);
            match known {
                Some((k, offered)) => {
                    for lang in Lang::ALL {
                        let field = format!("words.{}.{lang}", key.value);
                        let t = text.get(lang);
                        if t.trim().is_empty() {
                            self.err(
                                &key,
                                &field,
                                "empty: every word needs a text in every language".to_owned(),
                            );
                        }
                        match placeholders(t) {
                            Err(e) => self.err(&key, &field, e),
                            Ok(used) => {
                                for n in used.iter().filter(|n| !offered.contains(n)) {
                                    let offers = if offered.is_empty() {
                                        "this word offers none".to_owned()
                                    } else {
                                        format!(
                                            "this word offers: {}",
                                            offered
                                                .iter()
                                                .map(|o| format!("{{{o}}}"))
                                                .collect::<Vec<_>>()
                                                .join(", ")
                                        )
                                    };
                                    self.err(
                                        &key,
                                        &field,
                                        format!("unknown placeholder `{{{n}}}`; {offers}"),
                                    );
                                }
                            }
                        }
                    }
                    words.insert(k, text);
                }
                None => self.err(
                    &key,
                    "words",
                    format!(
                        "unknown word `{}`; the words are the keys of `words:` in the \
                         built-in pack, rules/packs/default.yaml",
                        key.value
                    ),
                ),
            }
        }
        let missing: Vec<_> = crate::words::ALL
            .iter()
            .chain(crate::words::SAID.iter().map(|(k, _)| k))
            .filter(|k| !words.contains_key(*k))
            .copied()
            .collect();
        if !missing.is_empty() {
            self.err_nowhere(
                "words".to_owned(),
                format!(
                    "missing: a pack without `extends: default` must word every key; missing {}",
                    missing.join(", ")
                ),
            );
        }

        let stages = match (file.stages, &base) {
            (Some(s), _) => {
                let mut lists: [Vec<RuleId>; 3] = Default::default();
                for (i, (name, list)) in [
                    ("reachable", s.reachable),
                    ("dual-stack", s.dual_stack),
                    ("ipv6-complete", s.ipv6_complete),
                ]
                .into_iter()
                .enumerate()
                {
                    for item in list {
                        match RuleId::parse(&item.value) {
                            Some(RuleId::DnsAaaa) => self.err(
                                &item,
                                &format!("stages.{name}"),
                                "dns.aaaa decides stage 0 itself and cannot be listed".to_owned(),
                            ),
                            Some(id) => lists[i].push(id),
                            None => self.err(
                                &item,
                                &format!("stages.{name}"),
                                format!("unknown rule `{}`", item.value),
                            ),
                        }
                    }
                }
                Some(lists)
            }
            (None, Some(b)) => Some(b.stages.clone()),
            (None, None) => {
                self.err_nowhere(
                    "stages".to_owned(),
                    "missing: a pack without `extends: default` must list the rules of each stage"
                        .to_owned(),
                );
                None
            }
        };
        let priority = match (file.priority, &base) {
            (Some(p), _) => {
                let missing: Vec<_> = [
                    Category::Citizen,
                    Category::Business,
                    Category::Information,
                    Category::Internal,
                ]
                .into_iter()
                .filter(|c| !p.category.contains_key(c))
                .map(|c| c.as_str())
                .collect();
                if !missing.is_empty() {
                    self.err_nowhere(
                        "priority.category".to_owned(),
                        format!("missing weights for: {}", missing.join(", ")),
                    );
                }
                Some(Priority {
                    category: p.category,
                    broken_bonus: p.broken_bonus,
                    audience_per_decade: p.audience_per_decade,
                })
            }
            (None, Some(b)) => Some(b.priority.clone()),
            (None, None) => {
                self.err_nowhere(
                    "priority".to_owned(),
                    "missing: a pack without `extends: default` must set priority weights"
                        .to_owned(),
                );
                None
            }
        };

        // Completeness: every rule has every field and every outcome's text.
        let mut rules = Vec::with_capacity(RuleId::ALL.len());
        for (id, p) in RuleId::ALL.into_iter().zip(partial) {
            let spec = id.spec();
            let mut missing: Vec<String> = Vec::new();
            for (name, present) in [
                ("title", p.title.is_some()),
                ("severity", p.severity.is_some()),
                ("weight", p.weight.is_some()),
                ("why", p.why.is_some()),
                ("standard", p.standard.is_some()),
                ("remediation", p.remediation.is_some()),
                ("steps", p.steps.is_some()),
            ] {
                if !present {
                    missing.push(name.to_owned());
                }
            }
            for (key, _) in spec.outcomes {
                if !p.messages.contains_key(key) {
                    missing.push(format!("messages.{key}"));
                }
            }
            if !missing.is_empty() {
                self.err_nowhere(
                    format!("rules.{}", spec.id),
                    format!("missing {}", missing.join(", ")),
                );
                continue;
            }
            if let (
                Some(title),
                Some(severity),
                Some(weight),
                Some(why),
                Some(standard),
                Some(remediation),
                Some(steps),
            ) = (
                p.title,
                p.severity,
                p.weight,
                p.why,
                p.standard,
                p.remediation,
                p.steps,
            ) {
                rules.push(Rule {
                    id,
                    title,
                    severity,
                    weight,
                    why,
                    standard,
                    remediation,
                    messages: p.messages,
                    steps,
                });
            }
        }
        for (name, missing) in [
            ("dns.aaaa-global.allow", allow.is_none()),
            (
                "dns.aaaa-global.allow_ula_for_internal",
                allow_ula.is_none(),
            ),
            ("dns.ns-aaaa.min_name_servers", min_ns.is_none()),
            ("web.parity.similarity_threshold", similarity.is_none()),
            ("tls.v6-cert.expiry_warning_days", expiry.is_none()),
            ("net.v6-latency.slower_ratio", slower_ratio.is_none()),
            ("net.v6-latency.slower_extra_ms", slower_extra.is_none()),
            ("web.v6-reachable.max_addresses", max_addresses.is_none()),
        ] {
            if missing {
                self.err_nowhere(format!("rules.{name}"), "missing parameter".to_owned());
            }
        }
        if let (
            Some(allow),
            Some(allow_ula),
            Some(min_ns),
            Some(similarity),
            Some(expiry),
            Some(slower_ratio),
            Some(slower_extra_ms),
            Some(max_addresses),
        ) = (
            allow,
            allow_ula,
            min_ns,
            similarity,
            expiry,
            slower_ratio,
            slower_extra,
            max_addresses,
        ) {
            params = Some(Params {
                allow,
                allow_ula_for_internal: allow_ula,
                min_name_servers: min_ns,
                similarity_threshold: similarity,
                expiry_warning_days: expiry,
                slower_ratio,
                slower_extra_ms,
                max_addresses,
            });
        }
        match (self.errors.is_empty(), params, stages, priority) {
            (true, Some(params), Some(stages), Some(priority))
                if rules.len() == RuleId::ALL.len() =>
            {
                Ok(Pack {
                    name: file.name,
                    version: file
                        .version
                        .or(base.as_ref().map(|b| b.version))
                        .unwrap_or(1),
                    source: self.file.to_owned(),
                    rules,
                    params,
                    stages,
                    priority,
                    words,
                })
            }
            _ => Err(self.finish_err()),
        }
    }
}

/// An IPv6 or IPv4 prefix such as `2001:db8::/32` or `192.0.2.0/24`, or a
/// single address.
fn parse_prefix(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(addr) = text.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err(format!(
        "`{text}` is not an IP prefix (write it like 2001:db8::/32, ::1/128 or 127.0.0.0/8)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pack_compiles() {
        let pack =
            Pack::parse(DEFAULT_PACK_YAML, DEFAULT_PACK_NAME).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pack.rules.len(), RuleId::ALL.len());
        assert!(
            pack.params.allow.is_empty(),
            "the default pack allows no special prefix"
        );
        assert_eq!(pack.params.similarity_threshold, 0.9);
        assert_eq!(pack.params.expiry_warning_days, 14);
        assert_eq!(pack.params.min_name_servers, 2);
    }

    #[test]
    fn template_fills_placeholders_and_keeps_literal_braces() {
        let t = Template {
            text: Text {
                en: "{count} of {total} {{x}} {unknown}".into(),
                vi: "{count}/{total}".into(),
            },
        };
        let vars = [("count", "2".to_owned()), ("total", "3".to_owned())];
        assert_eq!(t.render(Lang::En, &vars), "2 of 3 {x} {unknown}");
        assert_eq!(t.render(Lang::Vi, &vars), "2/3");
    }

    #[test]
    fn placeholder_syntax_errors_are_named() {
        assert_eq!(placeholders("a {b} c {{d}}").unwrap(), vec!["b"]);
        assert!(placeholders("a {b").unwrap_err().contains("not closed"));
        assert!(placeholders("a } b").unwrap_err().contains("without `{`"));
        assert!(
            placeholders("{Bad Name}")
                .unwrap_err()
                .contains("not a placeholder")
        );
    }
}
