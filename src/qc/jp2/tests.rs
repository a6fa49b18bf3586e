use std::io::Cursor;

use crate::qc::{validate, Severity, Severity::*};

fn bx(t: &[u8; 4], c: &[u8]) -> Vec<u8> {
    let mut v = ((c.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(t);
    v.extend_from_slice(c);
    v
}

fn seg(m: u16, c: &[u8]) -> Vec<u8> {
    let mut v = m.to_be_bytes().to_vec();
    v.extend_from_slice(&((c.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(c);
    v
}

struct Spec {
    w: u32,
    h: u32,
    tile: u32,
    nc: u16,
}

const RGB: Spec = Spec {
    w: 32,
    h: 16,
    tile: 16,
    nc: 3,
};

/// A codestream: SOC, SIZ, COD, QCD, one tile-part per tile, EOC.
fn codestream(s: &Spec) -> Vec<u8> {
    let mut v = vec![0xFF, 0x4F];
    let mut siz = vec![0, 0];
    for x in [s.w, s.h, 0, 0, s.tile, s.tile, 0, 0] {
        siz.extend_from_slice(&x.to_be_bytes());
    }
    siz.extend_from_slice(&s.nc.to_be_bytes());
    for _ in 0..s.nc {
        siz.extend_from_slice(&[7, 1, 1]);
    }
    v.extend(seg(0xFF51, &siz));
    v.extend(seg(0xFF52, &[0, 0, 0, 1, 0, 0, 2, 2, 0, 1]));
    v.extend(seg(0xFF5C, &[0x40, 0x48]));
    let tiles = s.w.div_ceil(s.tile) * s.h.div_ceil(s.tile);
    for t in 0..tiles {
        v.extend_from_slice(&[0xFF, 0x90, 0, 10]);
        v.extend_from_slice(&(t as u16).to_be_bytes());
        v.extend_from_slice(&(12u32 + 2 + 3).to_be_bytes());
        v.extend_from_slice(&[0, 1, 0xFF, 0x93, 0x80, 0x80, 0x80]);
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn ihdr(s: &Spec, bpc: u8) -> Vec<u8> {
    let mut c = s.h.to_be_bytes().to_vec();
    c.extend_from_slice(&s.w.to_be_bytes());
    c.extend_from_slice(&s.nc.to_be_bytes());
    c.extend_from_slice(&[bpc, 7, 0, 0]);
    bx(b"ihdr", &c)
}

fn file(header: &[u8], cs: &[u8]) -> Vec<u8> {
    let mut v = bx(b"jP  ", b"\r\n\x87\n");
    v.extend(bx(b"ftyp", b"jp2 \0\0\0\0jp2 "));
    v.extend(bx(b"jp2h", header));
    v.extend(bx(b"jp2c", cs));
    v
}

fn good_header() -> Vec<u8> {
    let mut h = ihdr(&RGB, 7);
    h.extend(bx(b"colr", &[1, 0, 0, 0, 0, 0, 16]));
    h
}

fn good() -> Vec<u8> {
    file(&good_header(), &codestream(&RGB))
}

fn run(b: &[u8]) -> Vec<(String, Severity)> {
    let v = validate(&mut Cursor::new(b)).unwrap().unwrap();
    assert_eq!(v.kind, "jp2");
    v.findings
        .into_iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

fn codes(b: &[u8]) -> Vec<(String, Severity)> {
    let mut c = run(b);
    c.sort();
    c.dedup();
    c
}

fn c(code: &str, s: Severity) -> (String, Severity) {
    (code.to_string(), s)
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn a_good_file_has_no_findings_with_or_without_tiles_and_resolution() {
    assert_eq!(run(&good()), vec![]);
    let one = Spec { tile: 64, ..RGB };
    assert_eq!(run(&file(&good_header(), &codestream(&one))), vec![]);
    let mut h = good_header();
    let mut res = bx(b"resc", &[0x2E, 0x1C, 0, 1, 0x2E, 0x1C, 0, 1, 0, 0]);
    res.extend(bx(b"resd", &[0x2E, 0x1C, 0, 1, 0x2E, 0x1C, 0, 1, 0, 0]));
    h.extend(bx(b"res ", &res));
    assert_eq!(run(&file(&h, &codestream(&RGB))), vec![]);
}

#[test]
fn truncation_is_not_well_formed() {
    let f = good();
    let cut = &f[..f.len() - 5];
    assert_eq!(
        codes(cut),
        vec![
            // Past the end is a warning, as jpylyzer reads on; the cut codestream is
            // what makes the file not well-formed.
            c("JP2-BOX-PAST-END", Warning),
            c("JP2-NEXT-TILE-PART", NotWellFormed),
            c("JP2-NO-EOC", NotWellFormed),
        ]
    );
}

#[test]
fn a_missing_eoc_is_not_well_formed() {
    let mut cs = codestream(&RGB);
    cs.truncate(cs.len() - 2);
    assert_eq!(
        codes(&file(&good_header(), &cs)),
        vec![
            c("JP2-NEXT-TILE-PART", NotWellFormed),
            c("JP2-NO-EOC", NotWellFormed)
        ]
    );
}

#[test]
fn wrong_box_lengths_are_not_well_formed() {
    // The header box's length grown by 4: it swallows the codestream box's header.
    let mut f = good();
    let at = find(&f, b"jp2h") - 4;
    let l = u32::from_be_bytes(f[at..at + 4].try_into().unwrap()) + 4;
    f[at..at + 4].copy_from_slice(&l.to_be_bytes());
    let got = codes(&f);
    assert!(got.iter().any(|(_, s)| *s == NotWellFormed), "{got:?}");
    // A length shorter than the box header.
    let mut f = good();
    f[at..at + 4].copy_from_slice(&5u32.to_be_bytes());
    assert_eq!(
        codes(&f),
        vec![
            c("JP2-BOX-LENGTH", NotWellFormed),
            c("JP2-NO-JP2C", NotWellFormed),
            c("JP2-NO-JP2H", NotWellFormed),
        ]
    );
}

#[test]
fn image_header_fields() {
    let mut f = good();
    let at = find(&f, b"ihdr") + 4;
    f[at + 11] = 6; // c
    f[at + 12] = 2; // unkC
    assert_eq!(
        codes(&f),
        vec![c("JP2-IHDR-C", NotValid), c("JP2-IHDR-UNKC", NotValid)]
    );
    let mut f = good();
    f[at + 13] = 1; // iPR without a jp2i box
    assert_eq!(codes(&f), vec![c("JP2-NO-IPR-BOX", NotValid)]);
    let mut f = good();
    f[at + 4..at + 8].copy_from_slice(&33u32.to_be_bytes()); // width
    assert_eq!(codes(&f), vec![c("JP2-WIDTH-SIZ", NotValid)]);
    let mut f = good();
    f[at + 10] = 255; // bPC varies, no bpcc
    assert_eq!(
        codes(&f),
        vec![c("JP2-BPC-SIZ", NotValid), c("JP2-NO-BPCC", NotValid)]
    );
    let mut f = good();
    let at = find(&f, b"ihdr");
    f[at] = b'i' ^ 0x20; // flipped type: no image header
    let got = codes(&f);
    assert!(got.contains(&c("JP2-NO-IHDR", NotWellFormed)), "{got:?}");
}

#[test]
fn bpcc_when_depths_vary() {
    let mut h = ihdr(&RGB, 255);
    h.extend(bx(b"bpcc", &[7, 7, 7]));
    h.extend(bx(b"colr", &[1, 0, 0, 0, 0, 0, 16]));
    assert_eq!(run(&file(&h, &codestream(&RGB))), vec![]);
}

#[test]
fn colour_specification() {
    let mk = |colr: &[u8]| {
        let mut h = ihdr(&RGB, 7);
        h.extend(bx(b"colr", colr));
        codes(&file(&h, &codestream(&RGB)))
    };
    assert_eq!(mk(&[1, 0, 0, 0, 0, 0, 12]), vec![c("JP2-ENUMCS", NotValid)]);
    assert_eq!(
        mk(&[3, 0, 0, 0, 0, 0, 16]),
        vec![c("JP2-COLR-METH", NotValid)]
    );
    assert_eq!(
        mk(&[1, 1, 0, 0, 0, 0, 16]),
        vec![c("JP2-COLR-PREC", NotValid)]
    );
    let icc = |class: &[u8; 4], size_delta: u32| {
        let mut p = vec![0u8; 132];
        p[..4].copy_from_slice(&(132 + size_delta).to_be_bytes());
        p[12..16].copy_from_slice(class);
        let mut colr = vec![2, 0, 0];
        colr.extend(p);
        colr
    };
    assert_eq!(mk(&icc(b"mntr", 0)), vec![]);
    assert_eq!(mk(&icc(b"prtr", 0)), vec![c("JP2-ICC-CLASS", NotValid)]);
    assert_eq!(mk(&icc(b"scnr", 1)), vec![c("JP2-ICC-SIZE", NotValid)]);
    let mut h = ihdr(&RGB, 7);
    assert!(h.len() == 22);
    h.truncate(22);
    assert_eq!(
        codes(&file(&h, &codestream(&RGB))),
        vec![c("JP2-NO-COLR", NotValid)]
    );
}

#[test]
fn resolution_boxes() {
    let mut h = good_header();
    let res = bx(b"resc", &[0, 0, 0, 1, 0x2E, 0x1C, 0, 1, 0, 0]);
    h.extend(bx(b"res ", &res));
    assert_eq!(
        codes(&file(&h, &codestream(&RGB))),
        vec![c("JP2-RES-VALUE", NotValid)]
    );
    let mut h = good_header();
    h.extend(bx(b"res ", &bx(b"resx", &[0; 10])));
    assert_eq!(
        codes(&file(&h, &codestream(&RGB))),
        vec![c("JP2-RES-EMPTY", NotValid)]
    );
}

#[test]
fn box_order_and_brand() {
    let mut f = good();
    let at = find(&f, b"ftyp") + 4;
    f[at..at + 4].copy_from_slice(b"jpx ");
    f[at + 8..at + 12].copy_from_slice(b"jpx ");
    assert_eq!(
        codes(&f),
        vec![c("JP2-BRAND", NotValid), c("JP2-COMPATIBILITY", NotValid)]
    );
    // The codestream before the header.
    let mut v = bx(b"jP  ", b"\r\n\x87\n");
    v.extend(bx(b"ftyp", b"jp2 \0\0\0\0jp2 "));
    v.extend(bx(b"jp2c", &codestream(&RGB)));
    v.extend(bx(b"jp2h", &good_header()));
    assert_eq!(codes(&v), vec![c("JP2-BOX-ORDER", NotValid)]);
    let mut f = good();
    f.extend(bx(b"zzzz", b"x"));
    assert_eq!(codes(&f), vec![c("JP2-UNKNOWN-BOX", Warning)]);
}

#[test]
fn codestream_markers() {
    let cs = codestream(&RGB);
    // No SOC.
    let mut bad = cs.clone();
    bad[1] = 0x4E;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![c("JP2-NO-SOC", NotWellFormed)]
    );
    // COD's marker changed to an unknown one: no COD.
    let mut bad = cs.clone();
    let at = find(&bad, &[0xFF, 0x52]);
    bad[at + 1] = 0x6F;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![c("JP2-NO-COD", NotValid)]
    );
    // An SOT's Lsot, TPsot.
    let mut bad = cs.clone();
    let at = find(&bad, &[0xFF, 0x90]);
    bad[at + 3] = 11;
    bad[at + 10] = 255;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![c("JP2-SOT-LENGTH", NotValid), c("JP2-TPSOT", NotValid)]
    );
    // Psot pointing into the tile data.
    let mut bad = cs.clone();
    bad[at + 9] = 16;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![
            c("JP2-NEXT-TILE-PART", NotWellFormed),
            c("JP2-TILE-COUNT", NotValid)
        ]
    );
    // A tile index beyond the number of tiles.
    let mut bad = cs.clone();
    bad[at + 5] = 9;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![c("JP2-ISOT", NotValid)]
    );
    // TNsot saying 2 tile-parts where there is one.
    let mut bad = cs.clone();
    bad[at + 11] = 2;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![c("JP2-TILE-PART-COUNT", NotValid)]
    );
    // A comment with a control character in its text; a binary one is fine.
    let qcd = find(&cs, &[0xFF, 0x5C]);
    for (rcom, ok) in [(1u8, false), (0, true)] {
        let mut bad = cs[..qcd].to_vec();
        bad.extend(seg(0xFF64, &[0, rcom, b'a', 0x07]));
        bad.extend_from_slice(&cs[qcd..]);
        let want = if ok {
            vec![]
        } else {
            vec![c("JP2-COM", NotValid)]
        };
        assert_eq!(codes(&file(&good_header(), &bad)), want);
    }
    // QCD's length one short: the next marker is not where it says.
    let mut bad = cs.clone();
    let at = find(&bad, &[0xFF, 0x5C]);
    bad[at + 3] -= 1;
    assert_eq!(
        codes(&file(&good_header(), &bad)),
        vec![
            c("JP2-MAIN-HEADER", NotWellFormed),
            c("JP2-QCD", NotValid),
            c("JP2-TILE-COUNT", NotValid)
        ]
    );
    // SIZ: a component count that does not fit the length.
    let mut bad = cs;
    let at = find(&bad, &[0xFF, 0x51]);
    bad[at + 39] = 2;
    let got = codes(&file(&good_header(), &bad));
    assert!(got.contains(&c("JP2-SIZ-LENGTH", NotValid)), "{got:?}");
    assert!(got.contains(&c("JP2-NC-SIZ", NotValid)), "{got:?}");
}

#[test]
fn truncation_at_every_offset_never_panics() {
    let mut h = good_header();
    h.extend(bx(b"res ", &bx(b"resc", &[1, 1, 1, 1, 1, 1, 1, 1, 0, 0])));
    let f = file(&h, &codestream(&RGB));
    for n in 12..f.len() {
        let got = run(&f[..n]);
        assert!(
            got.iter().any(|(_, s)| *s == NotWellFormed),
            "cut at {n}: {got:?}"
        );
    }
    // Every byte flipped: findings, never a panic.
    for i in 12..f.len() {
        let mut g = f.clone();
        g[i] ^= 0xFF;
        let _ = run(&g);
    }
}
