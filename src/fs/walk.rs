//! Walking a source folder before it is packaged: every regular file, in a stable
//! order, with anything Cairn refuses to package reported by name.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::bagit::path::BagPath;
use crate::error::Error;

/// A regular file to package.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path on disk.
    pub disk: PathBuf,
    /// Path relative to the walked root, `/`-separated, validated.
    pub rel: String,
    pub size: u64,
    /// Modification time when listed: with the size, what tells that the file
    /// changed while it was being read.
    pub modified: Option<std::time::SystemTime>,
}

impl SourceFile {
    /// A file given directly (not found by a walk).
    pub fn single(disk: &Path, rel: &str, meta: &std::fs::Metadata) -> SourceFile {
        SourceFile {
            disk: disk.to_path_buf(),
            rel: rel.to_string(),
            size: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// Checks, after reading `read` bytes, that the file is still as it was listed:
    /// same size, same modification time. A writer appending to it, or rewriting it in
    /// place, while it was read would otherwise leave a digest of bytes that were never
    /// all there at once recorded as the truth.
    ///
    /// `file` is the handle the bytes were read from: its `fstat` describes exactly the
    /// file that was read (even if another was renamed over its name meanwhile), and
    /// costs no second path lookup.
    pub fn check_unchanged(
        &self,
        file: &std::fs::File,
        read: u64,
    ) -> Result<(), crate::error::Error> {
        let now = file
            .metadata()
            .map_err(|e| crate::error::Error::io("stat", &self.disk, e))?;
        if read != self.size || now.len() != self.size || now.modified().ok() != self.modified {
            return Err(crate::error::Error::io(
                "read",
                &self.disk,
                std::io::Error::other(format!(
                    "the file changed while it was being read ({} bytes when listed, {read} read, {} now); nothing was recorded, run again when it is stable",
                    self.size,
                    now.len()
                )),
            ));
        }
        Ok(())
    }
}

/// The result of walking a source folder.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<SourceFile>,
    /// Folders (relative), so that empty ones can be recreated.
    pub dirs: Vec<String>,
    /// Entries refused, with the reason; nothing is packaged when this is not empty.
    pub refused: Vec<(PathBuf, String)>,
    pub total_bytes: u64,
}

/// Walks `root` without following links. Symlinks, fifos, sockets, devices and names
/// that are not UTF-8 (or could never be a safe bag path) are refused by name.
/// Entries whose relative path is in `skip` (top-level names) are left out.
pub fn walk_source(root: &Path, skip: &[&str]) -> Result<Walk, Error> {
    let mut walk = Walk::default();
    // A folder is entered unless it is skipped or refused below (a refused folder is
    // reported once, not with every file in it).
    let descend = |rel: &Path, depth: usize| {
        !(depth == 1 && skip.iter().any(|s| rel.as_os_str() == *s))
            && rel
                .to_str()
                .is_some_and(|r| BagPath::parse(&format!("data/{r}")).is_ok())
    };
    for item in list_tree(root, &descend) {
        let disk = item.disk;
        // Anything below the root that cannot be read (a folder without execute
        // permission, a file that cannot be stat'ed) is refused by name, like a link:
        // the item is refused, the run goes on.
        let ft = match item.kind {
            Ok(ft) => ft,
            Err(e) => {
                walk.refused.push((disk, format!("cannot read: {e}")));
                continue;
            }
        };
        if item.depth == 1 && skip.iter().any(|s| item.rel.as_os_str() == *s) {
            continue;
        }
        let Some(rel) = item.rel.to_str().map(|s| s.to_string()) else {
            walk.refused.push((
                disk,
                "the name is not valid UTF-8 and cannot be written in a manifest exactly".into(),
            ));
            continue;
        };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        // Checked as it will stand in the bag, under data/.
        if let Err(p) = BagPath::parse(&format!("data/{rel}")) {
            walk.refused
                .push((disk, format!("the name cannot be a safe bag path: {p}")));
            continue;
        }
        if ft.is_symlink() {
            walk.refused.push((
                disk,
                "symbolic link: Cairn packages files, never links (copy the target in instead)"
                    .into(),
            ));
        } else if ft.is_dir() {
            walk.dirs.push(rel);
        } else if ft.is_file() {
            match item.meta {
                Some(Ok(meta)) => {
                    walk.total_bytes += meta.len;
                    walk.files.push(SourceFile {
                        disk,
                        rel,
                        size: meta.len,
                        modified: meta.modified,
                    });
                }
                Some(Err(e)) => walk.refused.push((disk, format!("cannot read: {e}"))),
                None => walk.refused.push((disk, "cannot read: no metadata".into())),
            }
        } else {
            walk.refused
                .push((disk, "not a regular file (fifo, socket or device)".into()));
        }
    }
    Ok(walk)
}

/// One entry found by [`list_tree`].
#[derive(Debug)]
pub struct Listed {
    /// Path on disk (the root joined with `rel`).
    pub disk: PathBuf,
    /// Path relative to the root.
    pub rel: PathBuf,
    /// 1 for the root's own entries; 0 for the root itself, which is listed only
    /// when it cannot be read.
    pub depth: usize,
    /// The entry's type (links not followed), or why the entry (or, for a folder
    /// listed a second time, its contents) could not be read.
    pub kind: std::io::Result<std::fs::FileType>,
    /// For regular files, their size and modification time (links not followed).
    pub meta: Option<std::io::Result<FileMeta>>,
}

/// What the walk keeps of a regular file's metadata: its size and modification time
/// (16 bytes against about 150 for a whole `std::fs::Metadata`: a listing of a
/// million files holds one per file).
#[derive(Debug, Clone, Copy)]
pub struct FileMeta {
    pub len: u64,
    pub modified: Option<std::time::SystemTime>,
}

impl FileMeta {
    fn of(meta: &std::fs::Metadata) -> FileMeta {
        FileMeta {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// Lists everything below `root`: depth first, each folder's entries sorted by name
/// (bytes), links never followed. A folder's contents are listed when
/// `descend(rel, depth)` is true for it. A folder whose contents cannot be read is
/// listed a second time, right after itself, with the error as its `kind` (the root
/// at depth 0).
///
/// Hand-written rather than walkdir's, for the cost per file, which dominates bags of
/// many small files: folders are read and files stat'ed in parallel on the rayon pool
/// (the order of the result does not depend on it), and each file is stat'ed relative
/// to its open folder (`DirEntry::metadata`, one `statx` with no path lookup from the
/// root). The listing is held in memory, about as much per file as the walk's callers
/// keep anyway.
pub fn list_tree(root: &Path, descend: &(dyn Fn(&Path, usize) -> bool + Sync)) -> Vec<Listed> {
    list_dir(root, Path::new(""), 1, descend)
}

fn list_dir(
    dir: &Path,
    rel: &Path,
    depth: usize,
    descend: &(dyn Fn(&Path, usize) -> bool + Sync),
) -> Vec<Listed> {
    let listed: std::io::Result<Vec<std::fs::DirEntry>> =
        std::fs::read_dir(dir).and_then(|rd| rd.collect());
    let mut entries = match listed {
        Ok(entries) => entries,
        Err(e) => {
            return vec![Listed {
                disk: dir.to_path_buf(),
                rel: rel.to_path_buf(),
                depth: depth - 1,
                kind: Err(e),
                meta: None,
            }]
        }
    };
    // OsString order is byte order on Unix.
    entries.sort_by_cached_key(|e| e.file_name());
    let one = |entry: &std::fs::DirEntry| {
        let disk = entry.path();
        let rel = rel.join(entry.file_name());
        let kind = entry.file_type();
        let is_file = kind.as_ref().is_ok_and(|t| t.is_file());
        let is_dir = kind.as_ref().is_ok_and(|t| t.is_dir());
        let meta = is_file.then(|| entry.metadata().map(|m| FileMeta::of(&m)));
        let below = if is_dir && descend(&rel, depth) {
            list_dir(&disk, &rel, depth + 1, descend)
        } else {
            Vec::new()
        };
        std::iter::once(Listed {
            disk,
            rel,
            depth,
            kind,
            meta,
        })
        .chain(below)
    };
    // A small folder (a bag's top level, a few payload files) is listed on this
    // thread: splitting it into pool tasks cost more than its few stats (fixity over
    // many small bags).
    if entries.len() < PARALLEL_ENTRIES {
        entries.iter().flat_map(one).collect()
    } else {
        entries
            .par_iter()
            .with_max_len(64)
            .flat_map_iter(one)
            .collect()
    }
}

/// Folders with at least this many entries are listed on the rayon pool.
const PARALLEL_ENTRIES: usize = 16;

/// The regular files under `path` (or `path` itself, when it is a file) and their total
/// size, links not followed, unreadable entries and the top-level names in `skip` left
/// out. Only an estimate, for a progress bar's totals before a run; [`walk_source`] is
/// what decides.
pub fn measure(path: &Path, skip: &[&str]) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => return (1, m.len()),
        Ok(m) if m.is_dir() => {}
        _ => return (0, 0),
    }
    let descend =
        |rel: &Path, depth: usize| !(depth == 1 && skip.iter().any(|s| rel == Path::new(s)));
    for item in list_tree(path, &descend) {
        if item.depth == 1 && skip.iter().any(|s| item.rel == Path::new(s)) {
            continue;
        }
        if let Some(Ok(meta)) = item.meta {
            files += 1;
            bytes += meta.len;
        }
    }
    (files, bytes)
}

/// Turns refused entries into one error that names each of them.
pub fn refusal_error(root: &Path, refused: &[(PathBuf, String)]) -> Error {
    let reason = refused
        .iter()
        .map(|(p, r)| format!("{}: {r}", p.display()))
        .collect::<Vec<_>>()
        .join("; ");
    Error::Refused {
        path: root.to_path_buf(),
        reason: format!(
            "{} entr{} cannot be packaged: {reason}",
            refused.len(),
            if refused.len() == 1 { "y" } else { "ies" }
        ),
    }
}
