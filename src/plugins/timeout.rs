//! Timeouts: request (one exchange), connect, and socket (idle between reads).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use super::{Link, Next, Plugin};
use crate::body::ChunkStream;
use crate::engine::BoxFuture;
use crate::ws::WsConnection;
use crate::{Body, Error, Request, Response, Result, TimeoutKind};

/// The three timeouts (Ktor's `HttpTimeout`), each failing with its own
/// [`TimeoutKind`]:
///
/// - **request**: one exchange, from sending the request until the response
///   head has arrived ([`ErrorKind::RequestTimeout`](crate::ErrorKind::RequestTimeout)).
///   It limits each attempt and each redirect hop on its own; to bound a
///   whole call including retries and their delays, use
///   [`Retry::deadline`](crate::plugins::Retry::deadline).
/// - **connect**: establishing the connection, TCP and TLS
///   ([`ErrorKind::ConnectTimeout`](crate::ErrorKind::ConnectTimeout)). The
///   plugin hands it to the engine as a [`ConnectTimeout`] extension;
///   [`HyperEngine`](crate::engine::HyperEngine) enforces it (the smaller of
///   it and the engine's own limit wins). In-memory engines have no
///   connection to time.
/// - **socket**: the longest wait for the next chunk of a streamed response
///   body ([`ErrorKind::SocketTimeout`](crate::ErrorKind::SocketTimeout)). The
///   clock runs only while the reader is waiting, so a slow reader is never
///   blamed on the server.
///
/// All waiting goes through `tokio::time`, so under
/// `#[tokio::test(start_paused = true)]` a 30-second timeout fires at once,
/// without any set-up. Set client-wide limits with
/// [`ClientBuilder::timeout`](crate::ClientBuilder::timeout) and override
/// them per request with [`RequestBuilder::timeouts`](crate::RequestBuilder::timeouts)
/// (or [`RequestBuilder::timeout`](crate::RequestBuilder::timeout) for the
/// request limit alone): the request's fields that are set win.
///
/// ```
/// use std::time::Duration;
/// use wiretape::{mock::{MockEngine, respond_ok}, plugins::Timeouts, Client, ErrorKind};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async {
///     tokio::time::sleep(Duration::from_secs(10)).await; // a slow server
///     Ok(respond_ok("late"))
/// });
/// let client = Client::builder()
///     .engine(engine)
///     .timeout(Timeouts::new().request(Duration::from_secs(2)).socket(Duration::from_secs(5)))
///     .build()?;
/// let err = client.get("http://slow.test/").send().await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::RequestTimeout);
/// // This request may take longer.
/// let ok = client.get("http://slow.test/").timeout(Duration::from_secs(30)).send().await?;
/// assert_eq!(ok.text().await?, "late");
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    request: Option<Duration>,
    connect: Option<Duration>,
    socket: Option<Duration>,
}

impl Timeouts {
    /// No limits.
    pub fn new() -> Timeouts {
        Timeouts::default()
    }

    /// The limit on one exchange, until the response head arrives.
    pub fn request(mut self, limit: Duration) -> Timeouts {
        self.request = Some(limit);
        self
    }

    /// The limit on establishing a connection (TCP and TLS).
    pub fn connect(mut self, limit: Duration) -> Timeouts {
        self.connect = Some(limit);
        self
    }

    /// The longest wait for the next chunk of a streamed response body.
    pub fn socket(mut self, limit: Duration) -> Timeouts {
        self.socket = Some(limit);
        self
    }

    /// The request limit, if set.
    pub fn request_limit(&self) -> Option<Duration> {
        self.request
    }

    /// The connect limit, if set.
    pub fn connect_limit(&self) -> Option<Duration> {
        self.connect
    }

    /// The socket limit, if set.
    pub fn socket_limit(&self) -> Option<Duration> {
        self.socket
    }

    /// These limits with the ones set in `over` replacing them.
    fn overridden_by(self, over: Option<&Timeouts>) -> Timeouts {
        match over {
            None => self,
            Some(over) => Timeouts {
                request: over.request.or(self.request),
                connect: over.connect.or(self.connect),
                socket: over.socket.or(self.socket),
            },
        }
    }
}

impl From<Duration> for Timeouts {
    /// A request limit alone.
    fn from(limit: Duration) -> Timeouts {
        Timeouts::new().request(limit)
    }
}

/// The connect timeout an engine should enforce for this request: the
/// Timeout plugin puts it in the request's extensions, and engines that
/// connect (see [`Capabilities::timeouts`](crate::engine::Capabilities::timeouts))
/// read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectTimeout(pub Duration);

struct TimeoutPlugin(Timeouts);

impl TimeoutPlugin {
    /// The limits for `request`, with the connect limit handed to the engine.
    fn prepare(&self, request: &mut Request) -> Timeouts {
        let limits = self.0.overridden_by(request.extensions().get::<Timeouts>());
        if let Some(connect) = limits.connect {
            request.extensions_mut().insert(ConnectTimeout(connect));
        }
        limits
    }
}

impl Plugin for TimeoutPlugin {
    fn call<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        let limits = self.prepare(&mut request);
        if limits.request.is_none() && limits.socket.is_none() {
            // Without limits there is nothing to wrap: no name to format, no extra future.
            return next.run(request);
        }
        Box::pin(async move {
            let name = request.to_string();
            let mut response = within(limits.request, &name, next.run(request)).await?;
            if let Some(limit) = limits.socket
                && response.body().is_stream()
            {
                let body = std::mem::take(response.body_mut());
                *response.body_mut() = idle_limited(body, limit, name);
            }
            Ok(response)
        })
    }

    fn websocket<'a>(
        &'a self,
        mut request: Request,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<WsConnection>> {
        Box::pin(async move {
            let limits = self.prepare(&mut request);
            let name = request.to_string();
            within(limits.request, &name, next.websocket(request)).await
        })
    }
}

/// The timeouts' link: idle without limits, as `call`'s fast path is for a
/// request without `Timeouts` of its own (and then no connect limit is
/// handed down either).
pub(super) fn plugin(config: Timeouts) -> Link {
    let idle = config == Timeouts::default();
    Link::idle_if(Arc::new(TimeoutPlugin(config)), idle)
}

/// Runs `future` with an optional request limit.
async fn within<T>(
    limit: Option<Duration>,
    name: &str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| Error::timeout(TimeoutKind::Request, name, Some(limit)))?,
        None => future.await,
    }
}

/// A body whose reads fail with a socket timeout when the next chunk takes
/// longer than `limit` to arrive.
fn idle_limited(body: Body, limit: Duration, request: String) -> Body {
    Body::from_chunk_stream(Box::pin(IdleLimited {
        inner: body.into_stream(),
        limit,
        sleep: Box::pin(tokio::time::sleep(limit)),
        waiting: false,
        done: false,
        request,
    }))
}

struct IdleLimited {
    inner: ChunkStream,
    limit: Duration,
    sleep: Pin<Box<Sleep>>,
    waiting: bool,
    done: bool,
    request: String,
}

impl Stream for IdleLimited {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if !this.waiting {
            // The clock starts when the reader asks, not when the last chunk came.
            // A limit too long to represent (`Duration::MAX`) never fires.
            let at = Instant::now()
                .checked_add(this.limit)
                .unwrap_or_else(far_future);
            this.sleep.as_mut().reset(at);
            this.waiting = true;
        }
        if let Poll::Ready(item) = this.inner.as_mut().poll_next(cx) {
            this.waiting = false;
            this.done = item.is_none();
            return Poll::Ready(item);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.done = true;
                Poll::Ready(Some(Err(Error::timeout(
                    TimeoutKind::Socket,
                    std::mem::take(&mut this.request),
                    Some(this.limit),
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A moment no test or program reaches (about 30 years on, as tokio's own
/// `sleep` uses for durations it cannot add).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}
