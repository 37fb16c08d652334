//! Opening an event stream and keeping it open: [`SseRequest`] and
//! [`EventStream`].

use std::future::IntoFuture;
use std::time::Duration;

use futures_core::Stream;
use http::{HeaderValue, StatusCode, header};

use super::Event;
use super::parser::Parser;
use crate::engine::BoxFuture;
use crate::{Client, Error, ErrorKind, Request, Response, Result};

/// The reconnection delay until the server sends `retry:` (the HTML
/// standard leaves it to the client; browsers and Ktor use about 3 s).
pub const DEFAULT_RECONNECT_DELAY: Duration = Duration::from_secs(3);
/// How many times a stream reconnects by default before it gives up.
pub const DEFAULT_MAX_RECONNECTS: u32 = 3;
/// The default longest line, in bytes.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
/// The default largest event (its data), in bytes.
pub const DEFAULT_MAX_EVENT: usize = 1024 * 1024;

/// An event stream about to be opened: [`Client::sse`] or
/// [`RequestBuilder::sse`](crate::RequestBuilder::sse). Await it for the
/// [`EventStream`].
///
/// Opening fails early, with an error naming the engine, when the engine
/// cannot stream bodies ([`Capabilities::streaming`](crate::engine::Capabilities::streaming));
/// fails with [`Error::Status`] when the server answers with anything but
/// `200`, and with [`Error::Decode`] when its content type is not
/// `text/event-stream`.
#[must_use = "an SseRequest does nothing until awaited"]
pub struct SseRequest {
    client: Client,
    request: Result<Request>,
    settings: Settings,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    reconnect_delay: Duration,
    max_reconnects: u32,
    max_line: usize,
    max_event: usize,
}

impl SseRequest {
    pub(crate) fn new(client: Client, request: Result<Request>) -> SseRequest {
        SseRequest {
            client,
            request,
            settings: Settings {
                reconnect_delay: DEFAULT_RECONNECT_DELAY,
                max_reconnects: DEFAULT_MAX_RECONNECTS,
                max_line: DEFAULT_MAX_LINE,
                max_event: DEFAULT_MAX_EVENT,
            },
        }
    }

    /// How long to wait before reconnecting until the server says otherwise
    /// with `retry:` (default [`DEFAULT_RECONNECT_DELAY`]).
    pub fn reconnect_delay(mut self, delay: Duration) -> SseRequest {
        self.settings.reconnect_delay = delay;
        self
    }

    /// How many times to reconnect, in all, after the connection ends or
    /// drops (default [`DEFAULT_MAX_RECONNECTS`]; `0` never reconnects).
    pub fn max_reconnects(mut self, reconnects: u32) -> SseRequest {
        self.settings.max_reconnects = reconnects;
        self
    }

    /// The longest line accepted, in bytes (default [`DEFAULT_MAX_LINE`]).
    pub fn max_line_length(mut self, bytes: usize) -> SseRequest {
        self.settings.max_line = bytes.max(1);
        self
    }

    /// The largest event accepted (its data), in bytes (default
    /// [`DEFAULT_MAX_EVENT`]).
    pub fn max_event_size(mut self, bytes: usize) -> SseRequest {
        self.settings.max_event = bytes.max(1);
        self
    }

    async fn open(self) -> Result<EventStream> {
        let mut request = self.request?;
        let engine = self.client.engine();
        if !engine.capabilities().streaming {
            return Err(Error::invalid(format!(
                "cannot open an event stream for {request}: the engine {} lacks the `streaming` capability",
                engine.name()
            )));
        }
        let headers = request.headers_mut();
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("text/event-stream"));
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
        let name = request.to_string();
        let mut stream = EventStream {
            client: self.client,
            parser: Parser::new(name, self.settings.max_line, self.settings.max_event),
            request,
            settings: self.settings,
            response: None,
            reconnects: 0,
            done: false,
        };
        match stream.connect().await? {
            Some(response) => stream.response = Some(response),
            None => stream.done = true,
        }
        Ok(stream)
    }
}

impl IntoFuture for SseRequest {
    type Output = Result<EventStream>;
    type IntoFuture = BoxFuture<'static, Result<EventStream>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.open())
    }
}

/// A server-sent event stream (Ktor 3's `client.sse { incoming }`): typed
/// [`Event`]s, read with [`next`](EventStream::next) or as a
/// [`Stream`](EventStream::into_stream).
///
/// When the connection ends or drops, the stream waits the reconnection
/// delay (the server's latest `retry:`, else the configured one) on
/// `tokio::time`, so a paused test waits no wall-clock time, and requests
/// again with `Last-Event-ID` set to the last ID the server sent. It gives
/// up after [`max_reconnects`](SseRequest::max_reconnects) reconnections in
/// all, or when the server answers `204 No Content` (the standard's "stop").
/// A reconnection that fails to connect counts as one. Every connection is
/// an ordinary request through the client's plugins and engine, so a
/// cassette records (and replays) each one with its chunks' timing.
///
/// ```
/// use std::time::Duration;
/// use wiretape::mock::{matchers::path, responders::sse_events, Route, Router};
/// use wiretape::{sse::Event, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let router = Router::new();
/// router.mock(Route::given(path("/ticks")).respond_with(sse_events([
///     (Duration::ZERO, Event::new("tick 1").with_id("1")),
///     (Duration::from_secs(1), Event::new("tick 2").with_id("2").with_event("tick")),
/// ])));
/// let client = Client::builder().engine(router).build()?;
/// let mut events = client.sse("http://api.test/ticks").max_reconnects(0).await?;
/// let first = events.next().await.unwrap()?;
/// assert_eq!((first.data.as_str(), first.id.as_deref()), ("tick 1", Some("1")));
/// let second = events.next().await.unwrap()?;
/// assert_eq!((second.event.as_str(), second.data.as_str()), ("tick", "tick 2"));
/// assert!(events.next().await.is_none());
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
pub struct EventStream {
    client: Client,
    request: Request,
    settings: Settings,
    parser: Parser,
    response: Option<Response>,
    reconnects: u32,
    done: bool,
}

impl EventStream {
    /// The next event; `None` once the stream has ended for good. An error
    /// (a malformed or oversized event, a refused reconnection) ends it.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if let Some(response) = &mut self.response {
                match response.chunk().await {
                    Ok(Some(bytes)) => {
                        if let Err(err) = self.parser.feed(&bytes) {
                            self.done = true;
                            return Some(Err(err));
                        }
                    }
                    Ok(None) => self.response = None,
                    Err(err) if is_dropped(&err) => self.response = None,
                    Err(err) => {
                        self.done = true;
                        return Some(Err(err));
                    }
                }
                continue;
            }
            if self.reconnects >= self.settings.max_reconnects {
                self.done = true;
                return None;
            }
            self.reconnects += 1;
            tokio::time::sleep(self.reconnect_delay()).await;
            self.parser.reconnected();
            match self.connect().await {
                Ok(Some(response)) => self.response = Some(response),
                Ok(None) => self.done = true,
                // Still unreachable: try again after the delay, within the cap.
                Err(err) if is_dropped(&err) && self.reconnects < self.settings.max_reconnects => {}
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            }
        }
    }

    /// The events as a [`Stream`], for combinators.
    pub fn into_stream(self) -> impl Stream<Item = Result<Event>> + Send {
        futures_util::stream::unfold(self, |mut stream| async move {
            let next = stream.next().await?;
            Some((next, stream))
        })
    }

    /// The last event ID the server set: what `Last-Event-ID` carries on
    /// the next reconnection.
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_id()
    }

    /// How long the stream waits before its next reconnection.
    pub fn reconnect_delay(&self) -> Duration {
        self.parser
            .reconnect_delay()
            .unwrap_or(self.settings.reconnect_delay)
    }

    /// How many times the stream has reconnected so far.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// One request for the stream: the response to read, `None` for a
    /// `204` (stop), or an error for any other answer.
    async fn connect(&mut self) -> Result<Option<Response>> {
        {
            let mut request = self.request.try_clone().ok_or_else(|| {
                Error::invalid(format!(
                    "{}: an event stream's request body must be replayable",
                    self.request
                ))
            })?;
            if let Some(id) = self.parser.last_id() {
                let value = HeaderValue::from_str(id).map_err(|_| {
                    Error::decode(
                        format!("event stream from {}", self.request),
                        format!("the last event ID {id:?} cannot be sent as Last-Event-ID"),
                    )
                })?;
                request.headers_mut().insert("last-event-id", value);
            }
            let response = self.client.execute(request).await?;
            if response.status() == StatusCode::NO_CONTENT {
                return Ok(None);
            }
            if response.status() != StatusCode::OK {
                return Err(response.into_status_error().await);
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let essence = content_type.split(';').next().unwrap_or("").trim();
            if !essence.eq_ignore_ascii_case("text/event-stream") {
                return Err(Error::decode(
                    format!("event stream from {}", self.request),
                    format!(
                        "the server answered with content type {content_type:?}, not text/event-stream"
                    ),
                ));
            }
            Ok(Some(response))
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("request", &self.request.to_string())
            .field("last_event_id", &self.last_event_id())
            .field("reconnects", &self.reconnects)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Whether `err` is a connection that went away (or never came), which a
/// reconnection may fix.
fn is_dropped(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionRefused
            | ErrorKind::Connect
            | ErrorKind::ConnectTimeout
            | ErrorKind::SocketTimeout
            | ErrorKind::Io
    )
}
