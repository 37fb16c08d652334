//! Redirect: method rules, hop limit, credentials across origins, no
//! downgrade; on the mock and through real loopback servers.

use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_ok, respond_redirect_with};
use wiretape::plugins::{Auth, Redirect};
use wiretape::{Client, ErrorKind, Method, Request, StatusCode, server};

/// Redirects `/from` with `status` to `/to`, which echoes method and body.
fn hop(status: StatusCode) -> MockEngine {
    MockEngine::new(move |request: Request| async move {
        Ok(match request.url().path() {
            "/from" => respond_redirect_with(status, "/to"),
            _ => {
                let body = String::from_utf8_lossy(request.body().as_bytes().unwrap()).into_owned();
                respond_ok(format!("{} {body}", request.method()))
            }
        })
    })
}

async fn follow(status: StatusCode, method: Method) -> String {
    let client = Client::builder().engine(hop(status)).build().unwrap();
    client
        .request(method, "http://site.test/from")
        .header("content-type", "text/plain")
        .body("payload")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn see_other_and_found_turn_a_post_into_a_get_without_body() {
    assert_eq!(follow(StatusCode::SEE_OTHER, Method::POST).await, "GET ");
    assert_eq!(follow(StatusCode::FOUND, Method::POST).await, "GET ");
    assert_eq!(
        follow(StatusCode::MOVED_PERMANENTLY, Method::POST).await,
        "GET "
    );
    assert_eq!(follow(StatusCode::SEE_OTHER, Method::PUT).await, "GET ");
}

#[tokio::test]
async fn temporary_and_permanent_redirects_keep_method_and_body() {
    assert_eq!(
        follow(StatusCode::TEMPORARY_REDIRECT, Method::POST).await,
        "POST payload"
    );
    assert_eq!(
        follow(StatusCode::PERMANENT_REDIRECT, Method::PUT).await,
        "PUT payload"
    );
    assert_eq!(follow(StatusCode::FOUND, Method::PUT).await, "PUT payload");
}

#[tokio::test]
async fn the_hop_limit_stops_a_loop_with_the_chain_in_the_error() {
    let engine = MockEngine::new(|request: Request| async move {
        let n: u32 = request.url().path()[1..].parse().unwrap_or(0);
        Ok(respond_redirect_with(
            StatusCode::FOUND,
            &format!("/{}", n + 1),
        ))
    });
    let client = Client::builder()
        .engine(engine.clone())
        .redirect(Redirect::new().max_hops(3))
        .build()
        .unwrap();

    let err = client.get("http://loop.test/0").send().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Protocol);
    let message = err.to_string();
    assert!(message.contains("more than 3 redirects"), "{message}");
    assert!(
        message.contains("http://loop.test/3 -> http://loop.test/4"),
        "{message}"
    );
    assert_eq!(engine.request_history().len(), 4);
}

#[tokio::test]
async fn an_https_page_may_not_send_us_to_http() {
    let engine = MockEngine::new(|request: Request| async move {
        Ok(match request.url().scheme() {
            "https" => respond_redirect_with(StatusCode::FOUND, "http://site.test/plain"),
            _ => respond_ok("plain"),
        })
    });
    let client = Client::builder().engine(engine.clone()).build().unwrap();
    let err = client.get("https://site.test/").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("allow_https_downgrade"), "{err}");

    let client = Client::builder()
        .engine(engine)
        .redirect(Redirect::new().allow_https_downgrade(true))
        .build()
        .unwrap();
    assert_eq!(
        client
            .get("https://site.test/")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "plain"
    );
}

#[tokio::test]
async fn credentials_stay_on_the_same_origin_and_are_dropped_across() {
    let engine = MockEngine::new(|request: Request| async move {
        Ok(match request.url().path() {
            "/same" => respond_redirect_with(StatusCode::FOUND, "/landing"),
            "/away" => respond_redirect_with(StatusCode::FOUND, "http://elsewhere.test/landing"),
            _ => respond_ok(""),
        })
    });
    let client = Client::builder()
        .engine(engine.clone())
        .auth(Auth::basic("ada", "pw"))
        .build()
        .unwrap();

    client
        .get("http://api.test/same")
        .header("cookie", "a=1")
        .send()
        .await
        .unwrap();
    client
        .get("http://api.test/away")
        .header("cookie", "a=1")
        .send()
        .await
        .unwrap();

    let history = engine.request_history();
    assert!(history[1].headers().contains_key("authorization"));
    assert!(history[1].headers().contains_key("cookie"));
    assert_eq!(history[3].url().host_str(), Some("elsewhere.test"));
    assert!(!history[3].headers().contains_key("authorization"));
    assert!(!history[3].headers().contains_key("cookie"));
}

#[tokio::test]
async fn redirects_between_real_servers_drop_credentials_at_the_origin_change() {
    let elsewhere = server::serve(
        MockEngine::new(|request: Request| async move {
            Ok(respond_ok(
                request
                    .header_str("authorization")
                    .unwrap_or("none")
                    .to_owned(),
            ))
        }),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let target = elsewhere.url("/landing");
    let origin = server::serve(
        MockEngine::new(move |request: Request| {
            let target = target.clone();
            async move {
                Ok(match request.url().path() {
                    "/start" => respond_redirect_with(StatusCode::FOUND, "/middle"),
                    "/middle" => respond_redirect_with(StatusCode::TEMPORARY_REDIRECT, &target),
                    _ => respond_ok(""),
                })
            }
        }),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let client = Client::builder()
        .engine(HyperEngine::default())
        .auth(Auth::basic("ada", "pw"))
        .build()
        .unwrap();

    let response = client.get(origin.url("/start")).send().await.unwrap();

    assert_eq!(response.url().as_str(), elsewhere.url("/landing"));
    assert_eq!(response.text().await.unwrap(), "none");
    origin.shutdown().await;
    elsewhere.shutdown().await;
}

#[tokio::test]
async fn a_redirected_response_from_an_engine_that_sets_no_url_reports_the_final_hop() {
    use wiretape::mock::matchers::path;
    use wiretape::mock::responders::{status, text};
    use wiretape::mock::{Route, Router};

    // The router leaves the response's URL to the client.
    let router = Router::new();
    router
        .mock(Route::given(path("/old")).respond_with(status(301).with_header("location", "/new")));
    router.mock(Route::given(path("/new")).respond_with(text("moved here")));
    let client = Client::builder()
        .engine(router)
        .base_url("http://site.test")
        .build()
        .unwrap();

    let response = client.get("/old").send().await.unwrap();
    assert_eq!(response.url().as_str(), "http://site.test/new");
    assert_eq!(response.text().await.unwrap(), "moved here");

    let response = client.get("/new").send().await.unwrap();
    assert_eq!(response.url().as_str(), "http://site.test/new");
}

#[tokio::test]
async fn a_307_that_cannot_be_followed_still_reports_its_url() {
    use wiretape::mock::Route;
    use wiretape::mock::Router;
    use wiretape::mock::matchers::path;
    use wiretape::mock::responders::status;

    // A streamed body cannot be sent again: the 307 itself is the answer,
    // and the router leaves its URL to the client.
    let router = Router::new();
    router.mock(
        Route::given(path("/upload")).respond_with(status(307).with_header("location", "/next")),
    );
    let client = Client::builder().engine(router).build().unwrap();
    let chunks =
        futures_util::stream::iter(vec![Ok::<_, std::io::Error>(wiretape::Bytes::from("once"))]);
    let response = client
        .post("http://site.test/upload")
        .body(wiretape::Body::from_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(response.url().as_str(), "http://site.test/upload");
}
