//! `restore --from NAME DIR`: disaster recovery. Rebuilds a whole archive root at DIR
//! from one replica alone: cairn.toml, every register entry with the superseded ones
//! (manifests/history/), every file of every retained version of every bag (each
//! hashed as it arrives and checked against its register entry), the event log (its
//! last line checked against the replica's head). Built in a hidden folder beside DIR,
//! made durable, then renamed to DIR: DIR appears complete or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::digest::Algorithm;
use crate::error::Error;
use crate::fs::durable::{parent_dir, rename_no_replace, sync_dir, sync_tree};
use crate::fs::events::line_digest;
use crate::fs::register::RegisterEntry;
use crate::fs::replica::Replica;
use crate::ops::replicate::{
    is_legacy_head, read_head, LogHead, CONFIG_KEY, HEAD_KEY, LEGACY_HEAD_KEY, LOG_KEY,
};
use crate::replica::ReplicaSection;

/// The report of [`restore`].
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub replica: String,
    pub root: PathBuf,
    pub items: u64,
    /// Withdrawn items whose tombstone was restored.
    pub withdrawn: u64,
    pub files: u64,
    pub bytes: u64,
    pub events: u64,
    /// Files whose copy on the replica does not match its register entry (the restore
    /// then stops and leaves nothing at DIR).
    pub problems: Vec<String>,
}

/// Restores the replica `section` into `dir` (which must not exist).
pub fn restore(section: &ReplicaSection, dir: &Path) -> Result<RestoreReport, Error> {
    if dir.exists() {
        return Err(Error::AlreadyExists {
            path: dir.to_path_buf(),
        });
    }
    let replica = Replica::open(section)?;
    crate::ops::replica_root::check_marker_present(&replica)?;
    let parent = parent_dir(dir);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "restore".into());
    let work = parent.join(format!(".{name}.restore-{}", std::process::id()));
    crate::fs::remove_tree_quietly(&work);
    crate::fs::create_dir(&work)?;
    let mut report = RestoreReport {
        replica: replica.name.clone(),
        root: dir.to_path_buf(),
        items: 0,
        withdrawn: 0,
        files: 0,
        bytes: 0,
        events: 0,
        problems: Vec::new(),
    };
    let result = build(&replica, &work, &mut report);
    match result {
        Ok(()) if report.problems.is_empty() => {
            sync_tree(&work)?;
            rename_no_replace(&work, dir)?;
            sync_dir(parent)?;
            Ok(report)
        }
        Ok(()) => {
            crate::fs::remove_tree_quietly(&work);
            Ok(report)
        }
        Err(e) => {
            crate::fs::remove_tree_quietly(&work);
            Err(e)
        }
    }
}

fn build(replica: &Replica, work: &Path, report: &mut RestoreReport) -> Result<(), Error> {
    let config = replica
        .get_bytes(CONFIG_KEY)?
        .unwrap_or_else(|| crate::config::Config::template().as_bytes().to_vec());
    crate::fs::write_file(&work.join(crate::config::CONFIG_FILE), &config)?;
    let text = String::from_utf8_lossy(&config).into_owned();
    let cfg = crate::config::Config::parse(&text, &work.join(crate::config::CONFIG_FILE))?;
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
        let bytes = replica.get_bytes(&l.key)?.ok_or_else(|| Error::Replica {
            name: replica.name.clone(),
            detail: format!("{} was listed but cannot be read", l.key),
        })?;
        if l.key == LEGACY_HEAD_KEY && is_legacy_head(&bytes).is_some() {
            continue; // the log's head, where replicas made before 2026-12 kept it
        }
        let path = manifests.join(file);
        crate::fs::write_file(&path, &bytes)?;
        let entry = RegisterEntry::read(&path)?;
        restore_item(replica, work, &entry, report)?;
        restore_history(
            replica,
            work,
            &manifests,
            &bags,
            &entry.id,
            entry.version,
            report,
        )?;
        report.items += 1;
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
        let bytes = replica.get_bytes(&l.key)?.ok_or_else(|| Error::Replica {
            name: replica.name.clone(),
            detail: format!("{} was listed but cannot be read", l.key),
        })?;
        let dir = manifests.join(crate::fs::lifecycle::WITHDRAWN_DIR);
        crate::fs::create_dir_all(&dir)?;
        let path = dir.join(file);
        crate::fs::write_file(&path, &bytes)?;
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
        let kept = restore_history(
            replica,
            work,
            &manifests,
            &bags,
            id,
            tomb.entry_version,
            report,
        )?;
        if tomb.disposition == "quarantined" {
            let quarantined = bags.join(crate::fs::lifecycle::QUARANTINE_DIR).join(id);
            let key = crate::ops::replicate::key_of(work, &quarantined)?;
            match kept.iter().rev().find(|e| e.version == tomb.entry_version) {
                Some(last) => restore_bag(replica, work, last, &quarantined, &key, report)?,
                None => report.problems.push(format!(
                    "{}: withdrawn at version {} but no kept register entry describes it",
                    l.key, tomb.entry_version
                )),
            }
        }
        report.withdrawn += 1;
    }
    // The event log, checked against its head.
    let log = manifests.join(crate::fs::archive::EVENTS_FILE);
    let mut out = crate::fs::create_file(&log)?;
    let got = replica.read_with(LOG_KEY, Algorithm::Blake3, &mut |c| {
        out.write_all(c).map_err(|e| Error::io("write", &log, e))
    })?;
    out.sync_all().map_err(|e| Error::io("sync", &log, e))?;
    if got.is_some() {
        let head: LogHead = read_head(replica)
            .ok()
            .flatten()
            .ok_or_else(|| Error::Replica {
                name: replica.name.clone(),
                detail: format!(
                    "{LOG_KEY} is there but its head {HEAD_KEY} is missing or unreadable"
                ),
            })?;
        let last = crate::fs::events::last_complete_line(&log)?;
        match last {
            Some((seq, line)) if seq == head.seq && line_digest(&line) == head.line_blake3 => {
                report.events = seq;
            }
            _ => report.problems.push(format!(
                "{LOG_KEY}: its last line is not the head the replica recorded (event {}, {})",
                head.seq, head.line_blake3
            )),
        }
    }
    Ok(())
}

/// An item's earlier states: its superseded register entries (manifests/history/ID/,
/// written as they are: they are the archive's record of what the item was) and the
/// kept bag of each earlier version (archive/.versions/ID/N/, each file checked
/// against the superseded entry that describes that version, as the current bag is
/// against the current entry).
fn restore_history(
    replica: &Replica,
    work: &Path,
    manifests: &Path,
    bags: &Path,
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
        let bytes = replica.get_bytes(&l.key)?.ok_or_else(|| Error::Replica {
            name: replica.name.clone(),
            detail: format!("{} was listed but cannot be read", l.key),
        })?;
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
    for v in kept {
        // The last superseded entry of version v describes its bag as it was kept.
        let Some(old) = superseded.iter().rev().find(|e| e.version == v) else {
            report.problems.push(format!(
                "{versions_key}/{v:06}: a kept version that no superseded register entry describes"
            ));
            continue;
        };
        let bag = versions.join(format!("{v:06}"));
        let bag_rel = format!("{versions_key}/{v:06}");
        restore_bag(replica, work, old, &bag, &bag_rel, report)?;
    }
    Ok(superseded)
}

fn restore_item(
    replica: &Replica,
    work: &Path,
    entry: &RegisterEntry,
    report: &mut RestoreReport,
) -> Result<(), Error> {
    let bag_rel = entry.bag.trim_end_matches('/');
    if bag_rel.split('/').any(|p| p == ".." || p.is_empty()) || bag_rel.starts_with('/') {
        report.problems.push(format!(
            "manifests/{}.json: bag {} is not a plain relative folder",
            entry.id,
            crate::quoted(bag_rel)
        ));
        return Ok(());
    }
    restore_bag(replica, work, entry, &work.join(bag_rel), bag_rel, report)
}

/// Fetches every file `entry` lists into `bag`, each hashed as it arrives and checked
/// against the entry.
fn restore_bag(
    replica: &Replica,
    work: &Path,
    entry: &RegisterEntry,
    bag: &Path,
    bag_rel: &str,
    report: &mut RestoreReport,
) -> Result<(), Error> {
    let mut files: Vec<(PathBuf, Algorithm, crate::digest::Digest)> = Vec::new();
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
        files.push((bp.to_fs_path(bag), alg, d));
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
        files.push((bag.join(name), alg, d));
    }
    for (path, alg, want) in files {
        let key = crate::ops::replicate::key_of(work, &path)?;
        let dir = parent_dir(&path);
        crate::fs::create_dir_all(dir)?;
        let mut out = crate::fs::create_new_file(&path)?;
        let got = replica.read_with(&key, alg, &mut |c| {
            out.write_all(c).map_err(|e| Error::io("write", &path, e))
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
    }
    Ok(())
}
