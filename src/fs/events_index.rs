//! An index of the event log by object: which lines of manifests/events.jsonl are about
//! which item, so that `show ID` reads the item's own lines instead of the whole log.
//!
//! A cache, never the source of truth: manifests/.events-index/ holds 256 bucket files
//! (by the first byte of BLAKE3 of the object) of `seq offset length object` lines, and
//! a `state` file naming how far into the log they reach (`covered` bytes, ending in a
//! line whose BLAKE3 is `head`). Everything in it is rebuilt from the log at any time;
//! deleting the folder loses nothing (tests/it/events_index.rs).
//!
//! Trust: every line the index points at is read from the log and must parse as an
//! event with the indexed `seq` and `object`, or the index is rebuilt; a log that no
//! longer holds the line the index ended at (rewritten, truncated) rebuilds it too.
//! Lines past `covered` (appended since) are read from the log's tail each time, and
//! added to the index when the log lock can be taken. Nothing here is fsynced: a crash
//! leaves at worst entries past `covered`, which lookups ignore and the next update
//! writes again.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::fs::durable::parent_dir;
use crate::fs::events::{line_digest, Event};

pub use crate::fs::layout::INDEX_DIR;
const STATE: &str = "state";
const VERSION: &str = "cairn-events-index-1";

pub fn index_dir(log: &Path) -> PathBuf {
    crate::fs::layout::index_dir(log)
}

/// How far the index reaches into the log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    covered: u64,
    /// BLAKE3 of the line that ends at `covered` (empty when `covered` is 0).
    head: String,
}

fn read_state(dir: &Path) -> Option<State> {
    let text = fs::read_to_string(dir.join(STATE)).ok()?;
    let mut parts = text.split_whitespace();
    if parts.next()? != VERSION {
        return None;
    }
    let covered = parts.next()?.parse().ok()?;
    let head = parts.next().unwrap_or("").to_string();
    Some(State { covered, head })
}

fn write_state(dir: &Path, s: &State) -> Result<(), Error> {
    let tmp = dir.join(format!(".{STATE}.tmp-{}", std::process::id()));
    let path = dir.join(STATE);
    fs::write(&tmp, format!("{VERSION} {} {}\n", s.covered, s.head))
        .map_err(|e| Error::io("write", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
}

fn bucket_of(object: &str) -> String {
    format!("{:02x}", blake3::hash(object.as_bytes()).as_bytes()[0])
}

/// The two fields the index needs from a line.
#[derive(Deserialize)]
struct Key<'a> {
    seq: u64,
    #[serde(borrow)]
    object: std::borrow::Cow<'a, str>,
}

/// One indexed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    seq: u64,
    offset: u64,
    len: u64,
}

/// Whether the line ending at `state.covered` (exclusive of its newline) still hashes
/// to `state.head`: the log was only appended to since the index was written.
fn still_extends(log: &File, len: u64, s: &State) -> bool {
    line_ends_at(log, len, s.covered, &s.head)
}

/// Whether the line of `log` (`len` bytes long) that ends at byte `covered` (its
/// newline included) hashes to `head`: the log was only appended to since a cache
/// recorded that point (`head` empty and `covered` 0 for an empty log). Shared with
/// the item index (fs::item_index).
pub(crate) fn line_ends_at(log: &File, len: u64, covered: u64, head: &str) -> bool {
    let s = State {
        covered,
        head: head.to_string(),
    };
    if s.covered == 0 {
        return s.head.is_empty();
    }
    if s.covered > len {
        return false;
    }
    // Read back from `covered` to the newline before the last indexed line.
    let mut window = 4096u64.min(s.covered);
    loop {
        let start = s.covered - window;
        let mut buf = vec![0u8; window as usize];
        if log.read_exact_at(&mut buf, start).is_err() {
            return false;
        }
        if buf.last() != Some(&b'\n') {
            return false;
        }
        let body = &buf[..buf.len() - 1];
        match memchr::memrchr(b'\n', body) {
            Some(nl) => return line_digest(&body[nl + 1..]) == s.head,
            None if start == 0 => return line_digest(body) == s.head,
            None => window = (window * 4).min(s.covered),
        }
    }
}

/// Reads the complete lines of `log` from `from` on, calling `each(offset, line)`;
/// returns the offset after the last complete line and that line's digest.
fn scan_from(
    log: &File,
    path: &Path,
    from: u64,
    mut each: impl FnMut(u64, &[u8]),
) -> Result<(u64, Option<String>), Error> {
    let mut f = log.try_clone().map_err(|e| Error::io("read", path, e))?;
    f.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io("seek", path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    let mut offset = from;
    let mut line = Vec::new();
    let mut last = None;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let body = &line[..line.len() - 1];
        each(offset, body);
        last = Some(body.to_vec());
        offset += n as u64;
    }
    Ok((offset, last.map(|l| line_digest(&l))))
}

fn key_of(line: &[u8]) -> Option<(u64, String)> {
    let k: Key = serde_json::from_slice(line).ok()?;
    (!k.object.is_empty() && !k.object.contains('\n')).then(|| (k.seq, k.object.into_owned()))
}

/// Adds the lines of `log` from `state.covered` on to the index in `dir` (created when
/// missing), and moves `state` forward. The caller holds the log lock.
fn extend(dir: &Path, log: &File, path: &Path, from: &State) -> Result<State, Error> {
    let mut added: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let (covered, head) = scan_from(log, path, from.covered, |offset, line| {
        if let Some((seq, object)) = key_of(line) {
            let rec = added.entry(bucket_of(&object)).or_default();
            let _ = writeln!(rec, "{seq} {offset} {} {object}", line.len());
        }
    })?;
    for (bucket, bytes) in added {
        let p = dir.join(bucket);
        let mut f = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&p)
            .map_err(|e| Error::io("open", &p, e))?;
        // A line cut short by a crash must not swallow the next one.
        let len = f.metadata().map_err(|e| Error::io("stat", &p, e))?.len();
        let mut last = [0u8; 1];
        let torn = len > 0 && f.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n';
        if torn {
            f.write_all(b"\n").map_err(|e| Error::io("write", &p, e))?;
        }
        f.write_all(&bytes).map_err(|e| Error::io("write", &p, e))?;
    }
    let state = State {
        covered,
        head: head.unwrap_or_else(|| from.head.clone()),
    };
    write_state(dir, &state)?;
    Ok(state)
}

/// Builds the index from the whole log into a fresh folder and puts it in place of any
/// old one. The caller holds the log lock.
fn rebuild(dir: &Path, log: &File, path: &Path) -> Result<State, Error> {
    let fresh = parent_dir(dir).join(format!("{INDEX_DIR}.new-{}", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    fs::create_dir(&fresh).map_err(|e| Error::io("create", &fresh, e))?;
    let empty = State {
        covered: 0,
        head: String::new(),
    };
    let state = extend(&fresh, log, path, &empty)?;
    let old = parent_dir(dir).join(format!("{INDEX_DIR}.old-{}", std::process::id()));
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| Error::io("rename", dir, e))?;
    }
    fs::rename(&fresh, dir).map_err(|e| Error::io("rename", &fresh, e))?;
    let _ = fs::remove_dir_all(&old);
    Ok(state)
}

/// Brings the index up to the log's end when it exists (after an append; the caller
/// holds the log lock). A missing index is left missing: the first `show` builds it.
pub fn update_if_present(log_path: &Path) -> Result<(), Error> {
    let dir = index_dir(log_path);
    let Some(state) = read_state(&dir) else {
        return Ok(());
    };
    let log = File::open(log_path).map_err(|e| Error::io("open", log_path, e))?;
    let len = log
        .metadata()
        .map_err(|e| Error::io("stat", log_path, e))?
        .len();
    if still_extends(&log, len, &state) {
        extend(&dir, &log, log_path, &state)?;
    } else {
        rebuild(&dir, &log, log_path)?;
    }
    Ok(())
}

/// What a lookup found.
enum Found {
    Events(Vec<Event>),
    /// The index is missing, behind a rewritten log, or points at a wrong line.
    Stale,
}

fn lookup(dir: &Path, log: &File, path: &Path, id: &str) -> Result<Found, Error> {
    let Some(state) = read_state(dir) else {
        return Ok(Found::Stale);
    };
    let len = log
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    if !still_extends(log, len, &state) {
        return Ok(Found::Stale);
    }
    let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
    let bucket = dir.join(bucket_of(id));
    match fs::read(&bucket) {
        Ok(bytes) => {
            for line in bytes.split(|&b| b == b'\n') {
                let Ok(text) = std::str::from_utf8(line) else {
                    continue;
                };
                let mut parts = text.splitn(4, ' ');
                let (Some(seq), Some(offset), Some(len), Some(object)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if object != id {
                    continue;
                }
                let (Ok(seq), Ok(offset), Ok(len)) = (seq.parse(), offset.parse(), len.parse())
                else {
                    continue;
                };
                let e = Entry { seq, offset, len };
                if offset + len < state.covered {
                    entries.insert(seq, e);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", &bucket, e)),
    }
    let mut events = Vec::with_capacity(entries.len());
    let mut buf = Vec::new();
    for e in entries.values() {
        buf.resize(e.len as usize, 0);
        log.read_exact_at(&mut buf, e.offset)
            .map_err(|err| Error::io("read", path, err))?;
        match serde_json::from_slice::<Event>(&buf) {
            Ok(ev) if ev.seq == e.seq && ev.object == id => events.push(ev),
            _ => return Ok(Found::Stale),
        }
    }
    // Lines appended since the index was written.
    scan_from(log, path, state.covered, |_, line| {
        if memchr::memmem::find(line, id.as_bytes()).is_none() {
            return;
        }
        if let Ok(ev) = serde_json::from_slice::<Event>(line) {
            if ev.object == id {
                events.push(ev);
            }
        }
    })?;
    Ok(Found::Events(events))
}

/// Every event whose object is `id`, in log order, read through the index. `lock`
/// takes the log lock for writing the index (building it the first time, or after the
/// log was rewritten); when it cannot be had (a read-only copy of an archive), the
/// whole log is read instead.
pub fn events_of(
    log_path: &Path,
    id: &str,
    lock: impl FnOnce() -> Result<File, Error>,
) -> Result<Vec<Event>, Error> {
    let log = match File::open(log_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("open", log_path, e)),
    };
    let dir = index_dir(log_path);
    if let Found::Events(ev) = lookup(&dir, &log, log_path, id)? {
        return Ok(ev);
    }
    let rebuilt = lock().and_then(|_guard| {
        let log = File::open(log_path).map_err(|e| Error::io("open", log_path, e))?;
        rebuild(&dir, &log, log_path)?;
        lookup(&dir, &log, log_path, id)
    });
    match rebuilt {
        Ok(Found::Events(ev)) => Ok(ev),
        other => {
            match other {
                // A reader without write access (an auditor's read-only copy) is
                // expected: the whole log is read, with nothing to warn about.
                Err(Error::Io { source, .. })
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                    ) =>
                {
                    tracing::debug!(error = %source, "the event index cannot be written here; reading the whole event log");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not write the event index; reading the whole event log")
                }
                Ok(_) => {}
            }
            scan_all(&log, log_path, id)
        }
    }
}

/// The fallback: every line of the log read for `id`.
fn scan_all(log: &File, path: &Path, id: &str) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    let mut f = log.try_clone().map_err(|e| Error::io("read", path, e))?;
    f.rewind().map_err(|e| Error::io("seek", path, e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    for line in bytes.split(|&b| b == b'\n') {
        if memchr::memmem::find(line, id.as_bytes()).is_none() {
            continue;
        }
        if let Ok(ev) = serde_json::from_slice::<Event>(line) {
            if ev.object == id {
                events.push(ev);
            }
        }
    }
    Ok(events)
}
