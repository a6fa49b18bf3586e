//! Payload files, served (with `--serve-files`) only through the register: the URL
//! names an item and the index of a file in its register entry, never a path, so no
//! part of a URL ever reaches the filesystem. The path the entry records is checked
//! (relative, under data/, no `..`), resolved with symlinks refused at every step, and
//! opened with `O_NOFOLLOW`; a file whose size differs from the register's is not
//! served. Byte ranges (RFC 9110 §14) are answered for one range; several ranges get
//! the whole file, as the RFC allows.

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Opens a file for reading, refusing a symlink as its last component.
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The file a register path names inside its bag, if it is a plain file reached
/// without any symlink (the bag folder itself included): `None` for anything else.
pub fn resolve_in_bag(bag_dir: &Path, bag_path: &str) -> Option<PathBuf> {
    if crate::fs::dir::bag_folder_refusal(bag_dir).is_some() {
        return None;
    }
    let rel = Path::new(bag_path);
    let mut parts = rel.components();
    if parts.next() != Some(Component::Normal("data".as_ref())) {
        return None;
    }
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut at = bag_dir.to_path_buf();
    for c in rel.components() {
        at.push(c);
        let meta = std::fs::symlink_metadata(&at).ok()?;
        if meta.file_type().is_symlink() {
            return None;
        }
    }
    Some(at)
}

/// One byte range, inclusive, within a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No Range header, or one that is ignored (several ranges, another unit,
    /// unparsable): the whole file, 200.
    Whole,
    /// 206 with these bytes.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Reads a Range header value against a file's length.
pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(h) = header else {
        return Range::Whole;
    };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 20 && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if len > 0 => Range::Part(len.saturating_sub(n), len - 1),
            Some(_) => Range::Unsatisfiable,
            None => Range::Whole,
        },
        (first, "") => match num(first) {
            Some(f) if f < len => Range::Part(f, len - 1),
            Some(_) => Range::Unsatisfiable,
            None => Range::Whole,
        },
        (first, last) => match (num(first), num(last)) {
            (Some(f), Some(l)) if f <= l && f < len => Range::Part(f, l.min(len - 1)),
            (Some(f), Some(l)) if f <= l => Range::Unsatisfiable,
            _ => Range::Whole,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Range::Part(0, 3));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Range::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-4"), 10), Range::Part(6, 9));
        assert_eq!(parse_range(Some("bytes=-40"), 10), Range::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Range::Part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=10-12"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=3-1"), 10), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Range::Whole);
        assert_eq!(
            parse_range(Some("bytes=99999999999999999999999-"), 10),
            Range::Whole
        );
    }

    #[test]
    fn register_paths_stay_in_the_bag() {
        let dir = std::env::temp_dir().join(format!("cairn-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data/sub")).unwrap();
        std::fs::write(dir.join("data/sub/a.txt"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("data/link")).unwrap();
        assert!(resolve_in_bag(&dir, "data/sub/a.txt").is_some());
        for bad in [
            "data/../bagit.txt",
            "/etc/passwd",
            "bagit.txt",
            "data/link/passwd",
            "data/link",
            "data/missing",
        ] {
            assert_eq!(resolve_in_bag(&dir, bad), None, "{bad}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
