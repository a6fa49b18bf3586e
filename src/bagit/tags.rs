//! Text tag files: the bag declaration (bagit.txt), bag-info.txt and fetch.txt, plus the
//! character-encoding and line-ending rules every text tag file shares (RFC 8493 §2.3).
//!
//! Pure: parses and renders bytes; no filesystem.

use std::borrow::Cow;
use std::fmt;

use super::path::{decode_path, BagPath, PathProblem};

/// A BagIt version, `M.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub const V1_0: Version = Version { major: 1, minor: 0 };
    /// The versions Cairn knows how to read. 0.93–0.97 are the drafts that real bags
    /// in the wild still declare; 1.0 is RFC 8493.
    const KNOWN: [(u32, u32); 6] = [(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)];

    /// True for 1.0 and later: percent-encoded manifest paths and the stricter rules.
    pub fn is_v1(self) -> bool {
        self.major >= 1
    }

    pub fn is_known(self) -> bool {
        Version::KNOWN.contains(&(self.major, self.minor))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The bag declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub version: Version,
    pub encoding: String,
}

/// Parses bagit.txt strictly (RFC 8493 §2.1.1): UTF-8, no BOM, exactly the two lines
/// in order, `Label: value` with exactly one space after the colon and none before.
/// Returns every reason it is wrong, not only the first.
pub fn parse_declaration(bytes: &[u8]) -> Result<Declaration, Vec<String>> {
    let mut errors = Vec::new();
    let mut body = bytes;
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        errors.push("begins with a byte-order mark, which bagit.txt must not have".into());
        body = rest;
    }
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!(
                "is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ));
            return Err(errors);
        }
    };
    let lines = split_lines(text);
    if lines.len() != 2 {
        errors.push(format!(
            "must have exactly two lines (BagIt-Version, Tag-File-Character-Encoding), found {}",
            lines.len()
        ));
    }
    let field = |idx: usize, label: &str, errors: &mut Vec<String>| -> Option<String> {
        let line = lines.get(idx)?;
        let want = format!("{label}: ");
        if let Some(value) = line.strip_prefix(&want) {
            if value.is_empty() || value.trim() != value {
                errors.push(format!("line {}: the value of {label} is empty or has surrounding whitespace: \"{line}\"", idx + 1));
                return None;
            }
            Some(value.to_string())
        } else {
            errors.push(format!(
                "line {}: expected `{label}: …` with one space after the colon and none before, found \"{line}\"",
                idx + 1
            ));
            None
        }
    };
    let version_text = field(0, "BagIt-Version", &mut errors);
    let encoding = field(1, "Tag-File-Character-Encoding", &mut errors);
    let version = version_text.as_deref().and_then(|v| {
        let parsed = parse_version(v);
        match parsed {
            Some(ver) if ver.is_known() => Some(ver),
            _ => {
                errors.push(format!(
                    "BagIt-Version \"{v}\" is not a known version (0.93–0.97, 1.0)"
                ));
                None
            }
        }
    });
    if let Some(enc) = &encoding {
        if TagEncoding::from_label(enc).is_none() {
            errors.push(format!(
                "Tag-File-Character-Encoding \"{enc}\" is not an encoding Cairn can read"
            ));
        }
    }
    match (version, encoding) {
        (Some(version), Some(encoding)) if errors.is_empty() => {
            Ok(Declaration { version, encoding })
        }
        _ => Err(errors),
    }
}

/// A forgiving reading of a declaration that [`parse_declaration`] rejected (stray
/// whitespace, a BOM, a missing encoding line), so that validation can go on and report
/// the bag's other problems too. The bag stays invalid; this only helps say why.
pub fn parse_declaration_leniently(bytes: &[u8]) -> Option<Declaration> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).ok()?;
    let mut version = None;
    let mut encoding = None;
    for line in split_lines(text) {
        let Some((label, value)) = line.split_once(':') else {
            continue;
        };
        match label.trim() {
            "BagIt-Version" => version = parse_version(value.trim()).filter(|v| v.is_known()),
            "Tag-File-Character-Encoding" => encoding = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let encoding = encoding
        .filter(|e| TagEncoding::from_label(e).is_some())
        .unwrap_or_else(|| "UTF-8".to_string());
    Some(Declaration {
        version: version?,
        encoding,
    })
}

fn parse_version(v: &str) -> Option<Version> {
    let (maj, min) = v.split_once('.')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(maj) || !all_digits(min) {
        return None;
    }
    Some(Version {
        major: maj.parse().ok()?,
        minor: min.parse().ok()?,
    })
}

/// Renders bagit.txt for a new 1.0 bag.
pub fn render_declaration() -> String {
    "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_string()
}

/// The character encodings a tag file can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagEncoding {
    Utf8,
    /// ISO-8859-1 proper: every byte is the code point of the same value. (The WHATWG
    /// "latin1" label means windows-1252, which differs in 0x80–0x9F.)
    Latin1,
    /// Any other encoding the WHATWG registry knows (UTF-16 with BOM, Shift_JIS…).
    Other(&'static encoding_rs::Encoding),
}

impl TagEncoding {
    pub fn from_label(label: &str) -> Option<TagEncoding> {
        let l = label.trim().to_ascii_lowercase();
        match l.as_str() {
            "utf-8" | "utf8" => Some(TagEncoding::Utf8),
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1" => {
                Some(TagEncoding::Latin1)
            }
            _ => encoding_rs::Encoding::for_label(l.as_bytes()).map(TagEncoding::Other),
        }
    }
}

/// The outcome of decoding a tag file's bytes.
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// A problem to report (a UTF-8 file with a BOM, bytes not valid in the encoding).
    pub problem: Option<String>,
}

/// Decodes a text tag file per the declared encoding. A BOM is stripped; for UTF-8 it is
/// also reported (RFC 8493 §2.3 forbids it there). Undecodable bytes are reported and
/// replaced, so the rest of the file can still be checked.
pub fn decode_tag_file(bytes: &[u8], encoding: TagEncoding) -> Decoded<'_> {
    match encoding {
        TagEncoding::Utf8 => {
            let (body, bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
                Some(rest) => (rest, true),
                None => (bytes, false),
            };
            match std::str::from_utf8(body) {
                Ok(t) => Decoded {
                    text: Cow::Borrowed(t),
                    problem: bom.then(|| {
                        "begins with a byte-order mark, which UTF-8 tag files must not have"
                            .to_string()
                    }),
                },
                Err(e) => Decoded {
                    text: String::from_utf8_lossy(body),
                    problem: Some(format!(
                        "is not valid UTF-8 (first bad byte at offset {})",
                        e.valid_up_to() + if bom { 3 } else { 0 }
                    )),
                },
            }
        }
        TagEncoding::Latin1 => Decoded {
            text: Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
            problem: None,
        },
        TagEncoding::Other(enc) => {
            let (text, _used, had_errors) = enc.decode(bytes);
            Decoded {
                text,
                problem: had_errors.then(|| format!("has bytes that are not valid {}", enc.name())),
            }
        }
    }
}

/// Splits text into lines ended by LF, CR LF or a bare CR (RFC 8493 §2.3). A final line
/// without a terminator counts; a final terminator does not start an empty line.
pub fn split_lines(text: &str) -> Vec<&str> {
    lines(text).map(|(_, line)| line).collect()
}

/// The lines of [`split_lines`] one at a time, each with the byte offset where it
/// starts: a manifest of a million lines is read without a list of them.
pub fn lines(text: &str) -> Lines<'_> {
    Lines { text, start: 0 }
}

/// The iterator of [`lines`].
pub struct Lines<'a> {
    text: &'a str,
    start: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let b = self.text.as_bytes();
        let start = self.start;
        if start >= b.len() {
            return None;
        }
        match memchr::memchr2(b'\n', b'\r', &b[start..]) {
            Some(rel) => {
                let end = start + rel;
                let crlf = b[end] == b'\r' && b.get(end + 1) == Some(&b'\n');
                self.start = end + if crlf { 2 } else { 1 };
                Some((start, &self.text[start..end]))
            }
            None => {
                self.start = b.len();
                Some((start, &self.text[start..]))
            }
        }
    }
}

/// bag-info.txt: ordered label/value pairs; labels may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BagInfo {
    pub entries: Vec<(String, String)>,
}

impl BagInfo {
    /// Every value of a label, compared case-insensitively (reserved labels are
    /// case-insensitive, RFC 8493 §2.2.2).
    pub fn values<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(l, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, v)| v.as_str())
    }

    pub fn first<'a>(&'a self, label: &'a str) -> Option<&'a str> {
        self.values(label).next()
    }

    pub fn push(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.entries.push((label.into(), value.into()));
    }

    /// Renders as UTF-8 with LF endings. A value with line breaks is folded onto
    /// indented continuation lines, so it reads back as the same lines joined by a space.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (label, value) in &self.entries {
            out.push_str(label);
            out.push(':');
            let mut first = true;
            for line in split_lines(value) {
                if first {
                    out.push(' ');
                    first = false;
                } else {
                    out.push_str("\n  ");
                }
                out.push_str(line);
            }
            out.push('\n');
        }
        out
    }
}

/// A malformed line in a tag file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub detail: String,
}

/// Checks a label for a new bag-info.txt entry.
pub fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("the label is empty".into());
    }
    if label.contains([':', '\r', '\n']) {
        return Err(format!(
            "the label \"{label}\" contains a colon or line break"
        ));
    }
    if label.trim() != label {
        return Err(format!(
            "the label \"{label}\" starts or ends with whitespace"
        ));
    }
    Ok(())
}

/// Parses bag-info.txt. Continuation lines (starting with a space or tab) join the
/// previous value with one space. Before 1.0, whitespace around the colon is accepted
/// as §2.2.2 requires; in 1.0 a label ending in whitespace is an error.
pub fn parse_bag_info(text: &str, version: Version) -> (BagInfo, Vec<LineError>) {
    let mut info = BagInfo::default();
    let mut errors = Vec::new();
    for (idx, line) in split_lines(text).into_iter().enumerate() {
        let n = idx + 1;
        if line.starts_with([' ', '\t']) {
            match info.entries.last_mut() {
                Some((_, value)) if !line.trim().is_empty() => {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(line.trim());
                }
                Some(_) => {}
                None => errors.push(LineError {
                    line: n,
                    detail: "a continuation line comes before any label".into(),
                }),
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let Some((label, value)) = line.split_once(':') else {
            errors.push(LineError {
                line: n,
                detail: format!("expected `Label: value`, found \"{line}\""),
            });
            continue;
        };
        let clean_label = label.trim();
        if clean_label.is_empty() {
            errors.push(LineError {
                line: n,
                detail: format!("empty label in \"{line}\""),
            });
            continue;
        }
        if version.is_v1() && clean_label != label {
            errors.push(LineError {
                line: n,
                detail: format!(
                    "the label \"{label}\" has whitespace around it, which BagIt 1.0 forbids"
                ),
            });
        }
        let value = if version.is_v1() {
            value.strip_prefix([' ', '\t']).unwrap_or(value)
        } else {
            value.trim_start_matches([' ', '\t'])
        };
        info.push(clean_label, value.trim_end_matches([' ', '\t']));
    }
    (info, errors)
}

/// Parses a Payload-Oxum value, `OctetCount.StreamCount`.
pub fn parse_oxum(value: &str) -> Option<(u64, u64)> {
    let (octets, streams) = value.trim().split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(octets) || !digits(streams) {
        return None;
    }
    Some((octets.parse().ok()?, streams.parse().ok()?))
}

/// One line of fetch.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchEntry {
    pub line: usize,
    pub url: String,
    pub length: Option<u64>,
    pub path: BagPath,
}

/// A fetch.txt line whose path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPathError {
    pub line: usize,
    pub text: String,
    pub problem: PathProblem,
}

/// Parses fetch.txt (RFC 8493 §2.2.3): `url length path`, separated by spaces or tabs;
/// the path is everything after the second separator, encoded as in manifests. A
/// stated length is only a hint (§5.3): it is never used to allocate.
pub fn parse_fetch(
    text: &str,
    version: Version,
) -> (Vec<FetchEntry>, Vec<LineError>, Vec<FetchPathError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut bad_paths = Vec::new();
    for (idx, line) in split_lines(text).into_iter().enumerate() {
        let n = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((url, rest)) = split_field(line) else {
            errors.push(LineError {
                line: n,
                detail: format!("expected `url length path`, found \"{line}\""),
            });
            continue;
        };
        let Some((length, raw_path)) = split_field(rest) else {
            errors.push(LineError {
                line: n,
                detail: format!("expected `url length path`, found \"{line}\""),
            });
            continue;
        };
        if !is_absolute_uri(url) {
            errors.push(LineError {
                line: n,
                detail: format!("\"{url}\" is not an absolute URL"),
            });
        }
        let length = if length == "-" {
            None
        } else if let Ok(l) = length.parse::<u64>() {
            Some(l)
        } else {
            errors.push(LineError {
                line: n,
                detail: format!("length \"{length}\" is neither a number nor `-`"),
            });
            continue;
        };
        let path_text: Cow<'_, str> = if version.is_v1() {
            Cow::Owned(decode_path(raw_path))
        } else {
            Cow::Borrowed(raw_path)
        };
        match BagPath::parse(&path_text) {
            Ok(path) => entries.push(FetchEntry {
                line: n,
                url: url.to_string(),
                length,
                path,
            }),
            Err(problem) => bad_paths.push(FetchPathError {
                line: n,
                text: path_text.into_owned(),
                problem,
            }),
        }
    }
    (entries, errors, bad_paths)
}

/// Splits off the first whitespace-delimited field; the rest starts after the run of
/// separators. Returns `None` when there is no separator or nothing after it.
pub(crate) fn split_field(line: &str) -> Option<(&str, &str)> {
    let end = line.find([' ', '\t'])?;
    let (first, rest) = line.split_at(end);
    let rest = rest.trim_start_matches([' ', '\t']);
    if first.is_empty() || rest.is_empty() {
        return None;
    }
    Some((first, rest))
}

fn is_absolute_uri(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_strict() {
        let ok =
            parse_declaration(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n").unwrap();
        assert_eq!(ok.version, Version::V1_0);
        let crlf = parse_declaration(b"BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8")
            .unwrap();
        assert_eq!(
            crlf.version,
            Version {
                major: 0,
                minor: 97
            }
        );
        for bad in [
            &b"\xEF\xBB\xBFBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"[..],
            b"BagIt-Version : 1.0\nTag-File-Character-Encoding : UTF-8\n",
            b"BagIt-Version: .97\nTag-File-Character-Encoding: UTF-8\n",
            b"BagIt-Version: 0.97\n",
            b"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n",
            b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: x\n",
            b"BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\n",
        ] {
            assert!(
                parse_declaration(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn lines_end_three_ways() {
        assert_eq!(split_lines("a\nb\r\nc\rd"), vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), vec!["a"]);
        assert_eq!(split_lines("a\n\nb"), vec!["a", "", "b"]);
    }

    #[test]
    fn bag_info_order_repeats_and_continuations() {
        let text = "A: 1\nB: two\n  lines\nA: 3\nTest-Tag    :   5\n";
        let (info, errs) = parse_bag_info(
            text,
            Version {
                major: 0,
                minor: 97,
            },
        );
        assert!(errs.is_empty());
        assert_eq!(info.values("a").collect::<Vec<_>>(), vec!["1", "3"]);
        assert_eq!(info.first("B"), Some("two lines"));
        assert_eq!(info.first("Test-Tag"), Some("5"));
        let (_, errs) = parse_bag_info("Test-Tag : 3\n", Version::V1_0);
        assert_eq!(errs.len(), 1);
        let (_, errs) = parse_bag_info("no colon here\n", Version::V1_0);
        assert_eq!(errs[0].line, 1);
    }

    #[test]
    fn bag_info_render_round_trip() {
        let mut info = BagInfo::default();
        info.push("External-Description", "line one\nline two");
        info.push("Source-Organization", "Documentation Center of Cambodia");
        let text = info.render();
        assert_eq!(
            text,
            "External-Description: line one\n  line two\nSource-Organization: Documentation Center of Cambodia\n"
        );
        let (back, errs) = parse_bag_info(&text, Version::V1_0);
        assert!(errs.is_empty());
        assert_eq!(
            back.first("External-Description"),
            Some("line one line two")
        );
    }

    #[test]
    fn oxum() {
        assert_eq!(parse_oxum("279164409832.1198"), Some((279164409832, 1198)));
        assert_eq!(parse_oxum("12"), None);
        assert_eq!(parse_oxum("1.x"), None);
    }

    #[test]
    fn fetch_lines() {
        let text = "http://x/y - data/a%25b\nhttps://z 12\tdata/c d\nnot-a-url - data/e\nhttp://q - ../../etc\n";
        let (entries, errors, bad) = parse_fetch(text, Version::V1_0);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path.as_str(), "data/a%b");
        assert_eq!(entries[1].length, Some(12));
        assert_eq!(entries[1].path.as_str(), "data/c d");
        assert_eq!(errors.len(), 1);
        assert_eq!(bad[0].problem, PathProblem::ParentSegment);
    }

    #[test]
    fn latin1_and_utf16() {
        let d = decode_tag_file(b"Caf\xe9", TagEncoding::from_label("ISO-8859-1").unwrap());
        assert_eq!(d.text, "Café");
        let d = decode_tag_file(
            b"\xff\xfeA\0:\0",
            TagEncoding::from_label("UTF-16").unwrap(),
        );
        assert_eq!(d.text, "A:");
        let d = decode_tag_file(b"\xEF\xBB\xBFx", TagEncoding::Utf8);
        assert!(d.problem.is_some());
    }
}
