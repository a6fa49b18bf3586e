use std::io::{Cursor, Write};

use crate::qc::{validate, Severity, Severity::*};

/// The objects of a two-page document: 1 catalog, 2 pages, 3 and 4 pages, 5 content.
fn objects() -> Vec<(u32, Vec<u8>)> {
    vec![
        (1, b"<< /Type /Catalog /Pages 2 0 R >>".to_vec()),
        (
            2,
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>".to_vec(),
        ),
        (
            3,
            b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>".to_vec(),
        ),
        (4, b"<< /Type /Page /Parent 2 0 R >>".to_vec()),
        (5, b"<< /Length 3 >>\nstream\nabc\nendstream".to_vec()),
    ]
}

/// A classic file: the objects, an xref table, a trailer with `extra` keys.
fn classic(extra: &str) -> Vec<u8> {
    let mut f = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offs = Vec::new();
    for (n, body) in objects() {
        offs.push(f.len());
        writeln!(f, "{n} 0 obj").unwrap();
        f.extend(body);
        f.extend(b"\nendobj\n");
    }
    let x = f.len();
    f.extend(b"xref\n0 6\n0000000000 65535 f \n");
    for o in offs {
        writeln!(f, "{o:010} 00000 n ").unwrap();
    }
    write!(
        f,
        "trailer\n<< /Size 6 /Root 1 0 R{extra} >>\nstartxref\n{x}\n%%EOF\n"
    )
    .unwrap();
    f
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A PDF 1.5 file: objects 1 to 4 in an object stream (6), 5 plain, and a
/// cross-reference stream (7) with the PNG Up predictor.
fn compressed() -> Vec<u8> {
    let mut f = b"%PDF-1.5\n".to_vec();
    let objs = objects();
    let (mut head, mut body) = (String::new(), Vec::new());
    for (n, b) in &objs[..4] {
        head.push_str(&format!("{n} {} ", body.len()));
        body.extend_from_slice(b);
        body.push(b' ');
    }
    let mut data = head.clone().into_bytes();
    data.extend(&body);
    let z = zlib(&data);
    let o5 = f.len();
    f.extend(b"5 0 obj\n");
    f.extend(&objs[4].1);
    f.extend(b"\nendobj\n");
    let o6 = f.len();
    write!(
        f,
        "6 0 obj\n<< /Type /ObjStm /N 4 /First {} /Length {} /Filter /FlateDecode >>\nstream\n",
        head.len(),
        z.len()
    )
    .unwrap();
    f.extend(&z);
    f.extend(b"\nendstream\nendobj\n");
    let o7 = f.len();
    // Rows of W [1 2 1]: type, field 2, field 3.
    let mut rows: Vec<[u8; 4]> = vec![[0, 0, 0, 255]];
    for i in 0..4u8 {
        rows.push([2, 0, 6, i]);
    }
    rows.push([1, (o5 >> 8) as u8, o5 as u8, 0]);
    rows.push([1, (o6 >> 8) as u8, o6 as u8, 0]);
    rows.push([1, (o7 >> 8) as u8, o7 as u8, 0]);
    let mut raw = Vec::new();
    let mut prev = [0u8; 4];
    for r in rows {
        raw.push(2);
        raw.extend(r.iter().zip(prev).map(|(a, b)| a.wrapping_sub(b)));
        prev = r;
    }
    let z = zlib(&raw);
    write!(f, "7 0 obj\n<< /Type /XRef /Size 8 /W [1 2 1] /Root 1 0 R /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >> /Length {} >>\nstream\n", z.len()).unwrap();
    f.extend(&z);
    write!(f, "\nendstream\nendobj\nstartxref\n{o7}\n%%EOF\n").unwrap();
    f
}

fn run(b: &[u8]) -> (Option<u32>, Vec<(String, Severity)>) {
    let v = validate(&mut Cursor::new(b)).unwrap().unwrap();
    assert_eq!(v.kind, "pdf");
    let mut c: Vec<_> = v
        .findings
        .into_iter()
        .map(|f| (f.code, f.severity))
        .collect();
    c.sort();
    c.dedup();
    (v.pages, c)
}

fn c(code: &str, s: Severity) -> (String, Severity) {
    (code.to_string(), s)
}

fn pos(f: &[u8], needle: &str) -> usize {
    f.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap()
}

fn replace(f: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = f.windows(from.len()).position(|w| w == from).unwrap();
    let mut g = f[..at].to_vec();
    g.extend_from_slice(to);
    g.extend_from_slice(&f[at + from.len()..]);
    g
}

#[test]
fn good_files_have_no_findings_and_a_page_count() {
    assert_eq!(run(&classic("")), (Some(2), vec![]));
    assert_eq!(run(&compressed()), (Some(2), vec![]));
}

#[test]
fn an_offset_pointing_elsewhere_is_not_well_formed() {
    let f = classic("");
    let g = replace(&f, b"0000000015 00000 n", b"0000000016 00000 n");
    // The catalog is not where the table says: no page count (qpdf reconstructs).
    assert_eq!(
        run(&g),
        (
            None,
            vec![
                c("PDF-PAGES", NotWellFormed),
                c("PDF-XREF-OFFSET", NotWellFormed)
            ]
        )
    );
    // A broken entry.
    let g = replace(&f, b"0000000015 00000 n", b"000000015 00000 n ");
    assert_eq!(
        run(&g).1,
        vec![
            c("PDF-PAGES", NotWellFormed),
            c("PDF-XREF-SYNTAX", NotWellFormed)
        ]
    );
}

#[test]
fn truncation_and_the_end_of_file() {
    let f = classic("");
    let (pages, got) = run(&f[..f.len() - 30]);
    assert_eq!(pages, None);
    assert_eq!(
        got,
        vec![
            c("PDF-NO-EOF", Warning),
            c("PDF-NO-STARTXREF", NotWellFormed)
        ]
    );
    let g = &f[..f.len() - 6];
    assert_eq!(run(g), (Some(2), vec![c("PDF-NO-EOF", Warning)]));
    let g = replace(&f, b"startxref\n", b"startxref\n9");
    assert_eq!(run(&g).1, vec![c("PDF-STARTXREF", NotWellFormed)]);
}

#[test]
fn trailer_checks() {
    let f = classic("");
    let g = replace(&f, b"/Size 6", b"/Size 9");
    assert_eq!(run(&g).1, vec![c("PDF-SIZE", NotValid)]);
    let g = replace(&f, b"/Root 1 0 R", b"/Info 1 0 R");
    assert_eq!(run(&g), (None, vec![c("PDF-NO-ROOT", NotWellFormed)]));
    let g = classic(" /Encrypt << /Filter /Standard >>");
    assert_eq!(run(&g), (Some(2), vec![c("PDF-ENCRYPTED", Warning)]));
    let g = replace(&f, b"%PDF-1.4", b"%PDF-9.9");
    assert_eq!(run(&g).1, vec![c("PDF-HEADER-VERSION", Warning)]);
    let g = replace(&f, b"/Count 2", b"/Count 3");
    assert_eq!(run(&g), (Some(3), vec![c("PDF-PAGE-COUNT", Warning)]));
    let g = replace(
        &f,
        b"/Type /Page /Parent 2 0 R >>",
        b"/Type /Pagf /Parent 2 0 R >>",
    );
    assert_eq!(run(&g), (Some(2), vec![c("PDF-PAGE-TYPE", NotValid)]));
    let g = replace(&f, b"/Pages 2 0 R", b"/Pagez 2 0 R");
    assert_eq!(run(&g), (None, vec![c("PDF-PAGES", NotWellFormed)]));
}

#[test]
fn damaged_objects_are_not_well_formed() {
    let f = classic("");
    // A stream's /Length off by one, endobj damaged, a bad token.
    for (from, to) in [
        (&b"<< /Length 3 >>"[..], &b"<< /Length 2 >>"[..]),
        (b"R >>\nendobj", b"R >>\nendobx"),
        (b"/Count 2", b"/Count #2"),
    ] {
        let g = replace(&f, from, to);
        let got = run(&g).1;
        assert!(got.contains(&c("PDF-OBJECT", NotWellFormed)), "{got:?}");
    }
    // A hex string with a character that is not hexadecimal, in the trailer.
    let g = classic(" /ID [<0a1g> <0a1b>]");
    assert_eq!(run(&g).1, vec![c("PDF-TRAILER", NotWellFormed)]);
    assert_eq!(run(&classic(" /ID [<0a1f> <0A1B>]")), (Some(2), vec![]));
}

/// The file with an incremental update of object 4, its /Prev pointing at `prev`
/// (None: the previous section).
fn updated(prev: Option<usize>) -> Vec<u8> {
    let mut f = classic("");
    let s = String::from_utf8_lossy(&f).to_string();
    let old: usize = s[s.rfind("startxref\n").unwrap() + 10..]
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let o4 = f.len();
    f.extend(b"4 0 obj\n<< /Type /Page /Parent 2 0 R /Rotate 90 >>\nendobj\n");
    let x = f.len();
    let p = prev.unwrap_or(old).min(x);
    let p = if prev == Some(0) { x } else { p };
    write!(
        f,
        "xref\n4 1\n{o4:010} 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev {p} >>\nstartxref\n{x}\n%%EOF\n"
    )
    .unwrap();
    f
}

#[test]
fn incremental_updates_and_loops() {
    assert_eq!(run(&updated(None)), (Some(2), vec![]));
    let (_, got) = run(&updated(Some(0)));
    assert!(got.contains(&c("PDF-PREV-LOOP", NotWellFormed)), "{got:?}");
}

#[test]
fn hybrid_files_read_the_xref_stream() {
    // A table for objects 0-3 and 5, object 4 only in the /XRefStm stream.
    let f = classic("");
    let o4 = pos(&f, "4 0 obj");
    let mut g = f[..pos(&f, "xref\n")].to_vec();
    let xs = g.len();
    let raw = [1u8, (o4 >> 8) as u8, o4 as u8, 0];
    write!(
        g,
        "6 0 obj\n<< /Type /XRef /Size 7 /W [1 2 1] /Index [4 1] /Length 4 >>\nstream\n"
    )
    .unwrap();
    g.extend(raw);
    g.extend(b"\nendstream\nendobj\n");
    let x = g.len();
    g.extend(b"xref\n0 4\n0000000000 65535 f \n");
    for n in 1..4 {
        let o = pos(&f, &format!("\n{n} 0 obj")) + 1;
        writeln!(g, "{o:010} 00000 n ").unwrap();
    }
    let o5 = pos(&f, "5 0 obj");
    write!(g, "5 2\n{o5:010} 00000 n \n{xs:010} 00000 n \n").unwrap();
    write!(
        g,
        "trailer\n<< /Size 7 /Root 1 0 R /XRefStm {xs} >>\nstartxref\n{x}\n%%EOF\n"
    )
    .unwrap();
    assert_eq!(run(&g), (Some(2), vec![]));
    // The stream pointing object 4 elsewhere.
    let h = replace(&g, &raw, &[1, (o4 >> 8) as u8, o4 as u8 + 1, 0]);
    assert_eq!(run(&h).1, vec![c("PDF-XREF-OFFSET", NotWellFormed)]);
}

#[test]
fn broken_streams() {
    let f = compressed();
    let g = replace(&f, b"/Type /XRef", b"/Type /XReg");
    assert_eq!(run(&g), (None, vec![c("PDF-XREF-STREAM", NotWellFormed)]));
    for cols in [&b"/Columns 5"[..], b"/Columns 99999999999999"] {
        let g = replace(&f, b"/Columns 4", cols);
        assert_eq!(run(&g).1, vec![c("PDF-XREF-STREAM", NotWellFormed)]);
    }
    let at = f.windows(7).rposition(|w| w == b"endobj\n").unwrap();
    let mut g = f.clone();
    g[at + 2] = b'x';
    assert_eq!(run(&g).1, vec![c("PDF-OBJECT", NotWellFormed)]);
    // The object stream's data damaged: the page count cannot be read.
    let at = f.windows(8).position(|w| w == b"stream\nx").unwrap() + 8;
    let mut g = f.clone();
    g[at] ^= 0xFF;
    let (pages, got) = run(&g);
    assert_eq!(pages, None);
    assert_eq!(
        got,
        vec![
            c("PDF-PAGES", NotWellFormed),
            c("PDF-STREAM-DATA", NotWellFormed)
        ]
    );
}

#[test]
fn truncation_at_every_offset_and_flipped_bytes_never_panic() {
    for f in [classic(""), compressed(), updated(None)] {
        // Cut before the first startxref: damaged; after it, only %%EOF is missing
        // (a warning, as qpdf passes it).
        let sx = f.windows(9).position(|w| w == b"startxref").unwrap();
        for n in 5..f.len() {
            let (_, got) = run(&f[..n]);
            let bad = got.iter().any(|(_, s)| *s != Warning);
            assert!(bad || n > sx, "cut at {n}: {got:?}");
        }
        for i in 5..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x55;
            let _ = run(&g);
        }
    }
}
