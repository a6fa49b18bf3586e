//! Cairn's integration tests: one test binary (issue 30), a module per area, all driving
//! the real `cairn` binary end to end on temporary folders (and, in `serve::router`,
//! serve's router in process). One crate links every dependency once instead of once per
//! file, as ripgrep's and cargo's suites do.
//!
//! Run one area with a filter on the module path: `cargo test --test it serve::`,
//! `cargo test --test it bad_day::fixity::`. The helpers every module uses (the hermetic
//! command builder [`common::cairn`], fresh folders, tree copies, the archive invariants)
//! are in `common`; the life-of-an-item helpers in `life`. Data the tests read stays beside
//! this folder: `tests/cmd` (trycmd snapshots), `tests/formats`, and the Python scripts.

mod common;
mod life;

mod adversarial;
mod audit_register;
mod bad_day;
mod bag_create_validate;
mod bag_profiles;
mod cli_snapshots;
mod completions_man;
mod config_env;
mod conformance;
mod crash;
mod events_index;
mod fixity;
mod formats;
mod fuzz_regressions;
mod ingest;
mod interop_bagit_py;
mod item_index;
mod lifecycle;
mod mapped_files;
mod ocfl;
mod ocfl_import;
mod ocfl_replica;
mod premis;
mod progress_tty;
mod properties;
mod qc_agreement;
mod qc_cmd;
mod qc_ingest;
mod register_entries;
mod replica;
mod replica_cluster;
mod serve;
mod serve_auth;
mod serve_intake;
mod tlog;
mod trust;
mod zip;
