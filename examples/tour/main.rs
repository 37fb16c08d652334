//! A tour of wiretape, runnable offline: `cargo run --example tour`.
//!
//! Each scene is one user story and prints what happens. Everything runs
//! in-process or on 127.0.0.1: the tour needs no network.

mod cassette;
mod core;
mod faults;
mod retry;
mod routing;
mod websocket;

use std::future::Future;
use std::pin::Pin;

/// One scene of the tour.
type Scene = Pin<Box<dyn Future<Output = wiretape::Result<()>>>>;

/// A scene's title and how to start it.
type Entry = (&'static str, fn() -> Scene);

/// Every scene, in order, with its title.
fn scenes() -> Vec<Entry> {
    vec![
        (
            "the client core: a local API through the real engine, then the same calls mocked",
            || Box::pin(core::run()),
        ),
        (
            "routing: declarative routes, verification, and a near miss explained",
            || Box::pin(routing::run()),
        ),
        (
            "retries with backoff, and a timeout under a deadline",
            || Box::pin(retry::run()),
        ),
        (
            "cassettes: record a local API through the real engine, stop it, replay offline",
            || Box::pin(cassette::run()),
        ),
        (
            "WebSocket tapes: record a chat, replay it offline, mock it with a route",
            || Box::pin(websocket::run()),
        ),
        (
            "fault injection: a flaky API, a retry policy, and a property that holds",
            || Box::pin(faults::run()),
        ),
    ]
}

/// Runs every scene; true when all succeeded.
async fn run_all() -> bool {
    let mut failed = false;
    for (index, (title, scene)) in scenes().iter().enumerate() {
        println!("\n=== scene {}: {title}\n", index + 1);
        if let Err(err) = scene().await {
            eprintln!("scene failed: {err}");
            failed = true;
        }
    }
    !failed
}

#[tokio::main]
async fn main() {
    if !run_all().await {
        std::process::exit(1);
    }
    println!("\nThe tour is over.");
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs the whole tour, so a broken scene fails the build.
    #[tokio::test]
    async fn the_tour_runs() {
        assert!(
            super::run_all().await,
            "a scene of the tour failed; run `cargo run --example tour` to see it"
        );
    }
}
