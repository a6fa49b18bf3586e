//! One manifest line's checks, in the order they come: it lists a file of its
//! manifest's part of the bag, it is the first entry for its name, it names a file that
//! is present (RFC 8493 §2.1.3, §2.2.1, §6.1.1); and the findings for lines that do not
//! parse. The manifest stages (`manifests.rs`) run them for every line.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::super::finding::{FindingKind, Findings};
use super::super::manifest::{parse_line, LineIssue, ManifestEntry, ManifestKind};
use super::super::tags::{lines, Version};
use super::index::{nfc, spelled, DiskIndex, Idx};
use crate::digest::Algorithm;

/// Where a manifest first listed a name (NFC form): its line number (0: not listed)
/// and the offset of that line in the manifest's text, where it is read again when
/// the name comes back (a duplicate), instead of keeping every entry.
#[derive(Clone, Copy, Default)]
pub(super) struct Seen {
    pub(super) line: u32,
    pub(super) offset: usize,
}

/// One manifest file: its place in the list of manifests, kind, name and algorithm.
#[derive(Clone, Copy)]
pub(super) struct Manifest<'a> {
    pub(super) idx: usize,
    pub(super) kind: ManifestKind,
    pub(super) file: &'a str,
    pub(super) alg: Option<Algorithm>,
}

/// A manifest as it is read: what its entries are checked against.
pub(super) struct Reading<'a> {
    pub(super) m: Manifest<'a>,
    pub(super) text: &'a str,
    pub(super) version: Version,
    pub(super) strict: bool,
    /// Its place among the payload manifests, when it is one.
    pub(super) payload_slot: Option<usize>,
    /// The algorithm whose expected digests are kept (a full validation only).
    pub(super) expecting: Option<Algorithm>,
    /// Every path it lists as spelled, when one is not in NFC (else empty).
    pub(super) exact: &'a HashSet<String>,
    /// How many spellings each NFC form has in it.
    pub(super) spellings: &'a HashMap<Cow<'a, str>, usize>,
}

/// A payload manifest lists payload files only, a tag manifest tag files only, and no
/// tag manifest (RFC 8493 §2.1.3, §2.2.1); false (with a finding) when this entry
/// breaks that.
pub(super) fn in_its_part(f: &mut Findings, r: &Reading, e: &ManifestEntry) -> bool {
    let loc = || format!("{}:{}", r.m.file, e.line);
    match r.m.kind {
        ManifestKind::Payload if !e.path.is_payload() => {
            f.problem(
                loc(),
                FindingKind::PathOutsidePayload,
                format!(
                    "{} is not under data/; a payload manifest lists payload files only",
                    e.path
                ),
            );
            false
        }
        ManifestKind::Tag if e.path.is_payload() => {
            f.problem(
                loc(),
                FindingKind::PayloadInTagManifest,
                format!(
                    "{} is a payload file; tag manifests list tag files only",
                    e.path
                ),
            );
            false
        }
        ManifestKind::Tag
            if !e.path.as_str().contains('/')
                && matches!(
                    ManifestKind::from_file_name(e.path.as_str()),
                    Some((ManifestKind::Tag, _))
                ) =>
        {
            f.warn(
                loc(),
                FindingKind::TagManifestListsTagManifest,
                format!(
                    "{} is a tag manifest; tag manifests must not list tag manifests",
                    e.path
                ),
            );
            false
        }
        _ => true,
    }
}

/// Where this manifest first named the NFC form `key` (line 0: not before), noting
/// `here` when this is the first time.
pub(super) fn first_named(
    candidates: &[Idx],
    seen_listed: &mut [Seen],
    seen_unlisted: &mut HashMap<String, Seen>,
    key: &str,
    here: Seen,
) -> Seen {
    match candidates.first() {
        Some(&k) => {
            let slot = &mut seen_listed[k as usize];
            let was = *slot;
            if was.line == 0 {
                *slot = here;
            }
            was
        }
        None => match seen_unlisted.get(key) {
            Some(was) => *was,
            None => {
                seen_unlisted.insert(key.to_string(), here);
                Seen::default()
            }
        },
    }
}

/// A second entry for a name (RFC 8493 §2.1.3: one line per file): the same name
/// again is a duplicate, and the entry is skipped (true); another spelling of the
/// same NFC form is a normalisation collision, warned about, and the entry is read.
pub(super) fn repeated(f: &mut Findings, r: &Reading, e: &ManifestEntry, earlier: Seen) -> bool {
    // The entry that first named this form, read again from its line.
    let first = (earlier.line != 0)
        .then(|| {
            let (_, l) = lines(&r.text[earlier.offset..]).next()?;
            parse_line(
                l,
                earlier.line as usize,
                r.m.alg,
                r.version,
                &mut Vec::new(),
            )
        })
        .flatten();
    let Some(first) = &first else {
        return false;
    };
    let loc = || format!("{}:{}", r.m.file, e.line);
    if first.path == e.path {
        let same = first.digest == e.digest;
        let detail = format!(
            "{} is listed twice (lines {} and {}){}",
            e.path,
            first.line,
            e.line,
            if same {
                " with the same checksum"
            } else {
                " with different checksums"
            }
        );
        if r.strict || !same {
            f.problem(loc(), FindingKind::DuplicateEntry, detail);
        } else {
            f.warn(loc(), FindingKind::DuplicateEntry, detail);
        }
        return true;
    }
    f.warn(
        loc(),
        FindingKind::NormalizationCollision,
        format!(
            "{} (line {}) and {} (line {}) differ only in Unicode normalisation",
            spelled(first.path.as_str()),
            first.line,
            spelled(e.path.as_str()),
            e.line
        ),
    );
    false
}

/// The listed file an entry names (RFC 8493 §6.1.1): the exact name first; then the
/// same name in another normalisation form (one this manifest does not list exactly,
/// so two files that differ only in normalisation each keep their own entry); then,
/// for old bags only, the percent-decoded reading (warned about).
pub(super) fn resolve(
    f: &mut Findings,
    index: &DiskIndex,
    r: &Reading,
    e: &ManifestEntry,
    key: &str,
    candidates: &[Idx],
) -> Option<Idx> {
    let found = candidates
        .iter()
        .copied()
        .find(|&c| index.name(c) == e.path.as_str())
        .or_else(|| {
            candidates
                .iter()
                .copied()
                .find(|&c| !r.exact.contains(index.name(c)))
                // One file listed under several spellings (warned about).
                .or(candidates
                    .first()
                    .copied()
                    .filter(|_| r.spellings.get(key) > Some(&1)))
        });
    if found.is_some() {
        return found;
    }
    let alt = e.decoded_alternative.as_ref()?;
    let &actual = index.candidates(&nfc(alt.as_str())).first()?;
    f.warn(
        format!("{}:{}", r.m.file, e.line),
        FindingKind::DecodedPath,
        format!(
            "{} names no file; its percent-decoded form {} does (BagIt {} paths are not encoded; the bag was made by a tool that encoded them anyway)",
            crate::quoted(e.path.as_str()),
            crate::quoted(alt.as_str()),
            r.version
        ),
    );
    Some(actual)
}

pub(super) fn report_line_issue(file: &str, issue: LineIssue, f: &mut Findings) {
    match issue {
        LineIssue::Malformed { line, detail } => {
            f.problem(format!("{file}:{line}"), FindingKind::ManifestMalformed, detail)
        }
        LineIssue::BadPath { line, text, problem } => {
            let kind = if problem.escapes() { FindingKind::PathEscapesBag } else { FindingKind::PathInvalid };
            f.problem(
                format!("{file}:{line}"),
                kind,
                format!("{}: {problem}; the path was not opened", crate::quoted(&text)),
            )
        }
        LineIssue::Md5sumMarker { line } => f.warn(
            format!("{file}:{line}"),
            FindingKind::Md5sumMarker,
            "md5sum binary-mode marker ` *` before the path; accepted, but the bag fails strict validation",
        ),
        LineIssue::DotSlash { line } => f.warn(
            format!("{file}:{line}"),
            FindingKind::DotSlashPrefix,
            "path starts with `./`; accepted, but the bag fails strict validation",
        ),
        LineIssue::Blank { line } => f.warn(format!("{file}:{line}"), FindingKind::BlankLine, "blank line ignored"),
    }
}
