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

const VERSION: &str = "cairn-item-index-1";
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
        }
    }

    fn apply(self, records: &mut BTreeMap<String, ItemRecord>) {
        let r = records
            .entry(self.id.clone())
            .or_insert_with(|| ItemRecord {
                id: self.id,
                ..ItemRecord::default()
            });
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

/// Where the index stands: the log position it reflects and the length of `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    cursor: LogCursor,
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
    let items_len = p.next()?.parse().ok()?;
    Some(State {
        cursor: LogCursor {
            offset,
            lines,
            head,
        },
        items_len,
    })
}

fn write_state(dir: &Path, s: &State) -> Result<(), Error> {
    let head = s
        .cursor
        .head
        .map_or("-".to_string(), |h| h.to_hex().to_string());
    let text = format!(
        "{VERSION} {} {} {head} {}\n",
        s.cursor.offset, s.cursor.lines, s.items_len
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
            },
        );
    }
    Ok((records, cursor))
}

/// The lines of `items` (its first `len` bytes), each checked; `None` when any fails
/// (said at debug level, with the reason).
fn read_items(path: &Path, len: u64) -> Option<(BTreeMap<String, ItemRecord>, usize)> {
    let got = parse_items(path, len);
    if let Err(why) = &got {
        tracing::debug!("the item index is rebuilt: {why}");
    }
    got.ok()
}

fn parse_items(path: &Path, len: u64) -> Result<(BTreeMap<String, ItemRecord>, usize), String> {
    use std::io::{BufRead, Read};
    // Read a line at a time: the file's bytes are never held whole (about 420 bytes an
    // item), only the records they set.
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut body = std::io::BufReader::with_capacity(256 * 1024, file).take(len);
    let mut records = BTreeMap::new();
    let mut count = 0;
    let mut read = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let got = body
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if got == 0 {
            break;
        }
        read += got as u64;
        if line.pop() != Some(b'\n') {
            // Only the last line read can lack its newline: cut at `len`, or the file
            // ends there.
            return Err(if read < len {
                "items is shorter than its state says".into()
            } else {
                "items does not end where its state says".into()
            });
        }
        if line.is_empty() {
            continue;
        }
        count += 1;
        let (check, json) = match (line.get(..16), line.get(16), line.get(17..)) {
            (Some(c), Some(b' '), Some(j)) => (c, j),
            _ => return Err(format!("line {count} is not CHECK JSON")),
        };
        if check != check_of(json) {
            return Err(format!("line {count} fails its check"));
        }
        serde_json::from_slice::<Line>(json)
            .map_err(|e| format!("line {count}: {e}"))?
            .apply(&mut records);
    }
    if read < len {
        return Err("items is shorter than its state says".into());
    }
    Ok((records, count))
}

/// manifests/.item-index/.
fn index_dir(archive: &Archive) -> PathBuf {
    archive.manifests.join(crate::fs::layout::ITEM_INDEX_DIR)
}

/// Appends `lines` to `items` at `state.items_len` (cutting any bytes a crash left
/// past it) and moves `state` forward.
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

/// Writes a fresh index of `records` at `cursor` in place of the old one.
fn write_fresh(
    dir: &Path,
    records: &BTreeMap<String, ItemRecord>,
    cursor: LogCursor,
) -> Result<(), Error> {
    crate::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for r in records.values() {
        Line::of(r).encode(&mut out);
    }
    let tmp = dir.join(format!(".{ITEMS}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, &out).map_err(|e| Error::io("write", &tmp, e))?;
    // The old state must not describe the new file while it is renamed in.
    crate::fs::remove_file_quietly(&dir.join(STATE));
    let path = dir.join(ITEMS);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))?;
    write_state(
        dir,
        &State {
            cursor,
            items_len: out.len() as u64,
        },
    )
}

/// Every identifier the archive has used, with what start-up needs of each, in order.
pub struct ItemIndex {
    pub records: BTreeMap<String, ItemRecord>,
}

impl ItemIndex {
    /// The registered items (those with a register entry), in identifier order.
    pub fn items(&self) -> impl Iterator<Item = (&ItemRecord, &EntryFacts)> {
        self.records
            .values()
            .filter_map(|r| r.entry.as_ref().map(|e| (r, e)))
    }
}

/// How a read of the index went: what it read, and what it must write back.
enum Read {
    /// Current on disk, plus the delta lines from the log since (to append).
    Current {
        records: BTreeMap<String, ItemRecord>,
        state: State,
        delta: Vec<Line>,
        lines: usize,
    },
    /// Missing or not to be trusted: rebuilt from the files (to write afresh).
    Rebuilt(BTreeMap<String, ItemRecord>, LogCursor),
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
        let guard = if write { self.item_index_lock() } else { None };
        let dir = index_dir(self);
        let read = match read_state(&dir).filter(|s| extends_log(&self.events_path(), &s.cursor)) {
            Some(mut state) => match read_items(&dir.join(ITEMS), state.items_len) {
                Some((records, lines)) => {
                    let delta = catch_up(self, &mut state)?;
                    Read::Current {
                        records,
                        state,
                        delta,
                        lines,
                    }
                }
                None => {
                    let (r, c) = rebuild(self)?;
                    Read::Rebuilt(r, c)
                }
            },
            None => {
                let (r, c) = rebuild(self)?;
                Read::Rebuilt(r, c)
            }
        };
        let records = match read {
            Read::Current {
                mut records,
                mut state,
                delta,
                lines,
            } => {
                let written = guard.is_some() && !delta.is_empty();
                if written {
                    warn_unwritten(append_lines(&dir, &mut state, &delta));
                }
                for l in delta {
                    l.apply(&mut records);
                }
                // Compacted once superseded lines outnumber the records.
                if guard.is_some() && lines > 2 * records.len() + 1024 {
                    warn_unwritten(write_fresh(&dir, &records, state.cursor));
                }
                records
            }
            Read::Rebuilt(records, cursor) => {
                if guard.is_some() {
                    warn_unwritten(write_fresh(&dir, &records, cursor));
                }
                records
            }
        };
        Ok(ItemIndex { records })
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
