//! `cairn serve`: the web view and OAI-PMH end to end against the real binary with real
//! clients (`web`, `oai`, `deleted`).

mod deleted;
mod oai;
mod web;
