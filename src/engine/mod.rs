//! The engine contract, and the real network engine.
//!
//! An [`Engine`] turns a [`Request`] into a [`Response`] (or a
//! [`WsConnection`] for a WebSocket handshake). Everything above it, the
//! client and its plugins, is the same whether the bytes come from the
//! network ([`HyperEngine`]), a mock ([`MockEngine`](crate::mock::MockEngine)),
//! a cassette or a fault plan. Engines are object-safe so wrappers nest:
//! an `Arc<dyn Engine>` is itself an engine.

mod hyper;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use self::hyper::classify_io;
pub use self::hyper::{HyperEngine, HyperEngineBuilder};
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
///   [`Error::WebSocket`](crate::Error::WebSocket) that says so.
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
        Box::pin(async move {
            Err(crate::Error::websocket(
                request.to_string(),
                "this engine does not support WebSockets",
            ))
        })
    }

    /// What this engine can do.
    fn capabilities(&self) -> Capabilities;
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
}

/// What an engine can do, so plugins and wrappers can adapt.
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
}

impl Capabilities {
    /// No capabilities.
    pub const fn none() -> Capabilities {
        Capabilities {
            websocket: false,
            streaming: false,
            http2: false,
            timeouts: false,
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

    /// Adds engine-enforced timeouts.
    pub const fn with_timeouts(mut self) -> Capabilities {
        self.timeouts = true;
        self
    }
}
