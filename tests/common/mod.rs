//! Helpers shared by the integration tests: TLS material and small engines.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;

use wiretape::engine::HyperEngine;
use wiretape::mock::MockEngine;
use wiretape::ws::Frame;
use wiretape::{Client, Response, StatusCode};

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

/// A mock that echoes the request back: method, path and query, version,
/// content type, and the body.
pub fn echo_engine() -> MockEngine {
    MockEngine::new(|request| async move {
        let body = request.body().as_bytes().cloned().unwrap_or_default();
        let mut response = Response::new(StatusCode::OK)
            .with_header("x-method", request.method().as_str())
            .with_header("x-target", &request.url()[url::Position::BeforePath..])
            .with_header("x-version", format!("{:?}", request.version()))
            .with_body(body);
        if let Some(content_type) = request.headers().get("content-type") {
            response
                .headers_mut()
                .insert("x-content-type", content_type.clone());
        }
        Ok(response)
    })
}

/// A WebSocket echo: data frames come back as sent; a close frame is answered
/// with the same code and reason.
pub fn ws_echo_engine() -> MockEngine {
    MockEngine::new(|_| async { Ok(Response::new(StatusCode::OK)) }).with_websocket(
        |_request, mut peer| async move {
            while let Some(frame) = peer.recv().await {
                match frame {
                    Frame::Close(close) => {
                        let _ = peer.close(close.code, close.reason).await;
                        return;
                    }
                    Frame::Text(_) | Frame::Binary(_) => {
                        if peer.send(frame).await.is_err() {
                            return;
                        }
                    }
                    Frame::Ping(_) | Frame::Pong(_) => {}
                }
            }
        },
    )
}
