//! WebSocket tape benchmarks: frames per second replaying 100,000-frame
//! sessions, in process and through `serve` on loopback, against a plain
//! tokio-tungstenite echo server measured in the same run.
//!
//! - `in-process feed`: a tape whose server pushes 100,000 frames after the
//!   client's subscription; the client reads them through the engine
//!   contract. Target ≥ 1,000,000 frames/s.
//! - `in-process echo`: a recorded echo session of 50,000 client frames each
//!   answered by the server (100,000 frames), every client frame checked by
//!   the frame matcher.
//! - `loopback echo, tungstenite server` and `loopback echo, serve + tape`:
//!   the same 50,000-frame echo workload over a real socket (the client
//!   writes while it reads), once against a raw tungstenite echo server and
//!   once against `server::serve` replaying the recorded echo session.
//!   Target: serve at least the echo server's rate.
//!
//! Run with `cargo bench --bench ws_tape` (add `-- --quick` for a short run).
//!
//! Measured with `--quick` on a shared 2-core machine (noisy, other builds
//! running): in-process feed 1.2–1.5 M frames/s, in-process echo 1.3 M
//! frames/s; loopback echo 371 k frames/s from the tungstenite server and
//! 607 k frames/s from serve + tape (serve flushes ready frames together).

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use wiretape::cassette::format::{
    Headers, RecordedRequest, RecordedResponse, WsEvent, WsFrameKind,
};
use wiretape::cassette::{Cassette, Environment, Interaction, Mode, Tape};
use wiretape::engine::{Engine, HyperEngine};
use wiretape::mock::MockEngine;
use wiretape::ws::Frame;
use wiretape::{Method, Request};

const FRAMES: usize = 100_000;

fn text_event(at_ms: u64, sent: bool, text: String) -> WsEvent {
    WsEvent {
        send: sent.then_some(WsFrameKind::Text),
        recv: (!sent).then_some(WsFrameKind::Text),
        text: Some(text),
        ..WsEvent::at(at_ms)
    }
}

fn session(uri: &str, events: Vec<WsEvent>) -> Interaction {
    Interaction {
        request: RecordedRequest {
            method: "GET".into(),
            uri: uri.into(),
            headers: Headers::default(),
            body: None,
        },
        response: Some(RecordedResponse {
            status: 101,
            headers: Headers(vec![("upgrade".into(), vec!["websocket".into()])]),
            body: None,
            latency_ms: Some(1),
        }),
        error: None,
        websocket: Some(events),
        recorded_at: None,
    }
}

fn tick(i: usize) -> String {
    format!(
        r#"{{"symbol":"WTP","seq":{i},"price":{}.{:02}}}"#,
        100 + i % 50,
        i % 100
    )
}

/// A feed (`/feed`: subscribe, then 100,000 pushes) and an echo session
/// (`/echo`: 50,000 frames, each echoed).
fn write_tape(dir: &Path) -> std::path::PathBuf {
    let mut feed = vec![text_event(0, true, "subscribe".into())];
    feed.extend((0..FRAMES).map(|i| text_event(1 + i as u64 / 100, false, tick(i))));
    let mut echo = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES / 2 {
        echo.push(text_event(i as u64 / 100, true, tick(i)));
        echo.push(text_event(i as u64 / 100, false, tick(i)));
    }
    let path = dir.join("ws-bench.yaml");
    Tape {
        interactions: vec![
            session("ws://bench.test/feed", feed),
            session("ws://bench.test/echo", echo),
        ],
        ..Tape::default()
    }
    .save(&path)
    .unwrap();
    path
}

fn open(path: &Path) -> Cassette<MockEngine> {
    Cassette::builder(path)
        .mode(Mode::Replay)
        .environment(Environment::clean())
        .match_on([
            wiretape::cassette::Match::method(),
            wiretape::cassette::Match::path(),
        ])
        .allow_playback_repeats(true)
        .build(MockEngine::queue().build())
        .unwrap()
}

fn request(url: &str) -> Request {
    Request::new(Method::GET, url.parse().unwrap())
}

/// Reads the feed's 100,000 frames through `engine`.
async fn read_feed(engine: &dyn Engine, url: &str) {
    let connection = engine.websocket(request(url)).await.unwrap();
    let (_, mut sink, mut stream) = connection.into_parts();
    sink.send(Frame::text("subscribe")).await.unwrap();
    for _ in 0..FRAMES {
        std::hint::black_box(stream.next().await.unwrap().unwrap());
    }
}

/// Writes 50,000 frames (from a task) while reading their 50,000 echoes.
async fn echo(engine: &dyn Engine, url: &str) {
    let connection = engine.websocket(request(url)).await.unwrap();
    let (_, mut sink, mut stream) = connection.into_parts();
    let frames: Vec<Frame> = (0..FRAMES / 2).map(|i| Frame::Text(tick(i))).collect();
    let writer = tokio::spawn(async move {
        for frame in frames {
            sink.feed(frame).await.unwrap();
        }
        sink.flush().await.unwrap();
        sink
    });
    for _ in 0..FRAMES / 2 {
        std::hint::black_box(stream.next().await.unwrap().unwrap());
    }
    let mut sink = writer.await.unwrap();
    let _ = sink.send(Frame::close(1000, "")).await;
}

/// A plain tokio-tungstenite echo server on loopback.
async fn tungstenite_echo() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(socket) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (mut write, mut read) = socket.split();
                while let Some(Ok(message)) = read.next().await {
                    if message.is_close() {
                        break;
                    }
                    if (message.is_text() || message.is_binary())
                        && write.send(message).await.is_err()
                    {
                        break;
                    }
                }
                let _ = write.flush().await;
            });
        }
    });
    format!("ws://{addr}/echo")
}

fn timed<F: std::future::Future<Output = ()>>(
    runtime: &tokio::runtime::Runtime,
    iters: u64,
    mut run: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        runtime.block_on(run());
    }
    started.elapsed()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tape(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tape = open(&path);

    let mut group = c.benchmark_group("websocket tape");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("in-process feed", |b| {
        b.iter_custom(|iters| timed(&runtime, iters, || read_feed(&tape, "ws://bench.test/feed")))
    });
    group.bench_function("in-process echo", |b| {
        b.iter_custom(|iters| timed(&runtime, iters, || echo(&tape, "ws://bench.test/echo")))
    });

    let client = HyperEngine::builder().native_roots(false).build().unwrap();
    let echo_url = runtime.block_on(tungstenite_echo());
    let served = runtime
        .block_on(wiretape::server::serve(open(&path), "127.0.0.1:0"))
        .unwrap();
    let served_url = served.ws_url("/echo");
    group.bench_function("loopback echo, tungstenite server", |b| {
        b.iter_custom(|iters| timed(&runtime, iters, || echo(&client, &echo_url)))
    });
    group.bench_function("loopback echo, serve + tape", |b| {
        b.iter_custom(|iters| timed(&runtime, iters, || echo(&client, &served_url)))
    });
    group.finish();
    drop(served);
}

criterion_group!(ws_tape, benches);
criterion_main!(ws_tape);
