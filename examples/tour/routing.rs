//! Scene: the routing DSL. A few declarative routes answer a client with no
//! socket at all: a templated path with captures, a JSON body check, a flaky
//! endpoint scripted as a scenario; then a deliberate miss prints the
//! near-miss report, and verification shows every route was called as
//! expected.

use serde_json::json;
use wiretape::mock::matchers::{body_partial_json, header, method, path};
use wiretape::mock::responders::{from_fn, json, status, text};
use wiretape::mock::{Route, Router};
use wiretape::{Client, Response, Result, StatusCode};

/// The routes of a small users API.
fn users_api() -> Router {
    let router = Router::new();
    router.mock(
        Route::given(method("GET"))
            .and(path("/users/{id}"))
            .respond_with(from_fn(|_, params| {
                let id = params.get("id").unwrap_or("?");
                Response::new(StatusCode::OK)
                    .with_json(&json!({"id": id, "name": format!("user {id}")}))
            }))
            .named("get user"),
    );
    router.mock(
        Route::given(method("POST"))
            .and(path("/users"))
            .and(header("content-type", "application/json"))
            .and(body_partial_json(&json!({"name": "Ada", "role": "admin"})))
            .respond_with(json(&json!({"id": 7, "name": "Ada"})).with_status(201))
            .times(1)
            .named("create admin"),
    );
    // "503, then 200": a named state machine.
    let health = || {
        Route::given(method("GET"))
            .and(path("/health"))
            .in_scenario("outage")
    };
    router.mock(
        health()
            .when_state("Started")
            .will_set_state("recovered")
            .respond_with(status(503)),
    );
    router.mock(
        health()
            .when_state("recovered")
            .respond_with(text("ok"))
            .named("healthy"),
    );
    router
}

/// Plays the scene.
pub async fn run() -> Result<()> {
    let router = users_api();
    let client = Client::builder()
        .engine(router.clone())
        .base_url("http://api.test")
        .build()?;

    let user: serde_json::Value = client.get("/users/42").send().await?.json().await?;
    println!("GET /users/42            -> {user}");

    let created = client
        .post("/users")
        .json(&json!({"name": "Ada", "role": "admin", "team": "engines"}))
        .send()
        .await?;
    println!("POST /users (admin Ada)  -> {}", created.status());

    for _ in 0..2 {
        let health = client.get("/health").send().await?;
        println!("GET /health              -> {}", health.status());
    }

    println!("\nA deliberate miss: Ada's role is misspelt, so no route matches.\n");
    match client
        .post("/users")
        .json(&json!({"name": "Ada", "role": "admni", "team": "engines"}))
        .send()
        .await
    {
        Err(miss) => println!("{miss}\n"),
        Ok(response) => println!("unexpectedly answered: {}", response.status()),
    }

    println!("journal: {} requests", router.journal().len());
    let report = router.verify();
    println!("verify: {report}");
    Ok(())
}
