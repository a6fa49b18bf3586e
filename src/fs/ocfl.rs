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

/// The marker of an OCFL replica (`[[replica]] kind = "ocfl"`): in a storage root
/// extension folder of its own, as a storage root holds no other folder than object
/// roots and `extensions/` (a root holding it counts as new for `open_root`).
pub const MARKER_KEY: &str = "extensions/cairn-replica/replica.json";
const MARKER_EXTENSION: &str = "cairn-replica";

/// Whether the folder holds nothing, or nothing but an OCFL replica's marker
/// extension (`replicate --init` marks the folder before the first export).
fn holds_nothing_but_marker(path: &Path) -> Result<bool, Error> {
    let names = |dir: &Path| -> Result<Vec<String>, Error> {
        Ok(crate::fs::list_dir(dir)?
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    };
    let top = names(path)?;
    if top.is_empty() {
        return Ok(true);
    }
    if top != ["extensions"] {
        return Ok(false);
    }
    let ext = path.join("extensions");
    Ok(ext.is_dir() && names(&ext)? == [MARKER_EXTENSION])
}

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
        Ok(_) => holds_nothing_but_marker(path)?,
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

/// The layout an existing storage root declares, `None` when `path` is no OCFL root
/// (read only: nothing is created or locked).
pub fn read_layout(path: &Path) -> Result<Option<Layout>, Error> {
    let declared = crate::fs::read_if_present(&path.join(ocfl::ROOT_DECLARATION.0))?;
    if declared.as_deref() != Some(ocfl::ROOT_DECLARATION.1.as_bytes()) {
        return Ok(None);
    }
    let named = crate::fs::read_if_present(&path.join("ocfl_layout.json"))?.unwrap_or_default();
    Ok(Layout::declared_in(&named))
}

/// One thing out of place in an object ([`check_object`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDamage {
    /// The file, relative to the object root (`v2/content/data/p3.txt`).
    pub path: String,
    /// `missing`, `changed` (another digest than the inventory's or the sidecar's),
    /// `unreadable` (an inventory that does not parse, a content path that escapes), or
    /// `unexpected` (a content file the manifest does not list).
    pub kind: &'static str,
    /// The sha512 the inventory records for a content file.
    pub sha512: Option<String>,
    pub detail: String,
}

/// What [`check_object`] read.
#[derive(Debug, Clone, Default)]
pub struct ObjectCheck {
    /// The object's inventory, when it matches its sidecar and parses.
    pub inventory: Option<Inventory>,
    pub files: u64,
    pub bytes: u64,
    pub damage: Vec<ObjectDamage>,
}

/// A content path of an inventory read from a replica, checked before it is used:
/// relative, no empty, `.` or `..` part (a hostile inventory must not reach outside
/// its object).
pub fn safe_content_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Re-reads the object at `object_root` without changing it: the root inventory and
/// each version's against their sidecars, and every content file of the manifest
/// against its sha512. `None` when there is no object there.
pub fn check_object(object_root: &Path, buf: &mut [u8]) -> Result<Option<ObjectCheck>, Error> {
    if !crate::fs::entry_exists(object_root) {
        return Ok(None);
    }
    let mut out = ObjectCheck::default();
    let inventory_damage = |dir: &str, kind, detail: String| ObjectDamage {
        path: if dir.is_empty() {
            ocfl::INVENTORY.to_string()
        } else {
            format!("{dir}/{}", ocfl::INVENTORY)
        },
        kind,
        sha512: None,
        detail,
    };
    let root_inv = match checked_inventory(object_root)? {
        Ok(bytes) => match Inventory::parse(&bytes) {
            Ok(inv) => Some(inv),
            Err(p) => {
                out.damage
                    .push(inventory_damage("", "unreadable", p.to_string()));
                None
            }
        },
        Err((kind, detail)) => {
            out.damage.push(inventory_damage("", kind, detail));
            None
        }
    };
    // Each version's own inventory: the root's, when that one is damaged.
    let mut inv = root_inv;
    let mut versions: Vec<VersionNum> = crate::fs::list_dir(object_root)?
        .into_iter()
        .filter_map(|p| VersionNum::parse(&p.file_name()?.to_string_lossy()))
        .collect();
    versions.sort();
    for v in &versions {
        let dir = object_root.join(v.to_string());
        match checked_inventory(&dir)? {
            Ok(bytes) => {
                if inv.is_none() && Some(v) == versions.last() {
                    inv = Inventory::parse(&bytes).ok();
                }
            }
            Err((kind, detail)) => {
                out.damage
                    .push(inventory_damage(&v.to_string(), kind, detail));
            }
        }
    }
    let Some(inv) = inv else {
        return Ok(Some(out));
    };
    for (digest, paths) in &inv.manifest {
        for content in paths {
            if !safe_content_path(content) {
                out.damage.push(ObjectDamage {
                    path: content.clone(),
                    kind: "unreadable",
                    sha512: Some(digest.clone()),
                    detail: "the inventory names a content path outside the object".into(),
                });
                continue;
            }
            let path = object_root.join(content);
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    out.damage.push(ObjectDamage {
                        path: content.clone(),
                        kind: "missing",
                        sha512: Some(digest.clone()),
                        detail: "not in the object".into(),
                    });
                    continue;
                }
                Err(e) => return Err(Error::io("open", &path, e)),
            };
            let got = hash_reader(file, &[Algorithm::Sha512], buf)
                .map_err(|e| Error::io("read", &path, e))?;
            out.files += 1;
            out.bytes += got.len;
            let have = got
                .get(Algorithm::Sha512)
                .map(Digest::to_hex)
                .unwrap_or_default();
            if !have.eq_ignore_ascii_case(digest) {
                out.damage.push(ObjectDamage {
                    path: content.clone(),
                    kind: "changed",
                    sha512: Some(digest.clone()),
                    detail: format!("its sha512 is {have}, not {digest} as the inventory records"),
                });
            }
        }
    }
    out.damage
        .extend(unlisted_content(object_root, &versions, &inv)?);
    out.inventory = Some(inv);
    Ok(Some(out))
}

/// Files in the versions' content folders that the inventory's manifest does not list:
/// no OCFL reader sees them, so each is a finding (`unexpected`), never data.
fn unlisted_content(
    object_root: &Path,
    versions: &[VersionNum],
    inv: &Inventory,
) -> Result<Vec<ObjectDamage>, Error> {
    let listed: std::collections::BTreeSet<&str> = inv
        .manifest
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut out = Vec::new();
    for v in versions {
        let content = object_root.join(v.to_string()).join(ocfl::CONTENT_DIR);
        if !crate::fs::entry_exists(&content) {
            continue;
        }
        let walk = walkdir::WalkDir::new(&content)
            .follow_links(false)
            .sort_by_file_name();
        for entry in walk {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(&content).to_path_buf();
                Error::io("list", path, std::io::Error::other(e.to_string()))
            })?;
            if entry.file_type().is_dir() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(object_root) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            if listed.contains(rel.as_str()) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(ObjectDamage {
                path: rel,
                kind: "unexpected",
                sha512: None,
                detail: format!(
                    "{size} bytes in the object's content that its inventory does not list"
                ),
            });
        }
    }
    Ok(out)
}

/// A folder's inventory.json bytes when they match its sidecar; else what is wrong.
#[allow(clippy::type_complexity)]
fn checked_inventory(dir: &Path) -> Result<Result<Vec<u8>, (&'static str, String)>, Error> {
    let Some(bytes) = crate::fs::read_if_present(&dir.join(ocfl::INVENTORY))? else {
        return Ok(Err(("missing", "no inventory.json".into())));
    };
    let Some(sidecar) = crate::fs::read_if_present(&dir.join(ocfl::INVENTORY_SIDECAR))? else {
        return Ok(Err(("missing", "no inventory.json.sha512 sidecar".into())));
    };
    let sidecar = String::from_utf8_lossy(&sidecar);
    let digest = sha512_hex(&bytes);
    if ocfl::sidecar_digest(&sidecar).map(str::to_ascii_lowercase) != Some(digest.clone()) {
        return Ok(Err((
            "changed",
            format!("inventory.json's sha512 is {digest}, not the one its sidecar names"),
        )));
    }
    Ok(Ok(bytes))
}

/// Rewrites the content file `content` (relative to `object_root`, checked with
/// [`safe_content_path`]) with good bytes: written beside it under a temporary name,
/// hashed as written, made durable, read back, then renamed over the damaged one and
/// the folder synced. `write` produces the bytes into the writer; the file's sha512
/// must be `sha512`, else nothing is replaced.
pub fn replace_content(
    object_root: &Path,
    content: &str,
    sha512: &str,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<(), Error>,
    buf: &mut [u8],
) -> Result<(), Error> {
    if !safe_content_path(content) {
        return Err(Error::Corrupt {
            path: object_root.to_path_buf(),
            detail: format!("the inventory names a content path outside the object: {content}"),
        });
    }
    let target = object_root.join(content);
    let parent = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| object_root.to_path_buf());
    crate::fs::create_dir_all(&parent)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!(".{name}.cairn-repair"));
    crate::fs::remove_file_quietly(&temp);
    {
        let file = crate::fs::create_new_file(&temp)?;
        let mut w = std::io::BufWriter::new(file);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io("write", &temp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("sync", &temp, e))?;
    }
    if let Err(e) = check_written(&temp, Algorithm::Sha512, sha512, buf) {
        crate::fs::remove_file_quietly(&temp);
        return Err(e);
    }
    std::fs::rename(&temp, &target).map_err(|e| Error::io("rename", &temp, e))?;
    sync_dir(&parent)
}

/// What [`materialize`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Materialized {
    pub files: u64,
    pub bytes: u64,
}

/// An object's inventory, checked against its sidecar and parsed; an error naming the
/// object otherwise (a restore reads nothing it cannot trust).
fn trusted_inventory(object_root: &Path) -> Result<Inventory, Error> {
    let bad = |detail: String| {
        Error::Corrupt {
        path: object_root.to_path_buf(),
        detail: format!("{detail}: `cairn fixity --replica` and `cairn repair` on the archive that wrote it, or restore from another replica"),
    }
    };
    match checked_inventory(object_root)? {
        Ok(bytes) => Inventory::parse(&bytes).map_err(|p| bad(p.to_string())),
        Err((_, detail)) => Err(bad(detail)),
    }
}

/// Writes into the new folder `dest` the archive an OCFL replica's storage root `root`
/// holds, laid out as a replica of kind `files` (the archive root's paths): every file
/// of the head version of the archive's object `archive_object` by its logical path,
/// except `payload_index`, whose lines (`{"key", "id", "sha512"}`) say where each
/// payload file is: the content of that sha512 in item `id`'s object. The replica's
/// marker goes to `marker_to`. Every file is hashed as it is copied and read back; every
/// path from the root is checked to stay inside its object and inside `dest`.
pub fn materialize(
    root: &Path,
    archive_object: &str,
    payload_index: &str,
    marker_to: &str,
    dest: &Path,
    buf: &mut [u8],
) -> Result<Materialized, Error> {
    let Some(layout) = read_layout(root)? else {
        return Err(Error::Corrupt {
            path: root.to_path_buf(),
            detail: "not an OCFL storage root in a layout Cairn writes".into(),
        });
    };
    let mut out = Materialized::default();
    let outside = |path: &Path, what: &str| Error::Corrupt {
        path: path.to_path_buf(),
        detail: format!("the inventory names a path outside its object or the archive: {what}"),
    };
    let mut copy = |object_root: &Path,
                    inv: &Inventory,
                    sha512: &str,
                    key: &str,
                    out: &mut Materialized|
     -> Result<(), Error> {
        let content = inv
            .manifest
            .get(&sha512.to_ascii_lowercase())
            .and_then(|p| p.first())
            .ok_or_else(|| Error::Corrupt {
                path: object_root.to_path_buf(),
                detail: format!("no content with sha512 {sha512} (for {key}) in the object: replicate again from the archive"),
            })?;
        if !safe_content_path(content) {
            return Err(outside(object_root, content));
        }
        if !safe_content_path(key) {
            return Err(outside(object_root, key));
        }
        // Hashed where it is, then hard-linked (the layout is read, never written
        // through; the restore from it checks every file against its register entry
        // again), or copied and read back when the link cannot be made.
        let from = object_root.join(content);
        let file = match std::fs::File::open(&from) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Corrupt {
                    path: from,
                    detail: format!("the replica's copy of {key} is missing: nothing was restored"),
                })
            }
            Err(e) => return Err(Error::io("open", &from, e)),
        };
        let got = hash_reader(file, &[Algorithm::Sha512], buf)
            .map_err(|e| Error::io("read", &from, e))?;
        if !got
            .get(Algorithm::Sha512)
            .is_some_and(|d| d.to_hex().eq_ignore_ascii_case(sha512))
        {
            return Err(Error::Corrupt {
                path: from,
                detail: format!("the replica's copy of {key} does not have the sha512 its inventory records ({sha512}): nothing was restored; `cairn fixity --replica` and `cairn repair` where the archive still exists, or restore from another replica"),
            });
        }
        let to = dest.join(key);
        if let Some(parent) = to.parent() {
            crate::fs::create_dir_all(parent)?;
        }
        if crate::fs::hard_link(&from, &to).is_err() {
            copy_checked(&from, &to, sha512, None, buf)?;
        }
        let c = Copied { bytes: got.len };
        out.files += 1;
        out.bytes += c.bytes;
        Ok(())
    };
    let archive_root = root.join(layout.object_path(archive_object));
    let inv = trusted_inventory(&archive_root)?;
    let mut index = None;
    for (logical, sha512) in inv.state_of(inv.head.0) {
        if logical == payload_index {
            let content = inv.manifest.get(&sha512).and_then(|p| p.first());
            let Some(content) = content.filter(|c| safe_content_path(c)) else {
                return Err(outside(&archive_root, payload_index));
            };
            let bytes = crate::fs::read_file(&archive_root.join(content))?;
            if sha512_hex(&bytes) != sha512 {
                return Err(Error::Corrupt {
                    path: archive_root.join(content),
                    detail: "its sha512 is not the inventory's".into(),
                });
            }
            index = Some(bytes);
            continue;
        }
        copy(&archive_root, &inv, &sha512, &logical, &mut out)?;
    }
    let marker = crate::fs::read_file(&root.join(MARKER_KEY))?;
    if let Some(parent) = dest.join(marker_to).parent() {
        crate::fs::create_dir_all(parent)?;
    }
    crate::fs::write_file(&dest.join(marker_to), &marker)?;
    #[derive(serde::Deserialize)]
    struct Line {
        key: String,
        id: String,
        sha512: String,
    }
    let mut objects: std::collections::BTreeMap<String, Inventory> = Default::default();
    for line in index.unwrap_or_default().split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let l: Line = serde_json::from_slice(line).map_err(|e| Error::Corrupt {
            path: archive_root.clone(),
            detail: format!("{payload_index}: not an index line: {e}"),
        })?;
        let object_root = root.join(layout.object_path(&l.id));
        if !objects.contains_key(&l.id) {
            objects.insert(l.id.clone(), trusted_inventory(&object_root)?);
        }
        if let Some(inv) = objects.get(&l.id) {
            copy(&object_root, inv, &l.sha512, &l.key, &mut out)?;
        }
    }
    Ok(out)
}
