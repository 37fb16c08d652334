//! The chain: fixed order whatever the builder order, user plugins at their
//! documented place, defaults, and WebSocket handshakes.

mod common;

use wiretape::mock::{MockEngine, respond_ok};
use wiretape::{Client, ErrorKind};

#[tokio::test]
async fn defaults_fill_in_and_the_request_wins() {
    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let client = Client::builder()
        .engine(engine.clone())
        .base_url("https://api.test/v1/")
        .default_header("accept", "application/json")
        .default_query("api-version", "2024-01")
        .user_agent("shop-app/3")
        .build()
        .unwrap();

    client.get("orders?page=2").send().await.unwrap();
    client
        .get("orders?api-version=beta")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();

    let history = engine.request_history();
    assert_eq!(
        history[0].url().as_str(),
        "https://api.test/v1/orders?page=2&api-version=2024-01"
    );
    assert_eq!(history[0].headers()["accept"], "application/json");
    assert_eq!(history[0].headers()["user-agent"], "shop-app/3");
    assert_eq!(
        history[1].url().as_str(),
        "https://api.test/v1/orders?api-version=beta"
    );
    assert_eq!(history[1].headers()["accept"], "text/csv");
}

/// Requests without headers of their own share the client's defaults: a
/// plugin that changes one request's headers changes that request only.
#[tokio::test]
async fn a_plugin_changing_shared_default_headers_changes_only_its_request() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use wiretape::engine::BoxFuture;
    use wiretape::plugins::{Next, Plugin};
    use wiretape::{HeaderValue, Request, Response, Result};

    struct Numbered(AtomicU32);
    impl Plugin for Numbered {
        fn call<'a>(
            &'a self,
            mut request: Request,
            next: Next<'a>,
        ) -> BoxFuture<'a, Result<Response>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            request.headers_mut().append("x-n", HeaderValue::from(n));
            if n == 0 {
                request.headers_mut().remove("accept");
            }
            next.run(request)
        }
    }

    let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    let client = Client::builder()
        .engine(engine.clone())
        .default_header("accept", "application/json")
        .plugin(Numbered(AtomicU32::new(0)))
        .build()
        .unwrap();
    for _ in 0..3 {
        client.get("http://api.test/").send().await.unwrap();
    }
    let history = engine.request_history();
    for (i, request) in history.iter().enumerate() {
        let numbers: Vec<_> = request.headers().get_all("x-n").iter().collect();
        assert_eq!(numbers, [i.to_string().as_str()], "request {i}");
        let accept = request.headers().get("accept");
        assert_eq!(accept.is_none(), i == 0, "request {i}");
        assert!(request.headers().contains_key("user-agent"), "request {i}");
    }
}

#[tokio::test]
async fn invalid_defaults_are_reported_when_the_client_is_built() {
    let err = Client::builder()
        .base_url("not a url")
        .default_header("bad header", "x")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(
        message.contains("invalid base URL \"not a url\""),
        "{message}"
    );
    assert!(message.contains("invalid default header name"), "{message}");
}

/// The chain with every plugin installed, cookies among them (the `cookies` feature).
#[cfg(feature = "cookies")]
mod with_cookies {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use common::scripted;
    use wiretape::engine::BoxFuture;
    use wiretape::mock::{respond_error, respond_redirect};
    use wiretape::plugins::{
        Auth, Backoff, ContentEncoding, CookieJar, Cookies, Next, Plugin, Retry,
    };
    use wiretape::{Request, Response, Result, StatusCode, Url};

    /// Records the requests that reach it, as `path headers...`.
    #[derive(Clone, Default)]
    struct Spy(Arc<Mutex<Vec<Request>>>);

    impl Plugin for Spy {
        fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
            self.0.lock().unwrap().push(request.try_clone().unwrap());
            next.run(request)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_plugin_sees_every_attempt_and_hop_as_sent() {
        let engine = scripted(vec![
            || Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)),
            || Ok(respond_redirect("/final")),
            || Ok(respond_ok("done")),
        ]);
        let jar = CookieJar::new();
        jar.add(
            "session=s1; Path=/",
            &Url::parse("http://api.test/").unwrap(),
        )
        .unwrap();
        let spy = Spy::default();
        // Deliberately installed in the "wrong" order: the builder fixes it.
        let client = Client::builder()
            .plugin(spy.clone())
            .content_encoding(ContentEncoding::new())
            .cookies(Cookies::with_jar(jar))
            .auth(Auth::basic("ada", "pw"))
            .retry(Retry::new().backoff(Backoff::Constant(Duration::from_secs(1))))
            .default_header("x-team", "payments")
            .engine(engine)
            .build()
            .unwrap();

        let response = client.get("http://api.test/start").send().await.unwrap();

        assert_eq!(response.text().await.unwrap(), "done");
        let seen = spy.0.lock().unwrap();
        let paths: Vec<&str> = seen.iter().map(|r| r.url().path()).collect();
        assert_eq!(paths, ["/start", "/start", "/final"]);
        for request in seen.iter() {
            for header in [
                "authorization",
                "cookie",
                "accept-encoding",
                "x-team",
                "user-agent",
            ] {
                assert!(
                    request.headers().contains_key(header),
                    "{header} missing at {}",
                    request.url()
                );
            }
        }
    }

    #[tokio::test]
    async fn websocket_handshakes_get_defaults_credentials_and_cookies() {
        let engine = MockEngine::new(|_| async { Ok(respond_ok("")) }).with_websocket(
            |_request, mut peer| async move {
                let _ = peer.recv().await;
            },
        );
        let jar = CookieJar::new();
        jar.add(
            "session=s1; Path=/; HttpOnly",
            &Url::parse("http://chat.test/").unwrap(),
        )
        .unwrap();
        let client = Client::builder()
            .engine(engine.clone())
            .base_url("http://chat.test/")
            .default_header("x-team", "payments")
            .auth(Auth::basic("ada", "pw"))
            .cookies(Cookies::with_jar(jar))
            .build()
            .unwrap();

        let _socket = client.websocket("rooms/1").await.unwrap();

        let handshake = &engine.request_history()[0];
        assert_eq!(handshake.url().as_str(), "ws://chat.test/rooms/1");
        assert_eq!(handshake.headers()["x-team"], "payments");
        assert_eq!(handshake.headers()["authorization"], "Basic YWRhOnB3");
        assert_eq!(handshake.headers()["cookie"], "session=s1");
    }
}
