//! `import`: a bag made elsewhere validated where it is, then committed (see the parent
//! module).

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bagit::source::BagSource;
use crate::bagit::{validate, BagPath, Finding, Mode, ValidateOptions, ValidateReport};
use crate::clock::Clock;
use crate::digest::BUF_SIZE;
use crate::error::Error;
use crate::fs::archive::{identifier_to_folder, reserved_identifier, Archive};
use crate::fs::dir::DirSource;
use crate::fs::durable::sync_tree;
use crate::fs::events::NewEvent;
use crate::fs::open_source;
use crate::fs::register::RegisterEntry;
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::commit::{
    addition_events, commit_new_bag, dublin_core_of, entry_from_bag, recover, ArchiveState, Change,
};
use crate::ops::formats::Annotator;
use crate::ops::ingest::past::Past;

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub source: PathBuf,
    /// The identifier given, when imported.
    pub id: Option<String>,
    pub imported: bool,
    pub files: u64,
    pub bytes: u64,
    /// Why it was refused: the bag's (or the zip's) problems.
    pub problems: Vec<Finding>,
    pub recovered: Vec<String>,
    /// The bag is already in the archive under this identifier (the same payload
    /// digests and the same bag-info.txt, or the same payload under its
    /// External-Identifier): nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_archived: Option<String>,
    /// Why the identifier was generated rather than taken from External-Identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_note: Option<String>,
    /// Why a valid bag was refused: its content matches the archive's past (a current
    /// item, a kept version, a withdrawn or purged item), or its metadata breaks a limit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Imported although its content matches these items (`--allow-duplicate-of`);
    /// the ingestion event names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_of: Vec<String>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

/// Whether a validated bag (its computed payload digests in `check.computed`) is the item
/// `entry` already archived: the same payload files with the same digests (every
/// algorithm both have; at least one per file), and either the same bag-info.txt or an
/// External-Identifier naming that item.
fn same_bag(
    source: &dyn BagSource,
    check: &crate::bagit::ValidateReport,
    entry: &RegisterEntry,
    external_id: Option<&str>,
) -> bool {
    let payload: Vec<(
        &String,
        &Vec<(crate::digest::Algorithm, crate::digest::Digest)>,
    )> = check
        .computed
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .collect();
    if payload.len() != entry.files.len() {
        return false;
    }
    let same_payload = entry.files.iter().all(|rec| {
        let Some((_, got)) = payload.iter().find(|(p, _)| **p == rec.path) else {
            return false;
        };
        let mut shared = 0;
        for (alg, d) in got.iter() {
            if let Some(want) = rec.digests.get(*alg) {
                if want != d {
                    return false;
                }
                shared += 1;
            }
        }
        shared > 0
    });
    if !same_payload {
        return false;
    }
    if external_id.is_some_and(|e| identifier_to_folder(e).is_ok_and(|f| f == entry.id)) {
        return true;
    }
    let Some(recorded) = entry.tag_files.get("bag-info.txt") else {
        return false;
    };
    let Ok(bytes) = source.read("bag-info.txt") else {
        return false;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut compared = 0;
    for &(alg, want) in recorded.iter() {
        let Ok(got) = crate::digest::hash_reader(&bytes[..], &[alg], &mut buf) else {
            return false;
        };
        if got.get(alg) != Some(&want) {
            return false;
        }
        compared += 1;
    }
    compared > 0
}

/// Imports a bag made elsewhere (a zip file or a folder) into the archive. A bag whose
/// content matches the archive's past is refused unless its match is in `allow`
/// (`--allow-duplicate-of`). The steps: recover and open the source, validate it where
/// it is, already archived?, the archive's past and the limits, an identifier, then
/// the commit protocol. The write policy ([`crate::ops::after_write`]) runs afterwards.
pub fn import(
    archive: &Archive,
    src: &Path,
    allow: &[String],
    clock: &dyn Clock,
) -> Result<ImportReport, Error> {
    let mut report = import_inner(archive, src, allow, None, clock)?;
    report.after_write = policy_after_import(archive, report.id.as_ref(), report.imported, clock);
    Ok(report)
}

/// Where a bag laid out by Cairn itself came from (an OCFL object's version): named in
/// the ingestion event instead of the bag's own folder, with data of its own.
#[derive(Debug, Clone)]
pub struct Via {
    /// The source as the event names it.
    pub source: PathBuf,
    /// The event's detail: what was imported, from where.
    pub detail: String,
    /// Added to the ingestion event's data.
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// [`import`] of a bag made from another source (`via`), named in its events; without
/// the write policy, which the caller runs once its whole change is done.
pub(crate) fn import_via(
    archive: &Archive,
    src: &Path,
    allow: &[String],
    via: &Via,
    clock: &dyn Clock,
) -> Result<ImportReport, Error> {
    import_inner(archive, src, allow, Some(via), clock)
}

/// The write policy after an import: `id` is replicated when it was `imported`.
pub(crate) fn policy_after_import(
    archive: &Archive,
    id: Option<&String>,
    imported: bool,
    clock: &dyn Clock,
) -> AfterWrite {
    let committed: Vec<String> = id.filter(|_| imported).cloned().into_iter().collect();
    after_write(archive, &committed, clock)
}

/// [`import`], before the write policy.
fn import_inner(
    archive: &Archive,
    src: &Path,
    allow: &[String],
    via: Option<&Via>,
    clock: &dyn Clock,
) -> Result<ImportReport, Error> {
    let lock = archive.lock("import")?;
    let mut report = ImportReport {
        source: src.to_path_buf(),
        id: None,
        imported: false,
        files: 0,
        bytes: 0,
        problems: Vec::new(),
        recovered: Vec::new(),
        already_archived: None,
        id_note: None,
        refused: Vec::new(),
        duplicate_of: Vec::new(),
        after_write: AfterWrite::default(),
    };
    report.recovered = recover(archive, &lock, clock, &Annotator)?;
    let Some(source) = open_import_source(archive, src, &mut report)? else {
        return Ok(report);
    };
    // Progress: every byte is read three times (validated where it is, extracted,
    // read back), so that is the run's total.
    let planned = if crate::progress::watched() {
        let listed = source.list()?;
        (
            listed
                .iter()
                .filter(|e| e.path.starts_with("data/"))
                .count() as u64,
            listed.iter().map(|e| e.size).sum(),
        )
    } else {
        (0, 0)
    };
    let _run = crate::progress::phase("import", 3 * planned.0, 3 * planned.1);
    crate::progress::item(&src.display().to_string());
    let Some(check) = validate_in_place(source.as_ref(), &mut report)? else {
        return Ok(report);
    };
    let state = ArchiveState::load(archive, true)?;
    let info = check.bag_info.clone().unwrap_or_default();
    let external = info.first("External-Identifier");
    if already_imported(
        archive,
        &state,
        source.as_ref(),
        &check,
        external,
        &mut report,
    )? {
        return Ok(report);
    }
    // The archive's past: content it holds or held (kept versions, withdrawn, purged).
    let past = Past::load(archive)?;
    let matches = check_past_and_limits(
        archive,
        &past,
        source.as_ref(),
        &check,
        &info,
        allow,
        &mut report,
    )?;
    if !report.refused.is_empty() {
        return Ok(report);
    }
    let id = choose_import_identifier(archive, &state, &past, external, &mut report);

    // Step 3: extract into staging, read it back in full, publish, register, log.
    let origin = via
        .map(|v| v.source.as_path())
        .unwrap_or(src)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| src.display().to_string());
    let mut change = ImportChange {
        source: source.as_ref(),
        src,
        origin,
        duplicate_of: matches.into_iter().map(|m| m.known).collect(),
        via,
    };
    commit_new_bag(archive, &lock, &id, &mut change, clock)?;
    report.id = Some(id);
    report.imported = true;
    Ok(report)
}

/// The zip or folder to import, opened with the archive's zip limits; `None` (the
/// problem in the report) for a zip that cannot be read.
fn open_import_source(
    archive: &Archive,
    src: &Path,
    report: &mut ImportReport,
) -> Result<Option<Box<dyn BagSource>>, Error> {
    let limits = archive
        .config
        .zip
        .limits()
        .map_err(|e| Error::Usage(format!("cairn.toml: {e}")))?;
    match open_source(src, limits) {
        Ok(s) => Ok(Some(s)),
        Err(Error::Corrupt { path, detail }) => {
            report.problems.push(Finding::new(
                path.display().to_string(),
                crate::bagit::FindingKind::ZipCorrupt,
                detail,
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Step 1: validate where it is: nothing is written for a bag that is not valid, or that
/// still has files to fetch. The validation (with every computed digest); `None` (the
/// problems in the report) when the bag is refused.
fn validate_in_place(
    source: &dyn BagSource,
    report: &mut ImportReport,
) -> Result<Option<ValidateReport>, Error> {
    let check = validate(
        source,
        &ValidateOptions {
            keep_digests: true,
            ..ValidateOptions::default()
        },
    )?;
    report.files = check.files;
    report.bytes = check.bytes;
    if !check.is_ok() {
        report.problems = check.problems.into_iter().chain(check.errors).collect();
        return Ok(None);
    }
    if check.holes > 0 {
        report.problems.push(Finding::new(
            "fetch.txt",
            crate::bagit::FindingKind::NotFetched,
            format!(
                "{} files are still to be fetched; fetch them before importing",
                check.holes
            ),
        ));
        return Ok(None);
    }
    Ok(Some(check))
}

/// Step 2a: the same bag imported again (the same zip twice, say) is already archived:
/// true, with its identifier in the report.
fn already_imported(
    archive: &Archive,
    state: &ArchiveState,
    source: &dyn BagSource,
    check: &ValidateReport,
    external: Option<&str>,
    report: &mut ImportReport,
) -> Result<bool, Error> {
    let oxum = format!("{}.{}", check.bytes, check.files);
    for (id, _) in state.entries.iter().filter(|(_, e)| e.payload_oxum == oxum) {
        let entry = RegisterEntry::read(&archive.register_path(id))?;
        if same_bag(source, check, &entry, external) {
            report.already_archived = Some(id.clone());
            return Ok(true);
        }
    }
    Ok(false)
}

/// Step 2b: the payload against the archive's past (refused unless `allow` admits the
/// match), and the Dublin Core record against `ingest.max_value_size`. Refusals go to
/// the report; the matches admitted are returned.
#[allow(clippy::too_many_arguments)]
fn check_past_and_limits(
    archive: &Archive,
    past: &Past,
    source: &dyn BagSource,
    check: &ValidateReport,
    info: &crate::bagit::BagInfo,
    allow: &[String],
    report: &mut ImportReport,
) -> Result<Vec<crate::ops::ingest::past::Match>, Error> {
    let payload: Vec<(&str, &[(crate::digest::Algorithm, crate::digest::Digest)])> = check
        .computed
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    let matches = past.matches(&payload);
    match crate::ops::ingest::past::refusal(&matches, allow, "imported") {
        Some(why) => report.refused.push(why),
        None => report.duplicate_of = matches.iter().map(|m| m.known.id.clone()).collect(),
    }
    let max_value = archive
        .config
        .max_value_size()
        .map_err(|e| Error::Usage(format!("cairn.toml: ingest.max_value_size: {e}")))?;
    let dc = dublin_core_of(source, info);
    for p in crate::metadata::oversized_values(dc.record(), max_value) {
        report
            .refused
            .push(format!("the bag's Dublin Core record: {p}"));
    }
    Ok(matches)
}

/// Step 2c: an identifier: External-Identifier when present and free. One that is a name of
/// the layout, or another item's identifier in another case or normalisation, is not
/// taken: the bag gets a generated one, and the report says why.
fn choose_import_identifier(
    archive: &Archive,
    state: &ArchiveState,
    past: &Past,
    external: Option<&str>,
    report: &mut ImportReport,
) -> String {
    let wanted = external.map(|e| (e, identifier_to_folder(e)));
    let unusable = match &wanted {
        Some((e, Ok(folder))) => reserved_identifier(folder).or_else(|| {
            [*e, folder.as_str()]
                .into_iter()
                .find_map(|c| past.folded_clash(c))
                .map(|other| {
                    format!(
                        "it differs from the identifier {} of an item archived earlier only in case or Unicode normalisation",
                        crate::quoted(other)
                    )
                })
        }),
        _ => None,
    };
    match &wanted {
        Some((_, Ok(folder))) if !state.used.contains(folder) && unusable.is_none() => {
            folder.clone()
        }
        Some((e, Ok(_))) if unusable.is_some() => {
            let id = state.next_generated(&archive.config.ingest.identifier_prefix);
            report.id_note = Some(format!(
                "External-Identifier {} cannot name an item here ({}), so the bag was given the generated identifier {id}",
                crate::quoted(e),
                unusable.unwrap_or_default()
            ));
            id
        }
        _ => {
            let id = state.next_generated(&archive.config.ingest.identifier_prefix);
            report.id_note = match &wanted {
                Some((e, Ok(folder))) => Some(format!(
                    "External-Identifier {} is taken: {folder} already names another item in this archive (a different payload), so the bag was given the generated identifier {id}",
                    crate::quoted(e)
                )),
                Some((e, Err(why))) => Some(format!(
                    "External-Identifier {} cannot name a folder ({why}), so the bag was given the generated identifier {id}",
                    crate::quoted(e)
                )),
                None => None,
            };
            id
        }
    }
}

/// The commit protocol's build, register and log steps for one imported bag.
struct ImportChange<'a> {
    source: &'a dyn BagSource,
    /// The zip or folder imported, as given.
    src: &'a Path,
    /// Its name, recorded as the intake name.
    origin: String,
    /// The matches with the archive's past that `--allow-duplicate-of` admitted.
    duplicate_of: Vec<crate::ops::ingest::past::Known>,
    /// The source the bag was made from, when it was ([`Via`]).
    via: Option<&'a Via>,
}

impl Change for ImportChange<'_> {
    fn kind(&self) -> &'static str {
        "import"
    }

    /// Extracts the (already validated) bag byte for byte.
    fn build(&mut self, staged: &Path) -> Result<(), Error> {
        let _extracting = crate::progress::phase("extract", 0, 0);
        extract(self.source, staged)
    }

    /// Keeps every digest: the register's digests come from this read-back.
    fn verify_options(&self) -> ValidateOptions {
        ValidateOptions {
            mode: Mode::Full,
            only_algorithms: None,
            keep_digests: true,
        }
    }

    fn record(
        &mut self,
        archive: &Archive,
        id: &str,
        check: &ValidateReport,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RegisterEntry, Error> {
        let published = DirSource::open(&archive.bag_path(id))?;
        entry_from_bag(
            archive,
            id,
            &published,
            check,
            now,
            Some(&self.origin),
            &Annotator,
        )
    }

    fn events(&mut self, entry: &RegisterEntry) -> Result<Vec<NewEvent>, Error> {
        if let Some(via) = self.via {
            let mut data = via.data.clone();
            data.insert(
                "imported_from".into(),
                via.source.display().to_string().into(),
            );
            if !self.duplicate_of.is_empty() {
                data.insert(
                    "duplicate_of".into(),
                    self.duplicate_of
                        .iter()
                        .map(crate::ops::ingest::past::Known::to_json)
                        .collect(),
                );
            }
            return Ok(addition_events(
                entry,
                "",
                Some(via.detail.clone()),
                serde_json::Value::Object(data),
            ));
        }
        let src = self.src;
        let zip_digest = if self.source.describe().ends_with(".zip") || crate::fs::zip::is_zip(src)
        {
            let mut hasher = blake3::Hasher::new();
            let mut f = crate::fs::open_file(src)?;
            io::copy(&mut f, &mut hasher).map_err(|e| Error::io("read", src, e))?;
            Some(hasher.finalize().to_hex().to_string())
        } else {
            None
        };
        let src_abs = crate::fs::canonical_or_given(src);
        Ok(addition_events(
            entry,
            "",
            Some(format!(
                "bag {} imported from {}",
                crate::quoted(&self.origin),
                src_abs.display()
            )),
            {
                let mut data = serde_json::json!({ "imported_from": src_abs.display().to_string(), "zip_blake3": zip_digest });
                if !self.duplicate_of.is_empty() {
                    data["duplicate_of"] = self
                        .duplicate_of
                        .iter()
                        .map(crate::ops::ingest::past::Known::to_json)
                        .collect();
                }
                data
            },
        ))
    }
}

/// Copies every listed file of `source` (and its empty folders) under `dest`, then
/// makes the tree durable with one [`sync_tree`]. Paths are bag paths, validated again
/// here.
fn extract(source: &dyn BagSource, dest: &Path) -> Result<(), Error> {
    let mut buf = vec![0u8; BUF_SIZE];
    for entry in source.list()? {
        let rel = BagPath::parse(&entry.path).map_err(|e| Error::Refused {
            path: PathBuf::from(&entry.path),
            reason: e.to_string(),
        })?;
        let to = rel.to_fs_path(dest);
        if let Some(parent) = to.parent() {
            if !parent.exists() {
                crate::fs::create_dir_all(parent)?;
            }
        }
        let mut out = crate::fs::create_new_file(&to)?;
        source
            .copy_to(&entry.path, &mut out, &[], &mut buf)
            .map_err(|e| Error::io("extract", &to, e))?;
        if entry.path.starts_with("data/") {
            crate::progress::file_done();
        }
    }
    sync_tree(dest)
}
