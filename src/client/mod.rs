//! The client: one per application, cheap to clone, sharing its engine.

mod multipart;
mod request_builder;

use std::fmt;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method};
use url::Url;

pub use self::multipart::{Form, Part};
pub use self::request_builder::RequestBuilder;
use crate::engine::{Engine, HyperEngine};
use crate::origin::LastOrigin;
#[cfg(feature = "cookies")]
use crate::plugins::Cookies;
use crate::plugins::{
    Auth, Cache, Chain, ContentEncoding, DefaultRequest, Installed, Logging, Plugin, Redirect,
    ResponseValidator, Retry, Timeouts,
};
use crate::target::{Origin, Target};
use crate::ws::{WebSocket, WsConfig};
use crate::{Error, Request, Response, Result};

/// An HTTP and WebSocket client over a swappable [`Engine`].
///
/// Build one per application and clone it where it is needed: clones share
/// the engine, and so the real engine's connection pool (Ktor's own guidance,
/// and reqwest's). The default engine is the real network
/// ([`HyperEngine`]); tests swap in a mock.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_json}, Client};
///
/// #[derive(serde::Deserialize)]
/// struct User { id: u32, name: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_json(&serde_json::json!({"id": 7, "name": "Ada"}))) });
/// let client = Client::builder()
///     .engine(engine)
///     .base_url("https://api.example.com/v1/")
///     .default_header("x-team", "payments")
///     .build()?;
/// let user: User = client.get("users/7").send().await?.json().await?;
/// assert_eq!((user.id, user.name.as_str()), (7, "Ada"));
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<dyn Engine>,
    /// The base URL, kept as an origin so that "/users/7" joins to it
    /// without parsing.
    base: Option<Arc<Origin>>,
    /// Absolute request URLs naming the last origin again parse only their path.
    last_origin: LastOrigin,
    chain: Chain,
    websocket: WsConfig,
}

impl Client {
    /// A client over the real network with default settings.
    pub fn new() -> Client {
        ClientBuilder::default()
            .build()
            .expect("the default client configuration is valid")
    }

    /// A builder to configure a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Starts a `GET` request. `url` is absolute, or relative to the base URL.
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a `POST` request.
    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a `PUT` request.
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a `PATCH` request.
    pub fn patch(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// Starts a `DELETE` request.
    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Starts a `HEAD` request.
    pub fn head(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Starts an `OPTIONS` request.
    pub fn options(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::OPTIONS, url)
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        let request = self
            .resolve(url.as_ref())
            .map(|target| Request::to(method, target));
        RequestBuilder::new(self.clone(), request)
    }

    /// Opens a WebSocket to `url` (`ws://`, `wss://`, or relative to the base
    /// URL, whose `http`/`https` scheme becomes `ws`/`wss`). For headers or
    /// other options, build the request first:
    /// `client.get(url).header(…).websocket().await`.
    pub async fn websocket(&self, url: impl AsRef<str>) -> Result<WebSocket> {
        self.get(url).websocket().await
    }

    /// Opens a server-sent event stream from `url` (a `GET` with
    /// `Accept: text/event-stream`); await it for the
    /// [`EventStream`](crate::sse::EventStream). For headers, build the
    /// request first: `client.get(url).header(…).sse()`.
    pub fn sse(&self, url: impl AsRef<str>) -> crate::sse::SseRequest {
        self.get(url).sse()
    }

    /// Resolves `url` against the base URL, if it is not absolute.
    fn resolve(&self, url: &str) -> Result<Target> {
        crate::plugins::resolve(self.inner.base.as_ref(), &self.inner.last_origin, url)
    }

    /// Sends a request built elsewhere through this client: through the
    /// plugins, in their [fixed order](crate::plugins), then the engine.
    pub fn execute(&self, request: Request) -> impl Future<Output = Result<Response>> + Send + '_ {
        // The chain's own future, not an `async fn` around it: each layer of
        // future is one more state machine to poll and request to move. The
        // Redirect plugin, always in the chain, sets the response's URL when
        // the engine did not.
        self.inner
            .chain
            .start(self, self.inner.engine.as_ref())
            .run(request)
    }

    pub(crate) async fn open_websocket(&self, mut request: Request) -> Result<WebSocket> {
        let scheme = match request.url().scheme() {
            "http" | "ws" => "ws",
            "https" | "wss" => "wss",
            other => {
                return Err(Error::invalid(format!(
                    "cannot open a WebSocket to {}: scheme {other:?} is not ws, wss, http or https",
                    request.url()
                )));
            }
        };
        if request.url().scheme() != scheme {
            // Only http→ws and https→wss reach here, and those always succeed.
            let _ = request.url_mut().set_scheme(scheme);
        }
        *request.method_mut() = Method::GET;
        // The request's own settings win; engines read them from the extensions.
        let config = *request
            .extensions_mut()
            .get_or_insert_with(|| self.inner.websocket);
        if !config.subprotocols.is_empty()
            && !request
                .headers()
                .contains_key(http::header::SEC_WEBSOCKET_PROTOCOL)
        {
            let offered = HeaderValue::from_str(&config.subprotocols.join(", ")).map_err(|_| {
                Error::invalid(format!(
                    "cannot open a WebSocket to {}: subprotocols {:?} are not valid header text",
                    request.url(),
                    config.subprotocols
                ))
            })?;
            request
                .headers_mut()
                .insert(http::header::SEC_WEBSOCKET_PROTOCOL, offered);
        }
        let name = request.to_string();
        let connection = self
            .inner
            .chain
            .start(self, self.inner.engine.as_ref())
            .websocket(request)
            .await?;
        Ok(WebSocket::new(name, connection, config))
    }

    /// The engine this client sends through.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.inner.engine
    }

    /// The base URL, if one was set.
    pub fn base_url(&self) -> Option<&Url> {
        self.inner.base.as_deref().map(Origin::url)
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]; see [`Client::builder`].
///
/// Defaults: the real engine ([`HyperEngine::default`]), no base URL, a
/// `user-agent: wiretape/<version>` header, redirects followed (up to 10),
/// no timeouts, no retries, and [`WsConfig::default`] for WebSockets.
///
/// The plugin methods ([`retry`](ClientBuilder::retry),
/// [`auth`](ClientBuilder::auth), ...) can be called in any order: the
/// plugins always run in the [fixed order](crate::plugins).
#[derive(Default)]
pub struct ClientBuilder {
    engine: Option<Arc<dyn Engine>>,
    plugins: Installed,
    websocket: WsConfig,
}

impl ClientBuilder {
    /// The engine that answers requests (default: the real network).
    pub fn engine(mut self, engine: impl Engine) -> ClientBuilder {
        self.engine = Some(Arc::new(engine));
        self
    }

    /// An engine already shared elsewhere.
    pub fn shared_engine(mut self, engine: Arc<dyn Engine>) -> ClientBuilder {
        self.engine = Some(engine);
        self
    }

    /// Replaces the [`DefaultRequest`] settings (base URL, default headers
    /// and query parameters) with `defaults`.
    pub fn default_request(mut self, defaults: DefaultRequest) -> ClientBuilder {
        self.plugins.default_request = defaults;
        self
    }

    /// The URL that relative request URLs resolve against; see
    /// [`DefaultRequest::base_url`].
    pub fn base_url(mut self, url: impl AsRef<str>) -> ClientBuilder {
        self.plugins.default_request =
            std::mem::take(&mut self.plugins.default_request).base_url(url);
        self
    }

    /// A header sent with every request unless the request sets its own; see
    /// [`DefaultRequest::header`].
    pub fn default_header<K, V>(mut self, name: K, value: V) -> ClientBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        self.plugins.default_request =
            std::mem::take(&mut self.plugins.default_request).header(name, value);
        self
    }

    /// A query parameter added to every request whose URL has none of this
    /// name; see [`DefaultRequest::query`].
    pub fn default_query(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ClientBuilder {
        self.plugins.default_request =
            std::mem::take(&mut self.plugins.default_request).query(name, value);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent<V>(self, value: V) -> ClientBuilder
    where
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        self.default_header(http::header::USER_AGENT, value)
    }

    /// Request, connect and socket timeouts; a [`Duration`](std::time::Duration)
    /// sets the request timeout alone. A request's own
    /// [`RequestBuilder::timeout`] / [`RequestBuilder::timeouts`] override
    /// them. See [`Timeouts`].
    pub fn timeout(mut self, timeouts: impl Into<Timeouts>) -> ClientBuilder {
        self.plugins.timeouts = timeouts.into();
        self
    }

    /// Retries failed exchanges; see [`Retry`].
    pub fn retry(mut self, retry: Retry) -> ClientBuilder {
        self.plugins.retry = Some(retry);
        self
    }

    /// Adds credentials; see [`Auth`].
    pub fn auth(mut self, auth: Auth) -> ClientBuilder {
        self.plugins.auth = Some(auth);
        self
    }

    /// How redirects are followed (default: [`Redirect::new`], up to 10
    /// hops); [`Redirect::none`] returns `3xx` responses as they are.
    pub fn redirect(mut self, redirect: Redirect) -> ClientBuilder {
        self.plugins.redirect = redirect;
        self
    }

    /// Keeps cookies in a jar; see [`Cookies`]. Needs the `cookies` feature.
    #[cfg(feature = "cookies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
    pub fn cookies(mut self, cookies: Cookies) -> ClientBuilder {
        self.plugins.cookies = Some(cookies);
        self
    }

    /// Asks for compressed bodies and decodes them; see [`ContentEncoding`].
    pub fn content_encoding(mut self, encoding: ContentEncoding) -> ClientBuilder {
        self.plugins.content_encoding = Some(encoding);
        self
    }

    /// Logs each call; see [`Logging`].
    pub fn logging(mut self, logging: Logging) -> ClientBuilder {
        self.plugins.logging = Some(logging);
        self
    }

    /// Caches responses in memory; see [`Cache`].
    pub fn cache(mut self, cache: Cache) -> ClientBuilder {
        self.plugins.cache = Some(cache);
        self
    }

    /// Turns unwanted responses into errors; see [`ResponseValidator`].
    pub fn response_validator(mut self, validator: ResponseValidator) -> ClientBuilder {
        self.plugins.validator = validator;
        self
    }

    /// Whether `3xx`/`4xx`/`5xx` responses become
    /// [`Error::Status`] errors (default: no); a
    /// shortcut for [`ResponseValidator::expect_success`].
    pub fn expect_success(mut self, expect: bool) -> ClientBuilder {
        self.plugins.validator = std::mem::take(&mut self.plugins.validator).expect_success(expect);
        self
    }

    /// Installs your own plugin. Your plugins run after ContentEncoding and
    /// before Timeout, in the order you add them: they see each request as
    /// it is sent (once per attempt and per redirect hop) and each response
    /// before it is decoded. See [the plugin order](crate::plugins).
    pub fn plugin(mut self, plugin: impl Plugin) -> ClientBuilder {
        self.plugins.custom.push(Arc::new(plugin));
        self
    }

    /// Settings for WebSocket sessions.
    pub fn websocket_config(mut self, config: WsConfig) -> ClientBuilder {
        self.websocket = config;
        self
    }

    /// The client, or an error naming each invalid setting.
    pub fn build(self) -> Result<Client> {
        let errors = self.plugins.default_request.errors();
        if !errors.is_empty() {
            return Err(Error::invalid(format!(
                "client configuration: {}",
                errors.join("; ")
            )));
        }
        let engine = self
            .engine
            .unwrap_or_else(|| Arc::new(HyperEngine::default()));
        let base = self
            .plugins
            .default_request
            .base()
            .map(|url| Arc::new(Origin::of(url.clone())));
        Ok(Client {
            inner: Arc::new(Inner {
                engine,
                base,
                last_origin: LastOrigin::default(),
                chain: self.plugins.into_chain(),
                websocket: self.websocket,
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}
