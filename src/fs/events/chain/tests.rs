use super::*;
use crate::fs::events::fold::{
    fold_audit_parts, fold_brief_from, fold_brief_parts, fold_event_parts, fold_notes_parts,
    links_parts, LogCursor,
};
use crate::fs::events::line_digest;

fn line(seq: u64, prev: &str) -> String {
    format!(
        r#"{{"seq":{seq},"id":"e{seq}","type":"ingestion","time":"t","outcome":"success","detail":"","object":"x","agent":"a","prev":"{prev}"}}"#
    )
}

fn chain(n: u64) -> Vec<String> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    for seq in 1..=n {
        let l = line(seq, &prev);
        prev = line_digest(l.as_bytes());
        out.push(l);
    }
    out
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

#[test]
fn intact_chain_and_head() {
    let lines = chain(5);
    let r = verify_chain(&join(&lines));
    assert_eq!(r.broken, None);
    assert_eq!(r.lines, 5);
    assert_eq!(r.head, line_digest(lines[4].as_bytes()));
}

#[test]
fn every_kind_of_tampering_names_the_first_broken_line() {
    let lines = chain(6);
    let mut edited = lines.clone();
    edited[2] = edited[2].replace("success", "failure");
    assert_eq!(verify_chain(&join(&edited)).broken.unwrap().line, 4);
    let mut deleted = lines.clone();
    deleted.remove(2);
    assert_eq!(verify_chain(&join(&deleted)).broken.unwrap().line, 3);
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    assert_eq!(verify_chain(&join(&swapped)).broken.unwrap().line, 2);
    let mut inserted = lines.clone();
    inserted.insert(3, lines[3].clone());
    assert_eq!(verify_chain(&join(&inserted)).broken.unwrap().line, 5);
    let truncated = &join(&lines)[..join(&lines).len() - 10];
    assert!(verify_chain(truncated).broken.is_some());
    // Editing the last line shows only against a recorded head.
    let mut last = lines.clone();
    last[5] = last[5].replace("success", "failure");
    let r = verify_chain(&join(&last));
    assert_eq!(r.broken, None);
    assert_ne!(r.head, line_digest(lines[5].as_bytes()));
}

/// The oracle: the links checked line after line with serde_json reading `seq` and
/// `prev` (what `verify_links` did before it was cut into blocks).
fn serial_links(bytes: &[u8]) -> ChainReport {
    #[derive(Deserialize)]
    struct Link {
        seq: u64,
        prev: String,
    }
    follow::<(), _>(bytes, |line| {
        serde_json::from_slice::<std::collections::HashMap<String, serde::de::IgnoredAny>>(line)?;
        serde_json::from_slice::<Link>(line).map(|l| (l.seq, Prev::of(&l.prev), None))
    })
    .0
}

/// A log of `n` lines, tampered with as `how` says (0: not at all; 1: a line edited,
/// 2: removed, 3: an empty line inserted, 4: a line with text after its object) at
/// `at`, and cut short somewhere when `byte` is a multiple of 4.
fn tampered(n: u64, how: usize, at: proptest::sample::Index, byte: u8) -> Vec<u8> {
    let mut lines = chain(n);
    if !lines.is_empty() {
        let i = at.index(lines.len());
        match how {
            0 => {}
            1 => lines[i] = lines[i].replace("success", "failure"),
            2 => {
                lines.remove(i);
            }
            3 => lines.insert(i, String::new()),
            _ => lines[i].push_str(" x"),
        }
    }
    let mut bytes = join(&lines);
    if byte.is_multiple_of(4) && !bytes.is_empty() {
        let cut = (byte as usize * 13) % bytes.len();
        bytes.truncate(cut);
    }
    bytes
}

/// The log read a part at a time gives the same report and briefs as read whole,
/// on every tampering and whatever the part size (1 byte up to the whole log).
#[test]
fn briefs_folded_in_parts_agree_with_the_whole_log() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(400));
    let strategy = (
        0u64..30,
        0usize..5,
        any::<prop::sample::Index>(),
        any::<u8>(),
        1usize..3000,
    );
    runner
        .run(&strategy, |(n, how, at, byte, part)| {
            let mut bytes = tampered(n, how, at, byte);
            if byte == 1 {
                bytes = b"\n".to_vec();
            }
            let (whole, briefs) = verify_chain_brief(&bytes);
            let mut folded = Vec::new();
            let parts = fold_brief_parts(&mut &bytes[..], part, &mut |b| folded.push(b)).unwrap();
            prop_assert_eq!(parts.lines, whole.lines);
            prop_assert_eq!(&parts.head, &whole.head);
            prop_assert_eq!(
                parts.broken.as_ref().map(|b| (b.line, b.detail.clone())),
                whole.broken.as_ref().map(|b| (b.line, b.detail.clone()))
            );
            prop_assert_eq!(
                folded.iter().map(|b| b.seq).collect::<Vec<_>>(),
                briefs.iter().map(|b| b.seq).collect::<Vec<_>>()
            );
            Ok(())
        })
        .unwrap();
}

/// An audit's fold keeps what the full parse reads of each line: the brief, the
/// recorded tag-manifest digests (whatever else `data` holds, or whatever it is),
/// and the line's digest; it stops at the same broken line.
#[test]
fn audit_fold_keeps_what_the_full_parse_reads() {
    let datas = [
        r#"{"tag_manifests":{"tagmanifest-blake3.txt":{"blake3":"ab"}},"files":[1,2]}"#,
        r#"{"replica":"s3","tag_manifests":null}"#,
        r#"{"replica":"s3","replica":{"name":"nas"}}"#,
        r#"[{"tag_manifests":1}]"#,
        r#""text""#,
        r#"{"tag_manifests":{"a":1},"tag_manifests":{"b":2}}"#,
        r#"{"nested":{"tag_manifests":{"c":3}}}"#,
    ];
    let mut prev = GENESIS.to_string();
    let mut lines = Vec::new();
    for (i, data) in datas.iter().enumerate() {
        let seq = i as u64 + 1;
        let l = format!(
            r#"{{"seq":{seq},"id":"e{seq}","type":"ingestion","time":"t","outcome":"success","detail":"","object":"x{seq}","agent":"a","data":{data},"prev":"{prev}"}}"#
        );
        prev = line_digest(l.as_bytes());
        lines.push(l);
    }
    for cut in [lines.len(), 3] {
        let mut bytes = join(&lines[..cut]);
        if cut == 3 {
            // A fourth line whose prev is wrong: the fold stops before it.
            bytes.extend_from_slice(lines[4].as_bytes());
            bytes.push(b'\n');
        }
        let whole = verify_chain(&bytes);
        let mut folded = Vec::new();
        let report = fold_audit_parts(&mut &bytes[..], 50, &mut |e, d| {
            folded.push((e, d.to_hex().to_string()))
        })
        .unwrap();
        assert_eq!(report.lines, whole.lines);
        assert_eq!(report.head, whole.head);
        assert_eq!(report.broken, whole.broken);
        assert_eq!(folded.len(), whole.events.len());
        for (k, ((audit, digest), event)) in folded.iter().zip(&whole.events).enumerate() {
            assert_eq!(audit.brief.seq, event.seq);
            assert_eq!(audit.brief.object, event.object);
            assert_eq!(audit.brief.replica, event.data.get("replica").is_some());
            assert_eq!(
                audit.brief.replica_name.as_deref(),
                event.data.get("replica").and_then(|r| r.as_str())
            );
            assert_eq!(
                audit.tag_manifests.as_ref(),
                event.data.get("tag_manifests")
            );
            assert_eq!(digest, &line_digest(lines[k].as_bytes()));
        }
    }
}

/// The block-parallel link check agrees with the serial one on every tampering,
/// whatever the block size (1 byte: a block per line; in between: breaks inside
/// blocks and at their edges).
#[test]
fn links_agree_with_the_full_check() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(600));
    let strategy = (
        1u64..40,
        0usize..6,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        1usize..2000,
    );
    runner
        .run(&strategy, |(n, how, at, at2, byte, block)| {
            let mut lines = chain(n);
            let i = at.index(lines.len());
            let j = at2.index(lines.len());
            match how {
                0 => {}
                1 => {
                    let mut b = lines[i].clone().into_bytes();
                    let k = j % b.len();
                    b[k] = byte;
                    lines[i] = String::from_utf8_lossy(&b).into_owned();
                }
                2 => {
                    lines.remove(i);
                }
                3 => lines.swap(i, j),
                4 => lines.insert(i, lines[j].clone()),
                _ => lines[i] = lines[i].replace("\"seq\"", "\"seq\":1,\"seq\""),
            }
            let mut bytes = join(&lines);
            if byte % 5 == 0 {
                let cut = (byte as usize * 7) % bytes.len();
                bytes.truncate(cut);
            }
            let full = serial_links(&bytes);
            let links = links_in_blocks(&bytes, block);
            prop_assert_eq!(links.lines, full.lines);
            prop_assert_eq!(&links.head, &full.head);
            prop_assert_eq!(
                links.broken.as_ref().map(|b| b.line),
                full.broken.as_ref().map(|b| b.line)
            );
            Ok(())
        })
        .unwrap();
}

/// The log read a window at a time gives the same reports as read whole: the chain
/// check alone (`verify_links`) and every event parsed (`verify_chain`), on every
/// tampering, a torn or bare-newline log, whatever the window (1 byte up to the log).
#[test]
fn windows_agree_with_the_whole_log() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(400));
    let strategy = (
        0u64..30,
        0usize..5,
        any::<prop::sample::Index>(),
        any::<u8>(),
        1usize..3000,
    );
    runner
        .run(&strategy, |(n, how, at, byte, part)| {
            let mut bytes = tampered(n, how, at, byte);
            match byte {
                1 => bytes = b"\n".to_vec(),
                2 => bytes = b"\n\n".to_vec(),
                3 => bytes.insert(0, b'\n'),
                _ => {}
            }
            let part = if byte == 5 { 1 } else { part };
            let whole = verify_links(&bytes);
            let windows = links_parts(&mut &bytes[..], part).unwrap();
            prop_assert_eq!(windows.lines, whole.lines);
            prop_assert_eq!(&windows.head, &whole.head);
            prop_assert_eq!(&windows.broken, &whole.broken);
            let whole = verify_chain(&bytes);
            let mut events = Vec::new();
            let folded = fold_event_parts(&mut &bytes[..], part, &mut |e| events.push(e)).unwrap();
            prop_assert_eq!(folded.lines, whole.lines);
            prop_assert_eq!(&folded.head, &whole.head);
            prop_assert_eq!(&folded.broken, &whole.broken);
            prop_assert_eq!(&events, &whole.events);
            Ok(())
        })
        .unwrap();
}

/// Parts large enough to be parsed on a thread while the part before is followed
/// (fold.rs's pipeline) give the same report and events as the whole log, with a
/// break in the first part, in a later one, at the last line, or a torn end.
#[test]
fn pipelined_parts_agree_with_the_whole_log() {
    let lines = chain(6000);
    let mut logs = vec![join(&lines)];
    for at in [10, 2500, 5999] {
        let mut edited = lines.clone();
        edited[at] = edited[at].replace("success", "failure");
        logs.push(join(&edited));
    }
    let whole = join(&lines);
    logs.push(whole[..whole.len() - 40].to_vec());
    for bytes in &logs {
        assert!(bytes.len() > 3 * (256 << 10), "the parts must be pipelined");
        let (want, briefs) = verify_chain_brief(bytes);
        let full = verify_chain(bytes);
        for part in [256 << 10, 300 << 10] {
            let mut got = Vec::new();
            let report = fold_brief_parts(&mut &bytes[..], part, &mut |b| got.push(b)).unwrap();
            assert_eq!((report.lines, &report.head), (want.lines, &want.head));
            assert_eq!(report.broken, want.broken);
            assert_eq!(got, briefs);
            let mut events = Vec::new();
            let report = fold_event_parts(&mut &bytes[..], part, &mut |e| events.push(e)).unwrap();
            assert_eq!((report.lines, &report.broken), (full.lines, &full.broken));
            assert_eq!(events, full.events);
        }
    }
}

/// A chained log of `n` lines, as Cairn writes it.
fn log(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = GENESIS.to_string();
    for seq in 1..=n {
        let line = serde_json::json!({
            "seq": seq, "id": format!("e{seq}"), "type": "fixity check",
            "time": "2026-12-02T10:00:00.000Z", "outcome": "success",
            "detail": "x".repeat(seq as usize % 7), "object": format!("cairn-{:06}", seq % 3),
            "agent": "test", "data": {"replica": "nas"}, "prev": prev,
        })
        .to_string();
        prev = blake3::hash(line.as_bytes()).to_hex().to_string();
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn read_from(
    bytes: &[u8],
    part: usize,
    cursor: &mut LogCursor,
) -> (Vec<(u64, u64)>, Option<BrokenLink>) {
    let mut seen = Vec::new();
    let mut reader = &bytes[cursor.offset as usize..];
    let broken = fold_brief_from(&mut reader, part, cursor, &mut |l| {
        assert!(l.brief.replica);
        seen.push((l.brief.seq, l.offset));
    })
    .expect("read");
    (seen, broken)
}

#[test]
fn reading_on_from_a_cursor_agrees_with_one_read() {
    let whole = log(40);
    let report = verify_chain(&whole);
    // Each line's offset, as the bytes say.
    let starts: Vec<u64> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', &whole).map(|p| p as u64 + 1))
        .take(40)
        .collect();
    for part in [1, 50, 300, 1 << 20] {
        // In three reads of a growing log, the last ending inside a line.
        let mut cursor = LogCursor::default();
        let mut seen = Vec::new();
        for cut in [starts[10] as usize, starts[25] as usize + 7, whole.len()] {
            let (s, broken) = read_from(&whole[..cut], part, &mut cursor);
            assert_eq!(broken, None);
            seen.extend(s);
        }
        let want: Vec<(u64, u64)> = (1..=40).zip(starts.iter().copied()).collect();
        assert_eq!(seen, want, "part {part}");
        assert_eq!(cursor.lines, 40);
        assert_eq!(cursor.offset, whole.len() as u64);
        assert_eq!(cursor.head_hex(), report.head);
    }
}

#[test]
fn a_line_being_written_is_left_and_a_break_is_found() {
    let whole = log(5);
    let mut cursor = LogCursor::default();
    // The last line without its newline: not read, not a break.
    let (seen, broken) = read_from(&whole[..whole.len() - 1], 64, &mut cursor);
    assert_eq!((seen.len(), broken), (4, None));
    // The rest of it, once written, is read on from there.
    let (seen, broken) = read_from(&whole, 64, &mut cursor);
    assert_eq!((seen.len(), broken), (1, None));
    assert_eq!(cursor.lines, 5);
    // A line whose prev is wrong is a break at that line.
    let mut tail = whole.clone();
    tail.extend_from_slice(log(1).as_slice());
    let mut cursor = LogCursor::default();
    let (seen, broken) = read_from(&tail, 64, &mut cursor);
    assert_eq!(seen.len(), 5);
    assert_eq!(broken.map(|b| b.line), Some(6));
    assert_eq!(cursor.lines, 5);
    assert_eq!(cursor.offset, whole.len() as u64);
}

/// The notes fold (what `replicate` and commit recovery read) links exactly the lines
/// the full parse links (each must be a whole `Event`) and reads `data.replica`,
/// `data.register_blake3` and `data.change` as `Value::get(..).as_str()` does, in
/// parts of any size.
#[test]
fn notes_fold_reads_what_the_full_parse_reads() {
    let body = r#""type":"replication","time":"t","outcome":"success","detail":"","object":"x""#;
    let variants = [
        format!(r#""id":"e",{body},"agent":"a","data":{{"replica":"r1","register_blake3":"b1"}}"#),
        format!(
            r#""id":"e",{body},"agent":"a","data":{{"replica":"r1","replica":7,"change":"c"}}"#
        ),
        format!(
            r#""id":"e",{body},"agent":"a","data":{{"change":"c1","change":"c2","register_blake3":5}}"#
        ),
        format!(
            r#""id":"e",{body},"agent":"a","data":{{"change":{{"change":"no"}},"x":[{{"change":"no"}}]}}"#
        ),
        format!(r#""id":"e",{body},"agent":"a","data":null"#),
        format!(r#""id":"e",{body},"agent":"a","data":["replica","change"]"#),
        format!(r#""id":"e",{body},"agent":"a","data":{{"change":"c\"\u00e9"}}"#),
        // Not an Event: no agent, an identifier that is not a string, a repeated field.
        format!(r#""id":"e",{body},"data":{{"change":"c"}}"#),
        format!(r#""id":2,{body},"agent":"a","data":{{"change":"c"}}"#),
        format!(r#""id":"e",{body},"agent":"a","detail":"again","data":{{"change":"c"}}"#),
    ];
    for v in &variants {
        let mut prev = GENESIS.to_string();
        let mut lines = Vec::new();
        for seq in 1..=4u64 {
            let l = match seq {
                2 => format!(r#"{{"seq":2,{v},"prev":"{prev}"}}"#),
                _ => line(seq, &prev),
            };
            prev = line_digest(l.as_bytes());
            lines.push(l);
        }
        let bytes = join(&lines);
        for part in [1, 7, 100, 1 << 20] {
            let mut events = Vec::new();
            let whole = fold_event_parts(&mut &bytes[..], part, &mut |e| events.push(e)).unwrap();
            let mut notes = Vec::new();
            let folded = fold_notes_parts(&mut &bytes[..], part, &mut |n| notes.push(n)).unwrap();
            assert_eq!(
                (folded.lines, &folded.head),
                (whole.lines, &whole.head),
                "{v}"
            );
            assert_eq!(folded.broken, whole.broken, "{v}");
            let want: Vec<_> = events
                .iter()
                .map(|e| {
                    let s = |k: &str| e.data.get(k).and_then(|x| x.as_str()).map(str::to_string);
                    let brief = (
                        e.seq,
                        e.event_type.clone(),
                        e.outcome.clone(),
                        e.object.clone(),
                    );
                    (brief, s("replica"), s("register_blake3"), s("change"))
                })
                .collect();
            let got: Vec<_> = notes
                .into_iter()
                .map(|n| {
                    let b = n.brief;
                    let brief = (b.seq, b.event_type, b.outcome, b.object);
                    (brief, b.replica_name, n.register_blake3, n.change)
                })
                .collect();
            assert_eq!(got, want, "{v}");
        }
    }
}
