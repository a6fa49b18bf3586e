//! Technical metadata of scanned documents, read from file headers only: TIFF, JPEG,
//! JPEG 2000 (JP2), PNG, PDF (and GIF's screen size).
//!
//! Every reader works on `Read + Seek` and reads a bounded amount whatever the file's
//! size: TIFF follows its IFDs (at most [`MAX_IFDS`] pages, [`MAX_ENTRIES`] entries
//! each), JPEG reads marker segments up to the first scan, JP2 reads boxes up to the
//! codestream's COD marker, PNG reads chunks up to the first IDAT, PDF reads the
//! trailer, the cross-reference entries it needs, the catalog, the page tree root and
//! the XMP metadata stream (each read capped at [`PDF_READ`] bytes). Each also looks
//! at the file's last bytes for the damage a scan most often arrives with (a
//! truncated TIFF, a JPEG without its end-of-image marker, a PDF without its trailer),
//! reported as warnings.
//!
//! Written here rather than taken from a crate: the image crates (image, tiff, jpeg-
//! decoder, png) decode pixel data or read the whole stream, and none reads all five
//! formats' resolution, ICC presence, page count and damage signs from headers alone.

mod jp2;
mod jpeg;
mod pdf;
mod png;
mod tiff;

use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

/// Pages (IFDs) a TIFF reader follows at most.
pub const MAX_IFDS: usize = 100_000;
/// Entries read from one IFD at most.
pub const MAX_ENTRIES: usize = 4096;
/// Bytes read at a time from a PDF object or trailer.
pub const PDF_READ: usize = 64 * 1024;

/// What the headers say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TechMd {
    /// tiff, jpeg, jp2, png or pdf.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Samples per pixel (TIFF), components (JPEG, JP2), channels (PNG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bits_per_sample: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photometric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_resolution: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_resolution: Option<f64>,
    /// inch, centimetre, metre, or none (an aspect ratio only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icc_profile: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// EXIF DateTimeOriginal (else DateTime), as written (`YYYY:MM:DD HH:MM:SS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// JP2: the reversible 5-3 wavelet (lossless) or the irreversible 9-7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversible: Option<bool>,
    /// PDF: the header's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// PDF: the PDF/A part and conformance its XMP claims (e.g. `1B`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdfa: Option<String>,
    /// Signs of damage (truncation, a missing end marker or trailer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

// The readers never store a NaN (resolutions are checked finite), so equality is an
// equivalence.
impl Eq for TechMd {}

/// Which reader a file's first bytes call for.
pub(crate) fn kind_of(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some("tiff")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if head.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") {
        Some("jp2")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if head.starts_with(b"%PDF-") {
        Some("pdf")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("gif")
    } else {
        None
    }
}

/// Reads the technical metadata from any seekable source (a file opened by the caller,
/// through fs/, or bytes in memory), if it is in one of the formats read here.
pub fn read<R: Read + Seek>(r: &mut R) -> std::io::Result<Option<TechMd>> {
    let len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    let n = read_up_to(r, &mut head)?;
    let Some(kind) = kind_of(&head[..n]) else {
        return Ok(None);
    };
    r.seek(SeekFrom::Start(0))?;
    let mut t = TechMd {
        kind: kind.to_string(),
        ..TechMd::default()
    };
    let result = match kind {
        "tiff" => tiff::read(r, len, &mut t),
        "jpeg" => jpeg::read(r, len, &mut t),
        "jp2" => jp2::read(r, len, &mut t),
        "png" => png::read(r, len, &mut t),
        "gif" => gif(r, len, &mut t),
        _ => pdf::read(r, len, &mut t),
    };
    if let Err(e) = result {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => t
                .warnings
                .push(format!("the {kind} headers are damaged or cut short: {e}")),
            _ => return Err(e),
        }
    }
    for v in [&mut t.x_resolution, &mut t.y_resolution] {
        if v.is_some_and(|x| !x.is_finite()) {
            *v = None;
        }
    }
    Ok(Some(t))
}

/// GIF: the logical screen's size and the trailer byte.
fn gif<R: Read + Seek>(r: &mut R, len: u64, t: &mut TechMd) -> std::io::Result<()> {
    let h: [u8; 10] = exact(r)?;
    t.width = Some(u16::from_le_bytes([h[6], h[7]]) as u32);
    t.height = Some(u16::from_le_bytes([h[8], h[9]]) as u32);
    t.compression = Some("LZW".into());
    if tail(r, len, 1)? != [0x3B] {
        t.warnings
            .push("no trailer byte (3B) at the end: the GIF is truncated".into());
    }
    Ok(())
}

/// Reads until `buf` is full or the data ends; the bytes read.
pub(crate) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// The last `n` bytes (fewer if the file is shorter).
fn tail<R: Read + Seek>(r: &mut R, len: u64, n: usize) -> std::io::Result<Vec<u8>> {
    let start = len.saturating_sub(n as u64);
    r.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; (len - start) as usize];
    let k = read_up_to(r, &mut buf)?;
    buf.truncate(k);
    Ok(buf)
}

fn exact<R: Read, const N: usize>(r: &mut R) -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}
