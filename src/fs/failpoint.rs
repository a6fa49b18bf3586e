//! Crash injection for tests: `CAIRN_FAILPOINT=NAME` makes the process abort (as a
//! SIGKILL or power cut would stop it, with no cleanup) when it reaches the point
//! called NAME. Names are listed in docs/crash-safety.md. Costs one environment read
//! per process.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("CAIRN_FAILPOINT").ok())
        .as_deref()
}

/// Aborts the process here if the failpoint `name` is armed.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        eprintln!("cairn: failpoint {name}: aborting");
        std::process::abort();
    }
}

/// Whether the failpoint `name` is armed, for a point that does something other than
/// abort (`hash-mapped-truncate`: the file being hashed shrinks after it was mapped).
pub fn armed_is(name: &str) -> bool {
    armed() == Some(name)
}
