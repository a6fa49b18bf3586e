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

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use super::files::{open_no_follow, parse_range, resolve_in_bag, Range};
use super::oai;
use super::pages;
use super::snapshot::{current_item, Item, LineRow, LineShown, Names, Snapshot, Stamp, Status};
use super::token::TokenKey;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::serve::config::ServeSection;

pub const MAX_CONNECTIONS: usize = 2048;
pub const MAX_IN_FLIGHT: usize = 256;
pub const MAX_URI: usize = 8 * 1024;
pub const MAX_BODY: usize = 64 * 1024;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a response may wait for a client that stopped reading it.
pub const SEND_STALL: Duration = Duration::from_secs(60);
/// The longest a shutdown waits for requests under way, after SIGTERM or Ctrl-C.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
/// File descriptors kept for the server's own reads (the log, register entries, bags'
/// dc.xml) and the runtime, before connections are counted.
const RESERVED_FDS: u64 = 32;
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
}

struct AppState {
    archive: Archive,
    snapshot: RwLock<Arc<Snapshot>>,
    refresh: tokio::sync::Mutex<()>,
    key: TokenKey,
    base_url: String,
    serve_files: bool,
}

impl AppState {
    fn new(archive: Archive, first: Snapshot, base_url: String, serve_files: bool) -> Arc<Self> {
        Arc::new(AppState {
            archive,
            snapshot: RwLock::new(Arc::new(first)),
            refresh: tokio::sync::Mutex::new(()),
            key: TokenKey::random(),
            base_url,
            serve_files,
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
        let state = AppState::new(archive, first, base_url.clone(), opts.serve_files);
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
    )))
}

/// How the listener bounds its connections, worked out at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's opening, or its last response's end, to the end of the next
    /// request's headers.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub per_address: usize,
}

impl Limits {
    /// The limits for `[serve]` under a file limit of `nofile` descriptors (`None`:
    /// unlimited). Each connection may hold two (its socket and a payload file being
    /// sent), after [`RESERVED_FDS`] for the server itself; one address gets at most
    /// half of them, so that it can never take every place.
    pub fn new(cfg: &ServeSection, nofile: Option<u64>) -> Limits {
        let by_fds = nofile.map_or(MAX_CONNECTIONS, |n| {
            usize::try_from(n.saturating_sub(RESERVED_FDS) / 2).unwrap_or(MAX_CONNECTIONS)
        });
        let max_connections = by_fds.clamp(1, MAX_CONNECTIONS);
        let per_address = usize::try_from(cfg.max_connections_per_address)
            .unwrap_or(usize::MAX)
            .min(max_connections.div_ceil(2))
            .max(1);
        Limits {
            header_timeout: Duration::from_secs(u64::from(cfg.header_timeout_secs)),
            max_connections,
            per_address,
        }
    }
}

/// The soft `RLIMIT_NOFILE`, `None` when unlimited or unknown.
fn open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes one `rlimit` this function owns; no other memory.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// Accepts and serves connections under `limits` until `stop` completes, then stops
/// accepting, asks every connection to close (idle ones close at once, requests under
/// way finish) and returns when all have closed or [`SHUTDOWN_DEADLINE`] has passed.
async fn run_listener(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress {
        cap: limits.per_address,
        open: Arc::default(),
    };
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            _ = &mut stop => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                // Out of file descriptors and the like: wait, then try again.
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = per_address.take(peer.ip()) else {
            tracing::debug!("{peer}: too many connections from this address, closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(GuardedStream {
            stream,
            stalled: None,
        });
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            let mut conn = std::pin::pin!(builder.serve_connection(io, service));
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_DEADLINE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {} s: closed",
            SHUTDOWN_DEADLINE.as_secs()
        );
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = ctrl_c => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/oai", get(oai_get).post(oai_post))
        .route("/items", get(items))
        .route("/items/{id}", get(item))
        .route("/items/{id}/files/{n}", get(file))
        .route("/events", get(events))
        .route("/audit", get(audit))
        .fallback(not_found)
        .with_state(state)
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

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
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
    let needle = query.trim().to_lowercase();
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
            html(pages::item(
                item,
                &events,
                &snap,
                Utc::now(),
                state.serve_files,
                state.archive.config.serve.restricted_digests,
                &oai::oai_identifier(&state.archive.config.serve, &item.id),
            ))
        }
        None => not_found_page("No item has this identifier."),
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
    if !state.serve_files {
        return plain(
            StatusCode::NOT_FOUND,
            "Payload files are not served here (the server was started without --serve-files).",
        );
    }
    let snap = state.current().await;
    let Some(item) = snap.item(&id) else {
        return plain(StatusCode::NOT_FOUND, "No item has this identifier.");
    };
    // Access rights as the register says now, not as the snapshot read them.
    let item = match current(&state, item).await {
        Ok(item) => item,
        Err(why) => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                "The item's register entry cannot be read now ({why}); its files are not served."
            ),
            )
        }
    };
    if item.restricted {
        return plain(
            StatusCode::FORBIDDEN,
            "This item is restricted: its description is public, its files are not served.",
        );
    }
    let Some(record) = n.parse::<usize>().ok().and_then(|n| item.files.get(n)) else {
        return plain(StatusCode::NOT_FOUND, "The item has no such file.");
    };
    let record = record.clone();
    let bag = item.bag_dir.clone();
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

/// Connections open from each address, each at most `cap`.
struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in [`PerAddress`], given back when it closes.
struct AddressSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    fn take(&self, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            ip,
            open: self.open.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection whose writes fail once the client has not taken any bytes for
/// [`SEND_STALL`], so that a reader who stops reading cannot hold it open.
struct GuardedStream {
    stream: TcpStream,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    /// A write's result: done (the stall timer reset), or pending until the client takes
    /// bytes again, an error once it has waited [`SEND_STALL`].
    fn after_write(
        &mut self,
        cx: &mut TaskContext<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(SEND_STALL)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.stream).poll_write(cx, buf);
        me.after_write(cx, polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.stream).poll_write_vectored(cx, bufs);
        me.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_stay_under_the_file_limit() {
        let cfg = ServeSection::default();
        let l = Limits::new(&cfg, Some(100));
        assert_eq!(l.max_connections, 34);
        assert_eq!(l.per_address, 17);
        let l = Limits::new(&cfg, Some(1024));
        assert_eq!((l.max_connections, l.per_address), (496, 64));
        let l = Limits::new(&cfg, None);
        assert_eq!((l.max_connections, l.per_address), (MAX_CONNECTIONS, 64));
        let l = Limits::new(&cfg, Some(10));
        assert_eq!((l.max_connections, l.per_address), (1, 1));
        assert_eq!(l.header_timeout, Duration::from_secs(10));
    }
}
