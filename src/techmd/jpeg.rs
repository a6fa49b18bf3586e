//! JPEG: marker segments up to the first scan (SOS), and the last two bytes (EOI).

use std::io::{Read, Seek, SeekFrom};

use super::{bad, exact, tail, TechMd};

pub(super) fn read<R: Read + Seek>(r: &mut R, len: u64, t: &mut TechMd) -> std::io::Result<()> {
    let end = tail(r, len, 2)?;
    if end != [0xFF, 0xD9] {
        t.warnings.push(
            "no end-of-image marker (FFD9) at the end: the JPEG is truncated or has trailing bytes"
                .into(),
        );
    }
    r.seek(SeekFrom::Start(2))?;
    t.icc_profile = Some(false);
    let mut segments = 0;
    loop {
        segments += 1;
        if segments > 10_000 {
            return Err(bad("too many segments before the image data"));
        }
        let mut m: [u8; 2] = exact(r)?;
        // Fill bytes.
        while m[0] == 0xFF && m[1] == 0xFF {
            m[1] = exact::<R, 1>(r)?[0];
        }
        if m[0] != 0xFF {
            return Err(bad(format!(
                "expected a marker, found {:02X}{:02X}",
                m[0], m[1]
            )));
        }
        let marker = m[1];
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        if marker == 0xD9 {
            break;
        }
        let seg_len = u16::from_be_bytes(exact(r)?) as usize;
        if seg_len < 2 {
            return Err(bad("a segment shorter than its length field"));
        }
        let body_len = seg_len - 2;
        let start = r.stream_position()?;
        match marker {
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let b: [u8; 6] = exact(r)?;
                t.bits_per_sample = vec![b[0] as u16];
                t.height = Some(u16::from_be_bytes([b[1], b[2]]) as u32);
                t.width = Some(u16::from_be_bytes([b[3], b[4]]) as u32);
                t.components = Some(b[5] as u16);
                t.compression = Some(
                    match marker {
                        0xC0 => "baseline DCT",
                        0xC1 => "extended sequential DCT",
                        0xC2 => "progressive DCT",
                        0xC3 => "lossless",
                        _ => "other JPEG process",
                    }
                    .into(),
                );
            }
            0xE0 if body_len >= 12 => {
                let b: [u8; 12] = exact(r)?;
                if &b[..5] == b"JFIF\0" {
                    let units = b[7];
                    let x = u16::from_be_bytes([b[8], b[9]]) as f64;
                    let y = u16::from_be_bytes([b[10], b[11]]) as f64;
                    if t.x_resolution.is_none() {
                        t.x_resolution = Some(x);
                        t.y_resolution = Some(y);
                        t.resolution_unit = Some(
                            match units {
                                1 => "inch",
                                2 => "centimetre",
                                _ => "none",
                            }
                            .into(),
                        );
                    }
                }
            }
            0xE1 if body_len > 6 => {
                let mut b = vec![0u8; body_len];
                r.read_exact(&mut b)?;
                if b.starts_with(b"Exif\0\0") {
                    let _ = super::tiff::read_exif(&b[6..], t);
                }
            }
            0xE2 if body_len >= 12 => {
                let b: [u8; 12] = exact(r)?;
                if &b[..12] == b"ICC_PROFILE\0" {
                    t.icc_profile = Some(true);
                }
            }
            0xDA => break,
            _ => {}
        }
        r.seek(SeekFrom::Start(start + body_len as u64))?;
    }
    if t.width.is_none() {
        t.warnings
            .push("no frame header (SOF) before the image data".into());
    }
    // Huffman coding only: arithmetic coding (SOF9 and after) can code a block in
    // less than a bit.
    let huffman = matches!(
        t.compression.as_deref(),
        Some("baseline DCT" | "extended sequential DCT" | "progressive DCT" | "lossless")
    );
    if let Some(w) = frame_too_large(t.width, t.height, len).filter(|_| huffman) {
        t.warnings.push(w);
    }
    Ok(())
}

/// When the frame header's size cannot be coded in `len` bytes: with Huffman coding,
/// every 8 x 8 block of the first component takes at least one bit of entropy-coded
/// data (its DC difference; a lossless frame's pixels take a bit each), so a file shorter than an eighth of a byte per block
/// holds fewer blocks than the header says, and the header is damaged.
fn frame_too_large(width: Option<u32>, height: Option<u32>, len: u64) -> Option<String> {
    let (w, h) = (width?, height?);
    let blocks = u64::from(w.div_ceil(8)) * u64::from(h.div_ceil(8));
    (blocks / 8 > len).then(|| {
        format!(
            "the frame header says {w} x {h} pixels, {blocks} blocks of 8 x 8, which cannot be coded in a file of {len} bytes: the header is damaged"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16 x 16 JPEG whose frame header had one byte flipped read 40448 x 257.
    #[test]
    fn a_frame_larger_than_the_file_can_hold_is_seen() {
        assert!(frame_too_large(Some(16), Some(16), 700).is_none());
        assert!(frame_too_large(Some(2480), Some(3508), 300_000).is_none());
        let w = frame_too_large(Some(40448), Some(257), 700).expect("a warning");
        assert!(w.contains("40448 x 257"), "{w}");
        assert!(frame_too_large(None, Some(257), 700).is_none());
    }
}
