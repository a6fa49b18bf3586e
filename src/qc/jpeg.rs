//! JPEG validation, as ITU T.81 and libjpeg read a file: SOI first, every marker
//! segment's length inside the file, one frame (SOF) before the first scan (SOS), the
//! frame's and scans' fields, the quantisation and Huffman tables a scan uses, then the
//! entropy-coded data streamed to its end (stuffed bytes, restart markers in sequence
//! when DRI set them), EOI present and nothing after it; and the JFIF APP0 and Exif APP1
//! segments' structure.
//!
//! Memory is bounded whatever the file's size: one [`BUF`] read buffer and one marker
//! segment (at most 64 KiB) at a time. The file is read once, front to back.

use std::io::{BufRead, BufReader, Read, Seek};

use super::Findings;

mod entropy;
mod segments;
use entropy::entropy;
use segments::{dht, dqt, exif, jfif, sof, sos};

/// The read buffer.
const BUF: usize = 256 * 1024;

/// A buffered reader that knows its position.
struct Stream<R> {
    r: BufReader<R>,
    pos: u64,
}

impl<R: Read> Stream<R> {
    /// The next byte, or `None` at the end.
    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let buf = self.r.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.r.consume(1);
        self.pos += 1;
        Ok(Some(b))
    }

    fn exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.r.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let k = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink())?;
        self.pos += k;
        Ok(())
    }
}

fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

/// The frame: what the scans refer to.
#[derive(Default)]
struct Frame {
    marker: u8,
    height: u16,
    /// (component id, quantisation table) per component.
    comps: Vec<(u8, u8)>,
    at: u64,
}

#[derive(Default)]
struct State {
    frame: Option<Frame>,
    frames: u32,
    scans: u32,
    dqt: [bool; 4],
    dht_dc: [bool; 4],
    dht_ac: [bool; 4],
    dht_warned: bool,
    dqt_checked: bool,
    restart: u16,
    dnl: bool,
    segments: u32,
}

/// Validates a JPEG file of `len` bytes; JPEG has no pages.
pub(super) fn validate<R: Read + Seek>(
    r: &mut R,
    len: u64,
    out: &mut Findings,
) -> std::io::Result<Option<u32>> {
    let mut s = Stream {
        r: BufReader::with_capacity(BUF, r),
        pos: 0,
    };
    let mut soi = [0u8; 2];
    if len < 2 || {
        s.exact(&mut soi)?;
        soi != [0xFF, 0xD8]
    } {
        out.not_well_formed("JPEG-NO-SOI", 0, "the file does not start with SOI (FF D8)");
        return Ok(None);
    }
    let mut st = State::default();
    let mut seg = vec![0u8; 65535];
    // A marker found at the end of entropy-coded data, already read.
    let mut pending: Option<(u8, u64)> = None;
    loop {
        let (m, at) = match pending.take() {
            Some(p) => p,
            None => match next_marker(&mut s, out, &st)? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        match standalone(out, m, at, s.pos, len, &st) {
            Next::Stop => return Ok(None),
            Next::Segment => {}
            Next::Marker | Next::Pending(..) => continue,
        }
        match segment(&mut s, out, &mut seg, (m, at), len, &mut st)? {
            Next::Stop => return Ok(None),
            Next::Pending(m, at) => pending = Some((m, at)),
            Next::Marker | Next::Segment => {}
        }
    }
}

/// What the reading loop does next.
enum Next {
    /// Stop: the image ended, or the file cannot be followed further.
    Stop,
    /// Read the next marker.
    Marker,
    /// Go on with this marker, found at the end of entropy-coded data.
    Pending(u8, u64),
    /// Read the marker's segment.
    Segment,
}

/// Reads the next marker (FF, fill bytes, the marker byte) and where it starts, or
/// `None` (reported) when the file ends first or no marker is there.
fn next_marker<R: Read>(
    s: &mut Stream<R>,
    out: &mut Findings,
    st: &State,
) -> std::io::Result<Option<(u8, u64)>> {
    let at = s.pos;
    let Some(b) = s.byte()? else {
        missing_eoi(out, at, st);
        return Ok(None);
    };
    if b != 0xFF {
        out.not_well_formed(
            "JPEG-MARKER-EXPECTED",
            at,
            format!(
                "a marker (FF xx) was expected at byte {at}, found {b:#04x}: a \
                 segment length is wrong or the data is damaged here"
            ),
        );
        return Ok(None);
    }
    let mut m = 0xFF;
    while m == 0xFF {
        match s.byte()? {
            Some(b) => m = b,
            None => {
                missing_eoi(out, s.pos, st);
                return Ok(None);
            }
        }
    }
    Ok(Some((m, at)))
}

/// Handles the markers without a segment (EOI, SOI, RSTn, TEM, reserved) at `at`,
/// `pos` being the position after it: [`Next::Segment`] for every other marker.
fn standalone(out: &mut Findings, m: u8, at: u64, pos: u64, len: u64, st: &State) -> Next {
    match m {
        0xD9 => {
            eoi(out, at, st);
            if pos < len {
                out.warning(
                    "JPEG-AFTER-EOI",
                    pos,
                    format!(
                        "{} bytes follow the end of the image (EOI at byte {at}): another \
                         file appended, or padding",
                        len - pos
                    ),
                );
            }
            Next::Stop
        }
        0xD8 => {
            out.not_well_formed(
                "JPEG-SOI-AGAIN",
                at,
                format!("a second SOI at byte {at}: two images run together, or damage"),
            );
            Next::Stop
        }
        0xD0..=0xD7 => {
            out.not_well_formed(
                "JPEG-RST-OUTSIDE",
                at,
                format!("a restart marker at byte {at} outside entropy-coded data"),
            );
            Next::Marker
        }
        0x01 => Next::Marker,
        0x00 | 0x02..=0xBF => {
            out.not_well_formed(
                "JPEG-MARKER-RESERVED",
                at,
                format!("the reserved marker FF {m:02X} at byte {at}: the data is damaged here"),
            );
            Next::Stop
        }
        _ => Next::Segment,
    }
}

/// Reads the segment of marker `m` at `at` into `seg` (or skips it when nothing in it
/// is checked) and checks it; after a scan, streams through its entropy-coded data.
fn segment<R: Read>(
    s: &mut Stream<R>,
    out: &mut Findings,
    seg: &mut [u8],
    (m, at): (u8, u64),
    len: u64,
    st: &mut State,
) -> std::io::Result<Next> {
    let mut lb = [0u8; 2];
    if len.saturating_sub(s.pos) < 2 {
        truncated(out, at, m, len);
        return Ok(Next::Stop);
    }
    s.exact(&mut lb)?;
    let l = u16::from_be_bytes(lb) as u64;
    if l < 2 {
        out.not_well_formed(
            "JPEG-SEGMENT-LENGTH",
            at,
            format!("the segment FF {m:02X} at byte {at} says it has {l} bytes, fewer than 2"),
        );
        return Ok(Next::Stop);
    }
    if s.pos + l - 2 > len {
        truncated(out, at, m, len);
        return Ok(Next::Stop);
    }
    st.segments += 1;
    let body = &mut seg[..l as usize - 2];
    let parse = is_sof(m) || matches!(m, 0xC4 | 0xDB | 0xDA | 0xDD | 0xDC | 0xE0 | 0xE1);
    if parse {
        s.exact(body)?;
    } else {
        s.skip(l - 2)?;
        return Ok(Next::Marker);
    }
    let body = &seg[..l as usize - 2];
    match m {
        0xDB => dqt(out, at, body, st),
        0xC4 => dht(out, at, body, st),
        0xDD => {
            if body.len() != 2 {
                out.not_well_formed(
                    "JPEG-DRI-LENGTH",
                    at,
                    format!("the DRI segment at byte {at} has {} bytes, not 4", l),
                );
            } else {
                st.restart = u16::from_be_bytes([body[0], body[1]]);
            }
        }
        0xDC => {
            if st.scans == 0 {
                out.not_valid(
                    "JPEG-DNL-PLACE",
                    at,
                    format!("a DNL segment at byte {at} before the first scan"),
                );
            }
            st.dnl = true;
        }
        0xE0 => jfif(out, at, body, st.segments),
        0xE1 => exif(out, at, body),
        0xDA => {
            if !sos(out, at, body, st) {
                return Ok(Next::Stop);
            }
            return match entropy(s, out, st.restart)? {
                Some((m, at)) => Ok(Next::Pending(m, at)),
                None => {
                    missing_eoi(out, s.pos, st);
                    Ok(Next::Stop)
                }
            };
        }
        _ => sof(out, at, m, body, st),
    }
    Ok(Next::Marker)
}

fn truncated(out: &mut Findings, at: u64, m: u8, len: u64) {
    out.not_well_formed(
        "JPEG-TRUNCATED",
        at,
        format!(
            "the segment FF {m:02X} at byte {at} runs past the end of the file ({len} bytes): \
             the file is truncated"
        ),
    );
}

fn missing_eoi(out: &mut Findings, at: u64, st: &State) {
    out.not_well_formed(
        "JPEG-NO-EOI",
        at,
        format!(
            "the file ends at byte {at} without EOI (FF D9){}: it is truncated, the bottom \
             of the image is likely missing",
            if st.scans > 0 {
                " inside the image data"
            } else {
                ""
            }
        ),
    );
}

fn eoi(out: &mut Findings, at: u64, st: &State) {
    if st.frame.is_none() {
        out.not_well_formed(
            "JPEG-NO-FRAME",
            at,
            "EOI without a frame header (SOF): there is no image",
        );
    } else if st.scans == 0 {
        out.not_well_formed(
            "JPEG-NO-SCAN",
            at,
            "EOI without a scan (SOS): there is no image data",
        );
    }
    if let Some(f) = &st.frame {
        if f.height == 0 && !st.dnl {
            // Without a DNL segment the image's height cannot be known: no decoder can
            // read it (Pillow refuses it), so the structure is broken, not a rule.
            out.not_well_formed(
                "JPEG-NO-DNL",
                f.at,
                "the frame's height is 0 and no DNL segment gives it: the image's height cannot be known",
            );
        }
    }
}

#[cfg(test)]
mod tests;
