//! Every setting of cairn.toml with its environment variable, and the one loader that
//! lays the environment over the file ([`Config::load`]), saying where each value came
//! from.

use std::path::Path;

use super::env::Env;
use super::Config;
use crate::error::Error;

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
    setting("qc", "profile", Kind::Text),
    setting("profiles", "export", Kind::Text),
    setting("serve", "repository_name", Kind::Text),
    setting("serve", "repository_identifier", Kind::Text),
    setting("serve", "admin_email", Kind::Text),
    setting("serve", "page_size", Kind::Number),
    setting("serve", "header_timeout_secs", Kind::Number),
    setting("serve", "max_connections_per_address", Kind::Number),
    setting("serve", "restricted_digests", Kind::Bool),
];

impl Config {
    /// The one way cairn.toml is loaded: parses its text, then lets environment
    /// variables override it, one [`SETTINGS`] entry each, and lays each replica's
    /// variables over it (crate::replica::apply_env). A variable's value is read as if
    /// it were written in cairn.toml: paths relative to the archive, lists
    /// comma-separated. A bad value is an error naming the variable. Returns where each
    /// setting came from too. With [`Env::empty`], the file alone.
    pub fn load(text: &str, path: &Path, env: &Env) -> Result<(Config, Vec<Source>), Error> {
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
            let Some(raw) = env.get(&s.env_var()).map(str::to_string) else {
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
            ("qc", "profile") => text(&self.qc.profile),
            ("profiles", "export") => text(&self.profiles.export),
            ("serve", key) => self.serve.value_of(key),
            _ => String::new(),
        }
    }
}
