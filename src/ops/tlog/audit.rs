//! `cairn audit --checkpoint`: today's event log against a checkpoint kept elsewhere:
//! the signature, whether the log extends the signed tree (an RFC 9162 consistency
//! proof), where it first differs if not, and the stored Merkle tree against the log.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::tlog_store::{self, TreeStore};
use crate::tlog::merkle::{consistency_proof, leaf_hash, mem_root, verify_consistency, MemTree};
use crate::tlog::note::{b64, Checkpoint, Note, VerifierKey};
use crate::tlog::Hash;

use super::{archive_name, kept_checkpoints};

/// The answer to `cairn audit --checkpoint`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointAudit {
    pub origin: String,
    pub tree_size: u64,
    pub root: String,
    pub key: String,
    pub signature_verified: bool,
    /// Complete lines in today's log.
    pub log_size: u64,
    /// Today's log extends the checkpoint: its first `tree_size` events are those the
    /// checkpoint signed.
    pub extends: bool,
    /// The RFC 9162 consistency proof from the checkpoint's tree to today's, base64
    /// (checked), when the log extends it.
    pub consistency_proof: Vec<String>,
    /// Today's root, base64.
    pub log_root: String,
    /// The first event that differs from what the checkpoint signed, when known.
    pub first_differing_event: Option<u64>,
    /// Else the events among which the first difference lies (from, to).
    pub differing_between: Option<(u64, u64)>,
    /// Cairn's stored Merkle tree against the log: what disagrees, if anything.
    pub stored_tree: Option<String>,
    /// Trees that disagreed with the log and were rebuilt, kept as evidence.
    pub replaced_trees: Vec<String>,
    pub detail: String,
}

impl CheckpointAudit {
    pub fn is_ok(&self) -> bool {
        self.signature_verified && self.extends && self.stored_tree.is_none()
    }
}

/// The tree of a log's complete lines, in memory.
pub fn tree_of(log: &[u8]) -> MemTree {
    let mut tree = MemTree::new();
    let complete = match log.iter().rposition(|&b| b == b'\n') {
        Some(p) => &log[..=p],
        None => return tree,
    };
    push_lines(&mut tree, complete);
    tree
}

/// [`tree_of`] the archive's log, read a window at a time (under its shared lock), and
/// the log's length in bytes: memory is the tree's hashes, not the log.
fn tree_of_log(archive: &Archive) -> Result<(MemTree, u64), Error> {
    let mut tree = MemTree::new();
    let len = archive.fold_event_windows(|window| push_lines(&mut tree, window))?;
    Ok((tree, len))
}

/// Adds the leaves of `lines` (whole lines, each ending with a newline), hashed in
/// parallel, to `tree`.
fn push_lines(tree: &mut MemTree, lines: &[u8]) {
    use rayon::prelude::*;
    let body = lines.strip_suffix(b"\n").unwrap_or(lines);
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let leaves: Vec<Hash> = lines.par_iter().map(|l| leaf_hash(l)).collect();
    for leaf in leaves {
        tree.push(leaf);
    }
}

/// The first index where two leaf lists differ (or where the shorter ends).
fn first_difference(a: &[Hash], b: &[Hash]) -> Option<usize> {
    let n = a.len().min(b.len());
    (0..n)
        .find(|&i| a[i] != b[i])
        .or(if a.len() != b.len() { Some(n) } else { None })
}

/// Audits today's event log (read a window at a time) against a checkpoint signed by
/// `key`. The
/// stages: the stored tree against the log, the trees kept as evidence, the
/// checkpoint's note (parsed, verified, of this archive), then either the consistency
/// proof (the log extends it) or where the log first differs.
pub fn audit_checkpoint(
    archive: &Archive,
    note_text: &str,
    key: &VerifierKey,
) -> Result<CheckpointAudit, Error> {
    let (mem, log_len) = tree_of_log(archive)?;
    let n = mem.size();
    let mut out = CheckpointAudit {
        origin: String::new(),
        tree_size: 0,
        root: String::new(),
        key: key.to_text(),
        signature_verified: false,
        log_size: n,
        extends: false,
        consistency_proof: Vec::new(),
        log_root: b64(&mem_root(&mem, n)),
        first_differing_event: None,
        differing_between: None,
        stored_tree: None,
        replaced_trees: Vec::new(),
        detail: String::new(),
    };
    let dir = archive.manifests.join(tlog_store::TREE_DIR);
    out.stored_tree = check_stored_tree(archive, &dir, log_len, &mem)?;
    let replaced = tlog_store::replaced_trees(&archive.manifests)?;
    out.replaced_trees = replaced
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let Some(cp) = read_checkpoint(archive, note_text, key, &mut out)? else {
        return Ok(out);
    };
    let m = cp.size;
    if m <= n && mem_root(&mem, m) == cp.root {
        prove_extends(&mem, m, &cp, &mut out);
        return Ok(out);
    }
    // It does not extend: find where it differs.
    let mut candidates: Vec<PathBuf> = vec![dir];
    candidates.extend(replaced);
    out.first_differing_event = difference_from_trees(&candidates, &mem, &cp)?;
    if out.first_differing_event.is_none() {
        bracket_difference(archive, key, &mem, &cp, &mut out)?;
    }
    let where_ = match (out.first_differing_event, out.differing_between) {
        (Some(e), _) if e > n => {
            format!("the log ends at event {n}: events {}..{m} are gone", n + 1)
        }
        (Some(e), _) => format!("the first event that differs is event {e}"),
        (None, Some((a, b))) => format!("the first event that differs is one of events {a}..{b}"),
        _ => String::new(),
    };
    out.detail = format!(
        "today's log does NOT extend the checkpoint of {m} events (root {}): {where_}",
        b64(&cp.root)
    );
    Ok(out)
}

/// The stored tree (in `dir`) against the log (read only: an audit writes nothing):
/// what disagrees, if anything.
fn check_stored_tree(
    archive: &Archive,
    dir: &std::path::Path,
    log_len: u64,
    mem: &MemTree,
) -> Result<Option<String>, Error> {
    let n = mem.size();
    let Some(s) = TreeStore::open_read_only(dir)? else {
        return Ok(None);
    };
    // An append that landed after the log was read (fixity takes no archive lock) makes
    // the tree longer than the bytes read: compare what both have.
    let grew = crate::fs::len_if_present(&archive.events_path()).is_ok_and(|n| n > log_len);
    let upto = if grew { s.size().min(n) } else { s.size() };
    let stored = s.leaves(0, upto)?;
    let today = if grew {
        &mem.leaves()[..upto as usize]
    } else {
        mem.leaves()
    };
    let Some(i) = first_difference(&stored, today) else {
        return Ok(None);
    };
    let i = i as u64;
    Ok(Some(if i < s.size() && i < n {
        format!(
            "event {} of the log is not the event Cairn appended there (its Merkle tree records another): the log was changed outside Cairn",
            i + 1
        )
    } else if n > s.size() {
        format!(
            "events {}..{} are in the log but Cairn's Merkle tree never recorded them: appended outside Cairn (or Cairn was stopped between writing the log and the tree)",
            s.size() + 1,
            n
        )
    } else {
        format!(
            "Cairn's Merkle tree records {} events, the log has {n}: events {}..{} were removed",
            s.size(),
            n + 1,
            s.size()
        )
    }))
}

/// The checkpoint: its note parsed and its signature verified by `key`, its body
/// parsed, and its origin this archive's log. `None` (why in `out.detail`) when any of
/// these fails.
fn read_checkpoint(
    archive: &Archive,
    note_text: &str,
    key: &VerifierKey,
    out: &mut CheckpointAudit,
) -> Result<Option<Checkpoint>, Error> {
    let note = match Note::parse(note_text) {
        Ok(n) => n,
        Err(e) => {
            out.detail = e.to_string();
            return Ok(None);
        }
    };
    if let Err(e) = note.verify(key) {
        out.detail = e.to_string();
        return Ok(None);
    }
    out.signature_verified = true;
    let cp = match Checkpoint::parse(&note.text) {
        Ok(c) => c,
        Err(e) => {
            out.detail = e.to_string();
            return Ok(None);
        }
    };
    out.origin = cp.origin.clone();
    out.tree_size = cp.size;
    out.root = b64(&cp.root);
    let name = archive_name(archive)?;
    if cp.origin != name {
        out.detail = format!(
            "the checkpoint is of the log {}, this archive is {}",
            crate::quoted(&cp.origin),
            crate::quoted(&name)
        );
        return Ok(None);
    }
    Ok(Some(cp))
}

/// The log's first `m` events are those the checkpoint signed: the RFC 9162
/// consistency proof from its tree to today's, checked.
fn prove_extends(mem: &MemTree, m: u64, cp: &Checkpoint, out: &mut CheckpointAudit) {
    let n = mem.size();
    let proof = match consistency_proof(mem, m, n) {
        Ok(p) => p,
        Err(never) => match never {},
    };
    let new_root = mem_root(mem, n);
    out.extends = verify_consistency(m, n, &cp.root, &new_root, &proof);
    out.consistency_proof = proof.iter().map(|h| b64(h)).collect();
    out.detail = if out.extends {
        format!(
            "today's log of {n} events extends the checkpoint of {m}: the {m} events it signed are unchanged"
        )
    } else {
        "the consistency proof does not verify (a bug in Cairn: please report it)".into()
    };
}

/// A stored or replaced tree that is the checkpoint's tree names the first differing
/// event exactly (1-based).
fn difference_from_trees(
    candidates: &[PathBuf],
    mem: &MemTree,
    cp: &Checkpoint,
) -> Result<Option<u64>, Error> {
    let (m, n) = (cp.size, mem.size());
    for c in candidates {
        let Some(s) = TreeStore::open(c)? else {
            continue;
        };
        if s.shape_problem()?.is_some() || s.size() < m || s.root(m)? != cp.root {
            continue;
        }
        let signed = s.leaves(0, m)?;
        let today = &mem.leaves()[..(n.min(m)) as usize];
        return Ok(first_difference(&signed, today).map(|i| i as u64 + 1));
    }
    Ok(None)
}

/// Else the first difference is bracketed with the archive's own kept checkpoints
/// signed by the key: the last one today's log still extends, and the first it does
/// not.
fn bracket_difference(
    archive: &Archive,
    key: &VerifierKey,
    mem: &MemTree,
    cp: &Checkpoint,
    out: &mut CheckpointAudit,
) -> Result<(), Error> {
    let (m, n) = (cp.size, mem.size());
    let mut lo = 0u64;
    let mut hi = m.min(n + 1);
    for (_, text) in kept_checkpoints(archive)? {
        let Ok(kn) = Note::parse(&text) else { continue };
        if kn.verify(key).is_err() {
            continue;
        }
        let Ok(k) = Checkpoint::parse(&kn.text) else {
            continue;
        };
        if k.origin != cp.origin || k.size > m || k.size == 0 {
            continue;
        }
        if k.size <= n && mem_root(mem, k.size) == k.root {
            lo = lo.max(k.size);
        } else {
            hi = hi.min(k.size);
        }
    }
    if lo + 1 == hi {
        out.first_differing_event = Some(hi);
    } else if lo + 1 < hi {
        out.differing_between = Some((lo + 1, hi));
    } else {
        out.differing_between = Some((1, m.min(n + 1)));
    }
    Ok(())
}
