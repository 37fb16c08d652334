//! Secrets never reach disk with default settings, wherever a request puts
//! them and wherever the API echoes them; replay gives the replaying
//! request's own values back without any filter on the replaying side.

use std::collections::BTreeMap;
use std::path::Path;

use wiretape::cassette::{Cassette, Environment, Mode, Tape, import};
use wiretape::mock::MockEngine;
use wiretape::{Client, Error, Request, Response, StatusCode};

const JWT: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEiLCJleHAiOjQ3MDB9.c2lnLXNlY3JldC1wYXJ0";

/// Every secret a request below carries, one per placement in the issue.
const SECRETS: &[&str] = &[
    "AT-query-5f1e2d",         // ?access_token=
    "AK-query-77a0b1",         // ?api_key=
    "USERINFO-pw-9c8d",        // https://ada:…@
    "XT-header-3e4f5a",        // X-Api-Token:
    "AU-header-6b7c8d",        // Authentication:
    "BEARER-echo-1a2b3c",      // Authorization: Bearer, echoed back
    "JSON-access-4d5e6f",      // {"access_token": …}
    "JSON-refresh-7a8b9c",     // {"refresh_token": …}
    "JSON-secret-0d1e2f",      // {"client_secret": …}
    "JSON-password-3a4b",      // {"password": …}
    "90817263",                // {"pin_secret": 90817263}, a number
    "FORM-password-5c6d",      // password=…
    "FORM-client-secret-7e8f", // client_secret=…
    JWT,                       // a JWT in a body
    "ERR-token-9a0b1c",        // ?token= in a recorded error
];

/// An API that echoes everything it received (URL, headers, body) in its
/// response body and one header, and fails the `/flaky` path with a message
/// quoting the URL: the worst case for leaking.
fn echo_api() -> MockEngine {
    MockEngine::new(|mut request: Request| async move {
        let body = request.take_body().collect().await?;
        let url = request.url().to_string();
        if request.url().path() == "/flaky" {
            return Err(Error::reset(
                request.to_string(),
                format!("connection reset while sending {url}"),
            ));
        }
        let headers: BTreeMap<String, String> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let echo = serde_json::json!({
            "url": url,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        let auth = request
            .header_str("authorization")
            .unwrap_or("")
            .to_string();
        Ok(Response::new(StatusCode::OK)
            .with_header("x-echo", auth.parse::<http::HeaderValue>().unwrap())
            .with_json(&echo))
    })
}

/// Sends every placement through `client`; the echoed bodies, in order
/// (the failure as its error text).
async fn every_placement(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let response = client
        .get("https://ada:USERINFO-pw-9c8d@api.test/v1/me?access_token=AT-query-5f1e2d&api_key=AK-query-77a0b1&page=2")
        .header("x-api-token", "XT-header-3e4f5a")
        .header("authentication", "AU-header-6b7c8d")
        .header("authorization", "Bearer BEARER-echo-1a2b3c")
        .send()
        .await
        .unwrap();
    let echoed = response.headers()["x-echo"].to_str().unwrap().to_string();
    out.push(format!("{echoed} {}", response.text().await.unwrap()));
    let response = client
        .post("https://api.test/oauth/token")
        .json(&serde_json::json!({
            "grant_type": "refresh_token",
            "access_token": "JSON-access-4d5e6f",
            "refresh_token": "JSON-refresh-7a8b9c",
            "client_secret": "JSON-secret-0d1e2f",
            "user": {"name": "Ada", "password": "JSON-password-3a4b", "pin_secret": 90817263},
        }))
        .send()
        .await
        .unwrap();
    out.push(response.text().await.unwrap());
    let response = client
        .post("https://api.test/login")
        .form(&[
            ("user", "ada"),
            ("password", "FORM-password-5c6d"),
            ("client_secret", "FORM-client-secret-7e8f"),
        ])
        .send()
        .await
        .unwrap();
    out.push(response.text().await.unwrap());
    let response = client
        .post("https://api.test/verify")
        .body(format!("token follows: {JWT} (end)"))
        .send()
        .await
        .unwrap();
    out.push(response.text().await.unwrap());
    let err = client
        .get("https://api.test/flaky?token=ERR-token-9a0b1c")
        .send()
        .await
        .unwrap_err();
    out.push(err.kind().as_str().to_string());
    out
}

fn cassette(path: &Path, mode: Mode, engine: MockEngine) -> (Cassette<MockEngine>, Client) {
    let cassette = Cassette::builder(path)
        .mode(mode)
        .environment(Environment::clean())
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    (cassette, client)
}

fn leaks(text: &str) -> Vec<&'static str> {
    SECRETS
        .iter()
        .copied()
        .filter(|secret| text.contains(secret))
        .collect()
}

#[tokio::test]
async fn no_secret_reaches_the_file_and_replay_gives_the_requests_values_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.yaml");
    let (recorder, client) = cassette(&path, Mode::Record, echo_api());
    let live = every_placement(&client).await;
    recorder.finish().unwrap();
    // The echo really carried the secrets: the test can fail.
    assert!(
        leaks(&live.join("\n")).len() >= SECRETS.len() - 2,
        "{live:?}"
    );

    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(leaks(&text), Vec::<&str>::new(), "{text}");
    assert!(text.contains("<ACCESS_TOKEN>"), "{text}");
    assert!(text.contains("<JWT>"), "{text}");

    // Replay, offline and with no filter configured: the same requests get
    // the same answers, echoes included.
    let (player, client) = cassette(&path, Mode::Replay, MockEngine::queue().build());
    let replayed = every_placement(&client).await;
    assert_eq!(replayed, live);
    assert_eq!(player.report().unused, Vec::<String>::new());
}

#[tokio::test]
async fn a_replaying_request_with_other_credentials_gets_its_own_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.yaml");
    let (recorder, client) = cassette(&path, Mode::Record, echo_api());
    client
        .get("https://api.test/v1/me?access_token=REAL-token-abcdef")
        .send()
        .await
        .unwrap();
    recorder.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("REAL-token-abcdef"), "{text}");

    let (_player, client) = cassette(&path, Mode::Replay, MockEngine::queue().build());
    let echo: serde_json::Value = client
        .get("https://api.test/v1/me?access_token=CI-dummy-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        echo["url"],
        "https://api.test/v1/me?access_token=CI-dummy-token"
    );
}

#[tokio::test]
async fn opting_out_is_per_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kept.yaml");
    let recorder = Cassette::builder(&path)
        .mode(Mode::Record)
        .environment(Environment::clean())
        .keep_key("api_key")
        .keep_header("x-api-token")
        .build(echo_api())
        .unwrap();
    let client = Client::builder().engine(recorder.clone()).build().unwrap();
    client
        .get("https://api.test/x?api_key=KEPT-key-123456&access_token=HIDDEN-tok-123456")
        .header("x-api-token", "KEPT-header-123456")
        .send()
        .await
        .unwrap();
    recorder.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("KEPT-key-123456"), "{text}");
    assert!(text.contains("KEPT-header-123456"), "{text}");
    assert!(!text.contains("HIDDEN-tok-123456"), "{text}");
}

#[test]
fn tape_save_and_importers_apply_the_same_defaults() {
    let har = format!(
        r#"{{"log": {{"version": "1.2", "entries": [{{
            "request": {{"method": "POST", "url": "https://api.test/t?access_token=HAR-token-123456",
                "headers": [{{"name": "X-Api-Token", "value": "HAR-header-123456"}}],
                "postData": {{"mimeType": "application/json", "text": "{{\"password\":\"HAR-pass-123456\"}}"}}}},
            "response": {{"status": 200, "headers": [],
                "content": {{"mimeType": "text/plain", "text": "you are {JWT}"}}}}
        }}]}}}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let har_path = dir.path().join("chrome.har");
    std::fs::write(&har_path, &har).unwrap();
    let tape = import::import_file(&har_path).unwrap();
    let text = tape.to_yaml().unwrap();
    for secret in [
        "HAR-token-123456",
        "HAR-header-123456",
        "HAR-pass-123456",
        JWT,
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(tape.redacted(), tape, "redacting twice changes nothing");

    // A tape built by hand: `save` redacts, `save_unredacted` is the
    // explicit way out.
    let mut raw = tape.clone();
    raw.interactions[0].request.uri = "https://api.test/t?client_secret=HAND-secret-123456".into();
    let path = dir.path().join("hand.yaml");
    raw.save(&path).unwrap();
    assert!(
        !std::fs::read_to_string(&path)
            .unwrap()
            .contains("HAND-secret-123456")
    );
    raw.save_unredacted(&path).unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("HAND-secret-123456")
    );
    assert!(Tape::load(&path).is_ok());
}

#[tokio::test]
async fn a_token_echoed_in_websocket_frames_never_reaches_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.yaml");
    let server = MockEngine::new(|_| async { Ok(Response::new(StatusCode::OK)) }).with_websocket(
        |request, mut peer| async move {
            let auth = request
                .header_str("authorization")
                .unwrap_or("")
                .to_string();
            while let Some(wiretape::ws::Frame::Text(text)) = peer.recv().await {
                let _ = peer.send_text(format!("{text} as {auth}")).await;
            }
        },
    );
    let converse = |client: Client| async move {
        let mut socket = client
            .get("ws://chat.test/")
            .header("authorization", "Bearer WS-token-5e6f7a")
            .websocket()
            .await
            .unwrap();
        socket.send_text("hello").await.unwrap();
        let answer = socket.recv_text().await.unwrap();
        drop(socket);
        answer
    };
    let (recorder, client) = cassette(&path, Mode::Record, server);
    let live = converse(client).await;
    recorder.finish().unwrap();
    assert_eq!(live.as_deref(), Some("hello as Bearer WS-token-5e6f7a"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("WS-token-5e6f7a"), "{text}");

    let (_player, client) = cassette(&path, Mode::Replay, MockEngine::queue().build());
    assert_eq!(converse(client).await, live);
}
