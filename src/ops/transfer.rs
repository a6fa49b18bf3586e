//! `export` and `import`: bags to and from other archives, as zip files (or folders).
//!
//! Export writes a deterministic zip of one bag (RFC 8493 §4.3: one top-level folder
//! named after the bag): entries in byte order of their paths, every timestamp
//! 1980-01-01 00:00, fixed permissions, already-compressed formats stored and the rest
//! deflated at a fixed level, Zip64 where a file needs it. The same bag gives the same
//! bytes, so a zip's digest can be recorded and compared.
//!
//! Import validates first (a zip is read in place, never extracted before it is found
//! valid), then commits it through the same protocol as ingest ([`crate::ops::commit`]):
//! extract into staging, validate the staged copy in full, publish, register, log. The bag is kept byte for byte: Cairn adds nothing to it.

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::bagit::source::BagSource;
use crate::bagit::{validate, BagPath, Finding, Mode, ValidateOptions, ValidateReport};
use crate::clock::Clock;
use crate::digest::BUF_SIZE;
use crate::error::Error;
use crate::format::{sniff_mime, HEAD_LEN};
use crate::fs::archive::{identifier_to_folder, reserved_identifier, Archive};
use crate::fs::dir::DirSource;
use crate::fs::durable::{parent_dir, rename_no_replace, sync_tree};
use crate::fs::events::NewEvent;
use crate::fs::open_source;
use crate::fs::read_head;
use crate::fs::register::RegisterEntry;
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::bag_check::{describe_findings, precheck, Precheck, Start};
use crate::ops::commit::{
    addition_events, commit_new_bag, dublin_core_of, entry_from_bag, recover, ArchiveState, Change,
};
use crate::ops::formats::Annotator;
use crate::ops::ingest::past::Past;
use crate::vocab::{EventType, Outcome};

/// Formats that are compressed already: stored as they are, since deflating them
/// costs time and saves nothing.
fn already_compressed(mime: &str) -> bool {
    let m = mime.split(';').next().unwrap_or("").trim();
    matches!(
        m,
        "image/jpeg"
            | "image/jp2"
            | "image/jpx"
            | "image/png"
            | "image/gif"
            | "image/webp"
            | "application/pdf"
            | "application/zip"
            | "application/gzip"
            | "application/x-bzip2"
            | "application/x-xz"
            | "application/zstd"
            | "application/x-7z-compressed"
            | "video/mp4"
            | "audio/mpeg"
    )
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub id: String,
    /// The check of the bag made before it was exported (`depth`: `full`).
    pub precheck: Precheck,
    pub zip: PathBuf,
    pub entries: usize,
    pub stored: usize,
    pub deflated: usize,
    pub size: u64,
    pub zip_blake3: String,
    /// With `--force`, the problems the bag had when it was exported anyway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forced_despite: Vec<crate::ops::bag_check::FixityFinding>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

/// Writes the bag `id` as a zip at `out` (which must not exist) and logs an "export"
/// event with the zip's BLAKE3 digest.
///
/// The event log's chain is verified first (nothing is appended to a broken one), and
/// the bag is checked in full against its manifests and its register entry (every
/// digest): a damaged bag is refused, unless `force`, which exports it and records the
/// problems in the event (outcome `failure`).
pub fn export(
    archive: &Archive,
    id: &str,
    out: &Path,
    force: bool,
    clock: &dyn Clock,
) -> Result<ExportReport, Error> {
    export_version(archive, id, None, out, force, clock)
}

/// [`export`] of a retained version of the item (`cairn revise`; `None`: the current
/// one), checked against the register entry that version was published with.
/// The write policy ([`crate::ops::after_write`]) runs afterwards.
pub fn export_version(
    archive: &Archive,
    id: &str,
    version: Option<u32>,
    out: &Path,
    force: bool,
    clock: &dyn Clock,
) -> Result<ExportReport, Error> {
    let mut report = export_version_inner(archive, id, version, out, force, clock)?;
    report.after_write = after_write(archive, &[], clock);
    Ok(report)
}

/// [`export_version`], before the write policy.
fn export_version_inner(
    archive: &Archive,
    id: &str,
    version: Option<u32>,
    out: &Path,
    force: bool,
    clock: &dyn Clock,
) -> Result<ExportReport, Error> {
    if !id.contains(['/', '\\', '~']) && !id.starts_with('.') {
        if let Some(t) = archive.tombstone(id)? {
            return Err(Error::Usage(format!(
                "{id} was {}: it has no bag to export; `cairn show {id}` shows its record",
                t.fate()
            )));
        }
    }
    let (bag, read_entry) = crate::ops::versions::version_of(archive, id, version)?;
    if id.contains(['/', '\\']) || id.starts_with('.') || !bag.is_dir() {
        return Err(Error::Usage(format!(
            "no bag {} in {}; `cairn list` shows the identifiers",
            crate::quoted(id),
            archive.bags.display()
        )));
    }
    if crate::fs::entry_exists(out) {
        return Err(Error::AlreadyExists {
            path: out.to_path_buf(),
        });
    }
    crate::ops::commit::repair_log(archive, clock.now())?;
    let log = crate::fs::events::verify_links(&archive.read_all_events_bytes()?);
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. Nothing was exported; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    let entry = match read_entry() {
        Ok(e) => Some(e),
        Err(_) if force => None,
        Err(e) => return Err(e),
    };
    // The bag is checked in full against its manifests and register entry first, as
    // every command that changes an item or sends it out does (ops::bag_check).
    let what = match version {
        Some(v) => format!("version {v} of {id}"),
        None => format!("the current bag of {id}"),
    };
    let pre = match &entry {
        Some(entry) => precheck(&bag, entry, what)?,
        None => {
            let source = DirSource::open_archived(&bag)?;
            let check = crate::ops::bag_check::check_bag(&source, None, None)?;
            let mut findings = check.findings;
            findings.push(crate::ops::bag_check::FixityFinding::new(
                crate::ops::bag_check::FixityKind::Unregistered,
                "",
                format!("manifests/{id}.json cannot be read"),
            ));
            Precheck {
                id: id.to_string(),
                bag: bag.clone(),
                what,
                depth: "full",
                files: check.files,
                bytes: check.bytes,
                findings,
                errors: check.errors,
            }
        }
    };
    if !force {
        pre.refuse_unless_intact(Start::Export)?;
    }
    let problems = pre.findings.clone();
    if !pre.errors.is_empty() {
        return Err(Error::Refused {
            path: bag,
            reason: format!(
                "the bag could not be checked in full: {}. Nothing was exported",
                pre.errors.join("; ")
            ),
        });
    }
    let source = DirSource::open_archived(&bag)?;
    let mut files = source.list()?;
    if let Some(bad) = files
        .iter()
        .find(|f| f.kind != crate::bagit::source::EntryType::File || !f.utf8)
    {
        return Err(Error::Refused {
            path: bag.join(&bad.path),
            reason: "not a regular file with a UTF-8 name; run `cairn fixity --id` on this bag"
                .into(),
        });
    }
    // Byte order of paths: the same on every machine and in every locale.
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mimes: std::collections::HashMap<String, String> = entry
        .as_ref()
        .map(|e| {
            e.files
                .iter()
                .map(|f| (f.path.clone(), f.mime.clone()))
                .collect()
        })
        .unwrap_or_default();

    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _pass = crate::progress::phase(
        "export",
        files.iter().filter(|f| f.path.starts_with("data/")).count() as u64,
        files.iter().map(|f| f.size).sum(),
    );
    let tmp = parent_dir(out).join(format!(".{name}.cairn-partial-{}", std::process::id()));
    crate::fs::remove_file_quietly(&tmp);
    let result = (|| {
        let file = crate::fs::create_new_file(&tmp)?;
        let mut zip = ZipWriter::new(BufWriter::with_capacity(BUF_SIZE, file));
        let (mut stored, mut deflated) = (0, 0);
        let mut buf = vec![0u8; BUF_SIZE];
        for f in &files {
            let disk = BagPath::parse(&f.path)
                .map_err(|e| Error::Usage(e.to_string()))?
                .to_fs_path(&bag);
            let mime = match mimes.get(&f.path) {
                Some(m) => m.clone(),
                None => {
                    let mut head = vec![0u8; HEAD_LEN];
                    let n = read_head(&disk, &mut head)?;
                    sniff_mime(&head[..n], f.size)
                }
            };
            let method = if already_compressed(&mime) || f.size == 0 {
                stored += 1;
                CompressionMethod::Stored
            } else {
                deflated += 1;
                CompressionMethod::Deflated
            };
            let options = SimpleFileOptions::default()
                .compression_method(method)
                .compression_level(if method == CompressionMethod::Deflated {
                    Some(6)
                } else {
                    None
                })
                .last_modified_time(DateTime::default())
                .unix_permissions(0o644)
                .large_file(f.size >= u64::from(u32::MAX) - 1024);
            zip.start_file(format!("{id}/{}", f.path), options)
                .map_err(|e| Error::io("write zip entry", &tmp, io::Error::other(e)))?;
            let mut input = crate::fs::open_file(&disk)?;
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io("read", &disk, e)),
                };
                zip.write_all(&buf[..n])
                    .map_err(|e| Error::io("write", &tmp, e))?;
                crate::progress::add_bytes(n as u64);
            }
            if f.path.starts_with("data/") {
                crate::progress::file_done();
            }
        }
        let writer = zip
            .finish()
            .map_err(|e| Error::io("finish zip", &tmp, io::Error::other(e)))?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        Ok((stored, deflated))
    })();
    // A bag exported with --force despite its problems: the zip may have those (the same
    // bytes), and no other.
    let known = (!problems.is_empty()).then_some(bag.as_path());
    let (stored, deflated) =
        match result.and_then(|r| read_back(archive, &tmp, id, known).map(|()| r)) {
            Ok(r) => r,
            Err(e) => {
                crate::fs::remove_file_quietly(&tmp);
                return Err(e);
            }
        };
    rename_no_replace(&tmp, out).inspect_err(|_| crate::fs::remove_file_quietly(&tmp))?;
    // Events say where the zip is, whatever path was typed.
    let out_abs = crate::fs::canonical_or_given(out);
    // The digest of what is on disk now, read back.
    let mut hasher = blake3::Hasher::new();
    let mut reader = crate::fs::open_file(out)?;
    let size = io::copy(&mut reader, &mut hasher).map_err(|e| Error::io("read", out, e))?;
    let digest = hasher.finalize().to_hex().to_string();
    let (outcome, detail) = if problems.is_empty() {
        (
            Outcome::Success,
            format!(
                "exported as a zip of {} entries to {}, after a full check against the manifests and the register, and read back in full",
                files.len(),
                out_abs.display()
            ),
        )
    } else {
        (
            Outcome::Failure,
            format!(
                "exported with --force as a zip of {} entries to {}, although the bag fails its checks: {}",
                files.len(),
                out_abs.display(),
                describe_findings(&problems)
            ),
        )
    };
    let event =
        NewEvent::new(EventType::Exporting, outcome, id, detail).with_data(serde_json::json!({
            "zip": out_abs.display().to_string(),
            "zip_blake3": digest,
            "zip_size": size,
            "entries": files.len(),
            "forced": !problems.is_empty(),
            "failures": problems,
        }));
    archive.append_events(clock.now(), &[event])?;
    Ok(ExportReport {
        id: id.to_string(),
        precheck: pre,
        zip: out.to_path_buf(),
        entries: files.len(),
        stored,
        deflated,
        size,
        zip_blake3: digest,
        forced_despite: problems,
        after_write: AfterWrite::default(),
    })
}

/// Reads the zip just written back with Cairn's own zip reader and validator, as an
/// importer would, before the export is called done: a zip Cairn cannot read back (names
/// that collide in it, a writer fault) is an error, and the caller removes it. With
/// `forced_from` (a damaged bag exported with --force), the findings that bag folder
/// has itself are expected in its zip too; any other fails.
fn read_back(
    archive: &Archive,
    zip: &Path,
    id: &str,
    forced_from: Option<&Path>,
) -> Result<(), Error> {
    let limits = archive
        .config
        .zip
        .limits()
        .map_err(|e| Error::Usage(format!("cairn.toml: {e}")))?;
    let failed = |detail: String| {
        Error::Refused {
        path: zip.to_path_buf(),
        reason: format!(
            "the zip of {id} does not read back as a valid bag: {detail}. Nothing was exported; run `cairn fixity --id {id}`"
        ),
    }
    };
    let source = match open_source(zip, limits) {
        Ok(s) => s,
        Err(Error::Corrupt { detail, .. }) => return Err(failed(detail)),
        Err(e) => return Err(e),
    };
    let _pass = crate::progress::phase("read back", 0, 0);
    let mut check = validate(source.as_ref(), &ValidateOptions::default())?;
    if let Some(bag) = forced_from {
        let own = validate(&DirSource::open(bag)?, &ValidateOptions::default())?;
        check.problems.retain(|p| {
            !own.problems
                .iter()
                .any(|o| o.path == p.path && o.kind == p.kind)
        });
        check.valid = check.problems.is_empty() && check.errors.is_empty();
    }
    if check.is_ok() {
        Ok(())
    } else {
        Err(failed(crate::ops::commit::summarize(&check)))
    }
}

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
/// (`--allow-duplicate-of`).
/// The write policy ([`crate::ops::after_write`]) runs afterwards.
pub fn import(
    archive: &Archive,
    src: &Path,
    allow: &[String],
    clock: &dyn Clock,
) -> Result<ImportReport, Error> {
    let mut report = import_inner(archive, src, allow, clock)?;
    let imported: Vec<String> = report
        .id
        .iter()
        .filter(|_| report.imported)
        .cloned()
        .collect();
    report.after_write = after_write(archive, &imported, clock);
    Ok(report)
}

/// [`import`], before the write policy.
fn import_inner(
    archive: &Archive,
    src: &Path,
    allow: &[String],
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
    let limits = archive
        .config
        .zip
        .limits()
        .map_err(|e| Error::Usage(format!("cairn.toml: {e}")))?;
    let source = match open_source(src, limits) {
        Ok(s) => s,
        Err(Error::Corrupt { path, detail }) => {
            report.problems.push(Finding::new(
                path.display().to_string(),
                crate::bagit::FindingKind::ZipCorrupt,
                detail,
            ));
            return Ok(report);
        }
        Err(e) => return Err(e),
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
    // 1. Validate where it is: nothing is written for a bag that is not valid.
    let check = validate(
        source.as_ref(),
        &ValidateOptions {
            keep_digests: true,
            ..ValidateOptions::default()
        },
    )?;
    report.files = check.files;
    report.bytes = check.bytes;
    if !check.is_ok() {
        report.problems = check.problems.into_iter().chain(check.errors).collect();
        return Ok(report);
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
        return Ok(report);
    }

    // 2. An identifier: External-Identifier when present and free.
    let state = ArchiveState::load(archive)?;
    let info = check.bag_info.clone().unwrap_or_default();
    let external = info.first("External-Identifier");
    // The same bag imported again (the same zip twice, say) is already archived.
    let oxum = format!("{}.{}", check.bytes, check.files);
    for (id, _) in state.entries.iter().filter(|(_, e)| e.payload_oxum == oxum) {
        let entry = RegisterEntry::read(&archive.register_path(id))?;
        if same_bag(source.as_ref(), &check, &entry, external) {
            report.already_archived = Some(id.clone());
            return Ok(report);
        }
    }
    // The archive's past: content it holds or held (kept versions, withdrawn, purged).
    let past = Past::load(archive)?;
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
    let dc = dublin_core_of(source.as_ref(), &info);
    for p in crate::metadata::oversized_values(dc.record(), max_value) {
        report
            .refused
            .push(format!("the bag's Dublin Core record: {p}"));
    }
    if !report.refused.is_empty() {
        return Ok(report);
    }
    let wanted = external.map(|e| (e, identifier_to_folder(e)));
    // An External-Identifier that is a name of the layout, or another item's identifier
    // in another case or normalisation, is not taken: the bag gets a generated one.
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
    let id = match &wanted {
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
    };

    // 3. Extract into staging, read it back in full, publish, register, log.
    let origin = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| src.display().to_string());
    let mut change = ImportChange {
        source: source.as_ref(),
        src,
        origin,
        duplicate_of: matches.into_iter().map(|m| m.known).collect(),
    };
    commit_new_bag(archive, &lock, &id, &mut change, clock)?;
    report.id = Some(id);
    report.imported = true;
    Ok(report)
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
