//! Mock engines: answer requests in-process, without a socket.
//!
//! [`MockEngine`] answers from closures or a queue of them, like Ktor's
//! `MockEngine`, and also accepts WebSocket handshakes with a scripted
//! in-memory server. The `respond*` helpers build common responses.
//!
//! [`Router`] is the routing DSL: declarative [`Route`]s built from
//! [`matchers`] and [`responders`], with expectations, a journal and
//! near-miss reports for requests that match nothing.

mod echo;
mod engine;
mod history;
mod respond;
pub mod router;

pub use self::echo::echo;
pub(crate) use self::engine::lock;
pub use self::engine::{MockEngine, MockQueue, ResponseSnapshot};
pub use self::history::{DEFAULT_HISTORY_BODY_BYTES, DEFAULT_HISTORY_ENTRIES};
pub use self::respond::{
    respond, respond_bad_request, respond_error, respond_json, respond_json_with, respond_ok,
    respond_redirect, respond_redirect_with,
};
pub use self::router::{
    Answer, DEFAULT_PRIORITY, JournalEntry, Route, RouteGuard, RouteId, Router, STARTED, Times,
    Unmet, Verification, matchers, responders, socket,
};
