//! `repair ID`: puts right every damaged or missing file of an item, in the archive and
//! on the replicas, from a copy whose digest is the register's (never from one that is
//! not). Archive files are staged in archive/.staging/ID-repair, fsynced, verified, then
//! renamed over the damaged ones ([`crate::ops::commit::repair`]); replica objects are
//! rewritten from the archive's good copy and read back. A `recovery` event names the
//! source of each file. With no good copy of a damaged file anywhere, nothing changes
//! and the report says so (exit 1).

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::NewEvent;
use crate::fs::replica::{Replica, Written};
use crate::ops::commit::repair::{publish_repair, stage_repair};
use crate::ops::replicate::{expected_objects, hash_local, open_replicas, send, Expected};

/// Options of [`repair`].
#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    pub id: String,
    /// Take good copies only from this replica (and repair only it and the archive).
    pub from: Option<String>,
    pub dry_run: bool,
}

/// One file repaired (or to repair).
#[derive(Debug, Clone, Serialize)]
pub struct RepairAction {
    /// `archive` or the replica's name.
    pub target: String,
    pub key: String,
    /// `missing` or `changed`.
    pub was: &'static str,
    /// `archive` or the replica's name; empty when there is no good copy.
    pub source: String,
}

/// The report of [`repair`].
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub id: String,
    pub dry_run: bool,
    pub repaired: Vec<RepairAction>,
    /// Damaged files with no good copy anywhere: nothing was changed.
    pub unrepairable: Vec<RepairAction>,
}

impl RepairReport {
    pub fn is_ok(&self) -> bool {
        self.unrepairable.is_empty()
    }
}

/// The state of one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copy {
    Good,
    Missing,
    Changed,
}

fn state_of(found: Option<crate::digest::Digest>, exp: &Expected) -> Copy {
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

/// Runs `cairn repair`.
pub fn repair(
    archive: &Archive,
    opts: &RepairOptions,
    clock: &dyn Clock,
) -> Result<RepairReport, Error> {
    let lock = archive.lock("repair")?;
    crate::ops::commit::repair_log(archive, clock.now())?;
    if !archive.register_ids()?.contains(&opts.id) {
        return Err(Error::Usage(format!(
            "no item {} in the register; `cairn list` shows the identifiers",
            crate::quoted(&opts.id)
        )));
    }
    let id = opts.id.as_str();
    let names: Vec<String> = opts.from.iter().cloned().collect();
    let replicas = open_replicas(archive, &names)?;
    let expected = expected_objects(archive, id)?;
    let mut report = RepairReport {
        id: id.to_string(),
        dry_run: opts.dry_run,
        repaired: Vec::new(),
        unrepairable: Vec::new(),
    };
    // The state of every copy of every file.
    let mut local = Vec::new();
    let mut remote: Vec<Vec<Copy>> = Vec::new();
    for exp in &expected {
        local.push(state_of(hash_local(&exp.local, exp.alg)?, exp));
        let mut row = Vec::new();
        for r in &replicas {
            row.push(state_of(r.hash(&exp.key, exp.alg)?.map(|(_, d)| d), exp));
        }
        remote.push(row);
    }
    // Archive files: from the first replica holding a good copy.
    let mut plan_local: Vec<(usize, usize)> = Vec::new();
    for (i, exp) in expected.iter().enumerate() {
        if local[i] == Copy::Good {
            continue;
        }
        match remote[i].iter().position(|c| *c == Copy::Good) {
            Some(r) => {
                plan_local.push((i, r));
                report.repaired.push(RepairAction {
                    target: "archive".into(),
                    key: exp.key.clone(),
                    was: was(local[i]),
                    source: replicas[r].name.clone(),
                });
            }
            None => report.unrepairable.push(RepairAction {
                target: "archive".into(),
                key: exp.key.clone(),
                was: was(local[i]),
                source: String::new(),
            }),
        }
    }
    // Replica objects: from the archive (good now, or once repaired).
    let mut plan_remote: Vec<(usize, usize)> = Vec::new();
    for (i, exp) in expected.iter().enumerate() {
        let archive_good = local[i] == Copy::Good || plan_local.iter().any(|(j, _)| *j == i);
        for (r, c) in remote[i].iter().enumerate() {
            if *c == Copy::Good {
                continue;
            }
            let action = RepairAction {
                target: replicas[r].name.clone(),
                key: exp.key.clone(),
                was: was(*c),
                source: if archive_good {
                    "archive".into()
                } else {
                    String::new()
                },
            };
            if archive_good {
                plan_remote.push((i, r));
                report.repaired.push(action);
            } else {
                report.unrepairable.push(action);
            }
        }
    }
    if !report.unrepairable.is_empty() || opts.dry_run || report.repaired.is_empty() {
        // Nothing changes when any damaged file has no good copy: a half-repaired item
        // would hide how bad things are.
        if !report.unrepairable.is_empty() {
            report.repaired.clear();
        }
        return Ok(report);
    }
    if !plan_local.is_empty() {
        let staged_dir = stage_repair(archive, id)?;
        let result = (|| -> Result<Vec<(PathBuf, PathBuf)>, Error> {
            let mut files = Vec::new();
            for (n, (i, r)) in plan_local.iter().enumerate() {
                let exp = &expected[*i];
                let staged = staged_dir.join(format!("{n}"));
                fetch_verified(&replicas[*r], exp, &staged)?;
                files.push((staged, exp.local.clone()));
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
        let event = recovery_event(id, &report, "archive");
        publish_repair(archive, &lock, &staged_dir, &files, event, clock)?;
    }
    for (i, r) in &plan_remote {
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
    }
    if !plan_remote.is_empty() {
        let names: std::collections::BTreeSet<&str> = plan_remote
            .iter()
            .map(|(_, r)| replicas[*r].name.as_str())
            .collect();
        let names: Vec<&str> = names.into_iter().collect();
        archive.append_events(
            clock.now(),
            &[recovery_event(id, &report, &names.join(", "))],
        )?;
    }
    Ok(report)
}

/// Downloads `exp` from `replica` into `staged`, hashing on the way, fsynced; fails
/// unless the digest is the register's.
fn fetch_verified(
    replica: &Replica,
    exp: &Expected,
    staged: &std::path::Path,
) -> Result<(), Error> {
    let mut file = crate::fs::create_new_file(staged)?;
    let got = replica.read_with(&exp.key, exp.alg, &mut |chunk| {
        file.write_all(chunk)
            .map_err(|e| Error::io("write", staged, e))
    })?;
    file.sync_all().map_err(|e| Error::io("sync", staged, e))?;
    match got {
        Some((_, d)) if d == exp.digest => Ok(()),
        _ => Err(Error::Replica {
            name: replica.name.clone(),
            detail: format!(
                "{} changed while it was being copied (its digest is no longer the register's); nothing was repaired, run `cairn repair` again",
                exp.key
            ),
        }),
    }
}

fn recovery_event(id: &str, report: &RepairReport, targets: &str) -> NewEvent {
    let files: Vec<&RepairAction> = report
        .repaired
        .iter()
        .filter(|a| targets.split(", ").any(|t| t == a.target))
        .collect();
    NewEvent::new(
        "recovery",
        "success",
        id,
        format!(
            "repaired {} files in {targets} from good copies whose digests match the register: {}",
            files.len(),
            files
                .iter()
                .map(|a| format!("{} ({}, from {})", a.key, a.was, a.source))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .with_data(serde_json::json!({ "target": targets, "files": files }))
}
