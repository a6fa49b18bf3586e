//! `replicate`: copies every file of every item, its register entry, the event log and
//! the log's head to each replica, as plain files that mirror the archive root
//! (docs/replicas.md).
//!
//! Per object: absent on the replica, it is streamed from the archive, hashed on the
//! way (an archive file that no longer matches the register is never sent: the item
//! fails and `cairn repair` is the way out), then read back and hashed again. Present,
//! it is read back and must match the register; one that differs is a conflict,
//! reported (exit 1) and never overwritten. An item already recorded as replicated to
//! that replica is only listed (sizes compared), not read again: re-reading is
//! `cairn fixity --replica`'s job. A run cut short leaves whole objects only (an
//! upload completes or is abandoned), so the next run sends what is missing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::digest::{hash_reader, Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::{line_digest, NewEvent};
use crate::fs::register::{DigestMap, RegisterEntry};
use crate::fs::replica::{Replica, Written};
use crate::ops::bag_check::STRENGTH;
use crate::ops::tlog::{checkpoint_on_write, CheckpointReport};
use crate::replica::ReplicaSection;
use crate::vocab::{EventType, Outcome};

pub use crate::fs::layout::{CONFIG_KEY, HEAD_KEY, LEGACY_HEAD_KEY, LOG_KEY};

/// One object an item should have on a replica.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The key relative to the replica's root, the same as the file's path relative to
    /// the archive root (`archive/ID/data/scan.tif`, `manifests/ID.json`).
    pub key: String,
    /// The file in the archive.
    pub local: PathBuf,
    /// The size the register records (payload files only).
    pub size: Option<u64>,
    pub alg: Algorithm,
    /// The digest the register records (for the register entry itself: the digest of
    /// the archive's copy of it).
    pub digest: Digest,
}

/// The bag folders of item `id` with the register entry of each: the current bag with
/// manifests/ID.json, and every retained earlier version (`cairn revise`,
/// archive/.versions/ID/N) with the last superseded entry of that version
/// (manifests/history/ID/). The one place that enumerates an item's bags.
fn item_bags(archive: &Archive, id: &str) -> Result<Vec<(PathBuf, RegisterEntry)>, Error> {
    let entry = RegisterEntry::read(&archive.register_path(id))?;
    let current = archive.bag_path(id);
    let mut out = Vec::new();
    let earlier: Vec<(u32, PathBuf)> = archive
        .retained_bags(id)?
        .into_iter()
        .filter(|(_, p)| *p != current)
        .collect();
    if !earlier.is_empty() {
        let history = archive.history(id)?;
        for (v, bag) in earlier {
            let old = history
                .iter()
                .rev()
                .find(|e| e.version == v)
                .ok_or_else(|| Error::Corrupt {
                    path: archive.history_dir(id),
                    detail: format!(
                        "version {v} of {id} is kept but no register entry describes it"
                    ),
                })?;
            out.push((bag, old.clone()));
        }
    }
    out.push((current, entry));
    Ok(out)
}

/// The strongest algorithm in a digest list (BLAKE3 first).
/// The strongest of a file's recorded digests ([`STRENGTH`]), or its first.
fn strongest(digests: &DigestMap) -> Option<(Algorithm, Digest)> {
    STRENGTH
        .into_iter()
        .find_map(|a| digests.get(a).map(|d| (a, *d)))
        .or_else(|| digests.iter().next().copied())
}

/// A path relative to the archive root, with `/` separators, as a replica key.
pub(crate) fn key_of(archive_root: &Path, path: &Path) -> Result<String, Error> {
    let rel = path.strip_prefix(archive_root).map_err(|_| {
        Error::Usage(format!(
            "{} is outside the archive root {}; replicas mirror the archive root, so its folders must be inside it",
            path.display(),
            archive_root.display()
        ))
    })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// The objects of one bag folder as `entry` describes it: payload files, then tag files.
fn bag_objects(
    archive: &Archive,
    id: &str,
    bag: &Path,
    entry: &RegisterEntry,
    out: &mut Vec<Expected>,
) -> Result<(), Error> {
    for f in &entry.files {
        let path = crate::bagit::BagPath::parse(&f.path)
            .map_err(|e| Error::Corrupt {
                path: archive.register_path(id),
                detail: format!("file {}: {e}", crate::quoted(&f.path)),
            })?
            .to_fs_path(bag);
        let (alg, digest) = strongest(&f.digests).ok_or_else(|| Error::Corrupt {
            path: archive.register_path(id),
            detail: format!("file {} has no digest", crate::quoted(&f.path)),
        })?;
        out.push(Expected {
            key: key_of(&archive.root, &path)?,
            local: path,
            size: Some(f.size),
            alg,
            digest,
        });
    }
    for (name, digests) in &entry.tag_files {
        let path = bag.join(name);
        let (alg, digest) = strongest(digests).ok_or_else(|| Error::Corrupt {
            path: archive.register_path(id),
            detail: format!("tag file {} has no usable digest", crate::quoted(name)),
        })?;
        out.push(Expected {
            key: key_of(&archive.root, &path)?,
            local: path,
            size: None,
            alg,
            digest,
        });
    }
    Ok(())
}

/// Every object item `id` should have on a replica, register entry last.
pub fn expected_objects(archive: &Archive, id: &str) -> Result<Vec<Expected>, Error> {
    let mut out = Vec::new();
    for (bag, entry) in item_bags(archive, id)? {
        bag_objects(archive, id, &bag, &entry, &mut out)?;
    }
    // The superseded register entries (amend, revise), each written once.
    for path in history_files(archive, id)? {
        out.push(record_object(archive, path)?);
    }
    out.push(record_object(archive, archive.register_path(id))?);
    Ok(out)
}

/// The bytes each key of item `id` held in the earlier states the archive recorded: every
/// superseded register entry in manifests/history/ID/ (an `amend` or a `revise`)
/// describes the files its bag had at archive/ID/ then, and the entry itself was
/// manifests/ID.json. A replica object with one of these digests is out of date, not
/// damaged and not foreign: `replicate` may bring it up to date, because the archive
/// keeps what it held (the superseded entry, and a revised version's whole bag under
/// archive/.versions/), and so does the replica once the item's other objects are there.
///
/// `expected`: the item's objects ([`expected_objects`]), which hold the superseded
/// entries' own digests already (they are not hashed again).
pub(crate) fn superseded_digests(
    archive: &Archive,
    id: &str,
    expected: &[Expected],
) -> Result<BTreeMap<String, HashSet<(Algorithm, Digest)>>, Error> {
    let mut out: BTreeMap<String, HashSet<(Algorithm, Digest)>> = BTreeMap::new();
    let dir = archive.history_dir(id);
    if !dir.is_dir() {
        return Ok(out);
    }
    let bag = archive.bag_path(id);
    let register_key = key_of(&archive.root, &archive.register_path(id))?;
    for entry in archive.history(id)? {
        for f in &entry.files {
            let Ok(path) = crate::bagit::BagPath::parse(&f.path) else {
                continue;
            };
            let key = key_of(&archive.root, &path.to_fs_path(&bag))?;
            out.entry(key)
                .or_default()
                .extend(f.digests.iter().map(|(a, d)| (*a, *d)));
        }
        for (name, digests) in &entry.tag_files {
            let key = key_of(&archive.root, &bag.join(name))?;
            out.entry(key).or_default().extend(digests.iter().copied());
        }
    }
    let history_key = key_of(&archive.root, &archive.history_dir(id))?;
    for e in expected
        .iter()
        .filter(|e| e.key.starts_with(&format!("{history_key}/")))
    {
        out.entry(register_key.clone())
            .or_default()
            .insert((e.alg, e.digest));
    }
    Ok(out)
}

/// The files in manifests/history/ID/, sorted.
fn history_files(archive: &Archive, id: &str) -> Result<Vec<PathBuf>, Error> {
    let history_dir = archive.history_dir(id);
    let mut names: Vec<PathBuf> = crate::fs::list_dir_if_present(&history_dir)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Every object a withdrawn item should have on a replica: its superseded register
/// entries (manifests/history/ID/, the last of them the entry it had when withdrawn),
/// the quarantined bag's files when it was kept (archive/.quarantine/ID/, checked
/// against that last entry), and the tombstone last (manifests/withdrawn/ID.json).
pub fn expected_withdrawn(archive: &Archive, id: &str) -> Result<Vec<Expected>, Error> {
    let tomb_path = archive.tombstone_path(id);
    let tomb = crate::fs::lifecycle::Tombstone::read(&tomb_path)?;
    let mut out = Vec::new();
    let quarantined = archive.quarantine_path(id);
    if tomb.disposition == "quarantined" && quarantined.is_dir() {
        let last = archive
            .history(id)?
            .into_iter()
            .rev()
            .find(|e| e.version == tomb.entry_version)
            .ok_or_else(|| Error::Corrupt {
                path: archive.history_dir(id),
                detail: format!(
                    "{id} was withdrawn at version {} but no kept register entry describes it",
                    tomb.entry_version
                ),
            })?;
        bag_objects(archive, id, &quarantined, &last, &mut out)?;
    }
    for path in history_files(archive, id)? {
        out.push(record_object(archive, path)?);
    }
    out.push(record_object(archive, tomb_path)?);
    Ok(out)
}

/// A record of the archive's own (a register entry, a superseded one, a tombstone) as an
/// object: no register lists its digest, so it is checked against the BLAKE3 of the
/// archive's copy.
fn record_object(archive: &Archive, path: PathBuf) -> Result<Expected, Error> {
    let digest = hash_file(&path, Algorithm::Blake3)?;
    Ok(Expected {
        key: key_of(&archive.root, &path)?,
        local: path,
        size: None,
        alg: Algorithm::Blake3,
        digest,
    })
}

/// Streams the archive's file of `exp` to the replica, refusing it (nothing written)
/// unless its bytes have the register's digest, then reads it back
/// ([`Replica::put_file`]). `create`: only where no object is.
pub(crate) fn send(replica: &Replica, exp: &Expected, create: bool) -> Result<Written, Error> {
    replica.put_file(
        &exp.local,
        &exp.key,
        (exp.alg, Some(&exp.digest)),
        None,
        create,
    )
}

/// The digest of a local file.
pub(crate) fn hash_file(path: &Path, alg: Algorithm) -> Result<Digest, Error> {
    let file = crate::fs::open_read(path).map_err(|e| Error::io("read", path, e))?;
    let mut buf = vec![0u8; BUF_SIZE];
    let d = hash_reader(file, &[alg], &mut buf).map_err(|e| Error::io("read", path, e))?;
    d.get(alg)
        .copied()
        .ok_or_else(|| Error::Internal(format!("no {alg} digest of {}", path.display())))
}

/// The digest of a local file, or `None` when it is missing.
pub(crate) fn hash_local(path: &Path, alg: Algorithm) -> Result<Option<Digest>, Error> {
    match hash_file(path, alg) {
        Ok(d) => Ok(Some(d)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The replicas named (all of them when `names` is empty), opened.
pub fn open_replicas(archive: &Archive, names: &[String]) -> Result<Vec<Replica>, Error> {
    let all = &archive.config.replica;
    if all.is_empty() {
        return Err(Error::Usage(
            "no replica is configured: add a [[replica]] table to cairn.toml (docs/replicas.md)"
                .into(),
        ));
    }
    let chosen: Vec<&ReplicaSection> = if names.is_empty() {
        all.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                all.iter().find(|r| &r.name == n).ok_or_else(|| {
                    Error::Usage(format!(
                        "no replica named {} in cairn.toml (configured: {})",
                        crate::quoted(n),
                        all.iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    chosen
        .into_iter()
        .map(|section| {
            let replica = Replica::open(section)?;
            crate::ops::replica_root::check_marker(archive, &replica)?;
            Ok(replica)
        })
        .collect()
}

/// Options for [`replicate`].
#[derive(Debug, Clone, Default)]
pub struct ReplicateOptions {
    /// Replica names; empty: every configured replica.
    pub to: Vec<String>,
    /// Item identifiers; empty: every registered item.
    pub ids: Vec<String>,
}

/// One object that could not be replicated as it is.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectProblem {
    pub key: String,
    /// `conflict` (the replica holds other bytes; not overwritten) or `archive-damaged`
    /// (the archive's file no longer matches the register; not sent).
    pub kind: &'static str,
    pub detail: String,
}

/// One item on one replica.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    pub id: String,
    pub copied: u64,
    pub bytes: u64,
    pub present: u64,
    /// Objects that held an earlier state of the item (before an `amend` or a
    /// `revise`), rewritten with the current one.
    pub updated: u64,
    /// Objects of an earlier state that the current one no longer has (a file a
    /// revision removed; the earlier version is kept under archive/.versions/), deleted.
    pub removed: u64,
    pub problems: Vec<ObjectProblem>,
    /// The BLAKE3 of the register entry replicated: a later run that finds the same
    /// entry only lists the item's objects.
    pub register_blake3: String,
}

/// One replica's run.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaResult {
    pub replica: String,
    pub url: String,
    pub items: Vec<ItemResult>,
    /// Events in the log copied with this run.
    pub log_events: u64,
}

/// The run's report.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicateReport {
    pub replicas: Vec<ReplicaResult>,
    /// `checkpoint_on_write` afterwards (`ops::after_write`; replicate is its own
    /// replication step).
    #[serde(skip)]
    pub checkpoint: Option<Result<CheckpointReport, Arc<Error>>>,
}

impl ReplicateReport {
    pub fn is_ok(&self) -> bool {
        self.replicas
            .iter()
            .all(|r| r.items.iter().all(|i| i.problems.is_empty()))
    }
}

/// For each item and replica, the register entry (its BLAKE3) that the last successful
/// `replication` event recorded; empty for events older than that field.
fn replicated(archive: &Archive) -> Result<BTreeMap<(String, String), String>, Error> {
    let log = archive.read_all_events()?;
    Ok(log
        .events
        .iter()
        .filter(|e| EventType::Replication.is(&e.event_type) && Outcome::Success.is(&e.outcome))
        .filter_map(|e| {
            let replica = e.data.get("replica").and_then(|v| v.as_str())?;
            let register = e
                .data
                .get("register_blake3")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            Some((
                (e.object.clone(), replica.to_string()),
                register.to_string(),
            ))
        })
        .collect())
}

/// Runs `cairn replicate`.
/// `checkpoint_on_write` runs afterwards (`ops::after_write`).
pub fn replicate(
    archive: &Archive,
    opts: &ReplicateOptions,
    clock: &dyn Clock,
) -> Result<ReplicateReport, Error> {
    let mut report = replicate_inner(archive, opts, clock)?;
    report.checkpoint = checkpoint_on_write(archive);
    Ok(report)
}

/// [`replicate`] without the checkpoint: also `replicate_on_ingest`'s replication.
pub(crate) fn replicate_inner(
    archive: &Archive,
    opts: &ReplicateOptions,
    clock: &dyn Clock,
) -> Result<ReplicateReport, Error> {
    let _lock = archive.lock("replicate")?;
    crate::ops::commit::repair_log(archive, clock.now())?;
    let replicas = open_replicas(archive, &opts.to)?;
    let registered = archive.register_ids()?;
    // Withdrawn items too: their tombstones reach the replicas, and their live copies
    // there are removed (a withdrawal must not come back with a restore).
    let withdrawn: BTreeSet<String> = archive.withdrawn_ids()?.into_iter().collect();
    let ids: Vec<String> = if opts.ids.is_empty() {
        let mut all = registered;
        all.extend(withdrawn.iter().cloned());
        all.sort();
        all.dedup();
        all
    } else {
        for id in &opts.ids {
            if !registered.contains(id) && !withdrawn.contains(id) {
                return Err(Error::Usage(format!(
                    "no item {} in the archive; `cairn list` shows the identifiers",
                    crate::quoted(id)
                )));
            }
        }
        opts.ids.clone()
    };
    let done = replicated(archive)?;
    let registered_set: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    let mut report = ReplicateReport {
        replicas: Vec::new(),
        checkpoint: None,
    };
    for replica in &replicas {
        let mut result = ReplicaResult {
            replica: replica.name.clone(),
            url: replica.url.clone(),
            items: Vec::new(),
            log_events: 0,
        };
        replica.clear_interrupted()?;
        check_log_prefix(archive, replica)?;
        let outcome = (|| -> Result<(), Error> {
            for id in &ids {
                crate::progress::item(id);
                let recorded = done.get(&(id.clone(), replica.name.clone()));
                let item = replicate_item(
                    archive,
                    replica,
                    id,
                    withdrawn.contains(id) && !registered_set.contains(id),
                    recorded.map(String::as_str),
                )?;
                let unchanged = recorded == Some(&item.register_blake3)
                    && item.copied == 0
                    && item.updated == 0
                    && item.removed == 0
                    && item.problems.is_empty();
                if !unchanged {
                    archive.append_events(clock.now(), &[replication_event(replica, &item)])?;
                }
                result.items.push(item);
            }
            Ok(())
        })();
        // The log goes last, so it holds this run's replication events; after a failure
        // too, so the replica's log records what did reach it.
        let log = copy_log(archive, replica);
        outcome?;
        result.log_events = log?;
        report.replicas.push(result);
    }
    Ok(report)
}

fn replication_event(replica: &Replica, item: &ItemResult) -> NewEvent {
    let data = serde_json::json!({
        "replica": replica.name,
        "url": replica.url,
        "copied": item.copied,
        "bytes": item.bytes,
        "present": item.present,
        "updated": item.updated,
        "removed": item.removed,
        "problems": item.problems,
        "register_blake3": item.register_blake3,
    });
    if item.problems.is_empty() {
        NewEvent::new(
            EventType::Replication,
            Outcome::Success,
            &item.id,
            format!(
                "copied {} objects ({} bytes) to replica {} ({}), each read back and verified against the register; {} already there and verified{}",
                item.copied,
                item.bytes,
                replica.name,
                replica.url,
                item.present,
                if item.updated + item.removed > 0 {
                    format!(
                        "; {} objects of an earlier state of the item (kept in its history) brought up to date, {} no longer in it deleted",
                        item.updated, item.removed
                    )
                } else {
                    String::new()
                }
            ),
        )
        .with_data(data)
    } else {
        NewEvent::new(
            EventType::Replication,
            Outcome::Failure,
            &item.id,
            format!(
                "{} objects could not be replicated to replica {} ({}): {}",
                item.problems.len(),
                replica.name,
                replica.url,
                item.problems
                    .iter()
                    .map(|p| format!("{}: {}", p.key, p.kind))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .with_data(data)
    }
}

/// Replicates one item's objects. `recorded`: the register entry (BLAKE3) that the
/// item's last successful replication to this replica recorded; when the entry has
/// not changed since, the objects are only listed.
fn replicate_item(
    archive: &Archive,
    replica: &Replica,
    id: &str,
    withdrawn: bool,
    recorded: Option<&str>,
) -> Result<ItemResult, Error> {
    let expected = if withdrawn {
        expected_withdrawn(archive, id)?
    } else {
        expected_objects(archive, id)?
    };
    let register_blake3 = expected
        .last()
        .map(|e| e.digest.to_hex())
        .unwrap_or_default();
    let fast = recorded == Some(register_blake3.as_str());
    let mut item = ItemResult {
        id: id.to_string(),
        copied: 0,
        bytes: 0,
        present: 0,
        updated: 0,
        removed: 0,
        problems: Vec::new(),
        register_blake3,
    };
    let superseded = if fast {
        BTreeMap::new()
    } else {
        superseded_digests(archive, id, &expected)?
    };
    let mut outdated: Vec<&Expected> = Vec::new();
    let listed: BTreeMap<String, u64> = if fast {
        listing(replica, &expected)?
    } else {
        BTreeMap::new()
    };
    for exp in &expected {
        if fast {
            match listed.get(&exp.key) {
                Some(size) if exp.size.is_none_or(|s| s == *size) => {
                    item.present += 1;
                    continue;
                }
                Some(size) => {
                    item.problems.push(ObjectProblem {
                        key: exp.key.clone(),
                        kind: "conflict",
                        detail: format!(
                            "the replica holds {size} bytes, the register records {}; not overwritten",
                            exp.size.unwrap_or_default()
                        ),
                    });
                    continue;
                }
                None => {}
            }
        }
        match replica.hash(&exp.key, exp.alg)? {
            Some((_, d)) if d == exp.digest => item.present += 1,
            Some((_, d))
                if superseded
                    .get(&exp.key)
                    .is_some_and(|set| set.contains(&(exp.alg, d))) =>
            {
                outdated.push(exp)
            }
            Some((size, d)) => item.problems.push(ObjectProblem {
                key: exp.key.clone(),
                kind: "conflict",
                detail: format!(
                    "the replica holds other bytes ({size} bytes, {} {}; the register records {}); not overwritten",
                    exp.alg,
                    d.to_hex(),
                    exp.digest.to_hex()
                ),
            }),
            None => match send(replica, exp, true) {
                Ok(Written::Done) => {
                    item.copied += 1;
                    item.bytes += crate::fs::len_if_present(&exp.local).unwrap_or(0);
                }
                Ok(Written::SourceMismatch) => item.problems.push(ObjectProblem {
                    key: exp.key.clone(),
                    kind: "archive-damaged",
                    detail: format!(
                        "the archive's file no longer has the register's {} digest; not sent. Run `cairn fixity --id {id}` and `cairn repair {id}`",
                        exp.alg
                    ),
                }),
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    item.problems.push(ObjectProblem {
                        key: exp.key.clone(),
                        kind: "archive-damaged",
                        detail: format!(
                            "the archive's file is missing; not sent. Run `cairn repair {id}`"
                        ),
                    })
                }
                Err(e) => return Err(e),
            },
        }
    }
    if fast || !item.problems.is_empty() {
        // Out-of-date objects are only replaced once everything else of the item is on
        // the replica (the superseded entries and retained versions among it).
        for exp in outdated {
            item.problems.push(ObjectProblem {
                key: exp.key.clone(),
                kind: "outdated",
                detail: "the replica holds an earlier state of the item; not replaced while other objects of the item could not be replicated".into(),
            });
        }
        return Ok(item);
    }
    for exp in outdated {
        match send(replica, exp, false)? {
            Written::Done => {
                item.updated += 1;
                item.bytes += crate::fs::len_if_present(&exp.local).unwrap_or(0);
            }
            Written::SourceMismatch => item.problems.push(ObjectProblem {
                key: exp.key.clone(),
                kind: "archive-damaged",
                detail: format!(
                    "the archive's file no longer has the register's {} digest; not sent. Run `cairn fixity --id {id}` and `cairn repair {id}`",
                    exp.alg
                ),
            }),
        }
    }
    // Objects of the bag's folder that the item no longer has: deleted when they hold
    // bytes of an earlier state (kept in the history), reported otherwise.
    let wanted: BTreeSet<&str> = expected.iter().map(|e| e.key.as_str()).collect();
    let mut listed = if superseded.is_empty() {
        Vec::new()
    } else {
        replica.list(&format!("archive/{id}"))?
    };
    if withdrawn {
        // Its register entry, which the replica no longer should have.
        let key = key_of(&archive.root, &archive.register_path(id))?;
        if let Some(size) = replica.head(&key)? {
            listed.push(crate::fs::replica::Listed { key, size });
        }
    }
    for l in listed {
        if wanted.contains(l.key.as_str()) {
            continue;
        }
        let known = match superseded.get(&l.key) {
            Some(set) => {
                // Checked with the strongest algorithm the history recorded for it.
                match STRENGTH
                    .into_iter()
                    .find(|a| set.iter().any(|(b, _)| b == a))
                {
                    Some(alg) => replica
                        .hash(&l.key, alg)?
                        .is_some_and(|(_, d)| set.contains(&(alg, d))),
                    None => false,
                }
            }
            None => false,
        };
        if known {
            replica.delete(&l.key)?;
            item.removed += 1;
        } else {
            item.problems.push(ObjectProblem {
                key: l.key.clone(),
                kind: "conflict",
                detail: format!(
                    "{} bytes in the item's folder on the replica that no state of the item recorded; not deleted",
                    l.size
                ),
            });
        }
    }
    Ok(item)
}

/// The sizes of the objects `expected` names, by listing (no object is read): each
/// bag folder (archive/ID, archive/.versions/ID, archive/.quarantine/ID) and the history
/// folder listed once, single objects (the register entry, the tombstone) looked up.
fn listing(replica: &Replica, expected: &[Expected]) -> Result<BTreeMap<String, u64>, Error> {
    let mut folders: BTreeSet<String> = BTreeSet::new();
    let mut single: Vec<&str> = Vec::new();
    for e in expected {
        let parts: Vec<&str> = e.key.splitn(4, '/').collect();
        let depth = match parts.as_slice() {
            [crate::fs::layout::ARCHIVE_DIR, crate::fs::lifecycle::VERSIONS_DIR | crate::fs::lifecycle::QUARANTINE_DIR, _, _] => {
                3
            }
            [crate::fs::layout::MANIFESTS_DIR, crate::fs::lifecycle::HISTORY_DIR, _, _] => 3,
            [crate::fs::layout::ARCHIVE_DIR, _, _, ..] => 2,
            _ => 0,
        };
        if depth == 0 {
            single.push(&e.key);
        } else {
            folders.insert(parts[..depth].join("/"));
        }
    }
    let mut out = BTreeMap::new();
    for f in folders {
        out.extend(replica.list(&f)?.into_iter().map(|l| (l.key, l.size)));
    }
    for key in single {
        if let Some(size) = replica.head(key)? {
            out.insert(key.to_string(), size);
        }
    }
    Ok(out)
}

/// The head object: the log's last line's seq and BLAKE3, and the log's length.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LogHead {
    pub seq: u64,
    pub line_blake3: String,
    pub log_bytes: u64,
}

/// Refuses to replace a replica's log that the archive's log does not extend (the
/// replica's head must be a line of the local log): that would be a conflict.
fn check_log_prefix(archive: &Archive, replica: &Replica) -> Result<(), Error> {
    migrate_head(replica)?;
    let Some(head) = read_head(replica)? else {
        return Ok(());
    };
    let local = archive.read_all_events_bytes()?;
    let extends = head.log_bytes <= local.len() as u64
        && local[..head.log_bytes as usize]
            .strip_suffix(b"\n")
            .map(|l| l.rsplit(|&b| b == b'\n').next().unwrap_or(l))
            .is_some_and(|line| line_digest(line) == head.line_blake3);
    if extends {
        Ok(())
    } else {
        Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "replica {}'s event log (head: event {}, {}) is not a beginning of this archive's log: a conflict, nothing replaced. Compare the two logs before going on",
                replica.name, head.seq, head.line_blake3
            ),
        })
    }
}

/// The replica's log head: [`HEAD_KEY`], else (a replica written before it moved) a
/// head at [`LEGACY_HEAD_KEY`]; `None` when there is none.
pub fn read_head(replica: &Replica) -> Result<Option<LogHead>, Error> {
    if let Some(bytes) = replica.get_bytes(HEAD_KEY)? {
        return serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Replica {
                name: replica.name.clone(),
                detail: format!("{HEAD_KEY} is not a log head: {e}"),
            });
    }
    Ok(legacy_head(replica)?.map(|(head, _)| head))
}

/// A head at [`LEGACY_HEAD_KEY`] (with its bytes), when what is there parses as one.
fn legacy_head(replica: &Replica) -> Result<Option<(LogHead, Vec<u8>)>, Error> {
    Ok(replica
        .get_bytes(LEGACY_HEAD_KEY)?
        .and_then(|b| is_legacy_head(&b).map(|h| (h, b))))
}

/// `bytes` read at [`LEGACY_HEAD_KEY`] as a log head; `None` for anything else (the
/// register entry of an item called `events.head`).
pub fn is_legacy_head(bytes: &[u8]) -> Option<LogHead> {
    serde_json::from_slice::<LogHead>(bytes).ok()
}

/// A replica written before the head moved under `.cairn/`: the head is copied to
/// [`HEAD_KEY`], read back, then deleted from [`LEGACY_HEAD_KEY`], which is then free
/// for the register entry of an item called `events.head`.
fn migrate_head(replica: &Replica) -> Result<(), Error> {
    if replica.head(HEAD_KEY)?.is_some() {
        return Ok(());
    }
    if let Some((_, bytes)) = legacy_head(replica)? {
        replica.put_bytes(HEAD_KEY, &bytes)?;
        replica.delete(LEGACY_HEAD_KEY)?;
    }
    Ok(())
}

/// Copies cairn.toml, the event log and its head; returns the number of events.
fn copy_log(archive: &Archive, replica: &Replica) -> Result<u64, Error> {
    let config = archive.root.join(crate::config::CONFIG_FILE);
    if let Some(bytes) = crate::fs::read_if_present(&config)? {
        replica.put_bytes(CONFIG_KEY, &bytes)?;
    }
    // Under the shared log lock: no append while the log is read.
    let _guard = archive.shared_log_lock()?;
    let log = archive.events_path();
    let Some((seq, line)) =
        crate::fs::events::last_complete_line(&log, &crate::fs::tlog_store::LogTree)?
    else {
        return Ok(0);
    };
    let len = crate::fs::stat(&log)?.len();
    let head = LogHead {
        seq,
        line_blake3: line_digest(&line),
        log_bytes: len,
    };
    let current = replica
        .get_bytes(HEAD_KEY)?
        .and_then(|b| serde_json::from_slice::<LogHead>(&b).ok());
    if current.as_ref() == Some(&head) && replica.head(LOG_KEY)? == Some(len) {
        return Ok(seq);
    }
    replica.put_file(&log, LOG_KEY, (Algorithm::Blake3, None), Some(len), false)?;
    let bytes = serde_json::to_vec_pretty(&head)
        .map_err(|e| Error::Internal(format!("encode log head: {e}")))?;
    replica.put_bytes(HEAD_KEY, &bytes)?;
    Ok(seq)
}
