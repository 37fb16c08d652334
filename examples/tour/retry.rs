//! Scene: retries and timeouts. A flaky in-process API answers 503 twice
//! before it succeeds; Retry backs off exponentially and says so; a slow
//! endpoint runs into the per-attempt timeout and then the overall deadline.

use std::time::Duration;

use tokio::time::Instant;
use wiretape::mock::{MockEngine, respond_error, respond_ok};
use wiretape::plugins::{Backoff, Retry, RetryAction, RetryEvent, Timeouts};
use wiretape::{Client, Request, StatusCode};

/// Runs the scene, printing what happens.
pub async fn run() -> wiretape::Result<()> {
    let flaky = MockEngine::queue()
        .then(|_| async { Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)) })
        .then(|_| async { Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)) })
        .then(|_| async { Ok(respond_ok("inventory: 42 widgets")) })
        .build();
    let slow = MockEngine::new(|_request: Request| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(respond_ok("too late"))
    });

    let policy = Retry::new()
        .max_retries(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(2),
        ))
        .on_event(report);
    let client = Client::builder()
        .engine(flaky.clone())
        .retry(policy.clone())
        .build()?;
    let started = Instant::now();
    let response = client.get("http://inventory.test/widgets").send().await?;
    println!(
        "  {} after {} attempts in {:?}: {}",
        response.status(),
        flaky.request_history().len(),
        started.elapsed(),
        response.text().await?
    );

    let client = Client::builder()
        .engine(slow)
        .timeout(Timeouts::new().request(Duration::from_millis(300)))
        .retry(policy.deadline(Duration::from_millis(800)))
        .build()?;
    let started = Instant::now();
    match client.get("http://reports.test/yearly").send().await {
        Ok(response) => println!("  unexpectedly answered {}", response.status()),
        Err(err) => println!(
            "  gave up after {:?} ({}): {err}",
            started.elapsed(),
            err.kind()
        ),
    }
    Ok(())
}

fn report(event: &RetryEvent) {
    match event.action {
        RetryAction::RetryAfter(delay) => println!(
            "  attempt {} of {} failed with {}; retrying in {delay:?}",
            event.attempt, event.request, event.cause
        ),
        RetryAction::GiveUp(reason) => println!(
            "  attempt {} failed with {}; not retrying: {reason}",
            event.attempt, event.cause
        ),
    }
}
