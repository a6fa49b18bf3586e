//! A bag serialized as a zip file, read as a [`BagSource`] without extracting it.
//!
//! Nothing in a zip is trusted. When it is opened, every entry of the central directory
//! is checked before any byte is read: names that escape (`..`, absolute, drive letters,
//! `\`-separated escapes), symlinks, duplicates, names that collide after case folding
//! or Unicode normalisation, non-ASCII names without the UTF-8 flag, encryption,
//! unsupported compression, and declared sizes and ratios past the limits. Entries that
//! fail are reported and left out of the listing, so they are never read. Entries are
//! then read as streams through a counter that refuses any entry inflating past its
//! declared size (a header that lies) or past the limits, and the zip reader checks each
//! entry's CRC-32. Memory stays bounded whatever the entry size. See docs/zip.md.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use unicode_normalization::UnicodeNormalization;
use zip::{CompressionMethod, ZipArchive};

use crate::bagit::finding::{Finding, FindingKind, SourceProblem};
use crate::bagit::path::BagPath;
use crate::bagit::source::{listed_dir, BagSource, EntryReader, EntryType, SourceEntry};
use crate::digest::{Algorithm, Digests};
use crate::error::Error;

/// The general-purpose flag bit that says an entry's name is UTF-8 (APPNOTE 4.4.4).
const UTF8_FLAG: u16 = 0x0800;
/// Ratios are only judged for entries at least this large: small text compresses well.
const RATIO_FLOOR: u64 = 1 << 20;

/// The limits live in the configuration ([`crate::config::ZipLimits`]); named here too,
/// where they are enforced.
pub use crate::config::ZipLimits;

struct Entry {
    index: usize,
    size: u64,
    compressed: u64,
}

/// An opened zip file holding one bag in one top-level folder.
pub struct ZipSource {
    path: PathBuf,
    archive: Mutex<ZipArchive<BufReader<File>>>,
    /// Bag-relative path → entry.
    entries: HashMap<String, Entry>,
    names: Vec<String>,
    dirs: BTreeSet<String>,
    /// The top-level folder: the bag's name.
    top: String,
    problems: Vec<Finding>,
    fatal: bool,
    limits: ZipLimits,
    /// Bytes inflated so far, all entries together.
    inflated: AtomicU64,
}

/// An entry whose header passed [`check_entry`]: its name without the trailing `/`.
struct Listed {
    name: String,
    index: usize,
    size: u64,
    compressed: u64,
    dir: bool,
}

/// The names the central directory holds more than once, which the zip reader
/// collapses into one entry (read from the raw directory, when it could be).
fn raw_duplicates(raw_names: Option<&[Vec<u8>]>) -> BTreeSet<String> {
    let mut dupes: BTreeSet<String> = BTreeSet::new();
    if let Some(names) = raw_names {
        let mut once: BTreeSet<&[u8]> = BTreeSet::new();
        for n in names {
            if !once.insert(n) {
                dupes.insert(String::from_utf8_lossy(n).into_owned());
            }
        }
    }
    dupes
}

/// One entry's header, its checks in order: a name that can be known (UTF-8), that
/// stays inside the bag, not a symlink, not encrypted, a supported compression, a
/// declared size and ratio within the limits. The first that fails is the problem.
fn check_entry<R: Read + ?Sized>(
    f: &zip::read::ZipFile<'_, R>,
    index: usize,
    limits: &ZipLimits,
) -> Result<Listed, Finding> {
    let raw = f.name_raw().to_vec();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let flagged = f.flags().as_u16() & UTF8_FLAG != 0;
    // A name that is valid UTF-8 is taken as UTF-8, flag or not: Info-ZIP on
    // Unix writes UTF-8 names without the flag or a Unicode Path field, and a
    // CP437 name that happens to be valid multi-byte UTF-8 is vanishingly rare.
    // Anything else has an encoding that cannot be known.
    let name = match std::str::from_utf8(&raw) {
        Ok(n) => n.to_string(),
        Err(_) => {
            return Err(Finding::new(
                shown,
                FindingKind::ZipNameNotUtf8,
                if flagged {
                    "the entry is flagged UTF-8 but its name is not valid UTF-8"
                } else {
                    "the name is not UTF-8 and has no UTF-8 flag: its encoding (CP437?) cannot be known, so it cannot be recorded exactly"
                },
            ));
        }
    };
    let dir = name.ends_with('/');
    let trimmed = name.trim_end_matches('/');
    if let Err(p) = BagPath::parse(trimmed) {
        let kind = if p.escapes() {
            FindingKind::ZipPathEscapes
        } else {
            FindingKind::ZipLayout
        };
        return Err(Finding::new(
            name.as_str(),
            kind,
            format!("{p}; the entry is not read (zip slip)"),
        ));
    }
    if f.is_symlink() {
        return Err(Finding::new(
            name.as_str(),
            FindingKind::ZipSymlink,
            "a symbolic link entry; links are never extracted or followed",
        ));
    }
    if f.encrypted() {
        return Err(Finding::new(
            name.as_str(),
            FindingKind::ZipEncrypted,
            "the entry is encrypted; Cairn accepts only unencrypted bags",
        ));
    }
    if !dir
        && !matches!(
            f.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated | CompressionMethod::Deflate64
        )
    {
        return Err(Finding::new(
            name.as_str(),
            FindingKind::ZipUnsupported,
            format!(
                "compression method {} is not supported (only stored, deflate, deflate64)",
                f.compression()
            ),
        ));
    }
    let (size, compressed) = (f.size(), f.compressed_size());
    if size > limits.max_entry_size {
        return Err(Finding::new(
            name.as_str(),
            FindingKind::ZipBomb,
            format!("declares {size} bytes uncompressed, more than the limit of {} (zip.max_entry_size)", limits.max_entry_size),
        ));
    }
    if size >= RATIO_FLOOR && size / compressed.max(1) > limits.max_ratio {
        return Err(Finding::new(
            name.as_str(),
            FindingKind::ZipBomb,
            format!(
                "{compressed} bytes inflate to {size}: a ratio of {}, more than the limit of {} (zip.max_ratio)",
                size / compressed.max(1),
                limits.max_ratio
            ),
        ));
    }
    Ok(Listed {
        name: trimmed.to_string(),
        index,
        size,
        compressed,
        dir,
    })
}

/// The names the raw directory holds twice: a problem each, and every entry of that
/// name left out.
fn drop_duplicates(dupes: &BTreeSet<String>, seen: &mut Vec<Listed>, problems: &mut Vec<Finding>) {
    for d in dupes {
        problems.push(Finding::new(
            d.as_str(),
            FindingKind::ZipDuplicateEntry,
            "the zip holds two entries with this name; which one is meant cannot be known (tools disagree)",
        ));
        let trimmed = d.trim_end_matches('/');
        seen.retain(|s| s.name != trimmed);
    }
}

/// Duplicates the reader kept, and names that would collide on a case-insensitive or
/// normalising filesystem when extracted: the entries left out, by position.
fn collisions(seen: &[Listed], problems: &mut Vec<Finding>) -> BTreeSet<usize> {
    let mut exact: HashMap<&str, usize> = HashMap::new();
    let mut folded: HashMap<String, &str> = HashMap::new();
    let mut bad: BTreeSet<usize> = BTreeSet::new();
    for (i, s) in seen.iter().enumerate() {
        if let Some(&first) = exact.get(s.name.as_str()) {
            if !(s.dir && seen[first].dir) {
                problems.push(Finding::new(
                    s.name.as_str(),
                    FindingKind::ZipDuplicateEntry,
                    "the zip holds two entries with this name; which one is meant cannot be known",
                ));
                bad.insert(i);
                bad.insert(first);
            }
            continue;
        }
        exact.insert(&s.name, i);
        let key: String = s.name.nfc().collect::<String>().to_lowercase();
        if let Some(other) = folded.get(&key) {
            if !s.dir {
                problems.push(Finding::new(
                    s.name.as_str(),
                    FindingKind::ZipNameCollision,
                    format!("collides with {} after case folding or Unicode normalisation; extracting both would overwrite one", crate::quoted(other)),
                ));
                bad.insert(i);
            }
            continue;
        }
        folded.insert(key, &s.name);
    }
    bad
}

/// The one top-level folder, the bag (RFC 8493 §4.3); `None` (with a problem) when
/// the usable entries have none or several.
fn bag_folder(
    seen: &[Listed],
    bad: &BTreeSet<usize>,
    problems: &mut Vec<Finding>,
) -> Option<String> {
    let tops: BTreeSet<&str> = seen
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad.contains(i))
        .map(|(_, s)| s.name.split('/').next().unwrap_or(""))
        .collect();
    match tops.len() {
        1 => Some(tops.into_iter().next().unwrap_or_default().to_string()),
        0 => {
            problems.push(Finding::new(
                "",
                FindingKind::ZipLayout,
                "the zip holds no usable entries",
            ));
            None
        }
        _ => {
            problems.push(Finding::new(
                "",
                FindingKind::ZipLayout,
                format!(
                    "a serialized bag is one top-level folder (RFC 8493 §4.3); this zip has {}: {}",
                    tops.len(),
                    tops.iter()
                        .take(5)
                        .map(|t| crate::quoted(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
    }
}

/// Whether `path` looks like a zip file (by its first bytes).
pub fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
}

impl ZipSource {
    /// Opens and checks a zip. A file that is not a readable zip at all (truncated,
    /// corrupt central directory) is an error naming the file; hostile entries are
    /// problems, reported by [`BagSource::problems`].
    pub fn open(path: &Path, limits: ZipLimits) -> Result<ZipSource, Error> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let archive = match ZipArchive::new(BufReader::new(file)) {
            Ok(a) => a,
            Err(e) => {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!(
                    "not a readable zip file ({e}): truncated, or its central directory is damaged"
                ),
                })
            }
        };
        let mut src = ZipSource {
            path: path.to_path_buf(),
            archive: Mutex::new(archive),
            entries: HashMap::new(),
            names: Vec::new(),
            dirs: BTreeSet::new(),
            top: String::new(),
            problems: Vec::new(),
            fatal: false,
            limits,
            inflated: AtomicU64::new(0),
        };
        src.scan()?;
        Ok(src)
    }

    /// The bag's name (the zip's top-level folder).
    pub fn bag_name(&self) -> &str {
        &self.top
    }

    fn problem(&mut self, entry: &str, kind: FindingKind, detail: impl Into<String>) {
        self.problems.push(Finding::new(entry, kind, detail));
    }

    /// Checks the central directory before any byte is read, in stages (docs/zip.md):
    /// the entry count against the limit ([`raw_duplicates`] counts what the reader
    /// collapses), each entry's header ([`check_entry`]), duplicate names and the
    /// declared total ([`drop_duplicates`]), names that collide when extracted
    /// ([`collisions`]), the one top-level folder ([`bag_folder`]), then the listing
    /// of what is left ([`ZipSource::list`]). Every problem is kept, in that order.
    fn scan(&mut self) -> Result<(), Error> {
        let raw_names = central_directory_names(&self.path);
        let dupes = raw_duplicates(raw_names.as_deref());
        let mut archive = self.archive.lock().map_err(|_| poisoned(&self.path))?;
        let count = raw_names
            .as_ref()
            .map(|n| n.len())
            .unwrap_or(0)
            .max(archive.len());
        if count as u64 > self.limits.max_entries {
            drop(archive);
            self.problem(
                "",
                FindingKind::ZipBomb,
                format!(
                    "{count} entries, more than the limit of {} (zip.max_entries)",
                    self.limits.max_entries
                ),
            );
            self.fatal = true;
            return Ok(());
        }
        let mut seen: Vec<Listed> = Vec::with_capacity(count);
        let mut problems: Vec<Finding> = Vec::new();
        let mut total: u64 = 0;
        // The reader's own entries (duplicates collapsed: they were counted above).
        for index in 0..archive.len() {
            let checked = match archive.by_index_raw(index) {
                Ok(f) => check_entry(&f, index, &self.limits),
                Err(e) => Err(Finding::new(
                    format!("entry #{index}"),
                    FindingKind::ZipCorrupt,
                    format!("cannot read the entry's header: {e}"),
                )),
            };
            match checked {
                Ok(s) => {
                    total = total.saturating_add(s.size);
                    seen.push(s);
                }
                Err(p) => problems.push(p),
            }
        }
        drop(archive);
        drop_duplicates(&dupes, &mut seen, &mut problems);
        if total > self.limits.max_total_size {
            problems.push(Finding::new(
                "",
                FindingKind::ZipBomb,
                format!("the entries declare {total} bytes in all, more than the limit of {} (zip.max_total_size)", self.limits.max_total_size),
            ));
            self.fatal = true;
        }
        let bad = collisions(&seen, &mut problems);
        let top = match bag_folder(&seen, &bad, &mut problems) {
            Some(top) => top,
            None => {
                self.fatal = true;
                String::new()
            }
        };
        if !self.fatal {
            self.list(seen, &bad, &top, &mut problems);
        }
        self.names.sort();
        self.top = top;
        self.problems.extend(problems);
        Ok(())
    }

    /// The last stage of [`ZipSource::scan`]: the entries that passed, inside the bag
    /// folder, listed by their bag-relative paths; anything else at the top level is a
    /// problem.
    fn list(
        &mut self,
        seen: Vec<Listed>,
        bad: &BTreeSet<usize>,
        top: &str,
        problems: &mut Vec<Finding>,
    ) {
        let prefix = format!("{top}/");
        for (i, s) in seen.into_iter().enumerate() {
            if bad.contains(&i) {
                continue;
            }
            let Some(rel) = s.name.strip_prefix(&prefix) else {
                if s.name != top || !s.dir {
                    problems.push(Finding::new(
                        s.name.as_str(),
                        FindingKind::ZipLayout,
                        format!(
                            "a file at the top level, outside the bag folder {}",
                            crate::quoted(top)
                        ),
                    ));
                }
                continue;
            };
            if s.dir {
                self.dirs.insert(rel.to_string());
            } else {
                self.names.push(rel.to_string());
                self.entries.insert(
                    rel.to_string(),
                    Entry {
                        index: s.index,
                        size: s.size,
                        compressed: s.compressed,
                    },
                );
            }
        }
    }
}

fn poisoned(path: &Path) -> Error {
    Error::io(
        "read",
        path,
        io::Error::other("zip reader poisoned by an earlier panic"),
    )
}

impl EntryReader for ZipSource {
    /// Streams one entry through `f`, counting what it inflates to.
    fn with_entry<T>(
        &self,
        rel: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> io::Result<T> {
        let entry = self
            .entries
            .get(rel)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such entry"))?;
        let mut archive = self
            .archive
            .lock()
            .map_err(|_| io::Error::other("zip reader poisoned"))?;
        let file = archive
            .by_index(entry.index)
            .map_err(|e| zip_error(rel, e))?;
        let mut counted = Counted {
            inner: file,
            rel,
            declared: entry.size,
            compressed: entry.compressed,
            read: 0,
            source: self,
        };
        f(&mut counted)
    }
}

fn zip_error(rel: &str, e: zip::result::ZipError) -> io::Error {
    SourceProblem::into_io(
        FindingKind::ZipCorrupt,
        format!("the entry for {rel} cannot be read: {e}"),
    )
}

/// The raw names in a zip's central directory, in order, duplicates included. The zip
/// reader keeps one entry per name, so a duplicate (the classic way to make two tools
/// see two different files) is only visible here. Reads only the end of the file and
/// the central directory; `None` when they cannot be found (the reader reports that).
fn central_directory_names(path: &Path) -> Option<Vec<Vec<u8>>> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
    let tail_len = len.min(65_557);
    f.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail).ok()?;
    let eocd = tail.windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let rec = tail.get(eocd..eocd + 22)?;
    let le16 = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64;
    let le64 = |b: &[u8], o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(a)
    };
    let (mut count, mut size, mut offset) = (le16(rec, 10), le32(rec, 12), le32(rec, 16));
    if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        // Zip64: the locator sits just before the EOCD and points at the Zip64 record.
        let loc = eocd.checked_sub(20)?;
        let locator = tail.get(loc..loc + 20)?;
        if &locator[..4] != b"PK\x06\x07" {
            return None;
        }
        let z64 = le64(locator, 8);
        f.seek(SeekFrom::Start(z64)).ok()?;
        let mut r = [0u8; 56];
        f.read_exact(&mut r).ok()?;
        if &r[..4] != b"PK\x06\x06" {
            return None;
        }
        count = le64(&r, 32);
        size = le64(&r, 40);
        offset = le64(&r, 48);
    }
    if offset.checked_add(size)? > len || size > 1 << 32 {
        return None;
    }
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut cd = vec![0u8; size as usize];
    f.read_exact(&mut cd).ok()?;
    let mut names = Vec::new();
    let mut p = 0usize;
    while p + 46 <= cd.len() && &cd[p..p + 4] == b"PK\x01\x02" {
        let (n, x, c) = (
            le16(&cd, p + 28) as usize,
            le16(&cd, p + 30) as usize,
            le16(&cd, p + 32) as usize,
        );
        names.push(cd.get(p + 46..p + 46 + n)?.to_vec());
        p += 46 + n + x + c;
    }
    (names.len() as u64 == count).then_some(names)
}

/// Counts inflated bytes: refuses more than the header declared (a lying header) or
/// more than the limits, and turns the zip reader's CRC failure into its own kind.
struct Counted<'a, R: Read> {
    inner: R,
    rel: &'a str,
    declared: u64,
    compressed: u64,
    read: u64,
    source: &'a ZipSource,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let entry = Some(format!("{}/{}", self.source.top, self.rel));
        let n = self.inner.read(buf).map_err(|e| {
            let text = e.to_string();
            let lower = text.to_ascii_lowercase();
            if lower.contains("checksum") || lower.contains("crc") {
                SourceProblem::at(entry.clone(), FindingKind::ZipCrcMismatch, format!("the entry's CRC-32 does not match its content: damaged in the zip ({text})"))
            } else if lower.contains("larger than its declared") {
                SourceProblem::at(
                    entry.clone(),
                    FindingKind::ZipBomb,
                    format!("inflates past the {} bytes its header declares: the header lies, so the entry is refused", self.declared),
                )
            } else {
                SourceProblem::at(entry.clone(), FindingKind::ZipCorrupt, format!("the entry cannot be inflated: {text}"))
            }
        })?;
        self.read += n as u64;
        let limits = &self.source.limits;
        let total = self.source.inflated.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let bomb = |detail: String| {
            Err(SourceProblem::at(
                entry.clone(),
                FindingKind::ZipBomb,
                detail,
            ))
        };
        if self.read > self.declared {
            return bomb(format!(
                "inflates past the {} bytes its header declares: the header lies, so the entry is refused",
                self.declared
            ));
        }
        if self.read > limits.max_entry_size || total > limits.max_total_size {
            return bomb(format!("inflates past the limits (zip.max_entry_size, zip.max_total_size) while reading {}", self.rel));
        }
        if self.read >= RATIO_FLOOR && self.read / self.compressed.max(1) > limits.max_ratio {
            return bomb(format!(
                "inflates {} bytes from {}: past the ratio limit {} (zip.max_ratio)",
                self.read, self.compressed, limits.max_ratio
            ));
        }
        Ok(n)
    }
}

impl BagSource for ZipSource {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn list(&self) -> Result<Vec<SourceEntry>, Error> {
        Ok(self
            .names
            .iter()
            .map(|n| SourceEntry {
                path: n.clone(),
                utf8: true,
                kind: EntryType::File,
                size: self.entries.get(n).map(|e| e.size).unwrap_or(0),
            })
            .collect())
    }

    fn is_dir(&self, rel: &str) -> bool {
        listed_dir(&self.dirs, &self.names, rel)
    }

    fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        self.read_entry(rel)
    }

    fn hash(&self, rel: &str, algorithms: &[Algorithm], buf: &mut [u8]) -> io::Result<Digests> {
        self.hash_entry(rel, algorithms, buf)
    }

    fn copy_to(
        &self,
        rel: &str,
        out: &mut dyn Write,
        algorithms: &[Algorithm],
        buf: &mut [u8],
    ) -> io::Result<Digests> {
        self.copy_entry(rel, out, algorithms, buf)
    }

    /// One reader over one file: entries are read one after another.
    fn parallel(&self) -> bool {
        false
    }

    fn problems(&self) -> Vec<Finding> {
        self.problems.clone()
    }

    fn fatal(&self) -> bool {
        self.fatal
    }

    fn top_folder(&self) -> Option<String> {
        (!self.top.is_empty()).then(|| self.top.clone())
    }
}

impl ZipSource {
    /// Empty folders the zip holds (bag-relative).
    pub fn dirs(&self) -> impl Iterator<Item = &str> {
        self.dirs.iter().map(String::as_str)
    }
}
