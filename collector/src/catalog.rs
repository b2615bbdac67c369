//! What the collector knows about portals besides observations: the
//! inventories it was given (files named in the configuration, reread on
//! SIGHUP, and inventories uploaded by an administrator), with their portals'
//! agency, category, audience and targets, and their campaigns.

use std::collections::BTreeMap;
use std::path::PathBuf;

use v6audit_model::inventory::Campaign;
use v6audit_model::{Inventory, Portal, PortalInfo};

/// Portals and campaigns from every inventory, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Every inventory's portals, by id.
    pub portals: BTreeMap<String, Portal>,
    /// Every inventory's campaigns: the files' in order, then the uploads'.
    pub campaigns: Vec<Campaign>,
    /// Where each inventory came from, for /readyz and logs.
    pub sources: Vec<String>,
}

/// Why the catalog could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// An inventory file or an uploaded inventory is not valid.
    #[error(transparent)]
    Inventory(#[from] v6audit_model::InventoryError),
}

impl Catalog {
    /// Builds the catalog from inventory files and uploaded inventory texts.
    /// A portal in several inventories keeps the last one's description.
    pub fn build(files: &[PathBuf], uploaded: &[(String, String)]) -> Result<Self, CatalogError> {
        let mut inventories = Vec::new();
        for path in files {
            inventories.push(Inventory::load(path)?);
        }
        for (name, text) in uploaded {
            let source = format!("uploaded:{name}");
            inventories.push(Inventory::parse(text, &source)?);
        }
        let mut catalog = Self::default();
        for inv in inventories {
            catalog.sources.push(inv.source.clone());
            for p in inv.portals {
                catalog.portals.insert(p.id.clone(), p);
            }
            catalog.campaigns.extend(inv.campaigns);
        }
        Ok(catalog)
    }

    /// A portal's description: the catalog's when it knows the portal, else
    /// the agent's.
    pub fn describe(&self, id: &str, from_agent: Option<&PortalInfo>) -> Option<PortalInfo> {
        match (self.portals.get(id), from_agent) {
            (Some(p), _) => Some(PortalInfo::from(p)),
            (None, Some(info)) => Some(info.clone()),
            (None, None) => None,
        }
    }

    /// The catalog as an inventory v1 document (JSON, which is YAML too), for agents.
    pub fn inventory_json(&self) -> serde_json::Value {
        let portals: Vec<serde_json::Value> = self
            .portals
            .values()
            .map(|p| {
                let mut v = serde_json::json!({
                    "id": p.id,
                    "url": p.url.as_str(),
                    "category": p.category.as_str(),
                    "ports": p.ports.iter().map(|s| s.port).collect::<Vec<_>>(),
                });
                let obj = v.as_object_mut();
                if let Some(obj) = obj {
                    if let Some(n) = &p.name {
                        obj.insert("name".into(), n.clone().into());
                    }
                    if let Some(a) = &p.agency {
                        obj.insert("agency".into(), a.clone().into());
                    }
                    if let Some(a) = p.audience {
                        obj.insert("audience".into(), a.into());
                    }
                    if !p.tags.is_empty() {
                        obj.insert("tags".into(), p.tags.clone().into());
                    }
                    if let Some(t) = p.target_stage {
                        obj.insert("target_stage".into(), t.number().into());
                    }
                    if !p.also_www {
                        obj.insert("also_www".into(), false.into());
                    }
                }
                v
            })
            .collect();
        serde_json::json!({
            "schema": v6audit_model::inventory::INVENTORY_SCHEMA,
            "name": "v6audit collector",
            "portals": portals,
        })
    }
}
