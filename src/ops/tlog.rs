//! The event log's transparency-log use cases: the archive's signing key, signed
//! checkpoints (C2SP signed note + tlog-checkpoint), inclusion proofs that anyone can
//! check offline, and the audit of today's log against a checkpoint kept elsewhere.
//! See docs/auditing.md.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::durable::{sync_dir, write_new};
use crate::fs::tlog_store::{self, TreeStore};
use crate::tlog::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, mem_root, verify_consistency, verify_inclusion,
    MemTree,
};
use crate::tlog::note::{b64, hash_from_b64, Checkpoint, Note, SignerKey, VerifierKey};
use crate::tlog::{hex, Hash};

/// The folder in manifests/ where checkpoints are kept.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// The `format` of a proof file.
pub const PROOF_FORMAT: &str = "cairn-inclusion-proof/1";

/// The archive's name: `archive.name`, else the archive folder's name.
pub fn archive_name(archive: &Archive) -> Result<String, Error> {
    let name = if archive.config.archive.name.is_empty() {
        let root = std::fs::canonicalize(&archive.root)
            .map_err(|e| Error::io("resolve", &archive.root, e))?;
        root.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string()
    } else {
        archive.config.archive.name.clone()
    };
    crate::tlog::note::check_name(&name).map_err(|_| {
        Error::Usage(format!(
            "the archive's name {} cannot name a checkpoint (no spaces or '+'); set archive.name in cairn.toml",
            crate::quoted(&name)
        ))
    })?;
    Ok(name)
}

/// What `cairn key generate` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub name: String,
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    /// The verifier key: give it to auditors.
    pub vkey: String,
}

/// Generates an Ed25519 key named `name`: the private key in `out` (mode 0600) and the
/// public (verifier) key in `out.pub`. Refuses to replace either.
pub fn generate_key(name: &str, out: &Path) -> Result<KeyReport, Error> {
    crate::tlog::note::check_name(name).map_err(|e| Error::Usage(e.to_string()))?;
    let public = PathBuf::from(format!("{}.pub", out.display()));
    if public.exists() {
        return Err(Error::AlreadyExists { path: public });
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::io("draw random bytes for", out, std::io::Error::other(e)))?;
    let key = SignerKey::from_seed(name, seed).map_err(|e| Error::Usage(e.to_string()))?;
    tlog_store::write_private(out, format!("{}\n", key.to_text()).as_bytes())?;
    let vkey = key.verifier().to_text();
    write_new(&public, format!("{vkey}\n").as_bytes())?;
    Ok(KeyReport {
        name: name.to_string(),
        private_key: out.to_path_buf(),
        public_key: public,
        vkey,
    })
}

/// Reads a private key file (refused if others may read it).
pub fn load_signer(path: &Path) -> Result<SignerKey, Error> {
    let text = tlog_store::read_private(path)?;
    SignerKey::parse(&text).map_err(|e| Error::Refused {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads a public (verifier) key: a file holding one, or the key itself.
pub fn load_verifier(arg: &str) -> Result<VerifierKey, Error> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?
    } else {
        arg.to_string()
    };
    VerifierKey::parse(&text)
        .map_err(|e| Error::Usage(format!("--key {}: {e}", crate::quoted(arg))))
}

/// The private key to sign with: `flag`, else `archive.checkpoint_key`.
pub fn signer_path(archive: &Archive, flag: Option<&Path>) -> Result<PathBuf, Error> {
    match flag {
        Some(p) => Ok(p.to_path_buf()),
        None if archive.config.archive.checkpoint_key.as_os_str().is_empty() => Err(Error::Usage(
            "no signing key: pass --key FILE or set archive.checkpoint_key in cairn.toml (make one with `cairn key generate --out FILE`)".into(),
        )),
        None => Ok(archive.root.join(&archive.config.archive.checkpoint_key)),
    }
}

/// What `cairn checkpoint` made.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub origin: String,
    pub tree_size: u64,
    /// Base64, as in the checkpoint.
    pub root: String,
    pub key: String,
    /// Where it is kept, relative to the archive.
    pub kept: String,
    /// False when the same checkpoint was already kept.
    pub new: bool,
    /// The signed note.
    pub note: String,
}

/// Signs a checkpoint of the event log as it is now and keeps it in
/// manifests/checkpoints/ (`SIZE-KEYID.txt`).
pub fn checkpoint(archive: &Archive, signer: &SignerKey) -> Result<CheckpointReport, Error> {
    let origin = archive_name(archive)?;
    // A signature vouches for the log: never sign one whose chain is broken (an edited
    // or forged line), or the key would launder the tampering.
    let log = crate::fs::events::verify_links(&archive.read_events_bytes()?);
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. No checkpoint was signed; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    let store = archive.merkle_tree()?;
    let (size, root) = (store.size(), store.root(store.size())?);
    let cp = Checkpoint {
        origin: origin.clone(),
        size,
        root,
        extensions: Vec::new(),
    };
    let note = signer
        .sign(&cp.to_text())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let dir = archive.manifests.join(CHECKPOINTS_DIR);
    if !dir.is_dir() {
        std::fs::create_dir(&dir).map_err(|e| Error::io("create", &dir, e))?;
        sync_dir(&archive.manifests)?;
    }
    let name = format!("{size:012}-{}.txt", hex(&signer.id));
    let path = dir.join(&name);
    let new = match std::fs::read_to_string(&path) {
        Ok(old) if old == note => false,
        Ok(_) => {
            return Err(Error::Refused {
                path,
                reason: format!(
                    "a different checkpoint of the same size was signed with this key before: the log of {size} events had another root then, or the archive another name. Run `cairn audit --checkpoint {}/{name} --key KEY`",
                    format_args!("manifests/{CHECKPOINTS_DIR}")
                ),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_new(&path, note.as_bytes())?;
            true
        }
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    Ok(CheckpointReport {
        origin,
        tree_size: size,
        root: b64(&root),
        key: signer.verifier().to_text(),
        kept: format!(
            "{}/{CHECKPOINTS_DIR}/{name}",
            archive.config.archive.manifests.display()
        ),
        new,
        note,
    })
}

/// `checkpoint_on_write`: a checkpoint after an ingest or fixity run, if configured.
pub fn checkpoint_if_configured(archive: &Archive) -> Result<Option<CheckpointReport>, Error> {
    if !archive.config.archive.checkpoint_on_write {
        return Ok(None);
    }
    let path = signer_path(archive, None)?;
    let signer = load_signer(&path)?;
    checkpoint(archive, &signer).map(Some)
}

/// The kept checkpoints (path, text), by tree size.
pub fn kept_checkpoints(archive: &Archive) -> Result<Vec<(PathBuf, String)>, Error> {
    let dir = archive.manifests.join(CHECKPOINTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read folder", &dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read folder", &dir, e))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "txt") {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
            out.push((path, text));
        }
    }
    out.sort();
    Ok(out)
}

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
                    if e.event_type == "ingestion" && e.outcome == "success" && e.object == *id {
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
/// with `key`, the checkpoint is signed by it.
pub fn verify_proof(
    p: &InclusionProof,
    checkpoint: Option<&str>,
    key: Option<&VerifierKey>,
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
        Some(p) => &log[..p],
        None => return tree,
    };
    for line in complete.split(|&b| b == b'\n') {
        tree.push(leaf_hash(line));
    }
    tree
}

/// The first index where two leaf lists differ (or where the shorter ends).
fn first_difference(a: &[Hash], b: &[Hash]) -> Option<usize> {
    let n = a.len().min(b.len());
    (0..n)
        .find(|&i| a[i] != b[i])
        .or(if a.len() != b.len() { Some(n) } else { None })
}

/// Audits `log` (today's event log's bytes) against a checkpoint signed by `key`.
pub fn audit_checkpoint(
    archive: &Archive,
    log: &[u8],
    note_text: &str,
    key: &VerifierKey,
) -> Result<CheckpointAudit, Error> {
    let mem = tree_of(log);
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
    // The stored tree against the log (read only: an audit writes nothing).
    let dir = archive.manifests.join(tlog_store::TREE_DIR);
    let store = TreeStore::open(&dir)?;
    // An append that landed after `log` was read (fixity takes no archive lock) makes
    // the tree longer than the bytes at hand: compare what both have.
    let grew = std::fs::metadata(archive.events_path()).is_ok_and(|m| m.len() > log.len() as u64);
    if let Some(s) = &store {
        let upto = if grew { s.size().min(n) } else { s.size() };
        let stored = s.leaves(0, upto)?;
        let today = if grew {
            &mem.leaves()[..upto as usize]
        } else {
            mem.leaves()
        };
        if let Some(i) = first_difference(&stored, today) {
            let i = i as u64;
            out.stored_tree = Some(if i < s.size() && i < n {
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
            });
        }
    }
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

    let note = match Note::parse(note_text) {
        Ok(n) => n,
        Err(e) => {
            out.detail = e.to_string();
            return Ok(out);
        }
    };
    if let Err(e) = note.verify(key) {
        out.detail = e.to_string();
        return Ok(out);
    }
    out.signature_verified = true;
    let cp = match Checkpoint::parse(&note.text) {
        Ok(c) => c,
        Err(e) => {
            out.detail = e.to_string();
            return Ok(out);
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
        return Ok(out);
    }
    let m = cp.size;
    if m <= n && mem_root(&mem, m) == cp.root {
        let proof = match consistency_proof(&mem, m, n) {
            Ok(p) => p,
            Err(never) => match never {},
        };
        let new_root = mem_root(&mem, n);
        out.extends = verify_consistency(m, n, &cp.root, &new_root, &proof);
        out.consistency_proof = proof.iter().map(|h| b64(h)).collect();
        out.detail = if out.extends {
            format!(
                "today's log of {n} events extends the checkpoint of {m}: the {m} events it signed are unchanged"
            )
        } else {
            "the consistency proof does not verify (a bug in Cairn: please report it)".into()
        };
        return Ok(out);
    }
    // It does not extend: find where it differs. A stored or replaced tree that is the
    // checkpoint's tree names the event exactly.
    let mut candidates: Vec<PathBuf> = vec![dir.clone()];
    candidates.extend(replaced);
    for c in &candidates {
        let Some(s) = TreeStore::open(c)? else {
            continue;
        };
        if s.shape_problem()?.is_some() || s.size() < m || s.root(m)? != cp.root {
            continue;
        }
        let signed = s.leaves(0, m)?;
        let today = &mem.leaves()[..(n.min(m)) as usize];
        if let Some(i) = first_difference(&signed, today) {
            out.first_differing_event = Some(i as u64 + 1);
        }
        break;
    }
    if out.first_differing_event.is_none() {
        // Else bracket it with the archive's own kept checkpoints signed by the key.
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
            if k.size <= n && mem_root(&mem, k.size) == k.root {
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
