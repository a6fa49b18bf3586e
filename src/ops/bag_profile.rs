//! BagIt Profiles in use: which profile `--profile` names (a shipped one by name, or
//! a JSON file), the facts of a bag gathered for it, and the verdict beside the
//! RFC 8493 validation (`bag validate --profile`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::bagit::profile::{self, BagFacts, Profile, ProfileFinding};
use crate::bagit::source::{BagSource, EntryType};
use crate::bagit::tags::{decode_tag_file, parse_bag_info, TagEncoding, Version};
use crate::bagit::{validate_listed, Finding, FindingKind, ValidateOptions, ValidateReport};
use crate::error::Error;
use crate::fs::open_source;
use crate::fs::zip::ZipLimits;

/// A profile file larger than this is refused (the published ones are under 10 KiB).
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// A profile chosen by `--profile` or `[profiles]`.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The shipped name, or the file as given.
    pub name: String,
    pub profile: Profile,
}

/// Loads `arg`: a shipped profile's name, else a JSON file. A file that is not a usable
/// profile is a usage error naming the field at fault.
pub fn load(arg: &str) -> Result<Chosen, Error> {
    if let Some(s) = profile::shipped(arg) {
        let p = profile::parse(s.text)
            .map_err(|e| Error::Internal(format!("shipped profile {}: {e}", s.name)))?;
        return Ok(Chosen {
            name: s.name.to_string(),
            profile: p,
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
        serialized: is_file.then(|| media_type(bag)),
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
/// (Python's `mimetypes`): Cairn opens only zip files, so `application/zip`.
fn media_type(bag: &Path) -> String {
    let name = bag.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".zip") {
        "application/zip".into()
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
        let listed = files.iter().any(|(p, size)| p == name && *size <= MAX_PROFILE_BYTES);
        if !listed {
            continue;
        }
        let Ok(bytes) = source.read(name) else {
            continue;
        };
        let decoded = decode_tag_file(&bytes, TagEncoding::Utf8);
        let (info, _) = parse_bag_info(&decoded.text, Version { major: 1, minor: 0 });
        out.insert(name.to_string(), info.entries);
    }
    out
}
