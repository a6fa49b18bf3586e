//! The event log on a replica: its head object (the last line's seq and digest), the
//! check that the archive's log extends the replica's, and the copy.

use serde::Serialize;

use crate::digest::Algorithm;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::events::line_digest;
use crate::fs::replica::Replica;

use super::{CONFIG_KEY, HEAD_KEY, LEGACY_HEAD_KEY, LOG_KEY};

/// The head object: the log's last line's seq and BLAKE3, and the log's length.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LogHead {
    pub seq: u64,
    pub line_blake3: String,
    pub log_bytes: u64,
}

/// Refuses to replace a replica's log that the archive's log does not extend (the
/// replica's head must be a line of the local log): that would be a conflict.
pub(super) fn check_log_prefix(archive: &Archive, replica: &Replica) -> Result<(), Error> {
    migrate_head(replica)?;
    let Some(head) = read_head(replica)? else {
        return Ok(());
    };
    let local = archive.read_all_events_bytes()?;
    let extends = head.log_bytes <= local.len() as u64
        && local[..head.log_bytes as usize]
            .strip_suffix(b"\n")
            .map(|l| l.rsplit(|&b| b == b'\n').next().unwrap_or(l))
            .is_some_and(|line| line_digest(line) == head.line_blake3);
    if extends {
        Ok(())
    } else {
        Err(Error::Corrupt {
            path: archive.events_path(),
            detail: format!(
                "replica {}'s event log (head: event {}, {}) is not a beginning of this archive's log: a conflict, nothing replaced. Compare the two logs before going on",
                replica.name, head.seq, head.line_blake3
            ),
        })
    }
}

/// The replica's log head: [`HEAD_KEY`], else (a replica written before it moved) a
/// head at [`LEGACY_HEAD_KEY`]; `None` when there is none.
pub fn read_head(replica: &Replica) -> Result<Option<LogHead>, Error> {
    if let Some(bytes) = replica.get_bytes(HEAD_KEY)? {
        return serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Replica {
                name: replica.name.clone(),
                detail: format!("{HEAD_KEY} is not a log head: {e}"),
            });
    }
    Ok(legacy_head(replica)?.map(|(head, _)| head))
}

/// A head at [`LEGACY_HEAD_KEY`] (with its bytes), when what is there parses as one.
fn legacy_head(replica: &Replica) -> Result<Option<(LogHead, Vec<u8>)>, Error> {
    Ok(replica
        .get_bytes(LEGACY_HEAD_KEY)?
        .and_then(|b| is_legacy_head(&b).map(|h| (h, b))))
}

/// `bytes` read at [`LEGACY_HEAD_KEY`] as a log head; `None` for anything else (the
/// register entry of an item called `events.head`).
pub fn is_legacy_head(bytes: &[u8]) -> Option<LogHead> {
    serde_json::from_slice::<LogHead>(bytes).ok()
}

/// A replica written before the head moved under `.cairn/`: the head is copied to
/// [`HEAD_KEY`], read back, then deleted from [`LEGACY_HEAD_KEY`], which is then free
/// for the register entry of an item called `events.head`.
fn migrate_head(replica: &Replica) -> Result<(), Error> {
    if replica.head(HEAD_KEY)?.is_some() {
        return Ok(());
    }
    if let Some((_, bytes)) = legacy_head(replica)? {
        replica.put_bytes(HEAD_KEY, &bytes)?;
        replica.delete(LEGACY_HEAD_KEY)?;
    }
    Ok(())
}

/// Copies cairn.toml, the event log and its head; returns the number of events.
pub(super) fn copy_log(archive: &Archive, replica: &Replica) -> Result<u64, Error> {
    let config = archive.root.join(crate::config::CONFIG_FILE);
    if let Some(bytes) = crate::fs::read_if_present(&config)? {
        replica.put_bytes(CONFIG_KEY, &bytes)?;
    }
    // Under the shared log lock: no append while the log is read.
    let _guard = archive.shared_log_lock()?;
    let log = archive.events_path();
    let Some((seq, line)) =
        crate::fs::events::last_complete_line(&log, &crate::fs::tlog_store::LogTree)?
    else {
        return Ok(0);
    };
    let len = crate::fs::stat(&log)?.len();
    let head = LogHead {
        seq,
        line_blake3: line_digest(&line),
        log_bytes: len,
    };
    let current = replica
        .get_bytes(HEAD_KEY)?
        .and_then(|b| serde_json::from_slice::<LogHead>(&b).ok());
    if current.as_ref() == Some(&head) && replica.head(LOG_KEY)? == Some(len) {
        return Ok(seq);
    }
    replica.put_file(&log, LOG_KEY, (Algorithm::Blake3, None), Some(len), false)?;
    let bytes = serde_json::to_vec_pretty(&head)
        .map_err(|e| Error::Internal(format!("encode log head: {e}")))?;
    replica.put_bytes(HEAD_KEY, &bytes)?;
    Ok(seq)
}
