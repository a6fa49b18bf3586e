//! The only code that touches the filesystem: walking sources, reading bags from
//! folders, and durable writes.

pub mod archive;
pub mod dir;
pub mod durable;
pub mod events;
pub mod failpoint;
pub mod rate;
pub mod walk;
pub mod zip;
