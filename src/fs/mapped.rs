//! Hashing a file that may be large: its first [`BUF_SIZE`] bytes read, the rest, when
//! there is more, hashed through a read-only memory map (as b3sum does), so that the
//! bytes are not copied out of the page cache first. On the reference machine (no
//! AVX-512) that copy cost as much as BLAKE3 itself (BENCHMARKS.md).
//!
//! **A file that shrinks while it is mapped.** Reading a mapped page that lies past the
//! end of a file truncated after it was mapped raises SIGBUS, which would kill the
//! process. Cairn installs a SIGBUS handler once (the first time a file is mapped): a
//! fault at an address inside a mapping registered here is answered by putting pages
//! of zeros over the rest of that mapping (the faulting instruction is retried and
//! reads zeros) and marking the mapping. After hashing, a marked mapping, or a file
//! whose size or modification time is not what it was when mapped, makes the hash an
//! error: "the file changed while it was being read", which validation reports as a
//! problem with that file (exit 1). The digest of such a file is never used. A SIGBUS
//! at any other address goes on to the handler that was installed before (Rust's own,
//! for stack overflows) or, if there was none, kills the process as it would have.
//!
//! Written here rather than taken from a crate: memmap2 maps the file (and is used),
//! but no well-kept crate guards a mapping against truncation.
//!
//! Mapping is skipped (the file is read instead) when no slot is free for another
//! mapping, when the handler cannot be installed, or when `mmap` fails.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::digest::{Algorithm, Digests, MultiHasher, BUF_SIZE};

/// How many files may be mapped at once (each pool thread maps one at a time); more
/// are read instead.
const SLOTS: usize = 64;

/// The mapped part is hashed in pieces of this size, so that progress moves.
const PIECE: usize = 16 << 20;

/// A registered mapping: addresses `[start, end)`; `start == 0` is a free slot.
struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    hit: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    hit: AtomicBool::new(false),
};
static MAPS: [Slot; SLOTS] = [FREE; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// The SIGBUS action that was in place before Cairn's.
struct Previous(libc::sigaction);
// SAFETY: a plain C struct of a handler address, flags and a signal mask, only read.
unsafe impl Sync for Previous {}
unsafe impl Send for Previous {}
static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// Installs the SIGBUS handler once; whether it is in place.
fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        // SAFETY: sysconf and sigaction with valid pointers; the handler only calls
        // async-signal-safe functions (mmap, sigaction) and reads atomics.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) != 0 {
                return false;
            }
            let _ = PREVIOUS.set(Previous(old));
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) == 0
        }
    })
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &MAPS {
        let start = slot.start.load(Ordering::Acquire);
        let end = slot.end.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr < end {
            let from = addr & !(page - 1);
            // SAFETY: the range lies inside a mapping this module made and still
            // holds (it is unregistered before it is unmapped); MAP_FIXED replaces
            // those pages with zeros.
            let p = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                slot.hit.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not a mapping of ours: what would have happened without this handler.
    if let Some(Previous(old)) = PREVIOUS.get() {
        let h = old.sa_sigaction;
        if h != libc::SIG_DFL && h != libc::SIG_IGN {
            // SAFETY: the previous handler, called as it was registered.
            unsafe {
                if old.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(h);
                    f(sig, info, ctx);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                    f(sig);
                }
            }
            return;
        }
    }
    // SAFETY: restoring the default action; returning retries the access, which then
    // kills the process with SIGBUS as it would have.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
    }
}

/// A registered mapping; unregistered when dropped.
struct Guard(&'static Slot);

impl Guard {
    fn register(start: usize, len: usize) -> Option<Guard> {
        for slot in &MAPS {
            if slot
                .end
                .compare_exchange(0, start + len, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                slot.hit.store(false, Ordering::Relaxed);
                slot.start.store(start, Ordering::Release);
                return Some(Guard(slot));
            }
        }
        None
    }

    fn hit(&self) -> bool {
        self.0.hit.load(Ordering::Acquire)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.start.store(0, Ordering::Release);
        self.0.end.store(0, Ordering::Release);
    }
}

fn changed(path: &Path, was: u64, now: Option<u64>) -> io::Error {
    let now = now.map_or_else(|| "unknown".to_string(), |n| n.to_string());
    io::Error::other(format!(
        "{}: the file changed while it was being read ({was} bytes when opened, {now} now); check it again when it is stable",
        path.display()
    ))
}

/// Hashes `file` (opened from `path`) with every algorithm in one pass: the first
/// [`BUF_SIZE`] bytes read into `buf`, the rest mapped when there is more (read when it
/// cannot be mapped). A file that changed while mapped gives an error.
pub fn hash_file(
    file: File,
    path: &Path,
    algorithms: &[Algorithm],
    buf: &mut [u8],
) -> io::Result<Digests> {
    // Tests: the file shrinks after it was mapped, before its pages are read.
    let truncate = crate::fs::failpoint::armed_is("hash-mapped-truncate");
    hash_mapped(file, path, algorithms, buf, truncate)
}

fn hash_mapped(
    mut file: File,
    path: &Path,
    algorithms: &[Algorithm],
    buf: &mut [u8],
    truncate: bool,
) -> io::Result<Digests> {
    let mut hasher = MultiHasher::new(algorithms);
    let mut filled = 0;
    let mut eof = false;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    hasher.update(&buf[..filled]);
    crate::progress::add_bytes(filled as u64);
    if eof {
        // The whole file was read (a small file: two reads, as before).
        return Ok(hasher.finish());
    }
    if buf.len() < BUF_SIZE {
        // A caller's small buffer: read on.
        return read_rest(file, hasher, buf);
    }
    let before = file.metadata()?;
    let size = before.len();
    let offset = filled as u64;
    if size <= offset || !install() {
        return read_rest(file, hasher, buf);
    }
    let len = (size - offset) as usize;
    // SAFETY: a read-only private mapping of a file this process does not write; a
    // truncation by another process while mapped is caught by the SIGBUS guard
    // (registered before any page is touched), and the result is then discarded.
    let map = match unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map(&file)
    } {
        Ok(m) => m,
        Err(_) => return read_rest(file, hasher, buf),
    };
    let Some(guard) = Guard::register(map.as_ptr() as usize, len) else {
        drop(map);
        return read_rest(file, hasher, buf);
    };
    let _ = map.advise(memmap2::Advice::Sequential);
    if truncate {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(offset + len as u64 / 2)?;
    }
    for (i, piece) in map.chunks(PIECE).enumerate() {
        hasher.update(piece);
        crate::progress::add_bytes(piece.len() as u64);
        // The piece's pages are let go (they stay in the page cache): resident memory
        // stays about a piece per file being hashed, not the file's size.
        // SAFETY: a read-only private mapping never written: dropping its pages loses
        // nothing, a later read would fault them in from the file again.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, i * PIECE, piece.len())
        };
    }
    let hit = guard.hit();
    drop(guard);
    drop(map);
    let after = file.metadata();
    let same = after
        .as_ref()
        .is_ok_and(|a| a.len() == size && a.modified().ok() == before.modified().ok());
    if hit || !same {
        return Err(changed(path, size, after.ok().map(|a| a.len())));
    }
    Ok(hasher.finish())
}

fn read_rest(mut file: File, mut hasher: MultiHasher, buf: &mut [u8]) -> io::Result<Digests> {
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        crate::progress::add_bytes(n as u64);
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::hash_reader;

    fn digests_of(bytes: &[u8]) -> Digests {
        let mut buf = vec![0u8; BUF_SIZE];
        hash_reader(bytes, &[Algorithm::Blake3, Algorithm::Sha256], &mut buf).unwrap()
    }

    #[test]
    fn mapped_and_read_digests_agree_around_the_buffer_size() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            BUF_SIZE - 1,
            BUF_SIZE,
            BUF_SIZE + 1,
            BUF_SIZE + 4096,
            3 * BUF_SIZE + 17,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let mut buf = vec![0u8; BUF_SIZE];
            let got = hash_file(
                File::open(&path).unwrap(),
                &path,
                &[Algorithm::Blake3, Algorithm::Sha256],
                &mut buf,
            )
            .unwrap();
            assert_eq!(got, digests_of(&bytes), "length {len}");
        }
    }

    #[test]
    fn a_file_truncated_while_mapped_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let bytes = vec![7u8; 4 * BUF_SIZE];
        std::fs::write(&path, &bytes).unwrap();
        let mut buf = vec![0u8; BUF_SIZE];
        let err = hash_mapped(
            File::open(&path).unwrap(),
            &path,
            &[Algorithm::Blake3],
            &mut buf,
            true,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("changed while it was being read"),
            "{err}"
        );
        // The guard is released: the next file maps and hashes normally.
        std::fs::write(&path, &bytes).unwrap();
        let got = hash_file(
            File::open(&path).unwrap(),
            &path,
            &[Algorithm::Blake3],
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            got.get(Algorithm::Blake3),
            digests_of(&bytes).get(Algorithm::Blake3)
        );
    }
}
