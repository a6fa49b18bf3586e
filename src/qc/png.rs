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

use super::Findings;

mod chunks;
mod idat;
use idat::{image_data, Rows};

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
    let mut p = Png {
        s,
        len,
        pos: 8,
        header: None,
        rows: None,
        plte: false,
        idat_seen: false,
        idat_ended: false,
        buf: vec![0u8; BUF],
    };
    while let Some(c) = p.chunk_header(out)? {
        if !p.order(out, &c) {
            break;
        }
        let head = p.data(out, &c)?;
        match p.contents(out, &c, &head) {
            Flow::Next => {}
            Flow::Stop => break,
            Flow::Done => return Ok(None),
        }
    }
    if let Some(rw) = &p.rows {
        if p.idat_seen {
            image_data(out, p.pos, rw);
        }
    }
    Ok(None)
}

/// The reading of a PNG file, chunk by chunk, and what the stages share.
struct Png<R> {
    s: BufReader<R>,
    len: u64,
    /// Where the next chunk starts.
    pos: u64,
    header: Option<Header>,
    /// The image data's inflater and counter, once IHDR is read.
    rows: Option<Rows>,
    plte: bool,
    idat_seen: bool,
    /// A chunk other than IDAT came after IDAT.
    idat_ended: bool,
    buf: Vec<u8>,
}

/// A chunk's header: where it starts, its data length and its type (as text too).
struct Chunk {
    at: u64,
    n: u64,
    typ: [u8; 4],
    name: String,
}

/// What the chunk loop does after a chunk.
enum Flow {
    /// Read the next chunk.
    Next,
    /// Stop reading, then compare the image data with IHDR.
    Stop,
    /// The file is done (IEND).
    Done,
}

impl<R: Read> Png<R> {
    /// Feeds a chunk's data through its CRC and, for IDAT, the inflater, then checks the
    /// CRC; the first 64 bytes of the data, which the small chunks' checks read.
    fn data(&mut self, out: &mut Findings, c: &Chunk) -> std::io::Result<[u8; 64]> {
        let (at, n, name) = (c.at, c.n, &c.name);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&c.typ);
        let small = n <= 64;
        let mut head = [0u8; 64];
        let mut left = n;
        while left > 0 {
            let k = (left as usize).min(self.buf.len());
            let b = &mut self.buf[..k];
            self.s.read_exact(b)?;
            crc.update(b);
            if small {
                head[..k].copy_from_slice(b);
            }
            if &c.typ == b"IDAT" {
                if let Some(rw) = self.rows.as_mut() {
                    rw.feed(b, at, out);
                }
            }
            left -= k as u64;
        }
        let mut crc_bytes = [0u8; 4];
        self.s.read_exact(&mut crc_bytes)?;
        self.pos += n + 4;
        if crc.finalize() != u32::from_be_bytes(crc_bytes) {
            out.not_well_formed(
                "PNG-CRC",
                at,
                format!(
                    "the CRC of the {name} chunk at byte {at} does not match its data: the \
                     chunk is damaged"
                ),
            );
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests;
