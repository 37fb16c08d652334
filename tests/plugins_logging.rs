//! Logging: levels, redaction and the body cap.

mod common;

use common::log_sink;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::plugins::{Cache, LogLevel, Logging};
use wiretape::{Body, Bytes, Client, Response, StatusCode};

fn client(engine: MockEngine, logging: Logging) -> Client {
    Client::builder()
        .engine(engine)
        .logging(logging)
        .build()
        .unwrap()
}

#[tokio::test]
async fn info_logs_one_line_each_way_without_headers() {
    let (sink, lines) = log_sink();
    let engine =
        MockEngine::new(|_| async { Ok(respond_ok("hello").with_header("x-trace", "t1")) });
    client(engine, Logging::new().logger(sink))
        .get("http://api.test/greet")
        .send()
        .await
        .unwrap();

    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "REQUEST GET http://api.test/greet");
    assert!(
        lines[1].starts_with("RESPONSE 200 OK from GET http://api.test/greet in "),
        "{}",
        lines[1]
    );
    assert!(!lines[1].contains("x-trace"));
}

#[tokio::test]
async fn credential_headers_are_redacted() {
    let (sink, lines) = log_sink();
    let engine = MockEngine::new(|_| async {
        Ok(respond_ok("")
            .with_header("set-cookie", "session=abc123")
            .with_header("x-api-key", "k-999"))
    });
    client(
        engine,
        Logging::new()
            .level(LogLevel::Headers)
            .sanitize_header("x-api-key")
            .logger(sink),
    )
    .get("http://api.test/")
    .basic_auth("ada", Some("pw"))
    .header("cookie", "session=abc123")
    .header("x-api-key", "k-999")
    .header("accept", "text/plain")
    .send()
    .await
    .unwrap();

    let log = lines.lock().unwrap().join("\n");
    for secret in ["YWRhOnB3", "abc123", "k-999"] {
        assert!(!log.contains(secret), "{secret} leaked:\n{log}");
    }
    assert!(log.contains("> authorization: <redacted>"), "{log}");
    assert!(log.contains("> cookie: <redacted>"), "{log}");
    assert!(log.contains("< set-cookie: <redacted>"), "{log}");
    assert!(log.contains("> accept: text/plain"), "{log}");
}

#[tokio::test]
async fn bodies_are_logged_up_to_the_limit_even_when_streamed() {
    let (sink, lines) = log_sink();
    let engine = MockEngine::new(|_| async {
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from("0123456789")),
            Ok(Bytes::from("abcdefghij")),
        ];
        Ok(Response::new(StatusCode::OK)
            .with_body(Body::from_stream(futures_util::stream::iter(chunks))))
    });
    let response = client(
        engine,
        Logging::new()
            .level(LogLevel::Body)
            .body_limit(12)
            .logger(sink),
    )
    .post("http://api.test/echo")
    .body("request body text")
    .send()
    .await
    .unwrap();
    assert_eq!(response.text().await.unwrap(), "0123456789abcdefghij");

    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains("BODY (17 bytes): request body …(truncated)"),
        "{log}"
    );
    assert!(
        log.contains(
            "RESPONSE BODY of POST http://api.test/echo\nBODY (20 bytes): 0123456789ab …(truncated)"
        ),
        "{log}"
    );
}

#[tokio::test]
async fn failures_and_cache_hits_are_logged() {
    let (sink, lines) = log_sink();
    let engine = MockEngine::new(|request: wiretape::Request| async move {
        match request.url().path() {
            "/cached" => Ok(respond_ok("x").with_header("cache-control", "max-age=60")),
            _ => Err(wiretape::Error::reset(request.to_string(), "reset by peer")),
        }
    });
    let client = Client::builder()
        .engine(engine)
        .logging(Logging::new().logger(sink))
        .cache(Cache::new())
        .build()
        .unwrap();
    client
        .get("http://api.test/cached")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    client.get("http://api.test/cached").send().await.unwrap();
    client
        .get("http://api.test/broken")
        .send()
        .await
        .unwrap_err();

    let lines = lines.lock().unwrap();
    assert!(lines[3].ends_with("(from cache)"), "{lines:?}");
    assert!(
        lines[5].starts_with("FAILED GET http://api.test/broken after "),
        "{lines:?}"
    );
    assert!(lines[5].contains("reset by peer"), "{lines:?}");
}

#[tokio::test]
async fn level_none_logs_nothing() {
    let (sink, lines) = log_sink();
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    client(engine, Logging::new().level(LogLevel::None).logger(sink))
        .get("http://api.test/")
        .send()
        .await
        .unwrap();
    assert!(lines.lock().unwrap().is_empty());
}
