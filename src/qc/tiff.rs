//! TIFF validation, as JHOVE's TIFF-hul and libtiff check a file: the header, the IFD
//! chain (offsets inside the file, loops, entry counts, tags in ascending order, the
//! types and counts of the baseline tags, value offsets and sizes inside the file), the
//! tags each photometric interpretation requires, the compression, and the strips or
//! tiles (their number, every one inside the file, and for uncompressed data their
//! byte counts against width × height × samples × bits). SubIFDs and the Exif, GPS and
//! Interoperability IFDs are followed with the same structural checks. The page count
//! is the number of IFDs in the main chain. BigTIFF is recognised, not validated.
//!
//! Memory is bounded whatever the file's size: one IFD at a time (at most
//! [`MAX_ENTRIES`] entries, 48 KiB), strip and tile tables read [`CHUNK`] values at a
//! time, a set of the IFD offsets seen (at most [`MAX_IFDS`]); at most [`MAX_VALUES`]
//! strip and tile values are checked per file, so the work is bounded too. The image
//! data itself is never read.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use super::Findings;

/// IFDs followed per file (main chain and sub-IFDs together).
const MAX_IFDS: usize = 100_000;
/// Entries an IFD may have before it is taken as damage.
const MAX_ENTRIES: usize = 4096;
/// Strip or tile values read at once.
const CHUNK: usize = 4096;
/// Strip and tile values checked per file at most.
const MAX_VALUES: u64 = 16 * 1024 * 1024;
/// Sub-IFDs followed from one SubIFDs tag at most.
const MAX_SUBIFDS: usize = 64;
/// How deep IFDs pointing to IFDs are followed (a scan's Exif IFD's Interoperability
/// IFD is at depth 2).
const MAX_DEPTH: u32 = 4;

const T_SHORT: u16 = 3;
const T_LONG: u16 = 4;
const T_RATIONAL: u16 = 5;
const T_ASCII: u16 = 2;
const T_UNDEFINED: u16 = 7;
const T_IFD: u16 = 13;

fn type_size(typ: u16) -> Option<u64> {
    match typ {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 => Some(8),
        _ => None,
    }
}

/// How many values a known tag must have.
#[derive(Clone, Copy)]
enum Count {
    Any,
    N(u32),
    /// SamplesPerPixel values.
    Spp,
}

/// The baseline and common extension tags: name, allowed types, count.
fn known(tag: u16) -> Option<(&'static str, &'static [u16], Count)> {
    use Count::*;
    const S: &[u16] = &[T_SHORT];
    const L: &[u16] = &[T_LONG];
    const SL: &[u16] = &[T_SHORT, T_LONG];
    const R: &[u16] = &[T_RATIONAL];
    const A: &[u16] = &[T_ASCII];
    const LI: &[u16] = &[T_LONG, T_IFD];
    Some(match tag {
        254 => ("NewSubfileType", L, N(1)),
        255 => ("SubfileType", S, N(1)),
        256 => ("ImageWidth", SL, N(1)),
        257 => ("ImageLength", SL, N(1)),
        258 => ("BitsPerSample", S, Spp),
        259 => ("Compression", S, N(1)),
        262 => ("PhotometricInterpretation", S, N(1)),
        266 => ("FillOrder", S, N(1)),
        270 => ("ImageDescription", A, Any),
        271 => ("Make", A, Any),
        272 => ("Model", A, Any),
        273 => ("StripOffsets", SL, Any),
        274 => ("Orientation", S, N(1)),
        277 => ("SamplesPerPixel", S, N(1)),
        278 => ("RowsPerStrip", SL, N(1)),
        279 => ("StripByteCounts", SL, Any),
        282 => ("XResolution", R, N(1)),
        283 => ("YResolution", R, N(1)),
        284 => ("PlanarConfiguration", S, N(1)),
        296 => ("ResolutionUnit", S, N(1)),
        305 => ("Software", A, Any),
        306 => ("DateTime", A, N(20)),
        315 => ("Artist", A, Any),
        320 => ("ColorMap", S, Any),
        322 => ("TileWidth", SL, N(1)),
        323 => ("TileLength", SL, N(1)),
        324 => ("TileOffsets", SL, Any),
        325 => ("TileByteCounts", SL, Any),
        330 => ("SubIFDs", LI, Any),
        338 => ("ExtraSamples", S, Any),
        339 => ("SampleFormat", S, Spp),
        33432 => ("Copyright", A, Any),
        34665 => ("ExifIFD", LI, N(1)),
        34675 => ("ICCProfile", &[T_UNDEFINED], Any),
        34853 => ("GPSInfoIFD", LI, N(1)),
        _ => return None,
    })
}

fn compression_known(c: u64) -> bool {
    matches!(
        c,
        1..=10
            | 32766
            | 32771
            | 32773
            | 32809
            | 32867
            | 32895..=32898
            | 32908
            | 32909
            | 32946
            | 32947
            | 33003
            | 33005
            | 34661
            | 34676
            | 34677
            | 34712
            | 34713
            | 34715
            | 34887..=34892
            | 34925
            | 34926
            | 34927
            | 34933
            | 34934
            | 50000
            | 50001
            | 50002
    )
}

#[derive(Clone, Copy)]
struct Entry {
    tag: u16,
    typ: u16,
    count: u32,
    raw: [u8; 4],
    /// Where the entry is in the file.
    at: u64,
}

/// What kind of IFD is being read: which checks apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An image: the main chain or a SubIFD.
    Image,
    /// Exif, GPS or Interoperability: structure only.
    Private,
}

struct Tiff<'a, R> {
    r: &'a mut R,
    len: u64,
    big: bool,
    out: &'a mut Findings,
    seen: HashSet<u64>,
    values_left: u64,
    capped: bool,
    depth: u32,
}

impl<R: Read + Seek> Tiff<'_, R> {
    fn u16(&self, b: [u8; 2]) -> u16 {
        if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(&self, b: [u8; 4]) -> u32 {
        if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.r.seek(SeekFrom::Start(off))?;
        self.r.read_exact(buf)
    }

    /// Whether `n` bytes at `off` are inside the file.
    fn inside(&self, off: u64, n: u64) -> bool {
        off.checked_add(n).is_some_and(|end| end <= self.len)
    }

    /// Reads `n` integer values of an entry from index `start` into `dst` (cleared).
    /// Only for entries whose values were found inside the file.
    fn ints(&mut self, e: &Entry, start: u64, n: usize, dst: &mut Vec<u64>) -> std::io::Result<()> {
        dst.clear();
        let size = match e.typ {
            1 | 7 => 1,
            3 => 2,
            4 | 13 => 4,
            _ => return Ok(()),
        };
        let total = size * e.count as u64;
        let mut buf = [0u8; CHUNK * 4];
        let n = n.min(CHUNK);
        let bytes = if total <= 4 {
            let s = (start * size).min(4) as usize;
            let end = (s + n * size as usize).min(4);
            buf[..end - s].copy_from_slice(&e.raw[s..end]);
            &buf[..end - s]
        } else {
            let bytes = &mut buf[..n * size as usize];
            let off = self.u32(e.raw) as u64 + start * size;
            self.r.seek(SeekFrom::Start(off))?;
            self.r.read_exact(bytes)?;
            &buf[..n * size as usize]
        };
        for c in bytes.chunks_exact(size as usize) {
            dst.push(match size {
                1 => c[0] as u64,
                2 => self.u16([c[0], c[1]]) as u64,
                _ => self.u32([c[0], c[1], c[2], c[3]]) as u64,
            });
        }
        Ok(())
    }

    /// The first value of an entry, if it has an integer one.
    fn first(&mut self, e: Option<&Entry>) -> std::io::Result<Option<u64>> {
        let Some(e) = e else { return Ok(None) };
        if e.count == 0 {
            return Ok(None);
        }
        let mut v = Vec::with_capacity(1);
        self.ints(e, 0, 1, &mut v)?;
        Ok(v.first().copied())
    }

    /// Reads and checks the IFD at `off`; its entries whose values are inside the file
    /// and the offset of the next IFD, or `None` when it cannot be read.
    fn ifd(
        &mut self,
        off: u64,
        ptr: u64,
        what: &str,
    ) -> std::io::Result<Option<(Vec<Entry>, u32, u64)>> {
        if !self.inside(off, 2) {
            self.out.not_well_formed(
                "TIFF-IFD-OFFSET",
                ptr,
                format!(
                    "the {what} is said to be at byte {off}, past the end of the file \
                     ({} bytes): the file is truncated or the offset is damaged",
                    self.len
                ),
            );
            return Ok(None);
        }
        if off % 2 == 1 {
            self.out.not_valid(
                "TIFF-IFD-ODD-OFFSET",
                off,
                format!(
                    "the {what} starts at an odd byte ({off}); TIFF requires IFDs on a \
                     word boundary (JHOVE: IFD offset not word-aligned)"
                ),
            );
        }
        let mut b2 = [0u8; 2];
        self.read_at(off, &mut b2)?;
        let n = self.u16(b2) as usize;
        if n == 0 {
            self.out.not_well_formed(
                "TIFF-IFD-EMPTY",
                off,
                format!("the {what} at byte {off} has no entries: the offset is likely damaged"),
            );
            return Ok(None);
        }
        if n > MAX_ENTRIES {
            self.out.not_well_formed(
                "TIFF-IFD-ENTRIES",
                off,
                format!(
                    "the {what} at byte {off} claims {n} entries (more than {MAX_ENTRIES}): \
                     the offset or the count is damaged"
                ),
            );
            return Ok(None);
        }
        let size = 2 + 12 * n as u64 + 4;
        if !self.inside(off, size) {
            self.out.not_well_formed(
                "TIFF-IFD-TRUNCATED",
                off,
                format!(
                    "the {what} at byte {off} ({n} entries, {size} bytes) runs past the end \
                     of the file ({} bytes): the file is truncated",
                    self.len
                ),
            );
            return Ok(None);
        }
        let mut buf = vec![0u8; size as usize - 2];
        self.read_at(off + 2, &mut buf)?;
        let mut entries = Vec::with_capacity(n);
        let mut prev: Option<u16> = None;
        for (i, b) in buf[..12 * n].chunks_exact(12).enumerate() {
            let e = Entry {
                tag: self.u16([b[0], b[1]]),
                typ: self.u16([b[2], b[3]]),
                count: self.u32([b[4], b[5], b[6], b[7]]),
                raw: [b[8], b[9], b[10], b[11]],
                at: off + 2 + 12 * i as u64,
            };
            if let Some(p) = prev {
                if e.tag <= p {
                    self.out.not_well_formed(
                        "TIFF-TAG-ORDER",
                        e.at,
                        format!(
                            "tag {} in the {what} at byte {off} follows tag {p}: tags must be \
                             in ascending order, without repeats (JHOVE: tag out of sequence)",
                            e.tag
                        ),
                    );
                }
            }
            prev = Some(e.tag);
            if self.entry_ok(&e, what)? {
                entries.push(e);
            }
        }
        let t = &buf[12 * n..];
        let next = self.u32([t[0], t[1], t[2], t[3]]);
        Ok(Some((entries, next, off + 2 + 12 * n as u64)))
    }

    /// Checks an entry's type, and its value's place; whether its value can be read.
    fn entry_ok(&mut self, e: &Entry, what: &str) -> std::io::Result<bool> {
        let Some(size) = type_size(e.typ) else {
            self.out.not_valid(
                "TIFF-TYPE-UNKNOWN",
                e.at,
                format!(
                    "tag {} in the {what} has the unknown field type {}: its value cannot be \
                     read",
                    e.tag, e.typ
                ),
            );
            return Ok(false);
        };
        if let Some((name, types, _)) = known(e.tag) {
            if !types.contains(&e.typ) {
                self.out.not_valid(
                    "TIFF-TAG-TYPE",
                    e.at,
                    format!(
                        "{name} (tag {}) has field type {}, the specification allows {}",
                        e.tag,
                        e.typ,
                        types
                            .iter()
                            .map(|t| t.to_string())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                );
            }
        }
        let total = size * e.count as u64;
        if total > 4 {
            let voff = self.u32(e.raw) as u64;
            if !self.inside(voff, total) {
                self.out.not_well_formed(
                    "TIFF-VALUE-OFFSET",
                    e.at,
                    format!(
                        "the value of tag {} ({total} bytes at byte {voff}) runs past the end \
                         of the file ({} bytes): the file is truncated or the entry damaged",
                        e.tag, self.len
                    ),
                );
                return Ok(false);
            }
            if voff % 2 == 1 {
                self.out.not_valid(
                    "TIFF-VALUE-ODD-OFFSET",
                    e.at,
                    format!(
                        "the value of tag {} starts at an odd byte ({voff}); TIFF requires \
                         word-aligned values (JHOVE: value offset not word-aligned)",
                        e.tag
                    ),
                );
            }
        }
        Ok(true)
    }

    /// Follows a chain of IFDs from `first`; the number of IFDs read.
    /// `ptr` is where the pointer to the first IFD is.
    fn chain(&mut self, first: u64, ptr: u64, kind: Kind, what: &str) -> std::io::Result<u32> {
        let mut off = first;
        let mut ptr = ptr;
        let mut count = 0u32;
        let mut from: Option<u64> = None;
        let unit = if what == "IFD" { "page" } else { "IFD" };
        loop {
            if !self.seen.insert(off) {
                let msg = match from {
                    Some(f) if f == off => format!(
                        "the {what} at byte {off} points to itself: the {unit} chain loops; \
                         only {count} {unit}(s) can be read"
                    ),
                    Some(f) => format!(
                        "the {what} at byte {f} points back to the IFD at byte {off}: the \
                         {unit} chain loops; only {count} {unit}(s) can be read"
                    ),
                    None => format!(
                        "the {what} at byte {off} was already read as another IFD: the \
                         pointers loop"
                    ),
                };
                self.out
                    .not_well_formed("TIFF-IFD-LOOP", from.unwrap_or(off), msg);
                break;
            }
            if self.seen.len() > MAX_IFDS {
                self.out.warning(
                    "TIFF-IFD-CAP",
                    off,
                    format!("more than {MAX_IFDS} IFDs: the rest are not checked"),
                );
                break;
            }
            let Some((entries, next, next_at)) = self.ifd(off, ptr, what)? else {
                break;
            };
            count += 1;
            self.image(off, &entries, kind)?;
            if next == 0 {
                break;
            }
            from = Some(off);
            ptr = next_at;
            off = next as u64;
        }
        Ok(count)
    }

    /// Checks an IFD's tags: counts, required tags, strips or tiles; follows sub-IFDs.
    fn image(&mut self, at: u64, entries: &[Entry], kind: Kind) -> std::io::Result<()> {
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

    fn required(&mut self, at: u64, entries: &[Entry], spp: u64) -> std::io::Result<()> {
        let get = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
        let missing = |out: &mut Findings, name: &str, why: &str| {
            out.not_valid(
                "TIFF-TAG-MISSING",
                at,
                format!("the IFD at byte {at} has no {name}, which {why}"),
            );
        };
        let width = self.first(get(256).as_ref())?;
        let height = self.first(get(257).as_ref())?;
        if width.is_none() {
            missing(self.out, "ImageWidth", "every image needs");
        }
        if height.is_none() {
            missing(self.out, "ImageLength", "every image needs");
        }
        let photometric = self.first(get(262).as_ref())?;
        let compression = self.first(get(259).as_ref())?.unwrap_or(1);
        let mut bps = Vec::new();
        if let Some(e) = get(258) {
            let n = (e.count as usize).min(16);
            self.ints(&e, 0, n, &mut bps)?;
        }
        let bits = bps.first().copied().unwrap_or(1);
        match photometric {
            None => missing(
                self.out,
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
                match get(320) {
                    None => missing(self.out, "ColorMap", "a palette-colour image needs"),
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
        let planar = self.first(get(284).as_ref())?.unwrap_or(1);
        let planes = if planar == 2 { spp.max(1) } else { 1 };
        let pixel_bits: u64 = if planar == 2 {
            bits
        } else if bps.len() as u64 == spp && !bps.is_empty() {
            bps.iter().sum()
        } else {
            bits * spp
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
        let row_bytes = width.saturating_mul(pixel_bits).div_ceil(8);
        // Uncompressed data whose size follows from the header alone (YCbCr may be
        // subsampled).
        let plain = compression == 1 && photometric != Some(6);
        if has_tiles {
            let tw = self.first(get(322).as_ref())?;
            let tl = self.first(get(323).as_ref())?;
            let (Some(tw), Some(tl)) = (tw, tl) else {
                missing(self.out, "TileWidth or TileLength", "a tiled image needs");
                return Ok(());
            };
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
            let n = width
                .div_ceil(tw)
                .saturating_mul(height.div_ceil(tl))
                .saturating_mul(planes);
            let tile = (tw.saturating_mul(pixel_bits))
                .div_ceil(8)
                .saturating_mul(tl);
            self.data(at, tiles, "tile", n, |_| tile, plain)
        } else if has_strips {
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
                    super::Severity::NotWellFormed,
                    Some(e.at),
                    format!("{n} {what}s of the IFD at byte {at} in all are {code}"),
                );
            }
        }
        Ok(())
    }
}

/// Validates a TIFF file of `len` bytes; its page count (IFDs in the main chain).
pub(super) fn validate<R: Read + Seek>(
    r: &mut R,
    len: u64,
    out: &mut Findings,
) -> std::io::Result<Option<u32>> {
    if len < 8 {
        out.not_well_formed(
            "TIFF-TRUNCATED",
            0,
            format!("the file has {len} bytes, fewer than a TIFF header's 8"),
        );
        return Ok(None);
    }
    let mut h = [0u8; 8];
    r.seek(SeekFrom::Start(0))?;
    r.read_exact(&mut h)?;
    let big = match &h[..2] {
        b"II" => false,
        b"MM" => true,
        _ => {
            out.not_well_formed(
                "TIFF-BYTE-ORDER",
                0,
                "the file does not start with II or MM (the byte order of a TIFF header)",
            );
            return Ok(None);
        }
    };
    let mut t = Tiff {
        r,
        len,
        big,
        out,
        seen: HashSet::new(),
        values_left: MAX_VALUES,
        capped: false,
        depth: 0,
    };
    match t.u16([h[2], h[3]]) {
        42 => {}
        43 => {
            t.out.warning(
                "TIFF-BIGTIFF",
                2,
                "a BigTIFF file: its structure is not validated by Cairn",
            );
            return Ok(None);
        }
        m => {
            t.out.not_well_formed(
                "TIFF-MAGIC",
                2,
                format!("the TIFF header's version number is {m}, not 42"),
            );
            return Ok(None);
        }
    }
    let first = t.u32([h[4], h[5], h[6], h[7]]) as u64;
    if first == 0 {
        t.out.not_well_formed(
            "TIFF-NO-IFD",
            4,
            "the header's first IFD offset is 0: the file has no image",
        );
        return Ok(Some(0));
    }
    let pages = t.chain(first, 4, Kind::Image, "IFD")?;
    Ok(Some(pages))
}

#[cfg(test)]
mod tests {
    use super::super::{codes, codes_of, one, Findings, Severity};
    use super::validate;
    use Severity::*;

    /// A little-endian TIFF: the IFD at 8 with `entries` (tag, type, values), external
    /// values after it, then `data` bytes of image data; a StripOffsets value of
    /// u32::MAX is the data's offset.
    fn build(entries: &[(u16, u16, Vec<u32>)], data: usize) -> Vec<u8> {
        let n = entries.len();
        let ifd_end = 8 + 2 + 12 * n + 4;
        let mut ext: Vec<u8> = Vec::new();
        let mut raw_entries = Vec::new();
        let encoded: Vec<Vec<u8>> = entries
            .iter()
            .map(|(_, t, v)| {
                v.iter()
                    .flat_map(|&x| match t {
                        3 => (x as u16).to_le_bytes().to_vec(),
                        1 | 2 | 7 => vec![x as u8],
                        _ => x.to_le_bytes().to_vec(),
                    })
                    .collect()
            })
            .collect();
        let ext_total: usize = encoded
            .iter()
            .filter(|e| e.len() > 4)
            .map(|e| e.len() + e.len() % 2)
            .sum();
        let data_at = (ifd_end + ext_total) as u32;
        for ((tag, typ, v), enc) in entries.iter().zip(&encoded) {
            let count = if *typ == 5 { v.len() / 2 } else { v.len() } as u32;
            let mut enc = enc.clone();
            if *tag == 273 && v == &[u32::MAX] {
                enc = data_at.to_le_bytes().to_vec();
            }
            let raw = if enc.len() > 4 {
                let at = (ifd_end + ext.len()) as u32;
                ext.extend_from_slice(&enc);
                if ext.len() % 2 == 1 {
                    ext.push(0);
                }
                at.to_le_bytes()
            } else {
                let mut r = [0u8; 4];
                r[..enc.len()].copy_from_slice(&enc);
                r
            };
            raw_entries.push((*tag, *typ, count, raw));
        }
        let mut f = b"II*\0\x08\0\0\0".to_vec();
        f.extend_from_slice(&(n as u16).to_le_bytes());
        for (tag, typ, count, raw) in raw_entries {
            f.extend_from_slice(&tag.to_le_bytes());
            f.extend_from_slice(&typ.to_le_bytes());
            f.extend_from_slice(&count.to_le_bytes());
            f.extend_from_slice(&raw);
        }
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&ext);
        f.extend(std::iter::repeat_n(0x80u8, data));
        f
    }

    /// A 16×8 8-bit greyscale image, uncompressed, one strip, 300 ppi.
    fn grey() -> Vec<(u16, u16, Vec<u32>)> {
        vec![
            (256, 3, vec![16]),
            (257, 3, vec![8]),
            (258, 3, vec![8]),
            (259, 3, vec![1]),
            (262, 3, vec![1]),
            (273, 4, vec![u32::MAX]),
            (277, 3, vec![1]),
            (278, 3, vec![8]),
            (279, 4, vec![128]),
            (282, 5, vec![300, 1]),
            (283, 5, vec![300, 1]),
            (296, 3, vec![2]),
        ]
    }

    fn set(e: &mut [(u16, u16, Vec<u32>)], tag: u16, v: Vec<u32>) {
        if let Some(x) = e.iter_mut().find(|x| x.0 == tag) {
            x.2 = v;
        }
    }

    #[test]
    fn a_valid_greyscale_tiff_has_no_findings_and_one_page() {
        let f = build(&grey(), 128);
        assert_eq!(codes_of(&f), (vec![], Some(1)));
    }

    #[test]
    fn a_valid_palette_rgb_and_tiled_tiff_have_no_findings() {
        let mut p = grey();
        set(&mut p, 262, vec![3]);
        p.push((320, 3, vec![0; 768]));
        p.sort_by_key(|e| e.0);
        assert_eq!(codes(&build(&p, 128)), vec![]);
        let mut rgb = grey();
        set(&mut rgb, 258, vec![8, 8, 8]);
        set(&mut rgb, 262, vec![2]);
        set(&mut rgb, 277, vec![3]);
        set(&mut rgb, 279, vec![384]);
        assert_eq!(codes(&build(&rgb, 384)), vec![]);
        // 16×8 in one 16×16 tile.
        let mut t: Vec<_> = grey()
            .into_iter()
            .filter(|e| ![273, 278, 279].contains(&e.0))
            .collect();
        t.extend([
            (322, 3, vec![16]),
            (323, 3, vec![16]),
            (324, 4, vec![8 + 2 + 12 * 13 + 4 + 16]),
            (325, 4, vec![256]),
        ]);
        t.sort_by_key(|e| e.0);
        assert_eq!(codes(&build(&t, 256)), vec![]);
    }

    #[test]
    fn truncation_puts_the_strip_outside_the_file() {
        let f = build(&grey(), 128);
        assert_eq!(
            codes(&f[..f.len() - 10]),
            one("TIFF-DATA-OUTSIDE", NotWellFormed)
        );
        assert_eq!(codes(&f[..30]), one("TIFF-IFD-TRUNCATED", NotWellFormed));
        assert_eq!(codes(&f[..6]), one("TIFF-TRUNCATED", NotWellFormed));
    }

    #[test]
    fn a_flipped_header_offset_points_past_the_end() {
        let mut f = build(&grey(), 128);
        f[6] = 0x7F;
        assert_eq!(
            codes_of(&f),
            (one("TIFF-IFD-OFFSET", NotWellFormed), Some(0))
        );
        // Not dispatched here by the first bytes: the validator called directly.
        let direct = |f: &[u8]| {
            let mut out = Findings::default();
            let len = f.len() as u64;
            validate(&mut std::io::Cursor::new(f), len, &mut out).unwrap();
            out.finish()
                .into_iter()
                .map(|x| (x.code, x.severity))
                .collect::<Vec<_>>()
        };
        let mut f = build(&grey(), 128);
        f[2] = 43;
        assert_eq!(direct(&f), one("TIFF-BIGTIFF", Warning));
        f[2] = 41;
        assert_eq!(direct(&f), one("TIFF-MAGIC", NotWellFormed));
        f[0] = b'X';
        assert_eq!(direct(&f), one("TIFF-BYTE-ORDER", NotWellFormed));
        let mut f = build(&grey(), 128);
        f[4] = 0;
        assert_eq!(codes(&f), one("TIFF-NO-IFD", NotWellFormed));
    }

    #[test]
    fn a_looping_or_broken_ifd_chain_is_found() {
        let mut f = build(&grey(), 128);
        let next = 8 + 2 + 12 * 12;
        f[next] = 8;
        let (c, pages) = codes_of(&f);
        assert_eq!(c, one("TIFF-IFD-LOOP", NotWellFormed));
        assert_eq!(pages, Some(1));
        f[next..next + 4].copy_from_slice(&100_000u32.to_le_bytes());
        let (c, pages) = codes_of(&f);
        assert_eq!(c, one("TIFF-IFD-OFFSET", NotWellFormed));
        assert_eq!(pages, Some(1));
        // The next IFD inside the file but on its image data: entries of zeros? 0x80 bytes.
        let near_end = f.len() as u32 - 20;
        f[next..next + 4].copy_from_slice(&near_end.to_le_bytes());
        let c = codes(&f);
        assert!(c.iter().all(|x| x.1 == NotWellFormed), "{c:?}");
    }

    #[test]
    fn the_exif_ifd_is_followed() {
        let mut e = grey();
        e.push((34665, 4, vec![100_000]));
        assert_eq!(
            codes(&build(&e, 128)),
            one("TIFF-IFD-OFFSET", NotWellFormed)
        );
        let mut e = grey();
        e.push((34665, 4, vec![8]));
        assert_eq!(codes(&build(&e, 128)), one("TIFF-IFD-LOOP", NotWellFormed));
    }

    #[test]
    fn two_pages_are_counted() {
        // The same IFD content twice: the second IFD after the first's data.
        let f = build(&grey(), 128);
        let mut g = f.clone();
        let second = g.len() as u32;
        let ifd = &f[8..8 + 2 + 12 * 12 + 4];
        g.extend_from_slice(ifd);
        let next = 8 + 2 + 12 * 12;
        g[next..next + 4].copy_from_slice(&second.to_le_bytes());
        assert_eq!(codes_of(&g), (vec![], Some(2)));
    }

    #[test]
    fn tag_errors_are_graded_as_jhove_does() {
        let mut e = grey();
        e.swap(0, 1);
        assert_eq!(codes(&build(&e, 128)), one("TIFF-TAG-ORDER", NotWellFormed));
        let mut e = grey();
        e[2].2 = vec![8, 8];
        assert_eq!(codes(&build(&e, 128)), one("TIFF-TAG-COUNT", NotValid));
        let mut e = grey();
        e[3].1 = 4;
        assert_eq!(codes(&build(&e, 128)), one("TIFF-TAG-TYPE", NotValid));
        let mut e = grey();
        e[3].1 = 99;
        assert_eq!(codes(&build(&e, 128)), one("TIFF-TYPE-UNKNOWN", NotValid));
    }

    #[test]
    fn required_tags_compression_and_resolution() {
        let mut e = grey();
        set(&mut e, 259, vec![99]);
        assert_eq!(codes(&build(&e, 128)), one("TIFF-COMPRESSION", NotValid));
        let mut e = grey();
        set(&mut e, 262, vec![3]);
        assert_eq!(codes(&build(&e, 128)), one("TIFF-TAG-MISSING", NotValid));
        let e: Vec<_> = grey().into_iter().filter(|x| x.0 != 262).collect();
        assert_eq!(codes(&build(&e, 128)), one("TIFF-TAG-MISSING", NotValid));
        let e: Vec<_> = grey().into_iter().filter(|x| x.0 != 282).collect();
        assert_eq!(codes(&build(&e, 128)), one("TIFF-NO-RESOLUTION", Warning));
        let mut e = grey();
        set(&mut e, 262, vec![2]);
        assert_eq!(codes(&build(&e, 128)), one("TIFF-SAMPLES", NotValid));
    }

    #[test]
    fn strips_are_checked_against_the_header() {
        let mut e = grey();
        set(&mut e, 279, vec![100]);
        assert_eq!(
            codes(&build(&e, 128)),
            one("TIFF-DATA-SHORT", NotWellFormed)
        );
        // Compressed data may be shorter.
        set(&mut e, 259, vec![5]);
        assert_eq!(codes(&build(&e, 128)), vec![]);
        let mut e = grey();
        set(&mut e, 278, vec![4]);
        assert_eq!(codes(&build(&e, 128)), one("TIFF-STRIP-COUNT", NotValid));
        let mut e = grey();
        set(&mut e, 273, vec![1_000_000]);
        assert_eq!(
            codes(&build(&e, 128)),
            one("TIFF-DATA-OUTSIDE", NotWellFormed)
        );
    }

    #[test]
    fn subsampled_ycbcr_is_not_measured_as_full_size() {
        let mut e = grey();
        set(&mut e, 258, vec![8, 8, 8]);
        set(&mut e, 262, vec![6]);
        set(&mut e, 277, vec![3]);
        set(&mut e, 279, vec![256]);
        assert_eq!(codes(&build(&e, 256)), vec![]);
        set(&mut e, 262, vec![2]);
        assert_eq!(
            codes(&build(&e, 256)),
            one("TIFF-DATA-SHORT", NotWellFormed)
        );
    }

    #[test]
    fn an_odd_ifd_offset_is_not_valid() {
        let f = build(&grey(), 128);
        let mut g = b"II*\0\x09\0\0\0\0".to_vec();
        g.extend_from_slice(&f[8..]);
        // The strip offset moved by one byte with the IFD.
        let so = 9 + 2 + 12 * 5 + 8;
        let v = u32::from_le_bytes([g[so], g[so + 1], g[so + 2], g[so + 3]]) + 1;
        g[so..so + 4].copy_from_slice(&v.to_le_bytes());
        assert_eq!(codes(&g), one("TIFF-IFD-ODD-OFFSET", NotValid));
    }

    #[test]
    fn truncation_and_damage_never_panic() {
        let mut p = grey();
        set(&mut p, 262, vec![3]);
        p.push((320, 3, vec![0; 768]));
        p.sort_by_key(|e| e.0);
        super::super::damage_never_panics(&build(&p, 128));
        let f = build(&grey(), 128);
        let mut g = f.clone();
        let second = g.len() as u32;
        g.extend_from_slice(&f[8..8 + 2 + 12 * 12 + 4]);
        g[8 + 2 + 12 * 12..8 + 2 + 12 * 12 + 4].copy_from_slice(&second.to_le_bytes());
        super::super::damage_never_panics(&g);
    }

    #[test]
    #[ignore = "needs python3 with Pillow and tifffile; run by hand"]
    fn tiffs_written_by_pillow_and_tifffile_are_valid() {
        let script = r#"
import sys
from PIL import Image
d = sys.argv[1]
kinds = {
    "1": ["raw", "tiff_lzw", "tiff_deflate", "packbits", "group4", "group3"],
    "L": ["raw", "tiff_lzw", "tiff_deflate", "jpeg", "tiff_adobe_deflate"],
    "RGB": ["raw", "tiff_lzw", "tiff_deflate", "jpeg"],
    "P": ["raw", "tiff_lzw"],
    "CMYK": ["raw", "tiff_lzw"],
    "I;16": ["raw", "tiff_lzw"],
}
for m, cs in kinds.items():
    for c in cs:
        Image.new(m, (301, 203)).save(f"{d}/{m.replace(';', '')}-{c}.tif", compression=c, dpi=(300, 300))
a = Image.new("L", (50, 40))
a.save(f"{d}/multi.tif", save_all=True, append_images=[a, a], dpi=(300, 300))
import numpy as np, tifffile
b = (np.arange(300 * 200 * 3) % 251).astype("uint8").reshape(200, 300, 3)
res = dict(resolution=(300, 300), resolutionunit="INCH")
tifffile.imwrite(f"{d}/tf-be.tif", b, byteorder=">", photometric="rgb", **res)
tifffile.imwrite(f"{d}/tf-tiled.tif", b, tile=(64, 64), photometric="rgb", **res)
tifffile.imwrite(f"{d}/tf-planar.tif", b, photometric="rgb", planarconfig="separate", **res)
tifffile.imwrite(f"{d}/tf-u16.tif", b.astype("uint16"), photometric="rgb", compression="zlib", **res)
with tifffile.TiffWriter(f"{d}/tf-sub.tif") as t:
    t.write(b, photometric="rgb", subifds=1, **res)
    t.write(b[::2, ::2], photometric="rgb", subfiletype=1, **res)
"#;
        super::super::python_files_are_valid("tiff", script);
    }
}
