//! The digitisation profile of cairn.toml's `[qc]` section: the rules a master's
//! measures (resolution, bit depth, colour, ICC profile, compression, dimensions) and
//! its validation are judged by, each with its outcome (`warn` or `refuse`), and the
//! presets for the published levels (FADGI, Metamorfoze). Pure.
//!
//! INTERFACE STUB: the section, presets and rules are filled in next; the types and
//! functions below are the interface the rest of Cairn codes against.

use serde::{Deserialize, Serialize};

use super::Validation;
use crate::techmd::TechMd;

/// cairn.toml's `[qc]`. Empty (the default): no profile, nothing judged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QcSection {
    /// The profile applied at ingest and revise: a preset's name or one of `profiles`.
    pub profile: String,
}

impl QcSection {
    /// Checks the section (called when cairn.toml is read).
    pub fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// The profile named `name`, or else the section's own (`None`: no profile set).
    pub fn profile(&self, name: Option<&str>) -> Result<Option<Profile>, String> {
        let name = name.unwrap_or(self.profile.as_str());
        if name.is_empty() {
            return Ok(None);
        }
        Ok(Some(Profile {
            name: name.to_string(),
        }))
    }
}

/// A compiled profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
}

/// A rule's or a file's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

/// One rule's result for one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// The rule's key in `[qc]` (`min_ppi`, `bit_depth`, ...).
    pub rule: String,
    pub outcome: Outcome,
    /// What was required and what was measured.
    pub message: String,
}

/// What a profile says of one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub profile: String,
    /// The worst of the rules' outcomes.
    pub outcome: Outcome,
    /// Every rule that applied, passed or not.
    pub results: Vec<RuleResult>,
}

impl Profile {
    /// Judges one file by its measures and validation (`None`: a format not measured or
    /// not validated).
    pub fn judge(&self, _t: Option<&TechMd>, _v: Option<&Validation>) -> Judgement {
        Judgement {
            profile: self.name.clone(),
            outcome: Outcome::Pass,
            results: Vec::new(),
        }
    }
}
