//! `cairn qc`: a batch of scans (a vendor's delivery, before intake) checked file by
//! file: identified (PRONOM), measured and validated ([`crate::qc`]), and judged by a
//! digitisation profile ([`crate::qc::profile`]). Without a profile, a file fails when
//! it is not well-formed or not valid. Findings are data: the report says what each
//! file is and why it passed or failed; only a path that cannot be read is an error.

use std::path::PathBuf;

use serde::Serialize;

use crate::ops::formats::{files_under, identify_and_validate};
use crate::pronom::Identifier;
use crate::qc::profile::{Judgement, Outcome, Profile};
use crate::qc::Validation;
use crate::techmd::TechMd;

/// One file's check.
#[derive(Debug, Clone, Serialize)]
pub struct QcFile {
    pub path: PathBuf,
    pub size: u64,
    pub puid: Option<String>,
    /// The format's name (empty when none was identified).
    pub format: String,
    /// tiff, jpeg, jp2, png or pdf: the validator that read it (`None`: no validator).
    pub kind: Option<String>,
    /// "valid", "not valid", "not well-formed" or "not validated".
    pub status: String,
    pub validation: Option<Validation>,
    pub techmd: Option<TechMd>,
    pub judgement: Option<Judgement>,
    pub outcome: Outcome,
}

/// The counts of a run; `files` = valid + not_valid + not_well_formed + not_validated
/// = pass + warn + fail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub files: usize,
    pub valid: usize,
    pub not_valid: usize,
    pub not_well_formed: usize,
    pub not_validated: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

/// `cairn qc`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct QcReport {
    /// The profile's name (`None`: validation only).
    pub profile: Option<String>,
    pub files: Vec<QcFile>,
    /// Paths that could not be read.
    pub errors: Vec<String>,
    pub totals: Totals,
    /// No file failed.
    pub passed: bool,
}

/// Checks one file.
pub fn check_file(
    id: &Identifier,
    profile: Option<&Profile>,
    path: &std::path::Path,
) -> Result<QcFile, std::io::Error> {
    let f = identify_and_validate(id, path, true)?;
    let status = f
        .validation
        .as_ref()
        .map_or("not validated", |v| v.status())
        .to_string();
    let judgement = profile.map(|p| p.judge(f.techmd.as_ref(), f.validation.as_ref()));
    let outcome = match (&judgement, &f.validation) {
        (Some(j), _) => j.outcome,
        (None, Some(v)) if !v.valid() => Outcome::Fail,
        (None, _) => Outcome::Pass,
    };
    Ok(QcFile {
        kind: f.validation.as_ref().map(|v| v.kind.clone()),
        path: f.path,
        size: f.size,
        puid: f.format.puid,
        format: f.format.name,
        status,
        validation: f.validation,
        techmd: f.techmd,
        judgement,
        outcome,
    })
}

/// Checks every file the paths name (folders walked in name order, as `cairn
/// identify` walks them).
pub fn run(id: &Identifier, profile: Option<&Profile>, paths: &[PathBuf]) -> QcReport {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        for f in files_under(p, &mut errors) {
            match check_file(id, profile, &f) {
                Ok(r) => files.push(r),
                Err(e) => errors.push(format!("{}: {e}", f.display())),
            }
        }
    }
    let mut t = Totals {
        files: files.len(),
        ..Totals::default()
    };
    for f in &files {
        match f.status.as_str() {
            "valid" => t.valid += 1,
            "not valid" => t.not_valid += 1,
            "not well-formed" => t.not_well_formed += 1,
            _ => t.not_validated += 1,
        }
        match f.outcome {
            Outcome::Pass => t.pass += 1,
            Outcome::Warn => t.warn += 1,
            Outcome::Fail => t.fail += 1,
        }
    }
    QcReport {
        profile: profile.map(|p| p.name.clone()),
        passed: t.fail == 0,
        files,
        errors,
        totals: t,
    }
}
