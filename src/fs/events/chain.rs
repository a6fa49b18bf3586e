//! Checking the event log's chain: each line parses, its `seq` follows the last and its
//! `prev` is the digest of the line before. Pure: works on the log's bytes, hashing and
//! parsing lines in parallel, then following the links in order.

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
    let (mut report, events) = follow(bytes, event_line);
    report.events = events;
    report
}

/// One line's event, whole, and its link.
pub(super) fn event_line(line: &[u8]) -> Result<(u64, Prev, Option<Event>), serde_json::Error> {
    serde_json::from_slice::<Event>(line).map(|ev| (ev.seq, Prev::of(&ev.prev), Some(ev)))
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
/// a `replica` key and, when `TAGS`, its `tag_manifests` value; when `NOTES`, the string
/// values of its `register_blake3` and `change`. Anything else is skipped (read for its
/// syntax, not kept).
#[derive(Default)]
pub(super) struct DataMark<const TAGS: bool, const NOTES: bool = false> {
    replica: bool,
    replica_name: Option<String>,
    tag_manifests: Option<serde_json::Value>,
    register_files: Option<serde_json::Value>,
    register_blake3: Option<String>,
    change: Option<String>,
}

impl<const TAGS: bool, const NOTES: bool> DataMark<TAGS, NOTES> {
    /// The brief of an event with these fields and this data (its replica's name moved
    /// out of the data).
    fn brief(
        &mut self,
        seq: u64,
        event_type: String,
        time: String,
        outcome: String,
        object: String,
    ) -> EventBrief {
        EventBrief {
            seq,
            event_type,
            time,
            outcome,
            object,
            replica: self.replica,
            replica_name: self.replica_name.take(),
        }
    }
}

impl<'de, const TAGS: bool, const NOTES: bool> Deserialize<'de> for DataMark<TAGS, NOTES> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<const TAGS: bool, const NOTES: bool>;
        impl<'de, const TAGS: bool, const NOTES: bool> serde::de::Visitor<'de> for Visit<TAGS, NOTES> {
            type Value = DataMark<TAGS, NOTES>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<DataMark<TAGS, NOTES>, A::Error> {
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
                    } else if NOTES && (k == "register_blake3" || k == "change") {
                        // As `Value::as_str` reads it: a string, or nothing; the last
                        // of a repeated key counts.
                        let v = match m.next_value::<serde_json::Value>()? {
                            serde_json::Value::String(s) => Some(s),
                            _ => None,
                        };
                        match &*k {
                            "change" => out.change = v,
                            _ => out.register_blake3 = v,
                        }
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<DataMark<TAGS, NOTES>, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(DataMark::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<DataMark<TAGS, NOTES>, E> {
                Ok(DataMark::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<DataMark<TAGS, NOTES>, E> {
                Ok(DataMark::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<DataMark<TAGS, NOTES>, E> {
                Ok(DataMark::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<DataMark<TAGS, NOTES>, E> {
                Ok(DataMark::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<DataMark<TAGS, NOTES>, E> {
                Ok(DataMark::default())
            }
            fn visit_unit<E>(self) -> Result<DataMark<TAGS, NOTES>, E> {
                Ok(DataMark::default())
            }
        }
        d.deserialize_any(Visit::<TAGS, NOTES>)
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
pub(super) fn brief_line(
    line: &[u8],
) -> Result<(u64, Prev, Option<EventBrief>), serde_json::Error> {
    parse_brief::<false>(line).map(|(prev, brief, _)| (brief.seq, prev, Some(brief)))
}

/// One line's brief, its link and its recorded tag-manifest digests.
pub(super) fn audit_line(
    line: &[u8],
) -> Result<(u64, Prev, Option<EventAudit>), serde_json::Error> {
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
pub(super) fn parse_brief<const TAGS: bool>(
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
        let brief = data.brief(l.seq, l.event_type, l.time, l.outcome, l.object);
        (prev, brief, data)
    })
}

/// An event's brief with the string values of its data's `register_blake3` (a
/// replication's register entry) and `change` (the change an amend, revise or withdraw
/// committed): what `replicate` and commit recovery read of the log.
#[derive(Debug, Clone)]
pub struct EventNotes {
    pub brief: EventBrief,
    pub register_blake3: Option<String>,
    pub change: Option<String>,
}

/// One line's [`EventNotes`] and its link. The line must be an [`Event`] as
/// [`event_line`] parses it (every field present with its type: the same lines link),
/// but only the notes are kept.
pub(super) fn notes_line(
    line: &[u8],
) -> Result<(u64, Prev, Option<EventNotes>), serde_json::Error> {
    use std::borrow::Cow;
    #[derive(Deserialize)]
    #[allow(dead_code)] // id, detail and agent are parsed for their type, as Event's
    struct Line<'a> {
        seq: u64,
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(rename = "type")]
        event_type: String,
        time: String,
        outcome: String,
        #[serde(borrow)]
        detail: Cow<'a, str>,
        object: String,
        #[serde(borrow)]
        agent: Cow<'a, str>,
        #[serde(default)]
        data: DataMark<false, true>,
        #[serde(borrow)]
        prev: Cow<'a, str>,
    }
    serde_json::from_slice::<Line>(line).map(|l| {
        let mut data = l.data;
        let notes = EventNotes {
            brief: data.brief(l.seq, l.event_type, l.time, l.outcome, l.object),
            register_blake3: data.register_blake3,
            change: data.change,
        };
        (notes.brief.seq, Prev::of(&l.prev), Some(notes))
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
    // A log of one bare newline reads as empty, as [`verify_chain`] reads it.
    let bytes = if bytes == b"\n" { &bytes[..0] } else { bytes };
    let mut links = Links::default();
    // The complete lines (each ends with a newline); a torn last line is only counted.
    let complete = match memchr::memrchr(b'\n', bytes) {
        Some(last) => &bytes[..=last],
        None => &bytes[..0],
    };
    links.feed(complete, block_bytes);
    links.finish(complete.len() < bytes.len())
}

/// The chain check alone followed on from window to window of the log: what
/// [`verify_links`] runs over the whole log at once, and `check_log_links` (the parent
/// module) over the log read a window at a time. The same verdict either way.
#[derive(Default)]
pub(super) struct Links {
    /// Lines followed (up to and including a break).
    lines: usize,
    /// The digest of the last line that links.
    prev: Option<[u8; 32]>,
    broken: Option<BrokenLink>,
}

impl Links {
    /// Follows the lines of `complete` (whole lines, each ending with a newline), cut
    /// into blocks of about `block_bytes` checked in parallel, then joined in order.
    pub(super) fn feed(&mut self, complete: &[u8], block_bytes: usize) {
        use rayon::prelude::*;
        if self.broken.is_some() {
            return;
        }
        let blocks: Vec<&[u8]> = cut_blocks(complete, block_bytes);
        let checked: Vec<Block> = blocks.par_iter().map(|b| Block::check(b)).collect();
        for block in checked {
            let before = self.lines;
            if let Some(first) = &block.first {
                let want = self.prev.unwrap_or([0u8; 32]);
                if let Some(detail) = link_fault(first, &want, before as u64 + 1) {
                    self.lines = before + 1;
                    self.broken = Some(BrokenLink {
                        line: self.lines,
                        detail,
                    });
                    return;
                }
            }
            if let Some((at, detail)) = block.broken {
                // The head is the last line that links: the one before the break.
                self.prev = Some(block.last);
                self.lines = before + at;
                self.broken = Some(BrokenLink {
                    line: self.lines,
                    detail,
                });
                return;
            }
            self.lines = before + block.lines;
            if block.lines > 0 {
                self.prev = Some(block.last);
            }
        }
    }

    /// Whether a link is broken (nothing more need be fed).
    pub(super) fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// The report, `torn` when the log's last line has no newline.
    pub(super) fn finish(mut self, torn: bool) -> ChainReport {
        if self.broken.is_none() && torn {
            self.lines += 1;
            self.broken = Some(BrokenLink {
                line: self.lines,
                detail: "the last line has no newline: an interrupted write or a truncated log"
                    .into(),
            });
        }
        ChainReport {
            lines: self.lines,
            head: self.prev.map_or_else(
                || GENESIS.to_string(),
                |h| blake3::Hash::from_bytes(h).to_hex().to_string(),
            ),
            broken: self.broken,
            events: Vec::new(),
        }
    }
}

/// Bytes per block of [`verify_links`]: about 2,500 lines of Cairn's events, enough to
/// outweigh scheduling, small enough to spread over the threads.
pub(super) const BLOCK_BYTES: usize = 1 << 20;

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
pub(super) enum Prev {
    Digest([u8; 32]),
    Text(String),
}

impl Prev {
    fn of(text: &str) -> Prev {
        // Each byte's value as a lowercase hex digit, or 0xff: decoded without a branch
        // per digit (this runs once per line, on every reader of the log).
        const NIBBLE: [u8; 256] = {
            let mut t = [0xffu8; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        };
        let bytes = text.as_bytes();
        if bytes.len() == 64 {
            let mut out = [0u8; 32];
            let mut bad = 0u8;
            for (pair, o) in bytes.chunks_exact(2).zip(out.iter_mut()) {
                let (h, l) = (NIBBLE[pair[0] as usize], NIBBLE[pair[1] as usize]);
                bad |= h | l;
                *o = (h << 4) | (l & 0x0f);
            }
            if bad & 0xf0 == 0 {
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

/// One line parsed (what `parse` kept, or why it is not an event) and its digest.
pub(super) type Row<E> = (Result<(u64, Prev, Option<E>), String>, blake3::Hash);

/// One part's lines parsed and hashed, in parallel: the half of [`Chain::feed`] that
/// needs nothing of the lines before, so that it can run while they are followed.
pub(super) struct Parsed<E> {
    pub(super) rows: Vec<Row<E>>,
    /// The part's last line has no newline (the log's last part only).
    torn: bool,
}

impl<E: Send> Parsed<E> {
    /// Parses (with `parse`) and hashes the lines of `part` (see [`Chain::feed`]) into
    /// `rows` (emptied first: an allocation to reuse). `first`: no part came before.
    pub(super) fn of<F>(
        first: bool,
        part: &[u8],
        last: bool,
        parse: &F,
        mut rows: Vec<Row<E>>,
    ) -> Parsed<E>
    where
        F: Fn(&[u8]) -> Result<(u64, Prev, Option<E>), serde_json::Error> + Sync,
    {
        use rayon::prelude::*;
        rows.clear();
        let body = part.strip_suffix(b"\n").unwrap_or(part);
        // An empty part is no line; a log of one bare newline reads as empty.
        let lines: Vec<&[u8]> = if part.is_empty() || (body.is_empty() && first && last) {
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
        lines
            .par_iter()
            .with_min_len(LINES_PER_TASK)
            .map(|line| (parse(line).map_err(|e| e.to_string()), blake3::hash(line)))
            .collect_into_vec(&mut rows);
        Parsed {
            rows,
            torn: last && !part.is_empty() && !part.ends_with(b"\n"),
        }
    }
}

/// The links followed so far, for a log read a part at a time (`fold_log_brief`) or
/// whole ([`follow`]): the same verdict either way.
#[derive(Default)]
pub(super) struct Chain {
    /// Digest of the last line followed.
    pub(super) prev: Option<blake3::Hash>,
    /// Lines followed.
    pub(super) count: usize,
    pub(super) broken: Option<BrokenLink>,
    /// Whether a part has been fed (a log of one bare newline reads as empty).
    pub(super) started: bool,
}

impl Chain {
    /// Follows the lines of `part`: whole lines each ending in a newline, except in
    /// the log's last part (`last`), whose final line may lack it (a torn write).
    /// `sink` gets what `parse` kept of each line that links, with the line's digest.
    pub(super) fn feed<E: Send, F>(
        &mut self,
        part: &[u8],
        last: bool,
        parse: &F,
        sink: &mut dyn FnMut(E, &blake3::Hash),
    ) where
        F: Fn(&[u8]) -> Result<(u64, Prev, Option<E>), serde_json::Error> + Sync,
    {
        let first = self.start();
        if self.broken.is_some() {
            return;
        }
        let mut parsed = Parsed::of(first, part, last, parse, Vec::new());
        self.follow(&mut parsed, sink);
    }

    /// Marks a part as fed; whether it is the first.
    pub(super) fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.started, true)
    }

    /// Follows the links of a part parsed by [`Parsed::of`] (the serial half of
    /// [`Chain::feed`]), on from the lines followed so far. Leaves `parsed.rows` empty,
    /// its allocation kept for the next part.
    pub(super) fn follow<E>(
        &mut self,
        parsed: &mut Parsed<E>,
        sink: &mut dyn FnMut(E, &blake3::Hash),
    ) {
        if self.broken.is_some() {
            parsed.rows.clear();
            return;
        }
        let torn = parsed.torn.then(|| BrokenLink {
            line: self.count + parsed.rows.len(),
            detail: "the last line has no newline: an interrupted write or a truncated log".into(),
        });
        for (link, digest) in parsed.rows.drain(..) {
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

    pub(super) fn report(self) -> ChainReport {
        ChainReport {
            lines: self.count,
            head: head_hex(self.prev),
            broken: self.broken,
            events: Vec::new(),
        }
    }
}

/// A head digest as the log's readers print it: hex, or [`GENESIS`] for no line.
pub(super) fn head_hex(head: Option<blake3::Hash>) -> String {
    head.map_or_else(|| GENESIS.to_string(), |h| h.to_hex().to_string())
}

#[cfg(test)]
mod tests;
