//! MockEngine (closure, queue, round robin, history, errors, virtual time)
//! and the client behaviour it makes testable without a socket.

use std::time::Duration;

use wiretape::mock::{
    MockEngine, respond, respond_bad_request, respond_error, respond_json, respond_ok,
    respond_redirect,
};
use wiretape::{
    Client, Error, ErrorKind, HeaderMap, Method, Request, Response, StatusCode, TimeoutKind,
};

fn client(engine: MockEngine) -> Client {
    Client::builder()
        .engine(engine)
        .base_url("http://api.test/v1/")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_queue_answers_in_order_then_names_the_unhandled_request() {
    let engine = MockEngine::queue()
        .then(|_| async { Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)) })
        .then(|_| async { Ok(respond_ok("second")) })
        .build();
    let client = client(engine.clone());
    assert_eq!(client.get("a").send().await.unwrap().status(), 503);
    assert_eq!(
        client.get("b").send().await.unwrap().text().await.unwrap(),
        "second"
    );
    let err = client.post("c").body("payload").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRoute);
    let message = err.to_string();
    assert!(message.contains("POST http://api.test/v1/c"), "{message}");
    assert!(
        message.contains("held 2 handler(s) and all were used"),
        "{message}"
    );

    let history = engine.request_history();
    let paths: Vec<_> = history.iter().map(|r| r.url().path().to_owned()).collect();
    assert_eq!(
        paths,
        ["/v1/a", "/v1/b", "/v1/c"],
        "the unhandled request is in the history too"
    );
    assert_eq!(history[2].body().as_bytes().unwrap(), "payload");
    let statuses: Vec<_> = engine
        .response_history()
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(statuses, [503, 200]);
}

#[tokio::test]
async fn round_robin_reuses_handlers() {
    let engine = MockEngine::queue()
        .then(|_| async { Ok(respond_ok("a")) })
        .then(|_| async { Ok(respond_ok("b")) })
        .round_robin()
        .build();
    let client = client(engine);
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(client.get("x").send().await.unwrap().text().await.unwrap());
    }
    assert_eq!(seen, ["a", "b", "a", "b", "a"]);
}

#[tokio::test]
async fn streamed_request_bodies_are_buffered_into_the_history() {
    let engine = MockEngine::new(|request| async move {
        Ok(respond_ok(request.body().as_bytes().unwrap().clone()))
    });
    let chunks = futures_util::stream::iter(
        ["one ", "two ", "three"].map(|s| Ok::<_, std::io::Error>(bytes::Bytes::from(s))),
    );
    let text = client(engine.clone())
        .put("upload")
        .body(wiretape::Body::from_stream(chunks))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "one two three");
    assert_eq!(
        engine.request_history()[0].body().as_bytes().unwrap(),
        "one two three"
    );
}

#[tokio::test]
async fn a_handler_error_reaches_the_caller_with_its_kind() {
    let engine = MockEngine::new(|request| async move {
        Err(Error::reset(request.to_string(), "peer went away"))
    });
    let err = client(engine).get("flaky").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(
        err.to_string().contains("GET http://api.test/v1/flaky"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn handlers_wait_in_virtual_time_and_the_client_timeout_fires_there() {
    let engine = MockEngine::new(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(respond_ok("late"))
    });
    let client = Client::builder()
        .engine(engine)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = client.get("http://slow.test/").send().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                timeout: TimeoutKind::Request,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(10));

    // A per-request timeout overrides the client's.
    let started = tokio::time::Instant::now();
    let response = client
        .get("http://slow.test/")
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "late");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}

#[tokio::test]
async fn response_helpers_build_what_they_say() {
    let mut headers = HeaderMap::new();
    headers.insert("x-a", "1".parse().unwrap());
    let r = respond("made", StatusCode::CREATED, headers);
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-a"], "1");
    assert_eq!(respond_bad_request().status(), 400);
    let r = respond_redirect("/elsewhere");
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/elsewhere");
    let r = respond_json(&serde_json::json!({"ok": true}));
    assert_eq!(r.text().await.unwrap(), r#"{"ok":true}"#);
    let r = respond_error(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.text().await.unwrap(), "Too Many Requests");
}

#[tokio::test]
async fn base_url_default_headers_and_auth_helpers() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let client = Client::builder()
        .engine(engine.clone())
        .base_url("https://api.test/v1/")
        .default_header("x-team", "payments")
        .default_header("accept", "application/json")
        .build()
        .unwrap();
    client.get("users?page=2").send().await.unwrap();
    client
        .get("/health")
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    client
        .get("https://other.test/x")
        .basic_auth("ada", Some("pw"))
        .send()
        .await
        .unwrap();
    client.get("y").bearer_auth("tok").send().await.unwrap();

    let history = engine.request_history();
    assert_eq!(
        history[0].url().as_str(),
        "https://api.test/v1/users?page=2"
    );
    assert_eq!(history[0].headers()["x-team"], "payments");
    assert!(
        history[0].headers()["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("wiretape/")
    );
    assert_eq!(history[1].url().as_str(), "https://api.test/health");
    let accepts: Vec<_> = history[1].headers().get_all("accept").iter().collect();
    assert_eq!(
        accepts,
        ["text/plain"],
        "the request's own header wins over the default"
    );
    assert_eq!(history[2].url().as_str(), "https://other.test/x");
    assert_eq!(history[2].headers()["authorization"], "Basic YWRhOnB3");
    assert!(history[2].headers()["authorization"].is_sensitive());
    assert_eq!(history[3].headers()["authorization"], "Bearer tok");
}

#[tokio::test]
async fn bad_input_is_an_error_that_names_it() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let no_base = Client::builder().engine(engine.clone()).build().unwrap();
    let err = no_base.get("/relative").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("\"/relative\" needs a base URL"),
        "{err}"
    );

    let err = no_base
        .get("http://x.test/")
        .header("bad header", "v")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid header name for GET http://x.test/"),
        "{err}"
    );

    let err = no_base
        .get("http://x.test/")
        .header("x-ok", "line\nbreak")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid value for header x-ok"),
        "{err}"
    );

    let err = Client::builder().base_url("not a url").build().unwrap_err();
    assert!(
        err.to_string().contains("invalid base URL \"not a url\""),
        "{err}"
    );

    let err = no_base.get("ftp://x.test/").websocket().await.unwrap_err();
    assert!(err.to_string().contains("scheme \"ftp\""), "{err}");
    assert!(
        engine.request_history().is_empty(),
        "nothing invalid reached the engine"
    );
}

#[tokio::test]
async fn text_decodes_the_declared_charset() {
    let latin1 = Response::new(StatusCode::OK)
        .with_header("content-type", "text/plain; charset=ISO-8859-1")
        .with_body(vec![0x63, 0x61, 0x66, 0xE9]);
    // Without the `charset` feature text is UTF-8, and the lone 0xE9 is invalid.
    let expected = if cfg!(feature = "charset") {
        "café"
    } else {
        "caf\u{FFFD}"
    };
    assert_eq!(latin1.text().await.unwrap(), expected);
    let utf8_default = Response::new(StatusCode::OK).with_body("café");
    assert_eq!(utf8_default.text().await.unwrap(), "café");
}

#[tokio::test]
async fn json_errors_name_the_url() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("not json")) });
    let err = client(engine)
        .get("data")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(
        err.to_string()
            .contains("JSON response body from http://api.test/v1/data"),
        "{err}"
    );
}

#[tokio::test]
async fn error_for_status_keeps_the_response_readable() {
    let engine = MockEngine::new(|_| async {
        Ok(Response::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_json(&serde_json::json!({"error": "name is required"})))
    });
    let response = client(engine).post("users").send().await.unwrap();
    let err = response.error_for_status().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert!(err.to_string().contains("client error 422"), "{err}");
    assert!(err.to_string().contains("name is required"), "{err}");
    let Error::Status(status) = err else {
        unreachable!()
    };
    assert_eq!(status.status(), 422);
    let body: serde_json::Value = serde_json::from_slice(status.body()).unwrap();
    assert_eq!(body["error"], "name is required");

    let ok = Response::new(StatusCode::OK)
        .error_for_status()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn requests_convert_to_and_from_the_http_crate() {
    let request = http::Request::builder()
        .method("PATCH")
        .uri("https://api.test/items/1?x=y")
        .header("x-a", "b")
        .body("patch")
        .unwrap();
    let ours = Request::try_from(request).unwrap();
    assert_eq!(ours.method(), Method::PATCH);
    assert_eq!(ours.to_string(), "PATCH https://api.test/items/1?x=y");
    let back: http::Request<wiretape::Body> = ours.try_into().unwrap();
    assert_eq!(back.uri(), "https://api.test/items/1?x=y");
    assert_eq!(back.headers()["x-a"], "b");

    let relative = http::Request::builder()
        .uri("/only/a/path")
        .body(())
        .unwrap();
    let err = Request::try_from(relative).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"/only/a/path\" is not an absolute URL"),
        "{err}"
    );
}

#[tokio::test]
async fn the_history_is_a_bounded_ring_with_capped_bodies() {
    let engine = wiretape::mock::MockEngine::new(|request| async move {
        Ok(wiretape::mock::respond_ok(
            request.body().as_bytes().cloned().unwrap_or_default(),
        ))
    })
    .with_history_limit(2)
    .with_history_body_limit(4);
    let client = wiretape::Client::builder()
        .engine(engine.clone())
        .build()
        .unwrap();
    for n in 0..5 {
        let answer = client
            .post(format!("http://x.test/{n}"))
            .body("0123456789")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            answer, "0123456789",
            "the handler and caller see whole bodies"
        );
    }
    let paths: Vec<String> = engine
        .request_history()
        .iter()
        .map(|r| r.url().path().to_owned())
        .collect();
    assert_eq!(paths, ["/3", "/4"]);
    assert_eq!(engine.history_dropped(), 3);
    assert_eq!(
        engine.request_history()[1].body().as_bytes().unwrap(),
        "0123"
    );
    let responses = engine.response_history();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[1].body.as_deref(), Some(&b"0123"[..]));
}
