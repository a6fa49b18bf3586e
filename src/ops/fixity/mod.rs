//! `fixity`: what cron runs. Checks chosen bags in full and against the register,
//! logs a "fixity check" event for each, within a budget, and never overlaps itself.
//!
//! The schedule (docs/fixity.md): a bag's last check is its latest `fixity check` or
//! ingest `validation` event. `--due` takes the bags whose last check is older than the
//! interval, oldest first; with a budget (bytes or time) it then goes on with the
//! next-oldest bags until the budget is spent, so that a nightly run sized at the
//! archive's size divided by the interval checks every bag once per interval, spread
//! evenly, instead of every bag falling due on the same night.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bagit::source::{BagSource, EntryType, SourceEntry};
use crate::clock::Clock;
use crate::digest::Algorithm;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::dir::DirSource;
use crate::fs::events::NewEvent;
use crate::fs::rate::RateLimiter;
use crate::fs::register::RegisterEntry;
use crate::ops::after_write::{after_write, AfterWrite};
use crate::ops::bag_check::{check_bag_listed, BagCheck, FixityFinding, FixityKind, STRENGTH};
pub use crate::ops::schedule::Selection;
use crate::ops::schedule::{fold_last_check, plan, shard_of, LastChecks};
use crate::progress;
pub use crate::units::{parse_duration, parse_size};
use crate::vocab::{EventType, Outcome};

mod presence;
mod writer;

pub use presence::presence_pass;
use presence::*;
use writer::*;

/// Bags checked at once when no budget applies: enough to keep both the pool's threads
/// and the disk busy with small bags, few enough that a run stopped by a failure to
/// read has little in flight.
const BAGS_AT_ONCE: usize = 32;

/// Options for [`fixity`].
#[derive(Debug, Clone)]
pub struct FixityOptions {
    pub selection: Selection,
    /// `(k, n)`: only bags whose identifier hashes to shard k of n (1-based).
    pub shard: Option<(u64, u64)>,
    pub max_bytes: Option<u64>,
    pub max_time: Option<Duration>,
    pub rate: Option<u64>,
    /// Algorithms to verify.
    pub algorithms: AlgorithmChoice,
    /// Append nothing to the event log.
    pub dry_run: bool,
}

/// Which digests fixity checks in each bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmChoice {
    /// Every payload manifest's (`--algorithms all`).
    All,
    /// These when the bag and its register entry both have them (`fixity.algorithm` in
    /// cairn.toml); otherwise the strongest algorithm both have, in the order of
    /// [`STRENGTH`]. A bag made by another tool (bagit.py's sha256 and sha512, or md5)
    /// is checked with what it has, never failed for lacking BLAKE3.
    Preferred(Vec<Algorithm>),
    /// Exactly these (`--algorithms LIST`): a bag without one of them gets one
    /// `algorithm-absent` finding, and is checked with the strongest it has instead.
    Exactly(Vec<Algorithm>),
}

/// The algorithms with a payload manifest in the bag's listing (regular files only).
fn bag_algorithms(listing: &[SourceEntry]) -> Vec<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .filter(|a| {
            let name = format!("manifest-{}.txt", a.name());
            listing
                .iter()
                .any(|e| e.kind == EntryType::File && e.path == name)
        })
        .collect()
}

/// The algorithms the register entry recorded for every payload file (`None`: no
/// entry, or no payload file, so no constraint).
fn register_algorithms(entry: Option<&RegisterEntry>) -> Option<Vec<Algorithm>> {
    let files = &entry?.files;
    if files.is_empty() {
        return None;
    }
    Some(
        Algorithm::ALL
            .into_iter()
            .filter(|a| files.iter().all(|f| f.digests.get(*a).is_some()))
            .collect(),
    )
}

/// The algorithms to check a bag with, and the `algorithm-absent` finding when the ones
/// asked for exactly are not in the bag. `None` = every manifest's.
fn choose_algorithms(
    choice: &AlgorithmChoice,
    listing: &[SourceEntry],
    entry: Option<&RegisterEntry>,
) -> (Option<Vec<Algorithm>>, Option<FixityFinding>) {
    let in_bag = bag_algorithms(listing);
    let in_register = register_algorithms(entry);
    let shared: Vec<Algorithm> = in_bag
        .iter()
        .copied()
        .filter(|a| in_register.as_ref().is_none_or(|r| r.contains(a)))
        .collect();
    let strongest = || {
        STRENGTH
            .into_iter()
            .find(|a| shared.contains(a))
            .or_else(|| STRENGTH.into_iter().find(|a| in_bag.contains(a)))
    };
    let names = |algs: &[Algorithm]| {
        if algs.is_empty() {
            "none Cairn can verify".to_string()
        } else {
            algs.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
        }
    };
    match choice {
        AlgorithmChoice::All => (None, None),
        AlgorithmChoice::Preferred(wanted) => {
            if !wanted.is_empty() && wanted.iter().all(|a| shared.contains(a)) {
                (Some(wanted.clone()), None)
            } else {
                // Nothing verifiable at all is left to validation to report.
                (strongest().map(|a| vec![a]), None)
            }
        }
        AlgorithmChoice::Exactly(wanted) => {
            let absent: Vec<Algorithm> = wanted
                .iter()
                .copied()
                .filter(|a| !in_bag.contains(a))
                .collect();
            if absent.is_empty() {
                return (Some(wanted.clone()), None);
            }
            let present: Vec<Algorithm> = wanted
                .iter()
                .copied()
                .filter(|a| in_bag.contains(a))
                .collect();
            let instead = if present.is_empty() {
                strongest().map(|a| vec![a])
            } else {
                Some(present)
            };
            let detail = format!(
                "the bag has no payload manifest for {} (its manifests: {}); checked with {} instead",
                names(&absent),
                names(&in_bag),
                instead.as_deref().map(names).unwrap_or_else(|| "nothing".into()),
            );
            (
                instead,
                Some(FixityFinding::new(FixityKind::AlgorithmAbsent, "", detail)),
            )
        }
    }
}

/// The outcome of checking one bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BagOutcome {
    Passed,
    Failed,
    /// Could not be checked (permission denied): not the bag's fault.
    Error,
}

/// One bag's result.
#[derive(Debug, Clone, Serialize)]
pub struct BagResult {
    pub id: String,
    pub outcome: BagOutcome,
    pub files: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// The algorithms whose digests were checked.
    pub algorithms: Vec<Algorithm>,
    pub findings: Vec<FixityFinding>,
    pub errors: Vec<String>,
    /// Found by the presence pass alone (the bag folder or a tag file is gone; nothing
    /// was read): the bag was not among those this run checked in full.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub presence_only: bool,
}

/// Why a run stopped before every selected bag was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    Complete,
    ByteBudget,
    TimeBudget,
}

/// The run's report.
#[derive(Debug, Clone, Serialize)]
pub struct FixityReport {
    pub now: String,
    pub checked: Vec<BagResult>,
    pub stopped: Stop,
    /// Bags that were due but not reached within the budget.
    pub due_not_reached: usize,
    pub bytes: u64,
    pub seconds: f64,
    /// Bags without a register entry skipped because an ingest or import was
    /// committing (they are checked by a later run once registered).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_in_flight: Vec<String>,
    /// The event log's chain was broken when the run started: the bags were checked and
    /// reported, and nothing was appended to the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_broken: Option<LogBreak>,
    /// Registered bags whose folder and tag files the presence pass looked for (every
    /// run without `--id`; see [`presence_pass`]), those checked in full excepted.
    #[serde(skip_serializing_if = "is_zero")]
    pub presence_checked: usize,
    /// What the write policy did afterwards ([`crate::ops::after_write`]).
    #[serde(skip)]
    pub after_write: AfterWrite,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where the event log's chain breaks, and the object of that line.
#[derive(Debug, Clone, Serialize)]
pub struct LogBreak {
    pub line: usize,
    pub object: String,
    pub detail: String,
}

impl FixityReport {
    pub fn is_ok(&self) -> bool {
        self.log_broken.is_none() && self.checked.iter().all(|b| b.outcome == BagOutcome::Passed)
    }

    pub fn has_errors(&self) -> bool {
        self.checked.iter().any(|b| b.outcome == BagOutcome::Error)
    }
}

/// Runs a fixity check. The stages: the items to consider, the schedule from the log,
/// the order (due first), each bag checked in that order within the budgets, then the
/// presence of every bag the run did not read, the events appended as it goes.
/// The write policy ([`crate::ops::after_write`]) runs afterwards, a dry run included.
pub fn fixity(
    archive: &Archive,
    opts: &FixityOptions,
    clock: &dyn Clock,
) -> Result<FixityReport, Error> {
    let mut report = fixity_inner(archive, opts, clock)?;
    report.after_write = after_write(archive, &[], clock);
    Ok(report)
}

/// [`fixity`], before the write policy.
fn fixity_inner(
    archive: &Archive,
    opts: &FixityOptions,
    clock: &dyn Clock,
) -> Result<FixityReport, Error> {
    // A dry run writes nothing, so it takes no lock: an auditor with read-only access
    // can plan a run.
    let _fixity_lock = if opts.dry_run {
        None
    } else {
        Some(archive.lock_fixity()?)
    };
    let started = Instant::now();
    let now = clock.now();
    if !opts.dry_run {
        crate::ops::commit::repair_log(archive, now)?;
    }
    let interval = chrono::Duration::days(i64::from(archive.config.fixity.interval_days));
    let ids = select_ids(archive, opts)?;
    // Each event's type, time and object: the schedule needs no more. Folded as the
    // log is read, a part at a time: memory grows with the items, not the events.
    let (last, log) = last_checks(archive, opts.dry_run)?;
    // A broken chain is never appended to: the bags are still checked and reported.
    let log_broken = log.broken.as_ref().map(|b| LogBreak {
        line: b.line,
        object: archive.event_object_at(b.line).unwrap_or_default(),
        detail: b.detail.clone(),
    });
    let budgeted = opts.max_bytes.is_some() || opts.max_time.is_some();
    let (order, due_count) = plan(&ids, &last, now, interval, &opts.selection, budgeted);

    let mut report = FixityReport {
        now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checked: Vec::new(),
        stopped: Stop::Complete,
        due_not_reached: 0,
        bytes: 0,
        seconds: 0.0,
        skipped_in_flight: Vec::new(),
        log_broken,
        presence_checked: 0,
        after_write: AfterWrite::default(),
    };
    let sizes = progress_sizes(archive, opts, &order);
    let _run = progress::phase(
        "fixity",
        sizes.iter().map(|p| p.0).sum(),
        sizes.iter().map(|p| p.1).sum(),
    );
    let logging = report.log_broken.is_none() && !opts.dry_run;
    // The events are appended by a writer thread (`EventGroup`), so that the bags go
    // on being checked while a group is written and fsynced.
    let mut group = EventGroup::new(archive, clock, logging);
    let run = Run {
        archive,
        opts,
        started,
        sizes: &sizes,
    };
    check_in_order(&run, &order, due_count, &mut group, &mut report)?;
    if !matches!(opts.selection, Selection::Ids(_)) {
        check_presence(archive, &ids, &mut group, &mut report)?;
    }
    group.finish()?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Each bag's last check, and the chain's verdict. A dry run appends nothing, so it
/// plans from the item index (fs::item_index) without reading the log; a run that
/// appends reads the whole log, to append nothing to a broken chain.
fn last_checks(
    archive: &Archive,
    dry_run: bool,
) -> Result<(LastChecks, crate::fs::events::ChainReport), Error> {
    let mut last = LastChecks::new();
    if dry_run {
        for r in archive.item_index_with(false)?.records.into_values() {
            if let Some(t) = r.last_check {
                last.insert(r.id, t);
            }
        }
        return Ok((last, crate::fs::events::verify_links(b"")));
    }
    let log = archive.fold_events_brief(|e| fold_last_check(&mut last, &e))?;
    Ok((last, log))
}

/// Registered items and bags, each once, in order (a set: `Vec::contains` per bag
/// made this items × bags comparisons); every `--id` named must be one; with a shard,
/// only its items.
fn select_ids(archive: &Archive, opts: &FixityOptions) -> Result<Vec<String>, Error> {
    let ids: std::collections::BTreeSet<String> = archive
        .register_ids()?
        .into_iter()
        .chain(archive.bag_ids()?)
        .collect();
    if let Selection::Ids(wanted) = &opts.selection {
        for w in wanted {
            if !ids.contains(w) {
                if let Ok(Some(t)) = archive.tombstone(w) {
                    return Err(Error::Usage(format!(
                        "{w} was withdrawn on {} ({}): it has no bag in archive/ to check; `cairn show {w}` shows its tombstone",
                        t.withdrawn, t.disposition
                    )));
                }
                return Err(Error::Usage(format!(
                    "no item {} in the archive; `cairn list` shows the identifiers",
                    crate::quoted(w)
                )));
            }
        }
    }
    let mut ids: Vec<String> = ids.into_iter().collect();
    if let Some((k, n)) = opts.shard {
        ids.retain(|id| shard_of(id, n) == k);
    }
    Ok(ids)
}

/// Progress: when someone watches, the bags' sizes (their Payload-Oxum) are read
/// first, up to the byte budget, so that the bar has the run's totals.
fn progress_sizes(archive: &Archive, opts: &FixityOptions, order: &[String]) -> Vec<(u64, u64)> {
    if !progress::watched() {
        return Vec::new();
    }
    let mut total = 0;
    order
        .iter()
        .map_while(|id| {
            if opts.max_bytes.is_some_and(|b| total >= b) {
                return None;
            }
            let size = payload_oxum(archive, id);
            total += size.1;
            Some(size)
        })
        .collect()
}

/// What [`check_in_order`] reads of the run.
struct Run<'a> {
    archive: &'a Archive,
    opts: &'a FixityOptions,
    started: Instant,
    /// The bags' sizes for progress ([`progress_sizes`]).
    sizes: &'a [(u64, u64)],
}

/// Each bag in `order`, checked in full. Bags are checked several at a time on the one
/// rayon pool when no budget applies (a budget is checked between bags, so then one at
/// a time), and their events are appended in groups (see `EventGroup`).
fn check_in_order(
    run: &Run<'_>,
    order: &[String],
    due_count: usize,
    group: &mut EventGroup<'_>,
    report: &mut FixityReport,
) -> Result<(), Error> {
    let Run {
        archive,
        opts,
        started,
        sizes: plan,
    } = *run;
    let limiter = opts.rate.map(|r| Arc::new(RateLimiter::new(r)));
    let (mut files_planned, mut bytes_planned) = (0, 0);
    let budgeted_run = opts.max_bytes.is_some() || opts.max_time.is_some();
    let per_round = if budgeted_run { 1 } else { BAGS_AT_ONCE };
    let mut i: usize = 0;
    'run: for ids in order.chunks(per_round) {
        let results: Vec<Result<Option<BagResult>, Error>> = if ids.len() == 1 {
            Vec::new()
        } else {
            use rayon::prelude::*;
            ids.par_iter()
                .map(|id| check_settled(archive, id, opts, limiter.clone()))
                .collect()
        };
        let mut results = results.into_iter();
        for id in ids {
            if let Some((files, bytes)) = i.checked_sub(1).and_then(|prev| plan.get(prev)) {
                files_planned += files;
                bytes_planned += bytes;
                progress::reach(files_planned, bytes_planned);
            }
            progress::item(id);
            // Budgets are checked between bags: a bag is never left half-checked.
            if opts.max_bytes.is_some_and(|b| report.bytes >= b) {
                report.stopped = Stop::ByteBudget;
            } else if opts.max_time.is_some_and(|t| started.elapsed() >= t) {
                report.stopped = Stop::TimeBudget;
            }
            if report.stopped != Stop::Complete {
                report.due_not_reached = due_count.saturating_sub(i);
                break 'run;
            }
            let checked = match results.next() {
                Some(r) => r,
                None => check_settled(archive, id, opts, limiter.clone()),
            };
            i += 1;
            // A failure to run still logs the checks that finished before it.
            let checked = match checked {
                Ok(c) => c,
                Err(e) => {
                    group.finish()?;
                    return Err(e);
                }
            };
            let Some(result) = checked else {
                report.skipped_in_flight.push(id.clone());
                continue;
            };
            report.bytes += result.bytes;
            group.push(check_event(&result))?;
            report.checked.push(result);
        }
    }
    Ok(())
}

/// Whatever the budget or the schedule left out: is every registered bag still there,
/// with its tag files? A bag deleted tonight is reported tonight.
fn check_presence(
    archive: &Archive,
    ids: &[String],
    group: &mut EventGroup<'_>,
    report: &mut FixityReport,
) -> Result<(), Error> {
    let done: std::collections::HashSet<&str> = report
        .checked
        .iter()
        .map(|b| b.id.as_str())
        .chain(report.skipped_in_flight.iter().map(String::as_str))
        .collect();
    let rest: Vec<String> = ids
        .iter()
        .filter(|id| !done.contains(id.as_str()))
        .cloned()
        .collect();
    let (present, missing) = presence_pass(archive, &rest)?;
    report.presence_checked = present + missing.len();
    for result in missing {
        group.push(check_event(&result))?;
        report.checked.push(result);
    }
    Ok(())
}

/// A bag's payload files and bytes as its bag-info.txt states them, for progress only
/// (nothing is concluded from them; zero when unreadable).
fn payload_oxum(archive: &Archive, id: &str) -> (u64, u64) {
    let info = crate::fs::read_if_present(&archive.bag_path(id).join("bag-info.txt"))
        .ok()
        .flatten()
        .unwrap_or_default();
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("Payload-Oxum:"))
        .and_then(crate::bagit::tags::parse_oxum)
        .map(|(octets, streams)| (streams, octets))
        .unwrap_or((0, 0))
}

fn check_one(
    archive: &Archive,
    id: &str,
    opts: &FixityOptions,
    limiter: Option<Arc<RateLimiter>>,
) -> Result<Option<BagResult>, Error> {
    let t0 = Instant::now();
    let register_path = archive.register_path(id);
    let mut findings = Vec::new();
    // The entry, read with one open (absent: `None`).
    let read = |path: &Path| RegisterEntry::read_if_present(path);
    let mut entry = read(&register_path);
    // The register entry is read from the same storage as the bag: it counts against
    // the rate too.
    if let Some(limiter) = &limiter {
        limiter.take(crate::fs::len_if_present(&register_path).unwrap_or(0) as usize);
    }
    // A bag without a register entry may be one an ingest or import is committing right
    // now (published, not yet registered): skip it then. When no commit holds the lock,
    // the register is final, so it is read again before the bag is called unregistered.
    if matches!(entry, Ok(None)) {
        if archive.commit_in_progress() {
            return Ok(None);
        }
        entry = read(&register_path);
    }
    let entry = match entry {
        Ok(Some(e)) => Some(e),
        Ok(None) => {
            findings.push(FixityFinding::new(
                FixityKind::Unregistered,
                "",
                format!(
                    "archive/{id} has no register entry {}",
                    register_path.display()
                ),
            ));
            None
        }
        Err(e) => {
            findings.push(FixityFinding::new(
                FixityKind::RegisterMismatch,
                "",
                format!("the register entry cannot be read: {e}"),
            ));
            None
        }
    };
    let bag = archive.bag_path(id);
    // One stat of the bag folder (DirSource::open_archived: a symlink in its place is
    // refused, as missing), one listing of it.
    let source = match DirSource::open_archived(&bag) {
        Ok(s) => s.with_limiter(limiter.clone()),
        Err(e) => {
            let Some(why) = crate::fs::dir::bag_folder_refusal(&bag) else {
                return Err(e);
            };
            findings.push(FixityFinding::new(
                FixityKind::BagMissing,
                "",
                format!("the register lists {id}, but {why}"),
            ));
            return Ok(Some(result(
                id,
                findings,
                Vec::new(),
                (0, 0),
                Vec::new(),
                t0,
            )));
        }
    };
    let listing = source.list()?;
    // Tests change the item here, mid-check (tests/it/bad_day/fixity.rs).
    crate::fs::failpoint::pause("fixity-bag-listed");
    let (algorithms, absent) = choose_algorithms(&opts.algorithms, &listing, entry.as_ref());
    findings.extend(absent);
    let check: BagCheck =
        check_bag_listed(&source, listing, algorithms.as_deref(), entry.as_ref())?;
    findings.extend(check.findings);
    let mut errors = check.errors;
    let (mut files, mut bytes) = (check.files, check.bytes);
    // Every retained earlier version too (`cairn revise`), against its own entry.
    let earlier =
        crate::ops::versions::check_retained(archive, id, algorithms.as_deref(), limiter)?;
    findings.extend(earlier.findings);
    errors.extend(earlier.errors);
    files += earlier.files;
    bytes += earlier.bytes;
    Ok(Some(result(
        id,
        findings,
        errors,
        (files, bytes),
        check.algorithms,
        t0,
    )))
}

/// How often a check that found a bag changed under it is made again before its
/// failure is recorded (each time only after the writer that changed it finished).
const SETTLE_ATTEMPTS: usize = 3;
/// The longest a check waits for a writer (amend, revise, withdraw, ingest) to finish
/// with the item it checks, before it records what it found.
const SETTLE_WAIT: Duration = Duration::from_secs(600);

/// What identifies an item's state on disk: its bag folder and its register entry
/// (device, inode, size and change time of each; `None` when absent). Writers never
/// change either in place: amend and revise exchange the bag folder (a new inode at
/// archive/ID), withdraw moves it away, and a new register entry is a new file.
#[derive(Debug, PartialEq, Eq)]
struct ItemStamp {
    bag: Option<(u64, u64, i64, i64)>,
    entry: Option<(u64, u64, u64, i64, i64)>,
}

impl ItemStamp {
    fn of(archive: &Archive, id: &str) -> ItemStamp {
        use std::os::unix::fs::MetadataExt;
        let bag = crate::fs::lstat(&archive.bag_path(id))
            .ok()
            .map(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()));
        let entry = crate::fs::lstat(&archive.register_path(id))
            .ok()
            .map(|m| (m.dev(), m.ino(), m.size(), m.ctime(), m.ctime_nsec()));
        ItemStamp { bag, entry }
    }
}

/// Whether a writer is changing the item right now: the archive lock is held (by
/// amend, revise, withdraw, ingest or import) and the staging folder of this item
/// (archive/.staging/ID, or ID~KIND for a change) exists. A staging folder without the
/// lock held is what a crashed writer left, which the next writer's recovery finishes.
fn being_changed(archive: &Archive, id: &str) -> bool {
    let staged = |p: &std::path::PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == id || n.strip_prefix(id).is_some_and(|r| r.starts_with('~')))
    };
    let staging = crate::fs::list_dir_if_present(&archive.staging()).unwrap_or_default();
    staging.iter().any(staged) && archive.commit_in_progress()
}

/// Waits (polling) until no writer is changing the item, at most [`SETTLE_WAIT`].
fn wait_for_writer(archive: &Archive, id: &str) {
    let start = Instant::now();
    while being_changed(archive, id) && start.elapsed() < SETTLE_WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the item was withdrawn: its register entry is gone and its tombstone is
/// there.
fn withdrawn(archive: &Archive, id: &str) -> bool {
    !crate::fs::entry_exists(&archive.register_path(id))
        && matches!(archive.tombstone(id), Ok(Some(_)))
}

/// Runs `check` on the item until what it finds is not an artefact of a writer
/// (docs/fixity.md, "Fixity beside writers"): fixity does not take the archive lock,
/// so amend, revise or withdraw may exchange or move the bag, or replace its register
/// entry, while it is read. A check that fails (or cannot run) is recorded only when
/// the bag folder and the register entry are the ones it started with and no writer is
/// changing the item; otherwise it waits for the writer to finish and checks again. An
/// item withdrawn meanwhile is skipped (`Ok(None)`): there is no bag left to check.
fn settled(
    archive: &Archive,
    id: &str,
    mut check: impl FnMut() -> Result<Option<BagResult>, Error>,
) -> Result<Option<BagResult>, Error> {
    let mut attempt = 0;
    loop {
        let before = ItemStamp::of(archive, id);
        let checked = check();
        let passed = match &checked {
            Ok(None) => true,
            Ok(Some(r)) => r.outcome == BagOutcome::Passed,
            Err(_) => false,
        };
        if passed || attempt == SETTLE_ATTEMPTS {
            return checked;
        }
        let busy = being_changed(archive, id);
        if !busy && ItemStamp::of(archive, id) == before {
            return checked;
        }
        attempt += 1;
        if busy {
            // Tests act here: the check has seen the item in a writer's hands.
            crate::fs::failpoint::pause("fixity-item-busy");
            wait_for_writer(archive, id);
        }
        if withdrawn(archive, id) {
            return Ok(None);
        }
    }
}

/// [`check_one`], made again when a writer changed the item under it ([`settled`]).
fn check_settled(
    archive: &Archive,
    id: &str,
    opts: &FixityOptions,
    limiter: Option<Arc<RateLimiter>>,
) -> Result<Option<BagResult>, Error> {
    settled(archive, id, || {
        check_one(archive, id, opts, limiter.clone())
    })
}
