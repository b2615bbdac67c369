//! Compiling an inventory as written into checked types: the defaults
//! applied, each portal's id, URL, host name, target stage and ports
//! checked, each campaign's id, stage, deadline and selection, and every
//! problem collected with its place in the file.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_saphyr::Spanned;
use url::Url;

use super::names::{
    check_ports, default_ports, host_of, is_valid_id, parse_portal_url, port_specs,
};
use super::{
    Campaign, CampaignEntry, Category, Defaults, INVENTORY_SCHEMA, Inventory, InventoryError,
    InventoryFile, Portal, PortalEntry,
};
use crate::source::{SourceError, SourceErrors};
use crate::stage::Stage;

impl InventoryFile {
    /// Applies defaults and checks every portal, collecting every problem.
    pub fn compile(self, file: &str) -> Result<Inventory, InventoryError> {
        check_schema(file, &self.schema).map_err(InventoryError::Syntax)?;
        let mut errors = Vec::new();
        let portals = self.portals.into_iter().map(Placed::whole).collect();
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
    pub(super) fn from_errors(mut errors: Vec<SourceError>) -> Self {
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
/// it was read on its own to find every problem (see `pieces.rs`). Its
/// locations are moved down by that much.
pub(super) struct Placed<T> {
    pub(super) value: T,
    pub(super) shift: u64,
}

impl Placed<EntryRead> {
    /// A portal entry that read whole, with the whole file.
    pub(super) fn whole(entry: PortalEntry) -> Self {
        Self {
            value: EntryRead::Whole(Box::new(entry)),
            shift: 0,
        }
    }
}

/// What could be read of one portal entry (boxed: an entry is large).
pub(super) enum EntryRead {
    Whole(Box<PortalEntry>),
    /// The entry has problems of its own, listed already: its id and URL
    /// are still checked.
    Keys(EntryKeys),
    /// Nothing could be read of it; its problems are listed already.
    Unread,
}

/// The id and URL of a portal entry that does not read whole.
#[derive(Debug, Deserialize)]
pub(super) struct EntryKeys {
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

pub(super) fn check_schema(file: &str, schema: &Spanned<String>) -> Result<(), SourceError> {
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
pub(super) fn compile_parts(
    file: &str,
    defaults: &Defaults,
    entries: Vec<Placed<EntryRead>>,
    campaign_entries: Vec<Placed<CampaignEntry>>,
    errors: &mut Vec<SourceError>,
) -> (Vec<Portal>, Vec<Campaign>) {
    let default_target = check_defaults(file, defaults, errors);
    // A campaign may only select portals of the inventory: checked when the
    // id of every entry could be read.
    let every_id_read = entries.iter().all(|e| match &e.value {
        EntryRead::Whole(_) => true,
        EntryRead::Keys(k) => k.id.is_some(),
        EntryRead::Unread => false,
    });
    let (portals, ids) = compile_portals(file, defaults, default_target, entries, errors);
    let known_ids = every_id_read.then_some(&ids);
    let campaigns = compile_campaigns(file, campaign_entries, known_ids, errors);
    (portals, campaigns)
}

/// Checks the inventory's defaults; returns their target stage, if they set
/// a valid one.
pub(super) fn check_defaults(
    file: &str,
    defaults: &Defaults,
    errors: &mut Vec<SourceError>,
) -> Option<Stage> {
    if let Some(message) = defaults.ports.as_deref().and_then(check_ports) {
        errors.push(SourceError {
            file: file.to_owned(),
            line: 0,
            column: 0,
            field: Some("defaults.ports".to_owned()),
            message,
        });
    }
    match defaults.target_stage.map(Stage::try_from) {
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
    }
}

/// Checks every portal entry's id and URL, and compiles each entry that
/// read whole; returns the portals and every id read.
fn compile_portals(
    file: &str,
    defaults: &Defaults,
    default_target: Option<Stage>,
    entries: Vec<Placed<EntryRead>>,
    errors: &mut Vec<SourceError>,
) -> (Vec<Portal>, HashSet<String>) {
    let mut checker = EntryChecker::new(file, defaults, default_target);
    let mut portals = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        portals.extend(checker.entry(i, entry, errors));
    }
    (portals, checker.ids)
}

/// Checks portal entries one at a time, in the file's order: each id valid
/// and used once, each URL valid, each entry that read whole compiled with
/// the defaults. What [`Inventory::load`] and the streamed reading of a
/// large inventory (`stream.rs`) both do to an entry.
///
/// [`Inventory::load`]: super::Inventory::load
pub(super) struct EntryChecker<'a> {
    file: &'a str,
    defaults: &'a Defaults,
    default_target: Option<Stage>,
    /// Every id read so far, valid or not.
    pub(super) ids: HashSet<String>,
    /// Each valid id read so far, with the line it was first used on.
    seen: HashMap<String, u64>,
    /// Whether ids are kept (`ids`, `seen`, the duplicate check).
    remember: bool,
}

impl<'a> EntryChecker<'a> {
    pub(super) fn new(
        file: &'a str,
        defaults: &'a Defaults,
        default_target: Option<Stage>,
    ) -> Self {
        Self {
            file,
            defaults,
            default_target,
            ids: HashSet::new(),
            seen: HashMap::new(),
            remember: true,
        }
    }

    /// A checker that keeps no ids, for a file checked whole before: its
    /// memory does not grow with the file, and duplicates are not looked for.
    pub(super) fn forgetting_ids(self) -> Self {
        Self {
            remember: false,
            ..self
        }
    }

    /// Entry `i` checked and, when it read whole and is valid, compiled;
    /// its problems are pushed to `errors`.
    pub(super) fn entry(
        &mut self,
        i: usize,
        Placed {
            value: entry,
            shift,
        }: Placed<EntryRead>,
        errors: &mut Vec<SourceError>,
    ) -> Option<Portal> {
        let file = self.file;
        let at = |field: &str| format!("portals[{i}].{field}");
        let (id, url) = match &entry {
            EntryRead::Whole(e) => (Some(&e.id), Some(&e.url)),
            EntryRead::Keys(k) => (k.id.as_ref(), k.url.as_ref()),
            EntryRead::Unread => (None, None),
        };
        if let Some(id) = id {
            let text = &id.value;
            if self.remember {
                self.ids.insert(text.clone());
            }
            if !is_valid_id(text) {
                errors.push(placed(
                    file,
                    id,
                    shift,
                    at("id"),
                    format!("invalid id `{text}`: use lower-case letters, digits and hyphens (a-z, 0-9, -), not starting or ending with a hyphen"),
                ));
            } else if !self.remember {
                // Read again after the file was checked whole: its
                // duplicates were found then.
            } else if let Some(first) = self.seen.get(text) {
                errors.push(placed(
                    file,
                    id,
                    shift,
                    at("id"),
                    format!("duplicate id `{text}` (first used at line {first})"),
                ));
            } else {
                self.seen.insert(text.clone(), id.referenced.line() + shift);
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
            return None;
        };
        let entry = Placed {
            value: *entry,
            shift,
        };
        compile_entry(
            file,
            self.defaults,
            self.default_target,
            entry,
            i,
            url,
            errors,
        )
    }
}

/// Compiles portal entry `i`, which read whole, with its URL and host when
/// they are valid: the defaults applied, its target stage and ports
/// checked. None when it cannot be compiled (its problems are pushed).
fn compile_entry(
    file: &str,
    defaults: &Defaults,
    default_target: Option<Stage>,
    entry: Placed<PortalEntry>,
    i: usize,
    url: Option<(Url, String)>,
    errors: &mut Vec<SourceError>,
) -> Option<Portal> {
    let Placed {
        value: entry,
        shift,
    } = entry;
    let at = |field: &str| format!("portals[{i}].{field}");
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
    let (url, host) = url?;
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
                return None;
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
    Some(Portal {
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
    })
}

/// Checks and compiles every campaign; `ids` are the inventory's portal
/// ids when every entry's id could be read, so a campaign's selection can
/// be checked against them.
pub(super) fn compile_campaigns(
    file: &str,
    campaign_entries: Vec<Placed<CampaignEntry>>,
    ids: Option<&HashSet<String>>,
    errors: &mut Vec<SourceError>,
) -> Vec<Campaign> {
    let mut campaigns = Vec::with_capacity(campaign_entries.len());
    let mut seen_campaigns: HashMap<String, u64> = HashMap::new();
    for (i, c) in campaign_entries.into_iter().enumerate() {
        if let Some(campaign) = compile_campaign(file, i, c, ids, &mut seen_campaigns, errors) {
            campaigns.push(campaign);
        }
    }
    campaigns
}

/// Campaign `i` compiled, or None when its stage or deadline is not valid;
/// every problem is pushed. `seen` holds the ids of the campaigns before it
/// with their lines.
fn compile_campaign(
    file: &str,
    i: usize,
    Placed { value: c, shift }: Placed<CampaignEntry>,
    ids: Option<&HashSet<String>>,
    seen: &mut HashMap<String, u64>,
    errors: &mut Vec<SourceError>,
) -> Option<Campaign> {
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
    } else if let Some(first) = seen.insert(c.id.value.clone(), c.id.referenced.line() + shift) {
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
    if let Some(ids) = ids {
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
    let (Some(target_stage), Some(deadline)) = (target, deadline) else {
        return None;
    };
    Some(Campaign {
        id: c.id.value,
        name: c.name,
        target_stage,
        deadline,
        select: c.select,
    })
}
