//! Fault injection costs: what `Faulty<Router>` adds per call when no fault
//! fires (target: at most 100 ns), and the wall time of a 256-case
//! retry/backoff property with up to 60 s of virtual delay per case (target:
//! at most 1 s in all).
//!
//! Hand-rolled like the router benchmark. Run with `cargo bench --bench
//! faults`; `WIRETAPE_BENCH_QUICK=1` (or `cargo test --benches`) is a short
//! smoke run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, TestRunner};
use wiretape::engine::Engine;
use wiretape::fault::{Fault, FaultPlan, Faulty, strategy};
use wiretape::mock::matchers::{method, path};
use wiretape::mock::responders::json;
use wiretape::mock::{Route, Router};
use wiretape::plugins::Retry;
use wiretape::{Client, Method, Request};

fn router() -> Router {
    let router = Router::new().without_drop_verification();
    for i in 0..20 {
        router.mock(
            Route::given(method("GET"))
                .and(path(format!("/api/v1/things{i}/{{id}}")))
                .respond_with(json(&serde_json::json!({"route": i}))),
        );
    }
    router
}

/// Median per-call time of `engine.execute` over batches, engine-level (no
/// client), interleaved with the other engines so that noise hits all alike.
fn per_call(
    engines: &[(&str, &dyn Engine)],
    router: &Router,
    batches: usize,
    per_batch: usize,
) -> Vec<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url: wiretape::Url = "http://api.test/api/v1/things10/42".parse().unwrap();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(batches); engines.len()];
    runtime.block_on(async {
        for _ in 0..batches {
            for (at, (_, engine)) in engines.iter().enumerate() {
                let start = Instant::now();
                for _ in 0..per_batch {
                    let response = engine
                        .execute(Request::new(Method::GET, url.clone()))
                        .await
                        .expect("routed");
                    black_box(response);
                }
                samples[at].push(start.elapsed() / per_batch as u32);
                router.clear_journal();
            }
        }
    });
    samples
        .into_iter()
        .map(|mut s| {
            s.sort();
            s[s.len() / 2]
        })
        .collect()
}

fn overhead(batches: usize, per_batch: usize) {
    let router = router();
    let quiet_first = Faulty::new(router.clone(), FaultPlan::first(0, Fault::Reset));
    let quiet_chance = Faulty::new(router.clone(), FaultPlan::chance(0.0, Fault::Reset));
    let quiet_matcher = Faulty::new(
        router.clone(),
        FaultPlan::always(Fault::Reset).when(path("/never")),
    );
    let engines: [(&str, &dyn Engine); 4] = [
        ("Router", &router),
        ("Faulty<Router>, first(0)", &quiet_first),
        ("Faulty<Router>, chance(0.0)", &quiet_chance),
        ("Faulty<Router>, when(path)", &quiet_matcher),
    ];
    let medians = per_call(&engines, &router, batches, per_batch);
    // What Faulty adds is one decision: time it alone as well, where noise
    // from the router's own work cannot hide it.
    let request = Request::new(
        Method::GET,
        "http://api.test/api/v1/things10/42".parse().unwrap(),
    );
    for (name, plan) in [
        ("first(0)", quiet_first.plan()),
        ("chance(0.0)", quiet_chance.plan()),
        ("when(path)", quiet_matcher.plan()),
    ] {
        let n = (batches * per_batch) as u32;
        let start = Instant::now();
        for _ in 0..n {
            black_box(plan.decide(black_box(&request)));
        }
        println!(
            "FaultPlan::decide, {name:<12} {:>8.1} ns/call (no fault fires)",
            start.elapsed().as_nanos() as f64 / n as f64
        );
    }
    let base = medians[0];
    for ((name, _), median) in engines.iter().zip(&medians) {
        let added = median.as_nanos() as i128 - base.as_nanos() as i128;
        println!(
            "{name:<30} median {:>8.1} ns/call   added {added:>5} ns   (target ≤ 100 ns)",
            median.as_nanos() as f64
        );
    }
}

/// The retry property of `tests/fault/properties.rs` with a latency of up to
/// 60 s in front of each case's transient run: 256 cases, wall time in all.
fn retry_property(cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case = (
        0u32..=4,
        strategy::transient(5),
        strategy::latency(Duration::from_secs(60)),
    );
    let virtual_total = std::cell::Cell::new(Duration::ZERO);
    let start = Instant::now();
    runner
        .run(&case, |(budget, faults, latency)| {
            let in_a_row = faults.len();
            // Nested: the latency delays the first attempt, the run of
            // transient faults then fails it and the next ones.
            let transient = FaultPlan::sequence(faults).with_seed(1);
            let slow = FaultPlan::first(1, latency).with_seed(1);
            let (ok, took) = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap()
                .block_on(async move {
                    let client = Client::builder()
                        .engine(Faulty::new(Faulty::new(router(), transient), slow))
                        .retry(Retry::new().max_retries(budget))
                        .build()
                        .unwrap();
                    let begun = tokio::time::Instant::now();
                    let sent = client.get("http://api.test/api/v1/things1/2").send().await;
                    let ok = sent.is_ok_and(|r| r.status() == 200);
                    (ok, begun.elapsed())
                });
            virtual_total.set(virtual_total.get() + took);
            proptest::prop_assert_eq!(ok, in_a_row <= budget as usize);
            Ok(())
        })
        .expect("the property holds");
    let wall = start.elapsed();
    println!(
        "retry/backoff property: {cases} cases in {:.3} s wall (target ≤ 1 s), {:.0} s virtual ({:.1} s per case)",
        wall.as_secs_f64(),
        virtual_total.get().as_secs_f64(),
        virtual_total.get().as_secs_f64() / cases as f64
    );
}

fn main() {
    let quick = std::env::var_os("WIRETAPE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let (batches, per_batch) = if quick { (5, 200) } else { (101, 5_000) };
    overhead(batches, per_batch);
    retry_property(if quick { 16 } else { 256 });
}
