//! The archivist's intake (issue 32): `GET /intake` lists the items waiting in
//! intake/ with what a dry run of `cairn ingest` says of each (the same use case, so
//! the same checks and words), and `POST /intake/ingest` ingests the selected items
//! (or all) through the same use case and commit protocol as the command, the
//! logged-in archivist recorded as the operator of each ingestion event. The result
//! is a page once the run has finished (no progress stream yet). `/intake/describe
//! ?item=NAME` is a form with the item's record as ingest would read it; saving it
//! writes the item's sidecar (the file the command line reads), after `amend`'s checks.

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};

use super::routes::{
    archivist, archivist_form, failed, join_failed, page, record_from_form, WebState,
};
use crate::clock::SystemClock;
use crate::metadata::DublinCore;
use crate::ops::ingest::describe::{describe, intake_record};
use crate::ops::ingest::{ingest, IngestOptions, IngestReport, ItemReport, Outcome};
use crate::serve::form::first as field;
use crate::serve::pages::layout;

/// The most items one form may name.
const MAX_SELECTED: usize = 10_000;

/// The archivist's intake routes: /intake, /intake/describe, /intake/ingest.
pub fn router(state: std::sync::Arc<WebState>) -> axum::Router {
    axum::Router::new()
        .route("/intake", axum::routing::get(intake_page))
        .route(
            "/intake/describe",
            axum::routing::get(describe_form).post(describe_post),
        )
        .route("/intake/ingest", axum::routing::post(ingest_post))
        .with_state(state)
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ingested => "ingested",
        Outcome::WouldIngest => "ready",
        Outcome::AlreadyArchived => "already archived",
        Outcome::Refused => "refused",
    }
}

fn item_rows(items: &[ItemReport], selectable: Option<&str>) -> Markup {
    html! {
        table.intake {
            thead { tr {
                @if selectable.is_some() { th { "Ingest" } }
                th { "Item" } th { "Identifier" } th { "Title" } th { "Files" } th { "Bytes" } th { "State" } th { "Problems and warnings" }
            } }
            tbody {
                @for i in items {
                    tr data-item=(i.name) {
                        @if selectable.is_some() {
                            td { @if i.outcome == Outcome::WouldIngest {
                                input type="checkbox" name="item" value=(i.name) aria-label={"Ingest " (i.name)};
                            } }
                        }
                        td { code { (i.name) } " " a.write-control href={"/intake/describe?item=" (enc(&i.name))} { "Describe" } }
                        td { @if let Some(id) = &i.id {
                            @if i.outcome == Outcome::Ingested || i.outcome == Outcome::AlreadyArchived {
                                a href={"/items/" (id)} { (id) }
                            } @else { (id) }
                        } }
                        td { (i.title.as_deref().unwrap_or("")) }
                        td { (i.files) }
                        td { (i.bytes) }
                        td.outcome { (outcome_word(i.outcome)) }
                        td {
                            @if !i.problems.is_empty() || !i.warnings.is_empty() {
                                ul {
                                    @for p in &i.problems { li.problem { "problem: " (p) } }
                                    @for w in &i.warnings { li.warning { "warning: " (w) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sheet_problems(r: &IngestReport) -> Markup {
    html! {
        @if !r.sheet_problems.is_empty() {
            h2 { "Problems of the batch" }
            ul { @for p in &r.sheet_problems { li.problem { "problem: " (p) } } }
        }
    }
}

fn intake_view(r: &IngestReport, csrf: &str) -> Markup {
    let ready = r
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::WouldIngest)
        .count();
    layout(
        "Intake",
        "/intake",
        html! {
            h1 { "Intake" }
            p { (r.items.len()) " items waiting; " (ready) " ready to ingest. What a dry run of "
                code { "cairn ingest" } " finds (nothing has been written)." }
            (sheet_problems(r))
            @if r.items.is_empty() {
                p { "No item is waiting in intake." }
            } @else {
                form method="post" action="/intake/ingest" {
                    input type="hidden" name="csrf" value=(csrf);
                    (item_rows(&r.items, Some(csrf)))
                    p {
                        button type="submit" name="what" value="selected" { "Ingest the selected items" }
                        " "
                        button type="submit" name="what" value="all" { "Ingest every ready item" }
                    }
                }
            }
        },
    )
}

fn result_view(r: &IngestReport) -> Markup {
    let count = |o: Outcome| r.items.iter().filter(|i| i.outcome == o).count();
    layout(
        "Ingested",
        "/intake",
        html! {
            h1 { "Ingest finished" }
            p.summary { "ingested " (count(Outcome::Ingested)) ", already archived "
                (count(Outcome::AlreadyArchived)) ", refused " (count(Outcome::Refused)) }
            (sheet_problems(r))
            (item_rows(&r.items, None))
            p { a href="/intake" { "Back to the intake" } " · " a href="/items" { "Items" } }
        },
    )
}

async fn run(st: &Arc<WebState>, opts: IngestOptions) -> Result<IngestReport, Response> {
    let me = st.clone();
    match tokio::task::spawn_blocking(move || ingest(&me.archive, &opts, &SystemClock)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            let (status, why) = failed(&e);
            Err(page(
                status,
                super::pages::refused("Intake", &format!("{why}; nothing was ingested.")),
            ))
        }
        Err(e) => Err(join_failed("ingest from the browser", &e)),
    }
}

/// `GET /intake`: what a dry run says of each waiting item.
pub async fn intake_page(State(st): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let who = match archivist(&st, &headers) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let opts = IngestOptions {
        dry_run: true,
        ..IngestOptions::default()
    };
    match run(&st, opts).await {
        Ok(r) => page(StatusCode::OK, intake_view(&r, &who.csrf)),
        Err(resp) => resp,
    }
}

/// `POST /intake/ingest`: `what=all`, or `what=selected` with `item=NAME` fields.
pub async fn ingest_post(State(st): State<Arc<WebState>>, req: Request) -> Response {
    let (who, pairs) = match archivist_form(&st, req).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let only: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.clone())
        .collect();
    let all = field(&pairs, "what") == "all";
    if !all && only.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            super::pages::refused(
                "Nothing selected",
                "Select the items to ingest, or ingest every ready item; nothing was ingested.",
            ),
        );
    }
    if only.len() > MAX_SELECTED {
        return page(
            StatusCode::BAD_REQUEST,
            super::pages::refused(
                "Too many items",
                &format!("A form names at most {MAX_SELECTED} items; nothing was ingested."),
            ),
        );
    }
    let opts = IngestOptions {
        only: if all { Vec::new() } else { only },
        operator: who.name.clone(),
        ..IngestOptions::default()
    };
    match run(&st, opts).await {
        Ok(r) => {
            let status = if r.items.iter().any(|i| i.outcome == Outcome::Ingested) || r.is_ok() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            page(status, result_view(&r))
        }
        Err(resp) => resp,
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn describe_view(name: &str, record: &DublinCore, csrf: &str, message: Option<&str>) -> Markup {
    let shown = super::pages::form_terms(record);
    layout(
        &format!("Describe {name}"),
        "/intake",
        html! {
            h1 { "Describe " code { (name) } }
            @if let Some(m) = message {
                p.problem role="alert" { (m) }
            }
            p { "One value a line. What you save becomes the item's " code { "cairn.dc.json" }
                " in intake (the file " code { "cairn ingest" } " reads; it wins over the batch sheet term by term), checked as "
                code { "cairn amend" } " checks a record; nothing is saved if it is refused." }
            form method="post" action={"/intake/describe?item=" (enc(name))} {
                input type="hidden" name="csrf" value=(csrf);
                table {
                    @for t in &shown {
                        tr {
                            th { label for=(t.name()) { (t.name()) } }
                            td { textarea id=(t.name()) name=(t.name()) rows="2" cols="60" { (record.values(*t).join("\n")) } }
                        }
                    }
                }
                p { button type="submit" { "Save the description" } }
            }
            p { a href="/intake" { "Back to the intake" } }
        },
    )
}

/// The `item` parameter of a query string.
fn item_param(q: Option<&str>) -> String {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "item")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn record_of(st: &Arc<WebState>, name: &str) -> Result<DublinCore, Response> {
    let me = st.clone();
    let name = name.to_string();
    match tokio::task::spawn_blocking(move || intake_record(&me.archive, &name)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            let (status, why) = failed(&e);
            let status = if status == StatusCode::BAD_REQUEST {
                StatusCode::NOT_FOUND
            } else {
                status
            };
            Err(page(
                status,
                super::pages::refused("No such intake item", &why),
            ))
        }
        Err(e) => Err(join_failed("reading an intake item", &e)),
    }
}

/// `GET /intake/describe?item=NAME`: the form.
pub async fn describe_form(
    State(st): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let who = match archivist(&st, &headers) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let name = item_param(q.as_deref());
    match record_of(&st, &name).await {
        Ok(record) => page(
            StatusCode::OK,
            describe_view(&name, &record, &who.csrf, None),
        ),
        Err(resp) => resp,
    }
}

/// `POST /intake/describe?item=NAME`: saves the sidecar.
pub async fn describe_post(
    State(st): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let (who, pairs) = match archivist_form(&st, req).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let name = item_param(q.as_deref());
    let record = match record_from_form(&pairs, &["csrf"], "Not saved") {
        Ok((record, _)) => record,
        Err(r) => return *r,
    };
    let me = st.clone();
    let (n, r) = (name.clone(), record.clone());
    match tokio::task::spawn_blocking(move || describe(&me.archive, &n, &r)).await {
        Ok(Ok(())) => page(
            StatusCode::OK,
            layout(
                "Described",
                "/intake",
                html! {
                    h1 { "Described " code { (name) } }
                    p.summary { "Saved as the item's cairn.dc.json in intake." }
                    p { a href="/intake" { "Back to the intake" } " · "
                        a href={"/intake/describe?item=" (enc(&name))} { "Describe it again" } }
                },
            ),
        ),
        Ok(Err(e)) => {
            let (status, why) = failed(&e);
            if status == StatusCode::BAD_REQUEST {
                return page(
                    StatusCode::NOT_FOUND,
                    super::pages::refused("No such intake item", &why),
                );
            }
            page(
                status,
                describe_view(
                    &name,
                    &record,
                    &who.csrf,
                    Some(&format!("Not saved: {why}")),
                ),
            )
        }
        Err(e) => join_failed("describe from the browser", &e),
    }
}
