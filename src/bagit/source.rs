//! Where a bag's bytes come from: a folder (fs/dir.rs), or a zip or tar file read in place
//! (fs/zip.rs, fs/tar.rs); `fs::open_source`, in the layer above, picks one.
//!
//! The validator only ever opens paths that the source itself listed, never a path
//! taken from a manifest, so a hostile manifest cannot make it read outside the bag.

use std::io::{self, Read, Write};

use super::finding::Finding;
use crate::digest::{copy_and_hash, Algorithm, Digests};
use crate::error::Error;

/// What an entry in a bag is. Folders are not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Symlink,
    /// A fifo, socket or device.
    Special,
}

/// One listed entry.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// Bag-relative, `/`-separated. For names that are not UTF-8 this is a lossy
    /// rendering and `utf8` is false.
    pub path: String,
    pub utf8: bool,
    pub kind: EntryType,
    pub size: u64,
}

/// A bag to read.
pub trait BagSource: Sync {
    /// A human-readable name for messages (the folder or zip path).
    fn describe(&self) -> String;

    /// Every file, symlink and special entry, recursively, links not followed.
    fn list(&self) -> Result<Vec<SourceEntry>, Error>;

    /// Whether `rel` exists as a directory (for the `data/` check).
    fn is_dir(&self, rel: &str) -> bool;

    /// Reads a listed file whole; for tag files, which are small.
    fn read(&self, rel: &str) -> io::Result<Vec<u8>>;

    /// Hashes a listed file with every algorithm in one read.
    fn hash(&self, rel: &str, algorithms: &[Algorithm], buf: &mut [u8]) -> io::Result<Digests>;

    /// Copies a listed file into `out`, hashing it on the way (for extraction).
    fn copy_to(
        &self,
        rel: &str,
        out: &mut dyn Write,
        algorithms: &[Algorithm],
        buf: &mut [u8],
    ) -> io::Result<Digests>;

    /// Whether files may be hashed from several threads at once.
    fn parallel(&self) -> bool {
        true
    }

    /// Problems with the container itself (a hostile zip entry), found when it was
    /// opened. The entries concerned are left out of the listing.
    fn problems(&self) -> Vec<Finding> {
        Vec::new()
    }

    /// Whether those problems make the listing meaningless (a corrupt archive), so
    /// that validation should report them and stop.
    fn fatal(&self) -> bool {
        false
    }

    /// For a bag in one file (zip, tar): its one top-level folder, when it has one.
    fn top_folder(&self) -> Option<String> {
        None
    }
}

/// A bag in one file (zip, tar) whose entries are read one reader at a time: `read`,
/// `hash` and `copy_to` of [`BagSource`] written once over [`Self::with_entry`].
pub trait EntryReader {
    /// Streams the listed entry `rel` through `f`.
    fn with_entry<T>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> io::Result<T>;

    /// [`BagSource::read`].
    fn read_entry(&self, rel: &str) -> io::Result<Vec<u8>> {
        self.with_entry(rel, |r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out)?;
            Ok(out)
        })
    }

    /// [`BagSource::hash`].
    fn hash_entry(
        &self,
        rel: &str,
        algorithms: &[Algorithm],
        buf: &mut [u8],
    ) -> io::Result<Digests> {
        self.with_entry(rel, |r| copy_and_hash(r, io::sink(), algorithms, buf))
    }

    /// [`BagSource::copy_to`].
    fn copy_entry(
        &self,
        rel: &str,
        out: &mut dyn Write,
        algorithms: &[Algorithm],
        buf: &mut [u8],
    ) -> io::Result<Digests> {
        self.with_entry(rel, |r| copy_and_hash(r, out, algorithms, buf))
    }
}

/// [`BagSource::is_dir`] of a bag in one file: `rel` is a folder listed as one, or
/// holds a listed file.
pub fn listed_dir(dirs: &std::collections::BTreeSet<String>, names: &[String], rel: &str) -> bool {
    let prefix = format!("{rel}/");
    dirs.contains(rel) || names.iter().any(|n| n.starts_with(&prefix))
}
