//! PNG: chunks up to the first IDAT, and the last 12 bytes (IEND). The header chunk is
//! checked as the PNG specification sets it (section 11.2.2): its CRC, a width and a
//! height from 1 to 2^31 - 1, a bit depth its colour type allows, and a size whose
//! image data could fit in the file at all.

use std::io::{Read, Seek, SeekFrom};

use super::{bad, exact, tail, TechMd};

pub(super) fn read<R: Read + Seek>(r: &mut R, len: u64, t: &mut TechMd) -> std::io::Result<()> {
    let end = tail(r, len, 12)?;
    if end.len() < 12 || &end[4..8] != b"IEND" {
        t.warnings
            .push("no IEND chunk at the end: the PNG is truncated or has trailing bytes".into());
    }
    r.seek(SeekFrom::Start(8))?;
    t.icc_profile = Some(false);
    for _ in 0..10_000 {
        let h: [u8; 8] = exact(r)?;
        let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let kind = [h[4], h[5], h[6], h[7]];
        let start = r.stream_position()?;
        match &kind {
            b"IHDR" => {
                let b: [u8; 13] = exact(r)?;
                let crc: [u8; 4] = exact(r)?;
                let width = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let height = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let depth = b[8] as u16;
                let (channels, name) = match b[9] {
                    0 => (1, "greyscale"),
                    2 => (3, "RGB"),
                    3 => (1, "palette"),
                    4 => (2, "greyscale with alpha"),
                    6 => (4, "RGB with alpha"),
                    _ => return Err(bad(format!("colour type {}", b[9]))),
                };
                t.warnings
                    .extend(header_problems(&h[4..8], &b, crc, channels, len));
                t.width = Some(width);
                t.height = Some(height);
                t.components = Some(channels);
                t.bits_per_sample = vec![depth; channels as usize];
                t.photometric = Some(name.into());
                t.compression = Some("deflate".into());
            }
            b"pHYs" if n >= 9 => {
                let b: [u8; 9] = exact(r)?;
                let x = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64;
                let y = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as f64;
                t.x_resolution = Some(x);
                t.y_resolution = Some(y);
                t.resolution_unit = Some(if b[8] == 1 { "metre" } else { "none" }.into());
            }
            b"iCCP" => t.icc_profile = Some(true),
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        r.seek(SeekFrom::Start(start + n + 4))?;
    }
    Ok(())
}

/// Deflate's best case: about 1,032 bytes of data from one byte of stream.
const DEFLATE_MAX_RATIO: u64 = 1032;

/// What is wrong with a header chunk (`kind` and `body`, then its `crc`) in a file of
/// `len` bytes: each a sentence for the person looking at the file.
fn header_problems(
    kind: &[u8],
    body: &[u8; 13],
    crc: [u8; 4],
    channels: u16,
    len: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(body);
    let (want, got) = (h.finalize(), u32::from_be_bytes(crc));
    if want != got {
        out.push(format!(
            "the IHDR chunk's CRC is {got:08x}, its bytes give {want:08x}: the header is damaged, and its width, height and depth are not to be trusted"
        ));
    }
    let width = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let height = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let (depth, colour) = (body[8], body[9]);
    for (what, v) in [("width", width), ("height", height)] {
        if v == 0 || v > i32::MAX as u32 {
            out.push(format!(
                "the IHDR {what} is {v}: PNG allows 1 to 2147483647"
            ));
        }
    }
    let depths: &[u8] = match colour {
        0 => &[1, 2, 4, 8, 16],
        3 => &[1, 2, 4, 8],
        _ => &[8, 16],
    };
    if !depths.contains(&depth) {
        out.push(format!(
            "the IHDR bit depth is {depth}, which colour type {colour} does not allow"
        ));
    }
    // Each row is a filter byte and its samples; deflate compresses at best about
    // 1,032 to 1.
    let row = (u64::from(width) * u64::from(channels) * u64::from(depth)).div_ceil(8) + 1;
    let raw = row.saturating_mul(u64::from(height));
    if raw / DEFLATE_MAX_RATIO > len {
        out.push(format!(
            "the IHDR says {width} x {height} pixels, {raw} bytes of image data, which cannot be compressed into a file of {len} bytes: the header is damaged"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ihdr(width: u32, height: u32, depth: u8, colour: u8) -> ([u8; 13], [u8; 4]) {
        let mut b = [0u8; 13];
        b[..4].copy_from_slice(&width.to_be_bytes());
        b[4..8].copy_from_slice(&height.to_be_bytes());
        b[8] = depth;
        b[9] = colour;
        let mut h = crc32fast::Hasher::new();
        h.update(b"IHDR");
        h.update(&b);
        (b, h.finalize().to_be_bytes())
    }

    #[test]
    fn a_sound_header_has_no_problem() {
        let (b, crc) = ihdr(2480, 3508, 8, 0);
        assert!(header_problems(b"IHDR", &b, crc, 1, 2_000_000).is_empty());
        let (b, crc) = ihdr(16, 16, 16, 6);
        assert!(header_problems(b"IHDR", &b, crc, 4, 100).is_empty());
    }

    /// One flipped byte of the width (16 became 3,489,660,944): the CRC, the range
    /// and the size each say so.
    #[test]
    fn a_flipped_width_is_seen() {
        let (mut b, crc) = ihdr(16, 16, 8, 2);
        b[0] = 0xd0;
        let p = header_problems(b"IHDR", &b, crc, 3, 300);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("CRC"), "{p:?}");
        assert!(p[1].contains("3489660944"), "{p:?}");
        assert!(p[2].contains("cannot be compressed"), "{p:?}");
    }

    #[test]
    fn a_depth_the_colour_type_forbids_is_seen() {
        let (b, crc) = ihdr(16, 16, 4, 2);
        let p = header_problems(b"IHDR", &b, crc, 3, 300);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("bit depth is 4"), "{p:?}");
    }
}
