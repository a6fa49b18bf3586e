//! Use cases. Each takes an options struct and returns a report value; ops never print.

pub mod audit;
pub mod check;
pub mod create;
pub mod fixity;
pub mod formats;
pub mod ingest;
pub mod show;
pub mod transfer;
pub mod validate;

pub use create::{create_bag, CreateOptions, CreateReport};
pub use ingest::{ingest, IngestOptions, IngestReport};
pub use validate::validate_bag;
