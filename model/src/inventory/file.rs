//! The inventory as written: the YAML's shape (serde, `deny_unknown_fields`,
//! values kept with their locations), and its JSON Schema, generated from it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{Category, Portal};

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
    /// What the inventory covers, for its readers; v6audit does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Values for portals that do not set them.
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// The portals to audit.
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
    /// The campaign's name on the dashboard, which shows its id when there is none.
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
    /// Portals of any of these categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Portals with any of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Portals run by any of these agencies.
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

/// Values applied to every portal that does not set its own.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The category of every portal that does not set one (default `information`).
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
    /// Labels campaigns can select by, added to the inventory's default tags.
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
