//! Register entries of published bags: rebuilt from what a bag holds (its dc.json or
//! dc.xml, bag-info.txt and the digests just verified). Used by import and by
//! recovery, which have no other record of the bag than the bag.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::bagit::source::BagSource;
use crate::bagit::ValidateReport;
use crate::digest::{hash_reader, Algorithm, BUF_SIZE};
use crate::error::Error;
use crate::format::{sniff_mime, HEAD_LEN};
use crate::fs::archive::Archive;
use crate::fs::dir::DirSource;
use crate::fs::read_head;
use crate::fs::register::{DigestMap, FileRecord, RegisterEntry};
use crate::metadata::{self, DublinCore, StoredDublinCore};

/// Format identification as the commit protocol asks for it when it rebuilds a register
/// entry from a bag: the caller passes it (`ops::formats::Annotator`), so that the
/// protocol knows nothing of how formats are identified.
pub trait AnnotateFormats {
    /// Identifies `files` (bag path, file on disk) and records their formats in `entry`.
    fn annotate(
        &self,
        archive: &Archive,
        entry: &mut RegisterEntry,
        files: &[(String, PathBuf)],
    ) -> Result<(), Error>;
}

/// The bag's folder relative to the archive root, as the register records it.
pub(crate) fn relative_bag_path(archive: &Archive, id: &str) -> String {
    let bag = archive.bag_path(id);
    bag.strip_prefix(&archive.root)
        .unwrap_or(&bag)
        .to_string_lossy()
        .into_owned()
}

/// Rebuilds a register entry from a published bag (its dc.json, bag-info and the
/// digests just verified).
pub(crate) fn entry_from_bag(
    archive: &Archive,
    id: &str,
    source: &DirSource,
    check: &ValidateReport,
    now: chrono::DateTime<chrono::Utc>,
    intake_name: Option<&str>,
    formats: &dyn AnnotateFormats,
) -> Result<RegisterEntry, Error> {
    let bag = archive.bag_path(id);
    let info = check.bag_info.clone().unwrap_or_default();
    let dublin_core = dublin_core_of(source, &info);
    let mut files = Vec::new();
    let mut tag_files = BTreeMap::new();
    let mut head = vec![0u8; HEAD_LEN];
    let mut to_identify = Vec::new();
    for (path, digests) in &check.computed {
        if path.starts_with("data/") {
            let disk = crate::bagit::BagPath::parse(path)
                .map_err(|e| Error::Usage(e.to_string()))?
                .to_fs_path(&bag);
            let meta = crate::fs::stat(&disk)?;
            let n = read_head(&disk, &mut head)?;
            files.push(FileRecord {
                path: path.clone(),
                size: meta.len(),
                mime: sniff_mime(&head[..n], meta.len()),
                digests: DigestMap::new(digests.clone()),
                format: None,
                techmd: None,
                validation: None,
                qc: None,
                extra: Default::default(),
            });
            to_identify.push((path.clone(), disk));
        } else {
            tag_files.insert(path.clone(), DigestMap::new(digests.clone()));
        }
    }
    // Tag manifests are not listed in tag manifests; hash them now.
    let mut buf = vec![0u8; BUF_SIZE];
    let algs: Vec<Algorithm> = check.algorithms.clone();
    for path in crate::fs::list_dir(&bag)? {
        let Some(n) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if n.starts_with("tagmanifest-") && n.ends_with(".txt") {
            let bytes = source.read(&n).map_err(|e| Error::io("read", &path, e))?;
            let d = hash_reader(&bytes[..], &algs, &mut buf)
                .map_err(|e| Error::io("hash", &path, e))?;
            tag_files.insert(n, DigestMap::of(&d));
        }
    }
    let mut entry = RegisterEntry {
        id: id.to_string(),
        archived: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        software: crate::agent(),
        intake_name: intake_name
            .or(info.first("Internal-Sender-Identifier"))
            .unwrap_or(id)
            .to_string(),
        bag: relative_bag_path(archive, id),
        bagit_version: check.version.clone().unwrap_or_else(|| "1.0".into()),
        payload_oxum: info
            .first("Payload-Oxum")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}.{}", check.bytes, check.files)),
        dublin_core,
        files,
        format_registry: None,
        tag_files,
        entry_version: 1,
        updated: None,
        version: 1,
        extra: Default::default(),
    };
    formats.annotate(archive, &mut entry, &to_identify)?;
    Ok(entry)
}

/// A bag's Dublin Core record as the register keeps it (JSON of term → values): its
/// metadata/dc.json, else its metadata/dc.xml, else what bag-info.txt says (Title or
/// External-Description as dc.title, External-Identifier, Source-Organization as
/// dc.publisher, Bag-Group-Identifier as dc.relation).
pub(crate) fn dublin_core_of(
    source: &dyn BagSource,
    info: &crate::bagit::BagInfo,
) -> StoredDublinCore {
    if let Some(dc) = source
        .read("metadata/dc.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<DublinCore>(&b).ok())
    {
        return dc.into();
    }
    if let Some(dc) = source
        .read("metadata/dc.xml")
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| metadata::parse_oai_dc(&t).ok())
    {
        return dc.into();
    }
    let mut dc = DublinCore::new();
    let term = |e: metadata::Element| e.term();
    if let Some(t) = info.first("Title").or(info.first("External-Description")) {
        dc.push(term(metadata::Element::Title), t);
    }
    for v in info.values("External-Identifier") {
        dc.push(term(metadata::Element::Identifier), v);
    }
    for v in info.values("Source-Organization") {
        dc.push(term(metadata::Element::Publisher), v);
    }
    for v in info.values("Bag-Group-Identifier") {
        dc.push(term(metadata::Element::Relation), v);
    }
    dc.into()
}
