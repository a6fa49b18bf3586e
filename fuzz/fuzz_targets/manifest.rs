#![no_main]
//! parse_manifest with every algorithm (and none), BagIt 1.0 and 0.97.
use cairn::bagit::manifest::{parse_manifest, render_manifest, LineIssue};
use cairn::bagit::tags::split_lines;
use cairn::digest::Algorithm;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // First byte picks the algorithm (or none); the rest is the manifest text.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let alg = match sel as usize % (Algorithm::ALL.len() + 1) {
        0 => None,
        i => Some(Algorithm::ALL[i - 1]),
    };
    let text = String::from_utf8_lossy(rest);
    let nlines = split_lines(&text).len();
    for version in common::VERSIONS {
        let (entries, issues) = parse_manifest(&text, alg, version);
        for e in &entries {
            assert!(
                e.line >= 1 && e.line <= nlines,
                "line {} out of 1..={nlines}",
                e.line
            );
            common::check_bag_path(&e.path);
            if let Some(alt) = &e.decoded_alternative {
                assert!(!version.is_v1(), "a 1.0 entry has a decoded alternative");
                common::check_bag_path(alt);
            }
            if let Some(a) = alg {
                assert_eq!(e.digest.as_bytes().len(), a.digest_len(), "digest length");
            }
        }
        for i in &issues {
            let line = match i {
                LineIssue::Malformed { line, .. }
                | LineIssue::BadPath { line, .. }
                | LineIssue::Md5sumMarker { line }
                | LineIssue::DotSlash { line }
                | LineIssue::Blank { line } => *line,
            };
            assert!(
                line >= 1 && line <= nlines,
                "issue line {line} out of 1..={nlines}"
            );
        }
        // Round trip: what Cairn renders (1.0), it reads back identically. (A path
        // beginning with a space or tab could not survive, so BagPath refuses it.)
        if version.is_v1() {
            assert!(entries
                .iter()
                .all(|e| !e.path.as_str().starts_with([' ', '\t'])));
            let kept: Vec<_> = entries.iter().collect();
            let rendered = render_manifest(kept.iter().map(|e| (&e.path, &e.digest)));
            let (again, again_issues) = parse_manifest(&rendered, alg, version);
            assert!(
                again_issues.is_empty(),
                "rendered manifest has issues: {again_issues:?}\n{rendered:?}"
            );
            let mut want: Vec<_> = kept.iter().map(|e| (e.path.clone(), e.digest)).collect();
            let mut got: Vec<_> = again.iter().map(|e| (e.path.clone(), e.digest)).collect();
            want.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.as_bytes().cmp(b.1.as_bytes())));
            got.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.as_bytes().cmp(b.1.as_bytes())));
            assert_eq!(want, got, "manifest render/parse round trip");
        }
    }
});
