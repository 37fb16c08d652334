//! Test support: one Python environment, shared by every test that needs a
//! real third-party tool (httpbin, vcrpy, websockets), installed once under the target
//! directory and reused; and small request helpers.
#![allow(dead_code)] // each test binary uses part of it

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Everything the Python-backed tests need, installed together.
pub const PYTHON_PACKAGES: &[&str] = &[
    "httpbin",
    "gunicorn",
    "vcrpy",
    "requests",
    "proxy.py",
    "websockets",
    "pproxy",
];

/// How long creating the environment and installing may take.
const INSTALL_LIMIT: Duration = Duration::from_secs(900);

static IN_PROCESS: Mutex<()> = Mutex::new(());

/// A Python with [`PYTHON_PACKAGES`] importable.
pub struct Python {
    exe: PathBuf,
    site: Option<PathBuf>,
}

impl Python {
    /// A command running this Python (`python -m gunicorn`, `python -c …`).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.exe);
        if let Some(site) = &self.site {
            command.env("PYTHONPATH", site);
        }
        command
    }
}

/// Set (to anything but `0`) to make a missing Python or an unreachable
/// PyPI fail the Python-backed tests instead of skipping them; `CI=true`
/// does the same, so CI never skips them silently.
pub const REQUIRE_PYTHON_ENV: &str = "WIRETAPE_REQUIRE_PYTHON";

/// Why installing failed earlier in this process, so that each test does
/// not wait for pip's timeouts again.
static UNAVAILABLE: Mutex<Option<String>> = Mutex::new(None);

/// Whether the environment requires the Python-backed tests to run.
fn python_required() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set(REQUIRE_PYTHON_ENV) || set("CI")
}

/// Skips a Python-backed test with one line on stderr saying why, or fails
/// it when [`python_required`].
fn unavailable(why: &str) -> Option<Python> {
    if python_required() {
        panic!(
            "{why}; the Python-backed tests are required here (CI or {REQUIRE_PYTHON_ENV} is set)"
        );
    }
    eprintln!(
        "skipping a Python-backed test: {why} (set {REQUIRE_PYTHON_ENV}=1 to make this fail)"
    );
    None
}

/// A Python with [`PYTHON_PACKAGES`], installed the first time under the
/// target directory: in a virtual environment, or, where `python3 -m venv`
/// is missing (Debian without python3-venv), with `pip install --target`.
/// `None` (with one line on stderr) when `python3` is not installed or the
/// packages cannot be installed (PyPI unreachable); a panic instead when
/// CI or [`REQUIRE_PYTHON_ENV`] requires these tests.
pub fn python() -> Option<Python> {
    if Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        return unavailable("python3 is not installed");
    }
    let _in_process = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(why) = UNAVAILABLE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
    {
        return unavailable(&why);
    }
    let dir = target_dir().join("wiretape-pyenv");
    std::fs::create_dir_all(&dir).unwrap();
    // Test binaries run in parallel processes: one installs, the others wait.
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let venv = Python {
        exe: dir.join("venv").join("bin").join("python"),
        site: None,
    };
    let target = Python {
        exe: PathBuf::from("python3"),
        site: Some(dir.join("site")),
    };
    let marker = |layout: &str| dir.join(format!("{layout}-{}", PYTHON_PACKAGES.join("-")));
    if marker("venv").exists() {
        return Some(venv);
    }
    if marker("site").exists() {
        return Some(target);
    }
    let deadline = Instant::now() + INSTALL_LIMIT;
    let pip = [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--timeout",
        "60",
    ];
    let (python, layout) = match run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(dir.join("venv")),
        deadline,
    ) {
        Ok(()) => {
            let mut install = venv.command();
            install.args(pip).args(PYTHON_PACKAGES);
            (venv, install)
        }
        Err(why) => {
            eprintln!("no virtual environment ({why}); installing with pip --target instead");
            let mut install = Command::new("python3");
            install
                .args(pip)
                .arg("--target")
                .arg(dir.join("site"))
                .args(PYTHON_PACKAGES);
            (target, install)
        }
    };
    let mut install = layout;
    if let Err(why) = run(&mut install, deadline) {
        // pip ends with the line that says what went wrong.
        let last = why
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let why =
            format!("could not install {PYTHON_PACKAGES:?} with pip (is PyPI reachable?): {last}");
        *UNAVAILABLE.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
        return unavailable(&why);
    }
    let name = if python.site.is_some() {
        "site"
    } else {
        "venv"
    };
    std::fs::write(marker(name), "").unwrap();
    Some(python)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Runs `command` to completion before `deadline`; the error carries its
/// status and output, or says it overran.
fn run(command: &mut Command, deadline: Instant) -> Result<(), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| err.to_string())?;
    loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            let output = child.wait_with_output().map_err(|err| err.to_string())?;
            if status.success() {
                return Ok(());
            }
            return Err(format!(
                "{status}\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("it took longer than {INSTALL_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped, so a failing test never leaves a
/// server running. It leads its own process group, and the whole group is
/// killed: servers that fork workers (gunicorn, proxy.py) would otherwise
/// leave them behind, still holding the test run's output open.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits (up to 60 s) until something accepts
/// connections on 127.0.0.1:`port`.
pub fn start_server(command: &mut Command, port: u16) -> Running {
    use std::os::unix::process::CommandExt;
    let child = command
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!("the server exited before listening on port {port}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "the server did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    running
}

/// Starts Python's httpbin under gunicorn on a free loopback port; returns
/// the running server and its base URL.
pub fn start_httpbin(python: &Python) -> (Running, String) {
    let port = free_port();
    let server = start_server(
        python
            .command()
            .args([
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--bind",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .arg("httpbin:app"),
        port,
    );
    (server, format!("http://127.0.0.1:{port}"))
}

/// Starts proxy.py (an HTTP proxy with CONNECT tunnels) on a free loopback
/// port, asking for Basic credentials `user:password` when given; returns
/// the running proxy and its port.
pub fn start_proxy(python: &Python, credentials: Option<&str>) -> (Running, u16) {
    let port = free_port();
    let mut command = python.command();
    command
        .args(["-m", "proxy", "--hostname", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args([
            "--num-workers",
            "1",
            "--num-acceptors",
            "1",
            "--log-level",
            "WARNING",
        ]);
    if let Some(credentials) = credentials {
        command.args(["--basic-auth", credentials]);
    }
    (start_server(&mut command, port), port)
}

/// Starts pproxy as a SOCKS5 proxy (no authentication) on a free loopback
/// port; returns the running proxy and its port.
pub fn start_socks_proxy(python: &Python) -> (Running, u16) {
    let port = free_port();
    let mut command = python.command();
    command
        .args(["-m", "pproxy", "-l"])
        .arg(format!("socks5://127.0.0.1:{port}"));
    (start_server(&mut command, port), port)
}

/// Sends `request` and reads its body as text, panicking with the error.
pub async fn text(request: wiretape::RequestBuilder) -> String {
    let response = request.send().await.unwrap_or_else(|err| panic!("{err}"));
    response.text().await.unwrap_or_else(|err| panic!("{err}"))
}

/// Sends `request` and reads its body as JSON, panicking with the error.
pub async fn json(request: wiretape::RequestBuilder) -> serde_json::Value {
    serde_json::from_str(&text(request).await).expect("a JSON body")
}

/// A client replaying the cassette at `path` (mode replay, a clean
/// environment) with no network behind it.
pub fn replaying(path: &Path) -> wiretape::Client {
    let cassette = wiretape::cassette::Cassette::builder(path)
        .mode(wiretape::cassette::Mode::Replay)
        .environment(wiretape::cassette::Environment::clean())
        .build(wiretape::mock::MockEngine::queue().build())
        .unwrap();
    wiretape::Client::builder()
        .engine(cassette)
        .build()
        .unwrap()
}

/// Sends `request` and reads its body's bytes, panicking with the error.
pub async fn bytes(request: wiretape::RequestBuilder) -> bytes::Bytes {
    let response = request.send().await.unwrap_or_else(|err| panic!("{err}"));
    response.bytes().await.unwrap_or_else(|err| panic!("{err}"))
}

/// Asserts that `text` contains every one of `parts`, showing it when not.
pub fn assert_mentions(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} is missing from:\n{text}");
    }
}
