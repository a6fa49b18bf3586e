//! The archive on disk: its layout (cairn.toml, intake/, archive/, manifests/), the
//! archive lock, and item identifiers.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::config::{Config, Env, Source, CONFIG_FILE};
use crate::error::Error;
use crate::fs::durable::{sync_dir, write_new};
use crate::fs::events::{Appended, NewEvent};
use crate::fs::log_lock::LogLock;
use crate::fs::tlog_store::LogTree;

use crate::fs::layout::{self, ARCHIVE_DIR, INTAKE_DIR, MANIFESTS_DIR};
pub use crate::fs::layout::{identifier_to_folder, reserved_identifier, RESERVED_IDENTIFIERS};
pub use crate::fs::layout::{EVENTS_FILE, FIXITY_LOCK_FILE, LOCK_FILE, LOG_LOCK_FILE, STAGING_DIR};

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

    /// The archive's cairn.toml read ([`Archive::read_config`]) and loaded with the
    /// variables of `env` laid over it ([`Config::load`]): its path, the configuration,
    /// and where each setting came from.
    pub fn load_config(root: &Path, env: &Env) -> Result<(PathBuf, Config, Vec<Source>), Error> {
        let (path, text) = Archive::read_config(root)?;
        let (config, sources) = Config::load(&text, &path, env)?;
        Ok((path, config, sources))
    }

    /// Opens the archive whose cairn.toml is in `root`, as the file says: no
    /// environment variable has any say (a library caller's archive, or the one
    /// `restore` has just built, which no variable may point elsewhere).
    pub fn open(root: &Path) -> Result<Archive, Error> {
        Archive::open_with(root, &Env::empty())
    }

    /// [`Archive::open`] with the `CAIRN_*` overrides of `env` laid over cairn.toml
    /// (the CLI passes the process's, [`Env::from_process`]).
    pub fn open_with(root: &Path, env: &Env) -> Result<Archive, Error> {
        let (_, config, _) = Archive::load_config(root, env)?;
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
        for name in [INTAKE_DIR, ARCHIVE_DIR, MANIFESTS_DIR] {
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
        layout::staging_dir(&self.bags)
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
        let dir = layout::versions_dir(&self.bags, id);
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
        layout::register_file(&self.manifests, id)
    }

    pub fn events_path(&self) -> PathBuf {
        layout::events_file(&self.manifests)
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
            if let Some(id) = entry.file_name().to_str().and_then(layout::entry_id) {
                ids.push((id.to_string(), entry.ino()));
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
    /// for the length of one append or read), then brings the log's two caches up to
    /// date: its Merkle tree and its index by item.
    pub fn append_events(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        events: &[NewEvent],
    ) -> Result<Vec<crate::fs::events::Event>, Error> {
        let _guard = self.log_lock()?;
        let lock = LogLock::held();
        let appended =
            crate::fs::events::append(&self.events_path(), &lock, &LogTree, now, events)?;
        self.update_tree(&lock, &appended);
        self.update_index();
        crate::fs::failpoint::hit("log-before-item-index");
        self.update_item_index();
        Ok(appended.events)
    }

    /// The caches beside the log, once appended lines are durable. The Merkle tree
    /// (fs::tlog_store) and the index by object (fs::events_index) are both rebuilt
    /// from the log whenever they disagree with it, so failing to update either fails
    /// nothing: the next append, `show` or `cairn checkpoint` catches it up.
    fn update_tree(&self, lock: &LogLock, appended: &Appended) {
        let log = self.events_path();
        if let Err(e) =
            crate::fs::tlog_store::record_append(&log, lock, appended.before, &appended.lines())
        {
            tracing::warn!(error = %e, "could not update the event log's Merkle tree; the next append or `cairn checkpoint` rebuilds it");
        }
    }

    /// See [`Archive::update_tree`].
    fn update_index(&self) {
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
        let lock = LogLock::held();
        let repaired = crate::fs::events::repair_torn_tail(&log, &lock, &LogTree, now)?;
        if let Some(appended) = &repaired {
            self.update_tree(&lock, appended);
        }
        if let Some(why) = crate::fs::tlog_store::check_read_only(&log)? {
            return Err(crate::fs::tlog_store::refusal(&log, &why));
        }
        Ok(repaired.and_then(|a| a.events.into_iter().next()).map(|e| {
            self.update_index();
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
    pub(crate) fn log_lock_for_index(&self) -> Result<File, Error> {
        self.log_lock()
    }

    fn log_lock(&self) -> Result<File, Error> {
        crate::fs::log_lock::wait_exclusive(&self.manifests.join(LOG_LOCK_FILE))
    }

    /// Reads and checks the whole event log, under a shared log lock when one exists
    /// (so no append is half-read). Writes nothing. O(events) memory: every event is
    /// held; [`Archive::fold_events_brief`] streams instead.
    pub fn read_all_events(&self) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::read_log(&self.events_path())
    }

    /// The chain check alone (fs::events::check_log_links), under a shared log lock:
    /// the log read a window at a time, nothing of it held.
    pub fn check_event_links(&self) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::check_log_links(&self.events_path())
    }

    /// The event log's complete lines a window at a time, under a shared log lock
    /// (fs::events::fold_log_windows); returns the log's length in bytes.
    pub fn fold_event_windows(&self, each: impl FnMut(&[u8])) -> Result<u64, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::fold_log_windows(&self.events_path(), each)
    }

    /// [`Archive::read_all_events`] without holding the log or its events: each
    /// event's brief is handed to `each` in log order (fs::events::fold_log_brief), up
    /// to the first broken link; memory stays two parts of the log (about 8 MiB each).
    pub fn fold_events_brief(
        &self,
        each: impl FnMut(crate::fs::events::EventBrief),
    ) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::fold_log_brief(&self.events_path(), each)
    }

    /// [`Archive::read_all_events`] keeping only each event's [`EventNotes`] (its brief,
    /// its data's `register_blake3` and `change`), handed to `each` in log order up to
    /// the first broken link (fs::events::fold_log_notes); memory two parts of the log.
    ///
    /// [`EventNotes`]: crate::fs::events::EventNotes
    pub fn fold_events_notes(
        &self,
        each: impl FnMut(crate::fs::events::EventNotes),
    ) -> Result<crate::fs::events::ChainReport, Error> {
        let _guard = self.shared_log_lock()?;
        crate::fs::events::fold_log_notes(&self.events_path(), each)
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
        crate::fs::log_lock::wait_shared(&self.manifests.join(name))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_environment_handed_in_has_a_say() {
        let dir = tempfile::tempdir().unwrap();
        Archive::init(dir.path()).unwrap();
        let env = Env::from_pairs([("CAIRN_FIXITY_INTERVAL_DAYS", "7")]);
        let with = Archive::open_with(dir.path(), &env).unwrap();
        assert_eq!(with.config.fixity.interval_days, 7);
        let (_, _, sources) = Archive::load_config(dir.path(), &env).unwrap();
        assert!(sources.contains(&Source::Env));
        // Whatever the process's environment holds, `open` reads the file alone.
        let plain = Archive::open(dir.path()).unwrap();
        assert_eq!(
            plain.config.fixity.interval_days,
            Config::default().fixity.interval_days
        );
    }
}
