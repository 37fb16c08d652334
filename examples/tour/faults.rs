//! Scene: fault injection. A flaky API (a reset, then a 503 with
//! Retry-After, then an answer) is wrapped around a router with one plan;
//! a retry policy gets through it, and the plan's journal says what hit
//! which call. Then a property that holds: over 200 seeds of a plan that
//! resets half the calls, a retry budget of 8 fails only when every attempt
//! was reset, and never passes its deadline, in virtual time, in milliseconds
//! of wall time.

use std::time::Duration;

use wiretape::fault::{Fault, FaultPlan, Faulty};
use wiretape::mock::matchers::path;
use wiretape::mock::responders::json;
use wiretape::mock::{Route, Router};
use wiretape::plugins::{Backoff, Retry};
use wiretape::{Client, StatusCode};

fn api() -> Router {
    let router = Router::new().without_drop_verification();
    router.mock(
        Route::given(path("/orders/7"))
            .respond_with(json(&serde_json::json!({"id": 7, "state": "shipped"}))),
    );
    router
}

/// Runs the scene, printing what happens.
pub async fn run() -> wiretape::Result<()> {
    let plan = FaultPlan::sequence([
        Fault::Reset,
        Fault::retry_after(503, Duration::ZERO),
        Fault::Ok,
    ]);
    let flaky = Faulty::new(api(), plan.clone());
    let client = Client::builder()
        .engine(flaky)
        .retry(Retry::new().max_retries(3).backoff(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        )))
        .build()?;
    let order = client
        .get("http://shop.test/orders/7")
        .send()
        .await?
        .text()
        .await?;
    println!("  after the faults: {order}");
    print!("  {}", plan.journal());

    // The property runs on a paused clock of its own: minutes of backoff
    // pass instantly.
    let report = tokio::task::spawn_blocking(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
            .block_on(property())
    })
    .await
    .map_err(|err| wiretape::Error::invalid(format!("the property panicked: {err}")))??;
    println!("  {report}");
    Ok(())
}

async fn property() -> wiretape::Result<String> {
    let deadline = Duration::from_secs(120);
    let (mut succeeded, mut worst) = (0, Duration::ZERO);
    let wall = std::time::Instant::now();
    for seed in 0..200 {
        let plan = FaultPlan::chance(0.5, Fault::Reset).with_seed(seed);
        let client = Client::builder()
            .engine(Faulty::new(api(), plan.clone()))
            .retry(Retry::new().max_retries(8).deadline(deadline))
            .build()?;
        let start = tokio::time::Instant::now();
        let outcome = client.get("http://shop.test/orders/7").send().await;
        let took = start.elapsed();
        worst = worst.max(took);
        let journal = plan.journal();
        let holds = match &outcome {
            Ok(response) => response.status() == StatusCode::OK,
            // A call may fail only if every attempt it made was reset.
            Err(_) => journal.hits.len() as u64 == journal.calls,
        };
        if !holds || took > deadline {
            return Err(wiretape::Error::invalid(format!(
                "the property failed: {outcome:?} after {took:?}\n{journal}"
            )));
        }
        succeeded += usize::from(outcome.is_ok());
    }
    Ok(format!(
        "property held for 200 seeds: {succeeded} succeeded, the rest had every attempt reset; \
         worst case {worst:?} of virtual time (deadline {deadline:?}), {:?} of wall time",
        wall.elapsed()
    ))
}
