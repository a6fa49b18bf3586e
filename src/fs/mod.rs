//! The only code that touches the filesystem: walking sources, reading bags from
//! folders, and durable writes.

pub mod archive;
pub mod dir;
pub mod durable;
pub mod events;
pub mod failpoint;
pub mod rate;
pub mod tlog_store;
pub mod walk;
pub mod zip;

use std::fs::File;
use std::io;
use std::path::Path;

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
