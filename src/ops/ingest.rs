//! `ingest`: every item waiting in intake/ becomes a verified bag in archive/, with a
//! register entry and events, or is refused with its reasons, leaving the others be.
//!
//! Order for one item (docs/ingest.md): plan (walk, metadata, identifier) → copy into
//! archive/.staging/ID while hashing → tag files (metadata/dc.xml, dc.json; bagit.txt
//! last) → fsync → full validation of the staged bag → no-replace rename to archive/ID
//! → register entry (written once) → events → only then, with --remove-source, delete
//! the intake item. Each step is safe to interrupt: the next run (under the same lock)
//! discards staging, records a published bag that has no register entry, and appends
//! the events of a registered item that has none.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bagit::source::BagSource;
use crate::bagit::{validate, Mode, ValidateOptions, ValidateReport};
use crate::clock::Clock;
use crate::digest::{hash_reader, Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::format::{sniff_mime, HEAD_LEN};
use crate::fs::archive::{identifier_to_folder, Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::durable::{rename_no_replace, sync_dir};
use crate::fs::events::NewEvent;
use crate::fs::failpoint;
use crate::fs::walk::{measure, walk_source, SourceFile, Walk};
use crate::metadata::{self, DublinCore, Sheet, SIDECAR_NAME};
use crate::ops::create::{build_bag, BuildOptions, BuiltBag};
use crate::progress;
use crate::register::{DigestMap, FileRecord, RegisterEntry};

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
    /// Files left out of the item by `ingest.exclude` (item-relative paths).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
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
            excluded: Vec::new(),
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
}

impl IngestReport {
    /// True when no item was refused and the sheet had no problems.
    pub fn is_ok(&self) -> bool {
        self.sheet_problems.is_empty() && self.items.iter().all(|i| i.outcome != Outcome::Refused)
    }
}

/// Ingests every item waiting in intake/.
pub fn ingest(
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
    let mut report = IngestReport {
        dry_run: opts.dry_run,
        intake: intake.clone(),
        items: Vec::new(),
        sheet_problems: Vec::new(),
        recovered: Vec::new(),
        skipped: Vec::new(),
    };
    if let Some(lock) = &lock {
        report.recovered = recover(archive, lock, clock)?;
    }
    let mut state = ArchiveState::load(archive)?;

    // The batch sheet. If it cannot be read, no item gets metadata from it: better to
    // refuse everything than to ingest with half the descriptions.
    let sheet_path = intake.join(SHEET_NAME);
    let mut sheet_broken = false;
    // The rows of a sheet refused for its errors: used only to report their problems.
    let mut partial: Option<Sheet> = None;
    let sheet: Option<Sheet> = match fs::read(&sheet_path) {
        Ok(bytes) => match metadata::parse_sheet(&bytes) {
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read", &sheet_path, e)),
    };

    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&intake).map_err(|e| Error::io("read folder", &intake, e))? {
        let entry = entry.map_err(|e| Error::io("read folder", &intake, e))?;
        match entry.file_name().to_str() {
            Some(n) if crate::config::excluded(n, &archive.config.ingest.exclude) => {
                report.skipped.push(n.to_string());
            }
            Some(n) if is_reserved(n) => {}
            Some(n) => names.push((n.to_string(), entry.path())),
            None => {
                let shown = entry.file_name().to_string_lossy().into_owned();
                report.items.push(ItemReport::new(&shown).refuse(format!(
                    "{}: the name is not valid UTF-8; rename it so it can be recorded exactly",
                    entry.path().display()
                )));
            }
        }
    }
    names.sort();

    // One identifier, one item: two rows giving the same dc.identifier are one conflict
    // naming both rows, and both items are refused. A row of an item archived earlier
    // and gone from intake is left out: its identifier is checked against the archive.
    let mut conflicts: BTreeMap<String, String> = BTreeMap::new();
    if let Some(rows) = sheet.as_ref().or(partial.as_ref()) {
        let mut by_identifier: HashMap<&str, &metadata::SheetRow> = HashMap::new();
        for row in &rows.rows {
            let present = names
                .iter()
                .any(|(n, _)| metadata::same_item_name(n, &row.item));
            let archived = state
                .entries
                .values()
                .any(|e| metadata::same_item_name(&e.intake_name, &row.item));
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
                        this.item.clone(),
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
        archive,
        lock: lock.as_ref(),
        algorithms: &algorithms,
        sheet: sheet.as_ref(),
        sheet_broken,
        conflicts: &conflicts,
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
        let item = ingest_item(&ctx, &mut state, name, path)?;
        if let Some((files, bytes)) = plan.get(i) {
            files_planned += 2 * files;
            bytes_planned += 2 * bytes;
            progress::reach(files_planned, bytes_planned);
        }
        report.items.push(item);
    }

    // Sheet rows that name no item: a typo, or an item that was never dropped in.
    if let Some(sheet) = &sheet {
        for row in &sheet.rows {
            let present = names
                .iter()
                .any(|(n, _)| metadata::same_item_name(n, &row.item));
            let archived = state
                .entries
                .values()
                .any(|e| metadata::same_item_name(&e.intake_name, &row.item));
            if !present && !archived {
                // A name that differs only in case: most likely the one meant.
                let lower = row.item.to_lowercase();
                let hint = names
                    .iter()
                    .find(|(n, _)| n.to_lowercase() == lower)
                    .map(|(n, _)| {
                        format!(
                            "; did you mean {}? (names must match exactly, case included)",
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

/// What the archive holds, for identifiers and duplicates.
pub(crate) struct ArchiveState {
    pub(crate) entries: BTreeMap<String, RegisterEntry>,
    /// Every identifier ever used: bags, register entries, and objects in the log.
    pub(crate) used: BTreeSet<String>,
}

impl ArchiveState {
    pub(crate) fn load(archive: &Archive) -> Result<ArchiveState, Error> {
        let mut used: BTreeSet<String> = archive.bag_ids()?.into_iter().collect();
        let mut entries = BTreeMap::new();
        for id in archive.register_ids()? {
            let entry = RegisterEntry::read(&archive.register_path(&id))?;
            used.insert(id.clone());
            entries.insert(id, entry);
        }
        let log = archive.read_events()?;
        for e in &log.events {
            if !e.object.is_empty() {
                used.insert(e.object.clone());
            }
        }
        Ok(ArchiveState { entries, used })
    }

    /// The next generated identifier: the prefix and one more than the highest number
    /// ever used with it.
    pub(crate) fn next_generated(&self, prefix: &str) -> String {
        let max = self
            .used
            .iter()
            .filter_map(|id| id.strip_prefix(prefix))
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|rest| rest.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        format!("{prefix}{:06}", max + 1)
    }
}

struct ItemContext<'a> {
    archive: &'a Archive,
    /// Held for real runs; `None` for a dry run, which never commits.
    lock: Option<&'a ArchiveLock>,
    algorithms: &'a [Algorithm],
    sheet: Option<&'a Sheet>,
    sheet_broken: bool,
    /// Items whose row shares its dc.identifier with another row, and why.
    conflicts: &'a BTreeMap<String, String>,
    opts: &'a IngestOptions,
    clock: &'a dyn Clock,
}

fn ingest_item(
    ctx: &ItemContext<'_>,
    state: &mut ArchiveState,
    name: &str,
    path: &Path,
) -> Result<ItemReport, Error> {
    let mut item = ItemReport::new(name);
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return Ok(item.refuse(format!("{}: cannot read: {e}", path.display()))),
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
    // 2. Already archived? Same intake name and size: hash to be sure. Before the
    // metadata: an item archived earlier and still in intake (the default keeps it) has
    // no row in the next batch's metadata.csv, and is not a new item without metadata.
    let oxum = format!("{}.{}", walk.total_bytes, walk.files.len());
    let candidates_exist = walk.refused.is_empty();
    let candidates: Vec<&RegisterEntry> = state
        .entries
        .values()
        .filter(|e| candidates_exist && e.intake_name == name && e.payload_oxum == oxum)
        .collect();
    for entry in candidates {
        if same_payload(entry, &walk)? {
            item.outcome = Outcome::AlreadyArchived;
            item.id = Some(entry.id.clone());
            if ctx.opts.remove_source && !ctx.opts.dry_run {
                // The intake copy may be the last good one: delete it only if the
                // archived bag still verifies in full.
                let bag = ctx.archive.bag_path(&entry.id);
                let check = validate(&DirSource::open(&bag)?, &ValidateOptions::default())?;
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
        match fs::read(&sidecar) {
            Ok(bytes) => {
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => item
                .problems
                .push(format!("{}: cannot read: {e}", sidecar.display())),
        }
    }
    let Some(record) = record else {
        let why = if ctx.sheet_broken {
            "no usable metadata: metadata.csv has errors (listed above) and the item has no cairn.dc.json"
        } else {
            "no metadata: add a row to metadata.csv or a cairn.dc.json inside the item"
        };
        let lower = name.to_lowercase();
        let hint = ctx
            .sheet
            .and_then(|s| s.rows.iter().find(|r| r.item.to_lowercase() == lower))
            .map(|r| {
                format!(
                    "; metadata.csv line {} names {}: did you mean this item? (names must match exactly, case included)",
                    r.line,
                    crate::quoted(&r.item)
                )
            })
            .unwrap_or_default();
        return Ok(item.refuse(format!("{}: {why}{hint}", path.display())));
    };
    item.title = record.title().map(str::to_string);
    if let Some((_, why)) = ctx
        .conflicts
        .iter()
        .find(|(row_item, _)| metadata::same_item_name(row_item, name))
    {
        item.problems.push(format!("{name}: {why}"));
    }
    for p in metadata::validate_record(&record) {
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

    // 4. The identifier.
    let id = match record.identifiers().first() {
        Some(given) => match identifier_to_folder(given) {
            Err(e) => return Ok(item.refuse(format!("{name}: {e}"))),
            Ok(id) => {
                let clash = state.entries.values().find(|e| {
                    e.dublin_core
                        .get("dc.identifier")
                        .and_then(|v| v.as_array())
                        .is_some_and(|vals| vals.iter().any(|v| v.as_str() == Some(given)))
                });
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
                id
            }
        },
        None => state.next_generated(&ctx.archive.config.ingest.identifier_prefix),
    };
    item.id = Some(id.clone());
    if ctx.opts.dry_run {
        item.outcome = Outcome::WouldIngest;
        state.used.insert(id);
        return Ok(item);
    }

    // 5. Stage, verify, publish, register, log. A failure to read the item's own files
    // (unreadable, changed while read) refuses this item only; a failure to write the
    // archive (a full disk) stops the run, since every other item would meet it too.
    let entry = match commit_item(
        ctx,
        &id,
        name,
        &record,
        sidecar_bytes,
        &walk,
        &item.excluded,
    ) {
        Ok(entry) => entry,
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
    state.used.insert(id.clone());
    state.entries.insert(id.clone(), entry);
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

fn commit_item(
    ctx: &ItemContext<'_>,
    id: &str,
    name: &str,
    record: &DublinCore,
    sidecar: Option<Vec<u8>>,
    walk: &Walk,
    excluded: &[String],
) -> Result<RegisterEntry, Error> {
    if ctx.lock.is_none() {
        return Err(Error::Usage("a dry run reached the commit step".into()));
    }
    let archive = ctx.archive;
    let config = &archive.config.ingest;
    let staging_root = archive.staging();
    if !staging_root.exists() {
        fs::create_dir(&staging_root).map_err(|e| Error::io("create", &staging_root, e))?;
        sync_dir(&archive.bags)?;
    }
    let staged = staging_root.join(id);
    fs::create_dir(&staged).map_err(|e| Error::io("create staging folder", &staged, e))?;

    let mut info: Vec<(String, String)> = Vec::new();
    if !config.source_organization.is_empty() {
        info.push((
            "Source-Organization".into(),
            config.source_organization.clone(),
        ));
    }
    let external_id = record
        .identifiers()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| id.to_string());
    info.push(("External-Identifier".into(), external_id));
    if let Some(d) = record
        .first(metadata::Element::Description.term())
        .or(record.title())
    {
        info.push(("External-Description".into(), d.to_string()));
    }
    if !config.collection.is_empty() {
        info.push(("Bag-Group-Identifier".into(), config.collection.clone()));
    }
    info.push(("Internal-Sender-Identifier".into(), name.to_string()));
    let mut extra_tags = vec![
        (
            "metadata/dc.xml".to_string(),
            metadata::render_oai_dc(record).into_bytes(),
        ),
        (
            "metadata/dc.json".to_string(),
            record.render_json().into_bytes(),
        ),
    ];
    if let Some(bytes) = sidecar {
        extra_tags.push((format!("metadata/{SIDECAR_NAME}"), bytes));
    }
    let build = BuildOptions {
        algorithms: ctx.algorithms.to_vec(),
        info,
        bagging_date: ctx.clock.now().date_naive(),
        extra_tags,
        sniff: true,
    };
    let built = match build_bag(&staged, &walk.files, &walk.dirs, &build) {
        Ok(b) => b,
        Err(e) => {
            let _ = fs::remove_dir_all(&staged);
            return Err(e);
        }
    };

    // Read everything back with the validator an auditor runs.
    let check = validate(&DirSource::open(&staged)?, &ValidateOptions::default())?;
    if !check.is_ok() {
        let _ = fs::remove_dir_all(&staged);
        return Err(Error::VerifyFailed {
            path: staged,
            detail: summarize(&check),
        });
    }
    failpoint::hit("ingest-before-publish");
    let bag = archive.bag_path(id);
    rename_no_replace(&staged, &bag)?;
    failpoint::hit("ingest-after-publish");

    let entry = register_entry(archive, id, name, record, &built, ctx.clock.now());
    entry.write_once(&archive.register_path(id))?;
    failpoint::hit("ingest-after-register");
    let extra = if excluded.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::json!({ "excluded": excluded })
    };
    log_ingest(archive, ctx.clock.now(), &entry, "", None, extra)?;
    failpoint::hit("ingest-after-events");
    Ok(entry)
}

pub(crate) fn summarize(check: &ValidateReport) -> String {
    check
        .problems
        .iter()
        .chain(&check.errors)
        .map(|p| format!("{}: {}: {}", p.path, p.kind, p.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

fn register_entry(
    archive: &Archive,
    id: &str,
    name: &str,
    record: &DublinCore,
    built: &BuiltBag,
    now: chrono::DateTime<chrono::Utc>,
) -> RegisterEntry {
    let files = built
        .payload
        .iter()
        .map(|(path, f)| FileRecord {
            path: path.as_str().to_string(),
            size: f.digests.len,
            mime: f
                .mime
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            digests: DigestMap::new(f.digests.values.clone()),
        })
        .collect();
    let tag_files = built
        .tag_files
        .iter()
        .map(|(name, d)| {
            (
                name.clone(),
                d.values
                    .iter()
                    .map(|(a, d)| (a.name().to_string(), d.to_hex()))
                    .collect(),
            )
        })
        .collect();
    RegisterEntry {
        id: id.to_string(),
        archived: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        software: crate::agent(),
        intake_name: name.to_string(),
        bag: relative_bag_path(archive, id),
        bagit_version: "1.0".into(),
        payload_oxum: built.payload_oxum.clone(),
        dublin_core: serde_json::to_value(record).unwrap_or(serde_json::Value::Null),
        files,
        tag_files,
    }
}

pub(crate) fn relative_bag_path(archive: &Archive, id: &str) -> String {
    let bag = archive.bag_path(id);
    bag.strip_prefix(&archive.root)
        .unwrap_or(&bag)
        .to_string_lossy()
        .into_owned()
}

/// Appends the PREMIS-style events of one ingestion. `origin` replaces the default
/// description of where the item came from (an import); `extra` adds to the ingestion
/// event's data.
pub(crate) fn log_ingest(
    archive: &Archive,
    now: chrono::DateTime<chrono::Utc>,
    entry: &RegisterEntry,
    note: &str,
    origin: Option<String>,
    extra: serde_json::Value,
) -> Result<(), Error> {
    let algs: BTreeSet<&str> = entry
        .files
        .iter()
        .flat_map(|f| f.digests.iter().map(|(a, _)| a.name()))
        .collect();
    let algs: Vec<&str> = algs.into_iter().collect();
    let id = entry.id.as_str();
    let tag_manifests: BTreeMap<&String, &BTreeMap<String, String>> = entry
        .tag_files
        .iter()
        .filter(|(n, _)| n.starts_with("tagmanifest-"))
        .collect();
    let mut data = serde_json::json!({
        "intake_name": entry.intake_name,
        "bag": entry.bag,
        "payload_oxum": entry.payload_oxum,
        "tag_manifests": tag_manifests,
    });
    if let (Some(d), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        d.extend(more);
    }
    let origin =
        origin.unwrap_or_else(|| format!("intake item {}", crate::quoted(&entry.intake_name)));
    let events = vec![
        NewEvent::new(
            "message digest calculation",
            "success",
            id,
            format!(
                "{} of {} files computed while copying{note}",
                algs.join(", "),
                entry.files.len()
            ),
        ),
        NewEvent::new(
            "validation",
            "success",
            id,
            format!(
                "the staged bag was read back and validated in full before it was committed{note}"
            ),
        ),
        NewEvent::new(
            "ingestion",
            "success",
            id,
            format!("{origin} archived as {}{note}", entry.bag),
        )
        .with_data(data),
    ];
    archive.append_events(now, &events)?;
    Ok(())
}

fn remove_source(path: &Path, is_dir: bool) -> Result<(), Error> {
    if is_dir {
        fs::remove_dir_all(path).map_err(|e| Error::io("remove intake item", path, e))?;
    } else {
        fs::remove_file(path).map_err(|e| Error::io("remove intake item", path, e))?;
    }
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Start-up recovery after an interrupted run (the lock is held, so nothing else is
/// running): discard staging, record published bags that have no register entry, and
/// log registered items that have no ingestion event. Returns what it did.
pub(crate) fn recover(
    archive: &Archive,
    _held: &ArchiveLock,
    clock: &dyn Clock,
) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    let staging = archive.staging();
    if staging.exists() {
        for entry in fs::read_dir(&staging).map_err(|e| Error::io("read folder", &staging, e))? {
            let entry = entry.map_err(|e| Error::io("read folder", &staging, e))?;
            let p = entry.path();
            fs::remove_dir_all(&p)
                .or_else(|_| fs::remove_file(&p))
                .map_err(|e| Error::io("remove stale staging", &p, e))?;
            notes.push(format!(
                "removed the unfinished staging folder {}",
                p.display()
            ));
        }
        sync_dir(&staging)?;
    }
    let log = archive.read_events()?;
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. Nothing was ingested; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    let logged: BTreeSet<&str> = log
        .events
        .iter()
        .filter(|e| e.event_type == "ingestion")
        .map(|e| e.object.as_str())
        .collect();
    let registered: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    for id in archive.bag_ids()? {
        if registered.contains(&id) {
            continue;
        }
        let bag = archive.bag_path(&id);
        let source = DirSource::open(&bag)?;
        let check = validate(
            &source,
            &ValidateOptions {
                mode: Mode::Full,
                only_algorithms: None,
                keep_digests: true,
            },
        )?;
        if !check.is_ok() {
            notes.push(format!(
                "{} has no register entry and fails validation, so it was left unregistered: {}",
                bag.display(),
                summarize(&check)
            ));
            continue;
        }
        let entry = entry_from_bag(archive, &id, &source, &check, clock.now(), None)?;
        entry.write_once(&archive.register_path(&id))?;
        notes.push(format!("registered {id}, committed by an interrupted run"));
    }
    for id in archive.register_ids()? {
        if logged.contains(id.as_str()) {
            continue;
        }
        let entry = RegisterEntry::read(&archive.register_path(&id))?;
        log_ingest(
            archive,
            clock.now(),
            &entry,
            " (recorded after an interrupted run)",
            None,
            serde_json::Value::Null,
        )?;
        notes.push(format!(
            "logged the ingestion of {id}, committed by an interrupted run"
        ));
    }
    Ok(notes)
}

/// Rebuilds a register entry from a published bag (its dc.json, bag-info and the
/// digests just verified).
pub(crate) fn entry_from_bag(
    archive: &Archive,
    id: &str,
    source: &DirSource,
    check: &ValidateReport,
    now: chrono::DateTime<chrono::Utc>,
    intake_name: Option<&str>,
) -> Result<RegisterEntry, Error> {
    let bag = archive.bag_path(id);
    let info = check.bag_info.clone().unwrap_or_default();
    let dublin_core = dublin_core_of(source, &info);
    let mut files = Vec::new();
    let mut tag_files = BTreeMap::new();
    let mut head = vec![0u8; HEAD_LEN];
    for (path, digests) in &check.computed {
        let map: BTreeMap<String, String> = digests
            .iter()
            .map(|(a, d)| (a.name().to_string(), d.to_hex()))
            .collect();
        if path.starts_with("data/") {
            let disk = crate::bagit::BagPath::parse(path)
                .map_err(|e| Error::Usage(e.to_string()))?
                .to_fs_path(&bag);
            let meta = fs::metadata(&disk).map_err(|e| Error::io("stat", &disk, e))?;
            let n = read_head(&disk, &mut head)?;
            files.push(FileRecord {
                path: path.clone(),
                size: meta.len(),
                mime: sniff_mime(&head[..n], meta.len()),
                digests: DigestMap::new(digests.clone()),
            });
        } else {
            tag_files.insert(path.clone(), map);
        }
    }
    // Tag manifests are not listed in tag manifests; hash them now.
    let mut buf = vec![0u8; BUF_SIZE];
    let algs: Vec<Algorithm> = check.algorithms.clone();
    for name in fs::read_dir(&bag).map_err(|e| Error::io("read folder", &bag, e))? {
        let name = name.map_err(|e| Error::io("read folder", &bag, e))?;
        let Some(n) = name.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if n.starts_with("tagmanifest-") && n.ends_with(".txt") {
            let bytes = source
                .read(&n)
                .map_err(|e| Error::io("read", name.path(), e))?;
            let d = hash_reader(&bytes[..], &algs, &mut buf)
                .map_err(|e| Error::io("hash", name.path(), e))?;
            tag_files.insert(
                n,
                d.values
                    .iter()
                    .map(|(a, d)| (a.name().to_string(), d.to_hex()))
                    .collect(),
            );
        }
    }
    Ok(RegisterEntry {
        id: id.to_string(),
        archived: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        software: crate::agent(),
        intake_name: intake_name
            .or(info.first("Internal-Sender-Identifier"))
            .unwrap_or(id)
            .to_string(),
        bag: relative_bag_path(archive, id),
        bagit_version: check.version.clone().unwrap_or_else(|| "1.0".into()),
        payload_oxum: info
            .first("Payload-Oxum")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}.{}", check.bytes, check.files)),
        dublin_core,
        files,
        tag_files,
    })
}

fn read_head(path: &Path, buf: &mut [u8]) -> Result<usize, Error> {
    use std::io::Read;
    let mut f = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    Ok(n)
}

/// A bag's Dublin Core record as the register keeps it (JSON of term → values): its
/// metadata/dc.json, else its metadata/dc.xml, else what bag-info.txt says (Title or
/// External-Description as dc.title, External-Identifier, Source-Organization as
/// dc.publisher, Bag-Group-Identifier as dc.relation).
pub(crate) fn dublin_core_of(
    source: &dyn BagSource,
    info: &crate::bagit::BagInfo,
) -> serde_json::Value {
    if let Some(v) = source
        .read("metadata/dc.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<DublinCore>(&b).ok())
        .and_then(|dc| serde_json::to_value(dc).ok())
    {
        return v;
    }
    if let Some(v) = source
        .read("metadata/dc.xml")
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| metadata::parse_oai_dc(&t).ok())
        .and_then(|dc| serde_json::to_value(dc).ok())
    {
        return v;
    }
    let mut dc = DublinCore::new();
    let term = |e: metadata::Element| e.term();
    if let Some(t) = info.first("Title").or(info.first("External-Description")) {
        dc.push(term(metadata::Element::Title), t);
    }
    for v in info.values("External-Identifier") {
        dc.push(term(metadata::Element::Identifier), v);
    }
    for v in info.values("Source-Organization") {
        dc.push(term(metadata::Element::Publisher), v);
    }
    for v in info.values("Bag-Group-Identifier") {
        dc.push(term(metadata::Element::Relation), v);
    }
    serde_json::to_value(dc).unwrap_or(serde_json::Value::Null)
}
