//! OCFL 1.1 (the Oxford Common File Layout, <https://ocfl.io/1.1/spec/>), pure: the
//! storage root's declarations, the object path of the storage layout extension
//! 0004-hashed-n-tuple-storage-layout, and the object inventory (its JSON and its
//! sidecar, and a new version added to it with content deduplicated by digest).
//! Bytes in, bytes or values out; `ops::ocfl` decides what goes in, `fs::ocfl` writes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// The storage root's NAMASTE declaration: file name and content.
pub const ROOT_DECLARATION: (&str, &str) = ("0=ocfl_1.1", "ocfl_1.1\n");
/// An object's NAMASTE declaration: file name and content.
pub const OBJECT_DECLARATION: (&str, &str) = ("0=ocfl_object_1.1", "ocfl_object_1.1\n");
/// The inventory's `type`.
pub const INVENTORY_TYPE: &str = "https://ocfl.io/1.1/spec/#inventory";
/// The inventory's file name; its sidecar is `inventory.json.sha512`.
pub const INVENTORY: &str = "inventory.json";
pub const INVENTORY_SIDECAR: &str = "inventory.json.sha512";
/// The content directory (OCFL's default, so the inventory does not name it).
pub const CONTENT_DIR: &str = "content";

/// A storage layout extension: how an object identifier maps to its object root.
/// Both hash the identifier with sha256 into three tuples of three hex characters;
/// 0004 names the object root with the whole digest, 0003 with the identifier,
/// percent-encoded (and readable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 0004-hashed-n-tuple-storage-layout.
    HashedNTuple,
    /// 0003-hash-and-id-n-tuple-storage-layout.
    HashAndIdNTuple,
}

impl Layout {
    /// Every layout Cairn writes, by name.
    pub const ALL: [Layout; 2] = [Layout::HashedNTuple, Layout::HashAndIdNTuple];

    /// The extension's name, as ocfl_layout.json and the extension's folder give it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::HashedNTuple => "0004-hashed-n-tuple-storage-layout",
            Layout::HashAndIdNTuple => "0003-hash-and-id-n-tuple-storage-layout",
        }
    }

    /// The layout of that name.
    pub fn from_name(name: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The layout a storage root's ocfl_layout.json declares, if it is one of these.
    pub fn declared_in(layout_json: &[u8]) -> Option<Layout> {
        let v: serde_json::Value = serde_json::from_slice(layout_json).ok()?;
        Layout::from_name(v.get("extension")?.as_str()?)
    }

    /// ocfl_layout.json: which extension maps identifiers to object paths.
    pub fn layout_json(self) -> String {
        let description = match self {
            Layout::HashedNTuple => "OCFL object identifiers are hashed with sha256, the lowercase hex digest divided into 3 tuples of 3 characters, and the object root named with the whole digest",
            Layout::HashAndIdNTuple => "OCFL object identifiers are hashed with sha256, the lowercase hex digest divided into 3 tuples of 3 characters, and the object root named with the percent-encoded identifier",
        };
        format!(
            "{{\n  \"extension\": \"{}\",\n  \"description\": \"{description}\"\n}}\n",
            self.name()
        )
    }

    /// extensions/NAME/config.json: the extension's parameters, stated in full (they
    /// are its defaults).
    pub fn config_json(self) -> String {
        let short = match self {
            Layout::HashedNTuple => ",\n  \"shortObjectRoot\": false",
            Layout::HashAndIdNTuple => "",
        };
        format!(
            "{{\n  \"extensionName\": \"{}\",\n  \"digestAlgorithm\": \"sha256\",\n  \"tupleSize\": 3,\n  \"numberOfTuples\": 3{short}\n}}\n",
            self.name()
        )
    }

    /// The object root of `id` relative to the storage root.
    pub fn object_path(self, id: &str) -> String {
        let hex = hex_of(&sha2::Sha256::digest(id.as_bytes()));
        let tuples = format!("{}/{}/{}", &hex[0..3], &hex[3..6], &hex[6..9]);
        match self {
            Layout::HashedNTuple => format!("{tuples}/{hex}"),
            Layout::HashAndIdNTuple => {
                let mut dir = String::new();
                for b in id.bytes() {
                    if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                        dir.push(char::from(b));
                    } else {
                        dir.push_str(&format!("%{b:02x}"));
                    }
                }
                if dir.len() > 100 {
                    dir.truncate(100);
                    dir = format!("{dir}-{hex}");
                }
                format!("{tuples}/{dir}")
            }
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A version's number, written `vN` (no zero padding, as OCFL recommends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionNum(pub u32);

impl fmt::Display for VersionNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl VersionNum {
    /// `vN` with N ≥ 1 and no leading zero; `None` for any other name.
    pub fn parse(name: &str) -> Option<VersionNum> {
        let digits = name.strip_prefix('v')?;
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        digits.parse().ok().map(VersionNum)
    }
}

impl Serialize for VersionNum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VersionNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        VersionNum::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("not a version name: {name:?}")))
    }
}

/// Who made a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// One version block: when, why, who, and its state (digest → logical paths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub state: BTreeMap<String, Vec<String>>,
}

/// An OCFL object inventory (sha512 content addressing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "digestAlgorithm")]
    pub digest_algorithm: String,
    pub head: VersionNum,
    #[serde(
        rename = "contentDirectory",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_directory: Option<String>,
    pub manifest: BTreeMap<String, Vec<String>>,
    pub versions: BTreeMap<VersionNum, Version>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fixity: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// A file of a new version: its logical path and its sha512 (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    pub logical: String,
    pub sha512: String,
}

/// A file a new version must store: its digest and its content path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContent {
    pub sha512: String,
    pub content_path: String,
}

/// Why an inventory read back is not one Cairn can extend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryProblem(pub String);

impl fmt::Display for InventoryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Inventory {
    /// An inventory with no version yet (head v0, never written as such).
    pub fn empty(id: &str) -> Inventory {
        Inventory {
            id: id.to_string(),
            kind: INVENTORY_TYPE.to_string(),
            digest_algorithm: "sha512".to_string(),
            head: VersionNum(0),
            content_directory: None,
            manifest: BTreeMap::new(),
            versions: BTreeMap::new(),
            fixity: BTreeMap::new(),
        }
    }

    /// Adds version head+1 with `files` as its state; returns the files it must store:
    /// each digest not yet in the manifest, once, at `vN/content/LOGICAL` of the first
    /// logical path that has it. A digest already stored is not stored again.
    pub fn add_version(&mut self, meta: VersionMeta, files: &[StateFile]) -> Vec<NewContent> {
        let num = VersionNum(self.head.0 + 1);
        let mut state: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut new = Vec::new();
        for f in files {
            let digest = f.sha512.to_ascii_lowercase();
            if !self.manifest.contains_key(&digest) {
                let content_path = format!("{num}/{CONTENT_DIR}/{}", f.logical);
                self.manifest
                    .insert(digest.clone(), vec![content_path.clone()]);
                new.push(NewContent {
                    sha512: digest.clone(),
                    content_path,
                });
            }
            state.entry(digest).or_default().push(f.logical.clone());
        }
        for paths in state.values_mut() {
            paths.sort();
        }
        self.versions.insert(
            num,
            Version {
                created: meta.created,
                message: meta.message,
                user: meta.user,
                state,
            },
        );
        self.head = num;
        new
    }

    /// The inventory as written: pretty JSON and a newline.
    pub fn to_json(&self) -> Vec<u8> {
        // Maps of strings cannot fail to serialise; an empty document is never written
        // (the caller hashes and checks what it writes).
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads an inventory Cairn wrote (or any sha512 OCFL 1.1 inventory with versions
    /// v1..vN in sequence and the default content directory).
    pub fn parse(bytes: &[u8]) -> Result<Inventory, InventoryProblem> {
        let inv: Inventory = serde_json::from_slice(bytes)
            .map_err(|e| InventoryProblem(format!("not an OCFL inventory: {e}")))?;
        if inv.digest_algorithm != "sha512" {
            return Err(InventoryProblem(format!(
                "its digestAlgorithm is {:?}, not sha512",
                inv.digest_algorithm
            )));
        }
        if inv
            .content_directory
            .as_deref()
            .is_some_and(|c| c != CONTENT_DIR)
        {
            return Err(InventoryProblem(
                "it names a contentDirectory of its own".into(),
            ));
        }
        let expected: Vec<VersionNum> = (1..=inv.head.0).map(VersionNum).collect();
        let have: Vec<VersionNum> = inv.versions.keys().copied().collect();
        if have != expected {
            return Err(InventoryProblem(format!(
                "its versions are not v1..{} in sequence",
                inv.head
            )));
        }
        Ok(inv)
    }

    /// The state of version `n`: logical path → sha512.
    pub fn state_of(&self, n: u32) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(v) = self.versions.get(&VersionNum(n)) {
            for (digest, paths) in &v.state {
                for p in paths {
                    out.insert(p.clone(), digest.clone());
                }
            }
        }
        out
    }
}

/// Whether `path` is a relative path OCFL allows and a folder can hold: `/`-separated,
/// no empty, `.` or `..` segment, no leading `/`, no backslash or NUL.
pub fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

impl Inventory {
    /// The checks an imported inventory must pass beyond [`Inventory::parse`] (the
    /// content is untrusted): every content path is safe and inside `vN/content/` of
    /// a version up to the head, every logical path is safe, every digest a version's
    /// state names is in the manifest, and no content path or logical path is named
    /// twice. The first problem found.
    pub fn check_for_import(&self) -> Result<(), InventoryProblem> {
        let mut seen = std::collections::BTreeSet::new();
        for (digest, paths) in &self.manifest {
            if digest.len() != 128 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(InventoryProblem(format!(
                    "the manifest names {:?}, which is not a sha512 digest",
                    digest
                )));
            }
            for p in paths {
                if !safe_path(p) {
                    return Err(InventoryProblem(format!(
                        "the content path {p:?} is not a safe relative path (absolute, empty, `.` or `..` segments)"
                    )));
                }
                let inside = p.split_once('/').is_some_and(|(v, rest)| {
                    VersionNum::parse(v).is_some_and(|n| n <= self.head)
                        && rest.starts_with(&format!("{CONTENT_DIR}/"))
                });
                if !inside {
                    return Err(InventoryProblem(format!(
                        "the content path {p:?} is not in the content folder of one of its versions"
                    )));
                }
                if !seen.insert(p.as_str()) {
                    return Err(InventoryProblem(format!(
                        "the content path {p:?} is named twice in the manifest"
                    )));
                }
            }
            if paths.is_empty() {
                return Err(InventoryProblem(format!(
                    "the manifest gives no content path for {digest}"
                )));
            }
        }
        let stored: std::collections::BTreeSet<String> = self
            .manifest
            .keys()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        for (num, version) in &self.versions {
            let mut logical = std::collections::BTreeSet::new();
            for (digest, paths) in &version.state {
                if !stored.contains(&digest.to_ascii_lowercase()) {
                    return Err(InventoryProblem(format!(
                        "version {num} names the digest {digest}, which the manifest does not store"
                    )));
                }
                for p in paths {
                    if !safe_path(p) {
                        return Err(InventoryProblem(format!(
                            "version {num}: the logical path {p:?} is not a safe relative path (absolute, empty, `.` or `..` segments)"
                        )));
                    }
                    if !logical.insert(p.as_str()) {
                        return Err(InventoryProblem(format!(
                            "version {num} names the logical path {p:?} twice"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The first content path the manifest gives for `digest` (any case).
    pub fn content_path(&self, digest: &str) -> Option<&str> {
        self.manifest
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(digest))
            .and_then(|(_, paths)| paths.first())
            .map(String::as_str)
    }
}

/// A version's block apart from its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    pub created: String,
    pub message: Option<String>,
    pub user: Option<User>,
}

/// The sidecar's content for an inventory whose sha512 is `hex`.
pub fn sidecar(hex: &str) -> String {
    format!("{hex}  {INVENTORY}\n")
}

/// The digest a sidecar names, if it has the sidecar's form.
pub fn sidecar_digest(text: &str) -> Option<&str> {
    let mut parts = text.split_whitespace();
    let digest = parts.next()?;
    (parts.next() == Some(INVENTORY) && parts.next().is_none()).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_0004_matches_the_extension_examples() {
        let l = Layout::HashedNTuple;
        assert_eq!(
            l.object_path("object-01"),
            "3c0/ff4/240/3c0ff4240c1e116dba14c7627f2319b58aa3d77606d0d90dfc6161608ac987d4"
        );
        assert_eq!(
            l.object_path("..hor/rib:le-$id"),
            "487/326/d8c/487326d8c2a3c0b885e23da1469b4d6671fd4e76978924b4443e9e3c316cda6d"
        );
    }

    #[test]
    fn layout_0003_matches_the_extension_examples() {
        let l = Layout::HashAndIdNTuple;
        assert_eq!(l.object_path("object-01"), "3c0/ff4/240/object-01");
        assert_eq!(
            l.object_path("..hor/rib:le-$id"),
            "487/326/d8c/%2e%2ehor%2frib%3ale-%24id"
        );
        assert_eq!(
            l.object_path("..Hor/rib:l\u{e8}-$id"),
            "373/529/21a/%2e%2eHor%2frib%3al%c3%a8-%24id"
        );
        let long = "abcdefghij".repeat(10) + "a";
        assert_eq!(
            l.object_path(&long),
            format!(
                "5cc/73e/648/{}-5cc73e648fbcff136510e330871180922ddacf193b68fdeff855683a01464220",
                "abcdefghij".repeat(10)
            )
        );
        for layout in Layout::ALL {
            assert_eq!(
                Layout::declared_in(layout.layout_json().as_bytes()),
                Some(layout)
            );
            let config: serde_json::Value =
                serde_json::from_str(&layout.config_json()).expect("config is JSON");
            assert_eq!(config["extensionName"], layout.name());
        }
    }

    #[test]
    fn version_names_are_unpadded() {
        assert_eq!(VersionNum::parse("v12"), Some(VersionNum(12)));
        assert_eq!(VersionNum::parse("v012"), None);
        assert_eq!(VersionNum::parse("v0"), None);
        assert_eq!(VersionNum::parse("v"), None);
        assert_eq!(VersionNum(3).to_string(), "v3");
    }

    fn meta() -> VersionMeta {
        VersionMeta {
            created: "2026-12-07T00:00:00Z".into(),
            message: Some("m".into()),
            user: None,
        }
    }

    #[test]
    fn content_is_stored_once_per_digest() {
        let mut inv = Inventory::empty("x");
        let a = StateFile {
            logical: "data/a".into(),
            sha512: "AA".into(),
        };
        let b = StateFile {
            logical: "data/b".into(),
            sha512: "aa".into(),
        };
        let new = inv.add_version(meta(), &[a.clone(), b]);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].content_path, "v1/content/data/a");
        let new = inv.add_version(meta(), &[a]);
        assert!(new.is_empty());
        assert_eq!(inv.head, VersionNum(2));
        assert_eq!(inv.state_of(1).len(), 2);
        let back = Inventory::parse(&inv.to_json()).expect("parses");
        assert_eq!(back, inv);
        assert!(String::from_utf8_lossy(&inv.to_json()).contains("\"v2\""));
    }

    #[test]
    fn an_imported_inventory_must_name_safe_paths_it_stores() {
        let d = "ab".repeat(64);
        let mut inv = Inventory::empty("x");
        inv.add_version(
            meta(),
            &[StateFile {
                logical: "a/b.txt".into(),
                sha512: d.clone(),
            }],
        );
        assert_eq!(inv.check_for_import(), Ok(()));
        assert_eq!(
            inv.content_path(&d.to_uppercase()),
            Some("v1/content/a/b.txt")
        );
        for bad in [
            "v1/content/../x",
            "/v1/content/x",
            "v1/content//x",
            "v2/content/x",
            "v1/x",
        ] {
            let mut spoilt = inv.clone();
            spoilt.manifest.insert(d.clone(), vec![bad.to_string()]);
            assert!(spoilt.check_for_import().is_err(), "{bad}");
        }
        for bad in ["../x", "/x", "a\\b", "a/./b", ""] {
            let mut spoilt = inv.clone();
            spoilt.versions.get_mut(&VersionNum(1)).expect("v1").state =
                BTreeMap::from([(d.clone(), vec![bad.to_string()])]);
            assert!(spoilt.check_for_import().is_err(), "{bad:?}");
        }
        let mut unstored = inv.clone();
        unstored.versions.get_mut(&VersionNum(1)).expect("v1").state =
            BTreeMap::from([("cd".repeat(64), vec!["y".to_string()])]);
        assert!(unstored.check_for_import().is_err());
        let mut short = inv;
        short.manifest = BTreeMap::from([("ab".into(), vec!["v1/content/a/b.txt".into()])]);
        assert!(short.check_for_import().is_err());
    }

    #[test]
    fn sidecar_round_trips() {
        assert_eq!(sidecar_digest(&sidecar("ab")), Some("ab"));
        assert_eq!(sidecar_digest("ab other.json\n"), None);
    }
}
