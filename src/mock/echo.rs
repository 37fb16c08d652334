//! An echo engine: the simplest useful peer for testing a client.

use http::HeaderValue;

use super::MockEngine;
use crate::ws::Frame;
use crate::{Response, StatusCode};

/// A [`MockEngine`] that answers every request with what it received, and
/// echoes WebSocket messages.
///
/// An HTTP answer is `200 OK` with the request's body, its `Content-Type`, and
/// headers naming what arrived: `x-echo-method`, `x-echo-target` (path and
/// query) and `x-echo-version`. On a WebSocket, text and binary messages come
/// back as sent, and a close frame is answered with the same code and reason.
/// The `wiretape echo` command serves it.
///
/// ```
/// use wiretape::{mock, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = Client::builder().engine(mock::echo()).build().unwrap();
/// let response = client.post("http://echo.test/a?b=1").body("hi").send().await.unwrap();
/// assert_eq!(response.headers()["x-echo-target"], "/a?b=1");
/// assert_eq!(response.text().await.unwrap(), "hi");
/// # });
/// ```
pub fn echo() -> MockEngine {
    MockEngine::new(|request| async move {
        let body = request.body().as_bytes().cloned().unwrap_or_default();
        let target = &request.url()[url::Position::BeforePath..];
        let mut response = Response::new(StatusCode::OK)
            .with_header("x-echo-method", request.method().as_str())
            .with_header("x-echo-version", format!("{:?}", request.version()))
            .with_body(body);
        // A target with characters a header cannot hold is left out rather than failing the echo.
        if let Ok(target) = HeaderValue::from_str(target) {
            response.headers_mut().insert("x-echo-target", target);
        }
        if let Some(content_type) = request.headers().get(http::header::CONTENT_TYPE) {
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, content_type.clone());
        }
        Ok(response)
    })
    .with_websocket(|_, mut peer| async move {
        while let Some(frame) = peer.recv().await {
            match frame {
                Frame::Close(close) => {
                    let _ = peer.close(close.code, close.reason).await;
                    return;
                }
                Frame::Text(_) | Frame::Binary(_) => {
                    if peer.send(frame).await.is_err() {
                        return;
                    }
                }
                Frame::Ping(_) | Frame::Pong(_) => {}
            }
        }
    })
}
