//! The client: one per application, cheap to clone, sharing its engine.

mod multipart;
mod request_builder;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

pub use self::multipart::{Form, Part};
pub use self::request_builder::{RequestBuilder, RequestTimeout};
use crate::engine::{Engine, HyperEngine};
use crate::ws::{WebSocket, WsConfig};
use crate::{Error, Request, Response, Result, TimeoutKind};

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
    base_url: Option<Url>,
    default_headers: HeaderMap,
    timeout: Option<Duration>,
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
            .map(|url| Request::new(method, url));
        RequestBuilder::new(self.clone(), request)
    }

    /// Opens a WebSocket to `url` (`ws://`, `wss://`, or relative to the base
    /// URL, whose `http`/`https` scheme becomes `ws`/`wss`). For headers or
    /// other options, build the request first:
    /// `client.get(url).header(…).websocket().await`.
    pub async fn websocket(&self, url: impl AsRef<str>) -> Result<WebSocket> {
        self.get(url).websocket().await
    }

    /// Resolves `url` against the base URL, if it is not absolute.
    fn resolve(&self, url: &str) -> Result<Url> {
        match Url::parse(url) {
            Ok(url) => Ok(url),
            Err(url::ParseError::RelativeUrlWithoutBase) => match &self.inner.base_url {
                Some(base) => base.join(url).map_err(|err| {
                    Error::invalid(format!(
                        "cannot resolve {url:?} against base URL {base}: {err}"
                    ))
                }),
                None => Err(Error::invalid(format!(
                    "relative URL {url:?} needs a base URL; set one with ClientBuilder::base_url or pass an absolute URL"
                ))),
            },
            Err(err) => Err(Error::invalid(format!("invalid URL {url:?}: {err}"))),
        }
    }

    /// Sends a request built elsewhere through this client: default headers
    /// are added (the request's own values win), then the engine answers.
    pub async fn execute(&self, mut request: Request) -> Result<Response> {
        self.prepare(&mut request);
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map(|t| t.0)
            .or(self.inner.timeout);
        let url = request.url().clone();
        let name = request.to_string();
        let exchange = self.inner.engine.execute(request);
        let mut response = match timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|_| Error::timeout(TimeoutKind::Request, name, Some(limit)))??,
            None => exchange.await?,
        };
        if !response.has_url() {
            response.set_url(url);
        }
        Ok(response)
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
        self.prepare(&mut request);
        if request.extensions().get::<WsConfig>().is_none() {
            request.extensions_mut().insert(self.inner.websocket);
        }
        let config = *request
            .extensions()
            .get::<WsConfig>()
            .unwrap_or(&self.inner.websocket);
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map(|t| t.0)
            .or(self.inner.timeout);
        let name = request.to_string();
        let handshake = self.inner.engine.websocket(request);
        let connection = match timeout {
            Some(limit) => tokio::time::timeout(limit, handshake)
                .await
                .map_err(|_| Error::timeout(TimeoutKind::Request, name.clone(), Some(limit)))??,
            None => handshake.await?,
        };
        Ok(WebSocket::new(name, connection, config))
    }

    fn prepare(&self, request: &mut Request) {
        for name in self.inner.default_headers.keys() {
            if !request.headers().contains_key(name) {
                for value in self.inner.default_headers.get_all(name) {
                    request.headers_mut().append(name.clone(), value.clone());
                }
            }
        }
    }

    /// The engine this client sends through.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.inner.engine
    }

    /// The base URL, if one was set.
    pub fn base_url(&self) -> Option<&Url> {
        self.inner.base_url.as_ref()
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
            .field("base_url", &self.inner.base_url.as_ref().map(Url::as_str))
            .field("default_headers", &self.inner.default_headers)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]; see [`Client::builder`].
///
/// Defaults: the real engine ([`HyperEngine::default`]), no base URL, a
/// `user-agent: wiretape/<version>` header, no timeout, and
/// [`WsConfig::default`] for WebSockets.
pub struct ClientBuilder {
    engine: Option<Arc<dyn Engine>>,
    base_url: Option<String>,
    default_headers: HeaderMap,
    errors: Vec<String>,
    timeout: Option<Duration>,
    websocket: WsConfig,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        let mut default_headers = HeaderMap::new();
        default_headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("wiretape/", env!("CARGO_PKG_VERSION"))),
        );
        ClientBuilder {
            engine: None,
            base_url: None,
            default_headers,
            errors: Vec::new(),
            timeout: None,
            websocket: WsConfig::default(),
        }
    }
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

    /// The URL that relative request URLs resolve against, by the rules of
    /// [`Url::join`]: with `https://api.test/v1/`, `users` becomes
    /// `https://api.test/v1/users` and `/users` becomes `https://api.test/users`.
    /// End the base with `/` to keep its last path segment.
    pub fn base_url(mut self, url: impl AsRef<str>) -> ClientBuilder {
        self.base_url = Some(url.as_ref().to_owned());
        self
    }

    /// A header sent with every request unless the request sets its own.
    pub fn default_header<K, V>(mut self, name: K, value: V) -> ClientBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.default_headers.insert(name, value);
            }
            (Err(err), _) => self
                .errors
                .push(format!("invalid default header name: {err}")),
            (Ok(name), Err(err)) => self
                .errors
                .push(format!("invalid value for default header {name}: {err}")),
        }
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

    /// A limit on each whole call (until the response head arrives). A
    /// request's own [`RequestBuilder::timeout`] overrides it.
    pub fn timeout(mut self, limit: Duration) -> ClientBuilder {
        self.timeout = Some(limit);
        self
    }

    /// Settings for WebSocket sessions.
    pub fn websocket_config(mut self, config: WsConfig) -> ClientBuilder {
        self.websocket = config;
        self
    }

    /// The client, or an error naming each invalid setting.
    pub fn build(self) -> Result<Client> {
        let mut errors = self.errors;
        let base_url = match self.base_url.as_deref().map(Url::parse).transpose() {
            Ok(url) => url,
            Err(err) => {
                errors.push(format!(
                    "invalid base URL {:?}: {err}",
                    self.base_url.unwrap_or_default()
                ));
                None
            }
        };
        if !errors.is_empty() {
            return Err(Error::invalid(format!(
                "client configuration: {}",
                errors.join("; ")
            )));
        }
        let engine = self
            .engine
            .unwrap_or_else(|| Arc::new(HyperEngine::default()));
        Ok(Client {
            inner: Arc::new(Inner {
                engine,
                base_url,
                default_headers: self.default_headers,
                timeout: self.timeout,
                websocket: self.websocket,
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("default_headers", &self.default_headers)
            .finish_non_exhaustive()
    }
}
