//! The manifest stages: which manifests are present, then completeness: every
//! manifest entry resolves to a listed file (compared in NFC, RFC 8493 §6.1.1), every
//! payload file is listed, fetch.txt's holes are accounted for. The expectations
//! gathered here drive the digest stage.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use unicode_normalization::{is_nfc_quick, IsNormalized};

use super::super::finding::{FindingKind, Findings};
use super::super::manifest::{parse_line, LineIssue, ManifestKind};
use super::super::path::BagPath;
use super::super::tags::{lines, Version};
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

/// Where a manifest first listed a name (NFC form): its line number (0: not listed)
/// and the offset of that line in the manifest's text, where it is read again when
/// the name comes back (a duplicate), instead of keeping every entry.
#[derive(Clone, Copy, Default)]
struct Seen {
    line: u32,
    offset: usize,
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
/// Memory: a manifest's lines are parsed one at a time, never listed; what is kept per
/// line is its expectation and, per listed file, where the manifest first named it.
pub(super) fn completeness(
    run: &mut Run,
    decl: &Declaration,
    manifests: &Manifests,
    fetch_paths: &BTreeMap<String, BagPath>,
    opts: &ValidateOptions,
) -> Expected {
    let (manifest_files, payload_manifests) = (&manifests.files, &manifests.payload);
    let (version, strict) = (decl.version, decl.strict);
    let words = payload_manifests.len().div_ceil(64).max(1);
    let mut listed_in: Vec<u64> = vec![0; run.index.names.len() * words];
    let mut expect = Expected {
        list: Vec::new(),
        values: vec![Vec::new(); manifest_files.len()],
    };
    let mut holes: BTreeSet<String> = BTreeSet::new();
    // For each fetch.txt path, the payload manifests that list it.
    let mut fetch_listed: BTreeMap<&str, Vec<bool>> = fetch_paths
        .keys()
        .map(|k| (k.as_str(), vec![false; payload_manifests.len()]))
        .collect();
    // Per listed name (by its key id), where the current manifest first named it.
    let mut seen_listed: Vec<Seen> = Vec::new();
    for (m_idx, (kind, file, alg)) in manifest_files.iter().enumerate() {
        let (kind, alg) = (*kind, *alg);
        let Some(bytes) = run.read_tag(file) else {
            continue;
        };
        let text = decl.decode(file, &bytes, &mut run.f);
        let payload_slot = payload_manifests.iter().position(|p| p.0 == *file);
        // Only a full validation verifies digests; the others need no expectations
        // (bag create's read-back of a million files: 120 MB less).
        let verifying = opts.mode == Mode::Full;
        let expecting = alg.filter(|a| verifying && wanted(opts, *a));
        if let Some(alg) = expecting {
            let lines_hint = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
            expect.list.reserve_exact(lines_hint);
            expect.values[m_idx].reserve_exact(lines_hint * alg.digest_len());
        }
        seen_listed.clear();
        seen_listed.resize(run.index.names.len(), Seen::default());
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
            spellings_listed(&text, alg, version)
        };
        let mut spellings: HashMap<Cow<'_, str>, usize> = HashMap::new();
        for p in &exact_in_manifest {
            *spellings.entry(nfc(p)).or_default() += 1;
        }

        for (n, (offset, line)) in lines(&text).enumerate() {
            let Some(e) = parse_line(line, n + 1, alg, version, &mut issues) else {
                continue;
            };
            let loc = || format!("{file}:{}", e.line);
            match kind {
                ManifestKind::Payload if !e.path.is_payload() => {
                    run.f.problem(
                        loc(),
                        FindingKind::PathOutsidePayload,
                        format!(
                            "{} is not under data/; a payload manifest lists payload files only",
                            e.path
                        ),
                    );
                    continue;
                }
                ManifestKind::Tag if e.path.is_payload() => {
                    run.f.problem(
                        loc(),
                        FindingKind::PayloadInTagManifest,
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
                    run.f.warn(
                        loc(),
                        FindingKind::TagManifestListsTagManifest,
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
            let candidates = run.index.candidates(&key);
            let here = Seen {
                line: e.line as u32,
                offset,
            };
            let earlier = match candidates.first() {
                Some(&k) => {
                    let slot = &mut seen_listed[k as usize];
                    let was = *slot;
                    if was.line == 0 {
                        *slot = here;
                    }
                    was
                }
                None => match seen_unlisted.get(key.as_ref()) {
                    Some(was) => *was,
                    None => {
                        seen_unlisted.insert(key.to_string(), here);
                        Seen::default()
                    }
                },
            };
            // The entry that first named this form, read again from its line.
            let first = (earlier.line != 0)
                .then(|| {
                    let (_, l) = lines(&text[earlier.offset..]).next()?;
                    parse_line(l, earlier.line as usize, alg, version, &mut Vec::new())
                })
                .flatten();
            if let Some(first) = &first {
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
                        run.f.problem(loc(), FindingKind::DuplicateEntry, detail);
                    } else {
                        run.f.warn(loc(), FindingKind::DuplicateEntry, detail);
                    }
                    continue;
                }
                run.f.warn(
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
            }
            // Resolve to a listed file: the exact name first; then the same name in
            // another normalisation form (one this manifest does not list exactly, so
            // two files that differ only in normalisation each keep their own entry);
            // then, for old bags only, the percent-decoded reading.
            let mut found = candidates
                .iter()
                .copied()
                .find(|&c| run.index.name(c) == e.path.as_str())
                .or_else(|| {
                    candidates
                        .iter()
                        .copied()
                        .find(|&c| !exact_in_manifest.contains(run.index.name(c)))
                        // One file listed under several spellings (warned about).
                        .or(candidates
                            .first()
                            .copied()
                            .filter(|_| spellings.get(&key) > Some(&1)))
                });
            if found.is_none() {
                if let Some(alt) = &e.decoded_alternative {
                    if let Some(&actual) = run.index.candidates(&nfc(alt.as_str())).first() {
                        run.f.warn(
                            loc(),
                            FindingKind::DecodedPath,
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
                    if let Some(slot) = payload_slot {
                        listed_in[actual as usize * words + slot / 64] |= 1 << (slot % 64);
                    }
                    if let Some(alg) = expecting {
                        expect.push(actual, m_idx, alg, &e.digest);
                    }
                }
                None if kind == ManifestKind::Payload && fetch_paths.contains_key(key.as_ref()) => {
                    holes.insert(e.path.as_str().to_string());
                }
                None => {
                    if let (ManifestKind::Payload, Some(alg)) = (kind, alg) {
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
        let named = |key: &str| match run.index.candidates(key).first() {
            Some(&k) => seen_listed[k as usize].line != 0,
            None => seen_unlisted.contains_key(key),
        };
        if let Some(slot) = payload_slot {
            for (key, flags) in fetch_listed.iter_mut() {
                flags[slot] = named(key);
            }
        }
        // Each tag manifest lists every payload manifest (RFC 8493 §2.2.1).
        if kind == ManifestKind::Tag {
            for (pm, _) in payload_manifests.iter() {
                if !named(nfc(pm).as_ref()) {
                    run.f.strict(
                        strict,
                        file.as_str(),
                        FindingKind::TagManifestIncomplete,
                        format!("does not list the payload manifest {pm}"),
                    );
                }
            }
        }
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
    for h in &holes {
        run.f.warn(
            h.as_str(),
            FindingKind::NotFetched,
            "listed in fetch.txt and not yet fetched: the bag is holey (incomplete until fetched)",
        );
    }
    run.report.holes = holes.len() as u64;
    for (key, flags) in &fetch_listed {
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

    // Every payload file in every payload manifest (1.0); in at least one (older).
    if !payload_manifests.is_empty() {
        for p in run.index.payload() {
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
    expect
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

fn report_line_issue(file: &str, issue: LineIssue, f: &mut Findings) {
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
