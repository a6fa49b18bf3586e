//! The listener: how many connections are open at once and from one address, how long
//! a client has to send its headers or to take a response, and the graceful shutdown
//! ([`Limits`], [`run_listener`]). The routes it serves are the parent module's.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::config::ServeSection;

pub const MAX_CONNECTIONS: usize = 2048;
/// How long a response may wait for a client that stopped reading it.
pub const SEND_STALL: Duration = Duration::from_secs(60);
/// The longest a shutdown waits for requests under way, after SIGTERM or Ctrl-C.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
/// File descriptors kept for the server's own reads (the log, register entries, bags'
/// dc.xml) and the runtime, before connections are counted.
const RESERVED_FDS: u64 = 32;

/// How the listener bounds its connections, worked out at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's opening, or its last response's end, to the end of the next
    /// request's headers.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub per_address: usize,
}

impl Limits {
    /// The limits for `[serve]` under a file limit of `nofile` descriptors (`None`:
    /// unlimited). Each connection may hold two (its socket and a payload file being
    /// sent), after [`RESERVED_FDS`] for the server itself; one address gets at most
    /// half of them, so that it can never take every place.
    pub fn new(cfg: &ServeSection, nofile: Option<u64>) -> Limits {
        let by_fds = nofile.map_or(MAX_CONNECTIONS, |n| {
            usize::try_from(n.saturating_sub(RESERVED_FDS) / 2).unwrap_or(MAX_CONNECTIONS)
        });
        let max_connections = by_fds.clamp(1, MAX_CONNECTIONS);
        let per_address = usize::try_from(cfg.max_connections_per_address)
            .unwrap_or(usize::MAX)
            .min(max_connections.div_ceil(2))
            .max(1);
        Limits {
            header_timeout: Duration::from_secs(u64::from(cfg.header_timeout_secs)),
            max_connections,
            per_address,
        }
    }
}

/// The soft `RLIMIT_NOFILE`, `None` when unlimited or unknown.
pub(super) fn open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes one `rlimit` this function owns; no other memory.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// Accepts and serves connections under `limits` until `stop` completes, then stops
/// accepting, asks every connection to close (idle ones close at once, requests under
/// way finish) and returns when all have closed or [`SHUTDOWN_DEADLINE`] has passed.
pub(super) async fn run_listener(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress {
        cap: limits.per_address,
        open: Arc::default(),
    };
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            _ = &mut stop => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                // Out of file descriptors and the like: wait, then try again.
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = per_address.take(peer.ip()) else {
            tracing::debug!("{peer}: too many connections from this address, closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(GuardedStream {
            stream,
            stalled: None,
        });
        // The client's address, for the login limits (src/serve/auth/).
        let app = tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let service = hyper_util::service::TowerToHyperService::new(app);
        let builder = builder.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            let mut conn = std::pin::pin!(builder.serve_connection(io, service));
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_DEADLINE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {} s: closed",
            SHUTDOWN_DEADLINE.as_secs()
        );
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub(super) async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = ctrl_c => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}

/// Connections open from each address, each at most `cap`.
struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in [`PerAddress`], given back when it closes.
struct AddressSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    fn take(&self, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            ip,
            open: self.open.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection whose writes fail once the client has not taken any bytes for
/// [`SEND_STALL`], so that a reader who stops reading cannot hold it open.
struct GuardedStream {
    stream: TcpStream,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    /// A write's result: done (the stall timer reset), or pending until the client takes
    /// bytes again, an error once it has waited [`SEND_STALL`].
    fn after_write(
        &mut self,
        cx: &mut TaskContext<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(SEND_STALL)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.stream).poll_write(cx, buf);
        me.after_write(cx, polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.stream).poll_write_vectored(cx, bufs);
        me.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_stay_under_the_file_limit() {
        let cfg = ServeSection::default();
        let l = Limits::new(&cfg, Some(100));
        assert_eq!(l.max_connections, 34);
        assert_eq!(l.per_address, 17);
        let l = Limits::new(&cfg, Some(1024));
        assert_eq!((l.max_connections, l.per_address), (496, 64));
        let l = Limits::new(&cfg, None);
        assert_eq!((l.max_connections, l.per_address), (MAX_CONNECTIONS, 64));
        let l = Limits::new(&cfg, Some(10));
        assert_eq!((l.max_connections, l.per_address), (1, 1));
        assert_eq!(l.header_timeout, Duration::from_secs(10));
    }
}
