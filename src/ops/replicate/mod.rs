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
//!
//! What is there is known from one listing of the replica per run (of the named items'
//! folders with `--id`), and the absent objects go in batches
//! ([`Replica::put_batch`]: one `syncfs` per batch on a folder replica, several objects
//! in flight on S3; the crash-safety argument is in docs/replicas.md, "Batched writes
//! and crashes").
//!
//! `objects.rs` says which objects an item should have on a replica; `log.rs` keeps the
//! event log and its head there.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::NewEvent;
use crate::fs::replica::{Listed, Replica, Written};
use crate::ops::bag_check::STRENGTH;
use crate::ops::tlog::{checkpoint_on_write, CheckpointReport};
use crate::replica::ReplicaSection;
use crate::vocab::{EventType, Outcome};

mod group;
mod log;
mod objects;
mod ocfl;

use group::{plan_item, send_group, Planned};
use log::{check_log_prefix, copy_log};
pub use log::{is_legacy_head, read_head, LogHead};
pub use objects::{expected_objects, expected_withdrawn, Expected};
pub(crate) use objects::{hash_local, key_of, send, superseded_digests};

pub use crate::fs::layout::{CONFIG_KEY, HEAD_KEY, LEGACY_HEAD_KEY, LOG_KEY};

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
    let mut out = BTreeMap::new();
    archive.fold_events_notes(|e| {
        let b = e.brief;
        if !(EventType::Replication.is(&b.event_type) && Outcome::Success.is(&b.outcome)) {
            return;
        }
        if let Some(replica) = b.replica_name {
            out.insert((b.object, replica), e.register_blake3.unwrap_or_default());
        }
    })?;
    Ok(out)
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
        if replica.is_ocfl() {
            crate::progress::item(&replica.name);
            ocfl::replicate_ocfl(archive, replica, &ids, clock, &mut result)?;
            report.replicas.push(result);
            continue;
        }
        replica.clear_interrupted()?;
        check_log_prefix(archive, replica)?;
        // Every item: the replica listed once (names and sizes) instead of a request
        // per object; named items: their folders only.
        let listing = if opts.ids.is_empty() {
            Listing::Run(replica.list("")?)
        } else {
            Listing::PerItem
        };
        let outcome = (|| -> Result<(), Error> {
            // Items are planned one by one and sent in groups of about BATCH_OBJECTS
            // objects: one batch (on a folder replica, one pair of `syncfs`) and one
            // append to the log for many small items.
            let mut group: Vec<Planned> = Vec::new();
            let mut pending = 0;
            for id in &ids {
                crate::progress::item(id);
                let recorded = done.get(&(id.clone(), replica.name.clone())).cloned();
                let planned = plan_item(
                    archive,
                    (replica, &listing),
                    id,
                    withdrawn.contains(id) && !registered_set.contains(id),
                    recorded,
                )?;
                pending += planned.absent.len() + 1;
                group.push(planned);
                if pending >= crate::fs::replica::BATCH_OBJECTS {
                    send_group(archive, replica, &mut group, clock, &mut result)?;
                    pending = 0;
                }
            }
            send_group(archive, replica, &mut group, clock, &mut result)
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

/// The problem of an archive file that no longer has the register's digest.
fn damaged(key: &str, id: &str, alg: Algorithm) -> ObjectProblem {
    ObjectProblem {
        key: key.to_string(),
        kind: "archive-damaged",
        detail: format!(
            "the archive's file no longer has the register's {alg} digest; not sent. Run `cairn fixity --id {id}` and `cairn repair {id}`"
        ),
    }
}

/// The objects that hold an earlier state of the item, replaced with the current one.
fn replace_outdated(
    replica: &Replica,
    id: &str,
    outdated: &[&Expected],
    item: &mut ItemResult,
) -> Result<(), Error> {
    for exp in outdated {
        match send(replica, exp, false)? {
            Written::Done => {
                item.updated += 1;
                item.bytes += crate::fs::len_if_present(&exp.local).unwrap_or(0);
            }
            Written::SourceMismatch => item.problems.push(damaged(&exp.key, id, exp.alg)),
        }
    }
    Ok(())
}

/// Objects of the bag's folder that the item no longer has: deleted when they hold
/// bytes of an earlier state (kept in the history), reported otherwise. A withdrawn
/// item's register entry is among them.
fn remove_stale(
    archive: &Archive,
    replica: &Replica,
    id: &str,
    withdrawn: bool,
    expected: &[Expected],
    superseded: &BTreeMap<String, HashSet<(Algorithm, Digest)>>,
    item: &mut ItemResult,
) -> Result<(), Error> {
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
    Ok(())
}

/// What a replica holds, as names and sizes: listed once for a run over every item, or
/// item by item ([`listing`]) for a run over named items.
enum Listing {
    /// The whole replica, sorted by key.
    Run(Vec<Listed>),
    PerItem,
}

impl Listing {
    /// The sizes of the objects of `expected` that the replica holds.
    fn of(&self, replica: &Replica, expected: &[Expected]) -> Result<BTreeMap<String, u64>, Error> {
        match self {
            Listing::Run(all) => Ok(expected
                .iter()
                .filter_map(|e| {
                    let i = all
                        .binary_search_by(|l| l.key.as_str().cmp(e.key.as_str()))
                        .ok()?;
                    Some((e.key.clone(), all[i].size))
                })
                .collect()),
            Listing::PerItem => listing(replica, expected),
        }
    }
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
