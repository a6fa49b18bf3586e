//! The JP2 header superbox and its boxes (image header, bits per component, colour
//! specification with its ICC profile, resolution), held in memory (at most
//! [`HEADER_CAP`] bytes).

use std::io::{Read, Seek};

use super::{be16, be32, name, read_at, Ihdr, Image, HEADER_CAP, MAX_BOXES};
use crate::qc::Findings;

/// The boxes inside a superbox held in memory, as jpylyzer splits them: (type,
/// content, offset in the file).
fn sub_boxes<'a>(buf: &'a [u8], base: u64, out: &mut Findings) -> Vec<([u8; 4], &'a [u8], u64)> {
    let mut list = Vec::new();
    let mut at = 0usize;
    while at < buf.len() && list.len() < MAX_BOXES {
        let off = base + at as u64;
        let rest = &buf[at..];
        if rest.len() < 8 {
            out.not_well_formed(
                "JP2-BOX-HEADER",
                off,
                format!(
                    "{} bytes left in a superbox, too few for a box header",
                    rest.len()
                ),
            );
            break;
        }
        let typ = [rest[4], rest[5], rest[6], rest[7]];
        let (hdr, blen) = match be32(rest) {
            0 => (8, rest.len() as u64),
            1 if rest.len() >= 16 => (
                16,
                u64::from_be_bytes(rest[8..16].try_into().unwrap_or([0; 8])),
            ),
            1 => (16, 0),
            l => (8, l as u64),
        };
        if blen < hdr || blen > rest.len() as u64 {
            let message = format!("the '{}' box's length ({blen}) does not fit in its superbox ({} bytes left): the box lengths are damaged", name(&typ), rest.len());
            if blen < hdr {
                out.not_well_formed("JP2-BOX-LENGTH", off, message);
            } else {
                // As jpylyzer: what there is of it is read and judged.
                out.warning("JP2-BOX-PAST-END", off, message);
            }
            // What there is of it is read, as jpylyzer reads it.
            if blen >= hdr && rest.len() as u64 >= hdr {
                list.push((typ, &rest[hdr as usize..], off + hdr));
            }
            break;
        }
        list.push((typ, &rest[hdr as usize..blen as usize], off + hdr));
        at += blen as usize;
    }
    list
}

pub(super) fn header_box<R: Read + Seek>(
    r: &mut R,
    start: u64,
    stop: u64,
    img: &mut Image,
    out: &mut Findings,
) -> std::io::Result<()> {
    if stop - start > HEADER_CAP {
        out.warning(
            "JP2-HEADER-TOO-LARGE",
            start,
            format!("the JP2 header box is over {HEADER_CAP} bytes: only its first {HEADER_CAP} bytes were checked"),
        );
    }
    let mut buf = vec![0u8; (stop - start).min(HEADER_CAP) as usize];
    let n = read_at(r, start, &mut buf)?;
    buf.truncate(n);
    let boxes = sub_boxes(&buf, start, out);
    let count = |t: &[u8; 4]| boxes.iter().filter(|b| &b.0 == t).count();
    for (typ, c, off) in &boxes {
        match typ {
            b"ihdr" => image_header(c, *off, img, out),
            b"bpcc" => {
                img.bpcc = c.to_vec();
                if c.iter().any(|b| (b & 0x7F) + 1 > 38) {
                    out.not_valid("JP2-BPCC", *off, "a bits per component value is over 38");
                }
            }
            b"colr" => colour(c, *off, out),
            b"res " => resolution(c, *off, out),
            _ => {}
        }
    }
    if count(b"ihdr") == 0 {
        out.not_well_formed(
            "JP2-NO-IHDR",
            start,
            "the JP2 header box has no image header box ('ihdr')",
        );
    } else if boxes.first().map(|b| &b.0) != Some(b"ihdr") {
        out.not_valid(
            "JP2-IHDR-NOT-FIRST",
            start,
            "the image header box is not the first box in the JP2 header box",
        );
    }
    if count(b"colr") == 0 {
        out.not_valid(
            "JP2-NO-COLR",
            start,
            "the JP2 header box has no colour specification box ('colr'): the colour space is unknown",
        );
    }
    if img.ihdr.as_ref().is_some_and(|i| i.bpc == 255) && count(b"bpcc") == 0 {
        out.not_valid(
            "JP2-NO-BPCC",
            start,
            "the image header says the bit depth varies per component (bPC 255), but there is no bits per component box",
        );
    }
    for t in [b"ihdr", b"bpcc", b"pclr", b"cmap", b"cdef", b"res "] {
        if count(t) > 1 {
            out.not_valid(
                "JP2-DUPLICATE-BOX",
                start,
                format!("more than one '{}' box in the JP2 header box", name(t)),
            );
        }
    }
    let colr: Vec<usize> = (0..boxes.len())
        .filter(|i| &boxes[*i].0 == b"colr")
        .collect();
    if colr.windows(2).any(|w| w[1] != w[0] + 1) {
        out.not_valid(
            "JP2-COLR-NOT-CONTIGUOUS",
            start,
            "the colour specification boxes are not next to each other",
        );
    }
    if (count(b"pclr") > 0) != (count(b"cmap") > 0) {
        out.not_valid(
            "JP2-PALETTE-CMAP",
            start,
            "a palette box without a component mapping box, or the other way round",
        );
    }
    Ok(())
}

fn image_header(c: &[u8], off: u64, img: &mut Image, out: &mut Findings) {
    if c.len() != 14 {
        out.not_valid(
            "JP2-IHDR-LENGTH",
            off,
            format!(
                "the image header box has {} bytes of content, not 14",
                c.len()
            ),
        );
        if c.len() < 14 {
            return;
        }
    }
    let i = Ihdr {
        height: be32(&c[0..4]),
        width: be32(&c[4..8]),
        nc: be16(&c[8..10]),
        bpc: c[10],
        ipr: c[13],
    };
    if i.height == 0 || i.width == 0 {
        out.not_valid(
            "JP2-IHDR-SIZE",
            off,
            format!(
                "the image header says the image is {}×{} pixels",
                i.width, i.height
            ),
        );
    }
    if !(1..=16384).contains(&i.nc) {
        out.not_valid(
            "JP2-IHDR-NC",
            off + 8,
            format!(
                "the image header says {} components (1 to 16384 allowed)",
                i.nc
            ),
        );
    }
    let checks = [
        (
            c[11] == 7,
            "JP2-IHDR-C",
            11,
            "the compression type (c) is not 7",
        ),
        (
            c[12] <= 1,
            "JP2-IHDR-UNKC",
            12,
            "the colour space unknown flag (unkC) is not 0 or 1",
        ),
        (
            c[13] <= 1,
            "JP2-IHDR-IPR",
            13,
            "the intellectual property flag (iPR) is not 0 or 1",
        ),
    ];
    for (ok, code, at, msg) in checks {
        if !ok {
            out.not_valid(code, off + at, format!("{msg} (it is {})", c[at as usize]));
        }
    }
    img.ihdr = Some(i);
}

fn colour(c: &[u8], off: u64, out: &mut Findings) {
    if c.len() < 3 {
        out.not_valid(
            "JP2-COLR-LENGTH",
            off,
            format!("the colour specification box has only {} bytes", c.len()),
        );
        return;
    }
    let (meth, prec, approx) = (c[0], c[1], c[2]);
    if meth != 1 && meth != 2 {
        out.not_valid(
            "JP2-COLR-METH",
            off,
            format!("the colour specification method is {meth}: JP2 allows 1 (enumerated) and 2 (restricted ICC)"),
        );
    }
    if prec != 0 || approx != 0 {
        out.not_valid(
            "JP2-COLR-PREC",
            off + 1,
            format!("the colour specification's precedence ({prec}) and approximation ({approx}) must be 0"),
        );
    }
    if meth == 1 {
        let cs = if c.len() == 7 {
            be32(&c[3..7])
        } else {
            u32::MAX
        };
        if !matches!(cs, 16..=18) {
            out.not_valid(
                "JP2-ENUMCS",
                off + 3,
                "the enumerated colour space is not 16 (sRGB), 17 (greyscale) or 18 (sYCC), or its field is not 4 bytes",
            );
        }
    } else if meth == 2 {
        icc(&c[3..], off + 3, out);
    }
}

/// A restricted ICC profile (meth 2), as jpylyzer checks it: the size in its header,
/// its class (input or display), no A2B0 tag.
fn icc(p: &[u8], off: u64, out: &mut Findings) {
    if p.len() < 4 || be32(p) as usize != p.len() {
        out.not_valid(
            "JP2-ICC-SIZE",
            off,
            format!(
                "the ICC profile's header does not give its size ({} bytes in the box)",
                p.len()
            ),
        );
    }
    let class = p.get(12..16).unwrap_or(&[]);
    if class != b"scnr" && class != b"mntr" {
        out.not_valid(
            "JP2-ICC-CLASS",
            off + 12,
            format!("the ICC profile's class is '{}': a JP2 allows only input ('scnr') or display ('mntr') profiles", name(class)),
        );
    }
    let tags = p.get(128..132).map_or(0, be32) as usize;
    let has_a2b0 = (0..tags.min(1000)).any(|i| {
        let at = 132 + 12 * i;
        p.get(at..at + 4) == Some(b"A2B0")
    });
    if has_a2b0 {
        out.not_valid(
            "JP2-ICC-LUT",
            off,
            "the ICC profile has an A2B0 tag (an N-component LUT profile), which a JP2 does not allow",
        );
    }
}

fn resolution(c: &[u8], off: u64, out: &mut Findings) {
    let boxes = sub_boxes(c, off, out);
    let count = |t: &[u8; 4]| boxes.iter().filter(|b| &b.0 == t).count();
    if count(b"resc") + count(b"resd") == 0 {
        out.not_valid(
            "JP2-RES-EMPTY",
            off,
            "the resolution box has neither a capture ('resc') nor a display ('resd') resolution box",
        );
    }
    for t in [b"resc", b"resd"] {
        if count(t) > 1 {
            out.not_valid(
                "JP2-DUPLICATE-BOX",
                off,
                format!("more than one '{}' box", name(t)),
            );
        }
    }
    for (t, c, o) in &boxes {
        if t != b"resc" && t != b"resd" {
            continue;
        }
        if c.len() != 10 {
            out.not_valid(
                "JP2-RES-LENGTH",
                *o,
                format!(
                    "the '{}' box has {} bytes of content, not 10",
                    name(t),
                    c.len()
                ),
            );
        } else if (0..4).any(|i| be16(&c[2 * i..]) == 0) {
            out.not_valid(
                "JP2-RES-VALUE",
                *o,
                format!(
                    "a numerator or denominator of the '{}' resolution is 0",
                    name(t)
                ),
            );
        }
    }
}
