//! Compiling a pack as written into the [`Pack`] the engine trusts: the base
//! pack's rules taken first and the file's laid over them, every message,
//! plan step and word checked for its placeholders, and every rule, stage
//! list, priority weight and word required in the end.

use std::collections::HashMap;

use serde_saphyr::Spanned;
use v6audit_model::{Category, Lang, Severity};

use super::builder::Builder;
use super::params::ParamsSoFar;
use super::template::placeholders;
use super::{
    PLAN_PLACEHOLDERS, Pack, PackError, PackFile, Priority, PriorityFile, Rule, RuleFile,
    StagesFile, Step, StepFile, Template, Text,
};
use crate::spec::{RuleId, RuleSpec};

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

impl Builder<'_> {
    /// The pack `file` says, laid over `base`: its rules, then its words,
    /// stages and priority, then every rule and parameter required. Every
    /// problem is collected, in that order.
    pub(super) fn compile(mut self, file: PackFile, base: Option<Pack>) -> Result<Pack, PackError> {
        let mut partial = base_partials(base.as_ref());
        let mut params = ParamsSoFar::from_base(base.as_ref().map(|b| &b.params));
        self.read_rules(file.rules, &mut partial, &mut params);
        let words = self.read_words(file.words, base.as_ref());
        let stages = self.read_stages(file.stages, base.as_ref());
        let priority = self.read_priority(file.priority, base.as_ref());
        let rules = self.complete_rules(partial);
        let params = self.finish_params(params);
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

    /// Lays each rule of the file over its partial rule, in the file's order.
    fn read_rules(
        &mut self,
        rules: HashMap<Spanned<String>, RuleFile>,
        partial: &mut [Partial],
        params: &mut ParamsSoFar,
    ) {
        let mut entries: Vec<_> = rules.into_iter().collect();
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
            self.read_rule(id, rule, &mut partial[id as usize], params);
        }
    }

    /// Lays rule `id` of the file over `p`: its texts, its messages and its
    /// plan steps, each checked; then the parameters it sets.
    fn read_rule(
        &mut self,
        id: RuleId,
        mut rule: RuleFile,
        p: &mut Partial,
        params: &mut ParamsSoFar,
    ) {
        let spec = id.spec();
        macro_rules! take {
            ($name:ident) => {
                if rule.$name.is_some() {
                    p.$name = rule.$name.take();
                }
            };
        }
        take!(title);
        take!(severity);
        take!(weight);
        take!(why);
        take!(standard);
        take!(remediation);
        for (mkey, text) in std::mem::take(&mut rule.messages) {
            if let Some((key, template)) = self.read_message(spec, &mkey, text) {
                p.messages.insert(key, template);
            }
        }
        if let Some(steps) = rule.steps.take() {
            p.steps = Some(self.read_steps(spec, steps));
        }
        // Parameters: only the rule that reads one may set it.
        self.read_params(id, &rule, params);
    }

    /// Message `mkey` of rule `spec`: its outcome's key (the spec table's,
    /// which is `'static`) and its template, or None when the outcome is
    /// unknown or the text uses a placeholder the outcome does not offer
    /// (the problems are pushed).
    fn read_message(
        &mut self,
        spec: &'static RuleSpec,
        mkey: &Spanned<String>,
        text: Text,
    ) -> Option<(&'static str, Template)> {
        let field = |f: &str| format!("rules.{}.{f}", spec.id);
        let Some(allowed) = spec.placeholders(&mkey.value) else {
            let keys: Vec<_> = spec.outcomes.iter().map(|(k, _)| *k).collect();
            self.err(
                mkey,
                &field("messages"),
                format!(
                    "`{}` is not an outcome of {}; its outcomes are: {}",
                    mkey.value,
                    spec.id,
                    keys.join(", ")
                ),
            );
            return None;
        };
        let mut ok = true;
        for lang in Lang::ALL {
            match placeholders(text.get(lang)) {
                Err(problem) => {
                    self.err(
                        mkey,
                        &field(&format!("messages.{}.{lang}", mkey.value)),
                        problem,
                    );
                    ok = false;
                }
                Ok(names) => {
                    for n in names {
                        if !allowed.contains(&n) {
                            self.err(
                                mkey,
                                &field(&format!("messages.{}.{lang}", mkey.value)),
                                format!(
                                    "unknown placeholder `{{{n}}}`; this outcome offers: {}",
                                    if allowed.is_empty() {
                                        "none".to_owned()
                                    } else {
                                        allowed
                                            .iter()
                                            .map(|a| format!("{{{a}}}"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    }
                                ),
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        if !ok {
            return None;
        }
        // Outcome keys are 'static in the spec table; store that one.
        let (key, _) = spec.outcomes.iter().find(|(k, _)| *k == mkey.value)?;
        Some((*key, Template { text }))
    }

    /// The plan steps of rule `spec`: each step whose texts use only
    /// [`PLAN_PLACEHOLDERS`]; the others' problems are pushed.
    fn read_steps(&mut self, spec: &RuleSpec, steps: Spanned<Vec<StepFile>>) -> Vec<Step> {
        let field = |f: &str| format!("rules.{}.{f}", spec.id);
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
                            for n in names.into_iter().filter(|n| !PLAN_PLACEHOLDERS.contains(n)) {
                                self.err_at(
                                    loc,
                                    &at,
                                    format!(
                                        "unknown placeholder `{{{n}}}`; plan steps offer: {}",
                                        PLAN_PLACEHOLDERS
                                            .iter()
                                            .map(|a| format!("{{{a}}}"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
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
        compiled
    }

    /// The rules each stage needs: the file's lists, else the base pack's.
    fn read_stages(
        &mut self,
        stages: Option<StagesFile>,
        base: Option<&Pack>,
    ) -> Option<[Vec<RuleId>; 3]> {
        match (stages, base) {
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
        }
    }

    /// The priority weights: the file's (a weight for every category), else
    /// the base pack's.
    fn read_priority(
        &mut self,
        priority: Option<PriorityFile>,
        base: Option<&Pack>,
    ) -> Option<Priority> {
        match (priority, base) {
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
        }
    }

    /// Completeness: every rule has every field and every outcome's text.
    /// The rules that do, in [`RuleId::ALL`] order; each one that does not
    /// is pushed with what it lacks.
    fn complete_rules(&mut self, partial: Vec<Partial>) -> Vec<Rule> {
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
        rules
    }
}

/// One partial rule per rule, in [`RuleId::ALL`] order, holding the base
/// pack's rule when there is a base.
fn base_partials(base: Option<&Pack>) -> Vec<Partial> {
    let mut partial: Vec<Partial> = RuleId::ALL.iter().map(|_| Partial::default()).collect();
    if let Some(base) = base {
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
    partial
}
