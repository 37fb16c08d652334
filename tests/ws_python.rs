//! WebSocket tapes against a real peer: sessions recorded from Python's
//! `websockets` server on 127.0.0.1, replayed offline through the client,
//! and served by `wiretape serve` to Python's `websockets` client.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use wiretape::Client;
use wiretape::cassette::{Cassette, Environment, Mode};
use wiretape::engine::HyperEngine;

/// A chat server: greets, echoes text and binary, sums `{"args": […]}`,
/// pushes three ticks on `push`, closes with 4001 on `bye`, vanishes on
/// `crash`.
const SERVER: &str = r#"
import asyncio, json, sys
from websockets.asyncio.server import serve

async def handler(ws):
    await ws.send("welcome")
    async for message in ws:
        if isinstance(message, bytes):
            await ws.send(message)
        elif message == "push":
            for i in range(3):
                await asyncio.sleep(0.02)
                await ws.send(json.dumps({"tick": i}, separators=(",", ":")))
        elif message == "bye":
            await ws.close(4001, "see you")
            return
        elif message == "crash":
            ws.transport.abort()
            return
        elif message.startswith("{"):
            value = json.loads(message)
            await ws.send(json.dumps({"sum": sum(value["args"])}, separators=(",", ":")))
        else:
            await ws.send(message)

async def main(port):
    async with serve(handler, "127.0.0.1", port, compression=None):
        await asyncio.Future()

asyncio.run(main(int(sys.argv[1])))
"#;

/// The same conversations from Python's client; prints what it received as
/// one JSON list per session.
const CLIENT: &str = r#"
import asyncio, json, sys
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

async def chat(base):
    out = []
    async with connect(base + "/chat", compression=None) as ws:
        out.append(await ws.recv())
        await ws.send("hello")
        out.append(await ws.recv())
        await ws.send('{"op":"sum","args":[1,2,3]}')
        out.append(await ws.recv())
        await ws.send(b"\x00\x01\x02\xff")
        out.append((await ws.recv()).hex())
        pong = await ws.ping(b"hb")
        await asyncio.wait_for(pong, 5)
        out.append("pong")
        await ws.send("push")
        for _ in range(3):
            out.append(await ws.recv())
        await ws.close(1000, "done")
    out.append(ws.close_code)
    return out

async def closing(base, path, word):
    out = []
    async with connect(base + path, compression=None) as ws:
        out.append(await ws.recv())
        await ws.send(word)
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed:
            pass
    out.append(ws.close_code)
    out.append(ws.close_reason)
    return out

async def main(base):
    print(json.dumps([await chat(base), await closing(base, "/bye", "bye"),
                      await closing(base, "/crash", "crash")]))

asyncio.run(main(sys.argv[1]))
"#;

async fn next(socket: &mut wiretape::ws::WebSocket) -> String {
    format!("{:?}", socket.recv().await.unwrap().unwrap())
}

/// Everything the client saw in the three sessions, in order, with close
/// codes: what recording and replay must agree on.
async fn sessions(client: &Client, base: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut socket = client.websocket(format!("{base}/chat")).await.unwrap();
    seen.push(next(&mut socket).await);
    socket.send_text("hello").await.unwrap();
    seen.push(next(&mut socket).await);
    socket
        .send_text(r#"{"op":"sum","args":[1,2,3]}"#)
        .await
        .unwrap();
    seen.push(next(&mut socket).await);
    socket.send_binary(vec![0u8, 1, 2, 255]).await.unwrap();
    seen.push(next(&mut socket).await);
    socket.ping(Bytes::from_static(b"hb")).await.unwrap();
    seen.push(next(&mut socket).await);
    socket.send_text("push").await.unwrap();
    for _ in 0..3 {
        seen.push(next(&mut socket).await);
    }
    let close = socket.close(1000, "done").await.unwrap();
    seen.push(format!("closed {close:?}"));
    for (path, word) in [("/bye", "bye"), ("/crash", "crash")] {
        let mut socket = client.websocket(format!("{base}{path}")).await.unwrap();
        seen.push(next(&mut socket).await);
        socket.send_text(word).await.unwrap();
        while let Ok(Some(frame)) = socket.recv().await {
            seen.push(format!("{frame:?}"));
        }
        seen.push(format!("ended {:?}", socket.close_frame()));
    }
    seen
}

/// Starts `wiretape serve FLAG FILE` on a free loopback port.
fn serve(flag: &str, file: &Path) -> (support::Running, u16) {
    let port = support::free_port();
    let running = support::start_server(
        Command::new(env!("CARGO_BIN_EXE_wiretape"))
            .args(["serve", flag])
            .arg(file)
            .args(["--listen", &format!("127.0.0.1:{port}")]),
        port,
    );
    (running, port)
}

/// Runs the Python client `script` against ws://127.0.0.1:`port` and parses
/// the JSON it prints.
fn run_client(python: &support::Python, script: &str, port: u16) -> serde_json::Value {
    let output = python
        .command()
        .arg("-c")
        .arg(script)
        .arg(format!("ws://127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the Python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn record(path: &Path, python: &support::Python) -> Vec<String> {
    let port = support::free_port();
    let _server = support::start_server(
        python.command().arg("-c").arg(SERVER).arg(port.to_string()),
        port,
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = HyperEngine::builder().native_roots(false).build().unwrap();
        let cassette = Cassette::builder(path)
            .mode(Mode::Record)
            .environment(Environment::clean())
            .build(engine)
            .unwrap();
        let client = Client::builder().engine(cassette.clone()).build().unwrap();
        let seen = sessions(&client, &format!("ws://127.0.0.1:{port}")).await;
        assert_eq!(cassette.finish().unwrap().recorded, 3);
        seen
    })
}

#[test]
fn python_websockets_sessions_record_and_replay_offline_and_through_serve() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.yaml");
    let live = record(&path, &python);
    // The server is gone now: replay needs nothing but the file.
    assert_eq!(live[0], r#"Text("welcome")"#);
    assert_eq!(live[2], r#"Text("{\"sum\":6}")"#);
    assert_eq!(live[4], r#"Pong(b"hb")"#);
    assert_eq!(live[7], r#"Text("{\"tick\":2}")"#);
    assert!(live[8].contains("code: 1000"), "{live:?}");
    assert!(live.iter().any(|l| l.contains("code: 4001")), "{live:?}");
    assert!(live.last().unwrap().contains("code: 1006"), "{live:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("sum: 6"), "{text}");
    assert!(text.contains("end: dropped"), "{text}");

    // Replayed for the recorded address (cassettes match method and URI).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("uri: "))
        .unwrap()
        .trim_end_matches("/chat")
        .to_string();
    let replayed = runtime.block_on(async {
        let client = support::replaying(&path);
        sessions(&client, &base).await
    });
    assert_eq!(replayed, live);

    // Python's client against `wiretape serve --cassette`.
    let (_serve, port) = serve("--cassette", &path);
    let seen = run_client(&python, CLIENT, port);
    assert_eq!(
        seen,
        serde_json::json!([
            [
                "welcome",
                "hello",
                "{\"sum\":6}",
                "000102ff",
                "pong",
                "{\"tick\":0}",
                "{\"tick\":1}",
                "{\"tick\":2}",
                1000
            ],
            ["welcome", 4001, "see you"],
            ["welcome", 1006, ""]
        ])
    );
}

const ROUTES: &str = r#"
routes:
  - request: {path: /chat}
    websocket:
      subprotocol: chat.v1
      on_open: [{text: welcome}]
      messages:
        - when: {text: ping}
          reply: [{text: pong}]
        - when: {json_includes: {op: quit}}
          reply: [{close: {code: 4002, reason: quit}}]
      echo: true
  - request: {path: /private}
    websocket: {refuse: 403}
"#;

const ROUTE_CLIENT: &str = r#"
import asyncio, json, sys
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

async def main(base):
    out = []
    async with connect(base + "/chat", subprotocols=["chat.v1"], compression=None) as ws:
        out.append(ws.subprotocol)
        out.append(await ws.recv())
        await ws.send("ping")
        out.append(await ws.recv())
        await ws.send("echo me")
        out.append(await ws.recv())
        await ws.send('{"op":"quit"}')
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed:
            pass
    out.append(ws.close_code)
    out.append(ws.close_reason)
    try:
        async with connect(base + "/private", compression=None):
            pass
    except InvalidStatus as err:
        out.append(err.response.status_code)
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"#;

#[test]
fn python_websockets_client_talks_to_a_websocket_route_through_serve() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.yaml");
    std::fs::write(&routes, ROUTES).unwrap();
    let (_serve, port) = serve("--routes", &routes);
    let seen = run_client(&python, ROUTE_CLIENT, port);
    assert_eq!(
        seen,
        serde_json::json!(["chat.v1", "welcome", "pong", "echo me", 4002, "quit", 403])
    );
}
