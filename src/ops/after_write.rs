//! The archive's write policy: what every use case that appends events runs once its own
//! work is done and its lock released (cairn.toml `[archive]`; docs/auditing.md,
//! docs/replicas.md). Library callers get it as the command line does.
//!
//! 1. `replicate_on_ingest`: the items an ingest or import just committed are copied to
//!    every replica (their replication events are appended to the log);
//! 2. `checkpoint_on_write`: a checkpoint of the log, replication events included, is
//!    signed and kept, as `cairn checkpoint` does.
//!
//! What each did is a value ([`AfterWrite`]) in the use case's report; a failure of either
//! undoes nothing of the use case's work and is reported beside it.
//!
//! The use cases that run it: ingest, import, export, fixity (`--replica` too), amend,
//! withdraw, revise, repair; replicate runs the checkpoint step only (it is step 1).

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::ops::replicate::{replicate_inner, ReplicateOptions, ReplicateReport};
use crate::ops::tlog::{checkpoint_on_write, CheckpointReport};

/// What the write policy did after a use case.
#[derive(Debug, Clone, Default)]
pub struct AfterWrite {
    /// `replicate_on_ingest`: the replication of the items just committed, or why it could
    /// not run. `None`: not configured, or nothing was committed.
    pub replicated: Option<Result<ReplicateReport, Arc<Error>>>,
    /// `checkpoint_on_write`: the checkpoint kept (`new` false when the log had not grown
    /// since the last one), or why it could not be signed. `None`: not configured.
    pub checkpoint: Option<Result<CheckpointReport, Arc<Error>>>,
}

/// Runs the write policy after a use case that appended events; `committed` are the
/// items it added to the archive (ingest, import), which replicate_on_ingest copies.
/// Call it with no lock held: replication and the checkpoint each take the archive's.
pub fn after_write(archive: &Archive, committed: &[String], clock: &dyn Clock) -> AfterWrite {
    let replicated =
        (archive.config.archive.replicate_on_ingest && !committed.is_empty()).then(|| {
            let opts = ReplicateOptions {
                to: Vec::new(),
                ids: committed.to_vec(),
            };
            replicate_inner(archive, &opts, clock).map_err(Arc::new)
        });
    AfterWrite {
        replicated,
        checkpoint: checkpoint_on_write(archive),
    }
}
