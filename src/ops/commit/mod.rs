//! The commit protocol: the one way a change enters the archive, crash-safe at every
//! step. Ingest (`ops::ingest`) and import (`ops::transfer`) are its
//! two kinds of change today; each is a [`Change`], and this module runs the steps in
//! order, under the archive lock:
//!
//! 1. **stage**: an empty folder archive/.staging/ID ([`Archive::create_staging`]);
//! 2. **build or extract**: [`Change::build`] writes the whole new bag into it and makes
//!    it durable (ingest copies and hashes the intake item and writes the tag files;
//!    import extracts a validated zip or folder);
//! 3. **verify**: the staged bag is read back in full with the validator an auditor runs
//!    ([`Change::verify_options`]); a failure discards the staging folder;
//!    then [`Change::before_publish`] may still turn the change down (the format policy
//!    may refuse an ingested item): the staging folder is discarded likewise. A caller
//!    with work of its own to finish first runs [`stage_new_bag`] and [`publish_new_bag`]
//!    apart (ingest joins its format identification, which ran beside the build);
//! 4. **publish**: one no-replace rename to archive/ID (never replaces a bag);
//! 5. **register**: [`Change::record`] makes the register entry, written once
//!    (temp file, fsync, no-replace rename) to manifests/ID.json;
//! 6. **log**: [`Change::events`] are appended to the event log (fsynced, chained).
//!
//! Failpoints `KIND-before-publish`, `KIND-after-publish`, `KIND-after-register` and
//! `KIND-after-events` (KIND = [`Change::kind`]) sit between the steps.
//!
//! Crash states and their recovery ([`recover`], run by the next ingest or import under
//! the same lock before it does anything else):
//!
//! | crashed during / after | what is on disk | recovery |
//! | --- | --- | --- |
//! | stage, build, verify | a folder in archive/.staging | deleted |
//! | publish (rename is atomic) | the staging folder, or the bag | as the row above or below |
//! | publish, before register | a bag with no register entry | validated in full; if valid, its entry is rebuilt from the bag and written; if not, left unregistered and reported |
//! | register (temp file written) | a hidden `.ID.json.tmp-PID` in manifests/, no entry | as the row above (hidden names are never entries) |
//! | register, before log | an entry with no `ingestion` event | the events are appended, marked "recorded after an interrupted run" |
//! | log (torn last line) | an incomplete last line | every command that writes cuts it off first, under its lock, and logs a "log repair" event ([`crate::fs::events`]) |
//! | after log | a complete commit | nothing (ingest: the intake item is found already archived) |
//!
//! Changes to an item already archived are [`Update`]s, driven by [`commit_update`]
//! (`update.rs`): amending metadata stages a new bag (payload hard-linked, new tag
//! files) that replaces the current one by one exchange, and a new register entry
//! version; withdrawing moves the bag to quarantine (or purges it) and leaves a
//! tombstone. Their recovery runs first in [`recover`] (docs/lifecycle.md). Future kinds
//! (revise, repair from a replica) plug in there as new [`Update`]s.

mod entry;
mod log;
mod recover;
pub(crate) mod repair;
mod state;
mod update;

pub use entry::AnnotateFormats;
pub(crate) use entry::{dublin_core_of, entry_from_bag, relative_bag_path};
pub use log::{addition_events, judgement_word, qc_events};
pub(crate) use log::{record_entry_written, register_file_name};
pub(crate) use recover::{recover, recover_with_index, refuse_broken};
pub(crate) use state::ArchiveState;
pub(crate) use update::bag_is;
pub use update::{commit_update, Committed, Outcome, Update};

use std::path::Path;

use crate::bagit::{validate, ValidateOptions, ValidateReport};
use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::{Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::durable::rename_no_replace;
use crate::fs::events::NewEvent;
use crate::fs::failpoint;
use crate::fs::register::RegisterEntry;

/// One kind of change to the archive, as the commit protocol drives it.
pub trait Change {
    /// The name of the kind of change, which names its failpoints (`ingest`, `import`).
    fn kind(&self) -> &'static str;

    /// Writes the complete new bag into the empty folder `staged` and makes it durable.
    /// On error the protocol discards `staged`.
    fn build(&mut self, staged: &Path) -> Result<(), Error>;

    /// How the staged bag is read back before it is published (in full, always).
    fn verify_options(&self) -> ValidateOptions {
        ValidateOptions::default()
    }

    /// The last word before the staged, verified bag is published: an error discards
    /// the staging folder, and nothing of the change reaches the archive.
    fn before_publish(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// The register entry of the bag just published as `id`; `check` is the read-back
    /// of the staged copy.
    fn record(
        &mut self,
        archive: &Archive,
        id: &str,
        check: &ValidateReport,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RegisterEntry, Error>;

    /// The events that record the change, once its register entry is written.
    fn events(&mut self, entry: &RegisterEntry) -> Result<Vec<NewEvent>, Error>;
}

/// Repairs a torn last line of the event log, if any ([`Archive::repair_log`]), saying
/// so in a warning: what every command that appends, and does not run [`recover`],
/// calls first under its lock, before it checks the chain.
pub fn repair_log(archive: &Archive, now: chrono::DateTime<chrono::Utc>) -> Result<(), Error> {
    if let Some(note) = archive.repair_log(now)? {
        tracing::warn!("{note}");
    }
    Ok(())
}

/// Commits `change` as the new bag `id`: stage, build, verify, publish, register, log
/// (see the module comment). Holding `_lock` proves that no other commit runs.
pub fn commit_new_bag(
    archive: &Archive,
    lock: &ArchiveLock,
    id: &str,
    change: &mut dyn Change,
    clock: &dyn Clock,
) -> Result<RegisterEntry, Error> {
    let staged = stage_new_bag(archive, lock, id, change)?;
    publish_new_bag(archive, lock, staged, change, clock)
}

/// A new bag staged, built and verified (steps 1 to 3), not yet published.
pub struct Staged {
    id: String,
    path: std::path::PathBuf,
    check: ValidateReport,
}

impl Staged {
    /// Gives the change up: the staging folder is discarded, nothing was published.
    pub fn discard(self, archive: &Archive) {
        archive.discard_staged(&self.path);
    }
}

/// Steps 1 to 3 of [`commit_new_bag`]: stage, build, verify. On error the staging folder
/// is discarded. A caller with work of its own to finish before the bag is published
/// (ingest's format identification, on its own thread) does it between this and
/// [`publish_new_bag`].
pub fn stage_new_bag(
    archive: &Archive,
    _lock: &ArchiveLock,
    id: &str,
    change: &mut dyn Change,
) -> Result<Staged, Error> {
    let path = archive.create_staging(id)?;
    match build_and_verify(change, &path) {
        Ok(check) => Ok(Staged {
            id: id.to_string(),
            path,
            check,
        }),
        Err(e) => {
            archive.discard_staged(&path);
            Err(e)
        }
    }
}

/// Steps 3 (the change's last word, [`Change::before_publish`]) to 6 of
/// [`commit_new_bag`]: publish, register, log.
pub fn publish_new_bag(
    archive: &Archive,
    _lock: &ArchiveLock,
    staged: Staged,
    change: &mut dyn Change,
    clock: &dyn Clock,
) -> Result<RegisterEntry, Error> {
    let kind = change.kind();
    if let Err(e) = change.before_publish() {
        staged.discard(archive);
        return Err(e);
    }
    let Staged {
        id,
        path: staged,
        check,
    } = staged;
    let id = id.as_str();
    failpoint::hit(&format!("{kind}-before-publish"));
    rename_no_replace(&staged, &archive.bag_path(id))?;
    failpoint::hit(&format!("{kind}-after-publish"));

    let entry = change.record(archive, id, &check, clock.now())?;
    entry.write_once(&archive.register_path(id))?;
    failpoint::hit(&format!("{kind}-after-register"));

    let mut events = change.events(&entry)?;
    record_entry_written(
        archive,
        &mut events,
        crate::vocab::EventType::Ingestion,
        id,
        &archive.register_path(id),
    )?;
    archive.append_events(clock.now(), &events)?;
    failpoint::hit(&format!("{kind}-after-events"));
    Ok(entry)
}

/// Steps 2 and 3: build into `staged`, then read it all back.
fn build_and_verify(change: &mut dyn Change, staged: &Path) -> Result<ValidateReport, Error> {
    change.build(staged)?;
    let check = validate(&DirSource::open(staged)?, &change.verify_options())?;
    if !check.is_ok() {
        return Err(Error::VerifyFailed {
            path: staged.to_path_buf(),
            detail: summarize(&check),
        });
    }
    Ok(check)
}

/// A failed validation in one line: every problem and error, `path: kind: detail`.
pub(crate) fn summarize(check: &ValidateReport) -> String {
    check
        .problems
        .iter()
        .chain(&check.errors)
        .map(|p| format!("{}: {}: {}", p.path, p.kind, p.detail))
        .collect::<Vec<_>>()
        .join("; ")
}
