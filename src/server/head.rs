//! The header-read timeout of HTTP/1 connections: between two exchanges,
//! the next request's head must arrive within the limit, which makes it the
//! keep-alive idle timeout too (the first head is also bounded from accept
//! by the accept loop, TLS handshake included).
//!
//! Why not hyper's own (`http1().header_read_timeout`): it boxes a new timer
//! for every request head, registers it with tokio's timer wheel while it
//! waits and removes it once the head is in, about 1,800 instructions per
//! request, a tenth of what serving a routed `GET` costs. Here each
//! connection keeps one timer and reads the clock once per exchange; the
//! timer is moved only when it fires for a wait that has already ended, at
//! most once per limit.
//!
//! The contract, as hyper's: the clock starts when the server begins to wait
//! for a head (at accept, or once a response has been written) and stops
//! when a head is in. It does not run while a request is being answered or
//! its response written, however long that takes, and not at all on an
//! HTTP/2 or upgraded (WebSocket) connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::{Body, Error};

/// What one connection's exchanges tell its reader.
pub(super) struct HeadClock {
    limit: Duration,
    /// Exchanges begun: a reader that sees it change knows that the wait it
    /// timed has ended and, once no exchange is open, a new one begins.
    begun: AtomicU64,
    /// Exchanges whose response has not been written (or dropped) yet.
    open: AtomicUsize,
    /// HTTP/2 or upgraded: there is no next head to wait for.
    off: AtomicBool,
}

impl HeadClock {
    pub(super) fn new(limit: Duration) -> Arc<HeadClock> {
        Arc::new(HeadClock {
            limit,
            begun: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            off: AtomicBool::new(false),
        })
    }

    /// A request's head is in. The exchange stays open until the returned
    /// guard is dropped: with the response's body, once hyper has written it.
    pub(super) fn begin(self: &Arc<Self>, http1: bool) -> Exchange {
        if !http1 {
            self.off.store(true, Ordering::Release);
        }
        self.open.fetch_add(1, Ordering::AcqRel);
        self.begun.fetch_add(1, Ordering::AcqRel);
        Exchange(Arc::clone(self))
    }

    /// Whether the connection is waiting for a head: what was begun when not.
    fn waiting(&self) -> Option<u64> {
        let idle = self.open.load(Ordering::Acquire) == 0 && !self.off.load(Ordering::Acquire);
        idle.then(|| self.begun.load(Ordering::Acquire))
    }
}

/// An open exchange; see [`HeadClock::begin`].
pub(super) struct Exchange(Arc<HeadClock>);

impl Exchange {
    /// The exchange switched protocols (a WebSocket): no head follows it.
    /// (A refused upgrade leaves an HTTP/1 connection, timed as any other.)
    pub(super) fn upgraded(&self) {
        self.0.off.store(true, Ordering::Release);
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its exchange open until hyper has written it
/// (or dropped it): hyper reads the socket while it writes a body, to see a
/// client that goes away, and that read is no wait for a head.
pub(super) struct Watched {
    body: Body,
    _exchange: Exchange,
}

impl Watched {
    pub(super) fn new(body: Body, exchange: Exchange) -> Watched {
        Watched {
            body,
            _exchange: exchange,
        }
    }
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket under hyper, closed with an error when a head does
/// not arrive in time.
pub(super) struct HeadTimed<S> {
    io: S,
    clock: Arc<HeadClock>,
    /// The wait being timed: the exchanges begun when it started, and when
    /// it must end.
    wait: Option<(u64, Instant)>,
    /// Set for the first wait's deadline and moved only when it fires.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> HeadTimed<S> {
    pub(super) fn new(io: S, clock: Arc<HeadClock>) -> HeadTimed<S> {
        HeadTimed {
            io,
            clock,
            wait: None,
            timer: None,
        }
    }

    /// Called when a read would wait: an error once the connection has
    /// waited for a head for longer than the limit.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(begun) = self.clock.waiting() else {
            return Ok(());
        };
        let deadline = match self.wait {
            Some((seen, deadline)) if seen == begun => deadline,
            _ => {
                let deadline = Instant::now() + self.clock.limit;
                self.wait = Some((begun, deadline));
                deadline
            }
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // A timer set for an earlier wait fires early: move it to this one.
        while timer.as_mut().poll(cx).is_ready() {
            if timer.deadline() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no request head within {:?}", self.clock.limit),
                ));
            }
            timer.as_mut().reset(deadline);
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadTimed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if read.is_pending()
            && let Err(err) = this.check(cx)
        {
            return Poll::Ready(Err(err));
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadTimed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
