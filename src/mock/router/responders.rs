//! Responders: what a route answers with.
//!
//! Every function here returns a [`Responder`], refined with its `with_*`
//! methods. A responder built from bad input (an invalid status or header)
//! never panics: the route reports the problem when it is registered or used.
//!
//! ```
//! use std::time::Duration;
//! use wiretape::mock::responders::*;
//!
//! let created = json(&serde_json::json!({"id": 7}))
//!     .with_status(201)
//!     .with_header("location", "/users/7")
//!     .with_delay(Duration::from_millis(40));
//! let flaky = sequence([status(503), status(503), text("ok")]);
//! # let _ = (created, flaky);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use super::template::PathTemplate;
use crate::engine::BoxFuture;
use crate::error::NoRoute;
use crate::fault::{Call, Fault, FaultPlan, act_http};
use crate::{Body, Error, Request, Response, Result};

/// The path captures of the route that answers, for [`from_fn`] responders:
/// `{id}` in `/users/{id}` is `params.get("id")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(Arc<str>, String)>,
}

impl Params {
    /// The percent-decoded capture called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every capture, in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (&**k, v.as_str()))
    }
}

type RespondFn = Arc<dyn Fn(&Request, &Params) -> Response + Send + Sync>;

/// What a route answers with: a response (status, headers, body), a fault
/// (reset, refused, hang, any [`Fault`]), a stream of chunks, or a sequence
/// of these.
#[derive(Clone)]
pub struct Responder {
    kind: Kind,
    status: Option<StatusCode>,
    /// Shared with every response this responder gives.
    headers: Arc<HeaderMap>,
    delay: Option<Duration>,
    problem: Option<Arc<str>>,
}

#[derive(Clone)]
enum Kind {
    Body(BodySource),
    Fn(RespondFn),
    /// The inner answer, with a fault plan in front (one mechanism with
    /// [`Faulty`](crate::fault::Faulty): the same acting code).
    Faulted {
        inner: Box<Responder>,
        plan: FaultPlan,
    },
    /// Each chunk with the wait before it (on `tokio::time`).
    Stream {
        chunks: Arc<[(Duration, Bytes)]>,
    },
    Sequence(Arc<Sequence>),
}

#[derive(Clone)]
enum BodySource {
    Bytes(Bytes),
    File {
        path: Arc<PathBuf>,
        cache: Arc<OnceLock<std::result::Result<Bytes, String>>>,
    },
}

struct Sequence {
    steps: Vec<Responder>,
    next: AtomicUsize,
    after: AfterLast,
}

/// What a [`sequence`] does once each of its answers has been given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterLast {
    /// Keep giving the last answer (the default).
    #[default]
    RepeatLast,
    /// Start again from the first.
    Cycle,
    /// Fail with an [`Error::NoRoute`] saying the sequence is used up.
    Fail,
}

/// A responder's answer: ready at once (the common case, no allocation), or
/// later (delays, streams, hangs).
// `Ready` is the hot path and lives on the stack; boxing it would allocate
// once per routed call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    Ready(Result<Response>),
    Later(BoxFuture<'static, Result<Response>>),
}

impl Reply {
    pub(crate) async fn into_response(self) -> Result<Response> {
        match self {
            Reply::Ready(result) => result,
            Reply::Later(future) => future.await,
        }
    }

    fn map(self, f: impl FnOnce(Response) -> Response + Send + 'static) -> Reply {
        match self {
            Reply::Ready(result) => Reply::Ready(result.map(f)),
            Reply::Later(future) => Reply::Later(Box::pin(async move { future.await.map(f) })),
        }
    }
}

/// What a responder knows about the request it answers.
pub(crate) struct Context<'a> {
    pub(crate) request: &'a Request,
    pub(crate) template: Option<&'a PathTemplate>,
    pub(crate) route: &'a str,
}

impl Responder {
    fn new(kind: Kind) -> Responder {
        Responder {
            kind,
            status: None,
            headers: Arc::default(),
            delay: None,
            problem: None,
        }
    }

    fn body(bytes: Bytes, content_type: &'static str) -> Responder {
        Responder::new(Kind::Body(BodySource::Bytes(bytes)))
            .with_content_type(HeaderValue::from_static(content_type))
    }

    fn with_content_type(mut self, value: HeaderValue) -> Responder {
        Arc::make_mut(&mut self.headers).insert(header::CONTENT_TYPE, value);
        self
    }

    fn with_problem(mut self, problem: String) -> Responder {
        self.problem = Some(problem.into());
        self
    }

    /// Sets the status (`200` unless set). An invalid code makes the route
    /// report the problem instead of panicking.
    pub fn with_status<S>(mut self, status: S) -> Responder
    where
        S: TryInto<StatusCode>,
        S::Error: fmt::Display,
    {
        match status.try_into() {
            Ok(status) => self.status = Some(status),
            Err(err) => return self.with_problem(format!("invalid status: {err}")),
        }
        self
    }

    /// Sets a header, replacing any of the same name (including the
    /// content type the body constructor chose).
    pub fn with_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Responder {
        let (name, value) = (name.as_ref(), value.as_ref());
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                Arc::make_mut(&mut self.headers).insert(name, value);
                self
            }
            (Err(_), _) => self.with_problem(format!("{name:?} is not a valid header name")),
            (Ok(_), Err(_)) => {
                self.with_problem(format!("{value:?} is not a valid value for header {name}"))
            }
        }
    }

    /// Waits `delay` (on `tokio::time`, so paused-clock tests do not wait)
    /// before answering; delays an error answer too.
    pub fn with_delay(mut self, delay: Duration) -> Responder {
        self.delay = Some(delay);
        self
    }

    /// This answer with a fault plan in front: when the plan fires, the
    /// fault acts on the answer (a reset after n bytes of it, a dribble of
    /// it, a 503 in place of it).
    ///
    /// ```
    /// use wiretape::{fault::{Fault, FaultPlan}, mock::responders::text};
    ///
    /// let flaky = text("ok").with_faults(FaultPlan::every(3, Fault::Reset));
    /// # let _ = flaky;
    /// ```
    pub fn with_faults(self, plan: impl Into<FaultPlan>) -> Responder {
        let plan = plan.into();
        let problem = plan.problem();
        let responder = Responder::new(Kind::Faulted {
            inner: Box::new(self),
            plan,
        });
        match problem {
            Some(problem) => responder.with_problem(format!("fault: {problem}")),
            None => responder,
        }
    }

    /// Why this responder could not be built, if it could not.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref().or_else(|| match &self.kind {
            Kind::Sequence(sequence) => sequence.steps.iter().find_map(Responder::problem),
            Kind::Faulted { inner, .. } => inner.problem(),
            _ => None,
        })
    }

    /// Answers one request.
    pub(crate) fn respond(&self, context: &Context<'_>) -> Reply {
        let reply = self.respond_now(context);
        match self.delay {
            None => reply,
            Some(delay) => Reply::Later(Box::pin(async move {
                tokio::time::sleep(delay).await;
                reply.into_response().await
            })),
        }
    }

    fn respond_now(&self, context: &Context<'_>) -> Reply {
        let ready = |response| Reply::Ready(Ok(response));
        match &self.kind {
            Kind::Body(source) => match source.bytes() {
                Ok(bytes) => ready(self.head().with_body(bytes)),
                Err(message) => Reply::Ready(Err(Error::Io {
                    request: context.request.to_string(),
                    message: format!("{} cannot read its body file: {message}", context.route),
                })),
            },
            Kind::Fn(respond) => {
                let params = Params {
                    pairs: context
                        .template
                        .and_then(|t| t.captures(context.request.path()))
                        .unwrap_or_default(),
                };
                ready(self.overlay(respond(context.request, &params)))
            }
            Kind::Faulted { inner, plan } => match plan.decide(context.request) {
                None => inner.respond(context),
                Some(hit) => {
                    let answer = inner.respond(context).into_response();
                    let call = Call::of(context.request).by(context.route);
                    Reply::Later(Box::pin(act_http(hit, call, answer)))
                }
            },
            Kind::Stream { chunks } => ready(self.head().with_body(chunk_stream(chunks.clone()))),
            Kind::Sequence(sequence) => {
                let reply = sequence.respond(context);
                if self.status.is_none() && self.headers.is_empty() {
                    return reply;
                }
                let outer = self.clone();
                reply.map(move |response| outer.overlay(response))
            }
        }
    }

    /// A response with this responder's status and headers.
    fn head(&self) -> Response {
        let mut response = Response::new(self.status.unwrap_or(StatusCode::OK));
        response.share_headers(Arc::clone(&self.headers));
        response
    }

    /// Applies this responder's status and headers to a built response.
    fn overlay(&self, mut response: Response) -> Response {
        if let Some(status) = self.status {
            *response.status_mut() = status;
        }
        for (name, value) in self.headers.iter() {
            response.headers_mut().insert(name, value.clone());
        }
        response
    }
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Body(BodySource::Bytes(b)) => format!("body of {} bytes", b.len()),
            Kind::Body(BodySource::File { path, .. }) => format!("file {}", path.display()),
            Kind::Fn(_) => "closure".to_owned(),
            Kind::Faulted { inner, plan } => format!("{inner:?} with faults {plan:?}"),
            Kind::Stream { chunks, .. } => format!("stream of {} chunks", chunks.len()),
            Kind::Sequence(s) => format!("sequence of {}", s.steps.len()),
        };
        f.debug_struct("Responder")
            .field("kind", &kind)
            .field("status", &self.status)
            .field("delay", &self.delay)
            .finish()
    }
}

impl From<StatusCode> for Responder {
    fn from(code: StatusCode) -> Responder {
        status(code)
    }
}

impl BodySource {
    fn bytes(&self) -> std::result::Result<Bytes, String> {
        match self {
            BodySource::Bytes(bytes) => Ok(bytes.clone()),
            BodySource::File { path, cache } => cache
                .get_or_init(|| {
                    std::fs::read(path.as_path())
                        .map(Bytes::from)
                        .map_err(|err| format!("{}: {err}", path.display()))
                })
                .clone(),
        }
    }
}

fn chunk_stream(chunks: Arc<[(Duration, Bytes)]>) -> Body {
    let stream = futures_util::stream::unfold(0usize, move |at| {
        let chunks = chunks.clone();
        async move {
            let (wait, chunk) = chunks.get(at)?.clone();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            Some((Ok::<_, Error>(chunk), at + 1))
        }
    });
    Body::from_stream(stream)
}

impl Sequence {
    fn respond(&self, context: &Context<'_>) -> Reply {
        let count = self.steps.len();
        let at = self.next.fetch_add(1, Ordering::SeqCst);
        let step = match self.after {
            _ if at < count => self.steps.get(at),
            AfterLast::RepeatLast => self.steps.last(),
            AfterLast::Cycle => self.steps.get(at % count.max(1)),
            AfterLast::Fail => None,
        };
        match step {
            Some(step) => step.respond(context),
            None => Reply::Ready(Err(Error::NoRoute(Box::new(NoRoute::new(
                context.request.to_string(),
                format!(
                    "{} answered all {count} answers of its sequence; \
                     add answers, or end the sequence with AfterLast::RepeatLast or AfterLast::Cycle",
                    context.route
                ),
            ))))),
        }
    }
}

// ------------------------------------------------------------------ constructors

/// An empty response with this status.
///
/// ```
/// use wiretape::mock::responders::status;
///
/// let not_found = status(404);
/// let bad = status(1000);
/// assert!(not_found.problem().is_none());
/// assert!(bad.problem().unwrap().contains("invalid status"));
/// ```
pub fn status<S>(code: S) -> Responder
where
    S: TryInto<StatusCode>,
    S::Error: fmt::Display,
{
    Responder::new(Kind::Body(BodySource::Bytes(Bytes::new()))).with_status(code)
}

/// `200 OK` with a `text/plain; charset=utf-8` body.
pub fn text(body: impl Into<String>) -> Responder {
    Responder::body(Bytes::from(body.into()), "text/plain; charset=utf-8")
}

/// `200 OK` with an `application/octet-stream` body.
pub fn bytes(body: impl Into<Bytes>) -> Responder {
    Responder::body(body.into(), "application/octet-stream")
}

/// `200 OK` with `value` as an `application/json` body, serialized once.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Responder {
    match serde_json::to_vec(value) {
        Ok(body) => Responder::body(Bytes::from(body), "application/json"),
        Err(err) => status(200).with_problem(format!("cannot serialize the JSON body: {err}")),
    }
}

/// `200 OK` with the contents of the file at `path` (relative paths are
/// relative to the working directory, the crate root under `cargo test`):
/// read on first use and cached. The content type follows the extension.
/// A missing file is an [`Error::Io`] naming it when the route answers.
pub fn file(path: impl AsRef<Path>) -> Responder {
    let path = path.as_ref().to_path_buf();
    let content_type = content_type_for(&path);
    Responder::new(Kind::Body(BodySource::File {
        path: Arc::new(path),
        cache: Arc::new(OnceLock::new()),
    }))
    .with_content_type(HeaderValue::from_static(content_type))
}

fn content_type_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("xml") => "application/xml",
        Some("csv") => "text/csv",
        Some("yaml" | "yml") => "application/yaml",
        _ => "application/octet-stream",
    }
}

/// A response built by `respond` from the request and the route's path
/// captures. Status and headers set on the responder override the built ones.
///
/// ```
/// use wiretape::mock::responders::from_fn;
/// use wiretape::Response;
///
/// let greet = from_fn(|request, params| {
///     Response::new(wiretape::StatusCode::OK)
///         .with_body(format!("user {} via {}", params.get("id").unwrap_or("?"), request.method()))
/// });
/// # let _ = greet;
/// ```
pub fn from_fn(
    respond: impl Fn(&Request, &Params) -> Response + Send + Sync + 'static,
) -> Responder {
    Responder::new(Kind::Fn(Arc::new(respond)))
}

/// Acts a [`Fault`] (or a [`FaultPlan`]) in place of an answer: the
/// vocabulary of [`crate::fault`], acted as [`Faulty`](crate::fault::Faulty)
/// acts it (and on the wire when served). A plan that does not fire answers
/// `200 OK`; give it an answer with [`Responder::with_faults`].
///
/// ```
/// use wiretape::{fault::Fault, mock::responders::fault};
///
/// let broken = fault(Fault::MalformedChunk);
/// # let _ = broken;
/// ```
pub fn fault(plan: impl Into<FaultPlan>) -> Responder {
    status(200).with_faults(plan)
}

/// Fails the request with [`Error::ConnectionReset`], as a peer that drops
/// the connection mid-exchange: [`fault`]`(Fault::Reset)`.
pub fn reset() -> Responder {
    fault(Fault::Reset)
}

/// Fails the request with [`Error::Connect`] ([`ConnectFailure`](crate::ConnectFailure)`::Refused`):
/// [`fault`]`(Fault::Refused)`.
pub fn refused() -> Responder {
    fault(Fault::Refused)
}

/// Never answers. A client timeout (which runs on `tokio::time`) ends the
/// wait with [`Error::Timeout`]: [`fault`]`(Fault::Hang)`.
pub fn hang() -> Responder {
    fault(Fault::Hang)
}

/// `200 OK` with a streamed body: the chunks in order, `gap` apart (on
/// `tokio::time`).
pub fn stream<B: Into<Bytes>>(chunks: impl IntoIterator<Item = B>, gap: Duration) -> Responder {
    let chunks: Arc<[(Duration, Bytes)]> = chunks
        .into_iter()
        .enumerate()
        .map(|(at, chunk)| (if at == 0 { Duration::ZERO } else { gap }, chunk.into()))
        .collect();
    Responder::new(Kind::Stream { chunks })
        .with_content_type(HeaderValue::from_static("application/octet-stream"))
}

/// Server-sent events: each event a `data:` line per line of text and a
/// blank line, streamed `gap` apart, as `text/event-stream`. For IDs, types,
/// `retry:` and a schedule of your own, see [`sse_events`].
///
/// ```
/// use std::time::Duration;
/// use wiretape::mock::responders::sse;
///
/// let ticker = sse(["tick 1", "tick 2"], Duration::from_secs(1));
/// # let _ = ticker;
/// ```
pub fn sse<E: AsRef<str>>(events: impl IntoIterator<Item = E>, gap: Duration) -> Responder {
    sse_events(events.into_iter().enumerate().map(|(at, data)| {
        let wait = if at == 0 { Duration::ZERO } else { gap };
        (wait, crate::sse::Event::new(data.as_ref()))
    }))
}

/// Server-sent events on a schedule: each [`Event`](crate::sse::Event)
/// after its wait (from the previous event, on `tokio::time`, so a paused
/// test runs the schedule instantly), as `text/event-stream`. The stream
/// ends after the last event, as a server closing the connection: a client
/// then reconnects with `Last-Event-ID`, which a route can match on
/// (`header("last-event-id", "2")`) to resume.
///
/// ```
/// use std::time::Duration;
/// use wiretape::{mock::responders::sse_events, sse::Event};
///
/// let prices = sse_events([
///     (Duration::ZERO, Event::new("{\"price\": 10}").with_id("1").with_retry(Duration::from_secs(2))),
///     (Duration::from_millis(500), Event::new("{\"price\": 11}").with_id("2").with_event("price")),
/// ]);
/// # let _ = prices;
/// ```
pub fn sse_events(schedule: impl IntoIterator<Item = (Duration, crate::sse::Event)>) -> Responder {
    let chunks: Arc<[(Duration, Bytes)]> = schedule
        .into_iter()
        .map(|(wait, event)| (wait, Bytes::from(event.to_wire())))
        .collect();
    Responder::new(Kind::Stream { chunks })
        .with_content_type(HeaderValue::from_static("text/event-stream"))
        .with_header("cache-control", "no-cache")
}

/// A different answer per call, in order; after the last, repeat it (see
/// [`sequence_then`] for other endings).
pub fn sequence(steps: impl IntoIterator<Item = Responder>) -> Responder {
    sequence_then(steps, AfterLast::RepeatLast)
}

/// A different answer per call, in order, then what `after` says.
pub fn sequence_then(steps: impl IntoIterator<Item = Responder>, after: AfterLast) -> Responder {
    let steps: Vec<Responder> = steps.into_iter().collect();
    let empty = steps.is_empty();
    let responder = Responder::new(Kind::Sequence(Arc::new(Sequence {
        steps,
        next: AtomicUsize::new(0),
        after,
    })));
    if empty {
        responder.with_problem("a sequence needs at least one answer".to_owned())
    } else {
        responder
    }
}
