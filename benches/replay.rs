//! A cassette replay through the full `Client`: the per-request cost a test
//! pays when its traffic comes from a tape (target ≤ 1.5 µs).
//!
//! Hand-rolled like `benches/router.rs` (no criterion): each batch opens the
//! cassette afresh (untimed) and replays every interaction once, in recorded
//! order, through a `Client` with the default plugins; the report is the
//! median, 10th and 90th percentile of the per-request time over batches.
//!
//! Run with `cargo bench --bench replay`. `WIRETAPE_BENCH_QUICK=1` makes it a
//! short smoke run, and `WIRETAPE_BENCH_CASE=uri` (or `graphql`) runs one
//! case only, for example under `valgrind --tool=callgrind`.
//!
//! Under callgrind (case `uri`), the whole replay costs about 8.8k
//! instructions per request (`--toggle-collect='replay::measured*'`,
//! divided by the 101,000 requests of the warm-up and the batches). At the
//! start of issue 12's third round it was 17.7k: the cassette parsed the
//! request's URL (it now reads the `Target`'s text), the client copied the
//! request's head and default headers (now shared), each response got a
//! copy of the kept answer's headers (now shared too), and the filters
//! looked at each header name and query key twice (now once); then a
//! 128-byte `Request`, a 96-byte `Response` (9.4k to 9.05k) and a plugin
//! chain that skips what a request cannot wake. Case `graphql` costs about
//! 21.0k: the live JSON body is parsed once for the filters and the index
//! key's fingerprint (it was parsed three times, about 29.8k).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use wiretape::Client;
use wiretape::cassette::format::{BodyForm, Headers, RecordedRequest, RecordedResponse};
use wiretape::cassette::{Cassette, Environment, Interaction, Match, Mode, Tape};
use wiretape::mock::MockEngine;

/// Interactions per tape, and so requests per batch.
const SIZE: usize = 1_000;

/// How the bench's requests differ: by URL (a REST session) or only by
/// body (GraphQL: one method and URI for all).
#[derive(Clone, Copy)]
enum Shape {
    Uri,
    Graphql,
}

fn path(shape: Shape, i: usize) -> String {
    match shape {
        Shape::Uri => format!("/v1/users/{i}?page={}&sort=name", i % 7),
        Shape::Graphql => "/graphql".to_owned(),
    }
}

fn body(shape: Shape, i: usize) -> Option<String> {
    match shape {
        Shape::Uri => None,
        Shape::Graphql => Some(format!(
            r#"{{"query":"query User($id: ID!) {{ user(id: $id) {{ name }} }}","variables":{{"id":{i}}}}}"#
        )),
    }
}

fn interaction(shape: Shape, i: usize) -> Interaction {
    let answer = format!(r#"{{"id":{i},"name":"user {i}"}}"#);
    Interaction {
        request: RecordedRequest {
            method: match shape {
                Shape::Uri => "GET",
                Shape::Graphql => "POST",
            }
            .into(),
            uri: format!("http://api.test{}", path(shape, i)),
            headers: Headers(vec![("accept".into(), vec!["application/json".into()])]),
            body: body(shape, i).and_then(|b| BodyForm::from_bytes(b.as_bytes())),
        },
        response: Some(RecordedResponse {
            status: 200,
            headers: Headers(vec![
                ("content-type".into(), vec!["application/json".into()]),
                ("content-length".into(), vec![answer.len().to_string()]),
            ]),
            body: BodyForm::from_bytes(answer.as_bytes()),
            latency_ms: Some(40),
        }),
        error: None,
        websocket: None,
        recorded_at: None,
    }
}

fn client(shape: Shape, tape: &Path) -> Client {
    let matchers = match shape {
        Shape::Uri => vec![Match::method(), Match::uri()],
        Shape::Graphql => vec![Match::method(), Match::uri(), Match::json_body()],
    };
    let cassette = Cassette::builder(tape)
        .mode(Mode::Replay)
        .match_on(matchers)
        .environment(Environment::clean())
        .build(MockEngine::queue().build())
        .expect("the tape opens");
    Client::builder()
        .engine(cassette)
        .base_url("http://api.test")
        .build()
        .expect("a client")
}

/// One batch: a request for each of `paths`, in order. Kept out of line so
/// that callgrind's `--toggle-collect='replay::measured'` counts the
/// requests alone, without loading the tape.
#[inline(never)]
fn measured(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    shape: Shape,
    paths: &[String],
    bodies: &[Option<String>],
) {
    runtime.block_on(async {
        for (path, body) in paths.iter().zip(bodies) {
            let request = match (shape, body) {
                (Shape::Graphql, Some(body)) => client.post(path).body(body.clone()),
                _ => client.get(path),
            };
            let response = request.send().await.expect("replayed");
            black_box(response.bytes().await.expect("body"));
        }
    });
}

fn measure(name: &str, shape: Shape, tape: &Path, batches: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let paths: Vec<String> = (0..SIZE).map(|i| path(shape, i)).collect();
    let bodies: Vec<Option<String>> = (0..SIZE).map(|i| body(shape, i)).collect();
    let mut per_call = Vec::with_capacity(batches);
    // The first batch warms up and checks that every request replays.
    for batch in 0..=batches {
        let client = client(shape, tape);
        let start = Instant::now();
        measured(&runtime, &client, shape, &paths, &bodies);
        if batch > 0 {
            per_call.push(start.elapsed() / SIZE as u32);
        }
    }
    per_call.sort();
    let pick = |q: f64| per_call[((per_call.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<40} median {:>8.3} µs/request   p10 {:>8.3} µs   p90 {:>8.3} µs   ({batches} batches × {SIZE} requests)",
        pick(0.5).as_secs_f64() * 1e6,
        pick(0.1).as_secs_f64() * 1e6,
        pick(0.9).as_secs_f64() * 1e6,
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent; keep
    // that a smoke run.
    let quick = std::env::var_os("WIRETAPE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let batches = if quick { 3 } else { 100 };
    let only = std::env::var("WIRETAPE_BENCH_CASE").ok();
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (case, shape, name) in [
        ("uri", Shape::Uri, "client replay, method + uri"),
        (
            "graphql",
            Shape::Graphql,
            "client replay, GraphQL json_body",
        ),
    ] {
        if only.as_deref().is_some_and(|only| only != case) {
            continue;
        }
        let tape = dir.path().join(format!("{case}.yaml"));
        Tape {
            interactions: (0..SIZE).map(|i| interaction(shape, i)).collect(),
            ..Tape::default()
        }
        .save(&tape)
        .expect("the tape saves");
        measure(name, shape, &tape, batches);
    }
}
