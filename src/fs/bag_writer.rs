//! The bag writer: copies a payload into a new bag folder while hashing it (and
//! identifying formats) in the same pass, files in parallel, then writes the tag files
//! rendered by [`crate::bagit::builder`] and makes the tree durable. Used by `bag
//! create` (ops/create.rs) and by ingest's build step (ops/ingest/change.rs). Neither
//! validates nor publishes: that is the caller's order of business.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::bagit::builder::{BagBuilder, TagSink};
use crate::bagit::path::BagPath;
use crate::digest::{copy_and_hash, Algorithm, Digests, BUF_SIZE};
use crate::error::Error;
use crate::format::{sniff_mime, HEAD_LEN};
use crate::fs::durable::{sync_dir, sync_tree, write_new_unsynced};
use crate::fs::failpoint;
use crate::fs::walk::SourceFile;

/// Removes `.NAME.cairn-partial-PID-*` folders beside `NAME` left by a `bag create
/// --output` that was killed: those whose process is gone. A live process's staging
/// (another run writing the same bag right now) is left alone; where liveness cannot be
/// told (no /proc), nothing is removed.
pub(crate) fn clean_stale_staging(parent: &Path, dest_name: &str) -> Result<Vec<PathBuf>, Error> {
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

/// Creates `.NAME.cairn-partial-PID-NANOS` beside `NAME` in `parent`: the hidden,
/// empty folder a `bag create --output` builds its bag in before publishing it.
pub(crate) fn create_staging_beside(parent: &Path, dest_name: &str) -> Result<PathBuf, Error> {
    let staging = parent.join(format!(
        ".{dest_name}.cairn-partial-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    fs::create_dir(&staging).map_err(|e| Error::io("create staging folder", &staging, e))?;
    Ok(staging)
}

/// Deletes a staging folder that will not be published (best effort: what is left is
/// hidden, and the next run's [`clean_stale_staging`] removes it).
pub(crate) fn discard_staging(staging: &Path) {
    let _ = fs::remove_dir_all(staging);
}

/// A payload file's bag path (`data/` + its path relative to the source), or why the
/// name cannot be one.
pub(crate) fn payload_path(rel: &str) -> Result<BagPath, Error> {
    BagPath::parse(&format!("data/{rel}")).map_err(|p| Error::Refused {
        path: PathBuf::from(rel),
        reason: p.to_string(),
    })
}

/// One payload file as written into a bag.
#[derive(Debug, Clone)]
pub struct BuiltFile {
    pub digests: Digests,
    /// MIME type identified from the first bytes, when asked for.
    pub mime: Option<String>,
}

/// What to put in a bag besides the payload.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub algorithms: Vec<Algorithm>,
    /// bag-info.txt fields after Bagging-Date, Payload-Oxum and Bag-Software-Agent.
    pub info: Vec<(String, String)>,
    pub bagging_date: chrono::NaiveDate,
    /// Extra tag files (such as `metadata/dc.xml`), covered by the tag manifests.
    pub extra_tags: Vec<(String, Vec<u8>)>,
    /// Identify each payload file's format from its first bytes.
    pub sniff: bool,
}

/// A bag written into a staging folder.
#[derive(Debug, Clone)]
pub struct BuiltBag {
    pub payload: BTreeMap<BagPath, BuiltFile>,
    /// Digests of every tag file the tag manifests list, and of the tag manifests.
    pub tag_files: BTreeMap<String, Digests>,
    pub files: u64,
    pub bytes: u64,
    pub payload_oxum: String,
}

/// Writes a complete bag into the empty folder `root`: copies `files` under data/
/// (hashing and, optionally, identifying formats in the same pass, files in parallel),
/// recreates `dirs`, writes the tag files with bagit.txt last, and makes the whole tree
/// durable with one [`sync_tree`].
/// Neither validates nor publishes: that is the caller's order of business.
pub fn build_bag(
    root: &Path,
    files: &[SourceFile],
    dirs: &[String],
    opts: &BuildOptions,
) -> Result<BuiltBag, Error> {
    let data = root.join("data");
    fs::create_dir(&data).map_err(|e| Error::io("create", &data, e))?;
    for d in dirs {
        let disk = payload_path(d)?.to_fs_path(root);
        fs::create_dir(&disk).map_err(|e| Error::io("create", &disk, e))?;
    }
    let _pass = crate::progress::phase(
        "copy",
        files.len() as u64,
        files.iter().map(|f| f.size).sum(),
    );
    let payload = copy_files(files, root, &opts.algorithms, opts.sniff)?;
    for (name, _) in &opts.extra_tags {
        let p = BagPath::parse(name).map_err(|e| Error::Usage(format!("tag file {name}: {e}")))?;
        let mut parent = p.to_fs_path(root);
        parent.pop();
        if parent != root && !parent.exists() {
            fs::create_dir_all(&parent).map_err(|e| Error::io("create", &parent, e))?;
        }
    }
    let built = write_tag_files(root, payload, opts)?;
    // Nothing points at `root` yet: one flush of the whole tree makes it durable.
    sync_tree(root)?;
    Ok(built)
}

/// Copies every file into `root/data/`, hashing on the way, files in parallel.
fn copy_files(
    files: &[SourceFile],
    root: &Path,
    algs: &[Algorithm],
    sniff: bool,
) -> Result<BTreeMap<BagPath, BuiltFile>, Error> {
    let results: Vec<Result<(BagPath, BuiltFile), Error>> = files
        .par_iter()
        .map_init(
            || vec![0u8; BUF_SIZE],
            |buf, f| {
                let bag_path = payload_path(&f.rel)?;
                let to = bag_path.to_fs_path(root);
                let input =
                    crate::fs::open_read(&f.disk).map_err(|e| Error::io("open", &f.disk, e))?;
                let output = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&to)
                    .map_err(|e| Error::io("create", &to, e))?;
                let mut head = HeadCapture::new(if sniff { HEAD_LEN } else { 0 });
                let mut tee = Tee {
                    out: &output,
                    head: &mut head,
                    write_failed: false,
                };
                let copied = copy_and_hash(&input, &mut tee, algs, buf);
                let digests = match copied {
                    Ok(d) => d,
                    // A write failure (no space, file too large) is the archive's.
                    Err(e) if tee.write_failed => return Err(Error::io("write", &to, e)),
                    Err(e) => return Err(Error::io("read", &f.disk, e)),
                };
                f.check_unchanged(&input, digests.len)?;
                failpoint::hit("create-copy-file");
                crate::progress::file_done();
                let mime = sniff.then(|| sniff_mime(&head.bytes, digests.len));
                Ok((bag_path, BuiltFile { digests, mime }))
            },
        )
        .collect();
    results.into_iter().collect()
}

/// Keeps the first `limit` bytes written through it.
struct HeadCapture {
    bytes: Vec<u8>,
    limit: usize,
}

impl HeadCapture {
    fn new(limit: usize) -> HeadCapture {
        HeadCapture {
            bytes: Vec::with_capacity(limit),
            limit,
        }
    }
}

/// Writes to a file and keeps the head of the stream.
/// Remembers whether writing failed, so that a full disk is blamed on the archive and
/// not on the file being read.
struct Tee<'a> {
    out: &'a File,
    head: &'a mut HeadCapture,
    write_failed: bool,
}

impl io::Write for Tee<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self
            .out
            .write(data)
            .inspect_err(|_| self.write_failed = true)?;
        let room = self.head.limit - self.head.bytes.len();
        self.head.bytes.extend_from_slice(&data[..n.min(room)]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().inspect_err(|_| self.write_failed = true)
    }
}

/// Writes tag files already rendered (name → bytes, names relative to `root`) into
/// `root`, unsynced, making their folders, bagit.txt last: until it exists the folder
/// does not claim to be a bag. Used where an item changes (amend, revise).
pub(crate) fn write_tags_bagit_last(
    root: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), Error> {
    let later = files.iter().filter(|(n, _)| *n == "bagit.txt");
    for (name, bytes) in files.iter().filter(|(n, _)| *n != "bagit.txt").chain(later) {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            if !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            }
        }
        write_new_unsynced(&path, bytes)?;
    }
    Ok(())
}

/// Renders the tag files (bag-info, manifests, extra tag files, tag manifests, and
/// bagit.txt last; [`BagBuilder`]) and writes them into `root`, unsynced: the caller
/// makes the tree durable.
pub(crate) fn write_tag_files(
    root: &Path,
    payload: BTreeMap<BagPath, BuiltFile>,
    opts: &BuildOptions,
) -> Result<BuiltBag, Error> {
    let listed: Vec<(&BagPath, &Digests)> = payload.iter().map(|(p, f)| (p, &f.digests)).collect();
    let tags = BagBuilder {
        algorithms: &opts.algorithms,
        bagging_date: opts.bagging_date,
        info: &opts.info,
        extra_tags: &opts.extra_tags,
    }
    .render_to(&listed, &mut FolderSink { root })?;
    drop(listed);
    Ok(BuiltBag {
        payload,
        tag_files: tags.digests,
        files: tags.files_count,
        bytes: tags.bytes,
        payload_oxum: tags.payload_oxum,
    })
}

/// Tag files written into a bag's folder as they are rendered, through a buffer;
/// each a new file (an existing one is an error), unsynced.
struct FolderSink<'a> {
    root: &'a Path,
}

impl TagSink for FolderSink<'_> {
    fn put(
        &mut self,
        name: &str,
        content: &mut dyn FnMut(&mut dyn io::Write) -> io::Result<()>,
    ) -> Result<(), Error> {
        let path = BagPath::parse(name)
            .map_err(|e| Error::Usage(format!("tag file {name}: {e}")))?
            .to_fs_path(self.root);
        let mut out = io::BufWriter::with_capacity(256 * 1024, crate::fs::create_new_file(&path)?);
        content(&mut out)
            .and_then(|()| io::Write::flush(&mut out))
            .map_err(|e| Error::io("write", &path, e))?;
        failpoint::hit("create-tag-file");
        Ok(())
    }
}
