//! The archivist's intake in `cairn serve` (issue 32): `/intake` shows what a dry run
//! of `cairn ingest` finds, in its words; `/intake/ingest` ingests the selected items
//! through the same use case, signed with the archivist's name; anonymous and reader
//! requests, forged forms and hostile item names change nothing.

use std::path::Path;

use crate::common;
use crate::common::serve::{cairn, enc, write_intake, Server};
use crate::serve_auth::{
    archive_state, archive_with_accounts, csrf_in, get, login, post, ARCHIVIST_PW, READER_PW,
};

/// Items 10, 11 and 12 waiting in intake; item 12's date is not a date.
fn fill_intake(root: &Path) {
    let intake = root.join("intake");
    write_intake(&intake, 10..13);
    let sheet = std::fs::read_to_string(intake.join("metadata.csv")).unwrap();
    let mut lines: Vec<String> = sheet.lines().map(str::to_string).collect();
    let last = lines.last_mut().unwrap();
    assert!(last.starts_with("item-0012,"), "{last}");
    *last = last.replacen(",1977,", ",1977-13-45,", 1);
    std::fs::write(intake.join("metadata.csv"), lines.join("\n") + "\n").unwrap();
}

/// The archive and the intake, to compare before and after.
fn state(root: &Path) -> impl PartialEq {
    (archive_state(root), common::snapshot(&root.join("intake")))
}

#[test]
fn intake_refuses_anonymous_reader_forged_forms_and_hostile_names() {
    let (_dir, root) = archive_with_accounts();
    fill_intake(&root);
    let server = Server::start(&root, &[]);
    let reader = login(&server, "rita", READER_PW);
    let reader_csrf = csrf_in(&get(&server, "/", Some(&reader)).text());
    let ana = login(&server, "ana", ARCHIVIST_PW);
    let ana_csrf = csrf_in(&get(&server, "/intake", Some(&ana)).text());
    let before = state(&root);
    for (who, cookie, csrf) in [
        ("anonymous", None, ""),
        ("reader", Some(reader.as_str()), reader_csrf.as_str()),
    ] {
        let r = get(&server, "/intake", cookie);
        assert_eq!(r.status, 403, "GET /intake as {who}: {}", r.text());
        assert!(!r.text().contains("item-0010"), "{}", r.text());
        let r = post(
            &server,
            "/intake/ingest",
            cookie,
            &format!("csrf={csrf}&what=all"),
        );
        assert_eq!(r.status, 403, "POST /intake/ingest as {who}: {}", r.text());
        // No intake link for them either.
        let page = get(&server, "/", cookie).text();
        assert!(!page.contains("/intake"), "{who}: {page}");
    }
    for csrf in ["", "x", reader_csrf.as_str()] {
        let r = post(
            &server,
            "/intake/ingest",
            Some(&ana),
            &format!("csrf={}&what=all", enc(csrf)),
        );
        assert_eq!(r.status, 403, "csrf {csrf:?}: {}", r.text());
    }
    // Names that are not intake items, path tricks included: nothing is ingested.
    for name in [
        "../manifests",
        "/etc",
        "item-0010/../item-0011",
        "item-0010/pages",
        ".lock",
        "ITEM-0010",
        "item-0010\0",
    ] {
        let r = post(
            &server,
            "/intake/ingest",
            Some(&ana),
            &format!("csrf={ana_csrf}&what=selected&item={}", enc(name)),
        );
        assert_eq!(r.status, 422, "{name:?}: {}", r.text());
        assert!(
            r.text().contains("is not an item waiting in"),
            "{name:?}: {}",
            r.text()
        );
    }
    let r = post(
        &server,
        "/intake/ingest",
        Some(&ana),
        &format!("csrf={ana_csrf}&what=selected"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        before == state(&root),
        "refused requests changed the archive or the intake"
    );
}

#[test]
fn archivist_sees_the_dry_run_and_ingests_the_selected_items() {
    let (_dir, root) = archive_with_accounts();
    fill_intake(&root);
    // What the command line's dry run says of item 12.
    let out = common::cairn()
        .args(["ingest", "--dry-run", "--root"])
        .arg(&root)
        .env_remove("CAIRN_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let problem = said
        .lines()
        .find(|l| l.contains("problem:") && l.contains("1977-13-45"))
        .unwrap_or_else(|| panic!("no date problem in {said}"))
        .split("problem: ")
        .nth(1)
        .unwrap()
        .to_string();

    let server = Server::start(&root, &[]);
    let ana = login(&server, "ana", ARCHIVIST_PW);
    let home = get(&server, "/", Some(&ana)).text();
    assert!(home.contains("href=\"/intake\""), "{home}");
    let r = get(&server, "/intake", Some(&ana));
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    let escaped = problem
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    assert!(
        page.contains(&escaped),
        "the page lacks the dry run's words {escaped:?}: {page}"
    );
    for name in ["item-0010", "item-0011"] {
        assert!(
            page.contains(&format!("name=\"item\" value=\"{name}\"")),
            "{name}: {page}"
        );
    }
    // The refused item cannot be selected.
    assert!(!page.contains("value=\"item-0012\""), "{page}");
    let csrf = csrf_in(&page);
    assert!(
        !root.join("manifests/cairn-000004.json").exists(),
        "the page wrote something"
    );

    let r = post(
        &server,
        "/intake/ingest",
        Some(&ana),
        &format!("csrf={csrf}&what=selected&item=item-0010&item=item-0011"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let result = r.text();
    assert!(
        result.contains("ingested 2, already archived 0, refused 0"),
        "{result}"
    );
    assert!(!result.contains("item-0012"), "{result}");
    for id in ["cairn-000004", "cairn-000005"] {
        assert!(
            result.contains(&format!("href=\"/items/{id}\"")),
            "{result}"
        );
        let premis = cairn(&root, &["show", id, "--premis"], 0);
        assert!(
            premis.contains(
                "<premis:linkingAgentIdentifierValue>ana</premis:linkingAgentIdentifierValue>"
            ),
            "{id}: {premis}"
        );
    }
    assert!(!root.join("manifests/cairn-000006.json").exists());
    assert!(root.join("intake/item-0012").is_dir());
    cairn(&root, &["audit", "--quiet"], 0);
    cairn(&root, &["fixity", "--all", "--quiet"], 0);
}

#[test]
fn describe_fixes_a_flagged_date_by_writing_the_sidecar_ingest_reads() {
    let (_dir, root) = archive_with_accounts();
    fill_intake(&root);
    let server = Server::start(&root, &[]);
    let reader = login(&server, "rita", READER_PW);
    let reader_csrf = csrf_in(&get(&server, "/", Some(&reader)).text());
    let ana = login(&server, "ana", ARCHIVIST_PW);
    let target = "/intake/describe?item=item-0012";
    let r = get(&server, target, Some(&ana));
    assert_eq!(r.status, 200, "{}", r.text());
    let form = r.text();
    assert!(form.contains("1977-13-45"), "{form}");
    let csrf = csrf_in(&form);
    let sidecar = root.join("intake/item-0012/cairn.dc.json");
    let before = state(&root);

    // Refused: anonymous, reader, forged token, hostile names, invalid records.
    for (who, cookie, csrf) in [
        ("anonymous", None, ""),
        ("reader", Some(reader.as_str()), reader_csrf.as_str()),
    ] {
        let r = get(&server, target, cookie);
        assert_eq!(r.status, 403, "GET as {who}: {}", r.text());
        let r = post(
            &server,
            target,
            cookie,
            &format!("csrf={csrf}&dc.date=1977"),
        );
        assert_eq!(r.status, 403, "POST as {who}: {}", r.text());
    }
    for bad in ["", "x", reader_csrf.as_str()] {
        let r = post(
            &server,
            target,
            Some(&ana),
            &format!("csrf={}&dc.date=1977", enc(bad)),
        );
        assert_eq!(r.status, 403, "csrf {bad:?}: {}", r.text());
    }
    for name in [
        "../manifests",
        "..",
        ".",
        "/etc",
        "item-0012/pages",
        "item-0012/../item-0011",
        "metadata.csv",
        ".lock",
        "nothing-here",
        "",
    ] {
        let t = format!("/intake/describe?item={}", enc(name));
        let r = get(&server, &t, Some(&ana));
        assert_eq!(r.status, 404, "GET {name:?}: {}", r.text());
        let r = post(
            &server,
            &t,
            Some(&ana),
            &format!("csrf={csrf}&dc.title=x&dc.date=1977"),
        );
        assert_eq!(r.status, 404, "POST {name:?}: {}", r.text());
    }
    let r = post(
        &server,
        target,
        Some(&ana),
        &format!("csrf={csrf}&dc.date=1977-14"),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("1977-14"), "{}", r.text());
    let r = post(
        &server,
        target,
        Some(&ana),
        &format!("csrf={csrf}&dc.titel=x&dc.date=1977"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("did you mean dc.title"), "{}", r.text());
    assert!(
        before == state(&root),
        "a refused request changed something"
    );
    assert!(!sidecar.exists());

    // The fix: a Khmer title and a valid date; the dry run then has nothing to say.
    let title = "គំរូ ១២: ឯកសារ";
    let r = post(
        &server,
        target,
        Some(&ana),
        &format!("csrf={csrf}&dc.title={}&dc.date=1977-03", enc(title)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let saved = std::fs::read_to_string(&sidecar).unwrap();
    assert!(
        saved.contains(title) && saved.contains("1977-03"),
        "{saved}"
    );
    let page = get(&server, "/intake", Some(&ana)).text();
    assert!(page.contains("name=\"item\" value=\"item-0012\""), "{page}");
    assert!(page.contains(title), "{page}");
    cairn(&root, &["ingest", "--dry-run"], 0);
}
