//! Auth: basic and bearer credentials, with single-flight token refresh.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use url::Url;

#[cfg(feature = "digest-auth")]
use super::digest::{self, DigestState};
use super::{Next, Plugin};
use crate::engine::BoxFuture;
use crate::ws::WsConnection;
use crate::{Client, Error, Request, Response, Result};

type Predicate = Arc<dyn Fn(&Request) -> bool + Send + Sync>;
type LoadFn = Arc<dyn Fn() -> BoxFuture<'static, Option<BearerTokens>> + Send + Sync>;
type RefreshFn =
    Arc<dyn Fn(RefreshContext) -> BoxFuture<'static, Result<Option<BearerTokens>>> + Send + Sync>;

tokio::task_local! {
    /// Set while a `load_tokens` or `refresh_tokens` callback runs: its own calls skip Auth.
    static IN_REFRESH: ();
}

/// Adds credentials to requests (Ktor's `Auth`): HTTP basic, bearer tokens
/// that are loaded once and refreshed when a `401` arrives, or HTTP digest.
///
/// - Credentials go out with every request (preemptively, unlike Ktor's
///   basic provider) unless [`send_without_request`](Auth::send_without_request)
///   says otherwise for a request; then they are added only after a `401`.
///   A request that sets its own `Authorization` header is left alone.
/// - **Bearer refresh**: when a `401` answers a request that carried the
///   current token, [`refresh_tokens`](BearerAuth::refresh_tokens) runs and
///   the request is sent once more with the new token. Concurrent `401`s
///   share one refresh (single-flight): the others wait for it and use its
///   result. A second `401` is returned as it is, never refreshed again.
/// - **No refresh loop** (Ktor KTOR-3795): calls made from inside
///   `load_tokens` or `refresh_tokens` through the client skip Auth
///   entirely, so a refresh
///   endpoint that answers `401` fails the refresh instead of refreshing
///   again. (This holds for calls on the callback's own task; a call moved
///   to a spawned task is not recognised.)
/// - **Digest** ([`Auth::digest`], RFC 7616, the `digest-auth` feature): MD5, SHA-256 and their
///   `-sess` forms with `qop=auth`. The first request goes bare; the `401`'s
///   challenge is answered and the request resent once. Later requests
///   answer the same challenge straight away (counting `nc` up) until the
///   server sends a new one; a `stale=true` nonce is renewed without a loop,
///   and a `401` to a fresh answer (a wrong password) is returned.
/// - If the `401` carries `WWW-Authenticate` challenges, one of them must
///   name this scheme for Auth to act.
/// - A request whose body is a stream cannot be sent twice: after a refresh
///   its `401` is returned, and the next request uses the new token.
///
/// Auth runs above Redirect, so credentials are added once, for the origin
/// the application named; Redirect drops them on a hop to another origin.
/// WebSocket handshakes get the credentials too.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_error, respond_ok}, plugins::{Auth, BearerAuth, BearerTokens}};
/// use wiretape::{Client, StatusCode};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|request| async move {
///     Ok(match request.header_str("authorization") {
///         Some("Bearer fresh") => respond_ok("secret"),
///         _ => respond_error(StatusCode::UNAUTHORIZED),
///     })
/// });
/// let bearer = BearerAuth::new()
///     .load_tokens(|| async { Some(BearerTokens::new("stale", Some("r1"))) })
///     .refresh_tokens(|context| async move {
///         assert_eq!(context.old_tokens.unwrap().refresh_token.as_deref(), Some("r1"));
///         Ok(Some(BearerTokens::new("fresh", Some("r2"))))
///     });
/// let client = Client::builder().engine(engine.clone()).auth(Auth::bearer(bearer)).build()?;
/// assert_eq!(client.get("http://api.test/me").send().await?.text().await?, "secret");
/// assert_eq!(engine.request_history().len(), 2); // stale token, then the fresh one
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Auth {
    scheme: Scheme,
    send_without_request: Option<Predicate>,
}

#[derive(Clone)]
enum Scheme {
    Basic(HeaderValue),
    Bearer(Arc<Bearer>),
    #[cfg(feature = "digest-auth")]
    Digest(Arc<DigestState>),
}

impl Auth {
    /// HTTP basic authentication with `username` and `password`.
    ///
    /// ```
    /// use wiretape::{mock::{MockEngine, respond_ok}, plugins::Auth, Client};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
    /// let client = Client::builder().engine(engine.clone()).auth(Auth::basic("ada", "lovelace")).build()?;
    /// client.get("http://api.test/").send().await?;
    /// assert_eq!(engine.request_history()[0].headers()["authorization"], "Basic YWRhOmxvdmVsYWNl");
    /// # Ok::<(), wiretape::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn basic(username: impl fmt::Display, password: impl fmt::Display) -> Auth {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        // Base64 is always a valid header value.
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        value.set_sensitive(true);
        Auth {
            scheme: Scheme::Basic(value),
            send_without_request: None,
        }
    }

    /// HTTP digest authentication with `username` and `password`. Needs the
    /// `digest-auth` feature.
    ///
    /// ```
    /// use wiretape::{mock::{MockEngine, respond_ok}, plugins::Auth, Client, Response, StatusCode};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let engine = MockEngine::new(|request| async move {
    ///     Ok(match request.header_str("authorization") {
    ///         Some(answer) if answer.starts_with("Digest username=\"ada\"") => respond_ok("in"),
    ///         _ => Response::new(StatusCode::UNAUTHORIZED)
    ///             .with_header("www-authenticate", r#"Digest realm="api", qop="auth", nonce="n1", algorithm=SHA-256"#),
    ///     })
    /// });
    /// let client = Client::builder().engine(engine.clone()).auth(Auth::digest("ada", "pw")).build()?;
    /// assert_eq!(client.get("http://api.test/a").send().await?.text().await?, "in");
    /// assert_eq!(client.get("http://api.test/b").send().await?.text().await?, "in");
    /// assert_eq!(engine.request_history().len(), 3); // bare, answered, answered at once
    /// # Ok::<(), wiretape::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg(feature = "digest-auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "digest-auth")))]
    pub fn digest(username: impl Into<String>, password: impl Into<String>) -> Auth {
        Auth {
            scheme: Scheme::Digest(Arc::new(DigestState::new(username.into(), password.into()))),
            send_without_request: None,
        }
    }

    /// Bearer tokens; see [`BearerAuth`].
    pub fn bearer(bearer: BearerAuth) -> Auth {
        Auth {
            scheme: Scheme::Bearer(Arc::new(Bearer {
                load: bearer.load,
                refresh: bearer.refresh,
                slot: tokio::sync::Mutex::new(Slot::default()),
            })),
            send_without_request: None,
        }
    }

    /// Whether a request gets credentials before any `401` asks for them
    /// (default: every request does). Return `false` for requests that
    /// should go out bare, to a host that is not yours for example.
    pub fn send_without_request<F>(mut self, predicate: F) -> Auth
    where
        F: Fn(&Request) -> bool + Send + Sync + 'static,
    {
        self.send_without_request = Some(Arc::new(predicate));
        self
    }

    fn scheme_name(&self) -> &'static str {
        match self.scheme {
            Scheme::Basic(_) => "basic",
            Scheme::Bearer(_) => "bearer",
            #[cfg(feature = "digest-auth")]
            Scheme::Digest(_) => "digest",
        }
    }

    fn preemptive(&self, request: &Request) -> bool {
        self.send_without_request
            .as_ref()
            .is_none_or(|predicate| predicate(request))
    }

    /// The credentials to send now for `method` and `url`, and the token
    /// generation they belong to. (Only Digest signs `method` and `url`.)
    #[cfg_attr(not(feature = "digest-auth"), allow(unused_variables))]
    async fn current(&self, method: &Method, url: &Url) -> (Option<HeaderValue>, u64) {
        match &self.scheme {
            Scheme::Basic(value) => (Some(value.clone()), 0),
            Scheme::Bearer(bearer) => bearer.current().await,
            #[cfg(feature = "digest-auth")]
            Scheme::Digest(digest) => (digest.authorization(method, &target(url)), 0),
        }
    }

    async fn run(&self, mut request: Request, next: Next<'_>) -> Result<Response> {
        if IN_REFRESH.try_with(|_| ()).is_ok()
            || request.headers().contains_key(header::AUTHORIZATION)
        {
            return next.run(request).await;
        }
        let method = request.method().clone();
        let url = request.url().clone();
        let mut sent = None;
        if self.preemptive(&request) {
            let (value, generation) = self.current(&method, &url).await;
            if let Some(value) = value {
                request.headers_mut().insert(header::AUTHORIZATION, value);
                sent = Some(generation);
            }
        }
        let again = request.try_clone();
        let response = next.run(request).await?;
        if response.status() != StatusCode::UNAUTHORIZED || !self.challenged(response.headers()) {
            return Ok(response);
        }
        let value = match (&self.scheme, sent) {
            #[cfg(feature = "digest-auth")]
            (Scheme::Digest(digest), sent) => match digest::challenge(response.headers()) {
                // A first challenge, or a renewed nonce: answer it once.
                Some(challenge) if sent.is_none() || challenge.stale => {
                    digest.accept(challenge);
                    digest.authorization(&method, &target(&url))
                }
                // Our fresh answer was refused: the credentials are wrong.
                _ => None,
            },
            // Sent bare: now send what we have.
            (Scheme::Basic(value), None) => Some(value.clone()),
            (Scheme::Basic(_), Some(_)) => None,
            (Scheme::Bearer(bearer), None) => match bearer.current().await {
                (Some(value), _) => Some(value),
                (None, generation) => bearer.refresh(generation, &response, next.client()).await?,
            },
            (Scheme::Bearer(bearer), Some(generation)) => {
                bearer.refresh(generation, &response, next.client()).await?
            }
        };
        match (value, again) {
            (Some(value), Some(mut again)) => {
                again.headers_mut().insert(header::AUTHORIZATION, value);
                next.run(again).await
            }
            _ => Ok(response),
        }
    }

    /// Whether a `401` asks for this scheme (or names none).
    fn challenged(&self, headers: &HeaderMap) -> bool {
        let mut challenges = headers.get_all(header::WWW_AUTHENTICATE).iter().peekable();
        if challenges.peek().is_none() {
            return true;
        }
        let scheme = self.scheme_name();
        challenges.any(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',').any(|part| {
                    part.split_whitespace()
                        .next()
                        .is_some_and(|word| word.eq_ignore_ascii_case(scheme))
                })
            })
        })
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("scheme", &self.scheme_name())
            .finish_non_exhaustive()
    }
}

/// A bearer token and the refresh token that renews it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerTokens {
    /// The token sent as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// The token your refresh call exchanges for a new pair, if any.
    pub refresh_token: Option<String>,
}

impl BearerTokens {
    /// A token pair.
    pub fn new(access_token: impl Into<String>, refresh_token: Option<&str>) -> BearerTokens {
        BearerTokens {
            access_token: access_token.into(),
            refresh_token: refresh_token.map(str::to_owned),
        }
    }

    fn header(&self) -> Result<HeaderValue> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.access_token)).map_err(|_| {
                Error::invalid("the bearer access token has characters not allowed in a header")
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerTokens { <redacted> }")
    }
}

/// What a `refresh_tokens` callback gets.
#[derive(Debug)]
pub struct RefreshContext {
    /// The tokens that were rejected, if any were loaded.
    pub old_tokens: Option<BearerTokens>,
    /// The headers of the `401` (its `WWW-Authenticate` may say why).
    pub headers: HeaderMap,
    /// The client, to call the token endpoint. Calls made with it from the
    /// callback skip Auth, so they cannot trigger another refresh.
    pub client: Client,
}

/// Bearer token settings for [`Auth::bearer`].
#[derive(Default)]
pub struct BearerAuth {
    load: Option<LoadFn>,
    refresh: Option<RefreshFn>,
}

impl BearerAuth {
    /// No tokens yet: set [`load_tokens`](BearerAuth::load_tokens) and
    /// [`refresh_tokens`](BearerAuth::refresh_tokens).
    pub fn new() -> BearerAuth {
        BearerAuth::default()
    }

    /// How to get the first tokens (from storage, say); called once, on the
    /// first request.
    pub fn load_tokens<F, Fut>(mut self, load: F) -> BearerAuth
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<BearerTokens>> + Send + 'static,
    {
        self.load = Some(Arc::new(move || Box::pin(load())));
        self
    }

    /// How to get new tokens after a `401`: return `Ok(None)` when they
    /// cannot be renewed (the `401` is then returned), or an error to fail
    /// the call with it.
    pub fn refresh_tokens<F, Fut>(mut self, refresh: F) -> BearerAuth
    where
        F: Fn(RefreshContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<BearerTokens>>> + Send + 'static,
    {
        self.refresh = Some(Arc::new(move |context| Box::pin(refresh(context))));
        self
    }
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("load_tokens", &self.load.is_some())
            .field("refresh_tokens", &self.refresh.is_some())
            .finish()
    }
}

struct Bearer {
    load: Option<LoadFn>,
    refresh: Option<RefreshFn>,
    /// The tokens; holding the lock is what makes refreshes single-flight.
    slot: tokio::sync::Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    tokens: Option<BearerTokens>,
    loaded: bool,
    /// Bumped by every refresh, so a waiter can tell one happened.
    generation: u64,
}

impl Slot {
    fn header(&self) -> Option<HeaderValue> {
        self.tokens.as_ref().and_then(|tokens| tokens.header().ok())
    }
}

impl Bearer {
    async fn current(&self) -> (Option<HeaderValue>, u64) {
        let mut slot = self.slot.lock().await;
        if !slot.loaded {
            slot.loaded = true;
            if let Some(load) = &self.load {
                // A load that calls the API itself must not wait on this lock.
                slot.tokens = IN_REFRESH.scope((), load()).await;
            }
        }
        (slot.header(), slot.generation)
    }

    /// New credentials after a `401` to a request sent with `generation`:
    /// another call's refresh if one happened meanwhile, else our own.
    async fn refresh(
        &self,
        generation: u64,
        response: &Response,
        client: &Client,
    ) -> Result<Option<HeaderValue>> {
        let mut slot = self.slot.lock().await;
        if slot.generation != generation {
            // Someone refreshed while we waited: use their tokens.
            return Ok(slot.header());
        }
        let Some(refresh) = &self.refresh else {
            return Ok(None);
        };
        let context = RefreshContext {
            old_tokens: slot.tokens.clone(),
            headers: response.headers().clone(),
            client: client.clone(),
        };
        let Some(tokens) = IN_REFRESH.scope((), refresh(context)).await? else {
            return Ok(None);
        };
        let value = tokens.header()?;
        slot.tokens = Some(tokens);
        slot.loaded = true;
        slot.generation += 1;
        Ok(Some(value))
    }
}

struct AuthPlugin(Auth);

impl Plugin for AuthPlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        Box::pin(self.0.run(request, next))
    }

    fn websocket<'a>(
        &'a self,
        mut request: Request,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<WsConnection>> {
        Box::pin(async move {
            if !request.headers().contains_key(header::AUTHORIZATION) && self.0.preemptive(&request)
            {
                let (method, url) = (request.method().clone(), request.url().clone());
                if let (Some(value), _) = self.0.current(&method, &url).await {
                    request.headers_mut().insert(header::AUTHORIZATION, value);
                }
            }
            next.websocket(request).await
        })
    }
}

pub(super) fn plugin(config: Auth) -> Arc<dyn Plugin> {
    Arc::new(AuthPlugin(config))
}

/// The request target of `url` (path and query), as Digest signs it.
#[cfg(feature = "digest-auth")]
fn target(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}
