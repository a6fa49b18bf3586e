//! One intake item through ingest's steps (docs/ingest.md), in order: its files,
//! already archived?, its metadata, the checks, (a dry run's digests and formats), its
//! identifier, then the commit protocol with an [`IngestChange`] (`change.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::bagit::{validate, ValidateOptions};
use crate::clock::Clock;
use crate::digest::{hash_reader, Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::{identifier_to_folder, reserved_identifier, Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::durable::sync_dir;
use crate::fs::failpoint;
use crate::fs::register::RegisterEntry;
use crate::fs::walk::{walk_source, SourceFile, Walk};
use crate::metadata::{self, DublinCore, Sheet, SIDECAR_NAME};
use crate::ops::commit::ArchiveState;

use super::change::{commit_item, IngestChange};
use super::past::{self, Past};
use super::{nfc, IngestOptions, ItemReport, Outcome};

/// What every item of one run shares: the archive, the lock, the settings and the
/// sheet as the run read them.
pub(super) struct ItemContext<'a> {
    pub(super) formats: &'a crate::ops::formats::RunFormats<'a>,
    pub(super) archive: &'a Archive,
    /// Held for real runs; `None` for a dry run, which never commits.
    pub(super) lock: Option<&'a ArchiveLock>,
    pub(super) algorithms: &'a [Algorithm],
    pub(super) sheet: Option<&'a Sheet>,
    pub(super) sheet_broken: bool,
    /// The sheet's item names in lower case, to their row (the hint for an item with no
    /// row: built once, not a pass over the rows per item).
    pub(super) sheet_by_lower: HashMap<String, usize>,
    /// Items (their names in NFC) whose row shares its dc.identifier with another row,
    /// and why.
    pub(super) conflicts: &'a BTreeMap<String, String>,
    /// The largest metadata value accepted, in bytes (`ingest.max_value_size`).
    pub(super) max_value: usize,
    pub(super) opts: &'a IngestOptions,
    pub(super) clock: &'a dyn Clock,
}

/// One intake item through the ingest's steps, in order: its files, already archived,
/// its metadata, the checks, (a dry run's digests and formats), its identifier, then
/// the commit. Each step settles the item (refused, already archived, would ingest) or
/// hands the next one what it found.
pub(super) fn ingest_item(
    ctx: &ItemContext<'_>,
    state: &mut ArchiveState,
    past: &mut Past,
    name: &str,
    path: &Path,
) -> Result<ItemReport, Error> {
    let mut item = ItemReport::new(name);
    let Some((is_dir, walk)) = walk_item(ctx, &mut item, name, path)? else {
        return Ok(item);
    };
    if already_archived(ctx, past, &mut item, name, path, is_dir, &walk)? {
        return Ok(item);
    }
    let Some((record, sidecar_bytes)) = read_metadata(ctx, &mut item, name, path, is_dir)? else {
        return Ok(item);
    };
    if !check_item(ctx, &mut item, name, path, is_dir, &walk, &record) {
        return Ok(item);
    }
    let bag_files: Vec<(String, PathBuf)> = walk
        .files
        .iter()
        .map(|f| (format!("data/{}", f.rel), f.disk.clone()))
        .collect();
    // The dry run's digests of the item, so that the rest of the run sees it.
    let mut planned: Option<Vec<(String, FileDigests)>> = None;
    if ctx.opts.dry_run {
        let Some(hashed) = dry_run_read(ctx, past, &mut item, name, path, &walk, &bag_files)?
        else {
            return Ok(item);
        };
        planned = Some(hashed);
    }
    let Some(id) = choose_identifier(ctx, state, past, &mut item, name, &record) else {
        return Ok(item);
    };
    item.id = Some(id.clone());
    if ctx.opts.dry_run {
        item.outcome = Outcome::WouldIngest;
        state.mark_used(&id);
        let files: Vec<(&str, &[(Algorithm, Digest)])> = planned
            .iter()
            .flatten()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        past.add_planned(&id, &record.clone().into(), &files);
        return Ok(item);
    }
    let commit = ItemCommit {
        id: &id,
        name,
        path,
        is_dir,
        record: &record,
        sidecar: sidecar_bytes,
        walk: &walk,
        bag_files: &bag_files,
    };
    commit_and_record(ctx, state, past, item, commit)
}

impl ItemReport {
    /// [`ItemReport::refuse`] in place, for a step that settles the item.
    fn refuse_in_place(&mut self, problem: impl Into<String>) {
        self.outcome = Outcome::Refused;
        self.problems.push(problem.into());
    }
}

/// Step 1: the item's files, without the clutter `ingest.exclude` names (recorded in
/// `item.excluded`). `None` when the item is refused (unreadable, not a file or folder).
fn walk_item(
    ctx: &ItemContext<'_>,
    item: &mut ItemReport,
    name: &str,
    path: &Path,
) -> Result<Option<(bool, Walk)>, Error> {
    let meta = match crate::fs::lstat(path) {
        Ok(m) => m,
        Err(Error::Io { source, .. }) => {
            item.refuse_in_place(format!("{}: cannot read: {source}", path.display()));
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let is_dir = meta.is_dir();
    if !is_dir && !meta.is_file() {
        item.refuse_in_place(format!(
            "{}: a symbolic link, fifo or device is not an item; put the real files in a folder",
            path.display()
        ));
        return Ok(None);
    }
    let mut walk = if is_dir {
        walk_source(path, &[SIDECAR_NAME])?
    } else {
        Walk {
            files: vec![SourceFile::single(path, name, &meta)],
            total_bytes: meta.len(),
            ..Default::default()
        }
    };
    if is_dir {
        let patterns = &ctx.archive.config.ingest.exclude;
        walk.files.retain(|f| {
            let base = f.rel.rsplit('/').next().unwrap_or(&f.rel);
            if crate::config::excluded(base, patterns) {
                item.excluded.push(f.rel.clone());
                false
            } else {
                true
            }
        });
        walk.total_bytes = walk.files.iter().map(|f| f.size).sum();
    }
    Ok(Some((is_dir, walk)))
}

/// Step 2: already archived? Same intake name and size as any recorded version of an
/// item (current, kept by `revise`, or withdrawn): hash to be sure. Before the
/// metadata: an item archived earlier and still in intake (the default keeps it) has
/// no row in the next batch's metadata.csv, and is not a new item without metadata.
/// True when this settles the item (already archived, or refused).
fn already_archived(
    ctx: &ItemContext<'_>,
    past: &mut Past,
    item: &mut ItemReport,
    name: &str,
    path: &Path,
    is_dir: bool,
    walk: &Walk,
) -> Result<bool, Error> {
    let oxum = format!("{}.{}", walk.total_bytes, walk.files.len());
    let candidates_exist = walk.refused.is_empty();
    let candidates: Vec<(past::Known, RegisterEntry)> = if candidates_exist {
        past.with_intake(ctx.archive, name, &oxum)?
    } else {
        Vec::new()
    };
    for (known, entry) in &candidates {
        if same_payload(entry, walk)? {
            if known.withdrawn.is_some() {
                // Withdrawn content does not come back by a rerun either.
                let matched = [past::Match {
                    known: known.clone(),
                    file: None,
                }];
                match past::refusal(&matched, &ctx.opts.allow_duplicate_of, "ingested") {
                    Some(why) => {
                        item.refuse_in_place(format!("{name}: {why}"));
                        return Ok(true);
                    }
                    None => break,
                }
            }
            item.outcome = Outcome::AlreadyArchived;
            item.id = Some(entry.id.clone());
            if !known.current {
                item.version = Some(known.version);
            }
            if ctx.opts.remove_source && !ctx.opts.dry_run {
                // The intake copy may be the last good one: delete it only if the
                // archived bag still verifies in full.
                let bag = if known.current {
                    ctx.archive.bag_path(&entry.id)
                } else {
                    ctx.archive.version_path(&entry.id, known.version)
                };
                let check = validate(
                    &DirSource::open_archived(&bag)?,
                    &ValidateOptions::default(),
                )?;
                if check.is_ok() {
                    remove_source(path, is_dir)?;
                    item.removed_source = true;
                } else {
                    item.outcome = Outcome::Refused;
                    item.problems.push(format!(
                        "{name}: identical to {} but that bag fails validation; the intake copy was kept. Run `cairn bag validate {}`",
                        entry.id,
                        bag.display()
                    ));
                }
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// Step 3: metadata: the sheet's row, then the sidecar field by field. Returns the
/// record and the sidecar's bytes; `None` when the item has no usable metadata
/// (refused).
#[allow(clippy::type_complexity)]
fn read_metadata(
    ctx: &ItemContext<'_>,
    item: &mut ItemReport,
    name: &str,
    path: &Path,
    is_dir: bool,
) -> Result<Option<(DublinCore, Option<Vec<u8>>)>, Error> {
    let mut record: Option<DublinCore> = None;
    let mut sidecar_bytes: Option<Vec<u8>> = None;
    if let Some(row) = ctx.sheet.and_then(|s| s.row_for(name)) {
        record = Some(row.record.clone());
    }
    if is_dir {
        let sidecar = path.join(SIDECAR_NAME);
        match crate::fs::read_if_present(&sidecar) {
            Ok(Some(bytes)) => {
                match metadata::parse_sidecar(&bytes) {
                    Ok(dc) => record.get_or_insert_with(DublinCore::new).overlay(&dc),
                    Err(errors) => {
                        for e in errors.errors {
                            item.problems.push(format!("{}: {e}", sidecar.display()));
                        }
                    }
                }
                sidecar_bytes = Some(bytes);
            }
            Ok(None) => {}
            Err(Error::Io { source, .. }) => item
                .problems
                .push(format!("{}: cannot read: {source}", sidecar.display())),
            Err(e) => return Err(e),
        }
    }
    let Some(record) = record else {
        let why = if ctx.sheet_broken {
            "no usable metadata: metadata.csv has errors (listed above) and the item has no cairn.dc.json"
        } else {
            "no metadata: add a row to metadata.csv or a cairn.dc.json inside the item"
        };
        let hint = ctx
            .sheet_by_lower
            .get(&name.to_lowercase())
            .and_then(|&i| ctx.sheet.and_then(|s| s.rows.get(i)))
            .map(|r| {
                format!(
                    "; metadata.csv line {} names {}: did you mean this item? (names must match exactly, case and spaces included)",
                    r.line,
                    crate::quoted(&r.item)
                )
            })
            .unwrap_or_default();
        item.refuse_in_place(format!("{}: {why}{hint}", path.display()));
        return Ok(None);
    };
    Ok(Some((record, sidecar_bytes)))
}

/// Step 3a: the checks of the record and the files: conflicts on the sheet, the
/// record's values, unreadable files, unportable names, names that would be one, no
/// files. False when the item is refused.
fn check_item(
    ctx: &ItemContext<'_>,
    item: &mut ItemReport,
    name: &str,
    path: &Path,
    is_dir: bool,
    walk: &Walk,
    record: &DublinCore,
) -> bool {
    item.title = record.title().map(str::to_string);
    if let Some(why) = ctx.conflicts.get(&nfc(name)) {
        item.problems.push(format!("{name}: {why}"));
    }
    for p in metadata::validate_record(record) {
        item.problems.push(format!("{name}: {p}"));
    }
    for p in metadata::oversized_values(record, ctx.max_value) {
        item.problems.push(format!("{name}: {p}"));
    }

    for (p, why) in &walk.refused {
        item.problems.push(format!("{}: {why}", p.display()));
    }
    let names = std::iter::once(name.to_string()).chain(
        walk.files
            .iter()
            .map(|f| f.rel.clone())
            .chain(walk.dirs.iter().cloned())
            .map(|rel| if is_dir { format!("{name}/{rel}") } else { rel }),
    );
    for n in names {
        if let Some(why) = unportable_name(&n) {
            item.problems.push(format!("{}: {why}", crate::quoted(&n)));
        }
    }
    for (a, b) in name_twins(walk) {
        item.problems.push(format!(
            "{name}: {} and {} differ only in case or Unicode normalisation: they would be one file on many file systems and in a zip (export, replicas); rename one before ingest",
            crate::quoted(&a),
            crate::quoted(&b)
        ));
    }
    if walk.files.is_empty() && walk.refused.is_empty() {
        item.problems
            .push(format!("{}: the item has no files", path.display()));
    }
    item.files = walk.files.len() as u64;
    item.bytes = walk.total_bytes;
    if !item.problems.is_empty() {
        item.outcome = Outcome::Refused;
        return false;
    }
    true
}

/// Step 3b, a dry run only: a real run compares the digests the build computes and
/// identifies formats beside the build (step 5); a dry run reads the files once here,
/// to say the same: duplicates, then formats (identification, technical metadata, the
/// format policy). The item's digests; `None` when it is refused.
fn dry_run_read(
    ctx: &ItemContext<'_>,
    past: &Past,
    item: &mut ItemReport,
    name: &str,
    path: &Path,
    walk: &Walk,
    bag_files: &[(String, PathBuf)],
) -> Result<Option<Vec<(String, FileDigests)>>, Error> {
    let hashed = match hash_files(walk, ctx.algorithms) {
        Ok(h) => h,
        Err(Error::Io {
            op,
            path: p,
            source,
        }) if p.starts_with(path) => {
            item.refuse_in_place(format!("{}: cannot {op}: {source}", p.display()));
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let files: Vec<(&str, &[(Algorithm, Digest)])> = hashed
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    let matches = past.matches(&files);
    if let Some(why) = past::refusal(&matches, &ctx.opts.allow_duplicate_of, "ingested") {
        item.refuse_in_place(format!("{name}: {why}"));
        return Ok(None);
    }
    item.duplicate_of = matches.iter().map(|m| m.known.id.clone()).collect();
    let formats = ctx.formats.item(bag_files, true)?;
    item.warnings.extend(formats.warnings.iter().cloned());
    if !formats.refusals.is_empty() {
        item.problems.extend(formats.refusals.iter().cloned());
        item.outcome = Outcome::Refused;
        return Ok(None);
    }
    Ok(Some(hashed))
}

/// Step 4: the identifier: the record's first, as a folder name, never one in use or
/// reserved or one that folds onto an earlier item's; else the next generated one.
/// `None` when the item is refused.
fn choose_identifier(
    ctx: &ItemContext<'_>,
    state: &mut ArchiveState,
    past: &Past,
    item: &mut ItemReport,
    name: &str,
    record: &DublinCore,
) -> Option<String> {
    let identifiers = record.identifiers();
    let Some(given) = identifiers.first() else {
        return Some(state.next_generated(&ctx.archive.config.ingest.identifier_prefix));
    };
    let id = match identifier_to_folder(given) {
        Err(e) => {
            item.refuse_in_place(format!("{name}: {e}"));
            return None;
        }
        Ok(id) => id,
    };
    if let Some(other) = state.with_identifier(given) {
        item.refuse_in_place(format!(
            "{name}: dc.identifier {} is already the identifier of {} (intake name {}); identifiers are never reused",
            crate::quoted(given), other.id, crate::quoted(&other.intake_name)
        ));
        return None;
    }
    if state.used.contains(&id) {
        item.refuse_in_place(format!(
            "{name}: dc.identifier {} gives the folder name {id}, which is already in use; identifiers are never reused",
            crate::quoted(given)
        ));
        return None;
    }
    if let Some(why) = reserved_identifier(&id) {
        item.refuse_in_place(format!(
            "{name}: dc.identifier {} cannot name an item: {why}; choose another identifier",
            crate::quoted(given)
        ));
        return None;
    }
    for candidate in [given.to_string(), id.clone()] {
        if let Some(other) = past.folded_clash(&candidate) {
            item.refuse_in_place(format!(
                "{name}: dc.identifier {} differs from the identifier {} of an item archived earlier only in case or Unicode normalisation: the two would be one name on many file systems and replicas; choose another identifier",
                crate::quoted(given),
                crate::quoted(other)
            ));
            return None;
        }
    }
    Some(id)
}

/// What step 5 commits: the item as the steps before found it.
struct ItemCommit<'a> {
    id: &'a str,
    name: &'a str,
    path: &'a Path,
    is_dir: bool,
    record: &'a DublinCore,
    sidecar: Option<Vec<u8>>,
    walk: &'a Walk,
    bag_files: &'a [(String, PathBuf)],
}

/// Step 5: stage, verify, publish, register, log (the commit protocol), with the
/// formats identified on a thread beside the build; then the run's state, and the
/// intake copy removed if asked. A failure to read the item's own files (unreadable,
/// changed while read) refuses this item only; a failure to write the archive (a full
/// disk) stops the run, since every other item would meet it too.
fn commit_and_record(
    ctx: &ItemContext<'_>,
    state: &mut ArchiveState,
    past: &mut Past,
    mut item: ItemReport,
    c: ItemCommit<'_>,
) -> Result<ItemReport, Error> {
    let ItemCommit {
        id,
        name,
        path,
        is_dir,
        record,
        sidecar,
        walk,
        bag_files,
    } = c;
    let run_formats = ctx.formats;
    let committed = std::thread::scope(|scope| {
        let pending = scope.spawn(|| run_formats.item(bag_files, true));
        let mut change = IngestChange {
            ctx,
            id,
            name,
            path,
            record,
            sidecar,
            walk,
            excluded: &item.excluded,
            built: None,
            formats: None,
            past,
            duplicate_of: Vec::new(),
            refused_as_duplicate: None,
        };
        let committed = commit_item(&mut change, pending);
        let duplicate = (
            std::mem::take(&mut change.duplicate_of),
            change.refused_as_duplicate.take(),
        );
        (committed, change.formats.take(), duplicate)
    });
    let (committed, formats, (duplicate_of, refused_as_duplicate)) = committed;
    if let Some(formats) = &formats {
        item.warnings.extend(formats.warnings.iter().cloned());
    }
    if let Some(why) = refused_as_duplicate {
        return Ok(item.refuse(format!("{name}: {why}")));
    }
    item.duplicate_of = duplicate_of.iter().map(|k| k.id.clone()).collect();
    let entry = match committed {
        Ok(entry) => entry,
        // The format policy refused a file: nothing was published.
        Err(Error::Refused { .. }) if formats.as_ref().is_some_and(|f| !f.refusals.is_empty()) => {
            item.problems
                .extend(formats.into_iter().flat_map(|f| f.refusals));
            item.outcome = Outcome::Refused;
            return Ok(item);
        }
        Err(Error::Io {
            op,
            path: p,
            source,
        }) if p.starts_with(path) => {
            return Ok(item.refuse(format!(
                "{}: cannot {op}: {source}; nothing was archived",
                p.display()
            )));
        }
        Err(e) => return Err(e),
    };
    past.add_committed(&entry);
    state.add(entry);
    item.outcome = Outcome::Ingested;
    if ctx.opts.remove_source {
        failpoint::hit("ingest-before-remove-source");
        remove_source(path, is_dir)?;
        item.removed_source = true;
    }
    Ok(item)
}

/// Why a name may not enter the archive, if it may not. BagIt itself can carry any
/// UTF-8 name (Cairn's `bag create` encodes CR, LF and `%` exactly as RFC 8493 says),
/// but the archive's bags must also pass other tools: a control character in a name
/// breaks line-based tools and bag-info.txt, and bagit-python mishandles every `%`
/// (docs/percent-encoding.md). Such names are refused with the reason, never renamed.
fn unportable_name(name: &str) -> Option<&'static str> {
    if name.chars().any(char::is_control) {
        Some(
            "the name contains a control character (such as a line break); rename it before ingest",
        )
    } else if name.contains('%') {
        Some("the name contains `%`, which many BagIt tools misread as an escape (bagit-python cannot validate such a bag); rename it before ingest")
    } else {
        None
    }
}

/// Pairs of the item's names (files and folders, item-relative) that differ only in
/// case or Unicode normalisation (the key Cairn's zip reader compares names by: NFC,
/// lower case), each pair once, in name order.
fn name_twins(walk: &Walk) -> Vec<(String, String)> {
    let mut all: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for rel in walk
        .files
        .iter()
        .map(|f| f.rel.as_str())
        .chain(walk.dirs.iter().map(String::as_str))
    {
        // Every folder on the way: `Scans/1.tif` and `scans/2.tif` meet in the folder.
        let mut end = 0;
        for (i, c) in rel.char_indices() {
            if c == '/' {
                all.insert(&rel[..i]);
            }
            end = i + c.len_utf8();
        }
        all.insert(&rel[..end]);
    }
    let mut first: HashMap<String, &str> = HashMap::new();
    let mut twins = Vec::new();
    for n in all {
        match first.entry(nfc(n).to_lowercase()) {
            std::collections::hash_map::Entry::Occupied(o) => {
                twins.push((o.get().to_string(), n.to_string()));
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(n);
            }
        }
    }
    twins
}

/// One file's digests, one per algorithm.
type FileDigests = Vec<(Algorithm, Digest)>;

/// Each file's bag path and digests under `algorithms` (a dry run's comparison with
/// the archive's past).
fn hash_files(walk: &Walk, algorithms: &[Algorithm]) -> Result<Vec<(String, FileDigests)>, Error> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut out = Vec::with_capacity(walk.files.len());
    for f in &walk.files {
        let file = crate::fs::open_read(&f.disk).map_err(|e| Error::io("open", &f.disk, e))?;
        let d =
            hash_reader(file, algorithms, &mut buf).map_err(|e| Error::io("read", &f.disk, e))?;
        out.push((format!("data/{}", f.rel), d.values));
    }
    Ok(out)
}

/// Whether the intake item holds exactly the payload an entry recorded (same paths,
/// same digests), hashing it with the entry's first algorithm.
fn same_payload(entry: &RegisterEntry, walk: &Walk) -> Result<bool, Error> {
    let Some(&(alg, _)) = entry.files.first().and_then(|f| f.digests.iter().next()) else {
        return Ok(false);
    };
    let recorded: HashMap<&str, &Digest> = entry
        .files
        .iter()
        .filter_map(|f| f.digests.get(alg).map(|d| (f.path.as_str(), d)))
        .collect();
    if recorded.len() != walk.files.len() {
        return Ok(false);
    }
    let mut buf = vec![0u8; BUF_SIZE];
    for f in &walk.files {
        let bag_path = format!("data/{}", f.rel);
        let Some(want) = recorded.get(bag_path.as_str()) else {
            return Ok(false);
        };
        let file = crate::fs::open_read(&f.disk).map_err(|e| Error::io("open", &f.disk, e))?;
        let d = hash_reader(file, &[alg], &mut buf).map_err(|e| Error::io("read", &f.disk, e))?;
        if d.get(alg) != Some(*want) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn remove_source(path: &Path, is_dir: bool) -> Result<(), Error> {
    if is_dir {
        crate::fs::remove_tree(path, "remove intake item")?;
    } else {
        crate::fs::remove_file(path, "remove intake item")?;
    }
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}
