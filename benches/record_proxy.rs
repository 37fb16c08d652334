//! Recording overhead of `wiretape record`: the throughput of a client
//! calling an upstream directly, through the proxy without recording
//! (`Mode::Passthrough`), and through the recording proxy
//! (`ReverseProxy<Cassette<HyperEngine>>` behind `server::serve`, exactly
//! what the command runs), all on loopback.
//!
//! Three upstreams: one that answers after 20 ms (a staging API on a good
//! day: the target, ≤ 10 % throughput loss, applies here), one after 2 ms,
//! and one at once (the proxy's raw cost per request, an extra HTTP hop on
//! the same CPUs, shown for reference).
//!
//! Run with `cargo bench --bench record_proxy` (about 20 s); add `-- --quick`
//! for a short run (a few seconds).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use wiretape::cassette::{Cassette, Environment, Mode};
use wiretape::cli::proxy::ReverseProxy;
use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_ok};
use wiretape::{Client, Url, server};

/// Concurrent clients.
const CONCURRENCY: usize = 16;

async fn throughput(client: &Client, base: &str, requests: usize) -> f64 {
    let per_task = requests / CONCURRENCY;
    let started = Instant::now();
    join_all((0..CONCURRENCY).map(|task| {
        let client = client.clone();
        let base = base.to_owned();
        async move {
            for i in 0..per_task {
                let body = client
                    .get(format!("{base}/items/{task}?page={i}"))
                    .send()
                    .await
                    .expect("a response")
                    .bytes()
                    .await
                    .expect("a body");
                assert_eq!(body.len(), 2048);
            }
        }
    }))
    .await;
    (per_task * CONCURRENCY) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

async fn scenario(latency: Duration, requests: usize, rounds: usize) {
    let upstream_engine = MockEngine::new(move |_| async move {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        Ok(respond_ok(vec![b'x'; 2048]))
    });
    let upstream = server::serve(upstream_engine, "127.0.0.1:0").await.unwrap();
    let upstream_url = Url::parse(&upstream.url("/")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let proxy_with = |mode: Mode, name: &str| {
        let cassette = Cassette::builder(dir.path().join(name))
            .mode(mode)
            .environment(Environment::clean())
            .build(HyperEngine::default())
            .unwrap();
        ReverseProxy::new(cassette, upstream_url.clone())
    };
    let passthrough = server::serve(proxy_with(Mode::Passthrough, "pass.yaml"), "127.0.0.1:0")
        .await
        .unwrap();
    let recording = server::serve(proxy_with(Mode::Record, "rec.yaml"), "127.0.0.1:0")
        .await
        .unwrap();
    let client = Client::new();
    let direct_base = upstream.url("");
    let pass_base = passthrough.url("");
    let rec_base = recording.url("");
    // Warm the pools.
    throughput(&client, &direct_base, CONCURRENCY * 4).await;
    throughput(&client, &pass_base, CONCURRENCY * 4).await;
    throughput(&client, &rec_base, CONCURRENCY * 4).await;

    let (mut direct, mut pass, mut rec) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.push(throughput(&client, &direct_base, requests).await);
        pass.push(throughput(&client, &pass_base, requests).await);
        rec.push(throughput(&client, &rec_base, requests).await);
    }
    let (direct, pass, rec) = (median(direct), median(pass), median(rec));
    let loss = |x: f64| (1.0 - x / direct) * 100.0;
    println!(
        "upstream latency {latency:?}, {CONCURRENCY} clients, {requests} requests × {rounds} rounds (median):"
    );
    println!("  direct               {direct:>9.0} req/s");
    println!(
        "  proxy, passthrough   {pass:>9.0} req/s  ({:+.1} % throughput loss)",
        loss(pass)
    );
    println!(
        "  proxy, recording     {rec:>9.0} req/s  ({:+.1} % throughput loss; recording alone {:+.1} %)",
        loss(rec),
        (1.0 - rec / pass) * 100.0
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, briefly.
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let (requests, rounds) = match (test_mode, quick) {
        (true, _) => (CONCURRENCY * 2, 1),
        (false, true) => (1_600, 3),
        (false, false) => (8_000, 5),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        scenario(Duration::from_millis(20), requests / 4, rounds).await;
        scenario(Duration::from_millis(2), requests, rounds).await;
        scenario(Duration::ZERO, requests, rounds).await;
    });
}
