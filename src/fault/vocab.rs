//! The fault vocabulary: what can go wrong with one call.
//!
//! One type, [`Fault`], serves plans, routes, [`Faulty`](super::Faulty) and
//! the socket server, so that a fault means the same thing in-process and on
//! the wire. Delays are [`Delay`]s, drawn from the plan's seeded generator.
//! In YAML every duration is in milliseconds (`_ms`), as in route files.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// One thing that can go wrong with a call (or [`Fault::Ok`]: nothing).
///
/// YAML spells a fault as a word (`reset`, `empty_reply`, `hang`), a status
/// code (`503`), or a one-key map (`{latency: {fixed_ms: 200}}`,
/// `{reset_after: 1024}`, `{status: {code: 429, retry_after: {seconds: 2}}}`).
///
/// ```
/// use std::time::Duration;
/// use wiretape::fault::{Delay, Fault};
///
/// let slow = Fault::Latency(Delay::log_normal(Duration::from_millis(80), 0.5));
/// let busy = Fault::retry_after(503, Duration::from_secs(2));
/// assert!(Fault::Reset.is_transient() && busy.is_transient() && !slow.is_transient());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fault {
    /// No fault: the call goes through (a step in a sequence).
    Ok,
    /// Waits before the response head.
    Latency(#[serde(deserialize_with = "one_key")] Delay),
    /// Waits before each body chunk after the first.
    ChunkLatency(#[serde(deserialize_with = "one_key")] Delay),
    /// Never answers; only a client timeout ends the call.
    Hang,
    /// The connection is refused.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// Connecting takes this long (a connect timeout shorter than it fires).
    ConnectDelay(#[serde(deserialize_with = "one_key")] Delay),
    /// The connection is reset before the response.
    Reset,
    /// The connection is reset after this many bytes of the body.
    ResetAfter(u64),
    /// The connection is closed without a byte of reply.
    EmptyReply,
    /// The response head is sent, then a chunk whose size line is not hex.
    MalformedChunk,
    /// Random bytes (not HTTP), then the connection closes.
    Garbage,
    /// `Content-Length` claims this many bytes more than are sent.
    Truncated(u64),
    /// A status answer (`503`, `429`) instead of the real one, optionally
    /// with `Retry-After`.
    Status {
        /// The status code.
        code: u16,
        /// The `Retry-After` header to send.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "one_key_option"
        )]
        retry_after: Option<RetryAfter>,
    },
    /// The body arrives in `chunks` pieces spread evenly over `over`
    /// (WireMock's chunked dribble).
    Dribble {
        /// How many pieces.
        chunks: u32,
        /// The total time the body takes.
        #[serde(rename = "over_ms", with = "millis")]
        over: Duration,
    },
    /// The body arrives at this many bytes per second.
    Bandwidth(u64),
    /// A WebSocket drops (1006, no close frame) after this many frames from
    /// the server.
    WsDrop(u32),
    /// A WebSocket is closed by the server with this code after `after`
    /// frames.
    WsClose {
        /// The close code.
        code: u16,
        /// Frames let through first.
        #[serde(default)]
        after: u32,
    },
    /// Each frame from the server waits this long.
    WsDelay(#[serde(deserialize_with = "one_key")] Delay),
    /// Every n-th frame from the server is lost.
    WsDropFrames(u32),
    /// The WebSocket handshake is refused (`403` instead of `101`).
    WsRefuse,
}

/// A `Retry-After` value: seconds, or an HTTP date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RetryAfter {
    /// `Retry-After: 2`.
    Seconds(u64),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (checked when the plan is
    /// built).
    Date(String),
}

/// A duration, fixed or drawn from a distribution with the plan's seed.
/// Draws are capped at one day, so no distribution can overflow a timer.
///
/// ```
/// use std::time::Duration;
/// use wiretape::fault::Delay;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let d = Delay::uniform(Duration::from_millis(10), Duration::from_millis(20)).sample(&mut rng);
/// assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Delay {
    /// Always this long.
    #[serde(rename = "fixed_ms", with = "millis")]
    Fixed(Duration),
    /// Evenly between `min` and `max`.
    Uniform {
        /// The shortest.
        #[serde(rename = "min_ms", with = "millis")]
        min: Duration,
        /// The longest.
        #[serde(rename = "max_ms", with = "millis")]
        max: Duration,
    },
    /// Log-normal: half the draws below `median`; `sigma` is the spread of
    /// the logarithm (0.5 is a typical network tail).
    LogNormal {
        /// The median.
        #[serde(rename = "median_ms", with = "millis")]
        median: Duration,
        /// The standard deviation of `ln(delay)`.
        sigma: f64,
    },
    /// Exponential with this mean (memoryless arrivals).
    Exponential {
        /// The mean.
        #[serde(rename = "mean_ms", with = "millis")]
        mean: Duration,
    },
}

/// The longest delay a distribution can draw.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

impl Delay {
    /// Evenly between `min` and `max`.
    pub fn uniform(min: Duration, max: Duration) -> Delay {
        Delay::Uniform { min, max }
    }

    /// Log-normal around `median`.
    pub fn log_normal(median: Duration, sigma: f64) -> Delay {
        Delay::LogNormal { median, sigma }
    }

    /// Exponential with this mean.
    pub fn exponential(mean: Duration) -> Delay {
        Delay::Exponential { mean }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        let seconds = match *self {
            Delay::Fixed(d) => return d.min(MAX_DELAY),
            Delay::Uniform { min, max } => {
                let (lo, hi) = (min.min(max), min.max(max));
                return lo + (hi - lo).mul_f64(rng.random::<f64>());
            }
            Delay::LogNormal { median, sigma } => {
                // Box-Muller: one standard normal from two uniforms.
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random::<f64>();
                let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                median.as_secs_f64() * (sigma.abs() * normal).exp()
            }
            Delay::Exponential { mean } => {
                let u: f64 = 1.0 - rng.random::<f64>();
                -mean.as_secs_f64() * u.ln()
            }
        };
        if seconds.is_finite() && seconds > 0.0 {
            Duration::from_secs_f64(seconds.min(MAX_DELAY.as_secs_f64()))
        } else {
            Duration::ZERO
        }
    }

    /// Why this delay is not usable, if it is not.
    fn problem(&self) -> Option<String> {
        match *self {
            Delay::LogNormal { sigma, .. } if !sigma.is_finite() => {
                Some(format!("log-normal sigma {sigma} is not a finite number"))
            }
            _ => None,
        }
    }
}

impl From<Duration> for Delay {
    fn from(delay: Duration) -> Delay {
        Delay::Fixed(delay)
    }
}

impl Fault {
    /// A fixed latency before the head.
    pub fn latency(delay: impl Into<Delay>) -> Fault {
        Fault::Latency(delay.into())
    }

    /// A status answer.
    pub fn status(code: u16) -> Fault {
        Fault::Status {
            code,
            retry_after: None,
        }
    }

    /// A status answer with `Retry-After` in whole seconds.
    pub fn retry_after(code: u16, after: Duration) -> Fault {
        Fault::Status {
            code,
            retry_after: Some(RetryAfter::Seconds(after.as_secs())),
        }
    }

    /// Whether this fault fails the exchange before a usable response, in a
    /// way a retry may cure: connection failures, resets before the
    /// response, empty replies, `408`, `429` and `5xx` statuses. (A body cut
    /// short after its head is not: the caller has the response already.)
    pub fn is_transient(&self) -> bool {
        match self {
            Fault::Refused | Fault::Dns | Fault::Reset | Fault::EmptyReply => true,
            Fault::Status { code, .. } => matches!(code, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// Whether this fault acts on a WebSocket connection (and passes an
    /// HTTP exchange through untouched).
    pub fn is_websocket(&self) -> bool {
        matches!(
            self,
            Fault::WsDrop(_)
                | Fault::WsClose { .. }
                | Fault::WsDelay(_)
                | Fault::WsDropFrames(_)
                | Fault::WsRefuse
        )
    }

    /// Why this fault cannot act, if it cannot (a bad status code, a
    /// malformed date, zero chunks).
    pub fn problem(&self) -> Option<String> {
        match self {
            Fault::Latency(d)
            | Fault::ChunkLatency(d)
            | Fault::ConnectDelay(d)
            | Fault::WsDelay(d) => d.problem(),
            Fault::Status { code, retry_after } => {
                if http::StatusCode::from_u16(*code).is_err() || *code < 200 {
                    return Some(format!(
                        "status {code} is not a final HTTP status (200-999)"
                    ));
                }
                match retry_after {
                    Some(RetryAfter::Date(date)) if httpdate::parse_http_date(date).is_err() => {
                        Some(format!("retry_after date {date:?} is not an HTTP date"))
                    }
                    _ => None,
                }
            }
            Fault::Dribble { chunks: 0, .. } => Some("dribble needs at least one chunk".to_owned()),
            Fault::Bandwidth(0) => Some("bandwidth must be at least 1 byte per second".to_owned()),
            Fault::WsDropFrames(0) => Some("ws_drop_frames needs n >= 1".to_owned()),
            _ => None,
        }
    }

    /// A short name for journals and messages: `reset`, `status 503`.
    pub fn name(&self) -> String {
        match self {
            Fault::Status { code, .. } => format!("status {code}"),
            Fault::ResetAfter(n) => format!("reset after {n} bytes"),
            Fault::Truncated(n) => format!("truncated by {n} bytes"),
            other => {
                let debug = format!("{other:?}");
                let word = debug.split(['(', ' ', '{']).next().unwrap_or("fault");
                snake(word)
            }
        }
    }
}

fn snake(word: &str) -> String {
    let mut out = String::new();
    for (at, c) in word.chars().enumerate() {
        if c.is_uppercase() {
            if at > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl From<u16> for Fault {
    /// A status code is a status fault.
    fn from(code: u16) -> Fault {
        Fault::status(code)
    }
}

/// Reads a fault as YAML writes it: a status code number as well as the
/// derived forms (used by plan and route files).
pub(crate) struct FaultSpec(pub(crate) Fault);

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(OneKey::<Fault>(std::marker::PhantomData, true))
            .map(FaultSpec)
    }
}

/// Reads an externally tagged enum from a word or a one-key map through
/// serde's own deserializers: the YAML crate wants `!tags` for enums nested
/// in other values, and route files write `{variant: value}` maps. With
/// `codes`, a number (or numeric word) is a status fault.
struct OneKey<T>(std::marker::PhantomData<T>, bool);

impl<'de, T: Deserialize<'de> + From<u16>> serde::de::Visitor<'de> for OneKey<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a word such as reset, a status code, or a one-key map such as {fixed_ms: 200}")
    }

    fn visit_u64<E: serde::de::Error>(self, code: u64) -> Result<T, E> {
        match u16::try_from(code) {
            Ok(code) if self.1 => Ok(T::from(code)),
            _ => Err(E::custom(format!(
                "{code} is not an HTTP status or a fault"
            ))),
        }
    }

    fn visit_i64<E: serde::de::Error>(self, code: i64) -> Result<T, E> {
        Err(E::custom(format!(
            "{code} is not an HTTP status or a fault"
        )))
    }

    fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<T, E> {
        use serde::de::IntoDeserializer;
        if let (true, Ok(code)) = (self.1, word.parse::<u64>()) {
            return self.visit_u64(code);
        }
        T::deserialize(word.into_deserializer())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
    }
}

/// The `From<u16>` `OneKey` asks for, never used without `codes`.
impl From<u16> for Delay {
    fn from(ms: u16) -> Delay {
        Delay::Fixed(Duration::from_millis(ms.into()))
    }
}

impl From<u16> for RetryAfter {
    fn from(seconds: u16) -> RetryAfter {
        RetryAfter::Seconds(seconds.into())
    }
}

fn one_key<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + From<u16>,
{
    deserializer.deserialize_any(OneKey::<T>(std::marker::PhantomData, false))
}

fn one_key_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + From<u16>,
{
    one_key(deserializer).map(Some)
}

/// Durations as whole milliseconds, as route files write them.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
