//! PNG: chunks up to the first IDAT, and the last 12 bytes (IEND). Each of those chunks'
//! CRC is checked (streamed, 8 KiB at a time), and IHDR must come first. The header chunk
//! is checked as the PNG specification sets it (section 11.2.2): 13 bytes, a width and a
//! height from 1 to 2^31 - 1, a bit depth its colour type allows, and a size whose image
//! data could fit in the file at all.

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
    for i in 0..10_000 {
        let h: [u8; 8] = exact(r)?;
        let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let kind = [h[4], h[5], h[6], h[7]];
        let start = r.stream_position()?;
        if i == 0 && &kind != b"IHDR" {
            t.warnings.push(format!(
                "the first chunk is {}, not IHDR: the PNG is not well-formed",
                String::from_utf8_lossy(&kind)
            ));
        }
        if &kind != b"IDAT" && &kind != b"IEND" {
            if let Some(w) = crc_problem(r, &kind, start, n)? {
                t.warnings.push(w);
            }
            r.seek(SeekFrom::Start(start))?;
        }
        match &kind {
            b"IHDR" if n != 13 => {
                t.warnings
                    .push(format!("the IHDR chunk is {n} bytes long, not 13"));
            }
            b"IHDR" => {
                let b: [u8; 13] = exact(r)?;
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
                t.warnings.extend(header_problems(&b, channels, len));
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

/// The chunk of type `kind` whose `n` bytes of data begin at `start`, its CRC read from
/// after them and compared with the CRC of its type and data, streamed: a sentence when
/// they differ. Leaves the reader anywhere.
fn crc_problem<R: Read + Seek>(
    r: &mut R,
    kind: &[u8; 4],
    start: u64,
    n: u64,
) -> std::io::Result<Option<String>> {
    r.seek(SeekFrom::Start(start))?;
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    let mut buf = [0u8; 8192];
    let mut left = n;
    while left > 0 {
        let take = left.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..take])?;
        h.update(&buf[..take]);
        left -= take as u64;
    }
    let got: [u8; 4] = exact(r)?;
    let (want, got) = (h.finalize(), u32::from_be_bytes(got));
    Ok((want != got).then(|| {
        let kind = String::from_utf8_lossy(kind);
        let hint = if kind == "IHDR" {
            ": the header is damaged, and its width, height and depth are not to be trusted"
        } else {
            ""
        };
        format!("the {kind} chunk's CRC is {got:08x}, its bytes give {want:08x}{hint}")
    }))
}

/// What is wrong with the header chunk's `body` in a file of `len` bytes: each a
/// sentence for the person looking at the file.
fn header_problems(body: &[u8; 13], channels: u16, len: u64) -> Vec<String> {
    let mut out = Vec::new();
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

    fn chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        let mut h = crc32fast::Hasher::new();
        h.update(kind);
        h.update(body);
        out.extend_from_slice(&h.finalize().to_be_bytes());
        out
    }

    fn ihdr(width: u32, height: u32, depth: u8, colour: u8) -> [u8; 13] {
        let mut b = [0u8; 13];
        b[..4].copy_from_slice(&width.to_be_bytes());
        b[4..8].copy_from_slice(&height.to_be_bytes());
        b[8] = depth;
        b[9] = colour;
        b
    }

    /// A PNG of the given chunks between the signature and IEND, read for its warnings.
    fn warnings(chunks: &[Vec<u8>]) -> Vec<String> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for c in chunks {
            png.extend_from_slice(c);
        }
        png.extend(chunk(b"IEND", b""));
        crate::techmd::read(&mut std::io::Cursor::new(png))
            .unwrap()
            .unwrap()
            .warnings
    }

    #[test]
    fn a_sound_png_has_no_warning() {
        let w = warnings(&[
            chunk(b"IHDR", &ihdr(16, 16, 8, 2)),
            chunk(b"tEXt", b"Title\0S-21"),
            chunk(b"IDAT", &[0u8; 40]),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert!(header_problems(&ihdr(2480, 3508, 8, 0), 1, 2_000_000).is_empty());
    }

    /// One flipped byte of the width (16 became 3,489,660,944): the CRC, the range
    /// and the size each say so.
    #[test]
    fn a_flipped_width_is_seen() {
        let mut c = chunk(b"IHDR", &ihdr(16, 16, 8, 2));
        c[8] = 0xd0;
        let w = warnings(&[c, chunk(b"IDAT", &[0u8; 40])]);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("IHDR chunk's CRC"), "{w:?}");
        assert!(w[1].contains("3489660944"), "{w:?}");
        assert!(w[2].contains("cannot be compressed"), "{w:?}");
    }

    #[test]
    fn a_damaged_ancillary_chunk_and_a_late_header_are_seen() {
        let mut text = chunk(b"tEXt", b"Title\0S-21");
        text[10] ^= 0x20;
        let w = warnings(&[
            chunk(b"IHDR", &ihdr(16, 16, 8, 2)),
            text,
            chunk(b"IDAT", &[0u8; 40]),
        ]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("the tEXt chunk's CRC"), "{w:?}");
        let w = warnings(&[
            chunk(b"tEXt", b"Title\0S-21"),
            chunk(b"IHDR", &ihdr(16, 16, 8, 2)),
            chunk(b"IDAT", &[0u8; 40]),
        ]);
        assert!(w.iter().any(|w| w.contains("first chunk is tEXt")), "{w:?}");
    }

    #[test]
    fn a_depth_the_colour_type_forbids_is_seen() {
        let p = header_problems(&ihdr(16, 16, 4, 2), 3, 300);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("bit depth is 4"), "{p:?}");
    }
}
