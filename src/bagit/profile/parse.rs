//! Reading a profile's JSON: the published format (`BagIt-Profile-Info`, …) or the
//! DART format APTrust publishes (`bagItProfileInfo`, `tags`, …). Every field is
//! type-checked; a wrong one is a [`ProfileError`] naming it, never a panic.

use serde_json::{Map, Value};

use super::{Profile, Serialization, TagRule};

/// Why a profile could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a usable BagIt profile: {0}")]
pub struct ProfileError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ProfileError> {
    Err(ProfileError(msg.into()))
}

/// A JSON object with the path to it, for messages.
struct Obj<'a> {
    at: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn of(at: impl Into<String>, v: &'a Value) -> Result<Obj<'a>, ProfileError> {
        let at = at.into();
        match v.as_object() {
            Some(map) => Ok(Obj { at, map }),
            None => err(format!("{at} must be a JSON object")),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.at.is_empty() {
            format!("\"{key}\"")
        } else {
            format!("{}.\"{key}\"", self.at)
        }
    }

    fn obj(&self, key: &str) -> Result<Option<Obj<'a>>, ProfileError> {
        self.map
            .get(key)
            .map(|v| Obj::of(self.name(key), v))
            .transpose()
    }

    fn string(&self, key: &str) -> Result<Option<String>, ProfileError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => err(format!("{} must be a string", self.name(key))),
        }
    }

    fn need_string(&self, key: &str) -> Result<String, ProfileError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => err(format!("{} is required", self.name(key))),
        }
    }

    fn boolean(&self, key: &str, default: bool) -> Result<bool, ProfileError> {
        match self.map.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => err(format!("{} must be true or false", self.name(key))),
        }
    }

    fn list(&self, key: &str) -> Result<Option<Vec<String>>, ProfileError> {
        let Some(v) = self.map.get(key) else {
            return Ok(None);
        };
        let Some(items) = v.as_array() else {
            return err(format!("{} must be a list of strings", self.name(key)));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.as_str() {
                Some(s) => out.push(s.to_string()),
                None => {
                    return err(format!(
                        "{} must be a list of strings; it holds {item}",
                        self.name(key)
                    ))
                }
            }
        }
        Ok(Some(out))
    }
}

/// Parses a profile's text.
pub fn parse(text: &str) -> Result<Profile, ProfileError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ProfileError(format!("invalid JSON: {e}")))?;
    let top = Obj::of("the profile", &value)?;
    let top = Obj {
        at: String::new(),
        ..top
    };
    if top.map.contains_key("BagIt-Profile-Info") {
        published(&top)
    } else if top.map.contains_key("bagItProfileInfo") {
        dart(&top)
    } else {
        err("\"BagIt-Profile-Info\" is missing")
    }
}

fn spec_version(raw: Option<String>) -> Result<(u32, u32, u32), ProfileError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok((1, 1, 0));
    };
    let mut parts = [0u32; 3];
    let pieces: Vec<&str> = raw.split('.').collect();
    if pieces.len() > 3 {
        return err(format!("BagIt-Profile-Version \"{raw}\" is not N.N.N"));
    }
    for (slot, piece) in parts.iter_mut().zip(&pieces) {
        *slot = piece
            .parse()
            .map_err(|_| ProfileError(format!("BagIt-Profile-Version \"{raw}\" is not N.N.N")))?;
    }
    Ok((parts[0], parts[1], parts[2]))
}

fn serialization(raw: Option<String>) -> Result<Serialization, ProfileError> {
    match raw.as_deref() {
        None | Some("optional") => Ok(Serialization::Optional),
        Some("required") => Ok(Serialization::Required),
        Some("forbidden") => Ok(Serialization::Forbidden),
        Some(other) => err(format!(
            "\"Serialization\" is \"{other}\"; it must be forbidden, required or optional"
        )),
    }
}

fn published(top: &Obj) -> Result<Profile, ProfileError> {
    let Some(info) = top.obj("BagIt-Profile-Info")? else {
        return err("\"BagIt-Profile-Info\" is missing");
    };
    let mut tags = Vec::new();
    if let Some(bag_info) = top.obj("Bag-Info")? {
        for (name, _) in bag_info.map.iter() {
            let Some(rule) = bag_info.obj(name)? else {
                continue;
            };
            tags.push(TagRule {
                file: "bag-info.txt".into(),
                name: name.clone(),
                required: rule.boolean("required", false)?,
                values: rule.list("values")?.unwrap_or_default(),
                repeatable: rule.boolean("repeatable", true)?,
                empty_ok: true,
                description: rule.string("description")?,
            });
        }
    }
    let Some(accept_bagit_version) = top.list("Accept-BagIt-Version")? else {
        return err("\"Accept-BagIt-Version\" is missing (at least one version is required)");
    };
    Ok(Profile {
        identifier: info.need_string("BagIt-Profile-Identifier")?,
        spec_version: spec_version(info.string("BagIt-Profile-Version")?)?,
        source_organization: info.need_string("Source-Organization")?,
        external_description: info.string("External-Description")?,
        version: info.string("Version")?,
        tags,
        manifests_required: top.list("Manifests-Required")?.unwrap_or_default(),
        manifests_allowed: top.list("Manifests-Allowed")?,
        tag_manifests_required: top.list("Tag-Manifests-Required")?.unwrap_or_default(),
        tag_manifests_allowed: top.list("Tag-Manifests-Allowed")?,
        tag_files_required: top.list("Tag-Files-Required")?.unwrap_or_default(),
        tag_files_allowed: top.list("Tag-Files-Allowed")?,
        allow_fetch: top.boolean("Allow-Fetch.txt", true)?,
        fetch_required: top.boolean("Fetch.txt-Required", false)?,
        data_empty: top.boolean("Data-Empty", false)?,
        serialization: serialization(top.string("Serialization")?)?,
        accept_serialization: top.list("Accept-Serialization")?.unwrap_or_default(),
        tar_dir_must_match_name: false,
        accept_bagit_version,
        payload_files_required: top.list("Payload-Files-Required")?.unwrap_or_default(),
        payload_files_allowed: top.list("Payload-Files-Allowed")?,
        dart: false,
    })
}

/// DART's format: the same constraints under camelCase names, and `tags`, a list of
/// tag definitions in any tag file. bagit.txt's tags are left to
/// `acceptBagItVersion`; a tag file holding a required tag is itself required.
fn dart(top: &Obj) -> Result<Profile, ProfileError> {
    let Some(info) = top.obj("bagItProfileInfo")? else {
        return err("\"bagItProfileInfo\" is missing");
    };
    let mut tags = Vec::new();
    let mut tag_files_required = top.list("tagFilesRequired")?.unwrap_or_default();
    if let Some(list) = top.map.get("tags") {
        let Some(items) = list.as_array() else {
            return err("\"tags\" must be a list");
        };
        for (i, item) in items.iter().enumerate() {
            let def = Obj::of(format!("\"tags\"[{i}]"), item)?;
            let file = def.need_string("tagFile")?;
            if file == "bagit.txt" {
                continue;
            }
            let rule = TagRule {
                file: file.clone(),
                name: def.need_string("tagName")?,
                required: def.boolean("required", false)?,
                values: def.list("values")?.unwrap_or_default(),
                repeatable: true,
                empty_ok: def.boolean("emptyOk", false)?,
                description: def.string("help")?.filter(|h| !h.is_empty()),
            };
            if rule.required && file != "bag-info.txt" && !tag_files_required.contains(&file) {
                tag_files_required.push(file);
            }
            tags.push(rule);
        }
    }
    let Some(accept_bagit_version) = top.list("acceptBagItVersion")? else {
        return err("\"acceptBagItVersion\" is missing");
    };
    Ok(Profile {
        identifier: info.need_string("bagItProfileIdentifier")?,
        spec_version: spec_version(info.string("bagItProfileVersion")?)?,
        source_organization: info.need_string("sourceOrganization")?,
        external_description: info.string("externalDescription")?,
        version: info.string("version")?,
        tags,
        manifests_required: top.list("manifestsRequired")?.unwrap_or_default(),
        manifests_allowed: top.list("manifestsAllowed")?,
        tag_manifests_required: top.list("tagManifestsRequired")?.unwrap_or_default(),
        tag_manifests_allowed: top.list("tagManifestsAllowed")?,
        tag_files_required,
        tag_files_allowed: top.list("tagFilesAllowed")?,
        allow_fetch: top.boolean("allowFetchTxt", true)?,
        fetch_required: false,
        data_empty: false,
        serialization: serialization(top.string("serialization")?)?,
        accept_serialization: top.list("acceptSerialization")?.unwrap_or_default(),
        tar_dir_must_match_name: top.boolean("tarDirMustMatchName", false)?,
        accept_bagit_version,
        payload_files_required: Vec::new(),
        payload_files_allowed: None,
        dart: true,
    })
}
