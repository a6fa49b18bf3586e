//! The commit protocol for changes to an item already in the archive: amending its
//! metadata (a new bag in place of the current one, the payload hard-linked, never
//! copied or touched) and withdrawing it (the bag leaves archive/, a tombstone is left).
//!
//! The steps, under the archive lock, each made durable before the next:
//!
//! 1. **stage**: an empty folder archive/.staging/ID~KIND (`~` is never in an
//!    identifier, so recovery tells it from an ingest's staging folder);
//! 2. **build** (replacing changes): [`Update::build`] writes the new bag into
//!    ID~KIND/bag from the current one, durable;
//! 3. **verify**: the staged bag is read back in full, as at ingest; then
//!    [`Update::before_publish`] may still turn the change down (revise: the format
//!    policy or the `[qc]` profile refusing a file), and the staging folder is discarded;
//! 4. **prepare**: ID~KIND/pending.json records everything the rest needs (the entry it
//!    supersedes, the new entry or the tombstone, the events, a change identifier),
//!    fsynced with its folders. From here on the change is decided: recovery finishes
//!    it, never undoes it;
//! 5. **keep**: the superseded entry is written once to manifests/history/ID/N.json;
//! 6. **publish**: replacing, one `RENAME_EXCHANGE` swaps the staged bag with archive/ID;
//!    withdrawing, one rename moves archive/ID to archive/.quarantine/ID (or into the
//!    staging folder, to be purged);
//! 7. **register**: replacing, manifests/ID.json is replaced by the new version in one
//!    rename; withdrawing, the tombstone is written to manifests/withdrawn/ID.json, then
//!    manifests/ID.json removed;
//! 8. **log**: the events, each carrying the change identifier in its data;
//! 9. **clean**: the staging folder (the old bag's links and tag files, or a purged
//!    bag's bytes) is deleted.
//!
//! Failpoints `KIND-before-publish` (after 4), `KIND-after-publish`,
//! `KIND-after-register`, `KIND-after-events` sit between the steps.
//!
//! Recovery ([`recover_updates`], run first by every command that takes the lock): a
//! staging folder ID~KIND without a readable pending.json was never decided and is
//! deleted (the old state stands); one with it is finished from step 5, each step
//! skipped when already done (the bag already exchanged, the entry already written, an
//! event with the change identifier already in the log).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::log::{record_register_files, register_digest, register_file_name};
use super::summarize;
use crate::bagit::{validate, ValidateOptions, ValidateReport};
use crate::clock::Clock;
use crate::digest::{hash_reader, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::{Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::durable::{
    remove_file_synced, rename_no_replace, sync_dir, write_atomic_if_changed, write_new,
};
use crate::fs::events::{Event, NewEvent};
use crate::fs::failpoint;
use crate::fs::lifecycle::{exchange, write_once_idempotent, Tombstone};
use crate::fs::register::RegisterEntry;

/// The staged bag's folder inside archive/.staging/ID~KIND.
const STAGED_BAG: &str = "bag";
/// The decided change, inside archive/.staging/ID~KIND.
const PENDING_FILE: &str = "pending.json";
/// A purged bag's folder inside archive/.staging/ID~KIND, until it is deleted.
const PURGED: &str = "purged";

/// One kind of change to an item already in the archive.
pub trait Update {
    /// The kind's name: names the failpoints and the staging folder (`amend`, `withdraw`).
    fn kind(&self) -> &'static str;

    /// Whether the change builds a new bag to replace the current one (true) or takes
    /// the bag out of archive/ (false).
    fn replaces_bag(&self) -> bool;

    /// Writes the new bag into the empty folder `staged`, from the current bag
    /// `current`, and makes it durable. Only called when [`Update::replaces_bag`].
    fn build(&mut self, _current: &Path, _staged: &Path) -> Result<(), Error> {
        Err(Error::Internal(format!(
            "{} builds no bag",
            crate::quoted(self.kind())
        )))
    }

    /// How the staged bag is read back (in full).
    fn verify_options(&self) -> ValidateOptions {
        ValidateOptions {
            keep_digests: true,
            ..ValidateOptions::default()
        }
    }

    /// The last word before the change is decided: `staged` is the staged bag, built
    /// and read back in full (replacing changes only). An error discards the staging
    /// folder, and nothing of the change reaches the archive (revise: the format
    /// policy and the `[qc]` profile refusing a new or changed file).
    fn before_publish(&mut self, _archive: &Archive, _staged: &Path) -> Result<(), Error> {
        Ok(())
    }

    /// What the change publishes; `staged` is the staged bag and its read-back, for
    /// replacing changes.
    fn outcome(
        &mut self,
        archive: &Archive,
        current: &RegisterEntry,
        staged: Option<(&Path, &ValidateReport)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Outcome, Error>;

    /// The events that record the change.
    fn events(
        &mut self,
        current: &RegisterEntry,
        outcome: &Outcome,
    ) -> Result<Vec<NewEvent>, Error>;
}

/// What a change publishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "publish", rename_all = "kebab-case")]
pub enum Outcome {
    /// The staged bag replaces archive/ID and `entry` becomes manifests/ID.json; with
    /// `retain`, the replaced bag is kept as that version in archive/.versions/ID/.
    Replace {
        entry: Box<RegisterEntry>,
        #[serde(default)]
        retain: Option<u32>,
    },
    /// The bag leaves archive/ (to quarantine, or purged); the tombstone is written and
    /// manifests/ID.json removed.
    Withdraw {
        tombstone: Box<Tombstone>,
        purge: bool,
    },
}

/// An event as pending.json keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingEvent {
    #[serde(rename = "type")]
    event_type: String,
    outcome: String,
    detail: String,
    object: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// A decided change (pending.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    kind: String,
    id: String,
    /// A random UUID, in every event's data as `change`.
    change: String,
    /// The superseded entry's version and exact bytes (kept in manifests/history/).
    previous_version: u32,
    previous: String,
    outcome: Outcome,
    events: Vec<PendingEvent>,
}

/// What a committed change left.
#[derive(Debug, Clone)]
pub struct Committed {
    pub outcome: Outcome,
    pub events: Vec<Event>,
}

/// The staging folder of a change of `kind` to `id`.
fn staging_name(id: &str, kind: &str) -> String {
    format!("{id}~{kind}")
}

/// Commits `change` to the archived item `id` (see the module comment). The caller has
/// checked that `id` has a register entry; holding `_lock` proves no other commit runs.
pub fn commit_update(
    archive: &Archive,
    _lock: &ArchiveLock,
    id: &str,
    change: &mut dyn Update,
    clock: &dyn Clock,
) -> Result<Committed, Error> {
    let kind = change.kind();
    let register = archive.register_path(id);
    let (previous, previous_bytes) = RegisterEntry::read_with_bytes(&register)?;
    let staging = archive.create_staging(&staging_name(id, kind))?;
    let pending = match prepare(
        archive,
        id,
        change,
        &previous,
        previous_bytes,
        &staging,
        clock,
    ) {
        Ok(p) => p,
        Err(e) => {
            archive.discard_staged(&staging);
            return Err(e);
        }
    };
    failpoint::hit(&format!("{kind}-before-publish"));
    let events = finish(archive, &pending, &staging, clock, false)?;
    Ok(Committed {
        outcome: pending.outcome,
        events,
    })
}

/// Steps 2 to 4: build, verify, and write the decided change to pending.json.
fn prepare(
    archive: &Archive,
    id: &str,
    change: &mut dyn Update,
    previous: &RegisterEntry,
    previous_bytes: Vec<u8>,
    staging: &Path,
    clock: &dyn Clock,
) -> Result<Pending, Error> {
    let now = clock.now();
    let bag = staging.join(STAGED_BAG);
    let check = if change.replaces_bag() {
        crate::fs::create_dir(&bag)?;
        change.build(&archive.bag_path(id), &bag)?;
        let check = validate(&DirSource::open(&bag)?, &change.verify_options())?;
        if !check.is_ok() {
            return Err(Error::VerifyFailed {
                path: bag,
                detail: summarize(&check),
            });
        }
        change.before_publish(archive, &bag)?;
        Some(check)
    } else {
        None
    };
    let outcome = change.outcome(
        archive,
        previous,
        check.as_ref().map(|c| (bag.as_path(), c)),
        now,
    )?;
    let change_id = uuid::Uuid::new_v4().to_string();
    let events = change
        .events(previous, &outcome)?
        .into_iter()
        .map(|e| {
            let mut data = super::log::data_object(e.data);
            data.insert(
                "change".into(),
                serde_json::Value::String(change_id.clone()),
            );
            PendingEvent {
                event_type: e.event_type,
                outcome: e.outcome,
                detail: e.detail,
                object: e.object,
                data: serde_json::Value::Object(data),
            }
        })
        .collect();
    let pending = Pending {
        kind: change.kind().to_string(),
        id: id.to_string(),
        change: change_id,
        previous_version: previous.entry_version,
        previous: String::from_utf8(previous_bytes).map_err(|_| Error::Corrupt {
            path: archive.register_path(id),
            detail: "the register entry is not UTF-8".into(),
        })?,
        outcome,
        events,
    };
    let path = staging.join(PENDING_FILE);
    let bytes = serde_json::to_vec(&pending)
        .map_err(|e| Error::io("encode", &path, std::io::Error::other(e)))?;
    write_new(&path, &bytes)?;
    sync_dir(staging)?;
    sync_dir(&archive.staging())?;
    Ok(pending)
}

/// Steps 5 to 9, each skipped when already done (so recovery runs the same code).
fn finish(
    archive: &Archive,
    pending: &Pending,
    staging: &Path,
    clock: &dyn Clock,
    recovering: bool,
) -> Result<Vec<Event>, Error> {
    let id = pending.id.as_str();
    let kind = pending.kind.as_str();
    // 5. keep the superseded entry, exactly as it was.
    write_once_idempotent(
        &archive.history_path(id, pending.previous_version),
        pending.previous.as_bytes(),
    )?;
    // 6. publish.
    let bag = archive.bag_path(id);
    match &pending.outcome {
        Outcome::Replace { entry, retain } => {
            let staged = staging.join(STAGED_BAG);
            if !bag_is(&bag, entry)? {
                if bag.exists() {
                    exchange(&staged, &bag)?;
                } else {
                    // The two-rename fallback of `exchange` stopped half-way.
                    rename_no_replace(&staged, &bag)?;
                }
            }
            // The replaced bag is now in staging (`bag`, or `old` after the fallback).
            if let Some(v) = retain {
                let keep = archive.version_path(id, *v);
                let old = [staged, staging.join("old")]
                    .into_iter()
                    .find(|p| p.is_dir());
                if let (Some(old), false) = (old, keep.exists()) {
                    archive.ensure_version_dir(id, *v)?;
                    rename_no_replace(&old, &keep)?;
                    sync_dir(staging)?;
                }
            }
        }
        Outcome::Withdraw { purge, .. } => {
            if bag.exists() {
                let to = if *purge {
                    staging.join(PURGED)
                } else {
                    archive.ensure_quarantine_dir()?;
                    archive.quarantine_path(id)
                };
                rename_no_replace(&bag, &to)?;
                sync_dir(&archive.bags)?;
            }
        }
    }
    failpoint::hit(&format!("{kind}-after-publish"));
    // 7. register.
    let register = archive.register_path(id);
    // What the register's files now hold, for the event (audit checks them against it).
    let history = archive.history_path(id, pending.previous_version);
    let mut files = vec![(
        register_file_name(archive, &history),
        Some(register_digest(pending.previous.as_bytes())),
    )];
    match &pending.outcome {
        Outcome::Replace { entry, .. } => {
            let bytes = entry.encode(&register)?;
            write_atomic_if_changed(&register, &bytes)?;
            files.push((
                register_file_name(archive, &register),
                Some(register_digest(&bytes)),
            ));
        }
        Outcome::Withdraw { tombstone, .. } => {
            let path = archive.tombstone_path(id);
            let bytes = tombstone.encode(&path)?;
            write_once_idempotent(&path, &bytes)?;
            remove_file_synced(&register)?;
            files.push((
                register_file_name(archive, &path),
                Some(register_digest(&bytes)),
            ));
            files.push((register_file_name(archive, &register), None));
        }
    }
    failpoint::hit(&format!("{kind}-after-register"));
    // 8. log.
    let logged = recovering && change_logged(archive, &pending.change)?;
    let mut written = Vec::new();
    if !logged {
        let note = if recovering {
            " (recorded after an interrupted run)"
        } else {
            ""
        };
        let mut events: Vec<NewEvent> = pending
            .events
            .iter()
            .map(|e| {
                NewEvent::replayed(
                    &e.event_type,
                    &e.outcome,
                    &e.object,
                    format!("{}{note}", e.detail),
                )
                .with_data(e.data.clone())
            })
            .collect();
        if let Some(first) = events.iter_mut().find(|e| e.object == id) {
            record_register_files(first, files);
        }
        written = archive.append_events(clock.now(), &events)?;
    }
    failpoint::hit(&format!("{kind}-after-events"));
    // 9. clean.
    archive.remove_staged(staging)?;
    Ok(written)
}

/// Whether the bag at `bag` is the one `entry` describes: every tag manifest the entry
/// records is there with the recorded digests.
pub(crate) fn bag_is(bag: &Path, entry: &RegisterEntry) -> Result<bool, Error> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut any = false;
    for (name, digests) in entry
        .tag_files
        .iter()
        .filter(|(n, _)| n.starts_with("tagmanifest-"))
    {
        let path = bag.join(name);
        let Some(bytes) = crate::fs::read_if_present(&path)? else {
            return Ok(false);
        };
        for &(alg, want) in digests.iter() {
            let got = hash_reader(&bytes[..], &[alg], &mut buf)
                .map_err(|e| Error::io("hash", &path, e))?;
            if got.get(alg) != Some(&want) {
                return Ok(false);
            }
            any = true;
        }
    }
    Ok(any)
}

/// Whether an event of the change `change` is in the log.
fn change_logged(archive: &Archive, change: &str) -> Result<bool, Error> {
    let mut logged = false;
    archive.fold_events_notes(|e| logged |= e.change.as_deref() == Some(change))?;
    Ok(logged)
}

/// Finishes every decided change an interrupted run left in archive/.staging (the lock
/// is held); staging folders of changes never decided are left for
/// [`Archive::clear_staging`]. Returns what it did.
pub(crate) fn recover_updates(
    archive: &Archive,
    _held: &ArchiveLock,
    clock: &dyn Clock,
) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    let staging_root = archive.staging();
    let mut decided: Vec<(PathBuf, Pending)> = Vec::new();
    for path in crate::fs::list_dir_if_present(&staging_root)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains('~') {
            continue;
        }
        let Some(bytes) = crate::fs::read_if_present(&path.join(PENDING_FILE))
            .ok()
            .flatten()
        else {
            continue;
        };
        // A pending.json that does not parse was cut short before it was fsynced: the
        // change was never decided.
        if let Ok(p) = serde_json::from_slice::<Pending>(&bytes) {
            decided.push((path, p));
        }
    }
    decided.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, pending) in decided {
        finish(archive, &pending, &path, clock, true)?;
        notes.push(format!(
            "finished the {} of {}, interrupted after it was decided",
            pending.kind, pending.id
        ));
    }
    Ok(notes)
}
