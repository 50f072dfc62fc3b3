//! Connection limits in front of the HTTP server: a per-client-IP cap on open connections, a
//! deadline for a new connection's first request headers, an idle timeout (no traffic either
//! way), and an accept loop that backs off instead of spinning when the process runs out of file
//! descriptors. The timeouts are timers inside the stream, checked only when the server waits to
//! read, so a long-running request is never cut off by them (poem's own idle timeout wakes a
//! task per read and write, which costs get-by-id ~10%).
//!
//! The header deadline covers the first request of a connection; later requests on a kept-alive
//! connection are bounded by the idle timeout (a connection that sends nothing is closed).
//!
//! [`Live`] lets a handler notice that its client went away: hyper does not poll an HTTP/1
//! connection while its handler runs, so a disconnect is otherwise only seen once the answer is
//! written. Like Go's `net/http` (PocketBase), end-of-stream on the socket counts as gone.

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// `[server]` connection limits; a zero disables the limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_per_ip: usize,
}

type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The open connections by peer address (unique per connection on one listener).
#[derive(Clone, Default)]
pub struct Live(Arc<Mutex<HashMap<SocketAddr, Weak<TcpStream>>>>);

impl Live {
    /// Resolves once the client at `peer` has closed its connection (or reset it); never when
    /// it is unknown or has sent more data (a pipelined request, not a goodbye).
    pub async fn closed(&self, peer: &RemoteAddr) {
        let stream = peer
            .as_socket_addr()
            .and_then(|a| lock(&self.0).get(a).and_then(Weak::upgrade));
        let Some(stream) = stream else {
            return std::future::pending().await;
        };
        let mut byte = [0u8; 1];
        match stream.peek(&mut byte).await {
            Ok(0) | Err(_) => {}
            Ok(_) => std::future::pending().await,
        }
    }
}

/// Accepts TCP connections within [`Limits`].
pub struct LimitedAcceptor {
    listener: TcpListener,
    local: LocalAddr,
    limits: Limits,
    counts: Counts,
    live: Live,
    last_warning: Option<Instant>,
}

impl LimitedAcceptor {
    pub async fn bind(addr: &str, limits: Limits, live: Live) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local = LocalAddr(listener.local_addr()?.into());
        Ok(Self {
            listener,
            local,
            limits,
            counts: Counts::default(),
            live,
            last_warning: None,
        })
    }

    /// Counts a connection from `ip`, or `None` when the IP is at its cap.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let mut counts = lock(&self.counts);
        let n = counts.entry(ip).or_insert(0);
        if self.limits.max_per_ip > 0 && *n >= self.limits.max_per_ip {
            return None;
        }
        *n += 1;
        Some(Slot {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// Logs at most once a minute (a flood must not flood the log too).
    fn warn(&mut self, what: &str, ip: Option<IpAddr>, error: Option<&io::Error>) {
        let now = Instant::now();
        if self
            .last_warning
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(60))
        {
            return;
        }
        self.last_warning = Some(now);
        match (ip, error) {
            (Some(ip), _) => tracing::warn!(%ip, cap = self.limits.max_per_ip, "{what}"),
            (_, Some(e)) => tracing::warn!(error = %e, "{what}"),
            _ => tracing::warn!("{what}"),
        }
    }
}

/// EMFILE / ENFILE / ENOBUFS / ENOMEM: accepting again at once would fail again.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

/// The client IP, IPv4-mapped IPv6 addresses as IPv4 (one client, one count).
fn client_ip(addr: &SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl Acceptor for LimitedAcceptor {
    type Io = Guarded;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![self.local.clone()]
    }

    async fn accept(&mut self) -> io::Result<(Guarded, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let ip = client_ip(&addr);
                    let Some(slot) = self.admit(ip) else {
                        // Closed at once: the IP already holds its share of descriptors.
                        drop(stream);
                        self.warn("connection refused: per-IP connection cap", Some(ip), None);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let stream = Arc::new(stream);
                    lock(&self.live.0).insert(addr, Arc::downgrade(&stream));
                    let io = Guarded {
                        inner: stream,
                        header: HeaderDeadline::new(self.limits.header_read_timeout),
                        idle: (!self.limits.idle_timeout.is_zero()).then(|| Idle {
                            timeout: self.limits.idle_timeout,
                            sleep: Box::pin(tokio::time::sleep(self.limits.idle_timeout)),
                            last: Instant::now(),
                        }),
                        peer: addr,
                        live: self.live.clone(),
                        _slot: slot,
                    };
                    return Ok((
                        io,
                        self.local.clone(),
                        RemoteAddr(addr.into()),
                        Scheme::HTTP,
                    ));
                }
                Err(e) if out_of_resources(&e) => {
                    self.warn(
                        "cannot accept connections (out of file descriptors?); backing off",
                        None,
                        Some(&e),
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                // The peer gave up before we accepted (ECONNABORTED …): next one.
                Err(_) => continue,
            }
        }
    }
}

/// One counted connection of an IP; uncounted when dropped.
struct Slot {
    ip: IpAddr,
    counts: Counts,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Waits for the end of the first request's headers (`\r\n\r\n`; HTTP/2's preface has it too).
struct HeaderDeadline {
    sleep: Pin<Box<Sleep>>,
    /// How much of `\r\n\r\n` the bytes read so far end with.
    matched: usize,
}

impl HeaderDeadline {
    fn new(timeout: Duration) -> Option<Self> {
        (!timeout.is_zero()).then(|| Self {
            sleep: Box::pin(tokio::time::sleep(timeout)),
            matched: 0,
        })
    }

    /// Feeds bytes; `true` once the headers are complete.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        const END: &[u8; 4] = b"\r\n\r\n";
        for &b in bytes {
            self.matched = if END.get(self.matched) == Some(&b) {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.matched == END.len() {
                return true;
            }
        }
        false
    }
}

/// A TCP stream that holds its IP's slot and fails reads once the header deadline passes. The
/// stream is shared (read-only) with [`Live::closed`], hence the readiness-based I/O.
pub struct Guarded {
    inner: Arc<TcpStream>,
    header: Option<HeaderDeadline>,
    idle: Option<Idle>,
    peer: SocketAddr,
    live: Live,
    _slot: Slot,
}

/// Closes a connection without traffic for `timeout`.
struct Idle {
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    last: Instant,
}

impl Idle {
    /// `true` once the connection has been quiet for the whole timeout.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let due = self.last + self.timeout;
            if Instant::now() >= due {
                return true;
            }
            self.sleep.as_mut().reset(due.into());
        }
        false
    }
}

fn touch(idle: &mut Option<Idle>) {
    if let Some(i) = idle.as_mut() {
        i.last = Instant::now();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        lock(&self.live.0).remove(&self.peer);
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(h) = this.header.as_mut() {
            if h.sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request headers not received in time",
                )));
            }
        }
        let before = buf.filled().len();
        loop {
            if this.inner.poll_read_ready(cx)?.is_pending() {
                if this.idle.as_mut().is_some_and(|i| i.expired(cx)) {
                    // End of stream: hyper closes the connection quietly.
                    return Poll::Ready(Ok(()));
                }
                return Poll::Pending;
            }
            // Into the unfilled part as is: zeroing hyper's read buffer first cost a memset
            // of several KiB per read.
            match this.inner.try_read_buf(buf) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        touch(&mut this.idle);
        if let Some(h) = this.header.as_mut() {
            if h.feed(buf.filled().get(before..).unwrap_or_default()) {
                this.header = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => {
                    touch(&mut self.idle);
                    return Poll::Ready(other);
                }
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => {
                    touch(&mut self.idle);
                    return Poll::Ready(other);
                }
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Half-closes when this is the only handle; otherwise the close on drop does it.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let peer = self.peer;
        lock(&self.live.0).remove(&peer);
        match Arc::get_mut(&mut self.inner) {
            Some(stream) => Pin::new(stream).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline() -> HeaderDeadline {
        HeaderDeadline::new(Duration::from_secs(60)).expect("armed")
    }

    #[tokio::test]
    async fn header_end_is_found_across_reads() {
        let mut h = deadline();
        assert!(!h.feed(b"GET / HTTP/1.1\r\nHost: x\r"));
        assert!(!h.feed(b"\n\r"));
        assert!(h.feed(b"\nbody"));
        let mut h = deadline();
        assert!(!h.feed(b"a\r\n\r\r\nb\r\n"));
        assert!(h.feed(b"\r\n"));
    }

    #[tokio::test]
    async fn the_cap_counts_per_ip_and_frees_on_drop() {
        let acc = LimitedAcceptor::bind(
            "127.0.0.1:0",
            Limits {
                header_read_timeout: Duration::ZERO,
                idle_timeout: Duration::ZERO,
                max_per_ip: 2,
            },
            Live::default(),
        )
        .await
        .expect("bind");
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        let a = acc.admit(ip).expect("first");
        let _b = acc.admit(ip).expect("second");
        assert!(acc.admit(ip).is_none());
        assert!(acc.admit(other).is_some());
        drop(a);
        assert!(acc.admit(ip).is_some());
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:80".parse().expect("addr");
        assert_eq!(client_ip(&mapped), ip);
    }
}
