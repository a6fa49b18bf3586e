#![no_main]
//! The item sidecar (cairn.dc.json), and the same bytes as an oai_dc XML record.
use cairn::metadata::{parse_oai_dc, parse_sidecar, render_oai_dc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_sidecar(data) {
        Ok(record) => {
            // dc.json is the lossless form: rendering and reading back gives the record.
            let json = record.render_json();
            let again = parse_sidecar(json.as_bytes())
                .unwrap_or_else(|e| panic!("rendered sidecar refused: {e}\n{json}"));
            assert_eq!(again, record, "sidecar render/parse round trip\n{json}");
            let _ = render_oai_dc(&record);
        }
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "refused without a reason");
            let _ = errors.to_string();
        }
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(record) = parse_oai_dc(&text) {
        // What we render from a parsed record, we can parse again.
        let xml = render_oai_dc(&record);
        if let Err(e) = parse_oai_dc(&xml) {
            panic!("rendered oai_dc refused: {e:?}\n{xml}");
        }
    }
});
