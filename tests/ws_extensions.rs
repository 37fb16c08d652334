//! WebSocket subprotocols and extensions against Python's `websockets`
//! server (from the test venv), which offers permessage-deflate and two
//! subprotocols. The client offers the subprotocols it is configured with
//! and sees the server's choice; it offers no compression (tungstenite has
//! none), so the server falls back to plain frames, which round-trip, large
//! ones included.

mod support;

use std::path::Path;
use std::time::Duration;

use wiretape::engine::HyperEngine;
use wiretape::ws::WsConfig;
use wiretape::{Client, ErrorKind};

fn start_ws_server(python: &support::Python) -> (support::Running, String) {
    let port = support::free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ws_server.py");
    let server = support::start_server(python.command().arg(script).arg(port.to_string()), port);
    (server, format!("ws://127.0.0.1:{port}/"))
}

fn client(config: WsConfig) -> Client {
    let engine = HyperEngine::builder().no_proxy().build().unwrap();
    Client::builder()
        .engine(engine)
        .websocket_config(config)
        .build()
        .unwrap()
}

async fn bounded<T>(body: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("the WebSocket exchange finished within 60 s")
}

#[tokio::test]
async fn the_server_picks_an_offered_subprotocol_and_frames_round_trip_uncompressed() {
    let Some(python) = support::python() else {
        return;
    };
    let (_server, url) = start_ws_server(&python);
    let config = WsConfig::default().subprotocols(&["chat.v3", "chat.v1"]);
    bounded(async {
        let mut socket = client(config).websocket(&url).await.unwrap();
        assert_eq!(socket.protocol(), Some("chat.v1"));

        socket.send_text("info").await.unwrap();
        let info: serde_json::Value = socket.recv_json().await.unwrap().unwrap();
        assert_eq!(info["subprotocol"], "chat.v1");
        assert_eq!(
            info["extensions"],
            serde_json::json!([]),
            "no compression: {info}"
        );
        assert_eq!(info["offered"], serde_json::Value::Null);

        // A large, very compressible message and a binary one come back whole.
        let big = "wiretape ".repeat(200_000);
        socket.send_text(big.clone()).await.unwrap();
        assert_eq!(
            socket.recv_text().await.unwrap().as_deref(),
            Some(big.as_str())
        );
        let bytes: Vec<u8> = (0..=255).cycle().take(70_000).collect();
        socket.send_binary(bytes.clone()).await.unwrap();
        match socket.recv_data().await.unwrap() {
            Some(wiretape::ws::Frame::Binary(back)) => assert_eq!(&back[..], &bytes[..]),
            other => panic!("expected the binary echo, got {other:?}"),
        }
        socket.close(1000, "done").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_server_that_accepts_none_of_the_offered_subprotocols_fails_the_handshake() {
    let Some(python) = support::python() else {
        return;
    };
    let (_server, url) = start_ws_server(&python);
    let config = WsConfig::default().subprotocols(&["mqtt"]);
    let err = bounded(client(config).websocket(&url)).await.unwrap_err();
    // The server refuses the upgrade with a 400 saying why: a status error
    // whose message carries the server's words.
    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(400)
    );
    support::assert_mentions(&err.to_string(), &[&url, "subprotocol"]);
}

#[tokio::test]
async fn asking_for_compression_is_refused_clearly() {
    let Some(python) = support::python() else {
        return;
    };
    let (_server, url) = start_ws_server(&python);
    let err = bounded(
        client(WsConfig::default())
            .get(&url)
            .header("sec-websocket-extensions", "permessage-deflate")
            .websocket(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebSocket, "{err}");
    support::assert_mentions(
        &err.to_string(),
        &["permessage-deflate", "Sec-WebSocket-Extensions"],
    );
}

#[tokio::test]
async fn a_session_with_the_deflate_offering_server_records_plain_payloads() {
    let Some(python) = support::python() else {
        return;
    };
    let (server, url) = start_ws_server(&python);
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("deflate.yaml");
    let engine = HyperEngine::builder().no_proxy().build().unwrap();
    let cassette = wiretape::cassette::Cassette::builder(&tape)
        .mode(wiretape::cassette::Mode::Record)
        .environment(wiretape::cassette::Environment::clean())
        .build(engine)
        .unwrap();
    let client = Client::builder()
        .engine(cassette.clone())
        .websocket_config(WsConfig::default().subprotocols(&["chat.v2"]))
        .build()
        .unwrap();
    let message = "compressible ".repeat(50);
    bounded(async {
        let mut socket = client.websocket(&url).await.unwrap();
        assert_eq!(socket.protocol(), Some("chat.v2"));
        socket.send_text(message.clone()).await.unwrap();
        assert_eq!(
            socket.recv_text().await.unwrap().as_deref(),
            Some(message.as_str())
        );
        socket.close(1000, "done").await.unwrap();
    })
    .await;
    assert_eq!(cassette.finish().unwrap().recorded, 1);
    drop(server);
    let yaml = std::fs::read_to_string(&tape).unwrap();
    support::assert_mentions(&yaml, &[message.trim_end(), "chat.v2"]);
}
