//! Throttled reading, so that a fixity run does not starve production storage.
//!
//! One limiter is shared by every reading thread: the run as a whole reads at most the
//! given number of bytes per second, averaged from its start.

use std::io::{self, Read};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Paces reads to a byte rate.
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_sec: u64,
    state: Mutex<(Instant, u64)>,
}

impl RateLimiter {
    pub fn new(bytes_per_sec: u64) -> RateLimiter {
        RateLimiter {
            bytes_per_sec: bytes_per_sec.max(1),
            state: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Accounts for `n` bytes about to be read, sleeping as long as needed to keep the
    /// average at or under the rate.
    pub fn take(&self, n: usize) {
        let wait = {
            let mut st = match self.state.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            st.1 += n as u64;
            let due = Duration::from_secs_f64(st.1 as f64 / self.bytes_per_sec as f64);
            due.saturating_sub(st.0.elapsed())
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// A reader that asks a limiter before each read.
pub struct Throttled<'a, R> {
    pub inner: R,
    pub limiter: &'a RateLimiter,
}

impl<R: Read> Read for Throttled<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.limiter.take(buf.len());
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_to_the_rate() {
        let limiter = RateLimiter::new(1_000_000);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.take(100_000);
        }
        let t = start.elapsed();
        assert!(t >= Duration::from_millis(450), "{t:?}");
        assert!(t < Duration::from_millis(2000), "{t:?}");
    }
}
