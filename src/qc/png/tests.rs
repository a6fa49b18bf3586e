use std::io::Write;

use super::super::{codes, codes_of, one, Severity};
use Severity::*;

fn chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(typ);
    c.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(typ);
    h.update(data);
    c.extend_from_slice(&h.finalize().to_be_bytes());
    c
}

fn ihdr(w: u32, h: u32, depth: u8, colour: u8, interlace: u8) -> Vec<u8> {
    let mut d = w.to_be_bytes().to_vec();
    d.extend_from_slice(&h.to_be_bytes());
    d.extend_from_slice(&[depth, colour, 0, 0, interlace]);
    chunk(b"IHDR", &d)
}

fn zlib(raw: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(raw).unwrap_or_default();
    z.finish().unwrap_or_default()
}

/// A PNG of the chunks given between the signature and IEND.
fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut f = b"\x89PNG\r\n\x1a\n".to_vec();
    for c in chunks {
        f.extend_from_slice(c);
    }
    f.extend_from_slice(&chunk(b"IEND", &[]));
    f
}

/// An 8-bit greyscale 10×6 image's raw rows (filter byte 0 and 10 pixels each).
fn rows(n: usize) -> Vec<u8> {
    (0..n).flat_map(|_| [0u8; 11]).collect()
}

fn grey() -> Vec<u8> {
    png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&rows(6)))])
}

#[test]
fn valid_pngs_have_no_findings() {
    assert_eq!(codes_of(&grey()), (vec![], None));
    // The IDAT split in two chunks, and ancillary chunks in their places.
    let z = zlib(&rows(6));
    let f = png(&[
        ihdr(10, 6, 8, 0, 0),
        chunk(b"gAMA", &[0, 0, 0xB1, 0x8F]),
        chunk(b"pHYs", &[0, 0, 0x2E, 0x23, 0, 0, 0x2E, 0x23, 1]),
        chunk(b"IDAT", &z[..5]),
        chunk(b"IDAT", &z[5..]),
        chunk(b"tEXt", b"Title\0scan"),
    ]);
    assert_eq!(codes(&f), vec![]);
    // Interlaced: 10×6 at 8 bits, Adam7 passes of 2×1, 1×1, 3×1, 2×2, 5×1, 5×3, 10×3.
    let mut raw = Vec::new();
    for (pw, ph) in [(2, 1), (1, 1), (3, 1), (2, 2), (5, 1), (5, 3), (10, 3)] {
        for _ in 0..ph {
            raw.push(0);
            raw.extend(std::iter::repeat_n(0u8, pw));
        }
    }
    let f = png(&[ihdr(10, 6, 8, 0, 1), chunk(b"IDAT", &zlib(&raw))]);
    assert_eq!(codes(&f), vec![]);
    // A palette image with its PLTE.
    let f = png(&[
        ihdr(10, 6, 8, 3, 0),
        chunk(b"PLTE", &[0; 6]),
        chunk(b"IDAT", &zlib(&rows(6))),
    ]);
    assert_eq!(codes(&f), vec![]);
}

#[test]
fn a_crc_error_is_not_well_formed() {
    let mut f = grey();
    f[8 + 8 + 3] ^= 1; // the width's low byte: IHDR's CRC no longer matches
    let c = codes(&f);
    assert_eq!(c[0], ("PNG-CRC".to_string(), NotWellFormed), "{c:?}");
    let mut f = grey();
    let n = f.len();
    f[n - 12 - 6] ^= 0x55; // inside IDAT's compressed data or CRC
    assert!(codes(&f).contains(&("PNG-CRC".to_string(), NotWellFormed)));
}

#[test]
fn short_image_data_is_not_well_formed() {
    let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&rows(5)))]);
    assert_eq!(codes(&f), one("PNG-IDAT-SHORT", NotWellFormed));
    let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&rows(7)))]);
    assert_eq!(codes(&f), one("PNG-IDAT-EXTRA", Warning));
    let mut raw = rows(6);
    raw[22] = 9;
    let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", &zlib(&raw))]);
    assert_eq!(codes(&f), one("PNG-FILTER-TYPE", NotWellFormed));
    let f = png(&[ihdr(10, 6, 8, 0, 0), chunk(b"IDAT", b"not zlib data")]);
    assert_eq!(codes(&f), one("PNG-IDAT-ZLIB", NotWellFormed));
}

#[test]
fn truncation_is_found() {
    let f = grey();
    assert_eq!(codes(&f[..f.len() - 12]), one("PNG-NO-IEND", NotWellFormed));
    assert_eq!(
        codes(&f[..f.len() - 20]),
        one("PNG-TRUNCATED", NotWellFormed)
    );
    assert_eq!(codes(&f[..20]), one("PNG-TRUNCATED", NotWellFormed));
    let mut g = f.clone();
    g.extend_from_slice(b"junk");
    assert_eq!(codes(&g), one("PNG-AFTER-IEND", Warning));
}

#[test]
fn ihdr_and_chunk_rules() {
    let idat = chunk(b"IDAT", &zlib(&rows(6)));
    let c = |chunks: &[Vec<u8>]| codes(&png(chunks));
    assert_eq!(
        c(&[ihdr(10, 6, 3, 0, 0), idat.clone()]),
        one("PNG-IHDR-DEPTH", NotWellFormed)
    );
    assert_eq!(
        c(&[ihdr(0, 6, 8, 0, 0), idat.clone()]),
        one("PNG-IHDR-SIZE", NotWellFormed)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 0, 2), idat.clone()]),
        one("PNG-IHDR-INTERLACE", NotWellFormed)
    );
    assert_eq!(
        c(std::slice::from_ref(&idat)),
        one("PNG-IHDR-FIRST", NotWellFormed)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 3, 0), idat.clone()]),
        one("PNG-PLTE-MISSING", NotWellFormed)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 0, 0), chunk(b"PLTE", &[0; 6]), idat.clone()]),
        one("PNG-PLTE-FORBIDDEN", NotValid)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 3, 0), chunk(b"PLTE", &[0; 7]), idat.clone()]),
        one("PNG-PLTE-LENGTH", NotWellFormed)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 0, 0), chunk(b"ABCD", &[]), idat.clone()]),
        one("PNG-CHUNK-UNKNOWN-CRITICAL", NotValid)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 0, 0), idat.clone(), chunk(b"gAMA", &[0; 4])]),
        one("PNG-CHUNK-ORDER", NotValid)
    );
    let z = zlib(&rows(6));
    assert_eq!(
        c(&[
            ihdr(10, 6, 8, 0, 0),
            chunk(b"IDAT", &z[..5]),
            chunk(b"tEXt", b"a\0b"),
            chunk(b"IDAT", &z[5..]),
        ]),
        one("PNG-IDAT-SPLIT", NotWellFormed)
    );
    assert_eq!(
        c(&[ihdr(10, 6, 8, 0, 0)]),
        one("PNG-NO-IDAT", NotWellFormed)
    );
    let mut f = grey();
    f[1] = b'Q';
    let mut out = super::super::Findings::default();
    let len = f.len() as u64;
    super::validate(&mut std::io::Cursor::new(&f), len, &mut out).unwrap_or_default();
    let got: Vec<_> = out.finish().into_iter().map(|x| x.code).collect();
    assert_eq!(got, vec!["PNG-SIGNATURE".to_string()]);
}

#[test]
fn truncation_and_damage_never_panic() {
    super::super::damage_never_panics(&grey());
    let f = png(&[
        ihdr(10, 6, 8, 3, 0),
        chunk(b"PLTE", &[0; 6]),
        chunk(b"IDAT", &zlib(&rows(6))),
    ]);
    super::super::damage_never_panics(&f);
}

#[test]
#[ignore = "needs python3 with Pillow; run by hand"]
fn pngs_written_by_pillow_are_valid() {
    let script = r#"
import sys
from PIL import Image
d = sys.argv[1]
for m in ["1", "L", "LA", "RGB", "RGBA", "P", "I;16"]:
    im = Image.effect_noise((301, 203), 60).convert(m)
    im.save(f"{d}/{m.replace(';', '')}.png", dpi=(300, 300))
    im.save(f"{d}/{m.replace(';', '')}-opt.png", optimize=True)
"#;
    super::super::python_files_are_valid("png", script);
}
