//! Plans: when faults happen, from one seed, with a journal of what hit.
//!
//! A plan is a small rule tree (a sequence, the first n calls, every n-th,
//! a chance, restricted by a matcher, composed with [`FaultPlan::or`])
//! evaluated under one lock, so that the same seed and the same calls give
//! the same faults, in the same order, every run.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::vocab::{Delay, Fault};
use crate::Request;
use crate::mock::lock;
use crate::mock::matchers::Matcher;

/// The environment variable that forces every plan's seed.
pub const SEED_VAR: &str = "WIRETAPE_SEED";

/// How many fault hits a plan's journal keeps (the oldest go first).
const JOURNAL_CAP: usize = 10_000;

/// When faults happen.
///
/// Build one with a constructor, restrict it with [`when`](FaultPlan::when),
/// combine with [`or`](FaultPlan::or). Clones share their counters, random
/// generator and journal. Every plan has a seed: the one you give
/// ([`with_seed`](FaultPlan::with_seed)), else a random one; the environment
/// variable `WIRETAPE_SEED` overrides both, so that a failure reproduces with
/// `WIRETAPE_SEED=<seed> cargo test …`. Every injected error names the seed.
///
/// ```
/// use wiretape::fault::{Fault, FaultPlan};
/// use wiretape::mock::matchers::method;
///
/// // Reset, then 503, then fine; but only POSTs, and 10% of the rest reset.
/// let plan = FaultPlan::sequence([Fault::Reset, Fault::status(503), Fault::Ok])
///     .when(method("POST"))
///     .or(FaultPlan::chance(0.1, Fault::Reset))
///     .with_seed(42);
/// assert_eq!(plan.seed(), std::env::var("WIRETAPE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(42));
/// ```
#[derive(Clone)]
pub struct FaultPlan {
    inner: Arc<Inner>,
}

struct Inner {
    seed: u64,
    state: Mutex<State>,
}

struct State {
    rule: Rule,
    rng: StdRng,
    calls: u64,
    journal: VecDeque<JournalEntry>,
}

#[derive(Clone)]
enum Rule {
    Always(Fault),
    Sequence { steps: Arc<[Fault]>, at: usize },
    First { n: u64, seen: u64, fault: Fault },
    Every { n: u64, seen: u64, fault: Fault },
    Chance { p: f64, fault: Fault },
    When { matcher: Matcher, rule: Box<Rule> },
    Any(Vec<Rule>),
}

/// A fault that fired: which, on which call of the plan, and the seed to
/// reproduce it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The fault, with its delays already drawn ([`Delay::Fixed`]) except
    /// per-chunk and per-frame ones, drawn from `draws`.
    pub fault: Fault,
    /// The plan's call number (1 for the first call the plan saw).
    pub call: u64,
    /// The plan's seed.
    pub seed: u64,
    /// A seed for the draws this hit makes later (per chunk, per frame).
    pub draws: u64,
}

/// One entry of a plan's journal: a fault that hit a request.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// The plan's call number.
    pub call: u64,
    /// The request, as `GET http://host/path`.
    pub request: String,
    /// The fault that hit it.
    pub fault: Fault,
}

/// What a plan did: its seed, how many calls it saw, and which faults hit
/// which requests. Its `Display` is the dump to print when a test fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// The plan's seed.
    pub seed: u64,
    /// How many calls the plan saw.
    pub calls: u64,
    /// The hits, in order.
    pub hits: Vec<JournalEntry>,
}

impl fmt::Display for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fault plan seed {} ({SEED_VAR}={} to reproduce): {} calls, {} faults",
            self.seed,
            self.seed,
            self.calls,
            self.hits.len()
        )?;
        for hit in &self.hits {
            writeln!(
                f,
                "  call {}: {} <- {}",
                hit.call,
                hit.request,
                hit.fault.name()
            )?;
        }
        Ok(())
    }
}

impl FaultPlan {
    fn from_rule(rule: Rule, seed: Option<u64>) -> FaultPlan {
        let seed = forced_seed()
            .or(seed)
            .unwrap_or_else(|| rand::rng().random());
        FaultPlan {
            inner: Arc::new(Inner {
                seed,
                state: Mutex::new(State {
                    rule,
                    rng: StdRng::seed_from_u64(seed),
                    calls: 0,
                    journal: VecDeque::new(),
                }),
            }),
        }
    }

    fn rule(&self) -> Rule {
        lock(&self.inner.state).rule.clone()
    }

    /// A plan that never fires.
    pub fn none() -> FaultPlan {
        FaultPlan::from_rule(Rule::Any(Vec::new()), None)
    }

    /// `fault` on every call.
    pub fn always(fault: impl Into<Fault>) -> FaultPlan {
        FaultPlan::from_rule(Rule::Always(fault.into()), None)
    }

    /// One step per call, in order ([`Fault::Ok`] lets a call through); after
    /// the last step, no more faults.
    pub fn sequence(steps: impl IntoIterator<Item = Fault>) -> FaultPlan {
        let steps: Arc<[Fault]> = steps.into_iter().collect();
        FaultPlan::from_rule(Rule::Sequence { steps, at: 0 }, None)
    }

    /// `fault` on the first `n` calls.
    pub fn first(n: u64, fault: impl Into<Fault>) -> FaultPlan {
        let fault = fault.into();
        FaultPlan::from_rule(Rule::First { n, seen: 0, fault }, None)
    }

    /// `fault` on every `n`-th call (the n-th, 2n-th, …).
    pub fn every(n: u64, fault: impl Into<Fault>) -> FaultPlan {
        let fault = fault.into();
        FaultPlan::from_rule(
            Rule::Every {
                n: n.max(1),
                seen: 0,
                fault,
            },
            None,
        )
    }

    /// `fault` with probability `p` (clamped to 0..=1) on each call, drawn
    /// from the plan's seed.
    pub fn chance(p: f64, fault: impl Into<Fault>) -> FaultPlan {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        FaultPlan::from_rule(
            Rule::Chance {
                p,
                fault: fault.into(),
            },
            None,
        )
    }

    /// The same plan, seeing only the requests `matcher` passes (the
    /// router's matchers: `path("/pay")`, `method("POST")`, …); other
    /// requests are neither faulted nor counted.
    pub fn when(self, matcher: impl Into<Matcher>) -> FaultPlan {
        let seed = self.inner.seed;
        let rule = Rule::When {
            matcher: matcher.into(),
            rule: Box::new(self.rule()),
        };
        FaultPlan::from_rule(rule, Some(seed))
    }

    /// Both plans see every call; the first that fires wins.
    pub fn or(self, other: FaultPlan) -> FaultPlan {
        let seed = self.inner.seed;
        let rules = match (self.rule(), other.rule()) {
            (Rule::Any(mut mine), Rule::Any(theirs)) => {
                mine.extend(theirs);
                mine
            }
            (Rule::Any(mut mine), theirs) => {
                mine.push(theirs);
                mine
            }
            (mine, theirs) => vec![mine, theirs],
        };
        FaultPlan::from_rule(Rule::Any(rules), Some(seed))
    }

    /// The same plan with this seed (unless `WIRETAPE_SEED` forces another),
    /// its counters and journal fresh.
    pub fn with_seed(self, seed: u64) -> FaultPlan {
        FaultPlan::from_rule(self.rule(), Some(seed))
    }

    /// The seed the plan's draws come from.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// What the plan did so far.
    pub fn journal(&self) -> Journal {
        let state = lock(&self.inner.state);
        Journal {
            seed: self.inner.seed,
            calls: state.calls,
            hits: state.journal.iter().cloned().collect(),
        }
    }

    /// Why this plan cannot act, if it cannot: the first fault or matcher
    /// problem found.
    pub fn problem(&self) -> Option<String> {
        lock(&self.inner.state).rule.problem()
    }

    /// Puts the plan (and every clone) back where it started: no calls
    /// seen, sequences at their first step, the random generator at its
    /// seed, the journal empty. [`Router::reset`](crate::mock::Router::reset)
    /// rewinds the router's plan, so a test that resets between cases gets
    /// the same schedule each time.
    ///
    /// ```
    /// use wiretape::fault::{Fault, FaultPlan};
    /// use wiretape::{Method, Request};
    ///
    /// let plan = FaultPlan::first(1, Fault::Reset);
    /// let request = Request::new(Method::GET, "http://api.test/".parse().unwrap());
    /// assert!(plan.decide(&request).is_some());
    /// assert!(plan.decide(&request).is_none());
    /// plan.rewind();
    /// assert!(plan.decide(&request).is_some());
    /// assert_eq!(plan.journal().calls, 1);
    /// ```
    pub fn rewind(&self) {
        let mut state = lock(&self.inner.state);
        state.rule.rewind();
        state.rng = StdRng::seed_from_u64(self.inner.seed);
        state.calls = 0;
        state.journal.clear();
    }

    /// Counts one call and says which fault, if any, hits it. No allocation
    /// unless a fault fires.
    pub fn decide(&self, request: &Request) -> Option<Hit> {
        let mut state = lock(&self.inner.state);
        state.calls += 1;
        let State { rule, rng, .. } = &mut *state;
        let fault = rule.decide(request, rng)?;
        if fault == Fault::Ok {
            return None;
        }
        let fault = draw(fault, rng);
        let draws = rng.random();
        let call = state.calls;
        if state.journal.len() >= JOURNAL_CAP {
            state.journal.pop_front();
        }
        state.journal.push_back(JournalEntry {
            call,
            request: request.to_string(),
            fault: fault.clone(),
        });
        Some(Hit {
            fault,
            call,
            seed: self.inner.seed,
            draws,
        })
    }
}

impl From<Fault> for FaultPlan {
    /// A fault alone is a plan that always fires it.
    fn from(fault: Fault) -> FaultPlan {
        FaultPlan::always(fault)
    }
}

impl fmt::Debug for FaultPlan {
    /// The rules, seed and counts: what a failing property test prints as
    /// its smallest failing plan.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("FaultPlan")
            .field("rule", &state.rule)
            .field("seed", &self.inner.seed)
            .field("calls", &state.calls)
            .field("hits", &state.journal.len())
            .finish()
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |faults: &[Fault]| {
            faults
                .iter()
                .map(Fault::name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Rule::Always(fault) => write!(f, "always {}", fault.name()),
            Rule::Sequence { steps, .. } => write!(f, "sequence [{}]", names(steps)),
            Rule::First { n, fault, .. } => write!(f, "first {n}: {}", fault.name()),
            Rule::Every { n, fault, .. } => write!(f, "every {n}th: {}", fault.name()),
            Rule::Chance { p, fault } => write!(f, "chance {p}: {}", fault.name()),
            Rule::When { matcher, rule } => write!(f, "when {}: {rule:?}", matcher.describe()),
            Rule::Any(rules) => f.debug_list().entries(rules).finish(),
        }
    }
}

/// The seed `WIRETAPE_SEED` forces, if set to a number.
pub fn forced_seed() -> Option<u64> {
    std::env::var(SEED_VAR).ok()?.trim().parse().ok()
}

/// Draws the head delays now, so the journal shows what was acted.
fn draw(fault: Fault, rng: &mut StdRng) -> Fault {
    match fault {
        Fault::Latency(d) => Fault::Latency(Delay::Fixed(d.sample(rng))),
        Fault::ConnectDelay(d) => Fault::ConnectDelay(Delay::Fixed(d.sample(rng))),
        other => other,
    }
}

impl Rule {
    fn rewind(&mut self) {
        match self {
            Rule::Sequence { at, .. } => *at = 0,
            Rule::First { seen, .. } | Rule::Every { seen, .. } => *seen = 0,
            Rule::When { rule, .. } => rule.rewind(),
            Rule::Any(rules) => rules.iter_mut().for_each(Rule::rewind),
            Rule::Always(_) | Rule::Chance { .. } => {}
        }
    }

    fn decide(&mut self, request: &Request, rng: &mut StdRng) -> Option<Fault> {
        match self {
            Rule::Always(fault) => Some(fault.clone()),
            Rule::Sequence { steps, at } => {
                let step = steps.get(*at).cloned();
                *at = (*at + 1).min(steps.len());
                step
            }
            Rule::First { n, seen, fault } => {
                *seen = seen.saturating_add(1);
                (*seen <= *n).then(|| fault.clone())
            }
            Rule::Every { n, seen, fault } => {
                *seen = seen.saturating_add(1);
                (*seen % *n == 0).then(|| fault.clone())
            }
            Rule::Chance { p, fault } => (rng.random::<f64>() < *p).then(|| fault.clone()),
            Rule::When { matcher, rule } => {
                if matcher.matches(request) {
                    rule.decide(request, rng)
                } else {
                    None
                }
            }
            Rule::Any(rules) => {
                let mut fired = None;
                for rule in rules {
                    let fault = rule.decide(request, rng);
                    if fired.is_none() {
                        fired = fault.filter(|f| *f != Fault::Ok);
                    }
                }
                fired
            }
        }
    }

    fn problem(&self) -> Option<String> {
        match self {
            Rule::Always(f) | Rule::First { fault: f, .. } | Rule::Every { fault: f, .. } => {
                f.problem()
            }
            Rule::Chance { fault, .. } => fault.problem(),
            Rule::Sequence { steps, .. } => steps.iter().find_map(Fault::problem),
            Rule::When { matcher, rule } => matcher
                .problem()
                .map(str::to_owned)
                .or_else(|| rule.problem()),
            Rule::Any(rules) => rules.iter().find_map(Rule::problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FaultPlan, JOURNAL_CAP};
    use crate::fault::Fault;
    use crate::{Method, Request};

    #[test]
    fn the_journal_keeps_the_newest_hits_and_counts_every_call() {
        let plan = FaultPlan::always(Fault::Reset).with_seed(7);
        let request = Request::new(Method::GET, "http://api.test/".parse().unwrap());
        for _ in 0..JOURNAL_CAP + 5 {
            assert!(plan.decide(&request).is_some());
        }
        let journal = plan.journal();
        assert_eq!(journal.calls, (JOURNAL_CAP + 5) as u64);
        assert_eq!(journal.hits.len(), JOURNAL_CAP);
        assert_eq!(journal.hits.first().map(|hit| hit.call), Some(6));
        assert_eq!(
            journal.hits.last().map(|hit| hit.call),
            Some((JOURNAL_CAP + 5) as u64)
        );
    }
}
