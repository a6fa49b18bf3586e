//! The `[serve]` section of cairn.toml: what `cairn serve` says about the repository in
//! OAI-PMH, and how long its list pages are. Pure. (Here, under config, so that the
//! configuration names no layer above it; serve reads it from here.)

use serde::Deserialize;

/// `[serve]` in cairn.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSection {
    /// OAI-PMH `repositoryName`.
    pub repository_name: String,
    /// The `{repository-identifier}` of `oai:{repository-identifier}:{ID}`.
    pub repository_identifier: String,
    /// OAI-PMH `adminEmail`.
    pub admin_email: String,
    /// Records (or headers) per OAI-PMH list page.
    pub page_size: u32,
    /// Seconds from a connection's opening, or its last response's end, to the end of
    /// the next request's headers; then it is closed.
    pub header_timeout_secs: u32,
    /// Connections open at once from one address (kept below the file limit's share).
    pub max_connections_per_address: u32,
    /// Whether restricted items' pages show their files' digests.
    pub restricted_digests: bool,
}

impl Default for ServeSection {
    fn default() -> ServeSection {
        ServeSection {
            repository_name: "Cairn archive".into(),
            repository_identifier: "cairn.invalid".into(),
            admin_email: "archivist@cairn.invalid".into(),
            page_size: 100,
            header_timeout_secs: 10,
            max_connections_per_address: 64,
            restricted_digests: false,
        }
    }
}

/// The largest page: a harvester asking for one list never makes the server build a
/// response of more than this many records.
pub const MAX_PAGE_SIZE: u32 = 1000;

impl ServeSection {
    /// Checks every value; the error names the key first (`serve.key: …`).
    pub fn check(&self) -> Result<(), String> {
        if !is_repository_identifier(&self.repository_identifier) {
            return Err(format!(
                "serve.repository_identifier: \"{}\": use a domain name: dot-separated labels of ASCII letters, digits and '-', each starting with a letter (for example archive.example.org)",
                self.repository_identifier
            ));
        }
        if !is_email(&self.admin_email) {
            return Err(format!(
                "serve.admin_email: \"{}\": not an e-mail address (name@domain.tld)",
                self.admin_email
            ));
        }
        if self.repository_name.trim().is_empty() {
            return Err("serve.repository_name: must not be empty".into());
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(format!(
                "serve.page_size: must be between 1 and {MAX_PAGE_SIZE}"
            ));
        }
        if self.header_timeout_secs == 0 || self.header_timeout_secs > 3600 {
            return Err("serve.header_timeout_secs: must be between 1 and 3600".into());
        }
        if self.max_connections_per_address == 0 {
            return Err("serve.max_connections_per_address: must be at least 1".into());
        }
        Ok(())
    }

    /// A value as cairn.toml spells it (for `cairn config`).
    pub fn value_of(&self, key: &str) -> String {
        match key {
            "repository_name" => crate::quoted(&self.repository_name),
            "repository_identifier" => crate::quoted(&self.repository_identifier),
            "admin_email" => crate::quoted(&self.admin_email),
            "page_size" => self.page_size.to_string(),
            "header_timeout_secs" => self.header_timeout_secs.to_string(),
            "max_connections_per_address" => self.max_connections_per_address.to_string(),
            "restricted_digests" => self.restricted_digests.to_string(),
            _ => String::new(),
        }
    }
}

/// The OAI identifier scheme's `repositoryIdentifier`:
/// `[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+`.
pub fn is_repository_identifier(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            l.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The OAI-PMH schema's `emailType`: `\S+@(\S+\.)+\S+`.
fn is_email(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain
                    .rsplit_once('.')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_identifiers() {
        for ok in ["cairn.invalid", "archive.example.org", "a-1.b"] {
            assert!(is_repository_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "1a.b",
            "a..b",
            "a.b.",
            "a_b.c",
            "a.b/c",
            "ទួល.org",
        ] {
            assert!(!is_repository_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(is_email("a@b.c"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.d"));
        assert!(!is_email("@b.c"));
    }

    #[test]
    fn cairn_toml_and_environment() {
        use crate::config::Config;
        let path = std::path::Path::new("cairn.toml");
        let c = Config::parse(
            "[serve]\nrepository_identifier = \"archive.example.org\"\npage_size = 50\n",
            path,
        )
        .unwrap();
        assert_eq!(c.serve.repository_identifier, "archive.example.org");
        assert_eq!(c.serve.page_size, 50);
        assert_eq!(c.serve.repository_name, "Cairn archive");
        let e = Config::parse("[serve]\nrepository_identifier = \"not a domain\"\n", path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("serve.repository_identifier") && e.contains(":2"),
            "{e}"
        );
        let e = Config::parse("[serve]\npage_size = 0\n", path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("serve.page_size"), "{e}");
        let env = crate::config::Env::from_pairs([("CAIRN_SERVE_PAGE_SIZE", "25")]);
        let c = Config::load("", path, &env).unwrap().0;
        assert_eq!(c.serve.page_size, 25);
        let env = crate::config::Env::from_pairs([("CAIRN_SERVE_ADMIN_EMAIL", "nobody")]);
        let e = Config::load("", path, &env).unwrap_err().to_string();
        assert!(e.contains("CAIRN_SERVE_ADMIN_EMAIL"), "{e}");
    }
}
