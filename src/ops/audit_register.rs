//! `audit`'s checks of the register's own files: each file (manifests/ID.json, the
//! superseded entries in manifests/history/ID/, the tombstones in manifests/withdrawn/)
//! against the last BLAKE3 digest the event log recorded for it (`data.register_files`
//! of the event that wrote it), and each current entry's Dublin Core against the bag's
//! own metadata/dc.json and metadata/dc.xml, whose digests the bag's tag manifest
//! holds (and the tag manifest's digests the register).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::digest::{hash_reader, Algorithm, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::register::DigestMap;
use crate::metadata::{DublinCore, StoredDublinCore, Term};
use crate::ops::commit::register_file_name;
use crate::ops::findings::Discrepancy;
use crate::vocab::EventType;

/// How much of the register the log's digests cover.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegisterLogCheck {
    /// Register files checked against the digest the log recorded for them.
    pub checked: usize,
    /// Register files of items whose events carry no digests (written by a Cairn before
    /// version 0.2 recorded them): checked against their bags only.
    pub not_logged: usize,
}

/// The register files' digests as the log recorded them, folded event by event.
#[derive(Default)]
pub struct LoggedRegister {
    /// File name → (line, digest; `None`: the event removed it).
    last: HashMap<String, (u64, Option<String>)>,
    /// Items whose ingestion (or import) event recorded register digests: every
    /// register file of theirs was written by an event that logs them. (An item
    /// ingested before then may have superseded entries no event recorded.)
    items: BTreeSet<String>,
}

impl LoggedRegister {
    /// Takes in one event's `data.register_files`.
    pub fn saw(&mut self, seq: u64, object: &str, event_type: &str, files: &serde_json::Value) {
        let Some(files) = files.as_object() else {
            return;
        };
        if EventType::Ingestion.is(event_type) {
            self.items.insert(object.to_string());
        }
        for (name, digest) in files {
            self.last
                .insert(name.clone(), (seq, digest.as_str().map(str::to_string)));
        }
    }

    /// Checks every register file on disk against the log: `registered` are the current
    /// entries' identifiers.
    pub fn check(
        &self,
        archive: &Archive,
        registered: &BTreeSet<String>,
    ) -> Result<(Vec<Discrepancy>, RegisterLogCheck), Error> {
        let mut files: Vec<(String, std::path::PathBuf)> = registered
            .iter()
            .map(|id| (id.clone(), archive.register_path(id)))
            .collect();
        let history = archive.manifests.join(crate::fs::lifecycle::HISTORY_DIR);
        for dir in crate::fs::list_dir_if_present(&history)? {
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if !dir.is_dir() || id.starts_with('.') {
                continue;
            }
            for path in crate::fs::list_dir_if_present(&dir)? {
                if is_entry_file(&path) {
                    files.push((id.clone(), path));
                }
            }
        }
        let withdrawn = archive.manifests.join(crate::fs::lifecycle::WITHDRAWN_DIR);
        for path in crate::fs::list_dir_if_present(&withdrawn)? {
            if is_entry_file(&path) {
                let id = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((id, path));
            }
        }
        files.sort();
        let mut out = Vec::new();
        let mut status = RegisterLogCheck::default();
        for (id, path) in files {
            let name = register_file_name(archive, &path);
            let Some(bytes) = crate::fs::read_if_present(&path)? else {
                continue;
            };
            let (seq, logged) = match self.last.get(&name) {
                Some(l) => l,
                None if self.items.contains(&id) => {
                    out.push(Discrepancy {
                        kind: "register-file-not-in-log",
                        id,
                        path: name,
                        detail: "no event wrote this file, though the log records the item's other register files: it was added outside Cairn".into(),
                    });
                    continue;
                }
                None => {
                    status.not_logged += 1;
                    continue;
                }
            };
            status.checked += 1;
            match logged {
                Some(want) if *want == blake3::hash(&bytes).to_hex().as_str() => {}
                Some(_) => out.push(Discrepancy {
                    kind: "register-file-differs-from-log",
                    id,
                    path: name.clone(),
                    detail: format!(
                        "{name}: digest differs from the one logged at line {seq}: the file was changed outside Cairn"
                    ),
                }),
                None => out.push(Discrepancy {
                    kind: "register-file-differs-from-log",
                    id,
                    path: name.clone(),
                    detail: format!(
                        "{name}: present, though the event at line {seq} removed it"
                    ),
                }),
            }
        }
        Ok((out, status))
    }
}

/// A register file's name: `NAME.json`, not hidden (temporary files are).
fn is_entry_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".json") && !n.starts_with('.'))
}

/// The values of each term of a record as a reader takes them: trimmed, blanks dropped.
fn terms_of(record: &DublinCore) -> BTreeMap<Term, Vec<String>> {
    let mut out: BTreeMap<Term, Vec<String>> = BTreeMap::new();
    for term in record.terms() {
        let values: Vec<String> = record
            .values(term)
            .into_iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if !values.is_empty() {
            out.insert(term, values);
        }
    }
    out
}

/// The first term whose values differ between two records, by name.
fn first_differing_term(a: &DublinCore, b: &DublinCore) -> Option<(Term, String, String)> {
    let (a, b) = (terms_of(a), terms_of(b));
    let terms: BTreeSet<Term> = a.keys().chain(b.keys()).copied().collect();
    let show = |v: Option<&Vec<String>>| match v {
        None => "(none)".to_string(),
        Some(v) => v
            .iter()
            .map(|s| crate::quoted(s))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let first = terms.into_iter().find(|t| a.get(t) != b.get(t));
    first.map(|t| (t, show(a.get(&t)), show(b.get(&t))))
}

/// A tag file's digest as the bag's tag manifest `manifest` (its bytes; its name gives
/// the algorithm) lists it.
fn listed(manifest_name: &str, manifest: &[u8], file: &str) -> Option<(Algorithm, String)> {
    let alg = manifest_name
        .strip_prefix("tagmanifest-")
        .and_then(|n| n.strip_suffix(".txt"))
        .and_then(Algorithm::from_manifest_name)?;
    String::from_utf8_lossy(manifest).lines().find_map(|line| {
        let (hex, path) = line.split_once(char::is_whitespace)?;
        (path.trim() == file).then(|| (alg, hex.trim().to_ascii_lowercase()))
    })
}

/// The current entry `id`'s Dublin Core against the bag's metadata/dc.json and
/// metadata/dc.xml. Each is first checked against the digest the bag's tag manifest
/// lists (the tag manifest itself is checked against the register by the audit); a
/// file the tag manifest does not list is not compared (an older bag).
pub fn check_dublin_core(
    archive: &Archive,
    id: &str,
    tag_files: &BTreeMap<String, DigestMap>,
    stored: &StoredDublinCore,
) -> Result<Vec<Discrepancy>, Error> {
    let bag = archive.bag_path(id);
    let Some(manifest_name) = tag_files.keys().find(|n| n.starts_with("tagmanifest-")) else {
        return Ok(Vec::new());
    };
    let Some(manifest) = crate::fs::read_if_present(&bag.join(manifest_name))? else {
        return Ok(Vec::new());
    };
    let entry_name = crate::fs::layout::register_key(id);
    let mut out = Vec::new();
    let mut buf = vec![0u8; BUF_SIZE];
    for file in ["metadata/dc.json", "metadata/dc.xml"] {
        let Some((alg, want)) = listed(manifest_name, &manifest, file) else {
            continue;
        };
        let path = bag.join(file);
        let at = format!("{}/{file}", crate::fs::layout::bag_key(id));
        let Some(bytes) = crate::fs::read_if_present(&path)? else {
            out.push(Discrepancy {
                kind: "bag-metadata-missing",
                id: id.to_string(),
                path: at,
                detail: format!("{manifest_name} lists it, but it is not there"),
            });
            continue;
        };
        let got =
            hash_reader(&bytes[..], &[alg], &mut buf).map_err(|e| Error::io("hash", &path, e))?;
        if got.get(alg).map(|d| d.to_hex()) != Some(want) {
            out.push(Discrepancy {
                kind: "bag-metadata-differs-from-tag-manifest",
                id: id.to_string(),
                path: at,
                detail: format!("its {alg} differs from the one {manifest_name} lists"),
            });
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let (in_bag, in_register) = if file.ends_with(".json") {
            match serde_json::from_str::<DublinCore>(&text) {
                Ok(r) => (r, stored.record().clone()),
                Err(e) => {
                    out.push(unreadable(id, &at, e.to_string()));
                    continue;
                }
            }
        } else {
            // dc.xml holds the record dumbed down to the fifteen elements: compare it
            // with the register's record written and read the same way.
            let rendered = crate::metadata::render_oai_dc(stored.record());
            match (
                crate::metadata::parse_oai_dc(&text),
                crate::metadata::parse_oai_dc(&rendered),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    out.push(unreadable(id, &at, e.to_string()));
                    continue;
                }
            }
        };
        if let Some((term, register, bag_values)) = first_differing_term(&in_register, &in_bag) {
            out.push(Discrepancy {
                kind: "register-differs-from-bag-metadata",
                id: id.to_string(),
                path: entry_name.clone(),
                detail: format!(
                    "{entry_name}: {} differs from the bag's {file} (register: {register}; bag: {bag_values})",
                    term.name()
                ),
            });
        }
    }
    Ok(out)
}

fn unreadable(id: &str, at: &str, detail: String) -> Discrepancy {
    Discrepancy {
        kind: "bag-metadata-unreadable",
        id: id.to_string(),
        path: at.to_string(),
        detail,
    }
}
