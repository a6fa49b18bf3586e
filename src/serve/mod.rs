//! `cairn serve`: a web server over the archive: OAI-PMH 2.0 at /oai for harvesters,
//! and pages for readers and auditors (/, /items, /items/ID, /events, /audit). Nothing
//! it does writes to the archive, unless the archive has accounts: then archivists
//! amend and withdraw through the ops use cases ([`auth`]).
//!
//! - [`snapshot`]: the archive read into memory, refreshed when its files change.
//! - [`oai`], [`token`]: the protocol, pure.
//! - [`pages`]: the HTML, compile-time templates.
//! - [`reader`]: tombstones, formats, scan QC, damage and kept versions on item pages.
//! - [`search`]: how /items?q= folds case and diacritics.
//! - [`auth`]: accounts, sessions, CSRF, login limits, the write routes.
//! - [`form`]: the body limit and field lookup every form route shares.
//! - [`files`]: payload files, resolved only through the register.
//! - [`http`]: the axum application, the listener and its limits.

pub mod auth;
pub mod files;
pub mod form;
pub mod http;
pub mod oai;
pub mod pages;
pub mod reader;
pub mod search;
pub mod snapshot;
pub mod token;

pub use http::{app, serve, ServeOptions};
