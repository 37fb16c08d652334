//! Mock engines: answer requests in-process, without a socket.
//!
//! [`MockEngine`] answers from closures or a queue of them, like Ktor's
//! `MockEngine`, and also accepts WebSocket handshakes with a scripted
//! in-memory server. The `respond*` helpers build common responses.

mod echo;
mod engine;
mod respond;

pub use self::echo::echo;
pub use self::engine::{MockEngine, MockQueue, ResponseSnapshot};
pub use self::respond::{
    respond, respond_bad_request, respond_error, respond_json, respond_json_with, respond_ok,
    respond_redirect, respond_redirect_with,
};
