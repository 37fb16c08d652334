//! The near-miss report: the message a developer reads at 2 a.m.

use serde_json::json;
use wiretape::mock::matchers::*;
use wiretape::mock::responders::*;
use wiretape::mock::{Route, Router};
use wiretape::{Error, ErrorKind};

use crate::client;

fn three_routes() -> Router {
    let router = Router::new();
    router.mock(
        Route::given(method("POST"))
            .and(path("/users"))
            .and(header("content-type", "application/json"))
            .and(body_json(
                &json!({"name": "Ada", "role": "admin", "tags": ["a", "b"]}),
            ))
            .respond_with(status(201))
            .named("create user"),
    );
    router.mock(
        Route::given(method("GET"))
            .and(path("/users/{id}"))
            .and(bearer_token("abc"))
            .named("get user"),
    );
    router.mock(Route::given(method("DELETE")).and(path("/teams/{id}")));
    router
}

#[tokio::test]
async fn a_json_body_mismatch_reads_as_a_unified_diff() {
    let router = three_routes();
    let err = client(&router)
        .post("/users")
        .json(&json!({"role": "admin", "name": "Bob", "tags": ["a", "c"]}))
        .send()
        .await
        .unwrap_err();
    let expected = r#"no mock answered POST http://api.test/users: none of its 3 routes matched

closest routes, best first (✓ passed, ✗ failed; - what the route expects, + what the request has):

  1. route "create user": 3 of 4 checks passed
       ✓ method is POST
       ✓ path is /users
       ✓ header content-type is "application/json"
       ✗ body is JSON {"name":"Ada","role":"admin","tags":["a","b"]}
           --- expected
           +++ actual
           @@ -1,8 +1,8 @@
            {
           -  "name": "Ada",
           +  "name": "Bob",
              "role": "admin",
              "tags": [
                "a",
           -    "b"
           +    "c"
              ]
            }

  (2 more route(s) not shown: they share nothing with this request)"#;
    assert_eq!(err.to_string(), expected);
}

#[tokio::test]
async fn the_report_is_data_too() {
    let router = three_routes();
    let err = client(&router)
        .get("/user/7")
        .bearer_auth("xyz")
        .send()
        .await
        .unwrap_err();
    let Error::NoRoute(report) = &err else {
        panic!("expected a NoRoute error, got {err:?}");
    };
    assert_eq!(report.request(), "GET http://api.test/user/7");
    assert_eq!(report.omitted(), 2);
    let [closest] = report.near_misses() else {
        panic!("one near miss expected: {err}");
    };
    assert_eq!(closest.route(), "route \"get user\"");
    assert_eq!(closest.passed(), 1);
    let failed: Vec<(&str, Option<&str>)> = closest
        .failed()
        .map(|c| (c.description.as_str(), c.detail.as_deref()))
        .collect();
    assert_eq!(
        failed,
        [
            ("path is /users/{id}", Some("- /users/{id}\n+ /user/7")),
            (
                "authorization is the expected bearer token",
                Some(
                    "- authorization: Bearer <the expected token>\n+ authorization: Bearer <a different token>"
                )
            ),
        ]
    );
}

#[tokio::test]
async fn missing_headers_queries_and_non_json_bodies_say_what_was_there() {
    let router = Router::new();
    router.mock(
        Route::given(method("PUT"))
            .and(path("/items/{id}"))
            .and(header("x-team", "payments"))
            .and(query_param("page", "2"))
            .and(body_partial_json(&json!({"ok": true})))
            .named("update item"),
    );
    let err = client(&router)
        .put("/items/9?page=3&sort=asc")
        .body("not json")
        .send()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no mock answered PUT http://api.test/items/9?page=3&sort=asc: its only route did not match"), "{text}");
    assert!(
        text.contains("route \"update item\": 2 of 5 checks passed"),
        "{text}"
    );
    assert!(text.contains("✗ header x-team is \"payments\"\n           - x-team: payments\n           + (no x-team header)"), "{text}");
    assert!(
        text.contains("✗ query page=\"2\"\n           - page=2\n           + page=3"),
        "{text}"
    );
    assert!(
        text.contains("✗ body includes JSON {\"ok\":true}"),
        "{text}"
    );
    assert!(
        text.contains("+(not JSON: expected ident at line 1 column 2)"),
        "{text}"
    );
}

#[tokio::test]
async fn used_up_routes_and_scenario_states_are_checks_too() {
    let router = Router::new();
    router.mock(
        Route::given(path("/once"))
            .up_to_n_times(1)
            .named("one-off"),
    );
    router.mock(
        Route::given(path("/step"))
            .in_scenario("flow")
            .when_state("second")
            .named("second step"),
    );
    let client = client(&router);
    client.get("/once").send().await.unwrap();
    let used_up = client.get("/once").send().await.unwrap_err().to_string();
    assert!(
        used_up.contains("route \"one-off\": 1 of 2 checks passed"),
        "{used_up}"
    );
    assert!(
        used_up.contains(
            "✗ answers up to 1 time(s)\n           used up: it already answered 1 time(s)"
        ),
        "{used_up}"
    );

    let wrong_state = client.get("/step").send().await.unwrap_err().to_string();
    assert!(
        wrong_state.contains(
            "✗ scenario \"flow\" is in state \"second\"\n           - second\n           + Started"
        ),
        "{wrong_state}"
    );
}

#[tokio::test]
async fn with_nothing_in_common_the_first_routes_are_shown_and_with_no_routes_the_fix() {
    let router = three_routes();
    let err = client(&router).patch("/other").send().await.unwrap_err();
    let Error::NoRoute(report) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        report.near_misses().len(),
        3,
        "nothing is related: show what the router answers"
    );
    assert_eq!(report.omitted(), 0);

    let empty = Router::new();
    let err = client(&empty).get("/x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRoute);
    assert_eq!(
        err.to_string(),
        "no mock answered GET http://api.test/x: the router has no routes; add one with Router::mock"
    );
}

#[tokio::test]
async fn passwords_never_appear_in_reports() {
    let router = Router::new();
    router.mock(Route::given(path("/admin")).and(basic_auth("ada", "expected-secret")));
    let err = client(&router)
        .get("/admin")
        .basic_auth("ada", Some("typed-secret"))
        .send()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("expected-secret") && !text.contains("typed-secret"),
        "{text}"
    );
    assert!(
        text.contains(
            "- Basic ada:<the expected password>\n           + Basic ada:<a different password>"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn bearer_tokens_never_appear_in_reports() {
    // A not-found report is the body of a 404 served to any client: it must
    // not hand out the token the route expects, nor echo the caller's.
    let router = Router::new().with_not_found();
    router.mock(Route::given(path("/admin")).and(bearer_token("expected-tok")));
    router.mock(Route::given(path("/admin")).and(basic_auth("ada", "pw")));
    let client = client(&router);
    let wrong = client
        .get("/admin")
        .bearer_auth("typed-tok")
        .send()
        .await
        .unwrap();
    let text = wrong.text().await.unwrap();
    assert!(
        !text.contains("expected-tok") && !text.contains("typed-tok"),
        "{text}"
    );
    for part in [
        "- authorization: Bearer <the expected token>",
        "+ authorization: Bearer <a different token>",
        "+ authorization: Bearer <credentials>",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    let basic = client
        .get("/admin")
        .basic_auth("ada", Some("x"))
        .send()
        .await
        .unwrap();
    let text = basic.text().await.unwrap();
    assert!(
        text.contains("+ authorization: Basic <credentials>"),
        "{text}"
    );
}

#[tokio::test]
async fn credential_header_values_never_appear_in_reports() {
    let router = Router::new().with_not_found();
    router.mock(Route::given(path("/keys")).and(header("X-Api-Key", "expected-key")));
    router.mock(Route::given(path("/keys")).and(header_regex("cookie", "^session=expected")));
    router.mock(Route::given(path("/keys")).and(header("x-team", "payments")));
    let response = client(&router)
        .get("/keys")
        .header("x-api-key", "typed-key")
        .header("cookie", "session=typed")
        .header("x-team", "billing")
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    for secret in ["expected-key", "typed-key", "session=typed"] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
    for part in [
        "- x-api-key: <the expected value>",
        "+ x-api-key: <a different value>",
        "+ cookie: <a value>",
        "- x-team: payments",
        "+ x-team: billing",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
}

#[tokio::test]
async fn a_partial_json_diff_shows_only_the_keys_the_route_checks() {
    let router = Router::new();
    router
        .mock(Route::given(body_partial_json(&json!({"user": {"role": "admin"}}))).named("admins"));
    let err = client(&router)
        .post("/users")
        .json(&json!({"user": {"role": "admni", "name": "Ada"}, "team": "engines"}))
        .send()
        .await
        .unwrap_err();
    let Error::NoRoute(report) = &err else {
        panic!("{err:?}")
    };
    let detail = report.near_misses()[0].checks()[0].detail.clone().unwrap();
    assert_eq!(
        detail,
        "--- expected\n+++ actual\n@@ -1,5 +1,5 @@\n {\n   \"user\": {\n-    \"role\": \"admin\"\n+    \"role\": \"admni\"\n   }\n }"
    );
}

#[tokio::test]
async fn a_miss_against_a_large_json_body_shows_the_one_change_in_a_bounded_report() {
    let items: Vec<serde_json::Value> = (0..5_000)
        .map(|i| json!({"id": i, "name": format!("item {i}")}))
        .collect();
    let expected = json!({ "items": items });
    let mut sent = expected.clone();
    sent["items"][4321]["name"] = json!("renamed");
    let router = Router::new();
    router.mock(
        Route::given(method("POST"))
            .and(path("/big"))
            .and(body_json(&expected)),
    );
    let err = client(&router)
        .post("/big")
        .json(&sent)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRoute);
    let report = err.to_string();
    assert!(
        report.contains("-      \"name\": \"item 4321\"\n")
            && report.contains("+      \"name\": \"renamed\"\n"),
        "{report}"
    );
    assert!(
        report.len() < 4_000,
        "only the change and its context, not 5,000 items: {} bytes",
        report.len()
    );
}
