//! An OCFL replica (`[[replica]] kind = "ocfl"`, docs/ocfl.md "As a replica"): its
//! fixity check (`fixity --replica NAME`: every content file of each item's object
//! against its inventory digest, every inventory against its sidecar) and its repair
//! (`repair ID`: a damaged or missing content file rewritten from good bytes the archive
//! holds under the same sha512). `replicate` to it is `ops/replicate/ocfl.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::ocfl::{self as disk, ObjectDamage};
use crate::fs::replica::Replica;
use crate::ocfl::{Inventory, Layout};
use crate::ops::findings::{ReplicaFinding, ReplicaItemCheck};
use crate::ops::repair_report::{recovery_event, RepairAction, RepairReport};

/// The replica's storage root and its layout; an error when the folder is not (yet)
/// an OCFL storage root.
pub(crate) fn storage_root(replica: &Replica) -> Result<(PathBuf, Layout), Error> {
    let fail = |detail: String| Error::Replica {
        name: replica.name.clone(),
        detail,
    };
    let folder = replica
        .folder()
        .ok_or_else(|| fail("an OCFL replica is a folder (file:///...)".into()))?;
    match disk::read_layout(folder)? {
        Some(layout) => Ok((folder.to_path_buf(), layout)),
        None => Err(fail(format!(
            "{} is not an OCFL storage root in a layout Cairn writes (no 0=ocfl_1.1 declaration or ocfl_layout.json): `cairn replicate --to {}` makes it one",
            replica.url, replica.name
        ))),
    }
}

/// The kind of a content file its object's inventory does not list.
const UNLISTED: &str = "unexpected";

/// The OCFL objects in `listed` (the replica's keys) that belong to no item in `known`
/// nor to the archive's own object: each an `unexpected` finding (listing only).
pub(crate) fn stray_objects(
    replica: &Replica,
    layout: Layout,
    listed: &[crate::fs::replica::Listed],
    known: &BTreeSet<String>,
) -> Vec<ReplicaFinding> {
    let wanted: BTreeSet<String> = known
        .iter()
        .map(String::as_str)
        .chain([crate::ops::ocfl::ARCHIVE_OBJECT])
        .map(|id| layout.object_path(id))
        .collect();
    let declaration = format!("/{}", crate::ocfl::OBJECT_DECLARATION.0);
    listed
        .iter()
        .filter_map(|l| l.key.strip_suffix(&declaration))
        .filter(|object| !wanted.contains(*object))
        .map(|object| ReplicaFinding {
            id: String::new(),
            key: object.to_string(),
            kind: UNLISTED,
            detail: format!(
                "an OCFL object on replica {} of no registered or withdrawn item; Cairn never removes it: find what put it there",
                replica.name
            ),
        })
        .collect()
}

/// Where the inventory's states hold `sha512`: `v2 data/p3.txt`, each version and
/// logical path, oldest first.
fn logical_places(inv: Option<&Inventory>, sha512: Option<&str>) -> Vec<String> {
    let (Some(inv), Some(sha512)) = (inv, sha512) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (v, block) in &inv.versions {
        if let Some(paths) = block.state.get(&sha512.to_ascii_lowercase()) {
            out.extend(paths.iter().map(|p| format!("{v} {p}")));
        }
    }
    out
}

fn finding(
    replica: &Replica,
    id: &str,
    object_path: &str,
    inv: Option<&Inventory>,
    d: &ObjectDamage,
) -> ReplicaFinding {
    let places = logical_places(inv, d.sha512.as_deref());
    let naming = if places.is_empty() {
        String::new()
    } else {
        format!("version and logical path {}: ", places.join(", "))
    };
    let remedy = if d.kind == UNLISTED {
        "no OCFL reader sees it: find what put it there, then remove it by hand".to_string()
    } else {
        format!("`cairn repair {id}` rewrites it from good bytes of the same sha512")
    };
    ReplicaFinding {
        id: id.to_string(),
        key: format!("{object_path}/{}", d.path),
        kind: d.kind,
        detail: format!("{naming}{} on replica {}; {remedy}", d.detail, replica.name),
    }
}

/// `fixity --replica NAME` of item `id` on an OCFL replica.
pub(crate) fn check_item(
    replica: &Replica,
    root: &Path,
    layout: Layout,
    id: &str,
    buf: &mut [u8],
) -> Result<ReplicaItemCheck, Error> {
    let object_path = layout.object_path(id);
    let mut check = ReplicaItemCheck {
        id: id.to_string(),
        objects: 0,
        bytes: 0,
        findings: Vec::new(),
    };
    match disk::check_object(&root.join(&object_path), buf)? {
        None => check.findings.push(ReplicaFinding {
            id: id.to_string(),
            key: object_path,
            kind: "missing",
            detail: format!(
                "no OCFL object for {id} on replica {}: `cairn replicate --to {}` writes it",
                replica.name, replica.name
            ),
        }),
        Some(c) => {
            check.objects = c.files;
            check.bytes = c.bytes;
            for d in &c.damage {
                check
                    .findings
                    .push(finding(replica, id, &object_path, c.inventory.as_ref(), d));
            }
        }
    }
    Ok(check)
}

/// `repair ID` on an OCFL replica: every damaged or missing content file of the item's
/// object rewritten from the archive's bytes of the same sha512 (each checked as it is
/// written, before it replaces the damaged file). Damage with no good bytes, or in an
/// inventory, is listed as unrepairable and nothing of the object changes.
pub(crate) fn repair_item(
    archive: &Archive,
    replica: &Replica,
    id: &str,
    dry_run: bool,
    clock: &dyn Clock,
    report: &mut RepairReport,
) -> Result<(), Error> {
    let (root, layout) = storage_root(replica)?;
    let object_path = layout.object_path(id);
    let object_root = root.join(&object_path);
    let mut buf = vec![0u8; 1 << 20];
    let Some(check) = disk::check_object(&object_root, &mut buf)? else {
        return Ok(()); // no object yet: `replicate` writes it
    };
    // A file the inventory does not list is left as it is (and still reported by
    // fixity): repair writes only bytes an inventory names.
    let damage: Vec<&ObjectDamage> = check.damage.iter().filter(|d| d.kind != UNLISTED).collect();
    if damage.is_empty() {
        return Ok(());
    }
    let sources = crate::ops::ocfl::good_sources(archive, id)?;
    let mut plan = Vec::new();
    let mut unrepairable = Vec::new();
    for d in damage {
        let action = |source: &str, source_key: String| RepairAction {
            target: replica.name.clone(),
            key: format!("{object_path}/{}", d.path),
            was: if d.kind == "missing" {
                "missing"
            } else {
                "changed"
            },
            source: source.to_string(),
            source_key,
        };
        match d.sha512.as_deref().and_then(|s| sources.get(s)) {
            Some(src) if disk::safe_content_path(&d.path) => {
                plan.push((d, src, action("archive", src.describe(&archive.root))));
            }
            _ => unrepairable.push(action("", String::new())),
        }
    }
    if !unrepairable.is_empty() {
        report.unrepairable.extend(unrepairable);
        return Ok(());
    }
    let mut done = Vec::new();
    for (d, src, a) in plan {
        if !dry_run {
            let sha512 = d.sha512.clone().unwrap_or_default();
            disk::replace_content(
                &object_root,
                &d.path,
                &sha512,
                &mut |w| src.write_to(w, &mut vec![0u8; 1 << 20]),
                &mut buf,
            )?;
        }
        done.push(a);
    }
    report.repaired.extend(done);
    if !dry_run {
        let event = recovery_event(id, report, &replica.name);
        archive.append_events(clock.now(), &[event])?;
    }
    Ok(())
}
