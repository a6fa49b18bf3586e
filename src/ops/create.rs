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
//! running the same command again (fs/in_place.rs). See docs/in-place-bagging.md.
//!
//! The copying, hashing and tag-file writing is the bag writer (fs/bag_writer.rs),
//! which ingest uses too, and so is the staging folder of a copy; the tag files' bytes
//! come from bagit/builder.rs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::bagit::path::BagPath;
use crate::bagit::tags::check_label;
use crate::bagit::{validate, Mode, ValidateOptions};
use crate::digest::{hash_reader, Algorithm, BUF_SIZE};
use crate::error::Error;
use crate::fs::bag_writer::{
    self, build_bag, payload_path, write_tag_files, BuildOptions, BuiltBag, BuiltFile,
};
use crate::fs::dir::DirSource;
use crate::fs::durable::{parent_dir, rename_no_replace, sync_tree};
use crate::fs::failpoint;
use crate::fs::in_place;
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
    /// Extra tag files (a profile's aptrust-info.txt), covered by the tag manifests.
    pub extra_tags: Vec<(String, Vec<u8>)>,
    /// Algorithms Cairn otherwise only reads (md5, sha1) that a BagIt Profile requires,
    /// allowed for this bag (ops/bag_profile.rs).
    pub legacy_ok: Vec<Algorithm>,
}

impl CreateOptions {
    pub fn new(bagging_date: chrono::NaiveDate) -> CreateOptions {
        CreateOptions {
            algorithms: Algorithm::DEFAULT.to_vec(),
            info: Vec::new(),
            bagging_date,
            extra_tags: Vec::new(),
            legacy_ok: Vec::new(),
        }
    }

    fn build_options(&self, algorithms: &[Algorithm]) -> BuildOptions {
        BuildOptions {
            algorithms: algorithms.to_vec(),
            info: self.info.clone(),
            bagging_date: self.bagging_date,
            extra_tags: self.extra_tags.clone(),
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
        if let Some(a) = algs
            .iter()
            .find(|a| !a.can_create() && !self.legacy_ok.contains(a))
        {
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
    fn new(
        bag: &Path,
        built: BuiltBag,
        algorithms: &[Algorithm],
        empty_dirs: Vec<String>,
    ) -> CreateReport {
        CreateReport {
            bag: bag.to_path_buf(),
            files: built.files,
            bytes: built.bytes,
            algorithms: algorithms.to_vec(),
            payload_oxum: built.payload_oxum,
            empty_dirs,
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
    if crate::fs::entry_exists(dest) {
        return Err(Error::AlreadyExists {
            path: dest.to_path_buf(),
        });
    }
    let src_meta = crate::fs::lstat(src)?;
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
    let cleaned = bag_writer::clean_stale_staging(&parent, &dest_name)?;
    let staging = bag_writer::create_staging_beside(&parent, &dest_name)?;
    let result = (|| {
        let built = build_bag(
            &staging,
            &walk.files,
            &walk.dirs,
            &opts.build_options(&algs),
        )?;
        let mut report = CreateReport::new(dest, built, &algs, empty_dirs(&walk));
        // What the read-back needs memory for is a bag's worth of names again.
        drop(walk);
        crate::memory::release_freed();
        check_written(&staging)?;
        report.cleaned = cleaned;
        Ok(report)
    })();
    match result {
        Ok(report) => {
            failpoint::hit("create-before-publish");
            if let Err(e) = rename_no_replace(&staging, dest) {
                bag_writer::discard_staging(&staging);
                return Err(e);
            }
            Ok(report)
        }
        Err(e) => {
            bag_writer::discard_staging(&staging);
            Err(e)
        }
    }
}

/// The folders with nothing in them (no file, no folder): one pass over the walk, a
/// set of the folders that hold something (a test of every folder against every file
/// took minutes at a million files).
fn empty_dirs(walk: &Walk) -> Vec<String> {
    let holding: std::collections::HashSet<&str> = walk
        .files
        .iter()
        .map(|f| f.rel.as_str())
        .chain(walk.dirs.iter().map(String::as_str))
        .filter_map(|p| p.rsplit_once('/').map(|(dir, _)| dir))
        .collect();
    walk.dirs
        .iter()
        .filter(|d| !holding.contains(d.as_str()))
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

fn create_in_place(src: &Path, opts: &CreateOptions) -> Result<CreateReport, Error> {
    let algs = opts.check()?;
    let meta = crate::fs::lstat(src)?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a folder; bag a single file with --output",
            src.display()
        )));
    }
    let recovered = in_place::recover(src)?;
    if in_place::has_bagit_txt(src) {
        return Err(Error::Usage(format!(
            "{} already has a bagit.txt: it looks like a bag. Validate it with `cairn bag validate`, or move it into a new folder to bag it again",
            src.display()
        )));
    }
    let walk = walk_source(src, &[in_place::JOURNAL, in_place::MOVING_DIR])?;
    if !walk.refused.is_empty() {
        return Err(refusal_error(src, &walk.refused));
    }
    // 1. Hash every file where it is: the only read of each byte.
    let pass = crate::progress::phase("hash", walk.files.len() as u64, walk.total_bytes);
    // Collected as results, in order, then checked: rayon's collect into a `Result`
    // loses the exact length and goes through a list of pieces (a second copy).
    let hashed: Vec<Result<(BagPath, BuiltFile), Error>> = walk
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
    drop(pass);
    // The walk's names are not needed again: freed before the payload is sorted, the
    // manifests rendered and the bag read back (a million files: about 150 MB).
    let empty = empty_dirs(&walk);
    drop(walk);
    let payload: BTreeMap<BagPath, BuiltFile> = hashed.into_iter().collect::<Result<_, _>>()?;

    // 2. Every top-level entry moved under data/, guarded by the journal.
    in_place::move_under_data(src)?;

    // 3. Tag files (bagit.txt last), a read-back, then the journal goes.
    let built = write_tag_files(src, payload, &opts.build_options(&algs))?;
    sync_tree(src)?;
    let mut report = CreateReport::new(src, built, &algs, empty);
    // The payload's million small allocations were just freed: handed back to the
    // system before the read-back allocates large ones (520 → 412 MiB peak at a
    // million files).
    crate::memory::release_freed();
    check_written(src)?;
    failpoint::hit("in-place-before-journal-removed");
    in_place::finish(src)?;
    report.recovered = recovered;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dirs_are_those_holding_nothing() {
        let file = |rel: &str| SourceFile {
            disk: PathBuf::from(rel),
            rel: rel.to_string(),
            size: 0,
            modified: None,
        };
        let walk = Walk {
            files: vec![file("a/x.txt"), file("b/c/y.txt"), file("top.txt")],
            dirs: ["a", "b", "b/c", "d", "d/e", "f"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        // b holds only a folder, d only an empty folder: neither is empty itself.
        assert_eq!(empty_dirs(&walk), ["d/e", "f"]);
    }
}
