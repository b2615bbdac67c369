//! Inventory v1: the list of portals to audit, read from YAML.
//!
//! Parse, don't validate: [`InventoryFile`] is the file as written (serde with
//! `deny_unknown_fields`, values kept with their locations); [`Inventory`] is
//! the compiled form, with defaults applied, URLs parsed, host names held to
//! the DNS's rules and ids checked, so no later code re-checks anything. Every
//! problem names the file, line, column and field, and a bad file lists all of
//! its problems at once (see [`pieces`]).

mod pieces;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use url::Url;

use crate::input::{self, FileKind, ReadError};
use crate::lang::Lang;
use crate::source::{MAX_YAML_BYTES, SourceError, SourceErrors, yaml_options};
use crate::stage::Stage;

/// The schema tag of a v1 inventory.
pub const INVENTORY_SCHEMA: &str = "v6audit/inventory/v1";

/// Whom a portal serves; citizen and business services come first in the plan
/// (Directive 02/CT-TTg puts the portals that serve citizens and businesses first).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Public services for citizens.
    Citizen,
    /// Public services for businesses.
    Business,
    /// Information portals.
    Information,
    /// Intranet portals; a unique local (ULA) address is fine for them.
    Internal,
}

impl Category {
    pub const ALL: [Self; 4] = [
        Self::Citizen,
        Self::Business,
        Self::Information,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Citizen => "citizen",
            Self::Business => "business",
            Self::Information => "information",
            Self::Internal => "internal",
        }
    }

    /// The category in a word or two, in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.as_str(),
            Lang::Vi => match self {
                Self::Citizen => "công dân",
                Self::Business => "doanh nghiệp",
                Self::Information => "thông tin",
                Self::Internal => "nội bộ",
            },
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// # v6audit inventory
/// A list of portals for v6audit to audit.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "v6audit inventory v1")]
pub struct InventoryFile {
    /// Always `v6audit/inventory/v1`.
    #[schemars(with = "String", extend("const" = "v6audit/inventory/v1"))]
    pub schema: Spanned<String>,
    /// A title for the inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Values for portals that do not set them.
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    pub portals: Vec<PortalEntry>,
    /// Targets with deadlines for sets of portals, followed by the collector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignEntry>,
}

/// A campaign as written: every selected portal at a stage by a date.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignEntry {
    /// Unique within the inventory: lower-case letters, digits and hyphens.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub id: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The stage the selected portals must reach (0 to 4).
    #[schemars(with = "u8", range(max = 4))]
    pub target_stage: Spanned<u8>,
    /// The day by which they must reach it, `YYYY-MM-DD`.
    #[schemars(with = "String", regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub deadline: Spanned<String>,
    /// Which portals: all criteria given must match (any value within one).
    /// Empty: every portal of the inventory.
    #[serde(default)]
    pub select: Selector,
}

/// Which portals a campaign covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<String>,
    /// Portal ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub portals: Vec<String>,
}

impl Selector {
    /// Whether a portal is covered.
    pub fn matches(&self, p: &Portal) -> bool {
        (self.categories.is_empty() || self.categories.contains(&p.category))
            && (self.tags.is_empty() || self.tags.iter().any(|t| p.tags.contains(t)))
            && (self.agencies.is_empty()
                || p.agency.as_ref().is_some_and(|a| self.agencies.contains(a)))
            && (self.portals.is_empty() || self.portals.contains(&p.id))
    }
}

/// A compiled campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    pub name: Option<String>,
    pub target_stage: Stage,
    pub deadline: time::Date,
    pub select: Selector,
}

/// Values applied to every portal that does not set its own.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Ports probed on every address (default 80 and 443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(range(min = 1)))]
    pub ports: Option<Vec<u16>>,
    /// Tags added to every portal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The stage every portal should reach (0 to 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 4))]
    pub target_stage: Option<u8>,
    /// Also audit `www.` of a portal at its zone's apex, and the apex of a
    /// `www.` portal, when that name exists (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_www: Option<bool>,
}

impl Defaults {
    fn is_empty(&self) -> bool {
        self.category.is_none()
            && self.ports.is_none()
            && self.tags.is_empty()
            && self.target_stage.is_none()
            && self.also_www.is_none()
    }
}

/// One portal.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalEntry {
    /// Unique within the inventory: lower-case letters, digits and hyphens.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub id: Spanned<String>,
    /// The portal's address, `https://host/` or `http://host:port/path`.
    #[schemars(with = "String", url)]
    pub url: Spanned<String>,
    /// The portal's name, in the language its users read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The agency that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// Whom it serves (default: the inventory's default, else `information`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// How many people use it (a weight for priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<u64>,
    /// Ports probed on every address (default 80 and 443; a URL with a port: that port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<u16>>")]
    pub ports: Option<Spanned<Vec<u16>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The stage this portal should reach (0 to 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u8>", range(max = 4))]
    pub target_stage: Option<Spanned<u8>>,
    /// Also audit `www.` of this portal when it is at its zone's apex (and
    /// the apex when it is `www.`), if that name exists. Default: the
    /// inventory's default, else true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_www: Option<bool>,
}

/// A port to probe, and whether it speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortSpec {
    pub port: u16,
    pub tls: bool,
}

/// A compiled inventory: every portal valid, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub name: Option<String>,
    /// Where it was read from, as the user named it.
    pub source: String,
    pub portals: Vec<Portal>,
    pub campaigns: Vec<Campaign>,
}

/// A portal ready to audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Portal {
    pub id: String,
    pub url: Url,
    /// The URL's host, lower case, without a trailing dot (IDNs in their A-label form).
    pub host: String,
    pub name: Option<String>,
    pub agency: Option<String>,
    pub category: Category,
    pub audience: Option<u64>,
    pub ports: Vec<PortSpec>,
    pub tags: Vec<String>,
    pub target_stage: Option<Stage>,
    /// Audit the `www.`/apex counterpart too (see [`PortalEntry::also_www`]).
    pub also_www: bool,
}

impl Portal {
    /// The port the URL points at (explicit, or the scheme's default).
    pub fn url_port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }

    /// A portal from a `--target` argument: a URL, or a bare host name (audited as `https://host/`).
    pub fn from_target(target: &str) -> Result<Self, String> {
        let text = target.trim();
        let url_text = if text.contains("://") {
            text.to_owned()
        } else {
            format!("https://{text}/")
        };
        let url = parse_portal_url(&url_text)?;
        let host = host_of(&url)?;
        let id = id_from_host(&host);
        Ok(Self {
            id,
            ports: default_ports(&url),
            url,
            host,
            name: None,
            agency: None,
            category: Category::Information,
            audience: None,
            tags: Vec::new(),
            target_stage: None,
            also_www: true,
        })
    }

    /// The same portal under another host name (its `www.` or apex
    /// counterpart): id `<id>-www` or `<id>-apex`, the URL's host replaced,
    /// tagged `counterpart`, and not expanded again.
    pub fn counterpart(&self, host: &str) -> Option<Self> {
        let mut url = self.url.clone();
        url.set_host(Some(host)).ok()?;
        let suffix = if host.starts_with("www.") {
            "www"
        } else {
            "apex"
        };
        let mut tags = self.tags.clone();
        tags.push("counterpart".to_owned());
        Some(Self {
            id: format!("{}-{suffix}", self.id),
            url,
            host: host.to_owned(),
            name: self.name.as_ref().map(|n| format!("{n} ({host})")),
            agency: self.agency.clone(),
            category: self.category,
            audience: self.audience,
            ports: self.ports.clone(),
            tags,
            target_stage: self.target_stage,
            also_www: false,
        })
    }
}

/// Why an inventory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// The file could not be read: missing, not a regular file, too large, not UTF-8.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The text is larger than v6audit reads.
    #[error(
        "{path}: inventory is {size} bytes, more than the {MAX_YAML_BYTES} bytes v6audit reads"
    )]
    TooLarge { path: String, size: usize },
    /// The YAML is malformed or does not match the inventory format.
    #[error("{0}")]
    Syntax(SourceError),
    /// The YAML is well formed but some portals are not valid; every problem is listed.
    #[error("{0}")]
    Invalid(SourceErrors),
}

impl InventoryError {
    /// Every problem with its place in the file.
    pub fn errors(&self) -> Vec<SourceError> {
        match self {
            Self::Syntax(e) => vec![e.clone()],
            Self::Invalid(errs) => errs.0.clone(),
            _ => Vec::new(),
        }
    }
}

impl Inventory {
    /// Reads and compiles an inventory file.
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let name = path.display().to_string();
        let text = input::read_text(path, FileKind::Inventory)?;
        Self::parse(&text, &name)
    }

    /// Compiles an inventory from its text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, InventoryError> {
        if text.len() > MAX_YAML_BYTES {
            return Err(InventoryError::TooLarge {
                path: source.to_owned(),
                size: text.len(),
            });
        }
        match serde_saphyr::from_str_with_options::<InventoryFile>(text, yaml_options()) {
            Ok(file) => file.compile(source),
            // serde stops at the first problem; read on, piece by piece.
            Err(e) => Err(pieces::every_problem(text, source, &e)),
        }
    }

    /// An inventory of `--target` arguments.
    pub fn from_targets(targets: &[String]) -> Result<Self, InventoryError> {
        let mut portals: Vec<Portal> = Vec::new();
        let mut errors = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            match Portal::from_target(t) {
                Ok(mut p) => {
                    // Two targets on one host (different paths, say) keep distinct ids.
                    let base = p.id.clone();
                    let mut n = 2;
                    while portals.iter().any(|q| q.id == p.id) {
                        p.id = format!("{base}-{n}");
                        n += 1;
                    }
                    portals.push(p);
                }
                Err(message) => errors.push(SourceError {
                    file: "--target".to_owned(),
                    line: 0,
                    column: 0,
                    field: Some(format!("target {} `{t}`", i + 1)),
                    message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(Self {
                name: None,
                source: "--target".to_owned(),
                portals,
                campaigns: Vec::new(),
            })
        } else {
            Err(InventoryError::Invalid(SourceErrors(errors)))
        }
    }

    pub fn portal(&self, id: &str) -> Option<&Portal> {
        self.portals.iter().find(|p| p.id == id)
    }
}

impl InventoryFile {
    /// Applies defaults and checks every portal, collecting every problem.
    pub fn compile(self, file: &str) -> Result<Inventory, InventoryError> {
        check_schema(file, &self.schema).map_err(InventoryError::Syntax)?;
        let mut errors = Vec::new();
        let portals = self
            .portals
            .into_iter()
            .map(|e| Placed {
                value: EntryRead::Whole(Box::new(e)),
                shift: 0,
            })
            .collect();
        let campaigns = self
            .campaigns
            .into_iter()
            .map(|c| Placed { value: c, shift: 0 })
            .collect();
        let (portals, campaigns) =
            compile_parts(file, &self.defaults, portals, campaigns, &mut errors);
        if errors.is_empty() {
            Ok(Inventory {
                name: self.name,
                source: file.to_owned(),
                portals,
                campaigns,
            })
        } else {
            Err(InventoryError::from_errors(errors))
        }
    }
}

impl InventoryError {
    /// Every problem found, in the order of the file (a problem with no
    /// line first), each once.
    fn from_errors(mut errors: Vec<SourceError>) -> Self {
        errors.sort_by(|a, b| {
            a.line
                .cmp(&b.line)
                .then(a.column.cmp(&b.column))
                .then_with(|| a.message.cmp(&b.message))
        });
        errors.dedup();
        Self::Invalid(SourceErrors(errors))
    }
}

/// A part of an inventory, and how many lines of the file come before the
/// text it was read from: 0 when it was read with the whole file, more when
/// it was read on its own to find every problem (see [`pieces`]). Its
/// locations are moved down by that much.
struct Placed<T> {
    value: T,
    shift: u64,
}

/// What could be read of one portal entry (boxed: an entry is large).
enum EntryRead {
    Whole(Box<PortalEntry>),
    /// The entry has problems of its own, listed already: its id and URL
    /// are still checked.
    Keys(EntryKeys),
    /// Nothing could be read of it; its problems are listed already.
    Unread,
}

/// The id and URL of a portal entry that does not read whole.
#[derive(Debug, Deserialize)]
struct EntryKeys {
    #[serde(default)]
    id: Option<Spanned<String>>,
    #[serde(default)]
    url: Option<Spanned<String>>,
}

/// An error at a value of a part read `shift` lines down the file.
fn placed<T>(
    file: &str,
    value: &Spanned<T>,
    shift: u64,
    field: String,
    message: String,
) -> SourceError {
    let mut e = SourceError::spanned(file, value, field, message);
    if e.line > 0 {
        e.line += shift;
    }
    e
}

fn check_schema(file: &str, schema: &Spanned<String>) -> Result<(), SourceError> {
    if schema.value == INVENTORY_SCHEMA {
        return Ok(());
    }
    Err(SourceError::spanned(
        file,
        schema,
        "schema".to_owned(),
        format!(
            "unknown inventory schema `{}`; this v6audit reads `{INVENTORY_SCHEMA}`",
            schema.value
        ),
    ))
}

/// Applies `defaults` and checks every portal and campaign, pushing every
/// problem to `errors`; what is returned is only meaningful when none was.
fn compile_parts(
    file: &str,
    defaults: &Defaults,
    entries: Vec<Placed<EntryRead>>,
    campaign_entries: Vec<Placed<CampaignEntry>>,
    errors: &mut Vec<SourceError>,
) -> (Vec<Portal>, Vec<Campaign>) {
    if let Some(message) = defaults.ports.as_deref().and_then(check_ports) {
        errors.push(SourceError {
            file: file.to_owned(),
            line: 0,
            column: 0,
            field: Some("defaults.ports".to_owned()),
            message,
        });
    }
    let default_target = match defaults.target_stage.map(Stage::try_from) {
        Some(Err(message)) => {
            errors.push(SourceError {
                file: file.to_owned(),
                line: 0,
                column: 0,
                field: Some("defaults.target_stage".to_owned()),
                message,
            });
            None
        }
        Some(Ok(stage)) => Some(stage),
        None => None,
    };
    // A campaign may only select portals of the inventory: checked when the
    // id of every entry could be read.
    let every_id_read = entries.iter().all(|e| match &e.value {
        EntryRead::Whole(_) => true,
        EntryRead::Keys(k) => k.id.is_some(),
        EntryRead::Unread => false,
    });
    let mut ids: HashSet<String> = HashSet::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut portals = Vec::with_capacity(entries.len());
    for (
        i,
        Placed {
            value: entry,
            shift,
        },
    ) in entries.into_iter().enumerate()
    {
        let at = |field: &str| format!("portals[{i}].{field}");
        let (id, url) = match &entry {
            EntryRead::Whole(e) => (Some(&e.id), Some(&e.url)),
            EntryRead::Keys(k) => (k.id.as_ref(), k.url.as_ref()),
            EntryRead::Unread => (None, None),
        };
        if let Some(id) = id {
            let text = &id.value;
            ids.insert(text.clone());
            if !is_valid_id(text) {
                errors.push(placed(
                    file,
                    id,
                    shift,
                    at("id"),
                    format!("invalid id `{text}`: use lower-case letters, digits and hyphens (a-z, 0-9, -), not starting or ending with a hyphen"),
                ));
            } else if let Some(first) = seen.get(text) {
                errors.push(placed(
                    file,
                    id,
                    shift,
                    at("id"),
                    format!("duplicate id `{text}` (first used at line {first})"),
                ));
            } else {
                seen.insert(text.clone(), id.referenced.line() + shift);
            }
        }
        let url = url.and_then(|url| {
            match parse_portal_url(&url.value).and_then(|u| host_of(&u).map(|h| (u, h))) {
                Ok(pair) => Some(pair),
                Err(message) => {
                    errors.push(placed(file, url, shift, at("url"), message));
                    None
                }
            }
        });
        let EntryRead::Whole(entry) = entry else {
            continue;
        };
        let entry = *entry;
        let target_stage = match &entry.target_stage {
            Some(t) => match Stage::try_from(t.value) {
                Ok(s) => Some(s),
                Err(message) => {
                    errors.push(placed(file, t, shift, at("target_stage"), message));
                    None
                }
            },
            None => default_target,
        };
        let Some((url, host)) = url else { continue };
        let ports = match (&entry.ports, &defaults.ports) {
            (Some(own), _) => match check_ports(&own.value).or_else(|| {
                (!own
                    .value
                    .contains(&url.port_or_known_default().unwrap_or(443)))
                .then(|| {
                    format!(
                        "ports {:?} must include the URL's port {}",
                        own.value,
                        url.port_or_known_default().unwrap_or(443)
                    )
                })
            }) {
                Some(message) => {
                    errors.push(placed(file, own, shift, at("ports"), message));
                    continue;
                }
                None => port_specs(&url, &own.value),
            },
            // Inventory-wide ports apply unless the URL names its own port.
            (None, Some(list)) if url.port().is_none() => {
                let mut list = list.clone();
                let url_port = url.port_or_known_default().unwrap_or(443);
                if !list.contains(&url_port) {
                    list.push(url_port);
                }
                port_specs(&url, &list)
            }
            (None, _) => default_ports(&url),
        };
        let mut tags = defaults.tags.clone();
        for t in entry.tags {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        portals.push(Portal {
            id: entry.id.value,
            url,
            host,
            name: entry.name,
            agency: entry.agency,
            category: entry
                .category
                .or(defaults.category)
                .unwrap_or(Category::Information),
            audience: entry.audience,
            ports,
            tags,
            target_stage,
            also_www: entry.also_www.or(defaults.also_www).unwrap_or(true),
        });
    }
    let mut campaigns = Vec::with_capacity(campaign_entries.len());
    let mut seen_campaigns: HashMap<String, u64> = HashMap::new();
    for (i, Placed { value: c, shift }) in campaign_entries.into_iter().enumerate() {
        let at = |field: &str| format!("campaigns[{i}].{field}");
        if !is_valid_id(&c.id.value) {
            errors.push(placed(
                file,
                &c.id,
                shift,
                at("id"),
                format!(
                    "invalid campaign id `{}`: use lower-case letters, digits and hyphens",
                    c.id.value
                ),
            ));
        } else if let Some(first) =
            seen_campaigns.insert(c.id.value.clone(), c.id.referenced.line() + shift)
        {
            errors.push(placed(
                file,
                &c.id,
                shift,
                at("id"),
                format!(
                    "duplicate campaign id `{}` (first used at line {first})",
                    c.id.value
                ),
            ));
        }
        let target = Stage::try_from(c.target_stage.value)
            .map_err(|m| errors.push(placed(file, &c.target_stage, shift, at("target_stage"), m)))
            .ok();
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let deadline = time::Date::parse(&c.deadline.value, format)
            .map_err(|_| {
                errors.push(placed(
                    file,
                    &c.deadline,
                    shift,
                    at("deadline"),
                    format!("`{}` is not a date; write YYYY-MM-DD", c.deadline.value),
                ))
            })
            .ok();
        if every_id_read {
            for id in &c.select.portals {
                if !ids.contains(id) {
                    errors.push(placed(
                        file,
                        &c.id,
                        shift,
                        at("select.portals"),
                        format!(
                            "campaign `{}` selects `{id}`, which is not a portal of this inventory",
                            c.id.value
                        ),
                    ));
                }
            }
        }
        if let (Some(target_stage), Some(deadline)) = (target, deadline) {
            campaigns.push(Campaign {
                id: c.id.value,
                name: c.name,
                target_stage,
                deadline,
                select: c.select,
            });
        }
    }
    (portals, campaigns)
}

/// The JSON Schema of inventory v1 (draft 2020-12), generated from the types.
/// `inventories/schema/inventory-v1.schema.json` is this text; a test keeps them equal.
pub fn json_schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<InventoryFile>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

fn parse_portal_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("invalid URL `{text}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid URL `{text}`: the scheme must be http or https, not `{}`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "invalid URL `{text}`: a portal URL must not carry credentials"
        ));
    }
    if url.port() == Some(0) {
        return Err(format!("invalid URL `{text}`: port 0"));
    }
    // The URL parser decodes `%2e` in a host to a dot; the host a user wrote
    // is what the report names, so it must be written as it is.
    let written = written_host(text);
    if let Some(at) = written.find('%') {
        let escape: String = written[at..].chars().take(3).collect();
        return Err(format!(
            "invalid URL `{text}`: the host `{written}` has a percent-escape (`{escape}`); write the host name itself"
        ));
    }
    Ok(url)
}

/// The host (and port) of a URL as written: after the scheme and its
/// slashes, before the path, query or fragment, without user information.
fn written_host(text: &str) -> &str {
    let text = text.trim();
    let rest = text.split_once(':').map_or(text, |(_, rest)| rest);
    let rest = rest.trim_start_matches(['/', '\\']);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// The limits of a host name in the DNS (RFC 1035 §2.3.4, RFC 1123 §2.1),
/// checked on its A-label form (IDNs as `xn--` labels): labels of 1 to 63
/// characters, 253 in all without the final dot, each of letters, digits
/// and hyphens (and `_`, which some real names carry).
fn check_host_name(host: &str) -> Result<(), String> {
    if host.len() > 253 {
        return Err(format!(
            "the host name is {} characters long; a DNS name has at most 253",
            host.len()
        ));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(format!(
                "`{host}` has an empty label (two dots in a row, or a dot first)"
            ));
        }
        if label.len() > 63 {
            return Err(format!(
                "the label `{label}` is {} characters long; a DNS label has at most 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "the label `{label}` has `{c}`; a host name has only letters, digits and hyphens"
            ));
        }
    }
    Ok(())
}

fn host_of(url: &Url) -> Result<String, String> {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            // One final dot is the root: `a.gov.vn.` is `a.gov.vn`.
            let host = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
            if host.is_empty() || !host.contains('.') {
                return Err(format!(
                    "invalid URL `{url}`: `{host}` is not a fully qualified host name"
                ));
            }
            check_host_name(&host).map_err(|why| format!("invalid URL `{url}`: {why}"))?;
            Ok(host)
        }
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Err(format!(
            "invalid URL `{url}`: the host must be a name (an address literal has no AAAA record to audit)"
        )),
        None => Err(format!("invalid URL `{url}`: no host")),
    }
}

fn id_from_host(host: &str) -> String {
    let mut id: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while id.contains("--") {
        id = id.replace("--", "-");
    }
    id.trim_matches('-').to_owned()
}

fn check_ports(ports: &[u16]) -> Option<String> {
    if ports.is_empty() {
        return Some("ports must list at least one port".to_owned());
    }
    if ports.contains(&0) {
        return Some("port 0 is not a port".to_owned());
    }
    None
}

/// Ports probed by default: the URL's own port when it names one, else 80 and 443.
fn default_ports(url: &Url) -> Vec<PortSpec> {
    match url.port() {
        Some(p) => port_specs(url, &[p]),
        None => port_specs(url, &[80, 443]),
    }
}

/// A port speaks TLS when it is 443 or the port of an `https` URL.
fn port_specs(url: &Url, ports: &[u16]) -> Vec<PortSpec> {
    let url_port = url.port_or_known_default().unwrap_or(443);
    let mut out: Vec<PortSpec> = Vec::new();
    for &port in ports {
        if out.iter().any(|p| p.port == port) {
            continue;
        }
        let tls = port == 443 || (url.scheme() == "https" && port == url_port);
        out.push(PortSpec { port, tls });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_host_becomes_https_portal_with_default_ports() {
        let p = Portal::from_target("DichVuCong.gov.vn").unwrap();
        assert_eq!(p.id, "dichvucong-gov-vn");
        assert_eq!(p.url.as_str(), "https://dichvucong.gov.vn/");
        assert_eq!(p.host, "dichvucong.gov.vn");
        assert_eq!(
            p.ports,
            vec![
                PortSpec {
                    port: 80,
                    tls: false
                },
                PortSpec {
                    port: 443,
                    tls: true
                }
            ]
        );
    }

    #[test]
    fn target_url_with_port_probes_only_that_port() {
        let p = Portal::from_target("https://portal.lab.test:8443/dv").unwrap();
        assert_eq!(
            p.ports,
            vec![PortSpec {
                port: 8443,
                tls: true
            }]
        );
        assert_eq!(p.url_port(), 8443);
    }

    #[test]
    fn targets_on_one_host_get_distinct_ids() {
        let inv = Inventory::from_targets(&["a.gov.vn/x".into(), "https://a.gov.vn/y".into()]);
        // "a.gov.vn/x" is read as https://a.gov.vn/x/
        let inv = inv.unwrap();
        assert_eq!(inv.portals[0].id, "a-gov-vn");
        assert_eq!(inv.portals[1].id, "a-gov-vn-2");
    }

    #[test]
    fn host_names_keep_the_dns_limits() {
        let label = "a".repeat(63);
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(longest.len(), 253);
        assert_eq!(check_host_name(&longest), Ok(()));
        let err = check_host_name(&format!("{longest}c")).unwrap_err();
        assert_eq!(
            err,
            "the host name is 254 characters long; a DNS name has at most 253"
        );
        let err = check_host_name("dichvucong..gov.vn").unwrap_err();
        assert!(err.contains("has an empty label"), "{err}");
        let err = check_host_name("dich!vu.gov.vn").unwrap_err();
        assert_eq!(
            err,
            "the label `dich!vu` has `!`; a host name has only letters, digits and hyphens"
        );
        assert_eq!(check_host_name("xn--dchvcng-7xa1b.gov.vn"), Ok(()));
    }

    #[test]
    fn names_over_the_dns_limits_are_refused_as_targets() {
        let long = format!("https://{}.gov.vn/", "a".repeat(64));
        let err = Portal::from_target(&long).unwrap_err();
        assert!(err.contains("a DNS label has at most 63"), "{err}");
        let err = Portal::from_target("https://dichvucong%2egov.vn/").unwrap_err();
        assert!(err.contains("percent-escape (`%2e`)"), "{err}");
        // An IDN is checked in its A-label form, and kept in it.
        let p = Portal::from_target("https://dịchvụcông.gov.vn/").unwrap();
        assert!(p.host.starts_with("xn--"), "{}", p.host);
    }

    #[test]
    fn the_written_host_is_found_in_the_url_text() {
        assert_eq!(written_host("https://a.gov.vn/x?y#z"), "a.gov.vn");
        assert_eq!(written_host(" https://u@a%2eb.vn:8443/"), "a%2eb.vn:8443");
        assert_eq!(written_host("https:\\\\a.vn\\x"), "a.vn");
    }

    #[test]
    fn address_literal_targets_are_refused() {
        let err = Portal::from_target("https://[2001:db8::1]/").unwrap_err();
        assert!(err.contains("must be a name"), "{err}");
    }
}
