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

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::walk::measure;
use crate::metadata::{self, Sheet, SIDECAR_NAME};
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::commit::{recover_with_index, ArchiveState};
use crate::ops::formats::Annotator;
use crate::progress;

mod change;
pub mod describe;
mod item;
pub mod past;

use item::{ingest_item, ItemContext};
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
    /// Only these intake items (their names exactly); empty: every item. A name that
    /// is not in intake is reported as a sheet problem, nothing else changes.
    pub only: Vec<String>,
    /// The person who asked (the browser's logged-in archivist), recorded as the
    /// ingestion event's `operator`; empty from the command line.
    pub operator: String,
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

/// Ingests every item waiting in intake/. The run's stages: open it (lock, settings,
/// recovery), read the sheet, list the intake, find identifier conflicts, ingest each
/// item, then the sheet's rows that name no item.
/// The write policy ([`crate::ops::after_write`]) runs afterwards on the items ingested
/// (not after a dry run).
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
    // Recovery reads the item index; its start-up state comes from the same read
    // unless recovery changed the archive after it.
    let mut index = None;
    if let Some(lock) = &lock {
        (report.recovered, index) = recover_with_index(archive, lock, clock, &Annotator)?;
    }
    let mut state = match index {
        Some(index) => ArchiveState::from_index(archive, index)?,
        None => ArchiveState::load(archive, !opts.dry_run)?,
    };

    let sheet_path = intake.join(SHEET_NAME);
    let read = read_sheet(&sheet_path, &mut report)?;
    let mut names = list_intake(archive, &intake, &mut report)?;
    // With items to ingest, the whole chain is checked on a thread beside the loading
    // below and waited for before the first item: nothing is appended to a broken
    // chain. A run with nothing to ingest appends nothing and does not read the log
    // (audit and the nightly fixity run check the whole chain).
    let chain = (lock.is_some() && !names.is_empty()).then(|| {
        let archive = archive.clone();
        std::thread::spawn(move || archive.check_event_links())
    });
    // Every version's file digests (read from every register entry, history and
    // tombstone): only when there is an item to compare with them.
    let mut past = if names.is_empty() {
        Past::default()
    } else {
        Past::load(archive)?
    };
    // Item names in intake and of archived items, in NFC, built once: each sheet row
    // below is then looked up, not compared with every name and every entry (which was
    // rows × (names + entries) normalisations).
    let in_intake: HashSet<String> = names.iter().map(|(n, _)| nfc(n)).collect();
    if !opts.only.is_empty() {
        for wanted in &opts.only {
            if !names.iter().any(|(n, _)| n == wanted) {
                report.sheet_problems.push(format!(
                    "{} is not an item waiting in {}; nothing was done with it",
                    crate::quoted(wanted),
                    intake.display()
                ));
            }
        }
        names.retain(|(n, _)| opts.only.contains(n));
    }
    let in_archive: HashSet<String> = state
        .entries
        .values()
        .map(|e| nfc(&e.intake_name))
        .collect();

    let formats = crate::ops::formats::RunFormats::new(archive);
    if !names.is_empty() {
        formats.start_loading();
    }
    let conflicts = identifier_conflicts(
        read.sheet.as_ref().or(read.partial.as_ref()),
        &in_intake,
        &in_archive,
        &sheet_path,
        &mut report,
    );

    let sheet = read.sheet.as_ref();
    let ctx = ItemContext {
        formats: &formats,
        archive,
        lock: lock.as_ref(),
        algorithms: &algorithms,
        sheet,
        sheet_broken: read.broken,
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
    if let Some(chain) = chain {
        let log = chain
            .join()
            .map_err(|_| Error::Internal("the event log's chain check stopped".into()))??;
        crate::ops::commit::refuse_broken(archive, &log)?;
    }
    ingest_items(&ctx, &mut state, &mut past, &names, &mut report)?;
    if let Some(sheet) = sheet {
        unmatched_rows(
            sheet,
            &names,
            &in_intake,
            &in_archive,
            &sheet_path,
            &intake,
            &mut report,
        );
    }
    Ok(report)
}

/// The batch sheet as read.
struct SheetRead {
    /// The sheet, when it has no errors.
    sheet: Option<Sheet>,
    /// The sheet had errors: no item gets metadata from it.
    broken: bool,
    /// The rows of a sheet refused for its errors: used only to report their problems.
    partial: Option<Sheet>,
}

/// The batch sheet. If it cannot be read, no item gets metadata from it: better to
/// refuse everything than to ingest with half the descriptions. Its problems go to
/// the report.
fn read_sheet(sheet_path: &Path, report: &mut IngestReport) -> Result<SheetRead, Error> {
    let mut read = SheetRead {
        sheet: None,
        broken: false,
        partial: None,
    };
    let Some(bytes) = crate::fs::read_if_present(sheet_path)? else {
        return Ok(read);
    };
    match metadata::parse_sheet(&bytes) {
        Ok(s) => read.sheet = Some(s),
        Err(errors) => {
            read.broken = true;
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
                read.partial = Some(errors.rows);
            }
        }
    }
    Ok(read)
}

/// The items in intake, sorted by name: what `ingest.exclude` names is skipped,
/// reserved names are left out, a name that is not UTF-8 is refused.
fn list_intake(
    archive: &Archive,
    intake: &Path,
    report: &mut IngestReport,
) -> Result<Vec<(String, PathBuf)>, Error> {
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in crate::fs::list_dir(intake)? {
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
    Ok(names)
}

/// One identifier, one item: two rows giving the same dc.identifier are one conflict
/// naming both rows, and both items are refused. A row of an item archived earlier
/// and gone from intake is left out: its identifier is checked against the archive.
/// Items (their names in NFC) to why.
fn identifier_conflicts(
    rows: Option<&Sheet>,
    in_intake: &HashSet<String>,
    in_archive: &HashSet<String>,
    sheet_path: &Path,
    report: &mut IngestReport,
) -> BTreeMap<String, String> {
    let mut conflicts: BTreeMap<String, String> = BTreeMap::new();
    let Some(rows) = rows else {
        return conflicts;
    };
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
    conflicts
}

/// Each item in name order through [`ingest_item`], with progress: when someone
/// watches, every item is measured first so that the bar has the run's totals. Each
/// byte is read twice, copied then read back.
fn ingest_items(
    ctx: &ItemContext<'_>,
    state: &mut ArchiveState,
    past: &mut Past,
    names: &[(String, PathBuf)],
    report: &mut IngestReport,
) -> Result<(), Error> {
    let plan: Vec<(u64, u64)> = if progress::watched() && !ctx.opts.dry_run {
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
        let item = ingest_item(ctx, state, past, name, path)?;
        if let Some((files, bytes)) = plan.get(i) {
            files_planned += 2 * files;
            bytes_planned += 2 * bytes;
            progress::reach(files_planned, bytes_planned);
        }
        report.items.push(item);
    }
    Ok(())
}

/// Sheet rows that name no item: a typo, or an item that was never dropped in.
fn unmatched_rows(
    sheet: &Sheet,
    names: &[(String, PathBuf)],
    in_intake: &HashSet<String>,
    in_archive: &HashSet<String>,
    sheet_path: &Path,
    intake: &Path,
    report: &mut IngestReport,
) {
    // The first intake name of each lower-case form, for the hint (built once).
    let mut names_by_lower: HashMap<String, &str> = HashMap::new();
    for (n, _) in names {
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

/// A name in Unicode NFC: two names are the same item when their NFC forms are equal
/// ([`metadata::same_item_name`]).
pub(super) fn nfc(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().collect()
}
