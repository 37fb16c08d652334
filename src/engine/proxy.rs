//! Proxies for [`HyperEngine`](super::HyperEngine): which requests go
//! through one, and the connector that takes them there.
//!
//! Why a module of its own: the rules (environment variables, `NO_PROXY`,
//! loopback) are a policy users configure and tests check without a
//! network, while the connector is plumbing the engine plugs in. The rules
//! are hyper-util's [`Matcher`] (curl's reading of `HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`); the CONNECT tunnel and the
//! SOCKS5 handshake are hyper-util's too. What this module adds is what a
//! test suite needs: an environment passed in rather than read from the
//! process, loopback left alone, credentials kept out of `Debug`, and errors
//! that say whether the proxy or the origin failed.
//!
//! How each request travels:
//! - `http://` through an HTTP proxy: the request goes to the proxy in
//!   absolute form (`GET http://origin/path`), with `Proxy-Authorization`
//!   when the proxy URL has credentials;
//! - `https://`, `wss://` and `ws://` through an HTTP proxy: a `CONNECT`
//!   tunnel, then TLS (for `https`/`wss`) with the origin inside it;
//! - anything through a `socks5://` (or `socks5h://`, names resolved by the
//!   proxy) proxy: a SOCKS5 connection, with user and password when given.
//!
//! The engine adds the proxy hop below every plugin and every cassette, so a
//! recorder sees (and stores) the origin exchange only: a tape recorded
//! behind a proxy replays without one, and the proxy's credentials never
//! reach it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{BoxError, ConnectFailure, Error, Result};

/// Which requests go through a proxy, and which proxy.
///
/// By default a [`HyperEngine`](super::HyperEngine) reads its proxies from
/// the process environment as curl and reqwest do ([`Proxies::from_env`]):
/// `HTTP_PROXY` for `http://` and `ws://`, `HTTPS_PROXY` for `https://` and
/// `wss://`, `ALL_PROXY` for both when the specific one is unset, and
/// `NO_PROXY` for exceptions (comma-separated host suffixes such as
/// `example.com` or `.example.com`, IP addresses, CIDR blocks such as
/// `10.0.0.0/8`, or `*` for everything). Each name is read in upper case
/// first, then lower case. Loopback destinations (`localhost`, `127.0.0.0/8`,
/// `::1`) are never proxied unless [`proxy_loopback`](Proxies::proxy_loopback)
/// says so.
///
/// A proxy URL is `http://[user:password@]host:port`, `https://…` (TLS to
/// the proxy is not supported: it is an error), `socks5://…` or
/// `socks5h://…`; a URL without a scheme means `http://`. Credentials are
/// secrets: `Debug` and every error show the URL with them replaced by
/// `<REDACTED>`.
///
/// ```
/// use wiretape::engine::{HyperEngine, Proxies};
///
/// # fn run() -> wiretape::Result<()> {
/// // Everything through a corporate proxy, except the internal network.
/// let proxies = Proxies::none()
///     .all("http://ada:s3cret@proxy.corp.example:3128")?
///     .no_proxy("internal.example, 10.0.0.0/8");
/// assert!(proxies.proxy_for("https://api.example.com/v1").is_some());
/// assert!(proxies.proxy_for("https://wiki.internal.example/").is_none());
/// assert!(!format!("{proxies:?}").contains("s3cret"));
///
/// // The same rules from environment variables, without touching the
/// // process environment (what a test does).
/// let from_env = Proxies::from_vars([("HTTPS_PROXY", "http://127.0.0.1:3128"), ("no_proxy", "*.test")]);
/// assert!(from_env.proxy_for("https://api.example.com/").is_some());
/// assert!(from_env.proxy_for("http://api.example.com/").is_none());
///
/// let engine = HyperEngine::builder().proxies(proxies).build()?;
/// # let _ = engine; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Proxies {
    all: Option<String>,
    http: Option<String>,
    https: Option<String>,
    no: String,
    loopback: bool,
    matcher: Arc<Matcher>,
}

impl Default for Proxies {
    /// [`Proxies::none`].
    fn default() -> Self {
        Proxies::none()
    }
}

impl Proxies {
    /// No proxy for anything: what [`HyperEngineBuilder::no_proxy`](super::HyperEngineBuilder::no_proxy)
    /// installs.
    pub fn none() -> Proxies {
        Proxies {
            all: None,
            http: None,
            https: None,
            no: String::new(),
            loopback: false,
            matcher: Arc::new(Matcher::builder().build()),
        }
    }

    /// The proxies the process environment names (`HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, upper case first, then lower
    /// case). The engine's default.
    pub fn from_env() -> Proxies {
        Proxies::from_vars(std::env::vars())
    }

    /// The proxies these variables name, read as [`from_env`](Proxies::from_env)
    /// reads the process environment: a test passes its own variables and
    /// never races other tests on the process's. A value that is not a
    /// usable proxy URL is skipped with a warning (as curl does). Under CGI
    /// (`REQUEST_METHOD` is set) the upper-case `HTTP_PROXY` is ignored: a
    /// client's `Proxy:` request header arrives under that name.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Proxies
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let get = |name: &str| {
            let lower = name.to_ascii_lowercase();
            [name, lower.as_str()].iter().find_map(|wanted| {
                vars.iter()
                    .find(|(k, v)| k == wanted && !v.trim().is_empty())
                    .map(|(_, v)| v.trim().to_owned())
            })
        };
        let checked = |name: &str| {
            get(name).filter(|value| match check_proxy_url(value) {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!("ignoring {name}: {err}");
                    false
                }
            })
        };
        let mut proxies = Proxies::none();
        proxies.all = checked("ALL_PROXY");
        // Under CGI a request's `Proxy:` header arrives as HTTP_PROXY
        // ("httpoxy"): only the lower-case name is trusted there, as curl
        // trusts only the lower-case name everywhere.
        let cgi = vars.iter().any(|(k, _)| k == "REQUEST_METHOD");
        proxies.http = if cgi {
            vars.iter()
                .find(|(k, v)| k == "http_proxy" && !v.trim().is_empty())
                .and_then(|(_, v)| check_proxy_url(v).ok().map(|()| v.trim().to_owned()))
        } else {
            checked("HTTP_PROXY")
        };
        proxies.https = checked("HTTPS_PROXY");
        proxies.no = get("NO_PROXY").unwrap_or_default();
        proxies.rebuild()
    }

    /// Sends every request (`http`, `https`, `ws`, `wss`) through `url`,
    /// unless [`http`](Proxies::http) or [`https`](Proxies::https) name
    /// another for that scheme. An error names a URL that is not a proxy URL.
    pub fn all(mut self, url: &str) -> Result<Proxies> {
        check_proxy_url(url)?;
        self.all = Some(url.trim().to_owned());
        Ok(self.rebuild())
    }

    /// Sends `http://` and `ws://` requests through `url`.
    pub fn http(mut self, url: &str) -> Result<Proxies> {
        check_proxy_url(url)?;
        self.http = Some(url.trim().to_owned());
        Ok(self.rebuild())
    }

    /// Sends `https://` and `wss://` requests through `url`.
    pub fn https(mut self, url: &str) -> Result<Proxies> {
        check_proxy_url(url)?;
        self.https = Some(url.trim().to_owned());
        Ok(self.rebuild())
    }

    /// Exceptions, written as `NO_PROXY` is: comma-separated host suffixes,
    /// IP addresses, CIDR blocks, or `*` for every host. Replaces what the
    /// environment said.
    pub fn no_proxy(mut self, rules: &str) -> Proxies {
        self.no = rules.to_owned();
        self.rebuild()
    }

    /// Whether loopback destinations (`localhost`, `127.0.0.0/8`, `::1`) go
    /// through the proxy too (default: no, they never do).
    pub fn proxy_loopback(mut self, proxied: bool) -> Proxies {
        self.loopback = proxied;
        self
    }

    /// The proxy `url` would go through, with its credentials redacted, or
    /// `None` when it goes direct (or is not a URL).
    pub fn proxy_for(&self, url: &str) -> Option<String> {
        let uri: Uri = url.parse().ok()?;
        self.intercept(&uri).map(|route| route.redacted.clone())
    }

    /// The proxy route for a destination, `None` to go direct. `ws`/`wss`
    /// follow `http`/`https`.
    pub(crate) fn intercept(&self, dst: &Uri) -> Option<Route> {
        // The common case, no proxy at all, costs no URI rebuilt per request.
        if self.is_empty() {
            return None;
        }
        let host = dst.host()?;
        if !self.loopback && is_loopback(host) {
            return None;
        }
        let scheme = match dst.scheme_str()? {
            "http" | "ws" => "http",
            "https" | "wss" => "https",
            _ => return None,
        };
        let as_http: Uri = format!("{scheme}://{}/", dst.authority()?).parse().ok()?;
        let intercept = self.matcher.intercept(&as_http)?;
        let configured = match scheme {
            "http" => self.http.as_ref().or(self.all.as_ref()),
            _ => self.https.as_ref().or(self.all.as_ref()),
        };
        Some(Route {
            redacted: configured.map(|url| redact(url)).unwrap_or_default(),
            intercept,
        })
    }

    /// Whether no request at all can go through a proxy.
    pub(crate) fn is_empty(&self) -> bool {
        self.all.is_none() && self.http.is_none() && self.https.is_none()
    }

    fn rebuild(mut self) -> Proxies {
        let mut builder = Matcher::builder().no(self.no.clone());
        if let Some(all) = &self.all {
            builder = builder.all(all.clone());
        }
        if let Some(http) = &self.http {
            builder = builder.http(http.clone());
        }
        if let Some(https) = &self.https {
            builder = builder.https(https.clone());
        }
        self.matcher = Arc::new(builder.build());
        self
    }
}

impl fmt::Debug for Proxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |url: &Option<String>| url.as_deref().map(redact);
        f.debug_struct("Proxies")
            .field("all", &show(&self.all))
            .field("http", &show(&self.http))
            .field("https", &show(&self.https))
            .field("no_proxy", &self.no)
            .field("proxy_loopback", &self.loopback)
            .finish()
    }
}

/// Where one destination's connection goes.
#[derive(Clone)]
pub(crate) struct Route {
    intercept: Intercept,
    /// The proxy URL with its credentials redacted, for messages.
    redacted: String,
}

impl Route {
    fn is_socks(&self) -> bool {
        self.intercept
            .uri()
            .scheme_str()
            .is_some_and(|s| s.starts_with("socks"))
    }

    /// Whether a plain `http://` request goes to this proxy in absolute
    /// form, rather than through a tunnel.
    fn forwards_http(&self) -> bool {
        !self.is_socks()
    }

    /// The `Proxy-Authorization` value for an HTTP proxy with credentials.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.intercept.basic_auth()
    }

    /// A stream to `dst` through this proxy: a CONNECT tunnel or a SOCKS5
    /// connection. The error says the proxy failed, and how.
    pub(crate) async fn tunnel(
        &self,
        connector: HttpConnector,
        dst: Uri,
    ) -> std::result::Result<TokioIo<TcpStream>, BoxError> {
        let proxy = self.intercept.uri().clone();
        let target = dst.authority().map(|a| a.to_string()).unwrap_or_default();
        // The TCP connection to the proxy first, so that its failure is
        // reported as the proxy's; the handshake then runs over it.
        let connected = Established(Some(self.connect(connector).await?));
        if self.is_socks() {
            let mut socks = SocksV5::new(proxy.clone(), connected)
                .local_dns(proxy.scheme_str() == Some("socks5"));
            if let Some((user, password)) = self.intercept.raw_auth() {
                socks = socks.with_auth(user.to_owned(), password.to_owned());
            }
            return tower_service::Service::call(&mut socks, dst)
                .await
                .map_err(|err| self.failure(&target, &err));
        }
        let mut tunnel = Tunnel::new(proxy, connected);
        if let Some(auth) = self.authorization() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        tower_service::Service::call(&mut tunnel, dst)
            .await
            .map_err(|err| self.failure(&target, &err))
    }

    /// A direct TCP connection to the proxy itself (for absolute-form HTTP).
    async fn connect(
        &self,
        mut connector: HttpConnector,
    ) -> std::result::Result<TokioIo<TcpStream>, BoxError> {
        tower_service::Service::call(&mut connector, self.intercept.uri().clone())
            .await
            .map_err(|err| self.failure("", &err))
    }

    /// What failed, as an error that names the proxy (never its
    /// credentials): refused by the proxy's host, or refused by the proxy.
    /// A timeout stays a connect timeout.
    fn failure(&self, target: &str, error: &(dyn StdError + 'static)) -> BoxError {
        let proxy = &self.redacted;
        let mut current = Some(error);
        let mut text = Vec::new();
        while let Some(err) = current {
            if let Some(io) = err.downcast_ref::<io::Error>() {
                match io.kind() {
                    io::ErrorKind::TimedOut => {
                        return Box::new(io::Error::new(io::ErrorKind::TimedOut, io.to_string()));
                    }
                    io::ErrorKind::ConnectionRefused => {
                        return Box::new(Error::connect(
                            ConnectFailure::ProxyRefused,
                            "",
                            format!(
                                "the proxy {proxy} refused the connection ({io}); is it running?"
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            let line = err.to_string();
            if !text.contains(&line) {
                text.push(line);
            }
            current = err.source();
        }
        let what = text.join(": ");
        let message = if what.contains("proxy authorization required") {
            if self.authorization().is_some() || self.intercept.raw_auth().is_some() {
                format!(
                    "the proxy {proxy} rejected its credentials (407 Proxy Authentication Required)"
                )
            } else {
                format!(
                    "the proxy {proxy} requires credentials (407 Proxy Authentication Required); \
                     put them in the proxy URL: http://user:password@host:port"
                )
            }
        } else if what.contains("unsuccessful") {
            format!("the proxy {proxy} refused to open a tunnel to {target}: {what}")
        } else {
            format!("the proxy {proxy} failed: {what}")
        };
        Box::new(Error::connect(ConnectFailure::Proxy, "", message))
    }
}

/// A connector that hands out one connection already made: how a tunnel or
/// SOCKS handshake runs over the proxy connection [`Route::connect`] made.
struct Established(Option<TokioIo<TcpStream>>);

impl tower_service::Service<Uri> for Established {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<TokioIo<TcpStream>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _proxy: Uri) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .ok_or_else(|| io::Error::other("the proxy connection was already used")),
        )
    }
}

/// Whether `url` is a proxy URL we can use; the error names it (redacted).
fn check_proxy_url(url: &str) -> Result<()> {
    let url = url.trim();
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let parsed = url::Url::parse(&with_scheme)
        .map_err(|err| Error::invalid(format!("proxy URL {} is not a URL: {err}", redact(url))))?;
    match parsed.scheme() {
        "http" | "socks5" | "socks5h" => {}
        "https" => {
            return Err(Error::invalid(format!(
                "proxy URL {}: TLS to the proxy itself is not supported; use http:// (HTTPS requests still go through a CONNECT tunnel)",
                redact(url)
            )));
        }
        other => {
            return Err(Error::invalid(format!(
                "proxy URL {}: scheme {other:?} is not http, socks5 or socks5h",
                redact(url)
            )));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(format!(
            "proxy URL {} has no host",
            redact(url)
        )));
    }
    Ok(())
}

/// `url` with any `user:password@` replaced by `<REDACTED>@`.
fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}<REDACTED>{}", &rest[at..]),
        None => url.to_owned(),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The engine's TCP connector, taking each connection through its proxy
/// when [`Proxies`] says so. hyper-rustls wraps it, so TLS to the origin
/// runs inside a tunnel.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    pub(crate) http: HttpConnector,
    /// Shared with the engine's settings.
    pub(crate) proxies: Arc<Proxies>,
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = super::BoxFuture<'static, std::result::Result<TokioIo<TcpStream>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let route = self.proxies.intercept(&dst);
        Box::pin(async move {
            match route {
                None => Ok(http.call(dst).await?),
                Some(route) if forwards(&route, &dst) => route.connect(http).await,
                Some(route) => route.tunnel(http, with_port(dst)).await,
            }
        })
    }
}

/// Whether a request to `dst` goes to its proxy in absolute form (plain
/// `http` through an HTTP proxy) rather than through a tunnel.
fn forwards(route: &Route, dst: &Uri) -> bool {
    dst.scheme_str() == Some("http") && route.forwards_http()
}

impl Proxies {
    /// The route for a request to `dst` that goes to an HTTP proxy in
    /// absolute form, `None` when it goes direct or through a tunnel: the
    /// connection is then marked proxied, and the request carries
    /// `Proxy-Authorization`.
    pub(crate) fn forwarding(&self, dst: &Uri) -> Option<Route> {
        self.intercept(dst).filter(|route| forwards(route, dst))
    }
}

/// `dst` with its port written out, so a tunnel asks for the right one.
pub(crate) fn with_port(dst: Uri) -> Uri {
    if dst.port().is_some() {
        return dst;
    }
    let port = match dst.scheme_str() {
        Some("https" | "wss") => 443,
        _ => 80,
    };
    let host = dst.host().unwrap_or_default();
    let scheme = dst.scheme_str().unwrap_or("http");
    format!("{scheme}://{host}:{port}/").parse().unwrap_or(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(proxies: &Proxies, url: &str) -> Option<String> {
        proxies.proxy_for(url)
    }

    #[test]
    fn environment_variables_pick_the_proxy_per_scheme() {
        let proxies = Proxies::from_vars([
            ("http_proxy", "http://plain:1"),
            ("HTTPS_PROXY", "http://secure:2"),
        ]);
        assert_eq!(
            via(&proxies, "http://a.example/").as_deref(),
            Some("http://plain:1")
        );
        assert_eq!(
            via(&proxies, "ws://a.example/").as_deref(),
            Some("http://plain:1")
        );
        assert_eq!(
            via(&proxies, "https://a.example/").as_deref(),
            Some("http://secure:2")
        );
        assert_eq!(
            via(&proxies, "wss://a.example/").as_deref(),
            Some("http://secure:2")
        );
    }

    #[test]
    fn upper_case_wins_and_all_proxy_fills_the_gaps() {
        let proxies = Proxies::from_vars([
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:1"),
            ("all_proxy", "socks5h://every:3"),
        ]);
        assert_eq!(
            via(&proxies, "http://a.example/").as_deref(),
            Some("http://upper:1")
        );
        assert_eq!(
            via(&proxies, "https://a.example/").as_deref(),
            Some("socks5h://every:3")
        );
    }

    #[test]
    fn under_cgi_the_upper_case_http_proxy_is_a_request_header_and_ignored() {
        let cgi = Proxies::from_vars([
            ("REQUEST_METHOD", "GET"),
            ("HTTP_PROXY", "http://attacker:1"),
        ]);
        assert!(via(&cgi, "http://a.example/").is_none());
        let lower =
            Proxies::from_vars([("REQUEST_METHOD", "GET"), ("http_proxy", "http://mine:1")]);
        assert_eq!(
            via(&lower, "http://a.example/").as_deref(),
            Some("http://mine:1")
        );
    }

    #[test]
    fn no_proxy_takes_suffixes_cidrs_and_a_star() {
        let proxies = Proxies::from_vars([
            ("ALL_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                "internal.example, .corp.example,10.0.0.0/8 ,192.168.1.7",
            ),
        ]);
        assert!(via(&proxies, "http://internal.example/").is_none());
        assert!(via(&proxies, "http://wiki.internal.example/").is_none());
        assert!(via(&proxies, "https://git.corp.example/").is_none());
        assert!(via(&proxies, "http://10.20.30.40:8080/").is_none());
        assert!(via(&proxies, "http://192.168.1.7/").is_none());
        assert!(via(&proxies, "http://192.168.1.8/").is_some());
        assert!(via(&proxies, "http://notinternal.example/").is_some());
        let star = Proxies::from_vars([("ALL_PROXY", "http://proxy:3128"), ("no_proxy", "*")]);
        assert!(via(&star, "https://anything.example/").is_none());
    }

    #[test]
    fn loopback_is_direct_unless_asked() {
        let proxies = Proxies::none().all("http://proxy:3128").unwrap();
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "https://[::1]:8443/",
            "http://api.localhost/",
        ] {
            assert!(via(&proxies, url).is_none(), "{url} went through the proxy");
        }
        let asked = proxies.proxy_loopback(true);
        assert!(via(&asked, "http://127.0.0.1:8080/").is_some());
    }

    #[test]
    fn credentials_never_show() {
        let proxies = Proxies::none().all("http://ada:s3cret@proxy:3128").unwrap();
        assert_eq!(
            via(&proxies, "http://a.example/").as_deref(),
            Some("http://<REDACTED>@proxy:3128")
        );
        assert!(!format!("{proxies:?}").contains("s3cret"));
        let engine = super::super::HyperEngine::builder()
            .proxies(proxies)
            .build()
            .unwrap();
        let shown = format!("{engine:?}");
        assert!(
            shown.contains("<REDACTED>@proxy:3128") && !shown.contains("s3cret"),
            "{shown}"
        );
        let err = Proxies::none()
            .all("ftp://ada:s3cret@proxy:21")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ftp") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn unusable_urls_are_errors_or_skipped() {
        let err = Proxies::none()
            .https("https://proxy:443")
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS to the proxy"), "{err}");
        let err = Proxies::none().http("http://").unwrap_err().to_string();
        assert!(err.contains("proxy URL"), "{err}");
        let skipped = Proxies::from_vars([("HTTP_PROXY", "gopher://x:70")]);
        assert!(skipped.is_empty());
        let bare = Proxies::from_vars([("HTTP_PROXY", "proxy.example:3128")]);
        assert_eq!(
            via(&bare, "http://a.example/").as_deref(),
            Some("proxy.example:3128")
        );
    }
}
