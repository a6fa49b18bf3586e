//! The chunk stages of PNG validation: each chunk's header (type, length, inside the
//! file), the order rules, and the contents of IHDR, PLTE and IEND.

use std::io::Read;

use super::{image_data, Chunk, Findings, Flow, Header, Png, Rows, BEFORE_IDAT, BEFORE_PLTE};

impl<R: Read> Png<R> {
    /// Reads the next chunk's length and type and checks they can be followed; `None`
    /// (reported) when the file ends or the chunk cannot be read.
    pub(super) fn chunk_header(&mut self, out: &mut Findings) -> std::io::Result<Option<Chunk>> {
        let (pos, len) = (self.pos, self.len);
        if pos == len {
            out.not_well_formed(
                "PNG-NO-IEND",
                pos,
                format!("the file ends at byte {pos} without an IEND chunk: it is truncated"),
            );
            return Ok(None);
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
            return Ok(None);
        }
        let at = pos;
        let mut h = [0u8; 8];
        self.s.read_exact(&mut h)?;
        self.pos += 8;
        let pos = self.pos;
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
            return Ok(None);
        }
        if n > 0x7FFF_FFFF {
            out.not_well_formed(
                "PNG-CHUNK-LENGTH",
                at,
                format!("the {name} chunk at byte {at} says it has {n} bytes, more than 2^31−1"),
            );
            return Ok(None);
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
            return Ok(None);
        }
        Ok(Some(Chunk { at, n, typ, name }))
    }

    /// Checks the order rules before the chunk's data: IHDR first (`false` when it is
    /// not: reading stops), PLTE and IDAT, the ancillary chunks placed before them,
    /// unknown critical chunks and the reserved bit.
    pub(super) fn order(&mut self, out: &mut Findings, c: &Chunk) -> bool {
        let (at, typ, name) = (c.at, &c.typ, &c.name);
        let first = self.header.is_none() && typ != b"IHDR";
        if first {
            out.not_well_formed(
                "PNG-IHDR-FIRST",
                at,
                format!("the first chunk is {name}, not IHDR"),
            );
            return false;
        }
        if self.idat_seen && typ != b"IDAT" {
            self.idat_ended = true;
        }
        match typ {
            b"IHDR" if self.header.is_some() => out.not_well_formed(
                "PNG-IHDR-MULTIPLE",
                at,
                format!("a second IHDR chunk at byte {at}"),
            ),
            b"PLTE" => {
                if self.plte {
                    out.not_well_formed(
                        "PNG-PLTE-MULTIPLE",
                        at,
                        format!("a second PLTE chunk at byte {at}"),
                    );
                }
                if self.idat_seen {
                    out.not_well_formed(
                        "PNG-PLTE-ORDER",
                        at,
                        format!("the PLTE chunk at byte {at} comes after the image data (IDAT)"),
                    );
                }
                self.plte = true;
            }
            b"IDAT" => self.idat_order(out, at),
            t if BEFORE_PLTE.contains(&t) && (self.plte || self.idat_seen) => out.not_valid(
                "PNG-CHUNK-ORDER",
                at,
                format!("the {name} chunk at byte {at} must come before PLTE and IDAT"),
            ),
            t if BEFORE_IDAT.contains(&t) && self.idat_seen => out.not_valid(
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
        true
    }

    /// The order rules of an IDAT chunk at `at`: consecutive, after PLTE in a palette
    /// image.
    fn idat_order(&mut self, out: &mut Findings, at: u64) {
        if self.idat_ended {
            out.not_well_formed(
                "PNG-IDAT-SPLIT",
                at,
                format!(
                    "the IDAT chunk at byte {at} follows another chunk after the \
                     image data: IDAT chunks must be consecutive"
                ),
            );
            self.idat_ended = false;
        }
        if !self.idat_seen {
            self.idat_seen = true;
            if self.header.is_some_and(|h| h.colour == 3) && !self.plte {
                out.not_well_formed(
                    "PNG-PLTE-MISSING",
                    at,
                    "a palette image (colour type 3) without a PLTE chunk before its \
                     image data: its colours are unknown",
                );
            }
        }
    }

    /// Checks the contents of IHDR, PLTE and IEND (`head`: the first 64 bytes of the
    /// chunk's data), after the data was read.
    pub(super) fn contents(&mut self, out: &mut Findings, c: &Chunk, head: &[u8; 64]) -> Flow {
        let (at, n, pos, len) = (c.at, c.n, self.pos, self.len);
        let small = n <= 64;
        let data = &head[..n.min(64) as usize];
        match &c.typ {
            b"IHDR" if self.header.is_none() => {
                let Some(hd) = ihdr(out, at, data, small && n == 13) else {
                    return Flow::Stop;
                };
                self.header = Some(hd);
                self.rows = Some(Rows::new(&hd));
            }
            b"PLTE" => {
                let entries = n / 3;
                let max = match self.header {
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
                if self.header.is_some_and(|h| h.colour == 0 || h.colour == 4) {
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
                if !self.idat_seen {
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
                if let Some(rw) = self.rows.as_ref().filter(|_| self.idat_seen) {
                    image_data(out, at, rw);
                }
                return Flow::Done;
            }
            _ => {}
        }
        Flow::Next
    }
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
