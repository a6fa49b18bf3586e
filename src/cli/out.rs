//! The one way the CLI writes its output: every line to stdout goes through [`out!`] or
//! [`outln!`], every message to stderr through [`errln!`] (and `say!` / `note!`, which
//! are these behind `--quiet`).
//!
//! A reader that stops reading (`cairn list | head -1`) closes the pipe: the next write
//! fails with `BrokenPipe`, and the command ends there, quietly, with status 0, as
//! ripgrep does (the reader has what it asked for; what the run found is in the event
//! log). The write unwinds to the CLI's `run` with a [`Stop`] payload, so that locks and
//! temporary files are released by their destructors on the way, and no panic message
//! is printed. Any other failure to write (a full disk under `> file`) ends the command
//! with exit 3 and one line saying so.

use std::fmt;
use std::io::{self, Write};

/// Why a write stopped the command: the payload the CLI's `run` catches.
pub(super) enum Stop {
    /// The reader closed the pipe.
    PipeClosed,
    /// Standard output or error could not be written.
    WriteFailed(String),
}

fn stop(stream: &str, e: io::Error) -> ! {
    let why = if e.kind() == io::ErrorKind::BrokenPipe {
        Stop::PipeClosed
    } else {
        Stop::WriteFailed(format!("cannot write to standard {stream}: {e}"))
    };
    // resume_unwind runs no panic hook: nothing is printed on the way.
    std::panic::resume_unwind(Box::new(why))
}

/// Writes to stdout, with a newline when `newline`.
pub(super) fn stdout(args: fmt::Arguments<'_>, newline: bool) {
    let mut out = io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        stop("output", e);
    }
}

/// Writes a line to stderr.
pub(super) fn stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    if let Err(e) = err.write_fmt(args).and_then(|()| err.write_all(b"\n")) {
        stop("error", e);
    }
}

/// Writes bytes to stdout as they are (JSON, a manual page, a zip listing).
pub(super) fn stdout_bytes(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        stop("output", e);
    }
}

/// Writes `value` to stdout as pretty JSON and a newline, streamed (a long list is not
/// held twice).
pub(super) fn json<T: serde::Serialize>(value: &T) {
    let mut out = io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| out.write_all(b"\n"));
    if let Err(e) = written {
        stop("output", e);
    }
}

/// A JSON array written to stdout one element at a time: the same bytes [`json`] writes
/// for a `Vec` of the same elements (serde_json's pretty format: `[]` when empty, else
/// each element on its own lines, indented by two spaces, `,` between them), without
/// holding the elements. `[` is written with the first element, or by
/// [`JsonArray::finish`]; `]` only by `finish`. A caller that meets an error after the
/// first element drops the array unfinished: the output ends without its `]` and is not
/// valid JSON, so it cannot be taken for the whole list (and the exit code says why).
pub(super) struct JsonArray {
    out: io::BufWriter<Checked>,
    one: Vec<u8>,
    started: bool,
}

impl JsonArray {
    pub(super) fn new() -> Self {
        JsonArray {
            out: io::BufWriter::with_capacity(64 * 1024, checked()),
            one: Vec::new(),
            started: false,
        }
    }

    /// Writes one element; an element that cannot be serialized writes nothing.
    pub(super) fn push<T: serde::Serialize>(&mut self, value: &T) -> serde_json::Result<()> {
        self.one.clear();
        serde_json::to_writer_pretty(&mut self.one, value)?;
        let head: &[u8] = if self.started { b",\n  " } else { b"[\n  " };
        self.started = true;
        // A JSON string holds no raw newline: every newline is the formatter's, and one
        // level deeper inside the array.
        let mut lines = self.one.split(|b| *b == b'\n');
        let written = self.out.write_all(head).and_then(|()| {
            if let Some(first) = lines.next() {
                self.out.write_all(first)?;
            }
            lines.try_for_each(|l| {
                self.out.write_all(b"\n  ")?;
                self.out.write_all(l)
            })
        });
        // Checked stops the command on a failed write; nothing reaches here.
        if let Err(e) = written {
            stop("output", e);
        }
        Ok(())
    }

    /// Closes the array (`[]` when nothing was pushed), ends the line and flushes.
    pub(super) fn finish(mut self) {
        let tail: &[u8] = if self.started { b"\n]\n" } else { b"[]\n" };
        if let Err(e) = self.out.write_all(tail).and_then(|()| self.out.flush()) {
            stop("output", e);
        }
    }
}

/// Standard output as an `io::Write` for writers that take one (csv, a `BufWriter`):
/// a failed write ends the command as [`stdout`] does, so its `Result`s are always `Ok`.
pub(super) struct Checked(io::StdoutLock<'static>);

pub(super) fn checked() -> Checked {
    Checked(io::stdout().lock())
}

impl Write for Checked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .write(buf)
            .or_else(|e| stop_unless_stopping("output", e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .flush()
            .or_else(|e| stop_unless_stopping("output", e))
    }
}

/// As [`stop`], but when the command is already stopping (a buffered writer's flush in
/// its destructor, on the way out) the error is returned: a second unwind would abort.
fn stop_unless_stopping<T>(stream: &str, e: io::Error) -> io::Result<T> {
    if std::thread::panicking() {
        Err(e)
    } else {
        stop(stream, e)
    }
}

/// The exit code for a write that stopped the command, and the line to print for it.
pub(super) fn stopped(payload: &(dyn std::any::Any + Send)) -> Option<(u8, Option<String>)> {
    match payload.downcast_ref::<Stop>()? {
        Stop::PipeClosed => Some((super::outcome::exit::OK, None)),
        Stop::WriteFailed(why) => Some((
            super::outcome::exit::OPERATIONAL,
            Some(format!("cairn: {why}")),
        )),
    }
}

/// `print!` through [`stdout`].
#[allow(unused_macros)]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!($($arg)*), false)
    };
}
/// `println!` through [`stdout`].
macro_rules! outln {
    () => {
        $crate::cli::out::stdout(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!($($arg)*), true)
    };
}
/// `eprintln!` through [`stderr`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::stderr(format_args!($($arg)*))
    };
}
pub(crate) use {errln, outln};
