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

mod image;

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
mod tests;
