//! `restore --from NAME DIR`: disaster recovery. Rebuilds a whole archive root at DIR
//! from one replica alone: cairn.toml (with the archive's name, so that checkpoints
//! signed before still name it), every register entry with the superseded ones
//! (manifests/history/), every file of every retained version of every bag (each
//! hashed as it arrives and checked against its register entry; a payload file that
//! the next newer version of the item has unchanged is hard-linked to it, as the
//! archive keeps it), withdrawn items' tombstones and quarantined bags, the event log
//! (its last line checked against the replica's head), then a `recovery` event.
//!
//! Built in a hidden folder beside DIR (`.DIR.restore`), made durable, then renamed to
//! DIR: DIR appears complete or not at all. A run that was stopped leaves that folder
//! (with its journal, `.cairn-restore.json`: the replica and the head it restores); the
//! next run from the same replica resumes it (files already there are hashed and kept
//! when they are right, the others fetched), or starts over when the replica changed
//! since. A stop after the rename leaves the journal in DIR: the next run removes it.
//!
//! `build.rs` rebuilds the archive from the replica; this file runs it in the hidden
//! folder, keeps the journal, and publishes the result.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::durable::{parent_dir, rename_no_replace, sync_dir, sync_tree, write_atomic};
use crate::fs::events::NewEvent;
use crate::fs::failpoint;
use crate::fs::replica::Replica;
use crate::ops::replicate::{read_head, LogHead, HEAD_KEY, LOG_KEY};
use crate::replica::ReplicaSection;
use crate::vocab::{EventType, Outcome};

mod build;

use build::build;

/// The journal of a restore under way, at the top of its hidden folder (and of DIR
/// between the rename and the end).
pub const JOURNAL: &str = ".cairn-restore.json";
const JOURNAL_FORMAT: &str = "cairn-restore/1";

/// The report of [`restore`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreReport {
    pub replica: String,
    pub root: PathBuf,
    pub items: u64,
    /// Withdrawn items whose tombstone was restored.
    pub withdrawn: u64,
    /// Files fetched from the replica (or found intact, left by an interrupted run).
    pub files: u64,
    /// The bytes of those files.
    pub bytes: u64,
    /// Payload files of kept versions hard-linked to the same file of the next newer
    /// version of the item (stored once, as in the archive): not fetched.
    #[serde(default)]
    pub linked: u64,
    /// Files an interrupted run had already restored, hashed and kept (in `files`).
    #[serde(default)]
    pub resumed: u64,
    /// Events of the restored log, the `recovery` event included.
    pub events: u64,
    /// `archive.name` in the restored cairn.toml (empty: not set) and where it came
    /// from.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_from: String,
    /// What the operator should know (a resumed run, a name that could not be set).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Files whose copy on the replica does not match its register entry (the restore
    /// then stops and leaves nothing at DIR).
    pub problems: Vec<String>,
}

/// What the journal holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    format: String,
    replica: String,
    url: String,
    /// The replica's log head when the restore began (`None`: no log there).
    head: Option<LogHead>,
    /// The finished report, written just before the rename to DIR.
    report: Option<RestoreReport>,
}

/// Restores the replica `section` into `dir` (which must not exist, unless a restore
/// into it from the same replica was stopped after its rename: then it is finished).
/// `name`: `archive.name` for the restored archive, and where it comes from, when the
/// replica's cairn.toml does not set it (the cairn.toml at --root, or that archive).
pub fn restore(
    section: &ReplicaSection,
    dir: &Path,
    name: Option<(String, String)>,
    clock: &dyn Clock,
) -> Result<RestoreReport, Error> {
    if section.kind == crate::replica::ReplicaKind::Ocfl {
        return restore_ocfl(section, dir, name, clock);
    }
    restore_from(section, dir, name, clock, None)
}

/// [`restore`] from a replica of kind `files`; `shown_url`: the URL the report, the
/// journal and the event give (the OCFL replica's, whose archive was laid out as
/// `section`), else the section's.
fn restore_from(
    section: &ReplicaSection,
    dir: &Path,
    name: Option<(String, String)>,
    clock: &dyn Clock,
    shown_url: Option<&str>,
) -> Result<RestoreReport, Error> {
    if crate::fs::entry_exists(dir) {
        return finish_published(section, dir);
    }
    let mut replica = Replica::open(section)?;
    if let Some(url) = shown_url {
        replica.url = url.to_string();
    }
    crate::ops::replica_root::check_marker_present(&replica)?;
    let parent = parent_dir(dir);
    let work = work_folder(dir);
    let head = replica_head(&replica)?;
    let mut report = RestoreReport {
        replica: replica.name.clone(),
        root: dir.to_path_buf(),
        items: 0,
        withdrawn: 0,
        files: 0,
        bytes: 0,
        linked: 0,
        resumed: 0,
        events: 0,
        name: String::new(),
        name_from: String::new(),
        notes: Vec::new(),
        problems: Vec::new(),
    };
    let _lock = open_work(&work, &replica, head.as_ref(), &mut report)?;
    failpoint::hit("restore-started");
    // An error leaves the folder for the next run to resume (the network, a full
    // disk); problems in the replica's data remove it: a rerun would meet them again.
    build(&replica, &work, head.as_ref(), name, &mut report)?;
    if !report.problems.is_empty() {
        crate::fs::remove_tree_quietly(&work);
        return Ok(report);
    }
    // The restore is recorded in the restored log, after everything it restored.
    // No CAIRN_* variable may point the restored archive's log elsewhere.
    let archive = crate::fs::archive::Archive::open(&work)?;
    let written = archive.append_events(
        clock.now(),
        &[recovery_event(&replica, head.as_ref(), &report)],
    )?;
    report.events = written.last().map_or(report.events, |e| e.seq);
    failpoint::hit("restore-event-appended");
    sync_tree(&work)?;
    write_journal(&work, &replica, head.as_ref(), Some(&report))?;
    failpoint::hit("restore-before-publish");
    rename_no_replace(&work, dir)?;
    sync_dir(parent)?;
    failpoint::hit("restore-after-publish");
    crate::fs::durable::remove_file_synced(&dir.join(JOURNAL))?;
    Ok(report)
}

/// The hidden folder beside `dir` where a restore into `dir` is built: `.NAME.restore`.
/// `restore --from` an OCFL replica: the archive its storage root holds is first laid
/// out, every file checked, as a replica of kind `files` in a hidden folder beside DIR
/// (`.DIR.ocfl`: the archive's object gives every file but the payload, whose files come
/// from the items' objects by sha512), then restored from there as from any replica,
/// and the folder removed.
fn restore_ocfl(
    section: &ReplicaSection,
    dir: &Path,
    name: Option<(String, String)>,
    clock: &dyn Clock,
) -> Result<RestoreReport, Error> {
    let replica = Replica::open(section)?;
    crate::ops::replica_root::check_marker_present(&replica)?;
    let root = replica.folder().ok_or_else(|| Error::Replica {
        name: section.name.clone(),
        detail: "an OCFL replica is a folder (file:///...)".into(),
    })?;
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "restore".into());
    let source = parent_dir(dir).join(format!(".{base}.ocfl"));
    // The layout is read as a replica at a file:// URL, which must be absolute.
    let source = std::path::absolute(&source).map_err(|e| Error::io("resolve", &source, e))?;
    if !crate::fs::entry_exists(dir) {
        crate::fs::remove_tree_quietly(&source);
        crate::fs::create_dir(&source)?;
        let mut buf = vec![0u8; 1 << 20];
        let laid_out = crate::fs::ocfl::materialize(
            root,
            crate::ops::ocfl::ARCHIVE_OBJECT,
            crate::ops::ocfl::PAYLOAD_INDEX,
            crate::fs::layout::MARKER_KEY,
            &source,
            &mut buf,
        );
        if let Err(e) = laid_out {
            crate::fs::remove_tree_quietly(&source);
            return Err(e);
        }
    }
    let files = ReplicaSection {
        kind: crate::replica::ReplicaKind::Files,
        url: format!("file://{}", source.display()),
        ..section.clone()
    };
    let result = restore_from(&files, dir, name, clock, Some(&section.url));
    crate::fs::remove_tree_quietly(&source);
    result
}

pub fn work_folder(dir: &Path) -> PathBuf {
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "restore".into());
    parent_dir(dir).join(format!(".{base}.restore"))
}

/// DIR exists: a restore stopped after its rename (the journal still in DIR) is
/// finished; anything else is refused.
fn finish_published(section: &ReplicaSection, dir: &Path) -> Result<RestoreReport, Error> {
    let path = dir.join(JOURNAL);
    let journal =
        crate::fs::read_if_present(&path)?.and_then(|b| serde_json::from_slice::<Journal>(&b).ok());
    match journal {
        Some(j) if j.replica == section.name => match j.report {
            Some(mut report) => {
                crate::fs::durable::remove_file_synced(&path)?;
                report.notes.push(format!(
                    "the restore from replica {} had been stopped after {} was complete; finished",
                    j.replica,
                    dir.display()
                ));
                Ok(report)
            }
            None => Err(Error::AlreadyExists {
                path: dir.to_path_buf(),
            }),
        },
        Some(j) => Err(Error::Usage(format!(
            "{} was restored from replica {}, not {}: run `cairn restore --from {}` to finish it",
            dir.display(),
            crate::quoted(&j.replica),
            crate::quoted(&section.name),
            j.replica
        ))),
        None => Err(Error::AlreadyExists {
            path: dir.to_path_buf(),
        }),
    }
}

/// The replica's log head (`None` when it holds no log).
fn replica_head(replica: &Replica) -> Result<Option<LogHead>, Error> {
    if replica.head(LOG_KEY)?.is_none() {
        return Ok(None);
    }
    read_head(replica)
        .ok()
        .flatten()
        .map(Some)
        .ok_or_else(|| Error::Replica {
            name: replica.name.clone(),
            detail: format!("{LOG_KEY} is there but its head {HEAD_KEY} is missing or unreadable"),
        })
}

/// The hidden folder, locked: made new with its journal, or an interrupted run's
/// resumed (same replica, same head) or started over (the replica changed since).
fn open_work(
    work: &Path,
    replica: &Replica,
    head: Option<&LogHead>,
    report: &mut RestoreReport,
) -> Result<std::fs::File, Error> {
    let holder = "another `cairn restore` into the same folder";
    if crate::fs::entry_exists(work) {
        let lock = crate::fs::try_lock_dir(work, holder)?;
        let journal = crate::fs::read_if_present(&work.join(JOURNAL))?
            .and_then(|b| serde_json::from_slice::<Journal>(&b).ok());
        match journal {
            Some(j) if j.replica != replica.name => {
                return Err(Error::Usage(format!(
                    "{}: an interrupted restore from replica {} is in this folder: run `cairn restore --from {}` to finish it, or delete the folder to start over",
                    work.display(),
                    crate::quoted(&j.replica),
                    j.replica
                )))
            }
            Some(j) if j.head.as_ref() == head => {
                report.notes.push(format!(
                    "resumed the interrupted restore in {}",
                    work.display()
                ));
                // The log's Merkle tree is rebuilt after the log is fetched again.
                return Ok(lock);
            }
            Some(_) => report.notes.push(format!(
                "replica {} changed since the interrupted restore in {} began: started over",
                replica.name,
                work.display()
            )),
            // Stopped before its journal was written: nothing in it yet.
            None => {}
        }
        drop(lock);
        crate::fs::remove_tree(work, "remove the interrupted restore")?;
    }
    crate::fs::create_dir(work)?;
    let lock = crate::fs::try_lock_dir(work, holder)?;
    write_journal(work, replica, head, None)?;
    sync_dir(parent_dir(work))?;
    Ok(lock)
}

fn write_journal(
    work: &Path,
    replica: &Replica,
    head: Option<&LogHead>,
    report: Option<&RestoreReport>,
) -> Result<(), Error> {
    let journal = Journal {
        format: JOURNAL_FORMAT.into(),
        replica: replica.name.clone(),
        url: replica.url.clone(),
        head: head.cloned(),
        report: report.cloned(),
    };
    let bytes = serde_json::to_vec_pretty(&journal)
        .map_err(|e| Error::Internal(format!("encode the restore journal: {e}")))?;
    write_atomic(&work.join(JOURNAL), &bytes)
}

/// The `recovery` event: from which replica, which log head, how much.
fn recovery_event(replica: &Replica, head: Option<&LogHead>, r: &RestoreReport) -> NewEvent {
    let upto = match head {
        Some(h) => format!(
            "the event log up to event {} (BLAKE3 {})",
            h.seq, h.line_blake3
        ),
        None => "no event log".into(),
    };
    NewEvent::new(
        EventType::Recovery,
        Outcome::Success,
        "",
        format!(
            "archive restored from replica {} ({}): {} items, {} withdrawn, {} files ({} bytes) each checked against its register entry, {} hard links between versions; {upto}, as the replica's head records it",
            replica.name, replica.url, r.items, r.withdrawn, r.files, r.bytes, r.linked
        ),
    )
    .with_data(serde_json::json!({
        "restore": true,
        "replica": replica.name,
        "url": replica.url,
        "head": head,
        "items": r.items,
        "withdrawn": r.withdrawn,
        "files": r.files,
        "bytes": r.bytes,
        "linked": r.linked,
    }))
}
