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

/// POSTs `body` to `/graphql` and gives back the answer's text.
async fn post_graphql(client: &wiretape::Client, body: &str) -> String {
    let response = client
        .post("/graphql")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

#[tokio::test]
async fn many_exact_body_routes_on_one_path_each_answer_their_own_body() {
    let router = Router::new();
    for i in 0..200 {
        router.mock(
            Route::given(method("POST"))
                .and(path("/graphql"))
                .and(body_json(&serde_json::json!({"query": "user", "id": i})))
                .respond_with(text(format!("json {i}"))),
        );
    }
    router.mock(
        Route::given(method("POST"))
            .and(path("/graphql"))
            .and(body_string("ping"))
            .respond_with(text("pong")),
    );
    let client = client(&router);
    for i in [0, 117, 199] {
        let body = format!(r#"{{ "id": {i}, "query": "user" }}"#);
        assert_eq!(post_graphql(&client, &body).await, format!("json {i}"));
    }
    assert_eq!(post_graphql(&client, "ping").await, "pong");
    // `1.0` is not `1`: no route matches, and the report still weighs them
    // all, closest first.
    let err = client
        .post("/graphql")
        .body(r#"{"query":"user","id":1.0}"#)
        .send()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("none of its 201 routes matched"), "{text}");
    assert!(
        text.contains(r#"body is JSON {"id":1,"query":"user"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn body_routes_keep_priority_and_registration_order_with_scanned_ones() {
    let router = Router::new();
    let graphql = || Route::given(method("POST")).and(path("/graphql"));
    let query = serde_json::json!({"query": "me"});
    // Registered first, same priority: the partial (scanned within the
    // path) route wins over the exact one registered after it.
    router.mock(
        graphql()
            .and(body_partial_json(&query))
            .respond_with(text("partial")),
    );
    router.mock(graphql().and(body_json(&query)).respond_with(text("exact")));
    router.mock(
        graphql()
            .and(body_json(&query))
            .respond_with(text("exact, second")),
    );
    let client = client(&router);
    assert_eq!(post_graphql(&client, r#"{"query":"me"}"#).await, "partial");

    // A lower priority number wins whatever the order.
    router.mock(
        graphql()
            .and(body_json(&query))
            .priority(1)
            .respond_with(text("urgent")),
    );
    assert_eq!(post_graphql(&client, r#"{"query":"me"}"#).await, "urgent");

    // Among exact routes of one body, the first registered wins; when it
    // stops answering, the next one does.
    let router = Router::new();
    router.mock(
        graphql()
            .and(body_json(&query))
            .up_to_n_times(1)
            .respond_with(text("first")),
    );
    router.mock(
        graphql()
            .and(body_json(&query))
            .respond_with(text("second")),
    );
    router.mock(
        Route::given(body_regex("me"))
            .priority(9)
            .respond_with(text("regex")),
    );
    let client = crate::client(&router);
    assert_eq!(post_graphql(&client, r#"{"query":"me"}"#).await, "first");
    assert_eq!(post_graphql(&client, r#"{"query": "me"}"#).await, "second");
    assert_eq!(
        post_graphql(&client, r#"{"query":"me","x":1}"#).await,
        "regex"
    );
}

/// Every route twice over: as written (indexed by its method and path) and
/// with those two matchers wrapped in `all` (which hides them from the
/// index, so the route is scanned and every matcher is asked). The index
/// skips asking the matchers it walked; both routers must pick the same
/// route for every request.
#[tokio::test]
async fn indexed_routes_answer_as_scanned_ones_would() {
    let templates = [
        "/a",
        "/a/{x}",
        "/a/{x}/b",
        "/a/b",
        "/{x}/b",
        "/files/{*rest}",
        "/a/{x}/{y}",
    ];
    let indexed = Router::new();
    let scanned = Router::new();
    let add = |n: usize, method_name: &str, template: &str, extra: Option<Matcher>| {
        let routes = [
            Route::given(method(method_name)).and(path(template)),
            Route::given(all([method(method_name)])).and(all([path(template)])),
        ];
        for (router, route) in [&indexed, &scanned].into_iter().zip(routes) {
            // Routes with an extra matcher come first, so that it decides.
            let route = match extra.clone() {
                Some(extra) => route.and(extra).priority(1),
                None => route,
            };
            router.mock(route.respond_with(text(format!("route {n}"))));
        }
    };
    let mut n = 0;
    for template in templates {
        for method_name in ["GET", "POST"] {
            add(n, method_name, template, None);
            n += 1;
        }
    }
    // A second path matcher is not what the index walked: still asked.
    add(n, "GET", "/a/{x}", Some(path("/a/c")));
    add(n + 1, "PUT", "/a/{x}", Some(query_param("v", "1")));
    add(n + 2, "PUT", "/{x}/{y}", Some(path_prefix("/z")));

    let (indexed, scanned) = (client(&indexed), client(&scanned));
    let paths = [
        "/",
        "/a",
        "/a/",
        "/a/b",
        "/a/c",
        "/a/d",
        "/a/b/b",
        "/a/c/b",
        "/a/c/d",
        "/x/b",
        "/z/b",
        "/z/q",
        "/files",
        "/files/",
        "/files/1/2",
        "/a/%62",
        "//a",
        "/a/c?v=1",
        "/a/b?v=2",
        "/A",
        "/a/b/c/d",
    ];
    for method_name in ["GET", "POST", "PUT", "DELETE"] {
        for path in paths {
            let method = wiretape::Method::from_bytes(method_name.as_bytes()).unwrap();
            let mut answers = Vec::new();
            for client in [&indexed, &scanned] {
                answers.push(match client.request(method.clone(), path).send().await {
                    Ok(response) => response.text().await.unwrap(),
                    Err(err) => format!("{:?}", err.kind()),
                });
            }
            assert_eq!(answers[0], answers[1], "{method_name} {path}");
        }
    }
}

#[tokio::test]
async fn a_request_is_routed_when_its_future_is_polled_not_when_it_is_made() {
    use wiretape::engine::Engine;
    let router = Router::new();
    router.mock(Route::given(path("/users")).respond_with(text("users")));
    let request = || {
        wiretape::Request::new(
            wiretape::Method::GET,
            "http://api.test/users".parse().unwrap(),
        )
    };
    // Made and dropped unpolled, as `Faulty` does when a fault stands for
    // the exchange: the router saw nothing.
    drop(router.execute(request()));
    assert!(router.journal().is_empty());
    let response = router.execute(request()).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "users");
    assert_eq!(router.journal().len(), 1);
}
