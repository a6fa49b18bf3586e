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

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::durable::{parent_dir, rename_no_replace, sync_dir, sync_tree, write_atomic};
use crate::fs::events::{line_digest, NewEvent};
use crate::fs::failpoint;
use crate::fs::register::{FileRecord, RegisterEntry};
use crate::fs::replica::Replica;
use crate::ops::replicate::{
    is_legacy_head, read_head, LogHead, CONFIG_KEY, HEAD_KEY, LEGACY_HEAD_KEY, LOG_KEY,
};
use crate::replica::ReplicaSection;
use crate::vocab::{EventType, Outcome};

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
    if crate::fs::entry_exists(dir) {
        return finish_published(section, dir);
    }
    let replica = Replica::open(section)?;
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

/// cairn.toml as restored: the replica's, with `archive.name` set when it has none
/// and the caller knows it.
fn restored_config(
    replica: &Replica,
    name: Option<(String, String)>,
    report: &mut RestoreReport,
) -> Result<String, Error> {
    let text = match replica.get_bytes(CONFIG_KEY)? {
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
        None => crate::config::Config::template().to_string(),
    };
    let cfg = crate::config::Config::parse(&text, Path::new(CONFIG_KEY))?;
    if !cfg.archive.name.is_empty() {
        report.name = cfg.archive.name.clone();
        report.name_from = format!("replica {}'s cairn.toml", replica.name);
        if let Some((other, from)) = name.filter(|(n, _)| *n != cfg.archive.name) {
            report.notes.push(format!(
                "archive.name is {} in replica {}'s cairn.toml and {} in {from}: the replica's is kept",
                crate::quoted(&cfg.archive.name),
                replica.name,
                crate::quoted(&other)
            ));
        }
        return Ok(text);
    }
    match name {
        Some((n, from)) => match crate::config::with_archive_name(&text, &n) {
            Some(fixed) => {
                report.name = n;
                report.name_from = from;
                Ok(fixed)
            }
            None => {
                report.notes.push(format!(
                    "archive.name could not be added to the restored cairn.toml: set `name = {}` under [archive] by hand",
                    crate::quoted(&n)
                ));
                Ok(text)
            }
        },
        None => {
            report.notes.push(
                "archive.name is set neither in the replica's cairn.toml nor at --root: set it in the restored cairn.toml to the origin line of the archive's checkpoints (else the next `cairn checkpoint` takes its key's name)".into(),
            );
            Ok(text)
        }
    }
}

fn build(
    replica: &Replica,
    work: &Path,
    head: Option<&LogHead>,
    name: Option<(String, String)>,
    report: &mut RestoreReport,
) -> Result<(), Error> {
    let config = restored_config(replica, name, report)?;
    let config_path = work.join(crate::config::CONFIG_FILE);
    write_atomic(&config_path, config.as_bytes())?;
    failpoint::hit("restore-config-written");
    let cfg = crate::config::Config::parse(&config, &config_path)?;
    for p in [
        &cfg.archive.manifests,
        &cfg.archive.archive,
        &cfg.archive.intake,
    ] {
        if p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
            report.problems.push(format!(
                "{CONFIG_KEY}: {} is outside the archive folder; a restore rebuilds only what is inside it",
                p.display()
            ));
            return Ok(());
        }
    }
    let manifests = work.join(&cfg.archive.manifests);
    let bags = work.join(&cfg.archive.archive);
    for d in [&manifests, &bags, &work.join(&cfg.archive.intake)] {
        crate::fs::create_dir_all(d)?;
    }
    let listed = replica.list("manifests")?;
    for l in &listed {
        let Some(file) = l.key.strip_prefix("manifests/") else {
            continue;
        };
        let Some(id) = file.strip_suffix(".json") else {
            continue;
        };
        if file.contains('/') || id.starts_with('.') {
            continue;
        }
        let bytes = get_listed(replica, &l.key)?;
        if l.key == LEGACY_HEAD_KEY && is_legacy_head(&bytes).is_some() {
            continue; // the log's head, where replicas made before 2026-12 kept it
        }
        let path = manifests.join(file);
        crate::fs::write_file(&path, &bytes)?;
        failpoint::hit("restore-entry-written");
        let entry = RegisterEntry::read(&path)?;
        let superseded = restore_history(replica, &manifests, &entry.id, entry.version, report)?;
        let bag_rel = entry.bag.trim_end_matches('/').to_string();
        if bag_rel.split('/').any(|p| p == ".." || p.is_empty()) || bag_rel.starts_with('/') {
            report.problems.push(format!(
                "manifests/{}.json: bag {} is not a plain relative folder",
                entry.id,
                crate::quoted(&bag_rel)
            ));
            continue;
        }
        let newest = (work.join(&bag_rel), bag_rel, &entry);
        restore_versions(replica, work, &bags, &entry.id, newest, &superseded, report)?;
        report.items += 1;
        failpoint::hit("restore-item-done");
    }
    // Withdrawn items: the tombstone, the kept entries, and a quarantined bag.
    let withdrawn_prefix = format!("manifests/{}", crate::fs::lifecycle::WITHDRAWN_DIR);
    for l in replica.list(&withdrawn_prefix)? {
        let Some(file) = l.key.strip_prefix(&format!("{withdrawn_prefix}/")) else {
            continue;
        };
        let Some(id) = file.strip_suffix(".json") else {
            continue;
        };
        if file.contains('/') || id.is_empty() || id.starts_with('.') || id.contains("..") {
            continue;
        }
        let bytes = get_listed(replica, &l.key)?;
        let dir = manifests.join(crate::fs::lifecycle::WITHDRAWN_DIR);
        crate::fs::create_dir_all(&dir)?;
        let path = dir.join(file);
        crate::fs::write_file(&path, &bytes)?;
        failpoint::hit("restore-tombstone-written");
        let tomb = match crate::fs::lifecycle::Tombstone::read(&path) {
            Ok(t) if t.id == id => t,
            Ok(_) => {
                report
                    .problems
                    .push(format!("{}: the tombstone of another item", l.key));
                continue;
            }
            Err(e) => {
                report.problems.push(format!("{}: {e}", l.key));
                continue;
            }
        };
        let kept = restore_history(replica, &manifests, id, tomb.entry_version, report)?;
        let quarantined = bags.join(crate::fs::lifecycle::QUARANTINE_DIR).join(id);
        let quarantined_rel = crate::ops::replicate::key_of(work, &quarantined)?;
        let last = kept.iter().rev().find(|e| e.version == tomb.entry_version);
        let newest = if tomb.disposition != "quarantined" {
            None
        } else if let Some(last) = last {
            Some((quarantined, quarantined_rel, last))
        } else {
            report.problems.push(format!(
                "{}: withdrawn at version {} but no kept register entry describes it",
                l.key, tomb.entry_version
            ));
            None
        };
        match newest {
            Some(n) => restore_versions(replica, work, &bags, id, n, &kept, report)?,
            None => restore_kept_versions(replica, work, &bags, id, None, &kept, report)?,
        }
        report.withdrawn += 1;
    }
    // The event log, checked against the head read at the start. The Merkle tree of an
    // interrupted run's log is a cache: it is rebuilt from the log when the recovery
    // event is appended.
    for cache in ["tlog", "tlog.new", "tlog.old"] {
        let p = manifests.join(cache);
        if p.is_dir() {
            crate::fs::remove_tree(&p, "remove the Merkle tree of an interrupted restore")?;
        }
    }
    let log = manifests.join(crate::fs::archive::EVENTS_FILE);
    let mut out = crate::fs::create_file(&log)?;
    let got = replica.read_with(LOG_KEY, Algorithm::Blake3, &mut |c| {
        out.write_all(c).map_err(|e| Error::io("write", &log, e))
    })?;
    out.sync_all().map_err(|e| Error::io("sync", &log, e))?;
    match (got, head) {
        (None, None) => {}
        (Some(_), Some(head)) => {
            match crate::fs::events::last_complete_line(&log, &crate::fs::tlog_store::LogTree)? {
                Some((seq, line))
                    if seq == head.seq
                        && line_digest(&line) == head.line_blake3
                        && crate::fs::stat(&log)?.len() == head.log_bytes =>
                {
                    report.events = seq;
                }
                _ => report.problems.push(format!(
                    "{LOG_KEY}: its last line is not the head the replica recorded (event {}, {})",
                    head.seq, head.line_blake3
                )),
            }
        }
        _ => report.problems.push(format!(
            "{LOG_KEY} appeared or vanished on replica {} while it was being restored",
            replica.name
        )),
    }
    failpoint::hit("restore-log-fetched");
    Ok(())
}

fn get_listed(replica: &Replica, key: &str) -> Result<Vec<u8>, Error> {
    replica.get_bytes(key)?.ok_or_else(|| Error::Replica {
        name: replica.name.clone(),
        detail: format!("{key} was listed but cannot be read"),
    })
}

/// An item's superseded register entries (manifests/history/ID/), written as they
/// are: they are the archive's record of what the item was.
fn restore_history(
    replica: &Replica,
    manifests: &Path,
    id: &str,
    current_version: u32,
    report: &mut RestoreReport,
) -> Result<Vec<RegisterEntry>, Error> {
    if id.is_empty() || id.contains('/') || id.contains("..") || id.starts_with('.') {
        return Ok(Vec::new());
    }
    let prefix = format!("manifests/{}/{id}", crate::fs::lifecycle::HISTORY_DIR);
    let mut superseded: Vec<RegisterEntry> = Vec::new();
    for l in replica.list(&prefix)? {
        let Some(name) = l.key.strip_prefix(&format!("{prefix}/")) else {
            continue;
        };
        if name.contains('/') || !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let bytes = get_listed(replica, &l.key)?;
        let dir = manifests.join(crate::fs::lifecycle::HISTORY_DIR).join(id);
        crate::fs::create_dir_all(&dir)?;
        let path = dir.join(name);
        crate::fs::write_file(&path, &bytes)?;
        match RegisterEntry::read(&path) {
            Ok(old) if old.id == id && old.version <= current_version => superseded.push(old),
            Ok(_) => report
                .problems
                .push(format!("{}: not an earlier register entry of {id}", l.key)),
            Err(e) => report.problems.push(format!("{}: {e}", l.key)),
        }
    }
    Ok(superseded)
}

/// A bag to restore: its folder, its key on the replica, the entry describing it.
type BagToRestore<'a> = (PathBuf, String, &'a RegisterEntry);

/// The item's newest bag (current or quarantined), then its kept versions.
fn restore_versions(
    replica: &Replica,
    work: &Path,
    bags: &Path,
    id: &str,
    newest: BagToRestore<'_>,
    superseded: &[RegisterEntry],
    report: &mut RestoreReport,
) -> Result<(), Error> {
    restore_bag(replica, work, &newest, None, report)?;
    restore_kept_versions(replica, work, bags, id, Some(&newest), superseded, report)
}

/// The kept bag of each earlier version (archive/.versions/ID/N/), newest first, each
/// file checked against the superseded entry that describes that version, as the
/// current bag is against the current entry; a payload file unchanged in the next newer
/// version is hard-linked to it, as `revise` and `amend` keep it.
fn restore_kept_versions(
    replica: &Replica,
    work: &Path,
    bags: &Path,
    id: &str,
    newest: Option<&BagToRestore<'_>>,
    superseded: &[RegisterEntry],
    report: &mut RestoreReport,
) -> Result<(), Error> {
    if id.is_empty() || id.contains('/') || id.contains("..") || id.starts_with('.') {
        return Ok(());
    }
    let versions = bags.join(crate::fs::lifecycle::VERSIONS_DIR).join(id);
    let versions_key = crate::ops::replicate::key_of(work, &versions)?;
    let kept: std::collections::BTreeSet<u32> = replica
        .list(&versions_key)?
        .iter()
        .filter_map(|l| {
            l.key
                .strip_prefix(&format!("{versions_key}/"))?
                .split('/')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let mut newer: Option<BagToRestore<'_>> = newest.cloned();
    for v in kept.into_iter().rev() {
        // The last superseded entry of version v describes its bag as it was kept.
        let Some(old) = superseded.iter().rev().find(|e| e.version == v) else {
            report.problems.push(format!(
                "{versions_key}/{v:06}: a kept version that no superseded register entry describes"
            ));
            continue;
        };
        let bag = (
            versions.join(format!("{v:06}")),
            format!("{versions_key}/{v:06}"),
            old,
        );
        restore_bag(replica, work, &bag, newer.as_ref(), report)?;
        newer = Some(bag);
    }
    Ok(())
}

/// The same bytes (same size, and every digest both records have the same).
fn same_content(a: &FileRecord, b: &FileRecord) -> bool {
    let mut common = 0;
    for (alg, d) in a.digests.iter() {
        if let Some(other) = b.digests.get(*alg) {
            if other != d {
                return false;
            }
            common += 1;
        }
    }
    a.size == b.size && common > 0
}

/// Fetches every file the bag's entry lists into its folder, each hashed as it
/// arrives and checked against the entry; payload files `newer` has unchanged are
/// hard-linked to its copy instead.
fn restore_bag(
    replica: &Replica,
    work: &Path,
    bag: &BagToRestore<'_>,
    newer: Option<&BagToRestore<'_>>,
    report: &mut RestoreReport,
) -> Result<(), Error> {
    let (dir, bag_rel, entry) = bag;
    let mut files: Vec<(PathBuf, Algorithm, Digest, Option<PathBuf>)> = Vec::new();
    for f in &entry.files {
        let Ok(bp) = crate::bagit::BagPath::parse(&f.path) else {
            report
                .problems
                .push(format!("{bag_rel}: bad path {}", crate::quoted(&f.path)));
            continue;
        };
        let Some((alg, d)) = crate::ops::bag_check::STRENGTH
            .into_iter()
            .find_map(|a| f.digests.get(a).map(|d| (a, *d)))
        else {
            continue;
        };
        let link = newer.and_then(|(ndir, _, nentry)| {
            let same = nentry
                .files
                .iter()
                .find(|n| n.path == f.path)
                .is_some_and(|n| same_content(f, n));
            let from = bp.to_fs_path(ndir);
            (same && from.is_file()).then_some(from)
        });
        files.push((bp.to_fs_path(dir), alg, d, link));
    }
    for (name, digests) in &entry.tag_files {
        if name.contains('/') && !name.starts_with("metadata/") || name.contains("..") {
            report.problems.push(format!(
                "{bag_rel}: bad tag file name {}",
                crate::quoted(name)
            ));
            continue;
        }
        let Some((alg, d)) = crate::ops::bag_check::STRENGTH
            .into_iter()
            .find_map(|a| digests.get(a).map(|d| (a, *d)))
        else {
            continue;
        };
        files.push((dir.join(name), alg, d, None));
    }
    for (path, alg, want, link) in files {
        crate::fs::create_dir_all(parent_dir(&path))?;
        match link {
            Some(from) => {
                if !crate::fs::same_file(&from, &path) {
                    if crate::fs::entry_exists(&path) {
                        crate::fs::remove_file(&path, "replace")?;
                    }
                    crate::fs::hard_link(&from, &path)?;
                }
                report.linked += 1;
                failpoint::hit("restore-version-linked");
            }
            None => fetch(replica, work, &path, alg, want, report)?,
        }
    }
    Ok(())
}

/// One file from the replica into `path`, hashed on the way and checked against
/// `want`. A file already there (an interrupted run's) is kept when its bytes are
/// right, else fetched again.
fn fetch(
    replica: &Replica,
    work: &Path,
    path: &Path,
    alg: Algorithm,
    want: Digest,
    report: &mut RestoreReport,
) -> Result<(), Error> {
    let key = crate::ops::replicate::key_of(work, path)?;
    if crate::fs::entry_exists(path) {
        if crate::fs::lstat(path)?.is_file() {
            let file = crate::fs::open_file(path)?;
            let mut buf = vec![0u8; 1 << 16];
            let got = crate::digest::hash_reader(file, &[alg], &mut buf)
                .map_err(|e| Error::io("read", path, e))?;
            if got.get(alg) == Some(&want) {
                report.files += 1;
                report.bytes += got.len;
                report.resumed += 1;
                return Ok(());
            }
        }
        crate::fs::remove_file(path, "replace")?;
    }
    let mut out = crate::fs::create_new_file(path)?;
    let got = replica.read_with(&key, alg, &mut |c| {
        out.write_all(c).map_err(|e| Error::io("write", path, e))
    })?;
    match got {
        None => report
            .problems
            .push(format!("{key}: missing on replica {}", replica.name)),
        Some((n, d)) if d == want => {
            report.files += 1;
            report.bytes += n;
        }
        Some((_, d)) => report.problems.push(format!(
            "{key}: {alg} {} on replica {}, the register records {}",
            d.to_hex(),
            replica.name,
            want.to_hex()
        )),
    }
    failpoint::hit("restore-file-fetched");
    Ok(())
}
