//! Bag validation (RFC 8493 §3): structure, completeness, then every digest.
//!
//! Works on any [`BagSource`]; opens only what the source listed. Runs cheapest checks
//! first (declaration, tag files, Payload-Oxum, completeness both ways), then hashes.
//! Reports every problem, not the first one.
//!
//! Memory: every listed file is interned once and then referred to by index; per-file
//! state lives in index-addressed vectors; manifests are parsed, resolved and dropped
//! one at a time; digests are inline. So memory grows with the number of files by a
//! few hundred bytes each, and not at all with their size.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::ops::Range;

use rayon::prelude::*;
use serde::Serialize;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use super::finding::{Finding, Findings, Kind, SourceProblem};
use super::manifest::{parse_manifest, LineIssue, ManifestKind};
use super::path::BagPath;
use super::source::{BagSource, EntryType, SourceEntry};
use super::tags::{
    decode_tag_file, parse_bag_info, parse_declaration, parse_declaration_leniently, parse_fetch,
    parse_oxum, BagInfo, TagEncoding,
};
use crate::digest::{Algorithm, Digest, Digests, BUF_SIZE};
use crate::error::Error;

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

/// A listed file, by position in [`DiskIndex::names`].
type Idx = u32;

/// The files the source listed, interned.
struct DiskIndex {
    /// Regular files with UTF-8 names, as listed.
    names: Vec<String>,
    sizes: Vec<u64>,
    /// NFC form of a name → the files with that form (nearly always one).
    by_key: HashMap<Box<str>, Candidates>,
}

enum Candidates {
    One(Idx),
    Many(Vec<Idx>),
}

impl Candidates {
    fn as_slice(&self) -> &[Idx] {
        match self {
            Candidates::One(i) => std::slice::from_ref(i),
            Candidates::Many(v) => v,
        }
    }
}

impl DiskIndex {
    fn candidates(&self, key: &str) -> &[Idx] {
        self.by_key
            .get(key)
            .map(Candidates::as_slice)
            .unwrap_or(&[])
    }

    /// The file listed under exactly this name.
    fn exact(&self, name: &str) -> Option<Idx> {
        self.candidates(&nfc(name))
            .iter()
            .copied()
            .find(|&i| self.names[i as usize] == name)
    }

    fn name(&self, i: Idx) -> &str {
        &self.names[i as usize]
    }

    fn payload(&self) -> impl Iterator<Item = Idx> + '_ {
        (0..self.names.len() as Idx).filter(|&i| self.names[i as usize].starts_with("data/"))
    }
}

/// One digest a file must have: algorithm, expected value, and which manifest says so.
#[derive(Clone, Copy)]
struct Expectation {
    file: Idx,
    alg: Algorithm,
    digest: Digest,
    manifest: u16,
}

/// The NFC form of `s`, borrowed when `s` already is (the usual case).
fn nfc(s: &str) -> Cow<'_, str> {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// Tag files up to this size are kept after reading, so hashing them needs no second
/// read; larger ones (a big archive's manifests) are read again instead of held.
const KEEP_TAG_BYTES: usize = 1 << 20;

/// Validates a bag.
pub fn validate(source: &dyn BagSource, opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    let mut f = Findings::default();
    let mut report = ValidateReport::empty();
    let mut errors: Vec<Finding> = Vec::new();
    f.problems.extend(source.problems());
    if source.fatal() {
        return Ok(finish(report, f, errors));
    }
    let index = index_entries(source.list()?, &mut f);
    for i in index.payload() {
        report.files += 1;
        report.bytes += index.sizes[i as usize];
    }
    let listed = |name: &str| index.exact(name).is_some();

    let mut tag_bytes: HashMap<Idx, Vec<u8>> = HashMap::new();
    let mut read_tag =
        |path: &str, f: &mut Findings, errors: &mut Vec<Finding>| -> Option<Vec<u8>> {
            match source.read(path) {
                Ok(b) => {
                    if b.len() <= KEEP_TAG_BYTES {
                        if let Some(i) = index.exact(path) {
                            tag_bytes.insert(i, b.clone());
                        }
                    }
                    Some(b)
                }
                Err(e) => {
                    record_read_error(path, &e, f, errors);
                    None
                }
            }
        };

    // 1. The declaration. Without it nothing else can be interpreted.
    if !listed("bagit.txt") {
        f.problem(
            "bagit.txt",
            Kind::BagitTxtMissing,
            "the bag declaration bagit.txt is missing; this folder is not a bag",
        );
        return Ok(finish(report, f, errors));
    }
    let Some(decl_bytes) = read_tag("bagit.txt", &mut f, &mut errors) else {
        return Ok(finish(report, f, errors));
    };
    let decl = match parse_declaration(&decl_bytes) {
        Ok(d) => d,
        Err(reasons) => {
            for r in reasons {
                f.problem("bagit.txt", Kind::BagitTxtInvalid, r);
            }
            // Go on with a forgiving reading when there is one, to report the rest.
            match parse_declaration_leniently(&decl_bytes) {
                Some(d) => d,
                None => return Ok(finish(report, f, errors)),
            }
        }
    };
    let version = decl.version;
    let strict = version.is_v1();
    report.version = Some(version.to_string());
    // parse_declaration only accepts encodings from_label knows.
    let encoding = TagEncoding::from_label(&decl.encoding).unwrap_or(TagEncoding::Utf8);

    if !source.is_dir("data") {
        f.problem(
            "data",
            Kind::DataDirMissing,
            "the payload directory data/ is missing",
        );
    }

    // Borrows the bytes when they are UTF-8 already (a manifest of a million lines is
    // not copied again).
    fn decode_text<'b>(
        path: &str,
        bytes: &'b [u8],
        encoding: TagEncoding,
        strict: bool,
        f: &mut Findings,
    ) -> Cow<'b, str> {
        let d = decode_tag_file(bytes, encoding);
        if let Some(p) = d.problem {
            f.strict(strict, path, Kind::TagFileEncoding, format!("{path} {p}"));
        }
        d.text
    }
    let decode = |path: &str, bytes: &[u8], f: &mut Findings| -> String {
        decode_text(path, bytes, encoding, strict, f).into_owned()
    };

    // 2. bag-info.txt (optional) and its Payload-Oxum.
    let mut oxum: Option<(u64, u64)> = None;
    if listed("bag-info.txt") {
        if let Some(bytes) = read_tag("bag-info.txt", &mut f, &mut errors) {
            let text = decode("bag-info.txt", &bytes, &mut f);
            let (info, line_errors) = parse_bag_info(&text, version);
            for e in line_errors {
                f.problem(
                    format!("bag-info.txt:{}", e.line),
                    Kind::BagInfoMalformed,
                    e.detail,
                );
            }
            let oxums: Vec<&str> = info.values("Payload-Oxum").collect();
            if oxums.len() > 1 {
                f.problem(
                    "bag-info.txt",
                    Kind::BagInfoMalformed,
                    format!(
                        "Payload-Oxum appears {} times; it may appear once",
                        oxums.len()
                    ),
                );
            }
            if let Some(v) = oxums.first() {
                match parse_oxum(v) {
                    Some(o) => oxum = Some(o),
                    None => f.problem(
                        "bag-info.txt",
                        Kind::OxumMalformed,
                        format!(
                            "Payload-Oxum {} is not OctetCount.StreamCount",
                            crate::quoted(v)
                        ),
                    ),
                }
            }
            for date in info.values("Bagging-Date") {
                if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                    f.warn(
                        "bag-info.txt",
                        Kind::BaggingDate,
                        format!(
                            "Bagging-Date {} is not a YYYY-MM-DD date",
                            crate::quoted(date)
                        ),
                    );
                }
            }
            report.bag_info = Some(info);
        }
    }

    // 3. fetch.txt (optional).
    let mut fetch_paths: BTreeMap<String, BagPath> = BTreeMap::new();
    if listed("fetch.txt") {
        if let Some(bytes) = read_tag("fetch.txt", &mut f, &mut errors) {
            let text = decode("fetch.txt", &bytes, &mut f);
            let (entries, line_errors, bad_paths) = parse_fetch(&text, version);
            for e in line_errors {
                f.problem(
                    format!("fetch.txt:{}", e.line),
                    Kind::FetchMalformed,
                    e.detail,
                );
            }
            for b in bad_paths {
                let kind = if b.problem.escapes() {
                    Kind::PathEscapesBag
                } else {
                    Kind::PathInvalid
                };
                f.problem(
                    format!("fetch.txt:{}", b.line),
                    kind,
                    format!("{}: {}; it was not used", crate::quoted(&b.text), b.problem),
                );
            }
            for e in entries {
                if !e.path.is_payload() {
                    f.problem(
                        format!("fetch.txt:{}", e.line),
                        Kind::PathOutsidePayload,
                        format!(
                            "{} is not under data/; fetch.txt may list payload files only",
                            e.path
                        ),
                    );
                    continue;
                }
                fetch_paths.insert(nfc(e.path.as_str()).into_owned(), e.path);
            }
        }
    }

    // 4. Fast mode: the oxum against what is on disk, and stop.
    if opts.mode == Mode::Fast {
        match oxum {
            Some((octets, streams)) => check_oxum(octets, streams, &report, &fetch_paths, &mut f),
            None => f.problem(
                "bag-info.txt",
                Kind::OxumMissing,
                "fast validation needs a Payload-Oxum in bag-info.txt; run a full validation",
            ),
        }
        return Ok(finish(report, f, errors));
    }

    // 5. The manifests present: payload manifests first, each list in name order.
    let mut manifest_files: Vec<(ManifestKind, String, Option<Algorithm>)> = Vec::new();
    for name in index.names.iter().filter(|n| !n.contains('/')) {
        let Some((kind, alg_name)) = ManifestKind::from_file_name(name) else {
            continue;
        };
        let alg = Algorithm::from_manifest_name(alg_name);
        if alg.is_none() {
            f.warn(
                name.as_str(),
                Kind::AlgorithmUnsupported,
                format!(
                    "algorithm {} is not one Cairn can verify; its digests are not checked",
                    crate::quoted(alg_name)
                ),
            );
        }
        manifest_files.push((kind, name.clone(), alg));
    }
    manifest_files.sort();
    let payload_manifests: Vec<(String, Option<Algorithm>)> = manifest_files
        .iter()
        .filter(|m| m.0 == ManifestKind::Payload)
        .map(|m| (m.1.clone(), m.2))
        .collect();
    if payload_manifests.is_empty() {
        f.problem(
            "manifest-*.txt",
            Kind::ManifestMissing,
            "the bag has no payload manifest; every bag needs at least one",
        );
    }
    report.algorithms = payload_manifests.iter().filter_map(|m| m.1).collect();
    let wanted = |alg: Algorithm| {
        opts.only_algorithms
            .as_ref()
            .is_none_or(|o| o.contains(&alg))
    };

    // 6. Completeness. Every manifest entry resolves to a listed file (compared in NFC,
    // RFC 8493 §6.1.1); the expectations gathered here drive the hashing below.
    let words = payload_manifests.len().div_ceil(64).max(1);
    let mut listed_in: Vec<u64> = vec![0; index.names.len() * words];
    let mut expect: Vec<Expectation> = Vec::new();
    let mut holes: BTreeSet<String> = BTreeSet::new();
    // For each fetch.txt path, the payload manifests that list it.
    let mut fetch_listed: BTreeMap<&str, Vec<bool>> = fetch_paths
        .keys()
        .map(|k| (k.as_str(), vec![false; payload_manifests.len()]))
        .collect();
    for (m_idx, (kind, file, alg)) in manifest_files.iter().enumerate() {
        let (kind, alg) = (*kind, *alg);
        let Some(bytes) = read_tag(file, &mut f, &mut errors) else {
            continue;
        };
        let text = decode_text(file, &bytes, encoding, strict, &mut f);
        let (entries, issues) = parse_manifest(&text, alg, version);
        drop(text);
        drop(bytes);
        for issue in issues {
            report_line_issue(file, issue, &mut f);
        }
        let payload_slot = payload_manifests.iter().position(|p| p.0 == *file);

        // The spellings each NFC form has in this manifest, needed only where some
        // path is not in NFC (two spellings of one name).
        let any_non_nfc = entries
            .iter()
            .any(|e| is_nfc_quick(e.path.as_str().chars()) != IsNormalized::Yes);
        let exact_in_manifest: HashSet<&str> = if any_non_nfc {
            entries.iter().map(|e| e.path.as_str()).collect()
        } else {
            HashSet::new()
        };
        let mut spellings: HashMap<Cow<'_, str>, usize> = HashMap::new();
        for p in &exact_in_manifest {
            *spellings.entry(nfc(p)).or_default() += 1;
        }

        let mut seen: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(entries.len());
        for (e_idx, e) in entries.iter().enumerate() {
            let loc = || format!("{file}:{}", e.line);
            match kind {
                ManifestKind::Payload if !e.path.is_payload() => {
                    f.problem(
                        loc(),
                        Kind::PathOutsidePayload,
                        format!(
                            "{} is not under data/; a payload manifest lists payload files only",
                            e.path
                        ),
                    );
                    continue;
                }
                ManifestKind::Tag if e.path.is_payload() => {
                    f.problem(
                        loc(),
                        Kind::PayloadInTagManifest,
                        format!(
                            "{} is a payload file; tag manifests list tag files only",
                            e.path
                        ),
                    );
                    continue;
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
                        Kind::TagManifestListsTagManifest,
                        format!(
                            "{} is a tag manifest; tag manifests must not list tag manifests",
                            e.path
                        ),
                    );
                    continue;
                }
                _ => {}
            }
            let key = nfc(e.path.as_str());
            if let Some(&first) = seen.get(&key) {
                let first = &entries[first];
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
                    if strict || !same {
                        f.problem(loc(), Kind::DuplicateEntry, detail);
                    } else {
                        f.warn(loc(), Kind::DuplicateEntry, detail);
                    }
                    continue;
                }
                f.warn(
                    loc(),
                    Kind::NormalizationCollision,
                    format!(
                        "{} (line {}) and {} (line {}) differ only in Unicode normalisation",
                        spelled(first.path.as_str()),
                        first.line,
                        spelled(e.path.as_str()),
                        e.line
                    ),
                );
            } else {
                seen.insert(key.clone(), e_idx);
            }
            // Resolve to a listed file: the exact name first; then the same name in
            // another normalisation form (one this manifest does not list exactly, so
            // two files that differ only in normalisation each keep their own entry);
            // then, for old bags only, the percent-decoded reading.
            let candidates = index.candidates(&key);
            let mut found = candidates
                .iter()
                .copied()
                .find(|&c| index.name(c) == e.path.as_str())
                .or_else(|| {
                    candidates
                        .iter()
                        .copied()
                        .find(|&c| !exact_in_manifest.contains(index.name(c)))
                        // One file listed under several spellings (warned about).
                        .or(candidates
                            .first()
                            .copied()
                            .filter(|_| spellings.get(&key) > Some(&1)))
                });
            if found.is_none() {
                if let Some(alt) = &e.decoded_alternative {
                    if let Some(&actual) = index.candidates(&nfc(alt.as_str())).first() {
                        f.warn(
                            loc(),
                            Kind::DecodedPath,
                            format!(
                                "{} names no file; its percent-decoded form {} does (BagIt {version} paths are not encoded; the bag was made by a tool that encoded them anyway)",
                                crate::quoted(e.path.as_str()),
                                crate::quoted(alt.as_str())
                            ),
                        );
                        found = Some(actual);
                    }
                }
            }
            match found {
                Some(actual) => {
                    if index.name(actual) != e.path.as_str() {
                        f.warn(
                            index.name(actual),
                            Kind::NormalizationMismatch,
                            format!(
                                "{file} lists {}; on disk the name is in another Unicode normalisation form",
                                spelled(e.path.as_str())
                            ),
                        );
                    }
                    if let Some(slot) = payload_slot {
                        listed_in[actual as usize * words + slot / 64] |= 1 << (slot % 64);
                    }
                    if let Some(alg) = alg.filter(|a| wanted(*a)) {
                        expect.push(Expectation {
                            file: actual,
                            alg,
                            digest: e.digest,
                            manifest: m_idx as u16,
                        });
                    }
                }
                None if kind == ManifestKind::Payload && fetch_paths.contains_key(key.as_ref()) => {
                    holes.insert(e.path.as_str().to_string());
                }
                None => {
                    if let (ManifestKind::Payload, Some(alg)) = (kind, alg) {
                        report
                            .missing_digests
                            .entry(e.path.as_str().to_string())
                            .or_default()
                            .push((alg, e.digest));
                    }
                    let (k, what) = match kind {
                        ManifestKind::Payload => (Kind::PayloadMissing, "payload file"),
                        ManifestKind::Tag => (Kind::TagMissing, "tag file"),
                    };
                    f.problem(
                        e.path.as_str(),
                        k,
                        format!("{what} listed in {file} (line {}) is missing", e.line),
                    );
                }
            }
        }
        if let Some(slot) = payload_slot {
            for (key, flags) in fetch_listed.iter_mut() {
                flags[slot] = seen.contains_key(*key);
            }
        }
        // Each tag manifest lists every payload manifest (RFC 8493 §2.2.1).
        if kind == ManifestKind::Tag {
            for (pm, _) in &payload_manifests {
                if !seen.contains_key(nfc(pm).as_ref()) {
                    f.strict(
                        strict,
                        file.as_str(),
                        Kind::TagManifestIncomplete,
                        format!("does not list the payload manifest {pm}"),
                    );
                }
            }
        }
    }
    for h in &holes {
        f.warn(
            h.as_str(),
            Kind::NotFetched,
            "listed in fetch.txt and not yet fetched: the bag is holey (incomplete until fetched)",
        );
    }
    report.holes = holes.len() as u64;
    for (key, flags) in &fetch_listed {
        for (slot, listed) in flags.iter().enumerate() {
            if !listed {
                f.problem(
                    fetch_paths[*key].as_str(),
                    Kind::FetchUnlisted,
                    format!(
                        "listed in fetch.txt but not in {}",
                        payload_manifests[slot].0
                    ),
                );
            }
        }
    }

    // Every payload file in every payload manifest (1.0); in at least one (older).
    if !payload_manifests.is_empty() {
        for p in index.payload() {
            let bits = &listed_in[p as usize * words..(p as usize + 1) * words];
            let missing: Vec<&str> = payload_manifests
                .iter()
                .enumerate()
                .filter(|(slot, _)| bits[slot / 64] & (1 << (slot % 64)) == 0)
                .map(|(_, m)| m.0.as_str())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let detail = format!("payload file is not listed in {}", missing.join(", "));
            if missing.len() == payload_manifests.len() {
                f.problem(index.name(p), Kind::PayloadUnlisted, detail);
            } else {
                f.strict(strict, index.name(p), Kind::PayloadUnlisted, detail);
            }
        }
    }
    drop(listed_in);

    if let Some((octets, streams)) = oxum {
        check_oxum(octets, streams, &report, &fetch_paths, &mut f);
    }

    // 7. Digests: each file read once for all its algorithms, files in parallel.
    if opts.mode == Mode::Full {
        let verifiable = payload_manifests.iter().any(|m| m.1.is_some_and(wanted));
        if !payload_manifests.is_empty() && !verifiable {
            f.problem(
                "manifest-*.txt",
                Kind::AlgorithmUnsupported,
                "no payload manifest uses an algorithm Cairn can verify, so no payload digest was checked",
            );
        }
        expect.sort_by_key(|x| x.file);
        let mut jobs: Vec<Range<usize>> = Vec::new();
        for (i, x) in expect.iter().enumerate() {
            match jobs.last_mut() {
                Some(r) if expect[r.start].file == x.file => r.end = i + 1,
                _ => jobs.push(i..i + 1),
            }
        }
        struct Checked {
            mismatches: Vec<(Algorithm, Digest, Digest, u16)>,
            digests: Option<Digests>,
            error: Option<io::Error>,
        }
        let keep = opts.keep_digests;
        // Progress counts payload files, and the bytes of everything read.
        let _pass = crate::progress::phase(
            "verify",
            jobs.iter()
                .filter(|r| index.name(expect[r.start].file).starts_with("data/"))
                .count() as u64,
            jobs.iter()
                .map(|r| index.sizes[expect[r.start].file as usize])
                .sum(),
        );
        let hash_one = |buf: &mut Vec<u8>, range: &Range<usize>| -> Checked {
            let wants = &expect[range.clone()];
            let path = index.name(wants[0].file);
            let mut algs: Vec<Algorithm> = wants.iter().map(|w| w.alg).collect();
            algs.sort();
            algs.dedup();
            let result = match tag_bytes.get(&wants[0].file) {
                Some(bytes) => crate::digest::hash_reader(&bytes[..], &algs, buf),
                None => source.hash(path, &algs, buf),
            };
            if path.starts_with("data/") {
                crate::progress::file_done();
            }
            match result {
                Ok(digests) => Checked {
                    mismatches: wants
                        .iter()
                        .filter_map(|w| {
                            let got = *digests.get(w.alg)?;
                            (got != w.digest).then_some((w.alg, w.digest, got, w.manifest))
                        })
                        .collect(),
                    digests: keep.then_some(digests),
                    error: None,
                },
                Err(e) => Checked {
                    mismatches: Vec::new(),
                    digests: None,
                    error: Some(e),
                },
            }
        };
        let results: Vec<Checked> = if source.parallel() {
            jobs.par_iter()
                .map_init(|| vec![0u8; BUF_SIZE], hash_one)
                .collect()
        } else {
            let mut buf = vec![0u8; BUF_SIZE];
            jobs.iter().map(|j| hash_one(&mut buf, j)).collect()
        };
        for (range, checked) in jobs.iter().zip(results) {
            let path = index.name(expect[range.start].file);
            if let Some(e) = checked.error {
                record_read_error(path, &e, &mut f, &mut errors);
                continue;
            }
            for (alg, want, got, m) in checked.mismatches {
                f.digest_mismatch(
                    path,
                    alg.name(),
                    want.to_hex(),
                    got.to_hex(),
                    &manifest_files[m as usize].1,
                );
            }
            if let Some(d) = checked.digests {
                report.computed.insert(path.to_string(), d.values);
            }
        }
    }
    Ok(finish(report, f, errors))
}

/// A name quoted for a message about Unicode normalisation: combining marks and
/// control characters are spelled `\u{…}`, so that two spellings of one name, which
/// look the same, read differently; every other letter is shown as it is.
fn spelled(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c.is_control() || unicode_normalization::char::is_combining_mark(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn check_oxum(
    octets: u64,
    streams: u64,
    report: &ValidateReport,
    fetch: &BTreeMap<String, BagPath>,
    f: &mut Findings,
) {
    if octets == report.bytes && streams == report.files {
        return;
    }
    let detail = format!(
        "Payload-Oxum says {octets} bytes in {streams} files; the payload has {} bytes in {} files",
        report.bytes, report.files
    );
    // A holey bag's oxum counts files not fetched yet.
    if !fetch.is_empty() && report.files < streams {
        f.warn(
            "bag-info.txt",
            Kind::OxumMismatch,
            detail + " (files listed in fetch.txt may be missing)",
        );
    } else {
        f.problem("bag-info.txt", Kind::OxumMismatch, detail);
    }
}

/// Interns the listing, reporting links, special files and names that are not UTF-8,
/// and warning about names that collide after normalisation or case folding.
fn index_entries(entries: Vec<SourceEntry>, f: &mut Findings) -> DiskIndex {
    let mut idx = DiskIndex {
        names: Vec::with_capacity(entries.len()),
        sizes: Vec::with_capacity(entries.len()),
        by_key: HashMap::with_capacity(entries.len()),
    };
    for e in entries {
        if !e.utf8 {
            f.problem(
                e.path.as_str(),
                Kind::NameNotUtf8,
                "the file name is not valid UTF-8, so no manifest can name it exactly",
            );
            continue;
        }
        match e.kind {
            EntryType::Symlink => {
                f.problem(
                    e.path.as_str(),
                    Kind::Symlink,
                    "symbolic link in the bag; links are reported, never followed",
                );
                continue;
            }
            EntryType::Special => {
                f.problem(
                    e.path.as_str(),
                    Kind::SpecialFile,
                    "a fifo, socket or device file cannot be part of a bag",
                );
                continue;
            }
            EntryType::File => {}
        }
        let i = idx.names.len() as Idx;
        let key: Box<str> = nfc(&e.path).into();
        match idx.by_key.get_mut(&key) {
            None => {
                idx.by_key.insert(key, Candidates::One(i));
            }
            Some(c) => {
                let mut all = c.as_slice().to_vec();
                all.push(i);
                *c = Candidates::Many(all);
            }
        }
        idx.names.push(e.path);
        idx.sizes.push(e.size);
    }
    for c in idx.by_key.values() {
        if let Candidates::Many(v) = c {
            let names: Vec<&str> = v.iter().map(|&i| idx.name(i)).collect();
            f.warn(
                names[0],
                Kind::NormalizationCollision,
                format!(
                    "these names differ only in Unicode normalisation: {}",
                    names
                        .iter()
                        .map(|n| spelled(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    // Case folding: only names with an upper-case letter need a folded copy.
    let mut folded: HashMap<Cow<'_, str>, BTreeSet<&str>> = HashMap::new();
    for key in idx.by_key.keys() {
        let k: &str = key;
        let fold = if k.chars().any(char::is_uppercase) {
            Cow::Owned(k.to_lowercase())
        } else {
            Cow::Borrowed(k)
        };
        folded.entry(fold).or_default().insert(k);
    }
    for names in folded.values().filter(|n| n.len() > 1) {
        f.warn(
            *names.iter().next().unwrap_or(&""),
            Kind::CaseCollision,
            format!(
                "these names differ only in case and collide on case-insensitive disks: {}",
                names
                    .iter()
                    .map(|n| crate::quoted(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    idx
}

fn report_line_issue(file: &str, issue: LineIssue, f: &mut Findings) {
    match issue {
        LineIssue::Malformed { line, detail } => {
            f.problem(format!("{file}:{line}"), Kind::ManifestMalformed, detail)
        }
        LineIssue::BadPath { line, text, problem } => {
            let kind = if problem.escapes() { Kind::PathEscapesBag } else { Kind::PathInvalid };
            f.problem(
                format!("{file}:{line}"),
                kind,
                format!("{}: {problem}; the path was not opened", crate::quoted(&text)),
            )
        }
        LineIssue::Md5sumMarker { line } => f.warn(
            format!("{file}:{line}"),
            Kind::Md5sumMarker,
            "md5sum binary-mode marker ` *` before the path; accepted, but the bag fails strict validation",
        ),
        LineIssue::DotSlash { line } => f.warn(
            format!("{file}:{line}"),
            Kind::DotSlashPrefix,
            "path starts with `./`; accepted, but the bag fails strict validation",
        ),
        LineIssue::Blank { line } => f.warn(format!("{file}:{line}"), Kind::BlankLine, "blank line ignored"),
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
            Kind::Unreadable,
            format!("cannot read: {e}"),
        ));
    } else {
        f.problem(path, Kind::Unreadable, format!("cannot read: {e}"));
    }
}

fn finish(mut report: ValidateReport, f: Findings, errors: Vec<Finding>) -> ValidateReport {
    report.problems = f.problems;
    report.warnings = f.warnings;
    report.errors = errors;
    report.valid = report.problems.is_empty() && report.errors.is_empty();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_folds_nfd() {
        assert_eq!(nfc("Nu\u{303}n\u{303}ez"), "N\u{169}\u{f1}ez");
        assert_eq!(nfc("e\u{301}"), "\u{e9}");
    }
}
