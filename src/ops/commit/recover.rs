//! Start-up recovery after an interrupted commit: the crash-states table of the
//! commit protocol's module comment, step by step.

use std::collections::BTreeSet;

use super::{addition_events, entry_from_bag, summarize, AnnotateFormats};
use crate::bagit::{validate, Mode, ValidateOptions};
use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::{Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::register::RegisterEntry;
use crate::vocab::EventType;

/// Start-up recovery after an interrupted run (the lock is held, so nothing else is
/// running): discard staging, record published bags that have no register entry, and
/// log registered items that have no ingestion event. Returns what it did.
pub(crate) fn recover(
    archive: &Archive,
    _held: &ArchiveLock,
    clock: &dyn Clock,
    formats: &dyn AnnotateFormats,
) -> Result<Vec<String>, Error> {
    // Changes to archived items that were decided are finished first (update.rs); the
    // staging folders of undecided ones are then cleared with the rest.
    // A torn last line of the log first: it is an accident, not a broken chain.
    let mut notes: Vec<String> = archive.repair_log(clock.now())?.into_iter().collect();
    notes.extend(super::update::recover_updates(archive, _held, clock)?);
    notes.extend(super::repair::recover_repairs(archive, _held, clock)?);
    for p in archive.clear_staging()? {
        notes.push(format!(
            "removed the unfinished staging folder {}",
            p.display()
        ));
    }
    // The items whose ingestion is logged, folded as the log is read.
    let mut logged: BTreeSet<String> = BTreeSet::new();
    let log = archive.fold_events_brief(|e| {
        if EventType::Ingestion.is(&e.event_type) {
            logged.insert(e.object);
        }
    })?;
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. Nothing was changed; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    let registered: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    for id in archive.bag_ids()? {
        if registered.contains(&id) {
            continue;
        }
        let bag = archive.bag_path(&id);
        let source = DirSource::open(&bag)?;
        let check = validate(
            &source,
            &ValidateOptions {
                mode: Mode::Full,
                only_algorithms: None,
                keep_digests: true,
            },
        )?;
        if !check.is_ok() {
            notes.push(format!(
                "{} has no register entry and fails validation, so it was left unregistered: {}",
                bag.display(),
                summarize(&check)
            ));
            continue;
        }
        let entry = entry_from_bag(archive, &id, &source, &check, clock.now(), None, formats)?;
        entry.write_once(&archive.register_path(&id))?;
        notes.push(format!("registered {id}, committed by an interrupted run"));
    }
    for id in archive.register_ids()? {
        if logged.contains(id.as_str()) {
            continue;
        }
        let entry = RegisterEntry::read(&archive.register_path(&id))?;
        let mut events = addition_events(
            &entry,
            " (recorded after an interrupted run)",
            None,
            serde_json::Value::Null,
        );
        super::record_entry_written(
            archive,
            &mut events,
            crate::vocab::EventType::Ingestion,
            &id,
            &archive.register_path(&id),
        )?;
        archive.append_events(clock.now(), &events)?;
        notes.push(format!(
            "logged the ingestion of {id}, committed by an interrupted run"
        ));
    }
    Ok(notes)
}
