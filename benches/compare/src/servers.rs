//! The servers: the same routes on wiretape's `serve(Router)`, on a raw
//! hyper-util server, on wiremock-rs and on httpmock, each written the way
//! a user of that crate would write them (wiretape's path templates, a
//! hand-written map for raw hyper, path regexes for the two mock servers);
//! and the raw hyper origin the clients are measured against.
//!
//! The routes: `routes` GETs `/api/v1/things{i}/{id}` answering
//! `{"route": i}`, and one `POST /api/v1/users` that answers `201 {"id":7}`
//! only when the JSON body contains `"name": "Ada"`. The peers keep their
//! defaults (wiremock-rs and httpmock record every request, as wiretape's
//! journal does).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;

/// The body of the origin's large answer, which the clients download.
pub const BIG: usize = 1 << 20;

/// The client every server is measured with: hyper-util's legacy client.
pub type Client = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A [`Client`] with `TCP_NODELAY`, as the servers set it.
pub fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector)
}

/// The server-side cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Sequential,
    Concurrent,
    JsonPost,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential GET",
            Mode::Concurrent => "32 concurrent GETs",
            Mode::JsonPost => "sequential JSON POST",
        }
    }
}

/// One request of `mode` to the server at `addr`; checks the answer.
pub async fn request(client: &Client, addr: SocketAddr, mode: Mode, routes: usize) -> usize {
    let (request, expected) = match mode {
        Mode::JsonPost => (
            hyper::Request::post(format!("http://{addr}/api/v1/users"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"name":"Ada","role":"admin","tags":["a","b"]}"#,
                ))),
            201,
        ),
        _ => (
            hyper::Request::get(format!("http://{addr}/api/v1/things{}/42", routes / 2))
                .body(Full::new(Bytes::new())),
            200,
        ),
    };
    let response = client
        .request(request.expect("a request"))
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("a body");
    let body = body.to_bytes();
    assert_eq!(status, expected, "{addr}, {}: {body:?}", mode.name());
    body.len()
}

/// The servers compared, in the order of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wiretape,
    RawHyper,
    Wiremock,
    Httpmock,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Wiretape,
        Kind::RawHyper,
        Kind::Wiremock,
        Kind::Httpmock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Wiretape => "wiretape serve",
            Kind::RawHyper => "raw hyper",
            Kind::Wiremock => "wiremock-rs",
            Kind::Httpmock => "httpmock",
        }
    }
}

/// What a server must keep alive while it serves.
pub enum Running {
    Wiretape(wiretape::server::ServerHandle),
    Raw,
    Wiremock(wiremock::MockServer),
    Httpmock(httpmock::MockServer),
}

/// Starts `kind` with `routes` GET routes (on the current runtime; the mock
/// servers start threads of their own, which inherit this thread's CPU).
pub async fn start(kind: Kind, routes: usize) -> (SocketAddr, Running) {
    match kind {
        Kind::Wiretape => {
            let server = wiretape::server::serve(wiretape_router(routes), "127.0.0.1:0")
                .await
                .expect("serve binds");
            (server.local_addr(), Running::Wiretape(server))
        }
        Kind::RawHyper => {
            let gets = (0..routes)
                .map(|i| (format!("/api/v1/things{i}"), route_body(i)))
                .collect();
            let routes = Arc::new(RawRoutes { gets });
            let addr = raw_server(move |request| raw_answer(routes.clone(), request)).await;
            (addr, Running::Raw)
        }
        Kind::Wiremock => {
            let server = wiremock_server(routes).await;
            (*server.address(), Running::Wiremock(server))
        }
        Kind::Httpmock => {
            let server = httpmock_server(routes).await;
            (*server.address(), Running::Httpmock(server))
        }
    }
}

fn route_body(i: usize) -> Bytes {
    Bytes::from(json!({ "route": i }).to_string())
}

fn wiretape_router(routes: usize) -> wiretape::mock::Router {
    use wiretape::mock::matchers::{body_partial_json, method, path};
    use wiretape::mock::responders::json as respond_json;
    use wiretape::mock::{Route, Router};

    let router = Router::new().without_drop_verification();
    for i in 0..routes {
        router.mock(
            Route::given(method("GET"))
                .and(path(format!("/api/v1/things{i}/{{id}}")))
                .respond_with(respond_json(&json!({ "route": i }))),
        );
    }
    router.mock(
        Route::given(method("POST"))
            .and(path("/api/v1/users"))
            .and(body_partial_json(&json!({ "name": "Ada" })))
            .respond_with(respond_json(&json!({ "id": 7 })).with_status(201)),
    );
    router
}

async fn wiremock_server(routes: usize) -> wiremock::MockServer {
    use wiremock::matchers::{body_partial_json, method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    for i in 0..routes {
        Mock::given(method("GET"))
            .and(path_regex(format!("^/api/v1/things{i}/[^/]+$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "route": i })))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/v1/users"))
        .and(body_partial_json(json!({ "name": "Ada" })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 7 })))
        .mount(&server)
        .await;
    server
}

async fn httpmock_server(routes: usize) -> httpmock::MockServer {
    use httpmock::Method::{GET, POST};

    let server = httpmock::MockServer::start_async().await;
    for i in 0..routes {
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path_matches(format!("^/api/v1/things{i}/[^/]+$").as_str());
                then.status(200).json_body(json!({ "route": i }));
            })
            .await;
    }
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v1/users")
                .json_body_includes(json!({ "name": "Ada" }).to_string());
            then.status(201).json_body(json!({ "id": 7 }));
        })
        .await;
    server
}

/// The routes by hand: a map from the path without its last segment to the
/// answer, and the JSON POST parsed and checked.
struct RawRoutes {
    gets: HashMap<String, Bytes>,
}

async fn raw_answer(
    routes: Arc<RawRoutes>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if parts.method == http::Method::POST && path == "/api/v1/users" {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if value["name"] == "Ada" {
            return Ok(json_response(201, Bytes::from_static(br#"{"id":7}"#)));
        }
    } else if parts.method == http::Method::GET
        && let Some((prefix, id)) = path.rsplit_once('/')
        && let (Some(answer), false) = (routes.gets.get(prefix), id.is_empty())
    {
        return Ok(json_response(200, answer.clone()));
    }
    Ok(json_response(404, Bytes::from_static(b"{}")))
}

fn json_response(status: u16, body: Bytes) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a valid response")
}

/// The origin the clients talk to: `GET /small` answers a short JSON body,
/// `GET /big` [`BIG`] bytes.
pub async fn origin() -> SocketAddr {
    let big = Bytes::from(vec![b'x'; BIG]);
    raw_server(move |request: hyper::Request<Incoming>| {
        let body = match request.uri().path() {
            "/big" => big.clone(),
            _ => Bytes::from_static(br#"{"id":7,"name":"Ada"}"#),
        };
        async move { Ok::<_, Infallible>(json_response(200, body)) }
    })
    .await
}

/// A raw hyper-util server (HTTP/1.1 and h2c, as `serve`) running `answer`
/// for every request, on the current runtime.
async fn raw_server<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<hyper::Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("a bound address");
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let builder = builder.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
            });
        }
    });
    addr
}
