//! WebSockets: engine-level frames and connections, the in-memory peer that
//! mocks use, and the client-side session.
//!
//! Frames are wiretape's own type ([`Frame`]); only the real engine knows
//! tungstenite. An engine answers a handshake with a [`WsConnection`]: the
//! `101` response plus a sink and a stream of frames. Mocks build one with
//! [`WsConnection::in_memory`], which hands them the server's end, a
//! [`WsPeer`], to script.

mod session;
pub(crate) mod tungstenite;

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, StatusCode};

pub use self::session::WebSocket;
use crate::{Error, Request, Response, Result};

/// One WebSocket frame (a whole message: fragments are joined below this
/// layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A UTF-8 text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping, with an optional payload.
    Ping(Bytes),
    /// A pong, with an optional payload.
    Pong(Bytes),
    /// A close frame.
    Close(CloseFrame),
}

impl Frame {
    /// A text frame.
    pub fn text(text: impl Into<String>) -> Frame {
        Frame::Text(text.into())
    }

    /// A binary frame.
    pub fn binary(bytes: impl Into<Bytes>) -> Frame {
        Frame::Binary(bytes.into())
    }

    /// A close frame with a code and reason.
    pub fn close(code: u16, reason: impl Into<String>) -> Frame {
        Frame::Close(CloseFrame::new(code, reason))
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) | Frame::Ping(bytes) | Frame::Pong(bytes) => bytes.len(),
            Frame::Close(close) => close.reason.len() + 2,
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a ping, pong or close frame.
    pub fn is_control(&self) -> bool {
        matches!(self, Frame::Ping(_) | Frame::Pong(_) | Frame::Close(_))
    }
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code ([RFC 6455 §7.4](https://www.rfc-editor.org/rfc/rfc6455#section-7.4)).
    pub code: u16,
    /// The reason, possibly empty.
    pub reason: String,
}

impl CloseFrame {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// 1001: the endpoint is going away.
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: a protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1005: the close frame carried no code (never sent on the wire).
    pub const NO_STATUS: u16 = 1005;
    /// 1006: the connection dropped without a close frame (never sent on the wire).
    pub const ABNORMAL: u16 = 1006;
    /// 1008: a message broke the endpoint's policy (a replayed client frame
    /// that does not match the recording, say).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;

    /// A close frame with a code and reason.
    pub fn new(code: u16, reason: impl Into<String>) -> CloseFrame {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.code, self.reason)
        }
    }
}

/// Settings of a client WebSocket session.
///
/// ```
/// use std::time::Duration;
/// use wiretape::ws::WsConfig;
///
/// let config = WsConfig::default()
///     .ping_interval(Duration::from_secs(20))
///     .max_message_size(1 << 20)
///     .subprotocols(&["graphql-transport-ws", "graphql-ws"]);
/// ```
///
/// # Extensions
///
/// `permessage-deflate` (RFC 7692) is **not** offered: tungstenite 0.28,
/// which the real engine speaks WebSockets with, has no implementation of
/// it (upstream's pull request is still open), so frames are sent and read
/// uncompressed. A server that offers compression, as Python's `websockets`
/// does, falls back to plain frames, which every server must accept. A
/// request that asks for an extension itself (a `Sec-WebSocket-Extensions`
/// header) is refused with an error rather than left to fail on the first
/// compressed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsConfig {
    pub(crate) subprotocols: &'static [&'static str],
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) close_timeout: Duration,
}

impl Default for WsConfig {
    /// No automatic pings; 16 MiB frames and 64 MiB messages at most
    /// (tungstenite's defaults); 5 s for the server to answer a close.
    fn default() -> Self {
        WsConfig {
            subprotocols: &[],
            ping_interval: None,
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            close_timeout: Duration::from_secs(5),
        }
    }
}

impl WsConfig {
    /// The subprotocols to offer, most preferred first, as
    /// `Sec-WebSocket-Protocol` (Ktor's `protocols`). The server's choice is
    /// [`WebSocket::protocol`]; a server that picks one not offered, or none
    /// when some were, fails the handshake. Static names keep the
    /// configuration `Copy`; for names built at run time, set the
    /// `sec-websocket-protocol` header on the request instead.
    pub fn subprotocols(mut self, protocols: &'static [&'static str]) -> WsConfig {
        self.subprotocols = protocols;
        self
    }

    /// The subprotocols offered.
    pub fn get_subprotocols(&self) -> &'static [&'static str] {
        self.subprotocols
    }

    /// Sends a ping every `interval` while the session is open (keeps NAT and
    /// proxies from dropping an idle connection).
    pub fn ping_interval(mut self, interval: Duration) -> WsConfig {
        self.ping_interval = Some(interval);
        self
    }

    /// The largest single frame accepted.
    pub fn max_frame_size(mut self, bytes: usize) -> WsConfig {
        self.max_frame_size = bytes;
        self
    }

    /// The largest whole message accepted; a bigger one closes the session
    /// with code 1009 and an error.
    pub fn max_message_size(mut self, bytes: usize) -> WsConfig {
        self.max_message_size = bytes;
        self
    }

    /// How long [`WebSocket::close`] waits for the server's close frame before
    /// giving up on it (default 5 s): a server that never answers must not
    /// hang the caller.
    pub fn close_timeout(mut self, limit: Duration) -> WsConfig {
        self.close_timeout = limit;
        self
    }

    /// The configured close timeout.
    pub fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// The configured ping interval.
    pub fn get_ping_interval(&self) -> Option<Duration> {
        self.ping_interval
    }

    /// The configured frame limit.
    pub fn get_max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The configured message limit.
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }
}

/// Where frames to the peer go.
pub type FrameSink = Pin<Box<dyn Sink<Frame, Error = Error> + Send>>;
/// Where frames from the peer come from; `None` once the connection is gone.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame>> + Send>>;

/// What an engine returns for a WebSocket handshake: the `101 Switching
/// Protocols` response, a sink for frames to the server and a stream of frames
/// from it.
pub struct WsConnection {
    response: Response,
    sink: FrameSink,
    stream: FrameStream,
}

impl WsConnection {
    /// A connection from its parts.
    pub fn new(response: Response, sink: FrameSink, stream: FrameStream) -> WsConnection {
        WsConnection {
            response,
            sink,
            stream,
        }
    }

    /// An in-memory connection for `request`: the client's end, with a `101`
    /// response, and the server's end as a [`WsPeer`] to script.
    ///
    /// ```
    /// use wiretape::{ws::{Frame, WsConnection}, Method, Request};
    /// use futures_util::{SinkExt, StreamExt};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let request = Request::new(Method::GET, "ws://mock/chat".parse().unwrap());
    /// let (connection, mut peer) = WsConnection::in_memory(&request);
    /// let (_response, mut sink, mut stream) = connection.into_parts();
    /// sink.send(Frame::text("hi")).await.unwrap();
    /// assert_eq!(peer.recv().await, Some(Frame::text("hi")));
    /// peer.send(Frame::text("hello")).await.unwrap();
    /// assert_eq!(stream.next().await.unwrap().unwrap(), Frame::text("hello"));
    /// # });
    /// ```
    pub fn in_memory(request: &Request) -> (WsConnection, WsPeer) {
        let (to_server, from_client) = mpsc::channel::<Frame>(64);
        let (to_client, from_server) = mpsc::channel::<Result<Frame>>(64);
        let name = request.to_string();
        let sink_name = name.clone();
        let sink = to_server.sink_map_err(move |_| {
            Error::websocket(
                sink_name.clone(),
                "the server side of the WebSocket is gone",
            )
        });
        let response = Response::new(StatusCode::SWITCHING_PROTOCOLS)
            .with_header(http::header::UPGRADE, HeaderValue::from_static("websocket"))
            .with_header(
                http::header::CONNECTION,
                HeaderValue::from_static("upgrade"),
            )
            .with_url(request.url().clone());
        let peer = WsPeer {
            request: name,
            incoming: from_client,
            outgoing: to_client,
        };
        (
            WsConnection::new(response, Box::pin(sink), Box::pin(from_server)),
            peer,
        )
    }

    /// The handshake response.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// Splits the connection into its response, sink and stream.
    pub fn into_parts(self) -> (Response, FrameSink, FrameStream) {
        (self.response, self.sink, self.stream)
    }
}

impl fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConnection")
            .field("response", &self.response)
            .finish_non_exhaustive()
    }
}

/// The server's end of an in-memory WebSocket: what a mock handler scripts.
///
/// Dropping the peer without sending a close frame drops the connection, as a
/// crashed server would: the client sees the stream end (close code 1006).
pub struct WsPeer {
    request: String,
    incoming: mpsc::Receiver<Frame>,
    outgoing: mpsc::Sender<Result<Frame>>,
}

impl WsPeer {
    /// The next frame from the client; `None` once the client is gone.
    ///
    /// A ping is answered with a pong of the same payload, as a real
    /// server's WebSocket stack does, and still returned so the script sees
    /// it.
    pub async fn recv(&mut self) -> Option<Frame> {
        let frame = self.incoming.next().await?;
        if let Frame::Ping(payload) = &frame {
            // Best effort, never blocking the script: a client that pings
            // without reading may lose pongs, as over a full socket.
            let _ = self.outgoing.try_send(Ok(Frame::Pong(payload.clone())));
        }
        Some(frame)
    }

    /// Sends a frame to the client.
    pub async fn send(&mut self, frame: Frame) -> Result<()> {
        self.outgoing.send(Ok(frame)).await.map_err(|_| {
            Error::websocket(
                self.request.clone(),
                "the client side of the WebSocket is gone",
            )
        })
    }

    /// Sends a text frame to the client.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<()> {
        self.send(Frame::Text(text.into())).await
    }

    /// Fails the client's stream with `error` (a reset, say) and ends it.
    pub async fn fail(mut self, error: Error) {
        // The client may already be gone; then there is nobody to tell.
        let _ = self.outgoing.send(Err(error)).await;
    }

    /// Sends a close frame and ends the connection.
    pub async fn close(mut self, code: u16, reason: impl Into<String>) -> Result<()> {
        self.send(Frame::close(code, reason)).await
    }

    /// The handshake request, as `METHOD URL`.
    pub fn request(&self) -> &str {
        &self.request
    }
}

impl fmt::Debug for WsPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsPeer")
            .field("request", &self.request)
            .finish()
    }
}
