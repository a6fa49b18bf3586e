//! Scan quality control, pure: format validation of the masters a scanner writes
//! (TIFF, JPEG, JPEG 2000 JP2, PNG, PDF), as JHOVE and jpylyzer validate them, and the
//! digitisation profile of cairn.toml's `[qc]` section (FADGI, Metamorfoze) that the
//! measures of a file are judged by ([`profile`]).
//!
//! Validation reads a `Read + Seek` source (a file opened by fs/, or bytes in memory)
//! and returns findings as data: each with a stable code, a severity and the byte
//! offset where a person should look ([`Finding`]). Memory is bounded whatever the
//! file's size: the readers stream through the data with fixed buffers and keep at most
//! [`MAX_FINDINGS`] findings and bounded tables (IFDs, boxes, xref sections).

mod jp2;
mod jpeg;
mod pdf;
mod png;
pub mod profile;
mod tiff;

use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

/// Findings kept per file at most; the rest are counted in one last finding.
pub const MAX_FINDINGS: usize = 100;

/// How grave a finding is, as JHOVE grades a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The file breaks its format's syntax: a reader cannot rely on it.
    NotWellFormed,
    /// Well-formed, but breaks a rule of the format's specification.
    NotValid,
    /// Allowed, but worth a person's look (a sign of damage or a poor choice).
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::NotWellFormed => "not-well-formed",
            Severity::NotValid => "not-valid",
            Severity::Warning => "warning",
        }
    }
}

/// One thing found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable, upper case, the format first: `TIFF-IFD-LOOP`, `PNG-CRC`. Listed with
    /// their meaning in docs/scan-qc.md.
    pub code: String,
    pub severity: Severity,
    /// Where to look, in bytes from the file's start, when there is one place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// What is wrong and what a person should look at.
    pub message: String,
}

/// A file's validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// tiff, jpeg, jp2, png or pdf.
    pub kind: String,
    /// Pages (TIFF IFDs in the main chain, PDF pages), where the format has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

impl Validation {
    /// No finding says the file is not well-formed.
    pub fn well_formed(&self) -> bool {
        !self
            .findings
            .iter()
            .any(|f| f.severity == Severity::NotWellFormed)
    }

    /// Well-formed, and no finding says it is not valid.
    pub fn valid(&self) -> bool {
        self.findings
            .iter()
            .all(|f| f.severity == Severity::Warning)
    }

    /// "valid", "not valid" or "not well-formed".
    pub fn status(&self) -> &'static str {
        if !self.well_formed() {
            "not well-formed"
        } else if !self.valid() {
            "not valid"
        } else {
            "valid"
        }
    }
}

/// Collects a reader's findings, keeping at most [`MAX_FINDINGS`].
#[derive(Debug, Default)]
pub(crate) struct Findings {
    list: Vec<Finding>,
    dropped: usize,
}

impl Findings {
    pub(crate) fn push(
        &mut self,
        code: &str,
        severity: Severity,
        offset: Option<u64>,
        message: impl Into<String>,
    ) {
        if self.list.len() < MAX_FINDINGS {
            self.list.push(Finding {
                code: code.to_string(),
                severity,
                offset,
                message: message.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn not_well_formed(&mut self, code: &str, offset: u64, message: impl Into<String>) {
        self.push(code, Severity::NotWellFormed, Some(offset), message);
    }

    pub(crate) fn not_valid(&mut self, code: &str, offset: u64, message: impl Into<String>) {
        self.push(code, Severity::NotValid, Some(offset), message);
    }

    pub(crate) fn warning(&mut self, code: &str, offset: u64, message: impl Into<String>) {
        self.push(code, Severity::Warning, Some(offset), message);
    }

    fn finish(mut self) -> Vec<Finding> {
        if self.dropped > 0 {
            let worst = self
                .list
                .iter()
                .map(|f| f.severity)
                .min()
                .unwrap_or(Severity::Warning);
            self.list.push(Finding {
                code: "QC-MORE".into(),
                severity: worst,
                offset: None,
                message: format!(
                    "{} more findings were not kept (at most {MAX_FINDINGS} are)",
                    self.dropped
                ),
            });
        }
        self.list
    }
}

/// Which validator a file's first bytes call for: the formats techmd reads headers of,
/// but GIF, which is not a scan master.
pub fn kind_of(head: &[u8]) -> Option<&'static str> {
    crate::techmd::kind_of(head).filter(|k| *k != "gif")
}

/// Which validator a file's name calls for, by its extension.
pub fn kind_of_name(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "tif" | "tiff" => Some("tiff"),
        "jpg" | "jpeg" | "jpe" | "jfif" => Some("jpeg"),
        "jp2" => Some("jp2"),
        "png" => Some("png"),
        "pdf" => Some("pdf"),
        _ => None,
    }
}

/// [`validate`], and for a file whose bytes are in none of the five formats but whose
/// name says it is one (`scan-017.tif`), a validation of that kind that says so, not
/// well-formed: a header damaged past recognition is the worst damage, not a file out
/// of scope. A file that is one format under another's extension gets a warning.
pub fn validate_named<R: Read + Seek>(
    r: &mut R,
    name: Option<&str>,
) -> std::io::Result<Option<Validation>> {
    let named = name.and_then(kind_of_name);
    let mut v = validate(r)?;
    match (&mut v, named) {
        // A BigTIFF is a TIFF Cairn does not validate: not validated, and no alarm.
        (None, Some("tiff")) if is_bigtiff(r)? => {}
        (None, Some(kind)) => {
            return Ok(Some(Validation {
                kind: kind.to_string(),
                pages: None,
                findings: vec![Finding {
                    code: "QC-SIGNATURE".into(),
                    severity: Severity::NotWellFormed,
                    offset: Some(0),
                    message: format!(
                        "the file is named as a {} file, but its first bytes are not a {} header: the header is damaged, or the file is in another format; open it, and compare it with the vendor's copy",
                        kind.to_ascii_uppercase(),
                        kind.to_ascii_uppercase()
                    ),
                }],
            }))
        }
        (Some(v), Some(kind)) if v.kind != kind => v.findings.push(Finding {
            code: "QC-EXTENSION".into(),
            severity: Severity::Warning,
            offset: Some(0),
            message: format!(
                "the file is named as a {} file but is a {}: rename it, or check that it is the file meant",
                kind.to_ascii_uppercase(),
                v.kind.to_ascii_uppercase()
            ),
        }),
        _ => {}
    }
    Ok(v)
}

/// Whether the source begins as a BigTIFF (version 43).
fn is_bigtiff<R: Read + Seek>(r: &mut R) -> std::io::Result<bool> {
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 4];
    let n = read_up_to(r, &mut head)?;
    Ok(n == 4 && (&head == b"II+\0" || &head == b"MM\0+"))
}

/// Validates a file from any seekable source, if it is in one of the formats validated
/// here (`None` otherwise). An I/O error other than the data ending early is returned;
/// a file that ends early is a finding.
pub fn validate<R: Read + Seek>(r: &mut R) -> std::io::Result<Option<Validation>> {
    let len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    let n = read_up_to(r, &mut head)?;
    let Some(kind) = kind_of(&head[..n]) else {
        return Ok(None);
    };
    r.seek(SeekFrom::Start(0))?;
    let mut out = Findings::default();
    let pages = match kind {
        "tiff" => tiff::validate(r, len, &mut out)?,
        "jpeg" => jpeg::validate(r, len, &mut out)?,
        "jp2" => jp2::validate(r, len, &mut out)?,
        "png" => png::validate(r, len, &mut out)?,
        _ => pdf::validate(r, len, &mut out)?,
    };
    Ok(Some(Validation {
        kind: kind.to_string(),
        pages,
        findings: out.finish(),
    }))
}

pub(crate) use crate::techmd::read_up_to;

/// The codes and severities a validation of `bytes` finds, and its pages (tests).
#[cfg(test)]
pub(crate) fn codes_of(bytes: &[u8]) -> (Vec<(String, Severity)>, Option<u32>) {
    let v = validate(&mut std::io::Cursor::new(bytes))
        .ok()
        .flatten()
        .unwrap_or_default();
    let codes = v
        .findings
        .into_iter()
        .map(|f| (f.code, f.severity))
        .collect();
    (codes, v.pages)
}

/// The property every validator keeps (tests): whatever prefix of `sample` is read,
/// with whatever bytes changed, validation returns findings, never panics, and ends
/// quickly.
#[cfg(test)]
pub(crate) fn damage_never_panics(sample: &[u8]) {
    use proptest::prelude::*;
    let check = |b: &[u8]| {
        let t = std::time::Instant::now();
        let r = validate(&mut std::io::Cursor::new(b));
        assert!(r.is_ok(), "{r:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    };
    for cut in 0..=sample.len() {
        check(&sample[..cut]);
    }
    let n = sample.len().max(1);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    let strategy = (
        0..=sample.len(),
        proptest::collection::vec((0..n, any::<u8>()), 1..6),
    );
    let outcome = runner.run(&strategy, |(cut, flips)| {
        let mut b = sample.to_vec();
        for (i, v) in flips {
            if let Some(x) = b.get_mut(i) {
                *x = v;
            }
        }
        b.truncate(cut.max(12));
        check(&b);
        Ok(())
    });
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// Runs a Python script (Pillow, tifffile) that writes files into a fresh folder (its first
/// argument), and asserts each one validates with no finding (tests run by hand).
#[cfg(test)]
pub(crate) fn python_files_are_valid(name: &str, script: &str) {
    let dir = std::env::temp_dir().join(format!("cairn-qc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = std::process::Command::new("python3")
        .args(["-c", script, dir.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let (c, pages) = codes_of(&std::fs::read(&p).unwrap());
        eprintln!("{}: {c:?} {pages:?}", p.display());
        assert!(c.is_empty(), "{}: {c:?}", p.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The codes and severities alone (tests).
#[cfg(test)]
pub(crate) fn codes(bytes: &[u8]) -> Vec<(String, Severity)> {
    codes_of(bytes).0
}

/// One finding's code and severity (tests).
#[cfg(test)]
pub(crate) fn one(code: &str, sev: Severity) -> Vec<(String, Severity)> {
    vec![(code.to_string(), sev)]
}

#[cfg(test)]
mod named_tests {
    use super::*;

    fn named(bytes: &[u8], name: &str) -> Option<Validation> {
        validate_named(&mut std::io::Cursor::new(bytes), Some(name)).unwrap()
    }

    /// A file named as a scan whose bytes are none is not well-formed; a file of one
    /// format under another's name is warned about; a BigTIFF and a file of no scan
    /// format and name are not validated.
    #[test]
    fn the_name_brings_a_file_whose_header_is_gone_into_scope() {
        let v = named(b"XI*\0\x08\0\0\0rest of a scan", "scan-017.TIF").unwrap();
        assert_eq!(v.kind, "tiff");
        assert_eq!(v.status(), "not well-formed");
        assert_eq!(v.findings[0].code, "QC-SIGNATURE");
        assert_eq!(v.findings[0].offset, Some(0));
        assert!(named(b"II+\0\x08\0\0\0", "big.tif").is_none());
        assert!(named(b"Transcription of page 1\n", "scan-017.txt").is_none());
        assert!(named(b"Transcription of page 1\n", "notes").is_none());
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR";
        let v = named(png, "scan.tif").unwrap();
        assert_eq!(v.kind, "png");
        assert!(v
            .findings
            .iter()
            .any(|f| f.code == "QC-EXTENSION" && f.severity == Severity::Warning));
        assert_eq!(kind_of_name("a.JPEG"), Some("jpeg"));
        assert_eq!(kind_of_name("tif"), None);
    }
}
