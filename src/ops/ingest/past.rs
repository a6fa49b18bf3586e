//! The archive's past, as ingest and import look it up: every payload the archive has
//! held (current items, kept versions, withdrawn items, quarantined or purged), and
//! every identifier it has given, folded for comparison (docs/ingest.md, "What ingest
//! refuses").
//!
//! Built once per run by reading each register entry (manifests/ID.json), each
//! superseded entry (manifests/history/ID/N.json) and each tombstone
//! (manifests/withdrawn/ID.json) once, one at a time; each intake item or imported bag
//! is then a few hash-map lookups. What is kept per item version is its payload set's
//! fingerprint (32 bytes per algorithm), where it came from, and its intake name and
//! Payload-Oxum; per purged payload file, its digests. Memory: about 1 KB per item
//! version with the maps' overhead (measured: 21 MB at 20,000 entries) plus about 150
//! bytes per purged file; time: one parse of every entry, history entry and tombstone
//! per run, nothing per item but hashing the item's own files (docs/ingest.md).
//!
//! What "matches" means:
//! - the item's payload set (the multiset of its files' contents, by digest, paths
//!   ignored) equals the payload set of a current item, of any version an entry of the
//!   history describes (kept by `revise`, or the last before a withdrawal), or of a
//!   withdrawn item's tombstone; compared under each algorithm both recorded;
//! - or any one non-empty file of it equals by digest a file of a purged item: purged
//!   content never comes back, not even one file of it.
//!
//! A "rerun" (the intake item kept after an earlier ingest) is the same intake name
//! with the same paths and the same digests as one of the item's recorded versions: it
//! is already archived when that item is still in the archive, and refused as a match
//! when it was withdrawn.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::lifecycle::{Tombstone, HISTORY_DIR};
use crate::fs::register::RegisterEntry;
use crate::metadata::Term;

/// One version of an item the archive holds or held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: String,
    /// The content version (1 unless revised; 0 for a tombstone, which records none).
    pub version: u32,
    /// The item's current version (in archive/ID now).
    pub current: bool,
    /// When it was withdrawn (the date) and how (`quarantined`, `purged`).
    pub withdrawn: Option<(String, String)>,
}

impl Known {
    /// "cairn-000001", "version 1 of cairn-000001 (revised since)", "cairn-000001,
    /// withdrawn 2026-12-07, purged".
    pub fn describe(&self) -> String {
        match (&self.withdrawn, self.current) {
            (Some((date, how)), _) => format!("{}, withdrawn {date}, {how}", self.id),
            (None, true) => self.id.clone(),
            (None, false) => format!(
                "version {} of {} (kept; the item was revised since)",
                self.version, self.id
            ),
        }
    }

    /// The link an admitted duplicate's ingestion event records.
    pub fn to_json(&self) -> serde_json::Value {
        let state = match (&self.withdrawn, self.current) {
            (Some((_, how)), _) => format!("withdrawn, {how}"),
            (None, true) => "current".to_string(),
            (None, false) => "kept version".to_string(),
        };
        let mut link = serde_json::json!({ "id": self.id, "state": state });
        if self.version > 0 {
            link["version"] = self.version.into();
        }
        link
    }
}

/// Where an entry version can be read again (for the rerun check's file-by-file
/// comparison).
#[derive(Debug, Clone, Copy)]
enum EntryAt {
    Current,
    History(u32),
}

/// The index: see the module comment.
#[derive(Default)]
pub struct Past {
    known: Vec<Known>,
    /// Payload-set fingerprint → the versions with that payload.
    sets: HashMap<[u8; 32], Vec<usize>>,
    /// Each non-empty file of a purged item → (the purged item, its bag path).
    purged: HashMap<(Algorithm, Digest), (usize, String)>,
    /// (intake name, Payload-Oxum) → the versions recorded with them, and where their
    /// entry is.
    by_intake: HashMap<(String, String), Vec<(usize, EntryAt)>>,
    /// Every identifier given (folder names and dc.identifier values), folded
    /// ([`fold`]) → as it was given.
    folded: HashMap<String, String>,
    /// (identifier, version) → its index in `known` (entry versions that share a
    /// content version, after an amend, are one known version).
    versions: HashMap<(String, u32), usize>,
}

/// A match of an item with the archive's past.
#[derive(Debug, Clone)]
pub struct Match {
    pub known: Known,
    /// For a purged file: the item's file and the purged item's file it equals.
    pub file: Option<(String, String)>,
}

impl Match {
    pub fn describe(&self) -> String {
        match &self.file {
            None => format!("matches {}", self.known.describe()),
            Some((ours, theirs)) => format!(
                "its file {ours} matches {theirs} of {}",
                self.known.describe()
            ),
        }
    }
}

/// Identifiers compared as a person or a case-insensitive file system would: NFKC,
/// lower case, NFKC again (close to Unicode's NFKC_Casefold).
pub fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let once: String = s.nfkc().collect::<String>().to_lowercase();
    once.nfkc().collect()
}

/// The fingerprint of a payload set under one algorithm: every file's digest under it,
/// sorted, hashed; `None` when a file lacks that algorithm.
fn fingerprint<'a>(
    alg: Algorithm,
    files: impl Iterator<Item = Option<&'a Digest>>,
) -> Option<[u8; 32]> {
    let mut digests: Vec<&[u8]> = Vec::new();
    for d in files {
        digests.push(d?.as_bytes());
    }
    if digests.is_empty() {
        return None;
    }
    digests.sort_unstable();
    let mut h = blake3::Hasher::new();
    h.update(b"cairn payload set\0");
    h.update(alg.name().as_bytes());
    h.update(&(digests.len() as u64).to_le_bytes());
    for d in digests {
        h.update(&[d.len() as u8]);
        h.update(d);
    }
    Some(*h.finalize().as_bytes())
}

/// The fingerprints of a payload (each file's digests), one per algorithm every file has.
fn fingerprints(files: &[&[(Algorithm, Digest)]]) -> Vec<[u8; 32]> {
    Algorithm::ALL
        .iter()
        .filter_map(|&alg| {
            fingerprint(
                alg,
                files
                    .iter()
                    .map(|f| f.iter().find(|(a, _)| *a == alg).map(|(_, d)| d)),
            )
        })
        .collect()
}

/// The digest of no bytes, under `alg`: an empty file matches nothing.
fn empty_digest(alg: Algorithm) -> Option<Digest> {
    let mut buf = [0u8; 16];
    crate::digest::hash_reader(std::io::empty(), &[alg], &mut buf)
        .ok()
        .and_then(|d| d.get(alg).copied())
}

impl Past {
    /// Reads the register, its history and the tombstones once.
    pub fn load(archive: &Archive) -> Result<Past, Error> {
        let mut past = Past::default();
        let mut withdrawn: BTreeMap<String, (String, String)> = BTreeMap::new();
        let empties: Vec<(Algorithm, Digest)> = Algorithm::ALL
            .iter()
            .filter_map(|&a| empty_digest(a).map(|d| (a, d)))
            .collect();
        for id in archive.withdrawn_ids()? {
            let t = Tombstone::read(&archive.tombstone_path(&id))?;
            let date = t.withdrawn.get(..10).unwrap_or(&t.withdrawn).to_string();
            let how = t.disposition.clone();
            withdrawn.insert(id.clone(), (date.clone(), how.clone()));
            let version = past.add_known(Known {
                id: id.clone(),
                version: 0,
                current: false,
                withdrawn: Some((date, how)),
            });
            let files: Vec<Vec<(Algorithm, Digest)>> = t
                .files
                .values()
                .map(|m| m.iter().copied().collect())
                .collect();
            let refs: Vec<&[(Algorithm, Digest)]> = files.iter().map(Vec::as_slice).collect();
            past.add_sets(version, &refs);
            if t.disposition == "purged" {
                for (path, digests) in &t.files {
                    for &(alg, d) in digests.iter() {
                        if !empties.contains(&(alg, d)) {
                            past.purged.insert((alg, d), (version, path.clone()));
                        }
                    }
                }
            }
            past.add_identifiers(&id, &t.dublin_core);
        }
        // Tombstones carry no content version: take it from the last history entry.
        let mut current_version: HashMap<String, u32> = HashMap::new();
        for id in archive.register_ids()? {
            let entry = RegisterEntry::read(&archive.register_path(&id))?;
            current_version.insert(id.clone(), entry.version);
            past.add_entry(&entry, EntryAt::Current, true, None);
        }
        let history = archive.manifests.join(HISTORY_DIR);
        for dir in crate::fs::list_dir_if_present(&history)? {
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if id.starts_with('.') || !dir.is_dir() {
                continue;
            }
            let gone = withdrawn.get(&id).cloned();
            for path in crate::fs::list_dir_if_present(&dir)? {
                let Some(n) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".json"))
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let entry = RegisterEntry::read(&path)?;
                let current = gone.is_none() && current_version.get(&id) == Some(&entry.version);
                past.add_entry(&entry, EntryAt::History(n), current, gone.clone());
            }
        }
        Ok(past)
    }

    fn add_known(&mut self, known: Known) -> usize {
        self.known.push(known);
        self.known.len() - 1
    }

    fn add_sets(&mut self, at: usize, files: &[&[(Algorithm, Digest)]]) {
        for f in fingerprints(files) {
            let slot = self.sets.entry(f).or_default();
            if !slot.contains(&at) {
                slot.push(at);
            }
        }
    }

    fn add_identifiers(&mut self, id: &str, dc: &crate::metadata::StoredDublinCore) {
        self.folded
            .entry(fold(id))
            .or_insert_with(|| id.to_string());
        for v in dc.strings(Term::DC_IDENTIFIER) {
            self.folded.entry(fold(v)).or_insert_with(|| v.to_string());
        }
    }

    fn add_entry(
        &mut self,
        entry: &RegisterEntry,
        at: EntryAt,
        current: bool,
        withdrawn: Option<(String, String)>,
    ) {
        let purged = withdrawn.as_ref().is_some_and(|(_, how)| how == "purged");
        let known = Known {
            id: entry.id.clone(),
            version: entry.version,
            current,
            withdrawn,
        };
        let key = (entry.id.clone(), entry.version);
        let index = match self.versions.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.add_known(known);
                self.versions.insert(key, i);
                i
            }
        };
        let files: Vec<Vec<(Algorithm, Digest)>> = entry
            .files
            .iter()
            .map(|f| f.digests.iter().copied().collect())
            .collect();
        let refs: Vec<&[(Algorithm, Digest)]> = files.iter().map(Vec::as_slice).collect();
        self.add_sets(index, &refs);
        if purged {
            // Every version of a purged item, not only its last (the tombstone's).
            for f in entry.files.iter().filter(|f| f.size > 0) {
                for &(alg, d) in f.digests.iter() {
                    self.purged
                        .entry((alg, d))
                        .or_insert_with(|| (index, f.path.clone()));
                }
            }
        }
        let slot = self
            .by_intake
            .entry((entry.intake_name.clone(), entry.payload_oxum.clone()))
            .or_default();
        if !slot.iter().any(|(i, _)| *i == index) {
            slot.push((index, at));
        }
        self.add_identifiers(&entry.id, &entry.dublin_core);
    }

    /// Records an item just committed (or, in a dry run, planned), so that the rest of
    /// the run sees it.
    pub fn add_committed(&mut self, entry: &RegisterEntry) {
        self.add_entry(entry, EntryAt::Current, true, None);
    }

    /// Records an item a dry run would ingest (its identifiers and payload), so that
    /// the rest of the dry run sees it as a real run would.
    pub fn add_planned(
        &mut self,
        id: &str,
        dc: &crate::metadata::StoredDublinCore,
        files: &[(&str, &[(Algorithm, Digest)])],
    ) {
        self.add_identifiers(id, dc);
        let index = self.add_known(Known {
            id: id.to_string(),
            version: 1,
            current: true,
            withdrawn: None,
        });
        let digests: Vec<&[(Algorithm, Digest)]> = files.iter().map(|(_, d)| *d).collect();
        self.add_sets(index, &digests);
    }

    /// The recorded versions with this intake name and Payload-Oxum, their entries read
    /// again from manifests/ (rarely more than one): the candidates for a rerun.
    pub fn with_intake(
        &self,
        archive: &Archive,
        name: &str,
        oxum: &str,
    ) -> Result<Vec<(Known, RegisterEntry)>, Error> {
        let mut out = Vec::new();
        for &(i, at) in self
            .by_intake
            .get(&(name.to_string(), oxum.to_string()))
            .into_iter()
            .flatten()
        {
            let known = &self.known[i];
            let path = match at {
                EntryAt::Current => archive.register_path(&known.id),
                EntryAt::History(n) => archive.history_path(&known.id, n),
            };
            out.push((known.clone(), RegisterEntry::read(&path)?));
        }
        // The current version first: "already archived as ID" before "version 1 of ID".
        out.sort_by_key(|(k, _)| (!k.current, k.withdrawn.is_some()));
        Ok(out)
    }

    /// Every match of a payload (each file's bag path and digests) with the past, one
    /// per known version.
    pub fn matches(&self, files: &[(&str, &[(Algorithm, Digest)])]) -> Vec<Match> {
        // One match per item, whichever of its versions it is.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        let digests: Vec<&[(Algorithm, Digest)]> = files.iter().map(|(_, d)| *d).collect();
        for f in fingerprints(&digests) {
            for &i in self.sets.get(&f).into_iter().flatten() {
                if seen.insert(self.known[i].id.as_str()) {
                    out.push(Match {
                        known: self.known[i].clone(),
                        file: None,
                    });
                }
            }
        }
        for (path, ds) in files {
            for &(alg, d) in ds.iter() {
                if let Some((i, theirs)) = self.purged.get(&(alg, d)) {
                    if seen.insert(self.known[*i].id.as_str()) {
                        out.push(Match {
                            known: self.known[*i].clone(),
                            file: Some((path.to_string(), theirs.clone())),
                        });
                    }
                }
            }
        }
        out
    }

    /// The identifier this one equals when folded (case, Unicode normalisation), if it
    /// is not the very same string.
    pub fn folded_clash(&self, identifier: &str) -> Option<&str> {
        self.folded
            .get(&fold(identifier))
            .map(String::as_str)
            .filter(|other| *other != identifier)
    }
}

/// "matches X: not ingested" for matches not admitted, or `None` when every match is
/// admitted by `allowed` (the identifiers of `--allow-duplicate-of`).
pub fn refusal(matches: &[Match], allowed: &[String], verb: &str) -> Option<String> {
    let refused: Vec<&Match> = matches
        .iter()
        .filter(|m| !allowed.contains(&m.known.id))
        .collect();
    if refused.is_empty() {
        return None;
    }
    let ids: Vec<&str> = refused.iter().map(|m| m.known.id.as_str()).collect();
    Some(format!(
        "{}: not {verb}. The archive has held this content before; to archive it again on purpose, run again with {}",
        refused
            .iter()
            .map(|m| m.describe())
            .collect::<Vec<_>>()
            .join("; "),
        ids.iter()
            .map(|id| format!("--allow-duplicate-of {id}"))
            .collect::<Vec<_>>()
            .join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> (Algorithm, Digest) {
        (
            Algorithm::Blake3,
            Digest::from_bytes(&[b; 32]).expect("digest"),
        )
    }

    #[test]
    fn payload_sets_ignore_order_and_paths() {
        let (a, b) = ([d(1)], [d(2)]);
        let one = fingerprints(&[&a, &b]);
        let two = fingerprints(&[&b, &a]);
        assert_eq!(one, two);
        assert_ne!(one, fingerprints(&[&a]));
        assert_ne!(one, fingerprints(&[&a, &a, &b]));
    }

    #[test]
    fn folding_joins_case_and_normalisation() {
        assert_eq!(fold("ABC-1"), fold("abc-1"));
        assert_eq!(fold("caf\u{e9}"), fold("cafe\u{301}"));
        assert_eq!(fold("\u{fb01}le"), fold("FILE"));
        assert_ne!(fold("abc-1"), fold("abc-2"));
    }
}
