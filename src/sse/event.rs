//! One server-sent event, and its wire form.

use std::fmt::Write as _;
use std::time::Duration;

/// One server-sent event (Ktor's `ServerSentEvent`), as the
/// [event-stream format](https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
/// defines it.
///
/// - `data`: the `data:` lines, joined with `\n`;
/// - `event`: the `event:` type, `"message"` when the server named none;
/// - `id`: the last event ID in force when the event arrived (an `id:` line
///   sets it for this and every later event, as browsers keep it);
/// - `retry`: the reconnection delay an accompanying `retry:` line asked for.
///
/// The same type writes events: [`to_wire`](Event::to_wire) is what the
/// router's [`sse_events`](crate::mock::responders::sse_events) responder
/// streams, so mocks and the parser agree on the format.
///
/// ```
/// use std::time::Duration;
/// use wiretape::sse::Event;
///
/// let event = Event::new("line one\nline two")
///     .with_event("update")
///     .with_id("7")
///     .with_retry(Duration::from_millis(500));
/// assert_eq!(
///     event.to_wire(),
///     "event: update\nid: 7\nretry: 500\ndata: line one\ndata: line two\n\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's data, its lines joined with `\n`.
    pub data: String,
    /// The event type (`"message"` unless the server said otherwise).
    pub event: String,
    /// The last event ID, if the stream has set one.
    pub id: Option<String>,
    /// The reconnection delay the server asked for with this event.
    pub retry: Option<Duration>,
}

impl Event {
    /// A `message` event carrying `data`.
    pub fn new(data: impl Into<String>) -> Event {
        Event {
            data: data.into(),
            event: "message".to_owned(),
            id: None,
            retry: None,
        }
    }

    /// Sets the event type.
    pub fn with_event(mut self, event: impl Into<String>) -> Event {
        self.event = event.into();
        self
    }

    /// Sets the event ID.
    pub fn with_id(mut self, id: impl Into<String>) -> Event {
        self.id = Some(id.into());
        self
    }

    /// Asks the client to wait `retry` before reconnecting.
    pub fn with_retry(mut self, retry: Duration) -> Event {
        self.retry = Some(retry);
        self
    }

    /// The event as the lines a server sends, ending with the blank line
    /// that dispatches it. A `message` type is left implicit; line breaks
    /// in `event` or `id` (which the format cannot carry) become spaces.
    pub fn to_wire(&self) -> String {
        let one_line = |text: &str| text.replace(['\r', '\n'], " ");
        let mut wire = String::new();
        if self.event != "message" {
            let _ = writeln!(wire, "event: {}", one_line(&self.event));
        }
        if let Some(id) = &self.id {
            let _ = writeln!(wire, "id: {}", one_line(id));
        }
        if let Some(retry) = self.retry {
            let _ = writeln!(wire, "retry: {}", retry.as_millis());
        }
        for line in self.data.split('\n') {
            let _ = writeln!(wire, "data: {}", line.strip_suffix('\r').unwrap_or(line));
        }
        wire.push('\n');
        wire
    }
}
