//! Retry, in virtual time: every delay is asserted against the schedule.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::scripted;
use tokio::time::Instant;
use wiretape::mock::{MockEngine, respond_error, respond_ok};
use wiretape::plugins::{Backoff, GiveUpReason, Retry, RetryAction, RetryEvent, Timeouts};
use wiretape::{Body, Bytes, Client, ConnectFailure, Error, ErrorKind, Response, StatusCode};

fn unavailable() -> wiretape::Result<Response> {
    Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE))
}

fn ok() -> wiretape::Result<Response> {
    Ok(respond_ok("ok"))
}

fn events() -> (
    impl Fn(&RetryEvent) + Send + Sync + 'static,
    Arc<Mutex<Vec<RetryEvent>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (
        move |event: &RetryEvent| sink.lock().unwrap().push(event.clone()),
        seen,
    )
}

fn retrying(engine: &MockEngine, retry: Retry) -> Client {
    Client::builder()
        .engine(engine.clone())
        .retry(retry)
        .build()
        .unwrap()
}

fn exponential_8s_cap_30s() -> Retry {
    Retry::new().max_retries(3).backoff(Backoff::exponential(
        Duration::from_secs(8),
        Duration::from_secs(30),
    ))
}

#[tokio::test(start_paused = true)]
async fn three_retries_wait_exactly_the_capped_exponential_schedule() {
    let engine = scripted(vec![unavailable, unavailable, unavailable, ok]);
    let (hook, seen) = events();
    let client = retrying(&engine, exponential_8s_cap_30s().on_event(hook));

    let started = Instant::now();
    let response = client.get("http://api.test/flaky").send().await.unwrap();

    assert_eq!(response.status(), 200);
    // 8 s, 16 s, then 32 s cut to the 30 s cap.
    assert_eq!(started.elapsed(), Duration::from_secs(8 + 16 + 30));
    assert_eq!(engine.request_history().len(), 4);
    let delays: Vec<RetryAction> = seen.lock().unwrap().iter().map(|e| e.action).collect();
    assert_eq!(
        delays,
        [8, 16, 30].map(|s| RetryAction::RetryAfter(Duration::from_secs(s)))
    );
}

#[tokio::test(start_paused = true)]
async fn when_retries_run_out_the_last_response_is_returned() {
    let engine = scripted(vec![unavailable]);
    let (hook, seen) = events();
    let client = retrying(&engine, exponential_8s_cap_30s().on_event(hook));

    let response = client.get("http://api.test/down").send().await.unwrap();

    assert_eq!(response.status(), 503);
    assert_eq!(engine.request_history().len(), 4);
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.attempt, 4);
    assert_eq!(last.action, RetryAction::GiveUp(GiveUpReason::MaxRetries));
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_replaces_the_backoff() {
    let engine = scripted(vec![
        || Ok(respond_error(StatusCode::TOO_MANY_REQUESTS).with_header("retry-after", "7")),
        ok,
    ]);
    let client = retrying(&engine, exponential_8s_cap_30s());

    let started = Instant::now();
    client.get("http://api.test/limited").send().await.unwrap();

    assert_eq!(started.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_read_against_the_response_date() {
    let engine = scripted(vec![
        || {
            Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)
                .with_header("date", "Wed, 21 Oct 2015 07:28:00 GMT")
                .with_header("retry-after", "Wed, 21 Oct 2015 07:28:12 GMT"))
        },
        ok,
    ]);
    let client = retrying(&engine, exponential_8s_cap_30s());

    let started = Instant::now();
    client
        .get("http://api.test/maintenance")
        .send()
        .await
        .unwrap();

    assert_eq!(started.elapsed(), Duration::from_secs(12));
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_capped() {
    let engine = scripted(vec![
        || Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE).with_header("retry-after", "3600")),
        ok,
    ]);
    let client = retrying(
        &engine,
        exponential_8s_cap_30s().retry_after_cap(Duration::from_secs(45)),
    );

    let started = Instant::now();
    client.get("http://api.test/").send().await.unwrap();

    assert_eq!(started.elapsed(), Duration::from_secs(45));
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_by_default() {
    let engine = scripted(vec![unavailable, ok]);
    let (hook, seen) = events();
    let client = retrying(&engine, exponential_8s_cap_30s().on_event(hook));

    let response = client
        .post("http://api.test/orders")
        .body("{}")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 503);
    assert_eq!(engine.request_history().len(), 1);
    assert_eq!(
        seen.lock().unwrap()[0].action,
        RetryAction::GiveUp(GiveUpReason::NonIdempotent)
    );
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_with_an_idempotency_key_or_when_opted_in() {
    let engine = scripted(vec![unavailable, ok]);
    let client = retrying(&engine, exponential_8s_cap_30s());
    let response = client
        .post("http://api.test/orders")
        .header("idempotency-key", "order-17")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(engine.request_history()[1].body().as_bytes().unwrap(), "{}");

    let engine = scripted(vec![unavailable, ok]);
    let client = retrying(&engine, exponential_8s_cap_30s().retry_non_idempotent(true));
    let response = client
        .patch("http://api.test/orders/17")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_when_the_connection_was_refused() {
    let engine = scripted(vec![
        || {
            Err(Error::connect(
                ConnectFailure::Refused,
                "POST http://api.test/orders",
                "connection refused",
            ))
        },
        ok,
    ]);
    let client = retrying(&engine, exponential_8s_cap_30s());

    let response = client.post("http://api.test/orders").send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn resets_are_retried_and_other_errors_are_not() {
    let engine = scripted(vec![
        || Err(Error::reset("GET http://api.test/", "reset by peer")),
        ok,
    ]);
    let client = retrying(&engine, exponential_8s_cap_30s());
    assert_eq!(
        client
            .get("http://api.test/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let engine = scripted(vec![|| Err(Error::invalid("bad")), ok]);
    let client = retrying(&engine, exponential_8s_cap_30s());
    let err = client.get("http://api.test/").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(engine.request_history().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn each_attempt_has_its_own_timeout_and_the_deadline_bounds_the_call() {
    let engine = MockEngine::new(|_| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok(respond_ok("too late"))
    });
    let client = Client::builder()
        .engine(engine.clone())
        .timeout(Timeouts::new().request(Duration::from_secs(2)))
        .retry(
            Retry::new()
                .max_retries(5)
                .backoff(Backoff::Constant(Duration::from_secs(1)))
                .deadline(Duration::from_secs(7)),
        )
        .build()
        .unwrap();

    let started = Instant::now();
    let err = client.get("http://api.test/slow").send().await.unwrap_err();

    // Attempt 1: 0–2 s (timeout), wait 1 s; attempt 2: 3–5 s, wait 1 s;
    // attempt 3 starts at 6 s and is cut by the deadline at 7 s.
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert_eq!(engine.request_history().len(), 3);
    assert_eq!(err.kind(), ErrorKind::RequestTimeout);
    assert!(err.to_string().contains("after 7s"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_would_end_after_the_deadline_is_not_made() {
    let engine = scripted(vec![unavailable]);
    let (hook, seen) = events();
    let client = retrying(
        &engine,
        exponential_8s_cap_30s()
            .deadline(Duration::from_secs(20))
            .on_event(hook),
    );

    let started = Instant::now();
    let response = client.get("http://api.test/").send().await.unwrap();

    // 8 s, then 16 s more would end at 24 s > 20 s.
    assert_eq!(response.status(), 503);
    assert_eq!(started.elapsed(), Duration::from_secs(8));
    assert_eq!(
        seen.lock().unwrap().last().unwrap().action,
        RetryAction::GiveUp(GiveUpReason::Deadline)
    );
}

async fn jittered_delays(seed: u64) -> Vec<Duration> {
    let engine = scripted(vec![unavailable]);
    let (hook, seen) = events();
    let client = retrying(
        &engine,
        exponential_8s_cap_30s()
            .jitter(0.5)
            .seed(seed)
            .on_event(hook),
    );
    client.get("http://api.test/").send().await.unwrap();
    let events = seen.lock().unwrap();
    events
        .iter()
        .filter_map(|event| match event.action {
            RetryAction::RetryAfter(delay) => Some(delay),
            RetryAction::GiveUp(_) => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_jitter() {
    let first = jittered_delays(42).await;
    let again = jittered_delays(42).await;
    let other = jittered_delays(7).await;

    assert_eq!(first, again);
    assert_ne!(first, other);
    for (delay, full) in first.iter().zip([8, 16, 30].map(Duration::from_secs)) {
        assert!(
            *delay <= full && *delay >= full / 2,
            "{delay:?} outside [{:?}, {full:?}]",
            full / 2
        );
    }
}

#[tokio::test(start_paused = true)]
async fn modify_request_marks_each_retry() {
    let engine = scripted(vec![unavailable, unavailable, ok]);
    let client = retrying(
        &engine,
        exponential_8s_cap_30s().modify_request(|request, retry| {
            request.headers_mut().insert("x-retry-count", retry.into());
        }),
    );

    client.get("http://api.test/").send().await.unwrap();

    let history = engine.request_history();
    assert!(history[0].headers().get("x-retry-count").is_none());
    assert_eq!(history[1].headers()["x-retry-count"], "1");
    assert_eq!(history[2].headers()["x-retry-count"], "2");
}

#[tokio::test(start_paused = true)]
async fn custom_predicates_add_to_what_is_retried() {
    let engine = scripted(vec![
        || Ok(respond_ok("").with_header("x-state", "warming-up")),
        ok,
    ]);
    let client = retrying(
        &engine,
        exponential_8s_cap_30s()
            .retry_if_response(|response| response.headers().contains_key("x-state")),
    );

    let response = client.get("http://api.test/").send().await.unwrap();

    assert!(response.headers().get("x-state").is_none());
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_streamed_body_is_not_retried_and_the_error_says_why() {
    let engine = scripted(vec![unavailable, ok]);
    let client = retrying(&engine, exponential_8s_cap_30s());
    let chunks = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("part"))]);

    let err = client
        .put("http://api.test/upload")
        .body(Body::from_stream(chunks))
        .send()
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("PUT http://api.test/upload"), "{message}");
    assert!(message.contains("503"), "{message}");
    assert!(message.contains("stream"), "{message}");
    assert_eq!(engine.request_history().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_can_turn_retries_off() {
    let engine = scripted(vec![unavailable, ok]);
    let client = retrying(&engine, exponential_8s_cap_30s());

    let response = client
        .get("http://api.test/")
        .retry(Retry::disabled())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 503);
    assert_eq!(engine.request_history().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_enormous_retry_after_with_no_cap_gives_up_at_the_deadline_instead_of_panicking() {
    let engine = scripted(vec![
        || {
            Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)
                .with_header("retry-after", "18446744073709551615"))
        },
        ok,
    ]);
    let (hook, seen) = events();
    let client = retrying(
        &engine,
        Retry::new()
            .retry_after_cap(Duration::MAX)
            .deadline(Duration::from_secs(60))
            .on_event(hook),
    );
    let response = client.get("http://api.test/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        seen.lock().unwrap()[0].action,
        RetryAction::GiveUp(GiveUpReason::Deadline)
    );
}

#[tokio::test(start_paused = true)]
async fn an_unbounded_deadline_is_no_deadline() {
    let engine = scripted(vec![unavailable, ok]);
    let client = retrying(&engine, exponential_8s_cap_30s().deadline(Duration::MAX));
    let response = client.get("http://api.test/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
