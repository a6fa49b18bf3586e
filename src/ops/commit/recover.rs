//! Start-up recovery after an interrupted commit: the crash-states table of the
//! commit protocol's module comment, step by step.

use std::collections::BTreeSet;

use super::{addition_events, entry_from_bag, summarize, AnnotateFormats};
use crate::bagit::{validate, Mode, ValidateOptions};
use crate::clock::Clock;
use crate::error::Error;
use crate::fs::archive::{Archive, ArchiveLock};
use crate::fs::dir::DirSource;
use crate::fs::item_index::ItemIndex;
use crate::fs::register::RegisterEntry;
use crate::vocab::EventType;

/// Start-up recovery after an interrupted run (the lock is held, so nothing else is
/// running): discard staging, record published bags that have no register entry, and
/// log registered items that have no ingestion event. Returns what it did. The whole
/// log is read: which items have their ingestion logged, and its chain checked (a
/// broken one stops the command before it changes anything).
pub(crate) fn recover(
    archive: &Archive,
    held: &ArchiveLock,
    clock: &dyn Clock,
    formats: &dyn AnnotateFormats,
) -> Result<Vec<String>, Error> {
    let mut notes = settle(archive, held, clock)?;
    // The items whose ingestion is logged, folded as the log is read.
    let mut logged: BTreeSet<String> = BTreeSet::new();
    let log = archive.fold_events_brief(|e| {
        if EventType::Ingestion.is(&e.event_type) {
            logged.insert(e.object);
        }
    })?;
    refuse_broken(archive, &log)?;
    register_and_log(
        archive,
        clock,
        formats,
        &|id| logged.contains(id),
        &mut || Ok(()),
        &mut notes,
    )?;
    Ok(notes)
}

/// [`recover`] for ingest's start-up, and the item index it read when it is still
/// current afterwards (recovery wrote nothing after reading it), for the start-up to
/// reuse.
///
/// Which items have their ingestion logged comes from the item index (fs::item_index):
/// the log is read only from the index's recorded position on, each line's link
/// followed from there. A link broken past that position stops the run as before,
/// with its line; the whole chain is checked only before recovery writes anything
/// (rare: after a crash). The caller checks it before its own first write.
pub(crate) fn recover_with_index(
    archive: &Archive,
    held: &ArchiveLock,
    clock: &dyn Clock,
    formats: &dyn AnnotateFormats,
) -> Result<(Vec<String>, Option<ItemIndex>), Error> {
    let mut notes = settle(archive, held, clock)?;
    let index = archive.item_index()?;
    if !index.log_end {
        refuse_broken(archive, &archive.check_event_links()?)?;
    }
    let logged: BTreeSet<&str> = index
        .records
        .values()
        .filter(|r| r.ingested)
        .map(|r| r.id.as_str())
        .collect();
    let wrote = register_and_log(
        archive,
        clock,
        formats,
        &|id| logged.contains(id),
        &mut || refuse_broken(archive, &archive.check_event_links()?),
        &mut notes,
    )?;
    drop(logged);
    Ok((notes, (!wrote).then_some(index)))
}

/// Stops the command when the log's chain is broken: nothing was changed.
pub(crate) fn refuse_broken(
    archive: &Archive,
    log: &crate::fs::events::ChainReport,
) -> Result<(), Error> {
    if let Some(b) = &log.broken {
        return Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "the event log's chain is broken at line {}: {}. Nothing was changed; run `cairn audit` and investigate",
                b.line, b.detail
            ),
        });
    }
    Ok(())
}

/// The first steps: a torn last line of the log repaired, decided changes finished,
/// staging cleared.
fn settle(archive: &Archive, held: &ArchiveLock, clock: &dyn Clock) -> Result<Vec<String>, Error> {
    // Changes to archived items that were decided are finished first (update.rs); the
    // staging folders of undecided ones are then cleared with the rest.
    // A torn last line of the log first: it is an accident, not a broken chain.
    let mut notes: Vec<String> = archive.repair_log(clock.now())?.into_iter().collect();
    notes.extend(super::update::recover_updates(archive, held, clock)?);
    notes.extend(super::repair::recover_repairs(archive, held, clock)?);
    for p in archive.clear_staging()? {
        notes.push(format!(
            "removed the unfinished staging folder {}",
            p.display()
        ));
    }
    Ok(notes)
}

/// Registers published bags that have no register entry and logs the ingestion of
/// registered items that have none (`logged` says which have); `before_write` runs
/// once, before the first write. Returns whether anything was written.
fn register_and_log(
    archive: &Archive,
    clock: &dyn Clock,
    formats: &dyn AnnotateFormats,
    logged: &dyn Fn(&str) -> bool,
    before_write: &mut dyn FnMut() -> Result<(), Error>,
    notes: &mut Vec<String>,
) -> Result<bool, Error> {
    let (mut wrote, mut checked) = (false, false);
    // One listing of manifests/ (sorted): the entries written below are added to it.
    let mut registered: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    for id in archive.bag_ids()? {
        if registered.contains(&id) {
            continue;
        }
        if !checked {
            before_write()?;
            checked = true;
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
        wrote = true;
        notes.push(format!("registered {id}, committed by an interrupted run"));
        registered.insert(id);
    }
    for id in registered {
        if logged(&id) {
            continue;
        }
        if !checked {
            before_write()?;
            checked = true;
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
        wrote = true;
        notes.push(format!(
            "logged the ingestion of {id}, committed by an interrupted run"
        ));
    }
    Ok(wrote)
}
