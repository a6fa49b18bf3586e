//! The objects an item should have on a replica: the key of each (its path relative
//! to the archive root), the digest the register records, and the digests of the
//! item's earlier states; and one object sent, hashed on the way.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::digest::{hash_reader, Algorithm, Digest, BUF_SIZE};
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::fs::register::{DigestMap, RegisterEntry};
use crate::fs::replica::{Replica, Written};
use crate::ops::bag_check::STRENGTH;

/// One object an item should have on a replica.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The key relative to the replica's root, the same as the file's path relative to
    /// the archive root (`archive/ID/data/scan.tif`, `manifests/ID.json`).
    pub key: String,
    /// The file in the archive.
    pub local: PathBuf,
    /// The size the register records (payload files only).
    pub size: Option<u64>,
    pub alg: Algorithm,
    /// The digest the register records (for the register entry itself: the digest of
    /// the archive's copy of it).
    pub digest: Digest,
    /// A payload file's SHA-512 as the register records it (an OCFL object stores the
    /// file under it); `None` for tag files and records.
    pub sha512: Option<Digest>,
}

/// The bag folders of item `id` with the register entry of each: the current bag with
/// manifests/ID.json, and every retained earlier version (`cairn revise`,
/// archive/.versions/ID/N) with the last superseded entry of that version
/// (manifests/history/ID/). The one place that enumerates an item's bags.
fn item_bags(archive: &Archive, id: &str) -> Result<Vec<(PathBuf, RegisterEntry)>, Error> {
    let entry = RegisterEntry::read(&archive.register_path(id))?;
    let current = archive.bag_path(id);
    let mut out = Vec::new();
    let earlier: Vec<(u32, PathBuf)> = archive
        .retained_bags(id)?
        .into_iter()
        .filter(|(_, p)| *p != current)
        .collect();
    if !earlier.is_empty() {
        let history = archive.history(id)?;
        for (v, bag) in earlier {
            let old = history
                .iter()
                .rev()
                .find(|e| e.version == v)
                .ok_or_else(|| Error::Corrupt {
                    path: archive.history_dir(id),
                    detail: format!(
                        "version {v} of {id} is kept but no register entry describes it"
                    ),
                })?;
            out.push((bag, old.clone()));
        }
    }
    out.push((current, entry));
    Ok(out)
}

/// The strongest algorithm in a digest list (BLAKE3 first).
/// The strongest of a file's recorded digests ([`STRENGTH`]), or its first.
fn strongest(digests: &DigestMap) -> Option<(Algorithm, Digest)> {
    STRENGTH
        .into_iter()
        .find_map(|a| digests.get(a).map(|d| (a, *d)))
        .or_else(|| digests.iter().next().copied())
}

/// A path relative to the archive root, with `/` separators, as a replica key.
pub(crate) fn key_of(archive_root: &Path, path: &Path) -> Result<String, Error> {
    let rel = path.strip_prefix(archive_root).map_err(|_| {
        Error::Usage(format!(
            "{} is outside the archive root {}; replicas mirror the archive root, so its folders must be inside it",
            path.display(),
            archive_root.display()
        ))
    })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// The objects of one bag folder as `entry` describes it: payload files, then tag files.
fn bag_objects(
    archive: &Archive,
    id: &str,
    bag: &Path,
    entry: &RegisterEntry,
    out: &mut Vec<Expected>,
) -> Result<(), Error> {
    for f in &entry.files {
        let path = crate::bagit::BagPath::parse(&f.path)
            .map_err(|e| Error::Corrupt {
                path: archive.register_path(id),
                detail: format!("file {}: {e}", crate::quoted(&f.path)),
            })?
            .to_fs_path(bag);
        let (alg, digest) = strongest(&f.digests).ok_or_else(|| Error::Corrupt {
            path: archive.register_path(id),
            detail: format!("file {} has no digest", crate::quoted(&f.path)),
        })?;
        out.push(Expected {
            key: key_of(&archive.root, &path)?,
            local: path,
            size: Some(f.size),
            alg,
            digest,
            sha512: f.digests.get(Algorithm::Sha512).copied(),
        });
    }
    for (name, digests) in &entry.tag_files {
        let path = bag.join(name);
        let (alg, digest) = strongest(digests).ok_or_else(|| Error::Corrupt {
            path: archive.register_path(id),
            detail: format!("tag file {} has no usable digest", crate::quoted(name)),
        })?;
        out.push(Expected {
            key: key_of(&archive.root, &path)?,
            local: path,
            size: None,
            alg,
            digest,
            sha512: None,
        });
    }
    Ok(())
}

/// Every object item `id` should have on a replica, register entry last.
pub fn expected_objects(archive: &Archive, id: &str) -> Result<Vec<Expected>, Error> {
    let mut out = Vec::new();
    for (bag, entry) in item_bags(archive, id)? {
        bag_objects(archive, id, &bag, &entry, &mut out)?;
    }
    // The superseded register entries (amend, revise), each written once.
    for path in history_files(archive, id)? {
        out.push(record_object(archive, path)?);
    }
    out.push(record_object(archive, archive.register_path(id))?);
    Ok(out)
}

/// The bytes each key of item `id` held in the earlier states the archive recorded: every
/// superseded register entry in manifests/history/ID/ (an `amend` or a `revise`)
/// describes the files its bag had at archive/ID/ then, and the entry itself was
/// manifests/ID.json. A replica object with one of these digests is out of date, not
/// damaged and not foreign: `replicate` may bring it up to date, because the archive
/// keeps what it held (the superseded entry, and a revised version's whole bag under
/// archive/.versions/), and so does the replica once the item's other objects are there.
///
/// `expected`: the item's objects ([`expected_objects`]), which hold the superseded
/// entries' own digests already (they are not hashed again).
pub(crate) fn superseded_digests(
    archive: &Archive,
    id: &str,
    expected: &[Expected],
) -> Result<BTreeMap<String, HashSet<(Algorithm, Digest)>>, Error> {
    let mut out: BTreeMap<String, HashSet<(Algorithm, Digest)>> = BTreeMap::new();
    let dir = archive.history_dir(id);
    if !dir.is_dir() {
        return Ok(out);
    }
    let bag = archive.bag_path(id);
    let register_key = key_of(&archive.root, &archive.register_path(id))?;
    for entry in archive.history(id)? {
        for f in &entry.files {
            let Ok(path) = crate::bagit::BagPath::parse(&f.path) else {
                continue;
            };
            let key = key_of(&archive.root, &path.to_fs_path(&bag))?;
            out.entry(key)
                .or_default()
                .extend(f.digests.iter().map(|(a, d)| (*a, *d)));
        }
        for (name, digests) in &entry.tag_files {
            let key = key_of(&archive.root, &bag.join(name))?;
            out.entry(key).or_default().extend(digests.iter().copied());
        }
    }
    let history_key = key_of(&archive.root, &archive.history_dir(id))?;
    for e in expected
        .iter()
        .filter(|e| e.key.starts_with(&format!("{history_key}/")))
    {
        out.entry(register_key.clone())
            .or_default()
            .insert((e.alg, e.digest));
    }
    Ok(out)
}

/// The files in manifests/history/ID/, sorted.
fn history_files(archive: &Archive, id: &str) -> Result<Vec<PathBuf>, Error> {
    let history_dir = archive.history_dir(id);
    let mut names: Vec<PathBuf> = crate::fs::list_dir_if_present(&history_dir)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Every object a withdrawn item should have on a replica: its superseded register
/// entries (manifests/history/ID/, the last of them the entry it had when withdrawn),
/// the quarantined bag's files when it was kept (archive/.quarantine/ID/, checked
/// against that last entry), and the tombstone last (manifests/withdrawn/ID.json).
pub fn expected_withdrawn(archive: &Archive, id: &str) -> Result<Vec<Expected>, Error> {
    let tomb_path = archive.tombstone_path(id);
    let tomb = crate::fs::lifecycle::Tombstone::read(&tomb_path)?;
    let mut out = Vec::new();
    let quarantined = archive.quarantine_path(id);
    if tomb.disposition == "quarantined" && quarantined.is_dir() {
        let last = archive
            .history(id)?
            .into_iter()
            .rev()
            .find(|e| e.version == tomb.entry_version)
            .ok_or_else(|| Error::Corrupt {
                path: archive.history_dir(id),
                detail: format!(
                    "{id} was withdrawn at version {} but no kept register entry describes it",
                    tomb.entry_version
                ),
            })?;
        bag_objects(archive, id, &quarantined, &last, &mut out)?;
    }
    for path in history_files(archive, id)? {
        out.push(record_object(archive, path)?);
    }
    out.push(record_object(archive, tomb_path)?);
    Ok(out)
}

/// A record of the archive's own (a register entry, a superseded one, a tombstone) as an
/// object: no register lists its digest, so it is checked against the BLAKE3 of the
/// archive's copy.
fn record_object(archive: &Archive, path: PathBuf) -> Result<Expected, Error> {
    let digest = hash_file(&path, Algorithm::Blake3)?;
    Ok(Expected {
        key: key_of(&archive.root, &path)?,
        local: path,
        size: None,
        alg: Algorithm::Blake3,
        digest,
        sha512: None,
    })
}

/// Streams the archive's file of `exp` to the replica, refusing it (nothing written)
/// unless its bytes have the register's digest, then reads it back
/// ([`Replica::put_file`]). `create`: only where no object is.
pub(crate) fn send(replica: &Replica, exp: &Expected, create: bool) -> Result<Written, Error> {
    replica.put_file(
        &exp.local,
        &exp.key,
        (exp.alg, Some(&exp.digest)),
        None,
        create,
    )
}

/// The digest of a local file.
pub(crate) fn hash_file(path: &Path, alg: Algorithm) -> Result<Digest, Error> {
    let file = crate::fs::open_read(path).map_err(|e| Error::io("read", path, e))?;
    let mut buf = vec![0u8; BUF_SIZE];
    let d = hash_reader(file, &[alg], &mut buf).map_err(|e| Error::io("read", path, e))?;
    d.get(alg)
        .copied()
        .ok_or_else(|| Error::Internal(format!("no {alg} digest of {}", path.display())))
}

/// The digest of a local file, or `None` when it is missing.
pub(crate) fn hash_local(path: &Path, alg: Algorithm) -> Result<Option<Digest>, Error> {
    match hash_file(path, alg) {
        Ok(d) => Ok(Some(d)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
