//! The `cairn` command. Parses arguments, runs one operation, renders its report and
//! turns it into an exit code (see `cli::exit`).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
