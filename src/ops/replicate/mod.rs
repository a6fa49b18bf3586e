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
use crate::fs::replica::{Listed, PutJob, Replica, Written};
use crate::ops::bag_check::STRENGTH;
use crate::ops::tlog::{checkpoint_on_write, CheckpointReport};
use crate::replica::ReplicaSection;
use crate::vocab::{EventType, Outcome};

mod log;
mod objects;

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

/// One item planned: what the replica holds of it, and what is to be sent.
struct Planned {
    item: ItemResult,
    expected: Vec<Expected>,
    superseded: BTreeMap<String, HashSet<(Algorithm, Digest)>>,
    /// Indices in `expected` of the objects absent from the replica, the register
    /// entry (always last in `expected`) excepted.
    absent: Vec<usize>,
    /// The register entry's index when it is absent.
    entry: Option<usize>,
    /// Indices of the objects that hold an earlier state of the item.
    outdated: Vec<usize>,
    fast: bool,
    withdrawn: bool,
    /// The register entry (BLAKE3) its last successful replication recorded.
    recorded: Option<String>,
}

/// Plans one item: `recorded` is the register entry (BLAKE3) that the item's last
/// successful replication to this replica recorded; when the entry has not changed
/// since, the objects are only listed. Then [`send_group`] sends what is absent, the
/// out-of-date objects are replaced once everything else is there, and what the item
/// no longer has is removed ([`finish_item`]).
fn plan_item(
    archive: &Archive,
    (replica, listing): (&Replica, &Listing),
    id: &str,
    withdrawn: bool,
    recorded: Option<String>,
) -> Result<Planned, Error> {
    let expected = if withdrawn {
        expected_withdrawn(archive, id)?
    } else {
        expected_objects(archive, id)?
    };
    let register_blake3 = expected
        .last()
        .map(|e| e.digest.to_hex())
        .unwrap_or_default();
    let fast = recorded.as_deref() == Some(register_blake3.as_str());
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
    let listed = listing.of(replica, &expected)?;
    let (mut absent, outdated) =
        find_absent(replica, &expected, &superseded, (&listed, fast), &mut item)?;
    let entry = absent.pop_if(|i| *i + 1 == expected.len());
    Ok(Planned {
        item,
        expected,
        superseded,
        absent,
        entry,
        outdated,
        fast,
        withdrawn,
        recorded,
    })
}

/// Sends the absent objects of a group of planned items (every other object first, the
/// register entries in a batch of their own after them, so that a replica never has an
/// entry before the files it lists), finishes each item, and records the changed ones
/// in one append to the log. Empties `group`.
fn send_group(
    archive: &Archive,
    replica: &Replica,
    group: &mut Vec<Planned>,
    clock: &dyn Clock,
    result: &mut ReplicaResult,
) -> Result<(), Error> {
    let files: Vec<(usize, usize)> = group
        .iter()
        .enumerate()
        .flat_map(|(g, p)| p.absent.iter().map(move |e| (g, *e)))
        .collect();
    let entries: Vec<(usize, usize)> = group
        .iter()
        .enumerate()
        .filter_map(|(g, p)| p.entry.map(|e| (g, e)))
        .collect();
    let mut batches: Vec<&[(usize, usize)]> =
        files.chunks(crate::fs::replica::BATCH_OBJECTS).collect();
    if !entries.is_empty() {
        batches.push(&entries);
    }
    // The names of each batch become durable with the next one; the last batch's
    // before any event is written.
    let n = batches.len();
    for (i, batch) in batches.into_iter().enumerate() {
        send_batch(replica, group, batch, i + 1 == n)?;
    }
    let mut events = Vec::new();
    for planned in group.drain(..) {
        let recorded = planned.recorded.clone();
        let item = finish_item(archive, replica, planned)?;
        let unchanged = recorded.as_ref() == Some(&item.register_blake3)
            && item.copied == 0
            && item.updated == 0
            && item.removed == 0
            && item.problems.is_empty();
        if !unchanged {
            events.push(replication_event(replica, &item));
        }
        result.items.push(item);
    }
    if !events.is_empty() {
        archive.append_events(clock.now(), &events)?;
    }
    Ok(())
}

/// After its objects were sent: the out-of-date objects replaced (only once everything
/// else of the item is on the replica: the superseded entries and retained versions
/// among it), then what the item no longer has removed.
fn finish_item(archive: &Archive, replica: &Replica, p: Planned) -> Result<ItemResult, Error> {
    let Planned {
        mut item,
        expected,
        superseded,
        outdated,
        fast,
        withdrawn,
        ..
    } = p;
    let outdated: Vec<&Expected> = outdated.iter().map(|i| &expected[*i]).collect();
    if fast || !item.problems.is_empty() {
        for exp in outdated {
            item.problems.push(ObjectProblem {
                key: exp.key.clone(),
                kind: "outdated",
                detail: "the replica holds an earlier state of the item; not replaced while other objects of the item could not be replicated".into(),
            });
        }
        return Ok(item);
    }
    let id = item.id.clone();
    replace_outdated(replica, &id, &outdated, &mut item)?;
    remove_stale(
        archive,
        replica,
        &id,
        withdrawn,
        &expected,
        &superseded,
        &mut item,
    )?;
    Ok(item)
}

/// Each expected object present on the replica (by listing when `fast`, else by
/// digest), or absent; a different object is a conflict, never overwritten. Returns the
/// indices in `expected` of the absent objects and of those that hold an earlier state
/// of the item (`superseded`).
///
/// `listed`: the sizes of the item's objects on the replica ([`Listing`]); an object not
/// among them is absent without asking the replica again.
fn find_absent(
    replica: &Replica,
    expected: &[Expected],
    superseded: &BTreeMap<String, HashSet<(Algorithm, Digest)>>,
    (listed, fast): (&BTreeMap<String, u64>, bool),
    item: &mut ItemResult,
) -> Result<(Vec<usize>, Vec<usize>), Error> {
    let mut outdated = Vec::new();
    let mut absent = Vec::new();
    for (i, exp) in expected.iter().enumerate() {
        match listed.get(&exp.key) {
            Some(size) if fast && exp.size.is_none_or(|s| s == *size) => {
                item.present += 1;
                continue;
            }
            Some(size) if fast => {
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
            // Listings skip the folder backend's temporary names (`NAME#1`): a key
            // with a `#` is looked up.
            None if !exp.key.contains('#') => {
                absent.push(i);
                continue;
            }
            _ => {}
        }
        match replica.hash(&exp.key, exp.alg)? {
            Some((_, d)) if d == exp.digest => item.present += 1,
            Some((_, d))
                if superseded
                    .get(&exp.key)
                    .is_some_and(|set| set.contains(&(exp.alg, d))) =>
            {
                outdated.push(i)
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
            None => absent.push(i),
        }
    }
    Ok((absent, outdated))
}

/// Sends `batch` (objects absent from the replica: (item in `group`, object in its
/// `expected`)) and counts what it did in each item.
fn send_batch(
    replica: &Replica,
    group: &mut [Planned],
    batch: &[(usize, usize)],
    sync_names: bool,
) -> Result<(), Error> {
    let results = {
        let jobs: Vec<PutJob> = batch
            .iter()
            .map(|&(g, e)| {
                let exp = &group[g].expected[e];
                PutJob {
                    local: &exp.local,
                    key: &exp.key,
                    alg: exp.alg,
                    want: &exp.digest,
                    create: true,
                }
            })
            .collect();
        replica.put_batch(&jobs, sync_names)
    };
    for (&(g, e), result) in batch.iter().zip(results) {
        let Planned { item, expected, .. } = &mut group[g];
        let exp = &expected[e];
        let id = item.id.clone();
        match result {
            Ok(Written::Done) => {
                item.copied += 1;
                item.bytes += crate::fs::len_if_present(&exp.local).unwrap_or(0);
            }
            Ok(Written::SourceMismatch) => item.problems.push(damaged(&exp.key, &id, exp.alg)),
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
        }
    }
    Ok(())
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
