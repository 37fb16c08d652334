//! Real clients against `wiretape serve --faults`: curl and Python requests
//! see what they see from a broken server (the outcomes WireMock's faults
//! give them).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support;

/// Starts the CLI serving the fault fixtures; returns the child, its base
/// URL and its first line.
async fn serve_faults(seed: Option<&str>) -> (Child, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiretape"));
    command
        .args(["serve", "--routes", "fixtures/faults/routes.yaml"])
        .args([
            "--faults",
            "fixtures/faults/clients.yaml",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove(wiretape::fault::SEED_VAR)
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if let Some(seed) = seed {
        command.env(wiretape::fault::SEED_VAR, seed);
    }
    let mut child = command.spawn().expect("the CLI starts");
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
    (child, url, first)
}

#[tokio::test]
async fn the_seed_is_printed_and_forced_by_wiretape_seed() {
    let (_child, _, first) = serve_faults(None).await;
    assert!(first.contains("(seed 1)"), "{first}");
    let (_child, _, first) = serve_faults(Some("99")).await;
    assert!(first.contains("(seed 99)"), "{first}");
}

#[tokio::test]
async fn curl_exits_as_it_does_for_a_broken_server() {
    if !crate::cli_support::curl_available() {
        return;
    }
    let curl = "curl";
    let (_child, url, _) = serve_faults(None).await;
    let cases = [
        ("/reset", &[][..], 56, "reset by peer"),
        ("/empty", &[][..], 52, "Empty reply from server"),
        ("/malformed", &[][..], 56, "chunk"),
        ("/garbage", &[][..], 1, "HTTP/0.9"),
        ("/dribble", &["-m", "1"][..], 28, "timed out"),
    ];
    let mut wrong = Vec::new();
    for (path, extra, code, says) in cases {
        let output = Command::new(curl)
            .args(["-sS", "-o", "/dev/null", "--max-time", "20"])
            .args(extra)
            .arg(format!("{url}{path}"))
            .output()
            .await
            .expect("curl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(code) || !stderr.contains(says) {
            wrong.push(format!(
                "{path}: expected exit {code} saying {says:?}, got {:?}: {stderr}",
                output.status.code()
            ));
        }
    }
    // And a fault that lets the next call through: a 503, then the body.
    let status = |body: &str| body.to_owned();
    let flaky = Command::new(curl)
        .args(["-sS", "-w", "%{http_code}", "-o", "/dev/null"])
        .arg(format!("{url}/flaky"))
        .output()
        .await
        .unwrap();
    assert_eq!(status(&String::from_utf8_lossy(&flaky.stdout)), "503");
    let flaky = Command::new(curl)
        .args(["-sS"])
        .arg(format!("{url}/flaky"))
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&flaky.stdout), super::BODY);
    assert!(wrong.is_empty(), "curl saw:\n{}", wrong.join("\n"));
}

const REQUESTS_SCRIPT: &str = r#"
import json, sys, requests
base = sys.argv[1]
out = {}
for path, timeout in [("/reset", 20), ("/empty", 20), ("/malformed", 20), ("/garbage", 20), ("/slow", 1)]:
    try:
        requests.get(base + path, timeout=timeout)
        out[path] = "no error"
    except Exception as err:
        out[path] = type(err).__name__ + ": " + repr(err)
print(json.dumps(out))
"#;

#[tokio::test]
async fn python_requests_raises_what_it_raises_for_a_broken_server() {
    let Some(python) = tokio::task::spawn_blocking(support::python).await.unwrap() else {
        return;
    };
    let (_child, url, _) = serve_faults(None).await;
    let mut command = Command::from(python.command());
    let output = command
        .args(["-c", REQUESTS_SCRIPT, &url])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    let expected = [
        ("/reset", "ConnectionError", "104"),
        ("/empty", "ConnectionError", "RemoteDisconnected"),
        ("/malformed", "ChunkedEncodingError", "InvalidChunkLength"),
        ("/garbage", "ConnectionError", "BadStatusLine"),
        ("/slow", "ReadTimeout", "Read timed out"),
    ];
    let mut wrong = Vec::new();
    for (path, class, detail) in expected {
        let got = seen[path].as_str().unwrap_or_default();
        if !got.starts_with(&format!("{class}:")) || !got.contains(detail) {
            wrong.push(format!(
                "{path}: expected {class} with {detail:?}, got {got}"
            ));
        }
    }
    assert!(wrong.is_empty(), "requests raised:\n{}", wrong.join("\n"));
}
