#![no_main]
//! The technical-metadata header readers (TIFF, JPEG, JP2, PNG, PDF, GIF) and the scan
//! validators (src/qc/: TIFF, JPEG, JP2, PNG, PDF) on arbitrary bytes: no panic, no
//! unbounded allocation (an IFD count, a box length, a strip count, an xref /Size or a
//! predictor's /Columns the file declares must not make a reader allocate what it
//! says), finite resolutions, and at most the kept number of findings.
use cairn::{qc, techmd};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = std::io::Cursor::new(data);
    if let Ok(Some(t)) = techmd::read(&mut c) {
        for r in [t.x_resolution, t.y_resolution].into_iter().flatten() {
            assert!(r.is_finite());
        }
        assert!(!t.kind.is_empty());
    }
    let mut c = std::io::Cursor::new(data);
    if let Ok(Some(v)) = qc::validate(&mut c) {
        assert!(!v.kind.is_empty());
        assert!(v.findings.len() <= qc::MAX_FINDINGS + 1);
    }
});
