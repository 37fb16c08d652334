//! The network engine's connection pool: HTTP/1.1 connections kept for
//! reuse, one shared HTTP/2 connection per host, and the per-host cap.
//!
//! The engine used hyper-util's pooled client before. Measured under
//! callgrind (`benches/engine.rs`), its checkout and return cost about 5,300
//! of the 30,300 instructions a pooled GET takes: its key, the request's
//! `(Scheme, Authority)`, is hashed byte by byte (the authority hashes
//! case-insensitively, one `write_u8` a byte) five or six times a request,
//! and its idle reaper keeps a timer in the runtime's wheel, which the
//! runtime then consults every time it parks (about 650 more a request).
//! This pool does the same work with one lookup, hashed in one write, and
//! reaps idle connections lazily, with no timer of its own.
//!
//! # The contract it keeps
//!
//! - **Reuse.** A request takes the newest idle HTTP/1.1 connection to its
//!   host (scheme, host and port) that is still open and ready, or the
//!   host's HTTP/2 connection, or opens a connection. An HTTP/1.1
//!   connection comes back to the pool when its response's body has been
//!   read to the end (or at once, when the response has no body). A body
//!   dropped before its end gives the connection back only if hyper can
//!   still reuse it.
//! - **Stale connections.** A request that a reused connection refused
//!   before writing a byte of it (the server had closed the connection
//!   while it sat idle) is sent again on another connection, as hyper-util
//!   does; an error on a new connection is the request's error.
//! - **The cap.** With `max_per_host`, a host has at most that many
//!   connections open or opening. A request beyond the cap waits for the
//!   first connection to come back, or for a slot a closed one frees.
//!   Over prior-knowledge HTTP/2 the cap is one: every request shares the
//!   one connection.
//! - **Idle connections.** At most `max_idle_per_host` per host are kept.
//!   One idle longer than `idle_timeout` is never reused: it is closed when
//!   a request finds it, and every `idle_timeout` a request sweeps every
//!   host's idle list. There is no background timer, so a client that
//!   sends nothing keeps its idle connections until the server closes
//!   them, which servers do after their own keep-alive timeout.
//! - **No cycles.** Connection tasks and response bodies hold the pool
//!   weakly: dropping the last engine clone drops the idle connections.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Uri, Version};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::BoxFuture;
use crate::{Body, BoxError};

/// A byte stream to a server, as hyper reads and writes it.
pub(crate) trait Transport: hyper::rt::Read + hyper::rt::Write + Unpin + Send {}
impl<T: hyper::rt::Read + hyper::rt::Write + Unpin + Send> Transport for T {}

/// A connection a [`Connect`] established.
pub(crate) struct Connected {
    pub(crate) io: Box<dyn Transport>,
    /// TLS negotiated HTTP/2 (ALPN).
    pub(crate) h2: bool,
    /// The connection goes to a forwarding HTTP proxy: requests on it carry
    /// absolute-form targets.
    pub(crate) proxied: bool,
}

/// Opens connections for the pool: TCP, a proxy's tunnel, TLS.
pub(crate) trait Connect: Send + Sync + 'static {
    /// A connection to `dst` (`scheme://authority/`), given up after
    /// `limit` when one is set.
    fn connect(
        &self,
        dst: Uri,
        limit: Option<Duration>,
    ) -> BoxFuture<'static, Result<Connected, BoxError>>;
}

/// The pool's settings, from `HyperEngineBuilder`.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_per_host: Option<usize>,
    pub(crate) http2_only: bool,
}

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// The request's URI has no scheme or host.
    NoHost,
    /// The request asks for HTTP/2 and the connection speaks HTTP/1.1.
    NotHttp2,
    /// No connection: nothing of the request was sent.
    Connect(BoxError),
    /// The exchange failed on an established connection.
    Send(hyper::Error),
}

/// The pool; clones share it.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    connector: Box<dyn Connect>,
    config: PoolConfig,
    hosts: Mutex<Hosts>,
    /// This pool, for the slots and tickets it hands out.
    me: Weak<Shared>,
}

struct Hosts {
    map: HashMap<Key, Host>,
    /// When a request next sweeps every host's idle list.
    next_sweep: Option<Instant>,
}

#[derive(Default)]
struct Host {
    /// Ready HTTP/1.1 connections, the newest last.
    idle: Vec<Idle>,
    /// The host's shared HTTP/2 connection.
    h2: Option<http2::SendRequest<Body>>,
    /// Connections open or opening: each holds a [`Slot`].
    open: usize,
    /// Requests waiting at the cap, the oldest first.
    waiters: VecDeque<oneshot::Sender<Handoff>>,
}

struct Idle {
    sender: http1::SendRequest<Body>,
    proxied: bool,
    since: Option<Instant>,
}

/// What a waiting request is given.
enum Handoff {
    Http1(http1::SendRequest<Body>, bool),
    Http2(http2::SendRequest<Body>),
    /// A slot under the cap: open a connection with it.
    Connect(Slot),
}

/// A connection to use, and whether it was used before (so a refusal means
/// it went stale, and the request may go again).
enum Conn {
    Http1 {
        sender: http1::SendRequest<Body>,
        proxied: bool,
        reused: bool,
    },
    Http2 {
        sender: http2::SendRequest<Body>,
        reused: bool,
    },
}

enum Checkout {
    Ready(Conn),
    Open(Slot),
    Wait(oneshot::Receiver<Handoff>),
}

impl Pool {
    pub(crate) fn new(connector: Box<dyn Connect>, config: PoolConfig) -> Pool {
        Pool {
            shared: Arc::new_cyclic(|me| Shared {
                connector,
                config,
                hosts: Mutex::new(Hosts {
                    map: HashMap::new(),
                    next_sweep: None,
                }),
                me: me.clone(),
            }),
        }
    }

    /// Sends `request` (its URI absolute) on a pooled connection and returns
    /// the response as soon as its head arrives.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Body>,
        connect_limit: Option<Duration>,
    ) -> Result<http::Response<PooledBody>, PoolError> {
        let key = Key::of(request.uri()).ok_or(PoolError::NoHost)?;
        loop {
            let conn = match self.shared.checkout(&key) {
                Checkout::Ready(conn) => conn,
                Checkout::Open(slot) => self.shared.open(&key, slot, connect_limit).await?,
                Checkout::Wait(handoff) => match handoff.await {
                    Ok(Handoff::Http1(sender, proxied)) => Conn::Http1 {
                        sender,
                        proxied,
                        reused: true,
                    },
                    Ok(Handoff::Http2(sender)) => Conn::Http2 {
                        sender,
                        reused: true,
                    },
                    Ok(Handoff::Connect(slot)) => {
                        self.shared.open(&key, slot, connect_limit).await?
                    }
                    // The host was forgotten while we waited: ask again.
                    Err(_) => continue,
                },
            };
            match conn {
                Conn::Http1 {
                    mut sender,
                    proxied,
                    reused,
                } => {
                    if request.version() == Version::HTTP_2 {
                        let unused = Ticket {
                            pool: self.shared.me.clone(),
                            key,
                            sender,
                            proxied,
                        };
                        unused.release();
                        return Err(PoolError::NotHttp2);
                    }
                    let absolute = for_http1(&mut request, proxied);
                    match sender.try_send_request(request).await {
                        Ok(response) => {
                            let ticket = Ticket {
                                pool: self.shared.me.clone(),
                                key,
                                sender,
                                proxied,
                            };
                            // No body to wait for (a HEAD, a 204): back now.
                            let ticket = if ticket.sender.is_ready() {
                                ticket.release();
                                None
                            } else {
                                Some(ticket)
                            };
                            return Ok(response.map(|body| PooledBody { body, ticket }));
                        }
                        Err(mut refused) => match refused.take_message() {
                            Some(mut unsent) if reused => {
                                *unsent.uri_mut() = absolute;
                                request = unsent;
                            }
                            _ => return Err(PoolError::Send(refused.into_error())),
                        },
                    }
                }
                Conn::Http2 { mut sender, reused } => {
                    match sender.try_send_request(request).await {
                        Ok(response) => {
                            return Ok(response.map(|body| PooledBody { body, ticket: None }));
                        }
                        Err(mut refused) => match refused.take_message() {
                            Some(unsent) if reused => request = unsent,
                            _ => return Err(PoolError::Send(refused.into_error())),
                        },
                    }
                }
            }
        }
    }
}

/// Readies a request for an HTTP/1.1 connection: a `Host` header when it
/// has none, and the request target in the form the connection needs
/// (origin-form, `/path?query`, unless it goes to a forwarding proxy).
/// Returns the absolute URI, for sending the request again.
fn for_http1(request: &mut http::Request<Body>, proxied: bool) -> Uri {
    let absolute = std::mem::take(request.uri_mut());
    if !request.headers().contains_key(http::header::HOST)
        && let Some(host) = host_header(&absolute)
    {
        request.headers_mut().insert(http::header::HOST, host);
    }
    let mut target = http::uri::Parts::default();
    if request.method() == Method::CONNECT {
        target.authority = absolute.authority().cloned();
    } else if proxied {
        *request.uri_mut() = absolute.clone();
        return absolute;
    } else {
        target.path_and_query = Some(
            absolute
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
    }
    *request.uri_mut() = Uri::from_parts(target).unwrap_or_else(|_| absolute.clone());
    absolute
}

/// The `Host` header for a URI: its host, and its port unless it is the
/// scheme's default.
fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let authority = uri.authority()?;
    let default = match uri.scheme_str() {
        Some("https") | Some("wss") => Some(443),
        Some("http") | Some("ws") => Some(80),
        _ => None,
    };
    // The authority as written, without credentials: `host[:port]`.
    let written = authority.as_str().rsplit('@').next().unwrap_or("");
    let text = match authority.port_u16() {
        Some(port) if Some(port) == default => authority.host(),
        _ => written,
    };
    HeaderValue::from_str(text).ok()
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Hosts> {
        self.hosts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The clock, read only when idle connections can expire.
    fn now(&self) -> Option<Instant> {
        self.config.idle_timeout.map(|_| Instant::now())
    }

    fn cap(&self) -> Option<usize> {
        if self.config.http2_only {
            Some(1)
        } else {
            self.config.max_per_host
        }
    }

    fn checkout(&self, key: &Key) -> Checkout {
        let now = self.now();
        let mut hosts = self.lock();
        if let (Some(now), Some(timeout)) = (now, self.config.idle_timeout) {
            match hosts.next_sweep {
                Some(at) if now >= at => {
                    hosts.sweep(now, timeout);
                    hosts.next_sweep = None;
                }
                _ => {}
            }
        }
        if !hosts.map.contains_key(key) {
            hosts.map.insert(key.clone(), Host::default());
        }
        let host = hosts.map.get_mut(key).expect("inserted above");
        if let Some(sender) = &host.h2 {
            if !sender.is_closed() {
                return Checkout::Ready(Conn::Http2 {
                    sender: sender.clone(),
                    reused: true,
                });
            }
            host.h2 = None;
        }
        while let Some(idle) = host.idle.pop() {
            if idle.is_usable(now, self.config.idle_timeout) {
                return Checkout::Ready(Conn::Http1 {
                    sender: idle.sender,
                    proxied: idle.proxied,
                    reused: true,
                });
            }
        }
        match self.cap() {
            Some(cap) if host.open >= cap => {
                let (tx, rx) = oneshot::channel();
                host.waiters.push_back(tx);
                Checkout::Wait(rx)
            }
            _ => {
                host.open += 1;
                Checkout::Open(Slot {
                    pool: Some(self.me.clone()),
                    key: key.clone(),
                })
            }
        }
    }

    /// Opens a connection with `slot` and starts its task, which holds the
    /// slot until the connection closes.
    async fn open(
        &self,
        key: &Key,
        slot: Slot,
        limit: Option<Duration>,
    ) -> Result<Conn, PoolError> {
        let connected = self
            .connector
            .connect(key.uri(), limit)
            .await
            .map_err(PoolError::Connect)?;
        let refused = |err: hyper::Error| PoolError::Connect(Box::new(err));
        if connected.h2 || self.config.http2_only {
            let (mut sender, connection) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(connected.io)
                .await
                .map_err(refused)?;
            tokio::spawn(async move {
                let _ = connection.await;
                drop(slot);
            });
            sender.ready().await.map_err(refused)?;
            self.share_http2(key, &sender);
            Ok(Conn::Http2 {
                sender,
                reused: false,
            })
        } else {
            let (sender, connection) = http1::Builder::new()
                .handshake(connected.io)
                .await
                .map_err(refused)?;
            tokio::spawn(async move {
                let _ = connection.await;
                drop(slot);
            });
            Ok(Conn::Http1 {
                sender,
                proxied: connected.proxied,
                reused: false,
            })
        }
    }

    /// Makes `sender` the host's HTTP/2 connection (unless it has a live
    /// one) and gives it to every request waiting.
    fn share_http2(&self, key: &Key, sender: &http2::SendRequest<Body>) {
        let mut hosts = self.lock();
        let Some(host) = hosts.map.get_mut(key) else {
            return;
        };
        if host.h2.as_ref().is_none_or(|h2| h2.is_closed()) {
            host.h2 = Some(sender.clone());
        }
        for waiter in host.waiters.drain(..) {
            let _ = waiter.send(Handoff::Http2(sender.clone()));
        }
    }

    /// An HTTP/1.1 connection ready for another request: to the request
    /// waiting longest, or to the idle list.
    fn give_back(&self, key: &Key, mut sender: http1::SendRequest<Body>, proxied: bool) {
        let since = self.now();
        let mut hosts = self.lock();
        if let (Some(now), Some(timeout), None) =
            (since, self.config.idle_timeout, hosts.next_sweep)
        {
            hosts.next_sweep = Some(now + timeout);
        }
        let Some(host) = hosts.map.get_mut(key) else {
            return;
        };
        while let Some(waiter) = host.waiters.pop_front() {
            match waiter.send(Handoff::Http1(sender, proxied)) {
                Ok(()) => return,
                Err(Handoff::Http1(back, _)) => sender = back,
                Err(_) => unreachable!("the handoff sent was a connection"),
            }
        }
        if host.idle.len() < self.config.max_idle_per_host {
            host.idle.push(Idle {
                sender,
                proxied,
                since,
            });
        }
    }

    /// A connection to `key` closed (or never opened): its slot goes to the
    /// request waiting longest, or is freed.
    fn free(&self, key: &Key) {
        let mut hosts = self.lock();
        let Some(host) = hosts.map.get_mut(key) else {
            return;
        };
        while let Some(waiter) = host.waiters.pop_front() {
            let slot = Slot {
                pool: Some(self.me.clone()),
                key: key.clone(),
            };
            match waiter.send(Handoff::Connect(slot)) {
                Ok(()) => return,
                // Not freed twice: this call frees it.
                Err(Handoff::Connect(mut slot)) => slot.pool = None,
                Err(_) => unreachable!("the handoff sent was a slot"),
            }
        }
        host.open -= 1;
        if host.open == 0 {
            // Nothing open: any idle entry left is a closed connection.
            hosts.map.remove(key);
        }
    }
}

impl Hosts {
    /// Drops every idle connection that expired or closed.
    fn sweep(&mut self, now: Instant, timeout: Duration) {
        for host in self.map.values_mut() {
            host.idle
                .retain(|idle| idle.is_usable(Some(now), Some(timeout)));
        }
    }
}

impl Idle {
    fn is_usable(&self, now: Option<Instant>, timeout: Option<Duration>) -> bool {
        let fresh = match (self.since, now, timeout) {
            (Some(since), Some(now), Some(timeout)) => {
                now.saturating_duration_since(since) < timeout
            }
            _ => true,
        };
        fresh && self.sender.is_ready()
    }
}

/// One of a host's places under the cap, held by a connection (its task) or
/// by a request opening one. Dropping it frees the place.
struct Slot {
    /// `None` once the place was freed some other way.
    pool: Option<Weak<Shared>>,
    key: Key,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(shared) = self.pool.take().and_then(|pool| pool.upgrade()) {
            shared.free(&self.key);
        }
    }
}

/// An HTTP/1.1 connection lent to a response, to give back when its body
/// ends.
struct Ticket {
    pool: Weak<Shared>,
    key: Key,
    sender: http1::SendRequest<Body>,
    proxied: bool,
}

impl Ticket {
    /// Gives the connection back now if hyper is ready for another request
    /// on it, or once it is; a connection hyper closes is dropped.
    fn release(mut self) {
        if self.sender.is_ready() {
            if let Some(shared) = self.pool.upgrade() {
                shared.give_back(&self.key, self.sender, self.proxied);
            }
        } else if !self.sender.is_closed() {
            // Outside a runtime (a response dropped after it shut down)
            // the connection is dropped instead.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let ready = std::future::poll_fn(|cx| self.sender.poll_ready(cx)).await;
                    if let (Ok(()), Some(shared)) = (ready, self.pool.upgrade()) {
                        shared.give_back(&self.key, self.sender, self.proxied);
                    }
                });
            }
        }
    }
}

/// A response body from the pool: hyper's, which gives its HTTP/1.1
/// connection back when it ends or is dropped.
pub(crate) struct PooledBody {
    body: Incoming,
    ticket: Option<Ticket>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            ticket.release();
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            // Readers stop at the end the size hint shows, without polling
            // for the `None` after it.
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.give_back(),
            Poll::Ready(None) => self.give_back(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// A pool key: scheme, host and port, the host compared without case.
#[derive(Clone, Debug)]
struct Key {
    scheme: Scheme,
    authority: Authority,
}

impl Key {
    fn of(uri: &Uri) -> Option<Key> {
        Some(Key {
            scheme: uri.scheme()?.clone(),
            authority: uri.authority()?.clone(),
        })
    }

    /// `scheme://authority/`, the URI the connector is asked for.
    fn uri(&self) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::from_static("/"));
        Uri::from_parts(parts).expect("a scheme and an authority make a URI")
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // `Authority` compares without case.
        self.scheme == other.scheme && self.authority == other.authority
    }
}

impl Eq for Key {}

impl Hash for Key {
    /// One write for the authority, lowercased only when it has capitals
    /// (`Authority`'s own `Hash` writes a byte at a time).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.scheme.as_str().hash(state);
        let authority = self.authority.as_str();
        if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            authority.to_ascii_lowercase().hash(state);
        } else {
            authority.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str) -> Key {
        Key::of(&uri.parse().unwrap()).unwrap()
    }

    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, StreamBody};
    use hyper_util::rt::TokioIo;
    use tokio::task::JoinHandle;

    /// Connections in memory to a hyper server answering `ok` (in two
    /// chunks a second apart for `/slow`), counted, with each server
    /// connection's task kept to see when it ends.
    #[derive(Clone, Default)]
    struct Loopback {
        opened: Arc<AtomicUsize>,
        servers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    }

    impl Connect for Loopback {
        fn connect(
            &self,
            _dst: Uri,
            _limit: Option<Duration>,
        ) -> BoxFuture<'static, Result<Connected, BoxError>> {
            self.opened.fetch_add(1, Ordering::SeqCst);
            let (client, server) = tokio::io::duplex(64 * 1024);
            let service = hyper::service::service_fn(|request: http::Request<Incoming>| {
                let slow = request.uri().path() == "/slow";
                let chunks = futures_util::stream::unfold(0, move |sent| async move {
                    let chunk = match sent {
                        0 => "o",
                        1 if slow => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            "k"
                        }
                        1 => "k",
                        _ => return None,
                    };
                    let frame = http_body::Frame::data(Bytes::from_static(chunk.as_bytes()));
                    Some((Ok::<_, Infallible>(frame), sent + 1))
                });
                async move { Ok::<_, Infallible>(http::Response::new(StreamBody::new(chunks))) }
            });
            let task = tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(server), service)
                    .await;
            });
            self.servers.lock().unwrap().push(task);
            Box::pin(async move {
                Ok(Connected {
                    io: Box::new(TokioIo::new(client)),
                    h2: false,
                    proxied: false,
                })
            })
        }
    }

    /// A pool over a fresh [`Loopback`].
    fn pool_over(config: PoolConfig) -> (Loopback, Pool) {
        let loopback = Loopback::default();
        let pool = Pool::new(Box::new(loopback.clone()), config);
        (loopback, pool)
    }

    impl Loopback {
        fn opened(&self) -> usize {
            self.opened.load(Ordering::SeqCst)
        }

        /// Waits for the `index`th server connection to end: the client
        /// closed it. Fails (the clock is paused, so at once) if it stays open.
        async fn closed(&self, index: usize, why: &str) {
            let server = self.servers.lock().unwrap().remove(index);
            tokio::time::timeout(Duration::from_secs(1), server)
                .await
                .expect(why)
                .unwrap();
        }
    }

    fn config() -> PoolConfig {
        PoolConfig {
            idle_timeout: Some(Duration::from_secs(90)),
            max_idle_per_host: usize::MAX,
            max_per_host: None,
            http2_only: false,
        }
    }

    async fn get(pool: &Pool, uri: &str) -> Bytes {
        let mut request = http::Request::new(Body::empty());
        *request.uri_mut() = uri.parse().unwrap();
        let response = pool.send(request, None).await.unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test(start_paused = true)]
    async fn sequential_requests_share_a_connection_per_host() {
        let (loopback, pool) = pool_over(config());
        for _ in 0..3 {
            assert_eq!(get(&pool, "http://a.test/x").await, "ok");
        }
        assert_eq!(loopback.opened(), 1);
        get(&pool, "http://b.test/x").await;
        get(&pool, "http://A.TEST/y").await;
        assert_eq!(loopback.opened(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_idle_past_the_timeout_is_not_reused() {
        let (loopback, pool) = pool_over(config());
        get(&pool, "http://a.test/x").await;
        tokio::time::advance(Duration::from_secs(89)).await;
        get(&pool, "http://a.test/x").await;
        assert_eq!(loopback.opened(), 1, "reused within 90 s");
        tokio::time::advance(Duration::from_secs(91)).await;
        get(&pool, "http://a.test/x").await;
        assert_eq!(loopback.opened(), 2, "a new one after");
        loopback.closed(0, "the expired connection closes").await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_closes_expired_connections_to_other_hosts() {
        let (loopback, pool) = pool_over(config());
        get(&pool, "http://a.test/x").await;
        tokio::time::advance(Duration::from_secs(91)).await;
        get(&pool, "http://b.test/x").await;
        loopback
            .closed(
                0,
                "a.test's idle connection closes when a request to b.test sweeps",
            )
            .await;
    }

    #[tokio::test(start_paused = true)]
    async fn no_idle_connections_are_kept_when_the_limit_is_zero() {
        let (loopback, pool) = pool_over(PoolConfig {
            max_idle_per_host: 0,
            ..config()
        });
        get(&pool, "http://a.test/x").await;
        get(&pool, "http://a.test/x").await;
        assert_eq!(loopback.opened(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_pool_closes_its_idle_connections() {
        let (loopback, pool) = pool_over(config());
        get(&pool, "http://a.test/x").await;
        drop(pool);
        loopback
            .closed(0, "the connection closes with the pool")
            .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_over_the_cap_waits_for_a_connection_to_come_back() {
        let (loopback, pool) = pool_over(PoolConfig {
            max_per_host: Some(1),
            ..config()
        });
        let mut request = http::Request::new(Body::empty());
        *request.uri_mut() = "http://a.test/slow".parse().unwrap();
        // The first response's body is still arriving: its connection is out.
        let held = pool.send(request, None).await.unwrap();
        let second = tokio::spawn({
            let pool = pool.clone();
            async move { get(&pool, "http://a.test/y").await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!second.is_finished(), "the second request waits at the cap");
        assert_eq!(held.into_body().collect().await.unwrap().to_bytes(), "ok");
        assert_eq!(second.await.unwrap(), "ok");
        assert_eq!(loopback.opened(), 1);
    }

    #[test]
    fn keys_compare_and_hash_the_host_without_case() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let (lower, upper) = (key("http://api.test:8080/a"), key("http://API.Test:8080/b"));
        assert_eq!(lower, upper);
        assert_eq!(state.hash_one(&lower), state.hash_one(&upper));
        assert_ne!(lower, key("https://api.test:8080/a"));
        assert_ne!(lower, key("http://api.test:8081/a"));
    }

    #[test]
    fn the_host_header_drops_a_default_port_and_credentials() {
        let host = |uri: &str| host_header(&uri.parse().unwrap()).unwrap();
        assert_eq!(host("http://api.test/x"), "api.test");
        assert_eq!(host("http://api.test:80/x"), "api.test");
        assert_eq!(host("https://api.test:443/x"), "api.test");
        assert_eq!(host("http://api.test:8080/x"), "api.test:8080");
        assert_eq!(host("https://api.test:80/x"), "api.test:80");
        assert_eq!(host("http://user:pw@api.test:8080/x"), "api.test:8080");
        assert_eq!(host("http://[::1]:8080/x"), "[::1]:8080");
        assert_eq!(host("http://[::1]/x"), "[::1]");
    }

    #[test]
    fn an_http1_request_goes_out_in_origin_form_unless_proxied() {
        let request = |uri: &str, method: Method| {
            let mut request = http::Request::new(Body::empty());
            *request.uri_mut() = uri.parse().unwrap();
            *request.method_mut() = method;
            request
        };
        let mut direct = request("http://api.test:8080/a/b?c=d", Method::GET);
        let absolute = for_http1(&mut direct, false);
        assert_eq!(direct.uri(), "/a/b?c=d");
        assert_eq!(direct.headers()["host"], "api.test:8080");
        assert_eq!(absolute, "http://api.test:8080/a/b?c=d");

        let mut proxied = request("http://api.test/a", Method::GET);
        for_http1(&mut proxied, true);
        assert_eq!(proxied.uri(), "http://api.test/a");

        let mut tunnel = request("http://api.test:443/", Method::CONNECT);
        for_http1(&mut tunnel, false);
        assert_eq!(tunnel.uri(), "api.test:443");

        let mut named = request("http://api.test/a", Method::GET);
        named
            .headers_mut()
            .insert("host", HeaderValue::from_static("other.test"));
        for_http1(&mut named, false);
        assert_eq!(named.headers()["host"], "other.test");
    }
}
