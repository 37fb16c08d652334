//! Plans: sequences, counts, chances, matchers, compositions, seeds and the
//! journal; `Faulty` in virtual time; plan files.

use std::path::Path;
use std::time::Duration;

use wiretape::fault::{Delay, Fault, FaultPlan, Faulty};
use wiretape::mock::matchers::{method, path};
use wiretape::plugins::Timeouts;
use wiretape::{Client, ErrorKind};

use super::{BODY, Outcome, faulty, origin, outcome};

async fn outcomes(client: &Client, url: &str, n: usize) -> Vec<Outcome> {
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(outcome(client.get(url).send().await).await);
    }
    all
}

fn ok() -> Outcome {
    Outcome::Answered(200, Ok(BODY.to_owned()))
}

#[tokio::test(start_paused = true)]
async fn a_sequence_acts_its_steps_in_order_then_lets_calls_through() {
    let (client, plan) = faulty(FaultPlan::sequence([
        Fault::Reset,
        Fault::status(503),
        Fault::Ok,
    ]));
    let got = outcomes(&client, "http://api.test/", 4).await;
    assert_eq!(got[0], Outcome::Failed(ErrorKind::ConnectionReset));
    assert!(
        matches!(got[1], Outcome::Answered(503, Ok(_))),
        "{:?}",
        got[1]
    );
    assert_eq!(&got[2..], &[ok(), ok()]);
    let journal = plan.journal();
    assert_eq!(journal.calls, 4);
    let hits: Vec<(u64, String)> = journal
        .hits
        .iter()
        .map(|h| (h.call, h.fault.name()))
        .collect();
    assert_eq!(
        hits,
        [(1, "reset".to_owned()), (2, "status 503".to_owned())]
    );
}

#[tokio::test(start_paused = true)]
async fn first_n_and_every_nth_count_calls() {
    let (client, _) = faulty(FaultPlan::first(2, Fault::EmptyReply));
    let got = outcomes(&client, "http://api.test/", 3).await;
    assert_eq!(
        got,
        [
            Outcome::Failed(ErrorKind::ConnectionReset),
            Outcome::Failed(ErrorKind::ConnectionReset),
            ok()
        ]
    );
    let (client, plan) = faulty(FaultPlan::every(3, Fault::Reset));
    let got = outcomes(&client, "http://api.test/", 7).await;
    let failed: Vec<usize> = (0..7).filter(|i| got[*i] != ok()).map(|i| i + 1).collect();
    assert_eq!(failed, [3, 6]);
    assert_eq!(
        plan.journal()
            .hits
            .iter()
            .map(|h| h.call)
            .collect::<Vec<_>>(),
        [3, 6]
    );
}

#[tokio::test(start_paused = true)]
async fn a_plan_restricted_by_a_matcher_sees_only_matching_requests() {
    let plan = FaultPlan::sequence([Fault::Reset, Fault::Reset]).when(path("/pay"));
    let (client, plan) = faulty(plan);
    // Calls to other paths neither fault nor use up the sequence.
    assert_eq!(
        outcomes(&client, "http://api.test/other", 3).await,
        [ok(), ok(), ok()]
    );
    let pay = outcomes(&client, "http://api.test/pay", 3).await;
    assert_eq!(
        pay[..2],
        [
            Outcome::Failed(ErrorKind::ConnectionReset),
            Outcome::Failed(ErrorKind::ConnectionReset)
        ]
    );
    assert_eq!(pay[2], ok());
    assert!(
        plan.journal()
            .hits
            .iter()
            .all(|h| h.request.ends_with("/pay"))
    );
}

#[tokio::test(start_paused = true)]
async fn composed_plans_each_see_every_call_and_the_first_that_fires_wins() {
    let plan = FaultPlan::first(1, Fault::Reset)
        .when(method("POST"))
        .or(FaultPlan::every(2, Fault::status(500)));
    let (client, _) = faulty(plan);
    let post = outcome(client.post("http://api.test/").send().await).await;
    assert_eq!(
        post,
        Outcome::Failed(ErrorKind::ConnectionReset),
        "the POST rule wins"
    );
    // The every-2 rule counted that POST: the next call is its second.
    let get = outcome(client.get("http://api.test/").send().await).await;
    assert!(matches!(get, Outcome::Answered(500, _)), "{get:?}");
    assert_eq!(
        outcome(client.get("http://api.test/").send().await).await,
        ok()
    );
}

#[tokio::test(start_paused = true)]
async fn a_chance_is_deterministic_for_a_seed_and_differs_between_seeds() {
    async fn pattern(seed: u64) -> Vec<bool> {
        let (client, _) = faulty(FaultPlan::chance(0.5, Fault::Reset).with_seed(seed));
        let got = outcomes(&client, "http://api.test/", 64).await;
        got.iter().map(|o| *o != ok()).collect()
    }
    if wiretape::fault::forced_seed().is_some() {
        eprintln!("WIRETAPE_SEED is set: every plan has the same seed, skipping the comparison");
        return;
    }
    let first = pattern(7).await;
    assert_eq!(first, pattern(7).await, "same seed, same faults");
    assert_ne!(first, pattern(8).await, "another seed, other faults");
    let hits = first.iter().filter(|f| **f).count();
    assert!(
        (16..=48).contains(&hits),
        "about half of 64 calls fault, got {hits}"
    );
}

#[tokio::test(start_paused = true)]
async fn injected_errors_and_the_journal_dump_name_the_seed() {
    let (client, plan) = faulty(FaultPlan::always(Fault::Reset).with_seed(4242));
    let err = client.get("http://api.test/x").send().await.unwrap_err();
    let seed = plan.seed();
    assert!(
        err.to_string().contains(&format!("WIRETAPE_SEED={seed}")),
        "{err}"
    );
    let dump = plan.journal().to_string();
    assert!(dump.contains(&format!("seed {seed}")), "{dump}");
    assert!(
        dump.contains("call 1: GET http://api.test/x <- reset"),
        "{dump}"
    );
}

#[tokio::test(start_paused = true)]
async fn latency_waits_in_virtual_time_and_a_request_timeout_ends_a_hang() {
    let (client, _) = faulty(Fault::latency(Duration::from_secs(90)));
    let start = tokio::time::Instant::now();
    assert_eq!(
        outcome(client.get("http://api.test/").send().await).await,
        ok()
    );
    assert_eq!(start.elapsed(), Duration::from_secs(90));

    let engine = Faulty::new(origin(), Fault::Hang);
    let client = Client::builder()
        .engine(engine)
        .timeout(Timeouts::new().request(Duration::from_secs(5)))
        .build()
        .unwrap();
    let err = client.get("http://api.test/").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RequestTimeout);
}

#[tokio::test(start_paused = true)]
async fn a_connect_delay_past_the_connect_limit_is_a_connect_timeout() {
    let client = |delay: u64| {
        Client::builder()
            .engine(Faulty::new(
                origin(),
                Fault::ConnectDelay(Delay::Fixed(Duration::from_secs(delay))),
            ))
            .timeout(Timeouts::new().connect(Duration::from_secs(2)))
            .build()
            .unwrap()
    };
    let err = client(3).get("http://api.test/").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectTimeout);
    assert_eq!(
        outcome(client(1).get("http://api.test/").send().await).await,
        ok()
    );
}

#[tokio::test(start_paused = true)]
async fn slow_bodies_take_their_time_in_virtual_time() {
    let (client, _) = faulty(Fault::Dribble {
        chunks: 5,
        over: Duration::from_secs(10),
    });
    let start = tokio::time::Instant::now();
    let response = client.get("http://api.test/").send().await.unwrap();
    let mut stream = response.bytes_stream();
    let mut chunks = 0;
    let mut body = Vec::new();
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        chunks += 1;
        body.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!((chunks, body.as_slice()), (5, BODY.as_bytes()));
    assert_eq!(start.elapsed(), Duration::from_secs(10));

    // 49 bytes at 10 bytes/s: 4.9 s.
    let (client, _) = faulty(Fault::Bandwidth(10));
    let start = tokio::time::Instant::now();
    assert_eq!(
        outcome(client.get("http://api.test/").send().await).await,
        ok()
    );
    let took = start.elapsed();
    let want = Duration::from_secs_f64(BODY.len() as f64 / 10.0);
    assert!(
        took >= want && took < want + Duration::from_millis(10),
        "took {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cassette_replays_with_a_plan_on_top() {
    let cassette = wiretape::cassette::Cassette::builder("cassettes/httpbin.yaml")
        .mode(wiretape::cassette::Mode::Replay)
        .environment(wiretape::cassette::Environment::clean())
        .match_on([
            wiretape::cassette::Match::method(),
            wiretape::cassette::Match::path(),
        ])
        .allow_playback_repeats(true)
        .build(wiretape::mock::MockEngine::queue().build())
        .unwrap();
    let client = super::client(Faulty::new(
        cassette,
        FaultPlan::sequence([Fault::Reset, Fault::ResetAfter(10)]),
    ));
    let url = "http://127.0.0.1:42327/get?lang=rust&tool=wiretape";
    assert_eq!(
        outcome(client.get(url).send().await).await,
        Outcome::Failed(ErrorKind::ConnectionReset)
    );
    assert_eq!(
        outcome(client.get(url).send().await).await,
        Outcome::Answered(200, Err(ErrorKind::ConnectionReset))
    );
    let text = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("\"tool\": \"wiretape\""), "{text}");
}

#[test]
fn plan_files_read_every_rule_and_name_the_place_of_a_mistake() {
    let text = "seed: 9\nfaults:\n  - request: {path: /pay}\n    sequence: [reset, 503, ok]\n  - every: 3\n    fault: {status: {code: 429, retry_after: {seconds: 2}}}\n  - chance: 0.25\n    fault: {latency: {log_normal: {median_ms: 80, sigma: 0.5}}}\n";
    let plan = FaultPlan::from_yaml_str(text, Path::new("plan.yaml")).unwrap();
    assert!(plan.problem().is_none());
    let cases = [
        ("faults:\n  - fault: teapot\n", "plan.yaml:2:"),
        (
            "faults:\n  - chance: 1.5\n    fault: reset\n",
            "fault rule 1: chance 1.5",
        ),
        (
            "faults:\n  - fault: reset\n    sequence: [reset]\n",
            "exactly one of sequence and fault",
        ),
        ("faults:\n  - fault: {status: {code: 42}}\n", "status 42"),
        (
            "faults:\n  - fault: {status: {code: 503, retry_after: {date: tomorrow}}}\n",
            "not an HTTP date",
        ),
        (
            "faults:\n  - request: {method: \"G T\"}\n    fault: reset\n",
            "plan.yaml:2:",
        ),
    ];
    for (text, expected) in cases {
        let err = FaultPlan::from_yaml_str(text, Path::new("plan.yaml")).unwrap_err();
        assert!(err.to_string().contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn faults_read_and_write_as_yaml() {
    let plan_file = |fault: &str| format!("faults:\n  - fault: {fault}\n");
    for text in [
        "reset",
        "empty_reply",
        "503",
        "{reset_after: 10}",
        "{dribble: {chunks: 3, over_ms: 100}}",
        "{ws_close: {code: 4000, after: 1}}",
        "{latency: {uniform: {min_ms: 1, max_ms: 5}}}",
        "{latency: {exponential: {mean_ms: 20}}}",
        "{bandwidth: 1024}",
    ] {
        FaultPlan::from_yaml_str(&plan_file(text), Path::new("p.yaml"))
            .unwrap_or_else(|err| panic!("{text}: {err}"));
    }
}
