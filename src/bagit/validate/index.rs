//! The listing stage: every file the source listed, interned once (links, special
//! files and names that are not UTF-8 reported; names that collide after Unicode
//! normalisation or case folding warned about) and then referred to by index.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use super::super::finding::{FindingKind, Findings};
use super::super::source::{EntryType, SourceEntry};

/// A listed file, by position in [`DiskIndex::names`].
pub(super) type Idx = u32;

/// The files the source listed, interned.
///
/// Memory: each name is held once, in `names`; the lookup table holds only file
/// numbers and finds names through `names` (4 bytes a file, where a map keyed by
/// owned names held each name twice). Names not in NFC (rare) keep their NFC form
/// beside them, and an NFC form shared by several files (rarer) its list of files.
pub(super) struct DiskIndex {
    /// Regular files with UTF-8 names, as listed.
    pub(super) names: Vec<String>,
    pub(super) sizes: Vec<u64>,
    /// One entry per NFC form: the first file with that form.
    by_key: HashTable<Idx>,
    hasher: RandomState,
    /// The NFC form of each name that is not in NFC.
    nfc_forms: HashMap<Idx, Box<str>>,
    /// For an NFC form that several files share: all of them, by the first.
    shared: HashMap<Idx, Vec<Idx>>,
}

impl DiskIndex {
    fn new(capacity: usize) -> DiskIndex {
        DiskIndex {
            names: Vec::with_capacity(capacity),
            sizes: Vec::with_capacity(capacity),
            by_key: HashTable::with_capacity(capacity),
            hasher: RandomState::new(),
            nfc_forms: HashMap::new(),
            shared: HashMap::new(),
        }
    }

    /// The NFC form of a listed file's name.
    pub(super) fn key(&self, i: Idx) -> &str {
        key_in(&self.names, &self.nfc_forms, i)
    }

    /// The files whose names have this NFC form, in listing order.
    pub(super) fn candidates(&self, key: &str) -> &[Idx] {
        let hash = self.hasher.hash_one(key);
        match self.by_key.find(hash, |&i| self.key(i) == key) {
            Some(first) => match self.shared.get(first) {
                Some(all) => all,
                None => std::slice::from_ref(first),
            },
            None => &[],
        }
    }

    /// The file listed under exactly this name.
    pub(super) fn exact(&self, name: &str) -> Option<Idx> {
        self.candidates(&nfc(name))
            .iter()
            .copied()
            .find(|&i| self.names[i as usize] == name)
    }

    pub(super) fn name(&self, i: Idx) -> &str {
        &self.names[i as usize]
    }

    pub(super) fn payload(&self) -> impl Iterator<Item = Idx> + '_ {
        (0..self.names.len() as Idx).filter(|&i| self.names[i as usize].starts_with("data/"))
    }

    /// Adds a file under its NFC form.
    fn insert(&mut self, name: String, size: u64) {
        let i = self.names.len() as Idx;
        if let Cow::Owned(form) = nfc(&name) {
            self.nfc_forms.insert(i, form.into_boxed_str());
        }
        self.names.push(name);
        self.sizes.push(size);
        let key = self.key(i);
        let hash = self.hasher.hash_one(key);
        let found = self.by_key.find(hash, |&j| self.key(j) == key).copied();
        match found {
            Some(first) => self
                .shared
                .entry(first)
                .or_insert_with(|| vec![first])
                .push(i),
            None => {
                // The table rehashes its entries as it grows: through the names, which
                // it borrows beside it.
                let (names, forms, hasher) = (&self.names, &self.nfc_forms, &self.hasher);
                let rehash = |j: &Idx| hasher.hash_one(key_in(names, forms, *j));
                self.by_key.insert_unique(hash, i, rehash);
            }
        }
    }
}

/// The NFC form of file `i`'s name: its own form beside it, or the name itself.
fn key_in<'a>(names: &'a [String], nfc_forms: &'a HashMap<Idx, Box<str>>, i: Idx) -> &'a str {
    match nfc_forms.get(&i) {
        Some(k) => k,
        None => &names[i as usize],
    }
}

/// The NFC form of `s`, borrowed when `s` already is (the usual case).
pub(super) fn nfc(s: &str) -> Cow<'_, str> {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// A name quoted for a message about Unicode normalisation: combining marks and
/// control characters are spelled `\u{…}`, so that two spellings of one name, which
/// look the same, read differently; every other letter is shown as it is.
pub(super) fn spelled(name: &str) -> String {
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

/// Interns the listing, reporting links, special files and names that are not UTF-8,
/// and warning about names that collide after normalisation or case folding.
pub(super) fn index_entries(entries: Vec<SourceEntry>, f: &mut Findings) -> DiskIndex {
    let mut idx = DiskIndex::new(entries.len());
    for e in entries {
        if !e.utf8 {
            f.problem(
                e.path.as_str(),
                FindingKind::NameNotUtf8,
                "the file name is not valid UTF-8, so no manifest can name it exactly",
            );
            continue;
        }
        match e.kind {
            EntryType::Symlink => {
                f.problem(
                    e.path.as_str(),
                    FindingKind::Symlink,
                    "symbolic link in the bag; links are reported, never followed",
                );
                continue;
            }
            EntryType::Special => {
                f.problem(
                    e.path.as_str(),
                    FindingKind::SpecialFile,
                    "a fifo, socket or device file cannot be part of a bag",
                );
                continue;
            }
            EntryType::File => {}
        }
        idx.insert(e.path, e.size);
    }
    let mut shared: Vec<&Vec<Idx>> = idx.shared.values().collect();
    shared.sort();
    for v in shared {
        let names: Vec<&str> = v.iter().map(|&i| idx.name(i)).collect();
        f.warn(
            names[0],
            FindingKind::NormalizationCollision,
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
    for names in case_collisions(&idx) {
        f.warn(
            *names.iter().next().unwrap_or(&""),
            FindingKind::CaseCollision,
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

/// The NFC forms that differ only in case, each group in name order, the groups in
/// order of their first name.
///
/// Memory: one 12-byte (hash, file) pair per form, sorted, so that only forms whose
/// folded hashes meet are compared as strings; a map of every folded name (with a set
/// per name) cost a few hundred bytes a file and left the heap fragmented.
fn case_collisions(idx: &DiskIndex) -> Vec<BTreeSet<&str>> {
    fn folded(k: &str) -> Cow<'_, str> {
        // Only names with an upper-case letter need a folded copy.
        if k.chars().any(char::is_uppercase) {
            Cow::Owned(k.to_lowercase())
        } else {
            Cow::Borrowed(k)
        }
    }
    let hasher = RandomState::new();
    let mut hashed: Vec<(u64, Idx)> = idx
        .by_key
        .iter()
        .map(|&i| (hasher.hash_one(folded(idx.key(i)).as_ref()), i))
        .collect();
    hashed.sort_unstable();
    let mut groups = Vec::new();
    for run in hashed.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
        let mut by_fold: BTreeMap<Cow<'_, str>, BTreeSet<&str>> = BTreeMap::new();
        for &(_, i) in run {
            let k = idx.key(i);
            by_fold.entry(folded(k)).or_default().insert(k);
        }
        groups.extend(by_fold.into_values().filter(|n| n.len() > 1));
    }
    groups.sort();
    groups
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
