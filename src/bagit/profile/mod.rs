//! BagIt Profiles (bagit-profiles 1.4.0): what a consortium asks of the bags it
//! accepts, read from its JSON, and the judgement of a bag's facts against it.
//!
//! Pure: [`parse`] reads profile text (the published format, or the DART format in
//! which APTrust publishes its own), [`judge`] takes [`BagFacts`] gathered by the
//! caller and returns findings as data, each with a stable code. Where the
//! specification and the reference validator (bagit-profile on PyPI) differ, this
//! module follows the validator, and docs/profiles.md lists each difference.

mod glob;
mod judge;
mod parse;
mod shipped;
#[cfg(test)]
mod tests;

pub use judge::{judge, BagFacts, ProfileFinding, ProfileKind};
pub use parse::{parse, ProfileError};
pub use shipped::{shipped, Shipped, SHIPPED};

use serde::{Deserialize, Serialize};

/// cairn.toml's `[profiles]`: `export`, the BagIt Profile every `cairn export`
/// applies (a shipped profile's name, or a .json file, relative to the archive root);
/// empty (the default): exports are the archived bags as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilesSection {
    pub export: String,
}

impl ProfilesSection {
    /// Checks the section when cairn.toml is read: `export` names a shipped profile
    /// or a .json file (read when an export runs).
    pub fn check(&self) -> Result<(), String> {
        let name = self.export.trim();
        if name.is_empty() || shipped(name).is_some() || name.ends_with(".json") {
            return Ok(());
        }
        let known: Vec<&str> = SHIPPED.iter().map(|s| s.name).collect();
        let mut msg = format!("profiles.export: unknown profile {}", crate::quoted(name));
        if let Some(n) = crate::vocab::nearest_of(name, &known) {
            msg.push_str(&format!(" (did you mean {}?)", crate::quoted(n)));
        }
        msg.push_str(&format!(
            "; give a shipped profile ({}) or a .json file",
            known.join(", ")
        ));
        Err(msg)
    }
}

/// `Serialization`: whether the bag must, may or must not be one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Serialization {
    Forbidden,
    Required,
    Optional,
}

/// One tag the profile speaks about: in bag-info.txt (the published format's
/// `Bag-Info`) or in another tag file (DART's `tags`, e.g. aptrust-info.txt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagRule {
    /// The tag file, bag-relative (`bag-info.txt` for `Bag-Info`).
    pub file: String,
    pub name: String,
    pub required: bool,
    /// Acceptable values; empty: any.
    pub values: Vec<String>,
    pub repeatable: bool,
    /// A required tag whose value may be empty (DART's `emptyOk`); the published
    /// format says nothing, and the validator accepts an empty value.
    pub empty_ok: bool,
    pub description: Option<String>,
}

/// A parsed profile, with the specification's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// `BagIt-Profile-Info.BagIt-Profile-Identifier`: the URI a conformant bag names
    /// in its own bag-info.txt.
    pub identifier: String,
    /// `BagIt-Profile-Version` (1.1.0 when absent, as the specification says).
    pub spec_version: (u32, u32, u32),
    pub source_organization: String,
    pub external_description: Option<String>,
    pub version: Option<String>,
    pub tags: Vec<TagRule>,
    pub manifests_required: Vec<String>,
    pub manifests_allowed: Option<Vec<String>>,
    pub tag_manifests_required: Vec<String>,
    pub tag_manifests_allowed: Option<Vec<String>>,
    pub tag_files_required: Vec<String>,
    pub tag_files_allowed: Option<Vec<String>>,
    pub allow_fetch: bool,
    pub fetch_required: bool,
    pub data_empty: bool,
    pub serialization: Serialization,
    pub accept_serialization: Vec<String>,
    /// A tar must hold one folder named as the file without `.tar` (DART's
    /// `tarDirMustMatchName`, APTrust's).
    pub tar_dir_must_match_name: bool,
    pub accept_bagit_version: Vec<String>,
    pub payload_files_required: Vec<String>,
    pub payload_files_allowed: Option<Vec<String>>,
    /// Read from the DART format (APTrust's), not the published one.
    pub dart: bool,
}

impl Profile {
    /// The tag files other than bag-info.txt whose tags the profile constrains: the
    /// caller reads these (and only these) into [`BagFacts::tag_files`].
    pub fn tag_files_read(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for t in &self.tags {
            if t.file != "bag-info.txt" && !out.contains(&t.file.as_str()) {
                out.push(&t.file);
            }
        }
        out
    }

    /// Whether a feature introduced in `since` of the specification applies: the
    /// reference validator skips `Tag-Files-Allowed` (1.2.0) and the `*-Allowed`
    /// manifest lists (1.3.0) for a profile that declares an older version.
    pub(crate) fn applies(&self, since: (u32, u32, u32)) -> bool {
        self.dart || self.spec_version >= since
    }
}
