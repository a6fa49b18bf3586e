//! Checking the event log's chain: each line parses, its `seq` follows the last and its
//! `prev` is the digest of the line before. Pure: works on the log's bytes, hashing and
//! parsing lines in parallel, then following the links in order.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::{Event, GENESIS};

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// 1-based line number.
    pub line: usize,
    pub detail: String,
}

/// The result of checking a whole log.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub lines: usize,
    /// Digest of the last line: commits to the whole log.
    pub head: String,
    pub broken: Option<BrokenLink>,
    #[serde(skip)]
    pub events: Vec<Event>,
}

/// Checks every link of a log's bytes: each line parses, its `seq` follows the last,
/// and its `prev` is the digest of the line before. Returns every event up to the first
/// broken link.
///
/// Each line is parsed and hashed on its own, in parallel (the costly part); the links
/// are then followed in order. See [`verify_links`] for the check alone.
pub fn verify_chain(bytes: &[u8]) -> ChainReport {
    let (mut report, events) = follow(bytes, |line| {
        serde_json::from_slice::<Event>(line).map(|ev| (ev.seq, Prev::of(&ev.prev), Some(ev)))
    });
    report.events = events;
    report
}

/// An event without its detail and data: what schedules and identifier choices read
/// (a tenth of the memory of [`Event`] for the log of a large archive).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventBrief {
    pub seq: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: String,
    pub outcome: String,
    pub object: String,
    /// Whether the event's data names a replica (`fixity --replica`, `replicate`): such
    /// an event is about a copy, not the archive's own bag.
    #[serde(skip)]
    pub replica: bool,
    /// The replica's name, when the data's `replica` is a string.
    #[serde(skip)]
    pub replica_name: Option<String>,
}

/// What the readers of briefs take from an event's `data`: whether it is an object with
/// a `replica` key and, when `TAGS`, its `tag_manifests` value. Anything else is skipped
/// (read for its syntax, not kept).
#[derive(Default)]
struct DataMark<const TAGS: bool> {
    replica: bool,
    replica_name: Option<String>,
    tag_manifests: Option<serde_json::Value>,
    register_files: Option<serde_json::Value>,
}

impl<'de, const TAGS: bool> Deserialize<'de> for DataMark<TAGS> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<const TAGS: bool>;
        impl<'de, const TAGS: bool> serde::de::Visitor<'de> for Visit<TAGS> {
            type Value = DataMark<TAGS>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<DataMark<TAGS>, A::Error> {
                let mut out = DataMark::default();
                while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    if k == "replica" {
                        // A repeated key: the last one counts, as in a parsed `Value`.
                        out.replica = true;
                        out.replica_name = match m.next_value::<serde_json::Value>()? {
                            serde_json::Value::String(name) => Some(name),
                            _ => None,
                        };
                    } else if TAGS && k == "tag_manifests" {
                        // A repeated key: the last one counts, as in a parsed `Value`.
                        out.tag_manifests = Some(m.next_value::<serde_json::Value>()?);
                    } else if TAGS && k == "register_files" {
                        out.register_files = Some(m.next_value::<serde_json::Value>()?);
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<DataMark<TAGS>, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(DataMark::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<DataMark<TAGS>, E> {
                Ok(DataMark::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<DataMark<TAGS>, E> {
                Ok(DataMark::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<DataMark<TAGS>, E> {
                Ok(DataMark::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<DataMark<TAGS>, E> {
                Ok(DataMark::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<DataMark<TAGS>, E> {
                Ok(DataMark::default())
            }
            fn visit_unit<E>(self) -> Result<DataMark<TAGS>, E> {
                Ok(DataMark::default())
            }
        }
        d.deserialize_any(Visit::<TAGS>)
    }
}

/// [`verify_chain`], keeping each event's [`EventBrief`] (the report's `events` is
/// empty): the same check, every line parsed, without keeping details and data.
pub fn verify_chain_brief(bytes: &[u8]) -> (ChainReport, Vec<EventBrief>) {
    follow(bytes, brief_line)
}

/// An event's brief with the parts of its data an audit compares: the tag-manifest
/// digests an ingestion or a modification recorded (`data.tag_manifests`), and the
/// digests of the register files it wrote (`data.register_files`).
#[derive(Debug, Clone)]
pub struct EventAudit {
    pub brief: EventBrief,
    pub tag_manifests: Option<serde_json::Value>,
    pub register_files: Option<serde_json::Value>,
}

/// One line's brief and its link; the data object is skipped, not kept.
fn brief_line(line: &[u8]) -> Result<(u64, Prev, Option<EventBrief>), serde_json::Error> {
    parse_brief::<false>(line).map(|(prev, brief, _)| (brief.seq, prev, Some(brief)))
}

/// One line's brief, its link and its recorded tag-manifest digests.
fn audit_line(line: &[u8]) -> Result<(u64, Prev, Option<EventAudit>), serde_json::Error> {
    parse_brief::<true>(line).map(|(prev, brief, data)| {
        (
            brief.seq,
            prev,
            Some(EventAudit {
                brief,
                tag_manifests: data.tag_manifests,
                register_files: data.register_files,
            }),
        )
    })
}

/// A line's `prev`, brief and what was read of its data (with `TAGS`:
/// `data.tag_manifests` and `data.register_files`).
fn parse_brief<const TAGS: bool>(
    line: &[u8],
) -> Result<(Prev, EventBrief, DataMark<TAGS>), serde_json::Error> {
    #[derive(Deserialize)]
    struct Line<'a, const TAGS: bool> {
        seq: u64,
        #[serde(rename = "type")]
        event_type: String,
        time: String,
        outcome: String,
        object: String,
        #[serde(default)]
        data: DataMark<TAGS>,
        #[serde(borrow)]
        prev: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Line<TAGS>>(line).map(|l| {
        let prev = Prev::of(&l.prev);
        let mut data = l.data;
        let brief = EventBrief {
            seq: l.seq,
            event_type: l.event_type,
            time: l.time,
            outcome: l.outcome,
            object: l.object,
            replica: data.replica,
            replica_name: data.replica_name.take(),
        };
        (prev, brief, data)
    })
}

/// The chain check alone, without keeping the events: each line need only carry its
/// `seq` and `prev` (the digest chain covers every other byte of it), though the whole
/// line must still be one JSON object. What every command that appends runs first;
/// `events` is empty. Same verdict, line count and head as the serial check it replaced
/// (a property test says so).
///
/// The log is cut into blocks of whole lines; each block is scanned and hashed on its
/// own thread, checking the links inside it, and keeps only its first line's `seq` and
/// `prev`, its last line's digest and its first break. The blocks are then joined in
/// order. Memory is a few words per block, whatever the log's length.
/// benches/chain.rs measures it on a 1,000,000-line log.
pub fn verify_links(bytes: &[u8]) -> ChainReport {
    links_in_blocks(bytes, BLOCK_BYTES)
}

fn links_in_blocks(bytes: &[u8], block_bytes: usize) -> ChainReport {
    use rayon::prelude::*;
    // A log of one bare newline reads as empty, as [`verify_chain`] reads it.
    let bytes = if bytes == b"\n" { &bytes[..0] } else { bytes };
    let torn = !bytes.is_empty() && !bytes.ends_with(b"\n");
    // The complete lines (each ends with a newline); a torn last line is only counted.
    let complete = match memchr::memrchr(b'\n', bytes) {
        Some(last) => &bytes[..=last],
        None => &bytes[..0],
    };
    let blocks: Vec<&[u8]> = cut_blocks(complete, block_bytes);
    let checked: Vec<Block> = blocks.par_iter().map(|b| Block::check(b)).collect();
    let mut lines = 0usize;
    let mut prev: Option<[u8; 32]> = None;
    let mut broken = None;
    for block in checked {
        let before = lines;
        if let Some(first) = &block.first {
            let want = prev.unwrap_or([0u8; 32]);
            if let Some(detail) = link_fault(first, &want, before as u64 + 1) {
                lines = before + 1;
                broken = Some(BrokenLink {
                    line: lines,
                    detail,
                });
                break;
            }
        }
        if let Some((at, detail)) = block.broken {
            // The head is the last line that links: the one before the break.
            prev = Some(block.last);
            lines = before + at;
            broken = Some(BrokenLink {
                line: lines,
                detail,
            });
            break;
        }
        lines = before + block.lines;
        if block.lines > 0 {
            prev = Some(block.last);
        }
    }
    if broken.is_none() && torn {
        lines += 1;
        broken = Some(BrokenLink {
            line: lines,
            detail: "the last line has no newline: an interrupted write or a truncated log".into(),
        });
    }
    ChainReport {
        lines,
        head: prev.map_or_else(
            || GENESIS.to_string(),
            |h| blake3::Hash::from_bytes(h).to_hex().to_string(),
        ),
        broken,
        events: Vec::new(),
    }
}

/// Bytes per block of [`verify_links`]: about 2,500 lines of Cairn's events, enough to
/// outweigh scheduling, small enough to spread over the threads.
const BLOCK_BYTES: usize = 1 << 20;

/// Cuts `bytes` (whole lines, each ending in a newline) into blocks of about `size`
/// bytes, each ending at a line end.
fn cut_blocks(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(bytes.len() / size + 1);
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = if rest.len() <= size {
            rest.len()
        } else {
            match memchr::memchr(b'\n', &rest[size - 1..]) {
                Some(nl) => size + nl,
                None => rest.len(),
            }
        };
        let (block, tail) = rest.split_at(end);
        out.push(block);
        rest = tail;
    }
    out
}

/// A line's `seq` and `prev` as read, or why it is not an event.
type LinkFields = Result<(u64, Prev), String>;

/// The two fields a link needs, read by serde_json, which checks the rest of the line's
/// syntax as it skips it without keeping it. (A hand-written scanner for the same job
/// measured twice as slow as serde_json's skipping, in `cargo bench --bench chain`.)
fn parse_link(line: &[u8]) -> LinkFields {
    #[derive(Deserialize)]
    struct Link<'a> {
        seq: u64,
        #[serde(borrow)]
        prev: std::borrow::Cow<'a, str>,
    }
    // A struct also deserialises from a JSON array; an event is an object.
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("a line of the log must be one JSON object".into());
    }
    serde_json::from_slice::<Link>(line)
        .map(|l| (l.seq, Prev::of(&l.prev)))
        .map_err(|e| e.to_string())
}

/// Whether a line's link is wrong, given the digest of the line before and the `seq`
/// it must have: the same checks, in the same order and words, as [`verify_chain`].
fn link_fault(link: &LinkFields, want: &[u8; 32], seq_wanted: u64) -> Option<String> {
    match link {
        Err(e) => Some(format!("not a valid event: {e}")),
        Ok((seq, prev_field)) => {
            if !matches!(prev_field, Prev::Digest(d) if d == want) {
                Some(format!(
                    "prev is {} but the line before hashes to {}: a line before it was edited, deleted, inserted or reordered",
                    prev_field.to_text(),
                    blake3::Hash::from_bytes(*want).to_hex()
                ))
            } else if *seq != seq_wanted {
                Some(format!("seq is {seq} where {seq_wanted} was expected"))
            } else {
                None
            }
        }
    }
}

/// One block of lines, checked on its own: the links inside it, and what the join
/// needs to check the link into it.
struct Block {
    /// The first line's fields (checked by the join against the block before).
    first: Option<LinkFields>,
    /// Lines in the block up to and including the first break inside it.
    lines: usize,
    /// The digest of the block's last line (with a break: of the line before it).
    last: [u8; 32],
    /// The first break after the first line: (1-based line within the block, detail).
    broken: Option<(usize, String)>,
}

impl Block {
    fn check(bytes: &[u8]) -> Block {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let mut block = Block {
            first: None,
            lines: 0,
            last: [0u8; 32],
            broken: None,
        };
        let mut seq_before = 0u64;
        // memchr finds each line end many bytes at a time.
        let mut start = 0usize;
        let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
        for end in ends {
            let line = &body[start..end];
            start = end + 1;
            let link: LinkFields = parse_link(line);
            block.lines += 1;
            if block.lines == 1 {
                seq_before = link.as_ref().map_or(0, |(s, _)| *s);
                block.first = Some(link);
            } else {
                let wanted = seq_before.wrapping_add(1);
                if let Some(detail) = link_fault(&link, &block.last, wanted) {
                    block.broken = Some((block.lines, detail));
                    return block;
                }
                seq_before = wanted;
            }
            block.last = *blake3::hash(line).as_bytes();
        }
        block
    }
}

/// A line's `prev` as read: its 32 bytes when it is lowercase hex of the right length
/// (what Cairn writes), else the text as it stands, which no digest equals. Decoded in
/// the parallel pass, so that following the links compares bytes and allocates nothing.
enum Prev {
    Digest([u8; 32]),
    Text(String),
}

impl Prev {
    fn of(text: &str) -> Prev {
        fn nibble(b: u8) -> Option<u8> {
            match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            }
        }
        let bytes = text.as_bytes();
        let mut out = [0u8; 32];
        if bytes.len() == 64 {
            let decoded = bytes.chunks_exact(2).zip(out.iter_mut()).all(|(pair, o)| {
                match (nibble(pair[0]), nibble(pair[1])) {
                    (Some(h), Some(l)) => {
                        *o = (h << 4) | l;
                        true
                    }
                    _ => false,
                }
            });
            if decoded {
                return Prev::Digest(out);
            }
        }
        Prev::Text(text.to_string())
    }

    fn to_text(&self) -> String {
        match self {
            Prev::Digest(d) => blake3::Hash::from_bytes(*d).to_hex().to_string(),
            Prev::Text(t) => t.clone(),
        }
    }
}

/// Lines per parallel task: enough to outweigh the scheduling, small enough to spread.
const LINES_PER_TASK: usize = 4096;

/// Parses (with `parse`) and hashes every line in parallel, then follows the links.
/// Returns the report (its `events` empty) and what `parse` kept of each line.
fn follow<E: Send, F>(bytes: &[u8], parse: F) -> (ChainReport, Vec<E>)
where
    F: Fn(&[u8]) -> Result<(u64, Prev, Option<E>), serde_json::Error> + Sync,
{
    let mut events = Vec::new();
    let mut chain = Chain::default();
    chain.feed(bytes, true, &parse, &mut |e, _| events.push(e));
    (chain.report(), events)
}

/// The links followed so far, for a log read a part at a time ([`fold_log_brief`]) or
/// whole ([`follow`]): the same verdict either way.
#[derive(Default)]
struct Chain {
    /// Digest of the last line followed.
    prev: Option<blake3::Hash>,
    /// Lines followed.
    count: usize,
    broken: Option<BrokenLink>,
    /// Whether a part has been fed (a log of one bare newline reads as empty).
    started: bool,
}

impl Chain {
    /// Follows the lines of `part`: whole lines each ending in a newline, except in
    /// the log's last part (`last`), whose final line may lack it (a torn write).
    /// `sink` gets what `parse` kept of each line that links, with the line's digest.
    fn feed<E: Send, F>(
        &mut self,
        part: &[u8],
        last: bool,
        parse: &F,
        sink: &mut dyn FnMut(E, &blake3::Hash),
    ) where
        F: Fn(&[u8]) -> Result<(u64, Prev, Option<E>), serde_json::Error> + Sync,
    {
        use rayon::prelude::*;
        let first = !self.started;
        self.started = true;
        if self.broken.is_some() || part.is_empty() {
            return;
        }
        let body = part.strip_suffix(b"\n").unwrap_or(part);
        let lines: Vec<&[u8]> = if body.is_empty() && first && last {
            Vec::new()
        } else {
            // memchr finds the line ends many bytes at a time: this split is the serial part.
            let mut lines = Vec::with_capacity(body.len() / 256 + 1);
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', body) {
                lines.push(&body[start..end]);
                start = end + 1;
            }
            lines.push(&body[start..]);
            lines
        };
        let mut torn = None;
        if last && !part.ends_with(b"\n") {
            torn = Some(BrokenLink {
                line: self.count + lines.len(),
                detail: "the last line has no newline: an interrupted write or a truncated log"
                    .into(),
            });
        }
        type Parsed<E> = (Result<(u64, Prev, Option<E>), String>, blake3::Hash);
        let parsed: Vec<Parsed<E>> = lines
            .par_iter()
            .with_min_len(LINES_PER_TASK)
            .map(|line| (parse(line).map_err(|e| e.to_string()), blake3::hash(line)))
            .collect();
        for (link, digest) in parsed {
            let i = self.count;
            if torn.as_ref().is_some_and(|b: &BrokenLink| b.line <= i + 1) {
                break;
            }
            self.count = i + 1;
            let fail = |detail: String| {
                Some(BrokenLink {
                    line: i + 1,
                    detail,
                })
            };
            // GENESIS, 64 zeros, is the all-zero digest.
            let want: [u8; 32] = self.prev.map_or([0u8; 32], |h| *h.as_bytes());
            match link {
                Err(e) => {
                    self.broken = fail(format!("not a valid event: {e}"));
                    return;
                }
                Ok((seq, prev_field, event)) => {
                    if !matches!(prev_field, Prev::Digest(d) if d == want) {
                        self.broken = fail(format!(
                            "prev is {} but the line before hashes to {}: a line before it was edited, deleted, inserted or reordered",
                            prev_field.to_text(),
                            blake3::Hash::from_bytes(want).to_hex()
                        ));
                        return;
                    }
                    if seq != i as u64 + 1 {
                        self.broken = fail(format!("seq is {seq} where {} was expected", i + 1));
                        return;
                    }
                    if let Some(e) = event {
                        sink(e, &digest);
                    }
                    self.prev = Some(digest);
                }
            }
        }
        if torn.is_some() {
            self.count = self.count.max(torn.as_ref().map_or(0, |b| b.line));
            self.broken = torn;
        }
    }

    fn report(self) -> ChainReport {
        ChainReport {
            lines: self.count,
            head: head_hex(self.prev),
            broken: self.broken,
            events: Vec::new(),
        }
    }
}

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
    /// The head as the log's readers print it ([`GENESIS`] before the first line).
    pub fn head_hex(&self) -> String {
        head_hex(self.head)
    }
}

/// A head digest as the log's readers print it: hex, or [`GENESIS`] for no line.
fn head_hex(head: Option<blake3::Hash>) -> String {
    head.map_or_else(|| GENESIS.to_string(), |h| h.to_hex().to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::events::line_digest;

    fn line(seq: u64, prev: &str) -> String {
        format!(
            r#"{{"seq":{seq},"id":"e{seq}","type":"ingestion","time":"t","outcome":"success","detail":"","object":"x","agent":"a","prev":"{prev}"}}"#
        )
    }

    fn chain(n: u64) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        let mut out = Vec::new();
        for seq in 1..=n {
            let l = line(seq, &prev);
            prev = line_digest(l.as_bytes());
            out.push(l);
        }
        out
    }

    fn join(lines: &[String]) -> Vec<u8> {
        let mut s = lines.join("\n");
        s.push('\n');
        s.into_bytes()
    }

    #[test]
    fn intact_chain_and_head() {
        let lines = chain(5);
        let r = verify_chain(&join(&lines));
        assert_eq!(r.broken, None);
        assert_eq!(r.lines, 5);
        assert_eq!(r.head, line_digest(lines[4].as_bytes()));
    }

    #[test]
    fn every_kind_of_tampering_names_the_first_broken_line() {
        let lines = chain(6);
        let mut edited = lines.clone();
        edited[2] = edited[2].replace("success", "failure");
        assert_eq!(verify_chain(&join(&edited)).broken.unwrap().line, 4);
        let mut deleted = lines.clone();
        deleted.remove(2);
        assert_eq!(verify_chain(&join(&deleted)).broken.unwrap().line, 3);
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        assert_eq!(verify_chain(&join(&swapped)).broken.unwrap().line, 2);
        let mut inserted = lines.clone();
        inserted.insert(3, lines[3].clone());
        assert_eq!(verify_chain(&join(&inserted)).broken.unwrap().line, 5);
        let truncated = &join(&lines)[..join(&lines).len() - 10];
        assert!(verify_chain(truncated).broken.is_some());
        // Editing the last line shows only against a recorded head.
        let mut last = lines.clone();
        last[5] = last[5].replace("success", "failure");
        let r = verify_chain(&join(&last));
        assert_eq!(r.broken, None);
        assert_ne!(r.head, line_digest(lines[5].as_bytes()));
    }

    /// The oracle: the links checked line after line with serde_json reading `seq` and
    /// `prev` (what `verify_links` did before it was cut into blocks).
    fn serial_links(bytes: &[u8]) -> ChainReport {
        #[derive(Deserialize)]
        struct Link {
            seq: u64,
            prev: String,
        }
        follow::<(), _>(bytes, |line| {
            serde_json::from_slice::<std::collections::HashMap<String, serde::de::IgnoredAny>>(
                line,
            )?;
            serde_json::from_slice::<Link>(line).map(|l| (l.seq, Prev::of(&l.prev), None))
        })
        .0
    }

    /// The log read a part at a time gives the same report and briefs as read whole,
    /// on every tampering and whatever the part size (1 byte up to the whole log).
    #[test]
    fn briefs_folded_in_parts_agree_with_the_whole_log() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(400));
        let strategy = (
            0u64..30,
            0usize..5,
            any::<prop::sample::Index>(),
            any::<u8>(),
            1usize..3000,
        );
        runner
            .run(&strategy, |(n, how, at, byte, part)| {
                let mut lines = chain(n);
                if !lines.is_empty() {
                    let i = at.index(lines.len());
                    match how {
                        0 => {}
                        1 => lines[i] = lines[i].replace("success", "failure"),
                        2 => {
                            lines.remove(i);
                        }
                        3 => lines.insert(i, String::new()),
                        _ => lines[i].push_str(" x"),
                    }
                }
                let mut bytes = join(&lines);
                if byte % 4 == 0 && !bytes.is_empty() {
                    let cut = (byte as usize * 13) % bytes.len();
                    bytes.truncate(cut);
                }
                if byte == 1 {
                    bytes = b"\n".to_vec();
                }
                let (whole, briefs) = verify_chain_brief(&bytes);
                let mut folded = Vec::new();
                let parts =
                    fold_brief_parts(&mut &bytes[..], part, &mut |b| folded.push(b)).unwrap();
                prop_assert_eq!(parts.lines, whole.lines);
                prop_assert_eq!(&parts.head, &whole.head);
                prop_assert_eq!(
                    parts.broken.as_ref().map(|b| (b.line, b.detail.clone())),
                    whole.broken.as_ref().map(|b| (b.line, b.detail.clone()))
                );
                prop_assert_eq!(
                    folded.iter().map(|b| b.seq).collect::<Vec<_>>(),
                    briefs.iter().map(|b| b.seq).collect::<Vec<_>>()
                );
                Ok(())
            })
            .unwrap();
    }

    /// An audit's fold keeps what the full parse reads of each line: the brief, the
    /// recorded tag-manifest digests (whatever else `data` holds, or whatever it is),
    /// and the line's digest; it stops at the same broken line.
    #[test]
    fn audit_fold_keeps_what_the_full_parse_reads() {
        let datas = [
            r#"{"tag_manifests":{"tagmanifest-blake3.txt":{"blake3":"ab"}},"files":[1,2]}"#,
            r#"{"replica":"s3","tag_manifests":null}"#,
            r#"{"replica":"s3","replica":{"name":"nas"}}"#,
            r#"[{"tag_manifests":1}]"#,
            r#""text""#,
            r#"{"tag_manifests":{"a":1},"tag_manifests":{"b":2}}"#,
            r#"{"nested":{"tag_manifests":{"c":3}}}"#,
        ];
        let mut prev = GENESIS.to_string();
        let mut lines = Vec::new();
        for (i, data) in datas.iter().enumerate() {
            let seq = i as u64 + 1;
            let l = format!(
                r#"{{"seq":{seq},"id":"e{seq}","type":"ingestion","time":"t","outcome":"success","detail":"","object":"x{seq}","agent":"a","data":{data},"prev":"{prev}"}}"#
            );
            prev = line_digest(l.as_bytes());
            lines.push(l);
        }
        for cut in [lines.len(), 3] {
            let mut bytes = join(&lines[..cut]);
            if cut == 3 {
                // A fourth line whose prev is wrong: the fold stops before it.
                bytes.extend_from_slice(lines[4].as_bytes());
                bytes.push(b'\n');
            }
            let whole = verify_chain(&bytes);
            let mut folded = Vec::new();
            let report = fold_audit_parts(&mut &bytes[..], 50, &mut |e, d| {
                folded.push((e, d.to_hex().to_string()))
            })
            .unwrap();
            assert_eq!(report.lines, whole.lines);
            assert_eq!(report.head, whole.head);
            assert_eq!(report.broken, whole.broken);
            assert_eq!(folded.len(), whole.events.len());
            for (k, ((audit, digest), event)) in folded.iter().zip(&whole.events).enumerate() {
                assert_eq!(audit.brief.seq, event.seq);
                assert_eq!(audit.brief.object, event.object);
                assert_eq!(audit.brief.replica, event.data.get("replica").is_some());
                assert_eq!(
                    audit.brief.replica_name.as_deref(),
                    event.data.get("replica").and_then(|r| r.as_str())
                );
                assert_eq!(
                    audit.tag_manifests.as_ref(),
                    event.data.get("tag_manifests")
                );
                assert_eq!(digest, &line_digest(lines[k].as_bytes()));
            }
        }
    }

    /// The block-parallel link check agrees with the serial one on every tampering,
    /// whatever the block size (1 byte: a block per line; in between: breaks inside
    /// blocks and at their edges).
    #[test]
    fn links_agree_with_the_full_check() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(600));
        let strategy = (
            1u64..40,
            0usize..6,
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            any::<u8>(),
            1usize..2000,
        );
        runner
            .run(&strategy, |(n, how, at, at2, byte, block)| {
                let mut lines = chain(n);
                let i = at.index(lines.len());
                let j = at2.index(lines.len());
                match how {
                    0 => {}
                    1 => {
                        let mut b = lines[i].clone().into_bytes();
                        let k = j % b.len();
                        b[k] = byte;
                        lines[i] = String::from_utf8_lossy(&b).into_owned();
                    }
                    2 => {
                        lines.remove(i);
                    }
                    3 => lines.swap(i, j),
                    4 => lines.insert(i, lines[j].clone()),
                    _ => lines[i] = lines[i].replace("\"seq\"", "\"seq\":1,\"seq\""),
                }
                let mut bytes = join(&lines);
                if byte % 5 == 0 {
                    let cut = (byte as usize * 7) % bytes.len();
                    bytes.truncate(cut);
                }
                let full = serial_links(&bytes);
                let links = links_in_blocks(&bytes, block);
                prop_assert_eq!(links.lines, full.lines);
                prop_assert_eq!(&links.head, &full.head);
                prop_assert_eq!(
                    links.broken.as_ref().map(|b| b.line),
                    full.broken.as_ref().map(|b| b.line)
                );
                Ok(())
            })
            .unwrap();
    }

    /// A chained log of `n` lines, as Cairn writes it.
    fn log(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = GENESIS.to_string();
        for seq in 1..=n {
            let line = serde_json::json!({
                "seq": seq, "id": format!("e{seq}"), "type": "fixity check",
                "time": "2026-12-02T10:00:00.000Z", "outcome": "success",
                "detail": "x".repeat(seq as usize % 7), "object": format!("cairn-{:06}", seq % 3),
                "agent": "test", "data": {"replica": "nas"}, "prev": prev,
            })
            .to_string();
            prev = blake3::hash(line.as_bytes()).to_hex().to_string();
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }

    fn read_from(
        bytes: &[u8],
        part: usize,
        cursor: &mut LogCursor,
    ) -> (Vec<(u64, u64)>, Option<BrokenLink>) {
        let mut seen = Vec::new();
        let mut reader = &bytes[cursor.offset as usize..];
        let broken = fold_brief_from(&mut reader, part, cursor, &mut |l| {
            assert!(l.brief.replica);
            seen.push((l.brief.seq, l.offset));
        })
        .expect("read");
        (seen, broken)
    }

    #[test]
    fn reading_on_from_a_cursor_agrees_with_one_read() {
        let whole = log(40);
        let report = verify_chain(&whole);
        // Each line's offset, as the bytes say.
        let starts: Vec<u64> = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', &whole).map(|p| p as u64 + 1))
            .take(40)
            .collect();
        for part in [1, 50, 300, 1 << 20] {
            // In three reads of a growing log, the last ending inside a line.
            let mut cursor = LogCursor::default();
            let mut seen = Vec::new();
            for cut in [starts[10] as usize, starts[25] as usize + 7, whole.len()] {
                let (s, broken) = read_from(&whole[..cut], part, &mut cursor);
                assert_eq!(broken, None);
                seen.extend(s);
            }
            let want: Vec<(u64, u64)> = (1..=40).zip(starts.iter().copied()).collect();
            assert_eq!(seen, want, "part {part}");
            assert_eq!(cursor.lines, 40);
            assert_eq!(cursor.offset, whole.len() as u64);
            assert_eq!(cursor.head_hex(), report.head);
        }
    }

    #[test]
    fn a_line_being_written_is_left_and_a_break_is_found() {
        let whole = log(5);
        let mut cursor = LogCursor::default();
        // The last line without its newline: not read, not a break.
        let (seen, broken) = read_from(&whole[..whole.len() - 1], 64, &mut cursor);
        assert_eq!((seen.len(), broken), (4, None));
        // The rest of it, once written, is read on from there.
        let (seen, broken) = read_from(&whole, 64, &mut cursor);
        assert_eq!((seen.len(), broken), (1, None));
        assert_eq!(cursor.lines, 5);
        // A line whose prev is wrong is a break at that line.
        let mut tail = whole.clone();
        tail.extend_from_slice(log(1).as_slice());
        let mut cursor = LogCursor::default();
        let (seen, broken) = read_from(&tail, 64, &mut cursor);
        assert_eq!(seen.len(), 5);
        assert_eq!(broken.map(|b| b.line), Some(6));
        assert_eq!(cursor.lines, 5);
        assert_eq!(cursor.offset, whole.len() as u64);
    }
}
