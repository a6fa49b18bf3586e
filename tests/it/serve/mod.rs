//! `cairn serve`: the web view and OAI-PMH end to end against the real binary with real
//! clients (`web`, `oai`, `deleted`), and the router in process (`router`).

mod deleted;
mod oai;
mod reader;
mod records;
mod router;
mod web;
