#![no_main]
//! The technical-metadata header readers (TIFF, JPEG, JP2, PNG, PDF, GIF) on arbitrary
//! bytes: no panic, no unbounded allocation (an IFD count, a box length or a strip
//! count the file declares must not make the reader allocate what it says), and
//! finite resolutions.
use cairn::techmd;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = std::io::Cursor::new(data);
    if let Ok(Some(t)) = techmd::read(&mut c) {
        for r in [t.x_resolution, t.y_resolution].into_iter().flatten() {
            assert!(r.is_finite());
        }
        assert!(!t.kind.is_empty());
    }
});
