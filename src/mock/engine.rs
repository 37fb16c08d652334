//! The closure- and queue-driven mock engine.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Version};

use super::history::{Ring, cap_body, cap_bytes};
use crate::engine::{BoxFuture, Capabilities, Engine};
use crate::error::NoRoute;
use crate::ws::{WsConnection, WsPeer};
use crate::{Error, Request, Response, Result};

type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Result<Response>> + Send + Sync>;
type WsHandler = Arc<dyn Fn(Request, WsPeer) -> BoxFuture<'static, ()> + Send + Sync>;

fn boxed_handler<F, Fut>(handler: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(handler(request)))
}

/// An engine that answers from closures, like Ktor's `MockEngine`.
///
/// - [`MockEngine::new`]: one handler answers every request.
/// - [`MockEngine::queue`]: handlers answer one request each, in order; a
///   request after the last is an [`Error::NoRoute`] naming it. With
///   [`MockQueue::round_robin`] they are reused in a cycle instead.
///
/// A handler may return an [`Error`] (say a connection reset) and may wait on
/// `tokio::time`. Request bodies are buffered before the handler sees them,
/// so [`request_history`](MockEngine::request_history) holds each request
/// with its body. The history is bounded, so that a mock serving for days
/// keeps flat memory: the 10,000 most recent requests and responses, bodies
/// cut at 64 KiB in the history only
/// ([`with_history_limit`](MockEngine::with_history_limit),
/// [`with_history_body_limit`](MockEngine::with_history_body_limit)).
/// Cloning a `MockEngine` shares its handlers and history.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_ok}, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|request| async move {
///     Ok(respond_ok(format!("you asked for {}", request.url().path())))
/// });
/// let client = Client::builder().engine(engine.clone()).base_url("http://api.test").build().unwrap();
/// let text = client.get("/users").send().await.unwrap().text().await.unwrap();
/// assert_eq!(text, "you asked for /users");
/// assert_eq!(engine.request_history().len(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct MockEngine {
    inner: Arc<Inner>,
}

struct Inner {
    handlers: Vec<Handler>,
    mode: Mode,
    next: AtomicUsize,
    websocket: Mutex<Option<WsHandler>>,
    requests: Mutex<Ring<Request>>,
    responses: Mutex<Ring<ResponseSnapshot>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Always,
    Once,
    RoundRobin,
}

/// What a mock answered: the head of the response, and its body unless it was
/// streamed (a stream is handed to the caller, not copied).
#[derive(Debug, Clone)]
pub struct ResponseSnapshot {
    /// The status.
    pub status: StatusCode,
    /// The version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (its first bytes only, beyond the history's body limit),
    /// `None` when it was streamed.
    pub body: Option<Bytes>,
}

impl MockEngine {
    /// An engine whose `handler` answers every request.
    pub fn new<F, Fut>(handler: F) -> MockEngine
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response>> + Send + 'static,
    {
        MockEngine::from_handlers(vec![boxed_handler(handler)], Mode::Always)
    }

    /// A queue of handlers, each answering one request in order.
    ///
    /// ```
    /// use wiretape::{mock::{MockEngine, respond_error, respond_ok}, Client, ErrorKind, StatusCode};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let engine = MockEngine::queue()
    ///     .then(|_| async { Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)) })
    ///     .then(|_| async { Ok(respond_ok("ok")) })
    ///     .build();
    /// let client = Client::builder().engine(engine).build().unwrap();
    /// assert_eq!(client.get("http://x.test/").send().await.unwrap().status(), 503);
    /// assert_eq!(client.get("http://x.test/").send().await.unwrap().status(), 200);
    /// let third = client.get("http://x.test/").send().await.unwrap_err();
    /// assert_eq!(third.kind(), ErrorKind::NoRoute);
    /// # });
    /// ```
    pub fn queue() -> MockQueue {
        MockQueue {
            handlers: Vec::new(),
            round_robin: false,
        }
    }

    fn from_handlers(handlers: Vec<Handler>, mode: Mode) -> MockEngine {
        MockEngine {
            inner: Arc::new(Inner {
                handlers,
                mode,
                next: AtomicUsize::new(0),
                websocket: Mutex::new(None),
                requests: Mutex::new(Ring::new()),
                responses: Mutex::new(Ring::new()),
            }),
        }
    }

    /// Answers WebSocket handshakes with `handler`, which scripts the server's
    /// end of an in-memory socket.
    ///
    /// ```
    /// use wiretape::{mock::{MockEngine, respond_ok}, ws::Frame, Client};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let engine = MockEngine::new(|_| async { Ok(respond_ok("")) })
    ///     .with_websocket(|_request, mut peer| async move {
    ///         while let Some(frame) = peer.recv().await {
    ///             if let Frame::Close(_) = frame { let _ = peer.close(1000, "bye").await; return; }
    ///             let _ = peer.send(frame).await; // echo
    ///         }
    ///     });
    /// let client = Client::builder().engine(engine).build().unwrap();
    /// let mut socket = client.websocket("ws://chat.test/echo").await.unwrap();
    /// socket.send_text("hi").await.unwrap();
    /// assert_eq!(socket.recv_text().await.unwrap().as_deref(), Some("hi"));
    /// assert_eq!(socket.close(1000, "").await.unwrap().unwrap().reason, "bye");
    /// # });
    /// ```
    ///
    /// Clones of the engine share the handler.
    pub fn with_websocket<F, Fut>(self, handler: F) -> MockEngine
    where
        F: Fn(Request, WsPeer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *lock(&self.inner.websocket) = Some(Arc::new(move |request, peer| {
            Box::pin(handler(request, peer))
        }));
        self
    }

    /// Keeps the `entries` most recent requests and responses in the
    /// history (default 10,000; `0` keeps none); older ones are dropped and
    /// counted by [`history_dropped`](MockEngine::history_dropped).
    ///
    /// ```
    /// use wiretape::{mock::{MockEngine, respond_ok}, Client};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let engine = MockEngine::new(|_| async { Ok(respond_ok("")) }).with_history_limit(1);
    /// let client = Client::builder().engine(engine.clone()).build().unwrap();
    /// client.get("http://x.test/a").send().await.unwrap();
    /// client.get("http://x.test/b").send().await.unwrap();
    /// assert_eq!(engine.request_history()[0].url().path(), "/b");
    /// assert_eq!(engine.history_dropped(), 1);
    /// # });
    /// ```
    pub fn with_history_limit(self, entries: usize) -> MockEngine {
        lock(&self.inner.requests).set_limit(entries);
        lock(&self.inner.responses).set_limit(entries);
        self
    }

    /// Keeps at most the first `bytes` bytes of each request and response
    /// body in the history (default 64 KiB); handlers and callers always
    /// get whole bodies.
    pub fn with_history_body_limit(self, bytes: usize) -> MockEngine {
        lock(&self.inner.requests).set_body_limit(bytes);
        lock(&self.inner.responses).set_body_limit(bytes);
        self
    }

    /// The requests received so far (the most recent ones, up to the
    /// history's limit), bodies buffered, in order.
    pub fn request_history(&self) -> Vec<Request> {
        lock(&self.inner.requests)
            .iter()
            .filter_map(Request::try_clone)
            .collect()
    }

    /// The responses given so far (errors are not responses), the most
    /// recent ones up to the history's limit, in order.
    pub fn response_history(&self) -> Vec<ResponseSnapshot> {
        lock(&self.inner.responses).iter().cloned().collect()
    }

    /// How many requests the history dropped to stay within its limit.
    pub fn history_dropped(&self) -> u64 {
        lock(&self.inner.requests).dropped()
    }

    fn remember(&self, mut request: Request) {
        let mut requests = lock(&self.inner.requests);
        cap_body(&mut request, requests.body_limit());
        requests.push(request);
    }

    fn pick(&self, request: &Request) -> Result<Handler> {
        let handlers = &self.inner.handlers;
        let index = match self.inner.mode {
            Mode::Always => 0,
            Mode::Once => self.inner.next.fetch_add(1, Ordering::SeqCst),
            Mode::RoundRobin => {
                self.inner.next.fetch_add(1, Ordering::SeqCst) % handlers.len().max(1)
            }
        };
        handlers.get(index).cloned().ok_or_else(|| {
            let explanation = if handlers.is_empty() {
                "the MockEngine was built with no handlers".to_string()
            } else {
                format!(
                    "the MockEngine's queue held {} handler(s) and all were used; \
                     add one with MockQueue::then or use MockQueue::round_robin to reuse them",
                    handlers.len()
                )
            };
            Error::NoRoute(Box::new(NoRoute::new(request.to_string(), explanation)))
        })
    }
}

impl Engine for MockEngine {
    fn execute(&self, mut request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async move {
            let body = request.take_body().buffered().await?;
            *request.body_mut() = body;
            let for_handler = request.try_clone().expect("the body was just buffered");
            let target = request.target().clone();
            self.remember(request);
            let handler = self.pick(&for_handler)?;
            let mut response = handler(for_handler).await?;
            if !response.has_url() {
                response.set_target(target);
            }
            let mut responses = lock(&self.inner.responses);
            let limit = responses.body_limit();
            responses.push(ResponseSnapshot {
                status: response.status(),
                version: response.version(),
                headers: response.headers().clone(),
                body: response
                    .body()
                    .as_bytes()
                    .map(|body| cap_bytes(body, limit)),
            });
            drop(responses);
            Ok(response)
        })
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        Box::pin(async move {
            let Some(handler) = lock(&self.inner.websocket).clone() else {
                return Err(Error::websocket(
                    request.to_string(),
                    "this MockEngine has no WebSocket handler; add one with MockEngine::with_websocket",
                ));
            };
            let (connection, peer) = WsConnection::in_memory(&request);
            let for_handler = request.try_clone();
            self.remember(request);
            if let Some(for_handler) = for_handler {
                tokio::spawn(handler(for_handler, peer));
            }
            Ok(connection)
        })
    }

    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::none().with_streaming();
        if lock(&self.inner.websocket).is_some() {
            caps.with_websocket()
        } else {
            caps
        }
    }
}

impl std::fmt::Debug for MockEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockEngine")
            .field("handlers", &self.inner.handlers.len())
            .field("requests", &lock(&self.inner.requests).len())
            .finish()
    }
}

/// Builds a [`MockEngine`] from a queue of handlers; see [`MockEngine::queue`].
pub struct MockQueue {
    handlers: Vec<Handler>,
    round_robin: bool,
}

impl MockQueue {
    /// Adds a handler that answers the next request in line.
    pub fn then<F, Fut>(mut self, handler: F) -> MockQueue
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response>> + Send + 'static,
    {
        self.handlers.push(boxed_handler(handler));
        self
    }

    /// Reuses the handlers in a cycle instead of failing after the last.
    pub fn round_robin(mut self) -> MockQueue {
        self.round_robin = true;
        self
    }

    /// The engine.
    pub fn build(self) -> MockEngine {
        let mode = if self.round_robin {
            Mode::RoundRobin
        } else {
            Mode::Once
        };
        MockEngine::from_handlers(self.handlers, mode)
    }
}

/// Locks a mutex, recovering the data if a panicking test poisoned it: the
/// history stays readable for the report that follows the panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
