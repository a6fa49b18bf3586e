//! A bag in a folder on disk, as a [`BagSource`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bagit::source::{BagSource, EntryType, SourceEntry};
use crate::digest::{copy_and_hash, hash_reader, Algorithm, Digests};
use crate::error::Error;
use crate::fs::rate::{RateLimiter, Throttled};
use crate::fs::walk::list_tree;

/// A bag stored as a folder.
pub struct DirSource {
    root: PathBuf,
    limiter: Option<Arc<RateLimiter>>,
}

impl DirSource {
    /// Opens a bag folder. Fails (operationally) if it is not a readable folder.
    pub fn open(root: &Path) -> Result<DirSource, Error> {
        let meta = std::fs::metadata(root).map_err(|e| Error::io("open bag", root, e))?;
        if !meta.is_dir() {
            return Err(Error::io(
                "open bag",
                root,
                io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
            ));
        }
        Ok(DirSource {
            root: root.to_path_buf(),
            limiter: None,
        })
    }

    /// Opens one of the archive's bag folders (archive/ID, a kept version): as
    /// [`DirSource::open`], but a symbolic link in the folder's place is refused, never
    /// followed ([`bag_folder_refusal`]).
    pub fn open_archived(root: &Path) -> Result<DirSource, Error> {
        if let Some(why) = bag_folder_refusal(root) {
            return Err(Error::io("open bag", root, io::Error::other(why)));
        }
        DirSource::open(root)
    }

    /// Reads payload through a shared rate limiter.
    pub fn with_limiter(mut self, limiter: Option<Arc<RateLimiter>>) -> DirSource {
        self.limiter = limiter;
        self
    }

    /// Maps a listed bag path onto the disk. Only ever called with paths that `list`
    /// produced, which are real names inside the root.
    fn disk_path(&self, rel: &str) -> PathBuf {
        let mut p = self.root.clone();
        for seg in rel.split('/') {
            p.push(seg);
        }
        p
    }
}

/// Why the archive's bag folder at `path` is not opened, if it is not: nothing there,
/// a symbolic link in its place (refused, never followed: the archive's bags are
/// folders, and `audit`, which lists them without following links, calls it missing),
/// or something else than a folder. One stat, of the link itself; a stat that fails
/// otherwise (permission denied) is no refusal: opening the folder then fails to run.
pub fn bag_folder_refusal(path: &Path) -> Option<String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Some(format!("{} is gone", path.display()))
        }
        Err(_) => None,
        Ok(m) if m.file_type().is_symlink() => Some(format!(
            "{} is a symbolic link, not the bag folder: refused, never followed",
            path.display()
        )),
        Ok(m) if !m.is_dir() => Some(format!("{} is not a folder", path.display())),
        Ok(_) => None,
    }
}

/// A relative path as a `/`-separated bag path, and whether every part of it is UTF-8
/// (parts that are not are rendered lossily).
fn bag_path_of(rel: &Path) -> (String, bool) {
    let mut utf8 = true;
    let parts: Vec<String> = rel
        .components()
        .map(|c| {
            let s = c.as_os_str();
            s.to_str().map(str::to_string).unwrap_or_else(|| {
                utf8 = false;
                s.to_string_lossy().into_owned()
            })
        })
        .collect();
    (parts.join("/"), utf8)
}

impl BagSource for DirSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self) -> Result<Vec<SourceEntry>, Error> {
        let listed = list_tree(&self.root, &|_, _| true);
        let mut out = Vec::with_capacity(listed.len());
        for item in listed {
            let ft = item.kind.map_err(|e| Error::io("list", &item.disk, e))?;
            if ft.is_dir() {
                continue;
            }
            let (kind, size) = if ft.is_symlink() {
                (EntryType::Symlink, 0)
            } else if let Some(meta) = item.meta {
                let meta = meta.map_err(|e| Error::io("stat", &item.disk, e))?;
                (EntryType::File, meta.len)
            } else {
                (EntryType::Special, 0)
            };
            // Bag paths are `/`-separated, as relative paths are on Unix. A UTF-8 name
            // keeps the walk's own string (no copy of a million names).
            let (path, utf8) = match item.rel.into_os_string().into_string() {
                Ok(p) if std::path::MAIN_SEPARATOR == '/' => (p, true),
                Ok(p) => bag_path_of(std::path::Path::new(&p)),
                Err(os) => bag_path_of(std::path::Path::new(&os)),
            };
            out.push(SourceEntry {
                path,
                utf8,
                kind,
                size,
            });
        }
        Ok(out)
    }

    fn is_dir(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.disk_path(rel)).is_ok_and(|m| m.is_dir())
    }

    fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        // Opened as payload is (no access-time write), and a small tag file read
        // without the size probes of `std::fs::read` (a statx, and an lseek), which
        // cost as much as the read itself. A file that fills the first 16 KiB is asked
        // its size, so that a large manifest is read into a buffer of its size, not
        // one that doubled past it (268 MB for a 151 MB manifest).
        use std::io::Read;
        const FIRST: usize = 16 * 1024;
        let mut file = crate::fs::open_read(&self.disk_path(rel))?;
        let mut bytes = Vec::with_capacity(FIRST);
        (&mut file).take(FIRST as u64).read_to_end(&mut bytes)?;
        if bytes.len() == FIRST {
            let size = file.metadata()?.len();
            let rest = usize::try_from(size)
                .unwrap_or(usize::MAX)
                .saturating_sub(FIRST);
            // The size is a hint (the file may change): one byte more shows the end
            // without a second growth. Capped, so that a sparse file claiming a
            // terabyte grows as it is read instead of failing to allocate at once.
            bytes.reserve_exact(rest.saturating_add(1).min(1 << 30));
            file.read_to_end(&mut bytes)?;
        }
        // A tag file counts against the rate as payload does.
        if let Some(limiter) = &self.limiter {
            limiter.take(bytes.len());
        }
        Ok(bytes)
    }

    fn copy_to(
        &self,
        rel: &str,
        out: &mut dyn io::Write,
        algorithms: &[Algorithm],
        buf: &mut [u8],
    ) -> io::Result<Digests> {
        let file = crate::fs::open_read(&self.disk_path(rel))?;
        copy_and_hash(file, out, algorithms, buf)
    }

    fn hash(&self, rel: &str, algorithms: &[Algorithm], buf: &mut [u8]) -> io::Result<Digests> {
        let path = self.disk_path(rel);
        let file = crate::fs::open_read(&path)?;
        match &self.limiter {
            Some(limiter) => hash_reader(
                Throttled {
                    inner: file,
                    limiter,
                },
                algorithms,
                buf,
            ),
            // Unthrottled: the first 256 KiB read, the rest of a larger file mapped.
            None => crate::fs::mapped::hash_file(file, &path, algorithms, buf),
        }
    }
}
