//! `cairn serve` with accounts (issue 32), end to end against the real binary: the
//! write routes refuse anonymous and reader requests and requests without the CSRF
//! token (403, nothing changed on disk), an archivist amends and withdraws with the
//! person recorded as the agent, a session ends at logout and at a password change,
//! 20 wrong passwords lock one account and no other, the cookie's attributes, and
//! without accounts the server is the read-only one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common;
use crate::common::serve::{build_archive, cairn, enc, request, Resp, Server};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

pub(crate) fn add_user(root: &Path, name: &str, role: &str, password: &str) {
    user(root, &["add", name, "--role", role], password, 0);
}

/// `cairn user ARGS` with `password` on standard input; panics unless it exits `code`.
fn user(root: &Path, args: &[&str], password: &str, code: i32) -> String {
    let mut child = common::cairn()
        .arg("user")
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("CAIRN_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cairn user");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "cairn user {args:?}: {text}");
    text
}

/// The value of a `name="csrf" value="..."` field of a page.
pub(crate) fn csrf_in(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in {body}"))
        + 19;
    body[at..].split('"').next().unwrap().to_string()
}

/// The value `name` is set to by the response's Set-Cookie headers.
fn set_cookie(resp: &Resp, name: &str) -> Option<(String, String)> {
    resp.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| {
            let value = v.strip_prefix(&format!("{name}="))?;
            Some((value.split(';').next().unwrap().to_string(), v.clone()))
        })
}

pub(crate) fn post(server: &Server, target: &str, cookie: Option<&str>, body: &str) -> Resp {
    let c = cookie.map(|c| format!("cairn_session={c}"));
    let mut h = vec![FORM];
    if let Some(c) = &c {
        h.push(("Cookie", c));
    }
    request(server.addr, "POST", target, &h, body.as_bytes())
}

pub(crate) fn get(server: &Server, target: &str, cookie: Option<&str>) -> Resp {
    let c = cookie.map(|c| format!("cairn_session={c}"));
    let h: Vec<(&str, &str)> = c.iter().map(|c| ("Cookie", c.as_str())).collect();
    request(server.addr, "GET", target, &h, b"")
}

/// The login form's cookie value and CSRF token, from GET /login.
fn login_form(server: &Server) -> (String, String) {
    let form = server.get("/login");
    assert_eq!(form.status, 200, "{}", form.text());
    let (bound, _) = set_cookie(&form, "cairn_login").expect("a login cookie");
    (bound, csrf_in(&form.text()))
}

/// Logs in through the form; the response of the POST.
fn try_login(server: &Server, name: &str, password: &str) -> Resp {
    let (bound, csrf) = login_form(server);
    let cookie = format!("cairn_login={bound}");
    request(
        server.addr,
        "POST",
        "/login",
        &[FORM, ("Cookie", &cookie)],
        format!("csrf={csrf}&name={}&password={}", enc(name), enc(password)).as_bytes(),
    )
}

/// Logs in; the session token.
pub(crate) fn login(server: &Server, name: &str, password: &str) -> String {
    let r = try_login(server, name, password);
    assert_eq!(r.status, 303, "login as {name}: {}", r.text());
    set_cookie(&r, "cairn_session").expect("a session cookie").0
}

/// Everything of the archive proper (bags, register, log), to compare before and after.
pub(crate) fn archive_state(root: &Path) -> BTreeMap<PathBuf, common::Node> {
    let mut all = common::snapshot(&root.join("archive"));
    for (k, v) in common::snapshot(&root.join("manifests")) {
        all.insert(Path::new("manifests").join(k), v);
    }
    // The lock file names its last holder: a refused amend, as from the command line,
    // takes the lock before it checks the record.
    all.remove(Path::new("manifests/.lock"));
    all
}

pub(crate) const ARCHIVIST_PW: &str = "archivist pass phrase";
pub(crate) const READER_PW: &str = "reader pass phrase one";

pub(crate) fn archive_with_accounts() -> (tempfile::TempDir, PathBuf) {
    let dir = common::fresh_dir("serve-auth");
    let root = dir.path().join("archive-root");
    build_archive(&root, 3);
    add_user(&root, "ana", "archivist", ARCHIVIST_PW);
    add_user(&root, "rita", "reader", READER_PW);
    (dir, root)
}

#[test]
fn write_routes_refuse_anonymous_reader_and_forged_forms() {
    let (_dir, root) = archive_with_accounts();
    let server = Server::start(&root, &[]);
    let reader = login(&server, "rita", READER_PW);
    let reader_csrf = csrf_in(&get(&server, "/", Some(&reader)).text());
    let ana = login(&server, "ana", ARCHIVIST_PW);
    let ana_csrf = csrf_in(&get(&server, "/items/cairn-000001/amend", Some(&ana)).text());
    let before = archive_state(&root);
    let amend = |csrf: &str| format!("csrf={csrf}&dc.title=Changed&reason=test");
    let withdraw = |csrf: &str| format!("csrf={csrf}&reason=test&disposition=quarantine");
    for (who, cookie, csrf) in [
        ("anonymous", None, ""),
        ("reader", Some(reader.as_str()), reader_csrf.as_str()),
    ] {
        for target in ["/items/cairn-000001/amend", "/items/cairn-000001/withdraw"] {
            let r = get(&server, target, cookie);
            assert_eq!(r.status, 403, "GET {target} as {who}: {}", r.text());
            let body = if target.ends_with("amend") {
                amend(csrf)
            } else {
                withdraw(csrf)
            };
            let r = post(&server, target, cookie, &body);
            assert_eq!(r.status, 403, "POST {target} as {who}: {}", r.text());
        }
        // A reader's pages carry no write control.
        let page = get(&server, "/items/cairn-000001", cookie).text();
        assert!(
            !page.contains("/amend") && !page.contains("/withdraw"),
            "{page}"
        );
    }
    // The archivist without the CSRF token, or with another session's.
    for csrf in ["", reader_csrf.as_str(), "x"] {
        for (target, body) in [
            ("/items/cairn-000001/amend", amend(csrf)),
            ("/items/cairn-000001/withdraw", withdraw(csrf)),
        ] {
            let r = post(&server, target, Some(&ana), &body);
            assert_eq!(
                r.status,
                403,
                "POST {target} with csrf {csrf:?}: {}",
                r.text()
            );
        }
    }
    // Purge without its confirmation, an invalid date, and ID tricks: refused too.
    let r = post(
        &server,
        "/items/cairn-000001/withdraw",
        Some(&ana),
        &format!("csrf={ana_csrf}&reason=test&disposition=purge&confirm=cairn-000002"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("type the identifier"), "{}", r.text());
    let r = post(
        &server,
        "/items/cairn-000001/amend",
        Some(&ana),
        &format!("csrf={ana_csrf}&dc.date=1977-13-45&reason=test"),
    );
    assert!(
        r.status == 400 || r.status == 422,
        "{} {}",
        r.status,
        r.text()
    );
    for target in [
        "/items/..%2Fmanifests/amend",
        "/items/.lock/withdraw",
        "/items/cairn-000001%00/amend",
    ] {
        let r = post(&server, target, Some(&ana), &amend(&ana_csrf));
        assert!(r.status == 404 || r.status == 400, "{target}: {}", r.status);
    }
    let after = archive_state(&root);
    assert!(
        before == after,
        "refused requests changed the archive:\n{}",
        common::snapshot_diff(&before, &after)
    );

    // The archivist's own requests go through, signed with the account's name.
    let page = get(&server, "/items/cairn-000001", Some(&ana)).text();
    assert!(page.contains("/items/cairn-000001/amend"), "{page}");
    let r = post(
        &server,
        "/items/cairn-000001/amend",
        Some(&ana),
        &format!(
            "csrf={ana_csrf}&dc.title={}&reason={}",
            enc("Procès-verbal corrigé"),
            enc("title typo")
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifests/cairn-000001.json")).unwrap())
            .unwrap();
    assert!(
        entry.to_string().contains("Procès-verbal corrigé"),
        "{entry}"
    );
    let r = post(
        &server,
        "/items/cairn-000002/withdraw",
        Some(&ana),
        &format!(
            "csrf={ana_csrf}&reason={}&disposition=quarantine",
            enc("duplicate of cairn-000001")
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(root.join("manifests/withdrawn/cairn-000002.json").is_file());
    // A purge with its confirmation deletes the bag's bytes.
    let r = post(
        &server,
        "/items/cairn-000003/withdraw",
        Some(&ana),
        &format!("csrf={ana_csrf}&reason=consent+withdrawn&disposition=purge&confirm=cairn-000003"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let tomb = std::fs::read_to_string(root.join("manifests/withdrawn/cairn-000003.json")).unwrap();
    assert!(tomb.contains("\"purged\""), "{tomb}");
    assert!(!root.join("archive/cairn-000003").exists());
    assert!(!root.join("archive/.quarantine/cairn-000003").exists());
    for id in ["cairn-000001", "cairn-000002"] {
        let premis = cairn(&root, &["show", id, "--premis"], 0);
        assert!(
            premis.contains(
                "<premis:linkingAgentIdentifierValue>ana</premis:linkingAgentIdentifierValue>"
            ),
            "{id}: {premis}"
        );
    }
    cairn(&root, &["audit", "--quiet"], 0);
}

#[test]
fn sessions_end_at_logout_and_password_change() {
    let (_dir, root) = archive_with_accounts();
    let server = Server::start(&root, &[]);
    // Without a session, the auditor's pages are refused; with an archivist's, shown.
    assert_eq!(server.get("/events").status, 403);
    assert_eq!(server.get("/audit").status, 403);
    let form = try_login(&server, "ana", ARCHIVIST_PW);
    let (first, attrs) = set_cookie(&form, "cairn_session").expect("a session cookie");
    for a in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(a), "{attrs}");
    }
    assert!(!attrs.contains("Secure"), "plain http: {attrs}");
    let shown = get(&server, "/events", Some(&first));
    assert_eq!(shown.status, 200);
    assert_eq!(shown.header("cache-control"), Some("no-store"));
    let reader = login(&server, "rita", READER_PW);
    assert_eq!(get(&server, "/events", Some(&reader)).status, 403);
    // A second login is a new session (rotated), the first one still open.
    let second = login(&server, "ana", ARCHIVIST_PW);
    assert_ne!(first, second);
    // A login made with a session cookie ends that session (rotation).
    let third = login(&server, "ana", ARCHIVIST_PW);
    let (bound, csrf) = login_form(&server);
    let cookies = format!("cairn_login={bound}; cairn_session={third}");
    let r = request(
        server.addr,
        "POST",
        "/login",
        &[FORM, ("Cookie", &cookies)],
        format!("csrf={csrf}&name=ana&password={}", enc(ARCHIVIST_PW)).as_bytes(),
    );
    assert_eq!(r.status, 303);
    let fourth = set_cookie(&r, "cairn_session").expect("a session cookie").0;
    assert_ne!(fourth, third);
    assert_eq!(get(&server, "/events", Some(&third)).status, 403);
    assert_eq!(get(&server, "/events", Some(&fourth)).status, 200);
    // Logout needs the CSRF token, then ends the session.
    let csrf = csrf_in(&get(&server, "/", Some(&first)).text());
    assert_eq!(
        post(&server, "/logout", Some(&first), "csrf=wrong").status,
        403
    );
    assert_eq!(get(&server, "/events", Some(&first)).status, 200);
    let r = post(&server, "/logout", Some(&first), &format!("csrf={csrf}"));
    assert_eq!(r.status, 303);
    assert_eq!(get(&server, "/events", Some(&first)).status, 403);
    assert_eq!(
        get(&server, "/items/cairn-000001/amend", Some(&first)).status,
        403
    );
    // A password change ends every session of the account.
    assert_eq!(get(&server, "/events", Some(&second)).status, 200);
    user(&root, &["passwd", "ana"], "a brand new pass phrase", 0);
    assert_eq!(get(&server, "/events", Some(&second)).status, 403);
    assert_eq!(try_login(&server, "ana", ARCHIVIST_PW).status, 401);
    login(&server, "ana", "a brand new pass phrase");
    // So does removing the account.
    assert!(get(&server, "/", Some(&reader))
        .text()
        .contains("Signed in as"));
    let reader2 = login(&server, "rita", READER_PW);
    user(&root, &["remove", "rita"], "", 0);
    assert_eq!(try_login(&server, "rita", READER_PW).status, 401);
    let page = get(&server, "/", Some(&reader2)).text();
    assert!(
        page.contains("Log in") && !page.contains("Signed in"),
        "{page}"
    );
    // Behind https://, the cookie is Secure.
    let tls = Server::start(&root, &["--base-url", "https://archive.example.org/oai"]);
    let r = try_login(&tls, "ana", "a brand new pass phrase");
    let (_, attrs) = set_cookie(&r, "cairn_session").expect("a session cookie");
    assert!(attrs.contains("; Secure"), "{attrs}");
}

#[test]
fn twenty_wrong_passwords_lock_one_account_only() {
    let (_dir, root) = archive_with_accounts();
    let server = Server::start(&root, &[]);
    let wrong: Vec<String> = (0..20).map(|i| format!("wrong guess number {i}")).collect();
    for w in &wrong {
        assert_eq!(try_login(&server, "ana", w).status, 401);
    }
    let r = try_login(&server, "ana", ARCHIVIST_PW);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("locked for 15 minutes"), "{}", r.text());
    assert!(set_cookie(&r, "cairn_session").is_none());
    // Another account, from the same address, is not affected.
    let rita = login(&server, "rita", READER_PW);
    // The access log has the failures and the lock, never a password or a token.
    let log = std::fs::read_to_string(root.join("access.log")).unwrap();
    assert_eq!(log.matches("\"login-failed\"").count(), 20, "{log}");
    assert!(log.contains("\"account-locked\""), "{log}");
    assert!(log.contains("\"login\""), "{log}");
    for secret in wrong
        .iter()
        .map(String::as_str)
        .chain([ARCHIVIST_PW, READER_PW, rita.as_str()])
    {
        assert!(!log.contains(secret), "the access log holds {secret:?}");
    }
    let users = std::fs::read_to_string(root.join("users.json")).unwrap();
    assert!(!users.contains(ARCHIVIST_PW));
    assert!(users.contains("$argon2id$v=19$m=19456,t=2,p=1$"), "{users}");
}

#[test]
fn without_accounts_the_server_stays_read_only() {
    let dir = common::fresh_dir("serve-auth-none");
    let root = dir.path().join("archive-root");
    build_archive(&root, 2);
    let server = Server::start(&root, &[]);
    assert_eq!(server.get("/login").status, 404);
    assert_eq!(server.get("/events").status, 200);
    let before = archive_state(&root);
    let r = post(
        &server,
        "/items/cairn-000001/withdraw",
        None,
        "reason=x&disposition=purge",
    );
    assert_eq!(r.status, 404);
    assert!(!server.get("/").text().contains("Log in"));
    assert_eq!(before, archive_state(&root));
    assert!(!root.join("access.log").exists());
    // The default address answers this machine only.
    let help = crate::common::cairn()
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("[default: 127.0.0.1:8080]"));
}

#[test]
fn sessions_expire_when_idle_and_logins_need_their_form_token() {
    let (_dir, root) = archive_with_accounts();
    let server = Server::start(&root, &["--session-idle", "2s"]);
    let ana = login(&server, "ana", ARCHIVIST_PW);
    // Each request keeps the session alive ...
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(800));
        assert_eq!(get(&server, "/events", Some(&ana)).status, 200);
    }
    // ... and a pause longer than the idle time ends it.
    std::thread::sleep(std::time::Duration::from_millis(3000));
    assert_eq!(get(&server, "/events", Some(&ana)).status, 403);
    // A login form posted without its token, or with a token not bound to its cookie,
    // opens no session, whatever the password.
    let body = format!("name=ana&password={}", enc(ARCHIVIST_PW));
    for (cookie, csrf) in [
        (None, ""),
        (Some("cairn_login=abc"), "def"),
        (Some("cairn_login="), ""),
    ] {
        let mut h = vec![FORM];
        if let Some(c) = cookie {
            h.push(("Cookie", c));
        }
        let r = request(
            server.addr,
            "POST",
            "/login",
            &h,
            format!("csrf={csrf}&{body}").as_bytes(),
        );
        assert_eq!(r.status, 403, "{cookie:?}: {}", r.text());
        assert!(set_cookie(&r, "cairn_session").is_none());
    }
}

/// Posts the login form from the loopback address `from` (another client than the
/// tests' usual 127.0.0.1).
fn login_from(server: &Server, from: &str, name: &str, password: &str) -> Resp {
    use std::io::Read;
    let (bound, csrf) = login_form(server);
    let body = format!("csrf={csrf}&name={}&password={}", enc(name), enc(password));
    let mut s = crate::common::serve::connect_from(from, server.addr);
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: cairn_login={bound}\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    crate::common::serve::parse_response(&raw)
}

#[test]
fn one_address_guessing_many_names_is_refused_and_others_are_not() {
    let (_dir, root) = archive_with_accounts();
    let server = Server::start(&root, &[]);
    // 100 failures from 127.0.0.2, over names that do not exist (no account locks) ...
    for i in 0..100 {
        let r = login_from(
            &server,
            "127.0.0.2",
            &format!("guess{i}"),
            "some password here",
        );
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    // ... and that address may not log in, even with a right password,
    let r = login_from(&server, "127.0.0.2", "ana", ARCHIVIST_PW);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("from this address"), "{}", r.text());
    // while another address logs in to the same account.
    let r = login_from(&server, "127.0.0.3", "ana", ARCHIVIST_PW);
    assert_eq!(r.status, 303, "{}", r.text());
    // Names that are not accounts are never written to the access log.
    let log = std::fs::read_to_string(root.join("access.log")).unwrap();
    assert!(!log.contains("guess1"), "{log}");
    assert!(log.contains("\"127.0.0.2\""), "{log}");
}

#[test]
fn user_commands_refuse_bad_input_and_keep_the_file_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::fresh_dir("serve-auth-users");
    let root = dir.path().join("archive-root");
    build_archive(&root, 1);
    // Too short, an unusable name, no password at all: refused, nothing written.
    let out = user(&root, &["add", "ana", "--role", "archivist"], "short", 2);
    assert!(out.contains("at least 12"), "{out}");
    user(
        &root,
        &["add", "../ana", "--role", "reader"],
        ARCHIVIST_PW,
        2,
    );
    user(&root, &["add", "ana", "--role", "archivist"], "", 2);
    assert!(!root.join("users.json").exists());
    add_user(&root, "ana", "archivist", ARCHIVIST_PW);
    let mode = std::fs::metadata(root.join("users.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A name taken, an account that does not exist: refused.
    user(&root, &["add", "ana", "--role", "reader"], READER_PW, 2);
    user(&root, &["passwd", "nobody"], READER_PW, 2);
    user(&root, &["remove", "nobody"], "", 2);
    // A role change through passwd, and the list.
    user(&root, &["passwd", "ana", "--role", "auditor"], READER_PW, 0);
    let list = user(&root, &["list"], "", 0);
    assert!(list.starts_with("ana\tauditor\t"), "{list}");
    assert!(!list.contains("argon2"), "{list}");
}

#[test]
fn accounts_on_a_public_address_over_plain_http_are_warned_about() {
    use std::io::{BufRead, BufReader, Read};
    let (_dir, root) = archive_with_accounts();
    let stderr_of = |extra: &[&str]| {
        let mut child = common::cairn()
            .arg("serve")
            .arg("--root")
            .arg(&root)
            .args(["--bind", "0.0.0.0:0"])
            .args(extra)
            .env_remove("CAIRN_ROOT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cairn serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("listening on"), "{line}");
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    };
    let err = stderr_of(&[]);
    assert!(err.contains("over plain HTTP"), "{err}");
    let err = stderr_of(&["--base-url", "https://archive.example.org/oai"]);
    assert!(!err.contains("plain HTTP"), "{err}");
}

#[test]
fn logins_sent_all_at_once_take_their_turn_not_gigabytes() {
    let (_dir, root) = archive_with_accounts();
    let server = Server::start(&root, &[]);
    let (_, before) = server.rss_kib();
    let (bound, csrf) = login_form(&server);
    // 48 logins at once (each Argon2 check holds 19 MiB while it runs).
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..48)
            .map(|i| {
                let (bound, csrf, addr) = (&bound, &csrf, server.addr);
                s.spawn(move || {
                    let cookie = format!("cairn_login={bound}");
                    request(
                        addr,
                        "POST",
                        "/login",
                        &[FORM, ("Cookie", &cookie)],
                        format!("csrf={csrf}&name=nobody{i}&password=guessing+again").as_bytes(),
                    )
                    .status
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 401);
        }
    });
    let (_, peak) = server.rss_kib();
    // At most 4 checks at once: 4 x 19 MiB over what the server held before.
    assert!(
        peak < before + 160 * 1024,
        "peak resident memory {peak} KiB, {before} KiB before the logins"
    );
}
