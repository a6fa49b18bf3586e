//! Crash injection and pause points for tests, compiled only with the `test-hooks`
//! feature, which the test suite turns on (Cargo.toml: the package's dev-dependency on
//! itself) and release builds do not have, and only with debug assertions: a
//! release-profile build never has them, even one that turned the feature on by
//! building an example beside the binary. Without them every function here is empty:
//! `CAIRN_FAILPOINT` and `CAIRN_PAUSEPOINT` are not even read, so a stray variable in
//! an archivist's environment cannot truncate a file or stop a run.
//!
//! With the feature, `CAIRN_FAILPOINT=NAME` makes the process abort (as a SIGKILL or
//! power cut would stop it, with no cleanup) when it reaches the point called NAME, and
//! `CAIRN_PAUSEPOINT=NAME` makes it wait there (see [`pause`]); every failpoint is also
//! a pause point. Names are listed in docs/crash-safety.md. Costs one environment read
//! per process.

#[cfg(all(feature = "test-hooks", debug_assertions))]
mod hooks {
    use std::sync::OnceLock;

    fn armed() -> Option<&'static str> {
        static ARMED: OnceLock<Option<String>> = OnceLock::new();
        ARMED
            .get_or_init(|| std::env::var("CAIRN_FAILPOINT").ok())
            .as_deref()
    }

    pub fn hit(name: &str) {
        pause(name);
        if armed() == Some(name) {
            eprintln!("cairn: failpoint {name}: aborting");
            std::process::abort();
        }
    }

    pub fn armed_is(name: &str) -> bool {
        armed() == Some(name)
    }

    pub fn pause(name: &str) {
        static PAUSE: OnceLock<Option<(String, std::path::PathBuf)>> = OnceLock::new();
        static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let armed = PAUSE.get_or_init(|| {
            let point = std::env::var("CAIRN_PAUSEPOINT").ok()?;
            let file = std::env::var_os("CAIRN_PAUSEPOINT_FILE")?;
            Some((point, file.into()))
        });
        let Some((point, file)) = armed else {
            return;
        };
        if point != name || DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        eprintln!(
            "cairn: pause point {name}: waiting for {} to go",
            file.display()
        );
        if std::fs::write(file, name).is_err() {
            return;
        }
        let start = std::time::Instant::now();
        while file.exists() && start.elapsed() < std::time::Duration::from_secs(120) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Aborts the process here if the failpoint `name` is armed (after waiting here if it
/// is the armed pause point). Does nothing without the test hooks.
#[inline(always)]
pub fn hit(name: &str) {
    #[cfg(all(feature = "test-hooks", debug_assertions))]
    hooks::hit(name);
    #[cfg(not(all(feature = "test-hooks", debug_assertions)))]
    let _ = name;
}

/// Whether the failpoint `name` is armed, for a point that does something other than
/// abort (`hash-mapped-truncate`: the file being hashed shrinks after it was mapped).
/// Always false without the test hooks.
#[inline(always)]
pub fn armed_is(name: &str) -> bool {
    #[cfg(all(feature = "test-hooks", debug_assertions))]
    return hooks::armed_is(name);
    #[cfg(not(all(feature = "test-hooks", debug_assertions)))]
    {
        let _ = name;
        false
    }
}

/// Pause points, for tests that must act at an exact moment (stop a server in the
/// middle of an upload, change an item while fixity checks it): with
/// `CAIRN_PAUSEPOINT=NAME` and `CAIRN_PAUSEPOINT_FILE=PATH`, the first time the process
/// reaches NAME it creates PATH and waits until the test deletes it (at most 120 s),
/// then goes on. Does nothing without the test hooks.
#[inline(always)]
pub fn pause(name: &str) {
    #[cfg(all(feature = "test-hooks", debug_assertions))]
    hooks::pause(name);
    #[cfg(not(all(feature = "test-hooks", debug_assertions)))]
    let _ = name;
}

/// The time tests pretend it is (`CAIRN_TEST_NOW`, RFC 3339), so that they can
/// simulate months of nightly runs. `None` without the test hooks: a release build
/// never reads the variable, so a pretend time can never reach a real archive's log.
#[inline(always)]
pub fn test_now() -> Option<String> {
    #[cfg(all(feature = "test-hooks", debug_assertions))]
    return std::env::var("CAIRN_TEST_NOW").ok();
    #[cfg(not(all(feature = "test-hooks", debug_assertions)))]
    None
}
