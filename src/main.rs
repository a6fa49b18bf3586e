//! The `cairn` command. Parses arguments, runs one operation, renders its report and
//! turns it into an exit code (see `cli::exit`).

// As in the library (src/lib.rs): no unwrap or expect outside tests.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
