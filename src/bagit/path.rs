//! Bag-relative paths and their manifest encoding.
//!
//! Pure: no filesystem. A [`BagPath`] can only be built through [`BagPath::parse`], so
//! holding one means the path stays inside the bag whatever the manifest said.
//!
//! RFC 8493 §2.1.3: in a 1.0 manifest or fetch file, CR, LF and `%` in a path are
//! written `%0D`, `%0A`, `%25`, and only those. Older versions never encoded anything.
//! See docs/percent-encoding.md.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

/// A validated, bag-relative, `/`-separated path: no empty, `.` or `..` segment, not
/// absolute, no home-directory or drive-letter prefix, no NUL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BagPath(String);

/// Why a path from a manifest or fetch file cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("the path is empty")]
    Empty,
    #[error("absolute paths escape the bag")]
    Absolute,
    #[error("`~` home-directory paths escape the bag")]
    HomeDirectory,
    #[error("drive letters and Windows namespace paths escape the bag")]
    WindowsRoot,
    #[error("`..` segments escape the bag")]
    ParentSegment,
    #[error("empty or `.` segments are not allowed in a bag path")]
    NonCanonical,
    #[error("NUL bytes cannot appear in a file name")]
    Nul,
    #[error("a path cannot begin with a space or tab: a manifest line could not tell it from the separator")]
    LeadingWhitespace,
}

impl PathProblem {
    /// Whether this path points outside the bag (as opposed to being malformed).
    pub fn escapes(self) -> bool {
        !matches!(
            self,
            PathProblem::Empty
                | PathProblem::NonCanonical
                | PathProblem::Nul
                | PathProblem::LeadingWhitespace
        )
    }
}

impl BagPath {
    /// Checks a decoded path. Refuses everything that could name a file outside the bag
    /// on any system the bag may travel to, not only this one: a Windows drive letter
    /// or `..\` is harmless here but not where the bag goes next.
    pub fn parse(path: &str) -> Result<BagPath, PathProblem> {
        if path.is_empty() {
            return Err(PathProblem::Empty);
        }
        if path.contains('\0') {
            return Err(PathProblem::Nul);
        }
        // RFC 8493 separates checksum and path by one or more spaces or tabs, so a path
        // that begins with one cannot be written in a manifest unambiguously.
        if path.starts_with([' ', '\t']) {
            return Err(PathProblem::LeadingWhitespace);
        }
        if path.starts_with('/') {
            return Err(PathProblem::Absolute);
        }
        if path.starts_with('~') {
            return Err(PathProblem::HomeDirectory);
        }
        let b = path.as_bytes();
        if path.starts_with('\\') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':') {
            return Err(PathProblem::WindowsRoot);
        }
        // `..` is checked across both separators, since `a\..\..\x` escapes on Windows.
        if path.split(['/', '\\']).any(|seg| seg == "..") {
            return Err(PathProblem::ParentSegment);
        }
        if path.split('/').any(|seg| seg.is_empty() || seg == ".") {
            return Err(PathProblem::NonCanonical);
        }
        Ok(BagPath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a payload path (`data/...`).
    pub fn is_payload(&self) -> bool {
        self.0.starts_with("data/")
    }

    /// The path on disk under the bag root. Safe by construction.
    pub fn to_fs_path(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for seg in self.0.split('/') {
            p.push(seg);
        }
        p
    }

    /// Joins a child name.
    pub fn join(&self, name: &str) -> Result<BagPath, PathProblem> {
        BagPath::parse(&format!("{}/{}", self.0, name))
    }
}

impl fmt::Display for BagPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BagPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Encodes a path for a 1.0 manifest or fetch file: `%` → `%25`, CR → `%0D`,
/// LF → `%0A`, and nothing else.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes a 1.0 manifest path: `%25`, `%0D`, `%0A` (hex digits in either case) and
/// nothing else. Any other `%` sequence stays as it is, one left-to-right pass, so
/// `%250A` is the literal text `%0A`.
pub fn decode_path(encoded: &str) -> String {
    let b = encoded.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let code = [b[i + 1].to_ascii_uppercase(), b[i + 2].to_ascii_uppercase()];
            let decoded = match &code {
                b"25" => Some(b'%'),
                b"0D" => Some(b'\r'),
                b"0A" => Some(b'\n'),
                _ => None,
            };
            if let Some(d) = decoded {
                out.push(d);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII bytes, so UTF-8 validity is preserved.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_exactly_three_characters() {
        assert_eq!(encode_path("a b%c\nd\re~f%0A"), "a b%25c%0Ad%0De~f%250A");
        assert_eq!(encode_path("ទួលស្លែង"), "ទួលស្លែង");
    }

    #[test]
    fn decode_exactly_three_sequences() {
        assert_eq!(decode_path("a%25b%0a%0D%7E%20%"), "a%b\n\r%7E%20%");
        assert_eq!(decode_path("%250A"), "%0A");
        assert_eq!(decode_path("x%2"), "x%2");
        assert_eq!(decode_path("x%25"), "x%");
    }

    #[test]
    fn round_trip() {
        for s in ["", "%", "%%25", "\r\n", "100%.txt", "a%0Ab", "é ទួល"] {
            assert_eq!(decode_path(&encode_path(s)), s);
        }
    }

    #[test]
    fn hostile_paths_refused() {
        use PathProblem::*;
        let cases = [
            ("", Empty),
            ("/etc/passwd", Absolute),
            ("~/x", HomeDirectory),
            ("~root/x", HomeDirectory),
            ("C:\\Windows", WindowsRoot),
            ("c:/x", WindowsRoot),
            ("\\\\?\\UNC\\server\\x", WindowsRoot),
            ("data/../../x", ParentSegment),
            ("data\\..\\..\\x", ParentSegment),
            ("..", ParentSegment),
            ("data//x", NonCanonical),
            ("data/./x", NonCanonical),
            ("data/x/", NonCanonical),
            ("data/a\0b", Nul),
            (" x", LeadingWhitespace),
            ("\tdata/x", LeadingWhitespace),
        ];
        for (p, want) in cases {
            assert_eq!(BagPath::parse(p), Err(want), "{p:?}");
        }
        assert!(BagPath::parse("data/..x/~y/%HomeDrive%").is_ok());
    }
}
