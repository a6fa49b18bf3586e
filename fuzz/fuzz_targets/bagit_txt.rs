#![no_main]
//! bagit.txt: the strict and the lenient declaration parsers.
use cairn::bagit::tags::{parse_declaration, parse_declaration_leniently, TagEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = parse_declaration(data);
    let lenient = parse_declaration_leniently(data);
    match &strict {
        Ok(d) => {
            assert!(
                d.version.is_known(),
                "strict accepted unknown version {}",
                d.version
            );
            assert!(
                TagEncoding::from_label(&d.encoding).is_some(),
                "strict accepted encoding {:?}",
                d.encoding
            );
            // Whatever the strict parser accepts, the lenient one accepts the same way.
            assert_eq!(lenient.as_ref(), Some(d), "lenient disagrees with strict");
        }
        Err(errors) => assert!(!errors.is_empty(), "strict refused without a reason"),
    }
    if let Some(d) = &lenient {
        assert!(
            d.version.is_known(),
            "lenient accepted unknown version {}",
            d.version
        );
        assert!(
            TagEncoding::from_label(&d.encoding).is_some(),
            "lenient kept encoding {:?}",
            d.encoding
        );
    }
});
