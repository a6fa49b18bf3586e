//! An OCFL storage root on disk (`cairn ocfl export`): its declarations, each object's
//! inventory read back (and recovered after a kill), files copied into a staged object
//! or version and checked, and the staged folder moved into place in one rename.
//!
//! Staging lives in the storage root's extensions/cairn-export/ (a folder of this run,
//! removed when it ends): a new object is built there whole and renamed to its object
//! root; a new version of an existing object is built there as vN, renamed into the
//! object root, and only then is the object's inventory replaced. Staged folders are
//! made durable in batches (one syncfs for up to 1 GiB or 4,096 folders) before any of
//! them is moved into place. A version folder is
//! complete when it appears (its own inventory and sidecar inside it), so the object's
//! state is always the highest version folder whose inventory matches its sidecar: a
//! kill between the rename and the inventory's replacement is finished by the next run.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::digest::{copy_and_hash, hash_reader, Algorithm, Digest};
use crate::error::Error;
use crate::fs::durable::{rename_no_replace, sync_dir, sync_tree, write_atomic_if_changed};
use crate::ocfl::{self, Inventory, Layout, VersionNum};

/// The run's own folder in the storage root's extensions/.
const WORK_DIR: &str = "cairn-export";

/// A storage root opened for writing, held against another export into it.
pub struct StorageRoot {
    pub path: PathBuf,
    pub layout: Layout,
    _lock: std::fs::File,
    /// Staged objects and versions waiting for the batch's one sync, in order.
    pending: Vec<Pending>,
    pending_bytes: u64,
    staged: u64,
}

/// A staged folder to move into place once the batch is durable.
enum Pending {
    Object {
        staged: PathBuf,
        object_root: PathBuf,
    },
    Version {
        staged: PathBuf,
        object_root: PathBuf,
        num: VersionNum,
    },
}

/// A batch is made durable (one syncfs) and published when it holds this many bytes or
/// folders, and at the end of the run: a kill loses at most one batch of copying, and
/// a storage root of many small objects is not one sync per object.
const BATCH_BYTES: u64 = 1 << 30;
const BATCH_FOLDERS: usize = 4096;

/// Opens (creating it if absent or empty) the storage root at `path`: its declaration,
/// ocfl_layout.json and the layout extension's config. A new root gets `layout`
/// (`None`: 0004); an existing one keeps the layout it declares, and `layout`, when
/// given, must be that one. A folder that holds anything else, or an OCFL root with a
/// layout Cairn does not write, is refused and left as it is.
pub fn open_root(path: &Path, layout: Option<Layout>) -> Result<StorageRoot, Error> {
    let declaration = path.join(ocfl::ROOT_DECLARATION.0);
    let fresh = match std::fs::read_dir(path) {
        Ok(mut rd) => rd.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::fs::create_dir_all(path)?;
            true
        }
        Err(e) => return Err(Error::io("read folder", path, e)),
    };
    let layout_file = path.join("ocfl_layout.json");
    let mut chosen = layout.unwrap_or(Layout::HashAndIdNTuple);
    if !fresh {
        let declared = crate::fs::read_if_present(&declaration)?;
        if declared.as_deref() != Some(ocfl::ROOT_DECLARATION.1.as_bytes()) {
            return Err(Error::Usage(format!(
                "{} is neither empty nor an OCFL 1.1 storage root (no 0=ocfl_1.1 declaration): name a new or empty folder, or a root Cairn exported to",
                path.display()
            )));
        }
        let named = crate::fs::read_if_present(&layout_file)?.unwrap_or_default();
        let Some(declared) = Layout::declared_in(&named) else {
            return Err(Error::Usage(format!(
                "the OCFL storage root {} declares none of the layouts Cairn writes ({}, {}) in ocfl_layout.json",
                path.display(),
                Layout::HashedNTuple.name(),
                Layout::HashAndIdNTuple.name()
            )));
        };
        if layout.is_some_and(|l| l != declared) {
            return Err(Error::Usage(format!(
                "this OCFL storage root uses the layout {}; it cannot change (omit --layout)",
                declared.name()
            )));
        }
        chosen = declared;
    }
    let config = path
        .join("extensions")
        .join(chosen.name())
        .join("config.json");
    let lock = crate::fs::try_lock_dir(path, "another cairn ocfl export")?;
    crate::fs::create_dir_all(config.parent().unwrap_or(path))?;
    write_atomic_if_changed(&config, chosen.config_json().as_bytes())?;
    write_atomic_if_changed(&layout_file, chosen.layout_json().as_bytes())?;
    // The declaration last: a root is one once all its parts are there.
    write_atomic_if_changed(&declaration, ocfl::ROOT_DECLARATION.1.as_bytes())?;
    let root = StorageRoot {
        path: path.to_path_buf(),
        layout: chosen,
        _lock: lock,
        pending: Vec::new(),
        pending_bytes: 0,
        staged: 0,
    };
    // What a killed run staged is never published: start again from nothing.
    crate::fs::remove_tree_quietly(&root.work_dir());
    Ok(root)
}

impl StorageRoot {
    fn work_dir(&self) -> PathBuf {
        self.path.join("extensions").join(WORK_DIR)
    }

    /// The object root of `id`, by the root's layout.
    pub fn object_root(&self, id: &str) -> PathBuf {
        self.path.join(self.layout.object_path(id))
    }

    /// A new, empty staging folder for the run's next object or version.
    pub fn stage(&mut self, kind: &str) -> Result<PathBuf, Error> {
        self.staged += 1;
        let dir = self.work_dir().join(format!("{kind}-{}", self.staged));
        crate::fs::remove_tree_quietly(&dir);
        crate::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Queues a staged new object (`bytes` written into it) for publication at its
    /// object root, which must not exist.
    pub fn queue_object(
        &mut self,
        staged: PathBuf,
        object_root: PathBuf,
        bytes: u64,
    ) -> Result<(), Error> {
        self.pending.push(Pending::Object {
            staged,
            object_root,
        });
        self.queued(bytes)
    }

    /// Queues a staged version folder `num` of an existing object.
    pub fn queue_version(
        &mut self,
        staged: PathBuf,
        object_root: PathBuf,
        num: VersionNum,
        bytes: u64,
    ) -> Result<(), Error> {
        self.pending.push(Pending::Version {
            staged,
            object_root,
            num,
        });
        self.queued(bytes)
    }

    fn queued(&mut self, bytes: u64) -> Result<(), Error> {
        self.pending_bytes += bytes;
        if self.pending_bytes >= BATCH_BYTES || self.pending.len() >= BATCH_FOLDERS {
            self.flush()?;
        }
        Ok(())
    }

    /// Makes every staged folder durable (one syncfs of the root's file system), then
    /// moves each into place in the order queued: a new object renamed to its object
    /// root; a new version renamed to vN in its object root, then the object root's
    /// inventory and sidecar replaced by the version's own (each atomically).
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        sync_tree(&self.work_dir())?;
        for p in std::mem::take(&mut self.pending) {
            match p {
                Pending::Object {
                    staged,
                    object_root,
                } => publish_object(&staged, &object_root)?,
                Pending::Version {
                    staged,
                    object_root,
                    num,
                } => publish_version(&staged, &object_root, num)?,
            }
        }
        self.pending_bytes = 0;
        Ok(())
    }

    /// Publishes what is pending and removes the run's staging folder (the root then
    /// holds only OCFL's own parts).
    pub fn finish(mut self) -> Result<(), Error> {
        self.flush()?;
        let dir = self.work_dir();
        if dir.exists() {
            crate::fs::remove_tree(&dir, "remove the export's staging folder")?;
            sync_dir(&self.path.join("extensions"))?;
        }
        Ok(())
    }
}

/// The inventory of the object at `object_root`, `None` when there is no object there.
/// The object's state is its highest version folder whose inventory matches its
/// sidecar; the object root's inventory and sidecar are made that one's copy when they
/// are not (a run killed after moving a version in).
pub fn read_object(object_root: &Path) -> Result<Option<Inventory>, Error> {
    if !crate::fs::entry_exists(object_root) {
        return Ok(None);
    }
    let mut versions: Vec<(VersionNum, PathBuf)> = crate::fs::list_dir(object_root)?
        .into_iter()
        .filter_map(|p| {
            let n = VersionNum::parse(&p.file_name()?.to_string_lossy())?;
            Some((n, p))
        })
        .collect();
    versions.sort();
    let Some((head, dir)) = versions.last() else {
        return Err(corrupt(object_root, "no version folder".into()));
    };
    let (bytes, sidecar) = read_checked_inventory(dir)?;
    let inv = Inventory::parse(&bytes).map_err(|p| corrupt(dir, p.to_string()))?;
    if inv.head != *head {
        return Err(corrupt(
            dir,
            format!("its inventory's head is {}", inv.head),
        ));
    }
    let declaration = object_root.join(ocfl::OBJECT_DECLARATION.0);
    if crate::fs::read_if_present(&declaration)?.as_deref()
        != Some(ocfl::OBJECT_DECLARATION.1.as_bytes())
    {
        return Err(corrupt(
            object_root,
            "no 0=ocfl_object_1.1 declaration".into(),
        ));
    }
    write_atomic_if_changed(&object_root.join(ocfl::INVENTORY), &bytes)?;
    write_atomic_if_changed(
        &object_root.join(ocfl::INVENTORY_SIDECAR),
        sidecar.as_bytes(),
    )?;
    Ok(Some(inv))
}

/// The largest inventory.json `cairn import` reads (64 MiB: about 200,000 files of
/// one version); a larger one is refused before it is read.
pub const MAX_IMPORT_INVENTORY: u64 = 64 << 20;

/// The inventory of an OCFL object to import (a folder holding `0=ocfl_object_1.1`),
/// read from the object root and checked: the declaration, the size, the sidecar, the
/// digest algorithm, the versions and every path ([`Inventory::check_for_import`]).
/// Any problem is a refusal naming the object; nothing is written.
pub fn read_import_object(object_root: &Path) -> Result<Inventory, Error> {
    let refuse = |reason: String| Error::Refused {
        path: object_root.to_path_buf(),
        reason: format!("not an OCFL object Cairn can import: {reason}"),
    };
    let declaration = object_root.join(ocfl::OBJECT_DECLARATION.0);
    if crate::fs::read_if_present(&declaration)?.as_deref()
        != Some(ocfl::OBJECT_DECLARATION.1.as_bytes())
    {
        return Err(refuse(format!(
            "no {} declaration holding {:?}",
            ocfl::OBJECT_DECLARATION.0,
            ocfl::OBJECT_DECLARATION.1.trim_end()
        )));
    }
    let inventory = object_root.join(ocfl::INVENTORY);
    if !crate::fs::entry_exists(&inventory) {
        return Err(refuse(format!("no {} in the object root", ocfl::INVENTORY)));
    }
    let meta = crate::fs::lstat(&inventory)?;
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a regular file", ocfl::INVENTORY)));
    }
    if meta.len() > MAX_IMPORT_INVENTORY {
        return Err(refuse(format!(
            "its {} is {} bytes, over the {} bytes Cairn reads",
            ocfl::INVENTORY,
            meta.len(),
            MAX_IMPORT_INVENTORY
        )));
    }
    let sidecar = object_root.join(ocfl::INVENTORY_SIDECAR);
    if !crate::fs::entry_exists(&sidecar) {
        let others: Vec<String> = crate::fs::list_dir(object_root)?
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| n.starts_with("inventory.json."))
            .collect();
        return Err(refuse(if others.is_empty() {
            format!("no {} sidecar", ocfl::INVENTORY_SIDECAR)
        } else {
            format!(
                "its sidecar is {} and Cairn imports sha512 objects only (the digest algorithm of the register)",
                others.join(", ")
            )
        }));
    }
    let bytes = crate::fs::read_file(&inventory)?;
    if bytes.len() as u64 > MAX_IMPORT_INVENTORY {
        return Err(refuse(format!(
            "its {} grew over {} bytes while it was read",
            ocfl::INVENTORY,
            MAX_IMPORT_INVENTORY
        )));
    }
    let side = crate::fs::read_to_string(&sidecar).map_err(|_| {
        refuse(format!(
            "its {} is not readable text",
            ocfl::INVENTORY_SIDECAR
        ))
    })?;
    if ocfl::sidecar_digest(&side).map(str::to_ascii_lowercase) != Some(sha512_hex(&bytes)) {
        return Err(refuse(format!(
            "{} does not match its sidecar {}",
            ocfl::INVENTORY,
            ocfl::INVENTORY_SIDECAR
        )));
    }
    let inv = Inventory::parse(&bytes).map_err(|p| refuse(p.to_string()))?;
    if inv.head.0 == 0 {
        return Err(refuse("its inventory has no version".into()));
    }
    // OCFL 1.1 §3.5.1: the head version's inventory, when there is one, is the root's.
    let head_inventory = object_root.join(inv.head.to_string()).join(ocfl::INVENTORY);
    if crate::fs::entry_exists(&head_inventory) {
        // Compared by size before it is read: a larger one is never read whole.
        let meta = crate::fs::lstat(&head_inventory)?;
        let same = meta.is_file()
            && meta.len() == bytes.len() as u64
            && crate::fs::read_file(&head_inventory)? == bytes;
        if !same {
            return Err(refuse(format!(
                "{}/{} differs from the object root's {}: the object was changed after its last version was written",
                inv.head,
                ocfl::INVENTORY,
                ocfl::INVENTORY
            )));
        }
    }
    inv.check_for_import().map_err(|p| refuse(p.to_string()))?;
    Ok(inv)
}

/// sha512 (lowercase hex) and size of the regular file `path` of an object being
/// imported; a link or anything but a regular file is refused.
pub fn sha512_of_content(path: &Path, buf: &mut [u8]) -> Result<(String, u64), Error> {
    let meta = crate::fs::lstat(path)?;
    if !meta.is_file() {
        return Err(Error::Refused {
            path: path.to_path_buf(),
            reason: "not a regular file (a link, a folder or a device): OCFL content must be files"
                .into(),
        });
    }
    let file = crate::fs::open_read(path).map_err(|e| Error::io("open", path, e))?;
    let got =
        hash_reader(file, &[Algorithm::Sha512], buf).map_err(|e| Error::io("read", path, e))?;
    Ok((
        got.get(Algorithm::Sha512)
            .map(Digest::to_hex)
            .unwrap_or_default(),
        got.len,
    ))
}

/// A scratch folder in the system's temporary folder, removed when dropped: where an
/// import lays out one version's files for the archive's own commit to take in.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(what: &str) -> Result<Scratch, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!(".cairn-{what}-{}-{nanos}", std::process::id()));
        crate::fs::create_dir(&path)?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        crate::fs::remove_tree_quietly(&self.path);
    }
}

fn corrupt(path: &Path, detail: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        detail: format!("not an OCFL object Cairn can extend: {detail}"),
    }
}

/// A folder's inventory.json, checked against its sidecar; with the sidecar's text.
fn read_checked_inventory(dir: &Path) -> Result<(Vec<u8>, String), Error> {
    let bytes = crate::fs::read_file(&dir.join(ocfl::INVENTORY))?;
    let sidecar = crate::fs::read_to_string(&dir.join(ocfl::INVENTORY_SIDECAR))?;
    let digest = sha512_hex(&bytes);
    if ocfl::sidecar_digest(&sidecar).map(str::to_ascii_lowercase) != Some(digest) {
        return Err(corrupt(
            dir,
            "inventory.json does not match its sidecar".into(),
        ));
    }
    Ok((bytes, sidecar))
}

/// sha512 of `bytes`, lowercase hex.
pub fn sha512_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha512::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `inv` and its sidecar into `dir` (a staged object root or version folder).
pub fn write_inventory(dir: &Path, inv: &Inventory) -> Result<(), Error> {
    let bytes = inv.to_json();
    let side = ocfl::sidecar(&sha512_hex(&bytes));
    crate::fs::write_file(&dir.join(ocfl::INVENTORY), &bytes)?;
    crate::fs::write_file(&dir.join(ocfl::INVENTORY_SIDECAR), side.as_bytes())
}

/// Writes the object declaration into a staged object root.
pub fn write_object_declaration(dir: &Path) -> Result<(), Error> {
    crate::fs::write_file(
        &dir.join(ocfl::OBJECT_DECLARATION.0),
        ocfl::OBJECT_DECLARATION.1.as_bytes(),
    )
}

/// What one file's copy checked.
pub struct Copied {
    pub bytes: u64,
}

/// Copies `from` to the new file `to` (parents created), hashing the bytes once on
/// the way with the register's BLAKE3 when it has one (SHA-512 otherwise), which they
/// must match; the copy is then read back and hashed again, so what is written is what
/// was checked. The inventory's SHA-512 is the register's: BLAKE3 identifies the same
/// bytes, at a fraction of SHA-512's cost. Not fsynced: the staged folders are made
/// durable as a batch before any is published.
pub fn copy_checked(
    from: &Path,
    to: &Path,
    sha512: &str,
    blake3: Option<&str>,
    buf: &mut [u8],
) -> Result<Copied, Error> {
    if let Some(parent) = to.parent() {
        crate::fs::create_dir_all(parent)?;
    }
    let (alg, want) = match blake3 {
        Some(b) => (Algorithm::Blake3, b),
        None => (Algorithm::Sha512, sha512),
    };
    let src = crate::fs::open_read(from).map_err(|e| Error::io("open", from, e))?;
    let dst = crate::fs::create_new_file(to)?;
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, dst);
    let got =
        copy_and_hash(src, &mut writer, &[alg], buf).map_err(|e| Error::io("copy", from, e))?;
    writer
        .into_inner()
        .map_err(|e| Error::io("write", to, e.into_error()))?;
    let have = got.get(alg).map(Digest::to_hex).unwrap_or_default();
    if !have.eq_ignore_ascii_case(want) {
        return Err(Error::VerifyFailed {
            path: from.to_path_buf(),
            detail: format!(
                "its {} is {have}, not {want} as the register records: the file changed since it was archived (`cairn fixity --id` names the damage)",
                alg.name()
            ),
        });
    }
    check_written(to, alg, want, buf)?;
    crate::fs::failpoint::hit("ocfl-file-copied");
    Ok(Copied { bytes: got.len })
}

/// Writes `bytes` to the new file `to` (parents created) and reads it back.
pub fn write_checked(to: &Path, bytes: &[u8], buf: &mut [u8]) -> Result<(), Error> {
    if let Some(parent) = to.parent() {
        crate::fs::create_dir_all(parent)?;
    }
    crate::fs::write_file(to, bytes)?;
    let want = blake3::hash(bytes).to_hex().to_string();
    check_written(to, Algorithm::Blake3, &want, buf)
}

/// The file at `to` read back: its `alg` digest must be `want`.
fn check_written(to: &Path, alg: Algorithm, want: &str, buf: &mut [u8]) -> Result<(), Error> {
    let file = crate::fs::open_file(to)?;
    let back =
        hash_reader(file.take(u64::MAX), &[alg], buf).map_err(|e| Error::io("read back", to, e))?;
    if !back
        .get(alg)
        .is_some_and(|d| d.to_hex().eq_ignore_ascii_case(want))
    {
        return Err(Error::VerifyFailed {
            path: to.to_path_buf(),
            detail: "the file written does not read back with the digest it was written with"
                .into(),
        });
    }
    Ok(())
}

/// Publishes a staged new object, already durable: renamed to its object root (whose
/// parent folders are created), which must not exist.
fn publish_object(staged: &Path, object_root: &Path) -> Result<(), Error> {
    if let Some(parent) = object_root.parent() {
        crate::fs::create_dir_all(parent)?;
    }
    crate::fs::failpoint::hit("ocfl-object-before-publish");
    rename_no_replace(staged, object_root)
}

/// Publishes a staged version folder `vN` of an existing object, already durable:
/// renamed into the object root, then the object root's inventory and sidecar replaced
/// by its own (each atomically).
fn publish_version(staged: &Path, object_root: &Path, num: VersionNum) -> Result<(), Error> {
    let target = object_root.join(num.to_string());
    crate::fs::failpoint::hit("ocfl-version-before-publish");
    rename_no_replace(staged, &target)?;
    crate::fs::failpoint::hit("ocfl-version-after-move");
    let (bytes, sidecar) = read_checked_inventory(&target)?;
    write_atomic_if_changed(&object_root.join(ocfl::INVENTORY), &bytes)?;
    write_atomic_if_changed(
        &object_root.join(ocfl::INVENTORY_SIDECAR),
        sidecar.as_bytes(),
    )
}
