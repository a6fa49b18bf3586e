//! PNG validation, as the PNG specification (W3C, third edition) and libpng read a
//! file: the signature, IHDR first and once with valid fields, every chunk's length and
//! CRC (IDAT included), PLTE's rules, the order of the ancillary chunks the
//! specification places before PLTE or IDAT, consecutive IDAT chunks, unknown critical
//! chunks, IEND last and empty; and the image data inflated and counted against what
//! IHDR says (height × (1 + row bytes), per Adam7 pass when interlaced), each row's
//! filter type checked on the way.
//!
//! Memory is bounded whatever the file's size: one [`BUF`] read buffer, one inflate
//! state (about 64 KiB with its window) and one [`OUT`] output buffer whose bytes are
//! counted, never kept. The file is read once, front to back.

use std::io::{BufReader, Read, Seek};

use flate2::{Decompress, FlushDecompress, Status};

use super::Findings;

/// The read buffer.
const BUF: usize = 256 * 1024;
/// The inflate output buffer.
const OUT: usize = 64 * 1024;

/// Chunks that must come before PLTE (and IDAT), and those that must only come before
/// IDAT.
const BEFORE_PLTE: [&[u8; 4]; 5] = [b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB"];
const BEFORE_IDAT: [&[u8; 4]; 5] = [b"bKGD", b"hIST", b"tRNS", b"pHYs", b"sPLT"];

#[derive(Clone, Copy)]
struct Header {
    width: u32,
    height: u32,
    depth: u8,
    colour: u8,
    interlace: u8,
}

impl Header {
    fn bits_per_pixel(&self) -> u64 {
        let channels = match self.colour {
            2 => 3,
            4 => 2,
            6 => 4,
            _ => 1,
        };
        channels * self.depth as u64
    }

    /// The rows of the image data: (rows, bytes per row with its filter byte) per pass.
    fn passes(&self) -> Vec<(u64, u64)> {
        let (w, h) = (self.width as u64, self.height as u64);
        let row = |w: u64| 1 + (w * self.bits_per_pixel()).div_ceil(8);
        if self.interlace == 0 {
            return vec![(h, row(w))];
        }
        const ADAM7: [(u64, u64, u64, u64); 7] = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ];
        ADAM7
            .iter()
            .filter_map(|&(x0, y0, dx, dy)| {
                let pw = w.saturating_sub(x0).div_ceil(dx);
                let ph = h.saturating_sub(y0).div_ceil(dy);
                (pw > 0 && ph > 0).then(|| (ph, row(pw)))
            })
            .collect()
    }
}

/// Counts the inflated image data and checks each row's filter byte.
struct Rows {
    z: Decompress,
    out: Box<[u8]>,
    passes: Vec<(u64, u64)>,
    pass: usize,
    /// Rows left in the current pass, and bytes left in the current row.
    rows_left: u64,
    in_row: u64,
    total: u64,
    expected: u64,
    ended: bool,
    failed: bool,
    bad_filter: bool,
    /// Compressed bytes after the zlib stream's end.
    trailing: u64,
}

impl Rows {
    fn new(h: &Header) -> Rows {
        let passes = h.passes();
        let expected = passes
            .iter()
            .fold(0u64, |t, &(r, b)| t.saturating_add(r.saturating_mul(b)));
        let mut rows = Rows {
            z: Decompress::new(true),
            out: vec![0u8; OUT].into_boxed_slice(),
            passes,
            pass: 0,
            rows_left: 0,
            in_row: 0,
            total: 0,
            expected,
            ended: false,
            failed: false,
            bad_filter: false,
            trailing: 0,
        };
        if let Some(&(r, _)) = rows.passes.first() {
            rows.rows_left = r;
        }
        rows
    }

    /// Feeds compressed bytes from the IDAT chunk whose data starts at `at`.
    fn feed(&mut self, mut data: &[u8], at: u64, out: &mut Findings) {
        loop {
            if self.failed {
                return;
            }
            if self.ended {
                self.trailing += data.len() as u64;
                return;
            }
            let (i0, o0) = (self.z.total_in(), self.z.total_out());
            let res = self
                .z
                .decompress(data, &mut self.out, FlushDecompress::None);
            let used = (self.z.total_in() - i0) as usize;
            let made = (self.z.total_out() - o0) as usize;
            self.count(made, at, out);
            data = &data[used..];
            match res {
                Ok(Status::StreamEnd) => self.ended = true,
                // All input taken and the output not full: nothing is pending.
                Ok(_) if (data.is_empty() && made < OUT) || (used == 0 && made == 0) => return,
                Ok(_) => {}
                Err(e) => {
                    self.failed = true;
                    out.not_well_formed(
                        "PNG-IDAT-ZLIB",
                        at,
                        format!(
                            "the compressed image data is damaged ({e}) after {} bytes of \
                             pixels: the image cannot be decoded past that point",
                            self.total
                        ),
                    );
                }
            }
        }
    }

    fn count(&mut self, made: usize, at: u64, out: &mut Findings) {
        let mut k = 0usize;
        while k < made {
            if self.in_row == 0 {
                // The next row starts: its filter byte.
                while self.rows_left == 0 {
                    self.pass += 1;
                    match self.passes.get(self.pass) {
                        Some(&(r, _)) => self.rows_left = r,
                        None => {
                            self.total += (made - k) as u64;
                            return;
                        }
                    }
                }
                let f = self.out[k];
                if f > 4 && !self.bad_filter {
                    self.bad_filter = true;
                    out.not_well_formed(
                        "PNG-FILTER-TYPE",
                        at,
                        format!(
                            "row data at byte {} of the inflated image has filter type {f}; \
                             0 to 4 exist: the image data is damaged",
                            self.total
                        ),
                    );
                }
                self.in_row = self.passes[self.pass].1;
                self.rows_left -= 1;
            }
            let n = (self.in_row as usize).min(made - k);
            self.in_row -= n as u64;
            self.total += n as u64;
            k += n;
        }
    }
}

/// Validates a PNG file of `len` bytes; PNG has no pages.
pub(super) fn validate<R: Read + Seek>(
    r: &mut R,
    len: u64,
    out: &mut Findings,
) -> std::io::Result<Option<u32>> {
    let mut s = BufReader::with_capacity(BUF, r);
    let mut sig = [0u8; 8];
    if len < 8 || {
        s.read_exact(&mut sig)?;
        &sig != b"\x89PNG\r\n\x1a\n"
    } {
        out.not_well_formed(
            "PNG-SIGNATURE",
            0,
            "the file does not start with the PNG signature (89 50 4E 47 0D 0A 1A 0A); a \
             transfer in text mode changes its line ends",
        );
        return Ok(None);
    }
    let mut pos = 8u64;
    let mut header: Option<Header> = None;
    let mut rows: Option<Rows> = None;
    let mut plte = false;
    let mut idat_seen = false;
    let mut idat_ended = false;
    let mut buf = vec![0u8; BUF];
    loop {
        if pos == len {
            out.not_well_formed(
                "PNG-NO-IEND",
                pos,
                format!("the file ends at byte {pos} without an IEND chunk: it is truncated"),
            );
            break;
        }
        if len - pos < 12 {
            out.not_well_formed(
                "PNG-TRUNCATED",
                pos,
                format!(
                    "the file ends {} bytes into the chunk at byte {pos}: it is truncated",
                    len - pos
                ),
            );
            break;
        }
        let at = pos;
        let mut h = [0u8; 8];
        s.read_exact(&mut h)?;
        pos += 8;
        let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let typ: [u8; 4] = [h[4], h[5], h[6], h[7]];
        let name = String::from_utf8_lossy(&typ).into_owned();
        if !typ.iter().all(u8::is_ascii_alphabetic) {
            out.not_well_formed(
                "PNG-CHUNK-TYPE",
                at,
                format!(
                    "the chunk at byte {at} has the type {typ:02X?}, not four letters: the \
                     previous chunk's length is wrong or the data is damaged here"
                ),
            );
            break;
        }
        if n > 0x7FFF_FFFF {
            out.not_well_formed(
                "PNG-CHUNK-LENGTH",
                at,
                format!("the {name} chunk at byte {at} says it has {n} bytes, more than 2^31−1"),
            );
            break;
        }
        if n + 4 > len - pos {
            out.not_well_formed(
                "PNG-TRUNCATED",
                at,
                format!(
                    "the {name} chunk at byte {at} ({n} bytes) runs past the end of the file \
                     ({len} bytes): the file is truncated"
                ),
            );
            break;
        }
        // Order rules, before the data.
        let first = header.is_none() && &typ != b"IHDR";
        if first {
            out.not_well_formed(
                "PNG-IHDR-FIRST",
                at,
                format!("the first chunk is {name}, not IHDR"),
            );
            break;
        }
        if idat_seen && &typ != b"IDAT" {
            idat_ended = true;
        }
        match &typ {
            b"IHDR" if header.is_some() => out.not_well_formed(
                "PNG-IHDR-MULTIPLE",
                at,
                format!("a second IHDR chunk at byte {at}"),
            ),
            b"PLTE" => {
                if plte {
                    out.not_well_formed(
                        "PNG-PLTE-MULTIPLE",
                        at,
                        format!("a second PLTE chunk at byte {at}"),
                    );
                }
                if idat_seen {
                    out.not_well_formed(
                        "PNG-PLTE-ORDER",
                        at,
                        format!("the PLTE chunk at byte {at} comes after the image data (IDAT)"),
                    );
                }
                plte = true;
            }
            b"IDAT" => {
                if idat_ended {
                    out.not_well_formed(
                        "PNG-IDAT-SPLIT",
                        at,
                        format!(
                            "the IDAT chunk at byte {at} follows another chunk after the \
                             image data: IDAT chunks must be consecutive"
                        ),
                    );
                    idat_ended = false;
                }
                if !idat_seen {
                    idat_seen = true;
                    if header.is_some_and(|h| h.colour == 3) && !plte {
                        out.not_well_formed(
                            "PNG-PLTE-MISSING",
                            at,
                            "a palette image (colour type 3) without a PLTE chunk before its \
                             image data: its colours are unknown",
                        );
                    }
                }
            }
            t if BEFORE_PLTE.contains(&t) && (plte || idat_seen) => out.not_valid(
                "PNG-CHUNK-ORDER",
                at,
                format!("the {name} chunk at byte {at} must come before PLTE and IDAT"),
            ),
            t if BEFORE_IDAT.contains(&t) && idat_seen => out.not_valid(
                "PNG-CHUNK-ORDER",
                at,
                format!("the {name} chunk at byte {at} must come before the image data (IDAT)"),
            ),
            b"IHDR" | b"IEND" => {}
            t if t[0].is_ascii_uppercase() => out.not_valid(
                "PNG-CHUNK-UNKNOWN-CRITICAL",
                at,
                format!(
                    "the chunk {name} at byte {at} is critical (upper-case first letter) but \
                     not defined by PNG: a reader must refuse the image"
                ),
            ),
            _ => {}
        }
        if typ[2].is_ascii_lowercase() {
            out.not_valid(
                "PNG-CHUNK-RESERVED",
                at,
                format!("the chunk {name} at byte {at} has the reserved bit set (lower-case third letter)"),
            );
        }
        // The data, through the CRC and, for IDAT, the inflater.
        let mut crc = crc32fast::Hasher::new();
        crc.update(&typ);
        let small = n <= 64;
        let mut head = [0u8; 64];
        let mut left = n;
        while left > 0 {
            let k = (left as usize).min(buf.len());
            let b = &mut buf[..k];
            s.read_exact(b)?;
            crc.update(b);
            if small {
                head[..k].copy_from_slice(b);
            }
            if &typ == b"IDAT" {
                if let Some(rw) = rows.as_mut() {
                    rw.feed(b, at, out);
                }
            }
            left -= k as u64;
        }
        let mut c = [0u8; 4];
        s.read_exact(&mut c)?;
        pos += n + 4;
        if crc.finalize() != u32::from_be_bytes(c) {
            out.not_well_formed(
                "PNG-CRC",
                at,
                format!(
                    "the CRC of the {name} chunk at byte {at} does not match its data: the \
                     chunk is damaged"
                ),
            );
        }
        let data = &head[..n.min(64) as usize];
        match &typ {
            b"IHDR" if header.is_none() => {
                let Some(hd) = ihdr(out, at, data, small && n == 13) else {
                    break;
                };
                header = Some(hd);
                rows = Some(Rows::new(&hd));
            }
            b"PLTE" => {
                let entries = n / 3;
                let max = match header {
                    Some(h) if h.colour == 3 => 1u64 << h.depth.min(8),
                    _ => 256,
                };
                if !n.is_multiple_of(3) || entries == 0 || entries > max {
                    out.not_well_formed(
                        "PNG-PLTE-LENGTH",
                        at,
                        format!(
                            "the PLTE chunk at byte {at} has {n} bytes; it must hold 1 to \
                             {max} entries of 3 bytes"
                        ),
                    );
                }
                if header.is_some_and(|h| h.colour == 0 || h.colour == 4) {
                    out.not_valid(
                        "PNG-PLTE-FORBIDDEN",
                        at,
                        "a PLTE chunk in a greyscale image (colour type 0 or 4), where PNG \
                         forbids it",
                    );
                }
            }
            b"IEND" => {
                if n != 0 {
                    out.not_valid(
                        "PNG-IEND-LENGTH",
                        at,
                        format!(
                            "the IEND chunk at byte {at} has {n} bytes of data; it must be empty"
                        ),
                    );
                }
                if !idat_seen {
                    out.not_well_formed("PNG-NO-IDAT", at, "the file has no image data (IDAT)");
                }
                if pos < len {
                    out.warning(
                        "PNG-AFTER-IEND",
                        pos,
                        format!(
                            "{} bytes follow the IEND chunk: another file appended, or \
                             padding",
                            len - pos
                        ),
                    );
                }
                if let Some(rw) = rows.as_ref().filter(|_| idat_seen) {
                    image_data(out, at, rw);
                }
                return Ok(None);
            }
            _ => {}
        }
    }
    if let Some(rw) = &rows {
        if idat_seen {
            image_data(out, pos, rw);
        }
    }
    Ok(None)
}

/// Checks IHDR's fields; the header when it can be used.
fn ihdr(out: &mut Findings, at: u64, d: &[u8], length_ok: bool) -> Option<Header> {
    if !length_ok {
        out.not_well_formed(
            "PNG-IHDR-LENGTH",
            at,
            format!("the IHDR chunk at byte {at} does not have 13 bytes"),
        );
        return None;
    }
    let h = Header {
        width: u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
        height: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        depth: d[8],
        colour: d[9],
        interlace: d[12],
    };
    let mut ok = true;
    if h.width == 0 || h.height == 0 || h.width > 0x7FFF_FFFF || h.height > 0x7FFF_FFFF {
        out.not_well_formed(
            "PNG-IHDR-SIZE",
            at,
            format!(
                "IHDR says the image is {}×{} pixels; each side must be 1 to 2^31−1",
                h.width, h.height
            ),
        );
        ok = false;
    }
    let depth_ok = match h.colour {
        0 => matches!(h.depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(h.depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(h.depth, 8 | 16),
        _ => false,
    };
    if !depth_ok {
        out.not_well_formed(
            "PNG-IHDR-DEPTH",
            at,
            format!(
                "IHDR says colour type {} with bit depth {}, a combination PNG does not allow",
                h.colour, h.depth
            ),
        );
        ok = false;
    }
    if d[10] != 0 || d[11] != 0 {
        out.not_well_formed(
            "PNG-IHDR-METHOD",
            at,
            format!(
                "IHDR says compression method {} and filter method {}; PNG defines only 0",
                d[10], d[11]
            ),
        );
        ok = false;
    }
    if h.interlace > 1 {
        out.not_well_formed(
            "PNG-IHDR-INTERLACE",
            at,
            format!(
                "IHDR says interlace method {}; PNG defines 0 and 1",
                h.interlace
            ),
        );
        ok = false;
    }
    ok.then_some(h)
}

/// Compares the inflated image data with what IHDR says.
fn image_data(out: &mut Findings, at: u64, rw: &Rows) {
    if rw.failed {
        return;
    }
    if rw.total < rw.expected {
        out.not_well_formed(
            "PNG-IDAT-SHORT",
            at,
            format!(
                "the image data inflates to {} bytes; IHDR's size needs {}: the bottom of the \
                 image is missing",
                rw.total, rw.expected
            ),
        );
    } else if rw.total > rw.expected {
        out.warning(
            "PNG-IDAT-EXTRA",
            at,
            format!(
                "the image data inflates to {} bytes, more than the {} IHDR's size needs",
                rw.total, rw.expected
            ),
        );
    } else if !rw.ended {
        out.warning(
            "PNG-IDAT-UNFINISHED",
            at,
            "the compressed image data has all its pixels but its zlib stream does not end",
        );
    }
    if rw.trailing > 0 {
        out.warning(
            "PNG-IDAT-TRAILING",
            at,
            format!(
                "{} compressed bytes follow the end of the image data's zlib stream",
                rw.trailing
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::{codes, codes_of, one, Severity};
    use Severity::*;

    fn chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(typ);
        c.extend_from_slice(data);
        let mut h = crc32fast::Hasher::new();
        h.update(typ);
        h.update(data);
        c.extend_from_slice(&h.finalize().to_be_bytes());
        c
    }

    fn ihdr(w: u32, h: u32, depth: u8, colour: u8, interlace: u8) -> Vec<u8> {
        let mut d = w.to_be_bytes().to_vec();
        d.extend_from_slice(&h.to_be_bytes());
        d.extend_from_slice(&[depth, colour, 0, 0, interlace]);
        chunk(b"IHDR", &d)
    }

    fn zlib(raw: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(raw).unwrap_or_default();
        z.finish().unwrap_or_default()
    }

    /// A PNG of the chunks given between the signature and IEND.
    fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut f = b"\x89PNG\r\n\x1a\n".to_vec();
        for c in chunks {
            f.extend_from_slice(c);
        }
        f.extend_from_slice(&chunk(b"IEND", &[]));
        f
    }

    /// An 8-bit greyscale 10×6 image's raw rows (filter byte 0 and 10 pixels each).
    fn rows(n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| [0u8; 11]).collect()
    }

    fn grey() -> Vec<u8> {
        png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&rows(6)))])
    }

    #[test]
    fn valid_pngs_have_no_findings() {
        assert_eq!(codes_of(&grey()), (vec![], None));
        // The IDAT split in two chunks, and ancillary chunks in their places.
        let z = zlib(&rows(6));
        let f = png(&[
            ihdr(10, 6, 8, 0, 0),
            chunk(b"gAMA", &[0, 0, 0xB1, 0x8F]),
            chunk(b"pHYs", &[0, 0, 0x2E, 0x23, 0, 0, 0x2E, 0x23, 1]),
            chunk(b"IDAT", &z[..5]),
            chunk(b"IDAT", &z[5..]),
            chunk(b"tEXt", b"Title\0scan"),
        ]);
        assert_eq!(codes(&f), vec![]);
        // Interlaced: 10×6 at 8 bits, Adam7 passes of 2×1, 1×1, 3×1, 2×2, 5×1, 5×3, 10×3.
        let mut raw = Vec::new();
        for (pw, ph) in [(2, 1), (1, 1), (3, 1), (2, 2), (5, 1), (5, 3), (10, 3)] {
            for _ in 0..ph {
                raw.push(0);
                raw.extend(std::iter::repeat_n(0u8, pw));
            }
        }
        let f = png(&[ihdr(10, 6, 8, 0, 1), chunk(b"IDAT", &zlib(&raw))]);
        assert_eq!(codes(&f), vec![]);
        // A palette image with its PLTE.
        let f = png(&[
            ihdr(10, 6, 8, 3, 0),
            chunk(b"PLTE", &[0; 6]),
            chunk(b"IDAT", &zlib(&rows(6))),
        ]);
        assert_eq!(codes(&f), vec![]);
    }

    #[test]
    fn a_crc_error_is_not_well_formed() {
        let mut f = grey();
        f[8 + 8 + 3] ^= 1; // the width's low byte: IHDR's CRC no longer matches
        let c = codes(&f);
        assert_eq!(c[0], ("PNG-CRC".to_string(), NotWellFormed), "{c:?}");
        let mut f = grey();
        let n = f.len();
        f[n - 12 - 6] ^= 0x55; // inside IDAT's compressed data or CRC
        assert!(codes(&f).contains(&("PNG-CRC".to_string(), NotWellFormed)));
    }

    #[test]
    fn short_image_data_is_not_well_formed() {
        let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&rows(5)))]);
        assert_eq!(codes(&f), one("PNG-IDAT-SHORT", NotWellFormed));
        let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&rows(7)))]);
        assert_eq!(codes(&f), one("PNG-IDAT-EXTRA", Warning));
        let mut raw = rows(6);
        raw[22] = 9;
        let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&raw))]);
        assert_eq!(codes(&f), one("PNG-FILTER-TYPE", NotWellFormed));
        let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", b"not zlib data")]);
        assert_eq!(codes(&f), one("PNG-IDAT-ZLIB", NotWellFormed));
    }

    #[test]
    fn truncation_is_found() {
        let f = grey();
        assert_eq!(codes(&f[..f.len() - 12]), one("PNG-NO-IEND", NotWellFormed));
        assert_eq!(
            codes(&f[..f.len() - 20]),
            one("PNG-TRUNCATED", NotWellFormed)
        );
        assert_eq!(codes(&f[..20]), one("PNG-TRUNCATED", NotWellFormed));
        let mut g = f.clone();
        g.extend_from_slice(b"junk");
        assert_eq!(codes(&g), one("PNG-AFTER-IEND", Warning));
    }

    #[test]
    fn ihdr_and_chunk_rules() {
        let idat = chunk(b"IDAT", &zlib(&rows(6)));
        let c = |chunks: &[Vec<u8>]| codes(&png(chunks));
        assert_eq!(
            c(&[ihdr(10, 6, 3, 0, 0), idat.clone()]),
            one("PNG-IHDR-DEPTH", NotWellFormed)
        );
        assert_eq!(
            c(&[ihdr(0, 6, 8, 0, 0), idat.clone()]),
            one("PNG-IHDR-SIZE", NotWellFormed)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 0, 2), idat.clone()]),
            one("PNG-IHDR-INTERLACE", NotWellFormed)
        );
        assert_eq!(
            c(std::slice::from_ref(&idat)),
            one("PNG-IHDR-FIRST", NotWellFormed)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 3, 0), idat.clone()]),
            one("PNG-PLTE-MISSING", NotWellFormed)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 0, 0), chunk(b"PLTE", &[0; 6]), idat.clone()]),
            one("PNG-PLTE-FORBIDDEN", NotValid)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 3, 0), chunk(b"PLTE", &[0; 7]), idat.clone()]),
            one("PNG-PLTE-LENGTH", NotWellFormed)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 0, 0), chunk(b"ABCD", &[]), idat.clone()]),
            one("PNG-CHUNK-UNKNOWN-CRITICAL", NotValid)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 0, 0), idat.clone(), chunk(b"gAMA", &[0; 4])]),
            one("PNG-CHUNK-ORDER", NotValid)
        );
        let z = zlib(&rows(6));
        assert_eq!(
            c(&[
                ihdr(10, 6, 8, 0, 0),
                chunk(b"IDAT", &z[..5]),
                chunk(b"tEXt", b"a\0b"),
                chunk(b"IDAT", &z[5..]),
            ]),
            one("PNG-IDAT-SPLIT", NotWellFormed)
        );
        assert_eq!(
            c(&[ihdr(10, 6, 8, 0, 0)]),
            one("PNG-NO-IDAT", NotWellFormed)
        );
        let mut f = grey();
        f[1] = b'Q';
        let mut out = super::super::Findings::default();
        let len = f.len() as u64;
        super::validate(&mut std::io::Cursor::new(&f), len, &mut out).unwrap_or_default();
        let got: Vec<_> = out.finish().into_iter().map(|x| x.code).collect();
        assert_eq!(got, vec!["PNG-SIGNATURE".to_string()]);
    }

    #[test]
    fn truncation_and_damage_never_panic() {
        super::super::damage_never_panics(&grey());
        let f = png(&[
            ihdr(10, 6, 8, 3, 0),
            chunk(b"PLTE", &[0; 6]),
            chunk(b"IDAT", &zlib(&rows(6))),
        ]);
        super::super::damage_never_panics(&f);
    }

    #[test]
    #[ignore = "needs python3 with Pillow; run by hand"]
    fn pngs_written_by_pillow_are_valid() {
        let script = r#"
import sys
from PIL import Image
d = sys.argv[1]
for m in ["1", "L", "LA", "RGB", "RGBA", "P", "I;16"]:
    im = Image.effect_noise((301, 203), 60).convert(m)
    im.save(f"{d}/{m.replace(';', '')}.png", dpi=(300, 300))
    im.save(f"{d}/{m.replace(';', '')}-opt.png", optimize=True)
"#;
        super::super::python_files_are_valid("png", script);
    }
}
