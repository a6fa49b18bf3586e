//! Reading the event log a part at a time: the links followed on from part to part
//! ([`super::chain`]'s `Chain`), each linked line's brief handed on, and memory one
//! part whatever the log's length. What `fold_log_brief`, `fold_log_audit` and
//! `fold_log_from` (the parent module) run over the log file.

use std::io::Read;

use super::chain::{audit_line, brief_line, head_hex, parse_brief, Chain, Prev};
use super::{BrokenLink, ChainReport, EventAudit, EventBrief};

/// The log read and checked a part of about this many bytes at a time by
/// [`super::fold_log_brief`].
pub(super) const PART: usize = 8 << 20;

/// [`super::fold_log_brief`] over any reader, `part` bytes at a time.
pub(super) fn fold_brief_parts(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(EventBrief),
) -> std::io::Result<ChainReport> {
    let mut chain = Chain::default();
    fold_parts(
        file,
        part,
        Tail::Torn,
        &mut chain,
        &brief_line,
        &mut |e, _| each(e),
    )?;
    Ok(chain.report())
}

/// [`super::fold_log_audit`] over any reader, `part` bytes at a time.
pub(super) fn fold_audit_parts(
    file: &mut dyn Read,
    part: usize,
    each: &mut dyn FnMut(EventAudit, &blake3::Hash),
) -> std::io::Result<ChainReport> {
    let mut chain = Chain::default();
    fold_parts(file, part, Tail::Torn, &mut chain, &audit_line, each)?;
    Ok(chain.report())
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
    let part = part.max(1);
    let mut buf: Vec<u8> = Vec::with_capacity(part + (part >> 2));
    let mut target = part;
    loop {
        // Fill to `target` bytes, or to the end of the log.
        let mut eof = false;
        while buf.len() < target {
            let have = buf.len();
            buf.resize(target, 0);
            match file.read(&mut buf[have..]) {
                Ok(0) => {
                    buf.truncate(have);
                    eof = true;
                    break;
                }
                Ok(n) => buf.truncate(have + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(have),
                Err(e) => return Err(e),
            }
        }
        if eof {
            match tail {
                Tail::Torn => chain.feed(&buf, true, parse, each),
                Tail::Leave => {
                    if let Some(end) = memchr::memrchr(b'\n', &buf) {
                        chain.feed(&buf[..=end], false, parse, each);
                    }
                }
            }
            break;
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(end) => {
                chain.feed(&buf[..=end], false, parse, each);
                buf.drain(..=end);
                target = part;
            }
            // One line longer than a part: read on until it ends.
            None => target = buf.len() + part,
        }
        if chain.broken.is_some() {
            break;
        }
    }
    Ok(())
}
