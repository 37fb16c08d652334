//! The real network client against raw hyper-util's, in the same run:
//! sequential GETs, 32 concurrent GETs and a 1 MiB download from a raw
//! hyper server on 127.0.0.1, through (a) hyper-util's legacy client,
//! (b) `HyperEngine` alone and (c) the full `Client` (default plugins) over
//! `HyperEngine` (issue 12: the client at hyper-util's speed).
//!
//! Hand-rolled like `benches/router.rs` (no criterion). The server runs on its
//! own thread (a current-thread runtime) and is the same for every client;
//! each client runs on the main thread, on a current-thread runtime of its
//! own, so that under callgrind the client's work is all on one thread.
//! Each case prints requests per second (best of the rounds: the machine is
//! shared) as a secondary signal.
//!
//! The primary signal is user-space instructions per request, which do not
//! depend on what else the machine is doing. Run one case under callgrind,
//! with the loop collected alone and the threads apart:
//!
//! ```sh
//! WIRETAPE_BENCH_CASE=client-seq valgrind --tool=callgrind --separate-threads=yes \
//!     --toggle-collect='engine::measured' target/release/deps/engine-HASH --bench
//! ```
//!
//! `--toggle-collect` counts only what runs inside [`measured`], the loop of
//! requests after a warm-up, so that building the engine (the root
//! certificates) and the first connection stay out; the server's thread is
//! never inside it. Divide the main thread's total by the requests the case
//! prints. Cases are `CLIENT-MODE`, CLIENT one of `hyper`, `engine`,
//! `client`, and MODE one of `seq`, `conc`, `mib`; `WIRETAPE_BENCH_CASE` takes
//! one case, a client or a mode (`client`, `seq`). `WIRETAPE_BENCH_REQUESTS=N`
//! runs one round of N requests (N/20 for `mib`), for callgrind.
//! `WIRETAPE_BENCH_QUICK=1`
//! (or `cargo test --benches`) makes it a short smoke run.
//!
//! Measured on the 2-core machine of issue 12 (instructions: callgrind, per
//! request, client thread, 2,000 requests or 100 downloads): before the
//! client work of issue 12, after it (lazy request names in `HyperEngine`,
//! shared proxy rules, `Body::collect` copying once), and with the last
//! origin kept (`Client` only: the engine alone is handed a parsed `Url`):
//!
//! | case | hyper-util | `HyperEngine` before → after | `Client` before → after → origin kept |
//! |---|---|---|---|
//! | sequential GET | 30,318 | 41,604 → 39,794 (1.31×) | 45,072 → 43,100 → 39,413 (1.30×) |
//! | 32 concurrent GETs | 29,626 | 39,981 → 38,396 (1.30×) | 43,875 → 41,732 → 38,376 (1.30×) |
//! | 1 MiB GET | 1,099,212 | 1,889,233 → 1,107,859 (1.01×) | 1,898,949 → 1,111,591 → 1,107,845 (1.01×) |
//!
//! What a GET still costs over hyper-util, per request: about 2,000
//! instructions making the request's `Url` (a path joined to the last
//! origin; a whole `url::Url::parse` was 5,700, most of it IDNA on the
//! host), 570 copying the head for the redirect plugin, 590 adding the
//! default headers, and the rest spread over the plugin chain's futures and
//! the response's conversion (the `Url`'s conversion to an `http::Uri`, 850,
//! stands for hyper-util's own parse of the URI). Wall clock, best of 5 rounds of 20,000 (noisy on a shared
//! machine): before, sequential 90.9k / 62.9k / 62.9k req/s (hyper-util /
//! engine / client), 1 MiB 2,000 / 1,434 / 1,521 req/s; after, 1 MiB 2,247 /
//! 2,263 / 2,282 req/s, 32 concurrent 134.8k / 131.6k / 122.7k req/s.
//!
//! Later rounds (the `Client`, the measured loop on the client's thread):
//! the lazy URL `Target`, shared request and response heads, then a
//! 128-byte `Request` and a copied head with room for the response's
//! headers, gave 35,266 sequential against hyper-util's 30,302 (0.86×),
//! 33,968 concurrent against 29,562, and 1,098,030 for 1 MiB against
//! 1,092,950. The next round (a 96-byte `Response` whose header map is an
//! `Arc`, one stream layer over hyper's body, idle plugins skipped) left
//! 35,299 sequential against 30,265 and 33,609 concurrent against 29,607:
//! the smaller moves and the skipped calls are paid for by the `Arc` a
//! response from the network now allocates. Putting the connector behind
//! one `Arc` (hyper-util clones it twice a request) then gave 34,531
//! sequential against 30,315 (0.88×) and 33,046 concurrent against
//! 29,645 (0.90×), with the code before it at 35,246 and 33,460, built
//! alongside and measured the same day. A pool of the engine's own in
//! place of hyper-util's (`src/engine/pool.rs`: one hashed lookup, no idle
//! timer) then gave 26,756 sequential against 30,204 (1.13×), 25,566
//! concurrent against 29,462–29,519 (1.15×) and 1,091,563 for 1 MiB
//! against 1,099,565, from 34,637 sequential just before it. Run each case on a quiet
//! machine: how often a task parks and wakes depends on timing, and a build
//! running alongside moved these counts by 2 to 3 %.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wiretape::engine::{Engine, HyperEngine};
use wiretape::{Client, Method, Request, Url};

/// The small answer of `/small`: a typical JSON reply.
const SMALL: &[u8] = br#"{"id":7,"name":"Ada Lovelace","roles":["admin","author"]}"#;
/// The size of `/big`.
const MIB: usize = 1024 * 1024;
/// Tasks in the concurrent mode, sharing one client.
const TASKS: usize = 32;

/// Starts the raw hyper server (HTTP/1.1, keep-alive) on its own thread.
fn spawn_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            tx.send(listener.local_addr().expect("an address"))
                .expect("the bench waits");
            let big = Bytes::from(vec![b'x'; MIB]);
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let big = big.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                        let body = match request.uri().path() {
                            "/big" => big.clone(),
                            _ => Bytes::from_static(SMALL),
                        };
                        async move {
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(body))
                                    .expect("a response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
    });
    rx.recv().expect("the server starts")
}

/// The three clients under test.
// Made once per case and never moved in the loop: boxing hyper-util's
// client would add a step to the reference's path only.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Subject {
    /// hyper-util's legacy client over its HTTP connector (`TCP_NODELAY`
    /// on, as `HyperEngine` sets it).
    Hyper(HyperClient<HttpConnector, Empty<Bytes>>),
    /// `HyperEngine::execute`, no plugins.
    Engine(HyperEngine),
    /// The full `Client`, default plugins, over `HyperEngine`.
    Client(Client),
}

impl Subject {
    fn new(name: &str) -> Subject {
        match name {
            "hyper" => {
                let mut http = HttpConnector::new();
                http.set_nodelay(true);
                Subject::Hyper(HyperClient::builder(TokioExecutor::new()).build(http))
            }
            "engine" => Subject::Engine(HyperEngine::builder().no_proxy().build().expect("builds")),
            _ => Subject::Client(
                Client::builder()
                    .engine(HyperEngine::builder().no_proxy().build().expect("builds"))
                    .build()
                    .expect("builds"),
            ),
        }
    }

    /// One GET of `url`, its body read to the end; returns the body's length.
    /// Each client is given the URL as text, as an application would.
    async fn get(&self, url: &str) -> usize {
        match self {
            Subject::Hyper(client) => {
                let request = hyper::Request::get(url)
                    .body(Empty::new())
                    .expect("a request");
                let response = client.request(request).await.expect("answered");
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.expect("a body");
                black_box(body.to_bytes()).len()
            }
            Subject::Engine(engine) => {
                let url = Url::parse(url).expect("a URL");
                let response = engine
                    .execute(Request::new(Method::GET, url))
                    .await
                    .expect("answered");
                assert_eq!(response.status(), 200);
                black_box(response.bytes().await.expect("a body")).len()
            }
            Subject::Client(client) => {
                let response = client.get(url).send().await.expect("answered");
                assert_eq!(response.status(), 200);
                black_box(response.bytes().await.expect("a body")).len()
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Sequential,
    Concurrent,
    Mib,
}

impl Mode {
    fn parse(name: &str) -> Mode {
        match name {
            "seq" => Mode::Sequential,
            "conc" => Mode::Concurrent,
            _ => Mode::Mib,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential GET",
            Mode::Concurrent => "32 concurrent GETs",
            Mode::Mib => "sequential 1 MiB GET",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Mode::Mib => "/big",
            _ => "/small",
        }
    }
}

/// `count` requests in `mode`; kept out of line so that callgrind's
/// `--toggle-collect='engine::measured'` counts exactly this.
#[inline(never)]
fn measured(
    runtime: &tokio::runtime::Runtime,
    subject: &Subject,
    url: &str,
    mode: Mode,
    count: usize,
) {
    runtime.block_on(run(subject, url, mode, count));
}

async fn run(subject: &Subject, url: &str, mode: Mode, count: usize) {
    let expected = match mode {
        Mode::Mib => MIB,
        _ => SMALL.len(),
    };
    match mode {
        Mode::Sequential | Mode::Mib => {
            for _ in 0..count {
                assert_eq!(subject.get(url).await, expected);
            }
        }
        Mode::Concurrent => {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let subject = subject.clone();
                    let url = url.to_owned();
                    tokio::spawn(async move {
                        for _ in 0..count / TASKS {
                            assert_eq!(subject.get(&url).await, expected);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("a task");
            }
        }
    }
}

/// Runs one case: a warm-up that opens the connections, then `rounds`
/// timed rounds of `count` requests; prints the best round's rate.
fn case(addr: SocketAddr, client: &str, mode: &str, count: usize, rounds: usize) {
    let mode_ = Mode::parse(mode);
    let count = match mode_ {
        Mode::Mib => (count / 20).max(TASKS),
        _ => count,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let subject = runtime.block_on(async { Subject::new(client) });
    let url = format!("http://{addr}{}", mode_.path());
    // Warm up: every connection the mode needs is open before timing.
    runtime.block_on(run(&subject, &url, mode_, TASKS * 4));
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        measured(&runtime, &subject, &url, mode_, count);
        best = best.min(start.elapsed());
    }
    let done = match mode_ {
        Mode::Concurrent => count / TASKS * TASKS,
        _ => count,
    };
    println!(
        "{:<28} {:>10.0} req/s   {:>7.2} µs/req   ({rounds} rounds × {done} requests)",
        format!("{client}-{mode}: {}", mode_.describe()),
        done as f64 / best.as_secs_f64(),
        best.as_secs_f64() * 1e6 / done as f64,
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent; keep
    // that a smoke run.
    let quick = std::env::var_os("WIRETAPE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let (count, rounds) = if quick { (320, 1) } else { (20_000, 5) };
    // Under callgrind one round of a few thousand requests is plenty.
    let (count, rounds) = match std::env::var("WIRETAPE_BENCH_REQUESTS") {
        Ok(n) => (n.parse().expect("WIRETAPE_BENCH_REQUESTS is a number"), 1),
        Err(_) => (count, rounds),
    };
    let only = std::env::var("WIRETAPE_BENCH_CASE").ok();
    let addr = spawn_server();
    for mode in ["seq", "conc", "mib"] {
        for client in ["hyper", "engine", "client"] {
            let name = format!("{client}-{mode}");
            let wanted = only
                .as_deref()
                .is_none_or(|only| [name.as_str(), client, mode].contains(&only));
            if wanted {
                case(addr, client, mode, count, rounds);
            }
        }
    }
}
