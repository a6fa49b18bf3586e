//! The commit of a repair: good copies of damaged or missing files of a published bag,
//! already staged in archive/.staging/ID-repair and verified against the register,
//! replace the damaged ones, one atomic rename each, then the `recovery` event is
//! logged.
//!
//! Crash states: interrupted before a rename, the staging folder is left and the next
//! run of `cairn repair` (or any writer's recovery) deletes it (the damaged file is still damaged, and
//! `cairn repair` runs again); interrupted between renames, some files are repaired
//! and the rest still damaged (each file is either the old or the good copy, never a
//! mix); interrupted before the event, the files are good and no event says so (a
//! rerun of `cairn repair` finds nothing to do; fixity records the good state).

use std::path::{Path, PathBuf};

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

/// Publishes staged files (`(staged, target)` pairs, each staged file fsynced and
/// verified by the caller) over their targets in the bag, then logs `event`.
pub fn publish_repair(
    archive: &Archive,
    _lock: &ArchiveLock,
    staged_dir: &Path,
    files: &[(PathBuf, PathBuf)],
    event: NewEvent,
    clock: &dyn Clock,
) -> Result<(), Error> {
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
    archive.discard_staged(staged_dir);
    archive.append_events(clock.now(), &[event])?;
    Ok(())
}
