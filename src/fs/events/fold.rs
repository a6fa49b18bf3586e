//! Reading the event log a part at a time: the links followed on from part to part
//! ([`super::chain`]'s `Chain`), each linked line's brief handed on, and memory two
//! parts whatever the log's length (one parsed while the one before is followed).
//! What `fold_log_brief`, `fold_log_audit`, `fold_log_from`, `read_log`,
//! `check_log_links` and `fold_log_windows` (the parent module) run over the log file.

use std::io::Read;

use super::chain::{
    audit_line, brief_line, event_line, head_hex, notes_line, parse_brief, Chain, Links, Parsed,
    Prev, Row, BLOCK_BYTES,
};
use super::{BrokenLink, ChainReport, Event, EventAudit, EventBrief, EventNotes};

/// The log read and checked a part of about this many bytes at a time by
/// [`super::fold_log_brief`].
pub(super) const PART: usize = 8 << 20;

/// [`super::fold_log_brief`] over any reader, `part` bytes at a time.
pub(super) fn fold_brief_parts(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(EventBrief),
) -> std::io::Result<ChainReport> {
    fold_whole(file, part, &brief_line, &mut |e, _| each(e))
}

/// [`super::fold_log_audit`] over any reader, `part` bytes at a time.
pub(super) fn fold_audit_parts(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(EventAudit, &blake3::Hash),
) -> std::io::Result<ChainReport> {
    fold_whole(file, part, &audit_line, each)
}

/// [`super::fold_log_notes`] over any reader, `part` bytes at a time.
pub(super) fn fold_notes_parts(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(EventNotes),
) -> std::io::Result<ChainReport> {
    fold_whole(file, part, &notes_line, &mut |e, _| each(e))
}

/// [`super::read_log`] over any reader, `part` bytes at a time: every event parsed
/// whole and handed to `each`.
pub(super) fn fold_event_parts(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(Event),
) -> std::io::Result<ChainReport> {
    fold_whole(file, part, &event_line, &mut |e, _| each(e))
}

/// The whole log in `file` read `part` bytes at a time, what `parse` keeps of each
/// linked line handed to `each`; a last line without its newline is a torn write.
fn fold_whole<E: Send, F>(
    file: &mut dyn Read,
    part: usize,
    parse: &F,
    each: &mut dyn FnMut(E, &blake3::Hash),
) -> std::io::Result<ChainReport>
where
    F: Fn(&[u8]) -> Result<(u64, Prev, Option<E>), serde_json::Error> + Sync,
{
    let mut chain = Chain::default();
    fold_parts(file, part, Tail::Torn, &mut chain, parse, each)?;
    Ok(chain.report())
}

/// [`super::check_log_links`] over any reader, `part` bytes at a time: the chain check
/// alone, as [`super::verify_links`] runs it on the whole log.
pub(super) fn links_parts(file: &mut dyn Read, part: usize) -> std::io::Result<ChainReport> {
    let mut links = Links::default();
    let mut torn = false;
    let mut first = true;
    read_windows(file, part, &mut |window, end| {
        // A log of one bare newline reads as empty, as `verify_links` reads it.
        let window = if end && first && window == b"\n" {
            &window[..0]
        } else {
            window
        };
        first = false;
        let complete = match memchr::memrchr(b'\n', window) {
            Some(last) => &window[..=last],
            None => &window[..0],
        };
        torn = end && complete.len() < window.len();
        links.feed(complete, BLOCK_BYTES);
        !links.is_broken()
    })?;
    Ok(links.finish(torn))
}

/// Where a reader of the log stands: `lines` lines read and linked, ending at byte
/// `offset`, the last of them hashing to `head` (`None` before the first line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCursor {
    pub offset: u64,
    pub lines: usize,
    pub head: Option<blake3::Hash>,
}

impl LogCursor {
    /// The head as the log's readers print it ([`super::GENESIS`] before the first line).
    pub fn head_hex(&self) -> String {
        head_hex(self.head)
    }
}

/// One line read on from a [`LogCursor`]: its brief, where it starts in the log, and
/// its digest.
pub struct LineRead<'a> {
    pub brief: EventBrief,
    pub offset: u64,
    pub digest: &'a blake3::Hash,
}

/// [`super::fold_log_from`] over any reader positioned at `cursor.offset`.
pub(super) fn fold_brief_from(
    file: &mut dyn Read,
    part: usize,
    cursor: &mut LogCursor,
    each: &mut dyn FnMut(LineRead),
) -> std::io::Result<Option<BrokenLink>> {
    let mut chain = Chain {
        prev: cursor.head,
        count: cursor.lines,
        broken: None,
        started: cursor.offset > 0,
    };
    let parse = |line: &[u8]| {
        parse_brief::<false>(line)
            .map(|(prev, brief, _)| (brief.seq, prev, Some((brief, line.len()))))
    };
    let mut at = *cursor;
    fold_parts(
        file,
        part,
        Tail::Leave,
        &mut chain,
        &parse,
        &mut |(brief, len): (EventBrief, usize), digest| {
            each(LineRead {
                brief,
                offset: at.offset,
                digest,
            });
            at.offset += len as u64 + 1;
            at.lines += 1;
            at.head = Some(*digest);
        },
    )?;
    *cursor = at;
    Ok(chain.broken)
}

/// What the last read of a log does with a final line that has no newline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// It is a torn write: the chain breaks there.
    Torn,
    /// It is not read (a reader that runs beside writers: the line may be being
    /// appended); the next read starts at it.
    Leave,
}

/// Reads `file` `part` bytes of whole lines at a time, following the links on from
/// `chain`, and hands what `parse` keeps of each linked line to `each` with the line's
/// digest.
///
/// Pipelined: a part's lines are parsed and hashed (on the thread pool) while the
/// part before is followed and handed on (on this thread, where `each` runs), so the
/// serial half of the work overlaps the parallel half. Memory is two parts.
fn fold_parts<E: Send, F>(
    file: &mut dyn Read,
    part: usize,
    tail: Tail,
    chain: &mut Chain,
    parse: &F,
    each: &mut dyn FnMut(E, &blake3::Hash),
) -> std::io::Result<()>
where
    F: Fn(&[u8]) -> Result<(u64, Prev, Option<E>), serde_json::Error> + Sync,
{
    let mut pending: Option<Parsed<E>> = None;
    let mut spare: Vec<Row<E>> = Vec::new();
    read_windows(file, part, &mut |window, end| {
        let (window, last) = match (end, tail) {
            (false, _) => (window, false),
            (true, Tail::Torn) => (window, true),
            // A last line without its newline may be being appended: left for next time.
            (true, Tail::Leave) => match memchr::memrchr(b'\n', window) {
                Some(nl) => (&window[..=nl], false),
                None => return false,
            },
        };
        let first = chain.start();
        let rows = std::mem::take(&mut spare);
        let before = pending.take();
        let parsed = if window.len() < PIPELINE_MIN {
            follow_pending(chain, before, &mut spare, each);
            Parsed::of(first, window, last, parse, rows)
        } else {
            std::thread::scope(|s| {
                let next = std::thread::Builder::new()
                    .spawn_scoped(s, || Parsed::of(first, window, last, parse, rows));
                follow_pending(chain, before, &mut spare, each);
                match next {
                    Ok(next) => next
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    // No thread to be had: parse it here, after.
                    Err(_) => Parsed::of(first, window, last, parse, Vec::new()),
                }
            })
        };
        pending = Some(parsed);
        chain.broken.is_none()
    })?;
    follow_pending(chain, pending, &mut spare, each);
    Ok(())
}

/// Parts smaller than this are parsed and followed one after the other: a thread
/// would cost more than it saves.
const PIPELINE_MIN: usize = 256 << 10;

/// Follows a parsed part, if any, keeping its rows' allocation in `spare`.
fn follow_pending<E>(
    chain: &mut Chain,
    parsed: Option<Parsed<E>>,
    spare: &mut Vec<Row<E>>,
    each: &mut dyn FnMut(E, &blake3::Hash),
) {
    if let Some(mut parsed) = parsed {
        chain.follow(&mut parsed, each);
        *spare = parsed.rows;
    }
}

/// Reads `file` to its end in windows of about `part` bytes of whole lines (a line
/// longer than a part is read on until it ends): `each` gets every window, each
/// ending with a newline, with `false`, and last what is left at the end (perhaps
/// nothing, perhaps a line without its newline) with `true`. It returns whether to
/// read on. Memory is one window, whatever the log's length.
pub(super) fn read_windows(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(&[u8], bool) -> bool,
) -> std::io::Result<()> {
    let part = part.max(1);
    let mut buf: Vec<u8> = Vec::with_capacity(part + (part >> 2));
    let mut target = part;
    let mut first = true;
    loop {
        // Fill to `target` bytes, or to the end of the log.
        while buf.len() < target {
            let have = buf.len();
            buf.resize(target, 0);
            match file.read(&mut buf[have..]) {
                Ok(0) => {
                    buf.truncate(have);
                    each(&buf, true);
                    return Ok(());
                }
                Ok(n) => buf.truncate(have + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(have),
                Err(e) => return Err(e),
            }
        }
        match memchr::memrchr(b'\n', &buf) {
            // A log that starts with a bare newline may be nothing else (read as an
            // empty log): read on until more than that is in view.
            Some(0) if first => target = buf.len() + part,
            Some(end) => {
                if !each(&buf[..=end], false) {
                    return Ok(());
                }
                buf.drain(..=end);
                target = part;
                first = false;
            }
            // One line longer than a part: read on until it ends.
            None => target = buf.len() + part,
        }
    }
}
