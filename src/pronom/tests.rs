//! The identifier's unit tests: the built-in signatures on known content, the two
//! windows of a large file, and the prefilter against matching every signature.

use super::*;

#[test]
fn builtin_loads_and_identifies_basics() {
    let id = Identifier::builtin().unwrap();
    let (formats, sigs, containers) = id.counts();
    assert!(
        formats > 2000 && sigs > 1500 && containers > 100,
        "{formats} {sigs} {containers}"
    );
    let r = id.identify_bytes(b"II*\0\x08\0\0\0", None, Some("a.tif"));
    assert_eq!(r.puid.as_deref(), Some("fmt/353"), "{r:?}");
    let r = id.identify_bytes(b"GIF89a\x01\0\x01\0\0\0\0;", None, None);
    assert_eq!(r.puid.as_deref(), Some("fmt/4"), "{r:?}");
    let r = id.identify_bytes(b"hello\n", None, Some("a.txt"));
    assert_eq!(
        (r.puid.as_deref(), r.basis),
        (Some("x-fmt/111"), Basis::Text)
    );
    let r = id.identify_bytes(b"\x01\x02\x03", None, None);
    assert_eq!((r.puid, r.basis), (None, Basis::None));
}

/// A large file: the beginning-of-file sequence in the head window, the
/// end-of-file one in the tail window, nothing of the middle read.
#[test]
fn head_and_tail_windows_of_a_large_file() {
    let id = Identifier::builtin().unwrap();
    let mut head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    head.resize(SCAN_LEN, b' ');
    let mut tail = vec![b' '; SCAN_LEN - 6];
    tail.extend_from_slice(b"%%EOF\n");
    let r = id.identify_bytes(&head, Some(&tail), Some("big.pdf"));
    assert_eq!(r.puid.as_deref(), Some("fmt/18"), "{r:?}");
    // Without its end-of-file marker in the tail, no PDF signature matches.
    let r = id.identify_bytes(&head, Some(&head), Some("big.pdf"));
    assert_ne!(r.puid.as_deref(), Some("fmt/18"), "{r:?}");
    // read_ends keeps two windows, whatever the length.
    let data: Vec<u8> = (0..(3 * SCAN_LEN)).map(|i| (i % 251) as u8).collect();
    let (h, t) = read_ends(&mut std::io::Cursor::new(&data), data.len() as u64).unwrap();
    assert_eq!(h, &data[..SCAN_LEN]);
    assert_eq!(t.unwrap(), &data[2 * SCAN_LEN..]);
}

/// Bytes in, values out: any `Read + Seek` source is identified (here bytes in
/// memory, never a file), from its two windows, as [`Identifier::identify_bytes`] does.
#[test]
fn identify_reader_on_bytes_in_memory() {
    let id = Identifier::builtin().unwrap();
    let mut data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    data.resize(3 * SCAN_LEN, b' ');
    data.extend_from_slice(b"%%EOF\n");
    let len = data.len() as u64;
    let r = id
        .identify_reader(&mut std::io::Cursor::new(&data), len, Some("big.pdf"))
        .unwrap();
    assert_eq!(r.puid.as_deref(), Some("fmt/18"), "{r:?}");
    let tail = &data[data.len() - SCAN_LEN..];
    assert_eq!(
        r,
        id.identify_bytes(&data[..SCAN_LEN], Some(tail), Some("big.pdf"))
    );
}

/// A byte string that the tokens likely match: each literal as it is, a class or
/// range by its first value, gaps at their least, the first (or the `last`)
/// alternative.
fn synthesize(toks: &[pattern::Tok], out: &mut Vec<u8>, last: bool) {
    use pattern::Tok;
    for t in toks {
        match t {
            Tok::Lit(v) => out.extend_from_slice(v),
            Tok::Class(set) => out.push((0..=255u8).find(|b| set.contains(*b)).unwrap_or(0)),
            Tok::Range { lo, .. } => out.extend_from_slice(lo),
            Tok::NotSeq(v) => out.extend(v.iter().map(|b| !b)),
            Tok::Gap { min, .. } => out.resize(out.len() + min, 0),
            Tok::Alt(alts) => {
                if let Some(a) = if last { alts.last() } else { alts.first() } {
                    synthesize(a, out, last)
                }
            }
        }
    }
}

/// The prefilter only saves work: for content built from every signature (each
/// sequence written where its anchor and least offsets put it), and for random
/// content, identification with the prefilter equals matching every signature in
/// full.
#[test]
fn prefilter_never_changes_the_result() {
    let id = Identifier::builtin().unwrap();
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect()
    };
    let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (c, last) in id.sigs.iter().flat_map(|c| [(c, false), (c, true)]) {
        let mut head = random(64);
        let mut rtail = random(64);
        for seq in &c.sig.seqs {
            let buf = if seq.anchor == Anchor::Eof {
                &mut rtail
            } else {
                &mut head
            };
            let mut bytes = Vec::new();
            for sub in &seq.subs {
                bytes.resize(bytes.len() + sub.min, 0x20);
                synthesize(&sub.toks, &mut bytes, last);
            }
            if bytes.len() > SCAN_LEN / 2 {
                continue;
            }
            if buf.len() < bytes.len() {
                buf.resize(bytes.len(), 0);
            }
            buf[..bytes.len()].copy_from_slice(&bytes);
        }
        cases.push((head, rtail));
    }
    for n in [0, 1, 7, 300, 5000] {
        for _ in 0..20 {
            let b = random(n);
            cases.push((b.clone(), b.iter().rev().copied().collect()));
        }
    }
    let mut identified = 0;
    for (head, rtail) in &cases {
        // The tail window is given in file order.
        let mut tail: Vec<u8> = rtail.iter().rev().copied().collect();
        let mut content = head.clone();
        content.append(&mut tail);
        let fast = id.identify_windows(&content, None, None, true, None);
        let full = id.identify_windows(&content, None, None, false, None);
        assert_eq!(fast, full, "content {content:02x?}");
        identified += usize::from(fast.basis == Basis::Signature);
    }
    // The synthesized content does match signatures (the comparison means something).
    assert!(
        identified > cases.len() / 2,
        "{identified} of {}",
        cases.len()
    );
}

/// An extension never names a format whose signature did not match: a certificate is
/// not a C64 cartridge, a setup.cfg not a Software602 document. As siegfried does, such
/// a file is left unidentified with its possibilities, text or not; text whose
/// extension no format uses is plain text.
#[test]
fn an_extension_never_names_a_format_whose_signature_did_not_match() {
    let id = Identifier::builtin().unwrap();
    let pem = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUb3\n-----END CERTIFICATE-----\n";
    for name in ["ca.crt", "setup.cfg", "x.td", "r.0.0.mca"] {
        let r = id.identify_bytes(pem, None, Some(name));
        assert_eq!(
            (r.puid.as_deref(), r.basis),
            (None, Basis::None),
            "{name}: {r:?}"
        );
        assert!(!r.alternatives.is_empty(), "{name}: {r:?}");
    }
    let r = id.identify_bytes(pem, None, Some("no-extension"));
    assert_eq!(
        (r.puid.as_deref(), r.basis),
        (Some("x-fmt/111"), Basis::Text)
    );
    // Under an extension whose every format has a signature: nothing, text or not.
    for (ext, formats) in &id.by_ext {
        if formats.iter().all(|f| id.signed[*f]) {
            for content in [&b"\x00\x01\x02\x03"[..], b"text\n"] {
                let r = id.identify_bytes(content, None, Some(&format!("a.{ext}")));
                assert_eq!(
                    (r.puid.as_deref(), r.basis),
                    (None, Basis::None),
                    ".{ext}: {r:?}"
                );
            }
        }
    }
}

/// When several formats share the extension and no signature matched, the one of them
/// without a signature names the file (basis `extension`); with two or more such
/// formats, none is chosen.
#[test]
fn the_one_unsigned_format_of_a_shared_extension_is_named() {
    let id = Identifier::builtin().unwrap();
    let mut seen = (0, 0);
    for (ext, formats) in &id.by_ext {
        let unsigned: Vec<usize> = formats.iter().copied().filter(|f| !id.signed[*f]).collect();
        let r = id.identify_bytes(b"\x00\x01\x02\x03", None, Some(&format!("a.{ext}")));
        match unsigned[..] {
            [only] => {
                seen.0 += 1;
                assert_eq!(r.basis, Basis::Extension, ".{ext}: {r:?}");
                assert_eq!(r.puid.as_deref(), Some(id.formats[only].puid.as_str()));
            }
            [] => {}
            _ => {
                seen.1 += 1;
                assert_eq!((r.puid, r.basis), (None, Basis::None), ".{ext}");
            }
        }
    }
    assert!(seen.0 > 100 && seen.1 > 0, "{seen:?}");
}

/// Text as siegfried takes it: UTF-8, the single-byte code pages (Latin-1, CP1250,
/// Big5's bytes) and UTF-16 with its byte order mark; control bytes make it data.
#[test]
fn text_in_the_encodings_siegfried_accepts() {
    let text = [
        &b"plain ASCII\r\n"[..],
        "UTF-8: \u{17a2}\u{17c6}\u{1796}\u{17bb}\n".as_bytes(),
        b"Latin-1: caf\xe9, na\xefve\n",
        b"CP1250: \x8a\x9a\x8e\x9e\n",
        b"Big5: \xa4\xa4\xa4\xe5\n",
        b"\xff\xfeU\x00T\x00F\x00-\x001\x006\x00\n\x00",
        b"\xfe\xff\x00U\x00T\x00F\x00\n",
        b"bell\x07 and vertical tab\x0b are text\n",
    ];
    for t in text {
        assert!(looks_like_text(t), "{t:?}");
    }
    let data = [
        &b"NUL\x00inside"[..],
        b"\x01\x02\x03",
        b"DEL\x7f",
        b"\xff\xfe\x00\x00\x01\x00",
        b"\xff\xfeA\x00\x01\x00",
    ];
    for d in data {
        assert!(!looks_like_text(d), "{d:?}");
    }
    let id = Identifier::builtin().unwrap();
    let r = id.identify_bytes(b"Latin-1: caf\xe9\n", None, Some("notes.txt"));
    assert_eq!(
        (r.puid.as_deref(), r.basis),
        (Some("x-fmt/111"), Basis::Text)
    );
}

/// A signature whose start is anchored in the head and whose rest may lie anywhere
/// after it is followed through the whole file: QuickTime's `mdat` at byte 4 and its
/// `moov` box after 200 KiB of media data, or just inside the head, or straddling a
/// piece's cut. Without the `moov` box, no QuickTime signature matches.
#[test]
fn a_sequence_past_the_head_is_followed_through_the_whole_file() {
    let id = Identifier::builtin().unwrap();
    let mov = |media: usize, with_moov: bool| {
        let mut m = (8 + media as u32).to_be_bytes().to_vec();
        m.extend_from_slice(b"mdat");
        m.resize(8 + media, 0);
        if with_moov {
            m.extend_from_slice(&116u32.to_be_bytes());
            m.extend_from_slice(b"moov");
            m.extend_from_slice(&108u32.to_be_bytes());
            m.extend_from_slice(b"mvhd");
            m.resize(m.len() + 100, 0);
        }
        m.resize(m.len() + 70_000, 0);
        m
    };
    let piece = deep::PIECE;
    for media in [1000, 200 * 1024, piece - 10, piece + 3, 3 * piece] {
        let m = mov(media, true);
        let r = id
            .identify_reader(
                &mut std::io::Cursor::new(&m),
                m.len() as u64,
                Some("clip.mov"),
            )
            .unwrap();
        assert_eq!(
            (r.puid.as_deref(), r.basis),
            (Some("x-fmt/384"), Basis::Signature),
            "moov after {media} bytes: {r:?}"
        );
    }
    let m = mov(200 * 1024, false);
    let r = id
        .identify_reader(
            &mut std::io::Cursor::new(&m),
            m.len() as u64,
            Some("clip.mov"),
        )
        .unwrap();
    assert_ne!(r.puid.as_deref(), Some("x-fmt/384"), "{r:?}");
}
