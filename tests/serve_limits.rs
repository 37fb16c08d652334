//! `serve` against hostile and broken clients: stalled heads (slowloris),
//! stalled and malformed bodies, and more connections than the cap.
//! Raw TCP on 127.0.0.1, so that each test sends exactly the bytes it means.

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wiretape::server::{Server, ServerHandle};
use wiretape::{Client, StatusCode};

/// Everything the server sends until it closes (or `limit` passes, in
/// tokio's clock), as text.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut reply = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&reply).into_owned())
}

/// A complete request head, which the echo answers with an empty body.
const FIRST: &[u8] = b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n";

/// `engine` served with a header-read timeout of `secs` seconds.
async fn with_header_timeout(secs: u64, engine: impl wiretape::engine::Engine) -> ServerHandle {
    Server::new()
        .header_read_timeout(Duration::from_secs(secs))
        .serve(engine, "127.0.0.1:0")
        .await
        .unwrap()
}

/// A raw connection to `server` that has sent `bytes`.
async fn sent(server: &ServerHandle, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

#[tokio::test(start_paused = true)]
async fn stalled_heads_are_closed_by_the_header_timeout_while_a_normal_client_is_served() {
    let server = with_header_timeout(10, common::echo_engine()).await;
    let started = Instant::now();
    // Half a request head, a head missing its blank line, and nothing at all.
    let mut stalled = Vec::new();
    for n in 0..30 {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        let partial: &[u8] = match n % 3 {
            0 => b"GET /slow HTTP/1.1\r\nHost: loris",
            1 => b"GET /slow HTTP/1.1\r\nHost: loris\r\n",
            _ => b"",
        };
        stream.write_all(partial).await.unwrap();
        stalled.push(stream);
    }

    let client = Client::new();
    let response = client.get(server.url("/normal")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-echo-target"], "/normal");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the normal client was served while the stalled ones were open"
    );

    for (n, stream) in stalled.iter_mut().enumerate() {
        let reply = read_until_closed(stream, Duration::from_secs(60)).await;
        assert!(reply.is_some(), "stalled connection {n} was never closed");
        assert!(
            !reply.unwrap().contains("200 OK"),
            "stalled connection {n} was not answered as if complete"
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(20),
        "closed after the 10 s header timeout, not before and not much later: {waited:?}"
    );
    // And the server still serves.
    let again = client.get(server.url("/after")).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_by_the_header_timeout() {
    let server = with_header_timeout(5, common::echo_engine()).await;
    let mut stream = sent(&server, FIRST).await;
    let reply = read_until_closed(&mut stream, Duration::from_secs(60))
        .await
        .expect("closed after the idle timeout");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_counts_from_the_last_answer_not_the_first() {
    let server = with_header_timeout(5, common::echo_engine()).await;
    let mut stream = sent(&server, FIRST).await;
    let mut buf = [0u8; 4096];
    // Each exchange 4 s after the last: within the limit every time.
    for n in 0..3 {
        let read = stream.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..read]);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "exchange {n}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        stream.write_all(FIRST).await.unwrap();
    }
    let read = stream.read(&mut buf).await.unwrap();
    assert!(buf[..read].starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(60))
        .await
        .expect("closed after the idle timeout");
    assert_eq!(rest, "", "nothing more is sent");
    let idle = answered.elapsed();
    assert!(
        idle >= Duration::from_secs(5) && idle < Duration::from_secs(6),
        "closed 5 s after the last answer: {idle:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_request_body_gets_a_408_that_says_so() {
    let server = Server::new()
        .body_idle_timeout(Duration::from_secs(3))
        .serve(common::echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly this")
        .await
        .unwrap();
    let reply = read_until_closed(&mut stream, Duration::from_secs(60))
        .await
        .expect("answered and closed");
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
    assert!(
        reply.contains("x-wiretape-error: socket_timeout"),
        "{reply:?}"
    );
    assert!(
        reply.contains("the request body of POST http://a/upload stalled"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_malformed_chunked_body_is_the_clients_400_not_a_502() {
    let router = wiretape::mock::Router::new().with_not_found();
    router.mock(wiretape::mock::Route::given(
        wiretape::mock::matchers::method("POST"),
    ));
    for engine in [
        Box::new(router) as Box<dyn wiretape::engine::Engine>,
        Box::new(common::echo_engine()),
    ] {
        let server = Server::new().serve(engine, "127.0.0.1:0").await.unwrap();
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream
            .write_all(
                b"POST /things HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
                  zz\r\nnot a chunk size\r\n0\r\n\r\n",
            )
            .await
            .unwrap();
        let reply = read_until_closed(&mut stream, Duration::from_secs(30))
            .await
            .expect("answered and closed");
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
        assert!(
            reply.contains("x-wiretape-error: invalid_input"),
            "{reply:?}"
        );
        assert!(
            reply.contains("the request body of POST http://a/things could not be read")
                && reply.to_lowercase().contains("chunk"),
            "the answer says what was wrong: {reply:?}"
        );
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_quickly_and_a_freed_slot_serves_again() {
    let server = Server::new()
        .max_connections(2)
        .serve(common::echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    // Two connections hold both slots (idle, well within the header timeout).
    let first = TcpStream::connect(server.local_addr()).await.unwrap();
    let _second = TcpStream::connect(server.local_addr()).await.unwrap();
    // Give the accept loop the time to take them (bounded, in tokio's clock).
    for _ in 0..100 {
        if server.connections_accepted() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut third = TcpStream::connect(server.local_addr()).await.unwrap();
    third
        .write_all(b"GET /third HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut third, Duration::from_secs(30))
        .await
        .expect("refused and closed, not left waiting");
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply:?}");
    assert!(
        reply.contains("x-wiretape-error: too_many_connections"),
        "{reply:?}"
    );
    assert!(reply.contains("limit is 2"), "{reply:?}");

    drop(first);
    let mut served = None;
    for _ in 0..100 {
        let client = Client::new();
        let response = client.get(server.url("/fourth")).send().await.unwrap();
        if response.status() == StatusCode::OK {
            served = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(served.is_some(), "the freed slot serves a new client");
}

/// Reads until the end of a response head (the echo's GET answers have an
/// empty body), so that the next bytes sent are a second request.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the first answer");
        reply.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test(start_paused = true)]
async fn a_second_head_that_stalls_is_closed_by_the_header_timeout() {
    let server = with_header_timeout(5, common::echo_engine()).await;
    let mut stream = sent(&server, FIRST).await;
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    stream
        .write_all(b"GET /two HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let rest = read_until_closed(&mut stream, Duration::from_secs(60))
        .await
        .expect("closed after the header timeout");
    assert!(
        !rest.contains("HTTP/1.1"),
        "the half head was answered: {rest:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(10),
        "closed about 5 s after the first exchange: {waited:?}"
    );
}

/// `/slow` answers after 20 s; `/stream` sends four chunks 5 s apart. Both
/// outlast a 3 s header timeout.
fn slow_engine() -> wiretape::mock::MockEngine {
    wiretape::mock::MockEngine::new(|request: wiretape::Request| async move {
        if request.url().path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(20)).await;
            return Ok(wiretape::mock::respond_ok("late"));
        }
        let chunks = futures_util::stream::unfold(0, |n| async move {
            if n == 4 {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from(format!("chunk {n}\n"))),
                n + 1,
            ))
        });
        Ok(wiretape::Response::new(StatusCode::OK).with_body(wiretape::Body::from_stream(chunks)))
    })
}

#[tokio::test(start_paused = true)]
async fn the_header_timeout_cuts_off_neither_a_slow_answer_nor_a_long_streamed_body() {
    let server = with_header_timeout(3, slow_engine()).await;
    let client = Client::new();
    let slow = client.get(server.url("/slow")).send().await.unwrap();
    assert_eq!(slow.text().await.unwrap(), "late");
    let streamed = client.get(server.url("/stream")).send().await.unwrap();
    assert_eq!(
        streamed.text().await.unwrap(),
        "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    );
    // One kept-alive connection served both.
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_idle_websocket_outlives_the_header_timeout() {
    let server = with_header_timeout(3, common::ws_echo_engine()).await;
    let mut socket = Client::new().websocket(server.ws_url("/")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    socket.send_text("still here").await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap(),
        Some(wiretape::ws::Frame::text("still here"))
    );
}

#[tokio::test(start_paused = true)]
async fn an_http2_connection_is_kept_between_requests_longer_than_the_header_timeout() {
    let server = with_header_timeout(3, common::echo_engine()).await;
    let engine = wiretape::engine::HyperEngine::builder()
        .native_roots(false)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let client = Client::builder().engine(engine).build().unwrap();
    for _ in 0..2 {
        let response = client.get(server.url("/h2")).send().await.unwrap();
        assert_eq!(response.version(), wiretape::Version::HTTP_2);
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_upgrade_leaves_a_connection_the_header_timeout_still_closes() {
    // No WebSocket handler: the upgrade is answered with an error status
    // and the connection stays HTTP/1.
    let engine = wiretape::mock::MockEngine::new(|_| async { Ok(wiretape::mock::respond_ok("")) });
    let server = with_header_timeout(5, engine).await;
    let upgrade = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let mut stream = sent(&server, upgrade).await;
    let started = Instant::now();
    let reply = read_until_closed(&mut stream, Duration::from_secs(60))
        .await
        .expect("closed after the header timeout");
    assert!(reply.starts_with("HTTP/1.1 "), "{reply:?}");
    assert!(!reply.starts_with("HTTP/1.1 101"), "{reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed about 5 s after the refusal: {:?}",
        started.elapsed()
    );
}
