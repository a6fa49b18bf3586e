//! The event log's lock (manifests/.events.lock): held exclusively, and only briefly,
//! by every append and by every update of the log's Merkle tree; held shared by
//! readers, so that none reads an append half-written. [`LogLock`] is the proof that
//! it is held, which the log's and the tree's writers ask for.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::Error;

/// Proof that the log lock is held; only the archive (fs::archive) makes one, after
/// taking the lock. (It lives in its own module so that the event log, its tree and
/// the archive that locks them all name it without importing one another.)
#[derive(Debug)]
pub struct LogLock(());

impl LogLock {
    pub(in crate::fs) fn held() -> LogLock {
        LogLock(())
    }
}

/// Takes the lock file at `path` exclusively, waiting for it (creating the file when
/// it is missing); held until the returned file drops.
pub fn wait_exclusive(path: &Path) -> Result<File, Error> {
    let guard = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("open lock file", path, e))?;
    guard.lock().map_err(|e| Error::io("lock", path, e))?;
    Ok(guard)
}

/// Waits for a shared hold on the lock file at `path`, if it exists; `None` when it
/// does not (no Cairn has ever taken it).
pub fn wait_shared(path: &Path) -> Result<Option<File>, Error> {
    match File::open(path) {
        Ok(f) => {
            f.lock_shared().map_err(|e| Error::io("lock", path, e))?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("open lock file", path, e)),
    }
}
