//! Findings: what BagIt validation found wrong (problems) or dubious (warnings) in a
//! bag, at the level of RFC 8493 (`bag validate` reports them as they are).
//!
//! Problems found in data are values, not errors: `Error` is only for failing to run.
//! The other kinds of problem have their own types, one each: a bag checked against its
//! register entry is reported as `ops::bag_check::FixityFinding` (the archivist's
//! classes: changed, missing, new, moved…, made from these findings); a Dublin Core
//! record breaking Cairn's rules as `metadata::RecordProblem`. Kinds are stable,
//! kebab-case codes that scripts may match on.

use serde::Serialize;

/// A finding's stable code (`FindingKind::code`, as `--json` writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    BagitTxtMissing,
    BagitTxtInvalid,
    DataDirMissing,
    ManifestMissing,
    ManifestMalformed,
    TagFileEncoding,
    BagInfoMalformed,
    OxumMissing,
    OxumMalformed,
    OxumMismatch,
    PathEscapesBag,
    PathInvalid,
    PathOutsidePayload,
    PayloadInTagManifest,
    TagManifestIncomplete,
    TagManifestListsTagManifest,
    DuplicateEntry,
    PayloadMissing,
    PayloadUnlisted,
    TagMissing,
    DigestMismatch,
    Symlink,
    SpecialFile,
    NameNotUtf8,
    Unreadable,
    FetchMalformed,
    FetchUnlisted,
    NotFetched,
    AlgorithmUnsupported,
    NormalizationCollision,
    NormalizationMismatch,
    CaseCollision,
    Md5sumMarker,
    DotSlashPrefix,
    BlankLine,
    DecodedPath,
    BaggingDate,
    ZipPathEscapes,
    ZipSymlink,
    ZipDuplicateEntry,
    ZipNameCollision,
    ZipNameNotUtf8,
    ZipBomb,
    ZipEncrypted,
    ZipCorrupt,
    ZipCrcMismatch,
    ZipLayout,
    ZipUnsupported,
}

impl FindingKind {
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::BagitTxtMissing => "bagit-txt-missing",
            FindingKind::BagitTxtInvalid => "bagit-txt-invalid",
            FindingKind::DataDirMissing => "data-dir-missing",
            FindingKind::ManifestMissing => "manifest-missing",
            FindingKind::ManifestMalformed => "manifest-malformed",
            FindingKind::TagFileEncoding => "tag-file-encoding",
            FindingKind::BagInfoMalformed => "bag-info-malformed",
            FindingKind::OxumMissing => "oxum-missing",
            FindingKind::OxumMalformed => "oxum-malformed",
            FindingKind::OxumMismatch => "oxum-mismatch",
            FindingKind::PathEscapesBag => "path-escapes-bag",
            FindingKind::PathInvalid => "path-invalid",
            FindingKind::PathOutsidePayload => "path-outside-payload",
            FindingKind::PayloadInTagManifest => "payload-in-tag-manifest",
            FindingKind::TagManifestIncomplete => "tag-manifest-incomplete",
            FindingKind::TagManifestListsTagManifest => "tag-manifest-lists-tag-manifest",
            FindingKind::DuplicateEntry => "duplicate-entry",
            FindingKind::PayloadMissing => "payload-missing",
            FindingKind::PayloadUnlisted => "payload-unlisted",
            FindingKind::TagMissing => "tag-missing",
            FindingKind::DigestMismatch => "digest-mismatch",
            FindingKind::Symlink => "symlink",
            FindingKind::SpecialFile => "special-file",
            FindingKind::NameNotUtf8 => "name-not-utf8",
            FindingKind::Unreadable => "unreadable",
            FindingKind::FetchMalformed => "fetch-malformed",
            FindingKind::FetchUnlisted => "fetch-unlisted",
            FindingKind::NotFetched => "not-fetched",
            FindingKind::AlgorithmUnsupported => "algorithm-unsupported",
            FindingKind::NormalizationCollision => "normalization-collision",
            FindingKind::NormalizationMismatch => "normalization-mismatch",
            FindingKind::CaseCollision => "case-collision",
            FindingKind::Md5sumMarker => "md5sum-marker",
            FindingKind::DotSlashPrefix => "dot-slash-prefix",
            FindingKind::BlankLine => "blank-line",
            FindingKind::DecodedPath => "decoded-path",
            FindingKind::BaggingDate => "bagging-date",
            FindingKind::ZipPathEscapes => "zip-path-escapes",
            FindingKind::ZipSymlink => "zip-symlink",
            FindingKind::ZipDuplicateEntry => "zip-duplicate-entry",
            FindingKind::ZipNameCollision => "zip-name-collision",
            FindingKind::ZipNameNotUtf8 => "zip-name-not-utf8",
            FindingKind::ZipBomb => "zip-bomb",
            FindingKind::ZipEncrypted => "zip-encrypted",
            FindingKind::ZipCorrupt => "zip-corrupt",
            FindingKind::ZipCrcMismatch => "zip-crc-mismatch",
            FindingKind::ZipLayout => "zip-layout",
            FindingKind::ZipUnsupported => "zip-unsupported",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One finding: where (a bag-relative path, or a tag file and line), what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: String,
    pub kind: FindingKind,
    pub detail: String,
    /// For digest mismatches: `algorithm:hex` expected and found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

impl Finding {
    pub fn new(path: impl Into<String>, kind: FindingKind, detail: impl Into<String>) -> Finding {
        Finding {
            path: path.into(),
            kind,
            detail: detail.into(),
            expected: None,
            actual: None,
        }
    }
}

/// Problems and warnings gathered while checking a bag.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub problems: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Findings {
    pub fn problem(
        &mut self,
        path: impl Into<String>,
        kind: FindingKind,
        detail: impl Into<String>,
    ) {
        self.problems.push(Finding::new(path, kind, detail));
    }

    /// A checksum that differs.
    pub fn digest_mismatch(
        &mut self,
        path: &str,
        alg: &str,
        expected: String,
        actual: String,
        manifest: &str,
    ) {
        let mut f = Finding::new(
            path,
            FindingKind::DigestMismatch,
            format!("{alg} checksum differs from {manifest}: expected {expected}, found {actual}"),
        );
        f.expected = Some(format!("{alg}:{expected}"));
        f.actual = Some(format!("{alg}:{actual}"));
        self.problems.push(f);
    }

    pub fn warn(&mut self, path: impl Into<String>, kind: FindingKind, detail: impl Into<String>) {
        self.warnings.push(Finding::new(path, kind, detail));
    }

    /// A problem in 1.0 bags, a warning in older ones (rules that 1.0 made strict).
    pub fn strict(
        &mut self,
        strict: bool,
        path: impl Into<String>,
        kind: FindingKind,
        detail: impl Into<String>,
    ) {
        if strict {
            self.problem(path, kind, detail)
        } else {
            self.warn(path, kind, detail)
        }
    }
}

/// A read failure that the source itself can explain (a zip entry that inflates past its
/// declared size, a bad CRC), carried inside an `io::Error` so that validation reports
/// it under its own kind instead of as a plain unreadable file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SourceProblem {
    pub kind: FindingKind,
    pub detail: String,
    /// Where to report it, when not at the bag path (a zip entry's own name).
    pub path: Option<String>,
}

impl SourceProblem {
    pub fn into_io(kind: FindingKind, detail: impl Into<String>) -> std::io::Error {
        SourceProblem::at(None, kind, detail)
    }

    pub fn at(
        path: Option<String>,
        kind: FindingKind,
        detail: impl Into<String>,
    ) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            SourceProblem {
                kind,
                detail: detail.into(),
                path,
            },
        )
    }
}
