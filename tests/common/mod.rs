//! Helpers shared by the plugin tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use wiretape::mock::MockEngine;
use wiretape::{Request, Response, Result};

/// A mock that answers from a fixed list of outcomes, in order, and repeats
/// the last one.
pub fn scripted(outcomes: Vec<fn() -> Result<Response>>) -> MockEngine {
    let next = Arc::new(Mutex::new(0usize));
    MockEngine::new(move |_request: Request| {
        let mut index = next.lock().unwrap();
        let outcome = outcomes[(*index).min(outcomes.len() - 1)]();
        *index += 1;
        async move { outcome }
    })
}

/// A self-signed certificate for 127.0.0.1 and localhost: the rustls server
/// configuration and the certificate's DER for the client to trust.
pub fn tls_config() -> (rustls::ServerConfig, Vec<u8>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let der = certified.cert.der().to_vec();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    (config, der)
}

/// A log sink for `Logging::logger`, and its lines.
pub fn log_sink() -> (
    impl Fn(&str) + Send + Sync + 'static,
    Arc<Mutex<Vec<String>>>,
) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    (
        move |line: &str| sink.lock().unwrap().push(line.to_owned()),
        lines,
    )
}
