//! cairn.toml: the archive's configuration.
//!
//! Pure: parses and renders text. Unknown keys and bad values are errors that name the
//! file, the line and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::digest::Algorithm;
use crate::error::Error;

/// The configuration file's name, at the archive root.
pub const CONFIG_FILE: &str = "cairn.toml";

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub archive: ArchiveSection,
    pub ingest: IngestSection,
    pub fixity: FixitySection,
    pub zip: ZipSection,
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
    pub fn limits(&self) -> Result<crate::fs::zip::ZipLimits, String> {
        Ok(crate::fs::zip::ZipLimits {
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    pub algorithms: Vec<String>,
    pub identifier_prefix: String,
    pub source_organization: String,
    pub collection: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixitySection {
    pub interval_days: u32,
    pub algorithm: String,
}

impl Default for ArchiveSection {
    fn default() -> ArchiveSection {
        ArchiveSection {
            intake: "intake".into(),
            archive: "archive".into(),
            manifests: "manifests".into(),
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
        }
    }
}

impl Default for FixitySection {
    fn default() -> FixitySection {
        FixitySection {
            interval_days: 90,
            algorithm: "blake3".into(),
        }
    }
}

impl Config {
    /// Parses cairn.toml text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            Error::Config {
                path: path.to_path_buf(),
                line,
                detail: e.message().to_string(),
            }
        })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), Error> {
        let bad = |detail: String| Error::Config {
            path: path.to_path_buf(),
            line: None,
            detail,
        };
        self.algorithms()
            .map_err(|e| bad(format!("ingest.algorithms: {e}")))?;
        if self.ingest.algorithms.is_empty() {
            return Err(bad(
                "ingest.algorithms: at least one algorithm is needed".into()
            ));
        }
        let prefix = &self.ingest.identifier_prefix;
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || prefix.starts_with('.')
        {
            return Err(bad(format!(
                "ingest.identifier_prefix {prefix:?}: use ASCII letters, digits, '-', '_' or '.', not starting with '.'"
            )));
        }
        if self.fixity.interval_days == 0 {
            return Err(bad("fixity.interval_days: must be at least 1".into()));
        }
        self.zip.limits().map_err(bad)?;
        self.fixity
            .algorithm
            .parse::<Algorithm>()
            .map_err(|e| bad(format!("fixity.algorithm: {e}")))?;
        Ok(())
    }

    /// The algorithms for new bags.
    pub fn algorithms(&self) -> Result<Vec<Algorithm>, String> {
        let mut out = Vec::new();
        for name in &self.ingest.algorithms {
            let alg: Algorithm = name
                .parse()
                .map_err(|e: crate::digest::UnknownAlgorithm| e.to_string())?;
            if !alg.can_create() {
                return Err(format!(
                    "{alg} is for reading old bags only; use blake3, sha256 or sha512"
                ));
            }
            out.push(alg);
        }
        Ok(out)
    }

    /// The file `cairn init` writes: every setting, commented.
    pub fn template() -> &'static str {
        TEMPLATE
    }
}

const TEMPLATE: &str = r#"# Cairn configuration. Every setting is shown with its default value.
# Paths are relative to the folder holding this file.

[archive]
# The drop folder: each folder directly under it is one item, a lone file is an item
# of one file, and metadata.csv describes them.
intake = "intake"
# The bags, one folder per item, named by the item's identifier.
archive = "archive"
# The register (one ID.json per item, written once) and the event log (events.jsonl).
manifests = "manifests"

[ingest]
# Checksum algorithms for new bags: blake3, sha256, sha512. BLAKE3 is Cairn's fast
# check; SHA-512 is the one every other BagIt tool can verify.
algorithms = ["blake3", "sha512"]
# Identifiers for items whose metadata gives no dc.identifier: this prefix and a
# six-digit number, never reused (for example cairn-000001).
identifier_prefix = "cairn-"
# Written as Source-Organization in each bag's bag-info.txt.
source_organization = ""
# The collection, written as Bag-Group-Identifier in each bag-info.txt.
collection = ""

[fixity]
# Days between two fixity checks of the same bag (cairn fixity --due).
interval_days = 90
# The algorithm routine fixity runs check.
algorithm = "blake3"

[zip]
# Limits for zip files Cairn reads (cairn import, cairn bag validate X.zip). An entry
# over a limit is refused as a zip bomb, as is one that inflates past the size its
# header declares. Sizes take K, M, G, T (powers of 1024).
# The largest uncompressed size of one entry.
max_entry_size = "1T"
# The largest uncompressed size of all entries together.
max_total_size = "8T"
# The largest compression ratio (uncompressed / compressed) of an entry over 1 MiB.
max_ratio = 1000
# The most entries one zip may have.
max_entries = 10000000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_the_defaults() {
        let c = Config::parse(Config::template(), Path::new("cairn.toml")).unwrap();
        let d = Config::default();
        assert_eq!(c.ingest.algorithms, d.ingest.algorithms);
        assert_eq!(c.fixity.interval_days, d.fixity.interval_days);
        assert_eq!(c.archive.intake, d.archive.intake);
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = "[ingest]\nalgorithms = [\"blake3\"]\nprefix = \"x\"\n";
        let e = Config::parse(text, Path::new("cairn.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cairn.toml:3"), "{e}");
        assert!(e.contains("prefix"), "{e}");
    }

    #[test]
    fn bad_values() {
        for text in [
            "[ingest]\nalgorithms = [\"md5\"]\n",
            "[ingest]\nalgorithms = []\n",
            "[ingest]\nidentifier_prefix = \"../x\"\n",
            "[fixity]\ninterval_days = 0\n",
            "[fixity]\ninterval_days = \"often\"\n",
        ] {
            assert!(Config::parse(text, Path::new("c.toml")).is_err(), "{text}");
        }
    }
}
