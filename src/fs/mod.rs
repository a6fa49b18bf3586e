//! The code that touches the filesystem: the archive's layout, locks and staging
//! ([`archive`]), durable writes ([`durable`]), the bag writer ([`bag_writer`]), the
//! register ([`register`]), history, tombstones and quarantine ([`lifecycle`]), the
//! event log ([`events`]) with its index by item ([`events_index`]) and its Merkle tree
//! ([`tlog_store`]), walking sources ([`walk`]), bags read from folders ([`dir`]) and
//! zip files ([`zip`]), replicas' stores ([`replica`]), read-rate limits ([`rate`]) and
//! crash-test failpoints ([`failpoint`]). Some ops still make
//! direct reads and deletions of their own (docs/architecture.md lists them).

pub mod archive;
pub mod bag_writer;
pub mod dir;
pub mod durable;
pub mod events;
pub mod events_index;
pub mod failpoint;
pub mod lifecycle;
pub mod mapped;
pub mod rate;
pub mod register;
pub mod replica;
pub mod tlog_store;
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
        return Err(Error::Usage(format!(
            "{} is a file but not a zip file; a bag is a folder or a zip of one",
            path.display()
        )));
    }
    Ok(Box::new(dir::DirSource::open(path)?))
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
