//! The format policy of cairn.toml's `[formats]` section: which formats an ingest
//! accepts, warns about or refuses, each with the reason to print. Pure.

use serde::Deserialize;

use super::Identification;
use crate::techmd::TechMd;

/// cairn.toml's `[formats]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormatsSection {
    /// "on" or "off".
    pub identify: String,
    pub accept: Vec<String>,
    pub warn: Vec<String>,
    pub refuse: Vec<String>,
}

impl Default for FormatsSection {
    fn default() -> FormatsSection {
        FormatsSection {
            identify: "on".into(),
            accept: Vec::new(),
            warn: Vec::new(),
            refuse: Vec::new(),
        }
    }
}

/// What a policy rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Puid(String),
    Mime(String),
    Encrypted,
    Damaged,
    Unidentified,
}

/// One rule: a key and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub key: Key,
    pub text: String,
    pub reason: String,
}

fn is_puid(k: &str) -> bool {
    let rest = k.strip_prefix("fmt/").or_else(|| k.strip_prefix("x-fmt/"));
    rest.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Parses `KEY: reason` (the reason may be left out).
pub fn parse_rule(entry: &str) -> Result<Rule, String> {
    let (k, reason) = match entry.split_once(": ") {
        Some((k, r)) => (k.trim(), r.trim()),
        None => (entry.trim().trim_end_matches(':'), ""),
    };
    let key = match k {
        "encrypted" => Key::Encrypted,
        "damaged" => Key::Damaged,
        "unidentified" => Key::Unidentified,
        _ if is_puid(k) => Key::Puid(k.to_string()),
        _ if k.contains('/') && !k.contains(char::is_whitespace) => {
            Key::Mime(k.to_ascii_lowercase())
        }
        _ => {
            return Err(format!(
                "\"{entry}\": begin with a PUID (fmt/353), a MIME type (image/jpeg), encrypted, damaged or unidentified, then \": \" and the reason"
            ))
        }
    };
    Ok(Rule {
        key,
        text: k.to_string(),
        reason: reason.to_string(),
    })
}

impl FormatsSection {
    pub fn check(&self) -> Result<(), String> {
        match self.identify.as_str() {
            "on" | "off" => {}
            other => {
                return Err(format!(
                    "formats.identify: \"{other}\": use \"on\" or \"off\""
                ))
            }
        }
        for key in ["accept", "warn", "refuse"] {
            for e in self.list(key) {
                parse_rule(e).map_err(|m| format!("formats.{key}: {m}"))?;
            }
        }
        if self.identify == "off"
            && !(self.accept.is_empty() && self.warn.is_empty() && self.refuse.is_empty())
        {
            return Err(
                "formats.identify: \"off\", but formats.accept, warn or refuse set a policy that needs it"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn enabled(&self) -> bool {
        self.identify != "off"
    }

    pub fn list(&self, key: &str) -> &[String] {
        match key {
            "accept" => &self.accept,
            "warn" => &self.warn,
            _ => &self.refuse,
        }
    }

    /// The compiled policy (entries were checked when the configuration was read).
    pub fn policy(&self) -> Policy {
        let rules = |v: &[String]| v.iter().filter_map(|e| parse_rule(e).ok()).collect();
        Policy {
            accept: rules(&self.accept),
            warn: rules(&self.warn),
            refuse: rules(&self.refuse),
        }
    }
}

/// The policy, compiled.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub accept: Vec<Rule>,
    pub warn: Vec<Rule>,
    pub refuse: Vec<Rule>,
}

/// What the policy says about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Warn(String),
    Refuse(String),
}

fn applies(rule: &Rule, id: &Identification, t: Option<&TechMd>) -> bool {
    match &rule.key {
        Key::Puid(p) => id.puid.as_deref() == Some(p.as_str()),
        Key::Mime(m) => {
            let tm = t.map(|t| t.kind.as_str());
            id.mime.split(',').any(|x| x.trim().eq_ignore_ascii_case(m))
                || (m == "image/tiff" && tm == Some("tiff"))
        }
        Key::Encrypted => t.is_some_and(|t| t.encrypted == Some(true)),
        Key::Damaged => t.is_some_and(|t| !t.warnings.is_empty()),
        Key::Unidentified => id.puid.is_none(),
    }
}

fn describe(rule: &Rule) -> String {
    if rule.reason.is_empty() {
        rule.text.clone()
    } else {
        format!("{}: {}", rule.text, rule.reason)
    }
}

impl Policy {
    pub fn judge(&self, id: &Identification, t: Option<&TechMd>) -> Verdict {
        if let Some(r) = self.refuse.iter().find(|r| applies(r, id, t)) {
            return Verdict::Refuse(format!("formats.refuse says {}", describe(r)));
        }
        if let Some(r) = self.warn.iter().find(|r| applies(r, id, t)) {
            return Verdict::Warn(format!("formats.warn says {}", describe(r)));
        }
        if !self.accept.is_empty() && !self.accept.iter().any(|r| applies(r, id, t)) {
            return Verdict::Refuse(format!(
                "{} is not in formats.accept",
                id.puid.as_deref().unwrap_or("an unidentified format")
            ));
        }
        Verdict::Accept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pronom::Basis;

    fn id(puid: Option<&str>, mime: &str) -> Identification {
        Identification {
            puid: puid.map(str::to_string),
            name: String::new(),
            version: String::new(),
            mime: mime.into(),
            basis: Basis::Signature,
            detail: String::new(),
            alternatives: Vec::new(),
        }
    }

    #[test]
    fn rules_and_precedence() {
        assert!(parse_rule("fmt/43: lossy").is_ok());
        assert!(parse_rule("image/jpeg: lossy").is_ok());
        assert!(parse_rule("encrypted: no").is_ok());
        assert!(parse_rule("jpeg files: no").is_err());
        let s = FormatsSection {
            accept: vec!["fmt/353: TIFF masters".into(), "fmt/43".into()],
            warn: vec!["fmt/43: lossy JPEG as a master".into()],
            refuse: vec!["encrypted: cannot be migrated".into()],
            ..FormatsSection::default()
        };
        s.check().unwrap();
        let p = s.policy();
        assert_eq!(
            p.judge(&id(Some("fmt/353"), "image/tiff"), None),
            Verdict::Accept
        );
        assert!(
            matches!(p.judge(&id(Some("fmt/43"), "image/jpeg"), None), Verdict::Warn(w) if w.contains("lossy JPEG"))
        );
        assert!(
            matches!(p.judge(&id(Some("fmt/18"), "application/pdf"), None), Verdict::Refuse(r) if r.contains("not in formats.accept"))
        );
        let enc = TechMd {
            encrypted: Some(true),
            ..TechMd::default()
        };
        assert!(
            matches!(p.judge(&id(Some("fmt/353"), ""), Some(&enc)), Verdict::Refuse(r) if r.contains("cannot be migrated"))
        );
    }
}
