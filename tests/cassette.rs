//! Cassettes end to end: record through the real engine against a local
//! server, stop it, replay offline; modes, ordering, secrets, safety.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use wiretape::cassette::{Cassette, CassetteBuilder, Environment, Match, Mode, Tape, Timing};
use wiretape::engine::{Engine, HyperEngine};
use wiretape::mock::{MockEngine, respond_json, respond_ok, respond_redirect};
use wiretape::{Body, Client, Error, ErrorKind, Method, Request, Response, StatusCode, server};

fn builder(path: &Path) -> CassetteBuilder {
    Cassette::builder(path).environment(Environment::clean())
}

/// A recording cassette around `engine` (replacing any file), and a client
/// sending through it.
fn recorder<E: Engine>(path: &Path, engine: E) -> (Cassette<E>, Client) {
    let cassette = builder(path).mode(Mode::Record).build(engine).unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    (cassette, client)
}

/// A client replaying the cassette `builder` opens, with no network behind it.
fn player(builder: CassetteBuilder) -> Client {
    let offline = MockEngine::queue().build();
    Client::builder()
        .engine(builder.build(offline).unwrap())
        .build()
        .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The embedded API every round trip records against.
fn api() -> MockEngine {
    MockEngine::new(|request| async move {
        Ok(match request.url().path() {
            "/json" => respond_json(&serde_json::json!({"id": 7, "name": "Ada"})),
            "/text" => respond_ok("hello\nworld\n").with_header("content-type", "text/plain"),
            "/binary" => respond_ok((0..=255u8).collect::<Vec<u8>>())
                .with_header("content-type", "application/octet-stream"),
            "/gzip" => respond_ok(gzip(b"compressed hello"))
                .with_header("content-encoding", "gzip")
                .with_header("content-type", "text/plain"),
            "/stream" => {
                let chunks = futures_util::stream::unfold(0, |i| async move {
                    if i == 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(format!("data: {i}\n\n"))),
                        i + 1,
                    ))
                });
                Response::new(StatusCode::OK)
                    .with_header("content-type", "text/event-stream")
                    .with_body(Body::from_stream(chunks))
            }
            "/old" => respond_redirect("/json"),
            "/echo" => {
                let body = request.body().as_bytes().cloned().unwrap_or_default();
                respond_ok(body)
            }
            "/login" => respond_ok("welcome").with_header("set-cookie", "session=abc123"),
            _ => Response::new(StatusCode::NOT_FOUND),
        })
    })
}

/// What a caller can observe of a response: status, headers and the body's
/// chunks as delivered.
#[derive(Debug, PartialEq)]
struct Seen {
    status: StatusCode,
    headers: Vec<(String, Vec<u8>)>,
    chunks: Vec<Bytes>,
}

async fn observe(result: wiretape::Result<Response>) -> Result<Seen, ErrorKind> {
    let mut response = result.map_err(|e| e.kind())?;
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.kind())? {
        chunks.push(chunk);
    }
    Ok(Seen {
        status: response.status(),
        headers,
        chunks,
    })
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn session(client: &Client, base: &str, refused: &str) -> Vec<Result<Seen, ErrorKind>> {
    let mut seen = Vec::new();
    for path in ["/json", "/text", "/binary", "/gzip", "/stream"] {
        seen.push(observe(client.get(format!("{base}{path}")).send().await).await);
    }
    // The redirect plugin follows the 302; the cassette records both hops,
    // each an engine-level exchange.
    seen.push(observe(client.get(format!("{base}/old")).send().await).await);
    seen.push(
        observe(
            client
                .post(format!("{base}/echo"))
                .body("ping")
                .send()
                .await,
        )
        .await,
    );
    seen.push(observe(client.get(refused).send().await).await);
    seen
}

#[tokio::test]
async fn a_round_trip_through_the_real_engine_replays_identically_offline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round_trip.yaml");
    let server = server::serve(api(), "127.0.0.1:0").await.unwrap();
    let base = server.url("").trim_end_matches('/').to_string();
    let refused = format!("http://127.0.0.1:{}/nothing-here", closed_port());

    let recorder = builder(&path)
        .mode(Mode::Record)
        .build(HyperEngine::default())
        .unwrap();
    let client = Client::builder().engine(recorder.clone()).build().unwrap();
    let recorded = session(&client, &base, &refused).await;
    let report = recorder.finish().unwrap();
    assert_eq!(
        report.recorded, 9,
        "every engine-level attempt is an interaction"
    );
    server.shutdown().await;

    assert_eq!(recorded[0].as_ref().unwrap().status, 200);
    assert!(
        recorded[4].as_ref().unwrap().chunks.len() > 1,
        "the stream arrived in chunks"
    );
    assert_eq!(
        recorded[5].as_ref().unwrap().status,
        200,
        "the redirect was followed"
    );
    assert_eq!(recorded[7], Err(ErrorKind::ConnectionRefused));
    let tape = Tape::load(&path).unwrap();
    let hops: Vec<(String, u16)> = tape.interactions[5..7]
        .iter()
        .map(|i| {
            (
                i.request.uri.replace(&base, ""),
                i.response.as_ref().unwrap().status,
            )
        })
        .collect();
    assert_eq!(
        hops,
        [("/old".to_string(), 302), ("/json".to_string(), 200)]
    );

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("version: 1\n"), "{text}");
    assert!(
        text.contains("json:\n"),
        "the JSON body is a YAML tree:\n{text}"
    );
    assert!(
        text.contains("chunks:"),
        "the stream keeps its chunks:\n{text}"
    );
    assert!(text.contains("kind: connection_refused"), "{text}");

    let offline = builder(&path)
        .mode(Mode::Replay)
        .error_on_unused(true)
        .build(HyperEngine::default())
        .unwrap();
    let client = Client::builder().engine(offline.clone()).build().unwrap();
    let replayed = session(&client, &base, &refused).await;
    assert_eq!(replayed, recorded);
    let report = offline.finish().unwrap();
    assert_eq!((report.replayed, report.recorded), (9, 0));
    // Without the plugin, the recorded 302 itself comes back.
    let raw = player(builder(&path))
        .get(format!("{base}/old"))
        .redirect(wiretape::plugins::Redirect::none())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            raw.status().as_u16(),
            raw.headers()["location"].to_str().unwrap()
        ),
        (302, "/json")
    );
}

/// An engine that counts the requests that reach it.
fn counting(engine: MockEngine) -> (Arc<AtomicUsize>, impl Engine) {
    struct Counting(MockEngine, Arc<AtomicUsize>);
    impl Engine for Counting {
        fn execute(
            &self,
            request: Request,
        ) -> wiretape::engine::BoxFuture<'_, wiretape::Result<Response>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.execute(request)
        }
        fn capabilities(&self) -> wiretape::engine::Capabilities {
            self.0.capabilities()
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    (count.clone(), Counting(engine, count))
}

async fn get_text(client: &Client, url: &str) -> wiretape::Result<String> {
    client.get(url).send().await?.text().await
}

#[tokio::test]
async fn once_records_a_missing_cassette_then_replays_without_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("once.yaml");
    let (calls, engine) = counting(api());
    let cassette = builder(&path).build(engine).unwrap();
    assert_eq!(cassette.mode(), Mode::Once);
    let client = Client::builder().engine(cassette).build().unwrap();
    assert_eq!(
        get_text(&client, "http://api.test/text").await.unwrap(),
        "hello\nworld\n"
    );
    drop(client); // saves on drop
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(path.exists());

    let (calls, engine) = counting(api());
    let client = Client::builder()
        .engine(builder(&path).build(engine).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        get_text(&client, "http://api.test/text").await.unwrap(),
        "hello\nworld\n"
    );
    let miss = get_text(&client, "http://api.test/json").await.unwrap_err();
    assert_eq!(miss.kind(), ErrorKind::CassetteMiss);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "an existing cassette never reaches the network"
    );
}

#[tokio::test]
async fn identical_requests_replay_in_recorded_order_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.yaml");
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    let engine = MockEngine::new(move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move { Ok(respond_ok(format!("call {n}"))) }
    });
    let (cassette, client) = recorder(&path, engine);
    for _ in 0..3 {
        get_text(&client, "http://api.test/poll").await.unwrap();
    }
    cassette.finish().unwrap();

    let client = player(builder(&path));
    for n in 0..3 {
        assert_eq!(
            get_text(&client, "http://api.test/poll").await.unwrap(),
            format!("call {n}")
        );
    }
    let err = get_text(&client, "http://api.test/poll").await.unwrap_err();
    assert!(err.to_string().contains("already replayed"), "{err}");
    assert!(err.to_string().contains("allow_playback_repeats"), "{err}");

    let client = player(builder(&path).allow_playback_repeats(true));
    for expected in ["call 0", "call 1", "call 2", "call 2", "call 2"] {
        assert_eq!(
            get_text(&client, "http://api.test/poll").await.unwrap(),
            expected
        );
    }
}

#[tokio::test]
async fn changing_a_replayed_responses_headers_leaves_the_next_replay_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heads.yaml");
    let (cassette, client) = recorder(&path, api());
    client.get("http://api.test/text").send().await.unwrap();
    cassette.finish().unwrap();

    let client = player(builder(&path).allow_playback_repeats(true));
    let mut first = client.get("http://api.test/text").send().await.unwrap();
    let recorded = first.headers().clone();
    assert!(!recorded.is_empty());
    first.headers_mut().clear();
    first.headers_mut().insert("x-added", "1".parse().unwrap());

    let second = client.get("http://api.test/text").send().await.unwrap();
    assert_eq!(second.headers(), &recorded);
}

#[tokio::test]
async fn a_miss_names_the_cassette_the_closest_request_and_how_to_rerecord() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("miss.yaml");
    let (cassette, client) = recorder(&path, api());
    client
        .post("http://api.test/echo?page=1")
        .body("{\"name\":\"Ada\"}")
        .send()
        .await
        .unwrap();
    client.get("http://api.test/text").send().await.unwrap();
    cassette.finish().unwrap();

    let client = Client::builder()
        .engine(builder(&path).mode(Mode::Replay).build(api()).unwrap())
        .build()
        .unwrap();
    let err = client
        .post("http://api.test/echo?page=2")
        .body("{\"name\":\"Bob\"}")
        .send()
        .await
        .unwrap_err();
    let Error::CassetteMiss(miss) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(miss.cassette(), path);
    assert_eq!(miss.closest()[0].index, 0);
    assert_eq!(miss.closest()[0].passed, vec!["method"]);
    assert_eq!(miss.closest()[0].failed, vec!["uri"]);
    support::assert_mentions(
        &err.to_string(),
        &[
            "mode: replay; matching on: method, uri",
            "-POST http://api.test/echo?page=1",
            "+POST http://api.test/echo?page=2",
            "+{\"name\":\"Bob\"}",
            "WIRETAPE_RECORD=all",
        ],
    );
}

#[tokio::test]
async fn matching_on_bodies_and_headers_picks_the_right_interaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bodies.yaml");
    let (cassette, client) = recorder(&path, api());
    for body in ["{\"n\":1,\"m\":2}", "{\"n\":3}"] {
        client
            .post("http://api.test/echo")
            .body(body)
            .send()
            .await
            .unwrap();
    }
    cassette.finish().unwrap();

    let cassette = builder(&path)
        .match_on([Match::method(), Match::uri(), Match::json_body()])
        .build(MockEngine::queue().build())
        .unwrap();
    let client = Client::builder().engine(cassette).build().unwrap();
    let second = client
        .post("http://api.test/echo")
        .body("{ \"n\": 3 }")
        .send()
        .await
        .unwrap();
    assert_eq!(second.text().await.unwrap(), "{\"n\":3}");
    let first = client
        .post("http://api.test/echo")
        .body("{\"m\":2,\"n\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(first.text().await.unwrap(), "{\"n\":1,\"m\":2}");
}

#[tokio::test]
async fn new_episodes_appends_what_is_missing_and_record_replaces_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("episodes.yaml");
    let record = |mode: Mode, urls: &'static [&'static str]| {
        let path = path.clone();
        async move {
            let cassette = builder(&path).mode(mode).build(api()).unwrap();
            let client = Client::builder().engine(cassette.clone()).build().unwrap();
            for url in urls {
                support::bytes(client.get(*url)).await;
            }
            cassette.finish().unwrap()
        }
    };
    record(Mode::Record, &["http://api.test/text"]).await;
    let report = record(
        Mode::NewEpisodes,
        &["http://api.test/text", "http://api.test/json"],
    )
    .await;
    assert_eq!((report.replayed, report.recorded), (1, 1));
    let uris = |tape: Tape| -> Vec<String> {
        tape.interactions
            .into_iter()
            .map(|i| i.request.uri)
            .collect()
    };
    assert_eq!(
        uris(Tape::load(&path).unwrap()),
        ["http://api.test/text", "http://api.test/json"]
    );
    record(Mode::Record, &["http://api.test/binary"]).await;
    assert_eq!(uris(Tape::load(&path).unwrap()), ["http://api.test/binary"]);
}

#[tokio::test]
async fn passthrough_neither_replays_nor_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passthrough.yaml");
    let cassette = builder(&path).mode(Mode::Passthrough).build(api()).unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    assert_eq!(
        get_text(&client, "http://api.test/text").await.unwrap(),
        "hello\nworld\n"
    );
    cassette.finish().unwrap();
    drop(client);
    drop(cassette);
    assert!(!path.exists());
}

#[tokio::test]
async fn the_environment_overrides_the_mode_and_ci_refuses_to_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.yaml");
    let on_ci = Cassette::builder(&path)
        .environment(Environment::clean().ci(true))
        .build(api())
        .unwrap_err();
    assert_eq!(on_ci.kind(), ErrorKind::CassetteFile);
    assert!(on_ci.to_string().contains("record it locally"), "{on_ci}");

    let replay_only = Cassette::builder(&path)
        .environment(Environment::clean().record("none"))
        .build(api())
        .unwrap_err();
    assert!(
        replay_only.to_string().contains("never records"),
        "{replay_only}"
    );

    let forced = Cassette::builder(&path)
        .mode(Mode::Replay)
        .environment(Environment::clean().ci(true).record("all"))
        .build(api())
        .unwrap();
    assert_eq!(forced.mode(), Mode::Record);
    drop(forced);
    assert!(
        Tape::load(&path).unwrap().interactions.is_empty(),
        "record mode replaces the file"
    );

    let bad = Cassette::builder(&path)
        .environment(Environment::clean().record("sometimes"))
        .build(api())
        .unwrap_err();
    assert!(
        bad.to_string().contains("WIRETAPE_RECORD=\"sometimes\""),
        "{bad}"
    );
}

#[tokio::test]
async fn no_credential_header_reaches_disk_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.yaml");
    let (cassette, client) = recorder(&path, api());
    let request = || {
        client
            .post("http://api.test/login")
            .header("authorization", "Bearer tok-AAAA")
            .header("proxy-authorization", "Basic cHJveHk6cHc=")
            .header("cookie", "sid=cookie-BBBB")
            .header("x-api-key", "key-CCCC")
            .body("hello")
    };
    let live = request().send().await.unwrap();
    assert_eq!(
        live.headers()["set-cookie"],
        "session=abc123",
        "the caller sees real values"
    );
    cassette.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        "tok-AAAA",
        "cHJveHk6cHc=",
        "cookie-BBBB",
        "key-CCCC",
        "abc123",
    ] {
        assert!(!text.contains(secret), "{secret} reached disk:\n{text}");
    }
    assert_eq!(text.matches("<REDACTED>").count(), 5, "{text}");

    // Filters apply to the live request too, so the redacted request matches.
    let client = Client::builder()
        .engine(
            builder(&path)
                .match_on([
                    Match::method(),
                    Match::uri(),
                    Match::header("authorization"),
                ])
                .build(MockEngine::queue().build())
                .unwrap(),
        )
        .build()
        .unwrap();
    let replayed = client
        .post("http://api.test/login")
        .header("authorization", "Bearer another-token")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.headers()["set-cookie"], "<REDACTED>");
    assert_eq!(replayed.text().await.unwrap(), "welcome");
}

#[tokio::test]
async fn filtered_values_never_reach_disk_and_sensitive_data_is_restored_on_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filtered.yaml");
    let engine = MockEngine::new(|_| async {
        Ok(respond_ok(
            "{\n  \"access_token\": \"at-XYZ789\",\n  \"user\": \"ada@example.com\"\n}",
        ))
    });
    let configure = |b: CassetteBuilder| {
        b.filter_json_path("$.access_token", "<ACCESS_TOKEN>")
            .filter_body(r"password=(\w+)", "<PASSWORD>")
            .filter_query("api_key", "<API_KEY>")
            .filter_sensitive_data("<EMAIL>", "ada@example.com")
    };
    let cassette = configure(builder(&path).mode(Mode::Record))
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    let url = "http://api.test/oauth/token?api_key=k-123456";
    let live = client
        .post(url)
        .body("user=ada&password=hunter22")
        .send()
        .await
        .unwrap();
    assert!(live.text().await.unwrap().contains("at-XYZ789"));
    cassette.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["at-XYZ789", "hunter22", "k-123456", "ada@example.com"] {
        assert!(!text.contains(secret), "{secret} reached disk:\n{text}");
    }
    assert!(
        text.contains("<ACCESS_TOKEN>") && text.contains("<PASSWORD>"),
        "{text}"
    );

    let cassette = configure(builder(&path).mode(Mode::Replay))
        .build(MockEngine::queue().build())
        .unwrap();
    let client = Client::builder().engine(cassette).build().unwrap();
    let body = support::text(client.post(url).body("user=ada&password=hunter22")).await;
    assert_eq!(
        body, "{\n  \"access_token\": \"<ACCESS_TOKEN>\",\n  \"user\": \"ada@example.com\"\n}",
        "the e-mail placeholder is restored; the token is not recoverable"
    );
}

#[tokio::test]
async fn a_filtered_body_keeps_a_content_length_that_fits_it() {
    // Served again (over `server::serve`, to another language), a length
    // that does not fit the body breaks the HTTP framing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("length.yaml");
    let body = r#"{"access_token":"at-XYZ789-long-token","user":"ada@example.com"}"#;
    let engine = MockEngine::new(move |_| async move {
        Ok(respond_ok(body).with_header("content-length", body.len().to_string()))
    });
    let configure = |b: CassetteBuilder| {
        b.filter_json_path("$.access_token", "<T>")
            .filter_sensitive_data("<EMAIL>", "ada@example.com")
    };
    let cassette = configure(builder(&path).mode(Mode::Record))
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    assert_eq!(support::text(client.get("http://api.test/me")).await, body);
    cassette.finish().unwrap();

    let tape = Tape::load(&path).unwrap();
    let recorded = tape.interactions[0].response.as_ref().unwrap();
    let stored = recorded.body.as_ref().unwrap().to_bytes().unwrap();
    assert_eq!(
        recorded.headers.get("content-length").unwrap(),
        [stored.len().to_string()]
    );

    let replayed = player(configure(builder(&path).mode(Mode::Replay)))
        .get("http://api.test/me")
        .send()
        .await
        .unwrap();
    let length: usize = replayed.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = replayed.bytes().await.unwrap();
    assert_eq!(
        bytes, r#"{"access_token":"<T>","user":"ada@example.com"}"#,
        "the e-mail is restored"
    );
    assert_eq!(length, bytes.len());
}

#[tokio::test]
async fn sensitive_data_is_hidden_in_query_strings_and_forms_too() {
    // A query parameter or a form field carries the value percent-encoded
    // (`@` as `%40`, a space as `+`): the same secret, written differently.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encoded-secret.yaml");
    let engine = MockEngine::new(|_| async { Ok(respond_ok("ok")) });
    let configure = |b: CassetteBuilder| {
        b.filter_sensitive_data("<EMAIL>", "ada@example.com")
            .filter_sensitive_data("<PASS>", "correct horse/battery")
    };
    let cassette = configure(builder(&path).mode(Mode::Record))
        .build(engine)
        .unwrap();
    let login = |client: Client| async move {
        client
            .post("http://api.test/login")
            .query(&[("email", "ada@example.com")])
            .form(&[
                ("user", "ada@example.com"),
                ("password", "correct horse/battery"),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    assert_eq!(login(client).await, "ok");
    cassette.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["ada%40example.com", "ada@example.com", "horse", "battery"] {
        assert!(!text.contains(secret), "{secret} reached disk:\n{text}");
    }
    let client = player(configure(builder(&path).mode(Mode::Replay)));
    assert_eq!(
        login(client).await,
        "ok",
        "the filtered request still matches"
    );
}

#[tokio::test]
async fn sensitive_data_in_a_host_name_never_reaches_disk() {
    // `<TENANT>` cannot stand in a host name; the URL must still lose the
    // secret, and a live request must still match.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.yaml");
    let engine = MockEngine::new(|_| async { Ok(respond_ok("ok")) });
    let configure = |b: CassetteBuilder| b.filter_sensitive_data("<TENANT>", "acme-corp");
    let url = "https://ACME-corp.api.test/v1/users?tenant=acme-corp";
    let cassette = configure(builder(&path).mode(Mode::Record))
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    assert_eq!(support::text(client.get(url)).await, "ok");
    cassette.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("acme-corp"),
        "the tenant reached disk:\n{text}"
    );
    let client = player(configure(builder(&path).mode(Mode::Replay)));
    assert_eq!(support::text(client.get(url)).await, "ok");
}

#[tokio::test]
async fn a_json_path_secret_written_with_escapes_never_reaches_disk() {
    // PHP's json_encode escapes `/` by default, and many encoders write
    // non-ASCII as `\uXXXX`: the token's bytes differ from its canonical
    // JSON string, but it is the same secret.
    for (body, secret) in [
        (
            r#"{"access_token":"at\/XYZ789+/=","expires_in":3600}"#,
            "XYZ789",
        ),
        (
            r#"{"access_token":"caf\u00e9-XYZ789","expires_in":3600}"#,
            "XYZ789",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("escaped.yaml");
        let engine = MockEngine::new(move |_| async move {
            Ok(respond_ok(body).with_header("content-type", "application/json"))
        });
        let cassette = builder(&path)
            .mode(Mode::Record)
            .filter_json_path("$.access_token", "<ACCESS_TOKEN>")
            .build(engine)
            .unwrap();
        let client = Client::builder().engine(cassette.clone()).build().unwrap();
        assert_eq!(
            support::text(client.post("http://api.test/token")).await,
            body
        );
        cassette.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(secret), "{secret} reached disk:\n{text}");
        assert!(text.contains("<ACCESS_TOKEN>"), "{text}");
    }
}

#[tokio::test]
async fn several_json_paths_over_numbers_all_stay_hidden() {
    // A path that selects a number re-encodes the body; the next one must
    // not undo it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.yaml");
    let body = r#"{"card":{"number":4242424242424242,"cvc":987},"ok":true}"#;
    let engine = MockEngine::new(move |_| async move { Ok(respond_ok(body)) });
    let cassette = builder(&path)
        .mode(Mode::Record)
        .filter_json_path("$.card.number", "<CARD>")
        .filter_json_path("$.card.cvc", "<CVC>")
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    assert_eq!(
        support::text(client.get("http://api.test/card")).await,
        body
    );
    cassette.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["4242424242424242", "987"] {
        assert!(!text.contains(secret), "{secret} reached disk:\n{text}");
    }
    assert!(text.contains("<CARD>") && text.contains("<CVC>"), "{text}");
}

#[tokio::test]
async fn a_secret_in_a_streamed_body_never_reaches_disk_whatever_the_chunk_boundaries() {
    // A chunked response (no Content-Length) arrives in pieces that need not
    // follow the JSON's structure: the token is split over two chunks.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed-secret.yaml");
    let engine = MockEngine::new(|_| async {
        let pieces = [
            "{\"access_token\":\"at-XY",
            "Z789\",\"password\":\"hun",
            "ter22\"}",
        ];
        let chunks = futures_util::stream::iter(
            pieces.map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p.as_bytes()))),
        );
        Ok(Response::new(StatusCode::OK)
            .with_header("content-type", "application/json")
            .with_body(Body::from_stream(chunks)))
    });
    let configure = |b: CassetteBuilder| {
        b.filter_json_path("$.access_token", "<ACCESS_TOKEN>")
            .filter_sensitive_data("<PASSWORD>", "hunter22")
    };
    let cassette = configure(builder(&path).mode(Mode::Record))
        .build(engine)
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    let live = support::text(client.get("http://api.test/token")).await;
    assert_eq!(
        live,
        r#"{"access_token":"at-XYZ789","password":"hunter22"}"#
    );
    cassette.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["XYZ789", "at-XY", "hunter22", "ter22"] {
        assert!(!text.contains(secret), "{secret} reached disk:\n{text}");
    }
    let client = player(configure(builder(&path).mode(Mode::Replay)));
    assert_eq!(
        support::text(client.get("http://api.test/token")).await,
        r#"{"access_token":"<ACCESS_TOKEN>","password":"hunter22"}"#,
        "the sensitive value is restored on replay; the token is not recoverable"
    );
}

#[tokio::test(start_paused = true)]
async fn streamed_chunks_replay_with_their_boundaries_and_optionally_their_timing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timing.yaml");
    let engine = MockEngine::new(|_| async {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let chunks = futures_util::stream::unfold(0u64, |i| async move {
            if i == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(vec![b'a' + i as u8; 3])),
                i + 1,
            ))
        });
        Ok(Response::new(StatusCode::OK).with_body(Body::from_stream(chunks)))
    });
    let (cassette, client) = recorder(&path, engine);
    let recorded = observe(client.get("http://api.test/sse").send().await)
        .await
        .unwrap();
    cassette.finish().unwrap();
    assert_eq!(recorded.chunks, [&b"aaa"[..], b"bbb", b"ccc"]);
    let tape = Tape::load(&path).unwrap();
    let response = tape.interactions[0].response.as_ref().unwrap();
    assert_eq!(response.latency_ms, Some(40));

    for (timing, expected_gaps) in [
        (Timing::Instant, [0, 0, 0, 0]),
        (Timing::Recorded, [40, 100, 100, 100]),
        (Timing::Scaled(0.5), [20, 50, 50, 50]),
    ] {
        let cassette = builder(&path)
            .timing(timing)
            .build(MockEngine::queue().build())
            .unwrap();
        let client = Client::builder().engine(cassette).build().unwrap();
        let mut last = tokio::time::Instant::now();
        let mut gaps = Vec::new();
        let mut response = client.get("http://api.test/sse").send().await.unwrap();
        gaps.push(last.elapsed().as_millis() as u64);
        last = tokio::time::Instant::now();
        let mut chunks = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            gaps.push(last.elapsed().as_millis() as u64);
            last = tokio::time::Instant::now();
            chunks.push(chunk);
        }
        assert_eq!(chunks, recorded.chunks, "{timing:?}");
        assert_eq!(gaps, expected_gaps, "{timing:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_absurd_recorded_latency_waits_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latency.yaml");
    // Replays `url` from a cassette holding `response`, scaled 2000 times.
    let replay = |url: &'static str, response: &str| {
        std::fs::write(
            &path,
            format!("version: 1\ninteractions:\n  - request: {{method: GET, uri: '{url}'}}\n    response: {response}\n"),
        )
        .unwrap();
        let cassette = builder(&path)
            .mode(Mode::Replay)
            .timing(Timing::Scaled(2000.0))
            .build(MockEngine::queue().build())
            .unwrap();
        async move {
            cassette
                .execute(Request::new(Method::GET, url.parse().unwrap()))
                .await
        }
    };
    let hour = Duration::from_secs(3600);
    let slow = replay(
        "http://api.test/slow",
        "{status: 200, latency_ms: 18446744073709551615}",
    );
    assert!(
        tokio::time::timeout(hour, slow).await.is_err(),
        "still waiting after an hour"
    );

    let stream = replay(
        "http://api.test/stream",
        "{status: 200, body: {chunks: [{at_ms: 0, text: a}, {at_ms: 18446744073709551615, text: b}]}}",
    );
    let response = stream.await.unwrap();
    assert!(
        tokio::time::timeout(hour, response.bytes()).await.is_err(),
        "the second chunk is still on its way"
    );
}

#[tokio::test]
async fn a_body_that_breaks_off_replays_the_same_error_at_the_same_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    let engine = MockEngine::new(|request| async move {
        let chunks = futures_util::stream::iter(vec![
            Ok(Bytes::from("partial ")),
            Err(Error::reset(
                request.to_string(),
                "connection reset by peer",
            )),
        ]);
        Ok(Response::new(StatusCode::OK).with_body(Body::from_chunk_stream(Box::pin(chunks))))
    });
    let (cassette, client) = recorder(&path, engine);
    let mut live = client.get("http://api.test/big").send().await.unwrap();
    assert_eq!(live.chunk().await.unwrap().unwrap(), "partial ");
    assert_eq!(
        live.chunk().await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    drop(live);
    cassette.finish().unwrap();

    let client = player(builder(&path));
    let mut replayed = client.get("http://api.test/big").send().await.unwrap();
    assert_eq!(replayed.chunk().await.unwrap().unwrap(), "partial ");
    let err = replayed.chunk().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(
        err.to_string().contains("connection reset by peer"),
        "{err}"
    );
}

#[tokio::test]
async fn compressed_bodies_are_exact_by_default_and_decoded_on_request() {
    let dir = tempfile::tempdir().unwrap();
    for decode in [false, true] {
        let path = dir.path().join(format!("gzip-{decode}.yaml"));
        let cassette = builder(&path)
            .mode(Mode::Record)
            .decode_compressed(decode)
            .build(api())
            .unwrap();
        let client = Client::builder().engine(cassette.clone()).build().unwrap();
        let live = support::bytes(client.get("http://api.test/gzip")).await;
        assert_eq!(live, gzip(b"compressed hello"));
        cassette.finish().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let client = player(builder(&path));
        let replayed = client.get("http://api.test/gzip").send().await.unwrap();
        if decode {
            assert!(text.contains("text: compressed hello"), "{text}");
            assert!(replayed.headers().get("content-encoding").is_none());
            assert_eq!(replayed.bytes().await.unwrap(), "compressed hello");
        } else {
            assert!(text.contains("base64:"), "{text}");
            assert_eq!(replayed.headers()["content-encoding"], "gzip");
            assert_eq!(replayed.bytes().await.unwrap(), gzip(b"compressed hello"));
        }
    }
}

/// A gzip response as servers send it when they compress on the fly:
/// chunked, no Content-Length.
fn chunked_gzip(body: &'static [u8]) -> MockEngine {
    MockEngine::new(move |_| async move {
        let zipped = gzip(body);
        let (a, b) = zipped.split_at(zipped.len() / 2);
        let pieces = [Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)];
        let chunks = futures_util::stream::iter(pieces.map(Ok::<_, std::io::Error>));
        Ok(Response::new(StatusCode::OK)
            .with_header("content-type", "application/json")
            .with_header("content-encoding", "gzip")
            .with_body(Body::from_stream(chunks)))
    })
}

#[tokio::test]
async fn a_chunked_gzip_body_is_stored_decoded_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chunked-gzip.yaml");
    let cassette = builder(&path)
        .mode(Mode::Record)
        .decode_compressed(true)
        .build(chunked_gzip(b"{\"greeting\":\"compressed hello\"}"))
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    support::bytes(client.get("http://api.test/gzip")).await;
    cassette.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("greeting: compressed hello"), "{text}");
    assert!(!text.contains("content-encoding"), "{text}");
    assert_replays_decoded(
        builder(&path),
        "http://api.test/gzip",
        "{\"greeting\":\"compressed hello\"}",
    )
    .await;
}

/// Replays `url` from the cassette `builder` opens: `body`, not encoded.
async fn assert_replays_decoded(builder: CassetteBuilder, url: &str, body: &str) {
    let replayed = player(builder).get(url).send().await.unwrap();
    assert!(replayed.headers().get("content-encoding").is_none());
    assert_eq!(replayed.bytes().await.unwrap(), body);
}

#[tokio::test]
async fn a_secret_in_a_compressed_body_never_reaches_disk() {
    // Filters cannot see into gzip bytes: a filtered compressed body is
    // stored decoded (without Content-Encoding), with the secret replaced.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gzip-secret.yaml");
    let configure = |b: CassetteBuilder| b.filter_json_path("$.access_token", "<ACCESS_TOKEN>");
    let cassette = configure(builder(&path).mode(Mode::Record))
        .build(chunked_gzip(b"{\"access_token\":\"at-XYZ789\"}"))
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    let live = support::bytes(client.get("http://api.test/token")).await;
    assert_eq!(live, gzip(b"{\"access_token\":\"at-XYZ789\"}"));
    cassette.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("access_token: <ACCESS_TOKEN>"), "{text}");
    assert_replays_decoded(
        configure(builder(&path)),
        "http://api.test/token",
        "{\"access_token\":\"<ACCESS_TOKEN>\"}",
    )
    .await;
}

#[tokio::test]
async fn unused_interactions_are_reported_and_can_be_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unused.yaml");
    let (cassette, client) = recorder(&path, api());
    get_text(&client, "http://api.test/text").await.unwrap();
    get_text(&client, "http://api.test/json").await.unwrap();
    cassette.finish().unwrap();

    let cassette = builder(&path)
        .error_on_unused(true)
        .build(MockEngine::queue().build())
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    get_text(&client, "http://api.test/json").await.unwrap();
    assert_eq!(cassette.report().unused, ["#0 GET http://api.test/text"]);
    let err = cassette.finish().unwrap_err();
    assert!(
        err.to_string()
            .contains("never replayed: #0 GET http://api.test/text"),
        "{err}"
    );
}

#[test]
fn a_panicking_test_writes_nothing_and_leaves_the_old_cassette_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panic.yaml");
    std::fs::write(&path, "version: 1\ninteractions: []\n").unwrap();
    let worker = {
        let path = path.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let cassette = builder(&path).mode(Mode::Record).build(api()).unwrap();
                let client = Client::builder().engine(cassette).build().unwrap();
                get_text(&client, "http://api.test/text").await.unwrap();
                panic!("the test fails after recording");
            });
        })
    };
    assert!(worker.join().is_err());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "version: 1\ninteractions: []\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["panic.yaml"],
        "no temporary or lock file is left behind"
    );
}

#[tokio::test]
async fn two_recorders_on_one_cassette_keep_each_others_episodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.yaml");
    let open = || {
        let cassette = builder(&path).mode(Mode::NewEpisodes).build(api()).unwrap();
        let client = Client::builder().engine(cassette.clone()).build().unwrap();
        (cassette, client)
    };
    let (first, first_client) = open();
    let (second, second_client) = open();
    get_text(&first_client, "http://api.test/text")
        .await
        .unwrap();
    get_text(&second_client, "http://api.test/json")
        .await
        .unwrap();
    // Each save adds its new episodes to what is on disk at that moment.
    second.finish().unwrap();
    first.finish().unwrap();
    get_text(&second_client, "http://api.test/text?again")
        .await
        .unwrap();
    second.finish().unwrap();
    let uris: Vec<String> = Tape::load(&path)
        .unwrap()
        .interactions
        .into_iter()
        .map(|it| it.request.uri)
        .collect();
    assert_eq!(
        uris,
        [
            "http://api.test/json",
            "http://api.test/text",
            "http://api.test/text?again"
        ]
    );
}

#[test]
fn malformed_and_unknown_cassettes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "version: 2\ninteractions: []\n",
            "unsupported cassette version 2",
            1,
        ),
        (
            "version: 1\ninteractions:\n  - request: {method: GET, uri: http://x.test/}\n    response: {status: 200, body: {yaml: 1}}\n",
            "unknown field `yaml`",
            4,
        ),
        (
            "version: 1\ninteractions:\n  - request: {method: GET, uri: http://x.test/}\n    error: {kind: gremlins, message: ''}\n",
            "unknown error kind \"gremlins\"",
            4,
        ),
    ];
    for (text, expected, line) in cases {
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, text).unwrap();
        let err = builder(&path).build(api()).unwrap_err();
        let Error::CassetteFile { line: Some(at), .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*at, line, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(err.to_string().contains("bad.yaml:"), "{err}");
    }
    let path = dir.path().join("base64.yaml");
    std::fs::write(
        &path,
        "version: 1\ninteractions:\n  - request: {method: GET, uri: http://x.test/}\n    response: {status: 200, body: {base64: '%%%'}}\n",
    )
    .unwrap();
    let err = builder(&path).build(api()).unwrap_err();
    assert!(
        err.to_string().contains(
            "base64.yaml:4:29: interaction 0 (GET http://x.test/): response body: invalid base64"
        ),
        "{err}"
    );
    let path = dir.path().join("neither.yaml");
    std::fs::write(
        &path,
        "version: 1\ninteractions:\n  - request: {method: GET, uri: http://x.test/}\n",
    )
    .unwrap();
    let err = builder(&path).build(api()).unwrap_err();
    assert!(
        err.to_string()
            .contains("interaction 0 (GET http://x.test/) has neither"),
        "{err}"
    );
}

#[test]
fn cassette_paths_resolve_under_the_manifest_dir() {
    let path = wiretape::cassette_path!();
    assert!(
        path.ends_with("cassettes/cassette_paths_resolve_under_the_manifest_dir.yaml"),
        "{}",
        path.display()
    );
    assert!(path.starts_with(env!("CARGO_MANIFEST_DIR")));
}

#[test]
fn a_cassette_name_with_a_dot_keeps_it() {
    // `set_extension` would turn both into `cassettes/api.yaml`.
    let v1 = wiretape::cassette::path_in("/repo", "api.v1");
    let v2 = wiretape::cassette::path_in("/repo", "api.v2");
    assert_eq!(v1, Path::new("/repo/cassettes/api.v1.yaml"));
    assert_eq!(v2, Path::new("/repo/cassettes/api.v2.yaml"));
    assert_eq!(
        wiretape::cassette::path_in("/repo", "users::list.yaml"),
        Path::new("/repo/cassettes/users/list.yaml"),
        "a name that already ends in .yaml is kept"
    );
}

#[tokio::test]
async fn hand_written_cassettes_replay_requests_built_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.yaml");
    std::fs::write(
        &path,
        "version: 1\ninteractions:\n  - request: {method: get, uri: 'HTTP://API.test:80/users?b=2&a=1', headers: {}}\n    response:\n      status: 200\n      headers: {Content-Type: application/json}\n      body: {json: {users: [Ada]}}\n",
    )
    .unwrap();
    let cassette = builder(&path).build(MockEngine::queue().build()).unwrap();
    let request = Request::new(
        Method::GET,
        "http://api.test/users?a=1&b=2".parse().unwrap(),
    );
    let response = cassette.execute(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.unwrap(), "{\"users\":[\"Ada\"]}");
}

#[tokio::test]
async fn query_values_match_however_they_are_percent_encoded() {
    // A browser (HAR) or another tool writes a space as `%20` and may
    // escape what needs no escape; a Rust client writes `+`. Same query.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encoded.yaml");
    std::fs::write(
        &path,
        "version: 1\ninteractions:\n  - request: {method: GET, uri: 'http://api.test/search?q=caf%C3%A9%20au%20lait&tag=%41%2Bb&page=2', headers: {}}\n    response: {status: 200, headers: {}, body: {text: found}}\n",
    )
    .unwrap();
    let client = player(builder(&path).mode(Mode::Replay));
    let found = client
        .get("http://api.test/search")
        .query(&[("page", "2"), ("tag", "A+b"), ("q", "café au lait")])
        .send()
        .await
        .unwrap();
    assert_eq!(found.text().await.unwrap(), "found");

    // A different value still misses: `+` is a space, `%2B` a plus.
    let client = player(builder(&path).mode(Mode::Replay));
    let err = client
        .get("http://api.test/search?q=caf%C3%A9+au+lait&tag=A+b&page=2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CassetteMiss, "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_request_the_client_gave_up_on_replays_as_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeout.yaml");
    let slow = MockEngine::new(|_| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(respond_ok("too late"))
    });
    let cassette = builder(&path).mode(Mode::Record).build(slow).unwrap();
    let client = Client::builder()
        .engine(cassette.clone())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let live = client.get("http://api.test/slow").send().await.unwrap_err();
    assert_eq!(live.kind(), ErrorKind::RequestTimeout);
    cassette.finish().unwrap();

    let client = player(builder(&path));
    let replayed = client.get("http://api.test/slow").send().await.unwrap_err();
    assert_eq!(replayed.kind(), ErrorKind::RequestTimeout);
}

#[tokio::test]
async fn custom_matchers_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.yaml");
    let cassette = builder(&path)
        .mode(Mode::Record)
        .record_timestamps(true)
        .build(api())
        .unwrap();
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    support::text(client.get("http://api.test/text?nonce=123")).await;
    cassette.finish().unwrap();
    let recorded_at = Tape::load(&path).unwrap().interactions[0]
        .recorded_at
        .clone()
        .expect("asked for timestamps");
    assert_eq!(
        recorded_at.len(),
        "2026-11-22T16:29:29Z".len(),
        "{recorded_at}"
    );
    assert!(recorded_at.ends_with('Z') && recorded_at.as_bytes()[10] == b'T');

    // Ignore the nonce: same method and path is enough.
    let same_path = Match::custom("path without nonce", |live, recorded| {
        live.url().path() == recorded.url().path()
    });
    let client = player(builder(&path).match_on([Match::method(), same_path]));
    let text = support::text(client.get("http://api.test/text?nonce=999")).await;
    assert_eq!(text, "hello\nworld\n");
}

#[tokio::test(start_paused = true)]
async fn a_retry_story_against_a_flaky_server_replays_attempt_for_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flaky.yaml");
    let flaky = MockEngine::queue()
        .then(|request| async move {
            Err(Error::reset(
                request.to_string(),
                "connection reset by peer",
            ))
        })
        .then(|_| async { Ok(Response::new(StatusCode::SERVICE_UNAVAILABLE)) })
        .then(|_| async { Ok(respond_ok("finally")) })
        .build();
    let cassette = builder(&path).mode(Mode::Record).build(flaky).unwrap();
    // The Retry plugin sits above the engine: the cassette sees every attempt.
    let retrying = |engine| {
        Client::builder()
            .engine(engine)
            .retry(wiretape::plugins::Retry::new().max_retries(3))
            .build()
            .unwrap()
    };
    let live = support::text(retrying(cassette.clone()).get("http://api.test/flaky")).await;
    assert_eq!(live, "finally");
    let tape_kinds = |tape: Tape| -> Vec<String> {
        tape.interactions
            .iter()
            .map(|i| match (&i.response, &i.error) {
                (Some(r), _) => r.status.to_string(),
                (_, Some(e)) => e.kind.to_string(),
                _ => unreachable!("every interaction has an outcome"),
            })
            .collect()
    };
    assert_eq!(cassette.finish().unwrap().recorded, 3);
    assert_eq!(
        tape_kinds(Tape::load(&path).unwrap()),
        ["connection_reset", "503", "200"]
    );

    let replay = builder(&path)
        .error_on_unused(true)
        .build(MockEngine::queue().build())
        .unwrap();
    let replayed = support::text(retrying(replay.clone()).get("http://api.test/flaky")).await;
    assert_eq!(replayed, live);
    assert_eq!(
        replay.finish().unwrap().replayed,
        3,
        "the same three attempts"
    );
}

/// A GraphQL-style tape: every request is `POST /graphql` and only the body
/// tells them apart; interaction `i` answers `answer i`. Query `a` was sent
/// twice, so it has two answers in recorded order.
fn graphql_tape(path: &Path) {
    use wiretape::cassette::Interaction;
    use wiretape::cassette::format::{BodyForm, Headers, RecordedRequest, RecordedResponse};
    let bodies = [
        r#"{"query":"a","variables":{"id":1,"all":true}}"#,
        r#"{"query":"b"}"#,
        r#"{"query":"a","variables":{"id":1,"all":true}}"#,
        r#"{"query":"c","variables":{"n":1.0}}"#,
    ];
    let interactions = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| Interaction {
            request: RecordedRequest {
                method: "POST".into(),
                uri: "http://api.test/graphql".into(),
                headers: Headers::default(),
                body: BodyForm::from_bytes(body.as_bytes()),
            },
            response: Some(RecordedResponse {
                status: 200,
                headers: Headers::default(),
                body: BodyForm::from_bytes(format!("answer {i}").as_bytes()),
                latency_ms: None,
            }),
            error: None,
            websocket: None,
            recorded_at: None,
        })
        .collect();
    Tape {
        interactions,
        ..Tape::default()
    }
    .save(path)
    .unwrap();
}

async fn ask(client: &Client, body: &str) -> Result<String, Error> {
    let response = client
        .post("http://api.test/graphql")
        .body(body.to_owned())
        .send()
        .await?;
    response.text().await
}

#[tokio::test]
async fn json_body_lookups_find_their_interaction_out_of_order_and_replay_repeats_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graphql.yaml");
    graphql_tape(&path);
    let on_json = || {
        builder(&path).mode(Mode::Replay).match_on([
            Match::method(),
            Match::uri(),
            Match::json_body(),
        ])
    };
    let client = player(on_json());
    // Key order and spacing do not matter; `1.0` is not `1`.
    let a = r#"{"query":"a","variables":{"id":1,"all":true}}"#;
    expect_answers(
        &client,
        &[
            (r#"{ "query": "c", "variables": {"n": 1.0} }"#, "answer 3"),
            (
                r#"{"variables":{"all":true,"id":1},"query":"a"}"#,
                "answer 0",
            ),
            (r#"{"query":"b"}"#, "answer 1"),
            (a, "answer 2"),
        ],
    )
    .await;
    let err = ask(&client, a).await.unwrap_err();
    assert!(err.to_string().contains("already replayed"), "{err}");

    // With repeats, a used query answers again with its latest answer.
    let client = player(on_json().allow_playback_repeats(true));
    let b = r#"{"query":"b"}"#;
    expect_answers(
        &client,
        &[
            (b, "answer 1"),
            (b, "answer 1"),
            (a, "answer 0"),
            (a, "answer 2"),
            (a, "answer 2"),
        ],
    )
    .await;
}

/// Asks each query in turn, checking each answer.
async fn expect_answers(client: &Client, exchanges: &[(&str, &str)]) {
    for (query, answer) in exchanges {
        assert_eq!(ask(client, query).await.unwrap(), *answer, "for {query}");
    }
}

#[tokio::test]
async fn a_body_lookup_that_misses_reports_the_closest_body_and_its_diff() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graphql.yaml");
    graphql_tape(&path);
    let client = player(builder(&path).mode(Mode::Replay).match_on([
        Match::method(),
        Match::uri(),
        Match::json_body(),
    ]));
    let err = ask(&client, r#"{"query":"c","variables":{"n":1}}"#)
        .await
        .unwrap_err();
    let Error::CassetteMiss(miss) = &err else {
        panic!("expected a cassette miss, got {err}");
    };
    assert_eq!(miss.closest().len(), 3, "{err}");
    assert_eq!(miss.closest()[0].failed, vec!["json body"], "{err}");
    assert_eq!(miss.closest()[0].passed, vec!["method", "uri"], "{err}");
    let diff = miss.diff().unwrap();
    assert!(
        diff.contains(r#"+{"query":"c","variables":{"n":1}}"#),
        "{diff}"
    );

    // Byte matching tells apart what JSON matching does not.
    let client = player(builder(&path).mode(Mode::Replay).match_on([
        Match::method(),
        Match::uri(),
        Match::body(),
    ]));
    assert_eq!(ask(&client, r#"{"query":"b"}"#).await.unwrap(), "answer 1");
    let err = ask(&client, r#"{ "query": "b" }"#).await.unwrap_err();
    assert!(matches!(err, Error::CassetteMiss(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_checkpoint_writes_what_is_complete_and_leaves_bodies_in_flight_for_later() {
    use wiretape::mock::responders::{stream, text};
    use wiretape::mock::{Route, Router, matchers::path};
    let router = Router::new().without_drop_verification();
    router.mock(Route::given(path("/done")).respond_with(text("done")));
    router
        .mock(Route::given(path("/slow")).respond_with(stream(["a", "b"], Duration::from_secs(5))));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.yaml");
    let (cassette, client) = recorder(&path, router);
    let uris = || -> Vec<String> {
        Tape::load(&path).map_or_else(
            |_| Vec::new(),
            |tape| {
                tape.interactions
                    .into_iter()
                    .map(|i| i.request.uri)
                    .collect()
            },
        )
    };

    let slow = client.get("http://api.test/slow").send().await.unwrap();
    assert_eq!(
        get_text(&client, "http://api.test/done").await.unwrap(),
        "done"
    );
    assert_eq!(cassette.checkpoint().unwrap(), 1);
    assert_eq!(uris(), ["http://api.test/done"]);
    // Nothing new: nothing written.
    assert_eq!(cassette.checkpoint().unwrap(), 0);

    assert_eq!(slow.text().await.unwrap(), "ab");
    assert_eq!(cassette.checkpoint().unwrap(), 1);
    assert_eq!(uris(), ["http://api.test/done", "http://api.test/slow"]);
    let report = cassette.finish().unwrap();
    assert_eq!(report.recorded, 2);
    assert_eq!(uris().len(), 2, "finish adds nothing already written");
}
