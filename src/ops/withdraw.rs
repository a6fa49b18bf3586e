//! `withdraw`: deaccession. The bag leaves archive/ (moved to archive/.quarantine/ID, or
//! with `purge` its bytes deleted), the register entry becomes a tombstone in
//! manifests/withdrawn/ID.json (the last entry is kept in manifests/history/ID/), and a
//! "deaccession" event records who, when and why. The identifier is never used again
//! (the event log keeps it, and ingest and import never reuse a logged identifier).
//! Through the commit protocol ([`crate::ops::commit::Update`]); docs/lifecycle.md.

use std::path::Path;

use serde::Serialize;

use crate::bagit::ValidateReport;
use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::NewEvent;
use crate::fs::lifecycle::Tombstone;
use crate::fs::register::RegisterEntry;
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::amend::current_entry;
use crate::ops::commit::{commit_update, recover, Outcome, Update};
use crate::ops::formats::Annotator;
use crate::vocab::{EventType, Outcome as EventOutcome};

/// Options for [`withdraw`].
#[derive(Debug, Clone, Default)]
pub struct WithdrawOptions {
    pub id: String,
    pub reason: String,
    pub operator: String,
    /// Delete the bag's bytes instead of keeping it in quarantine.
    pub purge: bool,
}

/// What was done.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawReport {
    pub id: String,
    pub tombstone: Tombstone,
    /// The tombstone's file, relative to the archive root.
    pub tombstone_path: String,
    pub recovered: Vec<String>,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

/// Withdraws one item.
/// The write policy ([`crate::ops::after_write`]) runs afterwards.
pub fn withdraw(
    archive: &Archive,
    opts: &WithdrawOptions,
    clock: &dyn Clock,
) -> Result<WithdrawReport, Error> {
    let mut report = withdraw_inner(archive, opts, clock)?;
    report.after_write = after_write(archive, &[], clock);
    Ok(report)
}

/// [`withdraw`], before the write policy.
fn withdraw_inner(
    archive: &Archive,
    opts: &WithdrawOptions,
    clock: &dyn Clock,
) -> Result<WithdrawReport, Error> {
    let reason = opts.reason.trim();
    if reason.is_empty() {
        return Err(Error::Usage(
            "--reason is empty: say why the item is withdrawn (it is kept in its tombstone and the event log)".into(),
        ));
    }
    let lock = archive.lock("withdraw")?;
    let recovered = recover(archive, &lock, clock, &Annotator)?;
    let entry = current_entry(archive, &opts.id).map_err(Error::Usage)?;
    if !archive.bag_path(&opts.id).is_dir() {
        return Err(Error::Corrupt {
            path: archive.bag_path(&opts.id),
            detail: "the register lists the item but its bag is not there; nothing was withdrawn. Run `cairn audit`".into(),
        });
    }
    let mut change = WithdrawChange {
        reason: reason.to_string(),
        operator: opts.operator.clone(),
        purge: opts.purge,
    };
    let committed = commit_update(archive, &lock, &entry.id, &mut change, clock)?;
    let Outcome::Withdraw { tombstone, .. } = committed.outcome else {
        return Err(Error::Internal(
            "a withdrawal that left no tombstone".into(),
        ));
    };
    Ok(WithdrawReport {
        id: entry.id.clone(),
        tombstone: *tombstone,
        tombstone_path: relative(archive, &archive.tombstone_path(&entry.id)),
        recovered,
        after_write: AfterWrite::default(),
    })
}

fn relative(archive: &Archive, path: &Path) -> String {
    path.strip_prefix(&archive.root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

struct WithdrawChange {
    reason: String,
    operator: String,
    purge: bool,
}

impl Update for WithdrawChange {
    fn kind(&self) -> &'static str {
        "withdraw"
    }

    fn replaces_bag(&self) -> bool {
        false
    }

    fn outcome(
        &mut self,
        archive: &Archive,
        current: &RegisterEntry,
        _staged: Option<(&Path, &ValidateReport)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Outcome, Error> {
        let tombstone = Tombstone {
            id: current.id.clone(),
            withdrawn: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            reason: self.reason.clone(),
            operator: self.operator.clone(),
            software: crate::agent(),
            disposition: if self.purge { "purged" } else { "quarantined" }.into(),
            location: (!self.purge)
                .then(|| relative(archive, &archive.quarantine_path(&current.id))),
            archived: current.archived.clone(),
            entry_version: current.entry_version,
            payload_oxum: current.payload_oxum.clone(),
            dublin_core: current.dublin_core.clone(),
            tag_manifests: current
                .tag_files
                .iter()
                .filter(|(n, _)| n.starts_with("tagmanifest-"))
                .map(|(n, d)| (n.clone(), d.clone()))
                .collect(),
            files: current
                .files
                .iter()
                .map(|f| (f.path.clone(), f.digests.clone()))
                .collect(),
        };
        Ok(Outcome::Withdraw {
            tombstone: Box::new(tombstone),
            purge: self.purge,
        })
    }

    fn events(
        &mut self,
        current: &RegisterEntry,
        outcome: &Outcome,
    ) -> Result<Vec<NewEvent>, Error> {
        let Outcome::Withdraw { tombstone, .. } = outcome else {
            return Err(Error::Internal(
                "a withdrawal that does not withdraw".into(),
            ));
        };
        let what = match &tombstone.location {
            Some(l) => format!("its bag was moved to {l}"),
            None => "its bag's bytes were deleted (purged)".into(),
        };
        Ok(vec![NewEvent::new(
            EventType::Deaccession,
            EventOutcome::Success,
            &current.id,
            format!("withdrawn, {what}: {}", self.reason),
        )
        .with_data(serde_json::json!({
            "reason": self.reason,
            "operator": self.operator,
            "disposition": tombstone.disposition,
            "location": tombstone.location,
            "entry_version": current.entry_version,
            "payload_oxum": current.payload_oxum,
            "tag_manifests": tombstone.tag_manifests,
        }))])
    }
}
