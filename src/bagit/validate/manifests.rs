//! The manifest stages: which manifests are present, then completeness: every
//! manifest entry resolves to a listed file (compared in NFC, RFC 8493 §6.1.1), every
//! payload file is listed, fetch.txt's holes are accounted for. The expectations
//! gathered here drive the digest stage. Each line's own checks are in `entries.rs`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use unicode_normalization::{is_nfc_quick, IsNormalized};

use super::super::finding::{FindingKind, Findings};
use super::super::manifest::{parse_line, LineIssue, ManifestEntry, ManifestKind};
use super::super::path::BagPath;
use super::super::tags::{lines, Version};
use super::entries::{
    first_named, in_its_part, repeated, report_line_issue, resolve, Manifest, Reading, Seen,
};
use super::index::{nfc, spelled, Idx};
use super::tags::Declaration;
use super::{Mode, Run, ValidateOptions};
use crate::digest::{Algorithm, Digest};

/// One digest a file must have: which file, the algorithm, which manifest says so,
/// and where that manifest's expected value sits in [`Expected`]. 12 bytes: a million
/// files in two manifests need 24 MB here, and the values themselves packed.
#[derive(Clone, Copy)]
pub(super) struct Expectation {
    pub(super) file: Idx,
    pub(super) manifest: u16,
    pub(super) alg: Algorithm,
    at: u32,
}

/// What each listed file must hash to: the expectations, and the expected values of
/// each manifest packed end to end (a digest's bytes, not a 65-byte [`Digest`]).
pub(super) struct Expected {
    pub(super) list: Vec<Expectation>,
    values: Vec<Vec<u8>>,
}

impl Expected {
    /// The value a manifest expects (pushed with the expectation, so always there; the
    /// empty digest, which matches nothing, if it were not).
    pub(super) fn digest(&self, x: &Expectation) -> Digest {
        let len = x.alg.digest_len();
        let at = x.at as usize * len;
        self.values
            .get(x.manifest as usize)
            .and_then(|v| v.get(at..at + len))
            .and_then(Digest::from_bytes)
            .unwrap_or_default()
    }

    fn push(&mut self, file: Idx, manifest: usize, alg: Algorithm, digest: &Digest) {
        let values = &mut self.values[manifest];
        let at = (values.len() / alg.digest_len()) as u32;
        values.extend_from_slice(digest.as_bytes());
        self.list.push(Expectation {
            file,
            manifest: manifest as u16,
            alg,
            at,
        });
    }
}

/// The manifests present: payload manifests first, each list in name order.
pub(super) struct Manifests {
    /// Every manifest: kind, file name, algorithm (when Cairn supports it).
    pub(super) files: Vec<(ManifestKind, String, Option<Algorithm>)>,
    /// The payload manifests alone: file name, algorithm.
    pub(super) payload: Vec<(String, Option<Algorithm>)>,
}

/// Whether the options ask for this algorithm's digests to be verified.
pub(super) fn wanted(opts: &ValidateOptions, alg: Algorithm) -> bool {
    opts.only_algorithms
        .as_ref()
        .is_none_or(|o| o.contains(&alg))
}

/// Finds the manifests (warning about algorithms Cairn cannot verify); a bag needs at
/// least one payload manifest. The supported payload algorithms go into the report.
pub(super) fn present(run: &mut Run) -> Manifests {
    let mut manifest_files: Vec<(ManifestKind, String, Option<Algorithm>)> = Vec::new();
    for name in run.index.names.iter().filter(|n| !n.contains('/')) {
        let Some((kind, alg_name)) = ManifestKind::from_file_name(name) else {
            continue;
        };
        let alg = Algorithm::from_manifest_name(alg_name);
        if alg.is_none() {
            run.f.warn(
                name.as_str(),
                FindingKind::AlgorithmUnsupported,
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
        run.f.problem(
            "manifest-*.txt",
            FindingKind::ManifestMissing,
            "the bag has no payload manifest; every bag needs at least one",
        );
    }
    run.report.algorithms = payload_manifests.iter().filter_map(|m| m.1).collect();
    Manifests {
        files: manifest_files,
        payload: payload_manifests,
    }
}

/// Reads every manifest in turn and resolves its entries against the listing; returns
/// what each listed file must hash to.
///
/// The stages, in the order of RFC 8493 §3 (a complete bag): every manifest's entries
/// resolve to files that are present, or to holes fetch.txt accounts for
/// ([`read_manifest`], one manifest at a time); the holes ([`report_holes`]); every
/// fetch.txt path is in every payload manifest ([`fetch_paths_listed`], §2.2.3); every
/// payload file is in the payload manifests ([`payload_files_listed`]).
///
/// Memory: a manifest's lines are parsed one at a time, never listed; what is kept per
/// line is its expectation and, per listed file, where the manifest first named it.
pub(super) fn completeness(
    run: &mut Run,
    decl: &Declaration,
    manifests: &Manifests,
    fetch_paths: &BTreeMap<String, BagPath>,
    opts: &ValidateOptions,
) -> Expected {
    let mut tally = Tally::new(run.index.names.len(), manifests, fetch_paths);
    for (idx, (kind, file, alg)) in manifests.files.iter().enumerate() {
        let Some(bytes) = run.read_tag(file) else {
            continue;
        };
        let text = decl.decode(file, &bytes, &mut run.f);
        let manifest = Manifest {
            idx,
            kind: *kind,
            file,
            alg: *alg,
        };
        read_manifest(run, &mut tally, decl, manifests, opts, manifest, &text);
    }
    report_holes(run, &tally.holes);
    fetch_paths_listed(run, &tally.fetch_listed, fetch_paths, &manifests.payload);
    payload_files_listed(run, &tally, &manifests.payload, decl.strict);
    tally.expect
}

/// What the manifests said, gathered as they are read.
struct Tally<'a> {
    /// The `u64`s of [`Tally::listed_in`] a file takes: a bit per payload manifest.
    words: usize,
    /// Per listed file, which payload manifests list it.
    listed_in: Vec<u64>,
    expect: Expected,
    /// Payload entries that name no file but a fetch.txt path.
    holes: BTreeSet<String>,
    /// For each fetch.txt path, the payload manifests that list it.
    fetch_listed: BTreeMap<&'a str, Vec<bool>>,
    /// Per listed name (by its key id), where the current manifest first named it.
    seen_listed: Vec<Seen>,
}

impl<'a> Tally<'a> {
    fn new(
        files: usize,
        manifests: &Manifests,
        fetch_paths: &'a BTreeMap<String, BagPath>,
    ) -> Self {
        let words = manifests.payload.len().div_ceil(64).max(1);
        Tally {
            words,
            listed_in: vec![0; files * words],
            expect: Expected {
                list: Vec::new(),
                values: vec![Vec::new(); manifests.files.len()],
            },
            holes: BTreeSet::new(),
            fetch_listed: fetch_paths
                .keys()
                .map(|k| (k.as_str(), vec![false; manifests.payload.len()]))
                .collect(),
            seen_listed: Vec::new(),
        }
    }
}

/// One manifest (RFC 8493 §2.1.3, §2.2.1): its lines parsed one at a time, each entry
/// checked ([`read_entry`]); then the fetch.txt paths and payload manifests it names
/// ([`names_listed`]); then its line issues, put before what its entries showed.
fn read_manifest(
    run: &mut Run,
    t: &mut Tally,
    decl: &Declaration,
    manifests: &Manifests,
    opts: &ValidateOptions,
    m: Manifest,
    text: &str,
) {
    let payload_slot = manifests.payload.iter().position(|p| p.0 == m.file);
    // Only a full validation verifies digests; the others need no expectations
    // (bag create's read-back of a million files: 120 MB less).
    let verifying = opts.mode == Mode::Full;
    let expecting = m.alg.filter(|a| verifying && wanted(opts, *a));
    if let Some(alg) = expecting {
        let lines_hint = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        t.expect.list.reserve_exact(lines_hint);
        t.expect.values[m.idx].reserve_exact(lines_hint * alg.digest_len());
    }
    t.seen_listed.clear();
    t.seen_listed.resize(run.index.names.len(), Seen::default());
    // Names not on disk (missing files, holes), by NFC form.
    let mut seen_unlisted: HashMap<String, Seen> = HashMap::new();
    // The line issues, reported before what the entries show, as they were found.
    let marks = (run.f.problems.len(), run.f.warnings.len());
    let mut issues = Vec::new();

    // The spellings each NFC form has in this manifest, needed only where some
    // path is not in NFC (two spellings of one name): only a manifest that is not
    // ASCII can have one.
    let exact_in_manifest = if text.is_ascii() {
        HashSet::new()
    } else {
        spellings_listed(text, m.alg, decl.version)
    };
    let mut spellings: HashMap<Cow<'_, str>, usize> = HashMap::new();
    for p in &exact_in_manifest {
        *spellings.entry(nfc(p)).or_default() += 1;
    }
    let r = Reading {
        m,
        text,
        version: decl.version,
        strict: decl.strict,
        payload_slot,
        expecting,
        exact: &exact_in_manifest,
        spellings: &spellings,
    };

    for (n, (offset, line)) in lines(text).enumerate() {
        let Some(e) = parse_line(line, n + 1, m.alg, decl.version, &mut issues) else {
            continue;
        };
        read_entry(run, t, &r, &mut seen_unlisted, &e, offset);
    }
    names_listed(run, t, &r, &seen_unlisted, &manifests.payload);
    line_issues_first(run, m.file, issues, marks);
}

/// One entry, its checks in order: it lists a file of its manifest's part of the bag
/// ([`in_its_part`]); it is the first entry for its name ([`first_named`],
/// [`repeated`]); it names a file that is present ([`resolve`]); what it says is
/// recorded ([`record`]).
fn read_entry(
    run: &mut Run,
    t: &mut Tally,
    r: &Reading,
    seen_unlisted: &mut HashMap<String, Seen>,
    e: &ManifestEntry,
    offset: usize,
) {
    if !in_its_part(&mut run.f, r, e) {
        return;
    }
    let key = nfc(e.path.as_str());
    let candidates = run.index.candidates(&key);
    let here = Seen {
        line: e.line as u32,
        offset,
    };
    let earlier = first_named(candidates, &mut t.seen_listed, seen_unlisted, &key, here);
    if repeated(&mut run.f, r, e, earlier) {
        return;
    }
    let found = resolve(&mut run.f, &run.index, r, e, &key, candidates);
    record(run, t, r, e, &key, found);
}

/// What a resolved entry says: the file is listed (in this payload manifest) and must
/// hash to the entry's digest. An entry that names no file is a hole when fetch.txt
/// lists it (RFC 8493 §2.2.3), else a missing file (§3).
fn record(
    run: &mut Run,
    t: &mut Tally,
    r: &Reading,
    e: &ManifestEntry,
    key: &str,
    found: Option<Idx>,
) {
    let (kind, file) = (r.m.kind, r.m.file);
    match found {
        Some(actual) => {
            if run.index.name(actual) != e.path.as_str() {
                run.f.warn(
                    run.index.name(actual),
                    FindingKind::NormalizationMismatch,
                    format!(
                        "{file} lists {}; on disk the name is in another Unicode normalisation form",
                        spelled(e.path.as_str())
                    ),
                );
            }
            if let Some(slot) = r.payload_slot {
                t.listed_in[actual as usize * t.words + slot / 64] |= 1 << (slot % 64);
            }
            if let Some(alg) = r.expecting {
                t.expect.push(actual, r.m.idx, alg, &e.digest);
            }
        }
        None if kind == ManifestKind::Payload && t.fetch_listed.contains_key(key) => {
            t.holes.insert(e.path.as_str().to_string());
        }
        None => {
            if let (ManifestKind::Payload, Some(alg)) = (kind, r.m.alg) {
                run.report
                    .missing_digests
                    .entry(e.path.as_str().to_string())
                    .or_default()
                    .push((alg, e.digest));
            }
            let (k, what) = match kind {
                ManifestKind::Payload => (FindingKind::PayloadMissing, "payload file"),
                ManifestKind::Tag => (FindingKind::TagMissing, "tag file"),
            };
            run.f.problem(
                e.path.as_str(),
                k,
                format!("{what} listed in {file} (line {}) is missing", e.line),
            );
        }
    }
}

/// After a manifest's entries: the fetch.txt paths a payload manifest names, and,
/// for a tag manifest, that it lists every payload manifest (RFC 8493 §2.2.1).
fn names_listed(
    run: &mut Run,
    t: &mut Tally,
    r: &Reading,
    seen_unlisted: &HashMap<String, Seen>,
    payload_manifests: &[(String, Option<Algorithm>)],
) {
    let seen_listed = &t.seen_listed;
    let index = &run.index;
    let named = |key: &str| match index.candidates(key).first() {
        Some(&k) => seen_listed[k as usize].line != 0,
        None => seen_unlisted.contains_key(key),
    };
    if let Some(slot) = r.payload_slot {
        for (key, flags) in t.fetch_listed.iter_mut() {
            flags[slot] = named(key);
        }
    }
    if r.m.kind == ManifestKind::Tag {
        for (pm, _) in payload_manifests.iter() {
            if !named(nfc(pm).as_ref()) {
                run.f.strict(
                    r.strict,
                    r.m.file,
                    FindingKind::TagManifestIncomplete,
                    format!("does not list the payload manifest {pm}"),
                );
            }
        }
    }
}

/// A manifest's line issues (malformed lines, bad paths), put before the findings its
/// entries gave (`marks`: where those begin), in the order they were found.
fn line_issues_first(run: &mut Run, file: &str, issues: Vec<LineIssue>, marks: (usize, usize)) {
    let mut found_in_lines = Findings::default();
    for issue in issues {
        report_line_issue(file, issue, &mut found_in_lines);
    }
    run.f
        .problems
        .splice(marks.0..marks.0, found_in_lines.problems);
    run.f
        .warnings
        .splice(marks.1..marks.1, found_in_lines.warnings);
}

/// The payload entries that named a fetch.txt path rather than a file: the bag is
/// holey (RFC 8493 §2.2.3), a warning each.
fn report_holes(run: &mut Run, holes: &BTreeSet<String>) {
    for h in holes {
        run.f.warn(
            h.as_str(),
            FindingKind::NotFetched,
            "listed in fetch.txt and not yet fetched: the bag is holey (incomplete until fetched)",
        );
    }
    run.report.holes = holes.len() as u64;
}

/// Every fetch.txt path is in every payload manifest (RFC 8493 §2.2.3).
fn fetch_paths_listed(
    run: &mut Run,
    fetch_listed: &BTreeMap<&str, Vec<bool>>,
    fetch_paths: &BTreeMap<String, BagPath>,
    payload_manifests: &[(String, Option<Algorithm>)],
) {
    for (key, flags) in fetch_listed {
        for (slot, listed) in flags.iter().enumerate() {
            if !listed {
                run.f.problem(
                    fetch_paths[*key].as_str(),
                    FindingKind::FetchUnlisted,
                    format!(
                        "listed in fetch.txt but not in {}",
                        payload_manifests[slot].0
                    ),
                );
            }
        }
    }
}

/// Every payload file in every payload manifest (1.0); in at least one (older)
/// (RFC 8493 §3).
fn payload_files_listed(
    run: &mut Run,
    t: &Tally,
    payload_manifests: &[(String, Option<Algorithm>)],
    strict: bool,
) {
    if payload_manifests.is_empty() {
        return;
    }
    let words = t.words;
    for p in run.index.payload() {
        let bits = &t.listed_in[p as usize * words..(p as usize + 1) * words];
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
            run.f
                .problem(run.index.name(p), FindingKind::PayloadUnlisted, detail);
        } else {
            run.f.strict(
                strict,
                run.index.name(p),
                FindingKind::PayloadUnlisted,
                detail,
            );
        }
    }
}

/// Every path a manifest lists, as listed, when some path is not in NFC (else none:
/// the spellings matter only then). Two passes over the lines, and a set only for the
/// rare manifest that needs it.
fn spellings_listed(text: &str, alg: Option<Algorithm>, version: Version) -> HashSet<String> {
    let entries = || {
        lines(text)
            .enumerate()
            .filter_map(move |(n, (_, l))| parse_line(l, n + 1, alg, version, &mut Vec::new()))
    };
    let any_non_nfc = entries().any(|e| is_nfc_quick(e.path.as_str().chars()) != IsNormalized::Yes);
    if !any_non_nfc {
        return HashSet::new();
    }
    entries().map(|e| e.path.as_str().to_string()).collect()
}
