//! Web accounts: `cairn user add|passwd|remove|list` and the checks `cairn serve`
//! makes at login. Passwords are hashed with Argon2id at OWASP's recommended
//! parameters (19 MiB of memory, 2 passes, 1 lane; the Password Storage Cheat Sheet),
//! a fresh 16-byte salt each time, stored as a PHC string in users.json beside
//! cairn.toml ([`crate::fs::users`]). A password is never written anywhere else, never
//! logged, never taken on the command line.

use std::fmt;
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::Serialize;

use crate::error::Error;
use crate::fs::users::{lock_users, read_users, users_path, write_users, StoredUser};

/// Argon2id memory cost, KiB (OWASP: 19 MiB).
pub const ARGON2_M_KIB: u32 = 19 * 1024;
/// Argon2id passes (OWASP: 2).
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes (OWASP: 1).
pub const ARGON2_P: u32 = 1;
/// The shortest password accepted (ASVS 4.0 2.1.1).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (ASVS 2.1.2 asks that at least 64 be allowed).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The longest account name.
pub const MAX_NAME_LEN: usize = 64;

/// What an account may do in `cairn serve`, each role including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The public web view (what anyone sees).
    Reader,
    /// Also the event log and audit pages.
    Auditor,
    /// Also amend and withdraw.
    Archivist,
    /// Also manage accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Auditor, Role::Archivist, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Auditor => "auditor",
            Role::Archivist => "archivist",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One account, as `user list` shows it (no hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub changed: String,
}

/// An account name: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, starting with a
/// letter or digit. It names the person as the agent of their events (PREMIS), so it
/// stays plain.
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{}: an account name is 1 to {MAX_NAME_LEN} ASCII letters, digits, '.', '_' or '-', starting with a letter or digit",
            crate::quoted(name)
        )))
    }
}

/// The password policy: 12 to 128 characters, anything else allowed (spaces and any
/// script included; ASVS 2.1.4), not all the same character, not the account name.
pub fn check_password(name: &str, password: &str) -> Result<(), Error> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::Usage(format!(
            "the password has {n} characters; give at least {MIN_PASSWORD_CHARS} (a phrase of several words is easiest to remember)"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::Usage(format!(
            "the password has {n} characters; give at most {MAX_PASSWORD_CHARS}"
        )));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) || password.eq_ignore_ascii_case(name) {
        return Err(Error::Usage(
            "the password is too easy to guess (one repeated character, or the account name)"
                .into(),
        ));
    }
    Ok(())
}

fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .map_err(|e| Error::Internal(format!("Argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The Argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::Internal(format!("no random salt from the system: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("Argon2 salt: {e}")))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("Argon2 hashing: {e}")))
}

/// Argon2's working memory (19 MiB a check), kept for the next check rather than
/// freed: glibc would otherwise keep each freed block in the arena of whichever thread
/// ran the check, and a burst of logins on the server's blocking threads left hundreds
/// of MiB resident. The server runs at most [`KEPT_MEMORY`] checks at once
/// (`serve::auth::PASSWORD_CHECKS`), so this holds at most that many blocks.
static MEMORY: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());
/// The most working memories kept.
pub const KEPT_MEMORY: usize = 4;

/// Whether `password` matches the stored PHC string. Only Argon2id hashes at the
/// parameters Cairn writes are accepted (a hand-edited file cannot make every login
/// cost a gigabyte). The result is compared in constant time.
pub fn verify_password(stored: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let expected = expected.as_bytes();
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let Ok(given) = Params::try_from(&parsed) else {
        return false;
    };
    if given.m_cost() > ARGON2_M_KIB * 4 || given.t_cost() > 16 || given.p_cost() > 8 {
        return false;
    }
    let Ok(params) = Params::new(
        given.m_cost(),
        given.t_cost(),
        given.p_cost(),
        Some(expected.len()),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let blocks = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, version, params);
    let mut memory = MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .filter(|m| m.len() >= blocks)
        .unwrap_or_else(|| vec![Block::default(); blocks]);
    let mut out = vec![0u8; expected.len()];
    let done = argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok();
    let mut kept = MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() < KEPT_MEMORY {
        kept.push(memory);
    }
    drop(kept);
    done && out.len() == expected.len()
        && out
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A hash no password matches, verified against when the account does not exist, so
/// that a login for an unknown name costs as long as one for a known name.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut pw = [0u8; 24];
        let _ = getrandom::fill(&mut pw);
        use base64::Engine;
        let pw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pw);
        hash_password(&pw).unwrap_or_default()
    })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `cairn user add NAME --role ROLE`: a new account. Refused when the name is taken.
pub fn add_user(root: &Path, name: &str, role: Role, password: &str) -> Result<(), Error> {
    check_name(name)?;
    check_password(name, password)?;
    let hash = hash_password(password)?;
    let lock = lock_users(root)?;
    let mut file = read_users(root)?;
    if file.users.iter().any(|u| u.name == name) {
        return Err(Error::Usage(format!(
            "{} already has an account; `cairn user passwd` changes its password",
            crate::quoted(name)
        )));
    }
    file.version = 1;
    file.users.push(StoredUser {
        name: name.to_string(),
        role: role.name().to_string(),
        hash,
        changed: now(),
    });
    write_users(root, &file, &lock)
}

/// `cairn user passwd NAME`: a new password (and, if given, a new role). Every session
/// of the account ends (the server compares the hash a session was opened with).
pub fn set_password(
    root: &Path,
    name: &str,
    password: &str,
    role: Option<Role>,
) -> Result<(), Error> {
    check_password(name, password)?;
    let hash = hash_password(password)?;
    let lock = lock_users(root)?;
    let mut file = read_users(root)?;
    let Some(user) = file.users.iter_mut().find(|u| u.name == name) else {
        return Err(no_such_user(root, name));
    };
    user.hash = hash;
    user.changed = now();
    if let Some(r) = role {
        user.role = r.name().to_string();
    }
    write_users(root, &file, &lock)
}

/// `cairn user remove NAME`: the account is gone, and its sessions with it.
pub fn remove_user(root: &Path, name: &str) -> Result<(), Error> {
    let lock = lock_users(root)?;
    let mut file = read_users(root)?;
    let before = file.users.len();
    file.users.retain(|u| u.name != name);
    if file.users.len() == before {
        return Err(no_such_user(root, name));
    }
    write_users(root, &file, &lock)
}

/// `cairn user list`.
pub fn list_users(root: &Path) -> Result<Vec<UserInfo>, Error> {
    let file = read_users(root)?;
    Ok(file
        .users
        .into_iter()
        .map(|u| UserInfo {
            role: Role::parse(&u.role).unwrap_or(Role::Reader),
            name: u.name,
            changed: u.changed,
        })
        .collect())
}

fn no_such_user(root: &Path, name: &str) -> Error {
    Error::Usage(format!(
        "no account is named {} in {}",
        crate::quoted(name),
        users_path(root).display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_at_owasp_parameters_and_verifies() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
        // Same password, fresh salt: another hash.
        assert_ne!(h, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn names_and_passwords() {
        for ok in ["ana", "s.sok", "a_1-b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "../x", "a b", "ana\n", "é", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("ana", "short").is_err());
        assert!(check_password("ana", &"a".repeat(20)).is_err());
        assert!(check_password("ana", &"ab".repeat(65)).is_err());
        assert!(check_password("ana", "ពាក្យសម្ងាត់ វែង ណាស់").is_ok());
    }
}
