//! Cassettes against real third-party tools from PyPI, in a virtual
//! environment the tests create (tests/support): record Python's httpbin
//! through the real engine and replay it offline; import cassettes that real
//! vcrpy recorded.

mod support;

use std::io::Read;

use bytes::Bytes;
use wiretape::cassette::format::BodyForm;
use wiretape::cassette::{Cassette, Environment, Match, Mode, Tape, import};
use wiretape::engine::HyperEngine;
use wiretape::{Client, Method, StatusCode};

/// What the caller sees: status, headers and the body's bytes.
#[derive(Debug, PartialEq)]
struct Seen {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Bytes,
}

async fn exchange(client: &Client, method: Method, url: &str, body: &'static str) -> Seen {
    let response = client
        .request(method, url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    Seen {
        status: response.status(),
        headers: response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: response.bytes().await.unwrap(),
    }
}

async fn httpbin_session(client: &Client, base: &str) -> Vec<Seen> {
    let mut seen = Vec::new();
    for (method, path, body) in [
        (Method::GET, "/get?b=2&a=1", ""),
        (Method::POST, "/post", "{\"name\":\"Ada\"}"),
        (Method::GET, "/status/418", ""),
        (Method::GET, "/gzip", ""),
        (Method::GET, "/bytes/64?seed=7", ""),
        (Method::GET, "/stream/3", ""),
        (Method::GET, "/redirect-to?url=%2Fget", ""),
    ] {
        seen.push(exchange(client, method, &format!("{base}{path}"), body).await);
    }
    seen
}

#[tokio::test]
async fn httpbin_records_through_the_real_engine_and_replays_offline() {
    let Some(python) = support::python() else {
        return;
    };
    let (server, base) = support::start_httpbin(&python);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("httpbin.yaml");

    let recorder = Cassette::builder(&path)
        .mode(Mode::Record)
        .environment(Environment::clean())
        .build(HyperEngine::default())
        .unwrap();
    let client = Client::builder().engine(recorder.clone()).build().unwrap();
    let live = httpbin_session(&client, &base).await;
    // The redirect plugin followed /redirect-to: both hops are recorded.
    assert_eq!(recorder.finish().unwrap().recorded, 8);
    drop(server);

    assert_eq!(live[2].status, 418);
    assert_eq!(live[6].status, 200, "the redirect was followed");
    let statuses: Vec<u16> = Tape::load(&path).unwrap().interactions[6..]
        .iter()
        .map(|i| i.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [302, 200]);
    let tape = Tape::load(&path).unwrap();
    let stream = tape.interactions[5].response.as_ref().unwrap();
    assert!(
        matches!(
            stream.body,
            Some(BodyForm::Chunks(_)) | Some(BodyForm::Text(_))
        ),
        "{:?}",
        stream.body
    );

    let player = Cassette::builder(&path)
        .mode(Mode::Replay)
        .environment(Environment::clean())
        .error_on_unused(true)
        .build(HyperEngine::default())
        .unwrap();
    let client = Client::builder().engine(player.clone()).build().unwrap();
    let replayed = httpbin_session(&client, &base).await;
    assert_eq!(replayed, live);
    player.finish().unwrap();
}

/// The committed cassette replays offline (as on CI, where no httpbin
/// runs); when it is missing, or `WIRETAPE_RECORD=all` asks, the test starts
/// httpbin and records it. Matching ignores the host and port, which change
/// from run to run.
#[tokio::test]
async fn the_committed_httpbin_cassette_replays_offline() {
    let path = wiretape::cassette_path!("httpbin");
    let cassette = Cassette::builder(&path)
        .match_on([Match::method(), Match::path(), Match::query()])
        .build(HyperEngine::default())
        .unwrap();
    let (_server, base) = if cassette.is_recording() {
        let python = support::python().expect("recording the httpbin cassette needs python3");
        let (server, base) = support::start_httpbin(&python);
        (Some(server), base)
    } else {
        // Nothing listens here: every answer must come from the tape.
        (None, format!("http://127.0.0.1:{}", support::free_port()))
    };
    let client = Client::builder().engine(cassette.clone()).build().unwrap();
    let args = support::json(client.get(format!("{base}/get?lang=rust&tool=wiretape"))).await;
    assert_eq!(args["args"]["tool"], "wiretape");
    let posted = support::json(
        client
            .post(format!("{base}/anything/users"))
            .json(&serde_json::json!({"name": "Ada"})),
    )
    .await;
    assert_eq!(posted["json"]["name"], "Ada");
    assert_eq!(posted["method"], "POST");
    let teapot = client
        .get(format!("{base}/status/418"))
        .send()
        .await
        .unwrap();
    assert_eq!(teapot.status(), 418);
    assert!(teapot.text().await.unwrap().contains("teapot"));
    cassette.finish().unwrap();
}

/// A local server with plain, JSON, binary and gzip answers, recorded by
/// real vcrpy through requests twice: as is, and with
/// `decode_compressed_response` (which stores bodies decompressed).
const VCRPY_SCRIPT: &str = r#"
import gzip, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import requests, vcr

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        bodies = {
            "/text": (b"hello from python\n", "text/plain", None),
            "/json": (b'{"id":7,"name":"Ada"}', "application/json", None),
            "/binary": (bytes(range(256)), "application/octet-stream", None),
            "/gzip": (gzip.compress(b"compressed hello"), "text/plain", "gzip"),
        }
        body, kind, encoding = bodies.get(self.path, (b"missing", "text/plain", None))
        self.send_response(200 if self.path in bodies else 404)
        self.send_header("Content-Type", kind)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % server.server_address[1]
for out, decode in [(sys.argv[1], False), (sys.argv[2], True)]:
    with vcr.use_cassette(out, record_mode="all", decode_compressed_response=decode):
        for path in ["/text", "/json", "/binary", "/gzip", "/nothing"]:
            requests.get(base + path)
        requests.post(base + "/echo", data=b"\x00\x01 binary \xff")
server.shutdown()
"#;

#[tokio::test]
async fn cassettes_recorded_by_real_vcrpy_import_and_replay() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("vcrpy.yaml");
    let decoded = dir.path().join("vcrpy-decoded.yaml");
    let output = python
        .command()
        .arg("-c")
        .arg(VCRPY_SCRIPT)
        .arg(&plain)
        .arg(&decoded)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vcrpy failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for (path, decoded) in [(plain, false), (decoded, true)] {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(import::detect(&text), Some(import::Format::Vcrpy));
        let tape = import::from_vcrpy(&text, &path).unwrap();
        assert_eq!(tape.interactions.len(), 6, "{text}");
        let uris: Vec<String> = tape
            .interactions
            .iter()
            .map(|i| i.request.uri.clone())
            .collect();
        let imported = dir.path().join("imported.yaml");
        tape.save(&imported).unwrap();
        let client = support::replaying(&imported);

        assert_eq!(
            support::text(client.get(&uris[0])).await,
            "hello from python\n"
        );
        assert_eq!(support::json(client.get(&uris[1])).await["name"], "Ada");
        let binary = support::bytes(client.get(&uris[2])).await;
        assert_eq!(binary, (0..=255u8).collect::<Vec<u8>>());

        let gzip = client.get(&uris[3]).send().await.unwrap();
        let encoding = gzip.headers().get("content-encoding").cloned();
        let bytes = gzip.bytes().await.unwrap();
        let plain_text = match encoding {
            Some(encoding) => {
                assert!(!decoded, "a decoded body must not claim {encoding:?}");
                let mut out = String::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_string(&mut out)
                    .unwrap();
                out
            }
            None => String::from_utf8(bytes.to_vec()).unwrap(),
        };
        assert_eq!(plain_text, "compressed hello");

        let missing = client.get(&uris[4]).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        let echo = client
            .post(&uris[5])
            .body(&b"\x00\x01 binary \xff"[..])
            .send()
            .await
            .unwrap();
        assert_eq!(echo.status(), 201);
        assert_eq!(echo.bytes().await.unwrap(), &b"\x00\x01 binary \xff"[..]);
    }
}

/// In a child: asks for the Python environment and prints what happened.
#[cfg(unix)]
fn python_child() {
    match support::python() {
        Some(_) => println!("python: available"),
        None => println!("python: skipped"),
    }
}

#[cfg(unix)]
#[test]
fn without_pypi_python_tests_skip_visibly_unless_required() {
    const TEST: &str = "without_pypi_python_tests_skip_visibly_unless_required";
    if std::env::var_os("WIRETAPE_TEST_PYTHON_CHILD").is_some() {
        return python_child();
    }
    // A `python3` first on PATH that behaves as one whose pip cannot reach
    // PyPI, and a fresh target directory with nothing installed.
    let target = tempfile::tempdir().unwrap();
    let bin = target.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("python3");
    std::fs::write(
        &shim,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Python 3.12.0'; exit 0; fi\n\
         echo 'ERROR: Could not find a version that satisfies the requirement httpbin (from versions: none)' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |required: bool| {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env("WIRETAPE_TEST_PYTHON_CHILD", "1")
            .env("CARGO_TARGET_DIR", target.path())
            .env("PATH", &path)
            .env_remove("CI")
            .env_remove(support::REQUIRE_PYTHON_ENV);
        if required {
            child.env(support::REQUIRE_PYTHON_ENV, "1");
        }
        child.output().unwrap()
    };
    let skipped = run(false);
    let stdout = String::from_utf8_lossy(&skipped.stdout);
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("python: skipped"), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("skipping a Python-backed test"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("PyPI"), "{stderr}");

    let required = run(true);
    let stderr = String::from_utf8_lossy(&required.stderr);
    assert!(!required.status.success(), "{stderr}");
    assert!(stderr.contains("are required here"), "{stderr}");
}
