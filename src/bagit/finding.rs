//! Findings: what validation found wrong (problems) or dubious (warnings) in a bag.
//!
//! Problems found in a bag are data, not errors: `Error` is only for failing to run.
//! Kinds are stable, kebab-case codes that scripts may match on.

use serde::Serialize;

/// A stable code for a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
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

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::BagitTxtMissing => "bagit-txt-missing",
            Kind::BagitTxtInvalid => "bagit-txt-invalid",
            Kind::DataDirMissing => "data-dir-missing",
            Kind::ManifestMissing => "manifest-missing",
            Kind::ManifestMalformed => "manifest-malformed",
            Kind::TagFileEncoding => "tag-file-encoding",
            Kind::BagInfoMalformed => "bag-info-malformed",
            Kind::OxumMissing => "oxum-missing",
            Kind::OxumMalformed => "oxum-malformed",
            Kind::OxumMismatch => "oxum-mismatch",
            Kind::PathEscapesBag => "path-escapes-bag",
            Kind::PathInvalid => "path-invalid",
            Kind::PathOutsidePayload => "path-outside-payload",
            Kind::PayloadInTagManifest => "payload-in-tag-manifest",
            Kind::TagManifestIncomplete => "tag-manifest-incomplete",
            Kind::TagManifestListsTagManifest => "tag-manifest-lists-tag-manifest",
            Kind::DuplicateEntry => "duplicate-entry",
            Kind::PayloadMissing => "payload-missing",
            Kind::PayloadUnlisted => "payload-unlisted",
            Kind::TagMissing => "tag-missing",
            Kind::DigestMismatch => "digest-mismatch",
            Kind::Symlink => "symlink",
            Kind::SpecialFile => "special-file",
            Kind::NameNotUtf8 => "name-not-utf8",
            Kind::Unreadable => "unreadable",
            Kind::FetchMalformed => "fetch-malformed",
            Kind::FetchUnlisted => "fetch-unlisted",
            Kind::NotFetched => "not-fetched",
            Kind::AlgorithmUnsupported => "algorithm-unsupported",
            Kind::NormalizationCollision => "normalization-collision",
            Kind::NormalizationMismatch => "normalization-mismatch",
            Kind::CaseCollision => "case-collision",
            Kind::Md5sumMarker => "md5sum-marker",
            Kind::DotSlashPrefix => "dot-slash-prefix",
            Kind::BlankLine => "blank-line",
            Kind::DecodedPath => "decoded-path",
            Kind::BaggingDate => "bagging-date",
            Kind::ZipPathEscapes => "zip-path-escapes",
            Kind::ZipSymlink => "zip-symlink",
            Kind::ZipDuplicateEntry => "zip-duplicate-entry",
            Kind::ZipNameCollision => "zip-name-collision",
            Kind::ZipNameNotUtf8 => "zip-name-not-utf8",
            Kind::ZipBomb => "zip-bomb",
            Kind::ZipEncrypted => "zip-encrypted",
            Kind::ZipCorrupt => "zip-corrupt",
            Kind::ZipCrcMismatch => "zip-crc-mismatch",
            Kind::ZipLayout => "zip-layout",
            Kind::ZipUnsupported => "zip-unsupported",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One finding: where (a bag-relative path, or a tag file and line), what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: String,
    pub kind: Kind,
    pub detail: String,
    /// For digest mismatches: `algorithm:hex` expected and found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

impl Finding {
    pub fn new(path: impl Into<String>, kind: Kind, detail: impl Into<String>) -> Finding {
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
    pub fn problem(&mut self, path: impl Into<String>, kind: Kind, detail: impl Into<String>) {
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
            Kind::DigestMismatch,
            format!("{alg} checksum differs from {manifest}: expected {expected}, found {actual}"),
        );
        f.expected = Some(format!("{alg}:{expected}"));
        f.actual = Some(format!("{alg}:{actual}"));
        self.problems.push(f);
    }

    pub fn warn(&mut self, path: impl Into<String>, kind: Kind, detail: impl Into<String>) {
        self.warnings.push(Finding::new(path, kind, detail));
    }

    /// A problem in 1.0 bags, a warning in older ones (rules that 1.0 made strict).
    pub fn strict(
        &mut self,
        strict: bool,
        path: impl Into<String>,
        kind: Kind,
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
    pub kind: Kind,
    pub detail: String,
    /// Where to report it, when not at the bag path (a zip entry's own name).
    pub path: Option<String>,
}

impl SourceProblem {
    pub fn into_io(kind: Kind, detail: impl Into<String>) -> std::io::Error {
        SourceProblem::at(None, kind, detail)
    }

    pub fn at(path: Option<String>, kind: Kind, detail: impl Into<String>) -> std::io::Error {
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
