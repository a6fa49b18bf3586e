//! `export` and `import`: bags to and from other archives, as zip files (or folders).
//!
//! Export writes a deterministic zip of one bag (RFC 8493 §4.3: one top-level folder
//! named after the bag): entries in byte order of their paths, every timestamp
//! 1980-01-01 00:00, fixed permissions, already-compressed formats stored and the rest
//! deflated at a fixed level, Zip64 where a file needs it. The same bag gives the same
//! bytes, so a zip's digest can be recorded and compared.
//!
//! Import validates first (a zip is read in place, never extracted before it is found
//! valid), then commits it through the same protocol as ingest ([`crate::ops::commit`]):
//! extract into staging, validate the staged copy in full, publish, register, log. The bag is kept byte for byte: Cairn adds nothing to it.
//!
//! `export.rs` writes the zip; `import.rs` validates and commits a bag made elsewhere.

mod export;
mod import;

pub use export::{export, export_deposit, export_version, ExportReport};
pub use import::{import, ImportReport, Via};
pub(crate) use import::{import_via, policy_after_import};
