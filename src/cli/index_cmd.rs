//! `cairn index rebuild`: the item index (fs::item_index) rebuilt from the files.

use clap::{Args, Subcommand};

use super::common::{open_archive, say, RootArg};
use super::outcome::{error_exit, exit};

#[derive(Subcommand)]
pub(super) enum IndexCommand {
    /// Rebuild manifests/.item-index/ from the register entries, the tombstones and the
    /// event log, whatever state it is in. Never needed for correctness: every command
    /// rebuilds an index that is missing, behind, ahead or inconsistent by itself.
    #[command(after_help = super::common::EXIT_CODES_HELP)]
    Rebuild(IndexRebuildArgs),
}

#[derive(Args)]
pub(super) struct IndexRebuildArgs {
    #[command(flatten)]
    pub(super) root: RootArg,
}

pub(super) fn run_index(cmd: IndexCommand) -> u8 {
    let IndexCommand::Rebuild(args) = cmd;
    let archive = match open_archive(&args.root, "index rebuild") {
        Ok(a) => a,
        Err(code) => return code,
    };
    match archive.rebuild_item_index() {
        Ok(n) => {
            say!(
                "rebuilt the item index: {}",
                cairn::units::count(n as u64, "identifier", "identifiers")
            );
            exit::OK
        }
        Err(e) => error_exit("index rebuild", &e),
    }
}
