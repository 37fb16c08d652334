//! The engine contract, and the real network engine.
//!
//! An [`Engine`] turns a [`Request`] into a [`Response`] (or a
//! [`WsConnection`] for a WebSocket handshake). Everything above it, the
//! client and its plugins, is the same whether the bytes come from the
//! network ([`HyperEngine`]), a mock ([`MockEngine`](crate::mock::MockEngine)),
//! a cassette or a fault plan. Engines are object-safe so wrappers nest:
//! an `Arc<dyn Engine>` is itself an engine.

mod hyper;
mod pool;
mod proxy;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use self::hyper::classify_io;
pub use self::hyper::{HyperEngine, HyperEngineBuilder};
pub use self::proxy::Proxies;
use crate::ws::WsConnection;
use crate::{Request, Response, Result};

/// A boxed, `Send` future: what engine and plugin methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that answers requests: the network, a mock, a cassette.
///
/// # Contract
///
/// - `execute` answers one HTTP exchange. It returns the response as soon
///   as its head is known; a streamed body is read afterwards by the caller.
///   Failures are [`Error`](crate::Error)s of the right kind: a refused
///   connection is [`Error::Connect`](crate::Error::Connect), a reset
///   [`Error::ConnectionReset`](crate::Error::ConnectionReset), because
///   retry policies and recorders tell them apart.
/// - `websocket` performs a WebSocket handshake and returns the connection.
///   Engines that cannot (see [`Capabilities::websocket`]) return an
///   [`Error::WebSocket`](crate::Error::WebSocket) that says so. A handshake
///   the server answers with another status than `101` is an
///   [`Error::Status`](crate::Error::Status) holding that answer, from every
///   engine alike.
/// - An engine never waits on the wall clock: all waiting goes through
///   `tokio::time`, so tests under `#[tokio::test(start_paused = true)]` run
///   long delays instantly and deterministically.
///
/// ```
/// use wiretape::{engine::{BoxFuture, Capabilities, Engine}, Request, Response, Result, StatusCode};
///
/// /// An engine that answers every request with 204.
/// struct NoContent;
///
/// impl Engine for NoContent {
///     fn execute(&self, _request: Request) -> BoxFuture<'_, Result<Response>> {
///         Box::pin(async { Ok(Response::new(StatusCode::NO_CONTENT)) })
///     }
///     fn capabilities(&self) -> Capabilities {
///         Capabilities::none()
///     }
/// }
/// ```
pub trait Engine: Send + Sync + 'static {
    /// Answers one HTTP request.
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>>;

    /// Performs a WebSocket handshake for `request` (a `GET` to a `ws://` or
    /// `wss://` URL).
    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        let engine = self.name();
        Box::pin(async move {
            Err(crate::Error::websocket(
                request.to_string(),
                format!("the engine {engine} lacks the `websocket` capability"),
            ))
        })
    }

    /// What this engine can do.
    fn capabilities(&self) -> Capabilities;

    /// A short name for messages ("the engine MockEngine lacks …"): by
    /// default the type's name without its module paths.
    fn name(&self) -> String {
        short_type_name(std::any::type_name::<Self>())
    }
}

/// `a::b::Cassette<c::HyperEngine>` as `Cassette<HyperEngine>`.
fn short_type_name(full: &str) -> String {
    let mut short = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        match c {
            ':' => segment.clear(),
            '<' | '>' | ',' | ' ' | '(' | ')' | '&' | '[' | ']' | ';' => {
                short.push_str(&segment);
                segment.clear();
                short.push(c);
            }
            _ => segment.push(c),
        }
    }
    short.push_str(&segment);
    short
}

impl<E: Engine + ?Sized> Engine for Arc<E> {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        (**self).execute(request)
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        (**self).websocket(request)
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn name(&self) -> String {
        (**self).name()
    }
}

impl<E: Engine + ?Sized> Engine for Box<E> {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        (**self).execute(request)
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        (**self).websocket(request)
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn name(&self) -> String {
        (**self).name()
    }
}

/// What an engine can do, so plugins and wrappers can adapt (Ktor's
/// engine capabilities).
///
/// A feature that needs a capability checks it before doing anything and
/// fails with an error naming the engine ([`Engine::name`]) and the flag:
/// [`Client::sse`](crate::Client::sse) needs `streaming`; a WebSocket needs
/// `websocket` (engines without it refuse the handshake the same way).
///
/// | flag | `HyperEngine` | `MockEngine` | `Router` | `Cassette<E>` |
/// |------|---------------|--------------|----------|---------------|
/// | `websocket` | yes | with a handler ([`with_websocket`](crate::mock::MockEngine::with_websocket)) | when its fallback has it | as `E`, in passthrough mode |
/// | `streaming` | yes | yes | yes | as `E` (replay streams recorded chunks with their timing) |
/// | `http2` | yes (ALPN, or prior knowledge) | no | no | as `E` |
/// | `timeouts` | yes (connect; the `Timeout` plugin covers the rest everywhere) | no | no | as `E` |
/// | `proxy` | yes ([`Proxies`]) | no | no | as `E` |
///
/// ```
/// use wiretape::engine::Capabilities;
///
/// let caps = Capabilities::none().with_websocket().with_streaming();
/// assert!(caps.websocket && caps.streaming && !caps.http2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// It answers WebSocket handshakes.
    pub websocket: bool,
    /// It streams bodies chunk by chunk instead of buffering them.
    pub streaming: bool,
    /// It can speak HTTP/2.
    pub http2: bool,
    /// It enforces connect and socket timeouts itself.
    pub timeouts: bool,
    /// It can reach origins through an HTTP or SOCKS5 proxy.
    pub proxy: bool,
}

impl Capabilities {
    /// No capabilities.
    pub const fn none() -> Capabilities {
        Capabilities {
            websocket: false,
            streaming: false,
            http2: false,
            timeouts: false,
            proxy: false,
        }
    }

    /// Adds WebSocket support.
    pub const fn with_websocket(mut self) -> Capabilities {
        self.websocket = true;
        self
    }

    /// Adds streaming.
    pub const fn with_streaming(mut self) -> Capabilities {
        self.streaming = true;
        self
    }

    /// Adds HTTP/2.
    pub const fn with_http2(mut self) -> Capabilities {
        self.http2 = true;
        self
    }

    /// Adds proxy support.
    pub const fn with_proxy(mut self) -> Capabilities {
        self.proxy = true;
        self
    }

    /// Adds engine-enforced timeouts.
    pub const fn with_timeouts(mut self) -> Capabilities {
        self.timeouts = true;
        self
    }
}
