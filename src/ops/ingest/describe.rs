//! Describe an item waiting in intake (the browser's describe form, issue 32): its
//! record as ingest would read it (the batch sheet's row, then its sidecar term by
//! term), and saving a new record as its sidecar ([`SIDECAR_NAME`], the same file
//! `cairn ingest` reads), after the same checks as `amend` applies.

use std::path::PathBuf;

use crate::error::Error;
use crate::fs::archive::Archive;
use crate::metadata::{self, DublinCore, SIDECAR_NAME};

use super::{is_reserved, SHEET_NAME};

/// The folder of the intake item named exactly `name` (one entry directly in intake/,
/// a folder, not a link, not a reserved name); a usage error otherwise.
pub fn intake_folder(archive: &Archive, name: &str) -> Result<PathBuf, Error> {
    let not_item = || {
        Error::Usage(format!(
            "{} is not an item folder waiting in intake",
            crate::quoted(name)
        ))
    };
    if name.is_empty() || is_reserved(name) || name.contains(['/', '\\', '\0']) {
        return Err(not_item());
    }
    let found = crate::fs::list_dir(&archive.intake)?
        .into_iter()
        .find(|p| p.file_name().and_then(|n| n.to_str()) == Some(name))
        .ok_or_else(not_item)?;
    if !crate::fs::lstat(&found)?.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a single file, not a folder: describe it in {SHEET_NAME}",
            crate::quoted(name)
        )));
    }
    Ok(found)
}

/// The sheet's row for `name`, if the sheet can be read that far.
fn sheet_record(archive: &Archive, name: &str) -> Result<Option<DublinCore>, Error> {
    let Some(bytes) = crate::fs::read_if_present(&archive.intake.join(SHEET_NAME))? else {
        return Ok(None);
    };
    let sheet = match metadata::parse_sheet(&bytes) {
        Ok(s) => s,
        Err(e) => e.rows,
    };
    Ok(sheet.row_for(name).map(|r| r.record.clone()))
}

/// The record ingest would give the item: the sheet's row, then its sidecar term by
/// term (a sidecar that cannot be parsed is left out; the dry run names its problems).
pub fn intake_record(archive: &Archive, name: &str) -> Result<DublinCore, Error> {
    let folder = intake_folder(archive, name)?;
    let mut record = sheet_record(archive, name)?.unwrap_or_default();
    if let Some(bytes) = crate::fs::read_if_present(&folder.join(SIDECAR_NAME))? {
        if let Ok(sidecar) = metadata::parse_sidecar(&bytes) {
            record.overlay(&sidecar);
        }
    }
    Ok(record)
}

/// Saves `record` as the item's sidecar, replacing any, once the record ingest would
/// then read (the sheet's row overlaid with it) passes `amend`'s checks; refused with
/// every problem otherwise, nothing written. The file is written atomically.
pub fn describe(archive: &Archive, name: &str, record: &DublinCore) -> Result<(), Error> {
    let folder = intake_folder(archive, name)?;
    let mut merged = sheet_record(archive, name)?.unwrap_or_default();
    merged.overlay(record);
    let mut problems = metadata::validate_record(&merged);
    let max_value = archive.config.max_value_size().map_err(Error::Usage)?;
    problems.extend(metadata::oversized_values(&merged, max_value));
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(Error::Refused {
            path: folder.join(SIDECAR_NAME),
            reason: lines.join("; "),
        });
    }
    crate::fs::durable::write_atomic(&folder.join(SIDECAR_NAME), record.render_json().as_bytes())
}
