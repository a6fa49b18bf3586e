//! The axum application: routes, the shared snapshot, limits, and the listener.
//!
//! Limits, so that hostile or merely eager clients cannot exhaust the server or keep
//! it from stopping ([`Limits`]): open connections at most half of what the process's
//! file limit leaves (`RLIMIT_NOFILE` read at start-up, never over [`MAX_CONNECTIONS`];
//! the listener waits for one to close before it accepts another), from one address at
//! most `serve.max_connections_per_address` (more are closed at once), each given
//! `serve.header_timeout_secs` to send a request's headers from when it opened or its
//! last response ended (half-sent headers and idle keep-alive connections are closed),
//! a response the client stops reading dropped after [`SEND_STALL`]; at most
//! [`MAX_IN_FLIGHT`] requests handled at once, a request line longer than [`MAX_URI`]
//! bytes refused (414), form bodies up to [`MAX_BODY`] bytes, and [`REQUEST_TIMEOUT`]
//! per request. On SIGTERM or Ctrl-C it stops accepting, closes idle connections, lets
//! requests under way finish, and returns within [`SHUTDOWN_DEADLINE`] whatever the
//! clients do.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use tokio::io::AsyncSeekExt;
use tokio::net::TcpListener;

use super::files::{open_no_follow, parse_range, resolve_in_bag, Range};
use super::oai;
use super::pages;
use super::snapshot::{current_item, Item, LineRow, LineShown, Names, Snapshot, Stamp, Status};
use super::token::TokenKey;
use crate::error::Error;
use crate::fs::archive::Archive;

mod listener;
mod reader;

use listener::{open_file_limit, run_listener, shutdown};
pub use listener::{Limits, MAX_CONNECTIONS, SEND_STALL, SHUTDOWN_DEADLINE};

pub const MAX_IN_FLIGHT: usize = 256;
pub const MAX_URI: usize = 8 * 1024;
use super::form::first;
pub use super::form::MAX_BODY;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const ITEMS_PER_PAGE: usize = 50;
const EVENTS_PER_PAGE: usize = 100;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    /// The OAI-PMH baseURL; default `http://{bound address}/oai`.
    pub base_url: Option<String>,
    /// Serve payload files (never those of restricted items).
    pub serve_files: bool,
    /// With accounts: a session ends after this long without a request (default
    /// [`super::auth::IDLE`]).
    pub session_idle: Option<Duration>,
}

struct AppState {
    archive: Archive,
    snapshot: RwLock<Arc<Snapshot>>,
    refresh: tokio::sync::Mutex<()>,
    key: TokenKey,
    base_url: String,
    serve_files: bool,
    session_idle: Option<Duration>,
}

impl AppState {
    fn new(
        archive: Archive,
        first: Snapshot,
        base_url: String,
        serve_files: bool,
        session_idle: Option<Duration>,
    ) -> Arc<Self> {
        Arc::new(AppState {
            archive,
            snapshot: RwLock::new(Arc::new(first)),
            refresh: tokio::sync::Mutex::new(()),
            key: TokenKey::random(),
            base_url,
            serve_files,
            session_idle,
        })
    }

    fn held(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The snapshot, rebuilt first if the files changed since it was taken (three
    /// stats). One rebuild at a time; a request that arrives meanwhile waits for it.
    async fn current(self: &Arc<Self>) -> Arc<Snapshot> {
        let snap = self.held();
        if Stamp::take(&self.archive) == snap.stamp {
            return snap;
        }
        let _one = self.refresh.lock().await;
        let snap = self.held();
        if Stamp::take(&self.archive) == snap.stamp {
            return snap;
        }
        let me = self.clone();
        let old = snap.clone();
        let built =
            tokio::task::spawn_blocking(move || Snapshot::build(&me.archive, Some(&old))).await;
        match built {
            Ok(Ok(new)) => {
                let new = Arc::new(new);
                match self.snapshot.write() {
                    Ok(mut s) => *s = new.clone(),
                    Err(poisoned) => *poisoned.into_inner() = new.clone(),
                }
                new
            }
            Ok(Err(e)) => {
                tracing::warn!("could not re-read the archive (serving the last snapshot): {e}");
                snap
            }
            Err(e) => {
                tracing::warn!("re-reading the archive failed (serving the last snapshot): {e}");
                snap
            }
        }
    }
}

/// Serves until interrupted (Ctrl-C or SIGTERM). `on_bound` is called once the socket
/// is bound and the archive read, with the address and the OAI-PMH base URL.
pub fn serve(
    archive: Archive,
    opts: ServeOptions,
    on_bound: impl FnOnce(SocketAddr, &str),
) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the server's runtime for", &archive.root, e))?;
    let result = runtime.block_on(async move {
        let listener = TcpListener::bind(opts.bind)
            .await
            .map_err(|e| Error::io("listen on", PathBuf::from(opts.bind.to_string()), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("listen on", PathBuf::from(opts.bind.to_string()), e))?;
        let limits = Limits::new(&archive.config.serve, open_file_limit());
        tracing::info!(
            "at most {} connections, {} from one address; headers within {} s",
            limits.max_connections,
            limits.per_address,
            limits.header_timeout.as_secs()
        );
        let first = {
            let a = archive.clone();
            tokio::task::spawn_blocking(move || Snapshot::build(&a, None))
                .await
                .map_err(|e| Error::io("read", &archive.root, io::Error::other(e)))??
        };
        let base_url = opts
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}/oai"));
        let state = AppState::new(
            archive,
            first,
            base_url.clone(),
            opts.serve_files,
            opts.session_idle,
        );
        on_bound(addr, &base_url);
        run_listener(listener, router(state), limits, shutdown()).await;
        Ok(())
    });
    // Blocking reads still under way (a snapshot being built) are not waited for.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

/// The application [`serve`] runs, as a tower service of its own: the same routes,
/// state and per-request layers (body limit, overlong targets, in-flight bound,
/// timeout) over the archive read into its first snapshot, without the listener and
/// its connection limits ([`Limits`]). The OAI-PMH base URL is `opts.base_url`, else
/// `http://{opts.bind}/oai`; nothing is bound. For in-process callers and tests
/// (tower's `ServiceExt::oneshot`); its handlers need a Tokio runtime.
pub fn app(archive: Archive, opts: &ServeOptions) -> Result<Router, Error> {
    let first = Snapshot::build(&archive, None)?;
    let base_url = opts
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/oai", opts.bind));
    Ok(router(AppState::new(
        archive,
        first,
        base_url,
        opts.serve_files,
        opts.session_idle,
    )))
}

fn router(state: Arc<AppState>) -> Router {
    // Accounts (src/serve/auth/): nothing answers or changes while users.json has none.
    let web = Arc::new(super::auth::routes::WebState {
        auth: super::auth::Auth::new(
            state.archive.root.clone(),
            state.base_url.starts_with("https://"),
            state.session_idle,
        ),
        archive: state.archive.clone(),
    });
    Router::new()
        .route("/", get(overview))
        .route("/oai", get(oai_get).post(oai_post))
        .route("/items", get(items))
        .route("/items/{id}", get(item))
        .route("/items/{id}/files/{n}", get(file))
        .route(
            "/items/{id}/versions/{v}/files/{n}",
            get(reader::version_file),
        )
        .route("/events", get(events))
        .route("/audit", get(audit))
        .fallback(not_found)
        .with_state(state)
        .merge(super::auth::routes::router(web.clone()))
        .merge(super::auth::intake::router(web.clone()))
        .layer(middleware::from_fn_with_state(
            web,
            super::auth::routes::gate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(guard))
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
}

/// Refuses overlong request targets and adds the headers every response carries: no
/// sniffing, and a content security policy that allows nothing from elsewhere.
async fn guard(req: Request, next: Next) -> Response {
    let long = req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().len() > MAX_URI);
    let mut resp = if long {
        (
            StatusCode::URI_TOO_LONG,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("The request target is longer than {MAX_URI} bytes.\n"),
        )
            .into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn html(markup: maud::Markup) -> Response {
    Html(markup.into_string()).into_response()
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

async fn oai_answer(state: Arc<AppState>, args: Vec<(String, String)>) -> Response {
    let snap = state.current().await;
    let body = oai::respond(
        &oai::Context {
            snapshot: &snap,
            config: &state.archive.config.serve,
            base_url: &state.base_url,
            key: &state.key,
            now: Utc::now(),
        },
        &args,
    );
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

async fn oai_get(State(state): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    oai_answer(state, query_pairs(q.as_deref())).await
}

async fn oai_post(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "OAI-PMH requests by POST are sent as application/x-www-form-urlencoded.\n",
        )
            .into_response();
    }
    let args = form_urlencoded::parse(&body).into_owned().collect();
    oai_answer(state, args).await
}

fn status_counts(snap: &Snapshot, now: chrono::DateTime<Utc>) -> BTreeMap<Status, usize> {
    let mut out = BTreeMap::new();
    for (_, status) in snap.statuses(now) {
        *out.entry(status).or_insert(0) += 1;
    }
    out
}

async fn overview(State(state): State<Arc<AppState>>) -> Response {
    let snap = state.current().await;
    let now = Utc::now();
    html(pages::overview(&pages::Overview {
        snap: &snap,
        now,
        statuses: status_counts(&snap, now),
    }))
}

fn page_number(raw: &str) -> usize {
    raw.parse::<usize>().ok().filter(|&p| p >= 1).unwrap_or(1)
}

async fn items(State(state): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let snap = state.current().await;
    let now = Utc::now();
    let pairs = query_pairs(q.as_deref());
    let query: String = first(&pairs, "q").chars().take(200).collect();
    let needle = super::search::fold(query.trim());
    let status = Status::from_slug(first(&pairs, "status"));
    let (rows, total, page, pages_n) = if needle.is_empty() && status.is_none() {
        // Unfiltered: the page's items are a slice, so a page costs the same at any
        // depth and in an archive of any size (only its rows' statuses are worked out).
        let total = snap.items.len();
        let pages_n = total.div_ceil(ITEMS_PER_PAGE).max(1);
        let page = page_number(first(&pairs, "page")).min(pages_n);
        let start = ((page - 1) * ITEMS_PER_PAGE).min(total);
        let end = (start + ITEMS_PER_PAGE).min(total);
        let rows = snap.items[start..end]
            .iter()
            .zip(&snap.checks[start..end])
            .map(|(i, c)| (&**i, snap.status_of(c, now)))
            .collect();
        (rows, total, page, pages_n)
    } else {
        // A search or a status filter reads every item (the matches must be counted).
        let matching: Vec<_> = snap
            .statuses(now)
            .filter(|(i, _)| needle.is_empty() || i.search.contains(&needle))
            .filter(|(_, s)| status.is_none_or(|want| *s == want))
            .map(|(i, s)| (&**i, s))
            .collect();
        let total = matching.len();
        let pages_n = total.div_ceil(ITEMS_PER_PAGE).max(1);
        let page = page_number(first(&pairs, "page")).min(pages_n);
        let rows = matching
            .into_iter()
            .skip((page - 1) * ITEMS_PER_PAGE)
            .take(ITEMS_PER_PAGE)
            .collect();
        (rows, total, page, pages_n)
    };
    html(pages::items(&pages::ItemsPage {
        rows,
        total,
        q: &query,
        status,
        page,
        pages: pages_n,
    }))
}

fn not_found_page(what: &str) -> Response {
    (StatusCode::NOT_FOUND, html(pages::not_found(what))).into_response()
}

async fn item(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let snap = state.current().await;
    let item = match snap.item(&id) {
        Some(item) => Some(current(&state, item).await),
        None => None,
    };
    match item {
        Some(Err(why)) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("The item's register entry cannot be read now ({why})."),
        ),
        Some(Ok(item)) => {
            let item = &item;
            let events = read_lines(&state, &snap, snap.rows_of(&item.id).to_vec()).await;
            let kept = reader::kept_versions(&state, item).await;
            html(pages::item(
                item,
                &super::reader::ItemHistory { events, kept },
                &snap,
                Utc::now(),
                state.serve_files,
                state.archive.config.serve.restricted_digests,
                &oai::oai_identifier(&state.archive.config.serve, &item.id),
            ))
        }
        None => reader::gone_or_not_found(&state, &snap, &id, true).await,
    }
}

/// [`current_item`] off the runtime's threads.
async fn current(state: &Arc<AppState>, item: &Arc<Item>) -> Result<Arc<Item>, String> {
    let archive = state.archive.clone();
    let item = item.clone();
    tokio::task::spawn_blocking(move || current_item(&archive, &item))
        .await
        .map_err(|e| e.to_string())?
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

async fn file(
    State(state): State<Arc<AppState>>,
    Path((id, n)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let item = match servable_item(&state, &id).await {
        Ok(item) => item,
        Err(refused) => return refused,
    };
    let Some(record) = n.parse::<usize>().ok().and_then(|n| item.files.get(n)) else {
        return plain(StatusCode::NOT_FOUND, "The item has no such file.");
    };
    send_record(item.bag_dir.clone(), record.clone(), &headers).await
}

/// The item `id` if its files may be served (with --serve-files, the item shown and
/// not restricted as its register entry says now), else the answer that refuses them.
async fn servable_item(state: &Arc<AppState>, id: &str) -> Result<Arc<Item>, Response> {
    if !state.serve_files {
        return Err(plain(
            StatusCode::NOT_FOUND,
            "Payload files are not served here (the server was started without --serve-files).",
        ));
    }
    let snap = state.current().await;
    let Some(item) = snap.item(id) else {
        return Err(reader::gone_or_not_found(state, &snap, id, false).await);
    };
    // Access rights as the register says now, not as the snapshot read them.
    let item = current(state, item).await.map_err(|why| {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "The item's register entry cannot be read now ({why}); its files are not served."
            ),
        )
    })?;
    if item.restricted {
        return Err(plain(
            StatusCode::FORBIDDEN,
            "This item is restricted: its description is public, its files are not served.",
        ));
    }
    Ok(item)
}

/// The payload file `record` of the bag at `bag`, streamed (one byte range where asked),
/// if it is there as the register recorded it.
async fn send_record(
    bag: std::path::PathBuf,
    record: crate::fs::register::FileRecord,
    headers: &HeaderMap,
) -> Response {
    let opened = tokio::task::spawn_blocking(move || {
        let path = resolve_in_bag(&bag, &record.path)?;
        let f = open_no_follow(&path).ok()?;
        let meta = f.metadata().ok()?;
        (meta.is_file() && meta.len() == record.size).then_some((f, record))
    })
    .await
    .ok()
    .flatten();
    let Some((f, record)) = opened else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "The file is not as the register recorded it (missing, replaced or of another size); `cairn fixity --id ID` checks the bag.",
        );
    };
    let len = record.size;
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        len,
    );
    let (status, start, count) = match range {
        Range::Whole => (StatusCode::OK, 0, len),
        Range::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Range::Unsatisfiable => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response()
        }
    };
    let mut f = tokio::fs::File::from_std(f);
    if f.seek(io::SeekFrom::Start(start)).await.is_err() {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not read the file.",
        );
    }
    use tokio::io::AsyncReadExt;
    let stream = tokio_util::io::ReaderStream::new(f.take(count));
    let name = record.path.rsplit('/').next().unwrap_or("file");
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let mime = HeaderValue::from_str(&record.mime)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", start + count - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename*=UTF-8''{}",
        encoded.replace('+', "%20")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A `since` or `until` of /events in milliseconds since the epoch: a date
/// (YYYY-MM-DD, UTC; as `until` it covers its whole day) or an RFC 3339 time. `Err`
/// says why the value cannot be read.
fn time_bound(raw: &str, until: bool) -> Result<Option<i64>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let start = |d: chrono::NaiveDate| {
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis()
        };
        return Ok(Some(if until {
            day.succ_opt().map_or(i64::MAX, |next| start(next) - 1)
        } else {
            start(day)
        }));
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| {
            format!(
                "{} is neither a date (YYYY-MM-DD) nor an RFC 3339 time (such as 2026-12-02T10:00:00Z), so it was not applied",
                crate::quoted(raw)
            )
        })
}

/// /events: the log's lines, newest first, filtered by item, type, outcome and time,
/// a page at a time. The filters run over the snapshot's rows (a few bytes a line);
/// only the page's lines are read back from the log.
async fn events(State(state): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let snap = state.current().await;
    let pairs = query_pairs(q.as_deref());
    let cut = |k: &str| first(&pairs, k).chars().take(200).collect::<String>();
    let f = pages::EventFilters {
        id: cut("id").trim().to_string(),
        event_type: cut("type"),
        outcome: cut("outcome"),
        since: cut("since").trim().to_string(),
        until: cut("until").trim().to_string(),
        page: None,
    };
    let mut notes = Vec::new();
    let mut bound = |label: &str, raw: &str, until: bool| {
        time_bound(raw, until).unwrap_or_else(|why| {
            notes.push(format!("{label}: {why}."));
            None
        })
    };
    let since = bound("Since", &f.since, false);
    let until = bound("Until", &f.until, true);
    let log = &snap.log;
    let mut types: Vec<&str> = log.types.names.iter().map(String::as_str).collect();
    types.sort_unstable();
    // A filter names a type or outcome by its index; one the log never had matches nothing.
    let interned = |value: &str, names: &Names| -> Option<Option<u32>> {
        if value.is_empty() {
            Some(None)
        } else {
            names.get(value).map(Some)
        }
    };
    let wanted = interned(&f.event_type, &log.types).zip(interned(&f.outcome, &log.outcomes));
    // Newest first: every line, or the item's lines (no list of a million numbers made).
    let newest_first = || -> Box<dyn Iterator<Item = u32> + '_> {
        if f.id.is_empty() {
            Box::new((0..u32::try_from(log.rows.len()).unwrap_or(u32::MAX)).rev())
        } else {
            Box::new(snap.rows_of(&f.id).iter().rev().copied())
        }
    };
    let matches = |r: &u32| {
        let Some((event_type, outcome)) = wanted else {
            return false;
        };
        let Some(row) = log.rows.get(*r as usize) else {
            return false;
        };
        event_type.is_none_or(|t| row.event_type == t)
            && outcome.is_none_or(|o| row.outcome == o)
            && (since.is_none() && until.is_none()
                || row.time_ms != LineRow::NO_TIME
                    && since.is_none_or(|s| row.time_ms >= s)
                    && until.is_none_or(|u| row.time_ms <= u))
    };
    let total = newest_first().filter(matches).count();
    let pages_n = total.div_ceil(EVENTS_PER_PAGE).max(1);
    let page = page_number(first(&pairs, "page")).min(pages_n);
    let rows: Vec<u32> = newest_first()
        .filter(matches)
        .skip((page - 1) * EVENTS_PER_PAGE)
        .take(EVENTS_PER_PAGE)
        .collect();
    let shown = read_lines(&state, &snap, rows).await;
    html(pages::events(
        &f, &notes, &shown, total, page, pages_n, &types,
    ))
}

/// The log's lines at `rows` (of the snapshot's rows), read back off the runtime's
/// threads.
async fn read_lines(state: &AppState, snap: &Arc<Snapshot>, rows: Vec<u32>) -> Vec<LineShown> {
    let path = state.archive.events_path();
    let snap = snap.clone();
    let wanted = rows.clone();
    tokio::task::spawn_blocking(move || snap.log.read(&path, &rows))
        .await
        .unwrap_or_else(|e| {
            let why = format!("reading it failed ({e})");
            wanted
                .iter()
                .map(|&r| LineShown::Changed(r as usize + 1, why.clone()))
                .collect()
        })
}

async fn audit(State(state): State<Arc<AppState>>) -> Response {
    let snap = state.current().await;
    let now = Utc::now();
    let mut failed = Vec::new();
    let mut overdue = Vec::new();
    let mut never_checked = Vec::new();
    let interval = chrono::Duration::days(i64::from(snap.interval_days));
    for (item, c) in snap.items.iter().zip(&snap.checks) {
        let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if let Some((t, false)) = c.last_fixity {
            failed.push((item.id.as_str(), fmt(t)));
        }
        if c.last_fixity.is_none() {
            never_checked.push(item.id.as_str());
        }
        if c.last_check.is_none_or(|t| now - t >= interval) {
            overdue.push((item.id.as_str(), c.last_check.map(fmt)));
        }
    }
    let archive = state.archive.clone();
    let known: std::collections::HashSet<String> = snap
        .items
        .iter()
        .map(|i| i.id.clone())
        .chain(snap.pending.iter().map(|(id, _)| id.clone()))
        .collect();
    let bags = tokio::task::spawn_blocking(move || archive.bag_ids())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    // A bag published a moment ago whose entry is being written is not a problem:
    // re-check against the register itself before naming one.
    let bags_without_entry = bags
        .into_iter()
        .filter(|id| !known.contains(id) && !state.archive.register_path(id).exists())
        .collect();
    html(pages::audit(&pages::AuditView {
        snap: &snap,
        failed,
        overdue,
        never_checked,
        bags_without_entry,
        now,
    }))
}

async fn not_found() -> Response {
    not_found_page("There is no page at this address.")
}
