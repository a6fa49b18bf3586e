//! PDF validation, as `qpdf --check` judges a file's structure: the header, `startxref`
//! and `%%EOF` at the end, the cross-reference table (every in-use entry must land on
//! its object's `N G obj`) or cross-reference stream (PDF 1.5+, FlateDecode with PNG
//! predictors), hybrid files (/XRefStm), incremental updates (the /Prev chain, loops
//! caught), the trailer (/Size against the highest object number, /Root, /Encrypt), and
//! the page count from the catalog's page tree (/Count), objects in object streams
//! included. A broken cross-reference (qpdf: "file is damaged", reconstructing) is
//! `not-well-formed`.
//!
//! Memory is bounded whatever the file's size: reads go through one window of
//! [`WINDOW`] bytes; only where each cross-reference section is, is kept (entries are
//! checked in chunks of 4,096 as they stream past, with one bit per object number up to
//! [`MAX_OBJECTS`]); a cross-reference or object stream is inflated to at most
//! [`MAX_STREAM`] bytes. At most about 20 MiB in all.

use std::io::{Read, Seek, SeekFrom};

use super::{read_up_to, Findings, Severity};

mod lex;
mod xref;

use lex::{Lexer, Obj};
use xref::{Entry, Section};

/// The read window, as techmd's PDF reader uses.
const WINDOW: usize = 64 * 1024;
/// A cross-reference or object stream is inflated to at most this many bytes.
const MAX_STREAM: usize = 16 << 20;
/// Bytes inflated from cross-reference and object streams per file at most (a section
/// is inflated again for each look-up in it): a bound on time, not memory.
const MAX_INFLATED: u64 = 1 << 30;
/// Object numbers tracked at most (one bit each).
const MAX_OBJECTS: u64 = 16_000_000;

/// An indirect object: number, generation, the object, where its stream data starts.
type Indirect = (u32, u16, Obj, Option<u64>);

pub(super) struct Pdf<'a, R> {
    r: &'a mut R,
    len: u64,
    /// Where `%PDF-` is: offsets in the file are counted from there, as qpdf does.
    base: u64,
    out: &'a mut Findings,
    sections: Vec<Section>,
    win_at: u64,
    win: Vec<u8>,
    /// Nesting of object look-ups (a /Length in an object stream...).
    depth: usize,
    encrypted: bool,
    /// Bytes inflated so far.
    inflated: u64,
    /// The cross-reference is broken: /Size is not compared with it.
    broken: bool,
    /// The (code, offset) of each finding made: a section read again for a look-up
    /// does not report the same thing twice.
    reported: Vec<(&'static str, u64)>,
}

/// Validates a PDF file of `len` bytes; its page count, when the page tree gives it.
pub(super) fn validate<R: Read + Seek>(
    r: &mut R,
    len: u64,
    out: &mut Findings,
) -> std::io::Result<Option<u32>> {
    let mut p = Pdf {
        r,
        len,
        base: 0,
        out,
        sections: Vec::new(),
        win_at: 0,
        win: Vec::new(),
        depth: 0,
        encrypted: false,
        broken: false,
        inflated: 0,
        reported: Vec::new(),
    };
    if !p.header()? {
        return Ok(None);
    }
    let Some(start) = p.tail()? else {
        return Ok(None);
    };
    let trailers = p.read_chain(start)?;
    let Some(first) = trailers.first() else {
        return Ok(None);
    };
    let root = trailers.iter().find_map(|t| match t.get(b"Root") {
        Some(Obj::Ref(n, _)) => Some(*n),
        _ => None,
    });
    let size = first.get(b"Size").and_then(Obj::int);
    if trailers.iter().any(|t| t.get(b"Encrypt").is_some()) {
        p.encrypted = true;
        p.flag(Severity::Warning,
            "PDF-ENCRYPTED",
            start,
            "the file is encrypted (/Encrypt): it opens only with its password, if it has one, and its object streams were not checked",
        );
    }
    let highest = p.check_entries(size.unwrap_or(0).max(0) as u64)?;
    match size {
        Some(s) if s == highest as i64 + 1 => {}
        _ if p.broken => {}
        _ => p.flag(
            Severity::NotValid,
            "PDF-SIZE",
            start,
            format!(
                "the trailer's /Size ({}) is not one plus the highest object number ({highest})",
                size.map_or("missing".to_string(), |s| s.to_string())
            ),
        ),
    }
    let Some(root) = root else {
        p.flag(
            Severity::NotWellFormed,
            "PDF-NO-ROOT",
            start,
            "the trailer has no /Root: there is no document catalog",
        );
        return Ok(None);
    };
    p.pages(root)
}

impl<R: Read + Seek> Pdf<'_, R> {
    fn flag(&mut self, severity: Severity, code: &'static str, at: u64, msg: impl Into<String>) {
        if self.reported.len() < 1000 && !self.reported.contains(&(code, at)) {
            self.reported.push((code, at));
            self.out.push(code, severity, Some(at), msg);
        }
    }

    /// `%PDF-` within the first 1024 bytes, and its version; false when it is missing.
    fn header(&mut self) -> std::io::Result<bool> {
        let head = self.read_vec(0, 1024 + 8)?;
        let Some(at) = memchr::memmem::find(&head[..head.len().min(1024 + 5)], b"%PDF-") else {
            self.flag(Severity::NotWellFormed,
                "PDF-HEADER",
                0,
                "no %PDF- header in the first 1024 bytes: this is not a PDF, or its start is damaged",
            );
            return Ok(false);
        };
        if at > 0 {
            self.flag(
                Severity::Warning,
                "PDF-HEADER-OFFSET",
                0,
                format!("{at} bytes before the %PDF- header: offsets count from the header"),
            );
        }
        self.base = at as u64;
        let v = &head[at + 5..(at + 8).min(head.len())];
        let known = matches!(v, [b'1', b'.', b'0'..=b'7'] | b"2.0");
        if !known {
            self.flag(
                Severity::Warning,
                "PDF-HEADER-VERSION",
                at as u64,
                format!(
                    "the header's version '{}' is not 1.0 to 1.7 or 2.0",
                    String::from_utf8_lossy(v)
                ),
            );
        }
        Ok(true)
    }

    /// `%%EOF` and `startxref` at the end; where the last cross-reference section is.
    fn tail(&mut self) -> std::io::Result<Option<u64>> {
        let from = self.len.saturating_sub(2048);
        let tail = self.read_vec(from, 2048)?;
        let last = &tail[tail.len().saturating_sub(1024)..];
        if memchr::memmem::find(last, b"%%EOF").is_none() {
            self.flag(
                Severity::Warning,
                "PDF-NO-EOF",
                self.len,
                "no %%EOF in the last 1024 bytes: the file may be truncated",
            );
        }
        let Some(s) = memchr::memmem::rfind(&tail, b"startxref") else {
            self.flag(Severity::NotWellFormed,
                "PDF-NO-STARTXREF",
                from,
                "no startxref near the end: the file is truncated or damaged (qpdf reconstructs the cross-reference table)",
            );
            return Ok(None);
        };
        let at = from + s as u64;
        let mut lx = Lexer::new(&tail[s + 9..]);
        match lx.uint().map(|o| self.base.saturating_add(o)) {
            Some(o) if o < self.len => Ok(Some(o)),
            _ => {
                self.flag(
                    Severity::NotWellFormed,
                    "PDF-STARTXREF",
                    at,
                    "startxref gives no offset inside the file: the file is truncated or damaged",
                );
                Ok(None)
            }
        }
    }

    /// The bytes at `at`, at least `n` of them if the file has them (n ≤ WINDOW).
    fn window(&mut self, at: u64, n: usize) -> std::io::Result<&[u8]> {
        let have = at >= self.win_at
            && (at + n as u64 <= self.win_at + self.win.len() as u64
                || self.win_at + self.win.len() as u64 >= self.len);
        if !have || at > self.win_at + self.win.len() as u64 {
            self.win = self.read_vec(at, WINDOW.max(n))?;
            self.win_at = at;
        }
        let s = (at - self.win_at) as usize;
        Ok(&self.win[s.min(self.win.len())..])
    }

    fn read_vec(&mut self, at: u64, n: usize) -> std::io::Result<Vec<u8>> {
        self.r.seek(SeekFrom::Start(at))?;
        let mut b = vec![0u8; n];
        let k = read_up_to(self.r, &mut b)?;
        b.truncate(k);
        Ok(b)
    }

    /// The indirect object at `at`: number, generation, the object, and where its
    /// stream data starts if it is a stream.
    fn indirect(&mut self, at: u64) -> std::io::Result<Option<Indirect>> {
        Ok(self.parse_at(at)?.ok().map(|(o, _)| o))
    }

    /// Parses the indirect object at `at`, reading 4 KiB and then the whole window if
    /// it needs it: the object and whether `endobj` follows it (not looked at for a
    /// stream); Err(true) when it is too large for the window to tell.
    fn parse_at(&mut self, at: u64) -> std::io::Result<Result<(Indirect, bool), bool>> {
        let len = self.len;
        for size in [4096, WINDOW] {
            let w = self.window(at, size)?;
            let all = at + w.len() as u64 >= len;
            let short = w.len() < WINDOW && !all;
            let mut lx = Lexer::new(w);
            let Some((n, g)) = lx.obj_header() else {
                return Ok(Err(false));
            };
            let Some(o) = lx.object() else {
                if short {
                    continue;
                }
                return Ok(Err(!all));
            };
            let word = lx.word();
            if word.is_empty() && short {
                continue;
            }
            let data = if word == b"stream" {
                let mut k = lx.pos;
                if w.get(k) == Some(&b'\r') {
                    k += 1;
                }
                if w.get(k) == Some(&b'\n') {
                    k += 1;
                }
                Some(at + k as u64)
            } else {
                None
            };
            return Ok(Ok(((n, g, o, data), word == b"endobj")));
        }
        Ok(Err(true))
    }

    /// Object `n` at `at` (its header checked) as qpdf reads it: its syntax, a stream's
    /// endstream where /Length says, endobj.
    fn check_object(&mut self, at: u64, n: u32) -> std::io::Result<()> {
        let why = match self.parse_at(at)? {
            Err(true) => return Ok(()),
            Err(false) => "its syntax is broken",
            Ok(((_, _, dict, Some(data_at)), _)) => {
                let Some(l) = self.stream_length(&dict)?.filter(|l| *l >= 0) else {
                    self.object_finding(at, n, "its stream has no usable /Length");
                    return Ok(());
                };
                let end = data_at.saturating_add(l as u64);
                let w = self.window(end, 64)?;
                let mut lx = Lexer::new(w);
                if lx.word() == b"endstream" && lx.word() == b"endobj" {
                    return Ok(());
                }
                "its stream does not end with endstream and endobj where its /Length says"
            }
            Ok((_, true)) => return Ok(()),
            Ok((_, false)) => "it does not end with endobj",
        };
        self.object_finding(at, n, why);
        Ok(())
    }

    /// A stream's /Length, direct or an indirect object.
    fn stream_length(&mut self, dict: &Obj) -> std::io::Result<Option<i64>> {
        Ok(match dict.get(b"Length") {
            Some(Obj::Int(l)) => Some(*l),
            Some(Obj::Ref(r, _)) if self.depth < 2 => {
                self.depth += 1;
                let l = self.resolve(*r)?.and_then(|o| o.int());
                self.depth -= 1;
                l
            }
            _ => None,
        })
    }

    fn object_finding(&mut self, at: u64, n: u32, why: &str) {
        self.flag(
            Severity::NotWellFormed,
            "PDF-OBJECT",
            at,
            format!("object {n}: {why} (damaged data; qpdf warns)"),
        );
    }

    /// Object `n`, from where the cross-reference says it is.
    fn resolve(&mut self, n: u32) -> std::io::Result<Option<Obj>> {
        match self.lookup(n)? {
            Some(Entry::At(off, _)) => {
                let at = self.base.saturating_add(off);
                Ok(self.indirect(at)?.filter(|o| o.0 == n).map(|o| o.2))
            }
            Some(Entry::InStream(s, _)) if !self.encrypted && self.depth < 2 => {
                self.depth += 1;
                let o = self.in_object_stream(s, n);
                self.depth -= 1;
                o
            }
            _ => Ok(None),
        }
    }

    /// Object `n` from object stream `s` (/Type /ObjStm).
    fn in_object_stream(&mut self, s: u32, n: u32) -> std::io::Result<Option<Obj>> {
        let Some(Entry::At(off, _)) = self.lookup(s)? else {
            return Ok(None);
        };
        let at = self.base.saturating_add(off);
        let Some((_, _, dict, Some(data_at))) = self.indirect(at)? else {
            return Ok(None);
        };
        if !dict.get(b"Type").is_some_and(|t| t.is_name(b"ObjStm")) {
            return Ok(None);
        }
        let count = dict.get(b"N").and_then(Obj::int).unwrap_or(0).max(0);
        let first = dict.get(b"First").and_then(Obj::int).unwrap_or(0).max(0) as usize;
        let Some(data) = self.stream_data(at, &dict, data_at)? else {
            return Ok(None);
        };
        let mut lx = Lexer::new(&data);
        for _ in 0..count {
            let (Some(m), Some(o)) = (lx.uint(), lx.uint()) else {
                break;
            };
            if m == n as u64 {
                let Some(body) = data.get(first.saturating_add(o as usize)..) else {
                    return Ok(None);
                };
                return Ok(Lexer::new(body).object());
            }
        }
        Ok(None)
    }

    /// The page count: the catalog's /Pages node's /Count, checked against its kids.
    fn pages(&mut self, root: u32) -> std::io::Result<Option<u32>> {
        let catalog = self.resolve(root)?;
        let pages = match catalog.as_ref().and_then(|c| c.get(b"Pages")) {
            Some(Obj::Ref(n, _)) => self.resolve(*n)?,
            _ => None,
        };
        let count = pages
            .as_ref()
            .filter(|p| p.get(b"Type").is_none_or(|t| t.is_name(b"Pages")))
            .and_then(|p| p.get(b"Count"))
            .and_then(Obj::int);
        let Some(count) = count.and_then(|c| u32::try_from(c).ok()) else {
            if self.encrypted && catalog.is_none() {
                return Ok(None);
            }
            let what = if catalog.is_none() {
                "the catalog (/Root) cannot be read"
            } else {
                "the catalog has no page tree with a /Count"
            };
            self.flag(
                Severity::NotWellFormed,
                "PDF-PAGES",
                0,
                format!("{what}: the page count is unknown"),
            );
            return Ok(None);
        };
        if let Some(Obj::Array(kids)) = pages.as_ref().and_then(|p| p.get(b"Kids")) {
            let kids: Vec<u32> = kids
                .iter()
                .filter_map(|k| match k {
                    Obj::Ref(n, _) => Some(*n),
                    _ => None,
                })
                .take(64)
                .collect();
            if kids.len() < 64 {
                let mut sum = 0i64;
                for k in kids {
                    let kid = self.resolve(k)?;
                    let t = kid.as_ref().and_then(|o| o.get(b"Type"));
                    if kid.is_some()
                        && !t.is_some_and(|t| t.is_name(b"Page") || t.is_name(b"Pages"))
                    {
                        self.flag(
                            Severity::NotValid,
                            "PDF-PAGE-TYPE",
                            0,
                            format!("object {k}, a kid of the page tree's root, is not /Type /Page or /Pages (qpdf warns)"),
                        );
                    }
                    sum += match t {
                        Some(t) if t.is_name(b"Pages") => kid
                            .as_ref()
                            .and_then(|o| o.get(b"Count"))
                            .and_then(Obj::int)
                            .unwrap_or(0),
                        _ => 1,
                    };
                }
                if sum != count as i64 {
                    self.flag(
                        Severity::Warning,
                        "PDF-PAGE-COUNT",
                        0,
                        format!("the page tree's /Count says {count} pages, its kids hold {sum}"),
                    );
                }
            }
        }
        Ok(Some(count))
    }
}

#[cfg(test)]
mod tests;
