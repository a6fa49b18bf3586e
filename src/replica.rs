//! `[[replica]]` in cairn.toml: the copies of the archive elsewhere (another disk, an
//! S3-compatible object store). Pure: parses and checks names and URLs; the store itself
//! is fs::replica (the layer above), the commands are in `ops/replicate.rs`, `ops/repair.rs`,
//! `ops/restore.rs` and `ops/replica_check.rs` (docs/replicas.md).

use std::borrow::Cow;

use serde::Deserialize;

/// One replica as cairn.toml names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSection {
    /// A short name: letters, digits, `-` and `_` (it names the replica in commands,
    /// events and credential variables).
    pub name: String,
    /// `file:///absolute/folder` or `s3://bucket/optional/prefix`.
    pub url: String,
    /// The S3 endpoint (`http://127.0.0.1:3900`); empty for AWS itself.
    #[serde(default)]
    pub endpoint: String,
    /// The S3 region; empty: `us-east-1`.
    #[serde(default)]
    pub region: String,
    /// What the replica holds: `files` (the default), a mirror of the archive root;
    /// `ocfl`, an OCFL 1.1 storage root of the archive (docs/ocfl.md, "As a replica").
    #[serde(default)]
    pub kind: ReplicaKind,
    /// The S3 credentials, from the environment the configuration was loaded with
    /// ([`apply_env`]); never in cairn.toml, never printed.
    #[serde(skip)]
    pub credentials: Option<Credentials>,
}

/// How a replica lays the archive out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaKind {
    /// A mirror of the archive root, file for file (docs/replicas.md).
    #[default]
    Files,
    /// An OCFL 1.1 storage root: every item an object, every version an OCFL version.
    Ocfl,
}

/// An S3 access key and its secret. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// Where a replica's objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder (absolute path).
    Folder(std::path::PathBuf),
    /// A bucket and a key prefix (no leading or trailing `/`; may be empty).
    S3 { bucket: String, prefix: String },
}

impl ReplicaSection {
    /// The prefix of this replica's environment variables: `CAIRN_REPLICA_NAS_` for
    /// `nas` (capitals, `-` as `_`).
    pub fn env_prefix(name: &str) -> String {
        format!(
            "CAIRN_REPLICA_{}_",
            name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// Checks the name and parses the URL.
    pub fn location(&self) -> Result<Location, String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "replica.name: {}: use ASCII letters, digits, '-' or '_'",
                crate::quoted(&self.name)
            ));
        }
        let bad = |why: &str| {
            format!(
                "replica.url: {} (replica {}): {why}",
                crate::quoted(&redacted(&self.url)),
                self.name
            )
        };
        let where_credentials_go = |what: &str| {
            let p = ReplicaSection::env_prefix(&self.name);
            format!(
                "replica.{what}: {} (replica {}): a user name or password is written in the URL (shown here as ***); credentials never go in cairn.toml or a URL: set {p}ACCESS_KEY_ID and {p}SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) in the environment of the commands instead",
                crate::quoted(&redacted(if what == "url" { &self.url } else { &self.endpoint })),
                self.name
            )
        };
        if user_info(&self.url).is_some() {
            return Err(where_credentials_go("url"));
        }
        if user_info(&self.endpoint).is_some() {
            return Err(where_credentials_go("endpoint"));
        }
        if let Some(path) = self.url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a file:// URL needs an absolute path (file:///srv/copy)",
                ));
            }
            return Ok(Location::Folder(path.into()));
        }
        if self.kind == ReplicaKind::Ocfl {
            return Err(bad(
                "kind = \"ocfl\" needs a folder (file:///srv/ocfl); an OCFL replica on S3 is not supported yet",
            ));
        }
        if let Some(rest) = self.url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket (s3://bucket/prefix)"));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|p| p == "." || p == "..") {
                return Err(bad("the prefix may not hold `.` or `..`"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        Err(bad("use file:///folder or s3://bucket/prefix"))
    }
}

/// Where the user information (`user:password@`) of a URL lies, if it has any: after
/// `SCHEME://`, up to and with the first `@`, when no `/` comes before that `@` or a `:`
/// does (an S3 secret may hold `/`). A prefix holding both `:` and `@` is taken for
/// credentials too: refused, never echoed.
fn user_info(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let at = rest.find('@')?;
    let before = &rest[..at];
    (!before.contains('/') || before.contains(':')).then_some(start..start + at + 1)
}

/// A URL as messages show it: any user information replaced by `***@`.
pub fn redacted(url: &str) -> Cow<'_, str> {
    match user_info(url) {
        Some(r) => Cow::Owned(format!("{}***@{}", &url[..r.start], &url[r.end..])),
        None => Cow::Borrowed(url),
    }
}

/// Checks every replica (names unique, URLs usable).
pub fn check(replicas: &[ReplicaSection]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for r in replicas {
        r.location()?;
        if !seen.insert(r.name.to_ascii_lowercase()) {
            return Err(format!(
                "replica.name: {}: two replicas have this name",
                crate::quoted(&r.name)
            ));
        }
    }
    Ok(())
}

/// Lays `CAIRN_REPLICA_<NAME>_URL`, `_ENDPOINT` and `_REGION` over the replicas named in
/// cairn.toml, and takes each one's credentials from `CAIRN_REPLICA_<NAME>_ACCESS_KEY_ID`
/// and `_SECRET_ACCESS_KEY`, else `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (kept
/// beside the section, never written or shown). Returns the variables that were used
/// for the URL, endpoint and region.
pub fn apply_env(replicas: &mut [ReplicaSection], env: &crate::config::env::Env) -> Vec<String> {
    let mut used = Vec::new();
    for r in replicas.iter_mut() {
        let prefix = ReplicaSection::env_prefix(&r.name);
        for (key, slot) in [
            ("URL", &mut r.url),
            ("ENDPOINT", &mut r.endpoint),
            ("REGION", &mut r.region),
        ] {
            let var = format!("{prefix}{key}");
            if let Some(v) = env.get(&var) {
                *slot = v.to_string();
                used.push(var);
            }
        }
        let var = |suffix: &str| {
            env.get(&format!("{prefix}{suffix}"))
                .or_else(|| env.get(&format!("AWS_{suffix}")))
        };
        r.credentials = match (var("ACCESS_KEY_ID"), var("SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Some(Credentials {
                access_key_id: id.to_string(),
                secret_access_key: secret.to_string(),
            }),
            _ => None,
        };
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, url: &str) -> ReplicaSection {
        ReplicaSection {
            name: name.into(),
            url: url.into(),
            endpoint: String::new(),
            region: String::new(),
            kind: ReplicaKind::Files,
            credentials: None,
        }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(
            r("nas", "file:///srv/copy").location().unwrap(),
            Location::Folder("/srv/copy".into())
        );
        assert_eq!(
            r("off", "s3://bucket/s21/").location().unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                prefix: "s21".into()
            }
        );
        assert!(r("off", "s3:///x").location().is_err());
        assert!(r("off", "file://rel").location().is_err());
        assert!(r("off", "http://x").location().is_err());
        assert!(r("a b", "file:///x").location().is_err());
        let mut ocfl = r("o", "s3://bucket/p");
        ocfl.kind = ReplicaKind::Ocfl;
        assert!(ocfl.location().is_err());
        ocfl.url = "file:///srv/ocfl".into();
        assert_eq!(
            ocfl.location().unwrap(),
            Location::Folder("/srv/ocfl".into())
        );
        assert!(check(&[r("a", "file:///x"), r("A", "file:///y")]).is_err());
    }

    #[test]
    fn credentials_in_urls_are_refused_and_never_shown() {
        for url in [
            "s3://AKIAEXAMPLE:wJalr/XUtnFEMI+K7MDENG@garage.example/bucket",
            "s3://AKIAEXAMPLE@bucket/prefix",
            "file://user:hunter2@host/srv/copy",
        ] {
            let e = r("off", url).location().unwrap_err();
            assert!(
                !e.contains("hunter2") && !e.contains("AKIAEXAMPLE") && !e.contains("wJalr"),
                "{e}"
            );
            assert!(e.contains("CAIRN_REPLICA_OFF_ACCESS_KEY_ID"), "{e}");
        }
        let mut ep = r("off", "s3://bucket/p");
        ep.endpoint = "https://admin:hunter2@127.0.0.1:3900".into();
        let e = ep.location().unwrap_err();
        assert!(
            e.contains("replica.endpoint") && !e.contains("hunter2"),
            "{e}"
        );
        assert_eq!(redacted("https://u:p@host/x"), "https://***@host/x");
        assert_eq!(redacted("s3://bucket/2024@dept"), "s3://bucket/2024@dept");
        assert!(r("off", "s3://bucket/2024@dept").location().is_ok());
    }

    #[test]
    fn env_overrides_by_name() {
        let mut rs = vec![r("off-site", "s3://a")];
        let env = crate::config::env::Env::from_pairs([
            ("CAIRN_REPLICA_OFF_SITE_URL", "s3://b/p"),
            ("CAIRN_REPLICA_OFF_SITE_ACCESS_KEY_ID", "own"),
            ("AWS_ACCESS_KEY_ID", "aws"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let used = apply_env(&mut rs, &env);
        assert_eq!(rs[0].url, "s3://b/p");
        assert_eq!(used, vec!["CAIRN_REPLICA_OFF_SITE_URL".to_string()]);
        let c = rs[0].credentials.as_ref().expect("credentials");
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("own", "secret")
        );
        assert!(!format!("{:?}", rs[0]).contains("secret"));
        apply_env(&mut rs, &crate::config::env::Env::empty());
        assert_eq!(rs[0].credentials, None);
    }
}
