//! Durable writes: data reaches the disk before anything points at it.
//!
//! A file is fsynced before the rename that publishes it, and a folder is fsynced after
//! an entry is added to or renamed within it, so a crash leaves the old state or the new
//! one, never a name pointing at missing bytes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// The folder holding `path` (`.` for a bare relative name, whose parent is empty).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fsyncs a folder so that the names in it are durable.
pub fn sync_dir(path: &Path) -> Result<(), Error> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync folder", path, e))
}

/// Writes a new file (never replacing one) and fsyncs it.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    create_and_write(path, bytes)?
        .sync_all()
        .map_err(|e| Error::io("write", path, e))
}

/// Writes a new file (never replacing one) without fsyncing it: for trees made durable
/// as a whole by [`sync_tree`] before anything points at them.
pub fn write_new_unsynced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    create_and_write(path, bytes).map(drop)
}

fn create_and_write(path: &Path, bytes: &[u8]) -> Result<File, Error> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io("write", path, e))?;
    Ok(f)
}

/// Makes every file and folder written under `root` durable, for a tree that was
/// written without an fsync per file and that nothing points at yet (a staging folder
/// before its publishing rename, an in-place bag before its journal goes).
///
/// On Linux this is one `syncfs(2)` of the file system holding `root`: one journal
/// commit for the whole tree instead of one per file and folder, which for a bag of
/// thousands of small files is most of the time an fsync per file would cost. syncfs
/// reports write-back errors of the file system since Linux 5.8. It also flushes other
/// programs' dirty data on that file system, which costs them nothing but may make the
/// call take longer. Elsewhere, every file and then every folder, deepest first, is
/// fsynced in turn.
pub fn sync_tree(root: &Path) -> Result<(), Error> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let dir = File::open(root).map_err(|e| Error::io("open for syncfs", root, e))?;
        // SAFETY: the descriptor is open for the duration of the call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::io("syncfs", root, std::io::Error::last_os_error()))
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut dirs = Vec::new();
        for entry in walkdir::WalkDir::new(root).follow_links(false) {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(root).to_path_buf();
                Error::io("list", path, std::io::Error::other(e.to_string()))
            })?;
            if entry.file_type().is_dir() {
                dirs.push(entry.into_path());
            } else if entry.file_type().is_file() {
                File::open(entry.path())
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io("fsync", entry.path(), e))?;
            }
        }
        for d in dirs.iter().rev() {
            sync_dir(d)?;
        }
        Ok(())
    }
}

/// Atomically replaces (or creates) `path`: temp file beside it, fsync, rename, fsync
/// the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.cairn-tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))?;
    sync_dir(dir)
}

/// [`write_atomic`], unless `path` holds `bytes` already (a step redone after a crash).
pub fn write_atomic_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        write_atomic(path, bytes)?;
    }
    Ok(())
}

/// Removes the file at `path` if it is there, and fsyncs its folder when it was.
pub fn remove_file_synced(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent_dir(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Renames `from` to `to`, refusing to replace an existing `to` (renameat2 with
/// RENAME_NOREPLACE where the kernel has it), then fsyncs the destination's folder.
pub fn rename_no_replace(from: &Path, to: &Path) -> Result<(), Error> {
    no_replace(from, to).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::AlreadyExists {
                path: to.to_path_buf(),
            }
        } else {
            Error::io("rename", from, e)
        }
    })?;
    sync_dir(parent_dir(to))
}

fn no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    match renameat2(from, to, Rename::NoReplace)? {
        true => Ok(()),
        // Filesystems without RENAME_NOREPLACE support: fall back to check-then-rename.
        false => fallback_rename(from, to),
    }
}

/// What [`renameat2`] is asked to do besides renaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rename {
    /// Refuse to replace an existing destination (`RENAME_NOREPLACE`).
    NoReplace,
    /// Swap the two paths in one step (`RENAME_EXCHANGE`).
    Exchange,
}

/// The one call of Linux `renameat2(2)` in Cairn. `Ok(true)`: done; `Ok(false)`: the
/// file system (or the kernel, or the platform) cannot do it, and the caller falls back
/// to plain renames; an error otherwise (an existing destination with
/// [`Rename::NoReplace`] is `AlreadyExists`). Fsyncs nothing.
pub fn renameat2(from: &Path, to: &Path, how: Rename) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
        };
        let (f, t) = (c(from)?, c(to)?);
        let flags = match how {
            Rename::NoReplace => libc::RENAME_NOREPLACE,
            Rename::Exchange => libc::RENAME_EXCHANGE,
        };
        // SAFETY: both pointers are valid NUL-terminated strings for the call's duration.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                flags,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) => Ok(false),
            _ => Err(err),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (from, to, how);
        Ok(false)
    }
}

fn fallback_rename(from: &Path, to: &Path) -> std::io::Result<()> {
    if fs::symlink_metadata(to).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "destination exists",
        ));
    }
    fs::rename(from, to)
}
