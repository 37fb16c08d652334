//! # wiretape
//!
//! An HTTP and WebSocket client built like Ktor Client (one [`Client`], a
//! swappable [`Engine`](engine::Engine)), whose test engines let you answer
//! requests from closures ([`mock::MockEngine`]) and serve any engine on a
//! loopback socket ([`server::serve`]).
//!
//! ```
//! use wiretape::{mock::{MockEngine, respond_ok}, Client};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // In tests, swap the real network for a mock…
//! let engine = MockEngine::new(|request| async move {
//!     Ok(respond_ok(format!("hello from {}", request.url().path())))
//! });
//! let client = Client::builder().engine(engine).base_url("http://api.test").build()?;
//! let text = client.get("/greeting").send().await?.text().await?;
//! assert_eq!(text, "hello from /greeting");
//! # Ok::<(), wiretape::Error>(())
//! # }).unwrap();
//! ```
//!
//! The layers, from the top: the [`Client`] and its [`RequestBuilder`]
//! build [`Request`]s; the [`plugins`] (default headers, retries, timeouts,
//! authentication, redirects, cookies, decompression, logging, caching) act
//! on them in a fixed order; an engine answers them with [`Response`]s (or a
//! [`ws::WsConnection`] for a WebSocket); every failure is an [`Error`] whose
//! kind says what happened.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `native-roots` | yes | trust the operating system's root certificates as well as webpki-roots |
//! | `cli` | no | the `wiretape` command line (clap) |
//! | `brotli` | no | `ContentEncoding` asks for and decodes `br`; without it a `br` body passes through undecoded, `Content-Encoding` kept (as in reqwest) |
//! | `cookies` | no | the `Cookies` plugin and `CookieJar` (`ClientBuilder::cookies`) |
//! | `digest-auth` | no | `Auth::digest` (MD5, SHA-256) |
//! | `multipart` | no | the router's `multipart_part` and `multipart_file` matchers (building multipart bodies with `Form` needs no feature) |
//! | `charset` | no | `Response::text` decodes the charset `Content-Type` names; without it text is UTF-8, invalid bytes becoming U+FFFD |
//! | `proptest` | no | `fault::strategy`, fault plans for property tests |
//!
//! Items that need a feature say so in their documentation.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples compile as doctests, so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod body;
pub mod cassette;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod client;
pub mod engine;
mod error;
pub mod fault;
mod fingerprint;
mod headers;
pub mod mock;
mod origin;
pub mod plugins;
mod request;
mod response;
pub mod server;
pub mod sse;
mod target;
pub mod ws;
mod yaml;

pub use crate::body::{Body, ChunkStream};
pub use crate::client::{Client, ClientBuilder, Form, Part, RequestBuilder};
pub use crate::error::{
    BoxError, ConnectFailure, Error, ErrorKind, MatchCheck, NearMiss, NoRoute, Result, StatusError,
    TimeoutKind,
};
pub use crate::request::Request;
pub use crate::response::Response;
pub use bytes::Bytes;
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
pub use url::Url;
