//! Route selection: priority, order, removal, fallback, the index, sharing.

use wiretape::mock::matchers::*;
use wiretape::mock::responders::*;
use wiretape::mock::{Answer, MockEngine, Route, Router, respond_ok};
use wiretape::{ErrorKind, StatusCode};

use crate::{client, get_text};

#[tokio::test]
async fn first_registered_wins_among_equal_priorities_and_lower_priority_wins() {
    let router = Router::new();
    router.mock(Route::given(path_prefix("/")).respond_with(text("catch-all")));
    router.mock(Route::given(path("/users")).respond_with(text("users")));
    let client = client(&router);
    let body = get_text(&client, "/users").await;
    assert_eq!(body, "catch-all", "same priority: registration order");

    router.mock(
        Route::given(path("/users"))
            .priority(1)
            .respond_with(text("urgent")),
    );
    let body = get_text(&client, "/users").await;
    assert_eq!(body, "urgent");
}

#[tokio::test]
async fn indexed_and_scanned_routes_keep_one_order() {
    let router = Router::new();
    // Scanned (no method), registered first: must still win over the indexed one.
    router.mock(
        Route::given(path("/items/{id}"))
            .and(query_param("v", "2"))
            .respond_with(text("v2")),
    );
    router.mock(
        Route::given(method("GET"))
            .and(path("/items/{id}"))
            .respond_with(text("indexed")),
    );
    let client = client(&router);
    let v2 = get_text(&client, "/items/1?v=2").await;
    let plain = get_text(&client, "/items/1").await;
    assert_eq!((v2.as_str(), plain.as_str()), ("v2", "indexed"));
}

#[tokio::test]
async fn many_routes_each_answer_their_own_path() {
    let router = Router::new();
    for i in 0..100 {
        router.mock(
            Route::given(method("GET"))
                .and(path(format!("/r{i}/{{id}}")))
                .respond_with(text(format!("route {i}"))),
        );
    }
    let client = client(&router);
    for i in [0, 42, 99] {
        let body = get_text(&client, format!("/r{i}/x")).await;
        assert_eq!(body, format!("route {i}"));
    }
    let miss = client.post("/r1/x").send().await.unwrap_err();
    assert!(
        miss.to_string().contains("none of its 100 routes matched"),
        "{miss}"
    );
}

#[tokio::test]
async fn routes_can_be_added_and_removed_while_a_client_uses_the_router() {
    let router = Router::new();
    let client = client(&router);
    assert_eq!(
        client.get("/late").send().await.unwrap_err().kind(),
        ErrorKind::NoRoute
    );
    let id = router.mock(Route::given(path("/late")).respond_with(text("here")));
    assert_eq!(get_text(&client, "/late").await, "here");
    assert!(router.remove(id));
    assert!(!router.remove(id), "already removed");
    assert_eq!(
        client.get("/late").send().await.unwrap_err().kind(),
        ErrorKind::NoRoute
    );
}

#[tokio::test]
async fn concurrent_clones_share_routes_and_counts() {
    let router = Router::new();
    let id = router.mock(Route::given(path("/hit")).respond_with(status(204)));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client(&router.clone());
        tasks.push(tokio::spawn(async move {
            client.get("/hit").send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::NO_CONTENT);
    }
    assert_eq!(router.hits(id), Some(8));
    assert_eq!(router.journal().len(), 8);
}

#[tokio::test]
async fn unmatched_requests_reach_the_fallback_in_spy_mode() {
    let real = MockEngine::new(|request| async move {
        Ok(respond_ok(format!("real {}", request.url().path())))
    });
    let router = Router::new().with_fallback(real.clone());
    let mocked = router.mock(Route::given(path("/mocked")).respond_with(text("mocked")));
    let client = client(&router);
    assert_eq!(get_text(&client, "/mocked").await, "mocked");
    assert_eq!(get_text(&client, "/other").await, "real /other");
    assert_eq!(
        real.request_history().len(),
        1,
        "only the unmocked request went through"
    );

    let journal = router.journal();
    assert_eq!(journal[0].route(), Some(mocked));
    assert_eq!(journal[1].answer(), &Answer::Fallback);
    assert_eq!(journal[1].request().url().path(), "/other");
}

#[tokio::test]
async fn not_found_mode_answers_404_with_the_report() {
    let router = Router::new().with_not_found();
    router.mock(Route::given(path("/users")).named("users"));
    let response = client(&router).get("/user").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-wiretape-error"], "no_route");
    let body = response.text().await.unwrap();
    assert!(
        body.contains("route \"users\": 0 of 1 checks passed"),
        "{body}"
    );
}

#[tokio::test]
async fn a_route_without_matchers_or_responder_answers_everything_with_200() {
    let router = Router::new();
    router.mock(Route::new());
    let response = client(&router)
        .delete("/anything?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn broken_routes_fail_loudly_instead_of_panicking() {
    let router = Router::new().without_drop_verification();
    let err = router
        .try_mock(Route::given(path_regex("([")).named("bad regex"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("invalid regex"), "{err}");
    assert!(router.is_empty(), "try_mock registers nothing on error");

    router.mock(
        Route::given(path("/ok"))
            .respond_with(status(1000))
            .named("bad status"),
    );
    let err = client(&router).get("/ok").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("\"bad status\""), "{message}");
    assert!(message.contains("invalid status"), "{message}");
    assert!(!router.verify().is_ok());
}

#[tokio::test]
async fn a_router_is_usable_inside_a_mock_engine() {
    let router = Router::new();
    router.mock(Route::given(path("/r")).respond_with(text("routed")));
    let engine = MockEngine::from(router.clone());
    let client = wiretape::Client::builder()
        .engine(engine.clone())
        .build()
        .unwrap();
    let body = get_text(&client, "http://x.test/r").await;
    assert_eq!(body, "routed");
    assert_eq!(engine.request_history().len(), 1);
    assert_eq!(router.journal().len(), 1);
}

#[tokio::test]
async fn websockets_go_to_the_fallback_or_fail_with_a_reason() {
    // No WebSocket route and no fallback: a miss like any other.
    let router = Router::new();
    let err = client(&router).websocket("/chat").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRoute);
    assert!(err.to_string().contains("/chat"), "{err}");
}

#[test]
fn routers_routes_and_guards_cross_threads() {
    fn shared<T: Clone + Send + Sync + 'static>() {}
    fn sendable<T: Send + Sync + 'static>() {}
    shared::<Router>();
    shared::<Route>();
    shared::<wiretape::mock::JournalEntry>();
    sendable::<wiretape::mock::RouteGuard>();
}
