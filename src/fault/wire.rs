//! Faults on a real socket: a wrapper around each accepted connection whose
//! control handle lets a fault take the connection over.
//!
//! hyper owns the connection; the wrapper sits under it. A fault that needs
//! the wire asks the [`WireControl`] (which [`serve`](crate::server::serve)
//! gives each request it receives) for one of two things:
//!
//! - **reset**: when the connection closes, it closes with `SO_LINGER 0`, so
//!   the peer gets a TCP RST instead of a FIN;
//! - **take over** with raw bytes: the next bytes hyper writes are replaced by
//!   these, then the connection reads as closed, so hyper lets it go with a
//!   FIN. That is how a malformed chunk, garbage and a truncated body reach
//!   the peer exactly as written.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::mock::lock;

/// The handle a fault uses to act on its connection.
#[derive(Clone, Default)]
pub(crate) struct WireControl(Arc<Control>);

#[derive(Default)]
struct Control {
    /// Set once a fault has asked for anything: until then (on almost
    /// every connection, for its whole life) reads and writes go straight
    /// to the socket without taking the lock.
    asked: AtomicBool,
    wire: Mutex<Wire>,
}

#[derive(Default)]
struct Wire {
    reset: bool,
    raw: Option<Bytes>,
    /// Raw bytes written and the connection given up: writes are swallowed,
    /// reads see the end.
    done: bool,
}

impl WireControl {
    /// Closes the connection with an RST.
    pub(crate) fn reset(&self) {
        lock(&self.0.wire).reset = true;
        self.0.asked.store(true, Ordering::Release);
    }

    /// Writes `raw` in place of the next response, then closes.
    pub(crate) fn take_over(&self, raw: Bytes) {
        lock(&self.0.wire).raw = Some(raw);
        self.0.asked.store(true, Ordering::Release);
    }

    /// The wire's state, or `None` when no fault has asked for anything.
    fn asked(&self) -> Option<std::sync::MutexGuard<'_, Wire>> {
        self.0
            .asked
            .load(Ordering::Acquire)
            .then(|| lock(&self.0.wire))
    }

    fn resets(&self) -> bool {
        self.asked().is_some_and(|wire| wire.reset)
    }
}

/// A socket whose close can be turned into an RST.
pub(crate) trait Linger {
    fn linger_zero(&self);
}

impl Linger for TcpStream {
    fn linger_zero(&self) {
        // Zero linger never blocks: the close discards and sends RST.
        #[allow(deprecated)]
        let _ = self.set_linger(Some(std::time::Duration::ZERO));
    }
}

impl Linger for tokio_rustls::server::TlsStream<TcpStream> {
    fn linger_zero(&self) {
        self.get_ref().0.linger_zero();
    }
}

/// An accepted connection under hyper, acting what its [`WireControl`] asks.
pub(crate) struct WireIo<S: Linger> {
    io: S,
    control: WireControl,
    /// hyper's read task: after a takeover it is woken to see the end,
    /// as it only reads again when woken.
    reader: Option<Waker>,
}

impl<S: Linger> WireIo<S> {
    pub(crate) fn new(io: S) -> (WireIo<S>, WireControl) {
        let control = WireControl::default();
        (
            WireIo {
                io,
                control: control.clone(),
                reader: None,
            },
            control,
        )
    }
}

impl<S: Linger> Drop for WireIo<S> {
    fn drop(&mut self) {
        if self.control.resets() {
            self.io.linger_zero();
        }
    }
}

impl<S: Linger + AsyncRead + Unpin> AsyncRead for WireIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.control.asked().is_some_and(|wire| wire.done) {
            return Poll::Ready(Ok(()));
        }
        if !self
            .reader
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.reader = Some(cx.waker().clone());
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: Linger + AsyncWrite + Unpin> AsyncWrite for WireIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            let raw = {
                let Some(mut wire) = this.control.asked() else {
                    break;
                };
                if wire.done {
                    return Poll::Ready(Ok(buf.len()));
                }
                match wire.raw.take() {
                    Some(raw) if raw.is_empty() => {
                        wire.done = true;
                        drop(wire);
                        if let Some(reader) = this.reader.take() {
                            reader.wake();
                        }
                        return Poll::Ready(Ok(buf.len()));
                    }
                    Some(raw) => raw,
                    None => break,
                }
            };
            match Pin::new(&mut this.io).poll_write(cx, &raw) {
                Poll::Ready(Ok(n)) => lock(&this.control.0.wire).raw = Some(raw.slice(n..)),
                Poll::Ready(Err(err)) => {
                    lock(&this.control.0.wire).done = true;
                    return Poll::Ready(Err(err));
                }
                Poll::Pending => {
                    lock(&this.control.0.wire).raw = Some(raw);
                    return Poll::Pending;
                }
            }
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        if self.control.resets() {
            // No FIN: the close that follows is the RST.
            self.io.linger_zero();
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
