//! Bag validation (RFC 8493 §3): structure, completeness, then every digest.
//!
//! Works on any [`BagSource`]; opens only what the source listed. [`validate`] runs
//! named stages, cheapest first, each adding its findings in turn:
//!
//! | stage | file |
//! | --- | --- |
//! | listing (links, special files, name collisions) | `index.rs` |
//! | declaration (bagit.txt, data/) | `tags.rs` |
//! | bag-info (bag-info.txt, Payload-Oxum) | `tags.rs` |
//! | fetch (fetch.txt) | `tags.rs` |
//! | manifests (which are present) | `manifests.rs` |
//! | completeness (every entry a file, every payload file listed; holes; oxum) | `manifests.rs` |
//! | digests (each file read once for all its algorithms, in parallel) | `digests.rs` |
//!
//! Reports every problem, not the first one.
//!
//! Memory: every listed file is interned once (its name held once, looked up through a
//! table of 4-byte file numbers) and then referred to by index; per-file state lives in
//! index-addressed vectors; each manifest is read whole, parsed a line at a time (never
//! as a list of entries) and dropped before the next; an expected digest is stored at
//! its algorithm's length, 12 bytes of bookkeeping beside it, and only in a full
//! validation; the digest stage keeps only the files that have something to report.
//! At a million files and two manifests (BLAKE3 and SHA-512) the peak is about 430 MB,
//! the larger manifest's text (151 MB) the largest part (BENCHMARKS.md).

use std::collections::{BTreeMap, HashMap};
use std::io;

use serde::Serialize;

use super::finding::{Finding, FindingKind, Findings, SourceProblem};
use super::source::BagSource;
use super::tags::BagInfo;
use crate::digest::{Algorithm, Digest};
use crate::error::Error;

mod digests;
mod entries;
mod index;
mod manifests;
mod tags;

use index::{DiskIndex, Idx};

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Structure, completeness and every digest.
    #[default]
    Full,
    /// Structure and completeness; no digests.
    Completeness,
    /// Structure and Payload-Oxum only.
    Fast,
}

/// Options for [`validate`].
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    pub mode: Mode,
    /// Verify only these algorithms' manifests (all supported ones when `None`).
    /// Completeness is still checked against every manifest.
    pub only_algorithms: Option<Vec<Algorithm>>,
    /// Keep every computed digest in [`ValidateReport::computed`] (for callers that
    /// compare them with a register); off, memory stays smaller.
    pub keep_digests: bool,
}

/// The outcome of validating a bag.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub valid: bool,
    /// The declared BagIt version, when bagit.txt could be read.
    pub version: Option<String>,
    /// Algorithms of the payload manifests present (supported ones).
    pub algorithms: Vec<Algorithm>,
    pub problems: Vec<Finding>,
    pub warnings: Vec<Finding>,
    /// Payload files and bytes present on disk.
    pub files: u64,
    pub bytes: u64,
    /// Files that fetch.txt says are still to be fetched.
    pub holes: u64,
    /// Failures to read that are not the bag's fault (permission denied).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Finding>,
    /// With `keep_digests`: the digests computed, by bag path.
    #[serde(skip)]
    pub computed: BTreeMap<String, Vec<(Algorithm, Digest)>>,
    /// The parsed bag-info.txt, when present.
    #[serde(skip)]
    pub bag_info: Option<BagInfo>,
    /// What the manifests say the missing payload files contained, so that a caller
    /// can find them elsewhere (a moved file).
    #[serde(skip)]
    pub missing_digests: BTreeMap<String, Vec<(Algorithm, Digest)>>,
    /// With `keep_digests`: the tag files read whole (up to 1 MiB each: bagit.txt,
    /// bag-info.txt, fetch.txt, the manifests), by name, as they were read.
    #[serde(skip)]
    pub tag_bytes: HashMap<String, Vec<u8>>,
}

impl ValidateReport {
    pub fn is_ok(&self) -> bool {
        self.valid
    }

    /// The report for a bag that could not be read at all (a corrupt zip): invalid,
    /// with that one problem.
    pub fn unreadable(problem: Finding) -> ValidateReport {
        let mut r = ValidateReport::empty();
        r.problems.push(problem);
        r
    }

    /// A report with nothing found yet (and not yet valid).
    fn empty() -> ValidateReport {
        ValidateReport {
            valid: false,
            version: None,
            algorithms: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            files: 0,
            bytes: 0,
            holes: 0,
            errors: Vec::new(),
            computed: BTreeMap::new(),
            bag_info: None,
            missing_digests: BTreeMap::new(),
            tag_bytes: HashMap::new(),
        }
    }

    /// The digest a manifest gives for a payload file that is missing.
    pub fn manifest_digest(&self, path: &str, alg: Algorithm) -> Option<&Digest> {
        self.missing_digests
            .get(path)?
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, d)| d)
    }
}

/// Tag files up to this size are kept after reading, so hashing them needs no second
/// read; larger ones (a big archive's manifests) are read again instead of held.
const KEEP_TAG_BYTES: usize = 1 << 20;

/// Validates a bag: the stages in order; a stage that leaves nothing to interpret
/// (no declaration) ends the run with what was found so far.
pub fn validate(source: &dyn BagSource, opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    if source.fatal() {
        return validate_listed(source, Vec::new(), opts);
    }
    validate_listed(source, source.list()?, opts)
}

/// [`validate`] with the source's listing already taken (`source.list()`), for a
/// caller that needed it first (fixity picks the algorithms from the manifests
/// present): the bag is listed once.
pub fn validate_listed(
    source: &dyn BagSource,
    listing: Vec<super::source::SourceEntry>,
    opts: &ValidateOptions,
) -> Result<ValidateReport, Error> {
    let mut f = Findings::default();
    f.problems.extend(source.problems());
    if source.fatal() {
        return Ok(finish(ValidateReport::empty(), f, Vec::new()));
    }
    let index = index::index_entries(listing, &mut f);
    let mut run = Run {
        source,
        index,
        tag_bytes: HashMap::new(),
        f,
        errors: Vec::new(),
        report: ValidateReport::empty(),
    };
    for i in run.index.payload() {
        run.report.files += 1;
        run.report.bytes += run.index.sizes[i as usize];
    }

    let Some(decl) = tags::declaration(&mut run) else {
        return Ok(run.finish());
    };
    let oxum = tags::bag_info(&mut run, &decl);
    let fetch = tags::fetch(&mut run, &decl);
    if opts.mode == Mode::Fast {
        tags::fast_oxum(&mut run, oxum, &fetch);
        return Ok(run.finish());
    }
    let manifests = manifests::present(&mut run);
    let expect = manifests::completeness(&mut run, &decl, &manifests, &fetch, opts);
    if let Some((octets, streams)) = oxum {
        tags::check_oxum(octets, streams, &run.report, &fetch, &mut run.f);
    }
    if opts.mode == Mode::Full {
        digests::verify(&mut run, &manifests, expect, opts);
    }
    if opts.keep_digests {
        // The small tag files as read, so that a comparison with the register needs
        // no second read of them.
        let kept = std::mem::take(&mut run.tag_bytes);
        run.report.tag_bytes = kept
            .into_iter()
            .map(|(i, b)| (run.index.name(i).to_string(), b))
            .collect();
    }
    Ok(run.finish())
}

/// One validation under way: the source, its listing, what was found so far.
struct Run<'a> {
    source: &'a dyn BagSource,
    index: DiskIndex,
    /// Small tag files as read, so hashing them needs no second read.
    tag_bytes: HashMap<Idx, Vec<u8>>,
    f: Findings,
    /// Failures to read that are not the bag's fault.
    errors: Vec<Finding>,
    report: ValidateReport,
}

impl Run<'_> {
    /// Whether the source listed a file of exactly this name.
    fn listed(&self, name: &str) -> bool {
        self.index.exact(name).is_some()
    }

    /// Reads a tag file, keeping it when small; a failure is recorded and gives `None`.
    fn read_tag(&mut self, path: &str) -> Option<Vec<u8>> {
        match self.source.read(path) {
            Ok(b) => {
                if b.len() <= KEEP_TAG_BYTES {
                    if let Some(i) = self.index.exact(path) {
                        self.tag_bytes.insert(i, b.clone());
                    }
                }
                Some(b)
            }
            Err(e) => {
                record_read_error(path, &e, &mut self.f, &mut self.errors);
                None
            }
        }
    }

    fn finish(self) -> ValidateReport {
        finish(self.report, self.f, self.errors)
    }
}

fn record_read_error(path: &str, e: &io::Error, f: &mut Findings, errors: &mut Vec<Finding>) {
    // A failure the source explained (a zip bomb, a bad CRC) keeps its own kind.
    if let Some(sp) = e.get_ref().and_then(|x| x.downcast_ref::<SourceProblem>()) {
        f.problem(
            sp.path.as_deref().unwrap_or(path),
            sp.kind,
            sp.detail.clone(),
        );
        return;
    }
    // Permission problems are the operator's to fix (exit 3); any other read failure of
    // a file that exists (EIO from a failing disk) is damage to the bag (exit 1).
    if e.kind() == io::ErrorKind::PermissionDenied {
        errors.push(Finding::new(
            path,
            FindingKind::Unreadable,
            format!("cannot read: {e}"),
        ));
    } else {
        f.problem(path, FindingKind::Unreadable, format!("cannot read: {e}"));
    }
}

fn finish(mut report: ValidateReport, f: Findings, errors: Vec<Finding>) -> ValidateReport {
    report.problems = f.problems;
    report.warnings = f.warnings;
    report.errors = errors;
    report.valid = report.problems.is_empty() && report.errors.is_empty();
    report
}
