//! PNG: chunks up to the first IDAT, and the last 12 bytes (IEND).

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
                t.width = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                t.height = Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
                let depth = b[8] as u16;
                let (channels, name) = match b[9] {
                    0 => (1, "greyscale"),
                    2 => (3, "RGB"),
                    3 => (1, "palette"),
                    4 => (2, "greyscale with alpha"),
                    6 => (4, "RGB with alpha"),
                    _ => return Err(bad(format!("colour type {}", b[9]))),
                };
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
