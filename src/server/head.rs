//! The header-read timeout: from accept, and between two HTTP/1
//! exchanges, the next request's head must arrive within the limit, which
//! makes it the keep-alive idle timeout too. The first wait covers what
//! comes before the first head: a TLS handshake (which the accept loop
//! bounds by the same deadline, as it happens before this wrapper reads),
//! the bytes that tell HTTP/1 from HTTP/2 and, over HTTP/2, the preface.
//!
//! Why not hyper's own (`http1().header_read_timeout`): it boxes a new timer
//! for every request head, registers it with tokio's timer wheel while it
//! waits and removes it once the head is in, about 1,800 instructions per
//! request, a tenth of what serving a routed `GET` costs. Here each
//! connection keeps one timer for its whole life and reads the clock once
//! per exchange, when the exchange ends.
//!
//! The timer's deadline is never later than the current wait's, so it
//! fires on time or early; an early one (the wait it was set for ended, or
//! an exchange is open) is moved to the deadline of the wait now under way,
//! or, while an exchange is open, to the earliest a wait beginning after it
//! could end. So the timer moves at most once per limit, and the deadline
//! does not depend on when hyper happens to read: hyper does not read again
//! after an exchange if its last read was already waiting on the socket.
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
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::{Body, Error};

/// What one connection's exchanges tell its reader.
pub(super) struct HeadClock {
    limit: Duration,
    /// The instant the deadlines count from.
    base: Instant,
    /// When the wait for the next head ends, in nanoseconds from `base`:
    /// set at accept, and when the last open exchange ends.
    deadline: AtomicU64,
    /// Exchanges whose response has not been written (or dropped) yet.
    open: AtomicUsize,
    /// HTTP/2 or upgraded: there is no next head to wait for.
    off: AtomicBool,
}

impl HeadClock {
    /// The clock of a connection whose first head must be in by `first`.
    pub(super) fn new(limit: Duration, first: Instant) -> Arc<HeadClock> {
        let base = Instant::now();
        Arc::new(HeadClock {
            limit,
            base,
            deadline: AtomicU64::new(nanos(first.saturating_duration_since(base))),
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
        Exchange(Arc::clone(self))
    }

    /// When the wait for a head under way ends, if the connection waits.
    fn waiting(&self) -> Option<Instant> {
        let idle = self.open.load(Ordering::Acquire) == 0 && !self.off.load(Ordering::Acquire);
        idle.then(|| self.base + Duration::from_nanos(self.deadline.load(Ordering::Acquire)))
    }

    /// The last open exchange ended: the wait for the next head begins.
    fn idle(&self) {
        if !self.off.load(Ordering::Acquire) {
            let deadline = (Instant::now() + self.limit).saturating_duration_since(self.base);
            self.deadline.store(nanos(deadline), Ordering::Release);
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
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
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle();
        }
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
    /// Never later than the current wait's deadline; see the [module](self).
    timer: Pin<Box<Sleep>>,
    /// The task the timer wakes, once it has been polled: while the timer
    /// is neither elapsed nor owed another task, a read need not poll it.
    armed_for: Option<Waker>,
}

impl<S> HeadTimed<S> {
    pub(super) fn new(io: S, clock: Arc<HeadClock>) -> HeadTimed<S> {
        let first = clock
            .waiting()
            .unwrap_or_else(|| Instant::now() + clock.limit);
        HeadTimed {
            io,
            clock,
            timer: Box::pin(tokio::time::sleep_until(first)),
            armed_for: None,
        }
    }

    /// Called when a read would wait: an error once the connection has
    /// waited for a head for longer than the limit.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.clock.off.load(Ordering::Acquire) {
            return Ok(());
        }
        // What almost every read sees: the timer set, and the task it wakes
        // this one.
        if !self.timer.is_elapsed()
            && self
                .armed_for
                .as_ref()
                .is_some_and(|armed| armed.will_wake(cx.waker()))
        {
            return Ok(());
        }
        self.armed_for = Some(cx.waker().clone());
        while self.timer.as_mut().poll(cx).is_ready() {
            let deadline = match self.clock.waiting() {
                Some(deadline) if deadline <= self.timer.deadline() => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no request head within {:?}", self.clock.limit),
                    ));
                }
                Some(deadline) => deadline,
                // An exchange is open: a wait that begins after it cannot
                // end sooner than this.
                None => Instant::now() + self.clock.limit,
            };
            self.timer.as_mut().reset(deadline);
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
