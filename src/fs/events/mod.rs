//! manifests/events.jsonl: the archive's event log, one JSON object per line in the
//! PREMIS spirit, each line carrying the BLAKE3 digest of the line before it.
//!
//! Editing, deleting, inserting or reordering any line breaks the chain at that point,
//! and the digest of the last line (the head) commits to the whole log: an auditor who
//! keeps a head can later prove the log still extends it. Appends happen under the
//! archive lock and are fsynced. See docs/event-log.md.
//!
//! - this file: the log on disk: [`append`] (chained, fsynced, a torn last line cut
//!   off), [`read_log`];
//! - [`chain`]: checking the links of a log's bytes (pure, in parallel);
//! - [`fold`]: the same check over the log read a part at a time.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::tlog::merkle::{leaf_hash, Hash};
use crate::vocab::{EventType, Outcome};

mod chain;
mod fold;

pub use chain::{
    verify_chain, verify_chain_brief, verify_links, BrokenLink, ChainReport, EventAudit,
    EventBrief, EventNotes,
};
pub use fold::{LineRead, LogCursor};

pub use crate::fs::log_lock::LogLock;

/// What the log asks of the Merkle tree kept beside it (fs::tlog_store's `LogTree`),
/// which is the record of the lines Cairn appended: the log is checked against it
/// before an append, and a mark left in it says where an append began, should a crash
/// cut that append short. The tree is handed in by the archive (fs::archive), so that
/// the log's durable append depends on no cache; the tree learns the appended lines
/// afterwards, from the archive too ([`Appended`]).
pub trait Witness {
    /// Refuses a log whose last complete line (`last`: seq and bytes) is not where the
    /// tree ends (a missing tree is rebuilt; one append short is finished).
    fn check_covers(
        &self,
        log: &Path,
        lock: &LogLock,
        last: Option<(u64, &[u8])>,
    ) -> Result<(), Error>;
    /// Records that the log, now `from` bytes long, is about to end with line `seq`
    /// whose leaf hash is `leaf`.
    fn mark_pending(
        &self,
        log: &Path,
        lock: &LogLock,
        seq: u64,
        leaf: &Hash,
        from: u64,
    ) -> Result<(), Error>;
    /// Where the log ended before the append the pending mark names began.
    fn pending_offset(&self, log: &Path) -> Option<u64>;
    /// Whether the tree ends exactly at `last` (seq, leaf hash; `None`: an empty log).
    fn ends_at(&self, log: &Path, last: Option<(u64, Hash)>) -> Result<bool, Error>;
}

/// What [`append`] wrote: the events, and what the Merkle tree needs to learn them.
#[derive(Debug)]
pub struct Appended {
    pub events: Vec<Event>,
    /// The log's last line before them, as (seq, leaf hash).
    pub before: Option<(u64, Hash)>,
    /// The lines written, each with its newline.
    pub bytes: Vec<u8>,
}

impl Appended {
    /// The lines written, without their newlines.
    pub fn lines(&self) -> Vec<&[u8]> {
        if self.bytes.is_empty() {
            return Vec::new();
        }
        self.bytes[..self.bytes.len() - 1]
            .split(|&b| b == b'\n')
            .collect()
    }
}

/// The `prev` of the first line: there is no line before it.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log, from 1.
    pub seq: u64,
    /// PREMIS eventIdentifier: a random UUID, unique across archives (events travel
    /// with bags between sites).
    pub id: String,
    /// PREMIS eventType: ingestion, message digest calculation, validation, fixity
    /// check, deletion, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// UTC, RFC 3339.
    pub time: String,
    /// success or failure.
    pub outcome: String,
    pub detail: String,
    /// The object (item identifier) the event is about.
    pub object: String,
    /// The software that did it, with its version.
    pub agent: String,
    /// Structured detail (for example every bad file of a failed check).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
    /// BLAKE3 (hex) of the previous line's bytes, without its newline.
    pub prev: String,
}

/// An event to append; `seq`, `time` and `prev` are filled in by [`append`].
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: String,
    pub outcome: String,
    pub detail: String,
    pub object: String,
    pub data: serde_json::Value,
}

impl NewEvent {
    /// A new event: its type and outcome from the log's closed vocabularies.
    pub fn new(
        event_type: EventType,
        outcome: Outcome,
        object: &str,
        detail: impl Into<String>,
    ) -> NewEvent {
        NewEvent::replayed(event_type.as_str(), outcome.as_str(), object, detail)
    }

    /// An event written down before it was logged (a change's pending.json), logged
    /// by recovery exactly as it was written, whatever Cairn wrote it.
    pub fn replayed(
        event_type: &str,
        outcome: &str,
        object: &str,
        detail: impl Into<String>,
    ) -> NewEvent {
        NewEvent {
            event_type: event_type.to_string(),
            outcome: outcome.to_string(),
            detail: detail.into(),
            object: object.to_string(),
            data: serde_json::Value::Null,
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> NewEvent {
        self.data = data;
        self
    }
}

/// The digest that chains a line to the next.
pub fn line_digest(line: &[u8]) -> String {
    blake3::hash(line).to_hex().to_string()
}

/// Appends events to the log at `path`, chained to its last line, and fsyncs. Needs
/// the log lock (see `Archive::append_events`), so that two writers can never chain to
/// the same line, and the log's Merkle tree (`tree`), which checks the log before and
/// marks the append pending; the caller records the lines in the tree afterwards.
///
/// A last line without its newline can only be a write that a crash cut short (every
/// append writes whole lines and fsyncs before returning): it was never acknowledged,
/// so it is cut off, and an event saying so is appended first.
pub fn append(
    path: &Path,
    lock: &LogLock,
    tree: &dyn Witness,
    now: chrono::DateTime<chrono::Utc>,
    events: &[NewEvent],
) -> Result<Appended, Error> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("open event log", path, e))?;
    let (last_bytes, torn) = last_line(&mut file, path, tree)?;
    // The Merkle tree is the record of the lines Cairn appended: a log that has lines
    // it did not write, or lacks lines it wrote, is refused before anything is written.
    tree.check_covers(
        path,
        lock,
        last_bytes.as_ref().map(|(s, l)| (*s, l.as_slice())),
    )?;
    // The Merkle tree's view of the line before the new ones (fs::tlog_store).
    let before = last_bytes
        .as_ref()
        .map(|(seq, line)| (*seq, leaf_hash(line)));
    let mut last = last_bytes.map(|(seq, line)| (seq, line_digest(&line)));
    let mut pending: Vec<NewEvent> = Vec::new();
    if let Some((offset, bytes)) = torn {
        file.set_len(offset)
            .map_err(|e| Error::io("truncate torn line of", path, e))?;
        pending.push(NewEvent::new(
            EventType::LogRepair,
            Outcome::Success,
            "",
            format!(
                "removed an incomplete last line of {} bytes left by an interrupted write, such as a full disk or a crash (never acknowledged)",
                bytes.len()
            ),
        ).with_data(serde_json::json!({ "removed": String::from_utf8_lossy(&bytes) })));
    }
    pending.extend(events.iter().cloned());
    let time = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = Vec::new();
    let mut written = Vec::new();
    for e in pending {
        let (seq, prev) = match &last {
            Some((seq, digest)) => (seq + 1, digest.clone()),
            None => (1, GENESIS.to_string()),
        };
        let event = Event {
            seq,
            id: uuid::Uuid::new_v4().to_string(),
            event_type: e.event_type,
            time: time.clone(),
            outcome: e.outcome,
            detail: e.detail,
            object: e.object,
            agent: crate::agent(),
            data: e.data,
            prev,
        };
        let line = serde_json::to_vec(&event)
            .map_err(|e| Error::io("encode event for", path, std::io::Error::other(e)))?;
        last = Some((seq, line_digest(&line)));
        out.extend_from_slice(&line);
        out.push(b'\n');
        written.push(event);
    }
    // The tree learns which line the log will end with, should a crash come between
    // the log's write and the tree's.
    let new_last = out[..out.len().saturating_sub(1)]
        .rsplit(|&b| b == b'\n')
        .next();
    if let (false, Some((seq, _)), Some(line)) = (out.is_empty(), &last, new_last) {
        let leaf = leaf_hash(line);
        let from = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        tree.mark_pending(path, lock, *seq, &leaf, from)?;
    }
    file.seek(SeekFrom::End(0))
        .map_err(|e| Error::io("seek", path, e))?;
    file.write_all(&out)
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io("append to", path, e))?;
    // The events are durable; the caller tells the Merkle tree (a cache that any later
    // append or reader rebuilds from the log).
    Ok(Appended {
        events: written,
        before,
        bytes: out,
    })
}

/// The seq and bytes (without the newline) of the last complete line of the log at
/// `path`, read from the end; `None` for an absent or empty log.
pub fn last_complete_line(
    path: &Path,
    tree: &dyn Witness,
) -> Result<Option<(u64, Vec<u8>)>, Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open event log", path, e)),
    };
    Ok(last_line(&mut file, path, tree)?.0)
}

/// The last complete line's seq and bytes, and a torn tail (offset, bytes) if any.
/// Reads backwards from the end, so appending costs the same however long the log is.
///
/// The tail is torn when the log does not end with a newline (a write cut short) or when
/// its last line is not an event (a crash can leave a line of zeros where the file grew
/// before its data reached the disk): either way the bytes were never acknowledged.
/// Only the last line can be torn; a line before it that is not an event is damage.
#[allow(clippy::type_complexity)]
fn last_line(
    file: &mut File,
    path: &Path,
    tree: &dyn Witness,
) -> Result<(Option<(u64, Vec<u8>)>, Option<(u64, Vec<u8>)>), Error> {
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    let (last, torn) = last_event_before(file, path, len)?;
    let Some((at, _)) = torn else {
        return Ok((last, torn));
    };
    // A write cut short may have left whole lines before the torn one: the append that
    // wrote them failed, so none of them was acknowledged. When the pending mark (see
    // fs::tlog_store) says where that append began, and the tree ends exactly there,
    // everything from there on is the torn write.
    if let Some(from) = tree.pending_offset(path).filter(|&o| o < at) {
        let (before, _) = last_event_before(file, path, from)?;
        let ends = before.as_ref().map(|(seq, line)| (*seq, leaf_hash(line)));
        if tree.ends_at(path, ends)? {
            let mut rest = vec![0u8; (len - from) as usize];
            file.seek(SeekFrom::Start(from))
                .and_then(|_| file.read_exact(&mut rest))
                .map_err(|e| Error::io("read", path, e))?;
            return Ok((before, Some((from, rest))));
        }
    }
    Ok((last, torn))
}

/// [`last_line`] within the first `len` bytes, without the pending mark: the last line
/// if it is an event, and the torn tail (no newline, or a last line that is not an
/// event).
#[allow(clippy::type_complexity)]
fn last_event_before(
    file: &mut File,
    path: &Path,
    len: u64,
) -> Result<(Option<(u64, Vec<u8>)>, Option<(u64, Vec<u8>)>), Error> {
    let (line, torn) = last_line_before(file, path, len)?;
    let Some((start, bytes)) = line else {
        return Ok((None, torn));
    };
    if let Ok(event) = serde_json::from_slice::<Event>(&bytes) {
        return Ok((Some((event.seq, bytes)), torn));
    }
    // The last line is not an event: it and what follows it are the torn tail.
    let mut rest = vec![0u8; (len - start) as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut rest))
        .map_err(|e| Error::io("read", path, e))?;
    let torn = Some((start, rest));
    let (before, _) = last_line_before(file, path, start)?;
    let Some((_, before)) = before else {
        return Ok((None, torn));
    };
    let event: Event = serde_json::from_slice(&before).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        detail: format!(
            "the last two lines of the event log are not valid events ({e}); run `cairn audit`"
        ),
    })?;
    Ok((Some((event.seq, before)), torn))
}

/// In the first `len` bytes of the log: the last complete line (its offset and bytes,
/// without the newline) and the bytes after the last newline (offset, bytes), if any.
#[allow(clippy::type_complexity)]
fn last_line_before(
    file: &mut File,
    path: &Path,
    len: u64,
) -> Result<(Option<(u64, Vec<u8>)>, Option<(u64, Vec<u8>)>), Error> {
    if len == 0 {
        return Ok((None, None));
    }
    // Read growing windows from the end until two newlines (or the start) are in view.
    let mut window = 4096u64.min(len);
    loop {
        let start = len - window;
        let mut buf = vec![0u8; window as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| Error::io("read", path, e))?;
        let (complete, torn) = match buf.iter().rposition(|&b| b == b'\n') {
            Some(nl) if nl + 1 == buf.len() => (&buf[..nl], None),
            Some(nl) => (
                &buf[..nl],
                Some((start + nl as u64 + 1, buf[nl + 1..].to_vec())),
            ),
            None if start == 0 => (&buf[..0], Some((0, buf.clone()))),
            None => {
                window = (window * 4).min(len);
                continue;
            }
        };
        let line_start = complete.iter().rposition(|&b| b == b'\n').map(|p| p + 1);
        let at = match line_start {
            Some(s) => s,
            None if start == 0 => 0,
            None => {
                window = (window * 4).min(len);
                continue;
            }
        };
        let line = &complete[at..];
        if line.is_empty() {
            return Ok((None, torn));
        }
        return Ok((Some((start + at as u64, line.to_vec())), torn));
    }
}

/// An incomplete last line of the log (see [`last_line`]): what the next append cuts
/// off, logging a `log repair` event.
#[derive(Debug, Clone, Serialize)]
pub struct TornTail {
    /// Its 1-based line number.
    pub line: usize,
    pub bytes: usize,
    /// Whether it ends with a newline (a line that is not an event) or not (cut short).
    pub newline: bool,
    /// The BLAKE3 of the last line before it: the head once it is removed.
    #[serde(skip)]
    pub head: String,
}

/// The log's torn tail, if it has one (an absent log has none).
pub fn torn_tail(path: &Path, tree: &dyn Witness) -> Result<Option<TornTail>, Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open event log", path, e)),
    };
    let (last, torn) = last_line(&mut file, path, tree)?;
    let Some((offset, bytes)) = torn else {
        return Ok(None);
    };
    let head = last.map_or_else(|| GENESIS.to_string(), |(_, l)| line_digest(&l));
    // Its line number: the lines before it, counted a buffer at a time.
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("read", path, e))?;
    let mut left = offset;
    let mut lines = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (buf.len() as u64).min(left) as usize;
        file.read_exact(&mut buf[..n])
            .map_err(|e| Error::io("read", path, e))?;
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count();
        left -= n as u64;
    }
    Ok(Some(TornTail {
        line: lines + 1,
        bytes: bytes.len(),
        newline: bytes.ends_with(b"\n"),
        head,
    }))
}

/// Cuts off a torn last line of the log, if there is one, and logs a `log repair`
/// event carrying its bytes (see [`append`]). Every command that writes runs this under
/// the lock before it checks the chain: a write cut short (a full disk, a crash) is an
/// accident to repair, not a broken link. Returns what was appended (the repair event),
/// if anything was.
pub fn repair_torn_tail(
    path: &Path,
    lock: &LogLock,
    tree: &dyn Witness,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Appended>, Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open event log", path, e)),
    };
    if last_line(&mut file, path, tree)?.1.is_none() {
        return Ok(None);
    }
    drop(file);
    append(path, lock, tree, now, &[]).map(Some)
}

/// Each event's [`EventBrief`] without holding the log or its events: the log at `path` is read
/// a part of whole lines at a time (about 8 MiB), each part's lines parsed and hashed
/// in parallel and their links followed, and each event's brief handed to `each` in
/// log order, up to the first broken link. Memory is two parts, whatever the log's
/// length. Same report as `verify_chain_brief` on the whole log (its `events` empty).
pub fn fold_log_brief(path: &Path, mut each: impl FnMut(EventBrief)) -> Result<ChainReport, Error> {
    let Some(mut file) = open_log(path)? else {
        return Ok(verify_chain_brief(b"").0);
    };
    fold::fold_brief_parts(&mut file, fold::PART, &mut each).map_err(|e| Error::io("read", path, e))
}

/// [`fold_log_brief`] for an audit: each event's [`EventAudit`] (its brief and the
/// tag-manifest digests it recorded) and its line's digest, in log order, up to the
/// first broken link. Memory is two parts of the log, whatever its length.
pub fn fold_log_audit(
    path: &Path,
    mut each: impl FnMut(EventAudit, &blake3::Hash),
) -> Result<ChainReport, Error> {
    let Some(mut file) = open_log(path)? else {
        return Ok(verify_chain_brief(b"").0);
    };
    fold::fold_audit_parts(&mut file, fold::PART, &mut each).map_err(|e| Error::io("read", path, e))
}

/// [`fold_log_brief`] with each event's [`EventNotes`] (its brief and its data's
/// `register_blake3` and `change`), in log order, up to the first broken link: the
/// lines that link are those [`read_log`] keeps (each must parse as a whole
/// [`Event`]), but nothing else of them is kept. Memory is two parts of the log.
pub fn fold_log_notes(path: &Path, mut each: impl FnMut(EventNotes)) -> Result<ChainReport, Error> {
    let Some(mut file) = open_log(path)? else {
        return Ok(verify_chain(b""));
    };
    fold::fold_notes_parts(&mut file, fold::PART, &mut each).map_err(|e| Error::io("read", path, e))
}

/// Reads the log in `file` on from `cursor` (a reader that keeps up with a growing log,
/// as `cairn serve` does), a part at a time, following the links from the cursor's head:
/// each linked line's brief, offset and digest go to `each` in log order, and the cursor
/// moves past them. Reading stops at the first broken link (returned) or at the last
/// complete line: a final line without its newline may be being appended, and is read
/// next time. Memory is two parts of the log, whatever its length.
pub fn fold_log_from(
    file: &mut File,
    cursor: &mut LogCursor,
    mut each: impl FnMut(LineRead),
) -> std::io::Result<Option<BrokenLink>> {
    file.seek(SeekFrom::Start(cursor.offset))?;
    fold::fold_brief_from(file, fold::PART, cursor, &mut each)
}

/// The log at `path` opened to read; `None` when it is absent (an empty log).
fn open_log(path: &Path) -> Result<Option<File>, Error> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// [`verify_links`] over the log at `path` read a window of whole lines at a time
/// (about 8 MiB): the chain check alone, same report, without holding the log. What
/// `cairn checkpoint` and `export` run before they vouch for the log.
pub fn check_log_links(path: &Path) -> Result<ChainReport, Error> {
    let Some(mut file) = open_log(path)? else {
        return Ok(verify_links(b""));
    };
    fold::links_parts(&mut file, fold::PART).map_err(|e| Error::io("read", path, e))
}

/// The log at `path` read a window of whole lines at a time (about 8 MiB): each
/// window's complete lines (each ending with a newline) go to `each` in log order; a
/// last line without its newline does not. Returns the bytes read, that line
/// included (0 for an absent log). Memory is one window, whatever the log's length.
pub fn fold_log_windows(path: &Path, mut each: impl FnMut(&[u8])) -> Result<u64, Error> {
    let Some(mut file) = open_log(path)? else {
        return Ok(0);
    };
    let mut len = 0u64;
    fold::read_windows(&mut file, fold::PART, &mut |window, end| {
        len += window.len() as u64;
        let complete = match (end, memchr::memrchr(b'\n', window)) {
            (false, _) => window,
            (true, Some(last)) => &window[..=last],
            (true, None) => &window[..0],
        };
        if !complete.is_empty() {
            each(complete);
        }
        true
    })
    .map_err(|e| Error::io("read", path, e))?;
    Ok(len)
}

/// Line `n` (1-based) of the log at `path`, read a line at a time; `None` past its end.
/// What an audit quotes of a broken line.
pub fn log_line(path: &Path, n: usize) -> Result<Option<Vec<u8>>, Error> {
    use std::io::BufRead;
    let Some(file) = open_log(path)? else {
        return Ok(None);
    };
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    for _ in 0..n {
        line.clear();
        let got = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read", path, e))?;
        if got == 0 {
            return Ok(None);
        }
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads and checks the log at `path` (an absent log is an empty, valid one), a part
/// at a time: the same report as [`verify_chain`] on its bytes. O(events) memory: every
/// event is held, the log's bytes only a part at a time ([`fold_log_brief`] streams).
pub fn read_log(path: &Path) -> Result<ChainReport, Error> {
    let Some(mut file) = open_log(path)? else {
        return Ok(verify_chain(b""));
    };
    let mut events = Vec::new();
    let mut report = fold::fold_event_parts(&mut file, fold::PART, &mut |e| events.push(e))
        .map_err(|e| Error::io("read", path, e))?;
    report.events = events;
    Ok(report)
}
