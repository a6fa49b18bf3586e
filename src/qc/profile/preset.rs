//! The presets: the published levels a profile may start from, each number the
//! guideline's, cited beside it.

use super::Profile;

/// The presets, by name. The numbers and their sources are in [`preset`].
pub const PRESETS: &[&str] = &[
    "fadgi-3-star-text",
    "fadgi-4-star-text",
    "metamorfoze-light",
];

/// A preset, by name. Only what a file's headers can show is taken from each guideline;
/// every number is the guideline's, cited beside it.
pub fn preset(name: &str) -> Option<Profile> {
    let mut p = Profile::empty(name);
    let list = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    match name {
        // FADGI, Technical Guidelines for Digitizing Cultural Heritage Materials, 3rd
        // edition (May 2023), the performance table for bound general collections
        // (textual documents), as tabulated beside ISO 19264-1 and Metamorfoze 2.0 at
        // skandalski.pl/tabela-fadgi-iso-metamorfoze: 3 star: resolution ≥ 294 ppi
        // (300 ppi - 2 %), bit depth 8 or 16, colour spaces Gray Gamma 2.2, sRGB, Adobe
        // RGB (1998), ProPhoto, eciRGB v2 (an embedded profile names it), master formats
        // TIFF, JPEG 2000, PDF/A.
        "fadgi-3-star-text" => {
            p.min_ppi = Some(294);
            p.bit_depths = Some(vec![8, 16]);
            p.colour = list(&["grey", "rgb"]);
            p.icc_required = true;
        }
        // The same table, 4 star: resolution ≥ 396 ppi (400 ppi - 1 %), bit depth 8 or
        // 16, colour spaces sRGB, Adobe RGB (1998), ProPhoto, eciRGB v2 (no greyscale).
        "fadgi-4-star-text" => {
            p.min_ppi = Some(396);
            p.bit_depths = Some(vec![8, 16]);
            p.colour = list(&["rgb"]);
            p.icc_required = true;
        }
        // Metamorfoze Preservation Imaging Guidelines 2.0 (draft, June 2023), the
        // specifications table at preservationimaging.com/version-2: Metamorfoze Light:
        // TIFF 6.0 uncompressed or JP2 (JPEG 2000 part 1) lossless; colour space eciRGB
        // v2 or Adobe RGB (1998); bit depth 8; 300 ppi for originals of A5 and larger
        // (up to 600 ppi below A5: the file does not say the original's size, so 300 is
        // the minimum checked).
        "metamorfoze-light" => {
            p.min_ppi = Some(300);
            p.bit_depths = Some(vec![8]);
            p.colour = list(&["rgb"]);
            p.icc_required = true;
            p.compressions = list(&["none", "jpeg2000-lossless"]);
        }
        _ => return None,
    }
    Some(p)
}
