//! Helpers shared by the integration tests: TLS material and small engines.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;

use wiretape::Client;
use wiretape::engine::HyperEngine;
use wiretape::mock::MockEngine;

/// A self-signed certificate for `localhost` and `127.0.0.1`: the server's
/// rustls configuration and the certificate's DER for the client to trust.
pub fn tls_material() -> (rustls::ServerConfig, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("rcgen makes a certificate");
    let cert_der = certified.cert.der().to_vec();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone().into()], key)
    .expect("the generated key matches its certificate");
    (config, cert_der)
}

/// A client over the real engine that trusts `cert_der`.
pub fn trusting_client(cert_der: &[u8]) -> Client {
    let engine = HyperEngine::builder()
        .native_roots(false)
        .add_root_certificate(cert_der.to_vec())
        .build()
        .expect("engine builds");
    Client::builder()
        .engine(engine)
        .build()
        .expect("client builds")
}

/// The library's echo engine (HTTP and WebSocket).
pub fn echo_engine() -> MockEngine {
    wiretape::mock::echo()
}

/// The same echo; named for the WebSocket tests that use it.
pub fn ws_echo_engine() -> MockEngine {
    wiretape::mock::echo()
}

/// A mock that answers from a fixed list of outcomes, in order, and repeats
/// the last one.
pub fn scripted(outcomes: Vec<fn() -> wiretape::Result<wiretape::Response>>) -> MockEngine {
    let next = std::sync::Mutex::new(0usize);
    MockEngine::new(move |_request: wiretape::Request| {
        let mut index = next.lock().unwrap();
        let outcome = outcomes[(*index).min(outcomes.len() - 1)]();
        *index += 1;
        async move { outcome }
    })
}

/// A log sink for `Logging::logger`, and the lines it received.
pub fn log_sink() -> (
    impl Fn(&str) + Send + Sync + 'static,
    Arc<std::sync::Mutex<Vec<String>>>,
) {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    (
        move |line: &str| sink.lock().unwrap().push(line.to_owned()),
        lines,
    )
}

/// A listener that accepts TCP connections and never says a word (no TLS
/// handshake, no HTTP): its address, and the task holding the connections.
pub async fn silent_listener() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    (addr, held)
}
