//! Transparency-log primitives, pure (no disk): the RFC 9162 Merkle tree over the event
//! log's lines ([`merkle`]), and C2SP signed notes carrying tlog-checkpoints signed
//! with Ed25519 ([`note`]). The tree's storage is `fs::tlog_store`; the use cases
//! (checkpoint, proof, audit against a checkpoint) are `ops::tlog`. See docs/auditing.md.

pub mod merkle;
pub mod note;

pub use merkle::Hash;

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
