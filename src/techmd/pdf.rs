//! PDF: the header's version, the trailer (encryption, the catalog), the
//! cross-reference entries for the catalog, the page-tree root (/Count) and the XMP
//! metadata stream (a PDF/A claim). A cross-reference *stream* (PDF 1.5+) is not
//! decoded: the page count then comes from the page-tree root found in the first and
//! last 64 KiB, if it is there.

use std::io::{Read, Seek, SeekFrom};

use super::{read_up_to, TechMd, PDF_READ};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(hay, needle)
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, n: usize) -> std::io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(at))?;
    let mut b = vec![0u8; n];
    let k = read_up_to(r, &mut b)?;
    b.truncate(k);
    Ok(b)
}

/// The unsigned integer after `key` (skipping white space).
fn int_after(buf: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(buf, key)? + key.len();
    let rest = &buf[at..];
    let s = rest.iter().position(|c| !c.is_ascii_whitespace())?;
    let digits: Vec<u8> = rest[s..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The object number of an indirect reference after `key` (`/Root 1 0 R`).
fn ref_after(buf: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(buf, key)? + key.len();
    let rest = &buf[at..(at + 40).min(buf.len())];
    let text = String::from_utf8_lossy(rest);
    let mut it = text.split_whitespace();
    let n = it.next()?.parse().ok()?;
    let _g: u64 = it.next()?.parse().ok()?;
    it.next()?.starts_with('R').then_some(n)
}

pub(super) fn read<R: Read + Seek>(r: &mut R, len: u64, t: &mut TechMd) -> std::io::Result<()> {
    let head = read_at(r, 0, 1024)?;
    let v: String = head[5..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .map(|c| *c as char)
        .collect();
    t.pdf_version = (!v.is_empty()).then_some(v);
    t.encrypted = Some(false);
    let tail_start = len.saturating_sub(PDF_READ as u64);
    let tail = read_at(r, tail_start, PDF_READ)?;
    let last = &tail[tail.len().saturating_sub(1024)..];
    if find(last, b"%%EOF").is_none() {
        t.warnings
            .push("no %%EOF marker in the last 1024 bytes: the PDF is truncated or damaged".into());
    }
    let startxref = rfind(&tail, b"startxref");
    if startxref.is_none() {
        t.warnings
            .push("no startxref: the PDF has no trailer (truncated or damaged)".into());
    }
    // The trailer dictionary (classic), or the xref stream's dictionary.
    let trailer_at = rfind(&tail, b"trailer");
    let trailer: &[u8] = match (trailer_at, startxref) {
        (Some(a), Some(s)) if a < s => &tail[a..s],
        (Some(a), _) => &tail[a..],
        _ => &[],
    };
    if find(trailer, b"/Encrypt").is_some() || find(&tail, b"/Encrypt").is_some() {
        t.encrypted = Some(true);
    }
    let mut pages = None;
    if let (Some(s), Some(root)) = (startxref, ref_after(trailer, b"/Root")) {
        let xref_off = int_after(&tail[s..], b"startxref");
        if let Some(xo) = xref_off.filter(|o| *o < len) {
            if let Some(cat_off) = xref_offset(r, xo, root)? {
                let cat = read_at(r, cat_off, 4096)?;
                let xmp_obj = ref_after(&cat, b"/Metadata");
                if let Some(pages_obj) = ref_after(&cat, b"/Pages") {
                    if let Some(po) = xref_offset(r, xo, pages_obj)? {
                        let p = read_at(r, po, 4096)?;
                        let end = find(&p, b"endobj").unwrap_or(p.len());
                        pages = int_after(&p[..end], b"/Count");
                    }
                }
                if let Some(m) = xmp_obj {
                    if let Some(mo) = xref_offset(r, xo, m)? {
                        let x = read_at(r, mo, PDF_READ)?;
                        t.pdfa = pdfa_claim(&x);
                    }
                }
            }
        }
    }
    if pages.is_none() {
        // The page-tree root within the windows at either end.
        for w in [&head[..], &tail[..]] {
            let mut from = 0;
            while let Some(i) = find(&w[from..], b"/Type") {
                let at = from + i;
                let window = &w[at.saturating_sub(512)..(at + 512).min(w.len())];
                if find(&w[at..(at + 12).min(w.len())], b"/Pages").is_some()
                    || find(&w[at..(at + 12).min(w.len())], b"/ Pages").is_some()
                {
                    if let Some(c) = int_after(window, b"/Count") {
                        pages = Some(pages.map_or(c, |p: u64| p.max(c)));
                    }
                }
                from = at + 5;
            }
        }
    }
    t.pages = pages.map(|p| p.min(u32::MAX as u64) as u32);
    if t.pdfa.is_none() {
        let big = read_at(r, 0, PDF_READ)?;
        t.pdfa = pdfa_claim(&big).or_else(|| pdfa_claim(&tail));
    }
    Ok(())
}

/// The byte offset of object `obj` from the classic cross-reference table at `xref`
/// (following /Prev to older sections, at most 32).
fn xref_offset<R: Read + Seek>(r: &mut R, xref: u64, obj: u64) -> std::io::Result<Option<u64>> {
    let mut at = xref;
    for _ in 0..32 {
        let buf = read_at(r, at, PDF_READ)?;
        let Some(s) = buf.iter().position(|c| !c.is_ascii_whitespace()) else {
            return Ok(None);
        };
        if !buf[s..].starts_with(b"xref") {
            return Ok(None);
        }
        let mut p = s + 4;
        let text_end = find(&buf, b"trailer").unwrap_or(buf.len());
        loop {
            // A subsection header: first count.
            let line_start = p + buf[p..]
                .iter()
                .position(|c| !c.is_ascii_whitespace())
                .unwrap_or(0);
            if line_start >= text_end {
                break;
            }
            let line_end = line_start
                + buf[line_start..]
                    .iter()
                    .position(|c| *c == b'\n' || *c == b'\r')
                    .unwrap_or(buf.len() - line_start);
            let header = String::from_utf8_lossy(&buf[line_start..line_end]);
            let mut it = header.split_whitespace();
            let (Some(Ok(first)), Some(Ok(count))) = (
                it.next().map(str::parse::<u64>),
                it.next().map(str::parse::<u64>),
            ) else {
                break;
            };
            let mut entries = line_end;
            while entries < buf.len() && (buf[entries] == b'\n' || buf[entries] == b'\r') {
                entries += 1;
            }
            if obj >= first && obj < first + count {
                let e = entries + ((obj - first) * 20) as usize;
                if e + 18 > buf.len() {
                    return Ok(None);
                }
                let ent = String::from_utf8_lossy(&buf[e..e + 18]);
                let mut f = ent.split_whitespace();
                let off: Option<u64> = f.next().and_then(|x| x.parse().ok());
                let _gen = f.next();
                return Ok(match f.next() {
                    Some("n") => off,
                    _ => None,
                });
            }
            p = entries + (count * 20) as usize;
            if p >= buf.len() {
                break;
            }
        }
        // Older sections.
        let tr = &buf[text_end.min(buf.len())..];
        match int_after(tr, b"/Prev") {
            Some(prev) => at = prev,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// `1B`, `2U`, … from `pdfaid:part` and `pdfaid:conformance` (element or attribute).
fn pdfa_claim(xmp: &[u8]) -> Option<String> {
    let value = |key: &[u8]| -> Option<String> {
        let at = find(xmp, key)? + key.len();
        let rest = &xmp[at..(at + 64).min(xmp.len())];
        let start = rest.iter().position(|c| c.is_ascii_alphanumeric())?;
        let v: String = rest[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| *c as char)
            .collect();
        Some(v)
    };
    let part = value(b"pdfaid:part")?;
    let conf = value(b"pdfaid:conformance").unwrap_or_default();
    Some(format!("{part}{}", conf.to_ascii_uppercase()))
}
