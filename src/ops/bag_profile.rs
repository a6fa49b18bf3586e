//! BagIt Profiles in use: which profile `--profile` names (a shipped one by name, or
//! a JSON file), the facts of a bag gathered for it, and the verdict beside the
//! RFC 8493 validation (`bag validate --profile`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::bagit::profile::{self, BagFacts, Profile, ProfileFinding, ProfileKind};
use crate::bagit::source::{BagSource, EntryType};
use crate::bagit::tags::{decode_tag_file, parse_bag_info, TagEncoding, Version};
use crate::bagit::{validate_listed, Finding, FindingKind, ValidateOptions, ValidateReport};
use crate::digest::Algorithm;
use crate::error::Error;
use crate::fs::open_source;
use crate::fs::zip::ZipLimits;
use crate::ops::create::CreateOptions;

/// A profile file larger than this is refused (the published ones are under 10 KiB).
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// A profile chosen by `--profile` or `[profiles]`.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The shipped name, or the file as given.
    pub name: String,
    pub profile: Profile,
}

/// `bag validate --profile auto`: the shipped profile the bag's own
/// `BagIt-Profile-Identifier` names.
pub const AUTO: &str = "auto";

/// A shipped profile, parsed.
fn shipped_chosen(s: &profile::Shipped) -> Result<Chosen, Error> {
    let p = profile::parse(s.text)
        .map_err(|e| Error::Internal(format!("shipped profile {}: {e}", s.name)))?;
    Ok(Chosen {
        name: s.name.to_string(),
        profile: p,
    })
}

/// The shipped profile whose `BagIt-Profile-Identifier` is exactly `id`.
fn shipped_by_identifier(id: &str) -> Result<Option<Chosen>, Error> {
    for s in profile::SHIPPED {
        let c = shipped_chosen(s)?;
        if c.profile.identifier == id.trim() {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// The shipped profiles as an error lists them: `name (identifier), ...`.
fn shipped_list() -> Result<String, Error> {
    let mut out = Vec::new();
    for s in profile::SHIPPED {
        out.push(format!(
            "{} ({})",
            s.name,
            shipped_chosen(s)?.profile.identifier
        ));
    }
    Ok(out.join(", "))
}

/// Loads `arg`: a shipped profile's name, or a shipped profile's identifier URL
/// (resolved to the shipped copy, never fetched), else a JSON file. A file that is not
/// a usable profile, or a URL no shipped profile has, is a usage error.
pub fn load(arg: &str) -> Result<Chosen, Error> {
    if let Some(s) = profile::shipped(arg) {
        return shipped_chosen(s);
    }
    if arg.contains("://") {
        return shipped_by_identifier(arg)?.ok_or_else(|| {
            Error::Usage(format!(
                "--profile {}: not the identifier of a shipped profile; Cairn never fetches \
                 a profile over the network: download it and pass the file (shipped: {})",
                crate::quoted(arg),
                shipped_list().unwrap_or_default()
            ))
        });
    }
    let path = Path::new(arg);
    if !crate::fs::entry_exists(path) {
        let names: Vec<&str> = profile::SHIPPED.iter().map(|s| s.name).collect();
        return Err(Error::Usage(format!(
            "--profile {}: no such file, and not a shipped profile (shipped: {})",
            crate::quoted(arg),
            names.join(", ")
        )));
    }
    if crate::fs::len_if_present(path)? > MAX_PROFILE_BYTES {
        return Err(Error::Usage(format!(
            "--profile {}: larger than {MAX_PROFILE_BYTES} bytes; not a BagIt profile",
            path.display()
        )));
    }
    let bytes = crate::fs::read_file(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Usage(format!("--profile {}: not UTF-8 text", path.display())))?;
    let p = profile::parse(&text)
        .map_err(|e| Error::Usage(format!("--profile {}: {e}", path.display())))?;
    Ok(Chosen {
        name: arg.to_string(),
        profile: p,
    })
}

/// [`load`], where `arg` may also be [`AUTO`]: the shipped profile that the bag at
/// `bag` (folder, zip or tar) names in its bag-info.txt `BagIt-Profile-Identifier`
/// (the first one shipped, when it names several). A bag that names none shipped is a
/// usage error listing what it names and the shipped profiles.
pub fn load_for_bag(arg: &str, bag: &Path, limits: ZipLimits) -> Result<Chosen, Error> {
    if arg != AUTO {
        return load(arg);
    }
    let named = bag_profile_identifiers(bag, limits)?;
    for id in &named {
        if let Some(c) = shipped_by_identifier(id)? {
            return Ok(c);
        }
    }
    let says = if named.is_empty() {
        "its bag-info.txt has no BagIt-Profile-Identifier".to_string()
    } else {
        format!(
            "its BagIt-Profile-Identifier ({}) is no shipped profile's",
            named.join(", ")
        )
    };
    Err(Error::Usage(format!(
        "--profile auto: {}: {says}; give --profile FILE|NAME (shipped: {})",
        bag.display(),
        shipped_list()?
    )))
}

/// The `BagIt-Profile-Identifier` values in the bag-info.txt of the bag at `bag`; none
/// when it has no bag-info.txt (or one larger than a profile may be).
fn bag_profile_identifiers(bag: &Path, limits: ZipLimits) -> Result<Vec<String>, Error> {
    let source = open_source(bag, limits)?;
    if source.fatal() {
        return Ok(Vec::new());
    }
    let listed = source.list()?.into_iter().any(|e| {
        e.kind == EntryType::File && e.path == "bag-info.txt" && e.size <= MAX_PROFILE_BYTES
    });
    if !listed {
        return Ok(Vec::new());
    }
    let bytes = source
        .read("bag-info.txt")
        .map_err(|e| Error::io("read bag-info.txt", bag, e))?;
    let decoded = decode_tag_file(&bytes, TagEncoding::Utf8);
    let (info, _) = parse_bag_info(&decoded.text, Version::V1_0);
    Ok(info
        .entries
        .into_iter()
        .filter(|(k, _)| k == "BagIt-Profile-Identifier")
        .map(|(_, v)| v.trim().to_string())
        .collect())
}

/// The verdict of a profile on a bag, as `--json` writes it under `"profile"`.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileReport {
    pub name: String,
    pub identifier: String,
    /// True when the bag meets every rule of the profile.
    pub conforms: bool,
    pub problems: Vec<ProfileFinding>,
}

/// Validates the bag at `bag` (folder or zip) as `bag validate` does, then judges it
/// against `chosen`. A zip that cannot be read at all is invalid and judged on nothing.
pub fn validate_with_profile(
    bag: &Path,
    opts: &ValidateOptions,
    limits: ZipLimits,
    chosen: &Chosen,
) -> Result<(ValidateReport, ProfileReport), Error> {
    validate_with_profile_as(bag, bag, opts, limits, chosen)
}

/// [`validate_with_profile`] of the file at `bag`, typed by the name `named` (a file
/// still under its staging name, judged as the name it will be published under).
pub fn validate_with_profile_as(
    bag: &Path,
    named: &Path,
    opts: &ValidateOptions,
    limits: ZipLimits,
    chosen: &Chosen,
) -> Result<(ValidateReport, ProfileReport), Error> {
    let source = match open_source(bag, limits) {
        Ok(s) => s,
        Err(Error::Corrupt { path, detail }) => {
            let report = ValidateReport::unreadable(Finding::new(
                path.display().to_string(),
                FindingKind::ZipCorrupt,
                detail,
            ));
            return Ok((report, verdict(chosen, Vec::new(), false)));
        }
        Err(e) => return Err(e),
    };
    let listing = if source.fatal() {
        Vec::new()
    } else {
        source.list()?
    };
    let files: Vec<(String, u64)> = listing
        .iter()
        .filter(|e| e.kind == EntryType::File)
        .map(|e| (e.path.clone(), e.size))
        .collect();
    let report = validate_listed(source.as_ref(), listing, opts)?;
    let is_file = crate::fs::stat(bag)?.is_file();
    let facts = BagFacts {
        serialized: is_file.then(|| media_type(named)),
        serialized_names: is_file.then(|| {
            let stem = named.file_stem().unwrap_or_default();
            (stem.to_string_lossy().into_owned(), source.top_folder())
        }),
        bagit_version: report.version.clone(),
        bag_info: report.bag_info.as_ref().map(|i| i.entries.clone()),
        tag_files: other_tag_files(source.as_ref(), &files, &chosen.profile),
        files,
    };
    let problems = profile::judge(&chosen.profile, &facts);
    Ok((report, verdict(chosen, problems, true)))
}

fn verdict(chosen: &Chosen, problems: Vec<ProfileFinding>, judged: bool) -> ProfileReport {
    ProfileReport {
        name: chosen.name.clone(),
        identifier: chosen.profile.identifier.clone(),
        conforms: judged && problems.is_empty(),
        problems,
    }
}

/// The media type of a serialized bag, by its name as the validator guesses it
/// (Python's `mimetypes`): `.zip` is `application/zip`, `.tar` `application/tar`.
fn media_type(bag: &Path) -> String {
    let name = bag.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".zip") {
        "application/zip".into()
    } else if name.ends_with(".tar") {
        "application/tar".into()
    } else {
        "application/octet-stream".into()
    }
}

/// The tag files (other than bag-info.txt) whose tags the profile constrains, parsed
/// as bag-info.txt is; one that is absent or unreadable is left out (the profile's
/// `Tag-Files-Required` reports it).
fn other_tag_files(
    source: &dyn BagSource,
    files: &[(String, u64)],
    profile: &Profile,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for name in profile.tag_files_read() {
        let listed = files
            .iter()
            .any(|(p, size)| p == name && *size <= MAX_PROFILE_BYTES);
        if !listed {
            continue;
        }
        let Ok(bytes) = source.read(name) else {
            continue;
        };
        let decoded = decode_tag_file(&bytes, TagEncoding::Utf8);
        let (info, _) = parse_bag_info(&decoded.text, Version::V1_0);
        out.insert(name.to_string(), info.entries);
    }
    out
}

/// Makes `opts` produce a bag that meets `chosen`, or refuses, before anything is
/// written: picks the algorithms (unless the user named some: `user_algorithms`),
/// adds `BagIt-Profile-Identifier` and the tags `defaults` gives (from cairn.toml)
/// that `--info` did not, moves tags the profile keeps in other tag files there,
/// then judges the bag as it would be. Serialization is left to the caller's
/// packaging and returned as a note; every other failure refuses the run.
pub fn prepare_create(
    chosen: &Chosen,
    src: &Path,
    opts: &mut CreateOptions,
    user_algorithms: bool,
    defaults: &[(String, String)],
    serialized: Option<&str>,
) -> Result<Option<String>, Error> {
    let p = &chosen.profile;
    if !user_algorithms {
        opts.algorithms = algorithms_for(p);
    }
    opts.legacy_ok = p
        .manifests_required
        .iter()
        .chain(&p.tag_manifests_required)
        .filter_map(|n| Algorithm::from_manifest_name(n))
        .collect();
    let given = |opts: &CreateOptions, label: &str| opts.info.iter().any(|(l, _)| l == label);
    if !given(opts, "BagIt-Profile-Identifier") {
        opts.info
            .push(("BagIt-Profile-Identifier".into(), p.identifier.clone()));
    }
    for (label, value) in defaults {
        if !given(opts, label) && !value.is_empty() {
            opts.info.push((label.clone(), value.clone()));
        }
    }
    move_to_tag_files(p, opts);
    let mut facts = predicted_facts(src, opts)?;
    facts.serialized = serialized.map(str::to_string);
    let (serial, other): (Vec<ProfileFinding>, Vec<ProfileFinding>) = profile::judge(p, &facts)
        .into_iter()
        .partition(|f| matches!(f.kind, ProfileKind::SerializationRequired));
    if !other.is_empty() {
        let lines: Vec<String> = other
            .iter()
            .map(|f| format!("{}: {}", f.kind.code(), f.detail))
            .collect();
        return Err(Error::Refused {
            path: src.to_path_buf(),
            reason: format!(
                "the bag would not conform to profile {} ({}), so nothing was written: {}",
                chosen.name,
                p.identifier,
                lines.join("; ")
            ),
        });
    }
    Ok(serial.first().map(|_| {
        format!(
            "profile {} requires the bag serialized as {}: package the folder so before depositing",
            chosen.name,
            p.accept_serialization.join(" or ")
        )
    }))
}

/// The algorithms for a new bag under `p`: those it requires, then SHA-512 (else
/// SHA-256) and BLAKE3 where it allows them.
fn algorithms_for(p: &Profile) -> Vec<Algorithm> {
    let allowed = |a: Algorithm| {
        p.manifests_allowed
            .as_ref()
            .is_none_or(|l| l.iter().any(|n| n == a.name()))
            && p.tag_manifests_allowed
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == a.name()))
    };
    let mut algs: Vec<Algorithm> = p
        .manifests_required
        .iter()
        .chain(&p.tag_manifests_required)
        .filter_map(|n| Algorithm::from_manifest_name(n))
        .collect();
    if let Some(strong) = [Algorithm::Sha512, Algorithm::Sha256]
        .into_iter()
        .find(|a| allowed(*a))
    {
        algs.push(strong);
    }
    if allowed(Algorithm::Blake3) {
        algs.push(Algorithm::Blake3);
    }
    algs.sort();
    algs.dedup();
    algs
}

/// `--info` labels that the profile places in another tag file (APTrust's Title,
/// Access and Storage-Option in aptrust-info.txt) are written there instead.
fn move_to_tag_files(p: &Profile, opts: &mut CreateOptions) {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    opts.info.retain(|(label, value)| {
        let home = p
            .tags
            .iter()
            .find(|t| &t.name == label && t.file != "bag-info.txt");
        match home {
            Some(rule) => {
                let text = files.entry(rule.file.clone()).or_default();
                text.push_str(&format!("{label}: {value}\n"));
                false
            }
            None => true,
        }
    });
    for (file, text) in files {
        opts.extra_tags.push((file, text.into_bytes()));
    }
}

/// The bag `create_bag` would write from `src` with `opts`, as facts.
fn predicted_facts(src: &Path, opts: &CreateOptions) -> Result<BagFacts, Error> {
    let meta = crate::fs::lstat(src)?;
    let mut files: Vec<(String, u64)> = if meta.is_dir() {
        crate::fs::walk::walk_source(src, &[])?
            .files
            .into_iter()
            .map(|f| (format!("data/{}", f.rel), f.size))
            .collect()
    } else {
        let name = src.file_name().map(|n| n.to_string_lossy().into_owned());
        vec![(format!("data/{}", name.unwrap_or_default()), meta.len())]
    };
    let mut algs = opts.algorithms.clone();
    algs.sort();
    algs.dedup();
    for name in ["bagit.txt", "bag-info.txt"] {
        files.push((name.into(), 0));
    }
    for a in &algs {
        files.push((format!("manifest-{}.txt", a.name()), 0));
        files.push((format!("tagmanifest-{}.txt", a.name()), 0));
    }
    let mut tag_files = BTreeMap::new();
    for (name, bytes) in &opts.extra_tags {
        files.push((name.clone(), bytes.len() as u64));
        let text = String::from_utf8_lossy(bytes);
        let (info, _) = parse_bag_info(&text, Version::V1_0);
        tag_files.insert(name.clone(), info.entries);
    }
    let mut info = vec![
        (
            "Bagging-Date".to_string(),
            opts.bagging_date.format("%Y-%m-%d").to_string(),
        ),
        ("Payload-Oxum".to_string(), "0.0".to_string()),
        ("Bag-Software-Agent".to_string(), crate::agent()),
    ];
    info.extend(opts.info.iter().cloned());
    Ok(BagFacts {
        serialized: None,
        serialized_names: None,
        bagit_version: Some("1.0".into()),
        bag_info: Some(info),
        files,
        tag_files,
    })
}

/// The bag-info.txt tags cairn.toml gives for new bags, when `root` holds an archive:
/// `[ingest] source_organization` as Source-Organization and `collection` as
/// Bag-Group-Identifier (as ingest writes them).
pub fn config_tags_at(
    root: &Path,
    env: &crate::config::Env,
) -> Result<Vec<(String, String)>, Error> {
    if !root.join(crate::config::CONFIG_FILE).is_file() {
        return Ok(Vec::new());
    }
    let archive = crate::fs::archive::Archive::open_with(root, env)?;
    Ok(config_tags(&archive.config.ingest))
}

/// The bag-info.txt tags `[ingest]` gives for new bags.
pub fn config_tags(ingest: &crate::config::IngestSection) -> Vec<(String, String)> {
    vec![
        (
            "Source-Organization".into(),
            ingest.source_organization.clone(),
        ),
        ("Bag-Group-Identifier".into(), ingest.collection.clone()),
    ]
}

/// What `export --profile` is asked for: the profile and the `--info` tags.
#[derive(Debug, Clone)]
pub struct Deposit {
    pub chosen: Chosen,
    pub info: Vec<(String, String)>,
}

/// Labels `bag create` computes itself, not carried from an archived bag.
const COMPUTED: [&str; 3] = ["Payload-Oxum", "Bagging-Date", "Bag-Software-Agent"];

/// Writes at `dest` (which must not exist; its parent must) the deposit copy of the
/// archived bag at `bag` for `deposit`'s profile, as a file of media type `serialized`
/// (`application/zip`, `application/tar`) will carry it: the same
/// payload, the archived bag's own tag files and bag-info.txt tags (after `--info`,
/// before cairn.toml's), and what the profile requires, through `bag create` (copied,
/// hashed, fsynced, checked). Refuses, writing nothing, when the deposit would not
/// conform.
pub fn derive_deposit(
    bag: &Path,
    dest: &Path,
    deposit: &Deposit,
    defaults: &[(String, String)],
    date: chrono::NaiveDate,
    serialized: &str,
) -> Result<crate::ops::CreateReport, Error> {
    let mut opts = CreateOptions::new(date);
    opts.info = deposit.info.clone();
    let archived = crate::fs::read_to_string(&bag.join("bag-info.txt"))?;
    let (info, _) = parse_bag_info(&archived, Version::V1_0);
    for (label, value) in info.entries {
        let computed = COMPUTED.iter().any(|c| c.eq_ignore_ascii_case(&label));
        if !computed && !opts.info.iter().any(|(l, _)| *l == label) {
            opts.info.push((label, value));
        }
    }
    let source = crate::fs::dir::DirSource::open_archived(bag)?;
    for entry in source.list()? {
        let top = !entry.path.contains('/');
        let own = entry.path.starts_with("data/")
            || matches!(
                entry.path.as_str(),
                "bagit.txt" | "bag-info.txt" | "fetch.txt"
            )
            || (top
                && (entry.path.starts_with("manifest-") || entry.path.starts_with("tagmanifest-")));
        if !own && entry.kind == EntryType::File {
            let bytes = source
                .read(&entry.path)
                .map_err(|e| Error::io("read", bag.join(&entry.path), e))?;
            opts.extra_tags.push((entry.path, bytes));
        }
    }
    let data = bag.join("data");
    prepare_create(
        &deposit.chosen,
        &data,
        &mut opts,
        false,
        defaults,
        Some(serialized),
    )?;
    crate::ops::create_bag(&data, Some(dest), &opts)
}
