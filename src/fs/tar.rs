//! Bags serialized as uncompressed POSIX tar files (ustar, with the `tar` crate's
//! long-name records where a path needs them): written deterministically for
//! `export --profile` when a profile accepts only `application/tar` (APTrust), and
//! read as a [`BagSource`] so that Cairn can validate and judge what it wrote.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::bagit::finding::{Finding, FindingKind};
use crate::bagit::path::BagPath;
use crate::bagit::source::{listed_dir, BagSource, EntryReader, EntryType, SourceEntry};
use crate::digest::{Algorithm, Digests, BUF_SIZE};
use crate::error::Error;

/// Every entry's modification time: 1980-01-01 00:00 UTC, as in exported zips.
const MTIME: u64 = 315_532_800;

/// Whether `path` looks like a tar file (the ustar magic at offset 257).
pub fn is_tar(path: &Path) -> bool {
    let mut head = [0u8; 262];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[257..262] == b"ustar"
}

/// Writes at `tmp` (which must not exist) a tar of the bag folder `bag` whose one
/// top-level folder is `top`: a directory entry (0755) before the first file under
/// it, then `files` in the order given (0644), every entry with uid and gid 0, no
/// owner names and the mtime of [`MTIME`]; then fsynced.
pub fn write_tar(top: &str, bag: &Path, files: &[SourceEntry], tmp: &Path) -> Result<(), Error> {
    let fail = |e: io::Error| Error::io("write tar", tmp, e);
    let file = crate::fs::create_new_file(tmp)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(BUF_SIZE, file));
    tar.mode(tar::HeaderMode::Deterministic);
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let header = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    for f in files {
        let rel = format!("{top}/{}", f.path);
        let mut at = 0;
        while let Some(i) = rel[at..].find('/') {
            let dir = &rel[..at + i];
            if dirs.insert(dir.to_string()) {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                tar.append_data(&mut h, format!("{dir}/"), io::empty())
                    .map_err(fail)?;
            }
            at += i + 1;
        }
        let disk = BagPath::parse(&f.path)
            .map_err(|e| Error::Usage(e.to_string()))?
            .to_fs_path(bag);
        let input = crate::fs::open_file(&disk)?;
        let mut h = header(tar::EntryType::Regular, f.size, 0o644);
        let mut counted = input.take(f.size);
        tar.append_data(&mut h, &rel, &mut counted).map_err(fail)?;
        crate::progress::add_bytes(f.size);
        if f.path.starts_with("data/") {
            crate::progress::file_done();
        }
    }
    let writer = tar.into_inner().map_err(fail)?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io("write", tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io("fsync", tmp, e))
}

/// An opened tar file holding one bag in one top-level folder.
pub struct TarSource {
    path: PathBuf,
    /// Bag-relative path → (offset of the content in the file, size).
    entries: HashMap<String, (u64, u64)>,
    names: Vec<String>,
    dirs: BTreeSet<String>,
    top: String,
    problems: Vec<Finding>,
    fatal: bool,
}

impl TarSource {
    /// Reads the headers of the tar at `path`. A file the reader cannot walk is
    /// corrupt; entries that are not regular files or folders, names that are not
    /// UTF-8 or leave the bag, repeated names and anything outside the one top-level
    /// folder are problems, left out of the listing.
    pub fn open(path: &Path) -> Result<TarSource, Error> {
        let corrupt = |e: io::Error| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("not a readable tar file: {e}"),
        };
        let file = crate::fs::open_file(path)?;
        let mut archive = tar::Archive::new(BufReader::with_capacity(BUF_SIZE, file));
        let mut seen: Vec<(String, u64, u64, bool)> = Vec::new();
        let mut problems = Vec::new();
        for entry in archive.entries().map_err(corrupt)? {
            let entry = entry.map_err(corrupt)?;
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let Ok(name) = String::from_utf8(raw) else {
                problems.push(Finding::new(
                    shown,
                    FindingKind::ZipNameNotUtf8,
                    "the name is not UTF-8",
                ));
                continue;
            };
            let trimmed = name.trim_end_matches('/').to_string();
            if let Err(p) = BagPath::parse(&trimmed) {
                let kind = if p.escapes() {
                    FindingKind::ZipPathEscapes
                } else {
                    FindingKind::ZipLayout
                };
                problems.push(Finding::new(
                    name,
                    kind,
                    format!("{p}; the entry is not read"),
                ));
                continue;
            }
            let kind = entry.header().entry_type();
            if !kind.is_file() && !kind.is_dir() {
                problems.push(Finding::new(
                    name,
                    FindingKind::ZipLayout,
                    "not a regular file or a folder; the entry is not read",
                ));
                continue;
            }
            if seen.iter().any(|s| s.0 == trimmed) {
                problems.push(Finding::new(
                    name,
                    FindingKind::ZipLayout,
                    "the name is in the tar more than once; the entry is not read",
                ));
                continue;
            }
            seen.push((
                trimmed,
                entry.raw_file_position(),
                entry.size(),
                kind.is_dir(),
            ));
        }
        let mut src = TarSource {
            path: path.to_path_buf(),
            entries: HashMap::new(),
            names: Vec::new(),
            dirs: BTreeSet::new(),
            top: String::new(),
            problems,
            fatal: false,
        };
        src.list_under_top(seen);
        Ok(src)
    }

    /// Keeps the entries under the one top-level folder, by bag-relative path.
    fn list_under_top(&mut self, seen: Vec<(String, u64, u64, bool)>) {
        let tops: BTreeSet<&str> = seen
            .iter()
            .map(|s| s.0.split('/').next().unwrap_or(""))
            .collect();
        if tops.len() != 1 {
            self.problems.push(Finding::new(
                "",
                FindingKind::ZipLayout,
                format!(
                    "a serialized bag is one top-level folder (RFC 8493 §4.3); this tar has {}",
                    tops.len()
                ),
            ));
            self.fatal = true;
            return;
        }
        self.top = tops.into_iter().next().unwrap_or_default().to_string();
        let prefix = format!("{}/", self.top);
        for (name, pos, size, dir) in seen {
            match name.strip_prefix(&prefix) {
                Some(rel) if dir => {
                    self.dirs.insert(rel.to_string());
                }
                Some(rel) => {
                    self.names.push(rel.to_string());
                    self.entries.insert(rel.to_string(), (pos, size));
                }
                None if dir => {}
                None => self.problems.push(Finding::new(
                    name,
                    FindingKind::ZipLayout,
                    "a file at the top level, outside the bag folder",
                )),
            }
        }
    }

    /// The bag's name (the tar's top-level folder).
    pub fn bag_name(&self) -> &str {
        &self.top
    }
}

impl EntryReader for TarSource {
    /// Streams one entry through `f`, read in place from the file.
    fn with_entry<T>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> io::Result<T> {
        let &(pos, size) = self.entries.get(rel).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("{rel}: not in the tar"))
        })?;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(pos))?;
        let mut reader = BufReader::with_capacity(BUF_SIZE, file).take(size);
        let out = f(&mut reader)?;
        if reader.limit() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{rel}: the tar ends inside the entry"),
            ));
        }
        Ok(out)
    }
}

impl BagSource for TarSource {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn list(&self) -> Result<Vec<SourceEntry>, Error> {
        Ok(self
            .names
            .iter()
            .map(|n| SourceEntry {
                path: n.clone(),
                utf8: true,
                kind: EntryType::File,
                size: self.entries.get(n).map(|e| e.1).unwrap_or(0),
            })
            .collect())
    }

    fn is_dir(&self, rel: &str) -> bool {
        listed_dir(&self.dirs, &self.names, rel)
    }

    fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        self.read_entry(rel)
    }

    fn hash(&self, rel: &str, algorithms: &[Algorithm], buf: &mut [u8]) -> io::Result<Digests> {
        self.hash_entry(rel, algorithms, buf)
    }

    fn copy_to(
        &self,
        rel: &str,
        out: &mut dyn Write,
        algorithms: &[Algorithm],
        buf: &mut [u8],
    ) -> io::Result<Digests> {
        self.copy_entry(rel, out, algorithms, buf)
    }

    fn problems(&self) -> Vec<Finding> {
        self.problems.clone()
    }

    fn fatal(&self) -> bool {
        self.fatal
    }

    fn top_folder(&self) -> Option<String> {
        (!self.top.is_empty()).then(|| self.top.clone())
    }
}
