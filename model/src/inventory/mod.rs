//! Inventory v1: the list of portals to audit, read from YAML.
//!
//! Parse, don't validate: [`InventoryFile`] is the file as written (serde with
//! `deny_unknown_fields`, values kept with their locations); [`Inventory`] is
//! the compiled form, with defaults applied, URLs parsed, host names held to
//! the DNS's rules and ids checked, so no later code re-checks anything. Every
//! problem names the file, line, column and field, and a bad file lists all of
//! its problems at once (see [`pieces`]).
//!
//! This file holds the compiled types and the ways to read an inventory;
//! [`file`] the file as written and its JSON Schema, [`compile`] the checks
//! that turn one into the other, [`names`] the rules for ids, URLs, host
//! names and ports, and [`pieces`] the second reading of a bad file.

mod compile;
mod file;
mod names;
mod pieces;
mod stream;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::input::{self, FileKind, ReadError};
use crate::lang::Lang;
use crate::source::{MAX_YAML_BYTES, SourceError, SourceErrors, yaml_options};
use crate::stage::Stage;
use names::{default_ports, host_of, id_from_host, parse_portal_url};

pub use file::{CampaignEntry, Defaults, InventoryFile, PortalEntry, Selector, json_schema};
pub use stream::{InventoryStream, Names};

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
    /// Every category, citizen first.
    pub const ALL: [Self; 4] = [
        Self::Citizen,
        Self::Business,
        Self::Information,
        Self::Internal,
    ];

    /// The category as an inventory and a report write it: `citizen`, `business`, ...
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

/// A compiled campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// Unique within the inventory: lower-case letters, digits and hyphens.
    pub id: String,
    /// The campaign's name on the dashboard, which shows its id when there is none.
    pub name: Option<String>,
    /// The stage every selected portal must reach.
    pub target_stage: Stage,
    /// The day by which they must reach it.
    pub deadline: time::Date,
    /// Which portals the campaign covers.
    pub select: Selector,
}

/// A port to probe, and whether it speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortSpec {
    /// The TCP port.
    pub port: u16,
    /// Probed with TLS: port 443, or the port of an `https` URL.
    pub tls: bool,
}

/// A compiled inventory: every portal valid, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// The inventory's title, when it has one.
    pub name: Option<String>,
    /// Where it was read from, as the user named it.
    pub source: String,
    /// The portals, in the order they were given.
    pub portals: Vec<Portal>,
    /// The campaigns, in the order they were given.
    pub campaigns: Vec<Campaign>,
}

/// A portal ready to audit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Portal {
    /// Unique within the inventory: lower-case letters, digits and hyphens.
    pub id: String,
    /// The URL audited: the page fetched over each family.
    pub url: Url,
    /// The URL's host, lower case, without a trailing dot (IDNs in their A-label form).
    pub host: String,
    /// The portal's name, in the language its users read.
    pub name: Option<String>,
    /// The agency that runs it.
    pub agency: Option<String>,
    /// Whom it serves, the inventory's default applied.
    pub category: Category,
    /// How many people use it: a weight for priority.
    pub audience: Option<u64>,
    /// The ports probed on every address, each with whether it speaks TLS.
    pub ports: Vec<PortSpec>,
    /// The inventory's default tags, then the portal's own.
    pub tags: Vec<String>,
    /// The stage it should reach, its own or the inventory's default.
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
    TooLarge {
        /// The inventory, as the user named it.
        path: String,
        /// The text's length, in bytes.
        size: usize,
    },
    /// The YAML is malformed or does not match the inventory format.
    #[error("{0}")]
    Syntax(SourceError),
    /// The YAML is well formed but some portals are not valid; every problem is listed.
    #[error("{0}")]
    Invalid(SourceErrors),
    /// The file was changed while it was read portal by portal
    /// ([`InventoryStream::read`]): the rest of it was not audited.
    #[error(
        "{path}: the inventory changed while it was being audited; the rest of it was not audited, run the audit again"
    )]
    Changed {
        /// The inventory, as the user named it.
        path: String,
    },
    /// The file gained entries while it was read portal by portal, after
    /// every portal it held when it was checked: those were all audited,
    /// the new ones were not.
    #[error(
        "{path}: the inventory changed while it was being audited: every portal it held when it was checked was audited, and it now has more; run the audit again to audit them"
    )]
    Grew {
        /// The inventory, as the user named it.
        path: String,
    },
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

    /// The portal with this id.
    pub fn portal(&self, id: &str) -> Option<&Portal> {
        self.portals.iter().find(|p| p.id == id)
    }
}
