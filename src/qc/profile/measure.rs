//! A file's measures as a profile names them: resolution in pixels per inch, the
//! colour and the compression, each from what the headers of every format say
//! ([`crate::techmd`]).

use crate::techmd::TechMd;

/// The colours a profile may allow (`colour = [...]`).
pub const COLOURS: &[&str] = &[
    "bilevel", "grey", "rgb", "palette", "cmyk", "ycbcr", "lab", "other",
];

/// The compressions a profile may allow (`compressions = [...]`).
pub const COMPRESSIONS: &[&str] = &[
    "none",
    "lzw",
    "deflate",
    "packbits",
    "ccitt",
    "jpeg",
    "jpeg-lossless",
    "jpeg2000-lossless",
    "jpeg2000-lossy",
    "jpeg2000",
    "other",
];

/// The resolution in pixels per inch (the lower of the two directions), from the
/// headers' unit; `Err` says why there is none.
pub fn ppi(t: &TechMd) -> Result<f64, &'static str> {
    let (Some(x), Some(y)) = (t.x_resolution, t.y_resolution.or(t.x_resolution)) else {
        return Err("no resolution in the headers");
    };
    let per_inch = match t.resolution_unit.as_deref() {
        Some("inch") => 1.0,
        Some("centimetre") => 2.54,
        Some("metre") => 0.0254,
        _ => return Err("no resolution unit (an aspect ratio only)"),
    };
    Ok(x.min(y) * per_inch)
}

/// The file's colour, one of [`COLOURS`], from the TIFF photometric interpretation or
/// the JPEG, JP2 and PNG equivalents.
pub fn colour(t: &TechMd) -> Option<&'static str> {
    let one_bit = t.bits_per_sample.first() == Some(&1);
    if let Some(p) = t.photometric.as_deref() {
        return Some(match p {
            "WhiteIsZero" | "BlackIsZero" if one_bit => "bilevel",
            "WhiteIsZero" | "BlackIsZero" | "greyscale" | "greyscale with alpha" => "grey",
            "RGB" | "RGB with alpha" => "rgb",
            "Palette" | "palette" => "palette",
            "CMYK" => "cmyk",
            "YCbCr" => "ycbcr",
            "CIELab" | "ICCLab" => "lab",
            _ => "other",
        });
    }
    // JPEG and JP2 say only their number of components.
    let c = t.components?;
    Some(match (t.kind.as_str(), c) {
        (_, 1) if one_bit => "bilevel",
        (_, 1) => "grey",
        ("jpeg", 3) => "ycbcr",
        ("jpeg", 4) => "cmyk",
        ("jp2", 3) => "rgb",
        _ => "other",
    })
}

/// The file's compression, one of [`COMPRESSIONS`].
pub fn compression(t: &TechMd) -> Option<&'static str> {
    let c = t.compression.as_deref()?;
    Some(match c {
        "none" => "none",
        "LZW" => "lzw",
        "Deflate" | "deflate" => "deflate",
        "PackBits" => "packbits",
        _ if c.starts_with("CCITT") => "ccitt",
        "lossless" => "jpeg-lossless",
        "JPEG"
        | "JPEG (old-style)"
        | "baseline DCT"
        | "extended sequential DCT"
        | "progressive DCT"
        | "other JPEG process" => "jpeg",
        "JPEG 2000" => match t.reversible {
            Some(true) => "jpeg2000-lossless",
            Some(false) => "jpeg2000-lossy",
            None => "jpeg2000",
        },
        _ => "other",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_compressions_of_every_reader() {
        let t = |kind: &str, photometric: Option<&str>, components: u16, bits: u16| TechMd {
            kind: kind.into(),
            photometric: photometric.map(String::from),
            components: Some(components),
            bits_per_sample: vec![bits],
            ..TechMd::default()
        };
        assert_eq!(
            colour(&t("tiff", Some("WhiteIsZero"), 1, 1)),
            Some("bilevel")
        );
        assert_eq!(colour(&t("tiff", Some("BlackIsZero"), 1, 8)), Some("grey"));
        assert_eq!(colour(&t("tiff", Some("Palette"), 1, 8)), Some("palette"));
        assert_eq!(colour(&t("tiff", Some("CMYK"), 4, 8)), Some("cmyk"));
        assert_eq!(colour(&t("tiff", Some("YCbCr"), 3, 8)), Some("ycbcr"));
        assert_eq!(colour(&t("png", Some("RGB with alpha"), 4, 8)), Some("rgb"));
        assert_eq!(colour(&t("png", Some("greyscale"), 1, 16)), Some("grey"));
        assert_eq!(colour(&t("png", Some("palette"), 1, 8)), Some("palette"));
        assert_eq!(colour(&t("jpeg", None, 1, 8)), Some("grey"));
        assert_eq!(colour(&t("jpeg", None, 3, 8)), Some("ycbcr"));
        assert_eq!(colour(&t("jp2", None, 3, 8)), Some("rgb"));
        let c = |s: &str, rev: Option<bool>| {
            compression(&TechMd {
                compression: Some(s.into()),
                reversible: rev,
                ..TechMd::default()
            })
        };
        assert_eq!(c("none", None), Some("none"));
        assert_eq!(c("CCITT Group 4", None), Some("ccitt"));
        assert_eq!(c("baseline DCT", None), Some("jpeg"));
        assert_eq!(c("JPEG 2000", Some(true)), Some("jpeg2000-lossless"));
        assert_eq!(c("JPEG 2000", Some(false)), Some("jpeg2000-lossy"));
        assert_eq!(c("deflate", None), Some("deflate"));
    }
}
