//! The environment Cairn reads, as a value: the `CAIRN_*` variables (settings laid
//! over cairn.toml, a replica's URL, endpoint, region and credentials, the archive's
//! root) and the `AWS_*` credentials a replica falls back on.
//!
//! The CLI takes it from the process once ([`Env::from_process`]) and hands it to
//! `Archive::open_with` and `Config::load`; a library caller passes its own, or none
//! (`Archive::open`), and is then untouched by whatever the process's environment
//! holds. Values are never printed: `Debug` shows the names alone.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

/// A snapshot of the variables Cairn reads.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
}

/// The prefixes of the variables an [`Env`] keeps.
const PREFIXES: [&str; 2] = ["CAIRN_", "AWS_"];

impl Env {
    /// No variable at all: the configuration file alone.
    pub fn empty() -> Env {
        Env::default()
    }

    /// Every `CAIRN_*` and `AWS_*` variable of this process.
    pub fn from_process() -> Env {
        Env::from_pairs(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))))
    }

    /// The variables among `pairs` that Cairn reads (for tests and library callers).
    pub fn from_pairs<K: Into<String>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| PREFIXES.iter().any(|p| k.starts_with(p)))
                .collect(),
        }
    }

    /// The value of `name`, if it is set and UTF-8 (a value that is not is taken as
    /// unset, as `std::env::var` does).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(|v| v.to_str())
    }

    /// The value of `name` as the process had it (a path need not be UTF-8).
    pub fn get_os(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(name).map(OsString::as_os_str)
    }

    /// Whether `name` is set.
    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_cairn_and_aws_variables_and_never_shows_values() {
        let env = Env::from_pairs([
            ("CAIRN_ROOT", "/a"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("HOME", "/home/x"),
        ]);
        assert_eq!(env.get("CAIRN_ROOT"), Some("/a"));
        assert!(env.is_set("AWS_SECRET_ACCESS_KEY"));
        assert_eq!(env.get("HOME"), None);
        let shown = format!("{env:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("CAIRN_ROOT"),
            "{shown}"
        );
        assert_eq!(Env::empty().get("CAIRN_ROOT"), None);
    }
}
