//! The pages of accounts and write routes: login, the amend and withdraw forms, their
//! results, refusals, and the bar every page gets when the archive has accounts.
//! Every form posts a CSRF token; every value is escaped by maud.

use maud::{html, Markup};

use super::Who;
use crate::metadata::{DublinCore, Term};
use crate::ops::users::Role;
use crate::serve::pages::layout;

/// The bar at the top of every page: who is logged in, with a logout button, or a
/// login link; on an item's page, an archivist's controls.
pub fn session_bar(who: Option<&Who>, item: Option<&str>) -> Markup {
    html! {
        div.session role="navigation" aria-label="Account" style="display:flex;gap:1em;align-items:center;justify-content:flex-end;margin-bottom:1em" {
            @if let Some(w) = who {
                @if w.role >= Role::Archivist {
                    a.write-control href="/intake" { "Intake" }
                }
                @if let Some(id) = item {
                    @if w.role >= Role::Archivist {
                        a.write-control href={"/items/" (id) "/amend"} { "Amend the description" }
                        a.write-control href={"/items/" (id) "/withdraw"} { "Withdraw" }
                    }
                }
                span { "Signed in as " strong { (w.name) } " (" (w.role.name()) ")" }
                form method="post" action="/logout" style="display:inline" {
                    input type="hidden" name="csrf" value=(w.csrf);
                    button type="submit" { "Log out" }
                }
            } @else {
                a href="/login" { "Log in" }
            }
        }
    }
}

pub fn login(csrf: &str, message: Option<&str>) -> Markup {
    layout(
        "Log in",
        "/login",
        html! {
            h1 { "Log in" }
            @if let Some(m) = message {
                p.problem role="alert" { (m) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                p { label { "Name " input type="text" name="name" autocomplete="username" required maxlength="64"; } }
                p { label { "Password " input type="password" name="password" autocomplete="current-password" required maxlength="1024"; } }
                p { button type="submit" { "Log in" } }
            }
        },
    )
}

/// A refusal page: what was refused and what to do.
pub fn refused(title: &str, message: &str) -> Markup {
    layout(
        title,
        "",
        html! {
            h1 { (title) }
            p { (message) }
            p { a href="/login" { "Log in" } " · " a href="/" { "Overview" } }
        },
    )
}

/// The terms a description form shows: every term the record has and every DCMES
/// element.
pub fn form_terms(record: &DublinCore) -> Vec<Term> {
    let present = record.terms();
    Term::all()
        .filter(|t| present.contains(t) || t.dumb_down().is_some_and(|e| e.term() == *t))
        .collect()
}

/// The form that amends an item's description: every term it has and every DCMES
/// element, one value a line.
pub fn amend_form(id: &str, record: &DublinCore, csrf: &str, message: Option<&str>) -> Markup {
    let shown = form_terms(record);
    layout(
        &format!("Amend {id}"),
        "",
        html! {
            h1 { "Amend the description of " a href={"/items/" (id)} { (id) } }
            @if let Some(m) = message {
                p.problem role="alert" { (m) }
            }
            p { "One value a line; an emptied term is removed. The new record is checked as "
                code { "cairn amend" } " checks it, and nothing changes if it is refused." }
            form method="post" action={"/items/" (id) "/amend"} {
                input type="hidden" name="csrf" value=(csrf);
                table {
                    @for t in &shown {
                        tr {
                            th { label for=(t.name()) { (t.name()) } }
                            td { textarea id=(t.name()) name=(t.name()) rows="2" cols="60" lang="" { (record.values(*t).join("\n")) } }
                        }
                    }
                }
                p { label { "Reason (kept in the event log) " input type="text" name="reason" required maxlength="1000" size="60"; } }
                p { button type="submit" { "Amend" } }
            }
        },
    )
}

pub fn withdraw_form(id: &str, csrf: &str, message: Option<&str>) -> Markup {
    layout(
        &format!("Withdraw {id}"),
        "",
        html! {
            h1 { "Withdraw " a href={"/items/" (id)} { (id) } }
            @if let Some(m) = message {
                p.problem role="alert" { (m) }
            }
            p { "The item leaves the archive: its bag is moved to quarantine (or, purged, its bytes are deleted), a tombstone keeps its record, and the identifier is never used again." }
            form method="post" action={"/items/" (id) "/withdraw"} {
                input type="hidden" name="csrf" value=(csrf);
                p { label { "Reason (kept in the tombstone and the event log) " input type="text" name="reason" required maxlength="1000" size="60"; } }
                p {
                    label { input type="radio" name="disposition" value="quarantine" checked; " Keep the bag in quarantine" }
                    br;
                    label { input type="radio" name="disposition" value="purge"; " Purge: delete the bag's bytes for ever" }
                }
                p { label { "To purge, type the identifier again to confirm: " input type="text" name="confirm" maxlength="200"; } }
                p { button type="submit" { "Withdraw" } }
            }
        },
    )
}

/// What a write did.
pub fn done(title: &str, id: &str, lines: &[String]) -> Markup {
    layout(
        title,
        "",
        html! {
            h1 { (title) }
            ul { @for l in lines { li { (l) } } }
            p { a href={"/items/" (id)} { "The item's page" } " · " a href="/items" { "Items" } }
        },
    )
}
