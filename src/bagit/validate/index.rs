//! The listing stage: every file the source listed, interned once (links, special
//! files and names that are not UTF-8 reported; names that collide after Unicode
//! normalisation or case folding warned about) and then referred to by index.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use super::super::finding::{FindingKind, Findings};
use super::super::source::{EntryType, SourceEntry};

/// A listed file, by position in [`DiskIndex::names`].
pub(super) type Idx = u32;

/// The files the source listed, interned.
pub(super) struct DiskIndex {
    /// Regular files with UTF-8 names, as listed.
    pub(super) names: Vec<String>,
    pub(super) sizes: Vec<u64>,
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
    pub(super) fn candidates(&self, key: &str) -> &[Idx] {
        self.by_key
            .get(key)
            .map(Candidates::as_slice)
            .unwrap_or(&[])
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
    let mut idx = DiskIndex {
        names: Vec::with_capacity(entries.len()),
        sizes: Vec::with_capacity(entries.len()),
        by_key: HashMap::with_capacity(entries.len()),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_folds_nfd() {
        assert_eq!(nfc("Nu\u{303}n\u{303}ez"), "N\u{169}\u{f1}ez");
        assert_eq!(nfc("e\u{301}"), "\u{e9}");
    }
}
