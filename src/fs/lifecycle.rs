//! Where an item's life after ingest is kept on disk (docs/lifecycle.md):
//!
//! - manifests/history/ID/NNNNNN.json: every superseded register entry, version NNNNNN
//!   (the entry written at ingest is version 1), written once and never changed;
//!   manifests/ID.json is always the current version.
//! - manifests/withdrawn/ID.json: the tombstone of a withdrawn item, written once; the
//!   item then has no manifests/ID.json.
//! - archive/.quarantine/ID: a withdrawn bag's folder, unless it was purged.
//! - archive/.versions/ID/NNNNNN: version NNNNNN of a revised item, a complete bag
//!   (unchanged files hard-linked with the next version's);
//!   [`Archive::retained_bags`] lists them.
//!
//! Plus the one filesystem operation a replacement needs: swapping two folders in one
//! step ([`exchange`]), and hard-linking a bag's payload into a new bag
//! ([`link_payload`]).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::durable::{parent_dir, rename_no_replace, renameat2, sync_dir, write_new, Rename};
use crate::fs::register::RegisterEntry;

use crate::fs::layout;
pub use crate::fs::layout::{HISTORY_DIR, QUARANTINE_DIR, VERSIONS_DIR, WITHDRAWN_DIR};

/// What is left of a withdrawn item: who withdrew it, when, why, and enough to
/// recognise its bytes again (its Payload-Oxum, the digests of its tag manifests, and
/// every payload file's digests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: String,
    /// When it was withdrawn (UTC, RFC 3339).
    pub withdrawn: String,
    pub reason: String,
    /// Who asked for it (the operator's name as the command was given it).
    pub operator: String,
    /// Cairn's name and version.
    pub software: String,
    /// `quarantined` (the bag is kept at `location`) or `purged` (its bytes deleted).
    pub disposition: String,
    /// Where the quarantined bag is, relative to the archive root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// When the item was archived, and the last register entry's version, kept in
    /// manifests/history/ID/.
    pub archived: String,
    pub entry_version: u32,
    pub payload_oxum: String,
    /// The Dublin Core record when it was withdrawn (OAI-PMH sets of the deleted record).
    pub dublin_core: crate::metadata::StoredDublinCore,
    /// The tag manifests' digests: name → algorithm → hex.
    pub tag_manifests: std::collections::BTreeMap<String, crate::fs::register::DigestMap>,
    /// Every payload file: bag path → algorithm → hex.
    pub files: std::collections::BTreeMap<String, crate::fs::register::DigestMap>,
}

impl Tombstone {
    /// What became of the item, for a message: "withdrawn on 2026-12-07 (REASON),
    /// quarantined at archive/.quarantine/ID" or "... , purged".
    pub fn fate(&self) -> String {
        let day = self.withdrawn.get(..10).unwrap_or(&self.withdrawn);
        let where_ = match (self.disposition.as_str(), &self.location) {
            ("quarantined", Some(at)) => format!("quarantined at {at}"),
            (other, _) => other.to_string(),
        };
        format!(
            "withdrawn on {day} ({}), {where_}",
            crate::quoted(&self.reason)
        )
    }

    /// The tombstone's bytes as written (pretty JSON and a newline); `path` names it in
    /// the error.
    pub fn encode(&self, path: &Path) -> Result<Vec<u8>, Error> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io("encode", path, std::io::Error::other(e)))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    pub fn read(path: &Path) -> Result<Tombstone, Error> {
        let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("not a valid tombstone: {e}"),
        })
    }
}

impl Archive {
    /// manifests/history/ID/.
    pub fn history_dir(&self, id: &str) -> PathBuf {
        layout::history_dir(&self.manifests, id)
    }

    /// manifests/history/ID/NNNNNN.json: register entry version `version`, superseded.
    pub fn history_path(&self, id: &str, version: u32) -> PathBuf {
        layout::history_file(&self.manifests, id, version)
    }

    /// manifests/withdrawn/ID.json.
    pub fn tombstone_path(&self, id: &str) -> PathBuf {
        layout::tombstone_file(&self.manifests, id)
    }

    /// archive/.versions/ID/NNNNNN: a retained earlier version of the item's bag.
    pub fn version_path(&self, id: &str, version: u32) -> PathBuf {
        layout::version_dir(&self.bags, id, version)
    }

    /// archive/.quarantine/ID.
    pub fn quarantine_path(&self, id: &str) -> PathBuf {
        layout::quarantine_dir(&self.bags, id)
    }

    /// Creates archive/.quarantine if it is not there yet, durably.
    pub fn ensure_quarantine_dir(&self) -> Result<(), Error> {
        let q = self.bags.join(QUARANTINE_DIR);
        if !q.is_dir() {
            fs::create_dir(&q).map_err(|e| Error::io("create", &q, e))?;
            sync_dir(&self.bags)?;
        }
        Ok(())
    }

    /// Creates the folder that holds [`Archive::version_path`] (archive/.versions/ID)
    /// if it is not there yet, with its parents, durably.
    pub fn ensure_version_dir(&self, id: &str, version: u32) -> Result<(), Error> {
        let keep = self.version_path(id, version);
        let parent = parent_dir(&keep).to_path_buf();
        if !parent.is_dir() {
            fs::create_dir_all(&parent).map_err(|e| Error::io("create", &parent, e))?;
            for d in parent.ancestors().skip(1).take(2) {
                sync_dir(d)?;
            }
        }
        Ok(())
    }

    /// Every superseded register entry of `id`, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<RegisterEntry>, Error> {
        let dir = self.history_dir(id);
        let mut names: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.') && n.ends_with(layout::ENTRY_EXT))
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io("read folder", &dir, e)),
        };
        names.sort();
        names.iter().map(|p| RegisterEntry::read(p)).collect()
    }

    /// The identifiers of withdrawn items (those with a tombstone), sorted.
    pub fn withdrawn_ids(&self) -> Result<Vec<String>, Error> {
        let dir = self.manifests.join(WITHDRAWN_DIR);
        let mut ids = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(Error::io("read folder", &dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("read folder", &dir, e))?;
            if let Some(id) = entry.file_name().to_str().and_then(layout::entry_id) {
                ids.push(id.to_string());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The tombstone of `id`, if it was withdrawn.
    pub fn tombstone(&self, id: &str) -> Result<Option<Tombstone>, Error> {
        let path = self.tombstone_path(id);
        if !path.exists() {
            return Ok(None);
        }
        Tombstone::read(&path).map(Some)
    }
}

/// Writes `bytes` at `path` once (temp file, fsync, no-replace rename, fsync of the
/// folder, created with its parents when missing). If `path` already holds exactly
/// these bytes (a run interrupted after writing it), does nothing; other bytes there
/// are an error, never overwritten.
pub fn write_once_idempotent(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    match fs::read(path) {
        Ok(existing) if existing == bytes => return Ok(()),
        Ok(_) => {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: "exists with other content; a record written once is never overwritten. Run `cairn audit` and investigate".into(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", path, e)),
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        if let Some(up) = dir.parent() {
            sync_dir(up)?;
            if let Some(upup) = up.parent() {
                sync_dir(upup)?;
            }
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes)?;
    rename_no_replace(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Swaps the folders `a` and `b` in one step (Linux `renameat2(RENAME_EXCHANGE)`), then
/// fsyncs both parents. Where the file system cannot exchange, moves `b` to
/// `a_parent/old` and `a` to `b` in two renames (recovery finishes the second:
/// docs/lifecycle.md).
pub fn exchange(a: &Path, b: &Path) -> Result<(), Error> {
    if renameat2(a, b, Rename::Exchange).map_err(|e| Error::io("exchange", a, e))? {
        sync_dir(parent_dir(a))?;
        return sync_dir(parent_dir(b));
    }
    let old = parent_dir(a).join("old");
    rename_no_replace(b, &old)?;
    rename_no_replace(a, b)
}

/// Recreates the folder tree of `from/data` under `to/data` and hard-links every file
/// into it (the same bytes, stored once). A symlink or special file in the bag is
/// refused: a bag in the archive holds none.
pub fn link_payload(from: &Path, to: &Path) -> Result<u64, Error> {
    let src = from.join("data");
    let mut linked = 0;
    for entry in walkdir::WalkDir::new(&src).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(&src).to_path_buf();
            Error::io("list", path, std::io::Error::other(e.to_string()))
        })?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .map_err(|_| Error::Internal("a walked path outside the bag".into()))?;
        let dest = to.join(rel);
        let t = entry.file_type();
        if t.is_dir() {
            fs::create_dir(&dest).map_err(|e| Error::io("create", &dest, e))?;
        } else if t.is_file() {
            fs::hard_link(entry.path(), &dest).map_err(|e| Error::io("hard-link", &dest, e))?;
            linked += 1;
        } else {
            return Err(Error::Refused {
                path: entry.path().to_path_buf(),
                reason: "a symbolic link or special file in an archived bag; run `cairn fixity` and investigate".into(),
            });
        }
    }
    Ok(linked)
}
