//! WebSocket routes: handshakes matched like requests, conversations
//! scripted with the socket DSL (or a YAML route file), journals and
//! expectations.

use std::time::Duration;

use serde_json::json;
use wiretape::ErrorKind;
use wiretape::mock::socket::{
    Socket, close, json_includes, no_reply, reply, reply_json, reply_with, text_equals,
    text_matches,
};
use wiretape::mock::{Route, Router, matchers::*};
use wiretape::ws::{CloseFrame, Frame};

use super::client;

fn chat() -> Socket {
    Socket::new()
        .on_open(Frame::text("welcome"))
        .on_message(text_equals("ping"), reply(Frame::text("pong")))
        .on_message(text_matches("^sub:"), reply(Frame::text("subscribed")))
        .on_message(
            json_includes(&json!({"op": "login"})),
            reply_json(&json!({"ok": true})).set_state("authed"),
        )
        .on_message(
            text_equals("whoami").in_state("authed"),
            reply(Frame::text("ada")),
        )
        .on_message(text_equals("whoami"), reply(Frame::text("nobody")))
        .on_message(
            text_matches("^count"),
            reply_with(|_, state| vec![Frame::text(format!("message {}", state.messages))]),
        )
        .on_message(text_equals("quiet"), no_reply())
        .on_message(text_equals("bye"), close(4000, "see you"))
        .echo()
}

#[tokio::test]
async fn a_websocket_route_scripts_the_conversation_and_journals_it() {
    let router = Router::new();
    let id = router.mock(
        Route::given(path("/chat"))
            .and(header("x-team", "payments"))
            .websocket(chat())
            .times(1),
    );
    let client = client(&router);
    let mut socket = client
        .get("ws://api.test/chat")
        .header("x-team", "payments")
        .websocket()
        .await
        .unwrap();
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("welcome")
    );
    let mut say = async |text: &str| {
        socket.send_text(text).await.unwrap();
        socket.recv().await.unwrap()
    };
    assert_eq!(say("ping").await, Some(Frame::text("pong")));
    assert_eq!(say("sub:prices").await, Some(Frame::text("subscribed")));
    assert_eq!(say("whoami").await, Some(Frame::text("nobody")));
    assert_eq!(
        say(r#"{"op":"login","user":"ada"}"#).await,
        Some(Frame::text(r#"{"ok":true}"#))
    );
    assert_eq!(say("whoami").await, Some(Frame::text("ada")));
    assert_eq!(say("count").await, Some(Frame::text("message 6")));
    assert_eq!(say("echo me").await, Some(Frame::text("echo me")));
    assert_eq!(say("bye").await, Some(Frame::close(4000, "see you")));
    drop(socket);

    let sockets = router.sockets();
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].route, id);
    assert_eq!(sockets[0].received.len(), 8);
    assert_eq!(sockets[0].sent[0], Frame::text("welcome"));
    assert_eq!(sockets[0].sent.last(), Some(&Frame::close(4000, "see you")));
    router.verify().assert();
}

#[tokio::test]
async fn handshakes_that_match_no_route_get_the_near_miss_report() {
    let router = Router::new().without_drop_verification();
    router.mock(Route::given(path("/chat")).websocket(chat()));
    router.mock(Route::given(path("/plain")));
    let client = client(&router);
    let miss = client.websocket("ws://api.test/chta").await.unwrap_err();
    assert_eq!(miss.kind(), ErrorKind::NoRoute);
    let text = miss.to_string();
    assert!(text.contains("✗ path is /chat"), "{text}");
    // A plain HTTP route does not answer a handshake, nor a socket route a
    // plain request.
    let plain = client.websocket("ws://api.test/plain").await.unwrap_err();
    assert_eq!(plain.kind(), ErrorKind::NoRoute);
    let http = client.get("/chat").send().await.unwrap_err();
    assert_eq!(http.kind(), ErrorKind::NoRoute);
}

#[tokio::test]
async fn a_route_can_refuse_the_upgrade_with_a_status() {
    let router = Router::new();
    router.mock(Route::given(path("/private")).websocket(Socket::refuse(403)));
    let err = client(&router)
        .websocket("ws://api.test/private")
        .await
        .unwrap_err();
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(403)
    );
}

#[tokio::test(start_paused = true)]
async fn pushes_follow_virtual_time() {
    let router = Router::new();
    router.mock(
        Route::given(path("/ticks")).websocket(
            Socket::new()
                .push_after(Duration::from_secs(5), Frame::text("hello"))
                .push_every(Duration::from_secs(60), Frame::text("tick")),
        ),
    );
    let mut socket = client(&router)
        .websocket("ws://api.test/ticks")
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let frame = socket.recv().await.unwrap().unwrap();
        seen.push((start.elapsed().as_secs(), frame));
    }
    assert_eq!(
        seen,
        vec![
            (5, Frame::text("hello")),
            (60, Frame::text("tick")),
            (120, Frame::text("tick")),
            (180, Frame::text("tick")),
        ]
    );
    let close = socket.close(1000, "").await.unwrap();
    assert_eq!(close, Some(CloseFrame::new(1000, "")));
}

#[tokio::test]
async fn expected_messages_and_handshake_counts_are_verified() {
    let router = Router::new().without_drop_verification();
    router.mock(
        Route::given(path("/feed"))
            .websocket(Socket::new().expect_message(json_includes(&json!({"op": "subscribe"}))))
            .times(2)
            .named("feed"),
    );
    let client = client(&router);
    let mut socket = client.websocket("ws://api.test/feed").await.unwrap();
    socket.send_text(r#"{"op":"ping"}"#).await.unwrap();
    socket.close(1000, "").await.unwrap();
    let report = router.verify();
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(
        text.contains(r#"route "feed" expected exactly 2 calls, got 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"expected a message where JSON includes {"op":"subscribe"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn websocket_routes_load_from_a_yaml_route_file() {
    let router = Router::new();
    router
        .load_yaml_str(
            r#"
routes:
  - request: {path: /chat}
    times: 1
    websocket:
      subprotocol: chat.v1
      on_open: [{text: welcome}]
      messages:
        - when: {text: ping}
          reply: [{text: pong}]
        - when: {json_includes: {op: login}}
          reply: [{json: {ok: true}}]
          set_state: authed
        - when: {text: bye, state: authed}
          reply: [{close: {code: 1000, reason: bye}}]
      echo: true
      expect_messages: [{text: ping}]
  - request: {path: /private}
    websocket: {refuse: 401}
"#,
            "routes.yaml".as_ref(),
        )
        .unwrap();
    let client = client(&router);
    let mut socket = client.websocket("ws://api.test/chat").await.unwrap();
    assert_eq!(
        socket.response().headers()["sec-websocket-protocol"],
        "chat.v1"
    );
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("welcome")
    );
    socket.send_text("ping").await.unwrap();
    assert_eq!(socket.recv_text().await.unwrap().as_deref(), Some("pong"));
    socket.send_text("bye").await.unwrap();
    assert_eq!(socket.recv_text().await.unwrap().as_deref(), Some("bye"));
    socket.send_text(r#"{"op":"login"}"#).await.unwrap();
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some(r#"{"ok":true}"#)
    );
    socket.send_text("bye").await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::close(1000, "bye"))
    );
    let refused = client.websocket("ws://api.test/private").await.unwrap_err();
    assert_eq!(
        refused.status_response().map(|r| r.status().as_u16()),
        Some(401)
    );
    router.verify().assert();

    let err = Router::new()
        .load_yaml_str(
            "routes:\n  - request: {path: /x}\n    websocket:\n      messages:\n        - when: {regex: '('}\n",
            "bad.yaml".as_ref(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bad.yaml"), "{text}");
    assert!(text.contains("messages 1"), "{text}");
}
