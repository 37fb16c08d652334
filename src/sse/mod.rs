//! Server-sent events (Ktor 3's `client.sse { }`): [`Client::sse`](crate::Client::sse)
//! opens a `text/event-stream` and yields typed [`Event`]s.
//!
//! Why its own module: an event stream is a view over an ordinary streamed
//! response, so it works over every engine that streams (the network, the
//! router, a replayed cassette with its chunks' timing), but it has rules
//! of its own that belong together: the line format and its limits
//! (`parser`), and reconnection with `Last-Event-ID` after the server's
//! `retry:` delay, on `tokio::time`, within a cap (`stream`). [`Event`]
//! also writes the format, for the router's
//! [`sse_events`](crate::mock::responders::sse_events) responder.

mod event;
mod parser;
mod stream;

pub use self::event::Event;
pub use self::stream::{
    DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, DEFAULT_MAX_RECONNECTS, DEFAULT_RECONNECT_DELAY,
    EventStream, SseRequest,
};
