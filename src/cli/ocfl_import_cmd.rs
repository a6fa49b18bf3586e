//! `cairn import OBJECT` where OBJECT is an OCFL object (docs/ocfl.md, "Import").

use cairn::clock::SystemClock;
use cairn::fs::archive::Archive;
use cairn::ops::ocfl_import::{import_ocfl, OcflImportOptions};
use cairn::units::count;

use super::args::ImportArgs;
use super::common::{note, print_json, printable, say};
use super::outcome::{error_exit, exit_code};
use super::progress::with_progress;

pub(super) fn run(archive: &Archive, args: ImportArgs) -> u8 {
    let opts = OcflImportOptions {
        object: args.source.clone(),
        version: args.version.clone(),
        allow_duplicate_of: args.allow_duplicate_of.clone(),
    };
    let report = match with_progress("import", || import_ocfl(archive, &opts, &SystemClock)) {
        Ok(r) => r,
        Err(e) => return error_exit("import", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        for n in &report.recovered {
            note!("recovered: {n}");
        }
        for r in &report.refused {
            errln!("problem: {}", printable(r));
        }
        if let Some(n) = &report.id_note {
            note!("{n}");
        }
        for v in &report.versions {
            note!(
                "{} -> version {} ({}){}",
                v.ocfl_version,
                v.item_version,
                v.outcome,
                v.message
                    .as_deref()
                    .map(|m| format!(": {}", printable(m)))
                    .unwrap_or_default()
            );
        }
        for n in &report.notes {
            errln!("note: {}", printable(n));
        }
        match (&report.id, &report.already_archived) {
            (_, Some(id)) => say!(
                "{} is already archived as {id}; nothing was written",
                args.source.display()
            ),
            (Some(id), None) => say!(
                "imported OCFL object {} from {} as {id}: {} as {}, {} checked ({})",
                printable(&report.object_id),
                args.source.display(),
                count(
                    report.versions.len() as u64,
                    "OCFL version",
                    "OCFL versions"
                ),
                count(
                    report.versions.last().map_or(0, |v| v.item_version) as u64,
                    "item version",
                    "item versions"
                ),
                count(report.files, "content file", "content files"),
                count(report.bytes, "byte", "bytes"),
            ),
            (None, None) => errln!(
                "refused {}: {}; nothing was imported",
                args.source.display(),
                count(report.refused.len() as u64, "problem", "problems")
            ),
        }
    }
    let code = exit_code(&report);
    super::after_write::report(&report.after_write, "import", code)
}
