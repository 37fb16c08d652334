//! `wiretape record` and `wiretape serve` with real clients in other
//! languages: Python `requests` and curl record through the proxy to a local
//! httpbin, the proxy stops on SIGTERM, and `serve` replays the cassette to
//! the same clients with httpbin gone, byte for byte. Also `--upstream`
//! (record what is missing) and the admin API from Python.

mod cli_support;
mod common;
mod support;

use cli_support::{Stopped, Wiretape, curl_available, run, start};
use support::Python;

/// A credential the clients send; it must never reach the cassette. (Only
/// to endpoints that do not echo it in their body: a secret echoed back is
/// the library's redaction's business, not the proxy's.)
const TOKEN: &str = "wt-live-8f2d91c4e7a64b0c9d3e";

/// The Python client: a few requests through `base`, printed as JSON
/// (status and base64 body of each final response).
const REQUESTS_CLIENT: &str = r#"
import base64, json, sys, requests
base, token = sys.argv[1], sys.argv[2]
s = requests.Session()
out = []
for r in [
    s.get(base + "/uuid", headers={"X-Api-Key": token}),
    s.get(base + "/cookies/set?flavour=ginger"),
    s.post(base + "/post?step=1", json={"name": "Ada"}),
    s.get(base + "/robots.txt", headers={"Authorization": "Bearer " + token}),
    s.get(base + "/stream/4"),
]:
    out.append({"status": r.status_code, "url": r.url, "body": base64.b64encode(r.content).decode()})
print(json.dumps(out))
"#;

async fn requests_client(python: &Python, base: &str) -> serde_json::Value {
    let output = tokio::process::Command::from(python.command())
        .args(["-c", REQUESTS_CLIENT, base, TOKEN])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// curl's view: the body bytes of each request.
async fn curl_client(base: &str) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for args in [
        vec![
            "-H".to_owned(),
            format!("Authorization: Bearer {TOKEN}"),
            format!("{base}/json"),
        ],
        vec!["-L".to_owned(), format!("{base}/absolute-redirect/2")],
        vec![
            "--data-binary".to_owned(),
            "hello=world".to_owned(),
            format!("{base}/anything/form"),
        ],
    ] {
        let output = tokio::process::Command::new("curl")
            .arg("-sS")
            .arg("--max-time")
            .arg("20")
            .args(&args)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        bodies.push(output.stdout);
    }
    bodies
}

fn assert_stopped_cleanly(stopped: &Stopped, what: &str) {
    assert!(
        stopped.status.success(),
        "{what} exited with {}: {}",
        stopped.status,
        stopped.stderr
    );
}

#[tokio::test]
async fn record_through_the_proxy_then_serve_replays_it_byte_for_byte() {
    let Some(python) = support::python() else {
        return;
    };
    let curl = curl_available();
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("httpbin.yaml");
    let cassette_arg = cassette.to_str().unwrap();

    let (httpbin, upstream) = support::start_httpbin(&python);
    let proxy = start(&[
        "record",
        "--upstream",
        &upstream,
        "--cassette",
        cassette_arg,
    ])
    .await;
    let live_python = requests_client(&python, &proxy.url).await;
    let live_curl = if curl {
        curl_client(&proxy.url).await
    } else {
        Vec::new()
    };
    let stopped = proxy.stop().await;
    assert_stopped_cleanly(&stopped, "record");
    drop(httpbin);

    // The clients stayed on the proxy: the redirect and the cookie came
    // back to it, not to httpbin.
    for response in live_python.as_array().unwrap() {
        assert_eq!(response["status"], 200, "{response}");
    }
    assert!(
        live_python[1]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1"),
        "{live_python}"
    );
    let cookies = String::from_utf8(base64_decode(&live_python[1]["body"])).unwrap();
    assert!(
        cookies.contains("ginger"),
        "the cookie set through the proxy came back: {cookies}"
    );

    // Complete: every exchange is on tape (the redirects too).
    let tape = wiretape::cassette::Tape::load(&cassette).unwrap();
    let expected = 6 + if curl { 5 } else { 0 };
    assert_eq!(
        tape.interactions.len(),
        expected,
        "{}",
        std::fs::read_to_string(&cassette).unwrap()
    );
    assert!(
        stopped
            .stdout
            .contains(&format!("recorded {expected} interaction(s)")),
        "{}",
        stopped.stdout
    );
    // Credential-free: the token is nowhere, and lint agrees.
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(
        !text.contains(TOKEN),
        "the token reached the cassette:\n{text}"
    );
    let (code, out, err) = run(&["lint", cassette_arg]).await;
    assert_eq!(code, 0, "lint found secrets in the recording: {out}{err}");
    // A streamed body is recorded as chunks.
    let stream = tape
        .interactions
        .iter()
        .find(|i| i.request.uri.ends_with("/stream/4"))
        .unwrap();
    assert!(matches!(
        stream.response.as_ref().unwrap().body,
        Some(wiretape::cassette::format::BodyForm::Chunks(_))
    ));

    // Replay with httpbin gone: the same bytes for the same clients.
    let server = start(&["serve", "--cassette", cassette_arg]).await;
    let replayed_python = requests_client(&python, &server.url).await;
    let replayed_curl = if curl {
        curl_client(&server.url).await
    } else {
        Vec::new()
    };
    let stopped = server.stop().await;
    assert_stopped_cleanly(&stopped, "serve");
    let placeholder = regex::Regex::new(r"<COOKIE(_[0-9]+)?>").unwrap();
    for (live, replayed) in live_python
        .as_array()
        .unwrap()
        .iter()
        .zip(replayed_python.as_array().unwrap())
    {
        assert_eq!(live["status"], replayed["status"]);
        // The cookie httpbin echoes was set by a response: the replaying
        // client never holds its value (Set-Cookie is redacted), so each
        // echo of it replays as its placeholder; everything else is the
        // same bytes.
        let unify = |body: Vec<u8>| {
            let text = String::from_utf8_lossy(&body)
                .replace("flavour=ginger", "<COOKIE>")
                .replace("ginger", "<COOKIE>");
            placeholder.replace_all(&text, "<COOKIE>").into_owned()
        };
        assert_eq!(
            unify(base64_decode(&live["body"])),
            unify(base64_decode(&replayed["body"])),
            "replayed body of {}",
            live["url"]
        );
    }
    assert_eq!(live_curl, replayed_curl, "curl saw other bytes on replay");
}

#[tokio::test]
async fn serve_with_upstream_records_what_is_missing_and_replays_the_rest() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("episodes.yaml");
    let cassette_arg = cassette.to_str().unwrap();
    let (_httpbin, upstream) = support::start_httpbin(&python);
    let client = wiretape::Client::new();

    let first = start(&["serve", "--cassette", cassette_arg, "--upstream", &upstream]).await;
    let uuid = support::text(client.get(format!("{}/uuid", first.url))).await;
    let stopped = first.stop().await;
    assert_stopped_cleanly(&stopped, "serve --upstream");
    assert!(
        stopped.stdout.contains("recorded 1 new interaction(s)"),
        "{}",
        stopped.stdout
    );

    let second = start(&["serve", "--cassette", cassette_arg, "--upstream", &upstream]).await;
    // On tape: replayed (a live httpbin would give a new uuid).
    let again = support::text(client.get(format!("{}/uuid", second.url))).await;
    assert_eq!(again, uuid);
    // Not on tape: fetched and recorded.
    let hello = support::text(client.get(format!("{}/base64/aGVsbG8=", second.url))).await;
    assert_eq!(hello, "hello");
    let stopped = second.stop().await;
    assert_stopped_cleanly(&stopped, "serve --upstream");
    assert!(
        stopped.stdout.contains("recorded 1 new interaction(s)"),
        "{}",
        stopped.stdout
    );
    let tape = wiretape::cassette::Tape::load(&cassette).unwrap();
    let uris: Vec<&str> = tape
        .interactions
        .iter()
        .map(|i| i.request.uri.as_str())
        .collect();
    assert_eq!(uris.len(), 2, "{uris:?}");
    assert!(
        uris[0].ends_with("/uuid") && uris[1].ends_with("/base64/aGVsbG8="),
        "{uris:?}"
    );
}

/// The Python admin client: routes at runtime, the journal, a failing
/// verification, removal and reset.
const ADMIN_CLIENT: &str = r#"
import json, sys, requests
base = sys.argv[1]
admin = base + "/__wiretape"
out = {}
out["users"] = requests.get(base + "/users").status_code
route = {"name": "ping", "times": 2, "request": {"method": "GET", "path": "/ping"},
         "response": {"body": {"text": "pong"}}}
r = requests.post(admin + "/routes", json=route)
out["added"] = [r.status_code, r.json()]
out["ping"] = requests.get(base + "/ping").text
out["journal"] = requests.get(admin + "/requests").json()
r = requests.post(admin + "/verify")
out["verify"] = [r.status_code, r.json()]
out["bad_route"] = requests.post(admin + "/routes", data="routes: [{request: {method: 'G T'}}]").status_code
out["removed"] = requests.delete(admin + "/routes/ping").status_code
out["ping_after"] = requests.get(base + "/ping").status_code
out["reset"] = requests.post(admin + "/reset").status_code
out["journal_after"] = len(requests.get(admin + "/requests").json()["requests"])
print(json.dumps(out))
"#;

#[tokio::test]
async fn a_python_client_drives_the_admin_api() {
    let Some(python) = support::python() else {
        return;
    };
    let server: Wiretape = start(&["serve", "--routes", "fixtures/routes/users-api.yaml"]).await;
    let output = tokio::process::Command::from(python.command())
        .args(["-c", ADMIN_CLIENT, &server.url])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(out["users"], 200);
    assert_eq!(out["added"][0], 201, "{out}");
    assert_eq!(out["ping"], "pong");
    let journal = out["journal"]["requests"].as_array().unwrap();
    let paths: Vec<&str> = journal
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/users", "/ping"],
        "admin requests stay out of the journal"
    );
    assert_eq!(journal[1]["answered_by"], "route \"ping\"");

    // Verification fails, readably: both unmet routes, with counts.
    assert_eq!(out["verify"][0], 417, "{out}");
    let report = out["verify"][1]["report"].as_str().unwrap();
    support::assert_mentions(
        report,
        &[
            "route \"ping\" expected exactly 2 calls, got 1",
            "route \"create user\" expected exactly 1 call, got 0",
        ],
    );
    assert_eq!(out["verify"][1]["unmet"].as_array().unwrap().len(), 2);

    assert_eq!(out["bad_route"], 400);
    assert_eq!(out["removed"], 200);
    assert_eq!(out["ping_after"], 404);
    assert_eq!(out["reset"], 200);
    assert_eq!(out["journal_after"], 0);

    // At exit the unmet expectation (create user, called 0 times) fails the run.
    let stopped = server.stop().await;
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("create user"), "{}", stopped.stderr);
}

#[tokio::test]
async fn serve_replays_ruby_vcr_and_har_files() {
    let client = wiretape::Client::new();
    let vcr = start(&["serve", "--cassette", "fixtures/cassettes/ruby_vcr.yml"]).await;
    let body = support::text(client.get(format!("{}/users/1", vcr.url))).await;
    assert_eq!(body, r#"{"id":1,"name":"Ada"}"#);
    vcr.stop().await;

    let har = start(&["serve", "--cassette", "fixtures/cassettes/devtools.har"]).await;
    let response = client
        .get(format!("{}/v1/items?page=2", har.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    har.stop().await;
}

#[tokio::test]
async fn a_replayed_miss_explains_itself_in_command_line_terms() {
    let server = start(&["serve", "--cassette", "cassettes/httpbin.yaml"]).await;
    let client = wiretape::Client::new();
    let first = client
        .get(format!("{}/get?tool=wiretape&lang=rust", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let again = client
        .get(format!("{}/get?tool=wiretape&lang=rust", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let report = again.text().await.unwrap();
    support::assert_mentions(&report, &["--repeat", "--upstream"]);
    for rust_advice in [
        "allow_playback_repeats",
        "WIRETAPE_RECORD",
        "cassette miss: cassette miss",
    ] {
        assert!(!report.contains(rust_advice), "{rust_advice} in:\n{report}");
    }
    server.stop().await;
}

fn base64_decode(value: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap()
}

#[tokio::test]
async fn the_upstream_certificate_is_verified_unless_a_ca_or_the_danger_flag_is_given() {
    use base64::Engine as _;
    let (config, cert_der) = common::tls_material();
    let upstream = wiretape::server::Server::new()
        .tls(config)
        .serve(wiretape::mock::echo(), "127.0.0.1:0")
        .await
        .unwrap();
    let upstream_url = upstream.url("/");
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&cert_der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        &pem,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    let client = wiretape::Client::new();
    let cases: [(&[&str], u16); 3] = [
        (&[], 502),
        (&["--ca-cert", pem.to_str().unwrap()], 200),
        (&["--danger-accept-invalid-certs"], 200),
    ];
    for (i, (flags, status)) in cases.into_iter().enumerate() {
        let cassette = dir.path().join(format!("tls{i}.yaml"));
        let mut args = vec![
            "record",
            "--upstream",
            &upstream_url,
            "--cassette",
            cassette.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let proxy = start(&args).await;
        let response = client
            .post(format!("{}/hello", proxy.url))
            .body("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{flags:?}");
        let stopped = proxy.stop().await;
        assert_stopped_cleanly(&stopped, "record");
        assert_eq!(
            stopped.stderr.contains("NOT verified"),
            flags.contains(&"--danger-accept-invalid-certs"),
            "{flags:?}: {}",
            stopped.stderr
        );
        // A failed handshake is recorded too, as the error it was.
        let tape = wiretape::cassette::Tape::load(&cassette).unwrap();
        assert_eq!(tape.interactions[0].error.is_some(), status == 502);
    }
}

#[tokio::test]
async fn a_websocket_session_is_recorded_through_the_proxy_and_served_back() {
    let upstream = wiretape::server::serve(wiretape::mock::echo(), "127.0.0.1:0")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("ws.yaml");
    let cassette_arg = cassette.to_str().unwrap();
    let upstream_url = upstream.url("/");
    let client = wiretape::Client::new();
    let conversation = |url: String| {
        let client = client.clone();
        async move {
            let ws_url = url.replacen("http://", "ws://", 1) + "/chat";
            let mut socket = client.websocket(&ws_url).await.unwrap();
            let mut heard = Vec::new();
            for word in ["hello", "again"] {
                socket.send_text(word).await.unwrap();
                heard.push(socket.recv_text().await.unwrap().unwrap_or_default());
            }
            socket.close(1000, "done").await.unwrap();
            heard
        }
    };

    let proxy = start(&[
        "record",
        "--upstream",
        &upstream_url,
        "--cassette",
        cassette_arg,
    ])
    .await;
    assert_eq!(conversation(proxy.url.clone()).await, ["hello", "again"]);
    let stopped = proxy.stop().await;
    assert_stopped_cleanly(&stopped, "record");
    drop(upstream);

    let tape = wiretape::cassette::Tape::load(&cassette).unwrap();
    assert_eq!(tape.interactions.len(), 1);
    let events = tape.interactions[0]
        .websocket
        .as_ref()
        .expect("frames on tape");
    let sent: Vec<&str> = events
        .iter()
        .filter(|e| e.send.is_some())
        .filter_map(|e| e.text.as_deref())
        .collect();
    assert_eq!(sent, ["hello", "again"]);

    // The echo is gone; the tape plays its side.
    let server = start(&["serve", "--cassette", cassette_arg]).await;
    assert_eq!(conversation(server.url.clone()).await, ["hello", "again"]);
    assert_stopped_cleanly(&server.stop().await, "serve");
}

#[tokio::test]
async fn a_killed_recorder_has_already_saved_what_it_recorded() {
    let upstream = wiretape::server::serve(
        wiretape::mock::MockEngine::new(|_| async {
            Ok(wiretape::mock::respond_ok("saved early"))
        }),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("crash.yaml");
    let proxy = start(&[
        "record",
        "--upstream",
        &upstream.url("/"),
        "--cassette",
        cassette.to_str().unwrap(),
    ])
    .await;
    let client = wiretape::Client::new();
    for path in ["/one", "/two"] {
        let body = client
            .get(format!("{}{path}", proxy.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "saved early");
    }
    // The recorder saves every few seconds; wait (bounded) for the file.
    let mut saved = 0;
    for _ in 0..300 {
        saved = wiretape::cassette::Tape::load(&cassette).map_or(0, |t| t.interactions.len());
        if saved == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    proxy.kill().await;
    assert_eq!(saved, 2, "both exchanges on disk before the crash");
    let tape = wiretape::cassette::Tape::load(&cassette).unwrap();
    let uris: Vec<&str> = tape
        .interactions
        .iter()
        .map(|i| i.request.uri.as_str())
        .collect();
    assert!(
        uris[0].ends_with("/one") && uris[1].ends_with("/two"),
        "{uris:?}"
    );
    upstream.shutdown().await;
}
