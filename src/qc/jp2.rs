//! JPEG 2000 Part 1 (JP2) validation, as jpylyzer validates a JP2: the box structure
//! (signature, file type, the JP2 header superbox and its boxes, the contiguous
//! codestream box), then the codestream: SOC, SIZ, COD and QCD in the main header, every
//! tile-part's SOT (skipping the tile data by Psot) and the EOC at the end. The codes
//! are named after jpylyzer's tests (docs/scan-qc.md lists them): whatever makes
//! jpylyzer's `isValid` False is `not-well-formed` (the structure cannot be followed) or
//! `not-valid` (a field breaks ISO/IEC 15444-1) here.
//!
//! Memory is bounded whatever the file's size: the JP2 header box is read into memory up
//! to [`HEADER_CAP`] bytes, marker segments one at a time (at most 64 KiB each), and the
//! tile-part counts are kept for at most 65,535 tiles (jpylyzer's cap); the tile data is
//! skipped, never read.

use std::io::{Read, Seek, SeekFrom};

use super::{read_up_to, Findings};

mod codestream;
mod header;
use codestream::codestream;
use header::header_box;

/// The JP2 header box is read into memory up to this many bytes (an ICC profile in it
/// is rarely more than a few KiB).
const HEADER_CAP: u64 = 1 << 20;
/// Top-level boxes followed at most.
const MAX_BOXES: usize = 10_000;
/// Tiles counted at most (Kakadu's and jpylyzer's limit).
const MAX_TILES: u64 = 65_535;
/// Tile-parts followed at most.
const MAX_TILE_PARTS: usize = 1_000_000;
/// Marker segments read in a header (main or tile-part) at most.
const MAX_MARKERS: usize = 10_000;

const SOC: u16 = 0xFF4F;
const SIZ: u16 = 0xFF51;
const COD: u16 = 0xFF52;
const QCD: u16 = 0xFF5C;
const CAP: u16 = 0xFF50;
const COM: u16 = 0xFF64;
const SOT: u16 = 0xFF90;
const SOD: u16 = 0xFF93;
const EOC: u16 = 0xFFD9;

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn name(t: &[u8]) -> String {
    String::from_utf8_lossy(t).trim_end().to_string()
}

/// Reads up to `buf.len()` bytes at `at`; the bytes read.
fn read_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    r.seek(SeekFrom::Start(at))?;
    read_up_to(r, buf)
}

/// What the image header and the codestream's SIZ say, for the consistency tests.
#[derive(Default)]
struct Image {
    ihdr: Option<Ihdr>,
    bpcc: Vec<u8>,
    siz: Option<Siz>,
}

struct Ihdr {
    height: u32,
    width: u32,
    nc: u16,
    bpc: u8,
    ipr: u8,
}

struct Siz {
    rsiz: u16,
    xsiz: u32,
    ysiz: u32,
    xosiz: u32,
    yosiz: u32,
    ssiz: Vec<u8>,
}

/// Validates a JP2 file of `len` bytes (no pages: `None`).
pub(super) fn validate<R: Read + Seek>(
    r: &mut R,
    len: u64,
    out: &mut Findings,
) -> std::io::Result<Option<u32>> {
    let mut types: Vec<[u8; 4]> = Vec::new();
    let mut img = Image::default();
    let mut at = 0u64;
    while at < len && types.len() < MAX_BOXES {
        let mut h = [0u8; 16];
        let n = read_at(r, at, &mut h)?;
        if n < 8 {
            out.not_well_formed(
                "JP2-BOX-HEADER",
                at,
                format!("only {n} bytes left after the last box, too few for a box header: the file is truncated or has trailing bytes"),
            );
            break;
        }
        let lbox = be32(&h);
        let typ = [h[4], h[5], h[6], h[7]];
        let (hdr, blen) = match lbox {
            0 => (8, len - at),
            1 if n < 16 => (16, 0),
            1 => (
                16,
                u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
            ),
            l => (8, l as u64),
        };
        if blen < hdr {
            out.not_well_formed(
                "JP2-BOX-LENGTH",
                at,
                format!("the '{}' box says it is {blen} bytes long, shorter than its own header: the box lengths are damaged", name(&typ)),
            );
            break;
        }
        let end = at.saturating_add(blen);
        if end > len {
            // jpylyzer reads what there is and judges the content: a truncated
            // codestream is caught by its own checks (no EOC, a tile-part cut short).
            out.warning(
                "JP2-BOX-PAST-END",
                at,
                format!("the '{}' box ({blen} bytes) runs past the end of the file ({len} bytes): the file is truncated or the box length is wrong", name(&typ)),
            );
        }
        let (start, stop) = (at + hdr, end.min(len));
        types.push(typ);
        match &typ {
            b"jP  " => signature_box(r, start, stop, out)?,
            b"ftyp" => file_type_box(r, start, stop, out)?,
            b"jp2h" => header_box(r, start, stop, &mut img, out)?,
            b"jp2c" if !types[..types.len() - 1].contains(b"jp2c") => {
                img.siz = codestream(r, start, stop, out)?;
            }
            b"jp2c" | b"jp2i" | b"xml " | b"uuid" | b"uinf" | b"jpch" | b"jplh" | b"cgrp"
            | b"asoc" | b"lbl " | b"rreq" | b"ftbl" | b"dtbl" | b"nlst" => {}
            _ => out.warning(
                "JP2-UNKNOWN-BOX",
                at,
                format!("a box of unknown type '{}' (ignored)", name(&typ)),
            ),
        }
        if lbox == 0 {
            break;
        }
        at = end;
    }
    box_order(&types, out);
    if img.ihdr.as_ref().is_some_and(|i| i.ipr == 1) && !types.contains(b"jp2i") {
        out.not_valid(
            "JP2-NO-IPR-BOX",
            0,
            "the image header says the file has intellectual property rights information (iPR 1), but there is no 'jp2i' box",
        );
    }
    consistency(&img, out);
    Ok(None)
}

fn signature_box<R: Read + Seek>(
    r: &mut R,
    start: u64,
    stop: u64,
    out: &mut Findings,
) -> std::io::Result<()> {
    let mut b = [0u8; 4];
    let n = read_at(r, start, &mut b)?;
    if stop - start != 4 || n != 4 || b != *b"\r\n\x87\n" {
        out.not_well_formed(
            "JP2-SIGNATURE",
            start,
            "the signature box is not the 4 bytes 0D 0A 87 0A: the file is damaged or was transferred as text",
        );
    }
    Ok(())
}

fn file_type_box<R: Read + Seek>(
    r: &mut R,
    start: u64,
    stop: u64,
    out: &mut Findings,
) -> std::io::Result<()> {
    let size = stop - start;
    let mut b = vec![0u8; size.min(4096) as usize];
    let n = read_at(r, start, &mut b)?;
    b.truncate(n);
    if size < 8 || !(size - 8).is_multiple_of(4) {
        out.not_valid(
            "JP2-FTYP-LENGTH",
            start,
            format!("the file type box has {size} bytes of content, not 8 plus a multiple of 4"),
        );
    }
    if b.get(..4) != Some(b"jp2 ") {
        out.not_valid(
            "JP2-BRAND",
            start,
            "the file type box's brand is not 'jp2 ': this is not a JP2 (perhaps JPX or JPM)",
        );
    }
    if b.len() >= 8 && be32(&b[4..8]) != 0 {
        out.not_valid(
            "JP2-MINOR-VERSION",
            start + 4,
            format!(
                "the file type box's minor version is {}, not 0",
                be32(&b[4..8])
            ),
        );
    }
    if !b
        .get(8..)
        .unwrap_or(&[])
        .chunks_exact(4)
        .any(|c| c == b"jp2 ")
    {
        out.not_valid(
            "JP2-COMPATIBILITY",
            start + 8,
            "the file type box's compatibility list does not contain 'jp2 '",
        );
    }
    Ok(())
}

/// The top-level boxes' presence, count and order.
fn box_order(types: &[[u8; 4]], out: &mut Findings) {
    let pos = |t: &[u8; 4]| types.iter().position(|x| x == t);
    for (t, what) in [
        (b"ftyp", "file type"),
        (b"jp2h", "JP2 header"),
        (b"jp2c", "contiguous codestream"),
    ] {
        if pos(t).is_none() {
            out.not_well_formed(
                &format!("JP2-NO-{}", name(t).to_uppercase()),
                0,
                format!(
                    "there is no {what} box ('{}'), which every JP2 has",
                    name(t)
                ),
            );
        }
    }
    if types.first() != Some(b"jP  ") || types.get(1) != Some(b"ftyp") {
        out.not_valid(
            "JP2-BOX-ORDER",
            0,
            "the first boxes are not the signature box then the file type box",
        );
    }
    if let (Some(h), Some(c)) = (pos(b"jp2h"), pos(b"jp2c")) {
        if !(c > h && h > 1) {
            out.not_valid(
                "JP2-BOX-ORDER",
                0,
                "the JP2 header box is not between the file type box and the codestream box",
            );
        }
    }
    for t in [b"jP  ", b"ftyp", b"jp2h"] {
        if types.iter().filter(|x| *x == t).count() > 1 {
            out.not_valid(
                "JP2-DUPLICATE-BOX",
                0,
                format!("more than one '{}' box", name(t)),
            );
        }
    }
}

/// The header's image size, components and depths against the codestream's SIZ.
fn consistency(img: &Image, out: &mut Findings) {
    let (Some(i), Some(s)) = (&img.ihdr, &img.siz) else {
        return;
    };
    let checks = [
        (
            i.height as i64 == s.ysiz as i64 - s.yosiz as i64,
            "JP2-HEIGHT-SIZ",
            "height",
        ),
        (
            i.width as i64 == s.xsiz as i64 - s.xosiz as i64,
            "JP2-WIDTH-SIZ",
            "width",
        ),
        (
            i.nc as usize == s.ssiz.len(),
            "JP2-NC-SIZ",
            "number of components",
        ),
    ];
    for (ok, code, what) in checks {
        if !ok {
            out.not_valid(
                code,
                0,
                format!("the image header's {what} differs from the codestream's SIZ marker"),
            );
        }
    }
    let bpc: Vec<u8> = if i.bpc == 255 {
        img.bpcc.clone()
    } else {
        vec![i.bpc; i.nc as usize]
    };
    if bpc != s.ssiz {
        out.not_valid(
            "JP2-BPC-SIZ",
            0,
            "the header's bits per component (depth or sign) differ from the codestream's SIZ marker",
        );
    }
}

/// Reads a marker segment at `at` (within the codestream ending at `stop`): the marker
/// and its content (empty for SOC, SOD, EOC, EPH); None past the end.
fn segment<R: Read + Seek>(
    r: &mut R,
    at: u64,
    stop: u64,
) -> std::io::Result<Option<(u16, Vec<u8>)>> {
    let mut h = [0u8; 4];
    let n = read_at(r, at, &mut h)?;
    if at.saturating_add(2) > stop || n < 2 {
        return Ok(None);
    }
    let m = be16(&h);
    if matches!(m, SOC | SOD | EOC | 0xFF92) {
        return Ok(Some((m, Vec::new())));
    }
    if at + 4 > stop || n < 4 {
        return Ok(None);
    }
    let l = be16(&h[2..]) as u64;
    let mut c = vec![0u8; l.min(stop - at - 2) as usize];
    let k = read_at(r, at + 2, &mut c)?;
    c.truncate(k);
    Ok(Some((m, c)))
}

#[cfg(test)]
mod tests;
