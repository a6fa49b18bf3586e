//! How far the running operation has got, for a front end to draw.
//!
//! Pure: a process-wide meter of atomics. Ops declare what a pass will read
//! ([`phase`]), the hashing loop counts bytes ([`add_bytes`], one relaxed atomic add per
//! read buffer) and ops count finished payload files ([`file_done`]). Nothing here
//! prints, sleeps, reads the clock or touches a file: the CLI polls [`snapshot`] from a
//! thread of its own and draws, only when someone is watching a terminal.
//!
//! Why a global meter and not a sink passed down: the bytes are counted in
//! `digest::copy_and_hash`, under every op, the validator and both bag sources; a
//! parameter would have to cross all of them for what is only a display. A process runs
//! one command, so one meter is enough, and when nobody draws it costs an uncontended
//! atomic add per 256 KiB.
//!
//! Phases nest. The outermost one owns the totals (an ingest declares every item's
//! bytes, twice: copy and read-back); a phase started inside it (the validator's, when
//! ingest verifies a staged bag) only names the current pass, so that the bar keeps one
//! total and one ETA for the whole run. An op that knows an item is finished can
//! [`reach`] the counts its plan expected by then, which corrects for skipped items and
//! for small reads (tag files) that no total includes.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The meter's state. One lives in a static ([`METER`]); tests make their own.
pub struct Meter {
    watched: AtomicBool,
    depth: AtomicUsize,
    /// Bumped by every outermost phase, so a drawer can tell a new pass from the last.
    generation: AtomicU64,
    files_total: AtomicU64,
    bytes_total: AtomicU64,
    files_done: AtomicU64,
    bytes_done: AtomicU64,
    labels: Mutex<Labels>,
}

#[derive(Default, Clone)]
struct Labels {
    /// What the current pass does ("copy", "verify", "export").
    pass: String,
    /// What it works on (an item's name, a bag's identifier).
    item: String,
}

/// What a drawer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub generation: u64,
    pub pass: String,
    pub item: String,
    pub files_total: u64,
    pub files_done: u64,
    pub bytes_total: u64,
    /// Never more than `bytes_total` (small reads outside the plan are not shown).
    pub bytes_done: u64,
}

impl Meter {
    pub const fn new() -> Meter {
        Meter {
            watched: AtomicBool::new(false),
            depth: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            files_total: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            labels: Mutex::new(Labels {
                pass: String::new(),
                item: String::new(),
            }),
        }
    }

    fn labels(&self) -> std::sync::MutexGuard<'_, Labels> {
        // A panic elsewhere while the labels were held leaves them usable.
        self.labels.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_watched(&self, on: bool) {
        self.watched.store(on, Relaxed);
    }

    pub fn watched(&self) -> bool {
        self.watched.load(Relaxed)
    }

    /// Starts a pass that will read `files` payload files and `bytes` bytes. Inside
    /// another phase, only the pass's name changes; the totals stay the outer ones.
    pub fn phase(&self, pass: &str, files: u64, bytes: u64) -> Phase<'_> {
        let outer = self.depth.fetch_add(1, Relaxed) == 0;
        let mut labels = self.labels();
        let previous = std::mem::replace(&mut labels.pass, pass.to_string());
        if outer {
            labels.item.clear();
            self.files_total.store(files, Relaxed);
            self.bytes_total.store(bytes, Relaxed);
            self.files_done.store(0, Relaxed);
            self.bytes_done.store(0, Relaxed);
            self.generation.fetch_add(1, Relaxed);
        }
        Phase {
            meter: self,
            previous,
        }
    }

    /// Names what the current pass works on.
    pub fn item(&self, name: &str) {
        let mut labels = self.labels();
        labels.item.clear();
        labels.item.push_str(name);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes_done.fetch_add(n, Relaxed);
    }

    pub fn file_done(&self) {
        self.files_done.fetch_add(1, Relaxed);
    }

    /// Sets the counts to what the plan expected by now (an item finished, skipped or
    /// refused), so that the bar stays true to the totals.
    pub fn reach(&self, files: u64, bytes: u64) {
        self.files_done.store(files, Relaxed);
        self.bytes_done.store(bytes, Relaxed);
    }

    /// The state of the current phase, or `None` between phases.
    pub fn snapshot(&self) -> Option<Snapshot> {
        if self.depth.load(Relaxed) == 0 {
            return None;
        }
        let labels = self.labels().clone();
        let files_total = self.files_total.load(Relaxed);
        let bytes_total = self.bytes_total.load(Relaxed);
        Some(Snapshot {
            generation: self.generation.load(Relaxed),
            pass: labels.pass,
            item: labels.item,
            files_total,
            files_done: self.files_done.load(Relaxed).min(files_total),
            bytes_total,
            bytes_done: self.bytes_done.load(Relaxed).min(bytes_total),
        })
    }
}

impl Default for Meter {
    fn default() -> Meter {
        Meter::new()
    }
}

/// A running phase; it ends when dropped (on every return path, errors included).
#[must_use = "the phase ends when this is dropped"]
pub struct Phase<'a> {
    meter: &'a Meter,
    previous: String,
}

impl Drop for Phase<'_> {
    fn drop(&mut self) {
        let mut labels = self.meter.labels();
        labels.pass = std::mem::take(&mut self.previous);
        drop(labels);
        self.meter.depth.fetch_sub(1, Relaxed);
    }
}

/// The process's meter.
pub static METER: Meter = Meter::new();

/// Whether a front end draws the meter. Ops use it to skip work done only for the
/// display (an ingest's pre-walk of every item for its totals).
pub fn watched() -> bool {
    METER.watched()
}

/// Called by the front end that draws.
pub fn set_watched(on: bool) {
    METER.set_watched(on);
}

/// See [`Meter::phase`].
pub fn phase(pass: &str, files: u64, bytes: u64) -> Phase<'static> {
    METER.phase(pass, files, bytes)
}

/// See [`Meter::item`].
pub fn item(name: &str) {
    METER.item(name);
}

/// Counts bytes read (called once per read buffer).
#[inline]
pub fn add_bytes(n: u64) {
    METER.add_bytes(n);
}

/// Counts one payload file finished.
#[inline]
pub fn file_done() {
    METER.file_done();
}

/// See [`Meter::reach`].
pub fn reach(files: u64, bytes: u64) {
    METER.reach(files, bytes);
}

/// See [`Meter::snapshot`].
pub fn snapshot() -> Option<Snapshot> {
    METER.snapshot()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_phase_owns_totals_inner_names_the_pass() {
        let m = Meter::new();
        assert!(m.snapshot().is_none());
        {
            let _run = m.phase("ingest", 4, 1000);
            m.item("box-1");
            m.add_bytes(300);
            m.file_done();
            {
                let _verify = m.phase("verify", 99, 99);
                let s = m.snapshot().unwrap();
                assert_eq!((s.pass.as_str(), s.item.as_str()), ("verify", "box-1"));
                assert_eq!((s.files_total, s.bytes_total), (4, 1000));
                assert_eq!((s.files_done, s.bytes_done), (1, 300));
            }
            assert_eq!(m.snapshot().unwrap().pass, "ingest");
            // Reads outside the plan never push the bar past its total.
            m.add_bytes(5000);
            m.file_done();
            m.file_done();
            m.file_done();
            m.file_done();
            let s = m.snapshot().unwrap();
            assert_eq!((s.files_done, s.bytes_done), (4, 1000));
            m.reach(2, 500);
            assert_eq!(m.snapshot().unwrap().bytes_done, 500);
        }
        assert!(m.snapshot().is_none());
        let g = {
            let _again = m.phase("validate", 1, 10);
            let s = m.snapshot().unwrap();
            assert_eq!((s.files_done, s.bytes_done, s.item.as_str()), (0, 0, ""));
            s.generation
        };
        assert_eq!(g, 2);
    }
}
