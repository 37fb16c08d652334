//! ContentEncoding: gzip, deflate (zlib and raw), brotli (the `brotli`
//! feature), streamed; on the mock and through a real server.

#[cfg(feature = "brotli")]
use async_compression::tokio::bufread::BrotliEncoder;
use async_compression::tokio::bufread::{DeflateEncoder, GzipEncoder, ZlibEncoder};
use tokio::io::AsyncReadExt;
use wiretape::engine::HyperEngine;
use wiretape::mock::MockEngine;
use wiretape::plugins::ContentEncoding;
use wiretape::{Body, Bytes, Client, ErrorKind, Request, Response, StatusCode, server};

const TEXT: &str = "It was the best of times, it was the worst of times. ";

fn original() -> Vec<u8> {
    TEXT.repeat(200).into_bytes()
}

async fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => GzipEncoder::new(data).read_to_end(&mut out).await,
        "zlib" => ZlibEncoder::new(data).read_to_end(&mut out).await,
        "raw" => DeflateEncoder::new(data).read_to_end(&mut out).await,
        #[cfg(feature = "brotli")]
        "br" => BrotliEncoder::new(data).read_to_end(&mut out).await,
        other => panic!("no encoder {other}"),
    }
    .unwrap();
    out
}

/// A response with `content-encoding: header` whose `body` arrives in
/// 7-byte chunks, so decoding has to work across chunk boundaries.
fn chunked(header: &'static str, body: Vec<u8>) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Response::new(StatusCode::OK)
        .with_header("content-encoding", header)
        .with_header("content-length", body.len().to_string())
        .with_body(Body::from_stream(futures_util::stream::iter(chunks)))
}

fn serving(header: &'static str, body: Vec<u8>) -> MockEngine {
    MockEngine::new(move |_| {
        let body = body.clone();
        async move { Ok(chunked(header, body)) }
    })
}

fn decoding(engine: MockEngine) -> Client {
    Client::builder()
        .engine(engine)
        .content_encoding(ContentEncoding::new())
        .build()
        .unwrap()
}

async fn fetch(header: &'static str, body: Vec<u8>) -> (Response, Vec<u8>) {
    let response = decoding(serving(header, body))
        .get("http://api.test/")
        .send()
        .await
        .unwrap();
    let mut head = Response::new(response.status());
    *head.headers_mut() = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    (head, bytes)
}

/// Every coding compiled in, as (`Content-Encoding`, encoder).
const CODINGS: &[(&str, &str)] = &[
    ("gzip", "gzip"),
    ("deflate", "zlib"),
    ("deflate", "raw"),
    #[cfg(feature = "brotli")]
    ("br", "br"),
];

#[tokio::test]
async fn gzip_zlib_raw_deflate_and_brotli_decode_across_chunks() {
    for &(header, coding) in CODINGS {
        let (head, bytes) = fetch(header, encode(coding, &original()).await).await;
        assert_eq!(bytes, original(), "{coding}");
        assert!(head.headers().get("content-encoding").is_none(), "{coding}");
        assert!(head.headers().get("content-length").is_none(), "{coding}");
    }
}

#[tokio::test]
async fn stacked_codings_are_undone_in_reverse() {
    let inner = encode("gzip", &original()).await;
    let outer = encode("zlib", &inner).await;
    let (_, bytes) = fetch("gzip, deflate", outer).await;
    assert_eq!(bytes, original());
}

#[cfg(feature = "brotli")]
#[tokio::test]
async fn brotli_stacks_on_gzip() {
    let inner = encode("gzip", &original()).await;
    let outer = encode("br", &inner).await;
    let (_, bytes) = fetch("gzip, br", outer).await;
    assert_eq!(bytes, original());
}

/// Without the `brotli` feature, `br` is not asked for, and a `br` body
/// that comes anyway passes through as it came (reqwest does the same).
#[cfg(not(feature = "brotli"))]
#[tokio::test]
async fn without_the_brotli_feature_br_is_not_asked_for_and_passes_through() {
    let engine = serving("br", b"brotli bytes".to_vec());
    let response = decoding(engine.clone())
        .get("http://api.test/")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "br");
    assert_eq!(response.bytes().await.unwrap(), "brotli bytes");
    assert_eq!(
        engine.request_history()[0].headers()["accept-encoding"],
        "gzip, deflate"
    );
}

#[tokio::test]
async fn accept_encoding_is_sent_unless_the_request_chose_its_own() {
    let gzipped = encode("gzip", &original()).await;
    let engine = serving("gzip", gzipped.clone());
    let client = decoding(engine.clone());

    client.get("http://api.test/").send().await.unwrap();
    let raw = client
        .get("http://api.test/")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(raw.headers()["content-encoding"], "gzip");
    assert_eq!(raw.bytes().await.unwrap(), gzipped);
    let history = engine.request_history();
    let asked = if cfg!(feature = "brotli") {
        "gzip, deflate, br"
    } else {
        "gzip, deflate"
    };
    assert_eq!(history[0].headers()["accept-encoding"], asked);
    assert_eq!(history[1].headers()["accept-encoding"], "gzip");
}

#[tokio::test]
async fn unknown_or_disabled_codings_are_left_alone() {
    let (head, bytes) = fetch("zstd", b"opaque".to_vec()).await;
    assert_eq!(head.headers()["content-encoding"], "zstd");
    assert_eq!(bytes, b"opaque");

    let gzipped = encode("gzip", &original()).await;
    let client = Client::builder()
        .engine(serving("gzip", gzipped.clone()))
        .content_encoding(ContentEncoding::new().gzip(false))
        .build()
        .unwrap();
    let response = client.get("http://api.test/").send().await.unwrap();
    assert_eq!(response.bytes().await.unwrap(), gzipped);
}

#[tokio::test]
async fn a_corrupt_body_is_a_decode_error_naming_the_coding_and_request() {
    let response = decoding(serving("gzip", b"this is not gzip at all".to_vec()))
        .get("http://api.test/broken")
        .send()
        .await
        .unwrap();
    let err = response.bytes().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let message = err.to_string();
    assert!(
        message.contains("gzip response body of GET http://api.test/broken"),
        "{message}"
    );
}

#[tokio::test]
async fn head_and_no_content_responses_are_not_decoded() {
    let engine = MockEngine::new(|_| async {
        Ok(Response::new(StatusCode::NO_CONTENT).with_header("content-encoding", "gzip"))
    });
    let response = decoding(engine)
        .head("http://api.test/")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn compressed_bodies_decode_through_the_real_engine() {
    let mut bodies = Vec::new();
    for &(header, coding) in CODINGS {
        bodies.push((
            format!("/{coding}"),
            header,
            encode(coding, &original()).await,
        ));
    }
    let served = bodies.clone();
    let engine = MockEngine::new(move |request: Request| {
        let (_, header, body) = served
            .iter()
            .find(|(path, _, _)| path == request.url().path())
            .cloned()
            .expect("a path per coding");
        async move { Ok(chunked(header, body)) }
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let client = Client::builder()
        .engine(HyperEngine::default())
        .content_encoding(ContentEncoding::new())
        .build()
        .unwrap();

    for (path, _, _) in &bodies {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.bytes().await.unwrap(), original(), "{path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_truncated_body_is_an_error_not_a_short_read() {
    for &(header, coding) in CODINGS {
        let mut body = encode(coding, &original()).await;
        body.truncate(body.len() / 2);
        let response = decoding(serving(header, body))
            .get("http://api.test/cut")
            .send()
            .await
            .unwrap();
        let outcome = response.bytes().await;
        assert!(
            outcome.is_err(),
            "{coding}: a body cut in half decoded to {} bytes without an error",
            outcome.map(|b| b.len()).unwrap_or_default()
        );
    }
}

#[tokio::test]
async fn an_empty_encoded_body_reads_as_empty() {
    // Servers send `Content-Encoding: gzip` with `Content-Length: 0`; through a
    // real engine the (empty) body is a stream.
    let response = decoding(serving("gzip", Vec::new()))
        .get("http://api.test/empty")
        .send()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap(), "");
}
