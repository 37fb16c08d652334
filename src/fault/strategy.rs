//! Strategies for property tests (the `proptest` feature): faults, runs of
//! transient faults, bounded latencies and plans. They shrink towards the
//! smallest failing plan: fewer steps, and earlier alternatives (a plain
//! reset, no latency, [`Fault::Ok`]) in place of later ones.
//!
//! ```
//! use proptest::prelude::*;
//! use wiretape::fault::strategy;
//!
//! proptest!(|(faults in strategy::transient(3))| {
//!     prop_assert!(faults.len() <= 3 && faults.iter().all(|f| f.is_transient()));
//! });
//! ```

use std::time::Duration;

use proptest::prelude::*;

use super::plan::FaultPlan;
use super::vocab::{Delay, Fault};

/// One fault that fails the exchange before a usable response and that a
/// retry may cure ([`Fault::is_transient`]): a reset, an empty reply, a
/// refused connection, a `500`/`502`/`503`, a `429` or `503` with a short
/// `Retry-After`.
pub fn transient_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Reset),
        Just(Fault::EmptyReply),
        Just(Fault::Refused),
        prop_oneof![Just(500u16), Just(502), Just(503)].prop_map(Fault::status),
        (prop_oneof![Just(429u16), Just(503)], 0u64..=5)
            .prop_map(|(code, secs)| Fault::retry_after(code, Duration::from_secs(secs))),
    ]
}

/// A run of at most `max_in_a_row` transient faults (possibly none): what a
/// flaky dependency does before it answers.
pub fn transient(max_in_a_row: usize) -> impl Strategy<Value = Vec<Fault>> {
    proptest::collection::vec(transient_fault(), 0..=max_in_a_row)
}

/// A delay within `max`: fixed and uniform draws never exceed it; a
/// log-normal's median and an exponential's mean are at most `max` (their
/// tails are unbounded up to [`MAX_DELAY`](super::MAX_DELAY)).
pub fn delay(max: Duration) -> impl Strategy<Value = Delay> {
    prop_oneof![
        bounded_delay(max),
        (at_most(max), 0.0f64..=1.5).prop_map(|(median, sigma)| Delay::log_normal(median, sigma)),
        at_most(max).prop_map(Delay::exponential),
    ]
}

/// A delay whose every draw is within `max` (fixed or uniform only), for
/// properties about deadlines.
pub fn bounded_delay(max: Duration) -> impl Strategy<Value = Delay> {
    prop_oneof![
        at_most(max).prop_map(Delay::Fixed),
        (at_most(max), at_most(max)).prop_map(|(a, b)| Delay::uniform(a.min(b), a.max(b))),
    ]
}

/// A whole number of milliseconds from zero to `max`.
fn at_most(max: Duration) -> impl Strategy<Value = Duration> {
    let ms = max.as_millis().min(u64::MAX as u128) as u64;
    (0..=ms).prop_map(Duration::from_millis)
}

/// A latency before the head, within `max` on every draw.
pub fn latency(max: Duration) -> impl Strategy<Value = Fault> {
    bounded_delay(max).prop_map(Fault::Latency)
}

/// Any fault an HTTP exchange can meet in-process except a hang: the
/// transient ones, latencies within `max_delay`, and body faults.
pub fn http_fault(max_delay: Duration) -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Ok),
        transient_fault(),
        latency(max_delay),
        (0u64..64).prop_map(Fault::ResetAfter),
        Just(Fault::MalformedChunk),
        Just(Fault::Garbage),
        (1u64..64).prop_map(Fault::Truncated),
    ]
}

/// A plan: a sequence of at most `max_steps` steps drawn from `step`, with a
/// seed of its own. Each value is a fresh plan (fresh counters and journal),
/// so a shrunk case replays from its first call.
pub fn plan<S>(step: S, max_steps: usize) -> impl Strategy<Value = FaultPlan>
where
    S: Strategy<Value = Fault>,
{
    (proptest::collection::vec(step, 0..=max_steps), any::<u64>())
        .prop_map(|(steps, seed)| FaultPlan::sequence(steps).with_seed(seed))
}
