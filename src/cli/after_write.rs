//! What the archive's write policy did after a command that appended events
//! (`ops::after_write`): the replication of what an ingest or import committed
//! (`replicate_on_ingest`), then the checkpoint (`checkpoint_on_write`), printed after
//! the command's own report, and the exit code they make together.

use std::sync::Arc;

use cairn::ops::after_write::AfterWrite;
use cairn::ops::replicate::ReplicateReport;
use cairn::ops::tlog::CheckpointReport;
use cairn::units::count;
use cairn::Error;

use super::common::{note, printable, say};
use super::outcome::{combined, error_exit, exit, exit_code};

/// Prints what the write policy did after the command `context`, whose own exit code
/// is `code`; returns the exit code of the whole run.
pub(super) fn report(after: &AfterWrite, context: &str, code: u8) -> u8 {
    let code = match &after.replicated {
        None => code,
        Some(Ok(r)) => {
            print_replicate(r);
            combined(code, exit_code(r))
        }
        Some(Err(e)) => combined(code, error_exit(context, e)),
    };
    checkpoint(&after.checkpoint, context, code)
}

/// The checkpoint `checkpoint_on_write` kept, if it made a new one. A failure to write
/// it turns a successful run's exit code into 3.
pub(super) fn checkpoint(
    kept: &Option<Result<CheckpointReport, Arc<Error>>>,
    context: &str,
    code: u8,
) -> u8 {
    match kept {
        None => code,
        Some(Ok(r)) => {
            if let Some(from) = &r.name_written_from {
                note!(
                    "archive.name set to {} in cairn.toml ({from}): checkpoints keep this name from now on",
                    printable(&r.origin)
                );
            }
            if r.new {
                note!("checkpoint of {} events kept in {}", r.tree_size, r.kept);
            }
            code
        }
        Some(Err(e)) => {
            let c = error_exit(&format!("{context}: checkpoint_on_write"), e);
            if code == exit::OK {
                c.max(exit::OPERATIONAL)
            } else {
                code
            }
        }
    }
}

/// A replication's report in words: each problem on stderr, a line per replica.
pub(super) fn print_replicate(r: &ReplicateReport) {
    for rep in &r.replicas {
        for item in &rep.items {
            for p in &item.problems {
                errln!(
                    "problem: {}: {}: {}: {}",
                    rep.replica,
                    printable(&p.key),
                    p.kind,
                    printable(&p.detail)
                );
            }
        }
        let copied: u64 = rep.items.iter().map(|i| i.copied).sum();
        let bytes: u64 = rep.items.iter().map(|i| i.bytes).sum();
        let present: u64 = rep.items.iter().map(|i| i.present).sum();
        let updated: u64 = rep.items.iter().map(|i| i.updated).sum();
        let removed: u64 = rep.items.iter().map(|i| i.removed).sum();
        // What was done, apart: new objects, outdated ones rewritten (an amend or a
        // revise since the last run), ones no longer in the item deleted, unchanged.
        let mut done = vec![format!(
            "{} copied",
            count(copied, "new object", "new objects")
        )];
        if updated > 0 {
            done.push(format!(
                "{} rewritten (outdated)",
                count(updated, "object", "objects")
            ));
        }
        if removed > 0 {
            done.push(format!(
                "{} deleted (no longer in the item)",
                count(removed, "object", "objects")
            ));
        }
        done.push(format!("{present} unchanged"));
        say!(
            "replica {} ({}): {} ({} written); event log copied ({})",
            rep.replica,
            rep.url,
            done.join(", "),
            count(bytes, "byte", "bytes"),
            count(rep.log_events, "event", "events"),
        );
    }
}
