//! The sections of cairn.toml other than `[serve]` ([`super::serve`]), `[formats]`
//! (pronom::policy) and `[[replica]]` (crate::replica), with their defaults.

use std::path::PathBuf;

use serde::Deserialize;

/// Limits on what a zip may expand to (cairn.toml's `[zip]` section, parsed by
/// [`ZipSection::limits`]; enforced by fs/zip.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    pub max_entry_size: u64,
    pub max_total_size: u64,
    pub max_ratio: u64,
    pub max_entries: u64,
}

impl Default for ZipLimits {
    fn default() -> ZipLimits {
        ZipLimits {
            max_entry_size: 1 << 40,
            max_total_size: 8 << 40,
            max_ratio: 1000,
            max_entries: 10_000_000,
        }
    }
}

/// The default of `ingest.exclude`: Windows thumbnail caches and folder settings,
/// macOS folder metadata and AppleDouble resource forks, Office lock files.
pub const DEFAULT_EXCLUDE: [&str; 5] = ["Thumbs.db", "desktop.ini", ".DS_Store", "._*", "~$*"];

/// Whether `name` (a file name, not a path) matches one of the `ingest.exclude`
/// patterns: an exact name, a prefix ending in `*` (`~$*`), or a suffix after a leading
/// `*` (`*.tmp`); case is ignored.
pub fn excluded(name: &str, patterns: &[String]) -> bool {
    let lower = name.to_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_lowercase();
        if let Some(prefix) = p.strip_suffix('*') {
            lower.starts_with(prefix)
        } else if let Some(suffix) = p.strip_prefix('*') {
            lower.ends_with(suffix)
        } else {
            lower == p
        }
    })
}

/// Limits for zip files Cairn reads (import, validation of zipped bags).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZipSection {
    pub max_entry_size: String,
    pub max_total_size: String,
    pub max_ratio: u64,
    pub max_entries: u64,
}

impl Default for ZipSection {
    fn default() -> ZipSection {
        ZipSection {
            max_entry_size: "1T".into(),
            max_total_size: "8T".into(),
            max_ratio: 1000,
            max_entries: 10_000_000,
        }
    }
}

impl ZipSection {
    /// The limits, parsed.
    pub fn limits(&self) -> Result<ZipLimits, String> {
        Ok(ZipLimits {
            max_entry_size: crate::units::parse_size(&self.max_entry_size)
                .map_err(|e| format!("zip.max_entry_size: {e}"))?,
            max_total_size: crate::units::parse_size(&self.max_total_size)
                .map_err(|e| format!("zip.max_total_size: {e}"))?,
            max_ratio: self.max_ratio.max(1),
            max_entries: self.max_entries,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSection {
    pub intake: PathBuf,
    pub archive: PathBuf,
    pub manifests: PathBuf,
    /// The archive's name: the origin line of its checkpoints and its key's name.
    /// `cairn init` writes the folder's name here; empty (an archive made before that):
    /// written by the first `key generate` or `checkpoint` (ops::tlog::fix_archive_name).
    pub name: String,
    /// The private key `cairn checkpoint` signs with when no --key is given.
    pub checkpoint_key: PathBuf,
    /// Write a signed checkpoint after each ingest and fixity run.
    pub checkpoint_on_write: bool,
    /// Copy each item to every replica right after ingest or import commits it.
    pub replicate_on_ingest: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    pub algorithms: Vec<String>,
    pub identifier_prefix: String,
    pub source_organization: String,
    pub collection: String,
    /// File names left out of items (system clutter): exact names, or a prefix ending
    /// in `*`; compared without regard to case.
    pub exclude: Vec<String>,
    /// The largest metadata value ingest and import accept, in bytes (K, M: powers of
    /// 1024).
    pub max_value_size: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixitySection {
    pub interval_days: u32,
    pub algorithm: String,
    /// Bytes per second, as `--rate` takes them; empty for no limit.
    pub rate: String,
}

impl Default for ArchiveSection {
    fn default() -> ArchiveSection {
        ArchiveSection {
            intake: "intake".into(),
            archive: "archive".into(),
            manifests: "manifests".into(),
            name: String::new(),
            checkpoint_key: PathBuf::new(),
            checkpoint_on_write: false,
            replicate_on_ingest: false,
        }
    }
}

impl Default for IngestSection {
    fn default() -> IngestSection {
        IngestSection {
            algorithms: vec!["blake3".into(), "sha512".into()],
            identifier_prefix: "cairn-".into(),
            source_organization: String::new(),
            collection: String::new(),
            exclude: DEFAULT_EXCLUDE.iter().map(|s| s.to_string()).collect(),
            max_value_size: "64K".into(),
        }
    }
}

impl Default for FixitySection {
    fn default() -> FixitySection {
        FixitySection {
            interval_days: 90,
            algorithm: "blake3".into(),
            rate: String::new(),
        }
    }
}
