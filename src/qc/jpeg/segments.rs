//! The marker segments whose fields are checked: the quantisation and Huffman tables,
//! the frame (SOF), the scan (SOS), and the JFIF APP0 and Exif APP1 segments.

use super::{Findings, Frame, State};

pub(super) fn dqt(out: &mut Findings, at: u64, mut b: &[u8], st: &mut State) {
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

pub(super) fn dht(out: &mut Findings, at: u64, mut b: &[u8], st: &mut State) {
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

pub(super) fn sof(out: &mut Findings, at: u64, m: u8, b: &[u8], st: &mut State) {
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
pub(super) fn sos(out: &mut Findings, at: u64, b: &[u8], st: &mut State) -> bool {
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

pub(super) fn jfif(out: &mut Findings, at: u64, b: &[u8], segments: u32) {
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

pub(super) fn exif(out: &mut Findings, at: u64, b: &[u8]) {
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
