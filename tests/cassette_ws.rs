//! WebSocket tapes in process: a session recorded through a cassette around a
//! scripted server, then replayed offline as a script that checks the
//! client's frames; timing in virtual time; HAR sessions; secrets in frames.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use wiretape::cassette::{Cassette, CassetteBuilder, Environment, FrameMatch, Mode, Tape, Timing};
use wiretape::engine::Engine;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::ws::{CloseFrame, Frame};
use wiretape::{Client, ErrorKind};

fn builder(path: &Path) -> CassetteBuilder {
    Cassette::builder(path).environment(Environment::clean())
}

/// Writes a cassette named `name` in `dir` whose interactions are the YAML
/// list `interactions`.
fn write_tape(dir: &Path, name: &str, interactions: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("version: 1\ninteractions:{interactions}")).unwrap();
    path
}

/// A cassette replaying `path`, with nothing behind it.
fn player(path: &Path) -> Cassette<MockEngine> {
    builder(path)
        .mode(Mode::Replay)
        .build(MockEngine::queue().build())
        .unwrap()
}

/// A cassette recording `engine` to `path`, replacing the file.
fn recorder<E: Engine>(path: &Path, engine: E) -> Cassette<E> {
    builder(path).mode(Mode::Record).build(engine).unwrap()
}

fn client_of<E: Engine>(engine: E) -> Client {
    Client::builder().engine(engine).build().unwrap()
}

/// A chat server: greets, echoes text, answers `{"op":"sum"}` with the sum,
/// echoes binary, closes with 4001 when told `bye`, vanishes on `crash`.
fn chat_server() -> MockEngine {
    MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(|_, mut peer| async move {
        let _ = peer.send_text("welcome").await;
        while let Some(frame) = peer.recv().await {
            match frame {
                Frame::Text(text) if text == "bye" => {
                    let _ = peer.close(4001, "see you").await;
                    return;
                }
                Frame::Text(text) if text == "crash" => return,
                Frame::Text(text) if text.starts_with('{') => {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let sum: i64 = value["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_i64().unwrap())
                        .sum();
                    let _ = peer
                        .send_text(format!(r#"{{"sum":{sum},"note":"s3cr3t"}}"#))
                        .await;
                }
                Frame::Close(close) => {
                    let _ = peer.close(close.code, close.reason).await;
                    return;
                }
                Frame::Ping(_) | Frame::Pong(_) => {}
                other => {
                    let _ = peer.send(other).await;
                }
            }
        }
    })
}

/// The conversation both recording and replay go through, checking the
/// answers each time.
async fn converse(client: &Client) {
    let mut socket = client.websocket("ws://chat.test/room?id=7").await.unwrap();
    assert_eq!(socket.response().status(), 101);
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("welcome")
    );
    socket.send_text("hello").await.unwrap();
    assert_eq!(socket.recv().await.unwrap(), Some(Frame::text("hello")));
    socket
        .send_text(r#"{"op":"sum","args":[1,2,3]}"#)
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::text(r#"{"sum":6,"note":"s3cr3t"}"#))
    );
    socket.send_binary(vec![0u8, 1, 2, 255]).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::binary(vec![0u8, 1, 2, 255]))
    );
    socket.ping(Bytes::from_static(b"hb")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::Pong(Bytes::from_static(b"hb")))
    );
    let close = socket.close(1000, "done").await.unwrap().unwrap();
    assert_eq!(close, CloseFrame::new(1000, "done"));
}

#[tokio::test]
async fn a_recorded_session_replays_offline_with_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.yaml");
    let recorder = recorder(&path, chat_server());
    converse(&client_of(recorder.clone())).await;
    let report = recorder.finish().unwrap();
    assert_eq!(report.recorded, 1);

    let text = std::fs::read_to_string(&path).unwrap();
    // Text is text, JSON a tree, binary base64, closes with code and reason.
    assert!(text.contains("recv: text"), "{text}");
    assert!(text.contains("text: welcome"), "{text}");
    assert!(text.contains("op: sum"), "{text}");
    assert!(text.contains("base64: AAEC/w=="), "{text}");
    assert!(text.contains("send: close"), "{text}");
    assert!(text.contains("code: 1000"), "{text}");
    let tape = Tape::load(&path).unwrap();
    let events = tape.interactions[0].websocket.as_ref().unwrap();
    assert_eq!(events.len(), 11, "{text}");

    let offline = MockEngine::queue().build();
    let player = builder(&path).mode(Mode::Replay).build(offline).unwrap();
    converse(&client_of(player.clone())).await;
    let report = player.finish().unwrap();
    assert_eq!(report.replayed, 1);
    assert!(report.unused.is_empty(), "{report:?}");
    assert!(report.unplayed_frames.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_server_close_and_a_vanished_server_are_recorded_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ends.yaml");
    let recorder = recorder(&path, chat_server());
    let client = client_of(recorder.clone());
    for (word, code) in [("bye", 4001), ("crash", CloseFrame::ABNORMAL)] {
        let mut socket = client.websocket("ws://chat.test/room").await.unwrap();
        socket.recv_text().await.unwrap();
        socket.send_text(word).await.unwrap();
        while socket.recv().await.unwrap().is_some() {}
        assert_eq!(socket.close_frame().unwrap().code, code);
    }
    recorder.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("recv: close"), "{text}");
    assert!(text.contains("code: 4001"), "{text}");
    assert!(text.contains("end: dropped"), "{text}");

    let player = player(&path);
    let client = client_of(player.clone());
    for (word, code, reason) in [("bye", 4001, "see you"), ("crash", 1006, "")] {
        let mut socket = client.websocket("ws://chat.test/room").await.unwrap();
        assert_eq!(
            socket.recv_text().await.unwrap().as_deref(),
            Some("welcome")
        );
        socket.send_text(word).await.unwrap();
        while socket.recv().await.unwrap().is_some() {}
        assert_eq!(socket.close_frame(), Some(&CloseFrame::new(code, reason)));
    }
    player.finish().unwrap();
}

#[tokio::test]
async fn a_client_frame_that_differs_closes_with_1008_and_finish_shows_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mismatch.yaml");
    let recorder = recorder(&path, chat_server());
    converse(&client_of(recorder.clone())).await;
    recorder.finish().unwrap();

    let player = player(&path);
    let client = client_of(player.clone());
    let mut socket = client.websocket("ws://chat.test/room?id=7").await.unwrap();
    socket.recv_text().await.unwrap();
    socket.send_text("hello").await.unwrap();
    socket.recv().await.unwrap();
    socket
        .send_text(r#"{"op":"sum","args":[1,2,4]}"#)
        .await
        .unwrap();
    let close = socket.recv().await.unwrap();
    assert!(
        matches!(&close, Some(Frame::Close(c)) if c.code == CloseFrame::POLICY_VIOLATION),
        "{close:?}"
    );
    drop(socket);
    let err = player.finish().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CassetteMiss);
    let text = err.to_string();
    assert!(text.contains("client frame #1"), "{text}");
    assert!(text.contains("mismatch.yaml"), "{text}");
    assert!(text.contains("recorded interaction #0"), "{text}");
    assert!(text.contains("-    3"), "{text}");
    assert!(text.contains("+    4"), "{text}");
    let report = player.report();
    assert_eq!(report.frame_mismatches.len(), 1);
    assert!(!report.unplayed_frames.is_empty(), "{report:?}");
}

#[tokio::test]
async fn frame_matchers_let_changing_values_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tape(
        dir.path(),
        "matchers.yaml",
        r#"
  - request: {method: GET, uri: "ws://feed.test/", headers: {}}
    response: {status: 101, headers: {}}
    websocket:
      - {at_ms: 0, send: text, json: {op: subscribe, request_id: 1}}
      - {at_ms: 1, recv: text, text: ok}
"#,
    );
    for (rule, sent, answered) in [
        (
            FrameMatch::exact(),
            r#"{"op":"subscribe","request_id":1}"#,
            true,
        ),
        (
            FrameMatch::exact(),
            r#"{"op": "subscribe", "request_id": 1}"#,
            false,
        ),
        (
            FrameMatch::json(),
            r#"{"request_id": 1, "op": "subscribe"}"#,
            true,
        ),
        (
            FrameMatch::json(),
            r#"{"op":"subscribe","request_id":2}"#,
            false,
        ),
        (
            FrameMatch::json_ignoring(["$.request_id"]),
            r#"{"op":"subscribe","request_id":2}"#,
            true,
        ),
        (
            FrameMatch::regex("subscribe"),
            r#"{"op":"subscribe!"}"#,
            true,
        ),
        (FrameMatch::regex("^x"), r#"{"op":"subscribe"}"#, false),
        (FrameMatch::any(), "anything", true),
        (
            FrameMatch::custom("same length", |live, recorded| live.len() == recorded.len()),
            r#"{"op":"subscribe","request_id":9}"#,
            true,
        ),
    ] {
        let name = rule.name().to_string();
        let player = builder(&path)
            .mode(Mode::Replay)
            .match_frames(rule)
            .build(MockEngine::queue().build())
            .unwrap();
        let mut socket = client_of(player.clone())
            .websocket("ws://feed.test/")
            .await
            .unwrap();
        socket.send_text(sent).await.unwrap();
        let got = socket.recv().await.unwrap();
        assert_eq!(
            got == Some(Frame::text("ok")),
            answered,
            "rule {name}, sent {sent}: got {got:?}"
        );
    }
    let err = builder(&path)
        .match_frames(FrameMatch::json_ignoring(["request_id"]))
        .build(MockEngine::queue().build())
        .unwrap_err();
    assert!(err.to_string().contains("must start with `$`"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn answers_wait_for_the_question_and_pushes_keep_their_recorded_spacing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tape(
        dir.path(),
        "feed.yaml",
        r#"
  - request: {method: GET, uri: "wss://prices.test/feed", headers: {}}
    response: {status: 101, headers: {sec-websocket-protocol: [prices.v1]}}
    websocket:
      - {at_ms: 0, send: text, text: subscribe}
      - {at_ms: 40, recv: text, text: subscribed}
      - {at_ms: 600040, recv: text, json: {price: 101}}
      - {at_ms: 1200040, recv: text, json: {price: 102}}
      - {at_ms: 1800040, recv: close, code: 1001, reason: market closed}
"#,
    );
    let player = builder(&path)
        .mode(Mode::Replay)
        .timing(Timing::Recorded)
        .build(MockEngine::queue().build())
        .unwrap();
    let client = client_of(player.clone());
    let mut socket = client.websocket("wss://prices.test/feed").await.unwrap();
    assert_eq!(
        socket.response().headers()["sec-websocket-protocol"],
        "prices.v1"
    );
    // Nothing comes before the client has asked, however long it waits.
    let early = tokio::time::timeout(Duration::from_secs(3600), socket.recv()).await;
    assert!(early.is_err(), "{early:?}");
    let asked = tokio::time::Instant::now();
    socket.send_text("subscribe").await.unwrap();
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("subscribed")
    );
    assert_eq!(asked.elapsed(), Duration::from_millis(40));
    let mut at = Vec::new();
    while let Some(frame) = socket.recv().await.unwrap() {
        at.push((asked.elapsed().as_millis(), frame));
    }
    assert_eq!(
        at,
        vec![
            (600_040, Frame::text(r#"{"price":101}"#)),
            (1_200_040, Frame::text(r#"{"price":102}"#)),
            (1_800_040, Frame::close(1001, "market closed")),
        ]
    );
    player.finish().unwrap();
}

#[tokio::test]
async fn secrets_in_frames_never_reach_disk_and_still_match() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.yaml");
    let server = MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(
        |_, mut peer| async move {
            while let Some(frame) = peer.recv().await {
                if let Frame::Text(text) = frame {
                    let sent: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let answer = serde_json::json!({"ok": true, "auth": sent["auth"]});
                    let _ = peer.send_text(answer.to_string()).await;
                } else {
                    return;
                }
            }
        },
    );
    let recorder = builder(&path)
        .mode(Mode::Record)
        .filter_json_path("$.auth", "<AUTH>")
        .build(server)
        .unwrap();
    let mut socket = client_of(recorder.clone())
        .websocket("ws://chat.test/")
        .await
        .unwrap();
    socket.send_text(r#"{"auth":"hunter2"}"#).await.unwrap();
    socket.recv().await.unwrap();
    drop(socket);
    recorder.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("<AUTH>"), "{text}");
    assert!(text.contains("end: cut_off"), "{text}");

    // A different live secret matches the recorded placeholder.
    let player = builder(&path)
        .mode(Mode::Replay)
        .filter_json_path("$.auth", "<AUTH>")
        .build(MockEngine::queue().build())
        .unwrap();
    let mut socket = client_of(player.clone())
        .websocket("ws://chat.test/")
        .await
        .unwrap();
    socket
        .send_text(r#"{"auth":"other-secret"}"#)
        .await
        .unwrap();
    assert!(matches!(socket.recv().await.unwrap(), Some(Frame::Text(_))));
    drop(socket);
    player.finish().unwrap();
}

#[tokio::test]
async fn a_session_still_open_at_finish_is_saved_as_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.yaml");
    let recorder = recorder(&path, chat_server());
    let mut socket = client_of(recorder.clone())
        .websocket("ws://chat.test/")
        .await
        .unwrap();
    socket.recv_text().await.unwrap();
    socket.send_text("still here").await.unwrap();
    socket.recv().await.unwrap();
    recorder.finish().unwrap();
    let tape = Tape::load(&path).unwrap();
    let events = tape.interactions[0].websocket.as_ref().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[3].end,
        Some(wiretape::cassette::format::WsEnd::CutOff)
    );
    drop(socket);
}

#[tokio::test]
async fn a_refused_handshake_is_an_interaction_and_sessions_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tape(
        dir.path(),
        "refused.yaml",
        r#"
  - request: {method: GET, uri: "ws://chat.test/", headers: {}}
    response: {status: 401, headers: {}}
  - request: {method: GET, uri: "ws://chat.test/", headers: {}}
    response: {status: 101, headers: {}}
    websocket:
      - {at_ms: 0, recv: text, text: first}
  - request: {method: GET, uri: "ws://chat.test/", headers: {}}
    response: {status: 101, headers: {}}
    websocket:
      - {at_ms: 0, recv: text, text: second}
  - request: {method: GET, uri: "ws://chat.test/unused", headers: {}}
    response: {status: 101, headers: {}}
"#,
    );
    let player = player(&path);
    let client = client_of(player.clone());
    let err = client.websocket("ws://chat.test/").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(401)
    );
    for expected in ["first", "second"] {
        let mut socket = client.websocket("ws://chat.test/").await.unwrap();
        assert_eq!(socket.recv_text().await.unwrap().as_deref(), Some(expected));
    }
    let miss = client.websocket("ws://chat.test/").await.unwrap_err();
    assert_eq!(miss.kind(), ErrorKind::CassetteMiss);
    assert!(miss.to_string().contains("already replayed"), "{miss}");
    let report = player.finish().unwrap();
    assert_eq!(report.unused, vec!["#3 GET ws://chat.test/unused"]);
}

#[tokio::test]
async fn a_refusal_recorded_from_a_real_server_replays_with_its_headers() {
    use wiretape::mock::socket::Socket;
    use wiretape::mock::{Route, Router, matchers::path};
    let router = Router::new().without_drop_verification();
    router.mock(Route::given(path("/private")).websocket(Socket::refuse(401)));
    let server = wiretape::server::serve(router, "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.ws_url("/private");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("refusal.yaml");
    let recording = recorder(&path, wiretape::engine::HyperEngine::default());
    let live = client_of(recording.clone())
        .websocket(&url)
        .await
        .unwrap_err();
    recording.finish().unwrap();
    server.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("status: 401"), "{text}");

    let replayed = client_of(player(&path)).websocket(&url).await.unwrap_err();
    let (live, replayed) = (
        live.status_response().unwrap(),
        replayed.status_response().unwrap(),
    );
    assert_eq!(replayed.status(), live.status());
    assert_eq!(replayed.body().as_bytes(), live.body().as_bytes());
    assert!(!live.body().as_bytes().unwrap().is_empty());
}

#[tokio::test]
async fn a_devtools_har_session_replays() {
    let tape = wiretape::cassette::import::import_file("fixtures/cassettes/devtools.har").unwrap();
    let (index, session) = tape
        .interactions
        .iter()
        .enumerate()
        .find(|(_, it)| it.websocket.is_some())
        .expect("the fixture has a WebSocket entry");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devtools.yaml");
    tape.save(&path).unwrap();
    let uri = session.request.uri.clone();
    let player = player(&path);
    let mut socket = client_of(player.clone()).websocket(uri).await.unwrap();
    socket.send_text("hello").await.unwrap();
    assert_eq!(socket.recv().await.unwrap(), Some(Frame::text("hello")));
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::binary(vec![0u8, 1, 2]))
    );
    drop(socket);
    let report = player.finish().unwrap();
    assert!(
        !report
            .unused
            .iter()
            .any(|u| u.starts_with(&format!("#{index} "))),
        "{report:?}"
    );
}

#[tokio::test]
async fn keep_alive_pings_neither_hold_the_script_back_nor_count_as_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tape(
        dir.path(),
        "pings.yaml",
        r#"
  - request: {method: GET, uri: "ws://feed.test/", headers: {}}
    response: {status: 101, headers: {}}
    websocket:
      - {at_ms: 0, send: text, text: sub}
      - {at_ms: 1, send: ping, base64: "aGI="}
      - {at_ms: 1, recv: pong, base64: "aGI="}
      - {at_ms: 2, recv: text, text: ok}
"#,
    );
    let player = player(&path);
    let mut socket = client_of(player.clone())
        .websocket("ws://feed.test/")
        .await
        .unwrap();
    socket.send_text("sub").await.unwrap();
    assert_eq!(socket.recv().await.unwrap(), Some(Frame::text("ok")));
    socket.ping(Bytes::from_static(b"later")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(Frame::Pong(Bytes::from_static(b"later")))
    );
    drop(socket);
    let report = player.finish().unwrap();
    assert!(report.unplayed_frames.is_empty(), "{report:?}");
}
