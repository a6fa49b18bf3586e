//! Cross-reference sections: classic tables, cross-reference streams (FlateDecode with
//! PNG predictors), hybrid files (/XRefStm) and the /Prev chain of incremental updates.
//! Only where each section is is kept; entries are read again when looked up, and
//! checked in chunks as they stream past.

use std::io::{Read, Seek};

use super::lex::{is_ws, Lexer, Obj};
use super::{Pdf, MAX_INFLATED, MAX_STREAM, WINDOW};
use crate::qc::Severity;

/// Sections followed at most (the /Prev chain and hybrid streams).
const MAX_SECTIONS: usize = 10_000;
/// Entries per chunk checked at once.
const CHUNK: usize = 4096;

/// Where an object is, as a cross-reference entry says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Entry {
    Free,
    At(u64, u16),
    InStream(u32, u32),
}

pub(super) enum Section {
    /// A classic table's subsection: its first object, count and the file offset of its
    /// first 20-byte entry.
    Table { first: u32, count: u32, at: u64 },
    /// A cross-reference stream (the offset of its object).
    Stream { at: u64 },
}

/// A decoded cross-reference stream.
pub(super) struct XrefStream {
    pub(super) dict: Obj,
    w: [usize; 3],
    index: Vec<(u32, u32)>,
    data: Vec<u8>,
}

impl XrefStream {
    fn entries(&self) -> impl Iterator<Item = (u32, Entry)> + '_ {
        let row = self.w.iter().sum::<usize>().max(1);
        let nums = self
            .index
            .iter()
            .flat_map(|(f, c)| (*f..f.saturating_add(*c)).take(*c as usize));
        nums.zip(self.data.chunks_exact(row)).map(move |(n, r)| {
            let field = |i: usize, def: u64| {
                let s: usize = self.w[..i].iter().sum();
                if self.w[i] == 0 {
                    def
                } else {
                    r[s..s + self.w[i]]
                        .iter()
                        .fold(0u64, |a, b| (a << 8) | *b as u64)
                }
            };
            let e = match field(0, 1) {
                0 => Entry::Free,
                1 => Entry::At(field(1, 0), field(2, 0) as u16),
                2 => Entry::InStream(field(1, 0) as u32, field(2, 0) as u32),
                _ => Entry::Free,
            };
            (n, e)
        })
    }
}

impl<R: Read + Seek> Pdf<'_, R> {
    /// Follows the chain from `start`; the trailer dictionaries, newest first.
    pub(super) fn read_chain(&mut self, start: u64) -> std::io::Result<Vec<Obj>> {
        let mut trailers = Vec::new();
        let mut todo = vec![start];
        let mut visited: Vec<u64> = Vec::new();
        while let Some(at) = todo.pop() {
            if visited.contains(&at) {
                self.flag(
                    Severity::NotWellFormed,
                    "PDF-PREV-LOOP",
                    at,
                    "the /Prev chain of cross-reference sections loops back on itself",
                );
                break;
            }
            if visited.len() >= MAX_SECTIONS {
                self.flag(Severity::Warning,
                    "PDF-TOO-MANY",
                    at,
                    format!("more than {MAX_SECTIONS} cross-reference sections: the rest were not checked"),
                );
                break;
            }
            visited.push(at);
            let Some(trailer) = self.section(at)? else {
                break;
            };
            if let Some(p) = trailer.get(b"Prev").and_then(Obj::int) {
                todo.push(self.base.saturating_add(p.max(0) as u64));
            }
            // A hybrid file's stream comes after its table, before /Prev.
            if let Some(p) = trailer.get(b"XRefStm").and_then(Obj::int) {
                todo.push(self.base.saturating_add(p.max(0) as u64));
            }
            trailers.push(trailer);
        }
        Ok(trailers)
    }

    /// The section at `at` (a table with its trailer, or a stream); its trailer.
    fn section(&mut self, at: u64) -> std::io::Result<Option<Obj>> {
        let w = self.window(at, 64)?.to_vec();
        let mut lx = Lexer::new(&w);
        lx.ws();
        if w[lx.pos..].starts_with(b"xref") {
            return self.table(at + lx.pos as u64 + 4);
        }
        match self.xref_stream(at)? {
            Some(s) => {
                let dict = s.dict.clone();
                self.sections.push(Section::Stream { at });
                Ok(Some(dict))
            }
            None => Ok(None),
        }
    }

    /// A classic table from just after `xref`; its trailer.
    fn table(&mut self, mut at: u64) -> std::io::Result<Option<Obj>> {
        for _ in 0..MAX_SECTIONS {
            let w = self.window(at, 128)?.to_vec();
            let mut lx = Lexer::new(&w);
            lx.ws();
            if w[lx.pos..].starts_with(b"trailer") {
                let t = at + lx.pos as u64 + 7;
                let w = self.window(t, WINDOW)?.to_vec();
                return match Lexer::new(&w).object() {
                    Some(d @ Obj::Dict(_)) => Ok(Some(d)),
                    _ => {
                        self.flag(
                            Severity::NotWellFormed,
                            "PDF-TRAILER",
                            t,
                            "no trailer dictionary after the cross-reference table",
                        );
                        Ok(None)
                    }
                };
            }
            let (Some(first), Some(count)) = (lx.uint(), lx.uint()) else {
                self.xref_syntax(at + lx.pos as u64);
                return Ok(None);
            };
            // The entries start after the end of the subsection's line.
            while w.get(lx.pos).is_some_and(|c| *c == b' ' || *c == b'\t') {
                lx.pos += 1;
            }
            while w.get(lx.pos).is_some_and(|c| *c == b'\r' || *c == b'\n') {
                lx.pos += 1;
            }
            let (Ok(first), Ok(count)) = (u32::try_from(first), u32::try_from(count)) else {
                self.xref_syntax(at);
                return Ok(None);
            };
            let start = at + lx.pos as u64;
            let end = start.saturating_add(20 * count as u64);
            if end > self.len {
                self.flag(Severity::NotWellFormed,
                    "PDF-XREF-SYNTAX",
                    start,
                    format!("the cross-reference subsection of {count} entries runs past the end of the file: the file is truncated"),
                );
                return Ok(None);
            }
            self.sections.push(Section::Table {
                first,
                count,
                at: start,
            });
            at = end;
        }
        self.xref_syntax(at);
        Ok(None)
    }

    fn xref_syntax(&mut self, at: u64) {
        self.broken = true;
        self.flag(Severity::NotWellFormed,
            "PDF-XREF-SYNTAX",
            at,
            "the cross-reference table's syntax is broken (a subsection header or an entry is not as the format says): qpdf reconstructs it",
        );
    }

    /// Reads and decodes the cross-reference stream whose object is at `at`.
    pub(super) fn xref_stream(&mut self, at: u64) -> std::io::Result<Option<XrefStream>> {
        let bad = |s: &mut Self, why: &str| {
            s.flag(
                Severity::NotWellFormed,
                "PDF-XREF-STREAM",
                at,
                format!("startxref or /Prev points at no cross-reference table or stream: {why}"),
            );
            Ok(None)
        };
        let Some((_, _, dict, data_at)) = self.indirect(at)? else {
            return bad(self, "no object there");
        };
        if !dict.get(b"Type").is_some_and(|t| t.is_name(b"XRef")) {
            return bad(self, "the object there is not /Type /XRef");
        }
        let w: Vec<usize> = match dict.get(b"W") {
            Some(Obj::Array(a)) if a.len() == 3 => a
                .iter()
                .map(|x| x.int().filter(|v| (0..=8).contains(v)).map(|v| v as usize))
                .collect::<Option<_>>()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if w.len() != 3 {
            return bad(self, "its /W is not three widths of 0 to 8 bytes");
        }
        let size = dict.get(b"Size").and_then(Obj::int).unwrap_or(0);
        let index: Vec<(u32, u32)> = match dict.get(b"Index") {
            Some(Obj::Array(a)) => a
                .chunks_exact(2)
                .filter_map(|p| Some((p[0].int()? as u32, p[1].int()? as u32)))
                .collect(),
            _ => vec![(0, size.clamp(0, u32::MAX as i64) as u32)],
        };
        let Some(data_at) = data_at else {
            return bad(self, "it has no stream data");
        };
        let Some(data) = self.stream_data(at, &dict, data_at)? else {
            return Ok(None);
        };
        let Some(data) = predict(&dict, data, w.iter().sum()) else {
            return bad(self, "its PNG predictor rows do not fit");
        };
        Ok(Some(XrefStream {
            dict,
            w: [w[0], w[1], w[2]],
            index,
            data,
        }))
    }

    /// The entry for object `n` in the newest section that has it.
    pub(super) fn lookup(&mut self, n: u32) -> std::io::Result<Option<Entry>> {
        for i in 0..self.sections.len() {
            match self.sections[i] {
                Section::Table { first, count, at } => {
                    if n >= first && n - first < count {
                        let e = self.window(at + 20 * (n - first) as u64, 20)?.to_vec();
                        return Ok(table_entry(&e));
                    }
                }
                Section::Stream { at } => {
                    if let Some(s) = self.xref_stream(at)? {
                        if let Some((_, e)) = s.entries().find(|(m, _)| *m == n) {
                            return Ok(Some(e));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Checks every in-use entry (the newest one of each object) lands on its object's
    /// `N G obj`, in chunks sorted by offset; the highest object number in use.
    pub(super) fn check_entries(&mut self, size: u64) -> std::io::Result<u32> {
        let cap = size.clamp(1, super::MAX_OBJECTS) as usize;
        let mut seen = vec![0u64; cap.div_ceil(64)];
        let mut highest = 0u32;
        for i in 0..self.sections.len() {
            let mut list: Vec<(u32, Entry)> = Vec::new();
            match self.sections[i] {
                Section::Table { first, count, at } => {
                    for k in (0..count).step_by(CHUNK) {
                        let m = (count - k).min(CHUNK as u32);
                        let buf = self.read_vec(at + 20 * k as u64, 20 * m as usize)?;
                        for (j, e) in buf.chunks_exact(20).enumerate() {
                            let n = first.saturating_add(k + j as u32);
                            match table_entry(e) {
                                Some(e) => list.push((n, e)),
                                None => {
                                    self.xref_syntax(at + 20 * (k as u64 + j as u64));
                                    break;
                                }
                            }
                        }
                        self.check_chunk(&mut list, &mut seen, &mut highest)?;
                    }
                }
                Section::Stream { at } => {
                    if let Some(s) = self.xref_stream(at)? {
                        for e in s.entries() {
                            list.push(e);
                            if list.len() >= CHUNK {
                                self.check_chunk(&mut list, &mut seen, &mut highest)?;
                            }
                        }
                        self.check_chunk(&mut list, &mut seen, &mut highest)?;
                    }
                }
            }
        }
        Ok(highest)
    }

    fn check_chunk(
        &mut self,
        list: &mut Vec<(u32, Entry)>,
        seen: &mut [u64],
        highest: &mut u32,
    ) -> std::io::Result<()> {
        let mut todo: Vec<(u64, u32, u16)> = Vec::new();
        for (n, e) in list.drain(..) {
            let (w, b) = (n as usize / 64, 1u64 << (n % 64));
            match seen.get_mut(w) {
                Some(s) if *s & b != 0 => continue,
                Some(s) => *s |= b,
                None => {}
            }
            if e == Entry::Free {
                continue;
            }
            *highest = (*highest).max(n);
            if let Entry::At(off, g) = e {
                todo.push((off, n, g));
            }
        }
        todo.sort_unstable();
        for (off, n, g) in todo {
            let at = self.base.saturating_add(off);
            let w = self.window(at, 48)?;
            let mut lx = Lexer::new(w);
            if lx.obj_header() != Some((n, g)) {
                self.broken = true;
                self.flag(Severity::NotWellFormed,
                    "PDF-XREF-OFFSET",
                    at,
                    format!("the cross-reference entry of object {n} {g} points at offset {at}, where that object is not: the xref is broken (qpdf reconstructs it)"),
                );
            } else {
                self.check_object(at, n)?;
            }
        }
        Ok(())
    }

    /// A stream's data from `data_at`, inflated when /FlateDecode, at most
    /// [`MAX_STREAM`] bytes; None (with a finding) when it cannot be read.
    pub(super) fn stream_data(
        &mut self,
        at: u64,
        dict: &Obj,
        data_at: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let length = self.stream_length(dict)?;
        let Some(length) =
            length.filter(|l| *l >= 0 && data_at.saturating_add(*l as u64) <= self.len)
        else {
            self.flag(
                Severity::NotWellFormed,
                "PDF-STREAM-LENGTH",
                at,
                "a stream's /Length is missing or runs past the end of the file",
            );
            return Ok(None);
        };
        let end = data_at + length as u64;
        let w = self.window(end, 32)?;
        let mut lx = Lexer::new(w);
        if lx.word() != b"endstream" {
            self.flag(Severity::NotWellFormed,
                "PDF-STREAM-LENGTH",
                end,
                "a stream's data does not end with endstream where its /Length says: the length or the data is damaged",
            );
            return Ok(None);
        }
        if lx.word() != b"endobj" {
            self.flag(
                Severity::NotWellFormed,
                "PDF-OBJECT",
                at,
                "a cross-reference or object stream's object does not end with endobj (damaged data; qpdf warns)",
            );
        }
        let filter = dict.get(b"Filter");
        let flate = match filter {
            None => false,
            Some(f) if f.is_name(b"FlateDecode") => true,
            Some(Obj::Array(a)) if a.len() == 1 && a[0].is_name(b"FlateDecode") => true,
            Some(Obj::Array(a)) if a.is_empty() => false,
            _ => {
                self.flag(Severity::Warning,
                    "PDF-STREAM-FILTER",
                    at,
                    "a cross-reference or object stream has a filter other than FlateDecode: not checked",
                );
                return Ok(None);
            }
        };
        if length as u64 > MAX_STREAM as u64 {
            self.flag(
                Severity::Warning,
                "PDF-TOO-MANY",
                data_at,
                format!(
                    "a cross-reference or object stream of over {MAX_STREAM} bytes: not checked"
                ),
            );
            return Ok(None);
        }
        if self.inflated > MAX_INFLATED {
            self.flag(
                Severity::Warning,
                "PDF-TOO-MANY",
                0,
                format!("over {MAX_INFLATED} bytes of cross-reference and object streams inflated: the rest were not checked"),
            );
            return Ok(None);
        }
        let raw = self.read_vec(data_at, length as usize)?;
        let mut data = Vec::new();
        if flate {
            let res = flate2::read::ZlibDecoder::new(&raw[..])
                .take(MAX_STREAM as u64 + 1)
                .read_to_end(&mut data);
            if let Err(e) = res {
                self.flag(
                    Severity::NotWellFormed,
                    "PDF-STREAM-DATA",
                    data_at,
                    format!("a cross-reference or object stream does not inflate: {e}"),
                );
                return Ok(None);
            }
        } else {
            data = raw;
        }
        self.inflated += data.len() as u64;
        if data.len() > MAX_STREAM {
            self.flag(Severity::Warning,
                "PDF-TOO-MANY",
                data_at,
                format!("a cross-reference or object stream inflates to over {MAX_STREAM} bytes: only its start was checked"),
            );
            data.truncate(MAX_STREAM);
        }
        Ok(Some(data))
    }
}

/// A 20-byte classic entry: `oooooooooo ggggg n` and a two-byte end of line.
fn table_entry(e: &[u8]) -> Option<Entry> {
    if e.len() < 20
        || !e[..10].iter().all(u8::is_ascii_digit)
        || e[10] != b' '
        || !e[11..16].iter().all(u8::is_ascii_digit)
        || e[16] != b' '
        || !e[18..20].iter().all(|c| is_ws(*c))
    {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0u64, |a, c| a * 10 + (c - b'0') as u64);
    match e[17] {
        b'n' => Some(Entry::At(num(&e[..10]), num(&e[11..16]).min(65535) as u16)),
        b'f' => Some(Entry::Free),
        _ => None,
    }
}

/// Undoes a PNG predictor (/DecodeParms /Predictor 10 to 15) on rows of `columns` bytes.
fn predict(dict: &Obj, data: Vec<u8>, row: usize) -> Option<Vec<u8>> {
    let parms = match dict.get(b"DecodeParms") {
        Some(Obj::Array(a)) => a.first(),
        p => p,
    };
    let predictor = parms
        .and_then(|p| p.get(b"Predictor"))
        .and_then(Obj::int)
        .unwrap_or(1);
    if predictor < 10 {
        return Some(data);
    }
    let cols = parms
        .and_then(|p| p.get(b"Columns"))
        .and_then(Obj::int)
        .map_or(row, |c| c.max(1) as usize);
    if cols >= data.len() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; cols];
    for r in data.chunks(cols + 1) {
        if r.len() != cols + 1 {
            return None;
        }
        let mut cur = r[1..].to_vec();
        for i in 0..cols {
            let a = if i > 0 { cur[i - 1] } else { 0 };
            let (b, c) = (prev[i], if i > 0 { prev[i - 1] } else { 0 });
            let p = match r[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => paeth(a, b, c),
                _ => return None,
            };
            cur[i] = cur[i].wrapping_add(p);
        }
        out.extend_from_slice(&cur);
        prev = cur;
    }
    Some(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = (
        (p - a as i16).abs(),
        (p - b as i16).abs(),
        (p - c as i16).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
