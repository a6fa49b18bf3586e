//! Invariants shared by the fuzz targets.
#![allow(dead_code)]

use cairn::bagit::path::{decode_path, encode_path};
use cairn::bagit::{BagPath, Version};

pub const V0_97: Version = Version {
    major: 0,
    minor: 97,
};
pub const VERSIONS: [Version; 2] = [Version::V1_0, V0_97];

/// A parsed BagPath never escapes the bag, on any system, and reparses to itself.
pub fn check_bag_path(p: &BagPath) {
    let s = p.as_str();
    assert!(!s.is_empty(), "empty BagPath");
    assert!(!s.contains('\0'), "NUL in BagPath {s:?}");
    assert!(
        !s.starts_with('/') && !s.starts_with('\\'),
        "absolute BagPath {s:?}"
    );
    assert!(!s.starts_with('~'), "home-directory BagPath {s:?}");
    let b = s.as_bytes();
    assert!(
        !(b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'),
        "drive-letter BagPath {s:?}"
    );
    assert!(
        !s.split(['/', '\\']).any(|seg| seg == ".."),
        "BagPath with a `..` segment {s:?}"
    );
    assert!(
        !s.split('/').any(|seg| seg.is_empty() || seg == "."),
        "non-canonical BagPath {s:?}"
    );
    assert_eq!(
        BagPath::parse(s).as_ref(),
        Ok(p),
        "BagPath does not reparse"
    );
    // Every component stays under the root when joined onto a filesystem path.
    let root = std::path::Path::new("/fuzz-root");
    let fs = p.to_fs_path(root);
    assert!(fs.starts_with(root), "to_fs_path left the root: {fs:?}");
    assert!(
        fs.components()
            .all(|c| !matches!(c, std::path::Component::ParentDir)),
        "to_fs_path has a `..` component: {fs:?}"
    );
    check_encoding(s);
}

/// Percent-encoding of manifest paths round-trips.
pub fn check_encoding(s: &str) {
    let enc = encode_path(s);
    assert!(
        !enc.contains(['\r', '\n']),
        "encoded path keeps a line break: {enc:?}"
    );
    assert_eq!(decode_path(&enc), s, "encode/decode round trip failed");
}
