//! The item index: what the archive-wide commands need to start of each item (its
//! register facts, whether it was withdrawn, its last check and last fixity check), so
//! that `list`, ingest's start-up and `fixity --due` planning read one file instead of
//! every register entry and the whole event log (docs/item-index.md).
//!
//! A cache, never the source of truth: manifests/.item-index/ holds `items`, lines of
//! `CHECK JSON` (CHECK the first 16 hex digits of BLAKE3 of the JSON), and `state`,
//! naming the log position the lines reflect (byte offset, line count and the BLAKE3
//! of the line ending there) and the length of `items` they fill. A line either sets an
//! item's register facts (read from manifests/ID.json and manifests/withdrawn/ID.json)
//! or records a check the log holds, or both; later lines win, checks fold.
//!
//! Every append to the log brings it up to date in the same step (under the log lock,
//! after the log's fsync): the lines appended since `state` are folded, the register
//! files of the items they name re-read, and delta lines appended to `items` before
//! `state` moves. Nothing is fsynced: a crash leaves `state` behind the log (caught up
//! from the log by the next reader) or bytes past its length (ignored, then cut). An
//! index whose state no longer extends the log (rewritten, truncated, ahead), whose
//! `items` is shorter than `state` says, or with a line that fails its check, is
//! rebuilt from the files; `cairn index rebuild` does so on demand.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::{fold_log_from, EventBrief, LogCursor};
use crate::fs::register::RegisterEntry;
use crate::metadata::Term;
use crate::vocab::EventType;

const VERSION: &str = "cairn-item-index-2";
const ITEMS: &str = "items";
const STATE: &str = "state";

/// What the register entry says of an item, as the start-up of the archive-wide
/// commands needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFacts {
    pub title: Option<String>,
    pub intake_name: String,
    pub archived: String,
    /// The bag's folder, relative to the archive root.
    pub bag: String,
    pub files: usize,
    pub bytes: u64,
    pub entry_version: u32,
    pub content_version: u32,
    pub updated: Option<String>,
    pub payload_oxum: String,
    /// The dc.identifier values of its Dublin Core record (ingest's duplicate keys).
    pub identifiers: Vec<String>,
}

/// An item's facts from the register files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Facts {
    entry: Option<EntryFacts>,
    withdrawn: bool,
}

/// One identifier the archive has used: a registered item, a withdrawn one, or an
/// object the log names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemRecord {
    pub id: String,
    /// The current register entry's facts (none when manifests/ID.json is absent).
    pub entry: Option<EntryFacts>,
    /// Whether a tombstone (manifests/withdrawn/ID.json) is there.
    pub withdrawn: bool,
    /// The latest check of the archive's bag (a fixity check or a validation, not a
    /// replica's).
    pub last_check: Option<DateTime<Utc>>,
    /// The last fixity check of the archive's bag: time and outcome as logged.
    pub last_fixity: Option<(String, String)>,
    /// Whether the log holds its ingestion event (commit recovery logs the ingestion
    /// of a registered item whose event a crash left unwritten).
    pub ingested: bool,
}

/// One line of `items`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Line {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<Facts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixity: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    ingested: bool,
}

impl Line {
    fn of(r: &ItemRecord) -> Line {
        Line {
            id: r.id.clone(),
            set: Some(Facts {
                entry: r.entry.clone(),
                withdrawn: r.withdrawn,
            }),
            check: r
                .last_check
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            fixity: r.last_fixity.clone(),
            ingested: r.ingested,
        }
    }

    /// Folds this line into `r` (the record of the same identifier).
    fn apply_to(self, r: &mut ItemRecord) {
        if let Some(f) = self.set {
            r.entry = f.entry;
            r.withdrawn = f.withdrawn;
        }
        if let Some(t) = self.check.as_deref().and_then(parse_time) {
            if r.last_check.is_none_or(|old| t > old) {
                r.last_check = Some(t);
            }
        }
        if self.fixity.is_some() {
            r.last_fixity = self.fixity;
        }
        r.ingested |= self.ingested;
    }

    fn encode(&self, out: &mut Vec<u8>) {
        // A `Line` is strings and numbers only: encoding cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        out.extend_from_slice(&check_of(&json));
        out.push(b' ');
        out.extend_from_slice(&json);
        out.push(b'\n');
    }
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn check_of(json: &[u8]) -> [u8; 16] {
    let hex = blake3::hash(json).to_hex();
    let mut out = [0u8; 16];
    out.copy_from_slice(&hex.as_bytes()[..16]);
    out
}

/// Where the index stands: the log position it reflects, the length of `items`' base
/// (one line per identifier, in identifier order, as a rebuild or a compaction wrote
/// it) and the length of `items` (the base, then the tail of lines appended since).
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    cursor: LogCursor,
    base_len: u64,
    items_len: u64,
}

fn read_state(dir: &Path) -> Option<State> {
    let text = std::fs::read_to_string(dir.join(STATE)).ok()?;
    let mut p = text.split_whitespace();
    if p.next()? != VERSION {
        return None;
    }
    let offset = p.next()?.parse().ok()?;
    let lines = p.next()?.parse().ok()?;
    let head = match p.next()? {
        "-" => None,
        hex => Some(blake3::Hash::from_hex(hex).ok()?),
    };
    let base_len = p.next()?.parse().ok()?;
    let items_len = p.next()?.parse().ok()?;
    if base_len > items_len || p.next().is_some() {
        return None;
    }
    Some(State {
        cursor: LogCursor {
            offset,
            lines,
            head,
        },
        base_len,
        items_len,
    })
}

fn write_state(dir: &Path, s: &State) -> Result<(), Error> {
    let head = s
        .cursor
        .head
        .map_or("-".to_string(), |h| h.to_hex().to_string());
    let text = format!(
        "{VERSION} {} {} {head} {} {}\n",
        s.cursor.offset, s.cursor.lines, s.base_len, s.items_len
    );
    let tmp = dir.join(format!(".{STATE}.tmp-{}", std::process::id()));
    let path = dir.join(STATE);
    std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
}

/// Whether the log still holds, unchanged, the line the index ends at.
fn extends_log(log_path: &Path, cursor: &LogCursor) -> bool {
    let Ok(log) = File::open(log_path) else {
        return cursor.offset == 0;
    };
    let Ok(len) = log.metadata().map(|m| m.len()) else {
        return false;
    };
    let head = cursor
        .head
        .map_or(String::new(), |h| h.to_hex().to_string());
    crate::fs::events_index::line_ends_at(&log, len, cursor.offset, &head)
}

/// What the log says of one object in the lines folded: its latest check, its last
/// fixity check, and whether an event that may change its register files names it.
#[derive(Default)]
struct Seen {
    check: Option<DateTime<Utc>>,
    fixity: Option<(String, String)>,
    reread: bool,
    ingested: bool,
}

fn note(seen: &mut BTreeMap<String, Seen>, b: EventBrief) {
    if b.object.is_empty() {
        return;
    }
    let fixity = EventType::FixityCheck.is(&b.event_type);
    let validation = EventType::Validation.is(&b.event_type);
    // Events that never write register files: the facts read before still hold.
    let keeps_files = fixity
        || EventType::Replication.is(&b.event_type)
        || EventType::Exporting.is(&b.event_type);
    let s = seen.entry(b.object).or_default();
    s.reread |= !keeps_files;
    s.ingested |= EventType::Ingestion.is(&b.event_type);
    if b.replica || !(fixity || validation) {
        return;
    }
    if let Some(t) = parse_time(&b.time) {
        if s.check.is_none_or(|old| t > old) {
            s.check = Some(t);
        }
    }
    if fixity {
        s.fixity = Some((b.time, b.outcome));
    }
}

/// Folds the log on from `cursor` (up to its last complete line, or its first broken
/// link) into `seen`, moving `cursor`.
fn fold_from(
    log_path: &Path,
    cursor: &mut LogCursor,
    seen: &mut BTreeMap<String, Seen>,
) -> Result<(), Error> {
    let mut file = match File::open(log_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("open", log_path, e)),
    };
    fold_log_from(&mut file, cursor, |l| note(seen, l.brief))
        .map_err(|e| Error::io("read", log_path, e))?;
    Ok(())
}

/// The register facts of `id`, read from its files.
fn facts_of(archive: &Archive, id: &str) -> Result<Facts, Error> {
    let entry = RegisterEntry::read_if_present(&archive.register_path(id))?;
    Ok(Facts {
        entry: entry.as_ref().map(entry_facts),
        withdrawn: crate::fs::entry_exists(&archive.tombstone_path(id)),
    })
}

fn entry_facts(e: &RegisterEntry) -> EntryFacts {
    EntryFacts {
        title: e.dublin_core.first(Term::DC_TITLE).map(str::to_string),
        intake_name: e.intake_name.clone(),
        archived: e.archived.clone(),
        bag: e.bag.clone(),
        files: e.files.len(),
        bytes: e.files.iter().map(|f| f.size).sum(),
        entry_version: e.entry_version,
        content_version: e.version,
        updated: e.updated.clone(),
        payload_oxum: e.payload_oxum.clone(),
        identifiers: e
            .dublin_core
            .strings(Term::DC_IDENTIFIER)
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

/// The delta lines for what the log says past `state`: the register facts of each
/// object an event named (re-read), and the checks it logged.
fn catch_up(archive: &Archive, state: &mut State) -> Result<Vec<Line>, Error> {
    let mut seen = BTreeMap::new();
    fold_from(&archive.events_path(), &mut state.cursor, &mut seen)?;
    let seen: Vec<(String, Seen)> = seen.into_iter().collect();
    seen.into_par_iter()
        .map(|(id, s)| {
            let set = if s.reread {
                Some(facts_of(archive, &id)?)
            } else {
                None
            };
            Ok(Line {
                set,
                check: s
                    .check
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                fixity: s.fixity,
                ingested: s.ingested,
                id,
            })
        })
        .collect()
}

/// Every record built from the files: the register entries, the tombstones and the
/// whole log. Returns them with the log position they reflect.
fn rebuild(archive: &Archive) -> Result<(BTreeMap<String, ItemRecord>, LogCursor), Error> {
    let mut cursor = LogCursor::default();
    let mut seen = BTreeMap::new();
    fold_from(&archive.events_path(), &mut cursor, &mut seen)?;
    let mut ids: BTreeSet<String> = archive.register_ids()?.into_iter().collect();
    ids.extend(archive.withdrawn_ids()?);
    ids.extend(seen.keys().cloned());
    let ids: Vec<String> = ids.into_iter().collect();
    let facts: Vec<Facts> = ids
        .par_iter()
        .map(|id| facts_of(archive, id))
        .collect::<Result<_, Error>>()?;
    let mut records = BTreeMap::new();
    for (id, f) in ids.into_iter().zip(facts) {
        let s = seen.remove(&id).unwrap_or_default();
        records.insert(
            id.clone(),
            ItemRecord {
                id,
                entry: f.entry,
                withdrawn: f.withdrawn,
                last_check: s.check,
                last_fixity: s.fixity,
                ingested: s.ingested,
            },
        );
    }
    Ok((records, cursor))
}

/// Checks and parses line `n` of `items` (without its newline).
fn check_line(line: &[u8], n: usize) -> Result<Line, String> {
    let (check, json) = match (line.get(..16), line.get(16), line.get(17..)) {
        (Some(c), Some(b' '), Some(j)) => (c, j),
        _ => return Err(format!("line {n} is not CHECK JSON")),
    };
    if check != check_of(json) {
        return Err(format!("line {n} fails its check"));
    }
    serde_json::from_slice::<Line>(json).map_err(|e| format!("line {n}: {e}"))
}

/// The tail of `items` (the bytes from `state.base_len` to `state.items_len`), each
/// line checked.
fn read_tail(file: &File, state: &State) -> Result<Vec<Line>, String> {
    use std::os::unix::fs::FileExt;
    let len = usize::try_from(state.items_len - state.base_len).map_err(|e| e.to_string())?;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, state.base_len)
        .map_err(|e| format!("items is shorter than its state says: {e}"))?;
    if bytes.last().is_some_and(|b| *b != b'\n') {
        return Err("items does not end where its state says".into());
    }
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(n, l)| check_line(l, n + 1))
        .collect()
}

/// The base of `items` read a line at a time (never held whole: about 420 bytes an
/// item), each line checked and in identifier order after the one before.
struct BaseLines {
    body: std::io::Take<std::io::BufReader<File>>,
    line: Vec<u8>,
    n: usize,
    last: Option<String>,
}

impl BaseLines {
    fn new(file: File, len: u64) -> Result<BaseLines, String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        Ok(BaseLines {
            body: std::io::BufReader::with_capacity(256 * 1024, file).take(len),
            line: Vec::new(),
            n: 0,
            last: None,
        })
    }

    fn next_line(&mut self) -> Result<Option<Line>, String> {
        use std::io::BufRead;
        self.line.clear();
        let got = self
            .body
            .read_until(b'\n', &mut self.line)
            .map_err(|e| e.to_string())?;
        if got == 0 {
            if self.body.limit() > 0 {
                return Err("items is shorter than its state says".into());
            }
            return Ok(None);
        }
        if self.line.pop() != Some(b'\n') {
            return Err("the base of items does not end where its state says".into());
        }
        self.n += 1;
        let line = check_line(&self.line, self.n)?;
        if line.set.is_none() || self.last.as_ref().is_some_and(|last| *last >= line.id) {
            return Err(format!("line {} of the base is out of order", self.n));
        }
        self.last = Some(line.id.clone());
        Ok(Some(line))
    }
}

/// manifests/.item-index/.
fn index_dir(archive: &Archive) -> PathBuf {
    archive.manifests.join(crate::fs::layout::ITEM_INDEX_DIR)
}

/// Appends `lines` to `items` at `state.items_len` (cutting any bytes a crash left
/// past it, never the base) and moves `state` forward.
fn append_lines(dir: &Path, state: &mut State, lines: &[Line]) -> Result<(), Error> {
    let path = dir.join(ITEMS);
    let mut f = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    f.set_len(state.items_len)
        .map_err(|e| Error::io("truncate", &path, e))?;
    let mut out = Vec::new();
    for l in lines {
        l.encode(&mut out);
    }
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::End(0))
        .and_then(|_| f.write_all(&out))
        .map_err(|e| Error::io("write", &path, e))?;
    state.items_len += out.len() as u64;
    write_state(dir, state)
}

/// A fresh `items` being written, a record at a time in identifier order (all base),
/// to a temporary file renamed in place of the old one by [`Fresh::finish`].
struct Fresh {
    tmp: PathBuf,
    out: std::io::BufWriter<File>,
    len: u64,
    line: Vec<u8>,
}

impl Fresh {
    fn new(dir: &Path) -> Result<Fresh, Error> {
        crate::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{ITEMS}.tmp-{}", std::process::id()));
        let f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        Ok(Fresh {
            tmp,
            out: std::io::BufWriter::with_capacity(256 * 1024, f),
            len: 0,
            line: Vec::new(),
        })
    }

    fn push(&mut self, r: &ItemRecord) -> Result<(), Error> {
        self.line.clear();
        Line::of(r).encode(&mut self.line);
        self.len += self.line.len() as u64;
        self.out
            .write_all(&self.line)
            .map_err(|e| Error::io("write", &self.tmp, e))
    }

    fn finish(self, dir: &Path, cursor: LogCursor) -> Result<(), Error> {
        let Fresh { tmp, out, len, .. } = self;
        out.into_inner()
            .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
        // The old state must not describe the new file while it is renamed in.
        crate::fs::remove_file_quietly(&dir.join(STATE));
        let path = dir.join(ITEMS);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))?;
        write_state(
            dir,
            &State {
                cursor,
                base_len: len,
                items_len: len,
            },
        )
    }

    fn abandon(self) {
        crate::fs::remove_file_quietly(&self.tmp);
    }
}

/// Writes a fresh index of `records` at `cursor` in place of the old one.
fn write_fresh(
    dir: &Path,
    records: &BTreeMap<String, ItemRecord>,
    cursor: LogCursor,
) -> Result<(), Error> {
    let mut fresh = Fresh::new(dir)?;
    for r in records.values() {
        if let Err(e) = fresh.push(r) {
            fresh.abandon();
            return Err(e);
        }
    }
    fresh.finish(dir, cursor)
}

/// The tail is compacted into the base (by a reader that walks the whole index and
/// may write it) once it is longer than this: it is held in memory by every reader.
fn tail_too_long(state: &State) -> bool {
    let tail = state.items_len - state.base_len;
    tail > (state.base_len / 2).clamp(64 * 1024, 4 << 20)
}

/// Every identifier the archive has used, with what start-up needs of each, in order.
pub struct ItemIndex {
    pub records: BTreeMap<String, ItemRecord>,
    /// Whether the records reflect the whole log: false when a link after the index's
    /// position is broken (or the last line is torn), where folding stopped.
    pub log_end: bool,
}

impl ItemIndex {
    /// The registered items (those with a register entry), in identifier order.
    pub fn items(&self) -> impl Iterator<Item = (&ItemRecord, &EntryFacts)> {
        self.records
            .values()
            .filter_map(|r| r.entry.as_ref().map(|e| (r, e)))
    }
}

/// An index found current on disk: its `items` open, its state caught up with the log,
/// and its tail (with the lines caught up) by identifier, in order.
struct Opened {
    file: File,
    state: State,
    tail: BTreeMap<String, Vec<Line>>,
}

/// Hands records on in identifier order, to the caller and to a compaction being
/// written, remembering the last identifier handed on.
struct Emit<'a, F: FnMut(ItemRecord)> {
    each: &'a mut F,
    fresh: Option<Fresh>,
    last: Option<String>,
}

impl<F: FnMut(ItemRecord)> Emit<'_, F> {
    fn emit(&mut self, r: ItemRecord) {
        if let Some(f) = self.fresh.as_mut() {
            if let Err(e) = f.push(&r) {
                warn_unwritten(Err(e));
                if let Some(f) = self.fresh.take() {
                    f.abandon();
                }
            }
        }
        self.last = Some(r.id.clone());
        (self.each)(r);
    }

    /// A record from its tail lines alone (an identifier the base does not hold).
    fn emit_tail(&mut self, id: String, lines: Vec<Line>) {
        let mut r = ItemRecord {
            id,
            ..ItemRecord::default()
        };
        lines.into_iter().for_each(|l| l.apply_to(&mut r));
        self.emit(r);
    }
}

impl Archive {
    /// The item index, current with the log: read from manifests/.item-index/ and
    /// caught up with the lines appended since, or rebuilt from the files when it is
    /// missing or not to be trusted; written back when the log lock can be had (a
    /// read-only copy of an archive is answered from memory).
    pub fn item_index(&self) -> Result<ItemIndex, Error> {
        self.item_index_with(true)
    }

    /// [`Archive::item_index`]; with `write` false (a dry run, which writes nothing),
    /// answered from memory without taking the log lock or writing the index.
    pub fn item_index_with(&self, write: bool) -> Result<ItemIndex, Error> {
        let mut records = BTreeMap::new();
        let log_end = self.walk_item_index(write, |r| {
            records.insert(r.id.clone(), r);
        })?;
        Ok(ItemIndex { records, log_end })
    }

    /// Every record of the item index, current with the log, handed to `each` in
    /// identifier order as it is read, so that the first comes before the index is
    /// read through and none is held: the tail of `items` and the log's lines since
    /// its state are read first (under the log lock, and appended to the tail), then
    /// the sorted base is read a line at a time without the lock (an append or a
    /// compaction never rewrites the base's bytes in place) and merged with the tail.
    ///
    /// An index missing or not to be trusted before the first record is rebuilt from
    /// the files, as [`Archive::item_index`] does. A base line that fails its check
    /// or its order after records were handed on (`items` edited or damaged) makes
    /// the rest come from a rebuild: the records handed on came from lines that
    /// passed their checks, and the rest from the files, each identifier once and in
    /// order. A tail grown long is compacted into a fresh base as the walk goes.
    ///
    /// Returns whether the records reflect the whole log ([`ItemIndex::log_end`]).
    pub fn walk_item_index(
        &self,
        write: bool,
        mut each: impl FnMut(ItemRecord),
    ) -> Result<bool, Error> {
        let dir = index_dir(self);
        let guard = if write { self.item_index_lock() } else { None };
        let Some(opened) = self.open_item_index(&dir, guard.is_some())? else {
            let (records, cursor) = rebuild(self)?;
            let end = self.log_ends_at(&cursor);
            if guard.is_some() {
                warn_unwritten(write_fresh(&dir, &records, cursor));
            }
            drop(guard);
            records.into_values().for_each(each);
            return Ok(end);
        };
        let Opened { file, state, tail } = opened;
        let end = self.log_ends_at(&state.cursor);
        let compact = guard.is_some() && tail_too_long(&state);
        drop(guard);
        let mut out = Emit {
            each: &mut each,
            fresh: if compact {
                Fresh::new(&dir).map_err(|e| warn_unwritten(Err(e))).ok()
            } else {
                None
            },
            last: None,
        };
        let mut tail = tail.into_iter().peekable();
        let failed = match BaseLines::new(file, state.base_len) {
            Err(why) => Some(why),
            Ok(mut base) => loop {
                let line = match base.next_line() {
                    Ok(Some(l)) => l,
                    Ok(None) => break None,
                    Err(why) => break Some(why),
                };
                while let Some((id, lines)) = tail.next_if(|(id, _)| *id < line.id) {
                    out.emit_tail(id, lines);
                }
                let mut r = ItemRecord {
                    id: line.id.clone(),
                    ..ItemRecord::default()
                };
                let later = tail.next_if(|(id, _)| *id == line.id);
                line.apply_to(&mut r);
                later
                    .into_iter()
                    .flat_map(|(_, lines)| lines)
                    .for_each(|l| l.apply_to(&mut r));
                out.emit(r);
                // A record handed on, the rest of the base not yet read.
                crate::fs::failpoint::hit("item-index-walked-one");
            },
        };
        if let Some(why) = failed {
            tracing::debug!("the item index is rebuilt: {why}");
            if let Some(f) = out.fresh.take() {
                f.abandon();
            }
            let guard = if write { self.item_index_lock() } else { None };
            let (records, cursor) = rebuild(self)?;
            let end = self.log_ends_at(&cursor);
            if guard.is_some() {
                warn_unwritten(write_fresh(&dir, &records, cursor));
            }
            drop(guard);
            let last = out.last.take();
            records
                .into_values()
                .filter(|r| last.as_ref().is_none_or(|l| r.id > *l))
                .for_each(|r| (out.each)(r));
            return Ok(end);
        }
        for (id, lines) in tail {
            out.emit_tail(id, lines);
        }
        if let Some(f) = out.fresh.take() {
            // Renamed in only if no writer moved the index meanwhile.
            let _guard = self.item_index_lock();
            if read_state(&dir).as_ref() == Some(&state) {
                warn_unwritten(f.finish(&dir, state.cursor));
            } else {
                f.abandon();
            }
        }
        Ok(end)
    }

    /// Whether `cursor` is at the end of the log (as long as it is now).
    fn log_ends_at(&self, cursor: &LogCursor) -> bool {
        crate::fs::len_if_present(&self.events_path()).unwrap_or(0) == cursor.offset
    }

    /// The index on disk if it is to be trusted: its state extends the log, `items`
    /// is as long as its state says and its tail passes its checks; caught up with the
    /// log's lines since (appended to the tail when `write`). `None` to rebuild.
    fn open_item_index(&self, dir: &Path, write: bool) -> Result<Option<Opened>, Error> {
        let Some(mut state) =
            read_state(dir).filter(|s| extends_log(&self.events_path(), &s.cursor))
        else {
            return Ok(None);
        };
        let file = match File::open(dir.join(ITEMS)) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!("the item index is rebuilt: items: {e}");
                return Ok(None);
            }
        };
        // Shorter than its state says: a line removed or the file cut, seen before a
        // record is handed on (the base's lines are each checked as they are read, not
        // whether one is missing).
        match file.metadata() {
            Ok(m) if m.len() >= state.items_len => {}
            _ => {
                tracing::debug!("the item index is rebuilt: items is shorter than its state says");
                return Ok(None);
            }
        }
        let lines = match read_tail(&file, &state) {
            Ok(l) => l,
            Err(why) => {
                tracing::debug!("the item index is rebuilt: {why}");
                return Ok(None);
            }
        };
        let delta = catch_up(self, &mut state)?;
        if write && !delta.is_empty() {
            let before = state.clone();
            if let Err(e) = append_lines(dir, &mut state, &delta) {
                warn_unwritten(Err(e));
                state = before;
            }
        }
        let mut tail: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        for l in lines.into_iter().chain(delta) {
            tail.entry(l.id.clone()).or_default().push(l);
        }
        Ok(Some(Opened { file, state, tail }))
    }

    /// Rebuilds the item index from the files, whatever is there (`cairn index
    /// rebuild`); returns how many identifiers it holds.
    pub fn rebuild_item_index(&self) -> Result<usize, Error> {
        let _guard = self.log_lock_for_index()?;
        let (records, cursor) = rebuild(self)?;
        write_fresh(&index_dir(self), &records, cursor)?;
        Ok(records.len())
    }

    /// Brings an existing, trusted item index up to date after an append (the caller
    /// holds the log lock); one that no longer extends the log is removed, for the
    /// next reader to rebuild. Failing fails nothing: the index is a cache.
    pub(crate) fn update_item_index(&self) {
        let dir = index_dir(self);
        let Some(mut state) = read_state(&dir) else {
            return;
        };
        if !extends_log(&self.events_path(), &state.cursor)
            || crate::fs::len_if_present(&dir.join(ITEMS)).unwrap_or(0) < state.items_len
        {
            crate::fs::remove_file_quietly(&dir.join(STATE));
            return;
        }
        let done = catch_up(self, &mut state).and_then(|d| append_lines(&dir, &mut state, &d));
        if let Err(e) = done {
            crate::fs::remove_file_quietly(&dir.join(STATE));
            tracing::warn!(error = %e, "could not update the item index; the next command rebuilds it");
        }
    }

    /// The log lock, for writing the index; `None` where it cannot be had (a
    /// read-only copy of an archive).
    fn item_index_lock(&self) -> Option<File> {
        match self.log_lock_for_index() {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::debug!(error = %e, "the item index cannot be written here; answering from memory");
                None
            }
        }
    }
}

fn warn_unwritten(r: Result<(), Error>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not write the item index; the next command tries again");
    }
}
