//! The event log as `serve` keeps it ([`EventLog`]): a row per line (40 bytes, not
//! the event), the strings the rows name, and what the pages summarise, folded as the
//! lines go by; read on from where the last refresh stopped ([`read_log`]) and read back
//! a page at a time ([`EventLog::read`]), each line checked against the digest the
//! chain check saw.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::{fold_log_from, BrokenLink, Event, EventBrief, LineRead, LogCursor};
use crate::ops::schedule::{fold_last_check, fold_last_fixity, FixityDays, LastChecks, LastFixity};
use crate::vocab::{EventType, Outcome};

/// What the log says about one item's checking.
#[derive(Debug, Clone, Default)]
pub struct CheckHistory {
    /// The last fixity check: time and whether it passed.
    pub last_fixity: Option<(DateTime<Utc>, bool)>,
    /// The last check of any kind (fixity, or the ingest read-back).
    pub last_check: Option<DateTime<Utc>>,
}

/// The event log as read so far: not its events (a large archive's log is millions of
/// lines) but a row for each line, with what the /events filters compare, and what the
/// pages summarise, folded as the lines went by. A page's events are read back from
/// the log by their rows ([`EventLog::read`]).
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    /// One row per line read, in log order.
    pub rows: Vec<LineRow>,
    /// Where reading stopped (always the end of a complete line) and the head there.
    pub cursor: LogCursor,
    /// Where the chain broke; nothing after it is read.
    pub broken: Option<BrokenLink>,
    /// Event types, outcomes and objects seen; rows name them by index.
    pub types: Names,
    pub outcomes: Names,
    pub objects: Names,
    /// Each object's rows, by its index in `objects`.
    pub by_object: Vec<Vec<u32>>,
    /// Each item's last check and last fixity check of its bag in the archive.
    pub last_checks: LastChecks,
    pub last_fixity: LastFixity,
    /// Fixity checks per day, for the overview's chart.
    pub fixity_days: FixityDays,
    /// The last line's brief.
    pub last: Option<EventBrief>,
}

/// One line of the log as `serve` keeps it: 40 bytes, where an event with its data
/// took a kilobyte or more.
#[derive(Debug, Clone, Copy)]
pub struct LineRow {
    /// Where the line starts in the log.
    pub offset: u64,
    /// Its time in milliseconds since the epoch (UTC); [`LineRow::NO_TIME`] when the
    /// time does not parse.
    pub time_ms: i64,
    pub event_type: u32,
    pub outcome: u32,
    pub object: u32,
    /// The first 8 bytes of the line's BLAKE3 digest, as the chain check read it: a line
    /// read back for a page must still hash to it.
    pub digest: [u8; 8],
}

impl LineRow {
    pub const NO_TIME: i64 = i64::MIN;
}

/// Strings seen in the log, each kept once and named by its index.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Names {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.index.insert(name.to_string(), i);
        self.names.push(name.to_string());
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }
}

/// A line of the log read back for a page.
#[derive(Debug, Clone)]
pub enum LineShown {
    Event(Box<Event>),
    /// The line no longer reads as it did when the chain was checked (1-based line
    /// number, and what is wrong).
    Changed(usize, String),
}

/// What the lines read by one refresh say about the rest of the snapshot.
#[derive(Debug, Default)]
pub(super) struct NewLines {
    /// Objects of amendments ("metadata modification", "modification"): their
    /// register entries were rewritten.
    pub(super) amended: HashSet<String>,
    /// Objects of the lines read, while `only_fixity` holds.
    pub(super) objects: HashSet<String>,
    /// The log was read on (not from its start) and every line read is a fixity check:
    /// the register and the bags were not changed by what they record.
    pub(super) only_fixity: bool,
}

/// Reads the log on from where `old` stopped (or from the start when the log is not
/// the same file, or shrank), a part at a time, up to its last complete line, under the
/// shared log lock. Returns the log and what the lines read this time say.
pub(super) fn read_log(
    archive: &Archive,
    old: Option<&EventLog>,
    stat: Option<(u64, SystemTime, u64)>,
) -> Result<(EventLog, NewLines), Error> {
    let (mut log, read_on) = match old {
        Some(o) if stat.is_some_and(|(len, _, _)| len >= o.cursor.offset) => (o.clone(), true),
        _ => (EventLog::default(), false),
    };
    let mut new = NewLines {
        only_fixity: read_on,
        ..NewLines::default()
    };
    if log.broken.is_some() || stat.is_none() {
        return Ok((log, new));
    }
    let _guard = archive.shared_log_lock()?;
    let path = archive.events_path();
    let mut file = match crate::serve::files::open_no_follow(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((log, new)),
        Err(e) => return Err(Error::io("open", &path, e)),
    };
    let mut cursor = log.cursor;
    let broken = fold_log_from(&mut file, &mut cursor, |line| log.note(line, &mut new))
        .map_err(|e| Error::io("read", &path, e))?;
    log.cursor = cursor;
    log.broken = broken;
    Ok((log, new))
}

impl EventLog {
    /// Takes one line in: its row, and what the pages summarise.
    fn note(&mut self, line: LineRead, new: &mut NewLines) {
        let brief = line.brief;
        fold_last_check(&mut self.last_checks, &brief);
        self.fixity_days.note(
            &brief.event_type,
            &brief.time,
            &brief.outcome,
            brief.replica,
        );
        if matches!(
            EventType::of(&brief.event_type),
            Some(EventType::MetadataModification | EventType::Modification)
        ) {
            new.amended.insert(brief.object.clone());
        }
        // The objects matter only to a refresh that read fixity checks alone.
        if new.only_fixity {
            if !EventType::FixityCheck.is(&brief.event_type) {
                new.only_fixity = false;
                new.objects = HashSet::new();
            } else if !new.objects.contains(&brief.object) {
                new.objects.insert(brief.object.clone());
            }
        }
        let time_ms = DateTime::parse_from_rfc3339(&brief.time)
            .map_or(LineRow::NO_TIME, |t| t.timestamp_millis());
        let object = self.objects.intern(&brief.object);
        let row = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        match self.by_object.get_mut(object as usize) {
            Some(rows) => rows.push(row),
            None => self.by_object.push(vec![row]),
        }
        let mut digest = [0u8; 8];
        digest.copy_from_slice(&line.digest.as_bytes()[..8]);
        self.rows.push(LineRow {
            offset: line.offset,
            time_ms,
            event_type: self.types.intern(&brief.event_type),
            outcome: self.outcomes.intern(&brief.outcome),
            object,
            digest,
        });
        fold_last_fixity(&mut self.last_fixity, &brief);
        self.last = Some(brief);
    }

    /// What the log says about one item's checking (of its bag in the archive: a
    /// replica's checks say nothing of it).
    pub fn checks(&self, id: &str) -> CheckHistory {
        let last_fixity = self.last_fixity.get(id).and_then(|f| {
            let t = DateTime::parse_from_rfc3339(&f.time).ok()?;
            Some((t.with_timezone(&Utc), Outcome::Success.is(&f.outcome)))
        });
        CheckHistory {
            last_fixity,
            last_check: self.last_checks.get(id).copied(),
        }
    }

    /// The rows of an object's events, in log order.
    pub fn rows_of_object(&self, id: &str) -> &[u32] {
        self.objects
            .get(id)
            .and_then(|i| self.by_object.get(i as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// Lines read.
    pub fn lines(&self) -> usize {
        self.rows.len()
    }

    /// The head: the digest of the last line read ([`GENESIS`](crate::fs::events::GENESIS)
    /// for an empty log).
    pub fn head(&self) -> String {
        self.cursor.head_hex()
    }

    /// Reads back the lines of `rows` (indexes into [`EventLog::rows`]) from the log at
    /// `path`, each checked against the digest the chain check saw: a line changed
    /// since (the log edited in place) is shown as changed, never as its new text.
    pub fn read(&self, path: &Path, rows: &[u32]) -> Vec<LineShown> {
        use std::os::unix::fs::FileExt;
        if rows.is_empty() {
            return Vec::new();
        }
        let file = match crate::serve::files::open_no_follow(path) {
            Ok(f) => f,
            Err(e) => {
                let why = format!("the log cannot be opened ({e})");
                return rows
                    .iter()
                    .map(|&r| LineShown::Changed(r as usize + 1, why.clone()))
                    .collect();
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut buf = Vec::new();
        for &r in rows {
            let i = r as usize;
            let Some(row) = self.rows.get(i) else {
                continue;
            };
            let end = self
                .rows
                .get(i + 1)
                .map_or(self.cursor.offset, |n| n.offset);
            let len = usize::try_from(end.saturating_sub(row.offset + 1)).unwrap_or(0);
            buf.resize(len, 0);
            let line = i + 1;
            if let Err(e) = file.read_exact_at(&mut buf, row.offset) {
                out.push(LineShown::Changed(line, format!("it cannot be read ({e})")));
                continue;
            }
            if blake3::hash(&buf).as_bytes()[..8] != row.digest {
                out.push(LineShown::Changed(
                    line,
                    "it no longer reads as it did when the chain was checked: the log was changed in place"
                        .into(),
                ));
                continue;
            }
            match serde_json::from_slice::<Event>(&buf) {
                Ok(e) => out.push(LineShown::Event(Box::new(e))),
                Err(e) => out.push(LineShown::Changed(line, format!("not a valid event: {e}"))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The archive's checks set an item's status; a replica's (`fixity --replica`,
    /// its data naming the replica) does not, failed or not.
    #[test]
    fn a_replica_check_is_not_the_archive_bags() {
        let brief = |time: &str, outcome: &str, replica: bool| EventBrief {
            seq: 1,
            event_type: "fixity check".into(),
            time: time.into(),
            outcome: outcome.into(),
            object: "cairn-000001".into(),
            replica,
            replica_name: replica.then(|| "nas".to_string()),
        };
        let digest = blake3::hash(b"line");
        let mut log = EventLog::default();
        let mut new = NewLines::default();
        for (offset, b) in [
            (0, brief("2026-11-01T00:00:00Z", "success", false)),
            (100, brief("2026-11-02T00:00:00Z", "failure", true)),
        ] {
            let line = LineRead {
                brief: b,
                offset,
                digest: &digest,
            };
            log.note(line, &mut new);
        }
        let c = log.checks("cairn-000001");
        assert_eq!(c.last_fixity.map(|f| f.1), Some(true));
        assert_eq!(
            c.last_check.map(|t| t.to_rfc3339()),
            Some("2026-11-01T00:00:00+00:00".to_string())
        );
        // The chart counts the archive's check alone.
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date");
        assert_eq!(
            log.fixity_days
                .0
                .iter()
                .map(|(d, n)| (*d, *n))
                .collect::<Vec<_>>(),
            vec![(day, (1, 0))]
        );
        assert_eq!(log.lines(), 2);
        assert_eq!(log.rows_of_object("cairn-000001"), &[0, 1]);
        assert!(new.amended.is_empty());
    }
}
