//! The items of a run planned one by one (what the replica holds of each, by the run's
//! listing) and sent in groups: the files of a group in batches, the register entries
//! in a batch of their own after them, then the items finished (out-of-date objects
//! replaced, stale ones removed) and their events appended in one write.

use std::collections::{BTreeMap, HashSet};

use super::{
    damaged, expected_objects, expected_withdrawn, remove_stale, replace_outdated,
    replication_event, superseded_digests, Expected, ItemResult, Listing, ObjectProblem,
    ReplicaResult,
};
use crate::clock::Clock;
use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::replica::{PutJob, Replica, Written};

/// One item planned: what the replica holds of it, and what is to be sent.
pub(super) struct Planned {
    item: ItemResult,
    expected: Vec<Expected>,
    superseded: BTreeMap<String, HashSet<(Algorithm, Digest)>>,
    /// Indices in `expected` of the objects absent from the replica, the register
    /// entry (always last in `expected`) excepted.
    pub(super) absent: Vec<usize>,
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
pub(super) fn plan_item(
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
pub(super) fn send_group(
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
