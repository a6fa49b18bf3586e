//! `ingest`: every item waiting in intake/ becomes a verified bag in archive/, with a
//! register entry and events, or is refused with its reasons, leaving the others be.
//!
//! Order for one item (docs/ingest.md): plan (walk, metadata, identifier, duplicate
//! check) here, then the commit protocol ([`crate::ops::commit`]) with an
//! [`IngestChange`]: copy into archive/.staging/ID while hashing → tag files
//! (metadata/dc.xml, dc.json; bagit.txt last) → fsync → full validation of the staged
//! bag → no-replace rename to archive/ID → register entry (written once) → events; only
//! then, with --remove-source, delete the intake item. Each step is safe to interrupt:
//! the protocol's recovery runs first in every run.
//!
//! This file plans and reports; `change.rs` is the [`IngestChange`] the protocol drives
//! (build, register entry, events).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bagit::{validate, ValidateOptions};
use crate::clock::Clock;
use crate::digest::{hash_reader, Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::{identifier_to_folder, reserved_identifier, Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::durable::sync_dir;
use crate::fs::failpoint;
use crate::fs::register::RegisterEntry;
use crate::fs::walk::{measure, walk_source, SourceFile, Walk};
use crate::metadata::{self, DublinCore, Sheet, SIDECAR_NAME};
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::commit::{recover, ArchiveState};
use crate::ops::formats::Annotator;
use crate::progress;

mod change;
pub mod past;

use change::{commit_item, IngestChange};
use past::Past;

/// The batch metadata sheet's name in intake/.
pub const SHEET_NAME: &str = "metadata.csv";

/// Names directly under intake/ that are never items.
fn is_reserved(name: &str) -> bool {
    name.starts_with('.')
        || name == SHEET_NAME
        || matches!(name, "README" | "README.md" | "README.txt")
}

/// Options for [`ingest`].
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Another intake folder than the configured one.
    pub intake: Option<PathBuf>,
    /// Check everything and report; write nothing.
    pub dry_run: bool,
    /// Delete each intake item once its bag is committed, registered and logged.
    pub remove_source: bool,
    /// Identifiers whose content may be archived again (`--allow-duplicate-of`): an
    /// item matching one of them is ingested, and its ingestion event names the match.
    pub allow_duplicate_of: Vec<String>,
}

/// What happened to one intake item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ingested,
    WouldIngest,
    AlreadyArchived,
    Refused,
}

/// One intake item's report.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    /// The item's name in intake/.
    pub name: String,
    pub outcome: Outcome,
    pub id: Option<String>,
    pub title: Option<String>,
    pub files: u64,
    pub bytes: u64,
    pub removed_source: bool,
    /// Why it was refused (each names what and where).
    pub problems: Vec<String>,
    /// Format warnings (damage, the format policy), each naming the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Files left out of the item by `ingest.exclude` (item-relative paths).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    /// Already archived as this earlier version of `id` (kept by `revise`), not as the
    /// current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Ingested although its content matches these items (`--allow-duplicate-of`);
    /// the ingestion event names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_of: Vec<String>,
}

impl ItemReport {
    fn new(name: &str) -> ItemReport {
        ItemReport {
            name: name.to_string(),
            outcome: Outcome::Refused,
            id: None,
            title: None,
            files: 0,
            bytes: 0,
            removed_source: false,
            problems: Vec::new(),
            warnings: Vec::new(),
            excluded: Vec::new(),
            version: None,
            duplicate_of: Vec::new(),
        }
    }

    fn refuse(mut self, problem: impl Into<String>) -> ItemReport {
        self.outcome = Outcome::Refused;
        self.problems.push(problem.into());
        self
    }
}

/// The whole run's report.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub dry_run: bool,
    pub intake: PathBuf,
    pub items: Vec<ItemReport>,
    /// Problems with metadata.csv as a whole (parse errors, rows naming no item).
    pub sheet_problems: Vec<String>,
    /// What the start-up recovery did after an interrupted run.
    pub recovered: Vec<String>,
    /// Names at the top of intake that are not items (`ingest.exclude`), skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

impl IngestReport {
    /// True when no item was refused and the sheet had no problems.
    pub fn is_ok(&self) -> bool {
        self.sheet_problems.is_empty() && self.items.iter().all(|i| i.outcome != Outcome::Refused)
    }
}

/// Ingests every item waiting in intake/, then runs the write policy
/// ([`crate::ops::after_write`]) on the items ingested (not after a dry run).
pub fn ingest(
    archive: &Archive,
    opts: &IngestOptions,
    clock: &dyn Clock,
) -> Result<IngestReport, Error> {
    let mut report = ingest_inner(archive, opts, clock)?;
    if !opts.dry_run {
        let ingested: Vec<String> = report
            .items
            .iter()
            .filter(|i| i.outcome == Outcome::Ingested)
            .filter_map(|i| i.id.clone())
            .collect();
        report.after_write = after_write(archive, &ingested, clock);
    }
    Ok(report)
}

/// [`ingest`] under the archive's lock, before the write policy.
fn ingest_inner(
    archive: &Archive,
    opts: &IngestOptions,
    clock: &dyn Clock,
) -> Result<IngestReport, Error> {
    let intake = opts
        .intake
        .clone()
        .unwrap_or_else(|| archive.intake.clone());
    if !intake.is_dir() {
        return Err(Error::io(
            "read intake folder",
            &intake,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        ));
    }
    // A dry run writes nothing, not even the lock file's holder line.
    let (lock, _shared) = if opts.dry_run {
        (None, archive.lock_shared()?)
    } else {
        (Some(archive.lock("ingest")?), None)
    };
    let algorithms = archive
        .config
        .algorithms()
        .map_err(|e| Error::Usage(format!("cairn.toml: ingest.algorithms: {e}")))?;
    let max_value = archive
        .config
        .max_value_size()
        .map_err(|e| Error::Usage(format!("cairn.toml: ingest.max_value_size: {e}")))?;
    let mut report = IngestReport {
        dry_run: opts.dry_run,
        intake: intake.clone(),
        items: Vec::new(),
        sheet_problems: Vec::new(),
        recovered: Vec::new(),
        skipped: Vec::new(),
        after_write: AfterWrite::default(),
    };
    if let Some(lock) = &lock {
        report.recovered = recover(archive, lock, clock, &Annotator)?;
    }
    let mut state = ArchiveState::load(archive)?;
    let mut past = Past::load(archive)?;

    // The batch sheet. If it cannot be read, no item gets metadata from it: better to
    // refuse everything than to ingest with half the descriptions.
    let sheet_path = intake.join(SHEET_NAME);
    let mut sheet_broken = false;
    // The rows of a sheet refused for its errors: used only to report their problems.
    let mut partial: Option<Sheet> = None;
    let sheet: Option<Sheet> = match crate::fs::read_if_present(&sheet_path)? {
        Some(bytes) => match metadata::parse_sheet(&bytes) {
            Ok(s) => Some(s),
            Err(errors) => {
                sheet_broken = true;
                for e in &errors.errors {
                    report
                        .sheet_problems
                        .push(format!("{}: {e}", sheet_path.display()));
                }
                // Every problem of the sheet in one run: the rows' own problems too,
                // not only after the header is fixed (unless the header itself could not
                // be read, when the rows mean nothing).
                let header_unread = errors.errors.iter().any(|e| {
                    matches!(
                        e,
                        metadata::SheetError::SemicolonSeparated { .. }
                            | metadata::SheetError::FirstColumnNotFilename { .. }
                    )
                });
                for row in errors.rows.rows.iter().filter(|_| !header_unread) {
                    for p in metadata::validate_record(&row.record) {
                        report.sheet_problems.push(format!(
                            "{}: line {}: {}: {p}",
                            sheet_path.display(),
                            row.line,
                            crate::quoted(&row.item)
                        ));
                    }
                }
                if !header_unread {
                    partial = Some(errors.rows);
                }
                None
            }
        },
        None => None,
    };

    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in crate::fs::list_dir(&intake)? {
        let file_name = entry.file_name().unwrap_or_default();
        match file_name.to_str() {
            Some(n) if crate::config::excluded(n, &archive.config.ingest.exclude) => {
                report.skipped.push(n.to_string());
            }
            Some(n) if is_reserved(n) => {}
            Some(n) => names.push((n.to_string(), entry.clone())),
            None => {
                let shown = file_name.to_string_lossy().into_owned();
                report.items.push(ItemReport::new(&shown).refuse(format!(
                    "{}: the name is not valid UTF-8; rename it so it can be recorded exactly",
                    entry.display()
                )));
            }
        }
    }
    names.sort();
    // Item names in intake and of archived items, in NFC, built once: each sheet row
    // below is then looked up, not compared with every name and every entry (which was
    // rows × (names + entries) normalisations).
    let in_intake: HashSet<String> = names.iter().map(|(n, _)| nfc(n)).collect();
    let in_archive: HashSet<String> = state
        .entries
        .values()
        .map(|e| nfc(&e.intake_name))
        .collect();

    let formats = crate::ops::formats::RunFormats::new(archive);
    if !names.is_empty() {
        formats.start_loading();
    }

    // One identifier, one item: two rows giving the same dc.identifier are one conflict
    // naming both rows, and both items are refused. A row of an item archived earlier
    // and gone from intake is left out: its identifier is checked against the archive.
    let mut conflicts: BTreeMap<String, String> = BTreeMap::new();
    if let Some(rows) = sheet.as_ref().or(partial.as_ref()) {
        let mut by_identifier: HashMap<&str, &metadata::SheetRow> = HashMap::new();
        for row in &rows.rows {
            let key = nfc(&row.item);
            let (present, archived) = (in_intake.contains(&key), in_archive.contains(&key));
            if archived && !present {
                continue;
            }
            for identifier in row.record.identifiers() {
                let Some(first) = by_identifier.get(identifier) else {
                    by_identifier.insert(identifier, row);
                    continue;
                };
                report.sheet_problems.push(format!(
                    "{}: lines {} and {}: {} and {} have the same dc.identifier {}; an identifier names one item: correct one of the two rows",
                    sheet_path.display(),
                    first.line,
                    row.line,
                    crate::quoted(&first.item),
                    crate::quoted(&row.item),
                    crate::quoted(identifier)
                ));
                for (this, other) in [(*first, row), (row, *first)] {
                    conflicts.insert(
                        nfc(&this.item),
                        format!(
                            "dc.identifier {} is also given to {} on line {} of metadata.csv; correct one of the two rows",
                            crate::quoted(identifier),
                            crate::quoted(&other.item),
                            other.line
                        ),
                    );
                }
            }
        }
    }

    let ctx = ItemContext {
        formats: &formats,
        archive,
        lock: lock.as_ref(),
        algorithms: &algorithms,
        sheet: sheet.as_ref(),
        sheet_broken,
        sheet_by_lower: sheet
            .iter()
            .flat_map(|s| s.rows.iter().enumerate())
            .rev()
            .map(|(i, r)| (r.item.trim().to_lowercase(), i))
            .collect(),
        conflicts: &conflicts,
        max_value,
        opts,
        clock,
    };
    // Progress: when someone watches, every item is measured first so that the bar
    // has the run's totals. Each byte is read twice, copied then read back.
    let plan: Vec<(u64, u64)> = if progress::watched() && !opts.dry_run {
        names
            .iter()
            .map(|(_, p)| measure(p, &[SIDECAR_NAME]))
            .collect()
    } else {
        Vec::new()
    };
    let _run = progress::phase(
        "ingest",
        plan.iter().map(|p| 2 * p.0).sum(),
        plan.iter().map(|p| 2 * p.1).sum(),
    );
    let (mut files_planned, mut bytes_planned) = (0, 0);
    for (i, (name, path)) in names.iter().enumerate() {
        progress::item(name);
        let item = ingest_item(&ctx, &mut state, &mut past, name, path)?;
        if let Some((files, bytes)) = plan.get(i) {
            files_planned += 2 * files;
            bytes_planned += 2 * bytes;
            progress::reach(files_planned, bytes_planned);
        }
        report.items.push(item);
    }

    // Sheet rows that name no item: a typo, or an item that was never dropped in.
    if let Some(sheet) = &sheet {
        // The first intake name of each lower-case form, for the hint (built once).
        let mut names_by_lower: HashMap<String, &str> = HashMap::new();
        for (n, _) in &names {
            names_by_lower.entry(n.to_lowercase()).or_insert(n);
        }
        for row in &sheet.rows {
            let key = nfc(&row.item);
            let (present, archived) = (in_intake.contains(&key), in_archive.contains(&key));
            if !present && !archived {
                // A name that differs only in case: most likely the one meant.
                let hint = names_by_lower
                    .get(&row.item.trim().to_lowercase())
                    .map(|n| {
                        format!(
                            "; did you mean {}? (names must match exactly, case and spaces included)",
                            crate::quoted(n)
                        )
                    })
                    .unwrap_or_default();
                report.sheet_problems.push(format!(
                    "{}:{}: the row names {}, which is not an item in {}{hint}",
                    sheet_path.display(),
                    row.line,
                    crate::quoted(&row.item),
                    intake.display()
                ));
            }
        }
    }
    Ok(report)
}

struct ItemContext<'a> {
    formats: &'a crate::ops::formats::RunFormats<'a>,
    archive: &'a Archive,
    /// Held for real runs; `None` for a dry run, which never commits.
    lock: Option<&'a ArchiveLock>,
    algorithms: &'a [Algorithm],
    sheet: Option<&'a Sheet>,
    sheet_broken: bool,
    /// The sheet's item names in lower case, to their row (the hint for an item with no
    /// row: built once, not a pass over the rows per item).
    sheet_by_lower: HashMap<String, usize>,
    /// Items (their names in NFC) whose row shares its dc.identifier with another row,
    /// and why.
    conflicts: &'a BTreeMap<String, String>,
    /// The largest metadata value accepted, in bytes (`ingest.max_value_size`).
    max_value: usize,
    opts: &'a IngestOptions,
    clock: &'a dyn Clock,
}

fn ingest_item(
    ctx: &ItemContext<'_>,
    state: &mut ArchiveState,
    past: &mut Past,
    name: &str,
    path: &Path,
) -> Result<ItemReport, Error> {
    let mut item = ItemReport::new(name);
    let meta = match crate::fs::lstat(path) {
        Ok(m) => m,
        Err(Error::Io { source, .. }) => {
            return Ok(item.refuse(format!("{}: cannot read: {source}", path.display())))
        }
        Err(e) => return Err(e),
    };
    let is_dir = meta.is_dir();
    if !is_dir && !meta.is_file() {
        return Ok(item.refuse(format!(
            "{}: a symbolic link, fifo or device is not an item; put the real files in a folder",
            path.display()
        )));
    }

    // 1. The files, without the clutter `ingest.exclude` names.
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
    // 2. Already archived? Same intake name and size as any recorded version of an
    // item (current, kept by `revise`, or withdrawn): hash to be sure. Before the
    // metadata: an item archived earlier and still in intake (the default keeps it) has
    // no row in the next batch's metadata.csv, and is not a new item without metadata.
    let oxum = format!("{}.{}", walk.total_bytes, walk.files.len());
    let candidates_exist = walk.refused.is_empty();
    let candidates: Vec<(past::Known, RegisterEntry)> = if candidates_exist {
        past.with_intake(ctx.archive, name, &oxum)?
    } else {
        Vec::new()
    };
    for (known, entry) in &candidates {
        if same_payload(entry, &walk)? {
            if known.withdrawn.is_some() {
                // Withdrawn content does not come back by a rerun either.
                let matched = [past::Match {
                    known: known.clone(),
                    file: None,
                }];
                match past::refusal(&matched, &ctx.opts.allow_duplicate_of, "ingested") {
                    Some(why) => return Ok(item.refuse(format!("{name}: {why}"))),
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
            return Ok(item);
        }
    }

    // 3. Metadata: the sheet's row, then the sidecar field by field.
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
        return Ok(item.refuse(format!("{}: {why}{hint}", path.display())));
    };
    item.title = record.title().map(str::to_string);
    if let Some(why) = ctx.conflicts.get(&nfc(name)) {
        item.problems.push(format!("{name}: {why}"));
    }
    for p in metadata::validate_record(&record) {
        item.problems.push(format!("{name}: {p}"));
    }
    for p in metadata::oversized_values(&record, ctx.max_value) {
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
    for (a, b) in name_twins(&walk) {
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
        return Ok(item);
    }

    // The dry run's digests of the item, so that the rest of the run sees it.
    let mut planned: Option<Vec<(String, FileDigests)>> = None;
    // 3b. Formats: identification, technical metadata, the format policy. A real run
    // identifies them beside the build (step 5); a dry run, here.
    let bag_files: Vec<(String, PathBuf)> = walk
        .files
        .iter()
        .map(|f| (format!("data/{}", f.rel), f.disk.clone()))
        .collect();
    if ctx.opts.dry_run {
        // A real run compares the digests the build computes; a dry run reads the
        // files once here, to say the same.
        let hashed = match hash_files(&walk, ctx.algorithms) {
            Ok(h) => h,
            Err(Error::Io {
                op,
                path: p,
                source,
            }) if p.starts_with(path) => {
                return Ok(item.refuse(format!("{}: cannot {op}: {source}", p.display())));
            }
            Err(e) => return Err(e),
        };
        let files: Vec<(&str, &[(Algorithm, Digest)])> = hashed
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        let matches = past.matches(&files);
        if let Some(why) = past::refusal(&matches, &ctx.opts.allow_duplicate_of, "ingested") {
            return Ok(item.refuse(format!("{name}: {why}")));
        }
        item.duplicate_of = matches.iter().map(|m| m.known.id.clone()).collect();
        planned = Some(hashed);
        let formats = ctx.formats.item(&bag_files, true)?;
        item.warnings.extend(formats.warnings.iter().cloned());
        if !formats.refusals.is_empty() {
            item.problems.extend(formats.refusals.iter().cloned());
            item.outcome = Outcome::Refused;
            return Ok(item);
        }
    }

    // 4. The identifier.
    let id = match record.identifiers().first() {
        Some(given) => match identifier_to_folder(given) {
            Err(e) => return Ok(item.refuse(format!("{name}: {e}"))),
            Ok(id) => {
                let clash = state.with_identifier(given);
                if let Some(other) = clash {
                    return Ok(item.refuse(format!(
                        "{name}: dc.identifier {} is already the identifier of {} (intake name {}); identifiers are never reused",
                        crate::quoted(given), other.id, crate::quoted(&other.intake_name)
                    )));
                }
                if state.used.contains(&id) {
                    return Ok(item.refuse(format!(
                        "{name}: dc.identifier {} gives the folder name {id}, which is already in use; identifiers are never reused",
                        crate::quoted(given)
                    )));
                }
                if let Some(why) = reserved_identifier(&id) {
                    return Ok(item.refuse(format!(
                        "{name}: dc.identifier {} cannot name an item: {why}; choose another identifier",
                        crate::quoted(given)
                    )));
                }
                for candidate in [given.to_string(), id.clone()] {
                    if let Some(other) = past.folded_clash(&candidate) {
                        return Ok(item.refuse(format!(
                            "{name}: dc.identifier {} differs from the identifier {} of an item archived earlier only in case or Unicode normalisation: the two would be one name on many file systems and replicas; choose another identifier",
                            crate::quoted(given),
                            crate::quoted(other)
                        )));
                    }
                }
                id
            }
        },
        None => state.next_generated(&ctx.archive.config.ingest.identifier_prefix),
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

    // 5. Stage, verify, publish, register, log. A failure to read the item's own files
    // (unreadable, changed while read) refuses this item only; a failure to write the
    // archive (a full disk) stops the run, since every other item would meet it too.
    let run_formats = ctx.formats;
    let committed = std::thread::scope(|scope| {
        let pending = scope.spawn(|| run_formats.item(&bag_files, true));
        let mut change = IngestChange {
            ctx,
            id: &id,
            name,
            path,
            record: &record,
            sidecar: sidecar_bytes,
            walk: &walk,
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

/// A name in Unicode NFC: two names are the same item when their NFC forms are equal
/// ([`metadata::same_item_name`]).
fn nfc(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().collect()
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
