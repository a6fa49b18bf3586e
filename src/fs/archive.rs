//! The archive on disk: its layout (cairn.toml, intake/, archive/, manifests/), the
//! archive lock, and item identifiers.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::config::{Config, CONFIG_FILE};
use crate::error::Error;
use crate::fs::durable::{sync_dir, write_new};
use crate::fs::events::LogLock;

/// The folder inside archive/ where bags are built before they are published.
pub const STAGING_DIR: &str = ".staging";
/// The lock file, in manifests/.
pub const LOCK_FILE: &str = ".lock";
/// The event log, in manifests/.
pub const EVENTS_FILE: &str = "events.jsonl";
/// Held (briefly) by every append to the event log, and shared by readers.
pub const LOG_LOCK_FILE: &str = ".events.lock";
/// Held by a fixity run for its whole length, so runs never overlap.
pub const FIXITY_LOCK_FILE: &str = ".fixity.lock";

/// An opened archive.
#[derive(Debug, Clone)]
pub struct Archive {
    pub root: PathBuf,
    pub config: Config,
    pub intake: PathBuf,
    pub bags: PathBuf,
    pub manifests: PathBuf,
}

/// What `cairn init` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InitReport {
    pub root: PathBuf,
    pub config: PathBuf,
    pub created: Vec<PathBuf>,
    /// `archive.name` as written in cairn.toml: the folder's name, fixed from now on.
    pub name: String,
}

impl Archive {
    /// Opens the archive whose cairn.toml is in `root`.
    /// The archive that holds the folder `start`: `start` itself or the nearest folder
    /// above it with a cairn.toml, as git finds its repository (so that a command run
    /// inside archive/ID/ finds the archive). `None` when there is none up to `/`.
    pub fn find_root(start: &Path) -> Option<PathBuf> {
        let start = start.canonicalize().ok()?;
        start
            .ancestors()
            .find(|dir| dir.join(CONFIG_FILE).is_file())
            .map(Path::to_path_buf)
    }

    /// The path and text of the archive's cairn.toml, the one way every command reads
    /// it (`config` and `restore` read it without opening the archive's folders); a
    /// folder without one is "not a Cairn archive", with what to run.
    pub fn read_config(root: &Path) -> Result<(PathBuf, String), Error> {
        let config_path = root.join(CONFIG_FILE);
        match fs::read_to_string(&config_path) {
            Ok(t) => Ok((config_path, t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Config {
                path: config_path,
                line: None,
                detail: "not found: this folder is not a Cairn archive. Run `cairn init` here, or point --root (or CAIRN_ROOT) at the archive".into(),
            }),
            Err(e) => Err(Error::io("read", &config_path, e)),
        }
    }

    pub fn open(root: &Path) -> Result<Archive, Error> {
        Archive::open_with_env(root, &|var| std::env::var(var).ok())
    }

    /// [`Archive::open`] with the `CAIRN_*` overrides read from `env` (`&|_| None`: the
    /// file alone, as `restore` opens the archive it has just built, which no variable
    /// may point elsewhere).
    pub fn open_with_env(
        root: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Archive, Error> {
        let (config_path, text) = Archive::read_config(root)?;
        let config = Config::parse_with_env(&text, &config_path, env)?;
        let at = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                root.join(p)
            }
        };
        let archive = Archive {
            root: root.to_path_buf(),
            intake: at(&config.archive.intake),
            bags: at(&config.archive.archive),
            manifests: at(&config.archive.manifests),
            config,
        };
        for dir in [&archive.bags, &archive.manifests] {
            if !dir.is_dir() {
                return Err(Error::Config {
                    path: archive.root.join(CONFIG_FILE),
                    line: None,
                    detail: format!(
                        "the folder {} does not exist; create it or fix the path",
                        dir.display()
                    ),
                });
            }
        }
        Ok(archive)
    }

    /// Creates cairn.toml and the three working folders in `root`. Refuses to
    /// overwrite an existing configuration; existing folders are kept as they are.
    pub fn init(root: &Path) -> Result<InitReport, Error> {
        fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
        let config = root.join(CONFIG_FILE);
        if config.exists() {
            return Err(Error::AlreadyExists { path: config });
        }
        let mut created = Vec::new();
        for name in ["intake", "archive", "manifests"] {
            let dir = root.join(name);
            if !dir.exists() {
                fs::create_dir(&dir).map_err(|e| Error::io("create", &dir, e))?;
                created.push(dir);
            }
        }
        // The name is fixed now, so that a moved or restored archive keeps the name
        // its checkpoints carry (docs/auditing.md).
        let folder = fs::canonicalize(root)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let name = crate::config::name_from_folder(&folder);
        let text =
            crate::config::with_archive_name(Config::template(), &name).ok_or_else(|| {
                Error::Internal(format!(
                    "the configuration template cannot take the archive name {}",
                    crate::quoted(&name)
                ))
            })?;
        write_new(&config, text.as_bytes())?;
        sync_dir(root)?;
        Ok(InitReport {
            root: root.to_path_buf(),
            config,
            created,
            name,
        })
    }

    pub fn staging(&self) -> PathBuf {
        self.bags.join(STAGING_DIR)
    }

    /// Creates the empty staging folder archive/.staging/ID (and archive/.staging when
    /// it is missing, made durable in archive/). The folder is new: an existing one is
    /// an error, never reused.
    pub fn create_staging(&self, id: &str) -> Result<PathBuf, Error> {
        let staging_root = self.staging();
        if !staging_root.exists() {
            fs::create_dir(&staging_root).map_err(|e| Error::io("create", &staging_root, e))?;
            sync_dir(&self.bags)?;
        }
        let staged = staging_root.join(id);
        fs::create_dir(&staged).map_err(|e| Error::io("create staging folder", &staged, e))?;
        Ok(staged)
    }

    /// Deletes a staged folder whose change is complete, and fsyncs archive/.staging.
    pub fn remove_staged(&self, staged: &Path) -> Result<(), Error> {
        fs::remove_dir_all(staged).map_err(|e| Error::io("remove", staged, e))?;
        sync_dir(&self.staging())
    }

    /// Deletes a staged folder that will not be published, as well as it can: whatever
    /// is left is removed by the next run's recovery.
    pub fn discard_staged(&self, staged: &Path) {
        let _ = fs::remove_dir_all(staged);
    }

    /// Deletes everything in archive/.staging (left by an interrupted run; only called
    /// with the archive lock held) and returns what it deleted.
    pub fn clear_staging(&self) -> Result<Vec<PathBuf>, Error> {
        let staging = self.staging();
        let mut removed = Vec::new();
        if staging.exists() {
            for entry in
                fs::read_dir(&staging).map_err(|e| Error::io("read folder", &staging, e))?
            {
                let entry = entry.map_err(|e| Error::io("read folder", &staging, e))?;
                let p = entry.path();
                fs::remove_dir_all(&p)
                    .or_else(|_| fs::remove_file(&p))
                    .map_err(|e| Error::io("remove stale staging", &p, e))?;
                removed.push(p);
            }
            sync_dir(&staging)?;
        }
        Ok(removed)
    }

    pub fn bag_path(&self, id: &str) -> PathBuf {
        self.bags.join(id)
    }

    /// Every retained bag folder of the item `id`, oldest version first, the current
    /// one (archive/ID) last: archive/.versions/ID/NNNNNN for each earlier version kept
    /// by `cairn revise` (docs/lifecycle.md). Versions are complete bags, unchanged
    /// files hard-linked between them. What fixity and audit check, and what a replica
    /// copies; only folders that exist are listed.
    pub fn retained_bags(&self, id: &str) -> Result<Vec<(u32, PathBuf)>, Error> {
        let mut out = self.earlier_bags(id)?;
        let current = self.bag_path(id);
        if current.is_dir() {
            let v = crate::fs::register::RegisterEntry::read(&self.register_path(id))
                .map(|e| e.version)
                .unwrap_or_else(|_| out.last().map_or(1, |(v, _)| v + 1));
            out.push((v, current));
        }
        Ok(out)
    }

    /// The retained earlier versions of `id` alone (archive/.versions/ID/NNNNNN), oldest
    /// first: one folder read, and no register entry read (fixity and audit check these
    /// beside the current bag, whose entry they have already read).
    pub fn earlier_bags(&self, id: &str) -> Result<Vec<(u32, PathBuf)>, Error> {
        let dir = self.bags.join(crate::fs::lifecycle::VERSIONS_DIR).join(id);
        let mut out: Vec<(u32, PathBuf)> = Vec::new();
        match fs::read_dir(&dir) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(|e| Error::io("read folder", &dir, e))?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    if let Ok(v) = name.parse::<u32>() {
                        // A symbolic link in a version's place is listed too, so that
                        // the checks refuse it by name (fs::dir::bag_folder_refusal)
                        // rather than pass over a version that silently vanished.
                        if e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink()) {
                            out.push((v, e.path()));
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read folder", &dir, e)),
        }
        out.sort();
        Ok(out)
    }

    pub fn register_path(&self, id: &str) -> PathBuf {
        self.manifests.join(format!("{id}.json"))
    }

    pub fn events_path(&self) -> PathBuf {
        self.manifests.join(EVENTS_FILE)
    }

    /// The identifiers of the bags in archive/ (folders not starting with a dot).
    pub fn bag_ids(&self) -> Result<Vec<String>, Error> {
        let mut ids = Vec::new();
        for entry in
            fs::read_dir(&self.bags).map_err(|e| Error::io("read folder", &self.bags, e))?
        {
            let entry = entry.map_err(|e| Error::io("read folder", &self.bags, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The identifiers that have a register entry in manifests/.
    pub fn register_ids(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .register_ids_with_inodes()?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// [`Archive::register_ids`], each with the inode number of its entry file as the
    /// folder listing gives it (no stat): an entry replaced by a new version (written
    /// to a new file, renamed into place) has a new one.
    pub fn register_ids_with_inodes(&self) -> Result<Vec<(String, u64)>, Error> {
        use std::os::unix::fs::DirEntryExt;
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.manifests)
            .map_err(|e| Error::io("read folder", &self.manifests, e))?
        {
            let entry = entry.map_err(|e| Error::io("read folder", &self.manifests, e))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
            {
                if !id.starts_with('.') {
                    ids.push((id.to_string(), entry.ino()));
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// For a dry run: waits for nothing and writes nothing. If the lock file exists, it
    /// is opened read-only and a shared lock is taken, which fails while a real run
    /// holds the exclusive one; if it does not exist, no Cairn has ever written here.
    pub fn lock_shared(&self) -> Result<Option<File>, Error> {
        let path = self.manifests.join(LOCK_FILE);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open lock file", &path, e)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Err(Error::Locked {
                    path,
                    holder: holder.trim().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
        }
    }

    /// Waits for a shared hold on the archive lock. Ingest and import hold it
    /// exclusively while they commit, so a reader that holds it (audit) never sees an
    /// item half-committed: a bag without its register entry, an entry without events.
    pub fn wait_shared(&self) -> Result<Option<File>, Error> {
        self.wait_shared_on(LOCK_FILE)
    }

    /// Whether an ingest or import is committing right now (holds the archive lock).
    pub fn commit_in_progress(&self) -> bool {
        matches!(self.lock_shared(), Err(Error::Locked { .. }))
    }

    /// The event log's bytes, read under the shared log lock (no append half-read).
    /// O(events) memory: the whole log is held.
    pub fn read_all_events_bytes(&self) -> Result<Vec<u8>, Error> {
        let _guard = self.shared_log_lock()?;
        match std::fs::read(self.events_path()) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("read", self.events_path(), e)),
        }
    }

    /// Takes the archive lock (held by ingest for its whole run) without waiting.
    /// Held until the returned guard drops, or the process dies: the kernel releases
    /// flock locks of dead processes, so a crash never leaves the archive locked.
    pub fn lock(&self, command: &str) -> Result<ArchiveLock, Error> {
        self.try_lock_file(LOCK_FILE, command)
    }

    /// Takes the fixity lock without waiting: a second fixity run (cron firing while
    /// the last run still goes) fails at once instead of piling up.
    pub fn lock_fixity(&self) -> Result<ArchiveLock, Error> {
        self.try_lock_file(FIXITY_LOCK_FILE, "fixity")
    }

    /// Appends events to the log under the log lock (waited for: it is only ever held
    /// for the length of one append or read).
    pub fn append_events(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        events: &[crate::fs::events::NewEvent],
    ) -> Result<Vec<crate::fs::events::Event>, Error> {
        let _guard = self.log_lock()?;
        let written =
            crate::fs::events::append(&self.events_path(), &LogLock::held(), now, events)?;
        self.update_events_index();
        Ok(written)
    }

    /// The index by object is a cache (fs::events_index): failing to update it fails
    /// nothing, the next `show` catches it up or rebuilds it.
    fn update_events_index(&self) {
        if let Err(e) = crate::fs::events_index::update_if_present(&self.events_path()) {
            tracing::warn!(error = %e, "could not update the event log's index");
        }
    }

    /// Cuts off an incomplete last line of the log (a write cut short by a full disk or
    /// a crash, never acknowledged) and logs a `log repair` event carrying its bytes
    /// (fs::events::repair_torn_tail). Every command that writes calls this first, under
    /// its lock, before it checks the chain: an accident is repaired, not taken for
    /// tampering. Returns what it did, for the command's report.
    ///
    /// It also checks that the Merkle tree ends where the log ends
    /// (fs::tlog_store::check_covers), so that a command refuses a log with lines
    /// Cairn did not write (or without lines it wrote) before it does anything, not
    /// only when it comes to append.
    ///
    /// Writes nothing (not even the log's lock file) unless there is a torn line to cut:
    /// a command that then refuses its input leaves the archive as it was.
    pub fn repair_log(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, Error> {
        let log = self.events_path();
        if !crate::fs::entry_exists(&log) {
            return Ok(None);
        }
        let _guard = self.log_lock()?;
        let repaired = crate::fs::events::repair_torn_tail(&log, &LogLock::held(), now)?;
        if let Some(why) = crate::fs::tlog_store::check_read_only(&log)? {
            return Err(crate::fs::tlog_store::refusal(&log, &why));
        }
        Ok(repaired.map(|e| {
            self.update_events_index();
            format!(
                "repaired the event log: line {} is a `log repair` event; {}",
                e.seq, e.detail
            )
        }))
    }

    /// Every event about item `id`, in log order, read through the event index
    /// (fs::events_index; built on first use, rebuilt whenever it disagrees with the log).
    pub fn events_of(&self, id: &str) -> Result<Vec<crate::fs::events::Event>, Error> {
        let _shared = self.shared_log_lock()?;
        let log = self.events_path();
        crate::fs::events_index::events_of(&log, id, || {
            drop(_shared);
            self.log_lock()
        })
    }

    /// The event log's Merkle tree, brought in step with the log under the log lock
    /// (rebuilt from the log if it is missing or does not end where the log ends).
    /// Reading it after the lock is released is safe: appends only add hashes at the
    /// files' ends, and a rebuild replaces the folder, not the open files.
    pub fn merkle_tree(&self) -> Result<crate::fs::tlog_store::TreeStore, Error> {
        let _guard = self.log_lock()?;
        crate::fs::tlog_store::synced(&self.events_path(), &LogLock::held())
    }

    /// Rebuilds the event log's Merkle tree from the log, under the log lock.
    pub fn rebuild_merkle_tree(&self) -> Result<crate::fs::tlog_store::TreeStore, Error> {
        let _guard = self.log_lock()?;
        let log = self.events_path();
        let dir = crate::fs::tlog_store::tree_dir(&log);
        crate::fs::tlog_store::rebuild(&log, &dir, &LogLock::held())
    }

    /// Takes the log lock, waiting for it; held until the returned file drops.
    fn log_lock(&self) -> Result<File, Error> {
        let path = self.manifests.join(LOG_LOCK_FILE);
        let guard = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        guard.lock().map_err(|e| Error::io("lock", &path, e))?;
        Ok(guard)
    }

    /// Reads and checks the whole event log, under a shared log lock when one exists
    /// (so no append is half-read). Writes nothing. O(events) memory: every event is
    /// held; [`Archive::fold_events_brief`] streams instead.
    pub fn read_all_events(&self) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::read_log(&self.events_path())
    }

    /// [`Archive::read_all_events`] without holding the log or its events: each
    /// event's brief is handed to `each` in log order (fs::events::fold_log_brief), up
    /// to the first broken link; memory stays one part of the log (about 8 MiB).
    pub fn fold_events_brief(
        &self,
        each: impl FnMut(crate::fs::events::EventBrief),
    ) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::fold_log_brief(&self.events_path(), each)
    }

    /// [`Archive::fold_events_brief`] for an audit: each event's brief and recorded
    /// tag-manifest digests, with its line's digest (fs::events::fold_log_audit).
    pub fn fold_events_audit(
        &self,
        each: impl FnMut(crate::fs::events::EventAudit, &blake3::Hash),
    ) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::fold_log_audit(&self.events_path(), each)
    }

    /// A shared hold on the log lock when its file exists (no append is then under
    /// way); `None` when no Cairn has ever appended here.
    pub fn shared_log_lock(&self) -> Result<Option<File>, Error> {
        self.wait_shared_on(LOG_LOCK_FILE)
    }

    /// Waits for a shared hold on the lock file `name` in manifests/, if it exists.
    fn wait_shared_on(&self, name: &str) -> Result<Option<File>, Error> {
        let path = self.manifests.join(name);
        match File::open(&path) {
            Ok(f) => {
                f.lock_shared().map_err(|e| Error::io("lock", &path, e))?;
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("open lock file", &path, e)),
        }
    }

    /// The `object` of line `line` (1-based) of the event log, when that line is still
    /// readable JSON: names what a broken link was about.
    pub fn event_object_at(&self, line: usize) -> Option<String> {
        let bytes = self.read_all_events_bytes().ok()?;
        let text = bytes.split(|&c| c == b'\n').nth(line.checked_sub(1)?)?;
        let v: serde_json::Value = serde_json::from_slice(text).ok()?;
        v.get("object")?.as_str().map(str::to_string)
    }

    fn try_lock_file(&self, name: &str, command: &str) -> Result<ArchiveLock, Error> {
        let path = self.manifests.join(name);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path,
                    holder: if holder.is_empty() {
                        "unknown process".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        // Say who holds it, for the message another process prints.
        let who = format!(
            "pid {}, `cairn {command}` since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = file.write_all(who.as_bytes());
        Ok(ArchiveLock { _file: file })
    }
}

/// Proof that a lock is held (released on drop).
#[derive(Debug)]
pub struct ArchiveLock {
    _file: File,
}

/// Turns a dc.identifier into a folder name, or explains why it cannot be one.
///
/// The transformation (docs/identifiers.md): NFC; every run of characters other than
/// ASCII letters, digits, `-`, `_` and `.` becomes one `_`; a leading `.` or `-`
/// becomes `_`; at most 100 bytes. Different identifiers can map to the same name
/// (`S21/001`, `S21:001`); the second is then refused as already in use, never merged.
pub fn identifier_to_folder(identifier: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let nfc: String = identifier.trim().nfc().collect();
    let mut out = String::new();
    let mut in_run = false;
    for c in nfc.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    if out.starts_with(['.', '-']) {
        out.replace_range(..1, "_");
    }
    if out.is_empty() || out.chars().all(|c| c == '_') {
        return Err(format!(
            "dc.identifier {} has no letters or digits to name a folder with",
            crate::quoted(identifier)
        ));
    }
    if out.len() > 100 {
        return Err(format!(
            "dc.identifier {} is longer than 100 characters",
            crate::quoted(identifier)
        ));
    }
    Ok(out)
}

/// Names of the archive's and a replica's own layout that an identifier may not take,
/// compared without regard to case (replicas and other copies may live on file systems
/// that ignore it). An item `ID` is archive/ID, manifests/ID.json,
/// manifests/history/ID/ and manifests/withdrawn/ID.json, on disk and as replica keys;
/// beside them in manifests/ are the event log (events.jsonl), a replica's log head
/// (events.head.json), the history/, withdrawn/, formats/, checkpoints/ and tlog/
/// folders, and in archive/ hidden folders only.
pub const RESERVED_IDENTIFIERS: [&str; 9] = [
    "events",
    "events.head",
    "events.jsonl",
    "history",
    "withdrawn",
    "formats",
    "checkpoints",
    "tlog",
    "cairn.toml",
];

/// Why the folder name `id` may not name an item, if it may not: a name of the
/// layout ([`RESERVED_IDENTIFIERS`], any hidden name, a `tlog.` name, a `~` (staging
/// folders)), or a device name Windows will not create (`CON`, `NUL`, `COM1`, ...),
/// which could not travel to a replica or a copy on such a file system.
pub fn reserved_identifier(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or(&lower);
    let device = matches!(stem, "con" | "prn" | "aux" | "nul")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if id.starts_with('.') || id.contains('~') {
        Some(format!(
            "{} would be a hidden or staging name of the archive's layout",
            crate::quoted(id)
        ))
    } else if RESERVED_IDENTIFIERS.contains(&lower.as_str()) || lower.starts_with("tlog.") {
        Some(format!(
            "{} is reserved: the archive and its replicas use it for their own files (manifests/{lower}...)",
            crate::quoted(id)
        ))
    } else if device {
        Some(format!(
            "{} is a device name on Windows: no file or folder there can have it",
            crate::quoted(id)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_are_reserved() {
        for id in [
            "events.head",
            "EVENTS",
            "history",
            "Withdrawn",
            ".staging",
            "tlog.replaced-1",
            "a~amend",
            "CON",
            "com1.txt",
        ] {
            assert!(reserved_identifier(id).is_some(), "{id}");
        }
        for id in [
            "cairn-000001",
            "events-1977",
            "history_of_s21",
            "console",
            "com10",
        ] {
            assert!(reserved_identifier(id).is_none(), "{id}");
        }
    }

    #[test]
    fn identifiers_become_safe_folder_names() {
        assert_eq!(
            identifier_to_folder("DC-Cam/S21/0001").unwrap(),
            "DC-Cam_S21_0001"
        );
        assert_eq!(
            identifier_to_folder("s21 ::  portrait").unwrap(),
            "s21_portrait"
        );
        assert_eq!(identifier_to_folder("../etc").unwrap(), "_._etc");
        assert_eq!(identifier_to_folder(".hidden").unwrap(), "_hidden");
        assert_eq!(identifier_to_folder("ទួលស្លែង-1").unwrap(), "_-1");
        assert!(identifier_to_folder("ទួលស្លែង").is_err());
        assert!(identifier_to_folder("").is_err());
        assert!(identifier_to_folder(&"x".repeat(101)).is_err());
    }
}
