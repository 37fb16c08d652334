//! The `wiretape` binary, run as a user would.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn echo_serves_requests_on_the_port_it_prints() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wiretape"))
        .args(["echo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the CLI prints its address")
        .unwrap()
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an URL on the first line");
    let client = wiretape::Client::new();
    let response = client
        .post(format!("{url}things?a=1"))
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
async fn a_bad_listen_address_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_wiretape"))
        .args(["echo", "--listen", "not-an-address"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot listen on not-an-address"),
        "{stderr}"
    );
}
