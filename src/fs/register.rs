//! The register: manifests/ID.json, one per archived item. Each version of an entry is
//! written once and never changed: a change to the item (`cairn amend`) publishes the
//! next version in one atomic rename, after keeping the one it supersedes in
//! manifests/history/ID/ (fs/lifecycle.rs, docs/lifecycle.md). It records what the bag held when it was archived (the Dublin Core
//! record, every file with size, MIME type and digests, the digest of every tag file
//! and tag manifest), so that a bag whose files *and* manifests were rewritten to
//! match each other is still caught against it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::digest::DigestMap;
use crate::error::Error;
use crate::fs::durable::{parent_dir, rename_no_replace, write_new};
use crate::metadata::StoredDublinCore;

/// One payload file as archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Bag path (`data/...`).
    pub path: String,
    pub size: u64,
    pub mime: String,
    /// Written as `{"blake3": "hex", "sha512": "hex"}`.
    pub digests: DigestMap,
    /// The PRONOM format (absent in entries written before format identification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<crate::pronom::Identification>,
    /// Technical metadata read from the file's headers (TIFF, JPEG, JP2, PNG, PDF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub techmd: Option<crate::techmd::TechMd>,
    /// The format validation made at ingest or revise when `[qc]` set a profile
    /// (absent otherwise, and for formats not validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::qc::Validation>,
    /// The `[qc]` profile's judgement of the file at ingest or revise (absent when no
    /// profile was set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qc: Option<crate::qc::profile::Judgement>,
    /// Members this Cairn does not know (written by a newer one), kept as read and
    /// written back after the others.
    #[serde(flatten)]
    pub extra: Unknown,
}

/// Members of a JSON object that this Cairn does not know, kept as read so that they
/// are written back (after the known ones) when the object is rewritten. Held behind
/// one pointer: a register entry holds one per file, and nearly all are empty.
// Boxed on purpose: one pointer per file (8 bytes) where a bare map would be 24.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unknown(Option<Box<BTreeMap<String, serde_json::Value>>>);

impl Unknown {
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.as_ref().and_then(|m| m.get(key))
    }
}

impl Serialize for Unknown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.0.iter().flat_map(|m| m.iter()) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Unknown {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let members = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        Ok(Unknown((!members.is_empty()).then(|| Box::new(members))))
    }
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
    /// The Dublin Core record, as in the bag's metadata/dc.json (written with its keys
    /// sorted, as the register always has: [`StoredDublinCore`]).
    pub dublin_core: StoredDublinCore,
    pub files: Vec<FileRecord>,
    /// The signature files the formats were identified with (absent when none were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_registry: Option<String>,
    /// Every tag file, tag manifests included: name → its digests (algorithm → hex).
    pub tag_files: BTreeMap<String, DigestMap>,
    /// The entry's version: 1 as written at ingest or import, one more with each change
    /// to the item; earlier versions are in manifests/history/ID/.
    #[serde(default = "first_version", skip_serializing_if = "is_first_version")]
    pub entry_version: u32,
    /// When this version was published (absent for version 1, published at `archived`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// The version of the item's content (its bag): 1 as ingested, one more with each
    /// `cairn revise`; earlier versions' bags are kept in archive/.versions/ID/
    /// (`Archive::retained_bags`, in fs::archive).
    #[serde(default = "first_version", skip_serializing_if = "is_first_version")]
    pub version: u32,
    /// Members this Cairn does not know (written by a newer one), kept as read and
    /// written back after the others, so that rewriting an entry loses nothing.
    #[serde(flatten)]
    pub extra: Unknown,
}

/// Register entries up to this size are read whole before parsing.
const SMALL_ENTRY: u64 = 4 << 20;

fn first_version() -> u32 {
    1
}

fn is_first_version(v: &u32) -> bool {
    *v == 1
}

impl RegisterEntry {
    /// Reads an entry.
    pub fn read(path: &Path) -> Result<RegisterEntry, Error> {
        let file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
        Self::read_open(file, path)
    }

    /// Reads an entry; `None` when there is no file at `path` (one open, no separate
    /// existence check).
    pub fn read_if_present(path: &Path) -> Result<Option<RegisterEntry>, Error> {
        match std::fs::File::open(path) {
            Ok(file) => Self::read_open(file, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Reads an entry and keeps its bytes as they are on disk (the superseded entry an
    /// update keeps in history/ byte for byte).
    pub fn read_with_bytes(path: &Path) -> Result<(RegisterEntry, Vec<u8>), Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let entry = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("not a valid register entry: {e}"),
        })?;
        Ok((entry, bytes))
    }

    fn read_open(mut file: std::fs::File, path: &Path) -> Result<RegisterEntry, Error> {
        use std::io::Read;
        let corrupt = |e: serde_json::Error| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("not a valid register entry: {e}"),
        };
        let size = file
            .metadata()
            .map_err(|e| Error::io("read", path, e))?
            .len();
        // A small entry (nearly all) is read whole and parsed from the bytes, several
        // times faster than serde_json's reader, which goes byte by byte. A large one
        // (a bag of a million files) is parsed from a buffered reader, so that its
        // bytes are not held beside the parsed entry.
        if size <= SMALL_ENTRY {
            let mut bytes = Vec::with_capacity(size as usize + 1);
            // Through `take`: File's own read_to_end would stat and seek again.
            (&mut file)
                .take(SMALL_ENTRY + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io("read", path, e))?;
            serde_json::from_slice(&bytes).map_err(corrupt)
        } else {
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(corrupt)
        }
    }

    /// The entry's bytes as the register writes them (pretty JSON and a newline); `path`
    /// names the entry in the error.
    pub fn encode(&self, path: &Path) -> Result<Vec<u8>, Error> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io("encode", path, std::io::Error::other(e)))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Writes the entry at `path` once: to a temporary file, fsynced, then renamed into
    /// place without replacing anything, so an existing entry is never overwritten
    /// and a crash leaves no partial entry under the real name.
    pub fn write_once(&self, path: &Path) -> Result<(), Error> {
        let bytes = self.encode(path)?;
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
