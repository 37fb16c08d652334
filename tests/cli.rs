//! The `wiretape` binary, run as a user would.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `wiretape ARGS --listen 127.0.0.1:0` and returns the child and the
/// base URL it printed on its first line.
async fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wiretape"))
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the CLI prints its address")
        .unwrap()
        .expect("a first line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .trim_end_matches('/')
        .to_owned();
    (child, url)
}

/// Runs the binary to completion and returns its exit success and stderr.
async fn fail(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_wiretape"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "expected a failure for {args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn echo_serves_requests_on_the_port_it_prints() {
    let (mut child, url) = start(&["echo"]).await;
    let client = wiretape::Client::new();
    let response = client
        .post(format!("{url}/things?a=1"))
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-echo-method"], "POST");
    assert_eq!(response.headers()["x-echo-target"], "/things?a=1");
    assert_eq!(response.text().await.unwrap(), "ping");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn serve_answers_from_a_route_file_and_explains_a_miss() {
    let (mut child, url) = start(&["serve", "--routes", "fixtures/routes/users-api.yaml"]).await;
    let client = wiretape::Client::new();

    let users: serde_json::Value = client
        .get(format!("{url}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users[1]["name"], "Grace Hopper");

    let miss = client.get(format!("{url}/userz")).send().await.unwrap();
    assert_eq!(miss.status(), 404);
    let report = miss.text().await.unwrap();
    assert!(report.contains("no mock answered GET"), "{report}");
    assert!(report.contains("/userz"), "{report}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn serve_replays_a_cassette_whatever_host_it_was_recorded_on() {
    let (mut child, url) = start(&["serve", "--cassette", "cassettes/httpbin.yaml"]).await;
    let client = wiretape::Client::new();

    let response = client
        .get(format!("{url}/get?tool=wiretape&lang=rust"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["server"],
        "gunicorn",
        "recorded headers come back"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["args"]["tool"], "wiretape");

    // Without --repeat each interaction replays once.
    let again = client
        .get(format!("{url}/get?tool=wiretape&lang=rust"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let report = again.text().await.unwrap();
    assert!(report.contains("cassettes/httpbin.yaml"), "{report}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn serve_with_repeat_replays_an_interaction_again() {
    let (mut child, url) =
        start(&["serve", "--cassette", "cassettes/httpbin.yaml", "--repeat"]).await;
    let client = wiretape::Client::new();
    for _ in 0..3 {
        let response = client
            .get(format!("{url}/get?lang=rust&tool=wiretape"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn bad_invocations_are_clear_errors() {
    let stderr = fail(&["echo", "--listen", "not-an-address"]).await;
    assert!(
        stderr.contains("cannot listen on not-an-address"),
        "{stderr}"
    );

    let stderr = fail(&["serve"]).await;
    assert!(stderr.contains("nothing to serve"), "{stderr}");

    let stderr = fail(&["serve", "--routes", "fixtures/routes/missing.yaml"]).await;
    assert!(stderr.contains("fixtures/routes/missing.yaml"), "{stderr}");

    let stderr = fail(&["serve", "--cassette", "cassettes/missing.yaml"]).await;
    assert!(stderr.contains("cassettes/missing.yaml"), "{stderr}");
}

#[tokio::test]
async fn serve_and_echo_take_the_socket_limits_from_the_command_line() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for args in [
        &["echo", "--header-timeout", "1"][..],
        &[
            "serve",
            "--routes",
            "fixtures/routes/users-api.yaml",
            "--journal-size",
            "10",
            "--header-timeout",
            "1",
            "--max-connections",
            "8",
        ][..],
    ] {
        let (mut child, url) = start(args).await;
        let addr = url.trim_start_matches("http://");
        let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
        stalled.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(30), stalled.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "{args:?}: the stalled connection was closed"
        );
        child.kill().await.unwrap();
    }
}
