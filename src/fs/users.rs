//! The web accounts file and the web access log, both beside cairn.toml (never in
//! manifests/, which is copied to every replica: password hashes and who logged in
//! when are not preservation data, and a replica on S3 must not carry them).
//!
//! ```text
//! users.json     accounts: name, role, Argon2id hash (PHC string), when it was set
//! .users.lock    held while the accounts file is changed
//! access.log     one JSON line per login, failed login, lockout and logout
//! ```
//!
//! Both files are created readable by their owner only (mode 0600). The accounts file
//! is replaced atomically ([`crate::fs::durable::write_atomic`]); the access log is
//! appended to.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::durable::write_atomic;
use crate::fs::log_lock::wait_exclusive;

/// The accounts file's name, in the archive root.
pub const USERS_FILE: &str = "users.json";
/// Held while the accounts file is changed, so two `cairn user` runs never lose an edit.
pub const USERS_LOCK_FILE: &str = ".users.lock";
/// The web access log's name, in the archive root.
pub const ACCESS_LOG_FILE: &str = "access.log";
/// The largest accounts file read (a few hundred bytes an account).
const MAX_USERS_FILE: u64 = 4 * 1024 * 1024;

/// One account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUser {
    pub name: String,
    /// `reader`, `auditor`, `archivist` or `admin`.
    pub role: String,
    /// The Argon2id hash as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
    pub hash: String,
    /// When the password was last set (RFC 3339).
    pub changed: String,
}

/// The accounts file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersFile {
    pub version: u32,
    pub users: Vec<StoredUser>,
}

pub fn users_path(root: &Path) -> PathBuf {
    root.join(USERS_FILE)
}

pub fn access_log_path(root: &Path) -> PathBuf {
    root.join(ACCESS_LOG_FILE)
}

/// The accounts in the archive at `root`; none when the file does not exist.
pub fn read_users(root: &Path) -> Result<UsersFile, Error> {
    let path = users_path(root);
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UsersFile::default()),
        Err(e) => return Err(Error::io("open", &path, e)),
    };
    let len = f.metadata().map_err(|e| Error::io("read", &path, e))?.len();
    if len > MAX_USERS_FILE {
        return Err(Error::Corrupt {
            path,
            detail: format!("larger than {MAX_USERS_FILE} bytes; not read"),
        });
    }
    let bytes = crate::fs::read_file(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path,
        detail: format!("not an accounts file ({e}); nothing was changed"),
    })
}

/// Holds the accounts file's lock until dropped.
pub struct UsersLock(#[allow(dead_code)] File);

/// Takes the accounts file's lock, waiting for another `cairn user` run to finish.
pub fn lock_users(root: &Path) -> Result<UsersLock, Error> {
    wait_exclusive(&root.join(USERS_LOCK_FILE)).map(UsersLock)
}

/// Replaces the accounts file (atomically, owner-only). Needs the lock.
pub fn write_users(root: &Path, users: &UsersFile, _lock: &UsersLock) -> Result<(), Error> {
    let path = users_path(root);
    let mut bytes = serde_json::to_vec_pretty(users)
        .map_err(|e| Error::Internal(format!("could not write the accounts file: {e}")))?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io("restrict the permissions of", &path, e))
}

/// Appends one line (a JSON object, no newline) to the access log, creating it
/// owner-only. The caller never passes a password or a session token.
pub fn append_access_log(root: &Path, line: &str) -> Result<(), Error> {
    let path = access_log_path(root);
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    f.write_all(&buf)
        .map_err(|e| Error::io("append to", &path, e))
}
