//! `cairn serve`: a read-only web server over the archive: OAI-PMH 2.0 at /oai for
//! harvesters, and pages for readers and auditors (/, /items, /items/ID, /events,
//! /audit). Nothing it does writes to the archive.
//!
//! - [`snapshot`]: the archive read into memory, refreshed when its files change.
//! - [`oai`], [`token`]: the protocol, pure.
//! - [`pages`]: the HTML, compile-time templates.
//! - [`files`]: payload files, resolved only through the register.
//! - [`http`]: the axum application, the listener and its limits.

pub mod auth;
pub mod files;
pub mod http;
pub mod oai;
pub mod pages;
pub mod snapshot;
pub mod token;

pub use http::{app, serve, ServeOptions};
