//! What the archive holds, for choosing identifiers and finding duplicates: read from
//! the item index (fs::item_index, kept from manifests/ and the event log) and archive/.
//!
//! Looked up per intake item, so every question is answered from a map built once at
//! load (and kept up to date by [`ArchiveState::add`]), never by a pass over every entry:
//! an ingest of n items into an archive of m stays O(n + m), not O(n × m).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::item_index::ItemIndex;
use crate::fs::register::RegisterEntry;
use crate::metadata::{StoredDublinCore, Term};

/// What the questions here need of a register entry; the entry itself (its file list,
/// tag-file digests) is read again from manifests/ only for a candidate duplicate, so
/// that memory grows by a few hundred bytes an item, not by whole entries.
#[derive(Debug, Clone)]
pub(crate) struct EntrySummary {
    pub(crate) id: String,
    pub(crate) intake_name: String,
    pub(crate) payload_oxum: String,
    dublin_core: Vec<String>,
}

/// The dc.identifier strings of an entry's record.
fn identifiers_in(dc: &StoredDublinCore) -> Vec<String> {
    dc.strings(Term::DC_IDENTIFIER)
        .into_iter()
        .map(str::to_string)
        .collect()
}

impl EntrySummary {
    fn of(entry: &RegisterEntry) -> EntrySummary {
        EntrySummary {
            id: entry.id.clone(),
            intake_name: entry.intake_name.clone(),
            payload_oxum: entry.payload_oxum.clone(),
            dublin_core: identifiers_in(&entry.dublin_core),
        }
    }
}

/// The register entries (summaries), and every identifier ever used.
pub(crate) struct ArchiveState {
    pub(crate) entries: BTreeMap<String, EntrySummary>,
    /// Every identifier ever used: bags, register entries, and objects in the log.
    pub(crate) used: BTreeSet<String>,
    /// Entries by each of their dc.identifier values.
    by_identifier: HashMap<String, String>,
    /// The highest number used after a prefix, per prefix asked about so far.
    highest: std::cell::RefCell<HashMap<String, u64>>,
}

impl ArchiveState {
    /// From the item index (fs::item_index): no register entry and no line of the log
    /// is read, only the folder of bags (a bag left without an entry keeps its name).
    /// A dry run (`write` false) writes nothing, the index included.
    pub(crate) fn load(archive: &Archive, write: bool) -> Result<ArchiveState, Error> {
        ArchiveState::from_index(archive, archive.item_index_with(write)?)
    }

    /// [`ArchiveState::load`] from an item index already read (and current).
    pub(crate) fn from_index(archive: &Archive, index: ItemIndex) -> Result<ArchiveState, Error> {
        let mut state = ArchiveState {
            entries: BTreeMap::new(),
            used: BTreeSet::new(),
            by_identifier: HashMap::new(),
            highest: Default::default(),
        };
        for (r, e) in index.items() {
            state.add_summary(EntrySummary {
                id: r.id.clone(),
                intake_name: e.intake_name.clone(),
                payload_oxum: e.payload_oxum.clone(),
                dublin_core: e.identifiers.clone(),
            });
        }
        // Every identifier ever used: bags, entries, tombstones and the log's objects
        // (withdrawn items' identifiers are never used again).
        state.used.extend(archive.bag_ids()?);
        state.used.extend(index.records.into_keys());
        Ok(state)
    }

    /// Records an entry just committed, and its identifier.
    pub(crate) fn add(&mut self, entry: RegisterEntry) {
        self.add_summary(EntrySummary::of(&entry));
    }

    fn add_summary(&mut self, entry: EntrySummary) {
        let id = entry.id.clone();
        for v in &entry.dublin_core {
            self.by_identifier
                .entry(v.to_string())
                .or_insert_with(|| id.clone());
        }
        self.mark_used(&id);
        self.entries.insert(id, entry);
    }

    /// Marks an identifier as used (a dry run's, or a committed item's).
    pub(crate) fn mark_used(&mut self, id: &str) {
        for (prefix, highest) in self.highest.get_mut().iter_mut() {
            if let Some(n) = generated_number(id, prefix) {
                *highest = (*highest).max(n);
            }
        }
        self.used.insert(id.to_string());
    }

    /// The entry whose Dublin Core gives `identifier` as a dc.identifier.
    pub(crate) fn with_identifier(&self, identifier: &str) -> Option<&EntrySummary> {
        self.by_identifier
            .get(identifier)
            .and_then(|id| self.entries.get(id))
    }

    /// The next generated identifier: the prefix and one more than the highest number
    /// ever used with it.
    pub(crate) fn next_generated(&self, prefix: &str) -> String {
        let used = &self.used;
        let max = *self
            .highest
            .borrow_mut()
            .entry(prefix.to_string())
            .or_insert_with(|| {
                used.iter()
                    .filter_map(|id| generated_number(id, prefix))
                    .max()
                    .unwrap_or(0)
            });
        format!("{prefix}{:06}", max + 1)
    }
}

/// The number of an identifier the prefix generated (`cairn-000042` → 42).
fn generated_number(id: &str, prefix: &str) -> Option<u64> {
    id.strip_prefix(prefix)
        .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|rest| rest.parse::<u64>().ok())
}
