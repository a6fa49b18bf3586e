//! Use cases. Each takes an options struct and returns a report value; ops never print.

pub mod audit;
pub mod bag_check;
pub mod bag_validate;
pub mod commit;
pub mod create;
pub mod fixity;
pub mod formats;
pub mod ingest;
pub mod repair;
pub mod replica_check;
pub mod replicate;
pub mod restore;
pub mod show;
pub mod tlog;
pub mod transfer;

pub use bag_validate::validate_bag;
pub use create::{create_bag, CreateOptions, CreateReport};
pub use ingest::{ingest, IngestOptions, IngestReport};
