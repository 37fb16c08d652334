//! Plugins: the client's behaviour layer, middleware between the [`Client`]
//! and its [`Engine`].
//!
//! A plugin sees every request on its way down and every response on its way
//! up. It may change the request, call the rest of the chain ([`Next`]) zero
//! or more times, and change the response. Users write their own with the
//! same [`Plugin`] trait and install them with
//! [`ClientBuilder::plugin`](crate::ClientBuilder::plugin).
//!
//! # The order is fixed
//!
//! The builder installs plugins in one order, whatever order its methods are
//! called in, so that no one has to remember Ktor's "install `HttpTimeout`
//! after `HttpRequestRetry`". From the client down to the engine:
//!
//! | # | plugin | why here |
//! |---|--------|----------|
//! | 1 | [`DefaultRequest`] | Every later step sees the request as the application meant it: default headers and query parameters filled in (the base URL is applied when the request is built). |
//! | 2 | [`ResponseValidator`] | It judges the *final* response, once: after retries, redirects, authentication and cache revalidation. Below it, Retry sees a raw `503`, Auth a raw `401`, Redirect a raw `302` and Cache a raw `304`; none of them has to unpick an error. |
//! | 3 | [`Logging`] | One entry per call, as the application sees it: the decoded body, the final status, the total time, marked when it came from the cache. Retries are logged by Retry itself. |
//! | 4 | [`Cache`] | A fresh hit costs no attempt at all, so it sits above Retry; a revalidation (`If-None-Match`) is itself retried and authenticated like any request. |
//! | 5 | [`Retry`] | Each attempt runs everything below: a fresh token, fresh cookies, a per-attempt timeout. Its [deadline](Retry::deadline) bounds the whole call. |
//! | 6 | [`Auth`] | Above Redirect, so that credentials are added once, to the origin the application named; Redirect drops them when a hop changes origin. A `401` after a refresh is final. |
//! | 7 | [`Redirect`] | Each hop goes through Cookies, ContentEncoding and Timeout again, so that cookies set by a `302` reach the next hop and each hop gets its own time limit. |
//! | 8 | [`Cookies`] | Per hop: the jar's cookies for exactly this URL go out, every `Set-Cookie` of every hop is stored. |
//! | 9 | [`ContentEncoding`] | Asks for compression and decodes the body as it streams, so everything above reads plain bytes. |
//! | 10 | your plugins ([`ClientBuilder::plugin`](crate::ClientBuilder::plugin)), in the order added | They see the request as it will be sent (cookies, `Accept-Encoding` and credentials included: the place for signing or per-attempt metrics) and the response before any decoding. |
//! | 11 | [`Timeouts`] | Closest to the engine, so the request timeout limits one exchange (one attempt of one hop), the connect timeout reaches the engine, and the socket timeout watches the raw body stream. |
//! | 12 | [progress](crate::RequestBuilder::on_download) | Counts bytes as the engine reads and writes them, against `Content-Length` on the wire. |
//!
//! Per-request settings travel in the request's extensions and override the
//! client's: [`RequestBuilder::timeout`](crate::RequestBuilder::timeout),
//! [`retry`](crate::RequestBuilder::retry),
//! [`redirect`](crate::RequestBuilder::redirect),
//! [`expect_success`](crate::RequestBuilder::expect_success).
//!
//! WebSocket handshakes run through the same chain with
//! [`Plugin::websocket`]: default headers, logging, credentials, cookies and
//! the request and connect timeouts apply to them.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use wiretape::{engine::BoxFuture, mock::{MockEngine, respond_ok}, plugins::{Next, Plugin}};
//! use wiretape::{Client, HeaderValue, Request, Response, Result};
//!
//! /// Numbers every exchange that reaches the engine.
//! #[derive(Default)]
//! struct Sequence(AtomicU32);
//!
//! impl Plugin for Sequence {
//!     fn call<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
//!         let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
//!         request.headers_mut().insert("x-sequence", HeaderValue::from(n));
//!         next.run(request)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
//! let client = Client::builder().engine(engine.clone()).plugin(Sequence::default()).build()?;
//! client.get("http://api.test/a").send().await?;
//! client.get("http://api.test/b").send().await?;
//! assert_eq!(engine.request_history()[1].headers()["x-sequence"], "2");
//! # Ok::<(), wiretape::Error>(())
//! # }).unwrap();
//! ```

mod auth;
mod cache;
mod content_encoding;
#[cfg(feature = "cookies")]
mod cookies;
mod default_request;
#[cfg(feature = "digest-auth")]
mod digest;
mod logging;
mod observe;
mod progress;
mod redirect;
mod retry;
mod timeout;
mod validator;

use std::fmt;
use std::sync::Arc;

pub use self::auth::{Auth, BearerAuth, BearerTokens, RefreshContext};
pub use self::cache::{Cache, CacheStatus};
pub use self::content_encoding::ContentEncoding;
#[cfg(feature = "cookies")]
pub use self::cookies::{CookieJar, Cookies, StoredCookie};
pub use self::default_request::DefaultRequest;
pub(crate) use self::default_request::resolve;
pub use self::logging::{LogLevel, Logging};
pub(crate) use self::progress::{DownloadProgress, UploadProgress};
pub use self::progress::{Progress, ProgressFn};
pub use self::redirect::Redirect;
pub use self::retry::{Backoff, GiveUpReason, Retry, RetryAction, RetryCause, RetryEvent};
pub use self::timeout::{ConnectTimeout, Timeouts};
pub use self::validator::{ExpectSuccess, ResponseValidator};

use crate::engine::{BoxFuture, Engine};
use crate::ws::WsConnection;
use crate::{Client, Request, Response, Result};

/// Middleware between the client and its engine.
///
/// `call` receives the request and the rest of the chain, [`Next`]. It can
/// change the request, call `next.run` zero times (answer itself, as a cache
/// does), once, or several times (as Retry does: `Next` is `Copy`), and change
/// what comes back. Install one with
/// [`ClientBuilder::plugin`](crate::ClientBuilder::plugin); the
/// [module documentation](self) shows where it runs and has an example.
pub trait Plugin: Send + Sync + 'static {
    /// Handles one HTTP call.
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>>;

    /// Handles one WebSocket handshake. The default passes it on unchanged.
    fn websocket<'a>(
        &'a self,
        request: Request,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<WsConnection>> {
        next.websocket(request)
    }
}

/// The rest of the chain below a plugin, ending at the engine.
///
/// It is `Copy`: call [`run`](Next::run) as often as the plugin needs.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    rest: &'a [Link],
    engine: &'a dyn Engine,
    client: &'a Client,
}

impl<'a> Next<'a> {
    /// Sends `request` through the rest of the chain.
    pub fn run(self, request: Request) -> BoxFuture<'a, Result<Response>> {
        let mut rest = self.rest;
        // Plugins that only a request's own settings can wake pass a request
        // without extensions straight on: skip them here, without a call or
        // a move of the request.
        if request.extensions().is_empty() {
            while let Some((Link { idle: true, .. }, after)) = rest.split_first() {
                rest = after;
            }
        }
        match rest.split_first() {
            Some((link, rest)) => link.plugin.call(request, Next { rest, ..self }),
            None => self.engine.execute(request),
        }
    }

    /// Performs a WebSocket handshake through the rest of the chain.
    pub fn websocket(self, request: Request) -> BoxFuture<'a, Result<WsConnection>> {
        match self.rest.split_first() {
            Some((link, rest)) => link.plugin.websocket(request, Next { rest, ..self }),
            None => self.engine.websocket(request),
        }
    }

    /// The client this call runs in, for plugins that make calls of their own
    /// (a token refresh). Such a call goes through the whole chain again.
    pub fn client(&self) -> &'a Client {
        self.client
    }
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("plugins_left", &self.rest.len())
            .finish_non_exhaustive()
    }
}

/// The plugins a client was built with, in their fixed order.
pub(crate) struct Chain {
    plugins: Vec<Link>,
}

/// A plugin in the chain.
pub(crate) struct Link {
    plugin: Arc<dyn Plugin>,
    /// The plugin, as the client configured it, passes every HTTP request
    /// without extensions on unchanged (Retry without a client policy,
    /// Timeouts without limits, a validator with nothing to check,
    /// progress): [`Next::run`] skips it for those. A user's plugins are
    /// never idle.
    idle: bool,
}

impl Link {
    /// A plugin that sees every request.
    pub(super) fn always(plugin: Arc<dyn Plugin>) -> Link {
        Link {
            plugin,
            idle: false,
        }
    }

    /// A plugin skipped for requests without extensions when `idle`.
    pub(super) fn idle_if(plugin: Arc<dyn Plugin>, idle: bool) -> Link {
        Link { plugin, idle }
    }
}

impl Chain {
    /// The whole chain, as a [`Next`] whose `run` and `websocket` start at
    /// the first plugin.
    pub(crate) fn start<'a>(&'a self, client: &'a Client, engine: &'a dyn Engine) -> Next<'a> {
        Next {
            rest: &self.plugins,
            engine,
            client,
        }
    }
}

/// What a [`ClientBuilder`](crate::ClientBuilder) has installed; turned into
/// a [`Chain`] in the fixed order by [`Installed::into_chain`].
#[derive(Default)]
pub(crate) struct Installed {
    pub(crate) default_request: DefaultRequest,
    pub(crate) validator: ResponseValidator,
    pub(crate) logging: Option<Logging>,
    pub(crate) cache: Option<Cache>,
    pub(crate) retry: Option<Retry>,
    pub(crate) auth: Option<Auth>,
    pub(crate) redirect: Redirect,
    #[cfg(feature = "cookies")]
    pub(crate) cookies: Option<Cookies>,
    pub(crate) content_encoding: Option<ContentEncoding>,
    pub(crate) custom: Vec<Arc<dyn Plugin>>,
    pub(crate) timeouts: Timeouts,
}

impl Installed {
    /// The chain, in the order the module documentation gives.
    pub(crate) fn into_chain(self) -> Chain {
        // Validator, Retry, Timeouts and progress say themselves when they
        // are idle: next to the fast path of their `call`, which it mirrors.
        let mut plugins = vec![
            Link::always(default_request::plugin(self.default_request)),
            validator::plugin(self.validator),
        ];
        plugins.extend(self.logging.map(logging::plugin).map(Link::always));
        plugins.extend(self.cache.map(cache::plugin).map(Link::always));
        // Retry, Redirect and Timeout are always there: a request can turn
        // them on or change them through its extensions.
        plugins.push(retry::plugin(self.retry));
        plugins.extend(self.auth.map(auth::plugin).map(Link::always));
        plugins.push(Link::always(redirect::plugin(self.redirect)));
        #[cfg(feature = "cookies")]
        plugins.extend(self.cookies.map(cookies::plugin).map(Link::always));
        plugins.extend(
            self.content_encoding
                .map(content_encoding::plugin)
                .map(Link::always),
        );
        plugins.extend(self.custom.into_iter().map(Link::always));
        plugins.push(timeout::plugin(self.timeouts));
        plugins.push(progress::plugin());
        Chain { plugins }
    }
}

impl fmt::Debug for Installed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Installed");
        f.field("default_request", &self.default_request)
            .field("validator", &self.validator)
            .field("logging", &self.logging)
            .field("cache", &self.cache)
            .field("retry", &self.retry)
            .field("auth", &self.auth)
            .field("redirect", &self.redirect);
        #[cfg(feature = "cookies")]
        f.field("cookies", &self.cookies);
        f.field("content_encoding", &self.content_encoding)
            .field("custom", &self.custom.len())
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// `true` for the methods RFC 9110 calls idempotent.
pub(crate) fn is_idempotent(method: &http::Method) -> bool {
    use http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::mock::{MockEngine, respond_ok};

    /// Counts the requests it sees.
    #[derive(Default)]
    struct Seen(AtomicUsize);

    impl Plugin for Arc<Seen> {
        fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            next.run(request)
        }
    }

    #[tokio::test]
    async fn an_idle_plugin_is_skipped_only_for_requests_without_extensions() {
        let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
        let client = Client::builder().engine(engine.clone()).build().unwrap();
        let (idle, busy) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
        let chain = Chain {
            plugins: vec![
                Link::idle_if(Arc::new(idle.clone()), true),
                Link::always(Arc::new(busy.clone())),
            ],
        };
        let send = |request: Request| chain.start(&client, &engine).run(request);

        let plain = Request::new(http::Method::GET, "http://api.test/a".parse().unwrap());
        send(plain).await.unwrap();
        assert_eq!(
            idle.0.load(Ordering::SeqCst),
            0,
            "skipped without extensions"
        );
        assert_eq!(
            busy.0.load(Ordering::SeqCst),
            1,
            "a busy plugin always runs"
        );

        let mut asked = Request::new(http::Method::GET, "http://api.test/b".parse().unwrap());
        asked.extensions_mut().insert(Timeouts::new());
        send(asked).await.unwrap();
        assert_eq!(
            idle.0.load(Ordering::SeqCst),
            1,
            "run for a request with extensions"
        );
        assert_eq!(busy.0.load(Ordering::SeqCst), 2);
        assert_eq!(engine.request_history().len(), 2);
    }
}
