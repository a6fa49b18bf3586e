//! `repair [ID]`: puts right every damaged or missing file of an item, in the archive
//! and on the replicas, from a copy whose digest is the one the register recorded for
//! that file (never from one that is not), and removes stray objects from replicas when
//! asked.
//!
//! A good copy is looked for by digest, not under one expected key: first the same
//! key on each replica, then every other file of the item's bags in the archive (the
//! current bag and each retained version, archive/.versions/ID/N), then every object
//! under the item's keys on every replica (archive/ID/ and archive/.versions/ID/), size
//! first, then hashed. So bytes a `revise` moved from the current key to a version, or
//! the replica's current copy of a version's file, are found.
//!
//! Archive files are staged in archive/.staging/ID-repair, fsynced, verified, then
//! renamed over the damaged ones ([`crate::ops::commit::repair`]); replica objects are
//! rewritten from the archive's good copy and read back. A `recovery` event names the
//! source of each file. With no good copy of a damaged file anywhere, nothing changes
//! and the report says so (exit 1).
//!
//! Stray objects (on a replica, objects no registered item or kept version explains,
//! as `fixity --replica` reports them) are listed; with `--remove-unexpected` they are
//! deleted after being listed. Without an ID only those are looked for.
//!
//! Crash safety: repair runs the commit protocol's recovery first (a staging folder
//! left by a killed repair is deleted), and each step leaves whole files only; a
//! rerun finds what is still damaged and repairs it. Failpoints `repair-*`
//! (docs/crash-safety.md) sit between the steps.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::failpoint;
use crate::fs::replica::{Listed, Replica, Written};
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::commit::repair::{publish_repair, stage_repair};
use crate::ops::repair_report::{describe, recovery_event};
pub use crate::ops::repair_report::{RepairAction, RepairReport, StrayObject};
use crate::ops::replicate::{
    expected_objects, hash_local, key_of, open_replicas, send, superseded_digests, Expected,
};

/// Options of [`repair`].
#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    /// The item to repair; `None`: only stray objects on the replicas are looked for.
    pub id: Option<String>,
    /// Take good copies only from this replica (and repair only it and the archive).
    pub from: Option<String>,
    pub dry_run: bool,
    /// Delete the stray objects found on the replicas (after listing them).
    pub remove_unexpected: bool,
}

/// The state of one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copy {
    Good,
    Missing,
    Changed,
    /// A replica object holding the bytes an earlier state of the item had under that
    /// key (before an `amend` or `revise`): not damage; `cairn replicate` brings it up
    /// to date.
    Outdated,
}

fn state_of(found: Option<Digest>, exp: &Expected) -> Copy {
    match found {
        None => Copy::Missing,
        Some(d) if d == exp.digest => Copy::Good,
        Some(_) => Copy::Changed,
    }
}

fn was(c: Copy) -> &'static str {
    if c == Copy::Missing {
        "missing"
    } else {
        "changed"
    }
}

/// Where good bytes were found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A file in the archive.
    Local(PathBuf),
    /// An object on replica `.0` under key `.1`.
    Remote(usize, String),
}

/// Looks for a copy of given bytes by digest among an item's files in the archive and
/// its objects on the replicas; each candidate is hashed at most once per algorithm.
struct Finder<'a> {
    archive: &'a Archive,
    id: &'a str,
    replicas: &'a [Replica],
    /// The item's files in the archive, with their sizes (listed on first use).
    local: Option<Vec<(PathBuf, u64)>>,
    /// The item's objects on each replica (listed on first use).
    remote: Vec<Option<Vec<Listed>>>,
    hashed: HashMap<(String, Algorithm), Option<Digest>>,
}

impl<'a> Finder<'a> {
    fn new(archive: &'a Archive, id: &'a str, replicas: &'a [Replica]) -> Finder<'a> {
        Finder {
            archive,
            id,
            replicas,
            local: None,
            remote: replicas.iter().map(|_| None).collect(),
            hashed: HashMap::new(),
        }
    }

    /// Whether a candidate of `size` bytes named `name` may hold `exp`'s bytes: the
    /// register's size when it records one, else (tag files) the same file name.
    fn may_hold(exp: &Expected, size: u64, key: &str) -> bool {
        match exp.size {
            Some(s) => s == size,
            None => key.rsplit('/').next() == exp.key.rsplit('/').next(),
        }
    }

    fn find(&mut self, exp: &Expected) -> Result<Option<Source>, Error> {
        if self.local.is_none() {
            // Every file of the item's bags in the archive that a register entry
            // describes (the current bag and each kept version).
            let mut files = Vec::new();
            for e in expected_objects(self.archive, self.id)? {
                if !e.local.starts_with(&self.archive.manifests)
                    && crate::fs::entry_exists(&e.local)
                {
                    let len = crate::fs::len_if_present(&e.local)?;
                    files.push((e.local, len));
                }
            }
            self.local = Some(files);
        }
        let local = self.local.clone().unwrap_or_default();
        for (path, len) in local {
            if path == exp.local || !Self::may_hold(exp, len, &path.to_string_lossy()) {
                continue;
            }
            let slot = (format!("local:{}", path.display()), exp.alg);
            if !self.hashed.contains_key(&slot) {
                let d = hash_local(&path, exp.alg)?;
                self.hashed.insert(slot.clone(), d);
            }
            if self.hashed.get(&slot).copied().flatten() == Some(exp.digest) {
                return Ok(Some(Source::Local(path)));
            }
        }
        for r in 0..self.replicas.len() {
            if self.remote[r].is_none() {
                let replica = &self.replicas[r];
                let mut listed = replica.list(&crate::fs::layout::bag_key(self.id))?;
                listed.extend(replica.list(&crate::fs::layout::versions_key(self.id))?);
                self.remote[r] = Some(listed);
            }
            let listed = self.remote[r].clone().unwrap_or_default();
            for l in listed {
                if !Self::may_hold(exp, l.size, &l.key) {
                    continue;
                }
                let slot = (format!("{r}:{}", l.key), exp.alg);
                if !self.hashed.contains_key(&slot) {
                    let d = self.replicas[r].hash(&l.key, exp.alg)?.map(|(_, d)| d);
                    self.hashed.insert(slot.clone(), d);
                }
                if self.hashed.get(&slot).copied().flatten() == Some(exp.digest) {
                    return Ok(Some(Source::Remote(r, l.key)));
                }
            }
        }
        Ok(None)
    }
}

/// Runs `cairn repair`.
/// The write policy ([`crate::ops::after_write`]) runs afterwards, unless a dry run.
pub fn repair(
    archive: &Archive,
    opts: &RepairOptions,
    clock: &dyn Clock,
) -> Result<RepairReport, Error> {
    let mut report = repair_inner(archive, opts, clock)?;
    if !opts.dry_run {
        report.after_write = after_write(archive, &[], clock);
    }
    Ok(report)
}

/// [`repair`], before the write policy.
fn repair_inner(
    archive: &Archive,
    opts: &RepairOptions,
    clock: &dyn Clock,
) -> Result<RepairReport, Error> {
    let lock = archive.lock("repair")?;
    if let Some(id) = &opts.id {
        if !archive.register_ids()?.contains(id) {
            if let Some(t) = crate::ops::show::known_item(archive, id)? {
                return Err(Error::Usage(format!(
                    "{id} was {}: it has no bag to repair; `cairn show {id}` shows its record",
                    t.fate()
                )));
            }
            return Err(Error::Usage(format!(
                "no item {} in the register; `cairn list` shows the identifiers",
                crate::quoted(id)
            )));
        }
    }
    if !opts.dry_run {
        // A staging folder left by a killed repair (or any other command) goes first.
        crate::ops::commit::recover(archive, &lock, clock, &crate::ops::formats::Annotator)?;
    }
    let names: Vec<String> = opts.from.iter().cloned().collect();
    // OCFL replicas hold objects, not the archive's files: repaired on their own,
    // after the archive (docs/ocfl.md, "As a replica").
    let (ocfl, replicas): (Vec<Replica>, Vec<Replica>) = open_replicas(archive, &names)?
        .into_iter()
        .partition(Replica::is_ocfl);
    let mut report = RepairReport {
        id: opts.id.clone().unwrap_or_default(),
        dry_run: opts.dry_run,
        repaired: Vec::new(),
        unrepairable: Vec::new(),
        unexpected: Vec::new(),
        cleared: Vec::new(),
        after_write: AfterWrite::default(),
    };
    if !opts.dry_run {
        for r in &replicas {
            let cleared = r.clear_interrupted()?;
            report
                .cleared
                .extend(cleared.into_iter().map(|k| format!("{}: {k}", r.name)));
        }
    }
    match &opts.id {
        Some(id) => {
            repair_item(archive, &lock, &replicas, id, opts, clock, &mut report)?;
            if report.unrepairable.is_empty() {
                for r in &ocfl {
                    crate::ops::ocfl_replica::repair_item(
                        archive,
                        r,
                        id,
                        opts.dry_run,
                        clock,
                        &mut report,
                    )?;
                }
            }
            if report.unrepairable.is_empty() {
                report.unexpected = item_strays(archive, &replicas, id)?;
            }
        }
        None => report.unexpected = replica_strays(archive, &replicas)?,
    }
    if opts.remove_unexpected && !opts.dry_run && report.unrepairable.is_empty() {
        remove_strays(&replicas, &mut report.unexpected)?;
    }
    Ok(report)
}

/// Repairs the files of item `id`. The stages: the state of every copy of every file,
/// the plan for the archive's files, then for the replicas' objects; nothing when any
/// damaged file has no good copy (or on a dry run); else the archive's files through
/// the commit protocol, then the replicas' objects, each with its event.
fn repair_item(
    archive: &Archive,
    lock: &crate::fs::archive::ArchiveLock,
    replicas: &[Replica],
    id: &str,
    opts: &RepairOptions,
    clock: &dyn Clock,
    report: &mut RepairReport,
) -> Result<(), Error> {
    let expected = expected_objects(archive, id)?;
    let (local, remote) = survey_copies(archive, replicas, id, &expected)?;
    let plan_local =
        plan_archive_repairs(archive, replicas, id, &expected, &local, &remote, report)?;
    let plan_remote =
        plan_replica_repairs(replicas, &expected, &local, &remote, &plan_local, report);
    if !report.unrepairable.is_empty() || opts.dry_run || report.repaired.is_empty() {
        // Nothing changes when any damaged file has no good copy: a half-repaired item
        // would hide how bad things are.
        if !report.unrepairable.is_empty() {
            report.repaired.clear();
        }
        return Ok(());
    }
    failpoint::hit("repair-after-plan");
    if !plan_local.is_empty() {
        repair_archive(
            archive,
            lock,
            replicas,
            id,
            &expected,
            &plan_local,
            clock,
            report,
        )?;
    }
    repair_replicas(
        archive,
        replicas,
        id,
        &expected,
        &plan_remote,
        clock,
        report,
    )
}

/// The state of every copy of every file: the archive's, and each replica's (a copy
/// with bytes of an earlier state of the item is outdated, not damaged).
#[allow(clippy::type_complexity)]
fn survey_copies(
    archive: &Archive,
    replicas: &[Replica],
    id: &str,
    expected: &[Expected],
) -> Result<(Vec<Copy>, Vec<Vec<Copy>>), Error> {
    let superseded = superseded_digests(archive, id, expected)?;
    let mut local = Vec::new();
    let mut remote: Vec<Vec<Copy>> = Vec::new();
    for exp in expected {
        local.push(state_of(hash_local(&exp.local, exp.alg)?, exp));
        let mut row = Vec::new();
        for r in replicas {
            let found = r.hash(&exp.key, exp.alg)?.map(|(_, d)| d);
            let earlier = found.is_some_and(|d| {
                superseded
                    .get(&exp.key)
                    .is_some_and(|set| set.contains(&(exp.alg, d)))
            });
            row.push(match state_of(found, exp) {
                Copy::Changed if earlier => Copy::Outdated,
                c => c,
            });
        }
        remote.push(row);
    }
    Ok((local, remote))
}

/// Archive files: from the first replica holding a good copy under the same key,
/// else from any copy with the register's digest. Each file's action goes to the
/// report (repaired, or unrepairable); the files with a source are returned.
fn plan_archive_repairs(
    archive: &Archive,
    replicas: &[Replica],
    id: &str,
    expected: &[Expected],
    local: &[Copy],
    remote: &[Vec<Copy>],
    report: &mut RepairReport,
) -> Result<Vec<(usize, Source)>, Error> {
    let mut finder = Finder::new(archive, id, replicas);
    let mut plan_local: Vec<(usize, Source)> = Vec::new();
    for (i, exp) in expected.iter().enumerate() {
        if local[i] == Copy::Good {
            continue;
        }
        let source = match remote[i].iter().position(|c| *c == Copy::Good) {
            Some(r) => Some(Source::Remote(r, exp.key.clone())),
            None => finder.find(exp)?,
        };
        let mut action = RepairAction {
            target: "archive".into(),
            key: exp.key.clone(),
            was: was(local[i]),
            source: String::new(),
            source_key: String::new(),
        };
        match source {
            Some(src) => {
                (action.source, action.source_key) = match &src {
                    Source::Local(p) => ("archive".into(), key_of(&archive.root, p)?),
                    Source::Remote(r, k) => (replicas[*r].name.clone(), k.clone()),
                };
                plan_local.push((i, src));
                report.repaired.push(action);
            }
            None => report.unrepairable.push(action),
        }
    }
    Ok(plan_local)
}

/// Replica objects: from the archive (good now, or once repaired). Each object's
/// action goes to the report; the (file, replica) pairs to send are returned.
fn plan_replica_repairs(
    replicas: &[Replica],
    expected: &[Expected],
    local: &[Copy],
    remote: &[Vec<Copy>],
    plan_local: &[(usize, Source)],
    report: &mut RepairReport,
) -> Vec<(usize, usize)> {
    let mut plan_remote: Vec<(usize, usize)> = Vec::new();
    for (i, exp) in expected.iter().enumerate() {
        let archive_good = local[i] == Copy::Good || plan_local.iter().any(|(j, _)| *j == i);
        for (r, c) in remote[i].iter().enumerate() {
            if matches!(*c, Copy::Good | Copy::Outdated) {
                continue;
            }
            let mut action = RepairAction {
                target: replicas[r].name.clone(),
                key: exp.key.clone(),
                was: was(*c),
                source: String::new(),
                source_key: String::new(),
            };
            if archive_good {
                action.source = "archive".into();
                action.source_key = exp.key.clone();
                plan_remote.push((i, r));
                report.repaired.push(action);
            } else {
                report.unrepairable.push(action);
            }
        }
    }
    plan_remote
}

/// The archive's files: good copies fetched (or copied) and verified into staging,
/// then published with their recovery event through the commit protocol.
#[allow(clippy::too_many_arguments)]
fn repair_archive(
    archive: &Archive,
    lock: &crate::fs::archive::ArchiveLock,
    replicas: &[Replica],
    id: &str,
    expected: &[Expected],
    plan_local: &[(usize, Source)],
    clock: &dyn Clock,
    report: &RepairReport,
) -> Result<(), Error> {
    let staged_dir = stage_repair(archive, id)?;
    failpoint::hit("repair-after-stage");
    let result = (|| -> Result<Vec<(PathBuf, PathBuf)>, Error> {
        let mut files = Vec::new();
        for (n, (i, src)) in plan_local.iter().enumerate() {
            let exp = &expected[*i];
            let staged = staged_dir.join(format!("{n}"));
            match src {
                Source::Remote(r, key) => fetch_verified(&replicas[*r], key, exp, &staged)?,
                Source::Local(path) => copy_verified(path, exp, &staged)?,
            }
            files.push((staged, exp.local.clone()));
            failpoint::hit("repair-after-fetch");
        }
        crate::fs::durable::sync_dir(&staged_dir)?;
        Ok(files)
    })();
    let files = match result {
        Ok(f) => f,
        Err(e) => {
            archive.discard_staged(&staged_dir);
            return Err(e);
        }
    };
    let event = recovery_event(id, report, "archive");
    let described: Vec<String> = plan_local
        .iter()
        .map(|(i, _)| {
            let key = &expected[*i].key;
            report
                .repaired
                .iter()
                .find(|a| a.target == "archive" && &a.key == key)
                .map(describe)
                .unwrap_or_else(|| key.clone())
        })
        .collect();
    publish_repair(archive, lock, &staged_dir, &files, &described, event, clock)?;
    failpoint::hit("repair-after-archive-event");
    Ok(())
}

/// The replicas' objects, sent from the (now good) archive, then one recovery event
/// naming the replicas.
fn repair_replicas(
    archive: &Archive,
    replicas: &[Replica],
    id: &str,
    expected: &[Expected],
    plan_remote: &[(usize, usize)],
    clock: &dyn Clock,
    report: &RepairReport,
) -> Result<(), Error> {
    for (i, r) in plan_remote {
        let exp = &expected[*i];
        match send(&replicas[*r], exp, false)? {
            Written::Done => {}
            Written::SourceMismatch => {
                return Err(Error::Corrupt {
                    path: exp.local.clone(),
                    detail: "changed while the repair ran; run `cairn repair` again".into(),
                })
            }
        }
        failpoint::hit("repair-after-replica-write");
    }
    if !plan_remote.is_empty() {
        failpoint::hit("repair-before-replica-event");
        let names: BTreeSet<&str> = plan_remote
            .iter()
            .map(|(_, r)| replicas[*r].name.as_str())
            .collect();
        let names: Vec<&str> = names.into_iter().collect();
        archive.append_events(
            clock.now(),
            &[recovery_event(id, report, &names.join(", "))],
        )?;
        failpoint::hit("repair-after-replica-event");
    }
    Ok(())
}

/// The objects under item `id`'s folders on each replica (archive/ID/,
/// archive/.versions/ID/) that no file of the item explains: neither a file of the
/// current bag or a kept version, nor a file an earlier state of the item had (those
/// `cairn replicate` brings up to date or deletes itself, after checking their bytes).
fn item_strays(
    archive: &Archive,
    replicas: &[Replica],
    id: &str,
) -> Result<Vec<StrayObject>, Error> {
    let expected = expected_objects(archive, id)?;
    let superseded = superseded_digests(archive, id, &expected)?;
    let wanted: BTreeSet<&str> = expected.iter().map(|e| e.key.as_str()).collect();
    let mut out = Vec::new();
    for r in replicas {
        let mut listed = r.list(&crate::fs::layout::bag_key(id))?;
        listed.extend(r.list(&crate::fs::layout::versions_key(id))?);
        for l in listed {
            if wanted.contains(l.key.as_str()) || superseded.contains_key(&l.key) {
                continue;
            }
            out.push(StrayObject {
                replica: r.name.clone(),
                key: l.key,
                size: l.size,
                removed: false,
            });
        }
    }
    Ok(out)
}

/// The objects on each replica that belong to no registered or withdrawn item (as
/// `fixity --replica` reports them); the live copies of withdrawn items, which
/// `cairn replicate` removes after checking their bytes, are left to it.
fn replica_strays(archive: &Archive, replicas: &[Replica]) -> Result<Vec<StrayObject>, Error> {
    let registered: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    let withdrawn: BTreeSet<String> = archive.withdrawn_ids()?.into_iter().collect();
    let mut out = Vec::new();
    for r in replicas {
        let listed = r.list("")?;
        for f in crate::ops::replica_check::stray_objects(&listed, &registered, &withdrawn) {
            if !f.id.is_empty() {
                continue;
            }
            let size = listed
                .iter()
                .find(|l| l.key == f.key)
                .map(|l| l.size)
                .unwrap_or_default();
            out.push(StrayObject {
                replica: r.name.clone(),
                key: f.key,
                size,
                removed: false,
            });
        }
    }
    Ok(out)
}

/// Deletes the stray objects (a folder replica also loses the folders they leave
/// empty).
fn remove_strays(replicas: &[Replica], strays: &mut [StrayObject]) -> Result<(), Error> {
    for s in strays.iter_mut() {
        let Some(r) = replicas.iter().find(|r| r.name == s.replica) else {
            continue;
        };
        r.delete(&s.key)?;
        s.removed = true;
        failpoint::hit("repair-after-remove-unexpected");
    }
    Ok(())
}

/// Downloads `key` from `replica` into `staged`, hashing on the way, fsynced; fails
/// unless the digest is the register's for `exp`.
fn fetch_verified(
    replica: &Replica,
    key: &str,
    exp: &Expected,
    staged: &Path,
) -> Result<(), Error> {
    let mut file = crate::fs::create_new_file(staged)?;
    let got = replica.read_with(key, exp.alg, &mut |chunk| {
        file.write_all(chunk)
            .map_err(|e| Error::io("write", staged, e))
    })?;
    file.sync_all().map_err(|e| Error::io("sync", staged, e))?;
    match got {
        Some((_, d)) if d == exp.digest => Ok(()),
        _ => Err(Error::Replica {
            name: replica.name.clone(),
            detail: format!(
                "{key} changed while it was being copied (its digest is no longer the register's for {}); nothing was repaired, run `cairn repair` again",
                exp.key
            ),
        }),
    }
}

/// Copies the archive's file `from` into `staged`, fsynced; fails unless the copy has
/// the register's digest for `exp`.
fn copy_verified(from: &Path, exp: &Expected, staged: &Path) -> Result<(), Error> {
    crate::fs::copy_file(from, staged)?;
    crate::fs::open_file(staged)?
        .sync_all()
        .map_err(|e| Error::io("sync", staged, e))?;
    match hash_local(staged, exp.alg)? {
        Some(d) if d == exp.digest => Ok(()),
        _ => Err(Error::Corrupt {
            path: from.to_path_buf(),
            detail: format!(
                "changed while it was being copied (its digest is no longer the register's for {}); nothing was repaired, run `cairn repair` again",
                exp.key
            ),
        }),
    }
}
