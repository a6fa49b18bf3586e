//! ZIP containers (OOXML, ODF, EPUB…): content whose signatures say ZIP is read as a
//! ZIP (its central directory, then members up to [`SCAN_LEN`] bytes each) and its
//! members matched against the container signature file's rules.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use super::pattern::Budget;
use super::sequence::match_seq;
use super::sigfile::Anchor;
use super::{Basis, Identification, Identifier, SCAN_LEN, STEPS_PER_FILE};

impl Identifier {
    /// Opens a ZIP and matches the container signatures. None when it cannot be read
    /// as a ZIP or nothing matched.
    pub(super) fn match_container<R: Read + Seek>(
        &self,
        f: &mut R,
        name: Option<&str>,
    ) -> Option<Identification> {
        f.seek(SeekFrom::Start(0)).ok()?;
        let mut zip = zip::ZipArchive::new(&mut *f).ok()?;
        let mut matched: Vec<(usize, u32)> = Vec::new();
        let mut cache: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        let mut budget = Budget(STEPS_PER_FILE);
        for c in &self.containers {
            let mut ok = true;
            for (path, sigs) in &c.files {
                if !cache.contains_key(path) {
                    let content = match zip.by_name(path) {
                        Ok(entry) => {
                            let mut buf = Vec::new();
                            if entry.take(SCAN_LEN as u64).read_to_end(&mut buf).is_ok() {
                                Some(buf)
                            } else {
                                None
                            }
                        }
                        Err(_) => None,
                    };
                    cache.insert(path.clone(), content);
                }
                let Some(Some(content)) = cache.get(path) else {
                    ok = false;
                    break;
                };
                if !sigs.is_empty() {
                    let rev: Vec<u8> = content.iter().rev().copied().collect();
                    let any = sigs.iter().any(|s| {
                        s.seqs.iter().all(|seq| {
                            let buf = if seq.anchor == Anchor::Eof {
                                &rev[..]
                            } else {
                                &content[..]
                            };
                            match_seq(seq, buf, &mut budget)
                        })
                    });
                    if !any {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                for p in &c.puids {
                    if let Some(&fi) = self.by_puid.get(p) {
                        if !matched.iter().any(|(m, _)| *m == fi) {
                            matched.push((fi, c.id));
                        }
                    }
                }
            }
        }
        if matched.is_empty() {
            return None;
        }
        let mut best = self.unbeaten(&matched);
        let ext = name.and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()));
        if best.len() > 1 {
            let by_ext = self.with_extension(&best, ext.as_deref());
            if !by_ext.is_empty() {
                best = by_ext;
            }
        }
        let alternatives = best
            .iter()
            .skip(1)
            .map(|(f, _)| self.formats[*f].puid.clone())
            .collect();
        let (fi, cid) = best[0];
        Some(self.result(
            fi,
            Basis::Container,
            format!("container signature {cid} (ZIP)"),
            alternatives,
        ))
    }
}
