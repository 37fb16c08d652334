//! `server::serve(Router)` against a raw hyper-util server doing the same
//! routing, in the same run (issue 12), and `serve`'s memory per 100,000
//! requests with the bounded journal and with an unbounded one (issue 11).
//!
//! Each server runs on its own thread (a current-thread runtime), the client
//! (hyper-util's legacy client, the same for both servers) on the main
//! thread. Cases: 1 and 100 routes; sequential GETs, 32 concurrent GETs, and
//! sequential JSON POSTs whose body the route checks. Rounds interleave the
//! two servers and the best round is reported, because the machine is shared
//! and the best round is the least disturbed one.
//!
//! Run with `cargo bench --bench serve`. `WIRETAPE_BENCH_QUICK=1` (or
//! `cargo test --benches`) runs a short smoke version.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wiretape::mock::matchers::{body_partial_json, method, path};
use wiretape::mock::responders::json;
use wiretape::mock::{Route, Router};

type Client = HyperClient<HttpConnector, Full<Bytes>>;

/// The wiretape router of `routes` GET routes and one JSON POST route.
fn router(routes: usize, journal: Option<usize>) -> Router {
    let mut router = Router::new().without_drop_verification();
    if let Some(limit) = journal {
        router = router.with_journal_limit(limit);
    }
    for i in 0..routes {
        router.mock(
            Route::given(method("GET"))
                .and(path(format!("/api/v1/things{i}/{{id}}")))
                .respond_with(json(&serde_json::json!({"route": i}))),
        );
    }
    router.mock(
        Route::given(method("POST"))
            .and(path("/api/v1/users"))
            .and(body_partial_json(&serde_json::json!({"name": "Ada"})))
            .respond_with(json(&serde_json::json!({"id": 7})).with_status(201)),
    );
    router
}

/// The same routes, by hand: a map from method and path without its last
/// segment to the answer, and the JSON POST parsed and checked.
struct RawRoutes {
    gets: HashMap<String, Bytes>,
}

async fn raw_answer(
    routes: Arc<RawRoutes>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let json_response = |status: u16, body: Bytes| {
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("a response")
    };
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if parts.method == http::Method::POST && path == "/api/v1/users" {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if value["name"] == "Ada" {
            return Ok(json_response(201, Bytes::from_static(br#"{"id":7}"#)));
        }
    } else if parts.method == http::Method::GET
        && let Some((prefix, id)) = path.rsplit_once('/')
        && let (Some(answer), false) = (routes.gets.get(prefix), id.is_empty())
    {
        return Ok(json_response(200, answer.clone()));
    }
    Ok(json_response(404, Bytes::from_static(b"{}")))
}

/// Starts a server on its own thread; returns its address.
fn spawn_server(raw: bool, routes: usize) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            if !raw {
                // WIRETAPE_BENCH_JOURNAL=N sets the journal's size (to see its cost).
                let journal = std::env::var("WIRETAPE_BENCH_JOURNAL")
                    .ok()
                    .and_then(|n| n.parse().ok());
                let server = wiretape::server::serve(router(routes, journal), "127.0.0.1:0")
                    .await
                    .expect("serve binds");
                tx.send(server.local_addr()).expect("the bench waits");
                std::future::pending::<()>().await;
                drop(server);
            }
            let gets = (0..routes)
                .map(|i| {
                    let answer = serde_json::json!({"route": i}).to_string();
                    (format!("/api/v1/things{i}"), Bytes::from(answer))
                })
                .collect();
            let table = Arc::new(RawRoutes { gets });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            tx.send(listener.local_addr().expect("an address"))
                .expect("the bench waits");
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let table = table.clone();
                let builder = builder.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        raw_answer(table.clone(), request)
                    });
                    let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
    });
    rx.recv().expect("the server starts")
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Sequential,
    Concurrent,
    JsonPost,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential GET",
            Mode::Concurrent => "32 concurrent GETs",
            Mode::JsonPost => "sequential JSON POST",
        }
    }
}

fn request(addr: SocketAddr, mode: Mode, routes: usize) -> hyper::Request<Full<Bytes>> {
    match mode {
        Mode::JsonPost => hyper::Request::post(format!("http://{addr}/api/v1/users"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"name":"Ada","role":"admin","tags":["a","b"]}"#,
            ))),
        _ => hyper::Request::get(format!("http://{addr}/api/v1/things{}/42", routes / 2))
            .body(Full::new(Bytes::new())),
    }
    .expect("a request")
}

async fn one(client: &Client, addr: SocketAddr, mode: Mode, routes: usize) {
    let response = client
        .request(request(addr, mode, routes))
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("a body");
    assert!(matches!(status, 200 | 201), "{status}: {body:?}");
    std::hint::black_box(body);
}

/// Requests per second over `count` requests, and the median latency of
/// a sequential run.
async fn run(
    client: &Client,
    addr: SocketAddr,
    mode: Mode,
    routes: usize,
    count: usize,
) -> (f64, Duration) {
    let start = Instant::now();
    let mut latencies = Vec::new();
    if mode == Mode::Concurrent {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..count / 32 {
                        one(&client, addr, mode, routes).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a task");
        }
    } else {
        latencies.reserve(count);
        for _ in 0..count {
            let sent = Instant::now();
            one(client, addr, mode, routes).await;
            latencies.push(sent.elapsed());
        }
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    let p50 = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or_default();
    (rate, p50)
}

/// The resident memory of this process in KiB, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// RSS growth of a process serving `count` requests after a warm-up, with
/// the default journal or an unbounded one.
fn memory(count: usize, warm_up: usize, unbounded: bool) -> Option<i64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let journal = unbounded.then_some(usize::MAX);
        let server = wiretape::server::serve(router(1, journal), "127.0.0.1:0")
            .await
            .expect("serve binds");
        let addr = server.local_addr();
        let client: Client = HyperClient::builder(TokioExecutor::new()).build_http();
        let send = |n: usize| {
            let client = client.clone();
            async move {
                let request = hyper::Request::get(format!("http://{addr}/api/v1/things0/{n}"))
                    .header("x-request", n.to_string())
                    .body(Full::new(Bytes::new()))
                    .expect("a request");
                let response = client.request(request).await.expect("answered");
                std::hint::black_box(response.into_body().collect().await.expect("a body"));
            }
        };
        // Four at a time, so that the server's own runtime is busy as in use.
        let mut n = 0;
        while n < warm_up {
            futures_util::future::join_all((0..4).map(|i| send(n + i))).await;
            n += 4;
        }
        let before = rss_kib()?;
        while n < warm_up + count {
            futures_util::future::join_all((0..4).map(|i| send(n + i))).await;
            n += 4;
        }
        let after = rss_kib()?;
        server.shutdown().await;
        Some(after as i64 - before as i64)
    })
}

fn main() {
    let quick = std::env::var_os("WIRETAPE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let (rounds, count) = if quick { (1, 300) } else { (7, 20_000) };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client: Client = HyperClient::builder(TokioExecutor::new()).build_http();
    println!(
        "serve(Router) against a raw hyper-util server with the same routing; best of {rounds} interleaved rounds"
    );
    // WIRETAPE_BENCH_ROUTES=1 runs one route count only.
    let counts: Vec<usize> = match std::env::var("WIRETAPE_BENCH_ROUTES") {
        Ok(n) => vec![n.parse().expect("a number of routes")],
        Err(_) => vec![1, 100],
    };
    for routes in counts {
        let servers = [spawn_server(true, routes), spawn_server(false, routes)];
        for mode in [Mode::Sequential, Mode::Concurrent, Mode::JsonPost] {
            let mut best = [(0.0f64, Duration::MAX); 2];
            runtime.block_on(async {
                for (which, &addr) in servers.iter().enumerate() {
                    run(&client, addr, mode, routes, count / 10).await; // warm up
                    let _ = which;
                }
                for _ in 0..rounds {
                    for (which, &addr) in servers.iter().enumerate() {
                        let (rate, p50) = run(&client, addr, mode, routes, count).await;
                        best[which].0 = best[which].0.max(rate);
                        best[which].1 = best[which].1.min(p50);
                    }
                }
            });
            let p50 = |d: Duration| {
                if d == Duration::MAX || d.is_zero() {
                    String::new()
                } else {
                    format!(", p50 {:.1} µs", d.as_secs_f64() * 1e6)
                }
            };
            println!(
                "{routes:>3} route(s), {:<22} raw hyper {:>8.0} req/s{:<16} serve {:>8.0} req/s{:<16} serve/raw {:.2}×",
                mode.name(),
                best[0].0,
                p50(best[0].1),
                best[1].0,
                p50(best[1].1),
                best[1].0 / best[0].0,
            );
        }
    }

    let (count, warm_up) = if quick {
        (2_000, 1_000)
    } else {
        (100_000, 20_000)
    };
    for unbounded in [false, true] {
        match memory(count, warm_up, unbounded) {
            Some(grown) => println!(
                "serve(Router) memory over {count} requests after {warm_up} of warm-up, {}: {:+} KiB",
                if unbounded {
                    "unbounded journal (as before)"
                } else {
                    "default bounded journal"
                },
                grown
            ),
            None => println!("no /proc/self/status: memory not measured"),
        }
    }
}
