//! Fuzz regressions (issue 7): replays the committed fuzz seeds (`fuzz/corpus/<target>/seed-*`)
//! and every minimized crash input (`fuzz/regressions/<target>/*`) through the functions
//! each fuzz target calls, in the ordinary test run. Nothing may panic. See
//! docs/fuzzing.md.

use std::fs;
use std::path::{Path, PathBuf};

use cairn::bagit::manifest::parse_manifest;
use cairn::bagit::tags::{
    decode_tag_file, parse_bag_info, parse_declaration, parse_declaration_leniently, parse_fetch,
    TagEncoding,
};
use cairn::bagit::{validate, BagPath, Mode, ValidateOptions, Version};
use cairn::digest::Algorithm;
use cairn::fs::zip::{ZipLimits, ZipSource};
use cairn::metadata::{parse_oai_dc, parse_sheet, parse_sidecar};

const V0_97: Version = Version {
    major: 0,
    minor: 97,
};

/// Every input for `target`: committed seeds and regression files.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for (dir, seeds_only) in [
        (root.join("corpus").join(target), true),
        (root.join("regressions").join(target), false),
    ] {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut paths: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if seeds_only && !name.starts_with("seed-") {
                continue;
            }
            out.push((p.clone(), fs::read(&p).unwrap()));
        }
    }
    // No input means nothing was replayed: the test would pass without testing anything.
    assert!(
        !out.is_empty(),
        "no fuzz input for target {target}: expected fuzz/corpus/{target}/seed-* or \
         fuzz/regressions/{target}/* (run fuzz/seed.sh, see docs/fuzzing.md)"
    );
    out
}

fn assert_safe(p: &BagPath) {
    let s = p.as_str();
    assert!(!s.starts_with('/') && !s.split(['/', '\\']).any(|seg| seg == ".."));
}

#[test]
fn manifest_inputs() {
    for (_, data) in inputs("manifest") {
        let Some((&sel, rest)) = data.split_first() else {
            continue;
        };
        let alg = match sel as usize % (Algorithm::ALL.len() + 1) {
            0 => None,
            i => Some(Algorithm::ALL[i - 1]),
        };
        let text = String::from_utf8_lossy(rest);
        for v in [Version::V1_0, V0_97] {
            let (entries, _) = parse_manifest(&text, alg, v);
            entries.iter().for_each(|e| assert_safe(&e.path));
        }
    }
}

#[test]
fn bagit_txt_inputs() {
    for (_, data) in inputs("bagit_txt") {
        let _ = parse_declaration(&data);
        let _ = parse_declaration_leniently(&data);
    }
}

#[test]
fn bag_info_inputs() {
    for (_, data) in inputs("bag_info") {
        for enc in [
            TagEncoding::Utf8,
            TagEncoding::Latin1,
            TagEncoding::from_label("UTF-16").unwrap(),
        ] {
            let decoded = decode_tag_file(&data, enc);
            for v in [Version::V1_0, V0_97] {
                let _ = parse_bag_info(&decoded.text, v);
            }
        }
    }
}

#[test]
fn fetch_inputs() {
    for (_, data) in inputs("fetch") {
        let text = String::from_utf8_lossy(&data);
        for v in [Version::V1_0, V0_97] {
            let (entries, _, _) = parse_fetch(&text, v);
            entries.iter().for_each(|e| assert_safe(&e.path));
        }
    }
}

#[test]
fn metadata_csv_inputs() {
    for (_, data) in inputs("metadata_csv") {
        let _ = parse_sheet(&data);
    }
}

#[test]
fn sidecar_inputs() {
    for (_, data) in inputs("sidecar") {
        let _ = parse_sidecar(&data);
        let _ = parse_oai_dc(&String::from_utf8_lossy(&data));
    }
}

#[test]
fn zip_inputs() {
    let limits = ZipLimits {
        max_entry_size: 1 << 20,
        max_total_size: 4 << 20,
        max_ratio: 200,
        max_entries: 256,
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.zip");
    let mut opened = 0;
    for (_, data) in inputs("zip") {
        fs::write(&file, &data).unwrap();
        let Ok(src) = ZipSource::open(&file, limits) else {
            continue;
        };
        opened += 1;
        let _ = validate(
            &src,
            &ValidateOptions {
                mode: Mode::Full,
                ..Default::default()
            },
        );
    }
    // The seeds are real zipped bags: at least one must open.
    assert!(opened > 0, "no zip seed opened; run fuzz/seed.sh");
}

#[test]
fn pronom_match_inputs() {
    use cairn::pronom::pattern::{match_at, parse, reverse, Budget};
    let id = cairn::pronom::Identifier::builtin().unwrap();
    let mut identified = 0;
    for (_, data) in inputs("pronom_match") {
        let (pat, rest) = match data.iter().position(|b| *b == 0) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (&data[..], &[][..]),
        };
        if let Ok(toks) = parse(&String::from_utf8_lossy(pat), false) {
            let rev = reverse(&toks);
            let mut budget = Budget(200_000);
            for p in 0..=rest.len() {
                let _ = match_at(&toks, rest, p, &mut budget, &mut |_, _| true);
                let _ = match_at(&rev, rest, p, &mut budget, &mut |_, _| true);
            }
        }
        if id.identify_bytes(rest, None, None).puid.is_some() {
            identified += 1;
        }
    }
    assert!(identified > 0, "no pronom_match seed was identified");
}

#[test]
fn techmd_inputs() {
    let mut read = 0;
    for (_, data) in inputs("techmd") {
        if let Ok(Some(_)) = cairn::techmd::read(&mut std::io::Cursor::new(&data)) {
            read += 1;
        }
    }
    assert!(read > 0, "no techmd seed was read");
}
