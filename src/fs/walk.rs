//! Walking a source folder before it is packaged: every regular file, in a stable
//! order, with anything Cairn refuses to package reported by name.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

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
    pub fn check_unchanged(&self, read: u64) -> Result<(), crate::error::Error> {
        let now = std::fs::metadata(&self.disk)
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
    let mut it = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter();
    while let Some(item) = it.next() {
        // Anything below the root that cannot be read (a folder without execute
        // permission, a file that cannot be stat'ed) is refused by name, like a link:
        // the item is refused, the run goes on.
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                let why = e
                    .io_error()
                    .map(|io| format!("cannot read: {io}"))
                    .unwrap_or_else(|| "a filesystem loop".into());
                walk.refused.push((path, why));
                continue;
            }
        };
        let disk = item.path().to_path_buf();
        let Ok(rel_path) = disk.strip_prefix(root) else {
            continue;
        };
        if item.depth() == 1 && skip.iter().any(|s| rel_path.as_os_str() == *s) {
            if item.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        let Some(rel) = rel_path.to_str().map(|s| s.to_string()) else {
            walk.refused.push((
                disk,
                "the name is not valid UTF-8 and cannot be written in a manifest exactly".into(),
            ));
            if item.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        // Checked as it will stand in the bag, under data/.
        if let Err(p) = BagPath::parse(&format!("data/{rel}")) {
            walk.refused
                .push((disk, format!("the name cannot be a safe bag path: {p}")));
            continue;
        }
        let ft = item.file_type();
        if ft.is_symlink() {
            walk.refused.push((
                disk,
                "symbolic link: Cairn packages files, never links (copy the target in instead)"
                    .into(),
            ));
        } else if ft.is_dir() {
            walk.dirs.push(rel);
        } else if ft.is_file() {
            let meta = match item.metadata() {
                Ok(m) => m,
                Err(e) => {
                    walk.refused.push((disk, format!("cannot read: {e}")));
                    continue;
                }
            };
            walk.total_bytes += meta.len();
            walk.files.push(SourceFile {
                disk,
                rel,
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        } else {
            walk.refused
                .push((disk, "not a regular file (fifo, socket or device)".into()));
        }
    }
    Ok(walk)
}

/// The regular files under `path` (or `path` itself, when it is a file) and their total
/// size, links not followed, unreadable entries and the top-level names in `skip` left
/// out. Only an estimate, for a progress bar's totals before a run; [`walk_source`] is
/// what decides.
pub fn measure(path: &Path, skip: &[&str]) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    for item in WalkDir::new(path).follow_links(false).into_iter().flatten() {
        if item.depth() == 1 && skip.iter().any(|s| item.file_name() == *s) {
            continue;
        }
        if item.file_type().is_file() {
            files += 1;
            bytes += item.metadata().map(|m| m.len()).unwrap_or(0);
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
