//! The real engine against local servers on 127.0.0.1: HTTP/1.1, HTTP/2,
//! HTTPS, pooling, bodies, streaming and error kinds.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiretape::engine::{BoxFuture, Capabilities, Engine, HyperEngine};
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::server::{self, Server};
use wiretape::{Body, Client, ErrorKind, Form, Part, Request, Response, StatusCode, Version};

use common::{echo_engine, tls_material, trusting_client};

fn plain_client() -> Client {
    Client::builder()
        .engine(HyperEngine::builder().native_roots(false).build().unwrap())
        .build()
        .unwrap()
}

/// A client over the real engine that speaks HTTP/2 by prior knowledge.
fn h2_client() -> Client {
    let engine = HyperEngine::builder()
        .native_roots(false)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    Client::builder().engine(engine).build().unwrap()
}

#[tokio::test]
async fn http1_round_trip_reports_status_headers_version_and_url() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let response = plain_client()
        .get(server.url("/hello?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.headers()["x-echo-method"], "GET");
    assert_eq!(response.headers()["x-echo-target"], "/hello?x=1");
    assert_eq!(response.headers()["x-echo-version"], "HTTP/1.1");
    assert_eq!(response.url().as_str(), server.url("/hello?x=1"));
    server.shutdown().await;
}

#[tokio::test]
async fn http2_prior_knowledge_speaks_h2_end_to_end() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let response = h2_client()
        .post(server.url("/h2"))
        .body("over h2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.headers()["x-echo-version"], "HTTP/2.0");
    assert_eq!(response.text().await.unwrap(), "over h2");
}

#[tokio::test]
async fn concurrent_http2_requests_share_one_connection() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let client = h2_client();
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let (client, url) = (client.clone(), server.url(&format!("/h2/{i}")));
            tokio::spawn(async move { client.get(url).send().await.unwrap().version() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), Version::HTTP_2);
    }
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn https_with_a_private_root_negotiates_h2_by_alpn() {
    let (tls, cert) = tls_material();
    let server = Server::new()
        .tls(tls)
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    assert!(server.url("/").starts_with("https://"));
    let client = trusting_client(&cert);
    let response = client.get(server.url("/secure")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.headers()["x-echo-target"], "/secure");
}

#[tokio::test]
async fn https_to_an_http1_only_server_uses_http1() {
    let (tls, cert) = tls_material();
    let server = Server::new()
        .http1_only()
        .tls(tls)
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let response = trusting_client(&cert)
        .get(server.url("/one"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let (tls, _cert) = tls_material();
    let server = Server::new()
        .tls(tls)
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let err = plain_client()
        .get(server.url("/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.to_string().contains("UnknownIssuer") || err.to_string().contains("certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_malformed_root_certificate_is_a_clear_error() {
    let err = HyperEngine::builder()
        .add_root_certificate_pem(b"not a pem")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no CERTIFICATE block"), "{err}");
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let client = plain_client();
    for i in 0..25 {
        let response = client
            .get(server.url(&format!("/n/{i}")))
            .send()
            .await
            .unwrap();
        // Reading the body to its end returns the connection to the pool.
        response.bytes().await.unwrap();
    }
    assert_eq!(server.connections_accepted(), 1);
}

/// A server that answers each request as if it kept the connection alive,
/// then closes it: what a server's idle timeout does to a pooled
/// connection. Serves `requests` connections, then stops.
async fn closing_after_each_answer(requests: usize) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        for _ in 0..requests {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            read_head(&mut socket).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
            drop(socket);
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_not_an_error() {
    // The engine alone: no retry plugin above it to hide a failure.
    let (addr, accepted) = closing_after_each_answer(5).await;
    let engine = HyperEngine::builder()
        .native_roots(false)
        .no_proxy()
        .build()
        .unwrap();
    for _ in 0..5 {
        let request = Request::new(
            wiretape::Method::GET,
            format!("http://{addr}/again").parse().unwrap(),
        );
        let response = engine.execute(request).await.expect("answered");
        assert_eq!(response.bytes().await.unwrap(), "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn clones_of_a_client_share_the_pool() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let client = plain_client();
    for _ in 0..5 {
        let clone = client.clone();
        clone
            .get(server.url("/"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn max_connections_per_host_caps_concurrent_connections() {
    // Each request is held by the server until several are in flight at once,
    // so without the cap the client would open one connection per request.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let engine = {
        let (in_flight, peak) = (in_flight.clone(), peak.clone());
        MockEngine::new(move |_| {
            let (in_flight, peak) = (in_flight.clone(), peak.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(respond_ok("done"))
            }
        })
    };
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let engine = HyperEngine::builder()
        .native_roots(false)
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let client = Client::builder().engine(engine).build().unwrap();
    let calls = (0..10).map(|_| {
        let client = client.clone();
        let url = server.url("/slow");
        tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() })
    });
    for call in calls {
        assert_eq!(call.await.unwrap(), "done");
    }
    assert!(
        server.connections_accepted() <= 2,
        "opened {} connections",
        server.connections_accepted()
    );
    assert!(peak.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn json_form_and_query_arrive_intact() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let client = plain_client();

    let value = serde_json::json!({"name": "Ada", "tags": ["a", "b"], "n": 1.5});
    let response = client
        .post(server.url("/json"))
        .json(&value)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed, value);

    let response = client
        .post(server.url("/form"))
        .form(&[("user", "ada lovelace"), ("note", "1+1=2&more")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        response.text().await.unwrap(),
        "user=ada+lovelace&note=1%2B1%3D2%26more"
    );

    let response = client
        .get(server.url("/search?fixed=1"))
        .query(&[("q", "a b&c=d/é"), ("empty", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["x-echo-target"],
        "/search?fixed=1&q=a+b%26c%3Dd%2F%C3%A9&empty="
    );
}

#[tokio::test]
async fn multipart_text_and_file_parts_arrive_intact() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let file_bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let form = Form::new().text("title", "holiday \"photos\"").part(
        "photo",
        Part::bytes(file_bytes.clone())
            .file_name("beach.bin")
            .mime("image/x-test"),
    );
    let response = plain_client()
        .post(server.url("/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let boundary = multer::parse_boundary(&content_type).unwrap();
    let body = response.bytes().await.unwrap();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);

    let title = multipart.next_field().await.unwrap().unwrap();
    assert_eq!(title.name(), Some("title"));
    assert_eq!(title.file_name(), None);
    assert_eq!(title.text().await.unwrap(), "holiday \"photos\"");

    let photo = multipart.next_field().await.unwrap().unwrap();
    assert_eq!(photo.name(), Some("photo"));
    assert_eq!(photo.file_name(), Some("beach.bin"));
    assert_eq!(
        photo.content_type().map(|m| m.to_string()).as_deref(),
        Some("image/x-test")
    );
    assert_eq!(photo.bytes().await.unwrap(), file_bytes);

    assert!(multipart.next_field().await.unwrap().is_none());
}

const FIFTY_MB: u64 = 50 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// An engine for the server side that streams `FIFTY_MB` of zeros out, and
/// counts the bytes of a streamed upload without keeping them.
struct Streamer {
    largest_upload_chunk: Arc<AtomicUsize>,
}

impl Engine for Streamer {
    fn execute(&self, mut request: Request) -> BoxFuture<'_, wiretape::Result<Response>> {
        Box::pin(async move {
            if request.method() == "PUT" {
                let mut chunks = request.take_body().into_stream();
                let mut total = 0u64;
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk?;
                    self.largest_upload_chunk
                        .fetch_max(chunk.len(), Ordering::SeqCst);
                    total += chunk.len() as u64;
                }
                return Ok(respond_ok(total.to_string()));
            }
            let zeros = Bytes::from(vec![0u8; CHUNK]);
            let count = (FIFTY_MB as usize) / CHUNK;
            let stream = futures_util::stream::iter(
                (0..count).map(move |_| Ok::<_, std::io::Error>(zeros.clone())),
            );
            Ok(Response::new(StatusCode::OK).with_body(Body::from_stream(stream)))
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none().with_streaming()
    }
}

#[tokio::test]
async fn fifty_megabytes_stream_both_ways_without_being_buffered() {
    let largest_upload_chunk = Arc::new(AtomicUsize::new(0));
    let server = server::serve(
        Streamer {
            largest_upload_chunk: largest_upload_chunk.clone(),
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let client = plain_client();

    // Download: read chunk by chunk; no chunk is anywhere near the whole body.
    let mut response = client.get(server.url("/big")).send().await.unwrap();
    assert!(response.body().is_stream());
    let (mut total, mut largest) = (0u64, 0usize);
    while let Some(chunk) = response.chunk().await.unwrap() {
        total += chunk.len() as u64;
        largest = largest.max(chunk.len());
    }
    assert_eq!(total, FIFTY_MB);
    assert!(largest <= 1024 * 1024, "largest chunk was {largest} bytes");

    // Upload: a streamed request body, counted on the server as it arrives.
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let upload = futures_util::stream::iter(0..(FIFTY_MB as usize / CHUNK)).map(move |_| {
        counter.fetch_add(CHUNK as u64, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![7u8; CHUNK]))
    });
    let response = client
        .put(server.url("/upload"))
        .body(Body::from_stream(upload))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), FIFTY_MB.to_string());
    assert_eq!(sent.load(Ordering::SeqCst), FIFTY_MB);
    assert!(largest_upload_chunk.load(Ordering::SeqCst) <= 1024 * 1024);
}

#[tokio::test]
async fn connection_refused_is_its_own_kind() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = plain_client()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert!(err.kind().is_before_request_sent());
    assert!(
        err.to_string().contains(&format!("GET http://{addr}/")),
        "{err}"
    );
}

/// Reads from `socket` until a request head has arrived (or it closes).
async fn read_head(socket: &mut tokio::net::TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A raw TCP server that reads a request head, optionally writes `reply`,
/// then resets the connection (SO_LINGER 0 makes close send RST).
async fn resetting_server(reply: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: the test makes one request.
        if let Ok((mut socket, _)) = listener.accept().await {
            read_head(&mut socket).await;
            if !reply.is_empty() {
                let _ = socket.write_all(reply).await;
                let _ = socket.flush().await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            socket.set_zero_linger().unwrap();
            drop(socket);
        }
    });
    addr
}

#[tokio::test]
async fn a_reset_before_the_response_is_a_connection_reset() {
    let addr = resetting_server(b"").await;
    let err = plain_client()
        .get(format!("http://{addr}/flaky"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(!err.kind().is_before_request_sent());
}

#[tokio::test]
async fn a_reset_mid_body_fails_the_body_read_as_a_reset() {
    let addr = resetting_server(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly ten b").await;
    let response = plain_client()
        .get(format!("http://{addr}/cut"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let err = response.bytes().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[tokio::test]
async fn engine_errors_reach_socket_clients_as_a_real_server_would_show_them() {
    let engine = MockEngine::new(|request| async move {
        match request.url().path() {
            "/reset" => Err(wiretape::Error::reset(
                request.to_string(),
                "scripted reset",
            )),
            _ => Err(wiretape::Error::NoRoute(Box::new(wiretape::NoRoute::new(
                request.to_string(),
                "nothing matches",
            )))),
        }
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let client = plain_client();
    let err = client.get(server.url("/reset")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    let response = client.get(server.url("/nothing")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-wiretape-error"], "no_route");
    assert!(response.text().await.unwrap().contains("nothing matches"));
}

#[tokio::test]
async fn shutdown_stops_accepting_connections() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let url = server.url("/");
    plain_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    server.shutdown().await;
    let err = plain_client().get(&url).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_exchange_under_way_and_closes_idle_connections_at_once() {
    let engine = MockEngine::new(|request| async move {
        if request.url().path() == "/slow" {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        Ok(respond_ok("done"))
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let connect = || tokio::net::TcpStream::connect(server.local_addr());
    // One keep-alive connection idle after an exchange, one mid-exchange.
    let mut idle = connect().await.unwrap();
    idle.write_all(b"GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    read_head(&mut idle).await;
    let mut busy = connect().await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let started = tokio::time::Instant::now();
    let reads = async {
        let mut rest = Vec::new();
        let idle_end = idle.read_to_end(&mut rest).await.map(|_| rest);
        let mut answer = Vec::new();
        busy.read_to_end(&mut answer).await.unwrap();
        (idle_end, String::from_utf8_lossy(&answer).into_owned())
    };
    let ((idle_end, answer), ()) = tokio::join!(reads, server.shutdown());
    // The idle connection is closed without an answer; the busy one gets
    // its whole answer, marked as the last on its connection.
    assert_eq!(idle_end.unwrap(), b"", "the idle connection just closes");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("done"), "{answer:?}");
    assert!(answer.contains("connection: close"), "{answer:?}");
    // Gone when the slow answer is, well before the 5 s grace.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_connect_that_never_completes_is_a_connect_timeout() {
    // A listener that never accepts, with its queue filled: Linux drops further
    // SYNs, so the next connect hangs until the client gives up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        // Some of these complete into the queue, the rest hang: either fills it.
        if let Ok(Ok(stream)) = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(stream);
        }
    }
    let engine = HyperEngine::builder()
        .native_roots(false)
        .connect_timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    // The request timeout only guards against a kernel that queues more than
    // expected: the test then fails instead of hanging.
    let client = Client::builder()
        .engine(engine)
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
    assert!(err.kind().is_before_request_sent());
    drop(listener);
}

#[tokio::test]
async fn a_request_with_an_unusable_host_header_gets_a_400() {
    let server = server::serve(common::echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    // A space cannot be in a URL; a slash would move the path the engine sees.
    for host in ["a b", "api.test/admin?"] {
        let mut stream = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        let head = format!("GET /x HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 400"), "{host}: {reply:?}");
        assert!(
            reply.contains("x-wiretape-error: invalid_input"),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn head_requests_get_the_length_but_no_body_over_h1_and_h2() {
    let engine = MockEngine::new(|request: Request| async move {
        if request.url().path() == "/full" {
            return Ok(respond_ok("full"));
        }
        let chunks =
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("streamed"))]);
        Ok(Response::new(StatusCode::OK)
            .with_header("content-length", "8")
            .with_body(Body::from_stream(chunks)))
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    for (h2, client) in [(false, plain_client()), (true, h2_client())] {
        for _ in 0..2 {
            let response = client.head(server.url("/")).send().await.unwrap();
            assert_eq!(response.status(), 200, "h2: {h2}");
            assert_eq!(response.headers()["content-length"], "8", "h2: {h2}");
            assert_eq!(response.bytes().await.unwrap(), "", "h2: {h2}");
        }
        let response = client.head(server.url("/full")).send().await.unwrap();
        assert_eq!(response.headers()["content-length"], "4", "h2: {h2}");
        assert_eq!(response.bytes().await.unwrap(), "", "h2: {h2}");
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "streamed", "h2: {h2}");
    }
}

#[tokio::test]
async fn a_reset_over_http2_is_a_connection_reset() {
    let engine = MockEngine::new(|request| async move {
        Err(wiretape::Error::reset(
            request.to_string(),
            "scripted reset",
        ))
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let err = h2_client()
        .get(server.url("/reset"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_response_still_streaming_after_the_grace_period() {
    let engine = MockEngine::new(|_| async {
        let endless = futures_util::stream::unfold(0u64, |n| async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(format!("event {n}\n"))),
                n + 1,
            ))
        });
        Ok(Response::new(StatusCode::OK).with_body(Body::from_stream(endless)))
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let mut response = plain_client()
        .get(server.url("/events"))
        .send()
        .await
        .unwrap();
    assert!(response.chunk().await.unwrap().is_some());

    server.shutdown().await;
    // The server is gone: the stream ends (cut off) instead of going on.
    let mut ended = false;
    for _ in 0..1000 {
        match response.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the stream outlived the server");
}

#[tokio::test]
async fn server_urls_for_a_path_without_its_slash_still_point_at_the_server() {
    let server = server::serve(echo_engine(), "127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    assert_eq!(
        server.url("users?page=2"),
        format!("http://{addr}/users?page=2")
    );
    assert_eq!(server.ws_url("chat"), format!("ws://{addr}/chat"));
    assert_eq!(server.url("/users"), format!("http://{addr}/users"));
}

#[tokio::test]
async fn hop_by_hop_request_headers_stop_at_the_server() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let server = server::serve(engine.clone(), "127.0.0.1:0").await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let head = "GET /x HTTP/1.1\r\nhost: api.test\r\nconnection: close, x-hop\r\n\
                keep-alive: timeout=5\r\nte: trailers\r\nx-hop: 1\r\nx-end-to-end: 2\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");

    let seen = &engine.request_history()[0];
    for name in ["connection", "keep-alive", "te", "x-hop"] {
        assert!(
            !seen.headers().contains_key(name),
            "{name} reached the engine"
        );
    }
    assert_eq!(seen.headers()["x-end-to-end"], "2");
}

#[tokio::test]
async fn a_reset_during_the_tls_handshake_is_a_connect_failure_safe_to_retry() {
    // Reads the ClientHello, then resets: nothing of the request was sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut hello = [0u8; 1024];
            let _ = socket.read(&mut hello).await;
            socket.set_zero_linger().unwrap();
        }
    });
    let err = plain_client()
        .post(format!("https://127.0.0.1:{}/payments", addr.port()))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.kind().is_before_request_sent(),
        "so Retry may resend even a POST"
    );
    assert!(err.to_string().contains("while connecting"), "{err}");
}
