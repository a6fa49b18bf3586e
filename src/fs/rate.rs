//! Throttled reading, so that a fixity run does not starve production storage.
//!
//! One limiter is shared by every reading thread: the run as a whole reads at most the
//! given number of bytes per second, averaged from its start. What is charged is what
//! was read: a read's byte count once it returned (not the buffer it was given, which
//! charged a 256 KiB buffer twice for every small file, once more for the read that
//! finds the end), and every tag file and register entry the check reads as well as
//! the payload.

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

    /// Accounts for `n` bytes read, sleeping as long as needed to bring the average
    /// back to the rate.
    pub fn take(&self, n: usize) {
        if n == 0 {
            return;
        }
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

/// A reader that charges a limiter with what each read returned.
pub struct Throttled<'a, R> {
    pub inner: R,
    pub limiter: &'a RateLimiter,
}

impl<R: Read> Read for Throttled<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.limiter.take(n);
        Ok(n)
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

    #[test]
    fn charges_what_was_read_not_the_buffer() {
        // 100 reads of 1,000 bytes through a 256 KiB buffer, at 1 MB/s: 0.1 s, not the
        // 51 s that charging the buffer (twice per file) cost.
        let limiter = RateLimiter::new(1_000_000);
        let start = Instant::now();
        let mut buf = vec![0u8; 256 * 1024];
        for _ in 0..100 {
            let mut r = Throttled {
                inner: &[7u8; 1000][..],
                limiter: &limiter,
            };
            while r.read(&mut buf).expect("read") > 0 {}
        }
        let t = start.elapsed();
        assert!(t >= Duration::from_millis(90), "{t:?}");
        assert!(t < Duration::from_millis(1000), "{t:?}");
    }
}
