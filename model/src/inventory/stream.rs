//! An inventory read from its file as it is audited, never held whole: a
//! national list of 100,000 portals costs the agent the same memory as a
//! list of a thousand. The file is checked whole first, every problem
//! listed exactly as [`Inventory::load`] lists them, then read again entry
//! by entry for the run. Of the portals only [`Names`] are kept (a hash of
//! every id and host), so a `www.` counterpart or a `--target` is still
//! checked against the whole inventory.
//!
//! The readings parse the file as it is read (serde-saphyr's reader,
//! through a seed whose `portals` visitor hands each entry on and keeps
//! nothing); the checks of each entry are [`EntryChecker`]'s, the same as
//! the whole reading's. A file the streamed reading refuses is read whole
//! for its errors, so a bad file gets the same list of problems either way.

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::compile::{EntryChecker, Placed, check_defaults, check_schema, compile_campaigns};
use super::{Campaign, CampaignEntry, Defaults, Inventory, InventoryError, Portal, PortalEntry};
use crate::input::{self, FileKind, Utf8Reader};
use crate::shard::Shard;
use crate::source::yaml_options;
use crate::stage::Stage;

/// The names of an inventory's portals, as hashes: enough to tell whether a
/// host or an id is one of them without holding them. The hasher's keys are
/// random per process, so no inventory can be written to make two names
/// collide.
#[derive(Debug, Clone, Default)]
pub struct Names {
    state: RandomState,
    hosts: HashSet<u64>,
    ids: HashSet<u64>,
}

impl Names {
    /// The names of `portals`.
    pub fn of<'a>(portals: impl IntoIterator<Item = &'a Portal>) -> Self {
        let mut names = Self::default();
        for p in portals {
            names.insert(p);
        }
        names
    }

    /// Adds a portal's host and id; false when its id was there already.
    pub fn insert(&mut self, portal: &Portal) -> bool {
        self.hosts.insert(self.state.hash_one(&portal.host));
        self.ids.insert(self.state.hash_one(&portal.id))
    }

    /// Whether `host` is the host of one of the portals.
    pub fn has_host(&self, host: &str) -> bool {
        self.hosts.contains(&self.state.hash_one(host))
    }

    /// Whether `id` is the id of one of the portals.
    pub fn has_id(&self, id: &str) -> bool {
        self.ids.contains(&self.state.hash_one(id))
    }

    /// A portal's fingerprint: every field, hashed.
    fn fingerprint(&self, portal: &Portal) -> u64 {
        self.state.hash_one(portal)
    }
}

/// What a file's metadata says of its content: size, time of last change
/// and inode. A file rewritten between two readings differs in one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Identity {
    /// The identity of the file `file` has open.
    fn of(file: &Utf8Reader<std::io::Take<std::fs::File>>) -> Option<Self> {
        let meta = file.metadata().ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

/// An inventory checked whole and read again portal by portal for a run
/// (see the module's documentation).
#[derive(Debug)]
pub struct InventoryStream {
    /// The inventory's title, when it has one.
    pub name: Option<String>,
    /// Where it is read from, as the user named it.
    pub source: String,
    /// The campaigns, in the order they were given.
    pub campaigns: Vec<Campaign>,
    /// How many portals the file lists.
    pub total: usize,
    /// How many of them a run reads: those of the shard, when there is one.
    pub count: usize,
    /// The names of every portal the file lists.
    pub names: Names,
    path: PathBuf,
    shard: Option<Shard>,
    defaults: Defaults,
    default_target: Option<Stage>,
    /// The fingerprint of every portal checked: a run audits no other.
    checked: HashSet<u64>,
    /// The file as it was checked.
    identity: Option<Identity>,
    /// The portals, when the file could only be read whole (see [`Self::open`]).
    held: Option<Vec<Portal>>,
}

impl InventoryStream {
    /// Checks the inventory at `path` whole, keeping of its portals only
    /// their count and names; a run then reads the portals of `shard` (all
    /// of them without one) with [`Self::read`]. Every problem of a bad file
    /// is listed, as by [`Inventory::load`].
    pub fn open(path: &Path, shard: Option<Shard>) -> Result<Self, InventoryError> {
        let source = path.display().to_string();
        match Self::check(path, &source, shard) {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(problems)) => Err(problems),
            // The streamed reading stopped at the file's shape or syntax (or
            // its bytes): the whole reading names every problem, and if it
            // finds none, its portals are held instead.
            Err(_) => Inventory::load(path).map(|inventory| Self::holding(inventory, path, shard)),
        }
    }

    /// The two checking readings: the head of the file (schema, defaults,
    /// campaigns) and then every entry. The outer error is the YAML
    /// reader's; the inner one the inventory's own problems.
    fn check(
        path: &Path,
        source: &str,
        shard: Option<Shard>,
    ) -> Result<Result<Self, InventoryError>, Failed> {
        // Each reading looks at the file it opened: a file replaced while
        // it is checked (renamed over, rewritten) is not audited.
        let (file, first) = open_file(path)?;
        let head = read_file(file, None)?;
        // Another schema: the whole reading says so, with every problem of
        // the file's shape that it finds beside it.
        if check_schema(source, &head.schema).is_err() {
            return Err(Failed);
        }
        let mut errors = Vec::new();
        let default_target = check_defaults(source, &head.defaults, &mut errors);
        let mut checker = EntryChecker::new(source, &head.defaults, default_target);
        let (file, identity) = open_file(path)?;
        if identity != first {
            return Ok(Err(InventoryError::Changed {
                path: source.to_owned(),
            }));
        }
        let (mut total, mut count, mut names) = (0, 0, Names::default());
        let mut checked = HashSet::new();
        read_file(
            file,
            Some(&mut |i, entry| {
                if let Some(portal) = checker.entry(i, Placed::whole(entry), &mut errors) {
                    total += 1;
                    if shard.is_none_or(|s| s.holds(&portal.id)) {
                        count += 1;
                    }
                    names.insert(&portal);
                    checked.insert(names.fingerprint(&portal));
                }
                true
            }),
        )?;
        let ids = std::mem::take(&mut checker.ids);
        drop(checker);
        let entries = head
            .campaigns
            .into_iter()
            .map(|c| Placed { value: c, shift: 0 })
            .collect();
        let campaigns = compile_campaigns(source, entries, Some(&ids), &mut errors);
        drop(ids);
        if !errors.is_empty() {
            return Ok(Err(InventoryError::from_errors(errors)));
        }
        Ok(Ok(Self {
            name: head.name,
            source: source.to_owned(),
            campaigns,
            total,
            count,
            names,
            path: path.to_owned(),
            shard,
            defaults: head.defaults,
            default_target,
            checked,
            identity,
            held: None,
        }))
    }

    /// A stream over an inventory that could only be read whole.
    fn holding(inventory: Inventory, path: &Path, shard: Option<Shard>) -> Self {
        let names = Names::of(&inventory.portals);
        let total = inventory.portals.len();
        let mut portals = inventory.portals;
        if let Some(shard) = shard {
            shard.retain(&mut portals);
        }
        Self {
            name: inventory.name,
            source: inventory.source,
            campaigns: inventory.campaigns,
            total,
            count: portals.len(),
            names,
            path: path.to_owned(),
            shard,
            defaults: Defaults::default(),
            default_target: None,
            checked: HashSet::new(),
            identity: None,
            held: Some(portals),
        }
    }

    /// Reads the portals of the run in the file's order, handing each to
    /// `each`, which returns false to stop. Blocks: call it off the async
    /// runtime. A file changed since it was checked gives
    /// [`InventoryError::Changed`] and no more portals: another size, time
    /// or inode before the reading; an entry that no longer reads or checks,
    /// that is none of the portals checked (every field compared), or that
    /// repeats one; or, at the end, fewer portals than were checked. An
    /// entry after all of the portals checked gives [`InventoryError::Grew`]:
    /// the run lacks none of them.
    pub fn read(&self, mut each: impl FnMut(Portal) -> bool) -> Result<(), InventoryError> {
        if let Some(held) = &self.held {
            for p in held {
                if !each(p.clone()) {
                    break;
                }
            }
            return Ok(());
        }
        let changed = || InventoryError::Changed {
            path: self.source.clone(),
        };
        let Ok((file, identity)) = open_file(&self.path) else {
            return Err(changed());
        };
        if identity != self.identity {
            return Err(changed());
        }
        let mut checker =
            EntryChecker::new(&self.source, &self.defaults, self.default_target).forgetting_ids();
        let (mut unexpected, mut stopped, mut read) = (false, false, 0);
        let mut seen: HashSet<u64> = HashSet::with_capacity(self.total);
        let reading = read_file(
            file,
            Some(&mut |i, entry| {
                let mut errors = Vec::new();
                let portal = checker
                    .entry(i, Placed::whole(entry), &mut errors)
                    .filter(|p| {
                        let print = self.names.fingerprint(p);
                        errors.is_empty() && self.checked.contains(&print) && seen.insert(print)
                    });
                let Some(portal) = portal else {
                    unexpected = true;
                    return false;
                };
                read += 1;
                if self.shard.is_some_and(|s| !s.holds(&portal.id)) {
                    return true;
                }
                stopped = !each(portal);
                !stopped
            }),
        );
        match reading {
            Ok(_) if !unexpected && read == self.total => Ok(()),
            Err(Failed) if stopped => Ok(()),
            // Every portal checked was read, each once: what came after is
            // new, and only it went unaudited.
            _ if unexpected && read == self.total => Err(InventoryError::Grew {
                path: self.source.clone(),
            }),
            _ => Err(changed()),
        }
    }
}

/// The streamed reading failed: the YAML reader's error, or the file could
/// not be opened. The whole reading says which, with its place.
#[derive(Debug)]
struct Failed;

impl From<serde_saphyr::Error> for Failed {
    fn from(_: serde_saphyr::Error) -> Self {
        Self
    }
}

impl From<input::ReadError> for Failed {
    fn from(_: input::ReadError) -> Self {
        Self
    }
}

/// What a reading keeps of the file: all but the portals.
struct Head {
    schema: Spanned<String>,
    name: Option<String>,
    defaults: Defaults,
    campaigns: Vec<CampaignEntry>,
}

/// What is done with each portal entry, by its index; false stops the reading.
type Each<'f> = &'f mut dyn FnMut(usize, PortalEntry) -> bool;

/// Reads the opened inventory as it is parsed, handing each portal entry to
/// `each` (skipping them without one). A stop asked for by `each` is no
/// failure.
fn read_file(
    reader: Utf8Reader<std::io::Take<std::fs::File>>,
    each: Option<Each<'_>>,
) -> Result<Head, Failed> {
    let stopped = Cell::new(false);
    let seed = FileSeed {
        entries: Entries {
            each,
            stopped: &stopped,
        },
    };
    let read =
        serde_saphyr::with_deserializer_from_reader_with_options(reader, yaml_options(), |de| {
            seed.deserialize(de)
        });
    match read {
        Ok(head) => Ok(head),
        Err(_) if stopped.get() => Err(Failed),
        Err(e) => Err(e.into()),
    }
}

/// Opens the inventory to be read as it is parsed, with the identity of
/// the file opened.
fn open_file(
    path: &Path,
) -> Result<(Utf8Reader<std::io::Take<std::fs::File>>, Option<Identity>), Failed> {
    let file = input::open_text(path, FileKind::Inventory)?;
    let identity = Identity::of(&file);
    Ok((file, identity))
}

/// The fields of an inventory file, as serde names them in errors.
const FIELDS: &[&str] = &[
    "schema",
    "name",
    "description",
    "defaults",
    "portals",
    "campaigns",
];

/// The inventory file, read as [`super::InventoryFile`] is but with its
/// `portals` handed on one at a time.
struct FileSeed<'f, 's> {
    entries: Entries<'f, 's>,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_, '_> {
    type Value = Head;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Head, D::Error> {
        d.deserialize_struct("InventoryFile", FIELDS, self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_, '_> {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a v6audit inventory")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut entries = Some(self.entries);
        let mut schema: Option<Spanned<String>> = None;
        let mut name: Option<Option<String>> = None;
        let mut description = false;
        let mut defaults: Option<Defaults> = None;
        let mut campaigns: Option<Vec<CampaignEntry>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let again = || de::Error::duplicate_field(field_name(&key));
            match key.as_str() {
                "schema" if schema.is_some() => return Err(again()),
                "schema" => schema = Some(map.next_value()?),
                "name" if name.is_some() => return Err(again()),
                "name" => name = Some(map.next_value()?),
                "description" if description => return Err(again()),
                "description" => {
                    map.next_value::<Option<String>>()?;
                    description = true;
                }
                "defaults" if defaults.is_some() => return Err(again()),
                "defaults" => defaults = Some(map.next_value()?),
                "portals" => match entries.take() {
                    Some(seed) => map.next_value_seed(seed)?,
                    None => return Err(again()),
                },
                "campaigns" if campaigns.is_some() => return Err(again()),
                "campaigns" => campaigns = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        if entries.is_some() {
            return Err(de::Error::missing_field("portals"));
        }
        Ok(Head {
            schema: schema.ok_or_else(|| de::Error::missing_field("schema"))?,
            name: name.flatten(),
            defaults: defaults.unwrap_or_default(),
            campaigns: campaigns.unwrap_or_default(),
        })
    }
}

/// `key` as one of [`FIELDS`] (serde wants a `&'static str`).
fn field_name(key: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|f| **f == key)
        .copied()
        .unwrap_or("field")
}

/// The `portals` list, each entry handed on as it is read.
struct Entries<'f, 's> {
    each: Option<Each<'f>>,
    stopped: &'s Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of portals")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(each) = self.each else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut i = 0;
        while let Some(entry) = seq.next_element::<PortalEntry>()? {
            if !each(i, entry) {
                self.stopped.set(true);
                return Err(de::Error::custom("stopped"));
            }
            i += 1;
        }
        Ok(())
    }
}
