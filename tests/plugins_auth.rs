//! Auth: basic, bearer refresh (single-flight, no loops), and TLS through
//! the real engine.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_error, respond_ok};
use wiretape::plugins::{Auth, BearerAuth, BearerTokens};
use wiretape::server::Server;
use wiretape::{Client, Request, Response, StatusCode};

/// A server that accepts `Bearer <valid>` and answers `/token` by minting
/// `valid` (counting the calls), or refusing when `token_works` is false.
fn api(valid: &'static str, token_works: bool, token_calls: Arc<AtomicUsize>) -> MockEngine {
    MockEngine::new(move |request: Request| {
        let token_calls = token_calls.clone();
        async move {
            if request.url().path() == "/token" {
                token_calls.fetch_add(1, Ordering::SeqCst);
                // A slow token endpoint, so that concurrent 401s pile up.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Ok(if token_works {
                    respond_ok(valid)
                } else {
                    respond_error(StatusCode::UNAUTHORIZED)
                });
            }
            let expected = format!("Bearer {valid}");
            Ok(
                if request.header_str("authorization") == Some(expected.as_str()) {
                    respond_ok(format!("data for {}", request.url().path()))
                } else {
                    respond_error(StatusCode::UNAUTHORIZED)
                        .with_header("www-authenticate", "Bearer error=\"invalid_token\"")
                },
            )
        }
    })
}

/// Bearer auth that starts with `stale` and refreshes by calling `/token`
/// through the same client.
fn refreshing(refreshes: Arc<AtomicUsize>) -> Auth {
    Auth::bearer(
        BearerAuth::new()
            .load_tokens(|| async { Some(BearerTokens::new("stale", Some("refresh-1"))) })
            .refresh_tokens(move |context| {
                let refreshes = refreshes.clone();
                async move {
                    refreshes.fetch_add(1, Ordering::SeqCst);
                    let response = context.client.post("http://api.test/token").send().await?;
                    if response.status() != StatusCode::OK {
                        return Ok(None);
                    }
                    let token = response.text().await?;
                    Ok(Some(BearerTokens::new(token, Some("refresh-2"))))
                }
            }),
    )
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_resends_once() {
    let token_calls = Arc::new(AtomicUsize::new(0));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let engine = api("fresh", true, token_calls.clone());
    let client = Client::builder()
        .engine(engine.clone())
        .auth(refreshing(refreshes.clone()))
        .build()
        .unwrap();

    let text = client
        .get("http://api.test/me")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "data for /me");
    // The next call uses the new token straight away.
    client.get("http://api.test/orders").send().await.unwrap();

    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    let sent: Vec<String> = engine
        .request_history()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.url().path(),
                r.header_str("authorization").unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            "/me Bearer stale",
            "/token -",
            "/me Bearer fresh",
            "/orders Bearer fresh"
        ]
    );
}

#[tokio::test]
async fn concurrent_401s_share_one_refresh() {
    let token_calls = Arc::new(AtomicUsize::new(0));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .engine(api("fresh", true, token_calls.clone()))
        .auth(refreshing(refreshes.clone()))
        .build()
        .unwrap();

    let calls = (0..8).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.get(format!("http://api.test/item/{i}")).send().await })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap().status(), 200);
    }

    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(token_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refresh_that_gets_401_does_not_loop() {
    let token_calls = Arc::new(AtomicUsize::new(0));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let engine = api("fresh", false, token_calls.clone());
    let client = Client::builder()
        .engine(engine.clone())
        .auth(refreshing(refreshes.clone()))
        .build()
        .unwrap();

    let response = tokio::time::timeout(
        Duration::from_secs(5),
        client.get("http://api.test/me").send(),
    )
    .await
    .expect("the call finished instead of looping")
    .unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(token_calls.load(Ordering::SeqCst), 1);
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test]
async fn basic_auth_is_sent_preemptively_and_a_request_keeps_its_own_header() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let client = Client::builder()
        .engine(engine.clone())
        .auth(Auth::basic("ada", "pw"))
        .build()
        .unwrap();

    client.get("http://api.test/a").send().await.unwrap();
    client
        .get("http://api.test/b")
        .bearer_auth("mine")
        .send()
        .await
        .unwrap();

    let history = engine.request_history();
    assert_eq!(history[0].headers()["authorization"], "Basic YWRhOnB3");
    assert_eq!(history[1].headers()["authorization"], "Bearer mine");
}

#[tokio::test]
async fn send_without_request_false_waits_for_the_challenge() {
    let engine = MockEngine::new(|request: Request| async move {
        Ok(match request.header_str("authorization") {
            Some(_) => respond_ok("in"),
            None => Response::new(StatusCode::UNAUTHORIZED)
                .with_header("www-authenticate", "Basic realm=\"api\""),
        })
    });
    let client = Client::builder()
        .engine(engine.clone())
        .auth(
            Auth::basic("ada", "pw")
                .send_without_request(|request| request.url().host_str() == Some("mine.test")),
        )
        .build()
        .unwrap();

    assert_eq!(
        client
            .get("http://other.test/")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "in"
    );
    client.get("http://mine.test/").send().await.unwrap();

    let history = engine.request_history();
    assert!(history[0].headers().get("authorization").is_none());
    assert_eq!(history[1].headers()["authorization"], "Basic YWRhOnB3");
    assert_eq!(history[2].headers()["authorization"], "Basic YWRhOnB3");
    assert_eq!(history.len(), 3);
}

#[tokio::test]
async fn a_challenge_for_another_scheme_is_left_alone() {
    let engine = MockEngine::new(|_| async {
        Ok(Response::new(StatusCode::UNAUTHORIZED).with_header("www-authenticate", "Negotiate"))
    });
    let refreshes = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .engine(engine.clone())
        .auth(refreshing(refreshes.clone()))
        .build()
        .unwrap();

    let response = client.get("http://api.test/").send().await.unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(refreshes.load(Ordering::SeqCst), 0);
    assert_eq!(engine.request_history().len(), 1);
}

#[tokio::test]
async fn bearer_refresh_over_tls_through_the_real_engine() {
    let (tls, der) = common::tls_material();
    let token_calls = Arc::new(AtomicUsize::new(0));
    let server = Server::new()
        .tls(tls)
        .serve(api("fresh", true, token_calls.clone()), "127.0.0.1:0")
        .await
        .unwrap();
    let base = server.url("/");
    let engine = HyperEngine::builder()
        .add_root_certificate(der)
        .build()
        .unwrap();
    let refreshes = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .engine(engine)
        .base_url(&base)
        .auth(Auth::bearer(
            BearerAuth::new()
                .load_tokens(|| async { Some(BearerTokens::new("stale", None)) })
                .refresh_tokens(move |context| {
                    let refreshes = refreshes.clone();
                    async move {
                        refreshes.fetch_add(1, Ordering::SeqCst);
                        let token = context.client.post("token").send().await?.text().await?;
                        Ok(Some(BearerTokens::new(token, None)))
                    }
                }),
        ))
        .build()
        .unwrap();

    let response = client.get("me").send().await.unwrap();

    assert!(response.url().as_str().starts_with("https://127.0.0.1:"));
    assert_eq!(response.text().await.unwrap(), "data for /me");
    assert_eq!(token_calls.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

/// A digest server for user `ada` with password `pw`: it checks answers by
/// recomputing them (MD5, qop=auth), counts `nc`, and rotates its nonce
/// after `uses_per_nonce` answers, saying `stale=true`.
#[cfg(feature = "digest-auth")]
fn digest_server(uses_per_nonce: usize) -> MockEngine {
    use md5::{Digest, Md5};
    let state = Arc::new(std::sync::Mutex::new((1usize, 0usize))); // (nonce number, answers)
    MockEngine::new(move |request: Request| {
        let state = state.clone();
        async move {
            let hex = |text: String| -> String {
                Md5::digest(text.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            };
            let mut state = state.lock().unwrap();
            let nonce = format!("nonce-{}", state.0);
            let challenge = |stale: bool| {
                Response::new(StatusCode::UNAUTHORIZED).with_header(
                    "www-authenticate",
                    format!(r#"Digest realm="shop", qop="auth", nonce="nonce-{}", opaque="op", stale={stale}"#, state.0),
                )
            };
            let Some(answer) = request.header_str("authorization") else {
                return Ok(challenge(false));
            };
            let params: std::collections::HashMap<String, String> = answer
                .trim_start_matches("Digest ")
                .split(", ")
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            if params["nonce"] != nonce {
                return Ok(challenge(true));
            }
            let ha1 = hex(format!("{}:shop:pw", params["username"]));
            let ha2 = hex(format!("{}:{}", request.method(), params["uri"]));
            let expected = hex(format!(
                "{ha1}:{nonce}:{}:{}:auth:{ha2}",
                params["nc"], params["cnonce"]
            ));
            if params["response"] != expected || params["opaque"] != "op" {
                return Ok(challenge(false));
            }
            state.1 += 1;
            if state.1.is_multiple_of(uses_per_nonce) {
                state.0 += 1;
            }
            Ok(respond_ok(format!(
                "nc={} uri={}",
                params["nc"], params["uri"]
            )))
        }
    })
}

#[cfg(feature = "digest-auth")]
#[tokio::test]
async fn digest_answers_the_challenge_then_reuses_it_counting_up() {
    let engine = digest_server(100);
    let client = Client::builder()
        .engine(engine.clone())
        .auth(Auth::digest("ada", "pw"))
        .build()
        .unwrap();

    let first = client
        .get("http://shop.test/orders?page=2")
        .send()
        .await
        .unwrap();
    let second = client.post("http://shop.test/orders").send().await.unwrap();

    assert_eq!(
        first.text().await.unwrap(),
        "nc=00000001 uri=/orders?page=2"
    );
    assert_eq!(second.text().await.unwrap(), "nc=00000002 uri=/orders");
    assert_eq!(engine.request_history().len(), 3);
}

#[cfg(feature = "digest-auth")]
#[tokio::test]
async fn a_stale_digest_nonce_is_renewed_and_a_wrong_password_is_not_retried_forever() {
    let engine = digest_server(1);
    let client = Client::builder()
        .engine(engine.clone())
        .auth(Auth::digest("ada", "pw"))
        .build()
        .unwrap();
    client.get("http://shop.test/a").send().await.unwrap();
    let response = client.get("http://shop.test/b").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "nc=00000001 uri=/b");
    // bare, answered; stale answer, answered again.
    assert_eq!(engine.request_history().len(), 4);

    let engine = digest_server(100);
    let client = Client::builder()
        .engine(engine.clone())
        .auth(Auth::digest("ada", "wrong"))
        .build()
        .unwrap();
    let response = client.get("http://shop.test/").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test]
async fn load_tokens_may_call_the_api_through_the_same_client() {
    let token_calls = Arc::new(AtomicUsize::new(0));
    // The client does not exist yet when Auth is built: hand it over
    // through a cell, as an application would.
    let cell: Arc<std::sync::OnceLock<Client>> = Arc::new(std::sync::OnceLock::new());
    let for_load = cell.clone();
    let client = Client::builder()
        .engine(api("fresh", true, token_calls.clone()))
        .auth(Auth::bearer(BearerAuth::new().load_tokens(move || {
            let cell = for_load.clone();
            async move {
                let client = cell.get()?.clone();
                let response = client.post("http://api.test/token").send().await.ok()?;
                Some(BearerTokens::new(response.text().await.ok()?, None))
            }
        })))
        .build()
        .unwrap();
    cell.set(client.clone()).unwrap();

    let response = tokio::time::timeout(
        Duration::from_secs(5),
        client.get("http://api.test/me").send(),
    )
    .await
    .expect("loading the tokens through the client does not deadlock")
    .unwrap();

    assert_eq!(response.text().await.unwrap(), "data for /me");
    assert_eq!(token_calls.load(Ordering::SeqCst), 1);
}
