//! `bag create`: package a folder as a BagIt 1.0 bag, as a copy or in place.
//!
//! Copy: files are copied into a hidden staging folder beside the destination while
//! every digest is computed in the same pass; tag files are written with bagit.txt last;
//! everything is fsynced; then one no-replace rename publishes the bag. A crash leaves
//! no bag, only a hidden `.NAME.cairn-partial-*` folder (never a half bag that looks
//! whole).
//!
//! In place: files are hashed where they are, then moved under data/ by renames,
//! guarded by a journal so that a crash at any point can be rolled back exactly by
//! running the same command again. See docs/in-place-bagging.md.
//!
//! The copying, hashing and tag-file writing is the bag writer (fs/bag_writer.rs),
//! which ingest uses too; the tag files' bytes come from bagit/builder.rs.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bagit::manifest::ManifestKind;
use crate::bagit::path::BagPath;
use crate::bagit::tags::check_label;
use crate::bagit::{validate, Mode, ValidateOptions};
use crate::digest::{hash_reader, Algorithm, BUF_SIZE};
use crate::error::Error;
use crate::fs::bag_writer::{
    build_bag, payload_path, write_tag_files, BuildOptions, BuiltBag, BuiltFile,
};
use crate::fs::dir::DirSource;
use crate::fs::durable::{parent_dir, rename_no_replace, sync_dir, sync_tree, write_atomic};
use crate::fs::failpoint;
use crate::fs::walk::{refusal_error, walk_source, SourceFile, Walk};

/// Labels Cairn writes itself; users may not supply them.
const RESERVED_LABELS: [&str; 3] = ["Payload-Oxum", "Bagging-Date", "Bag-Software-Agent"];

/// Options for [`create_bag`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub algorithms: Vec<Algorithm>,
    /// Extra bag-info.txt fields, in order.
    pub info: Vec<(String, String)>,
    /// The Bagging-Date to write (a parameter, so tests and reruns are deterministic).
    pub bagging_date: chrono::NaiveDate,
}

impl CreateOptions {
    pub fn new(bagging_date: chrono::NaiveDate) -> CreateOptions {
        CreateOptions {
            algorithms: Algorithm::DEFAULT.to_vec(),
            info: Vec::new(),
            bagging_date,
        }
    }

    fn build_options(&self, algorithms: &[Algorithm]) -> BuildOptions {
        BuildOptions {
            algorithms: algorithms.to_vec(),
            info: self.info.clone(),
            bagging_date: self.bagging_date,
            extra_tags: Vec::new(),
            sniff: false,
        }
    }

    fn check(&self) -> Result<Vec<Algorithm>, Error> {
        let mut algs = self.algorithms.clone();
        algs.sort();
        algs.dedup();
        if algs.is_empty() {
            return Err(Error::Usage("at least one algorithm is needed".into()));
        }
        if let Some(a) = algs.iter().find(|a| !a.can_create()) {
            return Err(Error::Usage(format!(
                "{a} is accepted for reading old bags only; new bags use blake3, sha256 or sha512"
            )));
        }
        for (label, _) in &self.info {
            check_label(label).map_err(|e| Error::Usage(format!("--info: {e}")))?;
            if RESERVED_LABELS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(label))
            {
                return Err(Error::Usage(format!(
                    "--info: {label} is computed by Cairn and cannot be given"
                )));
            }
        }
        Ok(algs)
    }
}

/// What [`create_bag`] made.
#[derive(Debug, Clone, Serialize)]
pub struct CreateReport {
    pub bag: PathBuf,
    pub files: u64,
    pub bytes: u64,
    pub algorithms: Vec<Algorithm>,
    pub payload_oxum: String,
    /// Folders that were empty; manifests cannot list folders, so they are kept on
    /// disk but are not protected by any checksum.
    pub empty_dirs: Vec<String>,
    /// True when an interrupted in-place run was rolled back first.
    pub recovered: bool,
    /// Staging folders of an earlier `--output` run that was killed, removed first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleaned: Vec<PathBuf>,
}

impl CreateReport {
    fn new(bag: &Path, built: BuiltBag, algorithms: &[Algorithm], walk: &Walk) -> CreateReport {
        CreateReport {
            bag: bag.to_path_buf(),
            files: built.files,
            bytes: built.bytes,
            algorithms: algorithms.to_vec(),
            payload_oxum: built.payload_oxum,
            empty_dirs: empty_dirs(walk),
            recovered: false,
            cleaned: Vec::new(),
        }
    }
}

/// Parses a `Label: value` argument.
pub fn parse_info_arg(arg: &str) -> Result<(String, String), Error> {
    let (label, value) = arg
        .split_once(':')
        .ok_or_else(|| Error::Usage(format!("--info \"{arg}\": expected 'Label: value'")))?;
    let label = label.trim().to_string();
    check_label(&label).map_err(|e| Error::Usage(format!("--info \"{arg}\": {e}")))?;
    Ok((label, value.trim().to_string()))
}

/// Removes `.NAME.cairn-partial-PID-*` folders beside `NAME` left by a `bag create
/// --output` that was killed: those whose process is gone. A live process's staging
/// (another run writing the same bag right now) is left alone; where liveness cannot be
/// told (no /proc), nothing is removed.
fn clean_stale_staging(parent: &Path, dest_name: &str) -> Result<Vec<PathBuf>, Error> {
    let prefix = format!(".{dest_name}.cairn-partial-");
    let proc_fs = Path::new("/proc/self").exists();
    let mut cleaned = Vec::new();
    if !proc_fs {
        return Ok(cleaned);
    }
    let entries = fs::read_dir(parent).map_err(|e| Error::io("read folder", parent, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix.as_str())) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let path = entry.path();
        fs::remove_dir_all(&path).map_err(|e| Error::io("remove stale staging", &path, e))?;
        cleaned.push(path);
    }
    if !cleaned.is_empty() {
        sync_dir(parent)?;
    }
    Ok(cleaned)
}

/// Creates a bag of `src` at `dest` (a copy), or in place when `dest` is `None`.
pub fn create_bag(
    src: &Path,
    dest: Option<&Path>,
    opts: &CreateOptions,
) -> Result<CreateReport, Error> {
    match dest {
        Some(d) => create_copy(src, d, opts),
        None => create_in_place(src, opts),
    }
}

fn create_copy(src: &Path, dest: &Path, opts: &CreateOptions) -> Result<CreateReport, Error> {
    let algs = opts.check()?;
    if fs::symlink_metadata(dest).is_ok() {
        return Err(Error::AlreadyExists {
            path: dest.to_path_buf(),
        });
    }
    let src_meta = fs::symlink_metadata(src).map_err(|e| Error::io("read", src, e))?;
    // A lone file is a bag of one file.
    let walk = if src_meta.is_file() {
        let name = src
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Refused {
                path: src.to_path_buf(),
                reason: "the name is not valid UTF-8".into(),
            })?;
        Walk {
            files: vec![SourceFile::single(src, name, &src_meta)],
            total_bytes: src_meta.len(),
            ..Default::default()
        }
    } else if src_meta.is_dir() {
        walk_source(src, &[])?
    } else {
        return Err(Error::Refused {
            path: src.to_path_buf(),
            reason: "not a regular file or folder (a symlink, fifo or device)".into(),
        });
    };
    if !walk.refused.is_empty() {
        return Err(refusal_error(src, &walk.refused));
    }
    let parent = parent_dir(dest).to_path_buf();
    let dest_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Usage(format!("{} has no final name", dest.display())))?;
    if !parent.is_dir() {
        return Err(Error::Usage(format!(
            "--output {}: the folder {} does not exist; create it first (mkdir -p {}), or choose another place for the bag",
            dest.display(),
            parent.display(),
            parent.display()
        )));
    }
    let cleaned = clean_stale_staging(&parent, &dest_name)?;
    let staging = parent.join(format!(
        ".{dest_name}.cairn-partial-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    fs::create_dir(&staging).map_err(|e| Error::io("create staging folder", &staging, e))?;
    let result = (|| {
        let built = build_bag(
            &staging,
            &walk.files,
            &walk.dirs,
            &opts.build_options(&algs),
        )?;
        check_written(&staging)?;
        let mut report = CreateReport::new(dest, built, &algs, &walk);
        report.cleaned = cleaned;
        Ok(report)
    })();
    match result {
        Ok(report) => {
            failpoint::hit("create-before-publish");
            if let Err(e) = rename_no_replace(&staging, dest) {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
            Ok(report)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn empty_dirs(walk: &Walk) -> Vec<String> {
    walk.dirs
        .iter()
        .filter(|d| {
            let prefix = format!("{d}/");
            !walk.files.iter().any(|f| f.rel.starts_with(&prefix))
                && !walk.dirs.iter().any(|o| o.starts_with(&prefix))
        })
        .cloned()
        .collect()
}

/// A cheap read-back of what was just written: structure, tag-file digests and
/// completeness (every file present with the size written). Payload bytes were hashed
/// as they were written; re-reading them all is ingest's job, not bag create's.
fn check_written(root: &Path) -> Result<(), Error> {
    let source = DirSource::open(root)?;
    let report = validate(
        &source,
        &ValidateOptions {
            mode: Mode::Completeness,
            only_algorithms: None,
            keep_digests: false,
        },
    )?;
    if report.is_ok() {
        Ok(())
    } else {
        let detail = report
            .problems
            .iter()
            .chain(&report.errors)
            .map(|p| format!("{}: {}: {}", p.path, p.kind, p.detail))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::VerifyFailed {
            path: root.to_path_buf(),
            detail,
        })
    }
}

// ---------------------------------------------------------------------------------
// In place.

const JOURNAL: &str = ".cairn-in-place.json";
const MOVING_DIR: &str = ".cairn-in-place-data";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// The top-level names that are being moved under data/.
    names: Vec<String>,
}

fn is_cairn_tag_file(name: &str) -> bool {
    name == "bagit.txt" || name == "bag-info.txt" || ManifestKind::from_file_name(name).is_some()
}

fn create_in_place(src: &Path, opts: &CreateOptions) -> Result<CreateReport, Error> {
    let algs = opts.check()?;
    let meta = fs::symlink_metadata(src).map_err(|e| Error::io("read", src, e))?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a folder; bag a single file with --output",
            src.display()
        )));
    }
    let recovered = recover_in_place(src)?;
    if src.join("bagit.txt").exists() {
        return Err(Error::Usage(format!(
            "{} already has a bagit.txt: it looks like a bag. Validate it with `cairn bag validate`, or move it into a new folder to bag it again",
            src.display()
        )));
    }
    let walk = walk_source(src, &[JOURNAL, MOVING_DIR])?;
    if !walk.refused.is_empty() {
        return Err(refusal_error(src, &walk.refused));
    }
    // 1. Hash every file where it is: the only read of each byte.
    let pass = crate::progress::phase("hash", walk.files.len() as u64, walk.total_bytes);
    let results: Vec<Result<(BagPath, BuiltFile), Error>> = walk
        .files
        .par_iter()
        .map_init(
            || vec![0u8; BUF_SIZE],
            |buf, f| {
                let input =
                    crate::fs::open_read(&f.disk).map_err(|e| Error::io("open", &f.disk, e))?;
                let d =
                    hash_reader(&input, &algs, buf).map_err(|e| Error::io("read", &f.disk, e))?;
                f.check_unchanged(&input, d.len)?;
                crate::progress::file_done();
                Ok((
                    payload_path(&f.rel)?,
                    BuiltFile {
                        digests: d,
                        mime: None,
                    },
                ))
            },
        )
        .collect();
    let payload: BTreeMap<BagPath, BuiltFile> = results.into_iter().collect::<Result<_, _>>()?;
    drop(pass);

    // 2. The moving folder exists before the journal names it, so that recovery can
    // tell "not yet renamed to data/" (it exists) from "renamed" (it does not).
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(src).map_err(|e| Error::io("read folder", src, e))? {
        let entry = entry.map_err(|e| Error::io("read folder", src, e))?;
        let name = entry
            .file_name()
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Refused {
                path: entry.path(),
                reason: "the name is not valid UTF-8".into(),
            })?;
        if name != JOURNAL && name != MOVING_DIR {
            names.push(name);
        }
    }
    names.sort();
    let moving = src.join(MOVING_DIR);
    fs::create_dir(&moving).map_err(|e| Error::io("create", &moving, e))?;
    sync_dir(src)?;
    failpoint::hit("in-place-before-journal");
    let journal = serde_json::to_vec_pretty(&Journal {
        names: names.clone(),
    })
    .map_err(|e| Error::io("write journal", src.join(JOURNAL), io::Error::other(e)))?;
    write_atomic(&src.join(JOURNAL), &journal)?;
    failpoint::hit("in-place-journal-written");

    // 3. Move, then publish data/.
    for n in &names {
        fs::rename(src.join(n), moving.join(n)).map_err(|e| Error::io("move", src.join(n), e))?;
        failpoint::hit("in-place-moved-one");
    }
    sync_dir(&moving)?;
    sync_dir(src)?;
    let data = src.join("data");
    fs::rename(&moving, &data).map_err(|e| Error::io("rename", &moving, e))?;
    sync_dir(src)?;
    failpoint::hit("in-place-data-published");

    // 4. Tag files (bagit.txt last), a read-back, then the journal goes.
    let built = write_tag_files(src, payload, &opts.build_options(&algs))?;
    sync_tree(src)?;
    let mut report = CreateReport::new(src, built, &algs, &walk);
    check_written(src)?;
    failpoint::hit("in-place-before-journal-removed");
    fs::remove_file(src.join(JOURNAL)).map_err(|e| Error::io("remove", src.join(JOURNAL), e))?;
    sync_dir(src)?;
    report.recovered = recovered;
    Ok(report)
}

/// Rolls back an interrupted in-place run, if there is one. Returns whether it did.
///
/// States (see docs/in-place-bagging.md): no journal → nothing to do (an empty moving
/// folder left before the journal was written is removed); journal and moving folder →
/// entries are moved back; journal without moving folder → data/ was published, so
/// Cairn's own top-level tag files are removed and data/ becomes the moving folder
/// again, then as before.
fn recover_in_place(src: &Path) -> Result<bool, Error> {
    let journal_path = src.join(JOURNAL);
    let moving = src.join(MOVING_DIR);
    let journal: Journal = match fs::read(&journal_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Refused {
            path: journal_path.clone(),
            reason: format!("the in-place journal is unreadable ({e}); restore the folder by hand from {MOVING_DIR} or data/"),
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if moving.is_dir() {
                // Created before the journal; nothing was moved into it yet.
                fs::remove_dir(&moving).map_err(|e| Error::io("remove", &moving, e))?;
            }
            return Ok(false);
        }
        Err(e) => return Err(Error::io("read", &journal_path, e)),
    };
    tracing::warn!(folder = %src.display(), "rolling back an interrupted in-place bagging");
    if !moving.is_dir() {
        // data/ was published: every original name is inside it, so each top-level
        // file Cairn writes is Cairn's own and can go.
        for entry in fs::read_dir(src).map_err(|e| Error::io("read folder", src, e))? {
            let entry = entry.map_err(|e| Error::io("read folder", src, e))?;
            if let Some(name) = entry.file_name().to_str() {
                if is_cairn_tag_file(name) && entry.file_type().is_ok_and(|t| t.is_file()) {
                    fs::remove_file(entry.path())
                        .map_err(|e| Error::io("remove", entry.path(), e))?;
                }
            }
        }
        fs::rename(src.join("data"), &moving)
            .map_err(|e| Error::io("rename", src.join("data"), e))?;
        sync_dir(src)?;
    }
    for n in &journal.names {
        let from = moving.join(n);
        if fs::symlink_metadata(&from).is_ok() {
            fs::rename(&from, src.join(n)).map_err(|e| Error::io("move back", &from, e))?;
        }
    }
    sync_dir(src)?;
    fs::remove_dir(&moving).map_err(|e| Error::io("remove", &moving, e))?;
    fs::remove_file(&journal_path).map_err(|e| Error::io("remove", &journal_path, e))?;
    sync_dir(src)?;
    Ok(true)
}
