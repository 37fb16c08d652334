//! The clients: wiretape's `Client` (over `HyperEngine`, default plugins),
//! `HyperEngine` called directly, hyper-util's legacy client and reqwest,
//! each sending one GET to the raw origin and reading the whole body.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wiretape::engine::{Engine, HyperEngine};

/// The clients compared, in the order of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wiretape,
    Engine,
    HyperUtil,
    Reqwest,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Wiretape, Kind::Engine, Kind::HyperUtil, Kind::Reqwest];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Wiretape => "wiretape Client",
            Kind::Engine => "HyperEngine alone",
            Kind::HyperUtil => "hyper-util",
            Kind::Reqwest => "reqwest",
        }
    }
}

/// One client. The runs share it between tasks behind an `Arc`, so that
/// what a request costs does not include cloning the client.
// One of each lives for the whole run: their sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Peer {
    Wiretape(wiretape::Client),
    Engine(HyperEngine),
    HyperUtil(HyperClient<HttpConnector, Empty<Bytes>>),
    Reqwest(reqwest::Client),
}

impl Peer {
    pub fn new(kind: Kind) -> Peer {
        match kind {
            Kind::Wiretape => Peer::Wiretape(wiretape::Client::new()),
            Kind::Engine => Peer::Engine(HyperEngine::default()),
            Kind::HyperUtil => {
                let mut connector = HttpConnector::new();
                // As HyperEngine and reqwest do by default.
                connector.set_nodelay(true);
                Peer::HyperUtil(HyperClient::builder(TokioExecutor::new()).build(connector))
            }
            Kind::Reqwest => Peer::Reqwest(reqwest::Client::new()),
        }
    }

    /// GETs `path` on `origin`, reads the body and answers its length.
    /// Panics on anything but a `200`: a wrong answer must not pass for a
    /// fast one.
    pub async fn get(&self, origin: SocketAddr, path: &str) -> usize {
        let url = format!("http://{origin}{path}");
        let (status, body) = match self {
            Peer::Wiretape(client) => {
                let response = client.get(&url).send().await.expect("answered");
                (response.status(), response.bytes().await.expect("a body"))
            }
            Peer::Engine(engine) => {
                let url = url::Url::parse(&url).expect("a URL");
                let request = wiretape::Request::new(http::Method::GET, url);
                let response = engine.execute(request).await.expect("answered");
                (response.status(), response.bytes().await.expect("a body"))
            }
            Peer::HyperUtil(client) => {
                let uri: http::Uri = url.parse().expect("a URI");
                let response = client.get(uri).await.expect("answered");
                let status = response.status();
                let body = response.into_body().collect().await.expect("a body");
                (status, body.to_bytes())
            }
            Peer::Reqwest(client) => {
                let response = client.get(&url).send().await.expect("answered");
                (response.status(), response.bytes().await.expect("a body"))
            }
        };
        assert_eq!(status.as_u16(), 200, "GET {url}: {body:?}");
        body.len()
    }
}
