//! The commit of a repair: good copies of damaged or missing files of a published bag,
//! already staged in archive/.staging/ID-repair and verified against the register,
//! replace the damaged ones, one atomic rename each, then the `recovery` event is
//! logged.
//!
//! Before the first rename, staging/ID-repair/pending.json (fsynced) holds the event
//! and, for each file, its staged name and what the event says of it, with a change
//! UUID that the event carries as `data.change`.
//!
//! Crash states: interrupted before a rename, the staging folder is left and the next
//! run of `cairn repair` (or any writer's recovery) deletes it (the damaged file is still damaged, and
//! `cairn repair` runs again); interrupted between renames, some files are repaired
//! and the rest still damaged (each file is either the old or the good copy, never a
//! mix); interrupted before the event, the files are good and no event says so yet.
//! In the last two states the next run's recovery ([`recover_repairs`], before the
//! staging folders are cleared) logs the event for the files already renamed (their
//! staged names are gone), unless the log holds an event with that change UUID, then a
//! rerun of `cairn repair` repairs the rest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::{Archive, ArchiveLock};
use crate::fs::durable::{parent_dir, sync_dir};
use crate::fs::events::NewEvent;
use crate::fs::failpoint;

/// The staging folder of a repair of `id`, new and empty.
pub fn stage_repair(archive: &Archive, id: &str) -> Result<PathBuf, Error> {
    archive.create_staging(&format!("{id}-repair"))
}

/// The note a repair leaves in its staging folder before it replaces any file.
const PENDING: &str = "pending.json";

#[derive(Serialize, Deserialize)]
struct Pending {
    change: String,
    object: String,
    event_type: String,
    outcome: String,
    data: serde_json::Value,
    /// Each file: its staged name (in the staging folder) and what the event says of it.
    files: Vec<(String, String)>,
}

/// Publishes staged files (`(staged, target)` pairs, each staged file fsynced and
/// verified by the caller) over their targets in the bag, then logs `event`.
/// `described`: what the event says of each file, in the order of `files`.
pub fn publish_repair(
    archive: &Archive,
    _lock: &ArchiveLock,
    staged_dir: &Path,
    files: &[(PathBuf, PathBuf)],
    described: &[String],
    mut event: NewEvent,
    clock: &dyn Clock,
) -> Result<(), Error> {
    let change = uuid::Uuid::new_v4().to_string();
    if let Some(map) = event.data.as_object_mut() {
        map.insert("change".into(), change.clone().into());
    }
    let pending = Pending {
        change,
        object: event.object.clone(),
        event_type: event.event_type.clone(),
        outcome: event.outcome.clone(),
        data: event.data.clone(),
        files: files
            .iter()
            .zip(described)
            .map(|((staged, _), d)| {
                let name = staged
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, d.clone())
            })
            .collect(),
    };
    let bytes = serde_json::to_vec_pretty(&pending)
        .map_err(|e| Error::Internal(format!("encode the repair's pending note: {e}")))?;
    crate::fs::durable::write_new(&staged_dir.join(PENDING), &bytes)?;
    sync_dir(staged_dir)?;
    failpoint::hit("repair-before-publish");
    for (n, (staged, target)) in files.iter().enumerate() {
        let dir = parent_dir(target);
        if !dir.is_dir() {
            crate::fs::create_dir_all(dir)?;
        }
        crate::fs::rename_replacing(staged, target, "publish repaired")?;
        sync_dir(dir)?;
        if n == 0 {
            failpoint::hit("repair-mid-publish");
        }
    }
    failpoint::hit("repair-after-publish");
    archive.append_events(clock.now(), &[event])?;
    archive.discard_staged(staged_dir);
    Ok(())
}

/// Recovery of repairs cut short after their first rename (the lock is held; called
/// before the staging folders are cleared): for each staging folder with a pending
/// note whose change no event records yet, the event is logged for the files whose
/// staged copies were renamed into place. Returns what it did.
pub(crate) fn recover_repairs(
    archive: &Archive,
    _held: &ArchiveLock,
    clock: &dyn Clock,
) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    for dir in crate::fs::list_dir_if_present(&archive.staging())? {
        let is_repair = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("-repair"));
        if !is_repair {
            continue; // amend, revise, withdraw: their own pending notes (update.rs)
        }
        let note = dir.join(PENDING);
        let Some(bytes) = crate::fs::read_if_present(&note)? else {
            continue;
        };
        let Ok(pending) = serde_json::from_slice::<Pending>(&bytes) else {
            continue;
        };
        let done: Vec<&String> = pending
            .files
            .iter()
            .filter(|(staged, _)| !crate::fs::entry_exists(&dir.join(staged)))
            .map(|(_, d)| d)
            .collect();
        if done.is_empty() {
            continue;
        }
        let logged = archive.events_of(&pending.object)?.iter().any(|e| {
            e.data.get("change").and_then(|v| v.as_str()) == Some(pending.change.as_str())
        });
        if logged {
            continue;
        }
        let mut data = pending.data.clone();
        if let Some(map) = data.as_object_mut() {
            map.insert("interrupted".into(), true.into());
        }
        let detail = format!(
            "repaired {} files in archive from good copies whose digests match the register: {}; recorded after an interrupted run",
            done.len(),
            done.iter().map(|d| d.as_str()).collect::<Vec<_>>().join("; ")
        );
        let event = NewEvent::replayed(
            &pending.event_type,
            &pending.outcome,
            &pending.object,
            detail,
        )
        .with_data(data);
        archive.append_events(clock.now(), &[event])?;
        notes.push(format!(
            "logged the recovery of {} files of {} that an interrupted repair had put in place",
            done.len(),
            pending.object
        ));
    }
    Ok(notes)
}
