//! A routed `GET` through the full `Client`, with 1, 100 and 1,000 routes,
//! against the floor of the client itself (an engine with a fixed answer).
//!
//! Hand-rolled (no criterion, to keep the build small on 2 cores): each case
//! runs batches of sequential calls on a current-thread runtime and reports
//! the median, 10th and 90th percentile of the per-call time over batches.
//!
//! Run with `cargo bench --bench router`. Set `WIRETAPE_BENCH_QUICK=1` for a
//! short smoke run, and `WIRETAPE_BENCH_CASE=floor` (or `1`, `100`, `1000`:
//! the route count) to run one case only, for example under
//! `valgrind --tool=callgrind`, whose instruction counts do not depend on
//! what else the machine is doing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wiretape::Client;
use wiretape::mock::matchers::{header, method, path};
use wiretape::mock::responders::json;
use wiretape::mock::{Route, Router};

/// A router with `count` routes like a small REST API: literal and templated
/// paths under a few methods; the one the benchmark calls is in the middle.
fn router(count: usize) -> Router {
    let router = Router::new().without_drop_verification();
    for i in 0..count {
        let (verb, template) = match i % 4 {
            0 => ("GET", format!("/api/v1/things{i}/{{id}}")),
            1 => ("POST", format!("/api/v1/things{i}")),
            2 => ("GET", format!("/api/v1/things{i}")),
            _ => ("DELETE", format!("/api/v1/things{i}/{{id}}")),
        };
        router.mock(
            Route::given(method(verb))
                .and(path(template))
                .respond_with(json(&serde_json::json!({"route": i}))),
        );
    }
    // Two scanned routes (no literal method) so the scan path is exercised too.
    router.mock(Route::given(header("x-never", "sent")).respond_with(json(&1)));
    router.mock(Route::given(path("/other/{*rest}")).respond_with(json(&2)));
    router
}

/// The floor: an engine that answers every request with the same response,
/// without looking at it. What the client itself costs.
struct Fixed;

impl wiretape::engine::Engine for Fixed {
    fn execute(
        &self,
        _request: wiretape::Request,
    ) -> wiretape::engine::BoxFuture<'_, wiretape::Result<wiretape::Response>> {
        Box::pin(async {
            let mut response = wiretape::Response::new(wiretape::StatusCode::OK)
                .with_body(bytes::Bytes::from_static(br#"{"route":48}"#));
            response.headers_mut().insert(
                "content-type",
                wiretape::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        })
    }

    fn capabilities(&self) -> wiretape::engine::Capabilities {
        wiretape::engine::Capabilities::none()
    }
}

/// Times sequential routed GETs of `target` through `client`; `between`
/// runs between batches, untimed.
fn measure(
    name: &str,
    client: &Client,
    target: &str,
    (batches, per_batch): (usize, usize),
    between: impl Fn(),
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut per_call: Vec<Duration> = runtime.block_on(async {
        // Warm up, and check that the call is routed where we think.
        for _ in 0..per_batch {
            let response = client.get(target).send().await.expect("routed");
            assert_eq!(response.status(), 200);
            black_box(response.bytes().await.expect("body"));
        }
        let mut samples = Vec::with_capacity(batches);
        for _ in 0..batches {
            let start = Instant::now();
            for _ in 0..per_batch {
                let response = client.get(target).send().await.expect("routed");
                black_box(response.bytes().await.expect("body"));
            }
            samples.push(start.elapsed() / per_batch as u32);
            between();
        }
        samples
    });
    per_call.sort();
    let pick = |q: f64| per_call[((per_call.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<32} median {:>8.3} µs/call   p10 {:>8.3} µs   p90 {:>8.3} µs   ({batches} batches × {per_batch} calls)",
        pick(0.5).as_secs_f64() * 1e6,
        pick(0.1).as_secs_f64() * 1e6,
        pick(0.9).as_secs_f64() * 1e6,
    );
}

fn client(engine: impl wiretape::engine::Engine) -> Client {
    Client::builder()
        .engine(engine)
        .base_url("http://api.test")
        .build()
        .expect("a client")
}

fn routed(routes: usize, batches: usize, per_batch: usize) {
    let router = router(routes);
    let target = format!("/api/v1/things{}/42", (routes / 2) / 4 * 4);
    let name = format!("routed GET, {routes} route(s) (+2 scanned)");
    // A test's journal holds a handful of requests; clearing it between
    // batches keeps this a steady-state measure instead of one of a journal
    // grown to 200,000 entries.
    let clear = || router.clear_journal();
    measure(
        &name,
        &client(router.clone()),
        &target,
        (batches, per_batch),
        clear,
    );
    assert_eq!(router.unmatched_requests().len(), 0);
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent; keep
    // that a smoke run.
    let quick = std::env::var_os("WIRETAPE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let (batches, per_batch) = if quick { (5, 100) } else { (200, 1_000) };
    let only = std::env::var("WIRETAPE_BENCH_CASE").ok();
    let runs = |case: &str| only.as_deref().is_none_or(|only| only == case);
    if runs("floor") {
        measure(
            "floor: fixed-answer engine",
            &client(Fixed),
            "/api/v1/things48/42",
            (batches, per_batch),
            || {},
        );
    }
    for routes in [1, 100, 1_000] {
        if runs(&routes.to_string()) {
            routed(routes, batches, per_batch);
        }
    }
}
