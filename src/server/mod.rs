//! Serve any engine on a real socket.
//!
//! [`serve`] puts an [`Engine`] behind a loopback (or any) address: each
//! incoming HTTP/1.1 or HTTP/2 request becomes a [`Request`], the engine
//! answers it, and the [`Response`] goes back on the wire, streamed. WebSocket
//! upgrades go to the engine's [`Engine::websocket`] and frames are pumped
//! both ways. Tests use it to stand up local servers from a
//! [`MockEngine`](crate::mock::MockEngine); the command line uses it to serve
//! routes and cassettes to clients in any language.
//!
//! Engine errors become what a client would see from a real server in that
//! state: a connection reset or refusal closes the connection without an
//! answer, a request that no route or cassette answers is a `404` carrying
//! the explanation, a timeout a `504`, anything else a `502`; each error
//! answer names its kind in an `x-wiretape-error` header.
//!
//! Faults ([`crate::fault`]) from the engine, its routes or a
//! [`Faulty`](crate::fault::Faulty) wrapper act on the wire: each accepted
//! socket is wrapped so that a fault can end it with a real RST
//! (`SO_LINGER 0`) or take it over with raw bytes (a malformed chunk,
//! garbage, a truncated body); over HTTP/2 they reset the stream.
//!
//! The socket is guarded for long runs (`limits.rs`, and `head.rs` for the
//! HTTP/1 header timer): a header-read timeout, a body-idle timeout and a
//! connection cap, with defaults that suit a
//! test server and builder methods on [`Server`] to change them. A client's
//! own broken body (a malformed chunk, a stall) gets a `400` or `408`
//! saying what was wrong.

mod drain;
mod head;
mod limits;
mod target;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use http::{HeaderValue, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::task::TaskTracker;

use self::drain::Drain;
use self::head::{HeadClock, HeadTimed, Watched};
use self::limits::{BodyFault, ClientBody, Limits, Slots};
use self::target::Targets;
use crate::body::from_http_body;
use crate::engine::Engine;
use crate::fault::wire::{WireControl, WireIo};
use crate::mock::lock;
use crate::ws::{CloseFrame, Frame, WsConfig, tungstenite as ws_bridge};
use crate::{Body, Error, ErrorKind, Request, Response, Result};

/// How long [`ServerHandle::shutdown`] lets open connections finish.
const GRACE: Duration = Duration::from_secs(5);

/// Serves `engine` on `addr` over plain TCP. Bind port 0 to let the system
/// pick one, then read it from [`ServerHandle::local_addr`].
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_ok}, server, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_ok("pong")) });
/// let server = server::serve(engine, "127.0.0.1:0").await?;
/// let text = Client::new().get(server.url("/ping")).send().await?.text().await?;
/// assert_eq!(text, "pong");
/// server.shutdown().await;
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
pub async fn serve(engine: impl Engine, addr: impl ToSocketAddrs) -> Result<ServerHandle> {
    Server::new().serve(engine, addr).await
}

/// Configures a server: TLS, HTTP versions, and the limits that guard its
/// socket. For plain HTTP with the default limits, [`serve`] is enough.
///
/// The limits and their defaults:
/// - [`header_read_timeout`](Server::header_read_timeout), 10 s: a
///   connection must deliver a complete request head within it, from
///   accept (TLS handshake included) and, over HTTP/1, after each exchange
///   (so it is also the keep-alive idle timeout); otherwise it is closed.
/// - [`body_idle_timeout`](Server::body_idle_timeout), 30 s: the longest
///   the server waits for the next piece of a request body (as nginx's
///   `client_body_timeout`, between two reads); a stalled body is answered
///   `408`.
/// - [`max_connections`](Server::max_connections), 512: connections served
///   at once; one beyond the cap waits up to 250 ms for a free slot, then
///   gets `503 Service Unavailable` (`x-wiretape-error:
///   too_many_connections`; a TLS connection is just closed).
///
/// ```
/// use std::time::Duration;
/// use wiretape::{mock::{MockEngine, respond_ok}, server::Server};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_ok("pong")) });
/// let server = Server::new()
///     .header_read_timeout(Duration::from_secs(2))
///     .body_idle_timeout(Duration::from_secs(5))
///     .max_connections(64)
///     .serve(engine, "127.0.0.1:0")
///     .await?;
/// server.shutdown().await;
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Server {
    tls: Option<Arc<rustls::ServerConfig>>,
    http1_only: bool,
    limits: Limits,
    websocket: WsConfig,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("tls", &self.tls.is_some())
            .field("http1_only", &self.http1_only)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Server {
    /// A plain-TCP server speaking HTTP/1.1 and HTTP/2 (prior knowledge).
    pub fn new() -> Server {
        Server::default()
    }

    /// Serves HTTPS with this rustls configuration. Unless the configuration
    /// sets ALPN protocols itself, `h2` and `http/1.1` are offered.
    pub fn tls(mut self, mut config: rustls::ServerConfig) -> Server {
        if config.alpn_protocols.is_empty() {
            config.alpn_protocols = if self.http1_only {
                vec![b"http/1.1".to_vec()]
            } else {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            };
        }
        self.tls = Some(Arc::new(config));
        self
    }

    /// Speaks HTTP/1.1 only (call before [`tls`](Server::tls) to offer only
    /// `http/1.1` by ALPN).
    pub fn http1_only(mut self) -> Server {
        self.http1_only = true;
        self
    }

    /// Closes a connection that has not delivered a complete request head
    /// within `timeout` of being accepted or, over HTTP/1, of finishing its
    /// last exchange (default 10 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Server {
        self.limits.header_read = timeout;
        self
    }

    /// Answers `408 Request Timeout` when the server has waited longer than
    /// `timeout` for the next piece of a request body (default 30 s). The
    /// clock runs only while the engine is waiting to read: time it spends
    /// elsewhere between two reads does not count.
    pub fn body_idle_timeout(mut self, timeout: Duration) -> Server {
        self.limits.body_idle = timeout;
        self
    }

    /// Serves at most `max` connections at once (default 512; at least 1).
    /// A connection beyond it waits briefly for a free slot, then is refused
    /// with a `503`.
    pub fn max_connections(mut self, max: usize) -> Server {
        self.limits.max_connections = max.max(1);
        self
    }

    /// The frame and message size limits of the WebSockets it serves (the
    /// ping interval and close timeout are the client's business). A client
    /// message over the limit closes its socket with 1009.
    pub fn websocket_config(mut self, config: WsConfig) -> Server {
        self.websocket = config;
        self
    }

    /// Binds `addr` and starts serving `engine` in the background.
    pub async fn serve(
        self,
        engine: impl Engine,
        addr: impl ToSocketAddrs,
    ) -> Result<ServerHandle> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| Error::invalid(format!("cannot bind the server's address: {err}")))?;
        let local_addr = listener.local_addr().map_err(|err| {
            Error::invalid(format!("cannot read the server's bound address: {err}"))
        })?;
        let (stop, stopped) = watch::channel(false);
        let connections = Arc::new(AtomicUsize::new(0));
        let secure = self.tls.is_some();
        let shared = Arc::new(Shared {
            engine: Arc::new(engine),
            secure,
            local_addr,
            stopped: stopped.clone(),
            sockets: TaskTracker::new(),
            body_idle: self.limits.body_idle,
            websocket: self.websocket,
        });
        let task = tokio::spawn(accept_loop(
            listener,
            shared,
            self,
            stopped,
            connections.clone(),
        ));
        Ok(ServerHandle {
            local_addr,
            secure,
            stop,
            task: Some(task),
            connections,
        })
    }
}

struct Shared {
    engine: Arc<dyn Engine>,
    secure: bool,
    local_addr: SocketAddr,
    /// Turns `true` when the server stops: open WebSockets then close.
    stopped: watch::Receiver<bool>,
    /// The WebSocket bridges, which outlive their HTTP connection (hyper
    /// hands the upgraded socket over), so that shutdown can wait for them.
    sockets: TaskTracker,
    body_idle: Duration,
    websocket: WsConfig,
}

/// A running server. Dropping the handle stops accepting connections and
/// closes open WebSockets; call [`shutdown`](ServerHandle::shutdown) to also
/// wait for open connections to finish.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    secure: bool,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    connections: Arc<AtomicUsize>,
}

impl ServerHandle {
    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// An absolute URL on this server for `path` (`"/users?page=2"`; the
    /// leading `/` may be left out), with scheme `http` or `https`.
    pub fn url(&self, path: &str) -> String {
        self.url_with(if self.secure { "https" } else { "http" }, path)
    }

    /// The same, with scheme `ws` or `wss`.
    pub fn ws_url(&self, path: &str) -> String {
        self.url_with(if self.secure { "wss" } else { "ws" }, path)
    }

    fn url_with(&self, scheme: &str, path: &str) -> String {
        // Without it, "users" would run into the port: http://127.0.0.1:80users.
        let slash = if path.is_empty() || path.starts_with('/') {
            ""
        } else {
            "/"
        };
        format!("{scheme}://{}{slash}{path}", self.local_addr)
    }

    /// How many connections the server has accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting, lets open connections finish their current exchange
    /// (up to 5 seconds, after which they are cut off), closes open
    /// WebSockets with `1001 Going Away`, and returns when the server is
    /// gone.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            // The accept loop never panics on its own; a panic in the engine
            // is already reported by tokio.
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    server: Server,
    mut stopped: watch::Receiver<bool>,
    connections: Arc<AtomicUsize>,
) {
    let draining = Drain::default();
    let limits = server.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/1's header-read timeout is each connection's `HeadClock`
    // (`head.rs`), which costs a clock read per request where hyper's
    // costs a new timer.
    builder.http1().header_read_timeout(None::<Duration>);
    builder.http2().timer(TokioTimer::new());
    if server.http1_only {
        builder = builder.http1_only();
    }
    let slots = Slots::new(&limits);
    let acceptor = server.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    // The connections, so that those still open when the grace period ends
    // can be cut off: the server is gone when shutdown returns.
    let mut open = JoinSet::new();
    loop {
        let (tcp, _peer) = tokio::select! {
            // Forget connections as they finish.
            Some(_) = open.join_next(), if !open.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: back off briefly rather than spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            },
            _ = stopped.changed() => break,
        };
        connections.fetch_add(1, Ordering::SeqCst);
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let drain = draining.clone();
        let admitted = slots.try_admit();
        open.spawn(async move {
            let _slot = match admitted {
                Ok(slot) => slot,
                Err(waiting) => match waiting.admit().await {
                    Some(slot) => slot,
                    None if acceptor.is_none() => {
                        return limits::refuse(tcp, limits.max_connections).await;
                    }
                    None => return,
                },
            };
            // The head clock (`head.rs`) times every wait for a head on the
            // socket; the first must end within the limit of the accept
            // (here, after any wait for a slot), the TLS handshake included.
            let first_head = tokio::time::Instant::now() + limits.header_read;
            let clock = HeadClock::new(limits.header_read, first_head);
            // Faults reach the raw socket through the wrapper's control.
            let service = move |wire: WireControl, clock: Arc<HeadClock>| {
                let connection = Arc::new(Connection {
                    targets: Targets::new(shared.secure, shared.local_addr),
                    shared,
                    wire,
                    clock,
                });
                service_fn(move |request| handle(&connection, request))
            };
            match acceptor {
                Some(acceptor) => {
                    // A client that fails the handshake, or takes too long,
                    // just goes away.
                    let handshake = tokio::time::timeout_at(first_head, acceptor.accept(tcp));
                    let Ok(Ok(tls)) = handshake.await else {
                        return;
                    };
                    let (io, wire) = WireIo::new(tls);
                    let io = TokioIo::new(HeadTimed::new(io, clock.clone()));
                    let connection =
                        builder.serve_connection_with_upgrades(io, service(wire, clock));
                    let _ = drain.watch(connection.into_owned()).await;
                }
                None => {
                    let (io, wire) = WireIo::new(tcp);
                    let io = TokioIo::new(HeadTimed::new(io, clock.clone()));
                    let connection =
                        builder.serve_connection_with_upgrades(io, service(wire, clock));
                    let _ = drain.watch(connection.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    shared.sockets.close();
    draining.start();
    let _ = tokio::time::timeout(GRACE, async {
        while open.join_next().await.is_some() {}
        shared.sockets.wait().await;
    })
    .await;
    open.shutdown().await;
}

/// What the requests of one connection share.
struct Connection {
    shared: Arc<Shared>,
    /// Faults reach the raw socket through it.
    wire: WireControl,
    targets: Targets,
    /// Told when each exchange begins and ends, for the header timeout.
    clock: Arc<HeadClock>,
}

/// Serves one request of `connection`.
///
/// hyper's request is made the engine's before the future exists, so
/// that the future carries a [`Request`] and not hyper's 264-byte one: hyper
/// moves the future for every request as it stores it. It was 1,992 bytes
/// when it held hyper's request, the parts left after the move and the
/// WebSocket handshake's future across the engine's await; it is 336 (the
/// size test at the end of this file keeps it small).
fn handle(
    connection: &Arc<Connection>,
    incoming: hyper::Request<Incoming>,
) -> impl Future<Output = Result<hyper::Response<Watched>>> + Send + use<> {
    let exchange = connection
        .clock
        .begin(incoming.version() < http::Version::HTTP_2);
    let arrival = Arrival::of(connection, incoming);
    let shared = connection.shared.clone();
    // One future, not an `async fn` awaited inside another: each layer
    // would keep its own copy of the arrival.
    async move {
        let response = match arrival {
            // A target no URL can be made of (a Host header with a space,
            // say) is the client's mistake: a 400 that says so, not a
            // dropped connection.
            Err(err) => error_response(err),
            // Boxed: the handshake's future is large and rare.
            Ok(Arrival {
                request,
                upgrade: Some(on_upgrade),
                ..
            }) => Box::pin(upgrade(shared, request, on_upgrade)).await,
            Ok(Arrival {
                request,
                upgrade: None,
                fault,
            }) => {
                let version = request.version();
                let head = request.method() == http::Method::HEAD;
                match shared.engine.execute(request).await {
                    Ok(response) => Ok(to_wire(response, version, head)),
                    Err(err) => match fault.as_ref().and_then(BodyFault::get) {
                        // The client's own broken body, whatever the engine
                        // made of it.
                        Some(broken) => Ok(client_fault(broken)),
                        None => error_response(err),
                    },
                }
            }
        }?;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            exchange.upgraded();
        }
        Ok(response.map(|body| Watched::new(body, exchange)))
    }
}

/// An incoming request turned into the engine's [`Request`], and what its
/// answer needs to know (see [`handle`] for why this is done first).
struct Arrival {
    request: Request,
    /// A WebSocket handshake's upgrade, taken from hyper.
    upgrade: Option<hyper::upgrade::OnUpgrade>,
    /// Where a streamed body says how the client broke it; a body that
    /// has already ended (most GETs) has none, and allocates nothing.
    fault: Option<BodyFault>,
}

impl Arrival {
    fn of(connection: &Connection, mut incoming: hyper::Request<Incoming>) -> Result<Arrival> {
        let websocket = is_websocket_upgrade(&incoming);
        let target = connection.targets.target(&incoming, websocket)?;
        let upgrade = websocket.then(|| hyper::upgrade::on(&mut incoming));
        let version = incoming.version();
        let (parts, body) = incoming.into_parts();
        let mut request = Request::to(parts.method, target);
        request.set_headers(parts.headers);
        *request.version_mut() = version;
        request.set_wire(connection.wire.clone());
        let mut fault = None;
        // A handshake keeps its `Connection` and `Upgrade` headers, and has
        // no body to read.
        if upgrade.is_none() {
            // The engine is the origin: what described the client's
            // connection stops here (and stays out of recordings).
            strip_hop_by_hop(request.headers_mut());
            // A body already at its end needs no stream to be read.
            if !hyper::body::Body::is_end_stream(&body) {
                let broken = BodyFault::default();
                let idle = connection.shared.body_idle;
                let body = ClientBody::new(body, idle, request.name(), broken.clone());
                *request.body_mut() = from_http_body(body, |err| err);
                fault = Some(broken);
            }
        }
        Ok(Arrival {
            request,
            upgrade,
            fault,
        })
    }
}

/// The answer to a request whose body the client broke.
fn client_fault((status, message): &(StatusCode, String)) -> hyper::Response<Body> {
    let status = *status;
    let kind = if status == StatusCode::REQUEST_TIMEOUT {
        ErrorKind::SocketTimeout
    } else {
        ErrorKind::InvalidInput
    };
    let mut response = hyper::Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("x-wiretape-error", HeaderValue::from_static(kind.as_str()));
    // The rest of a broken body cannot be read: the connection ends here.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn is_websocket_upgrade<B>(request: &hyper::Request<B>) -> bool {
    // hyper marks a request it can hand over (HTTP/1.1 with an `Upgrade`
    // header): most are not, and need no header lookups.
    if request
        .extensions()
        .get::<hyper::upgrade::OnUpgrade>()
        .is_none()
    {
        return false;
    }
    let has_token = |name: header::HeaderName, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value
                .to_str()
                .map(|v| {
                    v.split(',')
                        .any(|part| part.trim().eq_ignore_ascii_case(token))
                })
                .unwrap_or(false)
        })
    };
    request.method() == http::Method::GET
        && has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade")
}

/// Hop-by-hop headers describe one connection; the wire layer writes its own.
fn is_hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
    )
}

/// The response for hyper to write, in the request's version. An answer to
/// `HEAD` keeps its length but, over HTTP/2, loses its body: hyper's HTTP/1
/// writer leaves a `HEAD` body out itself, its HTTP/2 one sends it as DATA,
/// which clients reject as a protocol error.
fn to_wire(mut response: Response, version: http::Version, head: bool) -> hyper::Response<Body> {
    if head && version == http::Version::HTTP_2 {
        if let Some(length) = response.body().len()
            && !response.headers().contains_key(header::CONTENT_LENGTH)
        {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        // An empty stream, not an empty body: hyper would write an empty
        // body's `content-length: 0` over the real one.
        *response.body_mut() = Body::from_chunk_stream(Box::pin(futures_util::stream::empty()));
    }
    let mut response: hyper::Response<Body> = response.into();
    *response.version_mut() = version;
    strip_hop_by_hop(response.headers_mut());
    response
}

/// Removes the hop-by-hop headers: the standard ones and those the
/// `Connection` header names (RFC 9110, section 7.6.1).
fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    // Most messages have none: then nothing is collected or allocated.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<header::HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| header::HeaderName::try_from(name.trim()).ok())
        .collect();
    let hop: Vec<header::HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name))
        .cloned()
        .chain(named)
        .collect();
    for name in hop {
        headers.remove(name);
    }
}

fn error_response(err: Error) -> Result<hyper::Response<Body>> {
    let status = match err.kind() {
        // A real server in this state would not answer at all: returning the
        // error makes hyper drop the connection.
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionRefused
        | ErrorKind::Connect
        | ErrorKind::Dns => {
            return Err(err);
        }
        // Nothing mocked or recorded answers this request.
        ErrorKind::NoRoute | ErrorKind::CassetteMiss => StatusCode::NOT_FOUND,
        ErrorKind::RequestTimeout | ErrorKind::ConnectTimeout | ErrorKind::SocketTimeout => {
            StatusCode::GATEWAY_TIMEOUT
        }
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut response = hyper::Response::new(Body::from(format!("{err}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(kind) = HeaderValue::from_str(err.kind().as_str()) {
        response.headers_mut().insert("x-wiretape-error", kind);
    }
    Ok(response)
}

async fn upgrade(
    shared: Arc<Shared>,
    request: Request,
    on_upgrade: hyper::upgrade::OnUpgrade,
) -> Result<hyper::Response<Body>> {
    let name = request.to_string();
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        let mut response = hyper::Response::new(Body::from("missing Sec-WebSocket-Key\n"));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    };
    let config = shared.websocket;
    let offered: Vec<String> = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .collect();
    let connection = match shared.engine.websocket(request).await {
        Ok(connection) => connection,
        // A refused upgrade (a route's `refuse`, a tape's recorded refusal,
        // a `ws_refuse` fault) is that answer on the wire; one without a
        // body says why in the body.
        Err(Error::Status(refusal)) => {
            let text = refusal.to_string();
            let mut response = refusal.into_response();
            if response.body().len() == Some(0) {
                *response.body_mut() = Body::from(format!("{text}\n"));
            }
            return Ok(to_wire(response, http::Version::HTTP_11, false));
        }
        Err(err) => return error_response(err),
    };
    let (head, mut engine_sink, mut engine_stream) = connection.into_parts();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = hyper::Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (header_name, value) in head.headers() {
        if !is_hop_by_hop(header_name) && header_name != header::SEC_WEBSOCKET_ACCEPT {
            response
                .headers_mut()
                .append(header_name.clone(), value.clone());
        }
    }
    let headers = response.headers_mut();
    // The engine (a route, a tape) names the subprotocol; one the client did
    // not offer would make it fail the handshake, so it is only kept when
    // offered.
    let chosen = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or("").trim().to_string());
    headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
    if let Some(chosen) = chosen.filter(|p| offered.contains(p))
        && let Ok(value) = HeaderValue::from_str(&chosen)
    {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("a base64 accept key is a valid header value"),
    );

    let mut stopped = shared.stopped.clone();
    shared.sockets.spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let socket = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(ws_bridge::config(&config)),
        )
        .await;
        let (mut client_sink, mut client_stream) = ws_bridge::into_frames(socket, name);
        // tungstenite answers the client's pings itself; the engine sees them
        // too and may answer as well (a mock's peer does). Those answers are
        // dropped so that the client gets one pong per ping.
        let answered = std::sync::Mutex::new(std::collections::VecDeque::new());
        // A client message over the configured limits ends its socket with
        // 1009, as the client session does for the server's.
        let to_engine = async {
            let mut too_big = false;
            loop {
                let frame = match client_stream.next().await {
                    Some(Ok(frame)) => frame,
                    Some(Err(err)) => {
                        too_big =
                            err.message().contains("too long") || err.message().contains("too big");
                        break;
                    }
                    None => break,
                };
                if let Frame::Ping(payload) = &frame {
                    lock(&answered).push_back(payload.clone());
                }
                if engine_sink.send(frame).await.is_err() {
                    break;
                }
            }
            let _ = engine_sink.close().await;
            too_big
        };
        // Frames the engine has ready are written together and flushed
        // once (a replayed feed is a burst), never held back waiting.
        let to_client = async {
            let mut next = engine_stream.next().await;
            'frames: while let Some(Ok(frame)) = next {
                let skip = match &frame {
                    Frame::Pong(payload) => {
                        let mut answered = lock(&answered);
                        let ours = answered.front() == Some(payload);
                        if ours {
                            answered.pop_front();
                        }
                        ours
                    }
                    _ => false,
                };
                let closing = matches!(frame, Frame::Close(_));
                if !skip && (client_sink.feed(frame).await.is_err() || closing) {
                    let _ = client_sink.flush().await;
                    break 'frames;
                }
                next = match engine_stream.next().now_or_never() {
                    Some(item) => item,
                    None => {
                        if client_sink.flush().await.is_err() {
                            break 'frames;
                        }
                        engine_stream.next().await
                    }
                };
            }
            let _ = client_sink.flush().await;
            // An engine side that ended without a close frame crashed: the
            // socket is dropped without one too, so the client sees 1006.
        };
        // When either side is done the bridge is done; dropping the halves
        // closes the socket. A server that stops says so to both sides.
        let (stopping, too_big) = tokio::select! {
            too_big = to_engine => (false, too_big),
            _ = to_client => (false, false),
            _ = stopped.wait_for(|stop| *stop) => (true, false),
        };
        if too_big {
            let close = Frame::close(CloseFrame::MESSAGE_TOO_BIG, "message too big");
            let _ = tokio::time::timeout(GRACE, client_sink.send(close)).await;
        }
        if stopping {
            let going_away = || Frame::close(CloseFrame::GOING_AWAY, "server shutting down");
            let _ = tokio::time::timeout(GRACE, async {
                let _ = client_sink.send(going_away()).await;
                let _ = engine_sink.send(going_away()).await;
            })
            .await;
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    /// hyper moves each request's future as it stores it: the future must
    /// stay far below the 1,992 bytes it was when it held hyper's request
    /// across the engine's await.
    #[test]
    fn the_future_of_a_served_request_stays_small() {
        fn future_size<A, B, F>(_: fn(&A, B) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let size = future_size(super::handle);
        assert!(size <= 512, "a served request's future is {size} bytes");
    }
}
