//! Accounts in `cairn serve` (issue 32): sessions, CSRF tokens, the login rate limits
//! and the access log. Nothing here is on when the archive has no accounts
//! (users.json beside cairn.toml, [`crate::fs::users`]): the server is then exactly
//! the read-only one.
//!
//! - A session is a random 256-bit token in a cookie (`HttpOnly`, `SameSite=Strict`,
//!   `Secure` when the base URL is https://), held in memory only, keyed by its
//!   BLAKE3 hash; a new one at every login (the old one, if sent, is dropped); it ends
//!   at logout, after [`IDLE`] (or `serve --session-idle`) without a request, after [`MAX_AGE`] in any case, when
//!   the server restarts, and when the account's password, role or existence changes
//!   (every request re-reads users.json and compares the hash the session was opened
//!   with).
//! - Every form carries a CSRF token: the session's own (a random 256-bit value), or
//!   on the login form one bound to a short-lived cookie; compared in constant time.
//! - Logins: [`LOCK_AFTER`] wrong passwords in a row lock the account for [`LOCK_FOR`]
//!   (other accounts unaffected; the right password is refused too while locked);
//!   [`ADDRESS_FAILURES`] failures from one address within [`ADDRESS_WINDOW`] refuse
//!   logins from it until the window ends. Both in memory (a restart clears them).
//! - access.log (beside cairn.toml): one JSON line per login, failed login, refusal
//!   and logout, with the time, the account (only when it exists) and the address;
//!   never a password or a token.

pub mod intake;
pub mod pages;
pub mod routes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::fs::users::{append_access_log, read_users, UsersFile};
use crate::ops::users::{decoy_hash, verify_password, Role};

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// ... and this long after login in any case.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 60 * 60);
/// Wrong passwords in a row that lock an account.
pub const LOCK_AFTER: u32 = 20;
/// How long a locked account stays locked.
pub const LOCK_FOR: Duration = Duration::from_secs(15 * 60);
/// Failed logins from one address that refuse further logins from it ...
pub const ADDRESS_FAILURES: u32 = 100;
/// ... within this window.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cairn_session";
/// The login form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "cairn_login";
/// Password checks run at once: each holds Argon2's 19 MiB, so logins sent by the
/// hundred wait their turn rather than take gigabytes.
pub const PASSWORD_CHECKS: usize = 4;
/// The most sessions held (the oldest idle ones go first beyond it).
const MAX_SESSIONS: usize = 10_000;
/// The most addresses and accounts tracked by the limits.
const MAX_TRACKED: usize = 10_000;

/// Who is making a request.
#[derive(Debug, Clone)]
pub struct Who {
    pub name: String,
    pub role: Role,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

struct Session {
    user: String,
    /// BLAKE3 of the account's stored hash at login: a password change ends the session.
    hash_tag: [u8; 32],
    role: Role,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

#[derive(Default)]
struct Limits {
    /// Account → (wrong passwords in a row, locked until).
    accounts: HashMap<String, (u32, Option<Instant>)>,
    /// Address → (failures, window start).
    addresses: HashMap<IpAddr, (u32, Instant)>,
}

/// Why a login did not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong name or password (the page never says which).
    Wrong,
    /// The account is locked (after [`LOCK_AFTER`] wrong passwords).
    Locked,
    /// Too many failures from this address.
    Address,
}

/// Accounts, sessions and limits of one server.
pub struct Auth {
    root: PathBuf,
    /// Cookies carry `Secure` (the server is reached over https://).
    pub secure: bool,
    /// A session ends after this long without a request ([`IDLE`] by default).
    idle: Duration,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    limits: Mutex<Limits>,
    /// [`PASSWORD_CHECKS`] permits, one held by each password check.
    pub checks: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(..)")
    }
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        // No system randomness: UUID v4 draws from the same source, so this too would
        // fail; refuse by making a token nothing can match.
        return String::new();
    }
    URL_SAFE_NO_PAD.encode(b)
}

/// Constant-time equality of two tokens (no early exit on the first difference).
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn tag(s: &str) -> [u8; 32] {
    *blake3::hash(s.as_bytes()).as_bytes()
}

fn log_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Auth {
    pub fn new(root: PathBuf, secure: bool, idle: Option<Duration>) -> Auth {
        Auth {
            root,
            secure,
            idle: idle.unwrap_or(IDLE),
            sessions: Mutex::new(HashMap::new()),
            limits: Mutex::new(Limits::default()),
            checks: tokio::sync::Semaphore::new(PASSWORD_CHECKS),
        }
    }

    /// The accounts as users.json holds them now. An unreadable file is treated as
    /// accounts configured and none usable (nobody logs in; nothing opens up).
    fn users(&self) -> Option<UsersFile> {
        match read_users(&self.root) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("the accounts file cannot be read: {e}");
                None
            }
        }
    }

    /// Whether the archive has accounts (else the server is the read-only one).
    pub fn enabled(&self) -> bool {
        self.users().is_none_or(|f| !f.users.is_empty())
    }

    /// Appends a line to the access log (a failure to write it is logged, not fatal).
    pub fn log(&self, event: &str, user: Option<&str>, addr: Option<IpAddr>, note: &str) {
        let line = serde_json::json!({
            "time": log_time(),
            "event": event,
            "user": user,
            "address": addr.map(|a| a.to_string()),
            "note": note,
        });
        if let Err(e) = append_access_log(&self.root, &line.to_string()) {
            tracing::warn!("could not write the access log: {e}");
        }
    }

    /// The person whose session cookie the request carries, if it is still good.
    pub fn who(&self, headers: &HeaderMap) -> Option<Who> {
        let token = cookie(headers, SESSION_COOKIE)?;
        if token.is_empty() || token.len() > 100 {
            return None;
        }
        let key = tag(token);
        let now = Instant::now();
        let (user, hash_tag, csrf, role) = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let s = sessions.get_mut(&key)?;
            if now.duration_since(s.last_seen) > self.idle
                || now.duration_since(s.created) > MAX_AGE
            {
                sessions.remove(&key);
                return None;
            }
            s.last_seen = now;
            (s.user.clone(), s.hash_tag, s.csrf.clone(), s.role)
        };
        let file = self.users()?;
        let current = file.users.iter().find(|u| u.name == user);
        let good = current.is_some_and(|u| {
            tag(&u.hash) == hash_tag && Role::parse(&u.role).is_some_and(|r| r == role)
        });
        if !good {
            // Password, role or account changed since login: the session is over.
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            return None;
        }
        Some(Who {
            name: user,
            role,
            csrf,
        })
    }

    /// Checks a login. On success, a new session (the one `old_token` named, if any,
    /// ends) and its token. Runs Argon2: call off the async threads.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        addr: Option<IpAddr>,
        old_token: Option<&str>,
    ) -> Result<(String, Who), Refusal> {
        let now = Instant::now();
        let file = self.users();
        let account = file
            .as_ref()
            .and_then(|f| f.users.iter().find(|u| u.name == name))
            .cloned();
        let known_name = account.as_ref().map(|a| a.name.clone());
        let known = known_name.as_deref();
        {
            let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(a) = addr {
                if let Some((n, start)) = limits.addresses.get(&a).copied() {
                    if now.duration_since(start) > ADDRESS_WINDOW {
                        limits.addresses.remove(&a);
                    } else if n >= ADDRESS_FAILURES {
                        drop(limits);
                        self.log(
                            "login-refused",
                            known,
                            addr,
                            "too many failed logins from this address",
                        );
                        return Err(Refusal::Address);
                    }
                }
            }
            if let Some(acc) = &account {
                if let Some((_, Some(until))) = limits.accounts.get(&acc.name).copied() {
                    if now < until {
                        drop(limits);
                        self.log("login-refused", known, addr, "the account is locked");
                        return Err(Refusal::Locked);
                    }
                    limits.accounts.remove(&acc.name);
                }
            }
        }
        let stored = account.as_ref().map_or(decoy_hash(), |a| a.hash.as_str());
        let ok = verify_password(stored, password)
            && account
                .as_ref()
                .is_some_and(|a| Role::parse(&a.role).is_some());
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let Some(acc) = account.filter(|_| ok) else {
            if let Some(a) = addr {
                if limits.addresses.len() >= MAX_TRACKED {
                    limits
                        .addresses
                        .retain(|_, (_, start)| now.duration_since(*start) <= ADDRESS_WINDOW);
                }
                let e = limits.addresses.entry(a).or_insert((0, now));
                e.0 += 1;
            }
            let mut locked = false;
            if let Some(name) = known {
                if limits.accounts.len() >= MAX_TRACKED {
                    limits.accounts.retain(|_, (_, until)| until.is_some());
                }
                let e = limits.accounts.entry(name.to_string()).or_insert((0, None));
                e.0 += 1;
                if e.0 >= LOCK_AFTER {
                    e.1 = Some(now + LOCK_FOR);
                    locked = true;
                }
            }
            drop(limits);
            self.log(
                "login-failed",
                known,
                addr,
                if known.is_some() {
                    "wrong password"
                } else {
                    "no such account"
                },
            );
            if locked {
                self.log(
                    "account-locked",
                    known,
                    addr,
                    &format!(
                        "{LOCK_AFTER} wrong passwords in a row; locked for {} minutes",
                        LOCK_FOR.as_secs() / 60
                    ),
                );
            }
            return Err(Refusal::Wrong);
        };
        limits.accounts.remove(&acc.name);
        drop(limits);
        let role = Role::parse(&acc.role).unwrap_or(Role::Reader);
        let token = random_token();
        let csrf = random_token();
        if token.is_empty() || csrf.is_empty() {
            return Err(Refusal::Wrong);
        }
        {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(old) = old_token {
                sessions.remove(&tag(old));
            }
            if sessions.len() >= MAX_SESSIONS {
                sessions.retain(|_, s| {
                    now.duration_since(s.last_seen) <= self.idle
                        && now.duration_since(s.created) <= MAX_AGE
                });
            }
            if sessions.len() >= MAX_SESSIONS {
                return Err(Refusal::Address);
            }
            sessions.insert(
                tag(&token),
                Session {
                    user: acc.name.clone(),
                    hash_tag: tag(&acc.hash),
                    role,
                    csrf: csrf.clone(),
                    created: now,
                    last_seen: now,
                },
            );
        }
        self.log("login", Some(&acc.name), addr, role.name());
        Ok((
            token,
            Who {
                name: acc.name,
                role,
                csrf,
            },
        ))
    }

    /// Ends the session the request's cookie names.
    pub fn logout(&self, headers: &HeaderMap, addr: Option<IpAddr>) {
        let Some(token) = cookie(headers, SESSION_COOKIE) else {
            return;
        };
        let ended = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&tag(token));
        if let Some(s) = ended {
            self.log("logout", Some(&s.user), addr, "");
        }
    }

    /// A Set-Cookie value.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if let Some(s) = max_age {
            c.push_str(&format!("; Max-Age={s}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_cookies() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &random_token()));
        assert!(!same_token("", ""));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "x=1; cairn_session=abc ; y=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "z"), None);
    }
}
