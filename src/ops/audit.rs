//! `audit`: what an auditor runs. Trusts nothing Cairn says about itself: re-derives the
//! event log's chain, cross-checks archive/ against manifests/ (re-hashing every tag
//! manifest), and reports the state of the checking schedule.
//!
//! `verify`: a standalone check of a bag anywhere, optionally against a register entry.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::digest::{hash_reader, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::{BrokenLink, EventBrief};
use crate::fs::register::{DigestMap, RegisterEntry};

pub use crate::ops::findings::Discrepancy;
use crate::vocab::{EventType, Outcome};

/// How far an event's time may lie after now, or before an earlier event, before audit
/// flags it: appends from concurrent commands and clocks of machines sharing the
/// archive differ by a little.
pub const TIME_TOLERANCE_SECS: i64 = 300;

/// Options for [`audit`].
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// A head digest recorded earlier: prove today's log still extends it.
    pub since_head: Option<String>,
    /// A signed checkpoint (its text) and the key to check it with: prove today's log
    /// extends it (ops::tlog).
    pub checkpoint: Option<(String, crate::tlog::note::VerifierKey)>,
}

/// The event log's state.
#[derive(Debug, Clone, Serialize)]
pub struct LogStatus {
    pub lines: usize,
    /// BLAKE3 of the last line: record it to prove later that the log was only appended.
    pub head: String,
    pub broken: Option<BrokenLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_head: Option<SinceHead>,
    /// An incomplete last line (a write cut short by a full disk or a crash): not part
    /// of the chain, and not a break; the next command that writes removes it and logs
    /// a `log repair` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub torn_tail: Option<crate::fs::events::TornTail>,
    /// The `log repair` events in the log: incomplete lines Cairn removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<LogRepair>,
}

/// A `log repair` event: an incomplete last line that a writer removed.
#[derive(Debug, Clone, Serialize)]
pub struct LogRepair {
    pub line: u64,
    pub time: String,
}

/// The answer to `--since-head`.
#[derive(Debug, Clone, Serialize)]
pub struct SinceHead {
    pub head: String,
    /// The line whose digest is the recorded head, if the log still has it.
    pub found_at_line: Option<usize>,
    pub extends: bool,
}

/// A bag's checking state.
#[derive(Debug, Clone, Serialize)]
pub struct CheckState {
    pub id: String,
    pub last_check: Option<String>,
}

/// The audit's report.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub items: usize,
    pub log: LogStatus,
    pub discrepancies: Vec<Discrepancy>,
    /// Bags with no fixity check since ingest.
    pub never_checked: Vec<String>,
    /// Bags whose last check (fixity, or the ingest read-back) is older than the interval.
    pub overdue: Vec<CheckState>,
    /// Bags whose latest fixity check failed.
    pub last_check_failed: Vec<CheckState>,
    /// The answer to `--checkpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<crate::ops::tlog::CheckpointAudit>,
    /// The register's files against the digests the log recorded for them.
    pub register_log: crate::ops::audit_register::RegisterLogCheck,
    /// Checks that could not be made, and why (past a broken chain): not failures, but
    /// not passed either.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl AuditReport {
    /// Any discrepancy fails the audit; never-checked and overdue bags are listed, not
    /// failures (a freshly ingested archive is sound).
    pub fn is_ok(&self) -> bool {
        self.log.broken.is_none()
            && self.log.since_head.as_ref().is_none_or(|s| s.extends)
            && self.discrepancies.is_empty()
            && self.last_check_failed.is_empty()
            && self.checkpoint.as_ref().is_none_or(|c| c.is_ok())
    }
}

/// A register entry's tag files: name → algorithm → hex.
type TagDigests = BTreeMap<String, DigestMap>;

/// The first event of one kind of clock fault (line, time, object), and how many.
#[derive(Default)]
struct TimeFault {
    first: Option<(u64, String, String)>,
    count: usize,
}

impl TimeFault {
    fn saw(&mut self, e: &EventBrief) {
        if self.first.is_none() {
            self.first = Some((e.seq, e.time.clone(), e.object.clone()));
        }
        self.count += 1;
    }
}

/// The tag files whose digests, as an event recorded them (`data.tag_manifests`: name
/// → algorithm → hex), the register entry does not hold.
fn disagreeing(
    entry: &TagDigests,
    logged: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    logged
        .iter()
        .filter(|(name, digests)| {
            let recorded = entry.get(name.as_str());
            !digests.as_object().is_some_and(|d| {
                d.iter().all(|(alg, hex)| {
                    let alg = crate::digest::Algorithm::from_manifest_name(alg);
                    let recorded = recorded.zip(alg).and_then(|(r, a)| r.get(a));
                    recorded.map(|d| d.to_hex()).as_deref() == hex.as_str()
                })
            })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Audits the archive. The stages, in the order the report gives its findings: the
/// checkpoint, the register read, the log folded once, the chain settled (a torn tail
/// is not a break), the log against the tree, the break, then archive/ against
/// manifests/, the log against both, and the schedule.
pub fn audit(
    archive: &Archive,
    opts: &AuditOptions,
    clock: &dyn Clock,
) -> Result<AuditReport, Error> {
    let now = clock.now();
    // A consistent view: no ingest or import is half-way through a commit while the
    // audit reads (it waits for one to finish), and no append is half-read.
    let _shared = archive.wait_shared()?;
    let checkpoint = check_checkpoint(archive, opts)?;
    let mut register = read_register(archive)?;
    let want_head = opts
        .since_head
        .as_ref()
        .map(|want| want.trim().to_ascii_lowercase());
    let mut log = fold_log(archive, &register.entries, want_head.as_deref(), now)?;
    let torn_tail = settle_torn_tail(archive, &mut log.chain)?;
    let mut discrepancies = Vec::new();
    if opts.checkpoint.is_none() {
        discrepancies.extend(check_tree(archive, &log.chain)?);
    }
    let skipped = check_chain_break(archive, &log.chain, &mut discrepancies)?;
    let since_head = want_head.map(|head| SinceHead {
        head,
        found_at_line: log.head_at,
        extends: log.head_at.is_some(),
    });
    discrepancies.append(&mut register.found);
    discrepancies.extend(check_bags_against_register(&register));
    discrepancies.extend(check_tag_manifests(archive, &register)?);
    // Every retained earlier version (`cairn revise`) against its superseded entry.
    for id in register.entries.keys() {
        discrepancies.extend(crate::ops::versions::audit_retained(archive, id)?);
    }
    discrepancies.extend(check_deleted_present(&register, &log));
    discrepancies.extend(check_clock_faults(&log, now));
    let log_trusted = log.chain.broken.is_none();
    if log_trusted {
        discrepancies.extend(check_vanished(&register, &log));
        discrepancies.extend(check_register_against_log(&log));
    }
    let mut register_log = crate::ops::audit_register::RegisterLogCheck::default();
    if log_trusted {
        let (found, status) = log.logged_register.check(archive, &register.registered)?;
        discrepancies.extend(found);
        register_log = status;
    }
    discrepancies.extend(check_dublin_core(archive, &register)?);
    if log_trusted {
        discrepancies.extend(check_ingestion_events(&register, &log));
    }
    let schedule = if log_trusted {
        check_schedule(archive, &register, &log, now)
    } else {
        Schedule::default()
    };

    Ok(AuditReport {
        items: register.registered.len(),
        log: LogStatus {
            lines: log.chain.lines,
            head: log.chain.head,
            broken: log.chain.broken,
            since_head,
            torn_tail,
            repairs: log.repairs,
        },
        discrepancies,
        never_checked: schedule.never_checked,
        overdue: schedule.overdue,
        last_check_failed: schedule.last_check_failed,
        checkpoint,
        register_log,
        skipped,
    })
}

/// Stage 1, `--checkpoint`: the signed checkpoint against the log. The Merkle tree is
/// rebuilt from the log read a window at a time (O(events) in memory: 32 bytes a leaf
/// and the levels above), held for this check only.
fn check_checkpoint(
    archive: &Archive,
    opts: &AuditOptions,
) -> Result<Option<crate::ops::tlog::CheckpointAudit>, Error> {
    opts.checkpoint
        .as_ref()
        .map(|(note, key)| crate::ops::tlog::audit_checkpoint(archive, note, key))
        .transpose()
}

/// What the audit reads of archive/ and manifests/ before the log.
struct RegisterView {
    /// The bags in archive/.
    bags: BTreeSet<String>,
    /// The entries in manifests/.
    registered: BTreeSet<String>,
    /// Each readable entry's tag-file digests only (all the audit compares); the file
    /// lists, the bulk of an entry, are dropped as each entry is read.
    entries: BTreeMap<String, TagDigests>,
    /// Each readable entry's Dublin Core.
    records: BTreeMap<String, crate::metadata::StoredDublinCore>,
    /// Entries that cannot be read, or name another item.
    found: Vec<Discrepancy>,
}

/// Stage 2: the bags, the register's entries, and each entry's tag digests and record.
fn read_register(archive: &Archive) -> Result<RegisterView, Error> {
    let mut view = RegisterView {
        bags: archive.bag_ids()?.into_iter().collect(),
        registered: archive.register_ids()?.into_iter().collect(),
        entries: BTreeMap::new(),
        records: BTreeMap::new(),
        found: Vec::new(),
    };
    for id in &view.registered {
        match RegisterEntry::read(&archive.register_path(id)) {
            Ok(e) if e.id == *id => {
                view.entries.insert(id.clone(), e.tag_files);
                view.records.insert(id.clone(), e.dublin_core);
            }
            Ok(e) => view.found.push(Discrepancy {
                kind: "register-entry-mismatch",
                id: id.clone(),
                path: format!("manifests/{id}.json"),
                detail: format!("the entry's own id is {}", crate::quoted(&e.id)),
            }),
            Err(e) => view.found.push(Discrepancy {
                kind: "register-entry-unreadable",
                id: id.clone(),
                path: format!("manifests/{id}.json"),
                detail: e.to_string(),
            }),
        }
    }
    Ok(view)
}

/// What one pass over the log leaves: its chain, the recorded head, and what each
/// event says.
struct LogFold {
    chain: crate::fs::events::ChainReport,
    /// The line whose digest is `--since-head`'s.
    head_at: Option<usize>,
    deleted: BTreeSet<String>,
    ingested: BTreeSet<String>,
    // Looked up once per event: hash maps (never iterated).
    last_fixity: crate::ops::schedule::LastFixity,
    last: crate::ops::schedule::LastChecks,
    future: TimeFault,
    backwards: TimeFault,
    /// Per item, its last ingestion or modification: (line, type, the tag files whose
    /// recorded digests the register does not have).
    last_recorded: BTreeMap<String, (u64, String, Vec<String>)>,
    logged_register: crate::ops::audit_register::LoggedRegister,
    repairs: Vec<LogRepair>,
}

/// Stage 3: the log, read a part at a time (memory grows with the items, not the
/// events): its chain, the recorded head, and what each event says, folded as it goes
/// by.
fn fold_log(
    archive: &Archive,
    entries: &BTreeMap<String, TagDigests>,
    want_head: Option<&str>,
    now: DateTime<Utc>,
) -> Result<LogFold, Error> {
    // Compared with each line's digest as bytes (a head that is not hex is found nowhere).
    let want_digest = want_head.and_then(|h| blake3::Hash::from_hex(h).ok());
    let mut head_at: Option<usize> = None;
    let mut lines_seen = 0usize;
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let mut ingested: BTreeSet<String> = BTreeSet::new();
    let mut last_fixity = crate::ops::schedule::LastFixity::new();
    let mut last = crate::ops::schedule::LastChecks::new();
    let tolerance = chrono::Duration::seconds(TIME_TOLERANCE_SECS);
    let mut latest: Option<DateTime<Utc>> = None;
    let mut future = TimeFault::default();
    let mut backwards = TimeFault::default();
    let mut last_recorded: BTreeMap<String, (u64, String, Vec<String>)> = BTreeMap::new();
    let mut logged_register = crate::ops::audit_register::LoggedRegister::default();
    let mut repairs = Vec::new();
    let chain = archive.fold_events_audit(|ev, digest| {
        lines_seen += 1;
        if head_at.is_none() && want_digest.as_ref() == Some(digest) {
            head_at = Some(lines_seen);
        }
        let crate::fs::events::EventAudit {
            brief: e,
            tag_manifests,
            register_files,
        } = ev;
        if let Some(files) = &register_files {
            logged_register.saw(e.seq, &e.object, &e.event_type, files);
        }
        if EventType::LogRepair.is(&e.event_type) {
            repairs.push(LogRepair {
                line: e.seq,
                time: e.time.clone(),
            });
        }
        crate::ops::schedule::fold_last_check(&mut last, &e);
        // Time: a log is appended in time order, so an event older than one before it,
        // or dated after now, was stamped by a wrong or pretend clock (and would move
        // the fixity schedule).
        if let Ok(t) = DateTime::parse_from_rfc3339(&e.time).map(|t| t.with_timezone(&Utc)) {
            if t > now + tolerance {
                future.saw(&e);
            }
            match latest {
                Some(l) if t + tolerance < l => backwards.saw(&e),
                Some(l) if t <= l => {}
                _ => latest = Some(t),
            }
        }
        let success = Outcome::Success.is(&e.outcome);
        let kind = EventType::of(&e.event_type);
        match kind {
            // A withdrawal (deaccession) takes the bag out as a deletion does.
            Some(EventType::Deaccession) if success => {
                deleted.insert(e.object);
            }
            None if success && e.event_type == crate::vocab::DELETION => {
                deleted.insert(e.object);
            }
            Some(
                EventType::Ingestion | EventType::MetadataModification | EventType::Modification,
            ) if success => {
                // The register against the log: each ingestion event recorded the tag
                // manifests' digests, so an edited register entry shows even without
                // reading any bag. An amend's "metadata modification" event records
                // the new ones: the item's last such event is the one the register
                // must agree with.
                let differing = match (entries.get(&e.object), tag_manifests.as_ref()) {
                    (Some(entry), Some(serde_json::Value::Object(logged))) => {
                        disagreeing(entry, logged)
                    }
                    _ => Vec::new(),
                };
                if kind == Some(EventType::Ingestion) {
                    ingested.insert(e.object.clone());
                }
                last_recorded.insert(e.object, (e.seq, e.event_type, differing));
            }
            Some(EventType::FixityCheck) => {
                crate::ops::schedule::fold_last_fixity(&mut last_fixity, &e)
            }
            _ => {}
        }
    })?;
    Ok(LogFold {
        chain,
        head_at,
        deleted,
        ingested,
        last_fixity,
        last,
        future,
        backwards,
        last_recorded,
        logged_register,
        repairs,
    })
}

/// Stage 4: a break at an incomplete last line is a write cut short, never
/// acknowledged: not part of the chain, and repaired by the next command that writes.
/// The chain then ends before it.
fn settle_torn_tail(
    archive: &Archive,
    chain: &mut crate::fs::events::ChainReport,
) -> Result<Option<crate::fs::events::TornTail>, Error> {
    if let Some(b) = &chain.broken {
        if let Some(t) =
            crate::fs::events::torn_tail(&archive.events_path(), &crate::fs::tlog_store::LogTree)?
        {
            // (Whole lines of the same cut-short write may come before the torn one.)
            if t.line <= b.line {
                chain.lines = t.line - 1;
                chain.head = t.head.clone();
                chain.broken = None;
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

/// Stage 5 (without `--checkpoint`, which compares every line): the log against the
/// Merkle tree Cairn keeps of the lines it appended: lines it did not write, or lines
/// missing. (Past a broken chain this is one of the skipped checks.)
fn check_tree(
    archive: &Archive,
    chain: &crate::fs::events::ChainReport,
) -> Result<Option<Discrepancy>, Error> {
    if chain.broken.is_some() {
        return Ok(None);
    }
    let _read = archive.shared_log_lock()?;
    Ok(
        crate::fs::tlog_store::check_read_only(&archive.events_path())?.map(|why| Discrepancy {
            kind: "log-differs-from-tree",
            id: String::new(),
            path: "manifests/events.jsonl".into(),
            detail: why,
        }),
    )
}

/// Stage 6: a broken chain's finding, and the checks that cannot be made past it.
fn check_chain_break(
    archive: &Archive,
    chain: &crate::fs::events::ChainReport,
    discrepancies: &mut Vec<Discrepancy>,
) -> Result<Vec<String>, Error> {
    let Some(b) = &chain.broken else {
        return Ok(Vec::new());
    };
    discrepancies.push(chain_break(archive, b)?);
    let last_good = b.line.saturating_sub(1);
    Ok(vec![
        format!("the register's files against the digests the log recorded (events after line {last_good} cannot be trusted)"),
        "the register's tag-manifest digests against the ingestion and modification events".into(),
        "items the log records as ingested and no longer present (vanished), and registered items without an ingestion event".into(),
        "the fixity schedule: never checked, overdue, last check failed".into(),
        format!("event times after line {last_good}"),
        "the log against the Merkle tree of the lines Cairn appended (`--checkpoint` compares every line with a checkpoint)".into(),
    ])
}

/// Stage 7: archive/ against manifests/: a bag with no entry, an entry with no bag.
fn check_bags_against_register(register: &RegisterView) -> Vec<Discrepancy> {
    let mut found = Vec::new();
    for id in register.bags.difference(&register.registered) {
        found.push(Discrepancy {
            kind: "bag-without-register-entry",
            id: id.clone(),
            path: format!("archive/{id}"),
            detail: "a bag in archive/ that the register does not know".into(),
        });
    }
    for id in register.registered.difference(&register.bags) {
        found.push(Discrepancy {
            kind: "register-entry-without-bag",
            id: id.clone(),
            path: format!("manifests/{id}.json"),
            detail: format!("the register lists {id}, but archive/{id} is not there"),
        });
    }
    found
}

/// Stage 8: each bag's tag manifests re-hashed against the digests its register entry
/// recorded, every recorded algorithm (tag manifests are small).
fn check_tag_manifests(
    archive: &Archive,
    register: &RegisterView,
) -> Result<Vec<Discrepancy>, Error> {
    let mut found = Vec::new();
    let mut buf = vec![0u8; BUF_SIZE];
    for (id, tag_files) in &register.entries {
        if !register.bags.contains(id) {
            continue;
        }
        let bag = archive.bag_path(id);
        for (name, digests) in tag_files
            .iter()
            .filter(|(n, _)| n.starts_with("tagmanifest-"))
        {
            let path = bag.join(name);
            let detail = match crate::fs::read_if_present(&path)? {
                Some(b) => {
                    let mut differs = None;
                    for &(alg, want) in digests.iter() {
                        let got = hash_reader(&b[..], &[alg], &mut buf)
                            .map_err(|e| Error::io("hash", &path, e))?;
                        if got.get(alg) != Some(&want) {
                            let got = got.get(alg).map(|d| d.to_hex()).unwrap_or_default();
                            differs = Some(format!(
                                "{alg} is {got}; the register recorded {}",
                                want.to_hex()
                            ));
                            break;
                        }
                    }
                    differs
                }
                None => Some("missing; the register recorded it".into()),
            };
            if let Some(detail) = detail {
                found.push(Discrepancy {
                    kind: "tag-manifest-differs-from-register",
                    id: id.clone(),
                    path: format!("archive/{id}/{name}"),
                    detail,
                });
            }
        }
    }
    Ok(found)
}

/// Stage 9: a bag the log records as deleted (or withdrawn) that is still there.
fn check_deleted_present(register: &RegisterView, log: &LogFold) -> Vec<Discrepancy> {
    register
        .bags
        .iter()
        .filter(|id| log.deleted.contains(*id))
        .map(|id| Discrepancy {
            kind: "deleted-but-present",
            id: id.clone(),
            path: format!("archive/{id}"),
            detail: "the event log records its deletion, yet the bag exists".into(),
        })
        .collect()
}

/// Stage 10: each kind of clock fault is one discrepancy naming its first line and how
/// many more there are.
fn check_clock_faults(log: &LogFold, now: DateTime<Utc>) -> Vec<Discrepancy> {
    let mut found = Vec::new();
    let fmt_now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (kind, fault, what) in [
        (
            "event-time-in-future",
            &log.future,
            format!("is dated after now ({fmt_now})"),
        ),
        (
            "event-time-backwards",
            &log.backwards,
            "is dated earlier than an event before it".to_string(),
        ),
    ] {
        if let Some((seq, time, object)) = &fault.first {
            let more = match fault.count - 1 {
                0 => String::new(),
                1 => ", and 1 more event after it".into(),
                n => format!(", and {n} more events after it"),
            };
            found.push(Discrepancy {
                kind,
                id: object.clone(),
                path: format!("manifests/events.jsonl:{seq}"),
                detail: format!(
                    "the event at {time} {what}{more}: a wrong or pretend clock stamped it; fixity's schedule reads these times"
                ),
            });
        }
    }
    found
}

/// Stage 11 (a trusted log only): what the log says exists and is gone without trace:
/// ingested (or imported), never withdrawn, and neither a bag nor a register entry any
/// more.
fn check_vanished(register: &RegisterView, log: &LogFold) -> Vec<Discrepancy> {
    log.ingested
        .difference(&log.deleted)
        .filter(|id| !register.bags.contains(*id) && !register.registered.contains(*id))
        .map(|id| Discrepancy {
            kind: "vanished",
            id: id.clone(),
            path: format!("archive/{id}"),
            detail: "the event log records its ingestion and no deletion, yet neither archive/ nor manifests/ has it".into(),
        })
        .collect()
}

/// Stage 12 (a trusted log only): the register's tag-manifest digests against those
/// the item's last ingestion or modification event recorded.
fn check_register_against_log(log: &LogFold) -> Vec<Discrepancy> {
    let mut found = Vec::new();
    for (id, (seq, event_type, differing)) in &log.last_recorded {
        for name in differing {
            found.push(Discrepancy {
                kind: "register-differs-from-log",
                id: id.clone(),
                path: format!("manifests/{id}.json"),
                detail: format!(
                    "the register's digests of {name} differ from those the {event_type} event (line {seq}) recorded"
                ),
            });
        }
    }
    found
}

/// Stage 13: each current entry's Dublin Core against the bag's own metadata (whatever
/// the log).
fn check_dublin_core(
    archive: &Archive,
    register: &RegisterView,
) -> Result<Vec<Discrepancy>, Error> {
    let mut found = Vec::new();
    for (id, tag_files) in &register.entries {
        if let (true, Some(record)) = (register.bags.contains(id), register.records.get(id)) {
            found.extend(crate::ops::audit_register::check_dublin_core(
                archive, id, tag_files, record,
            )?);
        }
    }
    Ok(found)
}

/// Stage 14 (a trusted log only): a registered item with no ingestion event.
fn check_ingestion_events(register: &RegisterView, log: &LogFold) -> Vec<Discrepancy> {
    register
        .registered
        .iter()
        .filter(|id| !log.ingested.contains(*id))
        .map(|id| Discrepancy {
            kind: "no-ingestion-event",
            id: id.clone(),
            path: format!("manifests/{id}.json"),
            detail: "registered, but the event log has no ingestion event for it".into(),
        })
        .collect()
}

/// The schedule's three lists.
#[derive(Default)]
struct Schedule {
    never_checked: Vec<String>,
    overdue: Vec<CheckState>,
    last_check_failed: Vec<CheckState>,
}

/// Stage 15 (a trusted log only): the schedule: never checked, overdue, last check
/// failed.
fn check_schedule(
    archive: &Archive,
    register: &RegisterView,
    log: &LogFold,
    now: DateTime<Utc>,
) -> Schedule {
    let interval = chrono::Duration::days(i64::from(archive.config.fixity.interval_days));
    let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = Schedule::default();
    for id in &register.registered {
        match log
            .last_fixity
            .get(id)
            .map(|f| (&f.time, Outcome::of(&f.outcome)))
        {
            None => out.never_checked.push(id.clone()),
            Some((time, Some(Outcome::Failure))) => out.last_check_failed.push(CheckState {
                id: id.clone(),
                last_check: Some(time.to_string()),
            }),
            Some(_) => {}
        }
        match log.last.get(id) {
            Some(t) if now - *t < interval => {}
            t => out.overdue.push(CheckState {
                id: id.clone(),
                last_check: t.map(fmt),
            }),
        }
    }
    out
}

/// The one finding of a broken chain: the first line that does not verify and the line
/// before it, with what each is about.
fn chain_break(archive: &Archive, b: &BrokenLink) -> Result<Discrepancy, Error> {
    let path = archive.events_path();
    let object_at = |n: usize| -> Result<String, Error> {
        Ok(crate::fs::events::log_line(&path, n)?
            .and_then(|l| serde_json::from_slice::<serde_json::Value>(&l).ok())
            .and_then(|v| v.get("object").and_then(|o| o.as_str()).map(str::to_string))
            .unwrap_or_default())
    };
    let about = |object: &str| {
        if object.is_empty() {
            String::new()
        } else {
            format!(" (about {object})")
        }
    };
    let here = object_at(b.line)?;
    let (id, detail) = if b.line <= 1 || b.detail.starts_with("not a valid event") {
        (
            here.clone(),
            format!(
                "line {}{} does not verify: {}; the lines before it verify, nothing from it on can be trusted",
                b.line,
                about(&here),
                b.detail
            ),
        )
    } else {
        let before = object_at(b.line - 1)?;
        (
            before.clone(),
            format!(
                "line {}{} does not verify against the line before it, line {}{}: {}. Line {} was changed, or lines were deleted, inserted or reordered between lines {} and {}; the lines before line {} are intact, nothing from line {} on can be trusted",
                b.line,
                about(&here),
                b.line - 1,
                about(&before),
                b.detail,
                b.line - 1,
                b.line - 1,
                b.line,
                b.line - 1,
                b.line - 1
            ),
        )
    };
    Ok(Discrepancy {
        kind: "log-chain-broken",
        id,
        path: format!("manifests/events.jsonl:{}", b.line),
        detail,
    })
}
