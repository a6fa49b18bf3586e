//! `cairn qc`: a batch of scans (a vendor's delivery, before intake) checked file by
//! file: identified (PRONOM), measured and validated ([`crate::qc`]), and judged by a
//! digitisation profile ([`crate::qc::profile`]). Without a profile, a file fails when
//! it is not well-formed or not valid. Findings are data: the report says what each
//! file is and why it passed or failed; only a path that cannot be read is an error.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Error;
use crate::ops::formats::{files_under, measure};
use crate::pronom::Identifier;
use crate::qc::profile::{Judgement, Outcome, Profile};
use crate::qc::Validation;
use crate::techmd::TechMd;

/// One file's check.
#[derive(Debug, Clone, Serialize)]
pub struct QcFile {
    pub path: PathBuf,
    pub size: u64,
    pub puid: Option<String>,
    /// The format's name (empty when none was identified).
    pub format: String,
    /// tiff, jpeg, jp2, png or pdf: the validator that read it (`None`: no validator).
    pub kind: Option<String>,
    /// "valid", "not valid", "not well-formed" or "not validated".
    pub status: String,
    pub validation: Option<Validation>,
    pub techmd: Option<TechMd>,
    pub judgement: Option<Judgement>,
    pub outcome: Outcome,
}

/// The counts of a run; `files` = valid + not_valid + not_well_formed + not_validated
/// = pass + warn + fail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub files: usize,
    pub valid: usize,
    pub not_valid: usize,
    pub not_well_formed: usize,
    pub not_validated: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

/// `cairn qc`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct QcReport {
    /// The profile's name (`None`: validation only).
    pub profile: Option<String>,
    pub files: Vec<QcFile>,
    /// Paths that could not be read.
    pub errors: Vec<String>,
    pub totals: Totals,
    /// No file failed.
    pub passed: bool,
}

/// What a file is without identifying it: its size, technical metadata and
/// validation ([`crate::ops::formats::measure`]).
type Measured = (u64, Option<TechMd>, Option<Validation>);

fn measure_file(path: &std::path::Path) -> Result<Measured, std::io::Error> {
    let mut file = crate::fs::open_read(path)?;
    let size = file.metadata()?.len();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let (techmd, _, validation) = measure(&mut file, name.as_deref(), true)?;
    Ok((size, techmd, validation))
}

/// Checks one file: its identification (PRONOM) with what [`measure_file`] found, and
/// the profile's judgement.
fn check_file(
    id: &Identifier,
    profile: Option<&Profile>,
    path: &std::path::Path,
    (size, techmd, validation): Measured,
) -> Result<QcFile, std::io::Error> {
    let mut file = crate::fs::open_read(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let format = id.identify_reader(&mut file, size, name.as_deref())?;
    let status = validation
        .as_ref()
        .map_or("not validated", |v| v.status())
        .to_string();
    // Only the masters (files in one of the five formats, by their bytes or their name)
    // are judged: a transcription or a checksum file is outside the profile.
    let judgement = profile
        .filter(|_| validation.is_some())
        .map(|p| p.judge(techmd.as_ref(), validation.as_ref()));
    let outcome = match (&judgement, &validation) {
        (Some(j), _) => j.outcome,
        (None, Some(v)) if !v.valid() => Outcome::Fail,
        (None, _) => Outcome::Pass,
    };
    Ok(QcFile {
        kind: validation.as_ref().map(|v| v.kind.clone()),
        path: path.to_path_buf(),
        size,
        puid: format.puid,
        format: format.name,
        status,
        validation,
        techmd,
        judgement,
        outcome,
    })
}

/// Checks every file the paths name (folders walked in name order, as `cairn
/// identify` walks them). The signature files are compiled (`load`) on a thread of
/// their own while the files are measured and validated, which needs none of them;
/// then the files are identified. Each stage runs a folder's files on the rayon pool
/// and reports them in name order. An error only when the signature files cannot be
/// compiled.
pub fn run(
    load: impl FnOnce() -> Result<Identifier, Error> + Send,
    profile: Option<&Profile>,
    paths: &[PathBuf],
) -> Result<QcReport, Error> {
    use rayon::prelude::*;
    let (walked, loaded) = std::thread::scope(|s| {
        let loading = s.spawn(load);
        let walked: Vec<_> = paths
            .iter()
            .map(|p| {
                let mut errors = Vec::new();
                let under = files_under(p, &mut errors);
                let measured: Vec<_> = under.par_iter().map(|f| measure_file(f)).collect();
                (errors, under, measured)
            })
            .collect();
        let loaded = loading.join().unwrap_or_else(|_| {
            Err(Error::Internal(
                "compiling the signature files failed".into(),
            ))
        });
        (walked, loaded)
    });
    let id = loaded?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (walk_errors, under, measured) in walked {
        errors.extend(walk_errors);
        let checked: Vec<_> = under
            .par_iter()
            .zip(measured)
            .map(|(f, m)| m.and_then(|m| check_file(&id, profile, f, m)))
            .collect();
        for (f, r) in under.iter().zip(checked) {
            match r {
                Ok(r) => files.push(r),
                Err(e) => errors.push(format!("{}: {e}", f.display())),
            }
        }
    }
    let mut t = Totals {
        files: files.len(),
        ..Totals::default()
    };
    for f in &files {
        match f.status.as_str() {
            "valid" => t.valid += 1,
            "not valid" => t.not_valid += 1,
            "not well-formed" => t.not_well_formed += 1,
            _ => t.not_validated += 1,
        }
        match f.outcome {
            Outcome::Pass => t.pass += 1,
            Outcome::Warn => t.warn += 1,
            Outcome::Fail => t.fail += 1,
        }
    }
    Ok(QcReport {
        profile: profile.map(|p| p.name.clone()),
        passed: t.fail == 0,
        files,
        errors,
        totals: t,
    })
}

/// Pixels a file may have for [`thumbnail`] to decode it (40 megapixels: an A4 page at
/// 600 ppi is 35).
pub const THUMBNAIL_PIXELS: u64 = 40_000_000;
/// The memory the decoder may take for one file.
pub const THUMBNAIL_ALLOC: u64 = 512 * 1024 * 1024;
/// A thumbnail's longer side at most, in pixels.
pub const THUMBNAIL_SIDE: u32 = 160;

/// A small PNG of a TIFF, JPEG or PNG file, decoded by the pure-Rust decoders of the
/// `image` crate, within [`THUMBNAIL_PIXELS`] and [`THUMBNAIL_ALLOC`]. `None` for
/// another format, a file that is not well-formed, too large, or that the decoder does
/// not read (a compression it lacks): a report without a picture, never an error.
#[cfg(feature = "thumbnails")]
pub fn thumbnail(f: &QcFile) -> Option<Vec<u8>> {
    if !matches!(f.kind.as_deref(), Some("tiff" | "jpeg" | "png")) {
        return None;
    }
    if f.validation.as_ref().is_some_and(|v| !v.well_formed()) {
        return None;
    }
    let t = f.techmd.as_ref()?;
    let (w, h) = (t.width?, t.height?);
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > THUMBNAIL_PIXELS {
        return None;
    }
    let file = crate::fs::open_read(&f.path).ok()?;
    let mut reader = image::ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(THUMBNAIL_ALLOC);
    reader.limits(limits);
    let img = reader.decode().ok()?;
    // Made smaller, never larger.
    let img = if img.width() > THUMBNAIL_SIDE || img.height() > THUMBNAIL_SIDE {
        img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        img
    };
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img.to_rgba8())
        .write_to(&mut png, image::ImageFormat::Png)
        .ok()?;
    Some(png.into_inner())
}

/// A build without the `thumbnails` feature (the fuzz build) draws no thumbnails.
#[cfg(not(feature = "thumbnails"))]
pub fn thumbnail(_f: &QcFile) -> Option<Vec<u8>> {
    None
}
