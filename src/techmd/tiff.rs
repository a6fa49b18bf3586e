//! TIFF (and the TIFF structure inside JPEG's EXIF segment): IFD entries only.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use super::{bad, exact, TechMd, MAX_ENTRIES, MAX_IFDS};

#[derive(Clone, Copy)]
struct Order(bool); // big-endian?

impl Order {
    fn u16(self, b: [u8; 2]) -> u16 {
        if self.0 {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }
    fn u32(self, b: [u8; 4]) -> u32 {
        if self.0 {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
}

/// One IFD entry.
struct Entry {
    tag: u16,
    typ: u16,
    count: u32,
    /// The 4 value bytes (the value itself, or its offset).
    raw: [u8; 4],
}

fn type_size(typ: u16) -> u64 {
    match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => 0,
    }
}

struct Ifd {
    entries: Vec<Entry>,
    next: u32,
}

fn read_ifd<R: Read + Seek>(r: &mut R, base: u64, off: u32, o: Order) -> std::io::Result<Ifd> {
    r.seek(SeekFrom::Start(base + off as u64))?;
    let n = o.u16(exact(r)?) as usize;
    if n == 0 || n > MAX_ENTRIES {
        return Err(bad(format!("an IFD with {n} entries")));
    }
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let b: [u8; 12] = exact(r)?;
        entries.push(Entry {
            tag: o.u16([b[0], b[1]]),
            typ: o.u16([b[2], b[3]]),
            count: o.u32([b[4], b[5], b[6], b[7]]),
            raw: [b[8], b[9], b[10], b[11]],
        });
    }
    let next = o.u32(exact(r)?);
    Ok(Ifd { entries, next })
}

/// Calls `f` with each of an entry's integer values (at most `cap`).
fn values<R: Read + Seek>(
    r: &mut R,
    base: u64,
    e: &Entry,
    o: Order,
    cap: usize,
    f: &mut dyn FnMut(u64),
) -> std::io::Result<()> {
    let size = type_size(e.typ);
    let n = (e.count as usize).min(cap);
    if size == 0 || size > 4 {
        return Ok(());
    }
    let total = size * e.count as u64;
    let one = |b: &[u8]| -> u64 {
        match size {
            1 => b[0] as u64,
            2 => o.u16([b[0], b[1]]) as u64,
            _ => o.u32([b[0], b[1], b[2], b[3]]) as u64,
        }
    };
    if total <= 4 {
        for i in 0..n {
            let s = i * size as usize;
            f(one(&e.raw[s..s + size as usize]));
        }
        return Ok(());
    }
    r.seek(SeekFrom::Start(base + o.u32(e.raw) as u64))?;
    let mut buf = vec![0u8; 4096 * size as usize];
    let mut left = n;
    while left > 0 {
        let k = left.min(4096);
        let bytes = &mut buf[..k * size as usize];
        r.read_exact(bytes)?;
        for c in bytes.chunks(size as usize) {
            f(one(c));
        }
        left -= k;
    }
    Ok(())
}

fn first<R: Read + Seek>(
    r: &mut R,
    base: u64,
    e: &Entry,
    o: Order,
) -> std::io::Result<Option<u64>> {
    let mut v = None;
    values(r, base, e, o, 1, &mut |x| {
        if v.is_none() {
            v = Some(x)
        }
    })?;
    Ok(v)
}

fn rational<R: Read + Seek>(
    r: &mut R,
    base: u64,
    e: &Entry,
    o: Order,
) -> std::io::Result<Option<f64>> {
    if e.typ != 5 || e.count == 0 {
        return Ok(None);
    }
    r.seek(SeekFrom::Start(base + o.u32(e.raw) as u64))?;
    let num = o.u32(exact(r)?);
    let den = o.u32(exact(r)?);
    Ok((den != 0).then(|| num as f64 / den as f64))
}

fn ascii<R: Read + Seek>(
    r: &mut R,
    base: u64,
    e: &Entry,
    o: Order,
) -> std::io::Result<Option<String>> {
    if e.typ != 2 || e.count == 0 || e.count > 1024 {
        return Ok(None);
    }
    let bytes = if e.count <= 4 {
        e.raw[..e.count as usize].to_vec()
    } else {
        r.seek(SeekFrom::Start(base + o.u32(e.raw) as u64))?;
        let mut b = vec![0u8; e.count as usize];
        r.read_exact(&mut b)?;
        b
    };
    let s = String::from_utf8_lossy(&bytes);
    let s = s.trim_end_matches('\0').trim();
    Ok((!s.is_empty()).then(|| s.to_string()))
}

fn compression_name(c: u64) -> String {
    match c {
        1 => "none".into(),
        2 => "CCITT modified Huffman RLE".into(),
        3 => "CCITT Group 3".into(),
        4 => "CCITT Group 4".into(),
        5 => "LZW".into(),
        6 => "JPEG (old-style)".into(),
        7 => "JPEG".into(),
        8 | 32946 => "Deflate".into(),
        32773 => "PackBits".into(),
        34712 => "JPEG 2000".into(),
        other => format!("{other}"),
    }
}

fn photometric_name(p: u64) -> String {
    match p {
        0 => "WhiteIsZero".into(),
        1 => "BlackIsZero".into(),
        2 => "RGB".into(),
        3 => "Palette".into(),
        4 => "TransparencyMask".into(),
        5 => "CMYK".into(),
        6 => "YCbCr".into(),
        8 => "CIELab".into(),
        9 => "ICCLab".into(),
        other => format!("{other}"),
    }
}

/// The TIFF header at the reader's `base`: byte order and first IFD.
fn header<R: Read + Seek>(r: &mut R, base: u64) -> std::io::Result<(Order, u32)> {
    r.seek(SeekFrom::Start(base))?;
    let h: [u8; 8] = exact(r)?;
    let o = match &h[..4] {
        b"II*\0" => Order(false),
        b"MM\0*" => Order(true),
        _ => return Err(bad("not a TIFF header")),
    };
    Ok((o, o.u32([h[4], h[5], h[6], h[7]])))
}

/// A TIFF file.
pub(super) fn read<R: Read + Seek>(r: &mut R, len: u64, t: &mut TechMd) -> std::io::Result<()> {
    let (o, first_ifd) = header(r, 0)?;
    let mut off = first_ifd;
    let mut seen = HashSet::new();
    let mut pages = 0u32;
    let mut data_end = 0u64;
    while off != 0 && pages < MAX_IFDS as u32 {
        if !seen.insert(off) {
            t.warnings.push("the IFD chain loops back on itself".into());
            break;
        }
        if off as u64 + 2 > len {
            t.warnings.push(format!(
                "truncated: IFD {} at byte {off} lies beyond the end of the file ({len} bytes)",
                pages + 1
            ));
            break;
        }
        let ifd = read_ifd(r, 0, off, o)?;
        pages += 1;
        // Where the image data ends: the strips' (or tiles') offsets and byte counts.
        let mut offsets = Vec::new();
        let mut counts = Vec::new();
        for e in &ifd.entries {
            match e.tag {
                273 | 324 => values(r, 0, e, o, 1 << 20, &mut |v| offsets.push(v))?,
                279 | 325 => values(r, 0, e, o, 1 << 20, &mut |v| counts.push(v))?,
                _ => {}
            }
        }
        for (a, b) in offsets.iter().zip(&counts) {
            data_end = data_end.max(a.saturating_add(*b));
        }
        drop((offsets, counts));
        if pages == 1 {
            ifd_fields(r, 0, &ifd, o, t)?;
        }
        off = ifd.next;
    }
    t.pages = Some(pages);
    if data_end > len {
        t.warnings.push(format!(
            "truncated: the image data runs to byte {data_end} but the file has {len} bytes"
        ));
    }
    Ok(())
}

fn ifd_fields<R: Read + Seek>(
    r: &mut R,
    base: u64,
    ifd: &Ifd,
    o: Order,
    t: &mut TechMd,
) -> std::io::Result<()> {
    let mut unit = 2;
    let mut has_res = false;
    for e in &ifd.entries {
        match e.tag {
            256 => t.width = first(r, base, e, o)?.map(|v| v as u32),
            257 => t.height = first(r, base, e, o)?.map(|v| v as u32),
            258 => {
                let mut v = Vec::new();
                values(r, base, e, o, 16, &mut |x| v.push(x as u16))?;
                t.bits_per_sample = v;
            }
            259 => t.compression = first(r, base, e, o)?.map(compression_name),
            262 => t.photometric = first(r, base, e, o)?.map(photometric_name),
            277 => t.components = first(r, base, e, o)?.map(|v| v as u16),
            282 => {
                t.x_resolution = rational(r, base, e, o)?;
                has_res = true;
            }
            283 => t.y_resolution = rational(r, base, e, o)?,
            296 => unit = first(r, base, e, o)?.unwrap_or(2),
            34675 => t.icc_profile = Some(true),
            271 => t.make = ascii(r, base, e, o)?,
            272 => t.model = ascii(r, base, e, o)?,
            306 if t.capture_date.is_none() => t.capture_date = ascii(r, base, e, o)?,
            34665 => {
                if let Some(sub) = first(r, base, e, o)? {
                    if let Ok(exif) = read_ifd(r, base, sub as u32, o) {
                        for x in &exif.entries {
                            if x.tag == 36867 {
                                if let Some(d) = ascii(r, base, x, o)? {
                                    t.capture_date = Some(d);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if t.components.is_none() && t.width.is_some() {
        t.components = Some(1);
    }
    if t.icc_profile.is_none() {
        t.icc_profile = Some(false);
    }
    if has_res {
        t.resolution_unit = Some(
            match unit {
                1 => "none",
                3 => "centimetre",
                _ => "inch",
            }
            .into(),
        );
    }
    Ok(())
}

/// The EXIF segment of a JPEG (`data` starts at its TIFF header): capture date and
/// device.
pub(super) fn read_exif(data: &[u8], t: &mut TechMd) -> std::io::Result<()> {
    let mut c = std::io::Cursor::new(data);
    let (o, off) = header(&mut c, 0)?;
    let ifd = read_ifd(&mut c, 0, off, o)?;
    let mut sub = TechMd::default();
    ifd_fields(&mut c, 0, &ifd, o, &mut sub)?;
    t.capture_date = sub.capture_date;
    t.make = sub.make;
    t.model = sub.model;
    Ok(())
}
