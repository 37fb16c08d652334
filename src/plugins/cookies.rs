//! Cookies: an in-memory jar, kept by the `cookie_store` crate.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use cookie_store::{CookieExpiration, CookieStore, RawCookie};
use http::{HeaderMap, HeaderValue, header};
use url::Url;

use super::{Next, Plugin};
use crate::engine::BoxFuture;
use crate::ws::WsConnection;
use crate::{Error, Request, Response, Result};

/// Keeps cookies between requests (Ktor's `HttpCookies`).
///
/// Every `Set-Cookie` of every response (each redirect hop included) goes
/// into the [`CookieJar`], under RFC 6265's rules as `cookie_store`
/// implements them: a cookie is sent only to its domain (host-only unless it
/// names one) and path, `Secure` cookies only over `https`, expired ones
/// never, and a server cannot set cookies for another site. A request's own
/// `Cookie` header is kept, and the jar adds the cookies whose names it does
/// not already carry.
///
/// Needs the `cookies` feature.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_ok}, plugins::{CookieJar, Cookies}, Client, Response, StatusCode};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|request| async move {
///     Ok(match request.url().path() {
///         "/login" => Response::new(StatusCode::OK).with_header("set-cookie", "session=abc; Path=/; HttpOnly"),
///         _ => respond_ok(request.header_str("cookie").unwrap_or("none").to_owned()),
///     })
/// });
/// let jar = CookieJar::new();
/// let client = Client::builder().engine(engine).cookies(Cookies::with_jar(jar.clone())).build()?;
/// client.post("http://shop.test/login").send().await?;
/// assert_eq!(client.get("http://shop.test/cart").send().await?.text().await?, "session=abc");
/// assert_eq!(client.get("http://other.test/").send().await?.text().await?, "none");
/// assert_eq!(jar.all()[0].name, "session");
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
#[derive(Clone, Debug, Default)]
pub struct Cookies {
    jar: CookieJar,
}

impl Cookies {
    /// Cookies kept in a new, empty jar.
    pub fn new() -> Cookies {
        Cookies::default()
    }

    /// Cookies kept in `jar`, which you can read and change while the
    /// client uses it.
    pub fn with_jar(jar: CookieJar) -> Cookies {
        Cookies { jar }
    }

    /// The jar (a handle: clones share the cookies).
    pub fn jar(&self) -> &CookieJar {
        &self.jar
    }

    fn add_to(&self, request: &mut Request) {
        let own: Vec<String> = request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|text| text.split(';'))
            .filter_map(|pair| pair.split('=').next())
            .map(|name| name.trim().to_owned())
            .collect();
        let pairs: Vec<String> = self
            .jar
            .cookies_for(&as_http(request.url()))
            .into_iter()
            .filter(|(name, _)| !own.contains(name))
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if pairs.is_empty() {
            return;
        }
        let mut line = pairs.join("; ");
        if let Some(existing) = request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
        {
            line = format!("{existing}; {line}");
        }
        // Cookie names and values from a parsed Set-Cookie are header-safe.
        if let Ok(mut value) = HeaderValue::from_str(&line) {
            value.set_sensitive(true);
            request.headers_mut().insert(header::COOKIE, value);
        }
    }
}

/// The URL as the jar sees it: a WebSocket handshake is an HTTP request, so
/// `ws`/`wss` count as `http`/`https`.
fn as_http(url: &Url) -> Url {
    let mut url = url.clone();
    let http_scheme = match url.scheme() {
        "ws" => Some("http"),
        "wss" => Some("https"),
        _ => None,
    };
    if let Some(scheme) = http_scheme {
        let _ = url.set_scheme(scheme);
    }
    url
}

/// A cookie as the jar holds it. Needs the `cookies` feature.
#[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCookie {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
    /// The domain it is sent to (the host that set it, for a host-only cookie).
    pub domain: String,
    /// The path it is sent under.
    pub path: String,
    /// Whether it is sent over `https` only.
    pub secure: bool,
    /// Whether scripts may not read it (`HttpOnly`).
    pub http_only: bool,
    /// When it expires; `None` for a session cookie.
    pub expires: Option<SystemTime>,
}

/// The cookie store the [`Cookies`] plugin reads and fills. A handle: clones
/// share the cookies. Needs the `cookies` feature.
///
/// ```
/// use wiretape::{plugins::CookieJar, Url};
///
/// let jar = CookieJar::new();
/// let site: Url = "https://shop.test/account/".parse().unwrap();
/// jar.add("theme=dark; Path=/; Max-Age=3600", &site)?;
/// jar.add("token=t0; Secure", &site)?;
/// let plain: Url = "http://shop.test/account/".parse().unwrap();
/// assert_eq!(jar.cookies_for(&plain), [("theme".to_string(), "dark".to_string())]);
/// assert_eq!(jar.cookies_for(&site).len(), 2);
/// # Ok::<(), wiretape::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
#[derive(Clone, Default)]
pub struct CookieJar {
    store: Arc<Mutex<CookieStore>>,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    fn store(&self) -> MutexGuard<'_, CookieStore> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a cookie as if `url` had sent `set_cookie` (a `Set-Cookie`
    /// header value), or says why it was rejected.
    pub fn add(&self, set_cookie: &str, url: &Url) -> Result<()> {
        self.store()
            .parse(set_cookie, url)
            .map(|_| ())
            .map_err(|err| {
                Error::invalid(format!(
                    "cookie {set_cookie:?} from {url} was rejected: {err}"
                ))
            })
    }

    /// The `(name, value)` pairs a request to `url` would carry.
    pub fn cookies_for(&self, url: &Url) -> Vec<(String, String)> {
        self.store()
            .get_request_values(url)
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    /// Every cookie that has not expired.
    pub fn all(&self) -> Vec<StoredCookie> {
        self.store()
            .iter_unexpired()
            .map(|cookie| StoredCookie {
                name: cookie.name().to_owned(),
                value: cookie.value().to_owned(),
                domain: String::from(&cookie.domain),
                path: String::from(&cookie.path),
                secure: cookie.secure().unwrap_or(false),
                http_only: cookie.http_only().unwrap_or(false),
                expires: match &cookie.expires {
                    CookieExpiration::AtUtc(at) => Some(SystemTime::from(*at)),
                    CookieExpiration::SessionEnd => None,
                },
            })
            .collect()
    }

    /// Removes the cookie `name` of `domain` and `path`; whether there was one.
    pub fn remove(&self, domain: &str, path: &str, name: &str) -> bool {
        self.store().remove(domain, path, name).is_some()
    }

    /// Removes every cookie.
    pub fn clear(&self) {
        self.store().clear();
    }

    fn store_response(&self, headers: &HeaderMap, url: &Url) {
        let cookies: Vec<RawCookie<'static>> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| RawCookie::parse(text.to_owned()).ok())
            .collect();
        if !cookies.is_empty() {
            self.store()
                .store_response_cookies(cookies.into_iter(), url);
        }
    }
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("cookies", &self.store().iter_unexpired().count())
            .finish()
    }
}

struct CookiesPlugin(Cookies);

impl Plugin for CookiesPlugin {
    fn call<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async move {
            self.0.add_to(&mut request);
            let url = request.url().clone();
            let response = next.run(request).await?;
            self.0.jar.store_response(response.headers(), &url);
            Ok(response)
        })
    }

    fn websocket<'a>(
        &'a self,
        mut request: Request,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<WsConnection>> {
        Box::pin(async move {
            self.0.add_to(&mut request);
            let url = as_http(request.url());
            let connection = next.websocket(request).await?;
            // The handshake's `101` may set cookies too (a session).
            self.0
                .jar
                .store_response(connection.response().headers(), &url);
            Ok(connection)
        })
    }
}

pub(super) fn plugin(config: Cookies) -> Arc<dyn Plugin> {
    Arc::new(CookiesPlugin(config))
}
