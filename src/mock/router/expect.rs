//! Expectations on how often a route is called, and the verification report.

use std::fmt;

/// How many calls a route expects: exactly, at least, at most, or between.
///
/// ```
/// use wiretape::mock::Times;
///
/// assert!(Times::exactly(2).allows(2) && !Times::exactly(2).allows(3));
/// assert_eq!(Times::at_least(1).to_string(), "at least 1 call");
/// assert_eq!(Times::between(1, 3).to_string(), "between 1 and 3 calls");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    min: usize,
    max: Option<usize>,
}

impl Times {
    /// Exactly `n` calls.
    pub const fn exactly(n: usize) -> Times {
        Times {
            min: n,
            max: Some(n),
        }
    }

    /// `n` calls or more.
    pub const fn at_least(n: usize) -> Times {
        Times { min: n, max: None }
    }

    /// `n` calls or fewer.
    pub const fn at_most(n: usize) -> Times {
        Times {
            min: 0,
            max: Some(n),
        }
    }

    /// From `min` to `max` calls, both included (swapped if given backwards).
    pub const fn between(min: usize, max: usize) -> Times {
        if min <= max {
            Times {
                min,
                max: Some(max),
            }
        } else {
            Times {
                min: max,
                max: Some(min),
            }
        }
    }

    /// Any number of calls: no expectation.
    pub const fn any() -> Times {
        Times { min: 0, max: None }
    }

    /// Whether `calls` calls meet the expectation.
    pub fn allows(&self, calls: usize) -> bool {
        calls >= self.min && self.max.is_none_or(|max| calls <= max)
    }

    /// Whether this expects anything at all.
    pub fn is_any(&self) -> bool {
        self.min == 0 && self.max.is_none()
    }
}

fn calls(n: usize) -> String {
    if n == 1 {
        "1 call".to_owned()
    } else {
        format!("{n} calls")
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (0, None) => f.write_str("any number of calls"),
            (0, Some(0)) => f.write_str("no calls"),
            (min, Some(max)) if min == max => write!(f, "exactly {}", calls(min)),
            (0, Some(max)) => write!(f, "at most {}", calls(max)),
            (min, None) => write!(f, "at least {}", calls(min)),
            (min, Some(max)) => write!(f, "between {min} and {}", calls(max)),
        }
    }
}

/// A route whose expectation was not met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// The route, by name or description.
    pub route: String,
    /// What it expected.
    pub expected: Times,
    /// How many requests it answered.
    pub calls: usize,
    /// The requests it answered, as `METHOD URL`.
    pub requests: Vec<String>,
}

/// The result of [`Router::verify`](super::Router::verify): every route
/// whose call count is off, every route that could not be built, and the
/// requests that no route answered (the usual reason a count is short).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Routes whose expectations were not met.
    pub unmet: Vec<Unmet>,
    /// Routes that could not be built (bad regex, method, status…).
    pub broken: Vec<String>,
    /// Requests that no route answered, as `METHOD URL`.
    pub unmatched: Vec<String>,
    /// Messages a WebSocket route expected a connection to receive that it
    /// did not.
    pub missing_messages: Vec<String>,
}

impl Verification {
    /// Whether every expectation was met and every route was valid.
    /// (Unmatched requests alone do not fail verification: they already
    /// failed when they were sent.)
    pub fn is_ok(&self) -> bool {
        self.unmet.is_empty() && self.broken.is_empty() && self.missing_messages.is_empty()
    }

    /// Panics with the report unless [`is_ok`](Verification::is_ok).
    #[track_caller]
    pub fn assert(&self) {
        if !self.is_ok() {
            panic!("{self}");
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return f.write_str("every route expectation was met");
        }
        let problems = self.unmet.len() + self.broken.len() + self.missing_messages.len();
        write!(f, "router verification failed ({problems} problem(s)):")?;
        for unmet in &self.unmet {
            write!(
                f,
                "\n  - {} expected {}, got {}",
                unmet.route, unmet.expected, unmet.calls
            )?;
            const SHOWN: usize = 5;
            for request in unmet.requests.iter().take(SHOWN) {
                write!(f, "\n      {request}")?;
            }
            if unmet.requests.len() > SHOWN {
                write!(f, "\n      … and {} more", unmet.requests.len() - SHOWN)?;
            }
        }
        for broken in &self.broken {
            write!(f, "\n  - route could not be built: {broken}")?;
        }
        for missing in &self.missing_messages {
            write!(f, "\n  - {missing}")?;
        }
        if !self.unmatched.is_empty() {
            write!(
                f,
                "\n\n{} request(s) matched no route (a likely cause):",
                self.unmatched.len()
            )?;
            for request in &self.unmatched {
                write!(f, "\n      {request}")?;
            }
        }
        Ok(())
    }
}
