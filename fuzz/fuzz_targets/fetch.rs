#![no_main]
//! fetch.txt with BagIt 1.0 and 0.97.
use cairn::bagit::tags::{parse_fetch, split_lines};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let nlines = split_lines(&text).len();
    for version in common::VERSIONS {
        let (entries, errors, bad) = parse_fetch(&text, version);
        for e in &entries {
            assert!(e.line >= 1 && e.line <= nlines);
            // A URL that is not absolute is reported as an error, yet the entry is kept.
            assert!(
                !e.url.is_empty() && !e.url.contains([' ', '\t']),
                "url {:?}",
                e.url
            );
            common::check_bag_path(&e.path);
        }
        for e in &errors {
            assert!(e.line >= 1 && e.line <= nlines);
        }
        for b in &bad {
            assert!(b.line >= 1 && b.line <= nlines);
            assert!(
                cairn::bagit::BagPath::parse(&b.text).is_err(),
                "refused path parses: {:?}",
                b.text
            );
        }
    }
});
