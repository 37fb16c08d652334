//! Every responder, through the full client, in virtual time.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use wiretape::mock::matchers::*;
use wiretape::mock::responders::*;
use wiretape::mock::{Route, Router};
use wiretape::{ConnectFailure, Error, ErrorKind, Response, StatusCode, TimeoutKind};

use crate::{client, get_text};

#[tokio::test]
async fn status_headers_and_bodies() {
    let router = Router::new();
    router.mock(Route::given(path("/text")).respond_with(text("hi").with_header("x-a", "1")));
    router.mock(Route::given(path("/bytes")).respond_with(bytes(vec![0u8, 1, 2])));
    router.mock(
        Route::given(path("/json")).respond_with(
            json(&json!({"id": 7}))
                .with_status(201)
                .with_header("location", "/json/7"),
        ),
    );
    router.mock(Route::given(path("/gone")).respond_with(status(410)));
    let client = client(&router);

    let r = client.get("/text").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.headers()["x-a"], "1");
    assert_eq!(r.text().await.unwrap(), "hi");

    let r = client.get("/bytes").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(&r.bytes().await.unwrap()[..], &[0, 1, 2]);

    let r = client.get("/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/json/7");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"id": 7})
    );

    let r = client.get("/gone").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn changing_one_answers_headers_leaves_the_next_answer_as_the_route_says() {
    let router = Router::new();
    router.mock(Route::given(path("/a")).respond_with(text("hi").with_header("x-a", "1")));
    let client = client(&router);

    let mut first = client.get("/a").send().await.unwrap();
    first
        .headers_mut()
        .insert("x-a", "changed".parse().unwrap());
    first.headers_mut().insert("x-b", "added".parse().unwrap());
    assert_eq!(first.headers()["x-a"], "changed");

    let second = client.get("/a").send().await.unwrap();
    assert_eq!(second.headers()["x-a"], "1");
    assert!(second.headers().get("x-b").is_none());
    assert_eq!(
        second.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn files_are_read_once_and_typed_by_extension() {
    let dir = std::env::temp_dir().join(format!("wiretape-router-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file_path = dir.join("user.json");
    std::fs::write(&file_path, r#"{"name":"Ada"}"#).unwrap();

    let router = Router::new();
    router.mock(Route::given(path("/user")).respond_with(file(&file_path)));
    router.mock(Route::given(path("/fixture")).respond_with(file("fixtures/routes/users.json")));
    router.mock(Route::given(path("/missing")).respond_with(file(dir.join("nope.txt"))));
    let client = client(&router);

    let first = client.get("/user").send().await.unwrap();
    assert_eq!(first.headers()["content-type"], "application/json");
    assert_eq!(first.text().await.unwrap(), r#"{"name":"Ada"}"#);
    std::fs::write(&file_path, "changed").unwrap();
    let second = get_text(&client, "/user").await;
    assert_eq!(
        second, r#"{"name":"Ada"}"#,
        "the file was cached on first use"
    );

    let fixture: serde_json::Value = client
        .get("/fixture")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fixture[0]["name"], "Ada Lovelace");

    let err = client.get("/missing").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("nope.txt"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn closures_build_bodies_from_the_request_and_captures() {
    let router = Router::new();
    router.mock(
        Route::given(method("GET"))
            .and(path("/users/{id}/files/{*rest}"))
            .respond_with(
                from_fn(|request, params| {
                    Response::new(StatusCode::OK).with_body(format!(
                        "{} id={} rest={} q={}",
                        request.method(),
                        params.get("id").unwrap_or("-"),
                        params.get("rest").unwrap_or("-"),
                        request.url().query().unwrap_or("")
                    ))
                })
                .with_header("x-built", "yes"),
            ),
    );
    let r = client(&router)
        .get("/users/a%20b/files/x/y.txt?z=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-built"], "yes");
    assert_eq!(r.text().await.unwrap(), "GET id=a b rest=x/y.txt q=z=1");
}

#[tokio::test(start_paused = true)]
async fn delays_run_on_tokio_time() {
    let router = Router::new();
    router.mock(
        Route::given(path("/slow")).respond_with(text("late").with_delay(Duration::from_secs(30))),
    );
    let start = Instant::now();
    let body = client(&router)
        .get("/slow")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "late");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn errors_have_the_right_kind_and_hang_ends_with_the_client_timeout() {
    let router = Router::new();
    router.mock(
        Route::given(path("/reset"))
            .respond_with(reset())
            .named("resetter"),
    );
    router.mock(Route::given(path("/refused")).respond_with(refused()));
    router.mock(Route::given(path("/hang")).respond_with(hang()));
    router.mock(
        Route::given(path("/late-reset")).respond_with(reset().with_delay(Duration::from_secs(2))),
    );
    let client = client(&router);

    let err = client.get("/reset").send().await.unwrap_err();
    assert!(matches!(err, Error::ConnectionReset { .. }), "{err:?}");
    assert!(err.to_string().contains("route \"resetter\""), "{err}");

    let err = client.get("/refused").send().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect {
                reason: ConnectFailure::Refused,
                ..
            }
        ),
        "{err:?}"
    );

    let start = Instant::now();
    let err = client
        .get("/hang")
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                timeout: TimeoutKind::Request,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(5));

    let start = Instant::now();
    assert_eq!(
        client.get("/late-reset").send().await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn streams_and_server_sent_events_arrive_chunk_by_chunk() {
    let router = Router::new();
    router.mock(
        Route::given(path("/chunks"))
            .respond_with(stream(["a", "b", "c"], Duration::from_millis(100))),
    );
    router.mock(
        Route::given(path("/events"))
            .respond_with(sse(["one", "two\nlines"], Duration::from_secs(1))),
    );
    let client = client(&router);

    let start = Instant::now();
    let mut response = client.get("/chunks").send().await.unwrap();
    let mut seen = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        seen.push((String::from_utf8(chunk.to_vec()).unwrap(), start.elapsed()));
    }
    assert_eq!(
        seen,
        vec![
            ("a".to_owned(), Duration::ZERO),
            ("b".to_owned(), Duration::from_millis(100)),
            ("c".to_owned(), Duration::from_millis(200)),
        ]
    );

    let events = client.get("/events").send().await.unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    assert_eq!(
        events.text().await.unwrap(),
        "data: one\n\ndata: two\ndata: lines\n\n"
    );
}

#[tokio::test]
async fn sequences_repeat_the_last_answer_cycle_or_fail() {
    let router = Router::new();
    router.mock(Route::given(path("/repeat")).respond_with(sequence([status(503), text("ok")])));
    router.mock(
        Route::given(path("/cycle"))
            .respond_with(sequence_then([text("a"), text("b")], AfterLast::Cycle)),
    );
    router.mock(
        Route::given(path("/fail"))
            .named("one shot")
            .respond_with(sequence_then([text("only")], AfterLast::Fail)),
    );
    let client = client(&router);

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            client
                .get("/repeat")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [503, 200, 200]);

    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(get_text(&client, "/cycle").await);
    }
    assert_eq!(bodies, ["a", "b", "a"]);

    assert_eq!(get_text(&client, "/fail").await, "only");
    let err = client.get("/fail").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRoute);
    assert!(
        err.to_string()
            .contains("answered all 1 answers of its sequence"),
        "{err}"
    );
}

#[tokio::test]
async fn scenarios_script_503_503_then_200() {
    let router = Router::new();
    let flaky = |when: &str| {
        Route::given(method("GET"))
            .and(path("/flaky"))
            .in_scenario("retry")
            .when_state(when)
    };
    router.mock(
        flaky("Started")
            .will_set_state("failed once")
            .respond_with(status(503)),
    );
    router.mock(
        flaky("failed once")
            .will_set_state("recovered")
            .respond_with(status(503)),
    );
    router.mock(flaky("recovered").respond_with(text("ok")));
    let client = client(&router);

    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(client.get("/flaky").send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 200, 200]);
    assert_eq!(router.scenario_state("retry"), "recovered");

    router.set_scenario_state("retry", "Started");
    assert_eq!(client.get("/flaky").send().await.unwrap().status(), 503);
}

#[test]
fn bad_responder_input_is_a_problem_not_a_panic() {
    assert!(
        text("x")
            .with_header("bad header", "v")
            .problem()
            .unwrap()
            .contains("not a valid header name")
    );
    assert!(
        text("x")
            .with_header("x-ok", "line\nbreak")
            .problem()
            .unwrap()
            .contains("not a valid value")
    );
    assert!(
        sequence([])
            .problem()
            .unwrap()
            .contains("at least one answer")
    );
    assert!(
        sequence([status(99)])
            .problem()
            .unwrap()
            .contains("invalid status")
    );
}
