//! The tag-file stages: the declaration (bagit.txt, and data/ beside it), bag-info.txt
//! with its Payload-Oxum, and fetch.txt.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::super::finding::{FindingKind, Findings};
use super::super::path::BagPath;
use super::super::tags::{
    decode_tag_file, parse_bag_info, parse_declaration, parse_declaration_leniently, parse_fetch,
    parse_oxum, TagEncoding, Version,
};
use super::index::nfc;
use super::{Run, ValidateReport};

/// What the declaration says: how to read every other tag file.
pub(super) struct Declaration {
    pub(super) version: Version,
    /// BagIt 1.0: deviations an older version tolerated are problems.
    pub(super) strict: bool,
    encoding: TagEncoding,
}

impl Declaration {
    /// A tag file's text in the declared encoding. Borrows the bytes when they are
    /// UTF-8 already (a manifest of a million lines is not copied again).
    pub(super) fn decode<'b>(&self, path: &str, bytes: &'b [u8], f: &mut Findings) -> Cow<'b, str> {
        let d = decode_tag_file(bytes, self.encoding);
        if let Some(p) = d.problem {
            f.strict(
                self.strict,
                path,
                FindingKind::TagFileEncoding,
                format!("{path} {p}"),
            );
        }
        d.text
    }
}

/// bagit.txt, and the payload folder. Without a declaration nothing else can be
/// interpreted: `None` ends the validation.
pub(super) fn declaration(run: &mut Run) -> Option<Declaration> {
    if !run.listed("bagit.txt") {
        run.f.problem(
            "bagit.txt",
            FindingKind::BagitTxtMissing,
            "the bag declaration bagit.txt is missing; this folder is not a bag",
        );
        return None;
    }
    let decl_bytes = run.read_tag("bagit.txt")?;
    let decl = match parse_declaration(&decl_bytes) {
        Ok(d) => d,
        Err(reasons) => {
            for r in reasons {
                run.f.problem("bagit.txt", FindingKind::BagitTxtInvalid, r);
            }
            // Go on with a forgiving reading when there is one, to report the rest.
            parse_declaration_leniently(&decl_bytes)?
        }
    };
    let version = decl.version;
    run.report.version = Some(version.to_string());
    // parse_declaration only accepts encodings from_label knows.
    let encoding = TagEncoding::from_label(&decl.encoding).unwrap_or(TagEncoding::Utf8);

    // A file listed under data/ is proof enough that the folder is there.
    if run.index.payload().next().is_none() && !run.source.is_dir("data") {
        run.f.problem(
            "data",
            FindingKind::DataDirMissing,
            "the payload directory data/ is missing",
        );
    }
    Some(Declaration {
        version,
        strict: version.is_v1(),
        encoding,
    })
}

/// bag-info.txt (optional): its lines, Payload-Oxum (returned when well formed) and
/// Bagging-Date; the parsed file goes into the report.
pub(super) fn bag_info(run: &mut Run, decl: &Declaration) -> Option<(u64, u64)> {
    if !run.listed("bag-info.txt") {
        return None;
    }
    let bytes = run.read_tag("bag-info.txt")?;
    let f = &mut run.f;
    let text = decl.decode("bag-info.txt", &bytes, f).into_owned();
    let (info, line_errors) = parse_bag_info(&text, decl.version);
    for e in line_errors {
        f.problem(
            format!("bag-info.txt:{}", e.line),
            FindingKind::BagInfoMalformed,
            e.detail,
        );
    }
    let mut oxum = None;
    let oxums: Vec<&str> = info.values("Payload-Oxum").collect();
    if oxums.len() > 1 {
        f.problem(
            "bag-info.txt",
            FindingKind::BagInfoMalformed,
            format!(
                "Payload-Oxum appears {} times; it may appear once",
                oxums.len()
            ),
        );
    }
    if let Some(v) = oxums.first() {
        match parse_oxum(v) {
            Some(o) => oxum = Some(o),
            None => f.problem(
                "bag-info.txt",
                FindingKind::OxumMalformed,
                format!(
                    "Payload-Oxum {} is not OctetCount.StreamCount",
                    crate::quoted(v)
                ),
            ),
        }
    }
    for date in info.values("Bagging-Date") {
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            f.warn(
                "bag-info.txt",
                FindingKind::BaggingDate,
                format!(
                    "Bagging-Date {} is not a YYYY-MM-DD date",
                    crate::quoted(date)
                ),
            );
        }
    }
    run.report.bag_info = Some(info);
    oxum
}

/// fetch.txt (optional): the payload paths it lists, by NFC form.
pub(super) fn fetch(run: &mut Run, decl: &Declaration) -> BTreeMap<String, BagPath> {
    let mut fetch_paths: BTreeMap<String, BagPath> = BTreeMap::new();
    if !run.listed("fetch.txt") {
        return fetch_paths;
    }
    let Some(bytes) = run.read_tag("fetch.txt") else {
        return fetch_paths;
    };
    let f = &mut run.f;
    let text = decl.decode("fetch.txt", &bytes, f).into_owned();
    let (entries, line_errors, bad_paths) = parse_fetch(&text, decl.version);
    for e in line_errors {
        f.problem(
            format!("fetch.txt:{}", e.line),
            FindingKind::FetchMalformed,
            e.detail,
        );
    }
    for b in bad_paths {
        let kind = if b.problem.escapes() {
            FindingKind::PathEscapesBag
        } else {
            FindingKind::PathInvalid
        };
        f.problem(
            format!("fetch.txt:{}", b.line),
            kind,
            format!("{}: {}; it was not used", crate::quoted(&b.text), b.problem),
        );
    }
    for e in entries {
        if !e.path.is_payload() {
            f.problem(
                format!("fetch.txt:{}", e.line),
                FindingKind::PathOutsidePayload,
                format!(
                    "{} is not under data/; fetch.txt may list payload files only",
                    e.path
                ),
            );
            continue;
        }
        fetch_paths.insert(nfc(e.path.as_str()).into_owned(), e.path);
    }
    fetch_paths
}

/// Fast mode: the oxum against what is on disk, which needs an oxum.
pub(super) fn fast_oxum(
    run: &mut Run,
    oxum: Option<(u64, u64)>,
    fetch: &BTreeMap<String, BagPath>,
) {
    match oxum {
        Some((octets, streams)) => check_oxum(octets, streams, &run.report, fetch, &mut run.f),
        None => run.f.problem(
            "bag-info.txt",
            FindingKind::OxumMissing,
            "fast validation needs a Payload-Oxum in bag-info.txt; run a full validation",
        ),
    }
}

/// The Payload-Oxum against the payload on disk.
pub(super) fn check_oxum(
    octets: u64,
    streams: u64,
    report: &ValidateReport,
    fetch: &BTreeMap<String, BagPath>,
    f: &mut Findings,
) {
    if octets == report.bytes && streams == report.files {
        return;
    }
    let detail = format!(
        "Payload-Oxum says {octets} bytes in {streams} files; the payload has {} bytes in {} files",
        report.bytes, report.files
    );
    // A holey bag's oxum counts files not fetched yet.
    if !fetch.is_empty() && report.files < streams {
        f.warn(
            "bag-info.txt",
            FindingKind::OxumMismatch,
            detail + " (files listed in fetch.txt may be missing)",
        );
    } else {
        f.problem("bag-info.txt", FindingKind::OxumMismatch, detail);
    }
}
