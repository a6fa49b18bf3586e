//! The rebuild itself, in the order a reader of the archive needs it: cairn.toml (with
//! the archive's name), the current items (register entry, history, every file of
//! every retained version, each hashed as it arrives), the withdrawn items, then the
//! event log checked against the replica's head. `mod.rs` runs it in its hidden folder
//! and publishes it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::durable::{parent_dir, write_atomic};
use crate::fs::events::line_digest;
use crate::fs::failpoint;
use crate::fs::register::{FileRecord, RegisterEntry};
use crate::fs::replica::Replica;
use crate::ops::replicate::{is_legacy_head, LogHead, CONFIG_KEY, LEGACY_HEAD_KEY, LOG_KEY};

use super::RestoreReport;

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

/// Rebuilds the archive in `work` from the replica, in the order a reader of the
/// archive needs it: the configuration (its folders inside the archive), the current
/// items (entry, history, bag and kept versions), the withdrawn items, then the event
/// log, checked against the head read at the start.
pub(super) fn build(
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
    restore_items(replica, work, &manifests, &bags, report)?;
    restore_withdrawn(replica, work, &manifests, &bags, report)?;
    restore_log(replica, &manifests, head, report)?;
    failpoint::hit("restore-log-fetched");
    Ok(())
}

/// The current items: each register entry, its history, its bag and kept versions.
fn restore_items(
    replica: &Replica,
    work: &Path,
    manifests: &Path,
    bags: &Path,
    report: &mut RestoreReport,
) -> Result<(), Error> {
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
        let superseded = restore_history(replica, manifests, &entry.id, entry.version, report)?;
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
        restore_versions(replica, work, bags, &entry.id, newest, &superseded, report)?;
        report.items += 1;
        failpoint::hit("restore-item-done");
    }
    Ok(())
}

/// Withdrawn items: the tombstone, the kept entries, and a quarantined bag.
fn restore_withdrawn(
    replica: &Replica,
    work: &Path,
    manifests: &Path,
    bags: &Path,
    report: &mut RestoreReport,
) -> Result<(), Error> {
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
        let kept = restore_history(replica, manifests, id, tomb.entry_version, report)?;
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
            Some(n) => restore_versions(replica, work, bags, id, n, &kept, report)?,
            None => restore_kept_versions(replica, work, bags, id, None, &kept, report)?,
        }
        report.withdrawn += 1;
    }
    Ok(())
}

/// The event log, checked against the head read at the start. The Merkle tree of an
/// interrupted run's log is a cache: it is rebuilt from the log when the recovery
/// event is appended.
fn restore_log(
    replica: &Replica,
    manifests: &Path,
    head: Option<&LogHead>,
    report: &mut RestoreReport,
) -> Result<(), Error> {
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
