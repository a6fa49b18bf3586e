//! The routes of accounts: /login, /logout, and the archivist's write routes
//! /items/ID/amend and /items/ID/withdraw (GET: the form; POST: the change, through the
//! same use cases and commit protocol as `cairn amend` and `cairn withdraw`, the
//! logged-in person recorded as the operator). And [`gate`], the layer in front of
//! every route: the auditor's pages need an auditor, and every page gets the session
//! bar. With no accounts configured none of this answers or changes anything.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{cookie, pages, same_token, Auth, Refusal, Who, LOGIN_COOKIE, SESSION_COOKIE};
use crate::clock::SystemClock;
use crate::error::Error;
use crate::fs::archive::Archive;
use crate::metadata::{DublinCore, Term};
use crate::ops::amend::{amend, current_entry, current_record, AmendOptions, Edit};
use crate::ops::users::Role;
use crate::ops::withdraw::{withdraw, WithdrawOptions};
use crate::serve::form::{first as field, MAX_BODY};

/// What the account routes need.
pub struct WebState {
    pub auth: Auth,
    pub archive: Archive,
}

pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/items/{id}/amend", get(amend_form).post(amend_post))
        .route(
            "/items/{id}/withdraw",
            get(withdraw_form).post(withdraw_post),
        )
        .with_state(state)
}

pub(super) fn page(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        crate::serve::pages::not_found("There is no page at this address."),
    )
}

pub(super) fn forbidden(why: &str) -> Response {
    page(StatusCode::FORBIDDEN, pages::refused("Not allowed", why))
}

fn peer(headers: &axum::http::Extensions) -> Option<IpAddr> {
    headers.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// A request's form fields (a body over [`MAX_BODY`] is refused).
pub(super) async fn form(
    req: Request,
) -> Result<(axum::http::request::Parts, Vec<(String, String)>), Response> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => Ok((parts, form_urlencoded::parse(&b).into_owned().collect())),
        Err(_) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("A form is at most {MAX_BODY} bytes.\n"),
        )
            .into_response()),
    }
}

fn redirect(to: &'static str, cookies: &[String]) -> Response {
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn login_form(State(st): State<Arc<WebState>>) -> Response {
    if !st.auth.enabled() {
        return not_found();
    }
    login_page(&st.auth, StatusCode::OK, None)
}

/// The login form with a fresh CSRF token bound to its cookie.
fn login_page(auth: &Auth, status: StatusCode, message: Option<&str>) -> Response {
    let token = super::random_token();
    let mut resp = page(status, pages::login(&token, message));
    if let Ok(v) = HeaderValue::from_str(&auth.set_cookie(LOGIN_COOKIE, &token, Some(1800))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login(State(st): State<Arc<WebState>>, req: Request) -> Response {
    if !st.auth.enabled() {
        return not_found();
    }
    let (parts, pairs) = match form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let addr = peer(&parts.extensions);
    let bound = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or("");
    if !same_token(field(&pairs, "csrf"), bound) {
        st.auth
            .log("login-refused", None, addr, "missing or wrong CSRF token");
        return login_page(
            &st.auth,
            StatusCode::FORBIDDEN,
            Some("The form had expired or did not come from this site; nothing was done. Log in again."),
        );
    }
    let name = field(&pairs, "name").to_string();
    let password = field(&pairs, "password").to_string();
    let old = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
    let Ok(_turn) = st.auth.checks.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is stopping.\n").into_response();
    };
    let me = st.clone();
    let result =
        tokio::task::spawn_blocking(move || me.auth.login(&name, &password, addr, old.as_deref()))
            .await;
    match result {
        Ok(Ok((token, _who))) => redirect(
            "/",
            &[
                st.auth.set_cookie(SESSION_COOKIE, &token, None),
                st.auth.set_cookie(LOGIN_COOKIE, "", Some(0)),
            ],
        ),
        Ok(Err(Refusal::Wrong)) => login_page(
            &st.auth,
            StatusCode::UNAUTHORIZED,
            Some("The name or the password is wrong."),
        ),
        Ok(Err(Refusal::Locked)) => login_page(
            &st.auth,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "This account is locked for {} minutes after {} wrong passwords in a row. Other accounts are not affected.",
                super::LOCK_FOR.as_secs() / 60,
                super::LOCK_AFTER
            )),
        ),
        Ok(Err(Refusal::Address)) => login_page(
            &st.auth,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed logins from this address; try again in {} minutes.",
                super::ADDRESS_WINDOW.as_secs() / 60
            )),
        ),
        Err(e) => join_failed("the login check", &e),
    }
}

async fn logout(State(st): State<Arc<WebState>>, req: Request) -> Response {
    if !st.auth.enabled() {
        return not_found();
    }
    let (parts, pairs) = match form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Some(who) = st.auth.who(&parts.headers) {
        if !same_token(field(&pairs, "csrf"), &who.csrf) {
            return forbidden(
                "The form had expired or did not come from this site; you are still logged in.",
            );
        }
        st.auth.logout(&parts.headers, peer(&parts.extensions));
    }
    redirect("/login", &[st.auth.set_cookie(SESSION_COOKIE, "", Some(0))])
}

/// A blocking task that did not finish (it panicked): logged, and answered 500.
pub(super) fn join_failed(what: &str, e: &tokio::task::JoinError) -> Response {
    tracing::error!("{what} failed: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "The request could not be completed; nothing was changed unless the item's page shows it.\n",
    )
        .into_response()
}

/// An identifier that can name an item: letters, digits, `-`, `_`, `.`, not first.
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The archivist making this request, or the response refusing it.
pub(super) fn archivist(st: &WebState, headers: &HeaderMap) -> Result<Who, Box<Response>> {
    if !st.auth.enabled() {
        return Err(Box::new(not_found()));
    }
    match st.auth.who(headers) {
        Some(w) if w.role >= Role::Archivist => Ok(w),
        Some(w) => Err(Box::new(forbidden(&format!(
            "Changing the archive needs an archivist's account; {} is a {}. Nothing was changed.",
            w.name, w.role
        )))),
        None => Err(Box::new(forbidden(
            "Changing the archive needs an archivist to log in. Nothing was changed.",
        ))),
    }
}

/// An error of a use case as a page: what the archivist can fix is shown; the rest is
/// logged and summarised.
pub(super) fn failed(e: &Error) -> (StatusCode, String) {
    match e {
        Error::Usage(m) => (StatusCode::BAD_REQUEST, m.clone()),
        Error::Refused { reason, .. } => (StatusCode::UNPROCESSABLE_ENTITY, reason.clone()),
        Error::Locked { holder, .. } => (
            StatusCode::CONFLICT,
            format!("The archive is busy ({holder} holds its lock); nothing was changed. Try again in a moment."),
        ),
        other => {
            tracing::error!("a change from the browser failed: {other}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The change could not be made (the server's log says why); nothing was changed unless the item's page shows it.".into(),
            )
        }
    }
}

async fn record_of(st: &Arc<WebState>, id: &str) -> Result<DublinCore, String> {
    let me = st.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let entry = current_entry(&me.archive, &id)?;
        current_record(&me.archive, &entry).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A write route's form for an archivist: `render` gets the item's record and the
/// session's CSRF token.
async fn form_page(
    st: &Arc<WebState>,
    id: &str,
    headers: &HeaderMap,
    render: impl FnOnce(&DublinCore, &str) -> maud::Markup,
) -> Response {
    let who = match archivist(st, headers) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    if !plain_id(id) {
        return not_found();
    }
    match record_of(st, id).await {
        Ok(record) => page(StatusCode::OK, render(&record, &who.csrf)),
        Err(why) => page(StatusCode::NOT_FOUND, pages::refused("No such item", &why)),
    }
}

async fn amend_form(
    State(st): State<Arc<WebState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    form_page(&st, &id, &headers, |record, csrf| {
        pages::amend_form(&id, record, csrf, None)
    })
    .await
}

/// The form of a write route and the archivist posting it: refused unless the
/// request carries an archivist's session and that session's CSRF token, and names an
/// item by a plain identifier.
async fn write_form(
    st: &WebState,
    id: &str,
    req: Request,
) -> Result<(Who, Vec<(String, String)>), Box<Response>> {
    let (who, pairs) = archivist_form(st, req).await?;
    if !plain_id(id) {
        return Err(Box::new(not_found()));
    }
    Ok((who, pairs))
}

/// A form posted by an archivist with the session's CSRF token, or the refusal.
pub(super) async fn archivist_form(
    st: &WebState,
    req: Request,
) -> Result<(Who, Vec<(String, String)>), Box<Response>> {
    let (parts, pairs) = form(req).await.map_err(Box::new)?;
    let who = archivist(st, &parts.headers)?;
    if !same_token(field(&pairs, "csrf"), &who.csrf) {
        return Err(Box::new(forbidden("The form had expired or did not come from this site; nothing was changed. Open the form again.")));
    }
    Ok((who, pairs))
}

/// The Dublin Core terms of a form (one value a line; fields in `skip` left out), and
/// the terms it named; an unknown term is refused (400, with its "did you mean").
pub(super) fn record_from_form(
    pairs: &[(String, String)],
    skip: &[&str],
    title: &str,
) -> Result<(DublinCore, Vec<Term>), Box<Response>> {
    let mut set = DublinCore::new();
    let mut given = Vec::new();
    for (k, v) in pairs {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let term = Term::parse(k).map_err(|e| {
            Box::new(page(
                StatusCode::BAD_REQUEST,
                pages::refused(title, &format!("{e}; nothing was changed.")),
            ))
        })?;
        given.push(term);
        for line in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
            set.push(term, line);
        }
    }
    Ok((set, given))
}

async fn amend_post(
    State(st): State<Arc<WebState>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (who, pairs) = match write_form(&st, &id, req).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (set, given) = match record_from_form(&pairs, &["csrf", "reason"], "Not amended") {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let unset: Vec<Term> = given.into_iter().filter(|t| !set.contains(*t)).collect();
    let opts = AmendOptions {
        edits: vec![Edit {
            id: id.clone(),
            set,
            unset,
            origin: "the web form".into(),
        }],
        reason: field(&pairs, "reason").to_string(),
        operator: who.name.clone(),
        data: Default::default(),
    };
    let me = st.clone();
    let result = tokio::task::spawn_blocking(move || amend(&me.archive, &opts, &SystemClock)).await;
    match result {
        Ok(Ok(report)) => {
            let lines: Vec<String> = report
                .items
                .iter()
                .map(|i| {
                    if i.terms.is_empty() {
                        format!("{}: unchanged (the record already says so)", i.id)
                    } else {
                        format!(
                            "{}: {} (entry version {}): {}",
                            i.id,
                            i.outcome,
                            i.entry_version,
                            i.terms.join(", ")
                        )
                    }
                })
                .collect();
            page(StatusCode::OK, pages::done("Amended", &id, &lines))
        }
        Ok(Err(e)) => {
            let (status, why) = failed(&e);
            match record_of(&st, &id).await {
                Ok(record) => page(
                    status,
                    pages::amend_form(&id, &record, &who.csrf, Some(&why)),
                ),
                Err(_) => page(status, pages::refused("Not amended", &why)),
            }
        }
        Err(e) => join_failed("amend from the browser", &e),
    }
}

async fn withdraw_form(
    State(st): State<Arc<WebState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    form_page(&st, &id, &headers, |_, csrf| {
        pages::withdraw_form(&id, csrf, None)
    })
    .await
}

async fn withdraw_post(
    State(st): State<Arc<WebState>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (who, pairs) = match write_form(&st, &id, req).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let purge = match field(&pairs, "disposition") {
        "" | "quarantine" => false,
        "purge" => true,
        other => {
            return page(
                StatusCode::BAD_REQUEST,
                pages::withdraw_form(
                    &id,
                    &who.csrf,
                    Some(&format!(
                        "{} is not a disposition (quarantine or purge); nothing was changed.",
                        crate::quoted(other)
                    )),
                ),
            )
        }
    };
    if purge && field(&pairs, "confirm").trim() != id {
        return page(
            StatusCode::BAD_REQUEST,
            pages::withdraw_form(
                &id,
                &who.csrf,
                Some("Purging deletes the bag's bytes for ever: type the identifier in the confirmation field to confirm. Nothing was changed."),
            ),
        );
    }
    let opts = WithdrawOptions {
        id: id.clone(),
        reason: field(&pairs, "reason").to_string(),
        operator: who.name.clone(),
        purge,
    };
    let me = st.clone();
    let result =
        tokio::task::spawn_blocking(move || withdraw(&me.archive, &opts, &SystemClock)).await;
    match result {
        Ok(Ok(report)) => {
            let lines = vec![format!(
                "{} withdrawn on {} ({}): {}",
                report.id,
                report.tombstone.withdrawn,
                report.tombstone.disposition,
                report.tombstone.reason
            )];
            page(StatusCode::OK, pages::done("Withdrawn", &id, &lines))
        }
        Ok(Err(e)) => {
            let (status, why) = failed(&e);
            page(status, pages::withdraw_form(&id, &who.csrf, Some(&why)))
        }
        Err(e) => join_failed("withdraw from the browser", &e),
    }
}

/// In front of every route: with accounts configured, /events and /audit need an
/// auditor (403 otherwise), responses to a logged-in person are not cached, and every
/// HTML page gets the session bar. Without accounts, requests pass untouched.
pub async fn gate(State(st): State<Arc<WebState>>, req: Request, next: Next) -> Response {
    if !st.auth.enabled() {
        return next.run(req).await;
    }
    let who = st.auth.who(req.headers());
    let path = req.uri().path().to_string();
    let auditors_only = path == "/events" || path == "/audit";
    if auditors_only && who.as_ref().is_none_or(|w| w.role < Role::Auditor) {
        return forbidden("The event log and the audit page need an auditor's account.");
    }
    let get = req.method() == Method::GET;
    let mut resp = next.run(req).await;
    if who.is_some() {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !get || !is_html {
        return resp;
    }
    let item = path
        .strip_prefix("/items/")
        .filter(|rest| !rest.contains('/') && plain_id(rest))
        .filter(|_| resp.status() == StatusCode::OK);
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "The page could not be sent.\n",
        )
            .into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let bar = pages::session_bar(who.as_ref(), item).into_string();
    let out = match text.find("<main>") {
        Some(at) => {
            let at = at + "<main>".len();
            format!("{}{}{}", &text[..at], bar, &text[at..])
        }
        None => text.into_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}
