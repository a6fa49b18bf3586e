//! JPEG 2000 (JP2): boxes up to the codestream's SIZ and COD markers.

use std::io::{Read, Seek, SeekFrom};

use super::{bad, exact, TechMd};

struct BoxHeader {
    kind: [u8; 4],
    /// Start of the content.
    start: u64,
    /// End of the box (None: to the end of the file).
    end: Option<u64>,
}

fn box_header<R: Read + Seek>(r: &mut R, len: u64) -> std::io::Result<Option<BoxHeader>> {
    let at = r.stream_position()?;
    // Box lengths come from the file: a hostile extended length (up to 2^64 - 1)
    // puts the next box past any u64 sum, so every sum here saturates.
    if at.saturating_add(8) > len {
        return Ok(None);
    }
    let h: [u8; 8] = exact(r)?;
    let l = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
    let kind = [h[4], h[5], h[6], h[7]];
    let (start, end) = match l {
        0 => (at + 8, None),
        1 => {
            let xl = u64::from_be_bytes(exact(r)?);
            (at + 16, Some(at.saturating_add(xl)))
        }
        2..=7 => return Err(bad(format!("a box of length {l}"))),
        _ => (at + 8, Some(at.saturating_add(l))),
    };
    Ok(Some(BoxHeader { kind, start, end }))
}

pub(super) fn read<R: Read + Seek>(r: &mut R, len: u64, t: &mut TechMd) -> std::io::Result<()> {
    t.icc_profile = Some(false);
    t.compression = Some("JPEG 2000".into());
    let mut codestream = false;
    for _ in 0..1000 {
        let Some(b) = box_header(r, len)? else {
            break;
        };
        if b.end.is_some_and(|e| e > len) {
            t.warnings.push(format!(
                "truncated: the {} box runs past the end of the file",
                String::from_utf8_lossy(&b.kind)
            ));
        }
        match &b.kind {
            b"jp2h" | b"res " => {
                // Superboxes: read their children next.
                continue;
            }
            b"ihdr" => {
                let h: [u8; 14] = exact(r)?;
                t.height = Some(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
                t.width = Some(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
                let nc = u16::from_be_bytes([h[8], h[9]]);
                t.components = Some(nc);
                if h[10] != 0xFF {
                    t.bits_per_sample = vec![(h[10] & 0x7F) as u16 + 1; nc.min(16) as usize];
                }
            }
            b"colr" => {
                let m: [u8; 1] = exact(r)?;
                if m[0] == 2 || m[0] == 3 {
                    t.icc_profile = Some(true);
                }
            }
            k @ (b"resc" | b"resd") => {
                let h: [u8; 10] = exact(r)?;
                let n = |a: u8, b: u8| u16::from_be_bytes([a, b]) as f64;
                let (vn, vd, hn, hd) = (n(h[0], h[1]), n(h[2], h[3]), n(h[4], h[5]), n(h[6], h[7]));
                let (ve, he) = (h[8] as i8 as i32, h[9] as i8 as i32);
                if vd != 0.0 && hd != 0.0 && (k == b"resc" || t.x_resolution.is_none()) {
                    // Grid points per metre.
                    t.y_resolution = Some(vn / vd * 10f64.powi(ve));
                    t.x_resolution = Some(hn / hd * 10f64.powi(he));
                    t.resolution_unit = Some("metre".into());
                }
            }
            b"jp2c" => {
                codestream = true;
                codestream_markers(r, t)?;
                if b.end.is_none() || b.end == Some(len) {
                    let end = super::tail(r, len, 2)?;
                    if end != [0xFF, 0xD9] {
                        t.warnings.push(
                            "no end-of-codestream marker (FFD9): the JPEG 2000 file is truncated"
                                .into(),
                        );
                    }
                }
                break;
            }
            _ => {}
        }
        match b.end {
            Some(e) => {
                r.seek(SeekFrom::Start(e))?;
            }
            None => break,
        }
        let _ = b.start;
    }
    if !codestream {
        t.warnings
            .push("no contiguous codestream box (jp2c)".into());
    }
    Ok(())
}

fn codestream_markers<R: Read + Seek>(r: &mut R, t: &mut TechMd) -> std::io::Result<()> {
    let soc: [u8; 2] = exact(r)?;
    if soc != [0xFF, 0x4F] {
        return Err(bad("the codestream does not start with SOC"));
    }
    for _ in 0..256 {
        let m: [u8; 2] = exact(r)?;
        if m[0] != 0xFF || m[1] == 0x90 || m[1] == 0x93 {
            break;
        }
        let l = u16::from_be_bytes(exact(r)?) as u64;
        let start = r.stream_position()?;
        if m[1] == 0x52 && l >= 12 {
            // COD: Scod, progression, layers (2), MCT, levels, cblk w, cblk h, style,
            // transform.
            let b: [u8; 10] = exact(r)?;
            t.reversible = Some(b[9] == 1);
            break;
        }
        r.seek(SeekFrom::Start(start + l.saturating_sub(2)))?;
    }
    Ok(())
}
