//! Server-sent events: the router's scheduled event source under the paused
//! clock, a real event source on loopback (Python's http.server) that drops
//! the connection, so the client reconnects with `Last-Event-ID`, and the
//! same stream recorded to a cassette and replayed under the paused clock.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wiretape::cassette::{Cassette, Environment, Mode};
use wiretape::engine::{BoxFuture, Capabilities, Engine, HyperEngine};
use wiretape::mock::matchers::{header, header_missing, path};
use wiretape::mock::responders::{sse_events, status, text};
use wiretape::mock::{Route, Router};
use wiretape::sse::{Event, EventStream};
use wiretape::{Client, ErrorKind, Request, Response, Result};

async fn all_events(stream: &mut EventStream) -> Vec<Event> {
    let mut events = Vec::new();
    // Bounded: no test stream sends more than a handful.
    for _ in 0..50 {
        match stream.next().await {
            Some(event) => events.push(event.unwrap_or_else(|err| panic!("{err}"))),
            None => return events,
        }
    }
    panic!("the stream did not end after 50 events: {events:?}");
}

fn client(engine: impl Engine) -> Client {
    Client::builder().engine(engine).build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_router_streams_on_schedule_and_resumes_from_the_last_event_id() {
    let router = Router::new();
    router.mock(
        Route::given(path("/feed"))
            .and(header_missing("last-event-id"))
            .respond_with(sse_events([
                (
                    Duration::ZERO,
                    Event::new("one")
                        .with_id("1")
                        .with_retry(Duration::from_secs(5)),
                ),
                (
                    Duration::from_secs(2),
                    Event::new("two\nlines").with_id("2").with_event("update"),
                ),
            ])),
    );
    router.mock(
        Route::given(path("/feed"))
            .and(header("last-event-id", "2"))
            .respond_with(sse_events([(
                Duration::from_secs(1),
                Event::new("three").with_id("3"),
            )]))
            .times(1),
    );
    router.mock(
        Route::given(path("/feed"))
            .and(header("last-event-id", "3"))
            .respond_with(status(204)),
    );

    let start = tokio::time::Instant::now();
    let mut stream = client(router.clone())
        .sse("http://api.test/feed")
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        first,
        Event::new("one")
            .with_id("1")
            .with_retry(Duration::from_secs(5))
    );
    let second = stream.next().await.unwrap().unwrap();
    assert_eq!(
        second,
        Event::new("two\nlines").with_id("2").with_event("update")
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "the schedule, in virtual time"
    );

    // The stream ended: the client waits the server's retry (5 s), then
    // resumes after event 2.
    let third = stream.next().await.unwrap().unwrap();
    assert_eq!(third, Event::new("three").with_id("3"));
    assert_eq!(start.elapsed(), Duration::from_secs(2 + 5 + 1));
    assert_eq!(stream.reconnects(), 1);
    // The next reconnection gets 204: the stream is over.
    assert!(stream.next().await.is_none());
    assert_eq!(stream.reconnects(), 2);
    router.verify().assert();
}

#[tokio::test(start_paused = true)]
async fn reconnections_stop_at_the_cap() {
    let router = Router::new();
    router.mock(
        Route::given(path("/flaky"))
            .respond_with(sse_events([(Duration::ZERO, Event::new("again"))])),
    );
    let mut stream = client(router.clone())
        .sse("http://api.test/flaky")
        .max_reconnects(2)
        .reconnect_delay(Duration::from_millis(300))
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let events = all_events(&mut stream).await;
    assert_eq!(
        events.len(),
        3,
        "the first connection and two reconnections"
    );
    assert_eq!(stream.reconnects(), 2);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(600),
        "the configured delay, twice"
    );
    assert_eq!(router.journal().len(), 3);
}

#[tokio::test]
async fn a_server_that_is_not_an_event_source_is_an_error() {
    let router = Router::new();
    router.mock(Route::given(path("/missing")).respond_with(status(404)));
    router.mock(Route::given(path("/page")).respond_with(text("<html>")));
    let client = client(router);

    let err = client.sse("http://api.test/missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    let err = client.sse("http://api.test/page").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    support::assert_mentions(
        &err.to_string(),
        &[
            "GET http://api.test/page",
            "text/plain",
            "text/event-stream",
        ],
    );
}

#[tokio::test]
async fn an_oversized_event_ends_the_stream_with_an_error() {
    let router = Router::new();
    router.mock(
        Route::given(path("/big"))
            .respond_with(sse_events([(Duration::ZERO, Event::new("x".repeat(100)))])),
    );
    let mut stream = client(router)
        .sse("http://api.test/big")
        .max_event_size(64)
        .await
        .unwrap();
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    support::assert_mentions(
        &err.to_string(),
        &["GET http://api.test/big", "64-byte event limit", "line 1"],
    );
    assert!(stream.next().await.is_none());
}

/// An engine that buffers every body, so it cannot carry an endless stream.
struct Buffering;

impl Engine for Buffering {
    fn execute(&self, _request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async { Ok(Response::new(wiretape::StatusCode::OK)) })
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
}

#[tokio::test]
async fn an_engine_without_a_capability_fails_early_naming_itself_and_the_flag() {
    let err = client(Buffering)
        .websocket("ws://api.test/chat")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebSocket, "{err}");
    support::assert_mentions(&err.to_string(), &["Buffering", "`websocket` capability"]);
    let err = client(Buffering)
        .sse("http://api.test/feed")
        .await
        .unwrap_err();
    support::assert_mentions(
        &err.to_string(),
        &[
            "Buffering",
            "`streaming` capability",
            "GET http://api.test/feed",
        ],
    );
}

/// Starts the Python event source; `None` when python3 is missing.
fn start_event_source() -> Option<(support::Running, String)> {
    let python = Command::new("python3").arg("--version").output();
    if python.map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("python3 is not installed: skipping a test that needs it");
        return None;
    }
    let port = support::free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sse_server.py");
    let server = support::start_server(
        Command::new("python3").arg(script).arg(port.to_string()),
        port,
    );
    Some((server, format!("http://127.0.0.1:{port}/events")))
}

fn expected_stream() -> Vec<Event> {
    let retry = Duration::from_millis(100);
    vec![
        Event::new("hello\nworld")
            .with_event("greeting")
            .with_id("1")
            .with_retry(retry),
        Event::new("second").with_id("2"),
        Event::new("resumed after 2").with_id("3"),
    ]
}

#[tokio::test]
async fn a_real_event_source_is_resumed_after_it_drops_the_connection() {
    let Some((_server, url)) = start_event_source() else {
        return;
    };
    let engine = HyperEngine::builder().no_proxy().build().unwrap();
    let mut stream = client(engine).sse(&url).await.unwrap();
    let events = tokio::time::timeout(Duration::from_secs(60), all_events(&mut stream))
        .await
        .expect("the stream ends within 60 s");
    assert_eq!(
        events,
        expected_stream(),
        "the server saw Last-Event-ID: 2 on the reconnection"
    );
    assert_eq!(stream.reconnects(), 2, "one resumption, then 204");
    assert_eq!(stream.last_event_id(), Some("3"));
    assert_eq!(stream.reconnect_delay(), Duration::from_millis(100));
}

#[tokio::test]
async fn a_recorded_event_stream_replays_under_the_paused_clock() {
    let Some((server, url)) = start_event_source() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("events.yaml");
    let recorder = Cassette::builder(&tape)
        .mode(Mode::Record)
        .environment(Environment::clean())
        .build(HyperEngine::builder().no_proxy().build().unwrap())
        .unwrap();
    let mut stream = client(recorder.clone()).sse(&url).await.unwrap();
    let recorded = tokio::time::timeout(Duration::from_secs(60), all_events(&mut stream))
        .await
        .expect("the stream ends within 60 s");
    assert_eq!(recorded, expected_stream());
    assert_eq!(recorder.finish().unwrap().recorded, 3, "three connections");
    drop(server);
    let yaml = std::fs::read_to_string(&tape).unwrap();
    support::assert_mentions(
        &yaml,
        &["text/event-stream", "last-event-id", "resumed after 2"],
    );

    // Replayed on a runtime whose clock is paused: the server is gone, the
    // 100 ms retry waits are virtual, and the events are the same.
    let replayed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let start = tokio::time::Instant::now();
            let mut stream = support::replaying(&tape).sse(&url).await.unwrap();
            let events = all_events(&mut stream).await;
            assert!(
                start.elapsed() >= Duration::from_millis(200),
                "two virtual retry waits"
            );
            events
        })
    })
    .join()
    .unwrap();
    assert_eq!(replayed, recorded);
}
