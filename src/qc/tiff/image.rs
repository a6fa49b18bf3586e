//! The checks of an image IFD: the counts of the baseline tags, the tags each
//! photometric interpretation requires, the compression, the resolution, and the strips
//! or tiles; and the sub-IFDs an IFD points to.

use std::io::{Read, Seek};

use super::super::Severity;
use super::{
    compression_known, known, Count, Entry, Findings, Kind, Tiff, CHUNK, MAX_DEPTH, MAX_SUBIFDS,
    MAX_VALUES,
};

impl<R: Read + Seek> Tiff<'_, R> {
    /// Checks an IFD's tags: counts, required tags, strips or tiles; follows sub-IFDs.
    pub(super) fn image(&mut self, at: u64, entries: &[Entry], kind: Kind) -> std::io::Result<()> {
        let get = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
        let spp_e = get(277);
        let spp = self.first(spp_e.as_ref())?.unwrap_or(1);
        for e in entries {
            if kind == Kind::Image {
                self.count_ok(e, spp);
            }
        }
        if self.depth >= MAX_DEPTH {
            if entries
                .iter()
                .any(|e| [330, 34665, 34853, 40965].contains(&e.tag))
            {
                self.out.warning(
                    "TIFF-IFD-DEPTH",
                    at,
                    format!(
                        "the IFD at byte {at} is {MAX_DEPTH} IFDs deep and points to more: \
                         those are not checked"
                    ),
                );
            }
            return if kind == Kind::Image {
                self.required(at, entries, spp)
            } else {
                Ok(())
            };
        }
        self.depth += 1;
        let r = self.sub_ifds(entries, kind);
        self.depth -= 1;
        r?;
        if kind == Kind::Private {
            return Ok(());
        }
        self.required(at, entries, spp)
    }

    /// Follows the IFDs an IFD points to.
    fn sub_ifds(&mut self, entries: &[Entry], kind: Kind) -> std::io::Result<()> {
        let get = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
        for (tag, what) in [
            (34665, "Exif IFD"),
            (34853, "GPS IFD"),
            (40965, "Interoperability IFD"),
        ] {
            if let Some(e) = get(tag) {
                if let Some(off) = self.first(Some(&e))? {
                    self.chain(off, e.at, Kind::Private, what)?;
                }
            }
        }
        if kind == Kind::Private {
            return Ok(());
        }
        if let Some(e) = get(330) {
            let n = (e.count as usize).min(MAX_SUBIFDS);
            let mut offs = Vec::with_capacity(n);
            self.ints(&e, 0, n, &mut offs)?;
            for off in offs {
                self.chain(off, e.at, Kind::Image, "SubIFD")?;
            }
        }
        Ok(())
    }

    fn count_ok(&mut self, e: &Entry, spp: u64) {
        let Some((name, _, want)) = known(e.tag) else {
            return;
        };
        let want = match want {
            Count::Any => return,
            Count::N(n) => n as u64,
            Count::Spp => spp,
        };
        if e.count as u64 != want {
            self.out.not_valid(
                "TIFF-TAG-COUNT",
                e.at,
                format!(
                    "{name} (tag {}) has {} value(s), the specification wants {want}",
                    e.tag, e.count
                ),
            );
        }
    }

    /// Checks the tags an image IFD requires, in stages: the size, the photometric
    /// interpretation, the compression, the resolution, then the strips or tiles.
    fn required(&mut self, at: u64, entries: &[Entry], spp: u64) -> std::io::Result<()> {
        let get = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
        let width = self.first(get(256).as_ref())?;
        let height = self.first(get(257).as_ref())?;
        if width.is_none() {
            missing(self.out, at, "ImageWidth", "every image needs");
        }
        if height.is_none() {
            missing(self.out, at, "ImageLength", "every image needs");
        }
        let photometric = self.first(get(262).as_ref())?;
        let compression = self.first(get(259).as_ref())?.unwrap_or(1);
        let mut bps = Vec::new();
        if let Some(e) = get(258) {
            let n = (e.count as usize).min(16);
            self.ints(&e, 0, n, &mut bps)?;
        }
        let bits = bps.first().copied().unwrap_or(1);
        self.photometric(at, get(320), photometric, spp, bits);
        self.compression(at, compression);
        if get(282).is_none() || get(283).is_none() {
            self.out.warning(
                "TIFF-NO-RESOLUTION",
                at,
                format!(
                    "the IFD at byte {at} has no XResolution or YResolution: the scan's \
                     resolution is not recorded"
                ),
            );
        }
        let (Some(width), Some(height)) = (width, height) else {
            return Ok(());
        };
        let image = Image {
            at,
            width,
            height,
            spp,
            bits,
            bps,
            photometric,
            compression,
        };
        self.layout(entries, &image)
    }

    /// Checks the PhotometricInterpretation against the samples per pixel and, for
    /// palette colour, the ColorMap (`colormap`).
    fn photometric(
        &mut self,
        at: u64,
        colormap: Option<Entry>,
        photometric: Option<u64>,
        spp: u64,
        bits: u64,
    ) {
        match photometric {
            None => missing(
                self.out,
                at,
                "PhotometricInterpretation",
                "says how to read the pixels",
            ),
            Some(0 | 1 | 4) => {}
            Some(2) | Some(6) | Some(8..=10) if spp < 3 => {
                self.out.not_valid(
                    "TIFF-SAMPLES",
                    at,
                    format!(
                        "the IFD at byte {at} says colour (PhotometricInterpretation {}) with \
                         {spp} sample(s) per pixel; colour needs at least 3",
                        photometric.unwrap_or(0)
                    ),
                );
            }
            Some(3) => {
                if spp != 1 {
                    self.out.not_valid(
                        "TIFF-SAMPLES",
                        at,
                        format!(
                            "the IFD at byte {at} is palette colour with {spp} samples per \
                             pixel; a palette image has 1"
                        ),
                    );
                }
                match colormap {
                    None => missing(self.out, at, "ColorMap", "a palette-colour image needs"),
                    Some(e) => {
                        let want = 3u64 << bits.min(16);
                        if (e.count as u64) < want {
                            self.out.not_valid(
                                "TIFF-COLORMAP",
                                e.at,
                                format!(
                                    "the ColorMap has {} values; {bits}-bit palette colour \
                                     needs {want}",
                                    e.count
                                ),
                            );
                        }
                    }
                }
            }
            Some(2 | 5 | 6 | 8..=10 | 32803 | 32844 | 32845 | 34892 | 51177) => {}
            Some(p) => self.out.not_valid(
                "TIFF-PHOTOMETRIC",
                at,
                format!(
                    "the IFD at byte {at} has the unknown PhotometricInterpretation {p}: no \
                     reader knows how to show its pixels"
                ),
            ),
        }
    }

    /// Checks the Compression: known to some TIFF specification, and not old-style JPEG.
    fn compression(&mut self, at: u64, compression: u64) {
        if !compression_known(compression) {
            self.out.not_valid(
                "TIFF-COMPRESSION",
                at,
                format!(
                    "the IFD at byte {at} uses compression {compression}, which no TIFF \
                     specification or common extension defines: the image cannot be decoded"
                ),
            );
        } else if compression == 6 {
            self.out.warning(
                "TIFF-OLD-JPEG",
                at,
                format!(
                    "the IFD at byte {at} uses compression 6 (old-style JPEG), deprecated \
                     since TIFF Technical Note 2; many readers cannot decode it"
                ),
            );
        }
    }

    /// Checks how the image data is laid out: strips or tiles (not both, not neither),
    /// then their tables against the size the header gives.
    fn layout(&mut self, entries: &[Entry], im: &Image) -> std::io::Result<()> {
        let get = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
        let at = im.at;
        let planar = self.first(get(284).as_ref())?.unwrap_or(1);
        let planes = if planar == 2 { im.spp.max(1) } else { 1 };
        let pixel_bits: u64 = if planar == 2 {
            im.bits
        } else if im.bps.len() as u64 == im.spp && !im.bps.is_empty() {
            im.bps.iter().sum()
        } else {
            im.bits * im.spp
        };
        let strips = (get(273), get(279));
        let tiles = (get(324), get(325));
        let has_strips = strips.0.is_some() || strips.1.is_some();
        let has_tiles = tiles.0.is_some() || tiles.1.is_some();
        if has_strips && has_tiles {
            self.out.not_valid(
                "TIFF-STRIPS-AND-TILES",
                at,
                format!("the IFD at byte {at} defines both strips and tiles"),
            );
            return Ok(());
        }
        let row_bytes = im.width.saturating_mul(pixel_bits).div_ceil(8);
        // Uncompressed data whose size follows from the header alone (YCbCr may be
        // subsampled).
        let plain = im.compression == 1 && im.photometric != Some(6);
        if has_tiles {
            let tw = self.first(get(322).as_ref())?;
            let tl = self.first(get(323).as_ref())?;
            let (Some(tw), Some(tl)) = (tw, tl) else {
                missing(
                    self.out,
                    at,
                    "TileWidth or TileLength",
                    "a tiled image needs",
                );
                return Ok(());
            };
            self.tiles(im, tiles, (tw, tl), planes, pixel_bits, plain)
        } else if has_strips {
            let height = im.height;
            let rps = self.first(get(278).as_ref())?.unwrap_or(u32::MAX as u64);
            let rps = if rps == 0 { height.max(1) } else { rps };
            let per_plane = height.div_ceil(rps);
            let n = per_plane.saturating_mul(planes);
            let strip = move |i: u64| {
                let first = (i % per_plane.max(1)).saturating_mul(rps);
                height
                    .saturating_sub(first)
                    .min(rps)
                    .saturating_mul(row_bytes)
            };
            self.data(at, strips, "strip", n, strip, plain)
        } else {
            self.out.not_valid(
                "TIFF-NO-DATA",
                at,
                format!(
                    "the IFD at byte {at} has neither StripOffsets nor TileOffsets: its image \
                     data cannot be found"
                ),
            );
            Ok(())
        }
    }

    /// Checks a tiled image: the tile size (multiples of 16), then the tile tables.
    fn tiles(
        &mut self,
        im: &Image,
        tiles: (Option<Entry>, Option<Entry>),
        (tw, tl): (u64, u64),
        planes: u64,
        pixel_bits: u64,
        plain: bool,
    ) -> std::io::Result<()> {
        let at = im.at;
        if tw == 0 || tl == 0 || tw % 16 != 0 || tl % 16 != 0 {
            self.out.not_valid(
                "TIFF-TILE-SIZE",
                at,
                format!(
                    "the tiles of the IFD at byte {at} are {tw}×{tl}; TIFF requires \
                     multiples of 16"
                ),
            );
            if tw == 0 || tl == 0 {
                return Ok(());
            }
        }
        let n = im
            .width
            .div_ceil(tw)
            .saturating_mul(im.height.div_ceil(tl))
            .saturating_mul(planes);
        let tile = (tw.saturating_mul(pixel_bits))
            .div_ceil(8)
            .saturating_mul(tl);
        self.data(at, tiles, "tile", n, |_| tile, plain)
    }

    /// Checks strips or tiles: both tables present with `n` values each, every piece
    /// inside the file, and for uncompressed data at least `expect(i)` bytes.
    fn data(
        &mut self,
        at: u64,
        (offs, counts): (Option<Entry>, Option<Entry>),
        what: &str,
        n: u64,
        expect: impl Fn(u64) -> u64,
        uncompressed: bool,
    ) -> std::io::Result<()> {
        let (o_name, c_name) = if what == "tile" {
            ("TileOffsets", "TileByteCounts")
        } else {
            ("StripOffsets", "StripByteCounts")
        };
        let (Some(offs), Some(counts)) = (offs, counts) else {
            let name = if offs.is_none() { o_name } else { c_name };
            self.out.not_valid(
                "TIFF-TAG-MISSING",
                at,
                format!("the IFD at byte {at} has no {name}: its image data cannot be found"),
            );
            return Ok(());
        };
        if offs.count != counts.count {
            self.out.not_valid(
                "TIFF-STRIP-COUNT",
                counts.at,
                format!(
                    "{o_name} has {} values and {c_name} {}: they must match",
                    offs.count, counts.count
                ),
            );
        }
        if offs.count as u64 != n {
            self.out.not_valid(
                "TIFF-STRIP-COUNT",
                offs.at,
                format!(
                    "{o_name} has {} values; the image's size and layout need {n} {what}s",
                    offs.count
                ),
            );
        }
        let total = offs.count.min(counts.count) as u64;
        let mut checked = total.min(self.values_left);
        if checked < total && !self.capped {
            self.capped = true;
            self.out.warning(
                "TIFF-CHECK-CAP",
                offs.at,
                format!(
                    "more than {MAX_VALUES} strip and tile values in the file: the rest are \
                     not checked"
                ),
            );
        }
        self.values_left -= checked;
        let (mut ov, mut cv) = (Vec::with_capacity(CHUNK), Vec::with_capacity(CHUNK));
        let mut outside = 0u64;
        let mut short = 0u64;
        let mut i = 0u64;
        while checked > 0 {
            let k = (checked as usize).min(CHUNK);
            self.ints(&offs, i, k, &mut ov)?;
            self.ints(&counts, i, k, &mut cv)?;
            for (&o, &c) in ov.iter().zip(cv.iter()) {
                if !self.inside(o, c) {
                    if outside == 0 {
                        self.out.not_well_formed(
                            "TIFF-DATA-OUTSIDE",
                            offs.at,
                            format!(
                                "{what} {i} ({c} bytes at byte {o}) runs past the end of the \
                                 file ({} bytes): the file is truncated or the offsets damaged",
                                self.len
                            ),
                        );
                    }
                    outside += 1;
                } else if uncompressed && c < expect(i) {
                    if short == 0 {
                        self.out.not_well_formed(
                            "TIFF-DATA-SHORT",
                            counts.at,
                            format!(
                                "uncompressed {what} {i} has {c} bytes; the image's width, \
                                 rows, samples and bits need {}: pixels are missing",
                                expect(i)
                            ),
                        );
                    }
                    short += 1;
                }
                i += 1;
            }
            checked -= k as u64;
        }
        for (n, code, e) in [
            (outside, "outside the file", &offs),
            (short, "too short", &counts),
        ] {
            if n > 1 {
                self.out.push(
                    "TIFF-DATA-MORE",
                    Severity::NotWellFormed,
                    Some(e.at),
                    format!("{n} {what}s of the IFD at byte {at} in all are {code}"),
                );
            }
        }
        Ok(())
    }
}

/// What an image IFD says about its pixels, shared by the layout stages.
struct Image {
    /// Where the IFD is in the file.
    at: u64,
    width: u64,
    height: u64,
    /// SamplesPerPixel.
    spp: u64,
    /// The first BitsPerSample.
    bits: u64,
    /// BitsPerSample, at most 16 values.
    bps: Vec<u64>,
    photometric: Option<u64>,
    compression: u64,
}

/// Reports a tag the IFD at `at` lacks.
fn missing(out: &mut Findings, at: u64, name: &str, why: &str) {
    out.not_valid(
        "TIFF-TAG-MISSING",
        at,
        format!("the IFD at byte {at} has no {name}, which {why}"),
    );
}
