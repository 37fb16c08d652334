//! The `wiretape` binary, run as a user would.

mod cli_support;

use cli_support::{run, start};

/// Runs the binary to completion, expecting a failure; returns its stderr.
async fn fail(args: &[&str]) -> String {
    let (code, _, stderr) = run(args).await;
    assert_ne!(code, 0, "expected a failure for {args:?}");
    stderr
}

#[tokio::test]
async fn echo_serves_requests_on_the_port_it_prints() {
    let server = start(&["echo"]).await;
    let client = wiretape::Client::new();
    let response = client
        .post(format!("{}/things?a=1", server.url))
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-echo-method"], "POST");
    assert_eq!(response.headers()["x-echo-target"], "/things?a=1");
    assert_eq!(response.text().await.unwrap(), "ping");
    server.stop().await;
}

#[tokio::test]
async fn serve_answers_from_a_route_file_and_explains_a_miss() {
    let server = start(&["serve", "--routes", "fixtures/routes/users-api.yaml"]).await;
    let client = wiretape::Client::new();

    let users: serde_json::Value = client
        .get(format!("{}/users", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users[1]["name"], "Grace Hopper");

    let miss = client
        .get(format!("{}/userz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(miss.status(), 404);
    let report = miss.text().await.unwrap();
    assert!(report.contains("no mock answered GET"), "{report}");
    assert!(report.contains("/userz"), "{report}");
    server.stop().await;
}

#[tokio::test]
async fn serve_replays_a_cassette_whatever_host_it_was_recorded_on() {
    let server = start(&["serve", "--cassette", "cassettes/httpbin.yaml"]).await;
    let client = wiretape::Client::new();

    let response = client
        .get(format!("{}/get?tool=wiretape&lang=rust", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["server"],
        "gunicorn",
        "recorded headers come back"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["args"]["tool"], "wiretape");

    // Without --repeat each interaction replays once.
    let again = client
        .get(format!("{}/get?tool=wiretape&lang=rust", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let report = again.text().await.unwrap();
    assert!(report.contains("cassettes/httpbin.yaml"), "{report}");
    server.stop().await;
}

#[tokio::test]
async fn serve_with_repeat_replays_an_interaction_again() {
    let server = start(&["serve", "--cassette", "cassettes/httpbin.yaml", "--repeat"]).await;
    let client = wiretape::Client::new();
    for _ in 0..3 {
        let response = client
            .get(format!("{}/get?lang=rust&tool=wiretape", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_invocations_are_clear_errors() {
    let stderr = fail(&["echo", "--listen", "not-an-address"]).await;
    assert!(
        stderr.contains("cannot listen on not-an-address"),
        "{stderr}"
    );

    let stderr = fail(&["serve"]).await;
    assert!(stderr.contains("nothing to serve"), "{stderr}");

    let stderr = fail(&["serve", "--routes", "fixtures/routes/missing.yaml"]).await;
    assert!(stderr.contains("fixtures/routes/missing.yaml"), "{stderr}");

    let stderr = fail(&["serve", "--cassette", "cassettes/missing.yaml"]).await;
    assert!(stderr.contains("cassettes/missing.yaml"), "{stderr}");
}
