//! What guards the socket of a long-running server: a header-read timeout,
//! a body-idle timeout and a connection cap.
//!
//! Why: without them, a client that opens connections and never finishes a
//! request head (slowloris), or stops in the middle of a body, holds a file
//! descriptor for ever; a few thousand such clients exhaust the process's
//! descriptors and every normal client then times out. With them, a stalled
//! connection is closed after the header timeout, a stalled body gets a
//! `408`, and connections beyond the cap wait briefly for a free slot and
//! are then refused with a `503` instead of starving everyone.
//!
//! A client's own broken body (a malformed chunk, a stall) is the client's
//! mistake: [`BodyFault`] remembers it, so that the server answers `400` or
//! `408` naming the problem whatever the engine made of the read error.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::Error;
use crate::request::RequestName;

/// The limits a [`Server`](super::Server) enforces; see its builder methods.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// From accepting a connection (or finishing an HTTP/1 exchange) to a
    /// complete request head.
    pub(crate) header_read: Duration,
    /// The longest pause between two pieces of a request body.
    pub(crate) body_idle: Duration,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// How long a connection beyond the cap waits for a free slot.
    pub(crate) connection_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            max_connections: 512,
            connection_wait: Duration::from_millis(250),
        }
    }
}

/// The connection slots: at most `max_connections` permits.
pub(crate) struct Slots {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Slots {
    pub(crate) fn new(limits: &Limits) -> Slots {
        Slots {
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            wait: limits.connection_wait,
        }
    }

    /// A slot at once if one is free, else within the wait, else `None`.
    pub(crate) fn try_admit(&self) -> Result<OwnedSemaphorePermit, Waiting> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Waiting {
                permits: self.permits.clone(),
                wait: self.wait,
            })
    }
}

/// A connection waiting for a slot.
pub(crate) struct Waiting {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Waiting {
    pub(crate) async fn admit(self) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(self.wait, self.permits.acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// Tells a plain-HTTP client beyond the cap that the server is busy, and
/// closes. (A TLS client is just closed: answering would need a handshake.)
pub(crate) async fn refuse(mut tcp: TcpStream, max_connections: usize) {
    let body = format!(
        "wiretape: too many connections (the server's limit is {max_connections}); try again\n"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         x-wiretape-error: too_many_connections\r\nretry-after: 1\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = tcp.write_all(response.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

/// What went wrong with a client's request body, if anything: set by the
/// body as it is read, read by the server when the engine fails.
#[derive(Clone, Default)]
pub(crate) struct BodyFault(Arc<OnceLock<(StatusCode, String)>>);

impl BodyFault {
    /// Remembers the fault and gives the error the engine sees.
    fn set(&self, status: StatusCode, message: String) -> Error {
        let _ = self.0.set((status, message.clone()));
        Error::invalid(message)
    }

    /// The status and message to answer with, if the body was at fault.
    pub(crate) fn get(&self) -> Option<&(StatusCode, String)> {
        self.0.get()
    }
}

pin_project_lite::pin_project! {
    /// A request body that fails when the client pauses longer than the
    /// idle timeout, and whose read errors are the client's faults.
    pub(crate) struct ClientBody<B> {
        #[pin]
        inner: B,
        // The clock runs only while the engine waits for a piece that has
        // not arrived, from the first such wait after the last piece: an
        // engine may take its time between reads, and a body that arrives
        // whole (most do) never sets a timer.
        idle: Option<Pin<Box<Sleep>>>,
        waiting: bool,
        timeout: Duration,
        // Formatted only when an error names it.
        request: RequestName,
        fault: BodyFault,
    }
}

impl<B> ClientBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration, request: RequestName, fault: BodyFault) -> Self {
        ClientBody {
            inner,
            idle: None,
            waiting: false,
            timeout,
            request,
            fault,
        }
    }
}

impl<B> HttpBody for ClientBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: std::error::Error + 'static,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.waiting = false;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => {
                let message = format!(
                    "the request body of {} could not be read: {}",
                    this.request,
                    chain(&err)
                );
                Poll::Ready(Some(Err(this.fault.set(StatusCode::BAD_REQUEST, message))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let idle = match this.idle {
                    Some(idle) if *this.waiting => idle,
                    Some(idle) => {
                        idle.as_mut().reset(Instant::now() + *this.timeout);
                        idle
                    }
                    None => this
                        .idle
                        .insert(Box::pin(tokio::time::sleep(*this.timeout))),
                };
                *this.waiting = true;
                ready!(idle.as_mut().poll(cx));
                let message = format!(
                    "the request body of {} stalled: nothing arrived for {:?} \
                     (the server's body idle timeout)",
                    this.request, this.timeout
                );
                Poll::Ready(Some(Err(this
                    .fault
                    .set(StatusCode::REQUEST_TIMEOUT, message))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An error and its sources, `: `-separated (hyper's own message alone is
/// only "error reading a body from connection").
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    use super::*;

    /// A client's body whose pieces the test sends.
    struct Pieces(mpsc::UnboundedReceiver<Bytes>);

    impl HttpBody for Pieces {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|piece| piece.map(|b| Ok(Frame::data(b))))
        }
    }

    fn body() -> (mpsc::UnboundedSender<Bytes>, ClientBody<Pieces>) {
        let (send, receive) = mpsc::unbounded_channel();
        let url = url::Url::parse("http://a/upload").unwrap();
        let name = RequestName::new(http::Method::POST, url.into());
        let body = ClientBody::new(
            Pieces(receive),
            Duration::from_secs(1),
            name,
            BodyFault::default(),
        );
        (send, body)
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_clock_runs_only_while_the_engine_waits_for_a_piece() {
        let (send, mut body) = body();
        send.send(Bytes::from_static(b"first")).unwrap();
        let first = body.frame().now_or_never().expect("ready").unwrap();
        assert_eq!(first.unwrap().into_data().unwrap(), "first");

        // The engine is busy elsewhere for longer than the timeout: that
        // pause is not the client's.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(body.frame().now_or_never().is_none(), "waiting, not failed");
        tokio::time::advance(Duration::from_millis(900)).await;
        assert!(body.frame().now_or_never().is_none(), "still within 1 s");

        // A piece arriving stops the clock; waiting again starts it afresh.
        send.send(Bytes::from_static(b"second")).unwrap();
        assert!(body.frame().now_or_never().expect("ready").is_some());
        tokio::time::advance(Duration::from_millis(900)).await;
        assert!(body.frame().now_or_never().is_none(), "a new wait");
        tokio::time::advance(Duration::from_millis(900)).await;
        assert!(body.frame().now_or_never().is_none(), "0.9 s into it");
        tokio::time::advance(Duration::from_millis(200)).await;
        let err = body.frame().now_or_never().expect("timed out").unwrap();
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("the request body of POST http://a/upload stalled"),
            "{err}"
        );
    }
}
