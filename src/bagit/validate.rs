//! Bag validation (RFC 8493 §3): structure, completeness, then every digest.
//!
//! Works on any [`BagSource`]; opens only what the source listed. Runs cheapest checks
//! first (declaration, tag files, Payload-Oxum, completeness both ways), then hashes.
//! Reports every problem, not the first one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;

use rayon::prelude::*;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::check::{Finding, Findings, Kind};
use super::manifest::{parse_manifest, LineIssue, ManifestEntry, ManifestKind};
use super::path::BagPath;
use super::source::{BagSource, EntryType, SourceEntry};
use super::tags::{
    decode_tag_file, parse_bag_info, parse_declaration, parse_declaration_leniently, parse_fetch,
    parse_oxum, BagInfo, TagEncoding,
};
use crate::digest::{Algorithm, Digest, BUF_SIZE};
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
    /// The digests computed, by bag path, for callers that record them (ingest).
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

    /// The digest a manifest gives for a payload file that is missing.
    pub fn manifest_digest(&self, path: &str, alg: Algorithm) -> Option<&Digest> {
        self.missing_digests
            .get(path)?
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, d)| d)
    }
}

/// What was learned about each listed file.
struct DiskIndex {
    /// NFC form of the path → the path as listed (more than one: a collision).
    files: HashMap<String, Vec<String>>,
    sizes: HashMap<String, u64>,
    payload: Vec<String>,
    tag: Vec<String>,
}

/// One digest a file must have: algorithm, expected value, and the manifest saying so.
type Expectation = (Algorithm, Digest, String);

fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Validates a bag.
pub fn validate(source: &dyn BagSource, opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    let mut f = Findings::default();
    let mut report = ValidateReport {
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
    };
    let mut errors: Vec<Finding> = Vec::new();
    let entries = source.list()?;
    let index = index_entries(&entries, &mut f);
    report.files = index.payload.len() as u64;
    report.bytes = index.payload.iter().map(|p| index.sizes[p]).sum();

    // Tag files read whole are kept, so their digests need no second read.
    let mut tag_bytes: HashMap<String, Vec<u8>> = HashMap::new();
    let mut read_tag =
        |path: &str, f: &mut Findings, errors: &mut Vec<Finding>| -> Option<Vec<u8>> {
            match source.read(path) {
                Ok(b) => {
                    tag_bytes.insert(path.to_string(), b.clone());
                    Some(b)
                }
                Err(e) => {
                    record_read_error(path, &e, f, errors);
                    None
                }
            }
        };

    // 1. The declaration. Without it nothing else can be interpreted.
    if !index.sizes.contains_key("bagit.txt") {
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

    let decode = |path: &str, bytes: &[u8], f: &mut Findings| -> String {
        let d = decode_tag_file(bytes, encoding);
        if let Some(p) = d.problem {
            f.strict(strict, path, Kind::TagFileEncoding, format!("{path} {p}"));
        }
        d.text.into_owned()
    };

    // 2. bag-info.txt (optional) and its Payload-Oxum.
    let mut oxum: Option<(u64, u64)> = None;
    if index.sizes.contains_key("bag-info.txt") {
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
                        format!("Payload-Oxum {v:?} is not OctetCount.StreamCount"),
                    ),
                }
            }
            for date in info.values("Bagging-Date") {
                if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                    f.warn(
                        "bag-info.txt",
                        Kind::BaggingDate,
                        format!("Bagging-Date {date:?} is not a YYYY-MM-DD date"),
                    );
                }
            }
            report.bag_info = Some(info);
        }
    }

    // 3. fetch.txt (optional).
    let mut fetch_paths: BTreeMap<String, BagPath> = BTreeMap::new();
    if index.sizes.contains_key("fetch.txt") {
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
                fetch_paths.insert(nfc(e.path.as_str()), e.path);
            }
        }
    }

    // 4. Fast mode: the oxum against what is on disk, and stop.
    if opts.mode == Mode::Fast {
        match oxum {
            Some((octets, streams)) => {
                check_oxum(octets, streams, &report, &fetch_paths, &mut f);
            }
            None => f.problem(
                "bag-info.txt",
                Kind::OxumMissing,
                "fast validation needs a Payload-Oxum in bag-info.txt; run a full validation",
            ),
        }
        return Ok(finish(report, f, errors));
    }

    // 5. Manifests: find, read, parse.
    struct Parsed {
        kind: ManifestKind,
        file: String,
        alg: Option<Algorithm>,
        entries: Vec<ManifestEntry>,
    }
    let mut manifests: Vec<Parsed> = Vec::new();
    for tag in &index.tag {
        if tag.contains('/') {
            continue;
        }
        let Some((kind, alg_name)) = ManifestKind::from_file_name(tag) else {
            continue;
        };
        let alg = Algorithm::from_manifest_name(alg_name);
        if alg.is_none() {
            f.warn(
                tag.as_str(),
                Kind::AlgorithmUnsupported,
                format!("algorithm {alg_name:?} is not one Cairn can verify; its digests are not checked"),
            );
        }
        let Some(bytes) = read_tag(tag, &mut f, &mut errors) else {
            continue;
        };
        let text = decode(tag, &bytes, &mut f);
        let (entries, issues) = parse_manifest(&text, alg, version);
        for issue in issues {
            report_line_issue(tag, issue, &mut f);
        }
        manifests.push(Parsed {
            kind,
            file: tag.clone(),
            alg,
            entries,
        });
    }
    manifests.sort_by(|a, b| (a.kind, &a.file).cmp(&(b.kind, &b.file)));
    let payload_manifests: Vec<&Parsed> = manifests
        .iter()
        .filter(|m| m.kind == ManifestKind::Payload)
        .collect();
    if payload_manifests.is_empty() {
        f.problem(
            "manifest-*.txt",
            Kind::ManifestMissing,
            "the bag has no payload manifest; every bag needs at least one",
        );
    }
    report.algorithms = payload_manifests.iter().filter_map(|m| m.alg).collect();

    // 6. Completeness. Every manifest entry resolves to a listed file (compared in NFC,
    // RFC 8493 §6.1.1); the expectations gathered here drive the hashing below.
    // file as listed → (algorithm, expected digest, manifest file)
    let mut expect: BTreeMap<String, Vec<Expectation>> = BTreeMap::new();
    // payload file as listed → manifests that list it
    let mut listed_in: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut holes: BTreeSet<String> = BTreeSet::new();
    for m in &manifests {
        let mut seen: HashMap<String, (String, Digest, usize)> = HashMap::new();
        let exact_in_manifest: std::collections::HashSet<&str> =
            m.entries.iter().map(|e| e.path.as_str()).collect();
        let mut spellings: HashMap<String, usize> = HashMap::new();
        for p in &exact_in_manifest {
            *spellings.entry(nfc(p)).or_default() += 1;
        }
        for e in &m.entries {
            let key = nfc(e.path.as_str());
            let loc = format!("{}:{}", m.file, e.line);
            match m.kind {
                ManifestKind::Payload if !e.path.is_payload() => {
                    f.problem(
                        loc,
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
                        loc,
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
                        loc,
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
            if let Some((first_path, first_digest, first_line)) = seen.get(&key) {
                if first_path == e.path.as_str() {
                    let same = *first_digest == e.digest;
                    let detail = format!(
                        "{} is listed twice (lines {first_line} and {}){}",
                        e.path,
                        e.line,
                        if same {
                            " with the same checksum"
                        } else {
                            " with different checksums"
                        }
                    );
                    if strict || !same {
                        f.problem(loc, Kind::DuplicateEntry, detail);
                    } else {
                        f.warn(loc, Kind::DuplicateEntry, detail);
                    }
                    continue;
                }
                f.warn(
                    loc.clone(),
                    Kind::NormalizationCollision,
                    format!(
                        "{:?} (line {first_line}) and {:?} (line {}) differ only in Unicode normalisation",
                        first_path, e.path.as_str(), e.line
                    ),
                );
            } else {
                seen.insert(
                    key.clone(),
                    (e.path.as_str().to_string(), e.digest.clone(), e.line),
                );
            }
            // Resolve to a listed file: the exact name first; then the same name in
            // another normalisation form (one this manifest does not list exactly, so two
            // files that differ only in normalisation each keep their own entry); then,
            // for old bags only, the percent-decoded reading.
            let mut found = index.files.get(&key).and_then(|candidates| {
                if candidates.iter().any(|c| c == e.path.as_str()) {
                    Some(e.path.as_str().to_string())
                } else {
                    candidates
                        .iter()
                        .find(|c| !exact_in_manifest.contains(c.as_str()))
                        // One file listed under several spellings (warned about).
                        .or(candidates
                            .first()
                            .filter(|_| spellings.get(&key) > Some(&1)))
                        .cloned()
                }
            });
            if found.is_none() {
                if let Some(alt) = &e.decoded_alternative {
                    if let Some(actual) =
                        index.files.get(&nfc(alt.as_str())).and_then(|v| v.first())
                    {
                        f.warn(
                            loc.clone(),
                            Kind::DecodedPath,
                            format!(
                                "{} names no file; its percent-decoded form {} does (BagIt {version} paths are not encoded; the bag was made by a tool that encoded them anyway)",
                                crate::quoted(e.path.as_str()), crate::quoted(alt.as_str())
                            ),
                        );
                        found = Some(actual.clone());
                    }
                }
            }
            match found {
                Some(actual) => {
                    if actual != e.path.as_str() {
                        f.warn(
                            actual.clone(),
                            Kind::NormalizationMismatch,
                            format!("{} lists {:?}; on disk the name is in another Unicode normalisation form", m.file, e.path.as_str()),
                        );
                    }
                    if m.kind == ManifestKind::Payload {
                        listed_in
                            .entry(actual.clone())
                            .or_default()
                            .insert(m.file.clone());
                    }
                    if let Some(alg) = m.alg {
                        if opts
                            .only_algorithms
                            .as_ref()
                            .is_none_or(|only| only.contains(&alg))
                        {
                            expect.entry(actual).or_default().push((
                                alg,
                                e.digest.clone(),
                                m.file.clone(),
                            ));
                        }
                    }
                }
                None if m.kind == ManifestKind::Payload && fetch_paths.contains_key(&key) => {
                    holes.insert(e.path.as_str().to_string());
                }
                None => {
                    if let (ManifestKind::Payload, Some(alg)) = (m.kind, m.alg) {
                        report
                            .missing_digests
                            .entry(e.path.as_str().to_string())
                            .or_default()
                            .push((alg, e.digest.clone()));
                    }
                    let (kind, what) = match m.kind {
                        ManifestKind::Payload => (Kind::PayloadMissing, "payload file"),
                        ManifestKind::Tag => (Kind::TagMissing, "tag file"),
                    };
                    f.problem(
                        e.path.as_str(),
                        kind,
                        format!("{what} listed in {} (line {}) is missing", m.file, e.line),
                    );
                }
            }
        }
        // Each tag manifest lists every payload manifest (RFC 8493 §2.2.1).
        if m.kind == ManifestKind::Tag {
            for pm in &payload_manifests {
                if !seen.contains_key(&nfc(&pm.file)) {
                    f.strict(
                        strict,
                        m.file.as_str(),
                        Kind::TagManifestIncomplete,
                        format!("does not list the payload manifest {}", pm.file),
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
    for (key, path) in &fetch_paths {
        for pm in &payload_manifests {
            if !pm.entries.iter().any(|e| nfc(e.path.as_str()) == *key) {
                f.problem(
                    path.as_str(),
                    Kind::FetchUnlisted,
                    format!("listed in fetch.txt but not in {}", pm.file),
                );
            }
        }
    }

    // Every payload file in every payload manifest (1.0); in at least one (older).
    let all_payload_manifests: BTreeSet<String> =
        payload_manifests.iter().map(|m| m.file.clone()).collect();
    if !payload_manifests.is_empty() {
        for p in &index.payload {
            let listed = listed_in.get(p);
            let missing: Vec<&String> = all_payload_manifests
                .iter()
                .filter(|m| listed.is_none_or(|l| !l.contains(*m)))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let names = missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if missing.len() == all_payload_manifests.len() {
                f.problem(
                    p.as_str(),
                    Kind::PayloadUnlisted,
                    format!("payload file is not listed in {names}"),
                );
            } else {
                f.strict(
                    strict,
                    p.as_str(),
                    Kind::PayloadUnlisted,
                    format!("payload file is not listed in {names}"),
                );
            }
        }
    }

    if let Some((octets, streams)) = oxum {
        check_oxum(octets, streams, &report, &fetch_paths, &mut f);
    }

    // 7. Digests.
    if opts.mode == Mode::Full {
        let verifiable = payload_manifests.iter().any(|m| {
            m.alg
                .is_some_and(|a| opts.only_algorithms.as_ref().is_none_or(|o| o.contains(&a)))
        });
        if !payload_manifests.is_empty() && !verifiable {
            f.problem(
                "manifest-*.txt",
                Kind::AlgorithmUnsupported,
                "no payload manifest uses an algorithm Cairn can verify, so no payload digest was checked",
            );
        }
        let jobs: Vec<(String, Vec<Expectation>)> = expect.into_iter().collect();
        let hash_one = |buf: &mut Vec<u8>, (path, wants): &(String, Vec<Expectation>)| {
            let algs: Vec<Algorithm> = wants.iter().map(|w| w.0).collect();
            let result = match tag_bytes.get(path) {
                Some(bytes) => crate::digest::hash_reader(&bytes[..], &algs, buf),
                None => source.hash(path, &algs, buf),
            };
            (path.clone(), result)
        };
        let results: Vec<(String, io::Result<crate::digest::Digests>)> = if source.parallel() {
            jobs.par_iter()
                .map_init(|| vec![0u8; BUF_SIZE], hash_one)
                .collect()
        } else {
            let mut buf = vec![0u8; BUF_SIZE];
            jobs.iter().map(|j| hash_one(&mut buf, j)).collect()
        };
        for ((path, wants), (_, result)) in jobs.iter().zip(results) {
            match result {
                Ok(digests) => {
                    for (alg, want, manifest) in wants {
                        if let Some(got) = digests.get(*alg) {
                            if got != want {
                                f.digest_mismatch(
                                    path,
                                    alg.name(),
                                    want.to_hex(),
                                    got.to_hex(),
                                    manifest,
                                );
                            }
                        }
                    }
                    report.computed.insert(path.clone(), digests.values);
                }
                Err(e) => record_read_error(path, &e, &mut f, &mut errors),
            }
        }
    }
    Ok(finish(report, f, errors))
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

fn index_entries(entries: &[SourceEntry], f: &mut Findings) -> DiskIndex {
    let mut idx = DiskIndex {
        files: HashMap::new(),
        sizes: HashMap::new(),
        payload: Vec::new(),
        tag: Vec::new(),
    };
    let mut folded: HashMap<String, Vec<String>> = HashMap::new();
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
        let key = nfc(&e.path);
        idx.files
            .entry(key.clone())
            .or_default()
            .push(e.path.clone());
        folded
            .entry(key.to_lowercase())
            .or_default()
            .push(e.path.clone());
        idx.sizes.insert(e.path.clone(), e.size);
        if e.path.starts_with("data/") {
            idx.payload.push(e.path.clone());
        } else {
            idx.tag.push(e.path.clone());
        }
    }
    for names in idx.files.values() {
        if names.len() > 1 {
            f.warn(
                names[0].as_str(),
                Kind::NormalizationCollision,
                format!("these names differ only in Unicode normalisation: {names:?}"),
            );
        }
    }
    for names in folded.values() {
        let distinct: BTreeSet<String> = names.iter().map(|n| nfc(n)).collect();
        if distinct.len() > 1 {
            f.warn(
                names[0].as_str(),
                Kind::CaseCollision,
                format!(
                    "these names differ only in case and collide on case-insensitive disks: {}",
                    distinct
                        .iter()
                        .map(|n| crate::quoted(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    idx.payload.sort();
    idx.tag.sort();
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
