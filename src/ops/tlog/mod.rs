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

pub use crate::fs::layout::CHECKPOINTS_DIR;
/// The `format` of a proof file.
pub const PROOF_FORMAT: &str = "cairn-inclusion-proof/1";

/// The archive's name: `archive.name`; for an archive whose cairn.toml does not fix
/// it yet (made before `cairn init` wrote it), the name its newest kept checkpoint
/// carries, else the archive folder's name. Reads only; [`fix_archive_name`] writes it.
pub fn archive_name(archive: &Archive) -> Result<String, Error> {
    let name = if archive.config.archive.name.is_empty() {
        unfixed_name(archive, None)?.0
    } else {
        archive.config.archive.name.clone()
    };
    check_archive_name(&name)?;
    Ok(name)
}

fn check_archive_name(name: &str) -> Result<(), Error> {
    crate::tlog::note::check_name(name).map_err(|_| {
        Error::Usage(format!(
            "the archive's name {} cannot name a checkpoint (no spaces or '+'); set archive.name in cairn.toml",
            crate::quoted(name)
        ))
    })
}

/// The name of an archive whose cairn.toml has none, and where it comes from: the
/// origin of its newest kept checkpoint, else the name of `key` (the key it signs
/// with), else its folder's name.
fn unfixed_name(archive: &Archive, key: Option<&str>) -> Result<(String, String), Error> {
    for (path, text) in kept_checkpoints(archive)?.iter().rev() {
        let origin = crate::tlog::note::Note::parse(text)
            .ok()
            .and_then(|n| Checkpoint::parse(&n.text).ok())
            .map(|c| c.origin);
        if let Some(origin) = origin {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            return Ok((origin, format!("the origin of the kept checkpoint {file}")));
        }
    }
    if let Some(k) = key {
        return Ok((k.to_string(), "the name of the signing key".into()));
    }
    let root = crate::fs::canonicalize(&archive.root)?;
    let folder = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        crate::config::name_from_folder(&folder),
        "the archive folder's name".into(),
    ))
}

/// The archive's name fixed in its cairn.toml.
#[derive(Debug, Clone, Serialize)]
pub struct NameFix {
    pub name: String,
    /// Where the name came from, when this call wrote it into cairn.toml (it had none).
    pub written_from: Option<String>,
}

/// The archive's name, written into cairn.toml as `archive.name` if it is not there
/// yet (an archive made before `cairn init` fixed it): from its newest kept checkpoint,
/// else the name of `key` (the key about to sign, or the configured one), else the
/// folder's name. From then on a moved or restored archive keeps it: never the folder.
pub fn fix_archive_name(archive: &Archive, key: Option<&str>) -> Result<NameFix, Error> {
    if !archive.config.archive.name.is_empty() {
        check_archive_name(&archive.config.archive.name)?;
        return Ok(NameFix {
            name: archive.config.archive.name.clone(),
            written_from: None,
        });
    }
    let (name, from) = unfixed_name(archive, key)?;
    check_archive_name(&name)?;
    let path = archive.root.join(crate::config::CONFIG_FILE);
    let text = crate::fs::read_to_string(&path)?;
    let fixed = crate::config::with_archive_name(&text, &name).ok_or_else(|| Error::Refused {
        path: path.clone(),
        reason: format!(
            "archive.name is not set and Cairn could not add it to this file; set `name = {}` under [archive] by hand",
            crate::quoted(&name)
        ),
    })?;
    crate::fs::durable::write_atomic(&path, fixed.as_bytes())?;
    Ok(NameFix {
        name,
        written_from: Some(from),
    })
}

/// For `cairn key generate` in an archive: the archive's name fixed (from its kept
/// checkpoints, else the configured signing key's name when that key file exists,
/// else the folder's name), to name the new key with.
pub fn name_for_new_key(archive: &Archive) -> Result<NameFix, Error> {
    let configured = &archive.config.archive.checkpoint_key;
    let key = if archive.config.archive.name.is_empty() && !configured.as_os_str().is_empty() {
        let path = archive.root.join(configured);
        if crate::fs::entry_exists(&path) {
            Some(load_signer(&path)?.name)
        } else {
            None
        }
    } else {
        None
    };
    fix_archive_name(archive, key.as_deref())
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
    /// Where the archive's name came from, when this checkpoint wrote it into
    /// cairn.toml (an archive made before `cairn init` fixed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_written_from: Option<String>,
}

/// Signs a checkpoint of the event log as it is now and keeps it in
/// manifests/checkpoints/ (`SIZE-KEYID.txt`).
pub fn checkpoint(archive: &Archive, signer: &SignerKey) -> Result<CheckpointReport, Error> {
    // A torn last line (a write cut short) is repaired first: it is not part of the
    // chain. (Checkpoints take no clock; the repair event is stamped with the system's.)
    crate::ops::commit::repair_log(
        archive,
        crate::clock::Clock::now(&crate::clock::SystemClock),
    )?;
    // A signature vouches for the log: never sign one whose chain is broken (an edited
    // or forged line), or the key would launder the tampering.
    let log = archive.check_event_links()?;
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. No checkpoint was signed; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    let fixed = fix_archive_name(archive, Some(&signer.name))?;
    let origin = fixed.name.clone();
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
        name_written_from: fixed.written_from,
    })
}

/// `checkpoint_on_write`, as the write policy reports it (`ops::after_write`):
/// `None` when not configured, else the checkpoint kept or why it could not be.
pub fn checkpoint_on_write(
    archive: &Archive,
) -> Option<Result<CheckpointReport, std::sync::Arc<Error>>> {
    checkpoint_if_configured(archive)
        .transpose()
        .map(|r| r.map_err(std::sync::Arc::new))
}

/// `checkpoint_on_write`: a checkpoint after a run that appended events, if configured.
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
