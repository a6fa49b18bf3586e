#![no_main]
//! A zipped bag: ZipSource::open with small limits, then full validation. Memory and
//! time stay bounded because the limits are small and the input is at most -max_len.
use std::path::PathBuf;
use std::sync::OnceLock;

use cairn::bagit::source::BagSource;
use cairn::bagit::{validate, Mode, ValidateOptions};
use cairn::fs::zip::{ZipLimits, ZipSource};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const LIMITS: ZipLimits = ZipLimits {
    max_entry_size: 1 << 20,
    max_total_size: 4 << 20,
    max_ratio: 200,
    max_entries: 256,
};

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("input.zip");
        (dir, path)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the input");
    let Ok(src) = ZipSource::open(path, LIMITS) else {
        return;
    };
    let _ = src.bag_name();
    if let Ok(list) = src.list() {
        // Hostile names are reported and left out, so every listed name, under the bag's
        // top-level folder (the path it is extracted to), is a safe path. The
        // bag-relative part alone may begin with `~` or look like `C:x`: harmless below
        // the folder, so only escapes and malformed segments are checked there.
        for e in &list {
            let full = format!("{}/{}", src.bag_name(), e.path);
            match cairn::bagit::BagPath::parse(&full) {
                Ok(p) => common::check_bag_path(&p),
                Err(problem) => panic!("listed zip entry {full:?} is unsafe: {problem}"),
            }
            let p = &e.path;
            assert!(
                !p.starts_with('/')
                    && !p.split(['/', '\\']).any(|seg| seg == "..")
                    && !p.split('/').any(|seg| seg.is_empty() || seg == "."),
                "listed zip entry {p:?} is malformed or escapes"
            );
        }
    }
    for mode in [Mode::Full, Mode::Fast] {
        let opts = ValidateOptions {
            mode,
            ..ValidateOptions::default()
        };
        if let Ok(report) = validate(&src, &opts) {
            if report.valid {
                assert!(
                    report.problems.is_empty(),
                    "valid with problems: {:?}",
                    report.problems
                );
            }
        }
    }
});
