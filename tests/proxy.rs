//! Proxies against a real one: proxy.py (from PyPI, installed into the test
//! venv) on 127.0.0.1, in front of wiretape's own loopback servers. Plain
//! HTTP goes through it in absolute form, HTTPS and WSS through CONNECT
//! tunnels to TLS servers with a test certificate; its Basic credentials are
//! accepted and refused; `NO_PROXY` sends requests around it; a cassette
//! recorded through it replays with no proxy at all. pproxy (also from
//! PyPI) is the SOCKS5 proxy.

mod common;
mod support;

use common::{echo_engine, tls_material};
use wiretape::cassette::{Cassette, Environment, Mode};
use wiretape::engine::{HyperEngine, Proxies};
use wiretape::server::{Server, ServerHandle};
use wiretape::{Client, ErrorKind};

/// A client whose every request (loopback included) goes through `proxy`,
/// trusting `cert` for the origin's TLS.
fn proxied(proxy: &str, cert: Option<&[u8]>) -> Client {
    let proxies = Proxies::none().all(proxy).unwrap().proxy_loopback(true);
    client_with(proxies, cert)
}

fn client_with(proxies: Proxies, cert: Option<&[u8]>) -> Client {
    let mut engine = HyperEngine::builder().native_roots(false).proxies(proxies);
    if let Some(cert) = cert {
        engine = engine.add_root_certificate(cert.to_vec());
    }
    Client::builder()
        .engine(engine.build().unwrap())
        .build()
        .unwrap()
}

/// The origins behind the proxies: plain HTTP, and HTTPS/WSS (HTTP/1.1)
/// with a test certificate the client trusts.
struct Origins {
    plain: ServerHandle,
    secure: ServerHandle,
    cert: Vec<u8>,
}

async fn origins() -> Origins {
    let plain = Server::new()
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let (tls, cert) = tls_material();
    let secure = Server::new()
        .http1_only()
        .tls(tls)
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    Origins {
        plain,
        secure,
        cert,
    }
}

/// Runs a test body, failing it (rather than hanging the run) if a proxy or
/// server stops answering.
async fn bounded(body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(std::time::Duration::from_secs(120), body)
        .await
        .expect("the test finished within 120 s");
}

fn closed_port() -> u16 {
    support::free_port()
}

#[tokio::test]
async fn http_https_and_wss_go_through_an_authenticating_proxy() {
    let Some(python) = support::python() else {
        return;
    };
    bounded(http_https_and_wss_go_through_an_authenticating_proxy_body(
        python,
    ))
    .await;
}

async fn http_https_and_wss_go_through_an_authenticating_proxy_body(python: support::Python) {
    let (_proxy, port) = support::start_proxy(&python, Some("ada:s3cret"));
    let Origins {
        plain,
        secure,
        cert,
    } = origins().await;
    let client = proxied(&format!("http://ada:s3cret@127.0.0.1:{port}"), Some(&cert));

    // Plain HTTP: forwarded by the proxy (which answers 407 without the
    // credentials: see the next test).
    let response = client.get(plain.url("/plain?x=1")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-echo-target"], "/plain?x=1");

    // HTTPS: a CONNECT tunnel, TLS with the origin inside it.
    let response = client
        .post(secure.url("/secure"))
        .body("over a tunnel")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "over a tunnel");

    // WSS: the same tunnel, then the WebSocket handshake.
    let mut socket = client.websocket(secure.ws_url("/chat")).await.unwrap();
    socket.send_text("hello through the proxy").await.unwrap();
    assert_eq!(
        socket.recv_text().await.unwrap().as_deref(),
        Some("hello through the proxy")
    );
    socket.close(1000, "done").await.unwrap();
}

#[tokio::test]
async fn wrong_or_missing_proxy_credentials_are_the_proxys_refusal() {
    let Some(python) = support::python() else {
        return;
    };
    bounded(wrong_or_missing_proxy_credentials_are_the_proxys_refusal_body(python)).await;
}

async fn wrong_or_missing_proxy_credentials_are_the_proxys_refusal_body(python: support::Python) {
    let (_proxy, port) = support::start_proxy(&python, Some("ada:s3cret"));
    let Origins {
        plain,
        secure,
        cert,
    } = origins().await;

    // Plain HTTP: the proxy's 407 is a response, as curl and reqwest show it.
    let wrong = proxied(&format!("http://ada:wrong@127.0.0.1:{port}"), Some(&cert));
    let response = wrong.get(plain.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 407);

    // A tunnel the proxy refuses is a proxy error, naming the proxy, never
    // the password.
    let err = wrong.get(secure.url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy, "{err}");
    let text = err.to_string();
    support::assert_mentions(
        &text,
        &["rejected its credentials", "407", &port.to_string()],
    );
    assert!(!text.contains("wrong"), "{text}");

    let anonymous = proxied(&format!("http://127.0.0.1:{port}"), Some(&cert));
    let err = anonymous.websocket(secure.ws_url("/")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy, "{err}");
    support::assert_mentions(
        &err.to_string(),
        &["requires credentials", "user:password@"],
    );
}

#[tokio::test]
async fn a_refused_proxy_is_told_from_a_refused_origin() {
    bounded(a_refused_proxy_is_told_from_a_refused_origin_body()).await;
}

async fn a_refused_proxy_is_told_from_a_refused_origin_body() {
    let plain = Server::new()
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let dead_proxy = format!("http://ada:s3cret@127.0.0.1:{}", closed_port());
    let client = proxied(&dead_proxy, None);

    for url in [
        plain.url("/"),
        plain.url("/").replace("http://", "https://"),
    ] {
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ProxyRefused, "{url}: {err}");
        assert!(err.kind().is_before_request_sent());
        let text = err.to_string();
        support::assert_mentions(&text, &["proxy", &url]);
        assert!(!text.contains("s3cret"), "{text}");
    }
    let err = client.websocket(plain.ws_url("/")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProxyRefused, "{err}");

    let direct = client_with(Proxies::none(), None);
    let origin = format!("http://127.0.0.1:{}/", closed_port());
    let err = direct.get(&origin).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[tokio::test]
async fn no_proxy_and_loopback_requests_go_direct() {
    bounded(no_proxy_and_loopback_requests_go_direct_body()).await;
}

async fn no_proxy_and_loopback_requests_go_direct_body() {
    let plain = Server::new()
        .serve(echo_engine(), "127.0.0.1:0")
        .await
        .unwrap();
    let dead_proxy = format!("http://127.0.0.1:{}", closed_port());

    // The environment, as a test passes it: NO_PROXY names the origin.
    let from_env = Proxies::from_vars([
        ("HTTP_PROXY", dead_proxy.as_str()),
        ("no_proxy", "example.test, 127.0.0.0/8"),
    ])
    .proxy_loopback(true);
    let response = client_with(from_env, None)
        .get(plain.url("/direct"))
        .send()
        .await;
    assert_eq!(response.unwrap().status(), 200);

    // Loopback is never proxied unless asked, whatever the variables say.
    let unasked = Proxies::from_vars([("ALL_PROXY", dead_proxy.as_str())]);
    let response = client_with(unasked.clone(), None)
        .get(plain.url("/"))
        .send()
        .await;
    assert_eq!(response.unwrap().status(), 200);
    let asked = client_with(unasked.proxy_loopback(true), None);
    let err = asked.get(plain.url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProxyRefused, "{err}");

    // The builder switch ignores the environment altogether.
    let engine = HyperEngine::builder().no_proxy().build().unwrap();
    let client = Client::builder().engine(engine).build().unwrap();
    assert_eq!(
        client.get(plain.url("/")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn a_cassette_recorded_through_the_proxy_replays_without_it() {
    let Some(python) = support::python() else {
        return;
    };
    bounded(a_cassette_recorded_through_the_proxy_replays_without_it_body(python)).await;
}

async fn a_cassette_recorded_through_the_proxy_replays_without_it_body(python: support::Python) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("behind_a_proxy.yaml");
    let (proxy, port) = support::start_proxy(&python, Some("ada:s3cret"));
    let Origins {
        plain,
        secure,
        cert,
    } = origins().await;
    let urls = [plain.url("/users/7"), secure.url("/orders?page=2")];

    let engine = HyperEngine::builder()
        .native_roots(false)
        .add_root_certificate(cert.clone())
        .proxies(
            Proxies::none()
                .all(&format!("http://ada:s3cret@127.0.0.1:{port}"))
                .unwrap()
                .proxy_loopback(true),
        )
        .build()
        .unwrap();
    let recorder = Cassette::builder(&path)
        .mode(Mode::Record)
        .environment(Environment::clean())
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(recorder.clone()).build().unwrap();
    let mut recorded = Vec::new();
    for url in &urls {
        recorded.push(support::text(client.post(url).body("payload")).await);
    }
    assert_eq!(recorder.finish().unwrap().recorded, 2);
    drop((proxy, plain, secure));

    let tape = std::fs::read_to_string(&path).unwrap();
    assert!(
        !tape.to_lowercase().contains("proxy-authorization"),
        "{tape}"
    );
    assert!(!tape.contains("s3cret"), "{tape}");

    let replay = support::replaying(&path);
    for (url, body) in urls.iter().zip(&recorded) {
        assert_eq!(&support::text(replay.post(url).body("payload")).await, body);
    }
}

#[tokio::test]
async fn http_https_and_wss_go_through_a_socks5_proxy() {
    let Some(python) = support::python() else {
        return;
    };
    bounded(socks5_body(python)).await;
}

async fn socks5_body(python: support::Python) {
    let (proxy, port) = support::start_socks_proxy(&python);
    let Origins {
        plain,
        secure,
        cert,
    } = origins().await;
    // socks5: names resolved here; socks5h: by the proxy.
    for scheme in ["socks5", "socks5h"] {
        let client = proxied(&format!("{scheme}://127.0.0.1:{port}"), Some(&cert));
        let response = client.get(plain.url("/plain")).send().await.unwrap();
        assert_eq!(response.headers()["x-echo-target"], "/plain", "{scheme}");
        let localhost = secure.url("/secure").replace("127.0.0.1", "localhost");
        let response = client
            .post(&localhost)
            .body("tunnelled")
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "tunnelled", "{scheme}");
        let mut socket = client.websocket(secure.ws_url("/chat")).await.unwrap();
        socket.send_text("over socks").await.unwrap();
        assert_eq!(
            socket.recv_text().await.unwrap().as_deref(),
            Some("over socks")
        );
        socket.close(1000, "").await.unwrap();
    }
    // With the proxy gone, the failure is the proxy's.
    drop(proxy);
    let client = proxied(&format!("socks5://127.0.0.1:{port}"), Some(&cert));
    let err = client.get(plain.url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProxyRefused, "{err}");
}
