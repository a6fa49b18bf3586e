//! `cairn import` of an OCFL 1.1 object (a folder holding `0=ocfl_object_1.1`): a new
//! item with the object's history. docs/ocfl.md, "Import".
//!
//! Everything is checked before anything is written: the inventory against its
//! sidecar and for safe paths ([`crate::fs::ocfl::read_import_object`]), each version
//! mapped to an item version (payload and Dublin Core), and every content file the
//! versions use hashed and compared with the inventory's sha512. Then the first version
//! is imported as a bag ([`crate::ops::transfer::import_via`]: validated, committed,
//! an ingestion event), each later version with new payload becomes a revision
//! ([`crate::ops::revise`]: a "modification" event) and each with a new Dublin Core
//! record an amend ([`crate::ops::amend`]: a "metadata modification" event): the
//! archive's one commit protocol, one commit per change. Each event's data holds the
//! OCFL version under `ocfl` (`object`, `version`, `created`, `message`, `user`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::clock::Clock;
use crate::digest::{Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::bag_writer::{build_bag, payload_path, BuildOptions};
use crate::fs::ocfl::{copy_checked, read_import_object, sha512_of_content, Scratch};
use crate::fs::walk::SourceFile;
use crate::metadata::{parse_oai_dc, DublinCore};
use crate::ocfl::{Inventory, User, VersionNum};
use crate::ops::after_write::AfterWrite;
use crate::ops::amend::{amend_inner, AmendOptions, Edit};
use crate::ops::revise::{revise_inner, ReviseOptions};
use crate::ops::transfer::{import_via, policy_after_import, Via};

/// Options for [`import_ocfl`].
#[derive(Debug, Clone, Default)]
pub struct OcflImportOptions {
    /// The object root.
    pub object: PathBuf,
    /// Only this version (`vN`), as the item's first version; all versions when `None`.
    pub version: Option<String>,
    /// `--allow-duplicate-of`, as for a bag.
    pub allow_duplicate_of: Vec<String>,
}

/// One OCFL version, as imported.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedVersion {
    /// `vN` in the object.
    pub ocfl_version: String,
    /// `imported` (the item's first version), `revised` (new payload: a new content
    /// version), `amended` (a new Dublin Core record only), `revised and amended`
    /// (both), or `unchanged` (nothing to write).
    pub outcome: &'static str,
    /// The item's content version it became.
    pub item_version: u32,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

/// What an OCFL import did.
#[derive(Debug, Clone, Serialize)]
pub struct OcflImportReport {
    pub source: PathBuf,
    /// The object's `id`.
    pub object_id: String,
    /// The item's identifier, once its first version is imported.
    pub id: Option<String>,
    pub imported: bool,
    pub versions: Vec<ImportedVersion>,
    /// Content files checked against the inventory, and their bytes.
    pub files: u64,
    pub bytes: u64,
    /// Why nothing was imported (the first version's bag refused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// The first version is already archived under this identifier: nothing written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_archived: Option<String>,
    /// Why the identifier is not the object's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_note: Option<String>,
    /// What of the object was not carried over, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recovered: Vec<String>,
    #[serde(skip)]
    pub after_write: AfterWrite,
}

/// One version's files, mapped to an item version.
#[derive(Debug, Clone)]
struct VersionPlan {
    num: VersionNum,
    /// Payload path (under data/) → sha512.
    payload: BTreeMap<String, String>,
    /// Dublin Core files (`metadata/dc.json`, `metadata/dc.xml`) → sha512.
    dc: BTreeMap<&'static str, String>,
    /// The record they hold (dc.json's, else dc.xml's), read once the content is checked.
    record: Option<DublinCore>,
}

/// Whether `path` names an OCFL object root: it holds the object declaration.
pub fn is_ocfl_object(path: &Path) -> bool {
    path.is_dir() && crate::fs::entry_exists(&path.join(crate::ocfl::OBJECT_DECLARATION.0))
}

/// Imports the OCFL object `opts.object` as a new item with its history. The write
/// policy ([`crate::ops::after_write`]) runs once at the end, the item's every version
/// committed: a replica gets the item whole.
pub fn import_ocfl(
    archive: &Archive,
    opts: &OcflImportOptions,
    clock: &dyn Clock,
) -> Result<OcflImportReport, Error> {
    let mut report = import_ocfl_inner(archive, opts, clock)?;
    report.after_write = policy_after_import(archive, report.id.as_ref(), report.imported, clock);
    Ok(report)
}

/// [`import_ocfl`], before the write policy.
fn import_ocfl_inner(
    archive: &Archive,
    opts: &OcflImportOptions,
    clock: &dyn Clock,
) -> Result<OcflImportReport, Error> {
    let object = &opts.object;
    let inv = read_import_object(object)?;
    let mut report = OcflImportReport {
        source: object.clone(),
        object_id: inv.id.clone(),
        id: None,
        imported: false,
        versions: Vec::new(),
        files: 0,
        bytes: 0,
        refused: Vec::new(),
        already_archived: None,
        id_note: None,
        notes: Vec::new(),
        recovered: Vec::new(),
        after_write: AfterWrite::default(),
    };
    let mut plans = plan(object, &inv, opts.version.as_deref(), &mut report.notes)?;
    (report.files, report.bytes) = check_content(object, &inv, &plans)?;
    for p in &mut plans {
        p.record = read_record(object, &inv, p)?;
    }

    if let Some(id) = already_imported(archive, &inv, &plans)? {
        report.already_archived = Some(id);
        return Ok(report);
    }
    let shown = crate::fs::canonical_or_given(object);
    let mut plans = plans.into_iter();
    let Some(first) = plans.next() else {
        return Err(Error::Internal("an import plan with no version".into()));
    };
    let scratch = Scratch::new("ocfl-import")?;
    let bag = scratch.path.join("bag");
    crate::fs::create_dir(&bag)?;
    build_first(archive, object, &inv, &first, &bag, clock)?;
    let via = Via {
        source: shown.clone(),
        detail: format!(
            "OCFL object {} version {} imported from {}",
            crate::quoted(&inv.id),
            first.num,
            shown.display()
        ),
        data: ocfl_data(&inv, first.num),
    };
    let imported = import_via(archive, &bag, &opts.allow_duplicate_of, &via, clock)?;
    drop(scratch);
    report.recovered = imported.recovered;
    report.id_note = imported.id_note;
    if let Some(other) = imported.already_archived {
        if plans.len() > 0 {
            // Its first version is an item, but not its last: saying "already
            // archived" would hide the versions that are not.
            report.refused.push(format!(
                "its {} is already archived as {other}, but its later versions are not that item's (an import of it was interrupted, or {other} was changed since); nothing was written. Bring {other} up to date with `cairn revise` and `cairn amend` from the object's later versions, or import one version with --version",
                first.num
            ));
        } else {
            report.already_archived = Some(other);
        }
        return Ok(report);
    }
    report.refused.extend(imported.refused);
    report.refused.extend(imported.problems.iter().map(|p| {
        format!(
            "the bag made of {}: {}: {}: {}",
            first.num, p.path, p.kind, p.detail
        )
    }));
    let Some(id) = imported.id.filter(|_| imported.imported) else {
        return Ok(report);
    };
    report.id = Some(id.clone());
    report.imported = true;
    report
        .versions
        .push(imported_version(&inv, first.num, "imported", 1));

    let mut record = first.record.clone();
    let mut previous = first;
    let mut item_version = 1;
    for next in plans {
        let (outcome, now) = replay_version(
            archive,
            object,
            &inv,
            &id,
            (&previous, &next),
            &mut record,
            clock,
        )?;
        item_version = now.unwrap_or(item_version);
        report
            .versions
            .push(imported_version(&inv, next.num, outcome, item_version));
        previous = next;
    }
    Ok(report)
}

/// One later version of the object replayed on the item: a revise when its payload
/// differs from the version before, an amend when its record differs from the last
/// one applied. Returns what was done and the item's content version after a revise.
fn replay_version(
    archive: &Archive,
    object: &Path,
    inv: &Inventory,
    id: &str,
    (previous, next): (&VersionPlan, &VersionPlan),
    record: &mut Option<DublinCore>,
    clock: &dyn Clock,
) -> Result<(&'static str, Option<u32>), Error> {
    let mut item_version = None;
    let v = inv.versions.get(&next.num);
    let reason = v
        .and_then(|v| v.message.clone())
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| {
            format!(
                "OCFL object {} version {}",
                crate::quoted(&inv.id),
                next.num
            )
        });
    let operator = v
        .and_then(|v| v.user.as_ref())
        .map(|u| u.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "unknown (OCFL version without a user)".into());
    let mut outcome = "unchanged";
    if next.payload != previous.payload {
        let scratch = Scratch::new("ocfl-import")?;
        let mut buf = vec![0u8; BUF_SIZE];
        for (rel, sha512) in &next.payload {
            let from = content_file(object, inv, sha512)?;
            copy_checked(&from, &scratch.path.join(rel), sha512, None, &mut buf)?;
        }
        let revised = revise_inner(
            archive,
            &ReviseOptions {
                id: id.to_string(),
                from: scratch.path.clone(),
                reason: reason.clone(),
                operator: operator.clone(),
                accept_damage: false,
                data: ocfl_data(inv, next.num),
            },
            clock,
        )?;
        item_version = Some(revised.version);
        if revised.outcome == "revised" {
            outcome = "revised";
        }
    }
    if let Some(new) = next.record.as_ref().filter(|r| record.as_ref() != Some(*r)) {
        let unset = record
            .as_ref()
            .map(|old| {
                old.terms()
                    .into_iter()
                    .filter(|t| !new.contains(*t))
                    .collect()
            })
            .unwrap_or_default();
        let amended = amend_inner(
            archive,
            &AmendOptions {
                edits: vec![Edit {
                    id: id.to_string(),
                    set: new.clone(),
                    unset,
                    origin: format!("OCFL version {}", next.num),
                }],
                reason,
                operator,
                data: ocfl_data(inv, next.num),
            },
            clock,
        )?;
        if amended.items.iter().any(|i| i.outcome == "amended") {
            outcome = if outcome == "revised" {
                "revised and amended"
            } else {
                "amended"
            };
        }
        *record = Some(new.clone());
    }
    Ok((outcome, item_version))
}

/// The versions to import, each mapped to its payload and Dublin Core; a refusal
/// when one cannot become an item version.
///
/// An object Cairn exported (every logical path under `data/`, `metadata/` or
/// `cairn/`) keeps its payload under `data/` and its record in `metadata/dc.json`
/// and `metadata/dc.xml`; its `cairn/` files are the exporting archive's records, and
/// a version holding `cairn/tombstone.json` and no payload is its withdrawal, which
/// ends the import. Any other object's files are all payload, but for `dc.json` and
/// `dc.xml` at the top, taken as the record.
fn plan(
    object: &Path,
    inv: &Inventory,
    only: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Vec<VersionPlan>, Error> {
    let refuse = |reason: String| Error::Refused {
        path: object.to_path_buf(),
        reason,
    };
    let nums: Vec<VersionNum> = match only {
        Some(name) => {
            let n = VersionNum::parse(name)
                .filter(|n| inv.versions.contains_key(n))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--version {name}: the object has versions v1 to {}",
                        inv.head
                    ))
                })?;
            vec![n]
        }
        None => inv.versions.keys().copied().collect(),
    };
    let cairn_layout = nums.iter().all(|n| {
        inv.state_of(n.0).keys().all(|p| {
            p.starts_with("data/") || p.starts_with("metadata/") || p.starts_with("cairn/")
        })
    });
    let mut plans = Vec::new();
    for num in nums {
        let state = inv.state_of(num.0);
        let mut payload = BTreeMap::new();
        let mut dc = BTreeMap::new();
        for (logical, digest) in &state {
            let digest = digest.to_ascii_lowercase();
            let (payload_rel, dc_name) = if cairn_layout {
                match logical.as_str() {
                    "metadata/dc.json" => (None, Some("metadata/dc.json")),
                    "metadata/dc.xml" => (None, Some("metadata/dc.xml")),
                    p => (p.strip_prefix("data/"), None),
                }
            } else {
                match logical.as_str() {
                    "dc.json" => (None, Some("metadata/dc.json")),
                    "dc.xml" => (None, Some("metadata/dc.xml")),
                    p => (Some(p), None),
                }
            };
            if let Some(name) = dc_name {
                dc.insert(name, digest);
            } else if let Some(rel) = payload_rel {
                payload_path(rel).map_err(|e| {
                    refuse(format!(
                        "{num}: the logical path {logical:?} cannot be a payload path: {e}"
                    ))
                })?;
                payload.insert(rel.to_string(), digest);
            }
        }
        if payload.is_empty() {
            if cairn_layout && state.contains_key("cairn/tombstone.json") {
                notes.push(format!(
                    "{num} withdraws the item in the object; the import stops at the version before it (`cairn withdraw` records a withdrawal)"
                ));
                break;
            }
            return Err(refuse(format!(
                "{num} has no payload file, and an item version holds at least one"
            )));
        }
        // A file and a folder of the same name cannot both be laid out.
        for rel in payload.keys() {
            let mut prefix = rel.as_str();
            while let Some((parent, _)) = prefix.rsplit_once('/') {
                if payload.contains_key(parent) {
                    return Err(refuse(format!(
                        "{num}: {parent:?} is both a file and the folder of {rel:?}"
                    )));
                }
                prefix = parent;
            }
        }
        plans.push(VersionPlan {
            num,
            payload,
            dc,
            record: None,
        });
    }
    if plans.is_empty() {
        return Err(refuse(
            "no version of the object holds content to import".into(),
        ));
    }
    Ok(plans)
}

/// The item this object was imported as before, if any: the item named after the
/// object's id whose current payload is the last version's, file for file and sha512
/// for sha512.
fn already_imported(
    archive: &Archive,
    inv: &Inventory,
    plans: &[VersionPlan],
) -> Result<Option<String>, Error> {
    let (Ok(folder), Some(last)) = (
        crate::fs::archive::identifier_to_folder(&inv.id),
        plans.last(),
    ) else {
        return Ok(None);
    };
    let Some(entry) =
        crate::fs::register::RegisterEntry::read_if_present(&archive.register_path(&folder))?
    else {
        return Ok(None);
    };
    let current: BTreeMap<&str, String> = entry
        .files
        .iter()
        .map(|f| {
            (
                f.path.strip_prefix("data/").unwrap_or(&f.path),
                f.digests
                    .get(Algorithm::Sha512)
                    .map(Digest::to_hex)
                    .unwrap_or_default(),
            )
        })
        .collect();
    let same = current.len() == last.payload.len()
        && last
            .payload
            .iter()
            .all(|(rel, d)| current.get(rel.as_str()) == Some(d));
    Ok(same.then_some(folder))
}

/// The Dublin Core record a version holds: its dc.json, else its dc.xml; `None` when
/// it has neither. One that cannot be read as a record is a refusal.
fn read_record(
    object: &Path,
    inv: &Inventory,
    plan: &VersionPlan,
) -> Result<Option<DublinCore>, Error> {
    let refuse = |name: &str, why: String| Error::Refused {
        path: object.to_path_buf(),
        reason: format!(
            "{}: its {name} is not a Dublin Core record: {why}",
            plan.num
        ),
    };
    if let Some(d) = plan.dc.get("metadata/dc.json") {
        let bytes = crate::fs::read_file(&content_file(object, inv, d)?)?;
        return serde_json::from_slice::<DublinCore>(&bytes)
            .map(Some)
            .map_err(|e| refuse("dc.json", e.to_string()));
    }
    if let Some(d) = plan.dc.get("metadata/dc.xml") {
        let bytes = crate::fs::read_file(&content_file(object, inv, d)?)?;
        let text = String::from_utf8(bytes).map_err(|e| refuse("dc.xml", e.to_string()))?;
        return parse_oai_dc(&text)
            .map(Some)
            .map_err(|e| refuse("dc.xml", e.to_string()));
    }
    Ok(None)
}

/// The content file that holds `sha512` in the object.
fn content_file(object: &Path, inv: &Inventory, sha512: &str) -> Result<PathBuf, Error> {
    let rel = inv.content_path(sha512).ok_or_else(|| Error::Refused {
        path: object.to_path_buf(),
        reason: format!("the manifest does not store {sha512}"),
    })?;
    Ok(rel.split('/').fold(object.to_path_buf(), |p, s| p.join(s)))
}

/// Every content file the plans use, hashed and compared with the inventory (each
/// digest once): the number of files and their bytes. A missing file, one that is not
/// a regular file, or one with another sha512 is a refusal.
fn check_content(
    object: &Path,
    inv: &Inventory,
    plans: &[VersionPlan],
) -> Result<(u64, u64), Error> {
    let digests: BTreeSet<&str> = plans
        .iter()
        .flat_map(|p| p.payload.values().chain(p.dc.values()))
        .map(String::as_str)
        .collect();
    let mut buf = vec![0u8; BUF_SIZE];
    let (mut files, mut bytes) = (0, 0);
    for digest in digests {
        let path = content_file(object, inv, digest)?;
        if !crate::fs::entry_exists(&path) {
            return Err(Error::Refused {
                path,
                reason: "missing: the inventory's manifest names this content file".into(),
            });
        }
        let (got, len) = sha512_of_content(&path, &mut buf)?;
        if got != digest {
            return Err(Error::Refused {
                path,
                reason: format!(
                    "its sha512 is {got}, not {digest} as the inventory records: the object is damaged; nothing was imported"
                ),
            });
        }
        files += 1;
        bytes += len;
    }
    Ok((files, bytes))
}

/// Lays out the first version as a bag in `bag` (an existing empty folder): its
/// payload, its Dublin Core files as tag files, External-Identifier the object's id.
/// The bytes copied are compared with the inventory again.
fn build_first(
    archive: &Archive,
    object: &Path,
    inv: &Inventory,
    first: &VersionPlan,
    bag: &Path,
    clock: &dyn Clock,
) -> Result<(), Error> {
    let mut algorithms = archive
        .config
        .algorithms()
        .map_err(|e| Error::Usage(format!("cairn.toml: ingest.algorithms: {e}")))?;
    if !algorithms.contains(&Algorithm::Sha512) {
        algorithms.push(Algorithm::Sha512);
    }
    let mut files = Vec::new();
    let mut dirs = BTreeSet::new();
    for (rel, sha512) in &first.payload {
        let disk = content_file(object, inv, sha512)?;
        let meta = crate::fs::lstat(&disk)?;
        files.push(SourceFile::single(&disk, rel, &meta));
        let mut prefix = rel.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            dirs.insert(parent.to_string());
            prefix = parent;
        }
    }
    let mut extra_tags = Vec::new();
    for (name, sha512) in &first.dc {
        extra_tags.push((
            name.to_string(),
            crate::fs::read_file(&content_file(object, inv, sha512)?)?,
        ));
    }
    let built = build_bag(
        bag,
        &files,
        &dirs.into_iter().collect::<Vec<_>>(),
        &BuildOptions {
            algorithms,
            info: vec![("External-Identifier".into(), inv.id.clone())],
            bagging_date: clock.now().date_naive(),
            extra_tags,
            sniff: false,
        },
    )?;
    for (path, file) in &built.payload {
        let rel = path.as_str().strip_prefix("data/").unwrap_or(path.as_str());
        let got = file
            .digests
            .get(Algorithm::Sha512)
            .map(Digest::to_hex)
            .unwrap_or_default();
        if first.payload.get(rel) != Some(&got) {
            return Err(Error::Refused {
                path: object.to_path_buf(),
                reason: format!(
                    "{}: {rel} changed while it was imported (its sha512 is now {got}); nothing was imported",
                    first.num
                ),
            });
        }
    }
    Ok(())
}

/// The OCFL version as the events record it: `{"ocfl": {object, version, created,
/// message, user}}`.
fn ocfl_data(inv: &Inventory, num: VersionNum) -> serde_json::Map<String, serde_json::Value> {
    let v = inv.versions.get(&num);
    let mut data = serde_json::Map::new();
    data.insert(
        "ocfl".into(),
        serde_json::json!({
            "object": inv.id,
            "version": num.to_string(),
            "created": v.map(|v| v.created.clone()),
            "message": v.and_then(|v| v.message.clone()),
            "user": v.and_then(|v| v.user.clone()),
        }),
    );
    data
}

fn imported_version(
    inv: &Inventory,
    num: VersionNum,
    outcome: &'static str,
    item_version: u32,
) -> ImportedVersion {
    let v = inv.versions.get(&num);
    ImportedVersion {
        ocfl_version: num.to_string(),
        outcome,
        item_version,
        created: v.map(|v| v.created.clone()).unwrap_or_default(),
        message: v.and_then(|v| v.message.clone()),
        user: v.and_then(|v| v.user.clone()),
    }
}
