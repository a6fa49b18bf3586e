//! The transparency commands: key generate, checkpoint, proof, verify-proof, and the
//! checkpoint part of audit and of ingest and fixity runs (docs/auditing.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use cairn::ops::tlog::{
    checkpoint, generate_key, load_signer, load_verifier, name_for_new_key, proof, signer_path,
    verify_proof, CheckpointAudit, InclusionProof, ProofTarget,
};
use cairn::Error;

use super::common::{note, open_archive, print_json, printable, say, RootArg};
use super::outcome::{error_exit, exit, exit_code};

#[derive(Subcommand)]
pub(super) enum KeyCommand {
    /// Generate the archive's Ed25519 signing key: the private key in FILE (readable by
    /// its owner only) and the public key in FILE.pub, as C2SP signed-note keys.
    ///
    /// The public key (`NAME+KEYID+BASE64`) is what auditors keep to check checkpoints;
    /// the private key never leaves the archive's machine.
    #[command(after_help = super::common::EXIT_CODES_HELP)]
    Generate(KeyGenerateArgs),
}

#[derive(Args)]
pub(super) struct KeyGenerateArgs {
    /// Where to write the private key (must not exist; FILE.pub neither).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The key's name [default: the archive's name, archive.name in cairn.toml].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    root: RootArg,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct CheckpointArgs {
    #[command(flatten)]
    root: RootArg,
    /// The private key to sign with [default: archive.checkpoint_key in cairn.toml].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Also write the checkpoint to FILE (replacing it), for sending elsewhere.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print a JSON report on stdout instead of the checkpoint.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct ProofArgs {
    /// The item whose ingestion event to prove.
    #[arg(required_unless_present = "event", conflicts_with = "event")]
    id: Option<String>,
    /// Prove the event with this seq (line number) instead.
    #[arg(long, value_name = "N")]
    event: Option<u64>,
    /// Prove inclusion in this checkpoint's tree [default: the newest checkpoint kept
    /// in manifests/checkpoints/ that holds the event, else the log as it is now].
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Write the proof to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    root: RootArg,
}

#[derive(Args)]
pub(super) struct VerifyProofArgs {
    /// The proof (JSON, from `cairn proof`).
    proof: PathBuf,
    /// Check against this checkpoint instead of the one inside the proof.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// The archive's public key (a file, or the key itself): check the checkpoint's
    /// signature.
    #[arg(long, value_name = "PUBKEY")]
    key: Option<String>,
    /// Accept a proof whose checkpoint signature is not checked (no --key): only the
    /// hashing is checked, and the output says so. Without it, no --key is exit 1.
    #[arg(long, conflicts_with = "key")]
    unsigned_ok: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

fn read_text(context: &str, path: &PathBuf) -> Result<String, u8> {
    std::fs::read_to_string(path).map_err(|e| error_exit(context, &Error::io("read", path, e)))
}

pub(super) fn run_key(cmd: KeyCommand) -> u8 {
    match cmd {
        KeyCommand::Generate(args) => {
            let name = match args.name {
                Some(n) => n,
                None => {
                    let archive = match open_archive(&args.root, "key generate") {
                        Ok(a) => a,
                        Err(code) => {
                            errln!("cairn: key generate: outside an archive, name the key with --name NAME");
                            return code;
                        }
                    };
                    match name_for_new_key(&archive) {
                        Ok(fix) => {
                            if let Some(from) = &fix.written_from {
                                note!(
                                    "archive.name set to {} in cairn.toml ({from}): checkpoints and keys keep this name from now on",
                                    printable(&fix.name)
                                );
                            }
                            fix.name
                        }
                        Err(e) => return error_exit("key generate", &e),
                    }
                }
            };
            match generate_key(&name, &args.out) {
                Ok(r) => {
                    if args.json {
                        print_json(&r);
                    } else {
                        say!(
                            "wrote the private key {} (owner-only; keep it secret) and the public key {}:",
                            r.private_key.display(),
                            r.public_key.display()
                        );
                        say!("{}", r.vkey);
                        say!("give the public key to your auditors; set archive.checkpoint_key in cairn.toml to sign with this key by default");
                    }
                    exit::OK
                }
                Err(e) => error_exit("key generate", &e),
            }
        }
    }
}

pub(super) fn run_checkpoint(args: CheckpointArgs) -> u8 {
    let archive = match open_archive(&args.root, "checkpoint") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let signer = match signer_path(&archive, args.key.as_deref()).and_then(|p| load_signer(&p)) {
        Ok(s) => s,
        Err(e) => return error_exit("checkpoint", &e),
    };
    let report = match checkpoint(&archive, &signer) {
        Ok(r) => r,
        Err(e) => return error_exit("checkpoint", &e),
    };
    if let Some(from) = &report.name_written_from {
        note!(
            "archive.name set to {} in cairn.toml ({from}): checkpoints keep this name from now on",
            printable(&report.origin)
        );
    }
    if let Some(out) = &args.out {
        if let Err(e) = cairn::fs::durable::write_atomic(out, report.note.as_bytes()) {
            return error_exit("checkpoint", &e);
        }
    }
    if args.json {
        print_json(&report);
    } else if args.out.is_some() {
        say!(
            "checkpoint of {} events kept in {}{}",
            report.tree_size,
            report.kept,
            args.out
                .as_ref()
                .map(|o| format!(" and written to {}", o.display()))
                .unwrap_or_default()
        );
    } else {
        out!("{}", report.note);
        note!(
            "checkpoint of {} events kept in {}",
            report.tree_size,
            report.kept
        );
    }
    exit::OK
}

pub(super) fn run_proof(args: ProofArgs) -> u8 {
    let archive = match open_archive(&args.root, "proof") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let target = match (&args.id, args.event) {
        (_, Some(n)) => ProofTarget::Event(n),
        (Some(id), None) => ProofTarget::Item(id.clone()),
        (None, None) => {
            return error_exit("proof", &Error::Usage("give an ID or --event N".into()))
        }
    };
    let cp = match args
        .checkpoint
        .as_ref()
        .map(|p| read_text("proof", p))
        .transpose()
    {
        Ok(c) => c,
        Err(code) => return code,
    };
    let p = match proof(&archive, &target, cp.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_exit("proof", &e),
    };
    let mut json = serde_json::to_string_pretty(&p).unwrap_or_default();
    json.push('\n');
    match &args.out {
        Some(out) => {
            if let Err(e) = cairn::fs::durable::write_atomic(out, json.as_bytes()) {
                return error_exit("proof", &e);
            }
            say!(
                "proof that event {} is in the tree of {} events ({}) written to {}",
                p.event_seq,
                p.tree_size,
                if p.checkpoint.is_some() {
                    "a signed checkpoint"
                } else {
                    "no checkpoint signs this tree yet: run `cairn checkpoint` first"
                },
                out.display()
            );
        }
        None => {
            out!("{json}");
            if p.checkpoint.is_none() {
                note!("note: no kept checkpoint holds event {}; the proof is of the log as it is now, unsigned (run `cairn checkpoint` first)", p.event_seq);
            }
        }
    }
    exit::OK
}

pub(super) fn run_verify_proof(args: VerifyProofArgs) -> u8 {
    let text = match read_text("verify-proof", &args.proof) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let p: InclusionProof = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            errln!(
                "cairn: verify-proof: {}: not a proof from `cairn proof`: {e}",
                args.proof.display()
            );
            return exit::DATA;
        }
    };
    let cp = match args
        .checkpoint
        .as_ref()
        .map(|c| read_text("verify-proof", c))
        .transpose()
    {
        Ok(c) => c,
        Err(code) => return code,
    };
    let key = match args.key.as_deref().map(load_verifier).transpose() {
        Ok(k) => k,
        Err(e) => return error_exit("verify-proof", &e),
    };
    let v = verify_proof(&p, cp.as_deref(), key.as_ref(), args.unsigned_ok);
    if args.json {
        print_json(&v);
    } else {
        for problem in &v.problems {
            errln!("problem: {}", printable(problem));
        }
        if v.ok {
            let signed = match (&v.signed_by, v.checkpoint_matches) {
                (Some(k), _) => format!("a checkpoint signed by {k}"),
                (None, Some(true)) => {
                    "a checkpoint whose signature was NOT checked (--unsigned-ok; pass --key to check it)".into()
                }
                _ => "no checkpoint: the tree is unsigned, its signature NOT checked (--unsigned-ok)".into(),
            };
            say!(
                "proof verified: event {} is in the tree of {} events (root {}), {signed}",
                v.event_seq,
                v.tree_size,
                v.root
            );
        } else {
            errln!("proof FAILED: {} problems", v.problems.len());
        }
    }
    exit_code(&v)
}

/// Reads `--checkpoint FILE --key PUBKEY` for audit.
pub(super) fn audit_checkpoint_arg(
    checkpoint: Option<&PathBuf>,
    key: Option<&str>,
) -> Result<Option<(String, cairn::tlog::note::VerifierKey)>, u8> {
    let (Some(cp), Some(key)) = (checkpoint, key) else {
        return Ok(None);
    };
    let text = read_text("audit", cp)?;
    let key = load_verifier(key).map_err(|e| error_exit("audit", &e))?;
    Ok(Some((text, key)))
}

/// The audit's checkpoint lines.
pub(super) fn print_checkpoint_audit(c: &CheckpointAudit) {
    if c.is_ok() {
        say!("checkpoint: {}", printable(&c.detail));
    } else {
        if !c.detail.is_empty() {
            errln!("checkpoint: FAILED: {}", printable(&c.detail));
        }
        if let Some(s) = &c.stored_tree {
            errln!("checkpoint: Merkle tree: {}", printable(s));
        }
    }
    for r in &c.replaced_trees {
        note!("note: manifests/{r}: a Merkle tree that disagreed with the log was replaced; it is kept as evidence");
    }
}
