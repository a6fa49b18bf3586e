//! The Merkle tree of the event log on disk: `manifests/tlog/level-NN`, one file per
//! level of the tree, each the concatenation of 32-byte SHA-256 hashes. `level-00`
//! holds the leaf hashes (one per log line, in order); entry `i` of `level-LL` is the
//! hash of the complete subtree over leaves `i·2^L ..< (i+1)·2^L`. Only complete
//! subtrees are stored, so every file only ever grows at its end, and the right edge
//! of the tree (at most log2 n hashes) is folded when a root or proof is asked for.
//!
//! This is the hash content of C2SP tlog-tiles (a level-`8·k` file cut into 8 KiB
//! pieces is exactly the tiles of tile level `k`), kept in a few append-only files
//! instead of one file per 256 hashes; docs/auditing.md says why.
//!
//! The files are a cache: the log is the truth. Each append checks, in O(1) reads,
//! that the tree ends where the log ended (same size, same last leaf, every level the
//! right length) and otherwise rebuilds the whole tree from the log. A tree that was
//! not a prefix of the rebuilt one is kept aside as `tlog.replaced-TIME`, as evidence.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fs::durable::{parent_dir, sync_dir};
use crate::fs::events::Witness;
use crate::fs::log_lock::LogLock;
use crate::tlog::merkle::{leaf_hash, node_hash};
use crate::tlog::Hash;

pub use crate::fs::layout::{PENDING_FILE, REPLACED_PREFIX, TREE_DIR};

mod tree;

use tree::level_name;
pub use tree::TreeStore;

/// The tree folder of the log at `log`.
pub fn tree_dir(log: &Path) -> PathBuf {
    crate::fs::layout::tree_dir(log)
}

/// Calls `f` with each complete line of the log (without its newline), in order; a
/// last line without a newline (a torn write) is not a line.
pub fn for_each_line(log: &Path, mut f: impl FnMut(&[u8])) -> Result<(), Error> {
    let file = match File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("open", log, e)),
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read", log, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(());
        }
        f(&line[..line.len() - 1]);
    }
}

/// Builds the tree of the log at `log` in `dir`, replacing what is there. A tree that
/// was there and is not a prefix of the new one is moved aside as evidence.
pub fn rebuild(log: &Path, dir: &Path, _lock: &LogLock) -> Result<TreeStore, Error> {
    let parent = parent_dir(dir).to_path_buf();
    let tmp = parent.join(format!("{TREE_DIR}.new"));
    let old = parent.join(format!("{TREE_DIR}.old"));
    for leftover in [&tmp, &old] {
        if leftover.exists() {
            fs::remove_dir_all(leftover).map_err(|e| Error::io("remove", leftover, e))?;
        }
    }
    fs::create_dir(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let mut writers: Vec<BufWriter<File>> = Vec::new();
    let mut carry: Vec<Option<Hash>> = Vec::new();
    let mut failure: Option<Error> = None;
    let push = |level: usize, hash: &Hash, writers: &mut Vec<BufWriter<File>>| {
        if writers.len() == level {
            let path = tmp.join(level_name(level));
            match File::create(&path) {
                Ok(f) => writers.push(BufWriter::with_capacity(1 << 16, f)),
                Err(e) => return Err(Error::io("create", &path, e)),
            }
        }
        writers[level]
            .write_all(hash)
            .map_err(|e| Error::io("write", tmp.join(level_name(level)), e))
    };
    for_each_line(log, |line| {
        if failure.is_some() {
            return;
        }
        let mut hash = leaf_hash(line);
        let mut level = 0;
        loop {
            if let Err(e) = push(level, &hash, &mut writers) {
                failure = Some(e);
                return;
            }
            if carry.len() == level {
                carry.push(None);
            }
            match carry[level].take() {
                None => {
                    carry[level] = Some(hash);
                    break;
                }
                Some(left) => {
                    hash = node_hash(&left, &hash);
                    level += 1;
                }
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    for (level, w) in writers.into_iter().enumerate() {
        let path = tmp.join(level_name(level));
        let f = w
            .into_inner()
            .map_err(|e| Error::io("write", &path, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io("sync", &path, e))?;
    }
    sync_dir(&tmp)?;
    let fresh = TreeStore::open(&tmp)?.ok_or_else(|| Error::Corrupt {
        path: tmp.clone(),
        detail: "vanished while being built".into(),
    })?;
    // Keep the old tree as evidence unless it was a prefix of the new one (a tree left
    // behind by a crash between the log's write and the tree's).
    if dir.exists() {
        let prefix = match TreeStore::open(dir) {
            Ok(Some(s)) => {
                matches!(s.shape_problem(), Ok(None))
                    && s.size() <= fresh.size()
                    && s.root(s.size()).ok() == fresh.root(s.size()).ok()
            }
            _ => false,
        };
        let aside = if prefix {
            old.clone()
        } else {
            let at = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
            let evidence = parent.join(format!("{REPLACED_PREFIX}{at}"));
            // Evidence: reaches stderr whatever the verbosity (`--quiet` keeps errors).
            tracing::error!(
                kept = %evidence.display(),
                "the Merkle tree did not match the event log and was rebuilt; the old tree is kept as evidence (run `cairn audit`)"
            );
            evidence
        };
        fs::rename(dir, &aside).map_err(|e| Error::io("rename", dir, e))?;
        fs::rename(&tmp, dir).map_err(|e| Error::io("rename", &tmp, e))?;
        if prefix {
            fs::remove_dir_all(&old).map_err(|e| Error::io("remove", &old, e))?;
        }
    } else {
        fs::rename(&tmp, dir).map_err(|e| Error::io("rename", &tmp, e))?;
    }
    sync_dir(&parent)?;
    TreeStore::open(dir)?.ok_or_else(|| Error::Corrupt {
        path: dir.to_path_buf(),
        detail: "vanished after being built".into(),
    })
}

/// Whether `store` ends where the log ends: `last` is the log's last line (its seq
/// and bytes), `None` for an empty log.
fn agrees(store: &TreeStore, last: Option<(u64, &[u8])>) -> Result<bool, Error> {
    ends_at(store, last.map(|(seq, line)| (seq, leaf_hash(line))))
}

/// Whether `store` is whole and ends at the line `last` (seq, leaf hash; `None`: an
/// empty log).
fn ends_at(store: &TreeStore, last: Option<(u64, Hash)>) -> Result<bool, Error> {
    if store.shape_problem()?.is_some() {
        return Ok(false);
    }
    Ok(match last {
        None => store.size() == 0,
        Some((seq, leaf)) => store.size() == seq && seq > 0 && store.leaf(seq - 1)? == leaf,
    })
}

/// The tree of the log at `log`, checked against the log's last complete line
/// ([`check_covers`]: built when missing, finished after a crash between a log write
/// and its tree write, refused when the log has lines Cairn did not write or lacks
/// lines it wrote).
pub fn synced(log: &Path, lock: &LogLock) -> Result<TreeStore, Error> {
    let last = crate::fs::events::last_complete_line(log, &LogTree)?;
    check_covers(log, lock, last.as_ref().map(|(s, l)| (*s, l.as_slice())))?;
    TreeStore::open(&tree_dir(log))?.ok_or_else(|| Error::Corrupt {
        path: tree_dir(log),
        detail: "vanished after being checked".into(),
    })
}

fn pending_path(log: &Path) -> PathBuf {
    crate::fs::layout::pending_file(log)
}

/// Records that the log, now `from` bytes long, is about to end with line `seq` of leaf
/// hash `leaf`.
pub fn mark_pending(
    log: &Path,
    _lock: &LogLock,
    seq: u64,
    leaf: &Hash,
    from: u64,
) -> Result<(), Error> {
    let path = pending_path(log);
    let existed = path.exists();
    let text = format!("{seq} {} {from}\n", hex(leaf));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| Error::io("create", &path, e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| Error::io("write", &path, e))?;
    if !existed {
        sync_dir(parent_dir(&path))?;
    }
    Ok(())
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pending mark's line (seq, leaf hash in hex), when it is there and whole.
fn read_pending(log: &Path) -> Option<(u64, String)> {
    let text = fs::read_to_string(pending_path(log)).ok()?;
    let mut parts = text.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    Some((seq, parts.next()?.to_string()))
}

/// Where the log ended before the append the pending mark names began (its length
/// then), when the mark is there and whole.
pub fn pending_offset(log: &Path) -> Option<u64> {
    let text = fs::read_to_string(pending_path(log)).ok()?;
    text.split_whitespace().nth(2)?.parse().ok()
}

/// Whether Cairn's tree ends exactly at the line `last` (seq, leaf hash; `None`: an
/// empty log).
pub fn tree_ends_at(log: &Path, last: Option<(u64, Hash)>) -> Result<bool, Error> {
    match TreeStore::open_read_only(&tree_dir(log))? {
        Some(store) => ends_at(&store, last),
        None => Ok(false),
    }
}

/// Checks that Cairn's tree of the log ends where the log ends (`last`: the log's last
/// complete line, its seq and bytes): what every append, checkpoint and proof runs
/// first, under the log lock. A missing tree is built from the log (it is a cache); a
/// tree one append short of a log whose last line is the one the pending mark names (a
/// crash between writing the log and the tree) is finished. Any other disagreement is
/// refused (`Error::Refused`, exit 1): the log has lines Cairn did not write, or lacks
/// lines it wrote, and the tree is the record of which. Nothing is appended then.
pub fn check_covers(log: &Path, lock: &LogLock, last: Option<(u64, &[u8])>) -> Result<(), Error> {
    let dir = tree_dir(log);
    let Some(store) = TreeStore::open(&dir)? else {
        rebuild(log, &dir, lock)?;
        return Ok(());
    };
    if agrees(&store, last)? {
        return Ok(());
    }
    let finishing = match (read_pending(log), last) {
        (Some((seq, leaf)), Some((n, line))) => seq == n && leaf == hex(&leaf_hash(line)),
        _ => false,
    };
    if finishing {
        rebuild(log, &dir, lock)?;
        return Ok(());
    }
    Err(refusal(log, &disagreement(&store, log, last)?))
}

/// Refuses to write to the log at `log` because of `why` (a [`disagreement`]).
pub fn refusal(log: &Path, why: &str) -> Error {
    Error::Refused {
        path: log.to_path_buf(),
        reason: format!(
            "{why}. Nothing was appended. Run `cairn audit`, which names these lines; once you have checked them and accept the log as it is, move Cairn's tree aside as evidence (`mv manifests/tlog manifests/{REPLACED_PREFIX}$(date -u +%Y%m%dT%H%M%SZ)`) and the next command builds it again from the log"
        ),
    }
}

/// How the stored tree and the log disagree, in words, naming the lines: what
/// [`check_covers`] refuses with, and what `cairn audit` reports.
pub fn disagreement(
    store: &TreeStore,
    log: &Path,
    last: Option<(u64, &[u8])>,
) -> Result<String, Error> {
    if let Some(p) = store.shape_problem()? {
        return Ok(format!(
            "Cairn's Merkle tree of the event log ({TREE_DIR}/) is damaged: {p}"
        ));
    }
    let size = store.size();
    let n = last.map_or(0, |(s, _)| s);
    // The first line that is not the one Cairn appended there (a read of the log and
    // of the tree's leaves: only when they disagree).
    let mut first = None;
    let mut i = 0u64;
    let mut failure = None;
    for_each_line(log, |line| {
        if first.is_none() && failure.is_none() && i < size {
            match store.leaf(i) {
                Ok(leaf) if leaf == leaf_hash(line) => {}
                Ok(_) => first = Some(i + 1),
                Err(e) => failure = Some(e),
            }
        }
        i += 1;
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(match first {
        Some(k) => format!(
            "line {k} of the event log is not the line Cairn appended there: the log was changed outside Cairn from line {k} on (Cairn's Merkle tree records {size} lines, the log has {n})"
        ),
        None if n > size => format!(
            "lines {}..{n} of the event log were not written by Cairn: its Merkle tree records the {size} lines Cairn appended, the log has {n}",
            size + 1
        ),
        None => format!(
            "the event log ends at line {n}, but Cairn appended {size} lines: lines {}..{size} were removed",
            n + 1
        ),
    })
}

/// [`disagreement`] for a reader (`cairn audit`): `None` when the tree is missing (a
/// cache, built again by the next append), agrees with the log, or is one append short
/// of it after a crash the pending mark accounts for.
pub fn check_read_only(log: &Path) -> Result<Option<String>, Error> {
    let Some(store) = TreeStore::open_read_only(&tree_dir(log))? else {
        return Ok(None);
    };
    let last = crate::fs::events::last_complete_line(log, &LogTree)?;
    let last = last.as_ref().map(|(s, l)| (*s, l.as_slice()));
    if agrees(&store, last)? {
        return Ok(None);
    }
    if let (Some((seq, leaf)), Some((n, line))) = (read_pending(log), last) {
        if seq == n && leaf == hex(&leaf_hash(line)) {
            return Ok(None);
        }
    }
    disagreement(&store, log, last).map(Some)
}

/// The tree as the event log sees it ([`Witness`]): what `events::append` checks the
/// log against and marks its appends pending in.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogTree;

impl Witness for LogTree {
    fn check_covers(
        &self,
        log: &Path,
        lock: &LogLock,
        last: Option<(u64, &[u8])>,
    ) -> Result<(), Error> {
        check_covers(log, lock, last)
    }

    fn mark_pending(
        &self,
        log: &Path,
        lock: &LogLock,
        seq: u64,
        leaf: &Hash,
        from: u64,
    ) -> Result<(), Error> {
        mark_pending(log, lock, seq, leaf, from)
    }

    fn pending_offset(&self, log: &Path) -> Option<u64> {
        pending_offset(log)
    }

    fn ends_at(&self, log: &Path, last: Option<(u64, Hash)>) -> Result<bool, Error> {
        tree_ends_at(log, last)
    }
}

/// Records lines just appended to the log (called by `Archive::append_events` once
/// they are durable; [`check_covers`] ran before the log was written). `before` is the log's
/// last line before them, as (seq, leaf hash). A tree that does not end where the log
/// ended (changed between the check and now) is rebuilt from the log instead.
pub fn record_append(
    log: &Path,
    lock: &LogLock,
    before: Option<(u64, Hash)>,
    lines: &[&[u8]],
) -> Result<(), Error> {
    let dir = tree_dir(log);
    if let Some(mut store) = TreeStore::open(&dir)? {
        if ends_at(&store, before)? {
            let leaves: Vec<Hash> = lines.iter().map(|l| leaf_hash(l)).collect();
            return store.append(&leaves);
        }
    }
    rebuild(log, &dir, lock).map(|_| ())
}

/// The trees kept aside as evidence, oldest first.
pub fn replaced_trees(manifests: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(manifests) {
        Ok(e) => e,
        Err(e) => return Err(Error::io("read folder", manifests, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read folder", manifests, e))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(REPLACED_PREFIX))
        {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Finds line `seq` (1-based) of the log: a binary search on the byte offsets by the
/// `seq` each line carries (O(log n) reads), then, if the log is not in order, a
/// scan. Returns the line's bytes without the newline.
pub fn find_line(log: &Path, seq: u64) -> Result<Option<Vec<u8>>, Error> {
    let mut file = File::open(log).map_err(|e| Error::io("open", log, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", log, e))?
        .len();
    let seq_of = |line: &[u8]| -> Option<u64> {
        let rest = line.strip_prefix(b"{\"seq\":")?;
        let end = rest.iter().position(|b| !b.is_ascii_digit())?;
        std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
    };
    // The first complete line starting at or after `offset`: (start, bytes).
    let mut line_from = |offset: u64| -> Result<Option<(u64, Vec<u8>)>, Error> {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io("seek", log, e))?;
        let mut reader = BufReader::with_capacity(8192, &mut file);
        let mut start = offset;
        let mut buf = Vec::new();
        if offset > 0 {
            // Skip to the next line start (the byte before `offset` may be a newline:
            // then the line at `offset` is whole, and `offset - 1` is looked at).
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io("read", log, e))?;
            start += n as u64;
            buf.clear();
        }
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("read", log, e))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            return Ok(None);
        }
        buf.pop();
        Ok(Some((start, buf)))
    };
    // Invariant: the wanted line starts in [lo, hi), and lo is a line start.
    let (mut lo, mut hi) = (0u64, len);
    while hi - lo > 65536 {
        let mid = lo + (hi - lo) / 2;
        match line_from(mid - 1)? {
            Some((start, line)) if start < hi => match seq_of(&line) {
                Some(s) if s == seq => return Ok(Some(line)),
                Some(s) if s < seq => lo = start,
                Some(_) => hi = start,
                None => break,
            },
            _ => hi = mid,
        }
    }
    file.seek(SeekFrom::Start(lo))
        .map_err(|e| Error::io("seek", log, e))?;
    let mut reader = BufReader::with_capacity(65536, &mut file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("read", log, e))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        buf.pop();
        match seq_of(&buf) {
            Some(s) if s == seq => return Ok(Some(buf)),
            Some(s) if s > seq => break,
            _ => {}
        }
    }
    // Out of order (a damaged or hostile log): read it all.
    let mut found = None;
    let mut n = 0u64;
    for_each_line(log, |line| {
        n += 1;
        if found.is_none() && n == seq {
            found = Some(line.to_vec());
        }
    })?;
    Ok(found)
}

/// Writes a secret key file readable by its owner only; refuses to replace a file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => Error::io("create", path, e),
        })?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("write", path, e))?;
    sync_dir(parent_dir(path))
}

/// Reads a secret key file, refusing one that others may read (as ssh does).
pub fn read_private(path: &Path) -> Result<String, Error> {
    use std::os::unix::fs::PermissionsExt;
    let mut f = File::open(path).map_err(|e| Error::io("open key file", path, e))?;
    let mode = f
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        // A setting to fix before Cairn can run (exit 3), as ssh refuses such a key; not
        // a problem found in the archive's data.
        return Err(Error::Config {
            path: path.to_path_buf(),
            line: None,
            detail: format!(
                "the private key file is readable by others (mode {:o}); run `chmod 600` on it",
                mode & 0o777
            ),
        });
    }
    let mut s = String::new();
    f.read_to_string(&mut s)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(s)
}
