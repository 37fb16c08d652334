//! The router's costs that grew faster than their input (issue 11):
//! loading a route file of 16,000 routes, and a miss against a route with a
//! large expected JSON body or a partial-JSON body built from YAML aliases.
//!
//! Hand-rolled like `benches/router.rs`: each case runs a few times and the
//! best run is reported (the machine is shared, so the best is the least
//! disturbed). Run with `cargo bench --bench router_costs`; set
//! `WIRETAPE_BENCH_QUICK=1` (or run it through `cargo test --benches`) for
//! a short smoke run with smaller inputs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use wiretape::engine::Engine;
use wiretape::mock::Router;
use wiretape::{Method, Request};

/// The best of `runs` timings of `work`.
fn best(runs: usize, mut work: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

/// A route file of `count` routes like a large REST API.
fn route_file(count: usize) -> String {
    let mut text = String::from("routes:\n");
    for i in 0..count {
        let verb = ["GET", "POST", "PUT", "DELETE"][i % 4];
        let _ = write!(
            text,
            "  - name: route {i}\n    request: {{method: {verb}, path: \"/api/v1/things{i}/{{id}}\"}}\n    \
             response: {{status: 200, body: {{json: {{route: {i}}}}}}}\n"
        );
    }
    text
}

/// A JSON document of about `bytes` bytes: an array of small objects.
fn large_json(bytes: usize, salt: &str) -> serde_json::Value {
    let items: Vec<serde_json::Value> = (0..bytes / 45)
        .map(|i| serde_json::json!({"id": i, "name": format!("item {i} {salt}"), "ok": true}))
        .collect();
    serde_json::json!({ "items": items })
}

/// A route file whose one route expects `value` as the body, exactly.
fn json_route(value: &serde_json::Value) -> String {
    format!(
        "routes:\n  - request:\n      method: POST\n      path: /big\n      body: {{json: {value}}}\n"
    )
}

/// A partial-JSON route whose expected body is built from YAML aliases:
/// `levels` levels of `width` references each, `width^levels` leaves.
fn alias_route(levels: usize, width: usize) -> String {
    let mut text = String::from(
        "routes:\n  - request:\n      method: POST\n      path: /alias\n      body:\n        \
         partial_json:\n          l0: &l0 {k: v, n: 1}\n",
    );
    for level in 1..=levels {
        let refs = vec![format!("*l{}", level - 1); width].join(", ");
        let _ = writeln!(text, "          l{level}: &l{level} [{refs}]");
    }
    text
}

fn miss(router: &Router, path: &str, body: String) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    best(3, || {
        let request = Request::new(
            Method::POST,
            format!("http://api.test{path}").parse().expect("a URL"),
        )
        .with_body(body.clone());
        let answer = runtime.block_on(router.execute(request));
        let err = answer.expect_err("a miss");
        assert!(err.to_string().contains("did not match"), "{err}");
    })
}

fn main() {
    let quick = std::env::var_os("WIRETAPE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let (routes, json_bytes, levels) = if quick {
        (2_000, 20_000, 3)
    } else {
        (16_000, 222_000, 4)
    };
    let origin = Path::new("routes.yaml");

    let file = route_file(routes);
    let load = best(3, || {
        let router = Router::new().without_drop_verification();
        let ids = router.load_yaml_str(&file, origin).expect("the file loads");
        assert_eq!(ids.len(), routes);
    });
    println!(
        "load a route file of {routes} routes ({} KB): {:>10.1} ms",
        file.len() / 1000,
        load.as_secs_f64() * 1e3
    );

    let expected = large_json(json_bytes, "expected");
    let router = Router::new().without_drop_verification();
    router
        .load_yaml_str(&json_route(&expected), origin)
        .expect("the file loads");
    let sent = large_json(json_bytes, "sent").to_string();
    let time = miss(&router, "/big", sent.clone());
    println!(
        "miss against a {} KB expected JSON body:        {:>10.1} ms",
        expected.to_string().len() / 1000,
        time.as_secs_f64() * 1e3
    );

    let router = Router::new().without_drop_verification();
    router
        .load_yaml_str(&alias_route(levels, 8), origin)
        .expect("the file loads");
    let time = miss(&router, "/alias", r#"{"tree": [1, 2, 3]}"#.to_owned());
    println!(
        "miss against a partial-JSON route of 8^{levels} aliased nodes: {:>10.1} ms",
        time.as_secs_f64() * 1e3
    );
}
