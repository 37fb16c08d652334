//! Fault injection: the vocabulary, plans, `Faulty<E>`, route faults, faults
//! on real sockets, and real clients (curl, Python requests) against them.

// The real clients run against the `wiretape` binary: the `cli` feature.
#[cfg(feature = "cli")]
#[path = "../cli_support/mod.rs"]
mod cli_support;
#[cfg(feature = "cli")]
mod clients;
mod plans;
#[cfg(feature = "proptest")]
mod properties;
mod routes;
#[cfg(feature = "cli")]
#[path = "../support/mod.rs"]
mod support;
mod table;
mod websocket;

use wiretape::fault::{FaultPlan, Faulty};
use wiretape::mock::{Route, Router, responders::text};
use wiretape::{Client, ErrorKind, Response};

/// The body every test route answers with.
pub const BODY: &str = "hello from the origin, twenty-nine bytes or more";

/// A router answering [`BODY`] to everything.
pub fn origin() -> Router {
    let router = Router::new().without_drop_verification();
    router.mock(Route::new().respond_with(text(BODY)));
    router
}

/// A client over `engine`.
pub fn client(engine: impl wiretape::engine::Engine) -> Client {
    Client::builder()
        .engine(engine)
        .build()
        .expect("valid client configuration")
}

/// A client over the origin with `plan` in front, in-process.
pub fn faulty(plan: impl Into<FaultPlan>) -> (Client, FaultPlan) {
    let faulty = Faulty::new(origin(), plan);
    let plan = faulty.plan().clone();
    (client(faulty), plan)
}

/// What a call came to: the error kind of the send, or the status and what
/// reading the body gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The send failed.
    Failed(ErrorKind),
    /// A response; its body read fully, or the kind of the body error.
    Answered(u16, Result<String, ErrorKind>),
    /// No outcome within the test's bound.
    Hung,
}

/// Sends and reads the whole body.
pub async fn outcome(sent: wiretape::Result<Response>) -> Outcome {
    match sent {
        Err(err) => Outcome::Failed(err.kind()),
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.map_err(|err| err.kind());
            Outcome::Answered(status, body)
        }
    }
}
