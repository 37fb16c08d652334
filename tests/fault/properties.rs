//! The worked property tests: retry budgets, deadlines and bearer refresh,
//! whatever the network does, 256 cases each under tokio's paused clock; and
//! determinism over 1,000 runs of one seed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use wiretape::fault::{Fault, FaultPlan, Faulty, strategy};
use wiretape::mock::matchers::header;
use wiretape::plugins::{Auth, BearerAuth, BearerTokens, Retry};
use wiretape::{Client, StatusCode};

use super::{BODY, origin};

/// Runs `test` on a fresh current-thread runtime with the clock paused.
fn paused<F: Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(test)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The origin behind `plan`, and a client retrying up to `budget` times.
fn retrying(budget: u32, plan: FaultPlan) -> (Client, wiretape::mock::Router) {
    let router = origin();
    let client = Client::builder()
        .engine(Faulty::new(router.clone(), plan))
        .retry(Retry::new().max_retries(budget))
        .build()
        .unwrap();
    (client, router)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn retry_with_budget_n_succeeds_exactly_when_at_most_n_transient_faults_come_in_a_row(
        budget in 0u32..=4,
        faults in strategy::transient(6),
    ) {
        let in_a_row = faults.len();
        let (get, post, keyed, post_hits, journal) = paused(async {
            let plan = || FaultPlan::sequence(faults.clone()).with_seed(1);
            let ok = |sent: wiretape::Result<wiretape::Response>| {
                sent.is_ok_and(|r| r.status() == StatusCode::OK)
            };
            let (client, _) = retrying(budget, plan());
            let get = ok(client.get("http://api.test/items").send().await);
            let (client, router) = retrying(budget, plan());
            let post = ok(client.post("http://api.test/items").body("{}").send().await);
            let post_hits = router.journal().len();
            let (client, _) = retrying(budget, plan());
            let keyed = client
                .post("http://api.test/items")
                .header("idempotency-key", "k1")
                .body("{}")
                .send()
                .await;
            let plan = plan();
            (get, post, ok(keyed), post_hits, plan.journal().to_string())
        });
        let expected = in_a_row <= budget as usize;
        prop_assert_eq!(get, expected, "GET, budget {}, faults {:?}\n{}", budget, faults, journal);
        prop_assert_eq!(keyed, expected, "keyed POST, budget {}, faults {:?}", budget, faults);
        prop_assert!(post_hits <= 1, "a POST without a key reached the origin {} times: {:?}", post_hits, faults);
        if in_a_row == 0 {
            prop_assert!(post);
        }
    }

    #[test]
    fn a_call_never_takes_longer_than_its_deadline_in_virtual_time(
        deadline_s in 1u64..=30,
        steps in proptest::collection::vec(
            prop_oneof![
                strategy::latency(Duration::from_secs(60)),
                strategy::transient_fault(),
                Just(Fault::Hang),
            ],
            0..8,
        ),
    ) {
        let deadline = Duration::from_secs(deadline_s);
        let plan = FaultPlan::sequence(steps.clone()).with_seed(2);
        let seed = plan.seed();
        let took = paused(async move {
            let client = Client::builder()
                .engine(Faulty::new(origin(), plan))
                .retry(Retry::new().max_retries(5).deadline(deadline))
                .build()
                .unwrap();
            let start = tokio::time::Instant::now();
            if let Ok(response) = client.get("http://api.test/").send().await {
                let _ = response.text().await;
            }
            start.elapsed()
        });
        prop_assert!(took <= deadline, "took {:?} past a {:?} deadline with {:?} (seed {})", took, deadline, steps, seed);
    }

    #[test]
    fn bearer_refresh_happens_once_however_many_concurrent_401s_arrive(concurrent in 1usize..=24) {
        let refreshes = Arc::new(AtomicUsize::new(0));
        let counted = refreshes.clone();
        let bodies = paused(async move {
            // The stale token meets a 401 from the plan; the fresh one passes.
            let plan = FaultPlan::always(Fault::status(401)).when(header("authorization", "Bearer stale"));
            let bearer = BearerAuth::new()
                .load_tokens(|| async { Some(BearerTokens::new("stale", Some("r"))) })
                .refresh_tokens(move |_| {
                    let counted = counted.clone();
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Some(BearerTokens::new("fresh", Some("r"))))
                    }
                });
            let client = Client::builder()
                .engine(Faulty::new(origin(), plan))
                .auth(Auth::bearer(bearer))
                .build()
                .unwrap();
            let calls = (0..concurrent).map(|i| {
                let client = client.clone();
                async move { client.get(format!("http://api.test/me/{i}")).send().await?.text().await }
            });
            futures_util::future::join_all(calls).await
        });
        prop_assert!(bodies.iter().all(|b| b.as_deref().ok() == Some(BODY)), "{:?}", bodies);
        prop_assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn the_same_seed_gives_the_same_plan_journal_and_verdict_on_1000_runs() {
    let runner = || {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        strategy::plan(strategy::http_fault(Duration::from_secs(5)), 12)
            .new_tree(&mut runner)
            .expect("a plan")
    };
    let once = || {
        use proptest::strategy::ValueTree;
        let plan = runner().current();
        let chance = FaultPlan::chance(0.3, Fault::Reset).with_seed(plan.seed());
        let described = format!("{plan:?}");
        paused(async move {
            let client = Client::builder()
                .engine(Faulty::new(
                    Faulty::new(origin(), chance.clone()),
                    plan.clone(),
                ))
                .retry(Retry::new().max_retries(2))
                .build()
                .unwrap();
            let mut verdicts = Vec::new();
            for _ in 0..8 {
                let verdict = match client.get("http://api.test/").send().await {
                    Ok(response) => format!(
                        "{} {:?}",
                        response.status(),
                        response.text().await.map_err(|e| e.kind())
                    ),
                    Err(err) => format!("{:?}", err.kind()),
                };
                verdicts.push(verdict);
            }
            (described, plan.journal(), chance.journal(), verdicts)
        })
    };
    let first = once();
    assert!(
        !first.1.hits.is_empty() || !first.2.hits.is_empty(),
        "the plan does something: {first:?}"
    );
    for run in 1..1000 {
        let again = once();
        assert!(
            again == first,
            "run {run} differs (seed {}):\n{:?}\nvs\n{:?}",
            first.1.seed,
            again,
            first
        );
    }
}
