//! Running one case: a number of requests, one at a time or from 32 tasks
//! sharing one client, and what came of them (requests per second, bytes per
//! second, the median latency); and the statistics over rounds.

use std::future::Future;
use std::time::{Duration, Instant};

/// How many tasks share one client in the concurrent cases.
pub const TASKS: usize = 32;

/// One round of one peer on one case.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub per_second: f64,
    pub bytes_per_second: f64,
    pub p50: Duration,
}

/// Sends `count` requests with `send` (which answers the body's length),
/// sequentially or from [`TASKS`] tasks, and times them.
///
/// `send` checks the answer itself (status, body), so a peer that answers
/// wrongly fails the run instead of looking fast.
pub async fn run<F, Fut>(count: usize, concurrent: bool, send: F) -> Sample
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = usize> + Send,
{
    let tasks = if concurrent { TASKS } else { 1 };
    let per_task = count.div_ceil(tasks);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_task);
                let mut bytes = 0;
                for _ in 0..per_task {
                    let sent = Instant::now();
                    bytes += send().await;
                    latencies.push(sent.elapsed());
                }
                (latencies, bytes)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(per_task * tasks);
    let mut bytes = 0;
    for handle in handles {
        let (some, more) = handle.await.expect("a request task panicked");
        latencies.extend(some);
        bytes += more;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Sample {
        per_second: latencies.len() as f64 / elapsed,
        bytes_per_second: bytes as f64 / elapsed,
        p50: latencies[latencies.len() / 2],
    }
}

/// The rounds of one peer on one case.
#[derive(Debug, Default, Clone)]
pub struct Rounds(Vec<Sample>);

impl Rounds {
    pub fn push(&mut self, sample: Sample) {
        self.0.push(sample);
    }

    /// The least disturbed round: the highest rate (the machine is shared,
    /// and load only ever slows a round down).
    pub fn best(&self) -> Sample {
        *self
            .0
            .iter()
            .max_by(|a, b| a.per_second.total_cmp(&b.per_second))
            .expect("at least one round")
    }

    /// The round with the median rate.
    pub fn median(&self) -> Sample {
        let mut sorted = self.0.clone();
        sorted.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        sorted[sorted.len() / 2]
    }
}

/// Which round of each peer a table shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    Best,
    Median,
}

impl Pick {
    pub fn of(self, rounds: &Rounds) -> Sample {
        match self {
            Pick::Best => rounds.best(),
            Pick::Median => rounds.median(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Pick::Best => "best round",
            Pick::Median => "median round",
        }
    }
}
