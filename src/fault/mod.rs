//! Fault injection: one vocabulary, plans that say when, in virtual time and
//! on real sockets.
//!
//! "My client retries at most n times, never waits past its deadline and
//! never loses a request, whatever the network does" is a property test, and
//! it needs faults that are instant and deterministic in-process and real on
//! a socket. Here the same [`Fault`] does both:
//!
//! - [`Faulty<E>`] wraps any engine: the fault is acted in-process, all
//!   waiting on `tokio::time` (paused-clock tests run minutes of latency
//!   instantly), with the error kind the real engine reports;
//! - [`Route::fault`](crate::mock::Route::fault) and
//!   [`Router::with_faults`](crate::mock::Router::with_faults) put faults on
//!   routes, in Rust and in YAML route files;
//! - [`serve`](crate::server::serve) acts them on the wire (a real RST, FIN
//!   with no reply, raw bytes), so that curl or Python see a broken server.
//!
//! A [`FaultPlan`] says when: a sequence, the first n calls, every n-th,
//! with a chance from a seed, per matcher, composed. The seed is in every
//! injected error and in the [`Journal`]; `WIRETAPE_SEED` forces it.
//!
//! ```
//! use std::time::Duration;
//! use wiretape::{fault::{Fault, FaultPlan, Faulty}, mock::{Router, Route, responders::text}};
//! use wiretape::{plugins::Retry, Client};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
//! let router = Router::new();
//! router.mock(Route::new().respond_with(text("ok")));
//! let flaky = Faulty::new(router, FaultPlan::sequence([Fault::Reset, Fault::status(503), Fault::Ok]));
//! let client = Client::builder().engine(flaky).retry(Retry::new().max_retries(2)).build()?;
//! assert_eq!(client.get("http://api.test/").send().await?.text().await?, "ok");
//! # Ok::<(), wiretape::Error>(())
//! # }).unwrap();
//! ```
//!
//! # What each fault looks like
//!
//! "In-process" is what [`Faulty`] (or a route fault) returns; "on the wire"
//! is what `serve` does over HTTP/1.1 and what `HyperEngine` then reports.
//! Over HTTP/2, the faults that need raw bytes or an RST reset the stream
//! (RST_STREAM) instead, which `HyperEngine` reports as a reset. The
//! `fault_table` integration test checks every row that has a socket form.
//!
//! | Fault | Reaches the engine | In-process (`Faulty`) | On the wire (`serve`) | `HyperEngine` over the wire |
//! |---|---|---|---|---|
//! | `latency` | yes, late | delay, then the answer | delay before the head | the answer (a `Timeouts` limit: `request_timeout`) |
//! | `chunk_latency` | yes | delay between chunks | same | the answer, slowly |
//! | `hang` | no | never answers | never answers | `request_timeout` (with `Timeouts`) |
//! | `refused` | no | `connection_refused` | RST | `connection_reset` |
//! | `dns` | no | `dns` | RST | `connection_reset` |
//! | `connect_delay` | yes, late | delay; `connect_timeout` past a `Timeouts::connect` limit | delay before the head | the answer |
//! | `reset` | yes, answer lost | `connection_reset` | RST (SO_LINGER 0) | `connection_reset` |
//! | `reset_after` n | yes | head, n body bytes, `connection_reset` | head, body, RST | `connection_reset` from the body |
//! | `empty_reply` | yes, answer lost | `connection_reset` | FIN, no byte | `connection_reset` |
//! | `malformed_chunk` | yes | head, then `protocol` from the body | head, `zz` chunk line, FIN | `protocol` from the body |
//! | `garbage` | yes, answer lost | `protocol` | 64 random letters, FIN | `protocol` |
//! | `truncated` n | yes | head, body, `connection_reset` | Content-Length + n, body, FIN | `connection_reset` from the body |
//! | `status` | no | the status, `Retry-After` | same | same |
//! | `dribble` | yes | body in n chunks over the duration | same | same (slowly) |
//! | `bandwidth` | yes | body at n bytes/s | same | same (slowly) |
//! | `ws_refuse` | no | `status` (a `403` instead of `101`) | `403` instead of `101` | `status` (the `403`) |
//! | `ws_drop` n | yes | n frames, then the stream ends (1006) | same | same |
//! | `ws_close` | yes | frames, then a close frame with the code | same | same |
//! | `ws_delay`, `ws_drop_frames` | yes | server frames late, or every n-th lost | same | same |

mod act;
mod faulty;
pub(crate) mod file;
mod plan;
#[cfg(feature = "proptest")]
pub mod strategy;
mod vocab;
pub(crate) mod wire;
mod ws;

pub(crate) use self::act::{Call, http as act_http};
pub use self::faulty::Faulty;
pub use self::plan::{FaultPlan, Hit, Journal, JournalEntry, SEED_VAR, forced_seed};
pub use self::vocab::{Delay, Fault, MAX_DELAY, RetryAfter};
pub(crate) use self::ws::websocket as act_websocket;
