use super::super::{codes, codes_of, one, Severity};
use Severity::*;

fn seg(m: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, m];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

fn jfif() -> Vec<u8> {
    seg(0xE0, b"JFIF\0\x01\x02\x01\x01\x2c\x01\x2c\0\0")
}

fn dqt() -> Vec<u8> {
    let mut b = vec![0u8];
    b.extend_from_slice(&[1; 64]);
    seg(0xDB, &b)
}

fn sof() -> Vec<u8> {
    // 8-bit, 16 high, 16 wide, one component (id 1, 1×1, table 0).
    seg(0xC0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0])
}

fn dht() -> Vec<u8> {
    let mut b = vec![0x00, 0, 1];
    b.extend_from_slice(&[0; 14]);
    b.push(0);
    b.extend_from_slice(&[0x10, 0, 1]);
    b.extend_from_slice(&[0; 14]);
    b.push(0);
    seg(0xC4, &b)
}

fn sos() -> Vec<u8> {
    seg(0xDA, &[1, 1, 0x00, 0, 63, 0])
}

/// A structurally complete baseline JPEG; `data` is the entropy-coded data.
fn jpeg(extra: &[Vec<u8>], data: &[u8]) -> Vec<u8> {
    let mut f = vec![0xFF, 0xD8];
    for s in [jfif(), dqt(), sof(), dht()].iter().chain(extra) {
        f.extend_from_slice(s);
    }
    f.extend_from_slice(&sos());
    f.extend_from_slice(data);
    f.extend_from_slice(&[0xFF, 0xD9]);
    f
}

const DATA: &[u8] = &[0x12, 0xFF, 0x00, 0x34, 0x56];

#[test]
fn a_valid_jpeg_has_no_findings() {
    assert_eq!(codes_of(&jpeg(&[], DATA)), (vec![], None));
}

#[test]
fn a_missing_eoi_is_not_well_formed() {
    let f = jpeg(&[], DATA);
    assert_eq!(codes(&f[..f.len() - 2]), one("JPEG-NO-EOI", NotWellFormed));
    assert_eq!(codes(&f[..f.len() - 1]), one("JPEG-NO-EOI", NotWellFormed));
    // Cut inside a segment.
    assert_eq!(codes(&f[..30]), one("JPEG-TRUNCATED", NotWellFormed));
    let mut g = f.clone();
    g.extend_from_slice(b"appended");
    assert_eq!(codes(&g), one("JPEG-AFTER-EOI", Warning));
}

#[test]
fn marker_order_and_lengths() {
    let mut f = vec![0xFF, 0xD8];
    f.extend_from_slice(&dqt());
    f.extend_from_slice(&sos());
    f.extend_from_slice(&[0xFF, 0xD9]);
    assert_eq!(codes(&f), one("JPEG-SOS-BEFORE-SOF", NotWellFormed));
    // A segment length one too long: the next marker is not where it should be.
    let mut f = jpeg(&[], DATA);
    f[5] += 1;
    assert_eq!(codes(&f), one("JPEG-MARKER-EXPECTED", NotWellFormed));
    let f = jpeg(&[sof()], DATA);
    assert_eq!(codes(&f), one("JPEG-SOF-MULTIPLE", NotValid));
}

#[test]
fn frame_fields_are_checked() {
    let f = jpeg(&[], DATA);
    let at = f.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap_or(0);
    let mut g = f.clone();
    g[at + 4] = 12;
    assert_eq!(codes(&g), one("JPEG-SOF-PRECISION", NotValid));
    let mut g = f.clone();
    g[at + 7] = 0;
    g[at + 8] = 0;
    assert_eq!(codes(&g), one("JPEG-SOF-SIZE", NotValid));
    let mut g = f.clone();
    g[at + 5] = 0;
    g[at + 6] = 0;
    assert_eq!(codes(&g), one("JPEG-NO-DNL", NotWellFormed));
}

#[test]
fn tables_a_scan_uses_must_be_defined() {
    let mut f = vec![0xFF, 0xD8];
    f.extend_from_slice(&sof());
    f.extend_from_slice(&sos());
    f.extend_from_slice(DATA);
    f.extend_from_slice(&[0xFF, 0xD9]);
    assert_eq!(
        codes(&f),
        vec![
            ("JPEG-DQT-MISSING".to_string(), NotValid),
            ("JPEG-DHT-MISSING".to_string(), Warning)
        ]
    );
}

#[test]
fn restart_markers_must_follow_in_sequence() {
    let dri = seg(0xDD, &[0, 4]);
    let good = [0x11, 0xFF, 0xD0, 0x22, 0xFF, 0xD1, 0x33, 0xFF, 0xD2];
    assert_eq!(codes(&jpeg(std::slice::from_ref(&dri), &good)), vec![]);
    let bad = [0x11, 0xFF, 0xD0, 0x22, 0xFF, 0xD2, 0x33];
    assert_eq!(
        codes(&jpeg(&[dri], &bad)),
        one("JPEG-RST-SEQUENCE", NotValid)
    );
    assert_eq!(
        codes(&jpeg(&[], &good)),
        one("JPEG-RST-UNEXPECTED", NotValid)
    );
}

#[test]
fn jfif_and_exif_segments_are_checked() {
    let mut f = jpeg(&[], DATA);
    f[13] = 7; // density units
    assert_eq!(codes(&f), one("JPEG-JFIF-UNITS", NotValid));
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
    exif.extend_from_slice(&[0x0F, 0x01, 2, 0, 1, 0, 0, 0, b'X', 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(codes(&jpeg(&[seg(0xE1, &exif)], DATA)), vec![]);
    let short = &exif[..exif.len() - 6];
    assert_eq!(
        codes(&jpeg(&[seg(0xE1, short)], DATA)),
        one("JPEG-EXIF-IFD", NotValid)
    );
    let mut bad = exif.clone();
    bad[8] = 43;
    assert_eq!(
        codes(&jpeg(&[seg(0xE1, &bad)], DATA)),
        one("JPEG-EXIF-HEADER", NotValid)
    );
}

#[test]
fn truncation_and_damage_never_panic() {
    let dri = seg(0xDD, &[0, 4]);
    let good = [0x11, 0xFF, 0xD0, 0x22, 0xFF, 0xD1, 0x33, 0xFF, 0xD2];
    super::super::damage_never_panics(&jpeg(&[dri], &good));
}

#[test]
#[ignore = "needs python3 with Pillow; run by hand"]
fn jpegs_written_by_pillow_are_valid() {
    let script = r#"
import sys
from PIL import Image
d = sys.argv[1]
for m in ["L", "RGB", "CMYK"]:
    im = Image.effect_noise((301, 203), 60).convert(m)
    im.save(f"{d}/{m}.jpg", dpi=(300, 300))
    im.save(f"{d}/{m}-prog.jpg", progressive=True, optimize=True)
    im.save(f"{d}/{m}-q100.jpg", quality=100, subsampling=0)
im = Image.effect_noise((301, 203), 60).convert("RGB")
ex = Image.Exif()
ex[0x010F] = "Scanner"
ex[0x0132] = "2026:01:01 00:00:00"
im.save(f"{d}/exif.jpg", exif=ex, dpi=(400, 400))
"#;
    super::super::python_files_are_valid("jpeg", script);
}
