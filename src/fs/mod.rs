//! The code that touches the filesystem: the archive's layout, locks and staging
//! ([`archive`]), durable writes ([`durable`]), the bag writer ([`bag_writer`]), the
//! register ([`register`]), history, tombstones and quarantine ([`lifecycle`]), the
//! event log ([`events`]) with its index by item ([`events_index`]), the item index
//! ([`item_index`]) and its Merkle tree
//! ([`tlog_store`]), walking sources ([`walk`]), bags read from folders ([`dir`]) and
//! zip files ([`zip`]), replicas' stores ([`replica`]), read-rate limits ([`rate`]) and
//! crash-test failpoints ([`failpoint`]), and `bag create` in place ([`in_place`]).
//! The functions here are the single reads, writes, listings and removals the ops ask
//! for, each error naming the path and the operation. A few ops still make direct
//! calls of their own (docs/architecture.md lists them, and why).

pub mod archive;
pub mod bag_writer;
pub mod dir;
pub mod durable;
pub mod events;
pub mod events_index;
pub mod failpoint;
pub mod in_place;
pub mod item_index;
pub mod layout;
pub mod lifecycle;
pub mod log_lock;
pub mod mapped;
pub mod ocfl;
pub mod rate;
pub mod register;
pub mod replica;
pub mod tar;
pub mod tlog_store;
pub mod users;
pub mod walk;
pub mod zip;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::Error;

/// Opens a bag: a folder, or a zip file read in place (never extracted).
pub fn open_source(
    path: &Path,
    limits: zip::ZipLimits,
) -> Result<Box<dyn crate::bagit::source::BagSource>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("open bag", path, e))?;
    if meta.is_file() {
        if zip::is_zip(path) {
            return Ok(Box::new(zip::ZipSource::open(path, limits)?));
        }
        if tar::is_tar(path) {
            return Ok(Box::new(tar::TarSource::open(path)?));
        }
        return Err(Error::Usage(format!(
            "{} is a file but not a zip or tar file; a bag is a folder or a zip or tar of one",
            path.display()
        )));
    }
    Ok(Box::new(dir::DirSource::open(path)?))
}

/// The bytes of the file at `path`; `None` when there is no file there.
pub fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// The bytes of the file at `path`.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// The text of the file at `path` (UTF-8).
pub fn read_to_string(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
}

/// The text of the file at `path` (UTF-8); `None` when there is no file there.
pub fn read_to_string_if_present(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// The paths of the entries of the folder `dir`, in no particular order.
pub fn list_dir(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read folder", dir, e))?;
    paths_of(dir, entries)
}

/// [`list_dir`]; none when there is no folder there.
pub fn list_dir_if_present(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    match std::fs::read_dir(dir) {
        Ok(entries) => paths_of(dir, entries),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("read folder", dir, e)),
    }
}

fn paths_of(dir: &Path, entries: std::fs::ReadDir) -> Result<Vec<std::path::PathBuf>, Error> {
    entries
        .map(|e| {
            e.map(|e| e.path())
                .map_err(|e| Error::io("read folder", dir, e))
        })
        .collect()
}

/// The size of the file at `path`; 0 when there is no file there.
pub fn len_if_present(path: &Path) -> Result<u64, Error> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// What is at `path`, following links.
pub fn stat(path: &Path) -> Result<std::fs::Metadata, Error> {
    std::fs::metadata(path).map_err(|e| Error::io("stat", path, e))
}

/// Links `to` to the file `from` (a hard link: the same bytes, no copy).
pub fn hard_link(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::hard_link(from, to).map_err(|e| Error::io("hard-link", to, e))
}

/// Whether `a` and `b` are the same file (one inode: hard links to each other).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => x.is_file() && x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// An exclusive hold on the folder `dir` itself (`flock` on the folder), released when
/// the returned handle is dropped: for a command that works in a folder of its own
/// (restore's hidden folder). Another process holding it: [`Error::Locked`].
pub fn try_lock_dir(dir: &Path, holder: &str) -> Result<File, Error> {
    let file = File::open(dir).map_err(|e| Error::io("open", dir, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
            holder: holder.to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", dir, e)),
    }
}

/// Copies the file `from` to `to`; returns the bytes copied.
pub fn copy_file(from: &Path, to: &Path) -> Result<u64, Error> {
    std::fs::copy(from, to).map_err(|e| Error::io("copy", from, e))
}

/// Writes `bytes` to `path`, created or truncated. Not fsynced: for a tree the caller
/// makes durable as a whole ([`durable::sync_tree`]) before publishing it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::io("write", path, e))
}

/// Creates a file at `path` to write (an existing one is truncated).
pub fn create_file(path: &Path) -> Result<File, Error> {
    File::create(path).map_err(|e| Error::io("create", path, e))
}

/// Creates a new file at `path` to write; an existing one is an error.
pub fn create_new_file(path: &Path) -> Result<File, Error> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("create", path, e))
}

/// `path` made absolute with every link resolved, or `path` as given when that fails
/// (for messages and events that say where a file is, whatever path was typed).
pub fn canonical_or_given(path: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Opens the file at `path` for reading.
pub fn open_file(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| Error::io("open", path, e))
}

/// Deletes the file at `path` as well as it can: a temporary file that will not be
/// published (it is hidden; an absent one is fine).
pub fn remove_file_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Deletes the file at `path` (`op` names the step in the error).
pub fn remove_file(path: &Path, op: &'static str) -> Result<(), Error> {
    std::fs::remove_file(path).map_err(|e| Error::io(op, path, e))
}

/// Deletes the folder at `path` and everything in it (`op` names the step in the
/// error).
pub fn remove_tree(path: &Path, op: &'static str) -> Result<(), Error> {
    std::fs::remove_dir_all(path).map_err(|e| Error::io(op, path, e))
}

/// Renames `from` to `to`, replacing a file there (`op` names the step in the error);
/// [`crate::fs::durable::rename_no_replace`] where nothing may be replaced.
pub fn rename_replacing(from: &Path, to: &Path, op: &'static str) -> Result<(), Error> {
    std::fs::rename(from, to).map_err(|e| Error::io(op, to, e))
}

/// The absolute path of `path`, links resolved.
pub fn canonicalize(path: &Path) -> Result<std::path::PathBuf, Error> {
    std::fs::canonicalize(path).map_err(|e| Error::io("resolve", path, e))
}

/// Creates the folder `path` and any missing parents.
pub fn create_dir_all(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|e| Error::io("create", path, e))
}

/// Deletes the tree at `path` as well as it can: for work folders that will not be
/// published (what is left is hidden, and the next run starts by removing it).
pub fn remove_tree_quietly(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

/// Creates the folder `path` (its parent must exist; an existing one is an error).
pub fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir(path).map_err(|e| Error::io("create", path, e))
}

/// Whether anything (a file, a folder, a dangling symlink) is at `path`.
pub fn entry_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// What is at `path`, the link itself when it is a symlink.
pub fn lstat(path: &Path) -> Result<std::fs::Metadata, Error> {
    std::fs::symlink_metadata(path).map_err(|e| Error::io("read", path, e))
}

/// Reads up to `buf.len()` bytes from the start of the file at `path` (fewer when the
/// file is shorter) and returns how many: the head that format sniffing looks at.
pub fn read_head(path: &Path, buf: &mut [u8]) -> Result<usize, Error> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    Ok(n)
}

/// Opens a file for reading without updating its access time where the system allows
/// (`O_NOATIME`, Linux; only for the file's owner or a privileged process, otherwise
/// a plain open). Hashing a bag then writes nothing to the archive's disk: a nightly
/// fixity run would otherwise dirty, and journal, every inode it reads once a day
/// under `relatime`.
pub fn open_read(path: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOATIME)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => File::open(path),
            other => other,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        File::open(path)
    }
}
