//! `replicate` to an OCFL replica (`[[replica]] kind = "ocfl"`): the replica's folder is
//! an OCFL 1.1 storage root that `cairn ocfl export` brings up to date (docs/ocfl.md,
//! "As a replica"). Each item's object gets the versions it lacks; an object that
//! differs from the archive's item is reported (exit 1) and never rewritten.

use super::{replication_event, ItemResult, ObjectProblem, ReplicaResult};
use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::replica::Replica;

/// Exports the items `ids` into the replica's storage root (the caller holds the
/// archive lock) and records a `replication` event for each object that changed or
/// could not be brought up to date.
pub(super) fn replicate_ocfl(
    archive: &Archive,
    replica: &Replica,
    ids: &[String],
    clock: &dyn Clock,
    result: &mut ReplicaResult,
) -> Result<(), Error> {
    let folder = replica.folder().ok_or_else(|| Error::Replica {
        name: replica.name.clone(),
        detail: "an OCFL replica is a folder (file:///...)".into(),
    })?;
    let export = crate::ops::ocfl::export_items(archive, folder, None, Some(ids), true, true)?;
    let mut events = Vec::new();
    for o in export.objects {
        if o.id == crate::ops::ocfl::ARCHIVE_OBJECT {
            continue; // the archive's own object: no item, no event
        }
        let problems: Vec<ObjectProblem> = o
            .problem
            .iter()
            .map(|p| ObjectProblem {
                key: o.path.clone(),
                // The export names damage in the archive by the archive file's path;
                // anything else is an object that differs from the item.
                kind: if p.starts_with("the object") || p.starts_with('v') {
                    "conflict"
                } else {
                    "archive-damaged"
                },
                detail: p.clone(),
            })
            .collect();
        let item = ItemResult {
            id: o.id.clone(),
            copied: o.files_written,
            bytes: o.bytes_written,
            present: o.files_deduplicated,
            updated: 0,
            removed: 0,
            problems,
            register_blake3: String::new(),
        };
        if o.status == "created" || o.status == "updated" || !item.problems.is_empty() {
            events.push(replication_event(replica, &item));
        }
        result.items.push(item);
    }
    if !events.is_empty() {
        archive.append_events(clock.now(), &events)?;
    }
    Ok(())
}
