//! Retry: resend failed exchanges with backoff, within limits.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode, header};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::{Link, Next, Plugin, is_idempotent};
use crate::engine::BoxFuture;
use crate::{Error, ErrorKind, Request, Response, Result, TimeoutKind};

type ResponseCheck = Arc<dyn Fn(&Response) -> bool + Send + Sync>;
type ErrorCheck = Arc<dyn Fn(&Error) -> bool + Send + Sync>;
type Modify = Arc<dyn Fn(&mut Request, u32) + Send + Sync>;
type OnEvent = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// A retry policy (Ktor's `HttpRequestRetry`, with its traps removed).
///
/// **What is retried.** Responses with a `5xx` status or `429 Too Many
/// Requests`, and the errors that are usually transient: connection refused
/// or failed, connection reset, request and connect timeouts. Change these
/// with [`retry_on_server_errors`](Retry::retry_on_server_errors),
/// [`retry_on_too_many_requests`](Retry::retry_on_too_many_requests),
/// [`retry_on_errors`](Retry::retry_on_errors), and add your own with
/// [`retry_if_response`](Retry::retry_if_response) and
/// [`retry_if_error`](Retry::retry_if_error).
///
/// **What is never retried by default.** Requests whose method is not
/// idempotent (`POST`, `PATCH`, ...), unless they carry an `Idempotency-Key`
/// header or you opt in with [`retry_non_idempotent`](Retry::retry_non_idempotent).
/// Failures that happened before the request could reach the server
/// (connection refused, DNS, connect timeout) are safe for every method and
/// are retried. A request whose body is a stream cannot be sent twice: when
/// it would be retried, the call fails with an
/// [`Error::InvalidInput`](crate::Error::InvalidInput) that names the request
/// and what went wrong on the attempt.
///
/// **When.** Retry `n` (counting from 1) waits the [`Backoff`]'s delay for
/// `n`, reduced by a random fraction up to [`jitter`](Retry::jitter) drawn
/// from a seedable RNG ([`seed`](Retry::seed): the same seed gives the same
/// delays every run). A `Retry-After` header (seconds, or an HTTP date read
/// against the response's `Date`) replaces the backoff, capped by
/// [`retry_after_cap`](Retry::retry_after_cap). Defaults: 3 retries,
/// exponential backoff from 1 s doubling up to 30 s, no jitter, `Retry-After`
/// honoured up to 60 s.
///
/// **How long in all.** [`deadline`](Retry::deadline) bounds the whole call,
/// attempts and delays: an attempt still running when it passes fails with a
/// request timeout, and a retry whose delay would end after it is not made.
/// The per-attempt limit is [`Timeouts::request`](crate::plugins::Timeouts::request).
///
/// **Watching.** Every decision is an event for [`on_event`](Retry::on_event)
/// and a `tracing` event (target `wiretape::retry`).
///
/// Install for the client with [`ClientBuilder::retry`](crate::ClientBuilder::retry);
/// a request can bring its own policy with
/// [`RequestBuilder::retry`](crate::RequestBuilder::retry).
///
/// ```
/// use std::time::Duration;
/// use wiretape::{mock::{MockEngine, respond_error, respond_ok}, plugins::{Backoff, Retry}, Client, StatusCode};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let engine = MockEngine::queue()
///     .then(|_| async { Ok(respond_error(StatusCode::SERVICE_UNAVAILABLE)) })
///     .then(|_| async { Ok(respond_error(StatusCode::BAD_GATEWAY)) })
///     .then(|_| async { Ok(respond_ok("done")) })
///     .build();
/// let client = Client::builder()
///     .engine(engine.clone())
///     .retry(
///         Retry::new()
///             .max_retries(3)
///             .backoff(Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30)))
///             .modify_request(|request, retry| {
///                 request.headers_mut().insert("x-retry", retry.into());
///             }),
///     )
///     .build()?;
/// let started = tokio::time::Instant::now();
/// let response = client.get("http://flaky.test/").send().await?;
/// assert_eq!(response.text().await?, "done");
/// assert_eq!(started.elapsed(), Duration::from_secs(1 + 2)); // virtual time
/// assert_eq!(engine.request_history()[2].headers()["x-retry"], "2");
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Retry {
    max_retries: u32,
    server_errors: bool,
    too_many_requests: bool,
    error_kinds: Vec<ErrorKind>,
    response_checks: Vec<ResponseCheck>,
    error_checks: Vec<ErrorCheck>,
    backoff: Backoff,
    jitter: f64,
    rng: Arc<Mutex<StdRng>>,
    retry_after: bool,
    retry_after_cap: Duration,
    non_idempotent: bool,
    modify: Option<Modify>,
    deadline: Option<Duration>,
    on_event: Option<OnEvent>,
}

/// How long to wait before retry `n`.
///
/// ```
/// use std::time::Duration;
/// use wiretape::plugins::Backoff;
///
/// let backoff = Backoff::exponential(Duration::from_secs(8), Duration::from_secs(30));
/// let delays: Vec<_> = (1..=3).map(|n| backoff.delay(n)).collect();
/// assert_eq!(delays, [8, 16, 30].map(Duration::from_secs));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay before every retry.
    Constant(Duration),
    /// `base`, then twice as long each time, never more than `cap`.
    Exponential {
        /// The first delay.
        base: Duration,
        /// The longest delay.
        cap: Duration,
    },
}

impl Backoff {
    /// `base`, doubling each retry, at most `cap`.
    pub fn exponential(base: Duration, cap: Duration) -> Backoff {
        Backoff::Exponential { base, cap }
    }

    /// The delay before retry `n` (1 for the first retry), before jitter.
    pub fn delay(&self, n: u32) -> Duration {
        match *self {
            Backoff::Constant(delay) => delay,
            Backoff::Exponential { base, cap } => {
                let factor = 2u32.checked_pow(n.saturating_sub(1)).unwrap_or(u32::MAX);
                base.checked_mul(factor).unwrap_or(cap).min(cap)
            }
        }
    }
}

/// What made an attempt fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCause {
    /// A response with this status.
    Status(StatusCode),
    /// An error of this kind.
    Error(ErrorKind),
}

impl fmt::Display for RetryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryCause::Status(status) => write!(f, "status {status}"),
            RetryCause::Error(kind) => write!(f, "error {kind}"),
        }
    }
}

/// What Retry does about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// It waits this long, then sends the request again.
    RetryAfter(Duration),
    /// It stops and returns the last outcome.
    GiveUp(GiveUpReason),
}

/// Why Retry stopped although the outcome was retryable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// All retries were used.
    MaxRetries,
    /// The next retry would end after the deadline.
    Deadline,
    /// The method is not idempotent and the request has no `Idempotency-Key`.
    NonIdempotent,
    /// The request body is a stream, which can be sent only once.
    StreamedBody,
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GiveUpReason::MaxRetries => "all retries were used",
            GiveUpReason::Deadline => "the next retry would end after the deadline",
            GiveUpReason::NonIdempotent => {
                "the method is not idempotent and the request has no Idempotency-Key"
            }
            GiveUpReason::StreamedBody => "the request body is a stream and cannot be resent",
        })
    }
}

/// One retry decision, for [`Retry::on_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryEvent {
    /// The request, as `METHOD URL`.
    pub request: String,
    /// The attempt that failed, counting from 1.
    pub attempt: u32,
    /// How it failed.
    pub cause: RetryCause,
    /// What happens next.
    pub action: RetryAction,
}

impl Default for Retry {
    fn default() -> Self {
        Retry::new()
    }
}

impl Retry {
    /// The default policy (see above).
    pub fn new() -> Retry {
        Retry {
            max_retries: 3,
            server_errors: true,
            too_many_requests: true,
            error_kinds: vec![
                ErrorKind::ConnectionRefused,
                ErrorKind::Connect,
                ErrorKind::ConnectionReset,
                ErrorKind::RequestTimeout,
                ErrorKind::ConnectTimeout,
            ],
            response_checks: Vec::new(),
            error_checks: Vec::new(),
            backoff: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30)),
            jitter: 0.0,
            rng: Arc::new(Mutex::new(StdRng::from_os_rng())),
            retry_after: true,
            retry_after_cap: Duration::from_secs(60),
            non_idempotent: false,
            modify: None,
            deadline: None,
            on_event: None,
        }
    }

    /// A policy that never retries: for one request that must not be, when
    /// the client retries.
    pub fn disabled() -> Retry {
        Retry::new().max_retries(0)
    }

    /// How many times a request may be resent (default 3).
    pub fn max_retries(mut self, retries: u32) -> Retry {
        self.max_retries = retries;
        self
    }

    /// Whether `5xx` responses are retried (default: yes).
    pub fn retry_on_server_errors(mut self, retry: bool) -> Retry {
        self.server_errors = retry;
        self
    }

    /// Whether `429 Too Many Requests` is retried (default: yes).
    pub fn retry_on_too_many_requests(mut self, retry: bool) -> Retry {
        self.too_many_requests = retry;
        self
    }

    /// The error kinds that are retried, replacing the default list.
    pub fn retry_on_errors(mut self, kinds: &[ErrorKind]) -> Retry {
        self.error_kinds = kinds.to_vec();
        self
    }

    /// Also retries responses for which `check` returns `true`.
    pub fn retry_if_response<F>(mut self, check: F) -> Retry
    where
        F: Fn(&Response) -> bool + Send + Sync + 'static,
    {
        self.response_checks.push(Arc::new(check));
        self
    }

    /// Also retries errors for which `check` returns `true`.
    pub fn retry_if_error<F>(mut self, check: F) -> Retry
    where
        F: Fn(&Error) -> bool + Send + Sync + 'static,
    {
        self.error_checks.push(Arc::new(check));
        self
    }

    /// The delays between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Retry {
        self.backoff = backoff;
        self
    }

    /// Shortens each backoff delay by a random fraction in `[0, fraction)`:
    /// `0.0` (the default) for none, `1.0` for "full jitter". Values outside
    /// `0.0..=1.0` are clamped.
    pub fn jitter(mut self, fraction: f64) -> Retry {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// Seeds the jitter RNG, so that the same seed gives the same delays.
    /// Clones of this policy share the RNG.
    pub fn seed(mut self, seed: u64) -> Retry {
        self.rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        self
    }

    /// Whether a `Retry-After` header replaces the backoff (default: yes).
    pub fn honour_retry_after(mut self, honour: bool) -> Retry {
        self.retry_after = honour;
        self
    }

    /// The longest `Retry-After` wait (default 60 s); longer ones are cut to it.
    pub fn retry_after_cap(mut self, cap: Duration) -> Retry {
        self.retry_after_cap = cap;
        self
    }

    /// Retries non-idempotent methods (`POST`, `PATCH`) too. Without it,
    /// only requests with an `Idempotency-Key` header are.
    pub fn retry_non_idempotent(mut self, retry: bool) -> Retry {
        self.non_idempotent = retry;
        self
    }

    /// Changes each resent request; `modify(request, n)` runs before retry
    /// `n` (counting from 1), on a fresh copy of the original request.
    pub fn modify_request<F>(mut self, modify: F) -> Retry
    where
        F: Fn(&mut Request, u32) + Send + Sync + 'static,
    {
        self.modify = Some(Arc::new(modify));
        self
    }

    /// A limit on the whole call: attempts and the delays between them.
    pub fn deadline(mut self, deadline: Duration) -> Retry {
        self.deadline = Some(deadline);
        self
    }

    /// Calls `hook` with every retry decision.
    pub fn on_event<F>(mut self, hook: F) -> Retry
    where
        F: Fn(&RetryEvent) + Send + Sync + 'static,
    {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// Why the outcome calls for a retry, if it does.
    fn cause(&self, outcome: &Result<Response>) -> Option<RetryCause> {
        match outcome {
            Ok(response) => {
                let status = response.status();
                let retry = (self.server_errors && status.is_server_error())
                    || (self.too_many_requests && status == StatusCode::TOO_MANY_REQUESTS)
                    || self.response_checks.iter().any(|check| check(response));
                retry.then_some(RetryCause::Status(status))
            }
            Err(err) => {
                let retry = self.error_kinds.contains(&err.kind())
                    || self.error_checks.iter().any(|check| check(err));
                retry.then_some(RetryCause::Error(err.kind()))
            }
        }
    }

    /// The wait before retry `n` after `outcome`.
    fn delay(&self, n: u32, outcome: &Result<Response>) -> Duration {
        if self.retry_after
            && let Some(wait) = outcome.as_ref().ok().and_then(retry_after)
        {
            return wait.min(self.retry_after_cap);
        }
        let delay = self.backoff.delay(n);
        if self.jitter == 0.0 {
            return delay;
        }
        let draw: f64 = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .random();
        // `mul_f64` would panic on a delay near `Duration::MAX`.
        Duration::try_from_secs_f64(delay.as_secs_f64() * (1.0 - self.jitter * draw))
            .unwrap_or(delay)
    }

    fn emit(&self, event: RetryEvent) {
        match event.action {
            RetryAction::RetryAfter(delay) => tracing::info!(
                target: "wiretape::retry",
                request = %event.request, attempt = event.attempt, cause = %event.cause, ?delay,
                "retrying"
            ),
            RetryAction::GiveUp(reason) => tracing::info!(
                target: "wiretape::retry",
                request = %event.request, attempt = event.attempt, cause = %event.cause, %reason,
                "not retrying"
            ),
        }
        if let Some(hook) = &self.on_event {
            hook(&event);
        }
    }

    async fn run(&self, request: Request, next: Next<'_>) -> Result<Response> {
        let name = request.to_string();
        // A deadline too far away to represent (`Duration::MAX`) is none.
        let deadline = self
            .deadline
            .and_then(|limit| Some((Instant::now().checked_add(limit)?, limit)));
        let may_resend = is_idempotent(request.method())
            || self.non_idempotent
            || request.headers().contains_key("idempotency-key");
        let method = request.method().clone();
        let original = request.try_clone();
        let mut current = request;
        let mut attempt = 1;
        loop {
            let outcome = match deadline {
                Some((at, limit)) => tokio::time::timeout_at(at, next.run(current))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::timeout(TimeoutKind::Request, &name, Some(limit)))
                    }),
                None => next.run(current).await,
            };
            let Some(cause) = self.cause(&outcome) else {
                return outcome;
            };
            let (action, resend) = self.decide(
                attempt,
                cause,
                &outcome,
                may_resend,
                original.as_ref(),
                deadline,
            );
            self.emit(RetryEvent {
                request: name.clone(),
                attempt,
                cause,
                action,
            });
            let (delay, mut again) = match (action, resend) {
                (RetryAction::RetryAfter(delay), Some(again)) => (delay, again),
                (RetryAction::GiveUp(GiveUpReason::StreamedBody), _) => {
                    return Err(streamed_body_error(&name, &method, outcome));
                }
                _ => return outcome,
            };
            drop(outcome);
            tokio::time::sleep(delay).await;
            if let Some(modify) = &self.modify {
                modify(&mut again, attempt);
            }
            current = again;
            attempt += 1;
        }
    }

    /// Whether to retry after failed attempt `attempt`, and the copy to send.
    fn decide(
        &self,
        attempt: u32,
        cause: RetryCause,
        outcome: &Result<Response>,
        may_resend: bool,
        original: Option<&Request>,
        deadline: Option<(Instant, Duration)>,
    ) -> (RetryAction, Option<Request>) {
        let never_sent = matches!(cause, RetryCause::Error(kind) if kind.is_before_request_sent());
        let give_up = |reason| (RetryAction::GiveUp(reason), None);
        if attempt > self.max_retries {
            return give_up(GiveUpReason::MaxRetries);
        }
        if !(may_resend || never_sent) {
            return give_up(GiveUpReason::NonIdempotent);
        }
        let Some(copy) = original.and_then(Request::try_clone) else {
            return give_up(GiveUpReason::StreamedBody);
        };
        let delay = self.delay(attempt, outcome);
        if let Some((at, _)) = deadline {
            // A delay too long to represent ends after any deadline.
            if Instant::now()
                .checked_add(delay)
                .is_none_or(|end| end >= at)
            {
                return give_up(GiveUpReason::Deadline);
            }
        }
        (RetryAction::RetryAfter(delay), Some(copy))
    }
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("max_retries", &self.max_retries)
            .field("server_errors", &self.server_errors)
            .field("too_many_requests", &self.too_many_requests)
            .field("error_kinds", &self.error_kinds)
            .field("backoff", &self.backoff)
            .field("jitter", &self.jitter)
            .field("retry_after_cap", &self.retry_after_cap)
            .field("non_idempotent", &self.non_idempotent)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds, or an HTTP date
/// read against the response's own `Date` (the server's clock), else ours.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = response
        .headers()
        .get(header::DATE)
        .and_then(|date| httpdate::parse_http_date(date.to_str().ok()?).ok())
        .unwrap_or_else(SystemTime::now);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn streamed_body_error(name: &str, method: &Method, outcome: Result<Response>) -> Error {
    let what = match outcome {
        Ok(response) => format!("status {}", response.status()),
        Err(err) => format!("error: {err}"),
    };
    Error::invalid(format!(
        "{name} failed with {what} and was not retried: its {method} body is a stream, \
         which can be sent only once; give the request a full body (bytes, text, JSON) \
         to let Retry send it again"
    ))
}

struct RetryPlugin(Option<Retry>);

impl Plugin for RetryPlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        let policy = request.extensions().get::<Retry>().cloned();
        if policy.is_none() && self.0.is_none() {
            // The common case costs nothing: no policy, no extra future.
            return next.run(request);
        }
        Box::pin(async move {
            match policy.as_ref().or(self.0.as_ref()) {
                Some(policy) => policy.run(request, next).await,
                None => next.run(request).await,
            }
        })
    }
}

/// Retry's link: idle without a client policy, as `call`'s fast path is
/// for a request without a `Retry` of its own.
pub(super) fn plugin(config: Option<Retry>) -> Link {
    let idle = config.is_none();
    Link::idle_if(Arc::new(RetryPlugin(config)), idle)
}
