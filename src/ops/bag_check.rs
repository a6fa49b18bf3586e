//! Checking one bag in full: BagIt validation, then agreement with its register entry,
//! with the findings put the way archivists know them from AVP Fixity and hashdeep's
//! audit mode: changed, missing, new, moved, plus tag-file and register mismatches.
//!
//! Shared by `fixity` (bags in the archive) and `verify` (a copy anywhere), and by the
//! commands that change or send out an item (`revise`, `amend`, `export`): each checks
//! the bag it starts from with [`precheck`] and refuses a damaged one the same way
//! ([`Precheck::refuse_unless_intact`]); `replicate`'s refusal of an object it reads
//! for sending names the way out with [`repair_advice`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bagit::source::{BagSource, SourceEntry};
use crate::bagit::{validate_listed, FindingKind, Mode, ValidateOptions, ValidateReport};
use crate::digest::{hash_reader, Algorithm, BUF_SIZE};
use crate::error::Error;
use crate::fs::register::RegisterEntry;

/// The classes of fixity failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixityKind {
    /// A payload file's digest differs from its manifest.
    Changed,
    /// A listed payload file is absent.
    Missing,
    /// A payload file is present but listed in no manifest.
    New,
    /// A missing file's content is present under another, unlisted path.
    Moved,
    /// A tag file (bag-info.txt, a manifest, metadata/dc.xml, a tag manifest) differs
    /// from its tag manifest or from the register, or is missing.
    TagChanged,
    /// The bag agrees with itself but not with its register entry: payload or manifests
    /// rewritten to match each other, or the register entry edited.
    RegisterMismatch,
    /// The bag is not a well-formed bag any more (bagit.txt, manifest syntax, paths…).
    Structure,
    /// A file could not be read (an I/O error other than permission).
    Unreadable,
    /// The register lists the item, but its bag folder is gone.
    BagMissing,
    /// A bag folder with no register entry.
    Unregistered,
    /// The algorithm asked for (`fixity --algorithms`) is not one the bag has a payload
    /// manifest for: one finding for the bag, not one per file.
    AlgorithmAbsent,
    /// `verify --against`: the register entry describes another item (its identifier or
    /// Payload-Oxum differs from the bag's bag-info.txt).
    DifferentItem,
}

impl FixityKind {
    /// The kind's stable kebab-case code, as `--json` writes it (`changed`,
    /// `tag-changed`): the one spelling used in messages and events too.
    pub fn code(self) -> &'static str {
        match self {
            FixityKind::Changed => "changed",
            FixityKind::Missing => "missing",
            FixityKind::New => "new",
            FixityKind::Moved => "moved",
            FixityKind::TagChanged => "tag-changed",
            FixityKind::RegisterMismatch => "register-mismatch",
            FixityKind::Structure => "structure",
            FixityKind::Unreadable => "unreadable",
            FixityKind::BagMissing => "bag-missing",
            FixityKind::Unregistered => "unregistered",
            FixityKind::AlgorithmAbsent => "algorithm-absent",
            FixityKind::DifferentItem => "different-item",
        }
    }
}

impl std::fmt::Display for FixityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The order of strength in which fixity picks the algorithm to check with when the bag
/// does not have the one asked for: the strongest the bag and its register entry share.
pub const STRENGTH: [Algorithm; 7] = [
    Algorithm::Blake3,
    Algorithm::Sha512,
    Algorithm::Sha384,
    Algorithm::Sha256,
    Algorithm::Sha224,
    Algorithm::Sha1,
    Algorithm::Md5,
];

/// One problem found in one bag checked against itself and its register entry, in the
/// archivist's classes ([`FixityKind`]): what fixity, verify, audit and import report
/// (BagIt's own [`crate::bagit::Finding`]s are classified into these by `classify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixityFinding {
    pub kind: FixityKind,
    /// Bag-relative path (or `FILE:LINE` for a line of a tag file); empty for the bag.
    pub path: String,
    /// `algorithm:hex` where a digest was expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// For `moved`: where the content is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    pub detail: String,
}

impl FixityFinding {
    pub fn new(
        kind: FixityKind,
        path: impl Into<String>,
        detail: impl Into<String>,
    ) -> FixityFinding {
        FixityFinding {
            kind,
            path: path.into(),
            expected: None,
            actual: None,
            moved_to: None,
            detail: detail.into(),
        }
    }
}

/// Everything learned about one bag.
#[derive(Debug, Clone, Serialize)]
pub struct BagCheck {
    pub findings: Vec<FixityFinding>,
    /// Read failures that are not the bag's fault (permission denied).
    pub errors: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    pub algorithms: Vec<Algorithm>,
}

impl BagCheck {
    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.errors.is_empty()
    }
}

/// Validates a bag (only the given algorithms' digests, all when `None`) and, when an
/// entry is given, compares it with the register.
pub fn check_bag(
    source: &dyn BagSource,
    algorithms: Option<&[Algorithm]>,
    entry: Option<&RegisterEntry>,
) -> Result<BagCheck, Error> {
    let listing = if source.fatal() {
        Vec::new()
    } else {
        source.list()?
    };
    check_bag_listed(source, listing, algorithms, entry)
}

/// [`check_bag`] with the source's listing already taken (`source.list()`).
pub fn check_bag_listed(
    source: &dyn BagSource,
    listing: Vec<SourceEntry>,
    algorithms: Option<&[Algorithm]>,
    entry: Option<&RegisterEntry>,
) -> Result<BagCheck, Error> {
    let opts = ValidateOptions {
        mode: Mode::Full,
        only_algorithms: algorithms.map(|a| a.to_vec()),
        keep_digests: true,
    };
    let report = validate_listed(source, listing, &opts)?;
    let mut findings = classify(&report);
    let used: Vec<Algorithm> = match algorithms {
        Some(a) => a
            .iter()
            .copied()
            .filter(|a| report.algorithms.contains(a))
            .collect(),
        None => report.algorithms.clone(),
    };
    if let Some(entry) = entry {
        compare_with_register(source, &report, entry, &used, &mut findings)?;
    }
    detect_moves(source, &report, entry, &used, &mut findings)?;
    findings.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Ok(BagCheck {
        findings,
        errors: report
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.detail))
            .collect(),
        files: report.files,
        bytes: report.bytes,
        algorithms: used,
    })
}

/// The commands that start from a verified item: what a refusal says they did not do,
/// and how an archivist overrides it on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Revise,
    Amend,
    Export,
}

/// The current (or a kept) bag of an item, checked in full against its manifests and
/// its register entry before a command changes the item or sends it out.
///
/// Always a full check (every payload and tag file read and hashed; `depth` says so in
/// the report): one item is cheap enough to read once more, and a fast check that trusts
/// an earlier fixity run would miss damage done since, which is the case this exists
/// for. `replicate`, over many items, does not re-read the archive: it checks the digest
/// of each object as it reads it for sending.
#[derive(Debug, Clone, Serialize)]
pub struct Precheck {
    pub id: String,
    /// The bag checked, as a path.
    pub bag: PathBuf,
    /// What the bag is, for messages: `the current bag of ID`, `version N of ID`.
    pub what: String,
    /// `full`: every file read and hashed against the manifests and the register entry.
    pub depth: &'static str,
    pub files: u64,
    pub bytes: u64,
    /// Empty when the bag is intact.
    pub findings: Vec<FixityFinding>,
    /// Files that could not be read (permission denied): the bag is not known intact.
    pub errors: Vec<String>,
}

/// Checks the bag at `bag` in full against its manifests and `entry` (see [`Precheck`]).
/// A missing bag folder is a finding (`bag-missing`), not an error.
pub fn precheck(bag: &Path, entry: &RegisterEntry, what: String) -> Result<Precheck, Error> {
    let mut pre = Precheck {
        id: entry.id.clone(),
        bag: bag.to_path_buf(),
        what,
        depth: "full",
        files: 0,
        bytes: 0,
        findings: Vec::new(),
        errors: Vec::new(),
    };
    if !bag.is_dir() {
        pre.findings.push(FixityFinding::new(
            FixityKind::BagMissing,
            "",
            format!(
                "the register lists {}, but its bag folder is gone",
                entry.id
            ),
        ));
        return Ok(pre);
    }
    // A symbolic link in the bag folder's place is refused, never followed.
    let source = crate::fs::dir::DirSource::open_archived(bag)?;
    let check = check_bag(&source, None, Some(entry))?;
    pre.files = check.files;
    pre.bytes = check.bytes;
    pre.findings = check.findings;
    pre.errors = check.errors;
    Ok(pre)
}

impl Precheck {
    /// Nothing found and everything read.
    pub fn intact(&self) -> bool {
        self.findings.is_empty() && self.errors.is_empty()
    }

    /// The bag-relative paths named by a finding (the damaged files).
    pub fn damaged_paths(&self) -> BTreeSet<&str> {
        self.findings
            .iter()
            .flat_map(|f| [Some(f.path.as_str()), f.moved_to.as_deref()])
            .flatten()
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// What was found, one entry per file and kind: `changed: data/scan.tif`.
    fn damage_entries(&self) -> Vec<String> {
        let mut parts = finding_entries(&self.findings);
        parts.extend(self.errors.iter().map(|e| format!("unreadable: {e}")));
        parts
    }

    /// One line naming what was found: `changed: data/scan.tif; missing: data/b.txt`.
    pub fn damage(&self) -> String {
        self.damage_entries().join("; ")
    }

    /// `Err(Refused)` (exit 1) naming the damaged bag, its damaged files and the way
    /// out when the bag is not intact; `Ok` when it is.
    pub fn refuse_unless_intact(&self, start: Start) -> Result<(), Error> {
        if self.intact() {
            return Ok(());
        }
        Err(self.refusal(start, &[]))
    }

    /// The refusal of a change that starts from this damaged bag (and from `also`, the
    /// other damaged bags of the same batch): exit 1, the bag, its damaged files, and how
    /// to mend it or go on on purpose.
    pub fn refusal(&self, start: Start, also: &[Precheck]) -> Error {
        let id = &self.id;
        let (done, overrides) = match start {
            Start::Revise => (
                "revised",
                format!("to make the next version from it as it is, on purpose, `cairn revise {id} --from DIR --reason TEXT --accept-damage` (the decision is logged as its own event)"),
            ),
            Start::Amend => (
                "amended",
                format!("an amend carries the payload forward unchanged, so it needs an intact bag; to keep the damaged content on purpose, first `cairn revise {id} --from DIR --reason TEXT --accept-damage`"),
            ),
            Start::Export => (
                "exported",
                format!("to export it anyway, `cairn export {id} --zip FILE --force` (the event records the failure)"),
            ),
        };
        let also = if also.is_empty() {
            String::new()
        } else {
            format!(
                " Also damaged: {}",
                also.iter()
                    .map(|p| format!("{} ({}): {}", p.what, p.bag.display(), p.damage()))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        Error::Refused {
            path: self.bag.clone(),
            reason: format!(
                "{} does not match its manifests and register entry (checked in full first; {}): {}. Nothing was {done}. {}; {overrides}.{also}",
                self.what,
                crate::units::count(self.damage_entries().len() as u64, "problem", "problems"),
                self.damage(),
                repair_advice(id),
            ),
        }
    }
}

/// How a damaged item is mended: the one wording of every refusal that names damage.
pub fn repair_advice(id: &str) -> String {
    format!("`cairn repair {id}` restores the damaged files from a good copy (a replica or a kept version), `cairn fixity --id {id}` shows the details")
}

/// One entry per finding (a file named once per kind), for messages and events:
/// `changed: data/scan.tif; missing: data/b.txt`.
pub fn describe_findings(findings: &[FixityFinding]) -> String {
    finding_entries(findings).join("; ")
}

/// [`describe_findings`]' entries.
fn finding_entries(findings: &[FixityFinding]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    findings
        .iter()
        .filter(|f| seen.insert((f.kind, f.path.as_str())))
        .map(|f| {
            let kind = f.kind.code();
            if f.path.is_empty() {
                format!("{kind} ({})", f.detail)
            } else {
                format!("{kind}: {}", f.path)
            }
        })
        .collect()
}

/// Maps validation findings onto the fixity classes. Warnings are not failures. A file
/// missing from (or absent in) several manifests is one finding, not one per manifest.
fn classify(report: &ValidateReport) -> Vec<FixityFinding> {
    let mut seen = BTreeSet::new();
    // A payload file added, removed or resized also breaks Payload-Oxum; that is the
    // payload's change, reported as `new`, `missing` or `changed` on the file, not a
    // change of bag-info.txt (an edited bag-info.txt is caught by its tag manifest and
    // the register entry).
    let payload_explains_oxum = report.problems.iter().any(|p| {
        matches!(
            p.kind,
            FindingKind::PayloadMissing | FindingKind::PayloadUnlisted
        ) || (p.kind == FindingKind::DigestMismatch && p.path.starts_with("data/"))
    });
    report
        .problems
        .iter()
        .filter(|p| !(payload_explains_oxum && p.kind == FindingKind::OxumMismatch))
        .filter(|p| {
            !matches!(
                p.kind,
                FindingKind::PayloadMissing | FindingKind::PayloadUnlisted
            ) || seen.insert((p.kind, p.path.clone()))
        })
        .map(|p| {
            let payload = p.path.starts_with("data/");
            let kind = match p.kind {
                FindingKind::DigestMismatch if payload => FixityKind::Changed,
                FindingKind::DigestMismatch | FindingKind::TagMissing => FixityKind::TagChanged,
                FindingKind::PayloadMissing => FixityKind::Missing,
                FindingKind::PayloadUnlisted => FixityKind::New,
                FindingKind::OxumMismatch
                | FindingKind::BagInfoMalformed
                | FindingKind::OxumMalformed => FixityKind::TagChanged,
                FindingKind::Unreadable => FixityKind::Unreadable,
                _ => FixityKind::Structure,
            };
            FixityFinding {
                kind,
                path: p.path.clone(),
                expected: p.expected.clone(),
                actual: p.actual.clone(),
                moved_to: None,
                detail: format!("{}: {}", p.kind, p.detail),
            }
        })
        .collect()
}

/// Compares the bag with what the register recorded at ingest. This is what catches a
/// bag whose payload and manifests were rewritten to agree with each other. The
/// payload first (recorded files, then files the register does not have), then the tag
/// files; a path validation already reported is not reported again.
fn compare_with_register(
    source: &dyn BagSource,
    report: &ValidateReport,
    entry: &RegisterEntry,
    algorithms: &[Algorithm],
    findings: &mut Vec<FixityFinding>,
) -> Result<(), Error> {
    let already: BTreeSet<String> = findings.iter().map(|f| f.path.clone()).collect();
    let algs: Vec<&str> = algorithms.iter().map(|a| a.name()).collect();
    compare_payload(report, entry, &algs, &already, findings);
    compare_tag_files(source, report, entry, &algs, &already, findings)
}

/// Payload: every recorded file, with the recorded digest; and every payload file the
/// register does not record.
fn compare_payload(
    report: &ValidateReport,
    entry: &RegisterEntry,
    algs: &[&str],
    already: &BTreeSet<String>,
    findings: &mut Vec<FixityFinding>,
) {
    let recorded: BTreeMap<&str, &crate::fs::register::FileRecord> =
        entry.files.iter().map(|f| (f.path.as_str(), f)).collect();
    for (path, rec) in &recorded {
        if already.contains(*path) {
            continue;
        }
        match report.computed.get(*path) {
            Some(digests) => {
                for (alg, got) in digests {
                    if !algs.contains(&alg.name()) {
                        continue;
                    }
                    if let Some(want) = rec.digests.get(*alg) {
                        if want != got {
                            findings.push(FixityFinding {
                                kind: FixityKind::RegisterMismatch,
                                path: path.to_string(),
                                expected: Some(format!("{alg}:{want}")),
                                actual: Some(format!("{alg}:{}", got.to_hex())),
                                moved_to: None,
                                detail: format!(
                                    "{alg} differs from the register entry {}.json, though the bag's own manifests agree: payload and manifests were rewritten, or the register entry was edited",
                                    entry.id
                                ),
                            });
                        }
                    }
                }
            }
            None => findings.push(FixityFinding::new(
                FixityKind::RegisterMismatch,
                *path,
                format!(
                    "recorded in the register entry {}.json but neither in the bag's manifests nor checked: removed from the bag and its manifests",
                    entry.id
                ),
            )),
        }
    }
    for path in report.computed.keys().filter(|p| p.starts_with("data/")) {
        if !recorded.contains_key(path.as_str()) && !already.contains(path) {
            findings.push(FixityFinding::new(
                FixityKind::RegisterMismatch,
                path.as_str(),
                format!("in the bag and its manifests but not in the register entry {}.json: added to both", entry.id),
            ));
        }
    }
}

/// Tag files, tag manifests included (validation cannot check those: nothing lists
/// them), against the digests the register recorded.
fn compare_tag_files(
    source: &dyn BagSource,
    report: &ValidateReport,
    entry: &RegisterEntry,
    algs: &[&str],
    already: &BTreeSet<String>,
    findings: &mut Vec<FixityFinding>,
) -> Result<(), Error> {
    // Read whole: they are small. The buffer only when something is hashed here
    // (a zeroed 256 KiB per bag was 4 % of a fixity run over small bags).
    let mut buf = Vec::new();
    for (name, recorded) in &entry.tag_files {
        if already.contains(name) {
            continue;
        }
        // By algorithm name, in hex: as findings report them.
        let recorded: BTreeMap<&str, String> = recorded
            .iter()
            .map(|(a, d)| (a.name(), d.to_hex()))
            .collect();
        // Every checked algorithm the register recorded (any one if none overlaps).
        let mut pairs: Vec<(&str, &String)> = algs
            .iter()
            .filter_map(|a| recorded.get(*a).map(|d| (*a, d)))
            .collect();
        if pairs.is_empty() {
            pairs.extend(recorded.iter().next().map(|(a, d)| (*a, d)));
        }
        // What validation already computed or read of this file is used as it is:
        // the digests of the files the tag manifests list, and the bytes of the small
        // tag files it read (the manifests, bag-info.txt); only the rest is read here.
        let computed = report.computed.get(name.as_str());
        let known = |alg: &str| {
            computed?
                .iter()
                .find(|(a, _)| a.name() == alg)
                .map(|(_, d)| d.to_hex())
        };
        let mut unknown = Vec::new();
        let mut differs = false;
        for (alg, want) in pairs {
            match known(alg) {
                Some(got) if got == *want => {}
                Some(got) => {
                    findings.push(tag_differs(entry, name, alg, want, &got));
                    differs = true;
                    break;
                }
                None => unknown.push((alg, want)),
            }
        }
        if differs || unknown.is_empty() {
            continue;
        }
        let pairs = unknown;
        let read;
        let bytes: &[u8] = match report.tag_bytes.get(name.as_str()) {
            Some(b) => b,
            None => match source.read(name) {
                Ok(b) => {
                    read = b;
                    &read
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    findings.push(FixityFinding::new(
                        FixityKind::TagChanged,
                        name.as_str(),
                        format!(
                            "recorded in the register entry {}.json, missing from the bag",
                            entry.id
                        ),
                    ));
                    continue;
                }
                Err(e) => {
                    findings.push(FixityFinding::new(
                        FixityKind::Unreadable,
                        name.as_str(),
                        format!("cannot read: {e}"),
                    ));
                    continue;
                }
            },
        };
        for (alg, want) in pairs {
            let Some(algorithm) = Algorithm::from_manifest_name(alg) else {
                continue;
            };
            if buf.is_empty() {
                buf = vec![0u8; BUF_SIZE];
            }
            let got = hash_reader(bytes, &[algorithm], &mut buf)
                .map_err(|e| Error::io("hash", name, e))?;
            let got = got.get(algorithm).map(|d| d.to_hex()).unwrap_or_default();
            if got != *want {
                findings.push(tag_differs(entry, name, alg, want, &got));
                break;
            }
        }
    }
    Ok(())
}

/// A tag file whose digest differs from the register entry's.
fn tag_differs(
    entry: &RegisterEntry,
    name: &str,
    alg: &str,
    want: &str,
    got: &str,
) -> FixityFinding {
    FixityFinding {
        kind: FixityKind::TagChanged,
        path: name.to_string(),
        expected: Some(format!("{alg}:{want}")),
        actual: Some(format!("{alg}:{got}")),
        moved_to: None,
        detail: format!("differs from the register entry {}.json", entry.id),
    }
}

/// Turns a `missing` + `new` pair with the same content into one `moved`.
fn detect_moves(
    source: &dyn BagSource,
    report: &ValidateReport,
    entry: Option<&RegisterEntry>,
    algorithms: &[Algorithm],
    findings: &mut Vec<FixityFinding>,
) -> Result<(), Error> {
    let missing: Vec<usize> = (0..findings.len())
        .filter(|&i| findings[i].kind == FixityKind::Missing)
        .collect();
    let new: Vec<usize> = (0..findings.len())
        .filter(|&i| findings[i].kind == FixityKind::New)
        .collect();
    if missing.is_empty() || new.is_empty() {
        return Ok(());
    }
    let Some(&alg) = algorithms.first() else {
        return Ok(());
    };
    // Expected digests of missing files: from the register, else from the manifest.
    let expected_of = |path: &str| -> Option<String> {
        entry
            .and_then(|e| e.files.iter().find(|f| f.path == path))
            .and_then(|f| f.digests.get(alg).copied())
            .or_else(|| report.manifest_digest(path, alg).copied())
            .map(|d| d.to_hex())
    };
    let mut buf = vec![0u8; BUF_SIZE];
    let mut new_digests: BTreeMap<String, usize> = BTreeMap::new();
    for &i in &new {
        if let Ok(d) = source.hash(&findings[i].path, &[alg], &mut buf) {
            if let Some(d) = d.get(alg) {
                new_digests.insert(d.to_hex(), i);
            }
        }
    }
    let mut absorbed = BTreeSet::new();
    for &i in &missing {
        let Some(want) = expected_of(&findings[i].path) else {
            continue;
        };
        if let Some(&j) = new_digests.get(&want) {
            if absorbed.insert(j) {
                let to = findings[j].path.clone();
                let f = &mut findings[i];
                f.kind = FixityKind::Moved;
                f.detail = format!(
                    "the same content ({alg}:{want}) is now at {to}, which no manifest lists"
                );
                f.expected = Some(format!("{alg}:{want}"));
                f.moved_to = Some(to);
            }
        }
    }
    let mut idx = 0;
    findings.retain(|_| {
        let keep = !absorbed.contains(&idx);
        idx += 1;
        keep
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FixityKind;

    /// `code()` is the spelling `--json` writes (serde's kebab-case), for every kind.
    #[test]
    fn code_is_the_json_spelling() {
        use FixityKind::*;
        for kind in [
            Changed,
            Missing,
            New,
            Moved,
            TagChanged,
            RegisterMismatch,
            Structure,
            Unreadable,
            BagMissing,
            Unregistered,
            AlgorithmAbsent,
            DifferentItem,
        ] {
            let json = serde_json::to_value(kind).expect("a kind serialises");
            assert_eq!(json.as_str(), Some(kind.code()));
            assert_eq!(kind.to_string(), kind.code());
        }
    }
}
