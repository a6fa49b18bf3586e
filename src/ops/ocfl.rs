//! `cairn ocfl export DIR`: the archive as an OCFL 1.1 storage root (docs/ocfl.md).
//!
//! Every item is an OCFL object named by its identifier; every register entry version
//! of the item (ingest, each amend, each revise) is an OCFL version, v1, v2, …, whose
//! created time, message and user are those of the event that made it; a withdrawn
//! item's last version removes its content and holds its tombstone. A version's state
//! is the bag's payload (`data/…`), its metadata (`metadata/dc.xml`, `metadata/dc.json`),
//! and Cairn's record of it (`cairn/register-entry.json`, byte for byte;
//! `cairn/premis.xml`, the item's PREMIS as of that version). Content is stored once per
//! sha512 in an object.
//!
//! A rerun brings the root up to date: an object's versions already there are compared
//! with the archive's (payload and register entry) and the missing ones added; nothing
//! else is written. Objects and versions are staged, checked and moved into place
//! whole (fs::ocfl), so a killed run is finished by the next. Each payload file is read
//! once, hashed with sha512 and BLAKE3 on the way and compared with the register, then
//! read back from the root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::Event;
use crate::fs::lifecycle::Tombstone;
use crate::fs::ocfl::{self as disk, StorageRoot};
use crate::fs::register::RegisterEntry;
use crate::ocfl::{Inventory, NewContent, StateFile, User, VersionMeta, VersionNum};
use crate::ops::show::{EntryVersion, ShowReport};

/// Logical paths of Cairn's own record in each version.
pub const REGISTER_ENTRY: &str = "cairn/register-entry.json";
pub const PREMIS: &str = "cairn/premis.xml";
pub const TOMBSTONE: &str = "cairn/tombstone.json";

/// The id of the archive's own object in an OCFL replica (docs/ocfl.md, "As a
/// replica"): a URI, which no item identifier is.
pub const ARCHIVE_OBJECT: &str = "urn:cairn:archive";
/// In the archive object: where each payload file of every bag is found, one JSON
/// line per file: `{"key": "archive/ID/data/x", "id": "ID", "sha512": "…"}`.
pub const PAYLOAD_INDEX: &str = "cairn/payload-index.jsonl";

/// What became of one object.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    pub id: String,
    /// The object root, relative to the storage root.
    pub path: String,
    /// `created`, `updated`, `unchanged` or `skipped` (see `problem` or `note`).
    pub status: &'static str,
    /// Versions in the object before and after the run.
    pub versions_before: u32,
    pub versions: u32,
    pub files_written: u64,
    pub bytes_written: u64,
    /// Files of the new versions whose content the object already held.
    pub files_deduplicated: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ObjectReport {
    /// The object of `id` in `root`, before anything is done to it.
    fn unchanged(id: &str, root: &StorageRoot) -> ObjectReport {
        ObjectReport {
            id: id.to_string(),
            path: root.layout.object_path(id),
            status: "unchanged",
            versions_before: 0,
            versions: 0,
            files_written: 0,
            bytes_written: 0,
            files_deduplicated: 0,
            problem: None,
            note: None,
        }
    }
}

/// The run.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub root: PathBuf,
    /// The storage layout extension of the root.
    pub layout: &'static str,
    pub objects: Vec<ObjectReport>,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub versions_added: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    pub files_deduplicated: u64,
    /// Objects whose problem was found in data (a damaged file, an object that differs
    /// from the archive): exit 1.
    pub problems: u64,
}

/// One version the archive says the object should have.
struct Planned {
    meta: VersionMeta,
    kind: PlannedKind,
}

enum PlannedKind {
    /// Register entry version k: the entry, its bytes, the bag holding its content.
    Entry {
        entry: Box<RegisterEntry>,
        bytes: Vec<u8>,
        bag: Option<PathBuf>,
        /// The seq of the event that made it (PREMIS as of then).
        seq: u64,
    },
    /// The withdrawal: the tombstone and its bytes.
    Withdrawal {
        tombstone: Box<Tombstone>,
        bytes: Vec<u8>,
        seq: u64,
    },
}

/// Where a file of a new version comes from.
pub(crate) enum Source {
    File {
        path: PathBuf,
        blake3: Option<String>,
    },
    Bytes(Vec<u8>),
}

struct PlannedFile {
    logical: String,
    sha512: String,
    source: Source,
}

/// Exports every item of `archive` into the storage root `dest`.
/// `layout`: for a new root (`None`: 0004); an existing root keeps its own.
pub fn export(
    archive: &Archive,
    dest: &Path,
    layout: Option<crate::ocfl::Layout>,
) -> Result<ExportReport, Error> {
    export_items(archive, dest, layout, None, false, false)
}

/// [`export`] of the items `only` (`None`: every registered or withdrawn item);
/// `locked`: the caller holds the archive lock (`replicate` to an OCFL replica), so no
/// shared lock is taken per item; `with_archive_object`: the archive's own object too
/// ([`ARCHIVE_OBJECT`], an OCFL replica's).
pub(crate) fn export_items(
    archive: &Archive,
    dest: &Path,
    layout: Option<crate::ocfl::Layout>,
    only: Option<&[String]>,
    locked: bool,
    with_archive_object: bool,
) -> Result<ExportReport, Error> {
    let mut root = disk::open_root(dest, layout)?;
    let ids = match only {
        Some(ids) => ids.to_vec(),
        None => {
            let mut ids = archive.register_ids()?;
            ids.extend(archive.withdrawn_ids()?);
            ids.sort();
            ids.dedup();
            ids
        }
    };
    let mut report = ExportReport {
        root: dest.to_path_buf(),
        layout: root.layout.name(),
        objects: Vec::new(),
        created: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        versions_added: 0,
        files_written: 0,
        bytes_written: 0,
        files_deduplicated: 0,
        problems: 0,
    };
    let mut buf = vec![0u8; 1 << 20];
    for id in ids {
        // One item at a time under the archive's shared lock: its entry, history and
        // bags are read as one state, never half-way through a commit.
        let hold = if locked { None } else { archive.wait_shared()? };
        let object = export_item(archive, &mut root, &id, &mut buf)?;
        drop(hold);
        tally(&mut report, object);
    }
    if with_archive_object {
        let object = export_archive_object(archive, &mut root, &mut buf)?;
        tally(&mut report, object);
    }
    root.finish()?;
    Ok(report)
}

fn tally(report: &mut ExportReport, o: ObjectReport) {
    match o.status {
        "created" => report.created += 1,
        "updated" => report.updated += 1,
        "unchanged" => report.unchanged += 1,
        _ => report.skipped += 1,
    }
    report.problems += u64::from(o.problem.is_some());
    report.versions_added += u64::from(o.versions - o.versions_before);
    report.files_written += o.files_written;
    report.bytes_written += o.bytes_written;
    report.files_deduplicated += o.files_deduplicated;
    report.objects.push(o);
}

/// One item: its planned versions compared with the object's, the missing ones added.
fn export_item(
    archive: &Archive,
    root: &mut StorageRoot,
    id: &str,
    buf: &mut [u8],
) -> Result<ObjectReport, Error> {
    let object_root = root.object_root(id);
    let mut out = ObjectReport::unchanged(id, root);
    let existing = disk::read_object(&object_root)?;
    let events = archive.events_of(id)?;
    let tombstone = archive.tombstone(id)?;
    let purged = tombstone
        .as_ref()
        .is_some_and(|t| t.disposition == "purged");
    let plan = if purged {
        match plan_purged(archive, id, existing.as_ref(), &events)? {
            Ok(plan) => plan,
            Err(note) => {
                out.status = "skipped";
                out.note = Some(note);
                return Ok(out);
            }
        }
    } else {
        plan_item(archive, id, &events)?
    };
    let mut inv = existing.unwrap_or_else(|| Inventory::empty(id));
    out.versions_before = inv.head.0;
    out.versions = inv.head.0;
    if !purged {
        if let Err(problem) = compare(&inv, &plan) {
            out.status = "skipped";
            out.problem = Some(problem);
            return Ok(out);
        }
    }
    if plan.len() <= inv.head.0 as usize {
        return Ok(out);
    }
    let new_object = inv.head.0 == 0;
    let id_owned = inv.id.clone();
    let result = write_versions(
        root,
        &object_root,
        &mut inv,
        plan.len(),
        &mut |i, buf| {
            let files = files_of(&plan[i], &id_owned, &events, &plan[..i], buf)?;
            Ok((plan[i].meta.clone(), files))
        },
        buf,
        &mut out,
    );
    match result {
        Ok(()) => {
            out.status = if new_object { "created" } else { "updated" };
        }
        // A file that no longer has its registered digest: damage in the archive, a
        // finding for this item; the others go on.
        // (`versions` counts the versions queued before it.)
        Err(Error::VerifyFailed { path, detail }) => {
            out.status = "skipped";
            out.problem = Some(format!("{}: {detail}", path.display()));
        }
        Err(e) => return Err(e),
    }
    Ok(out)
}

/// The archive's own object ([`ARCHIVE_OBJECT`]): what a restore needs beyond the
/// items' objects, by the key a replica of kind `files` gives it (cairn.toml, the event
/// log and its head, every register entry, superseded entry and tombstone, every tag
/// file of every bag), and [`PAYLOAD_INDEX`], where each payload file is found by
/// sha512 in its item's object. A new version when any of it changed.
fn export_archive_object(
    archive: &Archive,
    root: &mut StorageRoot,
    buf: &mut [u8],
) -> Result<ObjectReport, Error> {
    use crate::ops::replicate::{
        expected_objects, expected_withdrawn, CONFIG_KEY, HEAD_KEY, LOG_KEY,
    };
    let id = ARCHIVE_OBJECT;
    let object_root = root.object_root(id);
    let mut out = ObjectReport::unchanged(id, root);
    let mut files = Vec::new();
    // The version's time: the last event's (what the version holds is as of then).
    let mut created = String::new();
    if let Some(bytes) = crate::fs::read_if_present(&archive.root.join(crate::config::CONFIG_FILE))?
    {
        files.push(bytes_file(CONFIG_KEY, bytes));
    }
    let mut log = archive.read_all_events_bytes()?;
    let complete = log.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    log.truncate(complete);
    if let Some(line) = log[..complete.saturating_sub(1)]
        .rsplit(|&b| b == b'\n')
        .next()
        .filter(|l| !l.is_empty())
    {
        let last = serde_json::from_slice::<serde_json::Value>(line).unwrap_or_default();
        let seq = last.get("seq").and_then(|s| s.as_u64()).unwrap_or(0);
        if let Some(t) = last.get("time").and_then(|t| t.as_str()) {
            created = t.to_string();
        }
        let head = crate::ops::replicate::LogHead {
            seq,
            line_blake3: crate::fs::events::line_digest(line),
            log_bytes: complete as u64,
        };
        let head = serde_json::to_vec(&head)
            .map_err(|e| Error::Internal(format!("encode log head: {e}")))?;
        files.push(bytes_file(HEAD_KEY, head));
        files.push(bytes_file(LOG_KEY, log));
    }
    let registered = archive.register_ids()?;
    let mut ids: Vec<(String, bool)> = registered.iter().map(|i| (i.clone(), false)).collect();
    ids.extend(
        archive
            .withdrawn_ids()?
            .into_iter()
            .filter(|i| registered.binary_search(i).is_err())
            .map(|i| (i, true)),
    );
    let mut index = Vec::new();
    for (item, withdrawn) in &ids {
        let expected = if *withdrawn {
            expected_withdrawn(archive, item)?
        } else {
            expected_objects(archive, item)?
        };
        for e in expected {
            match (e.size, e.sha512) {
                (Some(_), Some(sha512)) => {
                    let line =
                        serde_json::json!({"key": e.key, "id": item, "sha512": sha512.to_hex()});
                    index.extend_from_slice(line.to_string().as_bytes());
                    index.push(b'\n');
                }
                // A tag file (or a payload file with no recorded sha512): hashed here,
                // copied from the bag and checked as it is written, never held whole.
                _ => files.push(PlannedFile {
                    logical: e.key.clone(),
                    sha512: hash_source(&e.local, buf)?,
                    source: Source::File {
                        path: e.local.clone(),
                        blake3: None,
                    },
                }),
            }
        }
    }
    files.push(bytes_file(PAYLOAD_INDEX, index));
    let mut inv = disk::read_object(&object_root)?.unwrap_or_else(|| Inventory::empty(id));
    out.versions_before = inv.head.0;
    out.versions = inv.head.0;
    let want: BTreeMap<String, String> = files
        .iter()
        .map(|f| (f.logical.clone(), f.sha512.clone()))
        .collect();
    if inv.head.0 > 0 && inv.state_of(inv.head.0) == want {
        return Ok(out);
    }
    let new_object = inv.head.0 == 0;
    let meta = VersionMeta {
        created: if created.is_empty() {
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        } else {
            created
        },
        message: Some("the archive's configuration, event log, register and bag tag files".into()),
        user: Some(User {
            name: format!("Cairn {}", env!("CARGO_PKG_VERSION")),
            address: None,
        }),
    };
    let count = inv.head.0 as usize + 1;
    let mut once = Some((meta, files));
    write_versions(
        root,
        &object_root,
        &mut inv,
        count,
        &mut |_, _| {
            once.take()
                .ok_or_else(|| Error::Internal("the archive object's version twice".into()))
        },
        buf,
        &mut out,
    )?;
    out.status = if new_object { "created" } else { "updated" };
    Ok(out)
}

/// Where the archive holds good bytes for each sha512 of item `id`'s object: every
/// file of every version it would export (payload files in the bags, Cairn's records
/// rendered again), for `repair` of an OCFL replica. A version whose bag is gone (a
/// purged item) gives nothing.
pub(crate) fn good_sources(archive: &Archive, id: &str) -> Result<BTreeMap<String, Source>, Error> {
    let events = archive.events_of(id)?;
    let plan = plan_item(archive, id, &events)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut out = BTreeMap::new();
    for (i, planned) in plan.iter().enumerate() {
        let files = match files_of(planned, id, &events, &plan[..i], &mut buf) {
            Ok(files) => files,
            Err(Error::VerifyFailed { .. }) => continue,
            Err(e) => return Err(e),
        };
        for f in files {
            out.entry(f.sha512.to_ascii_lowercase()).or_insert(f.source);
        }
    }
    Ok(out)
}

impl Source {
    /// Writes the bytes (a file streamed, in parts of `buf`'s size).
    pub(crate) fn write_to(&self, w: &mut dyn std::io::Write, buf: &mut [u8]) -> Result<(), Error> {
        match self {
            Source::Bytes(b) => w
                .write_all(b)
                .map_err(|e| Error::io("write", Path::new(REGISTER_ENTRY), e)),
            Source::File { path, .. } => {
                let mut f = crate::fs::open_file(path)?;
                loop {
                    let n =
                        std::io::Read::read(&mut f, buf).map_err(|e| Error::io("read", path, e))?;
                    if n == 0 {
                        return Ok(());
                    }
                    w.write_all(&buf[..n])
                        .map_err(|e| Error::io("write", path, e))?;
                }
            }
        }
    }

    /// Where the bytes come from, for the report: the archive file (relative to the
    /// archive root `root`), or Cairn's record.
    pub(crate) fn describe(&self, root: &Path) -> String {
        match self {
            Source::Bytes(_) => "the archive's record".into(),
            Source::File { path, .. } => path
                .strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string(),
        }
    }
}

/// The versions the archive holds for `id`: each register entry version, oldest first,
/// then the withdrawal when the item was withdrawn (quarantined).
fn plan_item(archive: &Archive, id: &str, events: &[Event]) -> Result<Vec<Planned>, Error> {
    let mut entries: Vec<(RegisterEntry, Vec<u8>)> = Vec::new();
    for e in archive.history(id)? {
        entries.push(RegisterEntry::read_with_bytes(
            &archive.history_path(id, e.entry_version),
        )?);
    }
    let current = archive.register_path(id);
    if current.exists() {
        entries.push(RegisterEntry::read_with_bytes(&current)?);
    }
    entries.sort_by_key(|(e, _)| e.entry_version);
    let tombstone = archive.tombstone(id)?;
    let mut bags: BTreeMap<u32, PathBuf> = archive.retained_bags(id)?.into_iter().collect();
    if let (Some(t), Some((last, _))) = (&tombstone, entries.last()) {
        let q = archive.quarantine_path(id);
        if t.disposition == "quarantined" && q.is_dir() {
            bags.insert(last.version, q);
        }
    }
    let mut plan = Vec::new();
    for (entry, bytes) in entries {
        let event = entry_event(events, &entry);
        let meta = meta_of(event, entry.updated.as_deref().unwrap_or(&entry.archived));
        plan.push(Planned {
            meta,
            kind: PlannedKind::Entry {
                bag: bags.get(&entry.version).cloned(),
                seq: event.map_or(u64::MAX, |e| e.seq),
                entry: Box::new(entry),
                bytes,
            },
        });
    }
    if let Some(t) = tombstone {
        plan.push(withdrawal(archive, id, t, events)?);
    }
    Ok(plan)
}

/// A purged item: its bytes are gone, so only the withdrawal can be added, to an object
/// exported before the purge; `Err(note)` when there is nothing to do.
fn plan_purged(
    archive: &Archive,
    id: &str,
    existing: Option<&Inventory>,
    events: &[Event],
) -> Result<Result<Vec<Planned>, String>, Error> {
    let Some(inv) = existing else {
        return Ok(Err(
            "withdrawn and purged before it was ever exported: its bytes are gone, and no object is made".into(),
        ));
    };
    let Some(t) = archive.tombstone(id)? else {
        return Ok(Err("no tombstone".into()));
    };
    if inv.state_of(inv.head.0).contains_key(TOMBSTONE) {
        return Ok(Ok(Vec::new()));
    }
    // The versions already there stand for themselves (placeholders never written).
    let mut plan: Vec<Planned> = (0..inv.head.0)
        .map(|_| Planned {
            meta: meta_of(None, ""),
            kind: PlannedKind::Withdrawal {
                tombstone: Box::new(t.clone()),
                bytes: Vec::new(),
                seq: 0,
            },
        })
        .collect();
    plan.push(withdrawal(archive, id, t, events)?);
    Ok(Ok(plan))
}

fn withdrawal(
    archive: &Archive,
    id: &str,
    t: Tombstone,
    events: &[Event],
) -> Result<Planned, Error> {
    let bytes = crate::fs::read_file(&archive.tombstone_path(id))?;
    let event = events.iter().rev().find(|e| e.event_type == "deaccession");
    Ok(Planned {
        meta: meta_of(event, &t.withdrawn),
        kind: PlannedKind::Withdrawal {
            seq: event.map_or(u64::MAX, |e| e.seq),
            tombstone: Box::new(t),
            bytes,
        },
    })
}

/// The event that published register entry version `entry.entry_version`: the
/// ingestion (or import) for version 1, else the metadata modification or
/// modification whose data names that entry version.
fn entry_event<'a>(events: &'a [Event], entry: &RegisterEntry) -> Option<&'a Event> {
    let k = entry.entry_version.max(1);
    events.iter().find(|e| {
        if k == 1 {
            e.event_type == "ingestion"
        } else {
            matches!(
                e.event_type.as_str(),
                "metadata modification" | "modification"
            ) && e.data.get("entry_version").and_then(|v| v.as_u64()) == Some(u64::from(k))
        }
    })
}

/// A version's created time, message and user from its event (`fallback` the time when
/// no event is found).
fn meta_of(event: Option<&Event>, fallback: &str) -> VersionMeta {
    let Some(e) = event else {
        return VersionMeta {
            created: fallback.to_string(),
            message: None,
            user: None,
        };
    };
    let operator = e
        .data
        .get("operator")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty());
    let name = operator.unwrap_or(&e.agent).to_string();
    let address = operator
        .filter(|o| o.contains('@') && !o.contains(char::is_whitespace))
        .map(|o| format!("mailto:{o}"));
    VersionMeta {
        created: e.time.clone(),
        message: Some(format!("{}: {}", e.event_type, e.detail)),
        user: Some(User { name, address }),
    }
}

/// The part of a version the archive fixes for good: its payload and register entry
/// (the metadata and PREMIS renderings may change with Cairn's version).
fn fixed_state(state: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    state
        .iter()
        .filter(|(p, _)| p.starts_with("data/") || *p == REGISTER_ENTRY || *p == TOMBSTONE)
        .map(|(p, d)| (p.as_str(), d.as_str()))
        .collect()
}

/// Whether the object's versions are the first of the planned ones.
fn compare(inv: &Inventory, plan: &[Planned]) -> Result<(), String> {
    if inv.head.0 as usize > plan.len() {
        return Err(format!(
            "the object has {} versions, the archive {}: it was not made from this archive's item",
            inv.head.0,
            plan.len()
        ));
    }
    for (i, planned) in plan.iter().take(inv.head.0 as usize).enumerate() {
        let n = i as u32 + 1;
        let have = inv.state_of(n);
        let mut want: BTreeMap<String, String> = BTreeMap::new();
        match &planned.kind {
            PlannedKind::Entry { entry, bytes, .. } => {
                for f in &entry.files {
                    let d = f.digests.get(Algorithm::Sha512).map(Digest::to_hex);
                    want.insert(f.path.clone(), d.unwrap_or_default());
                }
                want.insert(REGISTER_ENTRY.into(), disk::sha512_hex(bytes));
            }
            PlannedKind::Withdrawal { bytes, .. } => {
                want.insert(TOMBSTONE.into(), disk::sha512_hex(bytes));
            }
        }
        if fixed_state(&have) != fixed_state(&want) {
            return Err(format!(
                "{} of the object differs from the archive's version {n} (payload or register entry): the object is left as it is",
                VersionNum(n)
            ));
        }
    }
    Ok(())
}

/// The files of a planned version, with their sources.
fn files_of(
    planned: &Planned,
    id: &str,
    events: &[Event],
    earlier: &[Planned],
    buf: &mut [u8],
) -> Result<Vec<PlannedFile>, Error> {
    let mut files = Vec::new();
    match &planned.kind {
        PlannedKind::Entry {
            entry,
            bytes,
            bag,
            seq,
        } => {
            let bag = bag.as_ref().ok_or_else(|| Error::VerifyFailed {
                path: PathBuf::from(format!("archive/{id}")),
                detail: format!(
                    "no bag holds content version {} of {id} (neither archive/{id} nor archive/.versions/{id}/ nor the quarantine)",
                    entry.version
                ),
            })?;
            for f in &entry.files {
                let path = bag.join(&f.path);
                let sha512 = match f.digests.get(Algorithm::Sha512) {
                    Some(d) => d.to_hex(),
                    None => hash_source(&path, buf)?,
                };
                files.push(PlannedFile {
                    logical: f.path.clone(),
                    sha512,
                    source: Source::File {
                        path,
                        blake3: f.digests.get(Algorithm::Blake3).map(Digest::to_hex),
                    },
                });
            }
            metadata_files(entry, bag, &mut files)?;
            files.push(bytes_file(REGISTER_ENTRY, bytes.clone()));
            let premis = premis_as_of(entry, None, events, *seq, earlier);
            files.push(bytes_file(PREMIS, premis.into_bytes()));
        }
        PlannedKind::Withdrawal {
            tombstone,
            bytes,
            seq,
        } => {
            files.push(bytes_file(TOMBSTONE, bytes.clone()));
            let last = earlier.iter().rev().find_map(|p| match &p.kind {
                PlannedKind::Entry { entry, .. } => Some(entry.as_ref()),
                PlannedKind::Withdrawal { .. } => None,
            });
            if let Some(entry) = last {
                let premis = premis_as_of(entry, Some(tombstone), events, *seq, earlier);
                files.push(bytes_file(PREMIS, premis.into_bytes()));
            }
        }
    }
    Ok(files)
}

fn bytes_file(logical: &str, bytes: Vec<u8>) -> PlannedFile {
    PlannedFile {
        logical: logical.to_string(),
        sha512: disk::sha512_hex(&bytes),
        source: Source::Bytes(bytes),
    }
}

/// sha512 of a payload file whose entry records none (a bag made with other
/// algorithms): one more read of that file.
fn hash_source(path: &Path, buf: &mut [u8]) -> Result<String, Error> {
    let file = crate::fs::open_file(path)?;
    let d = crate::digest::hash_reader(file, &[Algorithm::Sha512], buf)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(d.get(Algorithm::Sha512)
        .map(Digest::to_hex)
        .unwrap_or_default())
}

/// metadata/dc.xml and metadata/dc.json as register entry `entry` recorded them: the
/// bag's own when they have the recorded digests, else rendered from the entry's record
/// when the rendering has them (an amend replaced the bag's); otherwise left out (the
/// record is in cairn/register-entry.json).
fn metadata_files(
    entry: &RegisterEntry,
    bag: &Path,
    files: &mut Vec<PlannedFile>,
) -> Result<(), Error> {
    let record = entry.dublin_core.record();
    let rendered = [
        ("metadata/dc.xml", crate::metadata::render_oai_dc(record)),
        ("metadata/dc.json", record.render_json()),
    ];
    for (logical, render) in rendered {
        let Some(want) = entry
            .tag_files
            .get(logical)
            .and_then(|d| d.get(Algorithm::Sha512))
            .map(Digest::to_hex)
        else {
            continue;
        };
        let on_disk = crate::fs::read_if_present(&bag.join(logical))?;
        let bytes = [on_disk, Some(render.into_bytes())]
            .into_iter()
            .flatten()
            .find(|b| disk::sha512_hex(b) == want);
        if let Some(bytes) = bytes {
            files.push(bytes_file(logical, bytes));
        }
    }
    Ok(())
}

/// The item's PREMIS document as of the event `seq`: that entry, the events up to it.
fn premis_as_of(
    entry: &RegisterEntry,
    withdrawn: Option<&Tombstone>,
    events: &[Event],
    seq: u64,
    earlier: &[Planned],
) -> String {
    let history = earlier
        .iter()
        .filter_map(|p| match &p.kind {
            PlannedKind::Entry { entry, .. } => Some(EntryVersion {
                entry_version: entry.entry_version,
                published: entry
                    .updated
                    .clone()
                    .unwrap_or_else(|| entry.archived.clone()),
                dublin_core: entry.dublin_core.clone(),
            }),
            PlannedKind::Withdrawal { .. } => None,
        })
        .collect();
    let report = ShowReport {
        entry: entry.clone(),
        events: events.iter().filter(|e| e.seq <= seq).cloned().collect(),
        bag_present: withdrawn.is_none(),
        withdrawn: withdrawn.cloned(),
        history,
        versions: Vec::new(),
    };
    crate::ops::premis::render(&report)
}

/// Adds the planned versions to `inv`, writing each new file into `dir` (content paths
/// relative to the object root, less `strip`); returns nothing but the tallies.
#[allow(clippy::too_many_arguments)]
fn add_version(
    inv: &mut Inventory,
    meta: &VersionMeta,
    files: Vec<PlannedFile>,
    dir: &Path,
    strip: &str,
    buf: &mut [u8],
    out: &mut ObjectReport,
) -> Result<(), Error> {
    let state: Vec<StateFile> = files
        .iter()
        .map(|f| StateFile {
            logical: f.logical.clone(),
            sha512: f.sha512.clone(),
        })
        .collect();
    let new: Vec<NewContent> = inv.add_version(meta.clone(), &state);
    out.files_deduplicated += (files.len() - new.len()) as u64;
    let mut by_digest: BTreeMap<String, PlannedFile> = BTreeMap::new();
    for f in files {
        by_digest.entry(f.sha512.to_ascii_lowercase()).or_insert(f);
    }
    for n in new {
        let Some(f) = by_digest.remove(&n.sha512) else {
            continue;
        };
        let rel = n
            .content_path
            .strip_prefix(strip)
            .unwrap_or(&n.content_path);
        let to = dir.join(rel);
        match &f.source {
            Source::File { path, blake3 } => {
                let c = disk::copy_checked(path, &to, &f.sha512, blake3.as_deref(), buf)?;
                out.bytes_written += c.bytes;
            }
            Source::Bytes(bytes) => {
                disk::write_checked(&to, bytes, buf)?;
                out.bytes_written += bytes.len() as u64;
            }
        }
        out.files_written += 1;
    }
    Ok(())
}

/// The planned versions the object lacks, written and queued to move into place: a new
/// object staged whole in one folder (its declaration, each version folder with its
/// own inventory, then the root inventory); each new version of an existing object
/// staged as a vN folder of its own (the object's inventory is replaced once it is in).
/// `version(i)` gives the metadata and files of planned version i+1 (of `count`).
#[allow(clippy::type_complexity)]
fn write_versions(
    root: &mut StorageRoot,
    object_root: &Path,
    inv: &mut Inventory,
    count: usize,
    version: &mut dyn FnMut(usize, &mut [u8]) -> Result<(VersionMeta, Vec<PlannedFile>), Error>,
    buf: &mut [u8],
    out: &mut ObjectReport,
) -> Result<(), Error> {
    let object_dir = if inv.head.0 == 0 {
        let dir = root.stage("object")?;
        disk::write_object_declaration(&dir)?;
        Some(dir)
    } else {
        None
    };
    for i in inv.head.0 as usize..count {
        let (meta, files) = version(i, buf)?;
        let num = VersionNum(inv.head.0 + 1);
        let before = out.bytes_written;
        match &object_dir {
            Some(dir) => {
                add_version(inv, &meta, files, dir, "", buf, out)?;
                let vdir = dir.join(num.to_string());
                crate::fs::create_dir_all(&vdir)?;
                disk::write_inventory(&vdir, inv)?;
            }
            None => {
                let staged = root.stage("version")?;
                add_version(inv, &meta, files, &staged, &format!("{num}/"), buf, out)?;
                disk::write_inventory(&staged, inv)?;
                let bytes = out.bytes_written - before;
                root.queue_version(staged, object_root.to_path_buf(), num, bytes)?;
                out.versions = num.0;
            }
        }
    }
    if let Some(dir) = object_dir {
        disk::write_inventory(&dir, inv)?;
        root.queue_object(dir, object_root.to_path_buf(), out.bytes_written)?;
        out.versions = inv.head.0;
    }
    Ok(())
}
