//! Cookies: the jar's rules, on the mock and through a real server.

use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::plugins::{CookieJar, Cookies};
use wiretape::{Client, Request, Response, StatusCode, Url, server};

/// Sets the cookies given in `?set=` (one per `set` parameter) and echoes
/// the `Cookie` header it received.
fn cookie_echo() -> MockEngine {
    MockEngine::new(|request: Request| async move {
        let mut response = respond_ok(request.header_str("cookie").unwrap_or("").to_owned());
        for (name, value) in request.url().query_pairs() {
            if name == "set" {
                response = response.with_header("set-cookie", value.as_ref());
            }
        }
        Ok(response)
    })
}

async fn sent(client: &Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

fn with_jar(engine: MockEngine) -> (Client, CookieJar) {
    let jar = CookieJar::new();
    let client = Client::builder()
        .engine(engine)
        .cookies(Cookies::with_jar(jar.clone()))
        .build()
        .unwrap();
    (client, jar)
}

#[tokio::test]
async fn cookies_follow_domain_and_path_rules() {
    let (client, _jar) = with_jar(cookie_echo());
    client
        .get("http://shop.test/account/login")
        .query(&[
            ("set", "host=1"),
            ("set", "wide=2; Domain=shop.test; Path=/"),
            ("set", "deep=3; Path=/account"),
        ])
        .send()
        .await
        .unwrap();

    let mut at_root: Vec<String> = sent(&client, "http://shop.test/")
        .await
        .split("; ")
        .map(str::to_owned)
        .collect();
    at_root.sort();
    assert_eq!(at_root, ["wide=2"]);
    let mut in_account: Vec<String> = sent(&client, "http://shop.test/account/orders")
        .await
        .split("; ")
        .map(str::to_owned)
        .collect();
    in_account.sort();
    // host=1 took the default path of /account/login: /account.
    assert_eq!(in_account, ["deep=3", "host=1", "wide=2"]);
    assert_eq!(sent(&client, "http://cdn.shop.test/").await, "wide=2");
    assert_eq!(sent(&client, "http://other.test/").await, "");
}

#[tokio::test]
async fn secure_cookies_go_over_https_only_and_expired_ones_are_removed() {
    let (client, jar) = with_jar(cookie_echo());
    client
        .get("https://shop.test/")
        .query(&[
            ("set", "token=t; Secure; Path=/"),
            ("set", "theme=dark; Path=/; Max-Age=3600"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&client, "http://shop.test/").await, "theme=dark");
    assert_eq!(jar.all().len(), 2);
    let theme = jar.all().into_iter().find(|c| c.name == "theme").unwrap();
    assert!(theme.expires.is_some());

    client
        .get("https://shop.test/")
        .query(&[("set", "theme=gone; Path=/; Max-Age=0")])
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&client, "https://shop.test/").await, "token=t");
}

#[tokio::test]
async fn a_site_cannot_set_cookies_for_another_and_the_request_keeps_its_own() {
    let (client, jar) = with_jar(cookie_echo());
    client
        .get("http://evil.test/")
        .query(&[("set", "stolen=1; Domain=bank.test")])
        .send()
        .await
        .unwrap();
    assert!(jar.all().is_empty());

    jar.add("lang=en; Path=/", &Url::parse("http://bank.test/").unwrap())
        .unwrap();
    jar.add("mode=a; Path=/", &Url::parse("http://bank.test/").unwrap())
        .unwrap();
    let echoed = client
        .get("http://bank.test/")
        .header("cookie", "lang=fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, "lang=fr; mode=a");
}

#[tokio::test]
async fn a_login_redirect_sets_the_cookie_for_the_next_hop_over_the_wire() {
    let engine = MockEngine::new(|request: Request| async move {
        Ok(match request.url().path() {
            "/login" => Response::new(StatusCode::FOUND)
                .with_header("location", "/home")
                .with_header("set-cookie", "session=s1; Path=/; HttpOnly"),
            _ => respond_ok(format!(
                "cookie: {}",
                request.header_str("cookie").unwrap_or("none")
            )),
        })
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let jar = CookieJar::new();
    let client = Client::builder()
        .engine(HyperEngine::default())
        .cookies(Cookies::with_jar(jar.clone()))
        .build()
        .unwrap();

    let response = client.post(server.url("/login")).send().await.unwrap();

    assert_eq!(response.url().path(), "/home");
    assert_eq!(response.text().await.unwrap(), "cookie: session=s1");
    let stored = &jar.all()[0];
    assert_eq!((stored.name.as_str(), stored.http_only), ("session", true));
    server.shutdown().await;
}

/// The echo, whose WebSocket handshakes answer with a session cookie.
struct HandshakeSetsCookie(MockEngine);

impl wiretape::engine::Engine for HandshakeSetsCookie {
    fn execute(
        &self,
        request: Request,
    ) -> wiretape::engine::BoxFuture<'_, wiretape::Result<Response>> {
        self.0.execute(request)
    }

    fn websocket(
        &self,
        request: Request,
    ) -> wiretape::engine::BoxFuture<'_, wiretape::Result<wiretape::ws::WsConnection>> {
        Box::pin(async move {
            let (response, sink, stream) = self.0.websocket(request).await?.into_parts();
            let response = response.with_header("set-cookie", "session=ws1; Path=/");
            Ok(wiretape::ws::WsConnection::new(response, sink, stream))
        })
    }

    fn capabilities(&self) -> wiretape::engine::Capabilities {
        self.0.capabilities()
    }
}

#[tokio::test]
async fn a_cookie_set_by_a_websocket_handshake_is_kept() {
    let jar = CookieJar::new();
    let client = Client::builder()
        .engine(HandshakeSetsCookie(
            cookie_echo().with_websocket(|_, _| async {}),
        ))
        .cookies(Cookies::with_jar(jar.clone()))
        .build()
        .unwrap();
    client.websocket("wss://chat.test/socket").await.unwrap();
    assert_eq!(
        sent(&client, "https://chat.test/history").await,
        "session=ws1"
    );
}
