//! Use cases. Each takes an options struct and returns a report value; ops never print.

pub mod after_write;
pub mod amend;
pub mod audit;
pub mod audit_register;
pub mod bag_check;
pub mod bag_profile;
pub mod bag_validate;
pub mod commit;
pub mod create;
pub mod events;
pub mod findings;
pub mod fixity;
pub mod formats;
pub mod ingest;
pub mod ocfl;
pub mod ocfl_import;
pub mod premis;
pub mod qc;
pub mod repair;
pub mod replica_check;
pub mod replica_root;
pub mod replicate;
pub mod report;
pub mod restore;
pub mod revise;
pub mod schedule;
pub mod show;
pub mod tlog;
pub mod transfer;
pub mod verify;
pub mod versions;
pub mod withdraw;

pub use bag_validate::validate_bag;
pub use create::{create_bag, CreateOptions, CreateReport};
pub use ingest::{ingest, IngestOptions, IngestReport};
