//! Progress bars on stderr: a thread that polls the library's meter
//! (`cairn::progress`) and draws it with indicatif.
//!
//! Drawn only when someone watches: stderr is a terminal (not a pipe, a file or cron
//! mail), TERM is not `dumb`, and neither `--quiet` nor `--log-format json` was given.
//! `--json` does not stop it: the report goes to stdout, the bar to stderr, and the bar
//! is cleared before anything is printed.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use cairn::progress;

/// How often the meter is read.
const POLL: Duration = Duration::from_millis(100);
/// A pass shorter than this gets no bar (no flicker for small bags).
const SHOW_AFTER: Duration = Duration::from_millis(300);
/// Throughput is measured over this much recent time: long enough to smooth the bursts
/// of parallel reads, short enough to follow a change (small files, then a large one).
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Set once at start-up: whether bars are drawn in this run.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The bar being drawn, so that log lines can be written around it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Decides, once, whether this run draws bars.
pub(super) fn init(quiet: bool, json_logs: bool) {
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    let on = !quiet && !json_logs && !dumb && std::io::stderr().is_terminal();
    ENABLED.store(on, Ordering::Relaxed);
    progress::set_watched(on);
}

/// Runs `op` with a bar titled `title` drawn while it works; the bar is gone when this
/// returns, so the caller can print.
pub(super) fn with_progress<T>(title: &str, op: impl FnOnce() -> T) -> T {
    let drawer = Drawer::start(title);
    let out = op();
    drawer.stop();
    out
}

struct Drawer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drawer {
    fn start(title: &str) -> Drawer {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = ENABLED.load(Ordering::Relaxed).then(|| {
            let stop = stop.clone();
            let title = title.to_string();
            std::thread::spawn(move || draw_loop(&title, &stop))
        });
        Drawer { stop, thread }
    }

    fn stop(self) {
        drop(self);
    }
}

/// Stops and clears the bar on every path out, a panic's unwinding included.
impl Drop for Drawer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn style() -> ProgressStyle {
    // The template is a constant; should it ever fail to parse, a plain bar is drawn.
    ProgressStyle::with_template(
        "{prefix:.bold} [{bar:20.cyan/blue}] {binary_bytes}/{binary_total_bytes} {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn set_bar(bar: Option<ProgressBar>) {
    let mut slot = BAR.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(old) = std::mem::replace(&mut *slot, bar) {
        old.finish_and_clear();
    }
}

fn draw_loop(title: &str, stop: &AtomicBool) {
    // The generation drawn, or waited for, and when it was first seen.
    let mut current: Option<(u64, Instant, Option<ProgressBar>)> = None;
    let mut samples: VecDeque<(Instant, u64)> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        match progress::snapshot() {
            Some(s) if s.bytes_total > 0 || s.files_total > 0 => {
                if current.as_ref().map(|c| c.0) != Some(s.generation) {
                    set_bar(None);
                    current = Some((s.generation, Instant::now(), None));
                    samples.clear();
                }
                let now = Instant::now();
                samples.push_back((now, s.bytes_done));
                while samples
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
                {
                    samples.pop_front();
                }
                if let Some((_, since, bar)) = current.as_mut() {
                    if bar.is_none() && since.elapsed() >= SHOW_AFTER {
                        let b = ProgressBar::with_draw_target(
                            Some(s.bytes_total),
                            ProgressDrawTarget::stderr_with_hz(10),
                        )
                        .with_style(style())
                        .with_prefix(title.to_string());
                        set_bar(Some(b.clone()));
                        *bar = Some(b);
                    }
                    if let Some(b) = bar {
                        b.set_length(s.bytes_total);
                        b.set_position(s.bytes_done);
                        b.set_prefix(prefix(title, &s));
                        b.set_message(message(&s, rate(&samples)));
                    }
                }
            }
            _ => {
                if current.take().is_some() {
                    set_bar(None);
                }
            }
        }
        std::thread::park_timeout(POLL);
    }
    set_bar(None);
}

/// Bytes per second over the samples kept, once there is enough to tell.
fn rate(samples: &VecDeque<(Instant, u64)>) -> Option<f64> {
    let (t0, b0) = samples.front()?;
    let (t1, b1) = samples.back()?;
    let secs = t1.duration_since(*t0).as_secs_f64();
    (secs >= 0.5).then(|| b1.saturating_sub(*b0) as f64 / secs)
}

/// `1h02m`, `3m05s`, `25s`.
fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The command, the pass and what it works on: `ingest verify box-1`. A long name is
/// cut at its start, keeping its end, which is where names differ.
fn prefix(title: &str, s: &progress::Snapshot) -> String {
    let mut p = title.to_string();
    if !s.pass.is_empty() {
        p.push(' ');
        p.push_str(&s.pass);
    }
    if !s.item.is_empty() {
        let item = super::common::printable(&s.item);
        let chars = item.chars().count();
        p.push(' ');
        if chars > 24 {
            p.push('…');
            p.extend(item.chars().skip(chars - 23));
        } else {
            p.push_str(&item);
        }
    }
    p
}

/// Throughput, ETA and files: the part a narrow terminal cuts.
fn message(s: &progress::Snapshot, rate: Option<f64>) -> String {
    let timing = match rate {
        Some(r) if r >= 1.0 => {
            let left = s.bytes_total.saturating_sub(s.bytes_done) as f64 / r;
            format!(
                "{}/s ETA {}",
                BinaryBytes(r as u64),
                short_duration(left.ceil() as u64)
            )
        }
        _ => "ETA …".to_string(),
    };
    format!("{timing} {}/{} files", s.files_done, s.files_total)
}

/// Where log lines go: stderr, with the bar lifted off the screen while each line is
/// written, so the two never garble each other.
pub(super) struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match bar {
            Some(b) => b.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(7), "7s");
        assert_eq!(short_duration(185), "3m05s");
        assert_eq!(short_duration(3720), "1h02m");
    }

    #[test]
    fn rate_over_the_window() {
        let t = Instant::now();
        let mut v = VecDeque::new();
        v.push_back((t, 0));
        assert_eq!(rate(&v), None);
        v.push_back((t + Duration::from_secs(2), 200));
        assert_eq!(rate(&v), Some(100.0));
    }
}
