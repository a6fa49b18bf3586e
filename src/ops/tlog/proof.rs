//! Inclusion proofs: `cairn proof` writes one for an event (its audit path to a tree
//! root, and the signed checkpoint of that tree when one is kept); `cairn verify-proof`
//! checks one offline, with the archive's public key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::tlog_store;
use crate::tlog::merkle::{inclusion_proof, leaf_hash, verify_inclusion};
use crate::tlog::note::{b64, hash_from_b64, Checkpoint, Note, VerifierKey};
use crate::tlog::Hash;

use super::{archive_name, kept_checkpoints, PROOF_FORMAT};
use crate::vocab::{EventType, Outcome};

/// An inclusion proof, as `cairn proof` writes it (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InclusionProof {
    pub format: String,
    pub origin: String,
    /// The event's position in the log, from 1 (its `seq`).
    pub event_seq: u64,
    /// The leaf's index in the tree, from 0 (`event_seq - 1`).
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The tree's root, base64.
    pub root: String,
    /// The event's line in the log, byte for byte (without its newline).
    pub event: String,
    /// The audit path (RFC 9162 2.1.3), base64, from the leaf's sibling up.
    pub path: Vec<String>,
    /// The signed checkpoint whose tree this is, if any.
    pub checkpoint: Option<String>,
}

/// Which event to prove.
#[derive(Debug, Clone)]
pub enum ProofTarget {
    /// The item's (latest successful) ingestion event.
    Item(String),
    /// The event with this seq.
    Event(u64),
}

/// Finds the event of `target`: (seq, line).
fn find_event(log: &Path, target: &ProofTarget) -> Result<(u64, Vec<u8>), Error> {
    match target {
        ProofTarget::Event(n) => {
            let line = if *n == 0 {
                None
            } else {
                tlog_store::find_line(log, *n)?
            };
            line.map(|l| (*n, l))
                .ok_or_else(|| Error::Usage(format!("--event {n}: the event log has no event {n}")))
        }
        ProofTarget::Item(id) => {
            let needle = format!(
                "\"object\":{}",
                serde_json::to_string(id).unwrap_or_default()
            );
            let mut found = None;
            let mut n = 0u64;
            tlog_store::for_each_line(log, |line| {
                n += 1;
                if !contains(line, needle.as_bytes()) {
                    return;
                }
                if let Ok(e) = serde_json::from_slice::<crate::fs::events::Event>(line) {
                    if EventType::Ingestion.is(&e.event_type)
                        && Outcome::Success.is(&e.outcome)
                        && e.object == *id
                    {
                        found = Some((n, line.to_vec()));
                    }
                }
            })?;
            found.ok_or_else(|| {
                Error::Usage(format!(
                    "{}: the event log has no successful ingestion of this item (see `cairn list`, or prove any event with --event N)",
                    crate::quoted(id)
                ))
            })
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Makes an inclusion proof of an event: in the tree of `checkpoint` (a signed note)
/// when given; else in that of the newest kept checkpoint that holds the event; else
/// in the tree of the log as it is now (unsigned).
pub fn proof(
    archive: &Archive,
    target: &ProofTarget,
    checkpoint: Option<&str>,
) -> Result<InclusionProof, Error> {
    let origin = archive_name(archive)?;
    let log = archive.events_path();
    let (seq, line) = find_event(&log, target)?;
    let given = checkpoint
        .map(|text| {
            let note = Note::parse(text).map_err(|e| Error::Usage(format!("--checkpoint: {e}")))?;
            let cp = Checkpoint::parse(&note.text)
                .map_err(|e| Error::Usage(format!("--checkpoint: {e}")))?;
            Ok::<_, Error>((cp, text.to_string()))
        })
        .transpose()?;
    let kept = if given.is_none() {
        kept_checkpoints(archive)?
    } else {
        Vec::new()
    };
    {
        let store = archive.merkle_tree()?;
        if seq > store.size() || store.leaf(seq - 1)? != leaf_hash(&line) {
            return Err(Error::Corrupt {
                path: log.clone(),
                detail: format!(
                    "event {seq} of the log is not leaf {seq} of its Merkle tree; run `cairn audit`"
                ),
            });
        }
        let (size, root, note) = match given {
            Some((cp, text)) => {
                if cp.size < seq {
                    return Err(Error::Usage(format!(
                        "event {seq} came after this checkpoint (of {} events); sign a newer one with `cairn checkpoint`",
                        cp.size
                    )));
                }
                if cp.size > store.size() || store.root(cp.size)? != cp.root {
                    return Err(Error::Corrupt {
                        path: log.clone(),
                        detail: format!(
                            "today's log does not extend the checkpoint (of {} events); run `cairn audit --checkpoint FILE --key KEY`",
                            cp.size
                        ),
                    });
                }
                (cp.size, cp.root, Some(text))
            }
            None => {
                let mut pick = None;
                for (_, text) in kept.iter().rev() {
                    let Ok(note) = Note::parse(text) else {
                        continue;
                    };
                    let Ok(cp) = Checkpoint::parse(&note.text) else {
                        continue;
                    };
                    if cp.origin == origin
                        && cp.size >= seq
                        && cp.size <= store.size()
                        && store.root(cp.size)? == cp.root
                        && pick.as_ref().is_none_or(|(s, _, _)| cp.size > *s)
                    {
                        pick = Some((cp.size, cp.root, Some(text.clone())));
                    }
                }
                match pick {
                    Some(p) => p,
                    None => (store.size(), store.root(store.size())?, None),
                }
            }
        };
        let path = inclusion_proof(&store, seq - 1, size)?;
        Ok(InclusionProof {
            format: PROOF_FORMAT.into(),
            origin: origin.clone(),
            event_seq: seq,
            leaf_index: seq - 1,
            tree_size: size,
            root: b64(&root),
            event: String::from_utf8_lossy(&line).into_owned(),
            path: path.iter().map(|h| b64(h)).collect(),
            checkpoint: note,
        })
    }
}

/// The answer of `cairn verify-proof`.
#[derive(Debug, Clone, Serialize)]
pub struct ProofVerdict {
    pub ok: bool,
    pub event_seq: u64,
    pub tree_size: u64,
    pub root: String,
    /// The event is in the tree of `root`.
    pub included: bool,
    /// The checkpoint's tree is the proof's (size and root), if there is a checkpoint.
    pub checkpoint_matches: Option<bool>,
    /// The key whose signature on the checkpoint verified.
    pub signed_by: Option<String>,
    pub problems: Vec<String>,
}

/// Checks a proof offline: the event's leaf hashes up the path to the root; the
/// checkpoint (`checkpoint`, else the one in the proof) has that size and root; and,
/// with `key`, the checkpoint is signed by it. Without a checked signature the proof
/// fails (anyone can make a tree and a proof that agree) unless `unsigned_ok`.
pub fn verify_proof(
    p: &InclusionProof,
    checkpoint: Option<&str>,
    key: Option<&VerifierKey>,
    unsigned_ok: bool,
) -> ProofVerdict {
    let mut problems = Vec::new();
    if p.format != PROOF_FORMAT {
        problems.push(format!("unknown format {}", crate::quoted(&p.format)));
    }
    let leaf = leaf_hash(p.event.as_bytes());
    let root = hash_from_b64(&p.root);
    let path: Option<Vec<Hash>> = p.path.iter().map(|h| hash_from_b64(h)).collect();
    let seq_in_event = serde_json::from_str::<serde_json::Value>(&p.event)
        .ok()
        .and_then(|v| v.get("seq").and_then(|s| s.as_u64()));
    if seq_in_event != Some(p.event_seq) || p.leaf_index + 1 != p.event_seq {
        problems.push(format!(
            "the event's seq, event_seq and leaf_index disagree ({seq_in_event:?}, {}, {})",
            p.event_seq, p.leaf_index
        ));
    }
    let included = match (&root, &path) {
        (Some(root), Some(path)) => verify_inclusion(&leaf, p.leaf_index, p.tree_size, path, root),
        _ => {
            problems.push("the root or a path hash is not base64 of 32 bytes".into());
            false
        }
    };
    if !included && root.is_some() && path.is_some() {
        problems.push(format!(
            "the event does not hash up the path to the root: it is not event {} of that tree, or the event or the proof was altered",
            p.event_seq
        ));
    }
    let note_text = checkpoint
        .map(str::to_string)
        .or_else(|| p.checkpoint.clone());
    let mut checkpoint_matches = None;
    let mut signed_by = None;
    match note_text {
        None => {
            if key.is_some() {
                problems.push("--key was given, but there is no checkpoint to check it against (pass --checkpoint FILE)".into());
            }
        }
        Some(text) => match Note::parse(&text) {
            Err(e) => problems.push(format!("checkpoint: {e}")),
            Ok(note) => {
                match Checkpoint::parse(&note.text) {
                    Err(e) => problems.push(format!("checkpoint: {e}")),
                    Ok(cp) => {
                        let m = cp.size == p.tree_size
                            && Some(cp.root) == root
                            && cp.origin == p.origin;
                        if !m {
                            problems.push(format!(
                                "the checkpoint ({}, {} events, root {}) is not the proof's tree ({}, {} events, root {})",
                                cp.origin, cp.size, b64(&cp.root), p.origin, p.tree_size, p.root
                            ));
                        }
                        checkpoint_matches = Some(m);
                    }
                }
                if let Some(k) = key {
                    match note.verify(k) {
                        Ok(()) => signed_by = Some(k.to_text()),
                        Err(e) => problems.push(format!("checkpoint: {e}")),
                    }
                }
            }
        },
    }
    if key.is_none() && !unsigned_ok {
        problems.push("the checkpoint's signature was not checked, so the proof shows nothing anyone could not make: pass --key PUBKEY (the archive's public key), or --unsigned-ok to accept the tree unsigned".into());
    }
    ProofVerdict {
        ok: problems.is_empty(),
        event_seq: p.event_seq,
        tree_size: p.tree_size,
        root: p.root.clone(),
        included,
        checkpoint_matches,
        signed_by,
        problems,
    }
}
