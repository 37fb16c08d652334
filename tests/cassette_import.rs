//! Importers: Ruby VCR and HAR files written from the published formats
//! (fixtures/cassettes), HAR export read back, and imported cassettes
//! replayed through the engine.

mod support;

use std::path::{Path, PathBuf};

use wiretape::cassette::Tape;
use wiretape::cassette::format::{BodyForm, WsFrameKind};
use wiretape::cassette::import::{self, Format};
use wiretape::{Client, ErrorKind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cassettes")
        .join(name)
}

fn body(form: &Option<BodyForm>) -> Vec<u8> {
    form.as_ref()
        .map(|b| b.to_bytes().unwrap().to_vec())
        .unwrap_or_default()
}

/// Saves `tape` and returns a client replaying it with no network behind.
fn replaying(tape: &Tape, dir: &Path) -> Client {
    let path = dir.join("imported.yaml");
    tape.save(&path).unwrap();
    support::replaying(&path)
}

#[tokio::test]
async fn ruby_vcr_cassettes_import_and_replay() {
    let path = fixture("ruby_vcr.yml");
    assert_eq!(
        import::detect(&std::fs::read_to_string(&path).unwrap()),
        Some(Format::RubyVcr)
    );
    let tape = import::import_file(&path).unwrap();
    assert_eq!(tape.interactions.len(), 3);
    let first = &tape.interactions[0];
    assert_eq!(first.request.method, "GET");
    assert_eq!(first.request.headers.get("user-agent").unwrap(), ["Ruby"]);
    let response = first.response.as_ref().unwrap();
    // Imports get the recorder's default redaction: no cookie reaches disk.
    assert_eq!(
        response.headers.get("set-cookie").unwrap(),
        ["<REDACTED>", "<REDACTED>"]
    );
    assert!(
        matches!(response.body, Some(BodyForm::Json(_))),
        "{:?}",
        response.body
    );
    assert_eq!(body(&tape.interactions[1].request.body), [0, 1, 2, 3, 4]);
    assert_eq!(
        body(&tape.interactions[1].response.as_ref().unwrap().body),
        [0xff, 0, 0xfe]
    );
    assert_eq!(
        body(&tape.interactions[2].response.as_ref().unwrap().body),
        b"not here"
    );

    let dir = tempfile::tempdir().unwrap();
    let client = replaying(&tape, dir.path());
    let user = client
        .get("http://api.example.test/users/1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        user.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(user.text().await.unwrap(), "{\"id\":1,\"name\":\"Ada\"}");
    let upload = client
        .post("http://api.example.test/upload?kind=raw")
        .body(vec![0u8, 1, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    assert_eq!(upload.bytes().await.unwrap(), vec![0xffu8, 0, 0xfe]);
}

#[tokio::test]
async fn har_files_from_devtools_import_with_websockets_and_failures() {
    let path = fixture("devtools.har");
    let tape = import::import_file(&path).unwrap();
    assert_eq!(tape.interactions.len(), 4);

    let items = &tape.interactions[0];
    assert!(
        items.request.headers.get(":authority").is_none(),
        "pseudo-headers are dropped"
    );
    let response = items.response.as_ref().unwrap();
    assert!(
        response.headers.get("content-encoding").is_none(),
        "the browser stored the body decoded; the stale encoding goes"
    );
    assert_eq!(response.headers.get("content-length").unwrap(), ["21"]);
    assert_eq!(response.latency_ms, Some(42));

    assert_eq!(
        body(&tape.interactions[1].response.as_ref().unwrap().body),
        [0x89, b'P', b'N', b'G']
    );

    let frames = tape.interactions[2].websocket.as_ref().unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(
        (frames[0].send, frames[0].text.as_deref()),
        (Some(WsFrameKind::Text), Some("hello"))
    );
    assert_eq!(
        (frames[1].recv, frames[1].at_ms),
        (Some(WsFrameKind::Text), 3)
    );
    assert_eq!(
        (frames[2].recv, frames[2].base64.as_deref()),
        (Some(WsFrameKind::Binary), Some("AAEC"))
    );

    let failed = tape.interactions[3].error.as_ref().unwrap();
    assert_eq!(failed.kind, ErrorKind::ConnectionRefused);

    let dir = tempfile::tempdir().unwrap();
    let client = replaying(&tape, dir.path());
    let text = support::text(client.get("https://api.example.test/v1/items?page=2")).await;
    assert_eq!(text, "{\"items\":[1,2],\"n\":2}");
    let err = client
        .get("https://down.example.test/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn har_export_reads_back_as_the_same_exchanges() {
    let tape = import::import_file(fixture("ruby_vcr.yml")).unwrap();
    let mut with_error = tape.clone();
    with_error.interactions[2].response = None;
    with_error.interactions[2].error = Some(wiretape::cassette::format::RecordedError {
        kind: ErrorKind::ConnectionReset,
        message: "reset by peer".into(),
    });
    let har = import::to_har(&with_error).unwrap();
    assert_eq!(import::detect(&har), Some(Format::Har));
    let back = import::from_har(&har, "export.har").unwrap();
    for (original, read) in with_error.interactions.iter().zip(&back.interactions) {
        assert_eq!(read.request.method, original.request.method);
        assert_eq!(read.request.uri, original.request.uri);
        assert_eq!(read.request.headers, original.request.headers);
        assert_eq!(body(&read.request.body), body(&original.request.body));
        assert_eq!(read.error, original.error);
        if let (Some(a), Some(b)) = (&read.response, &original.response) {
            assert_eq!((a.status, &a.headers), (b.status, &b.headers));
            assert_eq!(body(&a.body), body(&b.body));
        }
    }
}

#[test]
fn broken_imports_name_the_file_and_the_entry() {
    let err =
        import::from_har("{\"log\": {\"entries\": [{\"request\": {}}]}}", "x.har").unwrap_err();
    assert!(
        err.to_string()
            .contains("x.har: log.entries[0]: request has no method"),
        "{err}"
    );
    let err = import::from_har("{\"log\": ", "y.har").unwrap_err();
    assert!(err.to_string().starts_with("cassette y.har:1:"), "{err}");
    let err = import::from_ruby_vcr(
        "http_interactions:\n- request: {uri: 'http://x/'}\n",
        "v.yml",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("v.yml: http_interactions[0]: request has no method"),
        "{err}"
    );
    let err = import::from_vcrpy("interactions: [", "p.yaml").unwrap_err();
    assert!(err.to_string().starts_with("cassette p.yaml:"), "{err}");
}

#[tokio::test]
async fn an_imported_body_keeps_a_content_length_that_fits_it() {
    // Browsers store bodies decoded, or not at all (`content` without
    // `text`), but keep the headers as sent: the length on the wire.
    let har = r#"{"log": {"version": "1.2", "entries": [
      {"request": {"method": "GET", "url": "http://api.test/a", "headers": []},
       "response": {"status": 200, "headers": [{"name": "Content-Length", "value": "999"}],
                    "content": {"mimeType": "text/plain", "text": "hello"}}},
      {"request": {"method": "GET", "url": "http://api.test/b", "headers": []},
       "response": {"status": 200, "headers": [{"name": "Content-Length", "value": "512"}],
                    "content": {"size": 512, "mimeType": "image/png"}}},
      {"request": {"method": "HEAD", "url": "http://api.test/c", "headers": []},
       "response": {"status": 200, "headers": [{"name": "Content-Length", "value": "77"}],
                    "content": {"size": 0}}}
    ]}}"#;
    let tape = import::from_har(har, "lengths.har").unwrap();
    let length = |i: usize| {
        tape.interactions[i]
            .response
            .as_ref()
            .unwrap()
            .headers
            .get("content-length")
            .unwrap()
            .to_vec()
    };
    assert_eq!(length(0), ["5"]);
    assert_eq!(length(1), ["0"]);
    assert_eq!(
        length(2),
        ["77"],
        "a HEAD response's length is the GET body's"
    );

    let dir = tempfile::tempdir().unwrap();
    let client = replaying(&tape, dir.path());
    assert_eq!(
        support::text(client.get("http://api.test/a")).await,
        "hello"
    );
}
