#![no_main]
//! The batch metadata sheet (metadata.csv).
use cairn::metadata::parse_sheet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_sheet(data) {
        Ok(sheet) => {
            for row in &sheet.rows {
                assert!(row.line >= 1, "row line 0");
                assert!(
                    !row.item.contains('/'),
                    "item name with `/`: {:?}",
                    row.item
                );
                // Rows are findable by their own item name.
                assert!(
                    sheet.row_for(&row.item).is_some(),
                    "row {:?} not found",
                    row.item
                );
                let _ = row.record.render_json();
            }
        }
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "refused without a reason");
            let _ = errors.to_string();
        }
    }
});
