//! Cassette benchmarks: loading a 1,000-interaction cassette, replaying
//! 1,000 requests from it, and the cost of one replay as the cassette grows.
//!
//! For comparison, vcrpy was measured at 0.54 s to load such a cassette and
//! 17 ms per replayed request (it scans every entry). Targets: load ≤ 27 ms,
//! 1,000 replays ≤ 17 ms in total, replay cost independent of size.
//!
//! Batches of 100 from a tape kept open show the per-request cost at
//! 1,000, 10,000 and 100,000 interactions.
//!
//! A GraphQL tape (one method and URI, told apart by `Match::json_body()`)
//! shows the same flat cost for lookups out of recorded order.
//!
//! Run with `cargo bench --bench cassette` (`-- --quick` for a short run).
//! `WIRETAPE_BENCH_CASE=load` only loads the 1,000-interaction tape ten
//! times, for `valgrind --tool=callgrind --toggle-collect='cassette::loaded'`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use wiretape::cassette::format::{BodyForm, Headers, RecordedRequest, RecordedResponse};
use wiretape::cassette::{Cassette, Environment, Interaction, Match, Mode, Tape};
use wiretape::engine::Engine;
use wiretape::mock::MockEngine;
use wiretape::{Method, Request};

/// The URL of interaction `i`: a handful of endpoints, each called many
/// times with different queries, like a real API session.
fn url(i: usize) -> String {
    format!(
        "https://api.example.test/v1/{}/{}?page={}&sort=name",
        ["users", "orders", "items", "search"][i % 4],
        i / 4,
        i % 7
    )
}

fn interaction(i: usize) -> Interaction {
    let body = format!(
        r#"{{"id":{i},"name":"user {i}","email":"user{i}@example.test","roles":["reader","writer"],"active":true,"score":{}}}"#,
        i * 7
    );
    Interaction {
        request: RecordedRequest {
            method: if i.is_multiple_of(5) { "POST" } else { "GET" }.into(),
            uri: url(i),
            headers: Headers(vec![
                ("accept".into(), vec!["application/json".into()]),
                ("user-agent".into(), vec!["wiretape/0.1.0".into()]),
                ("authorization".into(), vec!["<REDACTED>".into()]),
            ]),
            body: None,
        },
        response: Some(RecordedResponse {
            status: 200,
            headers: Headers(vec![
                ("content-type".into(), vec!["application/json".into()]),
                ("content-length".into(), vec![body.len().to_string()]),
                ("date".into(), vec!["Sun, 22 Nov 2026 16:00:00 GMT".into()]),
                ("x-request-id".into(), vec![format!("req-{i:08}")]),
            ]),
            body: BodyForm::from_bytes(body.as_bytes()),
            latency_ms: Some(40),
        }),
        error: None,
        websocket: None,
        recorded_at: None,
    }
}

/// The body of GraphQL query `i`: every one goes to `POST /graphql`.
fn graphql_body(i: usize) -> String {
    format!(
        r#"{{"operationName":"User","query":"query User($id: ID!) {{ user(id: $id) {{ name email }} }}","variables":{{"id":{i}}}}}"#
    )
}

/// Interaction `i` of a GraphQL tape: the REST one's answer to query `i`.
fn graphql_interaction(i: usize) -> Interaction {
    let mut interaction = interaction(i);
    interaction.request.method = "POST".into();
    interaction.request.uri = "https://api.example.test/graphql".into();
    interaction.request.body = BodyForm::from_bytes(graphql_body(i).as_bytes());
    interaction
}

fn write_cassette(dir: &Path, size: usize, graphql: bool) -> PathBuf {
    let name = if graphql { "graphql" } else { "bench" };
    let path = dir.join(format!("{name}-{size}.yaml"));
    let make = if graphql {
        graphql_interaction
    } else {
        interaction
    };
    let tape = Tape {
        interactions: (0..size).map(make).collect(),
        ..Tape::default()
    };
    tape.save(&path).unwrap();
    path
}

/// Opens `path` for replay; a GraphQL tape (named so) matches on JSON bodies.
fn open(path: &Path) -> Cassette<MockEngine> {
    let mut matchers = vec![Match::method(), Match::uri()];
    if path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("graphql"))
    {
        matchers.push(Match::json_body());
    }
    Cassette::builder(path)
        .mode(Mode::Replay)
        .match_on(matchers)
        .environment(Environment::clean())
        .build(MockEngine::queue().build())
        .unwrap()
}

fn request(i: usize) -> Request {
    let method = if i.is_multiple_of(5) {
        Method::POST
    } else {
        Method::GET
    };
    Request::new(method, url(i).parse().unwrap())
}

fn graphql_request(i: usize) -> Request {
    Request::new(
        Method::POST,
        "https://api.example.test/graphql".parse().unwrap(),
    )
    .with_body(graphql_body(i))
}

/// Times replaying `count` requests (`order(n)` is the n-th) from a freshly
/// opened cassette, `iters` times; opening the cassette and building
/// the requests are not timed.
fn time_replays(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    order: impl Fn(usize) -> Request,
    count: usize,
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let cassette = open(path);
        let requests: Vec<Request> = (0..count).map(&order).collect();
        total += replay_all(runtime, &cassette, requests);
    }
    total
}

/// How long `cassette` takes to replay `requests` and hand back their bodies.
fn replay_all(
    runtime: &tokio::runtime::Runtime,
    cassette: &Cassette<MockEngine>,
    requests: Vec<Request>,
) -> Duration {
    let started = Instant::now();
    runtime.block_on(async {
        for request in requests {
            let response = cassette.execute(request).await.unwrap();
            std::hint::black_box(response.bytes().await.unwrap());
        }
    });
    started.elapsed()
}

/// A cassette opened once and replayed in batches of 100 interactions, each
/// batch the next 100 in recorded order; it is opened again (untimed) when
/// the batches have used it up. So a 100,000-interaction tape, which takes
/// seconds to load, is not reloaded for every batch criterion asks for.
struct Batches<'a> {
    path: &'a Path,
    size: usize,
    open: Option<(Cassette<MockEngine>, usize)>,
}

impl Batches<'_> {
    fn time(&mut self, runtime: &tokio::runtime::Runtime, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let used_up = self
                .open
                .as_ref()
                .is_none_or(|(_, next)| next + 100 > self.size);
            if used_up {
                self.open = Some((open(self.path), 0));
            }
            let (cassette, next) = self.open.as_mut().expect("opened above");
            let requests: Vec<Request> = (*next..*next + 100).map(request).collect();
            *next += 100;
            total += replay_all(runtime, cassette, requests);
        }
        total
    }
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let thousand = write_cassette(dir.path(), 1_000, false);
    let ten_thousand = write_cassette(dir.path(), 10_000, false);

    let mut group = c.benchmark_group("cassette");
    group.sample_size(20);
    group.bench_function("load 1000 interactions", |b| b.iter(|| open(&thousand)));
    group.bench_function("replay 1000 requests from 1000", |b| {
        b.iter_custom(|iters| time_replays(&runtime, &thousand, request, 1_000, iters))
    });
    // The same 100 interactions from a small and a large cassette: the
    // lookup's cost, which must not grow with the cassette.
    for (size, path) in [(1_000, &thousand), (10_000, &ten_thousand)] {
        group.bench_with_input(
            BenchmarkId::new("replay the first 100 from", size),
            &size,
            |b, _| b.iter_custom(|iters| time_replays(&runtime, path, request, 100, iters)),
        );
    }
    // Batches of 100 from a cassette kept open, up to 100,000 interactions:
    // the per-request cost must stay flat as the tape grows.
    let hundred_thousand = write_cassette(dir.path(), 100_000, false);
    for (size, path) in [
        (1_000, &thousand),
        (10_000, &ten_thousand),
        (100_000, &hundred_thousand),
    ] {
        let mut batches = Batches {
            path,
            size,
            open: None,
        };
        group.bench_with_input(
            BenchmarkId::new("100 in order, tape kept open, from", size),
            &size,
            |b, _| b.iter_custom(|iters| batches.time(&runtime, iters)),
        );
    }
    // 100 interactions spread over the whole cassette: adds the cost of
    // touching memory all over a large tape (cache misses, not scanning).
    for (size, path) in [(1_000, &thousand), (10_000, &ten_thousand)] {
        group.bench_with_input(
            BenchmarkId::new("replay 100 spread over", size),
            &size,
            |b, &size| {
                let spread = |n| request(n * (size / 100));
                b.iter_custom(|iters| time_replays(&runtime, path, spread, 100, iters))
            },
        );
    }
    // GraphQL: every request is `POST /graphql`, told apart by the JSON body
    // alone; 100 lookups out of recorded order (last first, spread over the
    // tape). With the body's fingerprint in the index key the cost per
    // lookup stays flat from 1,000 to 10,000 interactions.
    let graphql = [
        (1_000, write_cassette(dir.path(), 1_000, true)),
        (10_000, write_cassette(dir.path(), 10_000, true)),
    ];
    for (size, path) in &graphql {
        group.bench_with_input(
            BenchmarkId::new("graphql: 100 out of order from", size),
            size,
            |b, &size| {
                let backwards = |n| graphql_request(size - 1 - n * (size / 100));
                b.iter_custom(|iters| time_replays(&runtime, path, backwards, 100, iters))
            },
        );
    }
    // Hostile input: 200 KB of `[` took 56 s before the pre-scan refused
    // it; now the cost is one linear pass up to the depth limit.
    let nested = format!("version: 1\ninteractions: {}", "[".repeat(200_000));
    group.bench_function("refuse 200 KB of nested [", |b| {
        b.iter(|| Tape::from_yaml(&nested, "nested.yaml").unwrap_err())
    });
    group.finish();
}

/// Opens `tape` ten times; kept out of line so that callgrind's
/// `--toggle-collect='cassette::loaded'` counts the loads alone.
#[inline(never)]
fn loaded(tape: &Path) {
    for _ in 0..10 {
        std::hint::black_box(open(tape));
    }
}

criterion_group!(cassette, benches);

fn main() {
    // `WIRETAPE_BENCH_CASE=load` loads the 1,000-interaction tape ten times
    // and stops: a case for callgrind, whose counts do not depend on what
    // else the machine is doing.
    if std::env::var("WIRETAPE_BENCH_CASE").as_deref() == Ok("load") {
        let dir = tempfile::tempdir().unwrap();
        loaded(&write_cassette(dir.path(), 1_000, false));
        return;
    }
    cassette();
    Criterion::default().configure_from_args().final_summary();
}
