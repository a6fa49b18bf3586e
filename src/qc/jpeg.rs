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
            None => {
                let at = s.pos;
                let Some(b) = s.byte()? else {
                    missing_eoi(out, at, &st);
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
                            missing_eoi(out, s.pos, &st);
                            return Ok(None);
                        }
                    }
                }
                (m, at)
            }
        };
        match m {
            0xD9 => {
                eoi(out, at, &st);
                if s.pos < len {
                    out.warning(
                        "JPEG-AFTER-EOI",
                        s.pos,
                        format!(
                            "{} bytes follow the end of the image (EOI at byte {at}): another \
                             file appended, or padding",
                            len - s.pos
                        ),
                    );
                }
                return Ok(None);
            }
            0xD8 => {
                out.not_well_formed(
                    "JPEG-SOI-AGAIN",
                    at,
                    format!("a second SOI at byte {at}: two images run together, or damage"),
                );
                return Ok(None);
            }
            0xD0..=0xD7 => {
                out.not_well_formed(
                    "JPEG-RST-OUTSIDE",
                    at,
                    format!("a restart marker at byte {at} outside entropy-coded data"),
                );
                continue;
            }
            0x01 => continue,
            0x00 | 0x02..=0xBF => {
                out.not_well_formed(
                    "JPEG-MARKER-RESERVED",
                    at,
                    format!(
                        "the reserved marker FF {m:02X} at byte {at}: the data is damaged here"
                    ),
                );
                return Ok(None);
            }
            _ => {}
        }
        // A marker segment.
        let mut lb = [0u8; 2];
        if len.saturating_sub(s.pos) < 2 {
            truncated(out, at, m, len);
            return Ok(None);
        }
        s.exact(&mut lb)?;
        let l = u16::from_be_bytes(lb) as u64;
        if l < 2 {
            out.not_well_formed(
                "JPEG-SEGMENT-LENGTH",
                at,
                format!("the segment FF {m:02X} at byte {at} says it has {l} bytes, fewer than 2"),
            );
            return Ok(None);
        }
        if s.pos + l - 2 > len {
            truncated(out, at, m, len);
            return Ok(None);
        }
        st.segments += 1;
        let body = &mut seg[..l as usize - 2];
        let parse = is_sof(m) || matches!(m, 0xC4 | 0xDB | 0xDA | 0xDD | 0xDC | 0xE0 | 0xE1);
        if parse {
            s.exact(body)?;
        } else {
            s.skip(l - 2)?;
            continue;
        }
        let body = &seg[..l as usize - 2];
        match m {
            0xDB => dqt(out, at, body, &mut st),
            0xC4 => dht(out, at, body, &mut st),
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
                if !sos(out, at, body, &mut st) {
                    return Ok(None);
                }
                match entropy(&mut s, out, st.restart)? {
                    Some(p) => pending = Some(p),
                    None => {
                        missing_eoi(out, s.pos, &st);
                        return Ok(None);
                    }
                }
            }
            _ => sof(out, at, m, body, &mut st),
        }
    }
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
            out.not_valid(
                "JPEG-NO-DNL",
                f.at,
                "the frame's height is 0 and no DNL segment gives it",
            );
        }
    }
}

fn dqt(out: &mut Findings, at: u64, mut b: &[u8], st: &mut State) {
    while !b.is_empty() {
        let pq = b[0] >> 4;
        let tq = b[0] & 15;
        let n = if pq == 0 { 64 } else { 128 };
        if pq > 1 || tq > 3 {
            out.not_valid(
                "JPEG-DQT",
                at,
                format!(
                    "the DQT segment at byte {at} defines table {tq} with precision {pq}; \
                     tables are 0 to 3, precision 0 or 1"
                ),
            );
        }
        if b.len() < 1 + n {
            out.not_well_formed(
                "JPEG-DQT-LENGTH",
                at,
                format!("the DQT segment at byte {at} ends inside a table"),
            );
            return;
        }
        if tq <= 3 {
            st.dqt[tq as usize] = true;
        }
        b = &b[1 + n..];
    }
}

fn dht(out: &mut Findings, at: u64, mut b: &[u8], st: &mut State) {
    while !b.is_empty() {
        if b.len() < 17 {
            out.not_well_formed(
                "JPEG-DHT-LENGTH",
                at,
                format!("the DHT segment at byte {at} ends inside a table"),
            );
            return;
        }
        let tc = b[0] >> 4;
        let th = b[0] & 15;
        let n: usize = b[1..17].iter().map(|&c| c as usize).sum();
        if tc > 1 || th > 3 || n > 256 {
            out.not_valid(
                "JPEG-DHT",
                at,
                format!(
                    "the DHT segment at byte {at} defines class {tc} table {th} with {n} codes; \
                     classes are 0 or 1, tables 0 to 3, at most 256 codes"
                ),
            );
        }
        if b.len() < 17 + n {
            out.not_well_formed(
                "JPEG-DHT-LENGTH",
                at,
                format!("the DHT segment at byte {at} ends inside a table"),
            );
            return;
        }
        if th <= 3 {
            match tc {
                0 => st.dht_dc[th as usize] = true,
                1 => st.dht_ac[th as usize] = true,
                _ => {}
            }
        }
        b = &b[17 + n..];
    }
}

fn sof(out: &mut Findings, at: u64, m: u8, b: &[u8], st: &mut State) {
    st.frames += 1;
    if st.frames > 1 {
        out.not_valid(
            "JPEG-SOF-MULTIPLE",
            at,
            format!(
                "a second frame header (FF {m:02X}) at byte {at}: a JPEG has one frame (no \
                 hierarchical mode is expected in a scan)"
            ),
        );
        return;
    }
    if b.len() < 6 {
        out.not_well_formed(
            "JPEG-SOF-LENGTH",
            at,
            format!("the frame header at byte {at} is too short"),
        );
        return;
    }
    let p = b[0];
    let h = u16::from_be_bytes([b[1], b[2]]);
    let w = u16::from_be_bytes([b[3], b[4]]);
    let nf = b[5] as usize;
    if b.len() != 6 + 3 * nf {
        out.not_well_formed(
            "JPEG-SOF-LENGTH",
            at,
            format!(
                "the frame header at byte {at} has {} bytes for {nf} components, which need {}",
                b.len() + 2,
                8 + 3 * nf
            ),
        );
        return;
    }
    let ok_p = match m {
        0xC0 => p == 8,
        0xC3 | 0xC7 | 0xCB | 0xCF => (2..=16).contains(&p),
        _ => p == 8 || p == 12,
    };
    if !ok_p {
        out.not_valid(
            "JPEG-SOF-PRECISION",
            at,
            format!("the frame (FF {m:02X}) at byte {at} has sample precision {p}, not allowed for its process"),
        );
    }
    if nf == 0 || nf > 4 {
        out.not_valid(
            "JPEG-SOF-COMPONENTS",
            at,
            format!("the frame at byte {at} has {nf} components; an image has 1 to 4"),
        );
    }
    if w == 0 {
        out.not_valid(
            "JPEG-SOF-SIZE",
            at,
            format!("the frame at byte {at} says the image is 0 pixels wide"),
        );
    }
    let mut comps = Vec::with_capacity(nf);
    for c in b[6..].chunks_exact(3) {
        let (hs, vs, tq) = (c[1] >> 4, c[1] & 15, c[2]);
        if !(1..=4).contains(&hs) || !(1..=4).contains(&vs) || tq > 3 {
            out.not_valid(
                "JPEG-SOF-COMPONENT",
                at,
                format!(
                    "component {} of the frame at byte {at} has sampling {hs}×{vs} and table \
                     {tq}; sampling is 1 to 4, tables 0 to 3",
                    c[0]
                ),
            );
        }
        comps.push((c[0], tq));
    }
    st.frame = Some(Frame {
        marker: m,
        height: h,
        comps,
        at,
    });
}

/// Checks a scan header; whether the scan's data can be followed.
fn sos(out: &mut Findings, at: u64, b: &[u8], st: &mut State) -> bool {
    let Some(f) = &st.frame else {
        out.not_well_formed(
            "JPEG-SOS-BEFORE-SOF",
            at,
            format!("a scan (SOS) at byte {at} before any frame header (SOF)"),
        );
        return false;
    };
    st.scans += 1;
    let ns = b.first().copied().unwrap_or(0) as usize;
    if ns == 0 || ns > 4 || b.len() != 4 + 2 * ns {
        out.not_well_formed(
            "JPEG-SOS-LENGTH",
            at,
            format!(
                "the scan header at byte {at} has {} bytes for {ns} components (1 to 4), \
                 which need {}",
                b.len() + 2,
                6 + 2 * ns
            ),
        );
        return false;
    }
    if !st.dqt_checked {
        st.dqt_checked = true;
        for &(id, tq) in &f.comps {
            if tq <= 3 && !st.dqt[tq as usize] {
                out.not_valid(
                    "JPEG-DQT-MISSING",
                    at,
                    format!(
                        "component {id} uses quantisation table {tq}, which no DQT before the \
                         first scan defines: the image cannot be decoded"
                    ),
                );
            }
        }
    }
    let huffman = f.marker <= 0xC7;
    // A progressive scan uses the DC tables (first DC scans) or the AC tables only.
    let progressive = matches!(f.marker, 0xC2 | 0xC6);
    let (ss, ah) = (b[1 + 2 * ns], b[3 + 2 * ns] >> 4);
    let uses_dc = !progressive || (ss == 0 && ah == 0);
    let uses_ac = !progressive || ss > 0;
    for c in b[1..1 + 2 * ns].chunks_exact(2) {
        if !f.comps.iter().any(|&(id, _)| id == c[0]) {
            out.not_valid(
                "JPEG-SOS-COMPONENT",
                at,
                format!(
                    "the scan at byte {at} names component {}, which the frame does not have",
                    c[0]
                ),
            );
        }
        let (td, ta) = ((c[1] >> 4) as usize, (c[1] & 15) as usize);
        if huffman && !st.dht_warned {
            let missing =
                (uses_dc && (td > 3 || !st.dht_dc[td])) || (uses_ac && (ta > 3 || !st.dht_ac[ta]));
            if missing {
                st.dht_warned = true;
                out.warning(
                    "JPEG-DHT-MISSING",
                    at,
                    format!(
                        "the scan at byte {at} uses Huffman tables DC {td} / AC {ta} that no \
                         DHT defines: readers must assume the standard tables (as Motion-JPEG \
                         does)"
                    ),
                );
            }
        }
    }
    true
}

/// Streams through entropy-coded data to the next marker: that marker and its place, or
/// `None` when the file ends first.
fn entropy<R: Read>(
    s: &mut Stream<R>,
    out: &mut Findings,
    restart: u16,
) -> std::io::Result<Option<(u8, u64)>> {
    let mut expect = 0u8;
    let mut warned = false;
    loop {
        let buf = s.r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let Some(i) = memchr::memchr(0xFF, buf) else {
            let n = buf.len();
            s.r.consume(n);
            s.pos += n as u64;
            continue;
        };
        s.r.consume(i + 1);
        let at = s.pos + i as u64;
        s.pos += i as u64 + 1;
        // The byte after FF (fill bytes FF may repeat).
        let m = loop {
            match s.byte()? {
                None => return Ok(None),
                Some(0xFF) => continue,
                Some(b) => break b,
            }
        };
        match m {
            0x00 => {}
            0xD0..=0xD7 => {
                let n = m - 0xD0;
                if restart == 0 {
                    if !warned {
                        warned = true;
                        out.not_valid(
                            "JPEG-RST-UNEXPECTED",
                            at,
                            format!(
                                "a restart marker (RST{n}) at byte {at}, but no DRI segment \
                                 set a restart interval"
                            ),
                        );
                    }
                } else if n != expect && !warned {
                    warned = true;
                    out.not_valid(
                        "JPEG-RST-SEQUENCE",
                        at,
                        format!(
                            "restart marker RST{n} at byte {at} where RST{expect} was expected: \
                             part of the image data is missing or damaged here"
                        ),
                    );
                }
                expect = (n + 1) % 8;
            }
            _ => return Ok(Some((m, at))),
        }
    }
}

fn jfif(out: &mut Findings, at: u64, b: &[u8], segments: u32) {
    if !b.starts_with(b"JFIF\0") {
        return;
    }
    if segments != 1 {
        out.warning(
            "JPEG-JFIF-PLACE",
            at,
            format!("the JFIF segment at byte {at} is not the first after SOI"),
        );
    }
    if b.len() < 14 {
        out.not_valid(
            "JPEG-JFIF-LENGTH",
            at,
            format!(
                "the JFIF segment at byte {at} is too short ({} bytes)",
                b.len() + 2
            ),
        );
        return;
    }
    let (major, minor, units) = (b[5], b[6], b[7]);
    let xd = u16::from_be_bytes([b[8], b[9]]);
    let yd = u16::from_be_bytes([b[10], b[11]]);
    let (tw, th) = (b[12] as usize, b[13] as usize);
    if major != 1 || minor > 2 {
        out.warning(
            "JPEG-JFIF-VERSION",
            at,
            format!("the JFIF segment at byte {at} says version {major}.{minor:02}; known are 1.00 to 1.02"),
        );
    }
    if units > 2 {
        out.not_valid(
            "JPEG-JFIF-UNITS",
            at,
            format!(
                "the JFIF segment at byte {at} has density units {units}; 0 (aspect ratio), 1 \
                 (per inch) or 2 (per cm)"
            ),
        );
    }
    if xd == 0 || yd == 0 {
        out.not_valid(
            "JPEG-JFIF-DENSITY",
            at,
            format!("the JFIF segment at byte {at} has density {xd}×{yd}; both must be above 0"),
        );
    }
    if b.len() < 14 + 3 * tw * th {
        out.not_valid(
            "JPEG-JFIF-LENGTH",
            at,
            format!(
                "the JFIF segment at byte {at} announces a {tw}×{th} thumbnail it has no room for"
            ),
        );
    }
}

fn exif(out: &mut Findings, at: u64, b: &[u8]) {
    if !b.starts_with(b"Exif\0") {
        return;
    }
    let t = b.get(6..).unwrap_or(&[]);
    let big = match t.get(..2) {
        Some(b"II") => false,
        Some(b"MM") => true,
        _ => {
            out.not_valid(
                "JPEG-EXIF-HEADER",
                at,
                format!(
                    "the Exif segment at byte {at} does not hold a TIFF header after \
                     \"Exif\\0\\0\": the camera metadata cannot be read"
                ),
            );
            return;
        }
    };
    let u16_ = |b: &[u8]| {
        if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }
    };
    if t.len() < 8 || u16_(&t[2..4]) != 42 {
        out.not_valid(
            "JPEG-EXIF-HEADER",
            at,
            format!("the TIFF header in the Exif segment at byte {at} is damaged (no 42)"),
        );
        return;
    }
    let o = [t[4], t[5], t[6], t[7]];
    let ifd = if big {
        u32::from_be_bytes(o)
    } else {
        u32::from_le_bytes(o)
    } as usize;
    let n = t.get(ifd..ifd.saturating_add(2)).map(u16_);
    let fits = n.is_some_and(|n| n > 0 && ifd + 2 + 12 * n as usize + 4 <= t.len());
    if !fits {
        out.not_valid(
            "JPEG-EXIF-IFD",
            at,
            format!(
                "IFD0 of the Exif segment at byte {at} (at {ifd} in the segment's TIFF data) \
                 is empty or runs past the segment: the camera metadata is damaged"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::{codes, codes_of, one, Severity};
    use Severity::*;

    fn seg(m: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, m];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    fn jfif() -> Vec<u8> {
        seg(0xE0, b"JFIF\0\x01\x02\x01\x01\x2c\x01\x2c\0\0")
    }

    fn dqt() -> Vec<u8> {
        let mut b = vec![0u8];
        b.extend_from_slice(&[1; 64]);
        seg(0xDB, &b)
    }

    fn sof() -> Vec<u8> {
        // 8-bit, 16 high, 16 wide, one component (id 1, 1×1, table 0).
        seg(0xC0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0])
    }

    fn dht() -> Vec<u8> {
        let mut b = vec![0x00, 0, 1];
        b.extend_from_slice(&[0; 14]);
        b.push(0);
        b.extend_from_slice(&[0x10, 0, 1]);
        b.extend_from_slice(&[0; 14]);
        b.push(0);
        seg(0xC4, &b)
    }

    fn sos() -> Vec<u8> {
        seg(0xDA, &[1, 1, 0x00, 0, 63, 0])
    }

    /// A structurally complete baseline JPEG; `data` is the entropy-coded data.
    fn jpeg(extra: &[Vec<u8>], data: &[u8]) -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        for s in [jfif(), dqt(), sof(), dht()].iter().chain(extra) {
            f.extend_from_slice(s);
        }
        f.extend_from_slice(&sos());
        f.extend_from_slice(data);
        f.extend_from_slice(&[0xFF, 0xD9]);
        f
    }

    const DATA: &[u8] = &[0x12, 0xFF, 0x00, 0x34, 0x56];

    #[test]
    fn a_valid_jpeg_has_no_findings() {
        assert_eq!(codes_of(&jpeg(&[], DATA)), (vec![], None));
    }

    #[test]
    fn a_missing_eoi_is_not_well_formed() {
        let f = jpeg(&[], DATA);
        assert_eq!(codes(&f[..f.len() - 2]), one("JPEG-NO-EOI", NotWellFormed));
        assert_eq!(codes(&f[..f.len() - 1]), one("JPEG-NO-EOI", NotWellFormed));
        // Cut inside a segment.
        assert_eq!(codes(&f[..30]), one("JPEG-TRUNCATED", NotWellFormed));
        let mut g = f.clone();
        g.extend_from_slice(b"appended");
        assert_eq!(codes(&g), one("JPEG-AFTER-EOI", Warning));
    }

    #[test]
    fn marker_order_and_lengths() {
        let mut f = vec![0xFF, 0xD8];
        f.extend_from_slice(&dqt());
        f.extend_from_slice(&sos());
        f.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(codes(&f), one("JPEG-SOS-BEFORE-SOF", NotWellFormed));
        // A segment length one too long: the next marker is not where it should be.
        let mut f = jpeg(&[], DATA);
        f[5] += 1;
        assert_eq!(codes(&f), one("JPEG-MARKER-EXPECTED", NotWellFormed));
        let f = jpeg(&[sof()], DATA);
        assert_eq!(codes(&f), one("JPEG-SOF-MULTIPLE", NotValid));
    }

    #[test]
    fn frame_fields_are_checked() {
        let f = jpeg(&[], DATA);
        let at = f.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap_or(0);
        let mut g = f.clone();
        g[at + 4] = 12;
        assert_eq!(codes(&g), one("JPEG-SOF-PRECISION", NotValid));
        let mut g = f.clone();
        g[at + 7] = 0;
        g[at + 8] = 0;
        assert_eq!(codes(&g), one("JPEG-SOF-SIZE", NotValid));
        let mut g = f.clone();
        g[at + 5] = 0;
        g[at + 6] = 0;
        assert_eq!(codes(&g), one("JPEG-NO-DNL", NotValid));
    }

    #[test]
    fn tables_a_scan_uses_must_be_defined() {
        let mut f = vec![0xFF, 0xD8];
        f.extend_from_slice(&sof());
        f.extend_from_slice(&sos());
        f.extend_from_slice(DATA);
        f.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(
            codes(&f),
            vec![
                ("JPEG-DQT-MISSING".to_string(), NotValid),
                ("JPEG-DHT-MISSING".to_string(), Warning)
            ]
        );
    }

    #[test]
    fn restart_markers_must_follow_in_sequence() {
        let dri = seg(0xDD, &[0, 4]);
        let good = [0x11, 0xFF, 0xD0, 0x22, 0xFF, 0xD1, 0x33, 0xFF, 0xD2];
        assert_eq!(codes(&jpeg(std::slice::from_ref(&dri), &good)), vec![]);
        let bad = [0x11, 0xFF, 0xD0, 0x22, 0xFF, 0xD2, 0x33];
        assert_eq!(
            codes(&jpeg(&[dri], &bad)),
            one("JPEG-RST-SEQUENCE", NotValid)
        );
        assert_eq!(
            codes(&jpeg(&[], &good)),
            one("JPEG-RST-UNEXPECTED", NotValid)
        );
    }

    #[test]
    fn jfif_and_exif_segments_are_checked() {
        let mut f = jpeg(&[], DATA);
        f[13] = 7; // density units
        assert_eq!(codes(&f), one("JPEG-JFIF-UNITS", NotValid));
        let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
        exif.extend_from_slice(&[0x0F, 0x01, 2, 0, 1, 0, 0, 0, b'X', 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(codes(&jpeg(&[seg(0xE1, &exif)], DATA)), vec![]);
        let short = &exif[..exif.len() - 6];
        assert_eq!(
            codes(&jpeg(&[seg(0xE1, short)], DATA)),
            one("JPEG-EXIF-IFD", NotValid)
        );
        let mut bad = exif.clone();
        bad[8] = 43;
        assert_eq!(
            codes(&jpeg(&[seg(0xE1, &bad)], DATA)),
            one("JPEG-EXIF-HEADER", NotValid)
        );
    }

    #[test]
    fn truncation_and_damage_never_panic() {
        let dri = seg(0xDD, &[0, 4]);
        let good = [0x11, 0xFF, 0xD0, 0x22, 0xFF, 0xD1, 0x33, 0xFF, 0xD2];
        super::super::damage_never_panics(&jpeg(&[dri], &good));
    }

    #[test]
    #[ignore = "needs python3 with Pillow; run by hand"]
    fn jpegs_written_by_pillow_are_valid() {
        let script = r#"
import sys
from PIL import Image
d = sys.argv[1]
for m in ["L", "RGB", "CMYK"]:
    im = Image.effect_noise((301, 203), 60).convert(m)
    im.save(f"{d}/{m}.jpg", dpi=(300, 300))
    im.save(f"{d}/{m}-prog.jpg", progressive=True, optimize=True)
    im.save(f"{d}/{m}-q100.jpg", quality=100, subsampling=0)
im = Image.effect_noise((301, 203), 60).convert("RGB")
ex = Image.Exif()
ex[0x010F] = "Scanner"
ex[0x0132] = "2026:01:01 00:00:00"
im.save(f"{d}/exif.jpg", exif=ex, dpi=(400, 400))
"#;
        super::super::python_files_are_valid("jpeg", script);
    }
}
