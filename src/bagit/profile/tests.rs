//! Unit tests of the pure module: parsing defaults and judging facts.

use super::{judge, parse, BagFacts, ProfileKind};

const MINIMAL: &str = r#"{"BagIt-Profile-Info": {"Source-Organization": "x",
    "BagIt-Profile-Identifier": "https://example.org/p.json", "BagIt-Profile-Version": "1.4.0"},
    "Accept-BagIt-Version": ["1.0"]}"#;

fn with(extra: &str) -> super::Profile {
    let text = MINIMAL.trim_end_matches('}').to_string() + ", " + extra + "}";
    parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn facts(files: &[(&str, u64)]) -> BagFacts {
    BagFacts {
        serialized: None,
        serialized_names: None,
        bagit_version: Some("1.0".into()),
        bag_info: Some(vec![(
            "BagIt-Profile-Identifier".into(),
            "https://example.org/p.json".into(),
        )]),
        files: files.iter().map(|(p, s)| (p.to_string(), *s)).collect(),
        tag_files: Default::default(),
    }
}

fn kinds(p: &super::Profile, f: &BagFacts) -> Vec<ProfileKind> {
    judge(p, f).into_iter().map(|x| x.kind).collect()
}

#[test]
fn defaults_follow_the_specification() {
    let p = parse(MINIMAL).unwrap();
    assert!(p.allow_fetch && !p.fetch_required && !p.data_empty);
    assert_eq!(p.serialization, super::Serialization::Optional);
    assert!(p.tag_files_allowed.is_none() && p.manifests_required.is_empty());
    let old = parse(&MINIMAL.replace("1.4.0", "")).unwrap();
    assert_eq!(old.spec_version, (1, 1, 0));
    assert!(kinds(&p, &facts(&[("data/a", 1), ("bagit.txt", 1)])).is_empty());
}

#[test]
fn data_empty_allows_one_empty_file_only() {
    let p = with(r#""Data-Empty": true"#);
    assert!(kinds(&p, &facts(&[])).is_empty());
    assert!(kinds(&p, &facts(&[("data/.keep", 0)])).is_empty());
    assert_eq!(
        kinds(&p, &facts(&[("data/a", 1)])),
        vec![ProfileKind::DataNotEmpty]
    );
    assert_eq!(
        kinds(&p, &facts(&[("data/a", 0), ("data/b", 0)])),
        vec![ProfileKind::DataNotEmpty]
    );
}

#[test]
fn fetch_required_and_forbidden() {
    let p = with(r#""Fetch.txt-Required": true"#);
    assert_eq!(kinds(&p, &facts(&[])), vec![ProfileKind::FetchRequired]);
    assert!(kinds(&p, &facts(&[("fetch.txt", 10)])).is_empty());
    let no = with(r#""Allow-Fetch.txt": false"#);
    assert_eq!(
        kinds(&no, &facts(&[("fetch.txt", 10)])),
        vec![ProfileKind::FetchNotAllowed]
    );
}

#[test]
fn payload_rules_and_contradictions() {
    let p = with(
        r#""Payload-Files-Required": ["data/src/", "data/LICENSE"],
        "Payload-Files-Allowed": ["data/src/*", "data/LICENSE"]"#,
    );
    assert!(kinds(&p, &facts(&[("data/src/a/b.c", 1), ("data/LICENSE", 1)])).is_empty());
    assert_eq!(
        kinds(&p, &facts(&[("data/LICENSE", 1), ("data/other", 1)])),
        vec![ProfileKind::PayloadRequired, ProfileKind::PayloadNotAllowed]
    );
    let c = with(r#""Manifests-Required": ["md5"], "Manifests-Allowed": ["sha512"]"#);
    let k = kinds(&c, &facts(&[("manifest-md5.txt", 1)]));
    assert!(k.contains(&ProfileKind::ProfileContradiction), "{k:?}");
}

#[test]
fn allowed_lists_apply_from_the_version_that_introduced_them() {
    let text = r#""Manifests-Allowed": ["sha512"], "Tag-Files-Allowed": ["meta/*"]"#;
    let new = with(text);
    let f = facts(&[("manifest-md5.txt", 1), ("notes.txt", 1), ("meta/x", 1)]);
    assert_eq!(
        kinds(&new, &f),
        vec![
            ProfileKind::ManifestNotAllowed,
            ProfileKind::TagFileNotAllowed
        ]
    );
    let old = parse(
        &(MINIMAL
            .replace("1.4.0", "1.2.0")
            .trim_end_matches('}')
            .to_string()
            + ", "
            + text
            + "}"),
    )
    .unwrap();
    assert_eq!(kinds(&old, &f), vec![ProfileKind::TagFileNotAllowed]);
}

#[test]
fn tags_are_exact_repeatable_and_valued() {
    let p = with(
        r#""Bag-Info": {"Access": {"required": true, "values": ["Open"], "repeatable": false}}"#,
    );
    let mut f = facts(&[]);
    let info = f.bag_info.as_mut().unwrap();
    info.push(("access".into(), "Open".into()));
    assert_eq!(kinds(&p, &f), vec![ProfileKind::TagMissing]);
    let info = f.bag_info.as_mut().unwrap();
    info.push(("Access".into(), "Open".into()));
    info.push(("Access".into(), "Shut".into()));
    assert_eq!(
        kinds(&p, &f),
        vec![ProfileKind::TagValue, ProfileKind::TagRepeated]
    );
}

#[test]
fn a_dart_tar_must_hold_a_folder_named_as_the_file() {
    let s = super::shipped("aptrust").expect("aptrust is shipped");
    let p = parse(s.text).expect("aptrust parses");
    assert!(p.tar_dir_must_match_name);
    let named = |top: Option<&str>| {
        let mut f = facts(&[]);
        f.serialized = Some("application/tar".into());
        f.serialized_names = Some(("my_bag".into(), top.map(str::to_string)));
        judge(&p, &f)
            .iter()
            .any(|x| x.kind == ProfileKind::SerializationFolderName)
    };
    assert!(!named(Some("my_bag")));
    assert!(named(Some("other")));
    assert!(named(None));
    assert!(!with("\"Serialization\": \"optional\"").tar_dir_must_match_name);
}
