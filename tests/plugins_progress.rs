//! Progress: upload and download callbacks, on the mock and over the wire.

use std::sync::{Arc, Mutex};

use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::plugins::Progress;
use wiretape::{Body, Bytes, Client, Request, Response, StatusCode, server};

fn recorder() -> (
    impl Fn(Progress) + Send + Sync + 'static,
    Arc<Mutex<Vec<Progress>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (move |p| sink.lock().unwrap().push(p), seen)
}

#[tokio::test]
async fn a_streamed_download_reports_each_chunk_against_content_length() {
    let engine = MockEngine::new(|_| async {
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 300])),
            Ok(Bytes::from(vec![2u8; 200])),
        ];
        Ok(Response::new(StatusCode::OK)
            .with_header("content-length", "500")
            .with_body(Body::from_stream(futures_util::stream::iter(chunks))))
    });
    let client = Client::builder().engine(engine).build().unwrap();
    let (callback, seen) = recorder();

    let response = client
        .get("http://files.test/a")
        .on_download(callback)
        .send()
        .await
        .unwrap();
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing is counted before the body is read"
    );
    assert_eq!(response.bytes().await.unwrap().len(), 500);

    let seen: Vec<(u64, Option<u64>)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| (p.bytes, p.total))
        .collect();
    assert_eq!(seen, [(300, Some(500)), (500, Some(500))]);
}

#[tokio::test]
async fn an_upload_over_the_wire_reports_up_to_its_length() {
    let engine = MockEngine::new(|request: Request| async move {
        Ok(respond_ok(format!("{}", request.body().len().unwrap_or(0))))
    });
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let client = Client::builder()
        .engine(HyperEngine::default())
        .build()
        .unwrap();
    let (callback, seen) = recorder();

    let response = client
        .post(server.url("/upload"))
        .body(vec![9u8; 200_000])
        .on_upload(callback)
        .send()
        .await
        .unwrap();

    assert_eq!(response.text().await.unwrap(), "200000");
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.last(),
        Some(&Progress {
            bytes: 200_000,
            total: Some(200_000)
        })
    );
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].bytes < w[1].bytes));
}
