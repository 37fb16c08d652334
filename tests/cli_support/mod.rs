//! Running the `wiretape` binary from tests: start a server command, read
//! the URL from its first line, stop it with SIGTERM as a user's shell
//! would, and collect what it said.
#![allow(dead_code)] // each test binary uses part of it

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A running `wiretape` server command.
pub struct Wiretape {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Its base URL, from its first line, without a trailing slash.
    pub url: String,
}

/// What a stopped command left behind.
pub struct Stopped {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The binary, run from the crate's folder.
pub fn wiretape() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiretape"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true);
    command
}

/// Starts `wiretape ARGS --listen 127.0.0.1:0` and waits for its first line.
pub async fn start(args: &[&str]) -> Wiretape {
    let mut child = wiretape()
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the CLI prints its address within 30 s")
        .unwrap();
    let Some(first) = first else {
        let mut stderr = String::new();
        let _ = child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await;
        panic!("wiretape {args:?} exited before printing its address: {stderr}");
    };
    // The first URL on the line is where it listens.
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1"))
        .unwrap_or_else(|| panic!("no listen URL in {first:?}"))
        .trim_end_matches('/')
        .to_owned();
    Wiretape { child, lines, url }
}

impl Wiretape {
    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL: no chance to save anything), as
    /// a crash or the OOM killer would, and waits for it to be gone.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("still running");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("a killed process is gone within 30 s")
            .unwrap();
    }

    /// Sends SIGTERM and waits (up to 30 s) for the process to exit.
    pub async fn stop(mut self) -> Stopped {
        let pid = self.child.id().expect("still running").to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("wiretape exits within 30 s of SIGTERM")
            .unwrap();
        let mut stdout = String::new();
        while let Ok(Some(line)) = self.lines.next_line().await {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        Stopped {
            status,
            stdout,
            stderr,
        }
    }
}

/// Runs `wiretape ARGS` to completion: exit code, stdout, stderr.
pub async fn run(args: &[&str]) -> (i32, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), wiretape().args(args).output())
        .await
        .expect("wiretape finishes within 60 s")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether curl can be run: installed now if missing and we are root
/// (Debian), else `false` with a visible note, or a panic on CI.
pub fn curl_available() -> bool {
    let works = || {
        std::process::Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if works() {
        return true;
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let _ = std::process::Command::new("apt-get")
            .args(["install", "-y", "curl"])
            .stdout(Stdio::null())
            .status();
        if works() {
            return true;
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "curl is missing and could not be installed; CI must have it"
    );
    eprintln!("SKIPPED: curl is not installed; the curl half of this test does not run");
    false
}
