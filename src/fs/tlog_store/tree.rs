//! The tree's files: `level-NN`, one per level, each the concatenation of 32-byte
//! hashes of complete subtrees, opened, read and appended to ([`TreeStore`]). What the
//! files mean and when they are rebuilt is the parent module's.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::tlog::merkle::{self, node_hash, HashSource};
use crate::tlog::Hash;

pub(super) fn level_name(level: usize) -> String {
    format!("level-{level:02}")
}

/// An opened tree.
#[derive(Debug)]
pub struct TreeStore {
    dir: PathBuf,
    levels: Vec<File>,
    size: u64,
}

impl TreeStore {
    /// Opens the tree in `dir`; `None` if there is none.
    pub fn open(dir: &Path) -> Result<Option<TreeStore>, Error> {
        Self::open_with(dir, true)
    }

    /// [`TreeStore::open`] for reading only (an audit, which may run with read-only
    /// access): appending to it fails.
    pub fn open_read_only(dir: &Path) -> Result<Option<TreeStore>, Error> {
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, write: bool) -> Result<Option<TreeStore>, Error> {
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut levels = Vec::new();
        loop {
            let path = dir.join(level_name(levels.len()));
            match OpenOptions::new().read(true).write(write).open(&path) {
                Ok(f) => levels.push(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(Error::io("open", &path, e)),
            }
        }
        let mut store = TreeStore {
            dir: dir.to_path_buf(),
            levels,
            size: 0,
        };
        store.size = store.len_of(0)?.unwrap_or(0) / 32;
        Ok(Some(store))
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn len_of(&self, level: usize) -> Result<Option<u64>, Error> {
        match self.levels.get(level) {
            None => Ok(None),
            Some(f) => f
                .metadata()
                .map(|m| Some(m.len()))
                .map_err(|e| Error::io("stat", self.dir.join(level_name(level)), e)),
        }
    }

    /// What is wrong with the files' shapes, if anything: each level must hold
    /// exactly `size >> level` hashes.
    pub fn shape_problem(&self) -> Result<Option<String>, Error> {
        let len0 = self.len_of(0)?.unwrap_or(0);
        if !len0.is_multiple_of(32) {
            return Ok(Some(format!(
                "{} is not a whole number of hashes",
                level_name(0)
            )));
        }
        for level in 0..self.levels.len().max(1) {
            let want = (self.size >> level) * 32;
            let have = self.len_of(level)?.unwrap_or(0);
            if have != want {
                return Ok(Some(format!(
                    "{} holds {have} bytes where the tree of {} leaves needs {want}",
                    level_name(level),
                    self.size
                )));
            }
        }
        if self.size >> self.levels.len() > 0 {
            return Ok(Some(format!(
                "{} is missing",
                level_name(self.levels.len())
            )));
        }
        Ok(None)
    }

    fn read(&self, level: usize, index: u64) -> Result<Hash, Error> {
        let mut h = [0u8; 32];
        let file = self.levels.get(level).ok_or_else(|| Error::Corrupt {
            path: self.dir.join(level_name(level)),
            detail: "missing".into(),
        })?;
        file.read_exact_at(&mut h, index * 32)
            .map_err(|e| Error::io("read", self.dir.join(level_name(level)), e))?;
        Ok(h)
    }

    /// Leaf `index` (0-based).
    pub fn leaf(&self, index: u64) -> Result<Hash, Error> {
        self.read(0, index)
    }

    /// Reads leaves `from ..< to`, in one sequential read.
    pub fn leaves(&self, from: u64, to: u64) -> Result<Vec<Hash>, Error> {
        let mut buf = vec![0u8; ((to - from) * 32) as usize];
        if let Some(f) = self.levels.first() {
            f.read_exact_at(&mut buf, from * 32)
                .map_err(|e| Error::io("read", self.dir.join(level_name(0)), e))?;
        }
        Ok(buf
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, Error> {
        merkle::root(self, size)
    }

    /// Appends leaves and every subtree they complete; each touched file is written
    /// once, at its end, and flushed to disk.
    pub fn append(&mut self, leaves: &[Hash]) -> Result<(), Error> {
        let mut pending: Vec<Vec<Hash>> = Vec::new();
        let mut size = self.size;
        for leaf in leaves {
            let mut hash = *leaf;
            let mut level = 0usize;
            let mut index = size;
            loop {
                if pending.len() == level {
                    pending.push(Vec::new());
                }
                pending[level].push(hash);
                if index.is_multiple_of(2) {
                    break;
                }
                // The left sibling: written earlier in this batch, or on disk.
                let first_pending = (self.size >> level) as usize;
                let left_index = (index - 1) as usize;
                let left = if left_index >= first_pending {
                    pending[level][left_index - first_pending]
                } else {
                    self.read(level, left_index as u64)?
                };
                hash = node_hash(&left, &hash);
                level += 1;
                index /= 2;
            }
            size += 1;
        }
        for (level, hashes) in pending.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let path = self.dir.join(level_name(level));
            if self.levels.len() == level {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| Error::io("create", &path, e))?;
                self.levels.push(f);
            }
            let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
            let f = &self.levels[level];
            f.write_all_at(&bytes, (self.size >> level) * 32)
                .and_then(|_| f.sync_data())
                .map_err(|e| Error::io("append to", &path, e))?;
        }
        self.size = size;
        Ok(())
    }
}

impl HashSource for TreeStore {
    type Error = Error;
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Error> {
        self.read(level as usize, index)
    }
}
