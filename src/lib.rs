//! Cairn: digital-archive ingestion and preservation with BagIt (RFC 8493) bags, BLAKE3
//! and SHA-2 fixity.
//!
//! Layers, each using only those below it (docs/architecture.md):
//! - [`ops`]: the use cases (ingest, import and export, bag create and validate, fixity,
//!   audit, verify, show, amend, revise, withdraw, replicate, repair, restore, identify,
//!   checkpoints and proofs, report); take options, return reports, never print. Every
//!   change to the archive goes through one commit protocol, [`ops::commit`].
//! - [`serve`]: `cairn serve`, a read-only web server over the archive (OAI-PMH 2.0 and
//!   pages); reads what fs/ writes, writes nothing.
//! - [`fs`]: the code that touches the filesystem: the archive's layout and locks,
//!   durable writes, the bag writer, the register, history and tombstones, the event
//!   log, bags read from folders and zip files, replicas' stores.
//! - [`bagit`], [`metadata`], [`digest`], [`format`], [`tlog`], [`pronom`], [`techmd`], [`qc`]:
//!   pure parsing, rendering, rules and hashing (tlog: the event log's Merkle tree and
//!   signed checkpoints; pronom and techmd: format identification and technical
//!   metadata from a file's bytes); [`config`] parses cairn.toml, [`replica`] its
//!   `[[replica]]` sections.
//!
//! The command-line interface lives in the binary (`src/cli/`), so the library never
//! depends on clap.

// No unwrap or expect outside tests: a failure is a typed error with its context
// (clippy.toml allows both in #[test] functions and #[cfg(test)] modules). Set here
// rather than in Cargo.toml's [lints], which would also reach the integration tests'
// shared helpers.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod bagit;
pub mod clock;
pub mod config;
pub mod digest;
pub mod error;
pub mod format;
pub mod fs;
pub(crate) mod memory;
pub mod metadata;
pub mod ocfl;
pub mod ops;
pub mod progress;
pub mod pronom;
pub mod qc;
pub mod replica;
pub mod serve;
pub mod techmd;
pub mod tlog;
pub mod units;
pub mod vocab;

pub use error::{Error, ErrorClass};
/// The register (manifests/ID.json) lives under fs/, which does its I/O; this path is
/// kept so that `cairn::register::RegisterEntry` still names it.
pub use fs::register;

/// The software agent string written into bag-info.txt and, later, event logs.
pub fn agent() -> String {
    format!("Cairn {}", env!("CARGO_PKG_VERSION"))
}

/// Quotes a name or value for a message, in double quotes, exactly as it is. Unlike
/// `{:?}`, it keeps every letter of every script (Debug escapes combining marks, which
/// would garble Khmer). Control characters are left for the one place that prints, the
/// CLI, to escape; JSON output escapes them itself.
pub fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}
