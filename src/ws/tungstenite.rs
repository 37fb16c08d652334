//! The bridge between tungstenite's messages and wiretape's frames: the only
//! place that knows tungstenite, shared by the real engine (client side) and
//! the loopback server (server side).

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as TsCloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as TsError, Message};

use super::{CloseFrame, Frame, FrameSink, FrameStream, WsConfig};
use crate::Error;

pub(crate) fn config(config: &WsConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(Some(config.max_frame_size))
        .max_message_size(Some(config.max_message_size))
}

pub(crate) fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::Text(text.into()),
        Frame::Binary(bytes) => Message::Binary(bytes),
        Frame::Ping(bytes) => Message::Ping(bytes),
        Frame::Pong(bytes) => Message::Pong(bytes),
        Frame::Close(close)
            if close.code == CloseFrame::NO_STATUS || close.code == CloseFrame::ABNORMAL =>
        {
            Message::Close(None)
        }
        Frame::Close(close) => Message::Close(Some(TsCloseFrame {
            code: CloseCode::from(close.code),
            reason: close.reason.into(),
        })),
    }
}

fn from_message(message: Message) -> Option<Frame> {
    Some(match message {
        Message::Text(text) => Frame::Text(text.as_str().to_owned()),
        Message::Binary(bytes) => Frame::Binary(bytes),
        Message::Ping(bytes) => Frame::Ping(bytes),
        Message::Pong(bytes) => Frame::Pong(bytes),
        Message::Close(None) => Frame::Close(CloseFrame::new(CloseFrame::NO_STATUS, "")),
        Message::Close(Some(close)) => Frame::Close(CloseFrame::new(
            u16::from(close.code),
            close.reason.as_str(),
        )),
        Message::Frame(_) => return None,
    })
}

/// Maps a tungstenite error to wiretape's; `None` when it only means the
/// connection has ended (which the frame stream reports by ending).
pub(crate) fn map_error(error: TsError, name: &str) -> Option<Error> {
    match error {
        TsError::ConnectionClosed | TsError::AlreadyClosed => None,
        TsError::Protocol(
            tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => None,
        TsError::Io(io) => Some(crate::engine::classify_io(&io, name, false)),
        TsError::Tls(tls) => Some(Error::Tls {
            request: name.to_owned(),
            message: tls.to_string(),
        }),
        TsError::Capacity(capacity) => Some(Error::websocket(name, format!("{capacity}"))),
        TsError::Http(response) => {
            let (head, body) = response.into_parts();
            let body = crate::Body::from(body.unwrap_or_default());
            let response = crate::Response::from(http::Response::from_parts(head, body));
            Some(Error::refused_upgrade(name, response))
        }
        other => Some(Error::websocket(name, other.to_string())),
    }
}

/// Splits a tungstenite socket into wiretape's frame sink and stream.
pub(crate) fn into_frames<S>(socket: WebSocketStream<S>, name: String) -> (FrameSink, FrameStream)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (write, read) = socket.split();
    let sink_name = name.clone();
    let sink = write
        .sink_map_err(move |err| {
            map_error(err, &sink_name).unwrap_or_else(|| {
                Error::websocket(sink_name.clone(), "the WebSocket is already closed")
            })
        })
        .with(|frame: Frame| async move { Ok::<_, Error>(to_message(frame)) });
    let stream = read
        .filter_map(move |item| {
            let out = match item {
                Ok(message) => from_message(message).map(Ok),
                Err(err) => map_error(err, &name).map(Err),
            };
            async move { out }
        })
        // After an error or an end-of-connection, the stream is over.
        .take_while({
            let mut done = false;
            move |item: &crate::Result<Frame>| {
                let keep = !done;
                done = done || item.is_err();
                async move { keep }
            }
        });
    (Box::pin(sink), Box::pin(stream))
}
