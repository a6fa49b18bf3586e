//! `events`: the event log queried (one item's fixity history, every failure of last
//! month). Streams: the log is read line by line, each line parsed, chain-checked and
//! handed on or dropped, so memory does not grow with the log.
//!
//! The log's length is read under its shared lock; the lines up to there are then read
//! without holding it (appends only add whole lines after that point, so a slow reader
//! of the output never holds up an ingest).

use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::{line_digest, Event, GENESIS};
use crate::vocab::{EventType, Outcome};

/// Which events to pass on.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub id: Option<String>,
    pub event_type: Option<EventType>,
    pub outcome: Option<Outcome>,
    /// From this time on (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Up to this time (inclusive).
    pub until: Option<DateTime<Utc>>,
}

impl EventFilter {
    fn matches(&self, e: &Event) -> bool {
        if self.id.as_ref().is_some_and(|id| *id != e.object)
            || self.event_type.is_some_and(|t| !t.is(&e.event_type))
            || self.outcome.is_some_and(|o| !o.is(&e.outcome))
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Ok(t) = DateTime::parse_from_rfc3339(&e.time).map(|t| t.with_timezone(&Utc)) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        true
    }
}

/// Parses a `--since` / `--until` bound: RFC 3339, or a date (YYYY-MM-DD: the start of
/// the day for `since`, its end for `until`), UTC.
pub fn parse_bound(text: &str, until: bool) -> Result<DateTime<Utc>, Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Error::Usage(format!(
            "{}: expected a date (2026-11-30) or a time (2026-11-30T08:00:00Z)",
            crate::quoted(text)
        ))
    })?;
    let t = if until {
        d.and_hms_milli_opt(23, 59, 59, 999)
    } else {
        d.and_hms_opt(0, 0, 0)
    }
    .ok_or_else(|| Error::Internal("a valid date without its midnight".into()))?;
    Ok(t.and_utc())
}

/// What a query read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueryReport {
    /// Lines read.
    pub lines: u64,
    pub matched: u64,
    /// BLAKE3 of the last line read (the head, which commits to the whole log); empty
    /// when the item's lines were read through the index.
    pub head: String,
    /// Where the chain broke, if it did: nothing after it was read.
    pub broken: Option<String>,
    /// Whether only one item's lines were read, through the event index (its chain
    /// not followed).
    pub indexed: bool,
}

/// Reads the log, hands every matching event to `each`, in log order.
///
/// With an item (`filter.id`), only that item's lines are read, through the event index
/// (fs::events_index: each indexed line is read from the log and must be the item's,
/// or the index is rebuilt), so that one item's history costs the same in an archive of
/// any size. The chain of the whole log is then not followed: `broken` stays `None`
/// and `head` is empty ([`QueryReport::indexed`]); `cairn audit` checks the chain.
pub fn query(
    archive: &Archive,
    filter: &EventFilter,
    mut each: impl FnMut(&Event) -> Result<(), Error>,
) -> Result<QueryReport, Error> {
    if let Some(id) = &filter.id {
        crate::ops::show::known_item(archive, id)?;
        let events = archive.events_of(id)?;
        let mut report = QueryReport {
            lines: events.len() as u64,
            indexed: true,
            ..QueryReport::default()
        };
        for e in events.iter().filter(|e| filter.matches(e)) {
            report.matched += 1;
            each(e)?;
        }
        return Ok(report);
    }
    let path = archive.events_path();
    let len = {
        let _guard = archive.shared_log_lock()?;
        crate::fs::len_if_present(&path)?
    };
    let mut report = QueryReport {
        head: GENESIS.to_string(),
        ..QueryReport::default()
    };
    if len == 0 {
        return Ok(report);
    }
    let file = crate::fs::open_file(&path)?;
    let mut reader = BufReader::with_capacity(1 << 16, file.take(len));
    let mut line = Vec::new();
    let mut prev = GENESIS.to_string();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read", &path, e))?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // An append cut short, never acknowledged (the next append removes it).
            break;
        }
        line.pop();
        report.lines += 1;
        let event: Event = match serde_json::from_slice(&line) {
            Ok(e) => e,
            Err(e) => {
                report.broken = Some(format!("line {}: not a valid event: {e}", report.lines));
                break;
            }
        };
        if event.prev != prev || event.seq != report.lines {
            report.broken = Some(format!(
                "line {}: the chain is broken (a line before it was edited, deleted, inserted or reordered); run `cairn audit`",
                report.lines
            ));
            break;
        }
        prev = line_digest(&line);
        report.head.clone_from(&prev);
        if filter.matches(&event) {
            report.matched += 1;
            each(&event)?;
        }
    }
    Ok(report)
}
