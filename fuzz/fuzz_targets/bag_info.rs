#![no_main]
//! bag-info.txt: decoding (UTF-8, Latin-1, UTF-16 and a label from the input) and
//! parse_bag_info with BagIt 1.0 and 0.97.
use cairn::bagit::tags::{
    check_label, decode_tag_file, parse_bag_info, parse_oxum, split_lines, TagEncoding,
};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut encodings = vec![
        TagEncoding::Utf8,
        TagEncoding::Latin1,
        TagEncoding::from_label("UTF-16").unwrap(),
        TagEncoding::from_label("UTF-16BE").unwrap(),
    ];
    // The first line, taken as an encoding label, exercises from_label too.
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    if let Some(e) = TagEncoding::from_label(&String::from_utf8_lossy(first)) {
        encodings.push(e);
    }
    for enc in encodings {
        let decoded = decode_tag_file(data, enc);
        if matches!(enc, TagEncoding::Latin1) {
            assert_eq!(
                decoded.text.chars().count(),
                data.len(),
                "Latin-1 is one char per byte"
            );
        }
        if matches!(enc, TagEncoding::Utf8) && decoded.problem.is_none() {
            let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
            assert_eq!(
                decoded.text.as_bytes(),
                body,
                "clean UTF-8 decoded differently"
            );
        }
        let nlines = split_lines(&decoded.text).len();
        for version in common::VERSIONS {
            let (info, errors) = parse_bag_info(&decoded.text, version);
            for e in &errors {
                assert!(
                    e.line >= 1 && e.line <= nlines,
                    "error line {} out of 1..={nlines}",
                    e.line
                );
            }
            for (label, value) in &info.entries {
                assert!(!label.is_empty(), "empty label");
                assert!(!label.contains(['\r', '\n', ':']), "label {label:?}");
                assert!(
                    !value.contains(['\r', '\n']),
                    "value with a line break {value:?}"
                );
                let _ = parse_oxum(value);
            }
            // Render/parse round trip for entries whose labels are valid and values are
            // already in the shape the parser produces (trimmed).
            let mut clean = cairn::bagit::BagInfo::default();
            for (label, value) in &info.entries {
                if check_label(label).is_ok() && value.trim_matches([' ', '\t']) == value {
                    clean.push(label.clone(), value.clone());
                }
            }
            let rendered = clean.render();
            let (again, again_errors) = parse_bag_info(&rendered, version);
            assert!(
                again_errors.is_empty(),
                "rendered bag-info has errors: {again_errors:?}\n{rendered:?}"
            );
            assert_eq!(
                again, clean,
                "bag-info render/parse round trip\n{rendered:?}"
            );
        }
    }
});
