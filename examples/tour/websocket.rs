//! Scene: record a WebSocket chat against a local server, stop it, replay the
//! session offline (the tape checks what the client sends), then mock the
//! same chat with a WebSocket route.

use wiretape::cassette::{Cassette, Environment, Mode};
use wiretape::engine::HyperEngine;
use wiretape::mock::socket::{Socket, close, json_includes, reply_json};
use wiretape::mock::{MockEngine, Route, Router, matchers::path};
use wiretape::ws::Frame;
use wiretape::{Client, Error, server};

/// A chat server to record: greets, and answers `{"op": "sum"}` with the sum.
fn chat_server() -> MockEngine {
    MockEngine::new(|_| async { Ok(wiretape::mock::respond_ok("")) }).with_websocket(
        |_, mut peer| async move {
            let _ = peer.send_text("welcome").await;
            while let Some(frame) = peer.recv().await {
                match frame {
                    Frame::Text(text) => {
                        let value: serde_json::Value =
                            serde_json::from_str(&text).unwrap_or_default();
                        let sum: i64 = value["args"]
                            .as_array()
                            .map(|args| args.iter().filter_map(|a| a.as_i64()).sum())
                            .unwrap_or(0);
                        let _ = peer.send_text(format!(r#"{{"sum":{sum}}}"#)).await;
                    }
                    Frame::Close(close) => {
                        let _ = peer.close(close.code, close.reason).await;
                        return;
                    }
                    _ => {}
                }
            }
        },
    )
}

/// The conversation: read the greeting, ask for a sum, close.
async fn chat(client: &Client, url: &str) -> wiretape::Result<(String, String)> {
    let mut socket = client.websocket(url).await?;
    let greeting = socket.recv_text().await?.unwrap_or_default();
    socket.send_text(r#"{"op":"sum","args":[2,3]}"#).await?;
    let answer = socket.recv_text().await?.unwrap_or_default();
    socket.close(1000, "done").await?;
    Ok((greeting, answer))
}

/// Records, replays offline, shows a mismatch, then mocks it with a route.
pub async fn run() -> wiretape::Result<()> {
    let live_server = server::serve(chat_server(), "127.0.0.1:0").await?;
    let url = live_server.ws_url("/chat");
    let dir = tempfile::tempdir()
        .map_err(|err| Error::invalid(format!("cannot create a temporary folder: {err}")))?;
    let tape = dir.path().join("chat.yaml");

    let recorder = Cassette::builder(&tape)
        .mode(Mode::Record)
        .environment(Environment::clean())
        .build(HyperEngine::default())?;
    let client = Client::builder().engine(recorder.clone()).build()?;
    let (greeting, answer) = chat(&client, &url).await?;
    println!("recorded  {url}: {greeting:?}, then {answer:?}");
    recorder.finish()?;
    live_server.shutdown().await;
    let yaml = std::fs::read_to_string(&tape)
        .map_err(|err| Error::invalid(format!("cannot read {}: {err}", tape.display())))?;
    println!("the session's frames, as the cassette keeps them:");
    for line in yaml.lines().skip_while(|l| !l.contains("websocket:")) {
        println!("    {line}");
    }

    let player = Cassette::builder(&tape)
        .mode(Mode::Replay)
        .environment(Environment::clean())
        .build(HyperEngine::default())?;
    let client = Client::builder().engine(player.clone()).build()?;
    let replayed = chat(&client, &url).await?;
    println!("replayed  offline, the server long gone: {replayed:?}");
    player.finish()?;

    // A client that asks something else is told so, frame and diff.
    let player = Cassette::builder(&tape)
        .mode(Mode::Replay)
        .environment(Environment::clean())
        .build(HyperEngine::default())?;
    let client = Client::builder().engine(player.clone()).build()?;
    let mut socket = client.websocket(&url).await?;
    socket.recv_text().await?;
    socket.send_text(r#"{"op":"sum","args":[2,4]}"#).await?;
    let closed = socket.recv().await?;
    println!("a different question closes the socket: {closed:?}");
    drop(socket);
    if let Err(miss) = player.finish() {
        println!("and finish() explains:");
        for line in miss.to_string().lines().take(16) {
            println!("    {line}");
        }
    }

    // The same chat as a route: no server to record at all.
    let router = Router::new();
    router.mock(
        Route::given(path("/chat")).websocket(
            Socket::new()
                .on_open(Frame::text("welcome"))
                .on_message(
                    json_includes(&serde_json::json!({"op": "sum"})),
                    reply_json(&serde_json::json!({"sum": 5})),
                )
                .on_message(
                    json_includes(&serde_json::json!({"op": "quit"})),
                    close(1000, "bye"),
                ),
        ),
    );
    let client = Client::builder().engine(router.clone()).build()?;
    let mocked = chat(&client, "ws://chat.test/chat").await?;
    println!("mocked    by a route: {mocked:?}");
    let journal = router.sockets();
    println!(
        "the route's journal: received {} frame(s), sent {}",
        journal[0].received.len(),
        journal[0].sent.len()
    );
    router.verify().assert();
    Ok(())
}
