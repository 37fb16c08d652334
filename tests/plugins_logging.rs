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

/// Collects `(target, message and fields)` of every `tracing` event.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0.insert_str(0, &format!("{value:?}"));
                } else {
                    self.0.push_str(&format!(" {}={value:?}", field.name()));
                }
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        let target = event.metadata().target().to_owned();
        self.0.lock().unwrap().push((target, text.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn without_a_logger_entries_and_retries_go_to_tracing() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async {
                let engine = common::scripted(vec![
                    || {
                        Ok(wiretape::mock::respond_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                        ))
                    },
                    || Ok(respond_ok("ok")),
                ]);
                let client = Client::builder()
                    .engine(engine)
                    .logging(Logging::new().level(LogLevel::Headers))
                    .retry(wiretape::plugins::Retry::new())
                    .build()
                    .unwrap();
                client
                    .get("http://api.test/")
                    .bearer_auth("s3cret")
                    .send()
                    .await
                    .unwrap();
            });
    });

    let events = capture.0.lock().unwrap();
    let http: Vec<&String> = events
        .iter()
        .filter(|(t, _)| t == "wiretape::http")
        .map(|(_, m)| m)
        .collect();
    let retry: Vec<&String> = events
        .iter()
        .filter(|(t, _)| t == "wiretape::retry")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(http.len(), 2, "{events:?}");
    assert!(
        http[0].starts_with("REQUEST GET http://api.test/"),
        "{}",
        http[0]
    );
    assert!(
        http[0].contains("authorization: <redacted>") && !http[0].contains("s3cret"),
        "{}",
        http[0]
    );
    assert!(http[1].starts_with("RESPONSE 200 OK"), "{}", http[1]);
    assert_eq!(retry.len(), 1, "{events:?}");
    assert!(retry[0].starts_with("retrying"), "{}", retry[0]);
    assert!(
        retry[0].contains("attempt=1") && retry[0].contains("delay=1s"),
        "{}",
        retry[0]
    );
}

#[tokio::test]
async fn a_password_in_the_url_never_reaches_the_log_or_an_error() {
    let (sink, lines) = log_sink();
    let engine = MockEngine::new(|request| async move {
        Err(wiretape::Error::reset(
            request.to_string(),
            "scripted reset",
        ))
    });
    let err = client(engine, Logging::new().logger(sink))
        .get("http://ada:s3cret@api.test/me")
        .send()
        .await
        .unwrap_err();

    let log = lines.lock().unwrap().join("\n");
    assert!(!log.contains("s3cret"), "{log}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(
        log.contains("REQUEST GET http://ada:***@api.test/me"),
        "{log}"
    );

    // Nor an error for the status.
    let engine = MockEngine::new(|_| async { Ok(wiretape::mock::respond_bad_request()) });
    let response = client(engine, Logging::new())
        .get("http://ada:s3cret@api.test/me")
        .send()
        .await
        .unwrap();
    let err = response.error_for_status().await.unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
