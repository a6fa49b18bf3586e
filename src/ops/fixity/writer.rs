//! The run's events: one per bag checked, appended in groups by a writer thread as the
//! run goes.

use super::*;

/// The `fixity check` event of one bag's result.
pub(super) fn check_event(r: &BagResult) -> NewEvent {
    let algs = r
        .algorithms
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ");
    let (outcome, detail) = match r.outcome {
        BagOutcome::Passed => (
            Outcome::Success,
            format!(
                "{}, {}: every {algs} checksum matches the manifests and the register",
                crate::units::count(r.files, "file", "files"),
                crate::units::count(r.bytes, "byte", "bytes"),
            ),
        ),
        BagOutcome::Failed => {
            let mut counts: BTreeMap<FixityKind, usize> = BTreeMap::new();
            for f in &r.findings {
                *counts.entry(f.kind).or_default() += 1;
            }
            let summary: Vec<String> = counts
                .iter()
                .map(|(k, n)| format!("{n} {}", k.code()))
                .collect();
            (
                Outcome::Failure,
                format!(
                    "{}: {}",
                    crate::units::count(r.findings.len() as u64, "problem", "problems"),
                    summary.join(", ")
                ),
            )
        }
        BagOutcome::Error => (
            Outcome::Failure,
            format!("could not be checked: {}", r.errors.join("; ")),
        ),
    };
    let mut data = serde_json::json!({
        "files": r.files,
        "bytes": r.bytes,
        "algorithms": r.algorithms,
        "failures": r.findings,
        "errors": r.errors,
    });
    if r.presence_only {
        data["scope"] = serde_json::json!("presence");
    }
    NewEvent::new(EventType::FixityCheck, outcome, &r.id, detail).with_data(data)
}

/// A group of events is appended (one write, one fsync) when it holds this many...
const GROUP_EVENTS: usize = 256;
/// ...or when its oldest event has waited this long.
const GROUP_WAIT: Duration = Duration::from_secs(2);

/// Group commit of a run's `fixity check` events: several per append (one fsync each),
/// instead of one append per bag. What a kill loses: the events of the checks that
/// finished since the last append (at most [`GROUP_EVENTS`] bags, or [`GROUP_WAIT`]),
/// and those of a group handed to the writer whose append had not finished. Such a
/// bag's last logged check stays the older one, so the next `--due` run checks it
/// again; nothing is recorded that did not happen, and no failure found is ever hidden
/// by the grouping: the run's report (and exit code) is printed only after the last
/// group is appended ([`EventGroup::finish`]), and a failed check hands its group to
/// the writer at once.
///
/// The appends are made by a writer thread, in the order the groups were handed to
/// it, so that checking goes on while a group is written and fsynced (on the
/// reference machine an append's fsyncs took 40–60 ms, during which the pool idled).
pub(super) struct EventGroup<'a> {
    clock: &'a dyn Clock,
    logging: bool,
    pending: Vec<NewEvent>,
    since: Instant,
    writer: Option<Writer>,
}

/// The writer thread and the way to it.
pub(super) struct Writer {
    tx: std::sync::mpsc::Sender<(DateTime<Utc>, Vec<NewEvent>)>,
    handle: std::thread::JoinHandle<Result<(), Error>>,
}

impl<'a> EventGroup<'a> {
    pub(super) fn new(archive: &Archive, clock: &'a dyn Clock, logging: bool) -> EventGroup<'a> {
        let writer = logging.then(|| {
            let (tx, rx) = std::sync::mpsc::channel::<(DateTime<Utc>, Vec<NewEvent>)>();
            let archive = archive.clone();
            let handle = std::thread::spawn(move || {
                for (now, events) in rx {
                    archive.append_events(now, &events)?;
                }
                Ok(())
            });
            Writer { tx, handle }
        });
        EventGroup {
            clock,
            logging,
            pending: Vec::new(),
            since: Instant::now(),
            writer,
        }
    }

    pub(super) fn push(&mut self, event: NewEvent) -> Result<(), Error> {
        if !self.logging {
            return Ok(());
        }
        let failed = !Outcome::Success.is(&event.outcome);
        if self.pending.is_empty() {
            self.since = Instant::now();
        }
        self.pending.push(event);
        if failed || self.pending.len() >= GROUP_EVENTS || self.since.elapsed() >= GROUP_WAIT {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the pending events to the writer.
    pub(super) fn flush(&mut self) -> Result<(), Error> {
        if !self.flush_now() {
            // The writer stopped at a failed append: its error is the run's.
            return self.finish();
        }
        Ok(())
    }

    /// Appends what is pending and waits for every append to finish.
    pub(super) fn finish(&mut self) -> Result<(), Error> {
        let _ = self.flush_now();
        match self.writer.take() {
            Some(Writer { tx, handle }) => {
                drop(tx);
                match handle.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            None => Ok(()),
        }
    }

    /// `flush` without the error path (used by `finish`, which then joins the writer
    /// and returns its error, if any).
    pub(super) fn flush_now(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let events = std::mem::take(&mut self.pending);
        match &self.writer {
            Some(w) => w.tx.send((self.clock.now(), events)).is_ok(),
            None => true,
        }
    }
}
