//! Judging a bag's facts against a profile: every rule, every failure reported (the
//! reference validator stops at the first failure of each group; the verdict is the
//! same).

use std::collections::BTreeMap;

use serde::Serialize;

use super::glob::matches;
use super::{Profile, Serialization, TagRule};

/// What the caller found in the bag; gathering them is I/O, judging them is not.
#[derive(Debug, Clone, Default)]
pub struct BagFacts {
    /// The media type of the file the bag is serialized in (`application/zip`), or
    /// `None` for a bag in a folder.
    pub serialized: Option<String>,
    /// For a serialized bag: the file's name without its extension, and the one
    /// top-level folder it holds (`None` when it has none or several).
    pub serialized_names: Option<(String, Option<String>)>,
    /// bagit.txt's `BagIt-Version`, when readable.
    pub bagit_version: Option<String>,
    /// bag-info.txt's entries in order; `None` when there is no bag-info.txt.
    pub bag_info: Option<Vec<(String, String)>>,
    /// Every file in the bag, bag-relative with `/`, and its size.
    pub files: Vec<(String, u64)>,
    /// The entries of the other tag files the profile constrains
    /// ([`Profile::tag_files_read`]) that are present.
    pub tag_files: BTreeMap<String, Vec<(String, String)>>,
}

/// A way a bag fails a profile (stable kebab-case codes, as `--json` writes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    BagInfoMissing,
    IdentifierMissing,
    IdentifierMismatch,
    TagMissing,
    TagEmpty,
    TagValue,
    TagRepeated,
    ManifestRequired,
    ManifestNotAllowed,
    TagManifestRequired,
    TagManifestNotAllowed,
    TagFileRequired,
    TagFileNotAllowed,
    FetchNotAllowed,
    FetchRequired,
    BagitVersion,
    SerializationRequired,
    SerializationForbidden,
    SerializationType,
    /// A tar whose one folder is not named as the file (`tarDirMustMatchName`).
    SerializationFolderName,
    DataNotEmpty,
    PayloadRequired,
    PayloadNotAllowed,
    /// The profile contradicts itself (a required item that it does not allow); the
    /// validator fails every bag for it, and so does Cairn.
    ProfileContradiction,
}

impl ProfileKind {
    /// The stable code (`tag-missing`), as `--json` writes it.
    pub fn code(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// One failure: its code, the bag path concerned (empty for the bag as a whole), and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileFinding {
    pub kind: ProfileKind,
    pub path: String,
    pub detail: String,
}

struct Out(Vec<ProfileFinding>);

impl Out {
    fn add(&mut self, kind: ProfileKind, path: &str, detail: String) {
        self.0.push(ProfileFinding {
            kind,
            path: path.to_string(),
            detail,
        });
    }
}

/// Every way the bag described by `facts` fails `profile`; empty when it conforms.
pub fn judge(profile: &Profile, facts: &BagFacts) -> Vec<ProfileFinding> {
    let mut out = Out(Vec::new());
    serialization(profile, facts, &mut out);
    match &facts.bag_info {
        None => out.add(
            ProfileKind::BagInfoMissing,
            "bag-info.txt",
            "the profile needs bag-info.txt, and the bag has none".into(),
        ),
        Some(entries) => {
            identifier(profile, entries, &mut out);
            tags(profile, "bag-info.txt", entries, &mut out);
        }
    }
    for file in profile.tag_files_read() {
        // An absent file's required tags are reported too, so that the message says
        // what to write in it.
        let entries = facts.tag_files.get(file).map(Vec::as_slice).unwrap_or(&[]);
        tags(profile, file, entries, &mut out);
    }
    manifests(profile, facts, &mut out);
    tag_files(profile, facts, &mut out);
    fetch_and_version(profile, facts, &mut out);
    payload(profile, facts, &mut out);
    out.0
}

/// Whether `media` is in `accepted`, a tar under either of its names: profiles list
/// `application/tar` (APTrust) or `application/x-tar` (Python's `mimetypes`) or both.
fn accepted(accepted: &[String], media: &str) -> bool {
    const TAR: [&str; 2] = ["application/tar", "application/x-tar"];
    accepted
        .iter()
        .any(|a| a == media || (TAR.contains(&a.as_str()) && TAR.contains(&media)))
}

fn serialization(profile: &Profile, facts: &BagFacts, out: &mut Out) {
    let tar = facts
        .serialized
        .as_deref()
        .is_some_and(|m| accepted(&["application/tar".to_string()], m));
    if let (true, true, Some((stem, top))) = (
        profile.tar_dir_must_match_name,
        tar,
        &facts.serialized_names,
    ) {
        if top.as_deref() != Some(stem.as_str()) {
            out.add(
                ProfileKind::SerializationFolderName,
                "",
                format!(
                    "the tar must hold one folder named {} (as the file); it holds {}",
                    crate::quoted(stem),
                    top.as_deref()
                        .map_or("no single folder".into(), crate::quoted)
                ),
            );
        }
    }
    match (&facts.serialized, profile.serialization) {
        (None, Serialization::Required) => out.add(
            ProfileKind::SerializationRequired,
            "",
            format!(
                "the profile requires a serialized bag (one of: {}), and this bag is a folder",
                profile.accept_serialization.join(", ")
            ),
        ),
        (Some(_), Serialization::Forbidden) => out.add(
            ProfileKind::SerializationForbidden,
            "",
            "the profile forbids serialized bags, and this bag is one file".into(),
        ),
        (Some(media), _) if !accepted(&profile.accept_serialization, media) => out.add(
            ProfileKind::SerializationType,
            "",
            format!(
                "serialized as {media}; the profile accepts {}",
                list_or_none(&profile.accept_serialization)
            ),
        ),
        _ => {}
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn identifier(profile: &Profile, entries: &[(String, String)], out: &mut Out) {
    const TAG: &str = "BagIt-Profile-Identifier";
    let values: Vec<&str> = entries
        .iter()
        .filter(|(l, _)| l == TAG)
        .map(|(_, v)| v.as_str())
        .collect();
    if values.is_empty() {
        out.add(
            ProfileKind::IdentifierMissing,
            "bag-info.txt",
            format!(
                "no {TAG} tag; a conformant bag names its profile: {TAG}: {}",
                profile.identifier
            ),
        );
    } else if !values.contains(&profile.identifier.as_str()) {
        out.add(
            ProfileKind::IdentifierMismatch,
            "bag-info.txt",
            format!(
                "{TAG} is {}, not this profile's {}",
                values.join(", "),
                profile.identifier
            ),
        );
    }
}

/// The rules of `profile` about the tags of `file`, against its entries. Labels are
/// compared exactly, as the validator does by default.
fn tags(profile: &Profile, file: &str, entries: &[(String, String)], out: &mut Out) {
    for rule in profile.tags.iter().filter(|t| t.file == file) {
        let values: Vec<&str> = entries
            .iter()
            .filter(|(l, _)| *l == rule.name)
            .map(|(_, v)| v.as_str())
            .collect();
        one_tag(rule, &values, out);
    }
}

fn one_tag(rule: &TagRule, values: &[&str], out: &mut Out) {
    let (file, name) = (rule.file.as_str(), rule.name.as_str());
    if values.is_empty() {
        if rule.required {
            out.add(
                ProfileKind::TagMissing,
                file,
                format!("required tag {name} is missing"),
            );
        }
        return;
    }
    if rule.required && !rule.empty_ok && values.iter().all(|v| v.trim().is_empty()) {
        out.add(
            ProfileKind::TagEmpty,
            file,
            format!("required tag {name} is empty"),
        );
    }
    if !rule.values.is_empty() {
        for v in values
            .iter()
            .filter(|v| !rule.values.iter().any(|a| a == *v))
        {
            out.add(
                ProfileKind::TagValue,
                file,
                format!(
                    "{name} is \"{v}\"; the profile allows {}",
                    rule.values.join(", ")
                ),
            );
        }
    }
    if !rule.repeatable && values.len() > 1 {
        out.add(
            ProfileKind::TagRepeated,
            file,
            format!(
                "{name} occurs {} times; the profile allows it once",
                values.len()
            ),
        );
    }
}

/// The algorithms of the top-level files named `{prefix}{alg}.txt`.
fn algorithms<'a>(facts: &'a BagFacts, prefix: &str) -> Vec<&'a str> {
    facts
        .files
        .iter()
        .filter_map(|(p, _)| p.strip_prefix(prefix)?.strip_suffix(".txt"))
        .filter(|alg| !alg.contains('/'))
        .collect()
}

fn manifests(profile: &Profile, facts: &BagFacts, out: &mut Out) {
    let kinds = [
        (
            "manifest-",
            &profile.manifests_required,
            &profile.manifests_allowed,
            ProfileKind::ManifestRequired,
            ProfileKind::ManifestNotAllowed,
        ),
        (
            "tagmanifest-",
            &profile.tag_manifests_required,
            &profile.tag_manifests_allowed,
            ProfileKind::TagManifestRequired,
            ProfileKind::TagManifestNotAllowed,
        ),
    ];
    for (prefix, required, allowed, missing_kind, extra_kind) in kinds {
        let present = algorithms(facts, prefix);
        for alg in required.iter().filter(|a| !present.contains(&a.as_str())) {
            out.add(
                missing_kind,
                &format!("{prefix}{alg}.txt"),
                format!("required {prefix}{alg}.txt is missing"),
            );
        }
        let Some(allowed) = allowed.as_ref().filter(|_| profile.applies((1, 3, 0))) else {
            continue;
        };
        for alg in required.iter().filter(|a| !allowed.contains(a)) {
            out.add(
                ProfileKind::ProfileContradiction,
                "",
                format!("the profile requires {prefix}{alg}.txt but does not allow it"),
            );
        }
        for alg in present.iter().filter(|a| !allowed.iter().any(|x| x == *a)) {
            out.add(
                extra_kind,
                &format!("{prefix}{alg}.txt"),
                format!(
                    "{prefix}{alg}.txt is not allowed; the profile allows {}",
                    list_or_none(allowed)
                ),
            );
        }
    }
}

/// Whether `name` is present as a file, or as a folder holding one.
fn present(facts: &BagFacts, name: &str) -> bool {
    let dir = format!("{}/", name.trim_end_matches('/'));
    facts
        .files
        .iter()
        .any(|(p, _)| p == name || p.starts_with(&dir))
}

/// The files the validator counts as tag files: outside any top-level folder whose
/// name starts with `data` (its fnmatch on `data*`), and at the top level not the
/// bag's own bagit.txt, bag-info.txt, fetch.txt or (tag) manifests.
fn is_tag_file(path: &str) -> bool {
    match path.rsplit_once('/') {
        Some((dir, _)) => !dir.starts_with("data"),
        None => {
            !(path == "bagit.txt"
                || path == "bag-info.txt"
                || path == "fetch.txt"
                || (path.starts_with("manifest-") && path.ends_with(".txt"))
                || (path.starts_with("tagmanifest-") && path.ends_with(".txt")))
        }
    }
}

fn tag_files(profile: &Profile, facts: &BagFacts, out: &mut Out) {
    for name in &profile.tag_files_required {
        if !present(facts, name) {
            out.add(
                ProfileKind::TagFileRequired,
                name,
                format!("required tag file {name} is missing"),
            );
        }
    }
    if !profile.applies((1, 2, 0)) {
        return;
    }
    let star = vec!["*".to_string()];
    let allowed = profile.tag_files_allowed.as_ref().unwrap_or(&star);
    let allowed_by = |name: &str| allowed.iter().any(|p| matches(p, name));
    for name in profile.tag_files_required.iter().filter(|n| !allowed_by(n)) {
        out.add(
            ProfileKind::ProfileContradiction,
            name,
            format!("the profile requires tag file {name} but Tag-Files-Allowed does not cover it"),
        );
    }
    for (path, _) in facts.files.iter().filter(|(p, _)| is_tag_file(p)) {
        if !allowed_by(path) {
            out.add(
                ProfileKind::TagFileNotAllowed,
                path,
                format!(
                    "tag file {path} is not allowed; the profile allows {}",
                    allowed.join(", ")
                ),
            );
        }
    }
}

fn fetch_and_version(profile: &Profile, facts: &BagFacts, out: &mut Out) {
    let fetch = facts.files.iter().any(|(p, _)| p == "fetch.txt");
    if fetch && !profile.allow_fetch {
        out.add(
            ProfileKind::FetchNotAllowed,
            "fetch.txt",
            "the profile does not allow fetch.txt".into(),
        );
    }
    if !fetch && profile.allow_fetch && profile.fetch_required {
        out.add(
            ProfileKind::FetchRequired,
            "fetch.txt",
            "the profile requires fetch.txt".into(),
        );
    }
    let version = facts.bagit_version.as_deref().unwrap_or("unknown");
    if !profile.accept_bagit_version.iter().any(|v| v == version) {
        out.add(
            ProfileKind::BagitVersion,
            "bagit.txt",
            format!(
                "BagIt version {version}; the profile accepts {}",
                list_or_none(&profile.accept_bagit_version)
            ),
        );
    }
}

fn payload(profile: &Profile, facts: &BagFacts, out: &mut Out) {
    let files: Vec<&(String, u64)> = facts
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .collect();
    if profile.data_empty && !(files.is_empty() || (files.len() == 1 && files[0].1 == 0)) {
        out.add(
            ProfileKind::DataNotEmpty,
            "data",
            format!(
                "the profile requires an empty payload (Data-Empty); it holds {} files",
                files.len()
            ),
        );
    }
    for name in &profile.payload_files_required {
        if !present(facts, name) {
            out.add(
                ProfileKind::PayloadRequired,
                name,
                format!("required payload {name} is missing"),
            );
        }
    }
    let Some(allowed) = &profile.payload_files_allowed else {
        return;
    };
    let allowed_by = |name: &str| allowed.iter().any(|p| matches(p, name));
    for name in profile
        .payload_files_required
        .iter()
        .filter(|n| !allowed_by(n))
    {
        out.add(
            ProfileKind::ProfileContradiction,
            name,
            format!("the profile requires {name} but Payload-Files-Allowed does not cover it"),
        );
    }
    for (path, _) in files.into_iter().filter(|(p, _)| !allowed_by(p)) {
        out.add(
            ProfileKind::PayloadNotAllowed,
            path,
            format!(
                "payload file {path} is not allowed; the profile allows {}",
                allowed.join(", ")
            ),
        );
    }
}
