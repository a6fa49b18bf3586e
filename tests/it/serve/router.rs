//! `cairn serve`'s router in process (issue 30): the application the server runs
//! (`cairn::serve::app`, the same routes, state and per-request layers), driven with
//! tower's `ServiceExt::oneshot` on an archive the real binary made, with no socket,
//! no listener and no HTTP client. The listener's own limits (connections, header
//! timeouts, shutdown) and what real clients see stay with the end-to-end tests beside
//! this one (`web`, `oai`, `deleted`, and bad_day::serve).

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use cairn::fs::archive::Archive;
use cairn::serve::{app, ServeOptions};
use tower::ServiceExt;

use crate::common;
use crate::common::serve::{build_archive, gen_item};

/// The base URL the OAI-PMH answers name (nothing listens there).
const BASE_URL: &str = "http://archive.invalid/oai";

/// The application over the archive at `root`, its settings from cairn.toml alone (no
/// CAIRN_* variable of the test's environment).
fn router(root: &Path, serve_files: bool) -> Router {
    let archive = Archive::open(root).expect("the archive opens");
    let opts = ServeOptions {
        bind: "127.0.0.1:0".parse().expect("an address"),
        base_url: Some(BASE_URL.to_string()),
        serve_files,
        session_idle: None,
    };
    app(archive, &opts).expect("the application is built")
}

/// An archive of ten generated items (cairn-000008 restricted), ingested.
fn archive(label: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = common::fresh_dir(label);
    let root = tmp.path().join("archive");
    build_archive(&root, 10);
    assert!(
        gen_item(7).restricted,
        "the fixture's eighth item is restricted"
    );
    (tmp, root)
}

/// One answer, read whole.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `req` to a clone of `app` on a runtime of its own and reads the answer.
fn send(app: &Router, req: Request<Body>) -> Answer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let resp = app.clone().oneshot(req).await.expect("the router answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("the body is read");
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    })
}

fn get(app: &Router, uri: &str) -> Answer {
    send(
        app,
        Request::get(uri).body(Body::empty()).expect("a request"),
    )
}

/// The BLAKE3 digest of the first payload file of `id`, from its register entry.
fn first_digest(root: &Path, id: &str) -> String {
    let entry: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join(format!("manifests/{id}.json"))).expect("the entry"),
    )
    .expect("JSON");
    entry["files"][0]["digests"]["blake3"]
        .as_str()
        .unwrap_or_else(|| panic!("a BLAKE3 digest in {id}'s entry"))
        .to_string()
}

#[test]
fn overview_and_an_item_page_answer_200_with_the_archive_in_them() {
    let (_tmp, root) = archive("router-pages");
    let app = router(&root, false);

    let overview = get(&app, "/");
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert!(
        overview.body.contains("The archive at a glance"),
        "{}",
        overview.body
    );
    // The guard's headers are on every answer.
    assert_eq!(
        overview.header(header::X_CONTENT_TYPE_OPTIONS),
        Some("nosniff")
    );
    assert!(overview
        .header(header::CONTENT_SECURITY_POLICY)
        .is_some_and(|v| v.starts_with("default-src 'none'")));

    let page = get(&app, "/items/cairn-000001");
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&gen_item(0).title), "{}", page.body);
    assert!(
        page.body.contains(&first_digest(&root, "cairn-000001")),
        "an open item's page shows its digests:\n{}",
        page.body
    );

    let items = get(&app, "/items");
    assert_eq!(items.status, StatusCode::OK);
    assert!(items.body.contains("10 items match"), "{}", items.body);
}

#[test]
fn a_restricted_item_discloses_neither_its_files_nor_its_digests() {
    let (_tmp, root) = archive("router-restricted");
    let app = router(&root, true);

    // Files are served (--serve-files), but never a restricted item's.
    let open = get(&app, "/items/cairn-000001/files/0");
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    let restricted = get(&app, "/items/cairn-000008/files/0");
    assert_eq!(
        restricted.status,
        StatusCode::FORBIDDEN,
        "{}",
        restricted.body
    );

    let page = get(&app, "/items/cairn-000008");
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Restricted"), "{}", page.body);
    assert!(
        !page.body.contains(&first_digest(&root, "cairn-000008")),
        "a restricted item's page shows a digest:\n{}",
        page.body
    );
}

#[test]
fn oai_pmh_identify_and_a_bad_argument() {
    let (_tmp, root) = archive("router-oai");
    let app = router(&root, false);

    let identify = get(&app, "/oai?verb=Identify");
    assert_eq!(identify.status, StatusCode::OK);
    assert_eq!(
        identify.header(header::CONTENT_TYPE),
        Some("text/xml; charset=utf-8")
    );
    assert!(
        identify
            .body
            .contains(&format!("<baseURL>{BASE_URL}</baseURL>")),
        "{}",
        identify.body
    );
    assert!(identify
        .body
        .contains("<deletedRecord>persistent</deletedRecord>"));

    // ListRecords without a metadataPrefix: an OAI-PMH error in a 200 answer.
    let bad = get(&app, "/oai?verb=ListRecords");
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.body.contains("code=\"badArgument\""), "{}", bad.body);
    assert!(
        bad.body.contains(&format!("<request>{BASE_URL}</request>")),
        "after badArgument the request element has no attributes:\n{}",
        bad.body
    );
}

#[test]
fn unknown_items_and_paths_are_404() {
    let (_tmp, root) = archive("router-404");
    let app = router(&root, true);
    for uri in [
        "/items/cairn-999999",
        "/items/..%2Fcairn-000001",
        "/items/cairn-999999/files/0",
        "/no-such-page",
    ] {
        let a = get(&app, uri);
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}: {}", a.body);
    }
}

#[test]
fn bad_methods_and_oversize_requests_are_refused() {
    let (_tmp, root) = archive("router-refused");
    let app = router(&root, false);

    let delete = send(
        &app,
        Request::builder()
            .method(Method::DELETE)
            .uri("/items")
            .body(Body::empty())
            .expect("a request"),
    );
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);

    // A request target over 8 KiB: 414.
    let long = get(&app, &format!("/items?q={}", "a".repeat(9000)));
    assert_eq!(long.status, StatusCode::URI_TOO_LONG, "{}", long.body);

    // An OAI-PMH form over 64 KiB: 413.
    let big = send(
        &app,
        Request::post("/oai")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "verb=Identify&x={}",
                "a".repeat(70_000)
            )))
            .expect("a request"),
    );
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.body);

    // A POST that is not a form: 415.
    let json = send(
        &app,
        Request::post("/oai")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"verb\": \"Identify\"}"))
            .expect("a request"),
    );
    assert_eq!(
        json.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        json.body
    );
}
