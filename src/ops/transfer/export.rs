//! `export`: one bag of the archive as a deterministic zip (see the parent module).

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::bagit::source::BagSource;
use crate::bagit::{validate, BagPath, ValidateOptions};
use crate::clock::Clock;
use crate::digest::BUF_SIZE;
use crate::error::Error;
use crate::format::{sniff_mime, HEAD_LEN};
use crate::fs::archive::Archive;
use crate::fs::dir::DirSource;
use crate::fs::durable::{parent_dir, rename_no_replace};
use crate::fs::events::NewEvent;
use crate::fs::open_source;
use crate::fs::read_head;
use crate::fs::register::RegisterEntry;
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::bag_check::{describe_findings, precheck, Precheck, Start};
use crate::ops::bag_profile;
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
/// one), checked against the register entry that version was published with. The
/// stages: find the bag, check the log, check the bag, list its files, write the zip
/// and read it back, then record the export. The write policy
/// ([`crate::ops::after_write`]) runs afterwards.
pub fn export_version(
    archive: &Archive,
    id: &str,
    version: Option<u32>,
    out: &Path,
    force: bool,
    clock: &dyn Clock,
) -> Result<ExportReport, Error> {
    let mut report = export_version_inner(archive, id, version, out, force, clock, None)?;
    report.after_write = after_write(archive, &[], clock);
    Ok(report)
}

/// [`export_version`] of a deposit copy that meets a BagIt Profile (`export
/// --profile`): the checked bag is copied into a hidden staging folder beside `out`
/// with the tags and manifests the profile needs ([`bag_profile::derive_deposit`]),
/// which is zipped (or, when `out` is named NAME.tar, written as a tar holding one
/// folder NAME), read back and judged against the profile before the file is
/// published and the export recorded. A bag that cannot meet the profile is refused
/// with nothing written; `--force` does not apply.
pub fn export_deposit(
    archive: &Archive,
    id: &str,
    version: Option<u32>,
    out: &Path,
    clock: &dyn Clock,
    deposit: &bag_profile::Deposit,
) -> Result<ExportReport, Error> {
    let mut report = export_version_inner(archive, id, version, out, false, clock, Some(deposit))?;
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
    deposit: Option<&bag_profile::Deposit>,
) -> Result<ExportReport, Error> {
    let (bag, read_entry) = find_bag(archive, id, version)?;
    if crate::fs::entry_exists(out) {
        return Err(Error::AlreadyExists {
            path: out.to_path_buf(),
        });
    }
    // A file named .tar holds a tar: only a deposit for a profile that takes one is
    // written so; anything else would be a zip under a tar's name.
    if deposit.is_none() && tar_top(out)?.is_some() {
        return Err(Error::Usage(format!(
            "{}: Cairn writes a tar only for a BagIt Profile that asks for one (--profile); name a zip export NAME.zip",
            crate::quoted(&out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        )));
    }
    check_log_before_export(archive, clock)?;
    let entry = match read_entry() {
        Ok(e) => Some(e),
        Err(_) if force => None,
        Err(e) => return Err(e),
    };
    let pre = precheck_export(id, version, &bag, entry.as_ref(), force)?;
    let problems = pre.findings.clone();
    let (stored, deflated, files) = match deposit {
        None => {
            let files = list_files(&bag)?;
            let counts = write_zip(
                archive,
                id,
                &bag,
                entry.as_ref(),
                &files,
                out,
                ZipCheck {
                    problems: &problems,
                    judge: None,
                },
            )?;
            (counts.0, counts.1, files)
        }
        Some(d) => zip_deposit(archive, id, &bag, entry.as_ref(), out, clock, d)?,
    };
    let profile = deposit.map(|d| d.chosen.name.as_str());
    let (size, digest) = record_export(archive, id, out, files.len(), &problems, profile, clock)?;
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

/// The deposit copy of `bag` for `d`, in a staging folder beside `out`, zipped under a
/// staging name, read back as any export is and judged against the profile as the file
/// `out` will be, then renamed to `out`; the staging folder is removed whatever happens.
fn zip_deposit(
    archive: &Archive,
    id: &str,
    bag: &Path,
    entry: Option<&RegisterEntry>,
    out: &Path,
    clock: &dyn Clock,
    d: &bag_profile::Deposit,
) -> Result<(usize, usize, Vec<crate::bagit::source::SourceEntry>), Error> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tar_top = tar_top(out)?;
    let staging = parent_dir(out).join(format!(".{name}.cairn-deposit-{}", std::process::id()));
    crate::fs::remove_tree_quietly(&staging);
    crate::fs::create_dir(&staging)?;
    let result = (|| {
        let defaults = bag_profile::config_tags(&archive.config.ingest);
        let copy = staging.join(id);
        let media = if tar_top.is_some() {
            "application/tar"
        } else {
            "application/zip"
        };
        let date = clock.now().date_naive();
        bag_profile::derive_deposit(bag, &copy, d, &defaults, date, media)?;
        let files = list_files(&copy)?;
        let limits = archive
            .config
            .zip
            .limits()
            .map_err(|e| Error::Usage(format!("cairn.toml: {e}")))?;
        if let Some(top) = &tar_top {
            write_tar_deposit(id, top, &copy, &files, out, limits, d)?;
            return Ok((files.len(), 0, files));
        }
        let judge = |tmp: &Path| -> Result<(), Error> {
            let opts = ValidateOptions {
                mode: crate::bagit::Mode::Fast,
                ..ValidateOptions::default()
            };
            let (_, verdict) =
                bag_profile::validate_with_profile_as(tmp, out, &opts, limits, &d.chosen)?;
            if verdict.conforms {
                return Ok(());
            }
            let kinds: Vec<String> = verdict.problems.iter().map(|p| p.kind.code()).collect();
            Err(Error::Refused {
                path: out.to_path_buf(),
                reason: format!(
                    "the deposit zip of {id} does not read back as a bag meeting profile {} ({}). Nothing was exported",
                    d.chosen.name,
                    kinds.join(", ")
                ),
            })
        };
        let (stored, deflated) = write_zip(
            archive,
            id,
            &copy,
            entry,
            &files,
            out,
            ZipCheck {
                problems: &[],
                judge: Some(&judge),
            },
        )?;
        Ok((stored, deflated, files))
    })();
    crate::fs::remove_tree_quietly(&staging);
    result
}

/// The one folder of a deposit tar when `out` is named NAME.tar: NAME (APTrust's
/// `tarDirMustMatchName`); `None` for any other name (a zip). A name that is only
/// `.tar`, or starts with a dot, is a usage error.
fn tar_top(out: &Path) -> Result<Option<String>, Error> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_suffix(".tar") {
        None => Ok(None),
        Some(top) if !top.is_empty() && !top.starts_with('.') => Ok(Some(top.to_string())),
        Some(_) => Err(Error::Usage(format!(
            "{}: a deposit tar is named NAME.tar and holds one folder NAME",
            crate::quoted(&name)
        ))),
    }
}

/// The deposit tar of the bag folder `bag`, written beside `out` under a staging
/// name ([`crate::fs::tar::write_tar`], fsynced), read back in full with Cairn's
/// validator and judged against the profile as the file `out` will be, then renamed
/// to `out` (never replacing a file). On any failure the staging file is removed.
fn write_tar_deposit(
    id: &str,
    top: &str,
    bag: &Path,
    files: &[crate::bagit::source::SourceEntry],
    out: &Path,
    limits: crate::fs::zip::ZipLimits,
    d: &bag_profile::Deposit,
) -> Result<(), Error> {
    let _pass = export_phase(files);
    let tmp = parent_dir(out).join(format!(".{top}.tar.cairn-partial-{}", std::process::id()));
    crate::fs::remove_file_quietly(&tmp);
    let result = (|| {
        crate::fs::tar::write_tar(top, bag, files, &tmp)?;
        let (check, verdict) = bag_profile::validate_with_profile_as(
            &tmp,
            out,
            &ValidateOptions::default(),
            limits,
            &d.chosen,
        )?;
        if !check.is_ok() || !verdict.conforms {
            let mut why: Vec<String> = verdict.problems.iter().map(|p| p.kind.code()).collect();
            if !check.is_ok() {
                why.insert(0, crate::ops::commit::summarize(&check));
            }
            return Err(Error::Refused {
                path: out.to_path_buf(),
                reason: format!(
                    "the deposit tar of {id} does not read back as a bag meeting profile {} ({}). Nothing was exported",
                    d.chosen.name,
                    why.join("; ")
                ),
            });
        }
        rename_no_replace(&tmp, out)
    })();
    if result.is_err() {
        crate::fs::remove_file_quietly(&tmp);
    }
    result
}

/// The progress phase of writing `files` out: the payload files and all the bytes.
fn export_phase(files: &[crate::bagit::source::SourceEntry]) -> crate::progress::Phase<'static> {
    crate::progress::phase(
        "export",
        files.iter().filter(|f| f.path.starts_with("data/")).count() as u64,
        files.iter().map(|f| f.size).sum(),
    )
}

/// The bag of an item's version, and how to read its register entry. An item
/// withdrawn or purged, or a name that is not an item, is a usage error.
#[allow(clippy::type_complexity)]
fn find_bag<'a>(
    archive: &'a Archive,
    id: &str,
    version: Option<u32>,
) -> Result<(PathBuf, Box<dyn Fn() -> Result<RegisterEntry, Error> + 'a>), Error> {
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
    Ok((bag, read_entry))
}

/// The event log's chain is verified first: nothing is appended to a broken one. A
/// torn last line is repaired first, as every writer does.
fn check_log_before_export(archive: &Archive, clock: &dyn Clock) -> Result<(), Error> {
    crate::ops::commit::repair_log(archive, clock.now())?;
    let log = archive.check_event_links()?;
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. Nothing was exported; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    Ok(())
}

/// The bag checked in full against its manifests and register entry first, as every
/// command that changes an item or sends it out does (ops::bag_check). A damaged bag is
/// refused unless `force`; a bag that could not be checked in full, always.
fn precheck_export(
    id: &str,
    version: Option<u32>,
    bag: &Path,
    entry: Option<&RegisterEntry>,
    force: bool,
) -> Result<Precheck, Error> {
    let what = match version {
        Some(v) => format!("version {v} of {id}"),
        None => format!("the current bag of {id}"),
    };
    let pre = match entry {
        Some(entry) => precheck(bag, entry, what)?,
        None => {
            let source = DirSource::open_archived(bag)?;
            let check = crate::ops::bag_check::check_bag(&source, None, None)?;
            let mut findings = check.findings;
            findings.push(crate::ops::bag_check::FixityFinding::new(
                crate::ops::bag_check::FixityKind::Unregistered,
                "",
                format!("manifests/{id}.json cannot be read"),
            ));
            Precheck {
                id: id.to_string(),
                bag: bag.to_path_buf(),
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
    if !pre.errors.is_empty() {
        return Err(Error::Refused {
            path: bag.to_path_buf(),
            reason: format!(
                "the bag could not be checked in full: {}. Nothing was exported",
                pre.errors.join("; ")
            ),
        });
    }
    Ok(pre)
}

/// The bag's files in byte order of their paths (the same on every machine and in
/// every locale); anything but a regular file with a UTF-8 name is refused.
fn list_files(bag: &Path) -> Result<Vec<crate::bagit::source::SourceEntry>, Error> {
    let source = DirSource::open_archived(bag)?;
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
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(files)
}

/// What a zip is held to before it is published, besides reading back as the bag:
/// the problems a `--force` export may carry, and a deposit's profile.
struct ZipCheck<'a> {
    problems: &'a [crate::ops::bag_check::FixityFinding],
    judge: Option<&'a Judge<'a>>,
}

/// A last check of the written zip (under its staging name) before it is published.
type Judge<'a> = dyn Fn(&Path) -> Result<(), Error> + 'a;

/// The zip written beside `out` under a temporary name, fsynced, read back in full
/// (and judged, for a deposit), then renamed to `out` (never replacing a file). How many entries were stored and
/// deflated.
fn write_zip(
    archive: &Archive,
    id: &str,
    bag: &Path,
    entry: Option<&RegisterEntry>,
    files: &[crate::bagit::source::SourceEntry],
    out: &Path,
    check: ZipCheck<'_>,
) -> Result<(usize, usize), Error> {
    let ZipCheck { problems, judge } = check;
    let mimes: std::collections::HashMap<String, String> = entry
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
    let _pass = export_phase(files);
    let tmp = parent_dir(out).join(format!(".{name}.cairn-partial-{}", std::process::id()));
    crate::fs::remove_file_quietly(&tmp);
    let result = write_entries(id, bag, files, &mimes, &tmp);
    // A bag exported with --force despite its problems: the zip may have those (the same
    // bytes), and no other.
    let known = (!problems.is_empty()).then_some(bag);
    let checked = result.and_then(|r| read_back(archive, &tmp, id, known).map(|()| r));
    // A deposit zip is judged against its profile here, before it is published.
    let checked = checked.and_then(|r| judge.map_or(Ok(()), |j| j(&tmp)).map(|()| r));
    let counts = match checked {
        Ok(r) => r,
        Err(e) => {
            crate::fs::remove_file_quietly(&tmp);
            return Err(e);
        }
    };
    rename_no_replace(&tmp, out).inspect_err(|_| crate::fs::remove_file_quietly(&tmp))?;
    Ok(counts)
}

/// The zip's entries, one per file under one top-level folder named `id`: every
/// timestamp 1980-01-01 00:00, permissions 0644, compressed formats stored and the rest
/// deflated at level 6, Zip64 where a file needs it; then fsynced.
fn write_entries(
    id: &str,
    bag: &Path,
    files: &[crate::bagit::source::SourceEntry],
    mimes: &std::collections::HashMap<String, String>,
    tmp: &Path,
) -> Result<(usize, usize), Error> {
    let file = crate::fs::create_new_file(tmp)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(BUF_SIZE, file));
    let (mut stored, mut deflated) = (0, 0);
    let mut buf = vec![0u8; BUF_SIZE];
    for f in files {
        let disk = BagPath::parse(&f.path)
            .map_err(|e| Error::Usage(e.to_string()))?
            .to_fs_path(bag);
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
            .map_err(|e| Error::io("write zip entry", tmp, io::Error::other(e)))?;
        let mut input = crate::fs::open_file(&disk)?;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read", &disk, e)),
            };
            zip.write_all(&buf[..n])
                .map_err(|e| Error::io("write", tmp, e))?;
            crate::progress::add_bytes(n as u64);
        }
        if f.path.starts_with("data/") {
            crate::progress::file_done();
        }
    }
    let writer = zip
        .finish()
        .map_err(|e| Error::io("finish zip", tmp, io::Error::other(e)))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io("write", tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io("fsync", tmp, e))?;
    Ok((stored, deflated))
}

/// The zip's digest, of what is on disk now, read back, and the export event that
/// records it (outcome `failure` when forced despite problems). The size and digest.
fn record_export(
    archive: &Archive,
    id: &str,
    out: &Path,
    entries: usize,
    problems: &[crate::ops::bag_check::FixityFinding],
    profile: Option<&str>,
    clock: &dyn Clock,
) -> Result<(u64, String), Error> {
    // Events say where the zip is, whatever path was typed.
    let out_abs = crate::fs::canonical_or_given(out);
    let mut hasher = blake3::Hasher::new();
    let mut reader = crate::fs::open_file(out)?;
    let size = io::copy(&mut reader, &mut hasher).map_err(|e| Error::io("read", out, e))?;
    let digest = hasher.finalize().to_hex().to_string();
    let (outcome, detail) = if let Some(name) = profile {
        (
            Outcome::Success,
            format!(
                "exported as a {} of {entries} entries to {}, a deposit copy meeting BagIt Profile {name} (same payload; tags and manifests for the profile), after a full check of the bag against the manifests and the register, and read back in full",
                if out.extension().is_some_and(|e| e == "tar") { "tar" } else { "zip" },
                out_abs.display()
            ),
        )
    } else if problems.is_empty() {
        (
            Outcome::Success,
            format!(
                "exported as a zip of {entries} entries to {}, after a full check against the manifests and the register, and read back in full",
                out_abs.display()
            ),
        )
    } else {
        (
            Outcome::Failure,
            format!(
                "exported with --force as a zip of {entries} entries to {}, although the bag fails its checks: {}",
                out_abs.display(),
                describe_findings(problems)
            ),
        )
    };
    let mut data = serde_json::json!({
        "zip": out_abs.display().to_string(),
        "zip_blake3": digest,
        "zip_size": size,
        "entries": entries,
        "forced": !problems.is_empty(),
        "failures": problems,
    });
    if let (Some(name), Some(map)) = (profile, data.as_object_mut()) {
        map.insert("profile".into(), name.into());
    }
    let event = NewEvent::new(EventType::Exporting, outcome, id, detail).with_data(data);
    archive.append_events(clock.now(), &[event])?;
    Ok((size, digest))
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
