//! Payload and tag manifests: `checksum 1*WSP filepath` lines (RFC 8493 §2.1.3, §2.2.1).
//!
//! Pure: parses and renders text; no filesystem.

use std::borrow::Cow;

use super::path::{decode_path, encode_path, BagPath, PathProblem};
use super::tags::{lines, Version};
use crate::digest::{Algorithm, Digest};

/// Whether a manifest lists payload files or tag files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ManifestKind {
    Payload,
    Tag,
}

impl ManifestKind {
    pub fn file_name(self, alg: Algorithm) -> String {
        self.file_name_for(alg.name())
    }

    pub fn file_name_for(self, alg_name: &str) -> String {
        match self {
            ManifestKind::Payload => format!("manifest-{alg_name}.txt"),
            ManifestKind::Tag => format!("tagmanifest-{alg_name}.txt"),
        }
    }

    /// Recognises `manifest-ALG.txt` / `tagmanifest-ALG.txt`, returning the raw
    /// algorithm part (which may be unknown, or not normalised).
    pub fn from_file_name(name: &str) -> Option<(ManifestKind, &str)> {
        let stem = name.strip_suffix(".txt")?;
        if let Some(alg) = stem.strip_prefix("tagmanifest-") {
            Some((ManifestKind::Tag, alg))
        } else {
            stem.strip_prefix("manifest-")
                .map(|alg| (ManifestKind::Payload, alg))
        }
    }
}

/// One usable manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub line: usize,
    pub digest: Digest,
    pub path: BagPath,
    /// For bags older than 1.0: the percent-decoded reading of the path, when it
    /// differs. Old bags were never encoded, but some tools encoded CR/LF anyway; the
    /// validator uses this reading only when the literal one names no file.
    pub decoded_alternative: Option<BagPath>,
}

/// Something wrong or dubious on one manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineIssue {
    /// The line cannot be read: no separator, bad hex, wrong digest length.
    Malformed { line: usize, detail: String },
    /// The path is unusable (escapes the bag or is malformed); the file is not touched.
    BadPath {
        line: usize,
        text: String,
        problem: PathProblem,
    },
    /// An md5sum-style ` *` binary marker was stripped (RFC 8493 §6.1.3): a warning.
    Md5sumMarker { line: usize },
    /// A `./` prefix was stripped: a warning.
    DotSlash { line: usize },
    /// A blank line: a warning.
    Blank { line: usize },
}

/// Parses a manifest's text. `alg` (when known) fixes the digest length; `version`
/// decides whether paths are percent-decoded.
pub fn parse_manifest(
    text: &str,
    alg: Option<Algorithm>,
    version: Version,
) -> (Vec<ManifestEntry>, Vec<LineIssue>) {
    let mut entries = Vec::new();
    let mut issues = Vec::new();
    for (idx, (_, line)) in lines(text).enumerate() {
        entries.extend(parse_line(line, idx + 1, alg, version, &mut issues));
    }
    (entries, issues)
}

/// Parses line `n` of a manifest (the text between line ends): its entry when the
/// line gives one, its issues added to `issues` (a line may give both: an entry with
/// a warning).
pub fn parse_line(
    line: &str,
    n: usize,
    alg: Option<Algorithm>,
    version: Version,
    issues: &mut Vec<LineIssue>,
) -> Option<ManifestEntry> {
    if line.is_empty() {
        issues.push(LineIssue::Blank { line: n });
        return None;
    }
    let Some(sep) = line.find([' ', '\t']) else {
        issues.push(LineIssue::Malformed {
            line: n,
            detail: format!("no separator between checksum and path in \"{line}\""),
        });
        return None;
    };
    let hex = &line[..sep];
    let after = &line[sep..];
    let mut raw = after.trim_start_matches([' ', '\t']);
    let sep_len = after.len() - raw.len();
    if raw.is_empty() {
        issues.push(LineIssue::Malformed {
            line: n,
            detail: format!("no path after the checksum in \"{line}\""),
        });
        return None;
    }
    let Some(digest) = Digest::from_hex(hex) else {
        issues.push(LineIssue::Malformed {
            line: n,
            detail: format!("checksum \"{hex}\" is not hexadecimal"),
        });
        return None;
    };
    if let Some(a) = alg {
        if digest.as_bytes().len() != a.digest_len() {
            issues.push(LineIssue::Malformed {
                line: n,
                detail: format!(
                    "checksum has {} hex digits, {a} has {}",
                    hex.len(),
                    a.digest_len() * 2
                ),
            });
            return None;
        }
    }
    // md5sum writes `hash *path` (one space, then `*`) in binary mode. Only that
    // exact shape is taken as the marker, so a file really named `*x` listed with
    // the usual two spaces keeps its name.
    if sep_len == 1 && &after[..1] == " " && raw.starts_with('*') {
        raw = &raw[1..];
        issues.push(LineIssue::Md5sumMarker { line: n });
    }
    if let Some(rest) = raw.strip_prefix("./") {
        raw = rest;
        issues.push(LineIssue::DotSlash { line: n });
    }
    // Only `%` sequences are ever decoded: a path without `%` is taken as it stands.
    let has_escape = raw.contains('%');
    let (primary, alternative): (Cow<'_, str>, Option<String>) = if version.is_v1() {
        if has_escape {
            (Cow::Owned(decode_path(raw)), None)
        } else {
            (Cow::Borrowed(raw), None)
        }
    } else {
        let alt = has_escape
            .then(|| decode_path(raw))
            .filter(|decoded| decoded != raw);
        (Cow::Borrowed(raw), alt)
    };
    match BagPath::parse(&primary) {
        Ok(path) => Some(ManifestEntry {
            line: n,
            digest,
            path,
            decoded_alternative: alternative.and_then(|a| BagPath::parse(&a).ok()),
        }),
        Err(problem) => {
            issues.push(LineIssue::BadPath {
                line: n,
                text: primary.into_owned(),
                problem,
            });
            None
        }
    }
}

/// Renders a manifest for a 1.0 bag: entries sorted by path (byte order), two spaces
/// between checksum and path (the shape sha512sum writes, so `sha512sum -c` can read a
/// Cairn manifest whose paths need no encoding), paths percent-encoded, LF endings.
pub fn render_manifest<'a, I>(entries: I) -> String
where
    I: IntoIterator<Item = (&'a BagPath, &'a Digest)>,
{
    let mut out = String::new();
    for (path, digest) in sorted(entries) {
        push_line(&mut out, path, digest);
    }
    out
}

/// [`render_manifest`] written to `out` a line at a time, for a manifest too large to
/// hold (a million files: 151 MB of SHA-512 lines).
pub fn write_manifest<'a, I>(out: &mut dyn std::io::Write, entries: I) -> std::io::Result<()>
where
    I: IntoIterator<Item = (&'a BagPath, &'a Digest)>,
{
    let mut line = String::new();
    for (path, digest) in sorted(entries) {
        line.clear();
        push_line(&mut line, path, digest);
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn sorted<'a, I>(entries: I) -> Vec<(&'a BagPath, &'a Digest)>
where
    I: IntoIterator<Item = (&'a BagPath, &'a Digest)>,
{
    let mut lines: Vec<(&BagPath, &Digest)> = entries.into_iter().collect();
    lines.sort_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));
    lines
}

fn push_line(out: &mut String, path: &BagPath, digest: &Digest) {
    out.push_str(&digest.to_hex());
    out.push_str("  ");
    out.push_str(&encode_path(path.as_str()));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const V097: Version = Version {
        major: 0,
        minor: 97,
    };

    #[test]
    fn parses_separators_and_trailing_spaces() {
        let text = "AB  data/a b \ncd\tdata/c\r\nef \t data/%25x%0Ay\r";
        let (e, issues) = parse_manifest(text, None, Version::V1_0);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(e[0].path.as_str(), "data/a b ");
        assert_eq!(e[0].digest.to_hex(), "ab");
        assert_eq!(e[1].path.as_str(), "data/c");
        assert_eq!(e[2].path.as_str(), "data/%x\ny");
    }

    #[test]
    fn old_versions_are_literal_with_decoded_alternative() {
        let (e, _) = parse_manifest("ab data/%7Ex%0Ay", None, V097);
        assert_eq!(e[0].path.as_str(), "data/%7Ex%0Ay");
        assert_eq!(
            e[0].decoded_alternative.as_ref().map(|p| p.as_str()),
            Some("data/%7Ex\ny")
        );
    }

    #[test]
    fn md5sum_marker_and_dot_slash() {
        let (e, issues) = parse_manifest("ab *data/x\nab  *data/y\nab  ./data/z", None, V097);
        assert_eq!(e[0].path.as_str(), "data/x");
        assert_eq!(e[1].path.as_str(), "*data/y");
        assert_eq!(e[2].path.as_str(), "data/z");
        assert_eq!(
            issues,
            vec![
                LineIssue::Md5sumMarker { line: 1 },
                LineIssue::DotSlash { line: 3 }
            ]
        );
    }

    #[test]
    fn malformed_lines() {
        let text = "nospace\nzz  data/x\nab  \nabcd  data/y\n\n";
        let (e, issues) = parse_manifest(text, Some(Algorithm::Md5), Version::V1_0);
        assert!(e.is_empty());
        assert_eq!(issues.len(), 5, "{issues:?}");
    }

    #[test]
    fn escaping_paths_are_issues_not_entries() {
        let (e, issues) = parse_manifest("ab  ../../etc/passwd\nab  /tmp/x", None, Version::V1_0);
        assert!(e.is_empty());
        assert!(matches!(
            issues[0],
            LineIssue::BadPath {
                problem: PathProblem::ParentSegment,
                ..
            }
        ));
    }

    #[test]
    fn render_sorted_and_encoded() {
        let a = BagPath::parse("data/b%\n").unwrap();
        let b = BagPath::parse("data/a").unwrap();
        let d = Digest::from_hex("00ff").unwrap();
        let text = render_manifest([(&a, &d), (&b, &d)]);
        assert_eq!(text, "00ff  data/a\n00ff  data/b%25%0A\n");
        let (back, _) = parse_manifest(&text, None, Version::V1_0);
        assert_eq!(back[1].path, a);
    }
}
