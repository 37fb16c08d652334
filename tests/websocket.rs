//! WebSockets: the real engine against a loopback server (ws:// and wss://),
//! and the mock engine's in-memory sockets.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::server::{self, Server};
use wiretape::ws::{CloseFrame, Frame, WsConfig};
use wiretape::{Client, ErrorKind};

use common::{echo_engine, tls_material, trusting_client};

fn plain_client() -> Client {
    Client::builder()
        .engine(HyperEngine::builder().native_roots(false).build().unwrap())
        .build()
        .unwrap()
}

/// Text, binary, ping and a client-initiated close, against the echo.
async fn exercise_echo(client: &Client, url: String) {
    let mut socket = client.websocket(url).await.unwrap();
    assert_eq!(socket.response().status(), 101);

    socket.send_text("hello").await.unwrap();
    assert_eq!(socket.recv().await.unwrap(), Some(Frame::text("hello")));

    socket.send_binary(vec![0u8, 1, 2, 255]).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::binary(vec![0u8, 1, 2, 255]))
    );

    socket
        .ping(Bytes::from_static(b"are you there"))
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::Pong(Bytes::from_static(b"are you there")))
    );

    socket
        .send_json(&serde_json::json!({"op": "sum", "args": [1, 2]}))
        .await
        .unwrap();
    let echoed: serde_json::Value = socket.recv_json().await.unwrap().unwrap();
    assert_eq!(echoed["args"][1], 2);

    let close = socket
        .close(4000, "client done")
        .await
        .unwrap()
        .expect("the server answers the close");
    assert_eq!(close.code, 4000);
    assert_eq!(socket.recv().await.unwrap(), None);
}

#[tokio::test]
async fn echo_over_ws() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    exercise_echo(&plain_client(), server.ws_url("/echo")).await;
}

#[tokio::test]
async fn echo_over_wss_with_a_private_root() {
    let (tls, cert) = tls_material();
    let server = Server::new()
        .tls(tls)
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    assert!(server.ws_url("/").starts_with("wss://"));
    exercise_echo(&trusting_client(&cert), server.ws_url("/echo")).await;
}

#[tokio::test]
async fn an_https_base_url_becomes_wss() {
    let (tls, cert) = tls_material();
    let server = Server::new()
        .tls(tls)
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let engine = HyperEngine::builder()
        .native_roots(false)
        .add_root_certificate(cert)
        .build()
        .unwrap();
    let client = Client::builder()
        .engine(engine)
        .base_url(server.url("/"))
        .build()
        .unwrap();
    let mut socket = client.websocket("/echo").await.unwrap();
    socket.send_text("via base").await.unwrap();
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("via base")
    );
}

fn closing_engine(code: u16, reason: &'static str) -> MockEngine {
    MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(
        move |_, mut peer| async move {
            let _ = peer.send_text("last words").await;
            let _ = peer.close(code, reason).await;
        },
    )
}

#[tokio::test]
async fn a_server_close_code_reaches_the_client() {
    let server = server::serve(closing_engine(4001, "shutting down"), "127.0.0.1:0")
        .await
        .unwrap();
    let mut socket = plain_client().websocket(server.ws_url("/")).await.unwrap();
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("last words")
    );
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::close(4001, "shutting down"))
    );
    assert_eq!(
        socket.close_frame(),
        Some(&CloseFrame::new(4001, "shutting down"))
    );
    assert_eq!(socket.recv().await.unwrap(), None);
}

#[tokio::test]
async fn a_dropped_connection_is_reported_as_1006() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(
        |_, mut peer| async move {
            let _ = peer.send_text("bye").await;
            drop(peer); // no close frame: a crash
        },
    );
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let mut socket = plain_client().websocket(server.ws_url("/")).await.unwrap();
    assert_eq!(socket.recv_text().await.unwrap().as_deref(), Some("bye"));
    assert_eq!(socket.recv().await.unwrap(), None);
    assert_eq!(
        socket.close_frame().map(|c| c.code),
        Some(CloseFrame::ABNORMAL)
    );
}

#[tokio::test]
async fn a_refused_handshake_names_the_status() {
    // A mock without a WebSocket handler: the server answers 502.
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let err = plain_client()
        .websocket(server.ws_url("/chat"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(502)
    );
    assert!(err.to_string().contains("502"), "{err}");
    assert!(err.to_string().contains("/chat"), "{err}");
}

#[tokio::test]
async fn an_oversized_message_from_the_network_is_an_error() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(
        |_, mut peer| async move {
            let _ = peer.send(Frame::binary(vec![1u8; 4096])).await;
            let _ = peer.recv().await;
        },
    );
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let mut socket = plain_client()
        .get(server.ws_url("/"))
        .websocket_config(
            WsConfig::default()
                .max_message_size(1024)
                .max_frame_size(1024),
        )
        .websocket()
        .await
        .unwrap();
    let err = socket.recv().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebSocket);
    assert!(
        err.to_string().to_lowercase().contains("too long") || err.to_string().contains("max"),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_message_from_a_mock_closes_with_1009() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let engine =
        MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(move |_, mut peer| {
            let record = record.clone();
            async move {
                let _ = peer.send_text("x".repeat(100)).await;
                while let Some(frame) = peer.recv().await {
                    record.lock().unwrap().push(frame);
                }
            }
        });
    let client = Client::builder()
        .engine(engine)
        .websocket_config(WsConfig::default().max_message_size(10))
        .build()
        .unwrap();
    let mut socket = client.websocket("ws://mock.test/").await.unwrap();
    let err = socket.recv().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("100 bytes, over max_message_size 10"),
        "{err}"
    );
    drop(socket);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.first(), Some(&Frame::close(1009, "message too big")));
}

#[tokio::test(start_paused = true)]
async fn automatic_pings_follow_the_configured_interval_in_virtual_time() {
    let pings = Arc::new(AtomicUsize::new(0));
    let counter = pings.clone();
    let engine =
        MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(move |_, mut peer| {
            let counter = counter.clone();
            async move {
                while let Some(frame) = peer.recv().await {
                    if let Frame::Ping(_) = frame {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
    let client = Client::builder()
        .engine(engine)
        .websocket_config(WsConfig::default().ping_interval(Duration::from_secs(10)))
        .build()
        .unwrap();
    let socket = client.websocket("ws://mock.test/").await.unwrap();
    let started = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(started.elapsed(), Duration::from_secs(35));
    assert_eq!(
        pings.load(Ordering::SeqCst),
        3,
        "pings at 10 s, 20 s and 30 s"
    );
    drop(socket);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        pings.load(Ordering::SeqCst),
        3,
        "no pings after the session is dropped"
    );
}

#[tokio::test]
async fn a_mock_without_a_websocket_handler_says_how_to_add_one() {
    let client = Client::builder()
        .engine(MockEngine::new(|_| async { Ok(respond_ok("")) }))
        .build()
        .unwrap();
    let err = client.websocket("ws://mock.test/chat").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebSocket);
    assert!(
        err.to_string().contains("MockEngine::with_websocket"),
        "{err}"
    );
}

#[tokio::test]
async fn shutdown_closes_open_websockets_with_going_away() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let mut socket = plain_client()
        .websocket(server.ws_url("/echo"))
        .await
        .unwrap();
    socket.send_text("before").await.unwrap();
    assert_eq!(socket.recv_text().await.unwrap().as_deref(), Some("before"));

    server.shutdown().await;
    // The server is gone: the socket is closed with 1001, not left answering.
    let _ = socket.send_text("after").await;
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::close(CloseFrame::GOING_AWAY, "server shutting down"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_wss_handshake_that_never_answers_is_a_connect_timeout() {
    // Accepts TCP, then never speaks TLS.
    let (addr, held) = common::silent_listener().await;
    let client = Client::builder()
        .engine(HyperEngine::builder().native_roots(false).build().unwrap())
        .timeout(wiretape::plugins::Timeouts::new().connect(Duration::from_secs(3)))
        .build()
        .unwrap();
    let err = client
        .websocket(format!("wss://{addr}/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
    held.abort();
}

#[tokio::test]
async fn a_connection_that_fails_mid_session_reports_1006() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(
        |request, peer| async move {
            peer.fail(wiretape::Error::reset(
                request.to_string(),
                "connection reset by peer",
            ))
            .await;
        },
    );
    let client = Client::builder().engine(engine).build().unwrap();
    let mut socket = client.websocket("ws://mock.test/").await.unwrap();
    let err = socket.recv().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert_eq!(
        socket.close_frame().map(|c| c.code),
        Some(CloseFrame::ABNORMAL)
    );
    assert_eq!(socket.recv().await.unwrap(), None);
}

#[tokio::test]
async fn a_mock_peer_answers_pings_like_a_real_server() {
    // Over the network tungstenite answers a ping with a pong by itself; an
    // in-memory peer must too, or keep-alive logic cannot be tested on mocks.
    // Served, the client gets one pong per ping, not tungstenite's and the
    // peer's.
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let in_memory = Client::builder().engine(echo_engine()).build().unwrap();
    for (client, url) in [
        (in_memory, "ws://mock.test/".to_string()),
        (plain_client(), server.ws_url("/")),
    ] {
        let mut socket = client.websocket(&url).await.unwrap();
        socket.ping(Bytes::from_static(b"alive?")).await.unwrap();
        assert_eq!(
            socket.recv().await.unwrap(),
            Some(Frame::Pong(Bytes::from_static(b"alive?"))),
            "{url}"
        );
        socket.send_text("still echoing").await.unwrap();
        assert_eq!(
            socket.recv().await.unwrap(),
            Some(Frame::text("still echoing")),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_a_dns_error_for_websockets_as_for_http() {
    let client = plain_client();
    let http = client
        .get("http://no-such-host.invalid/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(http.kind(), ErrorKind::Dns, "{http}");
    let ws = client
        .websocket("ws://no-such-host.invalid/")
        .await
        .unwrap_err();
    assert_eq!(ws.kind(), ErrorKind::Dns, "{ws}");
}

#[tokio::test(start_paused = true)]
async fn close_gives_up_on_a_server_that_never_answers_it() {
    // The server reads the close frame and says nothing, keeping the socket open.
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) })
        .with_websocket(|_, mut peer| async move { while peer.recv().await.is_some() {} });
    let client = Client::builder().engine(engine).build().unwrap();

    let mut socket = client.websocket("ws://mute.test/").await.unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(socket.close(1000, "bye").await.unwrap(), None);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "the default close timeout"
    );
    assert_eq!(
        socket.close_frame().map(|c| c.code),
        Some(CloseFrame::ABNORMAL)
    );
    assert_eq!(socket.recv().await.unwrap(), None, "the session is over");

    let mut socket = client
        .get("ws://mute.test/")
        .websocket_config(WsConfig::default().close_timeout(Duration::from_millis(250)))
        .websocket()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(socket.close(1000, "bye").await.unwrap(), None);
    assert_eq!(started.elapsed(), Duration::from_millis(250));
}

#[tokio::test]
async fn serve_honours_its_websocket_limits_and_offered_subprotocols() {
    use wiretape::mock::socket::Socket;
    use wiretape::mock::{Route, Router, matchers::path};

    let server = Server::new()
        .websocket_config(WsConfig::default().max_message_size(16))
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let client = plain_client();
    let mut socket = client.websocket(server.ws_url("/echo")).await.unwrap();
    socket.send_text("short").await.unwrap();
    assert_eq!(socket.recv().await.unwrap(), Some(Frame::text("short")));
    socket.send_text("x".repeat(64)).await.unwrap();
    let close = socket.recv().await.unwrap();
    assert!(
        matches!(&close, Some(Frame::Close(c)) if c.code == CloseFrame::MESSAGE_TOO_BIG),
        "{close:?}"
    );
    server.shutdown().await;

    // A route's subprotocol reaches a client that offered it, and only one.
    let router = Router::new().without_drop_verification();
    router.mock(Route::given(path("/chat")).websocket(Socket::new().subprotocol("chat.v1")));
    let server = server::serve(router, "127.0.0.1:0").await.unwrap();
    let offered = client
        .get(server.ws_url("/chat"))
        .header("sec-websocket-protocol", "other, chat.v1")
        .websocket()
        .await
        .unwrap();
    assert_eq!(
        offered.response().headers()["sec-websocket-protocol"],
        "chat.v1"
    );
    let silent = client.websocket(server.ws_url("/chat")).await.unwrap();
    assert!(
        !silent
            .response()
            .headers()
            .contains_key("sec-websocket-protocol")
    );
    server.shutdown().await;
}
