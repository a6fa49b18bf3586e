//! cairn.toml: the archive's configuration.
//!
//! Pure: parses and renders text. Unknown keys and bad values are errors that name the
//! file, the line and the key.

//!
//! - [`settings`]: every setting, its variable, and [`Config::load`], which lays the
//!   environment ([`Env`]) over the file;
//! - [`sections`]: the sections and their defaults; [`serve`]: `[serve]`;
//! - [`template`]: the file `cairn init` writes.

use std::path::Path;

use serde::Deserialize;

use crate::digest::Algorithm;
use crate::error::Error;

pub mod env;
mod sections;
pub mod serve;
mod settings;
mod template;

pub use env::Env;
pub use sections::{
    excluded, ArchiveSection, FixitySection, IngestSection, ZipLimits, ZipSection, DEFAULT_EXCLUDE,
};
pub use serve::ServeSection;
pub use settings::{Kind, Setting, Source, SETTINGS};
use template::{line_of_key, TEMPLATE};
pub use template::{name_from_folder, with_archive_name};

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
    pub formats: crate::pronom::policy::FormatsSection,
    /// `[qc]`: the digitisation profile masters are judged by (docs/scan-qc.md).
    pub qc: crate::qc::profile::QcSection,
    /// `[profiles]`: the BagIt Profile every export applies (docs/profiles.md).
    pub profiles: crate::bagit::profile::ProfilesSection,
    pub serve: ServeSection,
    /// `[[replica]]`: copies of the archive elsewhere (docs/replicas.md).
    pub replica: Vec<crate::replica::ReplicaSection>,
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
        self.qc.check().map_err(bad)?;
        self.profiles.check().map_err(bad)?;
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
        let env = |vars: &[(&str, &str)]| Env::from_pairs(vars.iter().copied());
        let p = Path::new("cairn.toml");
        let (c, sources) = Config::load(text, p, &env(&[])).unwrap();
        assert_eq!(c.fixity.interval_days, 30);
        assert_eq!(c.fixity.algorithm, "sha512");
        assert_eq!(c.ingest.identifier_prefix, "cairn-");
        let source = |key: &str| sources[SETTINGS.iter().position(|s| s.key == key).unwrap()];
        assert_eq!(source("interval_days"), Source::File);
        assert_eq!(source("identifier_prefix"), Source::Default);

        let (c, sources) = Config::load(
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
            let e = Config::load("", p, &Env::from_pairs([(var, value)]))
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
