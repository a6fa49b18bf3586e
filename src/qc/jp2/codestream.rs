//! The contiguous codestream: main header markers and tile-parts, as jpylyzer reads
//! them (marker segments one at a time; tile data skipped by Psot).

use std::io::{Read, Seek};

use super::{
    be16, be32, read_at, segment, Siz, CAP, COD, COM, EOC, MAX_MARKERS, MAX_TILES, MAX_TILE_PARTS,
    QCD, SIZ, SOC, SOD, SOT,
};
use crate::qc::Findings;

/// Validates the codestream in `[start, stop)`; what its SIZ marker says.
pub(super) fn codestream<R: Read + Seek>(
    r: &mut R,
    start: u64,
    stop: u64,
    out: &mut Findings,
) -> std::io::Result<Option<Siz>> {
    if segment(r, start, stop)?.map(|s| s.0) != Some(SOC) {
        out.not_well_formed(
            "JP2-NO-SOC",
            start,
            "the codestream does not start with an SOC marker (FF4F): the codestream is damaged",
        );
        return Ok(None);
    }
    let at = start + 2;
    let siz = match segment(r, at, stop)? {
        Some((SIZ, c)) => siz_segment(&c, at, out),
        _ => None,
    };
    let Some((siz, tiles)) = siz else {
        out.not_well_formed(
            "JP2-NO-SIZ",
            at,
            "the SOC marker is not followed by a whole SIZ marker segment (FF51): the codestream is damaged",
        );
        return Ok(None);
    };
    let at = at + 2 + be16_len(r, at)?;
    let Some(sot) = main_header(r, at, stop, siz.rsiz, out)? else {
        out.not_valid(
            "JP2-TILE-COUNT",
            at,
            format!("the codestream has no tile-part, the SIZ marker says {tiles} tiles"),
        );
        eoc(r, start, stop, out)?;
        return Ok(Some(siz));
    };
    tile_parts(r, sot, stop, tiles, out)?;
    eoc(r, start, stop, out)?;
    Ok(Some(siz))
}

fn be16_len<R: Read + Seek>(r: &mut R, at: u64) -> std::io::Result<u64> {
    let mut h = [0u8; 4];
    read_at(r, at, &mut h)?;
    Ok(be16(&h[2..]) as u64)
}

fn eoc<R: Read + Seek>(
    r: &mut R,
    start: u64,
    stop: u64,
    out: &mut Findings,
) -> std::io::Result<()> {
    let mut b = [0u8; 2];
    let at = stop.saturating_sub(2).max(start);
    let n = read_at(r, at, &mut b)?;
    if n < 2 || be16(&b) != EOC {
        out.not_well_formed(
            "JP2-NO-EOC",
            at,
            "the codestream does not end with an EOC marker (FFD9): the file is truncated or damaged",
        );
    }
    Ok(())
}

/// The SIZ segment's fields; with the number of tiles (capped as jpylyzer caps it).
fn siz_segment(c: &[u8], at: u64, out: &mut Findings) -> Option<(Siz, u64)> {
    if c.len() < 38 {
        return None;
    }
    let lsiz = be16(c);
    let rsiz = be16(&c[2..]);
    let v = |i: usize| be32(&c[i..]);
    let (xsiz, ysiz, xosiz, yosiz) = (v(4), v(8), v(12), v(16));
    let (xt, yt, xto, yto) = (v(20), v(24), v(28), v(32));
    let csiz = be16(&c[36..]);
    if !(41..=49190).contains(&lsiz) || lsiz as u32 != 38 + 3 * csiz as u32 {
        out.not_valid(
            "JP2-SIZ-LENGTH",
            at,
            format!("the SIZ marker's length ({lsiz}) does not fit its {csiz} components"),
        );
    }
    if (rsiz >> 12) & 15 != 0 {
        out.not_valid(
            "JP2-RSIZ",
            at + 4,
            format!("the SIZ capabilities (Rsiz {rsiz:#06x}) are not those of JPEG 2000 Part 1"),
        );
    }
    let bad_size = xsiz == 0 || ysiz == 0 || xt == 0 || yt == 0;
    let bad_offset = [xosiz, yosiz, xto, yto].contains(&u32::MAX);
    if bad_size || bad_offset {
        out.not_valid(
            "JP2-SIZ-VALUE",
            at + 6,
            "the SIZ marker gives a zero image or tile size, or an offset out of range",
        );
    }
    if !(1..=16384).contains(&csiz) {
        out.not_valid(
            "JP2-SIZ-CSIZ",
            at + 38,
            format!("the SIZ marker says {csiz} components (1 to 16384 allowed)"),
        );
    }
    let mut ssiz = Vec::new();
    for i in 0..csiz as usize {
        let Some(s) = c.get(38 + 3 * i..41 + 3 * i) else {
            break;
        };
        if (s[0] & 0x7F) + 1 > 38 || s[1] == 0 || s[2] == 0 {
            out.not_valid(
                "JP2-SIZ-COMPONENT",
                at + 40 + 3 * i as u64,
                format!(
                    "component {i}: a depth over 38 bits or a zero sub-sampling in the SIZ marker"
                ),
            );
        }
        ssiz.push(s[0]);
    }
    let tiles = if xt == 0 || yt == 0 {
        0
    } else {
        let nx = (xsiz as u64).saturating_sub(xto as u64).div_ceil(xt as u64);
        let ny = (ysiz as u64).saturating_sub(yto as u64).div_ceil(yt as u64);
        (nx * ny).min(MAX_TILES)
    };
    Some((
        Siz {
            rsiz,
            xsiz,
            ysiz,
            xosiz,
            yosiz,
            ssiz,
        },
        tiles,
    ))
}

/// The main header after SIZ, up to the first SOT; its offset.
fn main_header<R: Read + Seek>(
    r: &mut R,
    mut at: u64,
    stop: u64,
    rsiz: u16,
    out: &mut Findings,
) -> std::io::Result<Option<u64>> {
    let (mut cod, mut qcd, mut cap, mut sot) = (false, false, false, None);
    for _ in 0..MAX_MARKERS {
        let Some((m, c)) = segment(r, at, stop)? else {
            break;
        };
        match m {
            SOT => {
                sot = Some(at);
                break;
            }
            COD => {
                cod = true;
                cod_segment(&c, at, out);
            }
            QCD => {
                qcd = true;
                if c.len() < 3 || !(4..=197).contains(&be16(&c)) || !matches!(c[2] & 0x1F, 0..=2) {
                    out.not_valid(
                        "JP2-QCD",
                        at,
                        "the QCD marker's length or quantization style is out of range",
                    );
                }
            }
            CAP => cap = true,
            COM => com_segment(&c, at, out),
            _ => {}
        }
        // Any other two bytes are skipped by their length, as jpylyzer skips them.
        at += 2 + if c.len() >= 2 { be16(&c) as u64 } else { 0 };
    }
    if sot.is_none() {
        out.not_well_formed(
            "JP2-MAIN-HEADER",
            at,
            "no SOT marker after the codestream's main header: a marker segment's length is wrong, or the codestream is damaged or truncated",
        );
    }
    if !cod {
        out.not_valid(
            "JP2-NO-COD",
            at,
            "the codestream's main header has no COD marker (coding style)",
        );
    }
    if !qcd {
        out.not_valid(
            "JP2-NO-QCD",
            at,
            "the codestream's main header has no QCD marker (quantization)",
        );
    }
    if (rsiz >> 14) & 15 == 1 && !cap {
        out.not_valid(
            "JP2-NO-CAP",
            at,
            "the SIZ marker says the codestream uses extended capabilities (Rsiz), but there is no CAP marker",
        );
    }
    Ok(sot)
}

/// A comment (COM): its registration value, and text (Rcom 1) without control
/// characters, as jpylyzer decodes it (ISO 8859-15).
fn com_segment(c: &[u8], at: u64, out: &mut Findings) {
    let lcom = if c.len() >= 2 { be16(c) } else { 0 };
    let rcom = if c.len() >= 4 {
        be16(&c[2..])
    } else {
        u16::MAX
    };
    let text = c.get(4..(lcom as usize).min(c.len())).unwrap_or(&[]);
    let control = |b: &u8| {
        (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || (0x7F..=0x9F).contains(b)
            || *b == 0xAD
    };
    if lcom < 5 || rcom > 1 || (rcom == 1 && text.iter().any(control)) {
        out.not_valid(
            "JP2-COM",
            at,
            "a codestream comment (COM) has a bad length or registration value, or control characters in its text",
        );
    }
}

fn cod_segment(c: &[u8], at: u64, out: &mut Findings) {
    let bad = |why: &str, out: &mut Findings| {
        out.not_valid(
            "JP2-COD",
            at,
            format!("the COD marker's {why} is out of range"),
        )
    };
    if c.len() < 12 {
        bad("length", out);
        return;
    }
    let lcod = be16(c);
    let scod = c[2];
    let (order, layers, mct) = (c[3], be16(&c[4..]), c[6]);
    let (levels, xcb, ycb, transf) = (c[7], (c[8] & 0x0F) + 2, (c[9] & 0x0F) + 2, c[11]);
    let expected = if scod & 1 == 1 {
        13 + levels as u16
    } else {
        12
    };
    if !(12..=45).contains(&lcod) || lcod != expected {
        bad("length", out);
    }
    if order > 4 {
        bad("progression order", out);
    }
    if layers == 0 {
        bad("number of layers", out);
    }
    if mct > 1 {
        bad("multiple component transformation", out);
    }
    if levels > 32 {
        bad("number of decomposition levels", out);
    }
    if !(2..=10).contains(&xcb) || !(2..=10).contains(&ycb) || xcb + ycb > 12 {
        bad("code-block size", out);
    }
    if transf > 1 {
        bad("wavelet transformation", out);
    }
}

/// The tile-parts from the first SOT at `at`.
fn tile_parts<R: Read + Seek>(
    r: &mut R,
    mut at: u64,
    stop: u64,
    tiles: u64,
    out: &mut Findings,
) -> std::io::Result<()> {
    let mut found = vec![0u32; tiles as usize];
    let mut expected = vec![0u8; tiles as usize];
    let mut seen = 0u64;
    for _ in 0..MAX_TILE_PARTS {
        let mut s = [0u8; 12];
        let n = read_at(r, at, &mut s)?;
        if n < 12 || at + 12 > stop || be16(&s) != SOT {
            break;
        }
        let (lsot, isot, psot) = (be16(&s[2..]), be16(&s[4..]), be32(&s[6..]) as u64);
        let (tpsot, tnsot) = (s[10], s[11]);
        if lsot != 10 {
            out.not_valid(
                "JP2-SOT-LENGTH",
                at,
                format!("an SOT marker's length is {lsot}, not 10"),
            );
        }
        if (1..=13).contains(&psot) {
            out.not_valid(
                "JP2-PSOT",
                at + 6,
                format!("a tile-part length (Psot) of {psot} bytes is too short"),
            );
        }
        if tpsot == 255 {
            out.not_valid("JP2-TPSOT", at + 10, "a tile-part index (TPsot) of 255");
        }
        let tile_end = if psot == 0 {
            stop
        } else {
            at.saturating_add(psot).min(stop)
        };
        sod(r, at + 12, tile_end, out)?;
        let Some(f) = found.get_mut(isot as usize) else {
            out.not_valid(
                "JP2-ISOT",
                at + 4,
                format!("a tile-part of tile {isot}, but the image has {tiles} tiles"),
            );
            return Ok(());
        };
        if *f == 0 {
            seen += 1;
        }
        *f += 1;
        if tnsot != 0 {
            expected[isot as usize] = tnsot;
        }
        if psot == 0 {
            break;
        }
        let next = at.saturating_add(psot);
        let mut m = [0u8; 2];
        let k = read_at(r, next, &mut m)?;
        if next.saturating_add(2) > stop || k < 2 || !matches!(be16(&m), SOT | EOC) {
            out.not_well_formed(
                "JP2-NEXT-TILE-PART",
                at,
                format!("the tile-part's length (Psot {psot}) does not lead to the next SOT marker or the EOC: the file is truncated or the tile data damaged"),
            );
            break;
        }
        at = next;
    }
    if seen != tiles {
        out.not_valid(
            "JP2-TILE-COUNT",
            at,
            format!("the codestream has tile-parts of {seen} tiles, the SIZ marker says {tiles}"),
        );
    }
    if expected.iter().any(|e| *e != 0) && expected.iter().zip(&found).any(|(e, f)| *e as u32 != *f)
    {
        out.not_valid(
            "JP2-TILE-PART-COUNT",
            at,
            "the number of tile-parts of a tile differs from what its SOT markers (TNsot) say",
        );
    }
    Ok(())
}

/// The tile-part header from `at` up to its SOD marker.
fn sod<R: Read + Seek>(
    r: &mut R,
    mut at: u64,
    end: u64,
    out: &mut Findings,
) -> std::io::Result<()> {
    let start = at;
    for _ in 0..MAX_MARKERS {
        match segment(r, at, end)? {
            Some((SOD, _)) => return Ok(()),
            Some((m, c)) if m & 0xFF00 == 0xFF00 && c.len() >= 2 => {
                if m == COM {
                    com_segment(&c, at, out);
                }
                at += 2 + be16(&c) as u64
            }
            _ => break,
        }
    }
    out.not_valid(
        "JP2-NO-SOD",
        start,
        "a tile-part header does not end with an SOD marker (FF93)",
    );
    Ok(())
}
