//! The register: manifests/ID.json, one per archived item, written once and never
//! changed. It records what the bag held when it was archived (the Dublin Core
//! record, every file with size, MIME type and digests, the digest of every tag file
//! and tag manifest), so that a bag whose files *and* manifests were rewritten to
//! match each other is still caught against it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::durable::{parent_dir, rename_no_replace, write_new};

/// One payload file as archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Bag path (`data/...`).
    pub path: String,
    pub size: u64,
    pub mime: String,
    /// Algorithm name → lowercase hex.
    pub digests: BTreeMap<String, String>,
}

/// A register entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterEntry {
    pub id: String,
    /// When the item was archived (UTC, RFC 3339).
    pub archived: String,
    /// Cairn's name and version.
    pub software: String,
    /// The item's name in intake/ (folder or file name), exactly as it was.
    pub intake_name: String,
    /// The bag's folder, relative to the archive root.
    pub bag: String,
    pub bagit_version: String,
    pub payload_oxum: String,
    /// The Dublin Core record, as in the bag's metadata/dc.json.
    pub dublin_core: serde_json::Value,
    pub files: Vec<FileRecord>,
    /// Every tag file, tag manifests included: name → algorithm → hex.
    pub tag_files: BTreeMap<String, BTreeMap<String, String>>,
}

impl RegisterEntry {
    /// Reads an entry.
    pub fn read(path: &Path) -> Result<RegisterEntry, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("not a valid register entry: {e}"),
        })
    }

    /// Writes the entry at `path` once: to a temporary file, fsynced, then renamed into
    /// place without replacing anything, so an existing entry is never overwritten
    /// and a crash leaves no partial entry under the real name.
    pub fn write_once(&self, path: &Path) -> Result<(), Error> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io("encode", path, std::io::Error::other(e)))?;
        bytes.push(b'\n');
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent_dir(path).join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, &bytes)?;
        rename_no_replace(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}
