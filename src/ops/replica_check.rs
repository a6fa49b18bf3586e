//! Checks of a replica against the register: `cairn fixity --replica NAME` re-reads
//! every object of the chosen items and hashes it (changed, missing and unexpected
//! objects; a `fixity check` event per item naming the replica), `cairn audit
//! --replicas` compares each replica's listing with the register (names and sizes,
//! no contents read).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::NewEvent;
use crate::fs::layout::ARCHIVE_DIR;
use crate::fs::replica::Replica;
use crate::ops::after_write::{after_write, AfterWrite};
pub use crate::ops::findings::{ReplicaFinding, ReplicaItemCheck};
use crate::ops::replicate::{
    expected_objects, expected_withdrawn, open_replicas, superseded_digests, CONFIG_KEY, HEAD_KEY,
    LOG_KEY,
};
use crate::ops::schedule::{plan, shard_of, Selection};
use crate::vocab::{EventType, Outcome};

/// Options of `fixity --replica`.
#[derive(Debug, Clone)]
pub struct ReplicaFixityOptions {
    pub replica: String,
    /// Which items: due (their last check on this replica is older than the fixity
    /// interval; the default, as for the archive's own check), all, or those named.
    pub selection: Selection,
    /// `(k, n)`: only items whose identifier hashes to shard k of n (1-based).
    pub shard: Option<(u64, u64)>,
    pub max_bytes: Option<u64>,
    pub max_time: Option<Duration>,
    pub dry_run: bool,
}

/// The report of `fixity --replica`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaFixityReport {
    pub replica: String,
    pub url: String,
    pub checked: Vec<ReplicaItemCheck>,
    /// Objects under archive/ that belong to no registered item.
    pub unexpected: Vec<ReplicaFinding>,
    /// Items not reached within the budget (with `--due`: due items only).
    pub not_reached: usize,
    /// With `--due`: how many items were due.
    pub due: usize,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

impl ReplicaFixityReport {
    pub fn is_ok(&self) -> bool {
        self.unexpected.is_empty() && self.checked.iter().all(|c| c.findings.is_empty())
    }
}

/// The items to check, in order, and how many of them were due: `--id` as named;
/// `--all` every registered item; `--due` those whose last check on this replica is
/// older than the fixity interval, oldest first (never checked first), then, with a
/// budget, the rest oldest first (as the archive's own `fixity --due`).
fn selected(
    archive: &Archive,
    opts: &ReplicaFixityOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<String>, usize), Error> {
    let mut registered = archive.register_ids()?;
    if let Selection::Ids(ids) = &opts.selection {
        for id in ids {
            if registered.binary_search(id).is_err() {
                return Err(Error::Usage(format!(
                    "no item {} in the archive; `cairn list` shows the identifiers",
                    crate::quoted(id)
                )));
            }
        }
    }
    if let Some((k, n)) = opts.shard {
        registered.retain(|id| shard_of(id, n) == k);
    }
    let last = if opts.selection == Selection::Due {
        // Each event's brief, folded as the log is read (memory grows with the items,
        // not the events): the last check of each item on this replica.
        let mut last = crate::ops::schedule::LastChecks::new();
        archive.fold_events_brief(|e| {
            if !EventType::FixityCheck.is(&e.event_type)
                || e.replica_name.as_deref() != Some(opts.replica.as_str())
            {
                return;
            }
            let Ok(t) = chrono::DateTime::parse_from_rfc3339(&e.time) else {
                return;
            };
            let t = t.with_timezone(&chrono::Utc);
            let slot = last.entry(e.object).or_insert(t);
            if t > *slot {
                *slot = t;
            }
        })?;
        last
    } else {
        crate::ops::schedule::LastChecks::new()
    };
    let interval = chrono::Duration::days(i64::from(archive.config.fixity.interval_days));
    let budgeted = opts.max_bytes.is_some() || opts.max_time.is_some();
    Ok(plan(
        &registered,
        &last,
        now,
        interval,
        &opts.selection,
        budgeted,
    ))
}

/// Objects outside any item: keys under archive/ whose second part is not a registered
/// identifier (nor archive/.versions/ID/ of one, nor archive/.quarantine/ID/ of a
/// withdrawn one), and manifests/ entries of no item (manifests/history/ID/ belongs to
/// a registered or withdrawn item, manifests/withdrawn/ID.json to a withdrawn one). The
/// live copy of a withdrawn item (archive/ID/, manifests/ID.json) is unexpected: the
/// next `cairn replicate` removes it.
pub(crate) fn stray_objects(
    listed: &[crate::fs::replica::Listed],
    registered: &BTreeSet<String>,
    withdrawn: &BTreeSet<String>,
) -> Vec<ReplicaFinding> {
    use crate::fs::layout::{
        ENTRY_EXT, EVENTS_FILE, HISTORY_DIR, MANIFESTS_DIR, OWN_KEYS_DIR, QUARANTINE_DIR,
        VERSIONS_DIR, WITHDRAWN_DIR,
    };
    let known = |id: &str| registered.contains(id) || withdrawn.contains(id);
    listed
        .iter()
        .filter(|l| {
            let mut parts = l.key.split('/');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(ARCHIVE_DIR), Some(VERSIONS_DIR), Some(id)) => !registered.contains(id),
                (Some(ARCHIVE_DIR), Some(QUARANTINE_DIR), Some(id)) => !withdrawn.contains(id),
                (Some(MANIFESTS_DIR), Some(HISTORY_DIR), Some(id)) => !known(id),
                (Some(MANIFESTS_DIR), Some(WITHDRAWN_DIR), Some(name)) => !name
                    .strip_suffix(ENTRY_EXT)
                    .is_some_and(|id| withdrawn.contains(id)),
                (Some(ARCHIVE_DIR), Some(id), Some(_)) => !registered.contains(id),
                (Some(MANIFESTS_DIR), Some(name), None) => {
                    name != EVENTS_FILE
                        && l.key != crate::ops::replicate::LEGACY_HEAD_KEY
                        && !name
                            .strip_suffix(ENTRY_EXT)
                            .is_some_and(|id| registered.contains(id))
                }
                (Some(CONFIG_KEY), None, None) => false,
                // Cairn's own keys (the marker, the log's head).
                (Some(OWN_KEYS_DIR), Some(_), None) => {
                    l.key != HEAD_KEY && l.key != crate::ops::replica_root::MARKER_KEY
                }
                _ => true,
            }
        })
        .filter(|l| l.key != LOG_KEY)
        .map(|l| {
            let mut parts = l.key.split('/');
            let owner = match (parts.next(), parts.next()) {
                (Some(ARCHIVE_DIR), Some(id)) => Some(id.to_string()),
                (Some(MANIFESTS_DIR), Some(name)) => name.strip_suffix(ENTRY_EXT).map(str::to_string),
                _ => None,
            }
            .filter(|id| withdrawn.contains(id));
            ReplicaFinding {
                id: owner.clone().unwrap_or_default(),
                key: l.key.clone(),
                kind: "unexpected",
                detail: match owner {
                    Some(id) => format!(
                        "{} bytes of {id}, which was withdrawn: `cairn replicate` removes them from the replica",
                        l.size
                    ),
                    None => format!("{} bytes that belong to no registered item", l.size),
                },
            }
        })
        .collect()
}

/// `cairn fixity --replica NAME`.
/// The write policy ([`crate::ops::after_write`]) runs afterwards, unless a dry run.
pub fn replica_fixity(
    archive: &Archive,
    opts: &ReplicaFixityOptions,
    clock: &dyn Clock,
) -> Result<ReplicaFixityReport, Error> {
    let mut report = replica_fixity_inner(archive, opts, clock)?;
    if !opts.dry_run {
        report.after_write = after_write(archive, &[], clock);
    }
    Ok(report)
}

/// [`replica_fixity`], before the write policy.
fn replica_fixity_inner(
    archive: &Archive,
    opts: &ReplicaFixityOptions,
    clock: &dyn Clock,
) -> Result<ReplicaFixityReport, Error> {
    let _fixity_lock = archive.lock_fixity()?;
    crate::ops::commit::repair_log(archive, clock.now())?;
    let started = Instant::now();
    let replica = open_replicas(archive, std::slice::from_ref(&opts.replica))?
        .pop()
        .ok_or_else(|| Error::Internal("no replica opened".into()))?;
    let (ids, due) = selected(archive, opts, clock.now())?;
    let registered: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    let mut report = ReplicaFixityReport {
        replica: replica.name.clone(),
        url: replica.url.clone(),
        checked: Vec::new(),
        unexpected: Vec::new(),
        not_reached: 0,
        due,
        after_write: AfterWrite::default(),
    };
    // An OCFL replica: each item's object re-read against its inventory.
    let ocfl_root = if replica.is_ocfl() {
        Some(crate::ops::ocfl_replica::storage_root(&replica)?)
    } else {
        None
    };
    let mut buf = vec![0u8; 1 << 20];
    if !matches!(opts.selection, Selection::Ids(_)) {
        let withdrawn: BTreeSet<String> = archive.withdrawn_ids()?.into_iter().collect();
        report.unexpected = match &ocfl_root {
            Some((_, layout)) => {
                let known = registered.union(&withdrawn).cloned().collect();
                crate::ops::ocfl_replica::stray_objects(
                    &replica,
                    *layout,
                    &replica.list("")?,
                    &known,
                )
            }
            None => stray_objects(&replica.list("")?, &registered, &withdrawn),
        };
    }
    let mut bytes = 0u64;
    for (i, id) in ids.iter().enumerate() {
        if opts.max_bytes.is_some_and(|b| bytes >= b)
            || opts.max_time.is_some_and(|t| started.elapsed() >= t)
        {
            report.not_reached = if opts.selection == Selection::Due {
                due.saturating_sub(i)
            } else {
                ids.len() - i
            };
            break;
        }
        crate::progress::item(id);
        let check = match &ocfl_root {
            Some((root, layout)) => {
                crate::ops::ocfl_replica::check_item(&replica, root, *layout, id, &mut buf)?
            }
            None => check_item(archive, &replica, id)?,
        };
        bytes += check.bytes;
        if !opts.dry_run {
            archive.append_events(clock.now(), &[fixity_event(&replica, &check)])?;
        }
        report.checked.push(check);
        crate::fs::failpoint::pause("fixity-replica-item-checked");
    }
    Ok(report)
}

fn check_item(archive: &Archive, replica: &Replica, id: &str) -> Result<ReplicaItemCheck, Error> {
    let expected = expected_objects(archive, id)?;
    let mut check = ReplicaItemCheck {
        id: id.to_string(),
        objects: 0,
        bytes: 0,
        findings: Vec::new(),
    };
    let superseded = superseded_digests(archive, id, &expected)?;
    let wanted: BTreeSet<&str> = expected.iter().map(|e| e.key.as_str()).collect();
    for l in replica.list(&crate::fs::layout::bag_key(id))? {
        if !wanted.contains(l.key.as_str()) {
            let detail = if superseded.contains_key(&l.key) {
                format!(
                    "{} bytes the register does not list; an earlier state of the item had this file: `cairn replicate --to {} --id {id}` deletes it if it holds those bytes",
                    l.size, replica.name
                )
            } else {
                format!("{} bytes the register does not list", l.size)
            };
            check.findings.push(ReplicaFinding {
                id: id.to_string(),
                key: l.key.clone(),
                kind: "unexpected",
                detail,
            });
        }
    }
    for exp in &expected {
        match replica.hash(&exp.key, exp.alg)? {
            None => check.findings.push(ReplicaFinding {
                id: id.to_string(),
                key: exp.key.clone(),
                kind: "missing",
                detail: format!("not on replica {}", replica.name),
            }),
            Some((size, d)) => {
                check.objects += 1;
                check.bytes += size;
                if d != exp.digest
                    && superseded
                        .get(&exp.key)
                        .is_some_and(|set| set.contains(&(exp.alg, d)))
                {
                    check.findings.push(ReplicaFinding {
                        id: id.to_string(),
                        key: exp.key.clone(),
                        kind: "outdated",
                        detail: format!(
                            "replica {} holds an earlier state of the item (recorded in manifests/history/{id}/), not damage: `cairn replicate --to {} --id {id}` brings it up to date",
                            replica.name, replica.name
                        ),
                    });
                } else if d != exp.digest {
                    check.findings.push(ReplicaFinding {
                        id: id.to_string(),
                        key: exp.key.clone(),
                        kind: "changed",
                        detail: format!(
                            "{} {} on replica {}, the register records {} ({size} bytes); `cairn repair {id}` rewrites it from a good copy",
                            exp.alg,
                            d.to_hex(),
                            replica.name,
                            exp.digest.to_hex()
                        ),
                    });
                }
            }
        }
    }
    if let Some(folder) = replica.folder() {
        let missing: Vec<&str> = check
            .findings
            .iter()
            .filter(|f| f.kind == "missing")
            .map(|f| f.key.as_str())
            .collect();
        let invalid = validate_bags(folder, id, &expected, &missing)?;
        check.findings.extend(invalid);
    }
    Ok(check)
}

/// A folder replica's bags of item `id` (the current one and each kept version), each
/// checked by the BagIt validator where it is, for structure and completeness (every
/// file listed, nothing more: a file left in data/ by a cut-short write is found). Its
/// digests are not read again: every object was just hashed against the register.
fn validate_bags(
    folder: &std::path::Path,
    id: &str,
    expected: &[crate::ops::replicate::Expected],
    missing: &[&str],
) -> Result<Vec<ReplicaFinding>, Error> {
    use crate::bagit::{validate, Mode, ValidateOptions};
    let mut bags: BTreeSet<String> = BTreeSet::new();
    for e in expected {
        let parts: Vec<&str> = e.key.split('/').collect();
        let depth = match parts.as_slice() {
            [ARCHIVE_DIR, crate::fs::lifecycle::VERSIONS_DIR, _, _, _, ..] => 4,
            [ARCHIVE_DIR, _, _, ..] => 2,
            _ => continue,
        };
        bags.insert(parts[..depth].join("/"));
    }
    let mut out = Vec::new();
    for bag in bags {
        let path = folder.join(&bag);
        let prefix = format!("{bag}/");
        if !path.is_dir() || missing.iter().any(|k| k.starts_with(&prefix)) {
            continue; // incomplete: its missing objects are reported already
        }
        let source = crate::fs::dir::DirSource::open(&path)?;
        let report = validate(
            &source,
            &ValidateOptions {
                mode: Mode::Completeness,
                only_algorithms: None,
                keep_digests: false,
            },
        )?;
        out.extend(report.problems.into_iter().map(|f| ReplicaFinding {
            id: id.to_string(),
            key: format!("{bag}/{}", f.path),
            kind: "invalid-bag",
            detail: format!(
                "the replica's bag {bag} is not a valid bag: {}: {}; `cairn repair {id} --remove-unexpected` removes files the register does not list",
                f.kind, f.detail
            ),
        }));
    }
    Ok(out)
}

fn fixity_event(replica: &Replica, check: &ReplicaItemCheck) -> NewEvent {
    let data = serde_json::json!({
        "replica": replica.name,
        "url": replica.url,
        "objects": check.objects,
        "bytes": check.bytes,
        "findings": check.findings,
    });
    let (outcome, detail) = if check.findings.is_empty() {
        (
            Outcome::Success,
            format!(
                "replica {}: {} objects ({} bytes) read back, every digest matches the register",
                replica.name, check.objects, check.bytes
            ),
        )
    } else {
        (
            Outcome::Failure,
            format!(
                "replica {}: {}",
                replica.name,
                check
                    .findings
                    .iter()
                    .map(|f| format!("{}: {}", f.key, f.kind))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    };
    NewEvent::new(EventType::FixityCheck, outcome, &check.id, detail).with_data(data)
}

/// One replica's inventory against the register.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaInventory {
    pub replica: String,
    pub url: String,
    pub objects: u64,
    pub findings: Vec<ReplicaFinding>,
}

/// `audit --replicas` of an OCFL replica: listing only, every registered item's object
/// has its inventory, and every object is an item's (registered or withdrawn) or the
/// archive's own.
fn audit_ocfl(
    replica: &Replica,
    registered: &BTreeSet<String>,
    withdrawn: &BTreeSet<String>,
) -> Result<ReplicaInventory, Error> {
    let (_, layout) = crate::ops::ocfl_replica::storage_root(replica)?;
    let listed = replica.list("")?;
    let keys: BTreeSet<&str> = listed.iter().map(|l| l.key.as_str()).collect();
    let known = registered.union(withdrawn).cloned().collect();
    let strays = crate::ops::ocfl_replica::stray_objects(replica, layout, &listed, &known);
    let findings = registered
        .iter()
        .filter_map(|id| {
            let key = format!("{}/{}", layout.object_path(id), crate::ocfl::INVENTORY);
            (!keys.contains(key.as_str())).then(|| ReplicaFinding {
                id: id.clone(),
                key,
                kind: "missing",
                detail: format!(
                    "no OCFL object for {id} on replica {}: `cairn replicate --to {}` writes it",
                    replica.name, replica.name
                ),
            })
        })
        .chain(strays)
        .collect();
    Ok(ReplicaInventory {
        replica: replica.name.clone(),
        url: replica.url.clone(),
        objects: listed.len() as u64,
        findings,
    })
}

/// `cairn audit --replicas`: listing only.
pub fn audit_replicas(archive: &Archive) -> Result<Vec<ReplicaInventory>, Error> {
    let replicas = open_replicas(archive, &[])?;
    let registered: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    let withdrawn: BTreeSet<String> = archive.withdrawn_ids()?.into_iter().collect();
    let mut out = Vec::new();
    for replica in &replicas {
        if replica.is_ocfl() {
            out.push(audit_ocfl(replica, &registered, &withdrawn)?);
            continue;
        }
        let listed = replica.list("")?;
        let sizes: BTreeMap<&str, u64> = listed.iter().map(|l| (l.key.as_str(), l.size)).collect();
        let mut inv = ReplicaInventory {
            replica: replica.name.clone(),
            url: replica.url.clone(),
            objects: listed.len() as u64,
            findings: stray_objects(&listed, &registered, &withdrawn),
        };
        let mut wanted = BTreeSet::new();
        let items = registered
            .iter()
            .map(|id| (id, false))
            .chain(withdrawn.iter().map(|id| (id, true)));
        for (id, is_withdrawn) in items {
            let expected = if is_withdrawn {
                expected_withdrawn(archive, id)?
            } else {
                expected_objects(archive, id)?
            };
            for exp in expected {
                wanted.insert(exp.key.clone());
                match sizes.get(exp.key.as_str()) {
                    None => inv.findings.push(ReplicaFinding {
                        id: id.clone(),
                        key: exp.key.clone(),
                        kind: "missing",
                        detail: format!(
                            "not on replica {}; `cairn replicate --to {} --id {id}` copies it",
                            replica.name, replica.name
                        ),
                    }),
                    Some(size) if exp.size.is_some_and(|s| s != *size) => {
                        inv.findings.push(ReplicaFinding {
                            id: id.clone(),
                            key: exp.key.clone(),
                            kind: "size-mismatch",
                            detail: format!(
                                "{size} bytes on replica {}, the register records {}",
                                replica.name,
                                exp.size.unwrap_or_default()
                            ),
                        })
                    }
                    Some(_) => {}
                }
            }
        }
        for l in &listed {
            let mut parts = l.key.split('/');
            if let (Some(ARCHIVE_DIR), Some(id)) = (parts.next(), parts.next()) {
                if registered.contains(id) && !wanted.contains(l.key.as_str()) {
                    inv.findings.push(ReplicaFinding {
                        id: id.to_string(),
                        key: l.key.clone(),
                        kind: "unexpected",
                        detail: format!("{} bytes the register does not list", l.size),
                    });
                }
            }
        }
        for key in replica.interrupted()? {
            inv.findings.push(ReplicaFinding {
                id: String::new(),
                key,
                kind: "unexpected",
                detail: "the temporary file of a cut-short write; the next `cairn replicate` or `cairn repair` deletes it".into(),
            });
        }
        if !registered.is_empty() && !sizes.contains_key(LOG_KEY) {
            inv.findings.push(ReplicaFinding {
                id: String::new(),
                key: LOG_KEY.into(),
                kind: "missing",
                detail: "the event log is not on the replica; `cairn replicate` copies it".into(),
            });
        }
        out.push(inv);
    }
    Ok(out)
}
