//! cairn.toml: the archive's configuration.
//!
//! Pure: parses and renders text. Unknown keys and bad values are errors that name the
//! file, the line and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::digest::Algorithm;
use crate::error::Error;

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

/// The configuration file's name, at the archive root.
pub const CONFIG_FILE: &str = "cairn.toml";

/// The type of a setting's value, for reading it from an environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    /// Comma-separated in the variable, an array in cairn.toml.
    List,
    /// `true` or `false`.
    Bool,
}

/// One cairn.toml setting. Its environment variable is `CAIRN_SECTION_KEY`.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub section: &'static str,
    pub key: &'static str,
    pub kind: Kind,
}

impl Setting {
    /// `CAIRN_` and the section and key in capitals: `CAIRN_FIXITY_INTERVAL_DAYS`.
    pub fn env_var(&self) -> String {
        format!("CAIRN_{}_{}", self.section, self.key).to_ascii_uppercase()
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Default,
    File,
    Env,
}

const fn setting(section: &'static str, key: &'static str, kind: Kind) -> Setting {
    Setting { section, key, kind }
}

/// Every setting, in the order of the template. Precedence, highest first: a command's
/// flag (where one exists), the environment variable, cairn.toml, the default.
pub const SETTINGS: &[Setting] = &[
    setting("archive", "intake", Kind::Text),
    setting("archive", "archive", Kind::Text),
    setting("archive", "manifests", Kind::Text),
    setting("archive", "name", Kind::Text),
    setting("archive", "checkpoint_key", Kind::Text),
    setting("archive", "checkpoint_on_write", Kind::Bool),
    setting("archive", "replicate_on_ingest", Kind::Bool),
    setting("ingest", "algorithms", Kind::List),
    setting("ingest", "identifier_prefix", Kind::Text),
    setting("ingest", "source_organization", Kind::Text),
    setting("ingest", "collection", Kind::Text),
    setting("ingest", "exclude", Kind::List),
    setting("ingest", "max_value_size", Kind::Text),
    setting("fixity", "interval_days", Kind::Number),
    setting("fixity", "algorithm", Kind::Text),
    setting("fixity", "rate", Kind::Text),
    setting("zip", "max_entry_size", Kind::Text),
    setting("zip", "max_total_size", Kind::Text),
    setting("zip", "max_ratio", Kind::Number),
    setting("zip", "max_entries", Kind::Number),
    setting("formats", "identify", Kind::Text),
    setting("formats", "accept", Kind::List),
    setting("formats", "warn", Kind::List),
    setting("formats", "refuse", Kind::List),
    setting("serve", "repository_name", Kind::Text),
    setting("serve", "repository_identifier", Kind::Text),
    setting("serve", "admin_email", Kind::Text),
    setting("serve", "page_size", Kind::Number),
    setting("serve", "header_timeout_secs", Kind::Number),
    setting("serve", "max_connections_per_address", Kind::Number),
    setting("serve", "restricted_digests", Kind::Bool),
];

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

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub archive: ArchiveSection,
    pub ingest: IngestSection,
    pub fixity: FixitySection,
    pub zip: ZipSection,
    pub formats: crate::pronom::policy::FormatsSection,
    pub serve: crate::serve::config::ServeSection,
    /// `[[replica]]`: copies of the archive elsewhere (docs/replicas.md).
    pub replica: Vec<crate::replica::ReplicaSection>,
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

/// The line (1-based) where `section.key` is set in cairn.toml text: `key = …` under
/// `[section]`, or `section.key = …` before any table header.
fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.split_once('.')?;
    let sets = |line: &str, name: &str| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    let mut current = "";
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header.split(']').next().unwrap_or_default().trim();
        } else if (current == section && sets(line, key))
            || (current.is_empty() && sets(line, dotted))
        {
            return Some(i + 1);
        }
    }
    None
}

/// `text` (cairn.toml) with `archive.name` set to `name`: its line replaced where it is
/// set, else added under `[archive]` (or in a new `[archive]` table at the end); every
/// other line kept as it is. `None` when the result would not read back with that name
/// (a layout this edit does not understand): the caller asks for a hand edit.
pub fn with_archive_name(text: &str, name: &str) -> Option<String> {
    let value = toml::Value::String(name.to_string()).to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(n) = line_of_key(text, "archive.name") {
        let old = &lines[n - 1];
        let key = if old.trim_start().starts_with("archive.") {
            "archive.name"
        } else {
            "name"
        };
        lines[n - 1] = format!("{key} = {value}");
    } else if let Some(i) = lines.iter().position(|l| l.trim() == "[archive]") {
        lines.insert(i + 1, format!("name = {value}"));
    } else {
        lines.push(String::new());
        lines.push("[archive]".into());
        lines.push(format!("name = {value}"));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let parsed: Config = toml::from_str(&out).ok()?;
    (parsed.archive.name == name).then_some(out)
}

/// A folder's name made into an archive name (no spaces or '+', which a checkpoint's
/// origin line and a key's name cannot hold: each becomes '-'); `cairn-archive` for a
/// folder without a name.
pub fn name_from_folder(folder: &str) -> String {
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '+' {
                '-'
            } else {
                c
            }
        })
        .collect();
    if name.is_empty() {
        "cairn-archive".into()
    } else {
        name
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
        config.check(path).map_err(|e| match e {
            // Semantic checks name the key first (`section.key: …`): point at its line.
            Error::Config {
                path,
                line: None,
                detail,
            } => {
                let key = detail.split([':', ' ']).next().unwrap_or_default();
                Error::Config {
                    line: line_of_key(text, key),
                    path,
                    detail,
                }
            }
            other => other,
        })?;
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
                "ingest.identifier_prefix: \"{prefix}\": use ASCII letters, digits, '-', '_' or '.', not starting with '.'"
            )));
        }
        if !self.archive.name.is_empty() {
            crate::tlog::note::check_name(&self.archive.name)
                .map_err(|_| bad(format!(
                    "archive.name: {}: it must have no spaces or '+' (it names the archive's checkpoints and key)",
                    crate::quoted(&self.archive.name)
                )))?;
        }
        if self.fixity.interval_days == 0 {
            return Err(bad("fixity.interval_days: must be at least 1".into()));
        }
        self.zip.limits().map_err(bad)?;
        self.formats.check().map_err(bad)?;
        self.fixity
            .algorithm
            .parse::<Algorithm>()
            .map_err(|e| bad(format!("fixity.algorithm: {e}")))?;
        self.fixity_rate()
            .map_err(|e| bad(format!("fixity.rate: {e}")))?;
        self.max_value_size()
            .map_err(|e| bad(format!("ingest.max_value_size: {e}")))?;
        self.serve.check().map_err(bad)?;
        crate::replica::check(&self.replica).map_err(bad)?;
        Ok(())
    }

    /// fixity.rate, parsed: `None` for no limit.
    pub fn fixity_rate(&self) -> Result<Option<u64>, String> {
        match self.fixity.rate.trim() {
            "" => Ok(None),
            r => crate::units::parse_size(r).map(Some),
        }
    }

    /// Parses cairn.toml text, then lets environment variables override it, one
    /// [`SETTINGS`] entry each (`env` looks a variable up; the CLI passes the process
    /// environment, tests a map). A variable's value is read as if it were written in
    /// cairn.toml: paths relative to the archive, lists comma-separated. A bad value is
    /// an error naming the variable.
    pub fn parse_with_env(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        Ok(Config::parse_layers(text, path, env)?.0)
    }

    /// As [`Config::parse_with_env`], and where each setting came from.
    pub fn parse_layers(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, Vec<Source>), Error> {
        let mut config = Config::parse(text, path)?;
        // Parsed again as a plain table (it parsed above, so this cannot fail), to lay
        // the variables over it one at a time and blame the one that breaks it.
        let mut table: toml::Table = text.parse().unwrap_or_default();
        let mut sources = Vec::new();
        for s in SETTINGS {
            let in_file = table
                .get(s.section)
                .and_then(|t| t.as_table())
                .is_some_and(|t| t.contains_key(s.key));
            let Some(raw) = env(&s.env_var()) else {
                sources.push(if in_file {
                    Source::File
                } else {
                    Source::Default
                });
                continue;
            };
            let bad = |detail: String| Error::Env {
                var: s.env_var(),
                value: raw.clone(),
                detail,
            };
            let value = match s.kind {
                Kind::Text => toml::Value::String(raw.clone()),
                Kind::Number => toml::Value::Integer(
                    raw.trim()
                        .parse::<i64>()
                        .map_err(|_| bad("not a whole number".into()))?,
                ),
                Kind::Bool => toml::Value::Boolean(match raw.trim() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(bad("not true or false".into())),
                }),
                Kind::List => toml::Value::Array(
                    raw.split(',')
                        .map(|v| v.trim())
                        .filter(|v| !v.is_empty())
                        .map(|v| toml::Value::String(v.to_string()))
                        .collect(),
                ),
            };
            let section = table
                .entry(s.section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(t) = section.as_table_mut() {
                t.insert(s.key.to_string(), value);
            }
            config = toml::Value::Table(table.clone())
                .try_into::<Config>()
                .map_err(|e| bad(e.message().to_string()))?;
            config.check(path).map_err(|e| match e {
                Error::Config { detail, .. } => bad(detail),
                other => other,
            })?;
            sources.push(Source::Env);
        }
        crate::replica::apply_env(&mut config.replica, env);
        config.check(path)?;
        Ok((config, sources))
    }

    /// A setting's value as cairn.toml would spell it, for `cairn config`.
    pub fn value_of(&self, setting: &Setting) -> String {
        let text = |s: &str| crate::quoted(s);
        match (setting.section, setting.key) {
            ("archive", "intake") => text(&self.archive.intake.to_string_lossy()),
            ("archive", "archive") => text(&self.archive.archive.to_string_lossy()),
            ("archive", "manifests") => text(&self.archive.manifests.to_string_lossy()),
            ("archive", "name") => text(&self.archive.name),
            ("archive", "checkpoint_key") => text(&self.archive.checkpoint_key.to_string_lossy()),
            ("archive", "checkpoint_on_write") => self.archive.checkpoint_on_write.to_string(),
            ("archive", "replicate_on_ingest") => self.archive.replicate_on_ingest.to_string(),
            ("ingest", "algorithms") => format!(
                "[{}]",
                self.ingest
                    .algorithms
                    .iter()
                    .map(|a| text(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ("ingest", "identifier_prefix") => text(&self.ingest.identifier_prefix),
            ("ingest", "source_organization") => text(&self.ingest.source_organization),
            ("ingest", "collection") => text(&self.ingest.collection),
            ("ingest", "exclude") => format!(
                "[{}]",
                self.ingest
                    .exclude
                    .iter()
                    .map(|a| text(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ("ingest", "max_value_size") => text(&self.ingest.max_value_size),
            ("fixity", "interval_days") => self.fixity.interval_days.to_string(),
            ("fixity", "algorithm") => text(&self.fixity.algorithm),
            ("fixity", "rate") => text(&self.fixity.rate),
            ("zip", "max_entry_size") => text(&self.zip.max_entry_size),
            ("zip", "max_total_size") => text(&self.zip.max_total_size),
            ("zip", "max_ratio") => self.zip.max_ratio.to_string(),
            ("zip", "max_entries") => self.zip.max_entries.to_string(),
            ("formats", "identify") => text(&self.formats.identify),
            ("formats", key @ ("accept" | "warn" | "refuse")) => format!(
                "[{}]",
                self.formats
                    .list(key)
                    .iter()
                    .map(|a| text(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ("serve", key) => self.serve.value_of(key),
            _ => String::new(),
        }
    }

    /// The algorithms for new bags.
    /// `ingest.max_value_size` in bytes (at least 1).
    pub fn max_value_size(&self) -> Result<usize, String> {
        match crate::units::parse_size(&self.ingest.max_value_size)? {
            0 => Err("must be at least 1 byte".into()),
            n => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }

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
#
# Precedence, highest first: a command's flag (where one exists), the setting's
# environment variable (CAIRN_SECTION_KEY, named above each setting), this file, the
# default. A variable is read as if written here: paths relative to this folder,
# lists comma-separated (CAIRN_INGEST_ALGORITHMS=blake3,sha256). `cairn config` shows
# the settings in force and where each comes from. Not settings of this file:
# CAIRN_ROOT (--root, the archive's folder), CAIRN_LOG_FORMAT (--log-format text|json)
# and CAIRN_QUIET (--quiet).

[archive]
# The drop folder: each folder directly under it is one item, a lone file is an item
# of one file, and metadata.csv describes them.
# CAIRN_ARCHIVE_INTAKE; `cairn ingest --intake DIR` overrides it for one run.
intake = "intake"
# The bags, one folder per item, named by the item's identifier.
# CAIRN_ARCHIVE_ARCHIVE
archive = "archive"
# The register (one ID.json per item, written once) and the event log (events.jsonl).
# CAIRN_ARCHIVE_MANIFESTS
manifests = "manifests"
# The archive's name: the origin line of its signed checkpoints and the name of its
# signing key (docs/auditing.md). Use something stable and unique, such as
# "archive.example.org/s21"; no spaces or '+'. `cairn init` writes the folder's
# name here: keep it fixed once checkpoints are signed (a restored or moved archive
# keeps its name). Empty: set by the first `cairn key generate` or `cairn checkpoint`.
# CAIRN_ARCHIVE_NAME
name = ""
# The private key `cairn checkpoint` signs with when no --key is given (made by
# `cairn key generate --out FILE`; keep it readable by its owner only).
# CAIRN_ARCHIVE_CHECKPOINT_KEY
checkpoint_key = ""
# Write a signed checkpoint of the event log into manifests/checkpoints/ after each
# ingest and fixity run (needs checkpoint_key).
# CAIRN_ARCHIVE_CHECKPOINT_ON_WRITE
checkpoint_on_write = false
# Copy each item to every [[replica]] right after ingest or import commits it (as
# `cairn replicate --id ID` would); a failed copy is reported, exit 3.
# CAIRN_ARCHIVE_REPLICATE_ON_INGEST
replicate_on_ingest = false

[ingest]
# Checksum algorithms for new bags: blake3, sha256, sha512. BLAKE3 is Cairn's fast
# check; SHA-512 is the one every other BagIt tool can verify.
# CAIRN_INGEST_ALGORITHMS
algorithms = ["blake3", "sha512"]
# Identifiers for items whose metadata gives no dc.identifier: this prefix and a
# six-digit number, never reused (for example cairn-000001).
# CAIRN_INGEST_IDENTIFIER_PREFIX
identifier_prefix = "cairn-"
# Written as Source-Organization in each bag's bag-info.txt (left out when empty).
# CAIRN_INGEST_SOURCE_ORGANIZATION
source_organization = ""
# The collection, written as Bag-Group-Identifier in each bag-info.txt (left out when
# empty).
# CAIRN_INGEST_COLLECTION
collection = ""
# Files left out of every item, and names at the top of intake that are not items:
# what operating systems and office programs leave behind. An exact name, a prefix
# ending in `*`, or a suffix after a leading `*` ("*.tmp"); case is ignored. Each
# excluded file is named in the ingest report and in the item's ingestion event.
# CAIRN_INGEST_EXCLUDE
exclude = ["Thumbs.db", "desktop.ini", ".DS_Store", "._*", "~$*"]
# The largest metadata value (one dc.title, one dc.description...) that ingest and
# import accept; a larger one refuses the item, naming the term and the size (K, M:
# powers of 1024).
# CAIRN_INGEST_MAX_VALUE_SIZE
max_value_size = "64K"

[fixity]
# Days between two fixity checks of the same bag (cairn fixity --due).
# CAIRN_FIXITY_INTERVAL_DAYS
interval_days = 90
# The algorithm routine fixity runs check: blake3, sha256, sha512 (or, for old bags,
# md5, sha1, sha224, sha384).
# CAIRN_FIXITY_ALGORITHM; `cairn fixity --algorithms LIST|all` overrides it.
algorithm = "blake3"
# The most bytes per second fixity reads, so that production storage is not starved
# (K, M, G, T: powers of 1024; for example "200M"). Empty: no limit.
# CAIRN_FIXITY_RATE; `cairn fixity --rate` overrides it.
rate = ""

[zip]
# Limits for zip files Cairn reads (cairn import, cairn bag validate X.zip). An entry
# over a limit is refused as a zip bomb, as is one that inflates past the size its
# header declares. Sizes take K, M, G, T (powers of 1024).
# The largest uncompressed size of one entry.
# CAIRN_ZIP_MAX_ENTRY_SIZE
max_entry_size = "1T"
# The largest uncompressed size of all entries together.
# CAIRN_ZIP_MAX_TOTAL_SIZE
max_total_size = "8T"
# The largest compression ratio (uncompressed / compressed) of an entry over 1 MiB.
# CAIRN_ZIP_MAX_RATIO
max_ratio = 1000
# The most entries one zip may have.
# CAIRN_ZIP_MAX_ENTRIES
max_entries = 10000000

[formats]
# Format identification at ingest and import: every payload file's PRONOM format
# (PUID, name, version, MIME type and the basis of the match) and technical metadata
# (TIFF, JPEG, JPEG 2000, PNG, PDF headers) go into its register entry, with one
# "format identification" event per item. "on" or "off".
# CAIRN_FORMATS_IDENTIFY
identify = "on"
# The format policy applied at ingest, each entry "KEY: reason". KEY is a PUID
# (fmt/353), a MIME type (image/jpeg), or one of: encrypted (an encrypted PDF), damaged
# (a file whose headers show damage: a truncated TIFF, a JPEG without its end marker,
# a PDF without its trailer), unidentified (no format found). The reason is printed.
# refuse: an item holding such a file is refused. warn: it is ingested with the
# warning. accept: when not empty, only these formats are accepted and any other is
# refused. Refuse wins over warn, warn over accept. For example:
#   refuse = ["encrypted: an encrypted PDF cannot be read or migrated"]
#   warn = ["fmt/43: lossy JPEG is not a master format; keep the TIFF"]
# In the variables, entries are comma-separated (so a reason there has no comma).
# CAIRN_FORMATS_ACCEPT
accept = []
# CAIRN_FORMATS_WARN
warn = []
# CAIRN_FORMATS_REFUSE
refuse = []

[serve]
# `cairn serve`: the read-only web view and OAI-PMH 2.0 endpoint (/oai).
# The repositoryName harvesters show (OAI-PMH Identify).
# CAIRN_SERVE_REPOSITORY_NAME
repository_name = "Cairn archive"
# The repository identifier in every OAI identifier, oai:IDENTIFIER:ITEM-ID: a domain
# name you control (letters, digits, '-', in dot-separated labels).
# CAIRN_SERVE_REPOSITORY_IDENTIFIER
repository_identifier = "cairn.invalid"
# The address harvesters write to about the repository (OAI-PMH adminEmail).
# CAIRN_SERVE_ADMIN_EMAIL
admin_email = "archivist@cairn.invalid"
# Records per OAI-PMH list response; longer lists continue with a resumption token.
# CAIRN_SERVE_PAGE_SIZE
page_size = 100
# Seconds a connection may take to send a request's headers, counted from when it
# opened or its last response ended: half-sent headers and idle keep-alive
# connections are closed after it.
# CAIRN_SERVE_HEADER_TIMEOUT_SECS
header_timeout_secs = 10
# Connections open at once from one address; more are closed at once. Behind a
# reverse proxy every reader comes from the proxy's address: raise it there. It is
# always kept below what the process's file limit (ulimit -n) allows.
# CAIRN_SERVE_MAX_CONNECTIONS_PER_ADDRESS
max_connections_per_address = 64
# Whether restricted items' pages show their files' digests (a digest confirms a
# guess of a short file's content).
# CAIRN_SERVE_RESTRICTED_DIGESTS
restricted_digests = false

# Replicas: copies of the archive on another disk or an S3-compatible object store,
# one [[replica]] table each (docs/replicas.md). `cairn replicate` fills them,
# `cairn fixity --replica NAME` checks them, `cairn repair` and `cairn restore` read
# them. CAIRN_REPLICA_<NAME>_URL, _ENDPOINT and _REGION override a replica's settings;
# its credentials come from CAIRN_REPLICA_<NAME>_ACCESS_KEY_ID and
# _SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never this
# file). For example:
#   [[replica]]
#   name = "nas"
#   url = "file:///srv/cairn-replica"
#
#   [[replica]]
#   name = "offsite"
#   url = "s3://cairn-archive/s21"
#   endpoint = "http://127.0.0.1:3900"
#   region = "garage"
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

    /// Every setting is in the template, with its variable named in its comment, and
    /// every setting of the template is in SETTINGS.
    #[test]
    fn template_documents_every_setting() {
        let t = Config::template();
        let mut section = "";
        let mut keys = Vec::new();
        for line in t.lines() {
            if let Some(name) = line.strip_prefix('[') {
                section = name.trim_end_matches(']');
            } else if let Some((key, _)) = line.split_once(" = ") {
                if !line.starts_with('#') {
                    keys.push((section.to_string(), key.to_string()));
                }
            }
        }
        let listed: Vec<(String, String)> = SETTINGS
            .iter()
            .map(|s| (s.section.to_string(), s.key.to_string()))
            .collect();
        assert_eq!(keys, listed);
        for s in SETTINGS {
            assert!(t.contains(&format!("# {}", s.env_var())), "{}", s.env_var());
        }
        // And the template is the defaults, key by key.
        let c = Config::parse(t, Path::new("cairn.toml")).unwrap();
        let d = Config::default();
        for s in SETTINGS {
            assert_eq!(c.value_of(s), d.value_of(s), "{}.{}", s.section, s.key);
            assert!(!d.value_of(s).is_empty(), "{}.{}", s.section, s.key);
        }
    }

    #[test]
    fn environment_beats_file_beats_default() {
        let text = "[fixity]\ninterval_days = 30\nalgorithm = \"sha512\"\n";
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let p = Path::new("cairn.toml");
        let (c, sources) = Config::parse_layers(text, p, &env(&[])).unwrap();
        assert_eq!(c.fixity.interval_days, 30);
        assert_eq!(c.fixity.algorithm, "sha512");
        assert_eq!(c.ingest.identifier_prefix, "cairn-");
        let source = |key: &str| sources[SETTINGS.iter().position(|s| s.key == key).unwrap()];
        assert_eq!(source("interval_days"), Source::File);
        assert_eq!(source("identifier_prefix"), Source::Default);

        let (c, sources) = Config::parse_layers(
            text,
            p,
            &env(&[
                ("CAIRN_FIXITY_INTERVAL_DAYS", "7"),
                ("CAIRN_INGEST_ALGORITHMS", "sha256, blake3"),
                ("CAIRN_INGEST_IDENTIFIER_PREFIX", "box-"),
            ]),
        )
        .unwrap();
        assert_eq!(c.fixity.interval_days, 7);
        assert_eq!(c.fixity.algorithm, "sha512");
        assert_eq!(c.ingest.algorithms, ["sha256", "blake3"]);
        assert_eq!(c.ingest.identifier_prefix, "box-");
        let source = |key: &str| sources[SETTINGS.iter().position(|s| s.key == key).unwrap()];
        assert_eq!(source("interval_days"), Source::Env);
        assert_eq!(source("algorithm"), Source::File);
        assert_eq!(source("max_ratio"), Source::Default);
    }

    #[test]
    fn a_bad_variable_is_named() {
        let p = Path::new("cairn.toml");
        for (var, value) in [
            ("CAIRN_FIXITY_INTERVAL_DAYS", "weekly"),
            ("CAIRN_FIXITY_INTERVAL_DAYS", "0"),
            ("CAIRN_INGEST_ALGORITHMS", "md5"),
            ("CAIRN_FIXITY_RATE", "fast"),
            ("CAIRN_ZIP_MAX_ENTRY_SIZE", "huge"),
        ] {
            let e = Config::parse_with_env("", p, &|k: &str| (k == var).then(|| value.into()))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!("environment variable {var}=\"{value}\": ")),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_value_names_line_and_key() {
        let text =
            "[archive]\nintake = \"intake\"\n\n[ingest]\n# which digests\nalgorithms = [\"md5\"]\n";
        match Config::parse(text, Path::new("cairn.toml")) {
            Err(Error::Config { line, detail, .. }) => {
                assert_eq!(line, Some(6), "{detail}");
                assert!(detail.starts_with("ingest.algorithms:"), "{detail}");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
        assert_eq!(
            line_of_key("fixity.rate = \"1M\"\n", "fixity.rate"),
            Some(1)
        );
        assert_eq!(
            line_of_key("[fixity]\nrate=\"1M\"\n", "fixity.rate"),
            Some(2)
        );
        assert_eq!(line_of_key("[zip]\nrate = 1\n", "fixity.rate"), None);
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

    #[test]
    fn the_archive_name_is_set_in_place() {
        let t = Config::template();
        let out = with_archive_name(t, "s21-archive").expect("template");
        assert_eq!(out.lines().count(), t.lines().count());
        assert!(out.contains("\nname = \"s21-archive\"\n"), "{out}");
        let c = Config::parse(&out, Path::new("c.toml")).expect("parses");
        assert_eq!(c.archive.name, "s21-archive");
        // No [archive] table, or a table without the key: added.
        let out = with_archive_name("[fixity]\ninterval_days = 30\n", "a.b/c").expect("added");
        assert!(out.ends_with("[archive]\nname = \"a.b/c\"\n"), "{out}");
        let out = with_archive_name("[archive]\nintake = \"in\"\n", "x").expect("added");
        assert!(out.starts_with("[archive]\nname = \"x\"\n"), "{out}");
        assert_eq!(name_from_folder("S21 scans+1"), "S21-scans-1");
    }
}
