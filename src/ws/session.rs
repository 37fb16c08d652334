//! The client's WebSocket session.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::{CloseFrame, Frame, FrameSink, FrameStream, WsConfig, WsConnection};
use crate::{Error, Response, Result};

/// An open WebSocket, from [`Client::websocket`](crate::Client::websocket) or
/// [`RequestBuilder::websocket`](crate::RequestBuilder::websocket).
///
/// [`recv`](WebSocket::recv) yields every frame, pings and pongs included, so
/// tests can see them; [`recv_text`](WebSocket::recv_text) and
/// [`recv_json`](WebSocket::recv_json) skip control frames. When the server
/// closes, `recv` yields its [`Frame::Close`] once and `None` after; the code
/// stays readable with [`close_frame`](WebSocket::close_frame).
///
/// ```no_run
/// # async fn run() -> wiretape::Result<()> {
/// let client = wiretape::Client::new();
/// let mut socket = client.websocket("ws://127.0.0.1:8080/echo").await?;
/// socket.send_text("hello").await?;
/// assert_eq!(socket.recv_text().await?.as_deref(), Some("hello"));
/// socket.close(1000, "done").await?;
/// # Ok(()) }
/// ```
pub struct WebSocket {
    name: String,
    response: Response,
    sink: Arc<Mutex<FrameSink>>,
    stream: FrameStream,
    config: WsConfig,
    pinger: Option<JoinHandle<()>>,
    peer_close: Option<CloseFrame>,
    ended: bool,
}

impl WebSocket {
    pub(crate) fn new(name: String, connection: WsConnection, config: WsConfig) -> WebSocket {
        let (response, sink, stream) = connection.into_parts();
        let sink = Arc::new(Mutex::new(sink));
        let pinger = config.ping_interval.map(|interval| {
            let sink = Arc::downgrade(&sink);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await; // the first tick is immediate
                loop {
                    ticks.tick().await;
                    let Some(sink) = sink.upgrade() else { return };
                    let mut sink = sink.lock().await;
                    if sink.send(Frame::Ping(Bytes::new())).await.is_err() {
                        return;
                    }
                }
            })
        });
        WebSocket {
            name,
            response,
            sink,
            stream,
            config,
            pinger,
            peer_close: None,
            ended: false,
        }
    }

    /// The subprotocol the server chose from those offered
    /// ([`WsConfig::subprotocols`]), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.response
            .headers()
            .get(http::header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    }

    /// The handshake response (`101 Switching Protocols`).
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: Frame) -> Result<()> {
        self.sink.lock().await.send(frame).await
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<()> {
        self.send(Frame::Text(text.into())).await
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: impl Into<Bytes>) -> Result<()> {
        self.send(Frame::Binary(bytes.into())).await
    }

    /// Sends `value` as a JSON text frame.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).map_err(|err| {
            Error::invalid(format!("value to send on {} is not JSON: {err}", self.name))
        })?;
        self.send_text(text).await
    }

    /// Sends a ping with `payload`.
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<()> {
        self.send(Frame::Ping(payload.into())).await
    }

    /// The next frame, control frames included; `None` once the connection
    /// has ended. A message over the configured size limit closes the
    /// connection with 1009 and is an error.
    pub async fn recv(&mut self) -> Result<Option<Frame>> {
        if self.ended {
            return Ok(None);
        }
        match self.stream.next().await {
            None => {
                self.end_abnormally();
                Ok(None)
            }
            Some(Err(err)) => {
                // A reset or a broken stream ends the connection without a
                // close frame, as much as a silent drop does.
                self.end_abnormally();
                Err(err)
            }
            Some(Ok(frame)) => {
                if frame.len() > self.config.max_message_size {
                    let limit = self.config.max_message_size;
                    let size = frame.len();
                    // Best effort: the peer may already be gone.
                    let _ = self
                        .send(Frame::close(CloseFrame::MESSAGE_TOO_BIG, "message too big"))
                        .await;
                    self.ended = true;
                    return Err(Error::websocket(
                        self.name.clone(),
                        format!(
                            "received a message of {size} bytes, over max_message_size {limit}"
                        ),
                    ));
                }
                if let Frame::Close(close) = &frame {
                    self.peer_close = Some(close.clone());
                    self.ended = true;
                }
                Ok(Some(frame))
            }
        }
    }

    /// Marks the connection as ended without a close frame from the peer
    /// (1006), unless it sent one.
    fn end_abnormally(&mut self) {
        self.ended = true;
        if self.peer_close.is_none() {
            self.peer_close = Some(CloseFrame::new(CloseFrame::ABNORMAL, ""));
        }
    }

    /// The next data frame, skipping pings and pongs; `None` when the
    /// connection has closed.
    pub async fn recv_data(&mut self) -> Result<Option<Frame>> {
        loop {
            match self.recv().await? {
                None | Some(Frame::Close(_)) => return Ok(None),
                Some(Frame::Ping(_) | Frame::Pong(_)) => continue,
                Some(frame) => return Ok(Some(frame)),
            }
        }
    }

    /// The next text message; `None` when the connection has closed. A binary
    /// message is an error.
    pub async fn recv_text(&mut self) -> Result<Option<String>> {
        match self.recv_data().await? {
            None => Ok(None),
            Some(Frame::Text(text)) => Ok(Some(text)),
            Some(other) => Err(Error::websocket(
                self.name.clone(),
                format!(
                    "expected a text message, received {} bytes of binary",
                    other.len()
                ),
            )),
        }
    }

    /// The next text or binary message parsed as JSON into `T`; `None` when
    /// the connection has closed.
    pub async fn recv_json<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        let what = format!("JSON message on {}", self.name);
        match self.recv_data().await? {
            None => Ok(None),
            Some(Frame::Text(text)) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|err| Error::decode(what, err)),
            Some(Frame::Binary(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|err| Error::decode(what, err)),
            Some(_) => unreachable!("recv_data yields only data frames"),
        }
    }

    /// Closes the session: sends a close frame with `code` and `reason`, then
    /// waits for the server's close frame (dropping any data still in flight)
    /// and returns it; `None` if the server dropped the connection instead,
    /// or did not answer within the [close timeout](WsConfig::close_timeout),
    /// after which the session is over either way.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<Option<CloseFrame>> {
        if !self.ended {
            self.send(Frame::close(code, reason)).await?;
            let limit = self.config.close_timeout;
            let answer = async {
                while let Some(frame) = self.recv().await? {
                    if let Frame::Close(close) = frame {
                        return Ok(Some(close));
                    }
                }
                Ok(None)
            };
            match tokio::time::timeout(limit, answer).await {
                Ok(Ok(Some(close))) => return Ok(Some(close)),
                Ok(Ok(None)) => {}
                Ok(Err(err)) => return Err(err),
                Err(_) => {
                    self.ended = true;
                    self.peer_close
                        .get_or_insert_with(|| CloseFrame::new(CloseFrame::ABNORMAL, ""));
                    return Ok(None);
                }
            }
        }
        Ok(self
            .peer_close
            .clone()
            .filter(|c| c.code != CloseFrame::ABNORMAL))
    }

    /// The close frame the server sent, once it has (code 1006 if the
    /// connection dropped without one).
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// The session's settings.
    pub fn config(&self) -> &WsConfig {
        &self.config
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        if let Some(pinger) = self.pinger.take() {
            pinger.abort();
        }
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("name", &self.name)
            .field("ended", &self.ended)
            .field("peer_close", &self.peer_close)
            .finish_non_exhaustive()
    }
}
