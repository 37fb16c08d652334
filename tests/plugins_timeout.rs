//! Timeouts: request, connect and socket, each with its own kind, in
//! virtual time.

mod common;

use std::time::Duration;

use tokio::time::Instant;
use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::plugins::Timeouts;
use wiretape::{Body, Bytes, Client, ErrorKind, Response, StatusCode, server};

fn slow_engine(delay: Duration) -> MockEngine {
    MockEngine::new(move |_| async move {
        tokio::time::sleep(delay).await;
        Ok(respond_ok("late"))
    })
}

/// A response whose body sends "first", then waits `pause`, then "second".
fn dribbling(pause: Duration) -> Response {
    let chunks = futures_util::stream::unfold(0, move |step| async move {
        match step {
            0 => Some((Ok::<_, std::io::Error>(Bytes::from("first")), 1)),
            1 => {
                tokio::time::sleep(pause).await;
                Some((Ok(Bytes::from("second")), 2))
            }
            _ => None,
        }
    });
    Response::new(StatusCode::OK).with_body(Body::from_stream(chunks))
}

#[tokio::test(start_paused = true)]
async fn the_request_timeout_fires_at_its_limit() {
    let client = Client::builder()
        .engine(slow_engine(Duration::from_secs(60)))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let started = Instant::now();
    let err = client.get("http://api.test/slow").send().await.unwrap_err();

    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(err.kind(), ErrorKind::RequestTimeout);
    assert!(
        err.to_string().contains("GET http://api.test/slow"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_overrides_only_the_limits_it_sets() {
    let client = Client::builder()
        .engine(slow_engine(Duration::from_secs(8)))
        .timeout(
            Timeouts::new()
                .request(Duration::from_secs(5))
                .socket(Duration::from_secs(1)),
        )
        .build()
        .unwrap();

    let response = client
        .get("http://api.test/")
        .timeouts(Timeouts::new().request(Duration::from_secs(10)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "late");

    let err = client
        .get("http://api.test/")
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RequestTimeout);
}

/// The response of a client with a 3 s socket timeout to a server whose
/// body pauses for `pause` between its two chunks.
async fn stream_with_3s_socket_timeout(pause: Duration) -> Response {
    let engine = MockEngine::new(move |_| async move { Ok(dribbling(pause)) });
    let client = Client::builder()
        .engine(engine)
        .timeout(Timeouts::new().socket(Duration::from_secs(3)))
        .build()
        .unwrap();
    client.get("http://api.test/stream").send().await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_socket_timeout_limits_the_wait_for_the_next_chunk() {
    let mut response = stream_with_3s_socket_timeout(Duration::from_secs(10)).await;
    assert_eq!(response.chunk().await.unwrap().unwrap(), "first");
    let started = Instant::now();
    let err = response.chunk().await.unwrap_err();

    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(err.kind(), ErrorKind::SocketTimeout);
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_is_not_blamed_on_the_server() {
    let mut response = stream_with_3s_socket_timeout(Duration::from_secs(2)).await;
    // The reader dawdles far longer than the socket timeout between reads.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(response.chunk().await.unwrap().unwrap(), "first");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(response.chunk().await.unwrap().unwrap(), "second");
    assert_eq!(response.chunk().await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn the_connect_timeout_reaches_the_real_engine() {
    // Accepts TCP but never answers the TLS handshake.
    let (addr, _held) = common::silent_listener().await;
    let client = Client::builder()
        .engine(HyperEngine::default())
        .timeout(Timeouts::new().connect(Duration::from_secs(4)))
        .build()
        .unwrap();

    let started = Instant::now();
    let err = client
        .get(format!("https://{addr}/"))
        .send()
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}

#[tokio::test]
async fn a_connect_timeout_does_not_disturb_a_healthy_exchange() {
    let server = server::serve(
        MockEngine::new(|_| async { Ok(respond_ok("up")) }),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let client = Client::builder()
        .engine(HyperEngine::default())
        .timeout(
            Timeouts::new()
                .connect(Duration::from_secs(5))
                .request(Duration::from_secs(5)),
        )
        .build()
        .unwrap();

    let text = client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(text, "up");
}

#[tokio::test(start_paused = true)]
async fn an_unbounded_socket_timeout_never_fires_and_never_panics() {
    let engine = MockEngine::new(|_| async { Ok(dribbling(Duration::from_secs(2))) });
    let client = Client::builder()
        .engine(engine)
        .timeout(Timeouts::new().socket(Duration::MAX))
        .build()
        .unwrap();
    let response = client.get("http://api.test/stream").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "firstsecond");
}
