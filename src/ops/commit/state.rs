//! What the archive holds, for choosing identifiers and finding duplicates: read from
//! archive/, manifests/ and the event log (through fs/).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::register::RegisterEntry;

/// The register entries, and every identifier ever used.
pub(crate) struct ArchiveState {
    pub(crate) entries: BTreeMap<String, RegisterEntry>,
    /// Every identifier ever used: bags, register entries, and objects in the log.
    pub(crate) used: BTreeSet<String>,
}

impl ArchiveState {
    pub(crate) fn load(archive: &Archive) -> Result<ArchiveState, Error> {
        let mut used: BTreeSet<String> = archive.bag_ids()?.into_iter().collect();
        let mut entries = BTreeMap::new();
        for id in archive.register_ids()? {
            let entry = RegisterEntry::read(&archive.register_path(&id))?;
            used.insert(id.clone());
            entries.insert(id, entry);
        }
        // Withdrawn items' identifiers are never used again (their events say so too).
        used.extend(archive.withdrawn_ids()?);
        let log = archive.read_events()?;
        for e in &log.events {
            if !e.object.is_empty() {
                used.insert(e.object.clone());
            }
        }
        Ok(ArchiveState { entries, used })
    }

    /// The next generated identifier: the prefix and one more than the highest number
    /// ever used with it.
    pub(crate) fn next_generated(&self, prefix: &str) -> String {
        let max = self
            .used
            .iter()
            .filter_map(|id| id.strip_prefix(prefix))
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|rest| rest.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        format!("{prefix}{:06}", max + 1)
    }
}
