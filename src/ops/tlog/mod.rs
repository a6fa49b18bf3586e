//! The event log's transparency-log use cases: the archive's signing key, signed
//! checkpoints (C2SP signed note + tlog-checkpoint), inclusion proofs that anyone can
//! check offline, and the audit of today's log against a checkpoint kept elsewhere.
//! See docs/auditing.md.
//!
//! - this file: the signing key and signed checkpoints (`cairn key`, `cairn checkpoint`);
//! - `proof.rs`: inclusion proofs, written (`cairn proof`) and checked (`cairn verify-proof`);
//! - `audit.rs`: today's log against a kept checkpoint (`cairn audit --checkpoint`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::durable::{sync_dir, write_new};
use crate::fs::tlog_store;
use crate::tlog::hex;
use crate::tlog::note::{b64, Checkpoint, SignerKey, VerifierKey};

mod audit;
mod proof;

pub use audit::{audit_checkpoint, tree_of, CheckpointAudit};
pub use proof::{proof, verify_proof, InclusionProof, ProofTarget, ProofVerdict};

/// The folder in manifests/ where checkpoints are kept.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// The `format` of a proof file.
pub const PROOF_FORMAT: &str = "cairn-inclusion-proof/1";

/// The archive's name: `archive.name`, else the archive folder's name.
pub fn archive_name(archive: &Archive) -> Result<String, Error> {
    let name = if archive.config.archive.name.is_empty() {
        let root = crate::fs::canonicalize(&archive.root)?;
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
        crate::fs::read_to_string(path)?
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
    // A torn last line (a write cut short) is repaired first: it is not part of the
    // chain. (Checkpoints take no clock; the repair event is stamped with the system's.)
    crate::ops::commit::repair_log(
        archive,
        crate::clock::Clock::now(&crate::clock::SystemClock),
    )?;
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
        crate::fs::create_dir(&dir)?;
        sync_dir(&archive.manifests)?;
    }
    let name = format!("{size:012}-{}.txt", hex(&signer.id));
    let path = dir.join(&name);
    let new = match crate::fs::read_to_string_if_present(&path)? {
        Some(old) if old == note => false,
        Some(_) => {
            return Err(Error::Refused {
                path,
                reason: format!(
                    "a different checkpoint of the same size was signed with this key before: the log of {size} events had another root then, or the archive another name. Run `cairn audit --checkpoint {}/{name} --key KEY`",
                    format_args!("manifests/{CHECKPOINTS_DIR}")
                ),
            })
        }
        None => {
            write_new(&path, note.as_bytes())?;
            true
        }
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
    let mut out = Vec::new();
    for path in crate::fs::list_dir_if_present(&dir)? {
        if path.extension().is_some_and(|x| x == "txt") {
            let text = crate::fs::read_to_string(&path)?;
            out.push((path, text));
        }
    }
    out.sort();
    Ok(out)
}
