//! A reverse proxy engine: what `wiretape record` and `serve --upstream`
//! put in front of the real network, so that a client pointed at the local
//! socket reaches the upstream and stays on the proxy.
//!
//! Why a separate engine rather than a server option: the cassette below it
//! then records the upstream's own URLs and `Host` (what was really sent),
//! and the rewriting of answers back to the proxy's address happens above
//! the recording, so the tape holds the upstream's words, not ours.

use std::path::PathBuf;

use clap::Args;
use http::{HeaderValue, header};
use url::Url;

use crate::engine::{BoxFuture, Capabilities, Engine, HyperEngine};
use crate::ws::WsConnection;
use crate::{Error, Request, Response, Result};

/// How to reach the upstream over TLS.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Trust the CA certificate(s) in this PEM file for the upstream, as
    /// well as the usual roots (a staging server with a private CA).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate the upstream shows: no verification at all.
    /// Only for a throwaway test server; wiretape warns at start-up.
    #[arg(long)]
    pub danger_accept_invalid_certs: bool,
}

impl TlsArgs {
    /// The network engine these settings ask for.
    pub fn engine(&self) -> Result<HyperEngine> {
        let mut builder = HyperEngine::builder();
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).map_err(|err| {
                Error::invalid(format!("cannot read --ca-cert {}: {err}", path.display()))
            })?;
            builder = builder.add_root_certificate_pem(&pem).map_err(|err| {
                Error::invalid(format!("--ca-cert {}: {}", path.display(), err.message()))
            })?;
        }
        if self.danger_accept_invalid_certs {
            super::warn(
                "--danger-accept-invalid-certs: the upstream's TLS certificate is NOT verified; \
                 anyone on the path can read and change this traffic",
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        builder.build()
    }
}

/// Checks an `--upstream` URL: http or https, with a host, no query.
pub fn parse_upstream(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|err| format!("{text:?} is not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{text:?}: the upstream must be an http:// or https:// URL"
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("{text:?}: the upstream URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?}: the upstream URL takes no query or fragment"
        ));
    }
    Ok(url)
}

/// An engine that sends every request to `upstream` (scheme, host, port and
/// path prefix) through `inner`, and rewrites what would send the client
/// away from the proxy: the `Host` header on the way up; absolute
/// `Location` redirects to the upstream and `Set-Cookie` domains (and
/// `Secure`, when the proxy is plain HTTP) on the way down.
///
/// ```
/// use wiretape::cli::proxy::ReverseProxy;
/// use wiretape::mock::{MockEngine, respond_ok};
/// use wiretape::{server, Client, Url};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let upstream = MockEngine::new(|req: wiretape::Request| async move {
///     Ok(respond_ok(format!("{} {}", req.header_str("host").unwrap_or(""), req.url())))
/// });
/// let proxy = ReverseProxy::new(upstream, Url::parse("https://api.test/v2").unwrap());
/// let server = server::serve(proxy, "127.0.0.1:0").await?;
/// let text = Client::new().get(server.url("/users?page=2")).send().await?.text().await?;
/// assert_eq!(text, "api.test https://api.test/v2/users?page=2");
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ReverseProxy<E> {
    inner: E,
    upstream: Url,
}

impl<E: Engine> ReverseProxy<E> {
    /// Proxies to `upstream` through `inner`.
    pub fn new(inner: E, upstream: Url) -> ReverseProxy<E> {
        ReverseProxy { inner, upstream }
    }

    /// The upstream URL for a request the proxy received at `local`.
    fn target(&self, local: &Url, websocket: bool) -> Url {
        let mut url = self.upstream.clone();
        let base = self.upstream.path().trim_end_matches('/');
        url.set_path(&format!("{base}{}", local.path()));
        url.set_query(local.query());
        if websocket {
            let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
            // http→ws and https→wss are both "special" schemes: allowed.
            let _ = url.set_scheme(scheme);
        }
        url
    }

    fn rewrite_request(&self, request: &mut Request, websocket: bool) -> Origin {
        let local = Origin::of(request.url());
        let target = self.target(request.url(), websocket);
        if let Ok(host) = HeaderValue::from_str(&authority(&target)) {
            request.headers_mut().insert(header::HOST, host);
        }
        // A browser-like client names the proxy as its origin; the upstream
        // expects its own.
        for name in [header::ORIGIN, header::REFERER] {
            if let Some(value) = request.headers().get(&name).and_then(|v| v.to_str().ok())
                && let Some(rewritten) = local.replace_in(value, &Origin::of(&self.upstream), "")
                && let Ok(value) = HeaderValue::from_str(&rewritten)
            {
                request.headers_mut().insert(name, value);
            }
        }
        *request.url_mut() = target;
        local
    }
}

impl<E: Engine> Engine for ReverseProxy<E> {
    fn execute(&self, mut request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async move {
            let local = self.rewrite_request(&mut request, false);
            let mut response = self.inner.execute(request).await?;
            rewrite_response(&mut response, &self.upstream, &local);
            Ok(response)
        })
    }

    fn websocket(&self, mut request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        self.rewrite_request(&mut request, true);
        self.inner.websocket(request)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// Rewrites what in `response` points at `upstream` so that it points at
/// the proxy the client reached (`local`): an absolute `Location`, and
/// `Set-Cookie` attributes.
fn rewrite_response(response: &mut Response, upstream_url: &Url, local: &Origin) {
    let upstream = Origin::of(upstream_url);
    let base = upstream_url.path().trim_end_matches('/');
    if let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        let rewritten = upstream
            .replace_in(location, local, base)
            .or_else(|| strip_base(location, base));
        if let Some(value) = rewritten.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    let cookies: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| match value.to_str() {
            Ok(text) => {
                let text = cookie_for_proxy(text, &upstream, local, base);
                HeaderValue::from_str(&text).unwrap_or_else(|_| value.clone())
            }
            Err(_) => value.clone(),
        })
        .collect();
    if !cookies.is_empty() {
        response.headers_mut().remove(header::SET_COOKIE);
        for cookie in cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
}

/// An engine whose answers, recorded from `origins`, are rewritten onto
/// the address the client used, as [`ReverseProxy`] rewrites live ones: a
/// replayed absolute redirect stays on the server instead of sending the
/// client to an upstream that is gone.
#[derive(Debug, Clone)]
pub struct Relocate<E> {
    inner: E,
    origins: Vec<Url>,
}

impl<E: Engine> Relocate<E> {
    /// Rewrites `inner`'s answers that point at any of `origins`.
    pub fn new(inner: E, origins: Vec<Url>) -> Relocate<E> {
        Relocate { inner, origins }
    }
}

impl<E: Engine> Engine for Relocate<E> {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async move {
            let local = Origin::of(request.url());
            let mut response = self.inner.execute(request).await?;
            for origin in &self.origins {
                rewrite_response(&mut response, origin, &local);
            }
            Ok(response)
        })
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        self.inner.websocket(request)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// `host[:port]` of a URL, the port only when it is not the default.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A URL's scheme, host and port, as the proxy or the upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn of(url: &Url) -> Origin {
        let scheme = match url.scheme() {
            "ws" => "http",
            "wss" => "https",
            other => other,
        };
        Origin {
            scheme: scheme.to_owned(),
            host: url.host_str().unwrap_or_default().to_ascii_lowercase(),
            port: url.port_or_known_default(),
        }
    }

    fn secure(&self) -> bool {
        self.scheme == "https"
    }

    /// When `value` is an absolute URL on this origin (under `base`), the
    /// same URL on `to` with `base` taken off its path.
    fn replace_in(&self, value: &str, to: &Origin, base: &str) -> Option<String> {
        let url = Url::parse(value).ok()?;
        if Origin::of(&url) != *self {
            return None;
        }
        let path = url.path();
        let rest = path
            .strip_prefix(base)
            .filter(|r| r.is_empty() || r.starts_with('/'))?;
        let port = match (to.port, to.secure()) {
            (Some(443), true) | (Some(80), false) | (None, _) => String::new(),
            (Some(port), _) => format!(":{port}"),
        };
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let rest = if rest.is_empty() { "/" } else { rest };
        Some(format!("{}://{}{port}{rest}{query}", to.scheme, to.host))
    }
}

/// A relative redirect under the upstream's path prefix, without it.
fn strip_base(location: &str, base: &str) -> Option<String> {
    if base.is_empty() || !location.starts_with('/') {
        return None;
    }
    let rest = location.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then(|| {
        if rest.is_empty() {
            "/".to_owned()
        } else {
            rest.to_owned()
        }
    })
}

/// A `Set-Cookie` value the client keeps for the proxy: a `Domain` naming
/// the upstream goes (the cookie becomes the proxy's host-only cookie), a
/// `Path` under the upstream's prefix loses the prefix, and `Secure` goes
/// when the upstream is HTTPS but the proxy is plain HTTP (else the client
/// would never send it back).
fn cookie_for_proxy(value: &str, upstream: &Origin, local: &Origin, base: &str) -> String {
    let mut parts = value.split(';');
    let mut out = vec![parts.next().unwrap_or_default().to_owned()];
    for attribute in parts {
        let trimmed = attribute.trim();
        let (name, val) = trimmed.split_once('=').unwrap_or((trimmed, ""));
        let name_lower = name.trim().to_ascii_lowercase();
        match name_lower.as_str() {
            "domain" => {
                let domain = val.trim().trim_start_matches('.').to_ascii_lowercase();
                let names_upstream =
                    upstream.host == domain || upstream.host.ends_with(&format!(".{domain}"));
                if !names_upstream {
                    out.push(attribute.to_owned());
                }
            }
            "secure" if upstream.secure() && !local.secure() => {}
            "path" if !base.is_empty() => match strip_base(val.trim(), base) {
                Some(path) => out.push(format!(" Path={path}")),
                None => out.push(attribute.to_owned()),
            },
            _ => out.push(attribute.to_owned()),
        }
    }
    out.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::of(&Url::parse(url).unwrap())
    }

    #[test]
    fn an_absolute_redirect_to_the_upstream_comes_back_to_the_proxy() {
        let upstream = origin("https://api.test");
        let local = origin("http://127.0.0.1:8080");
        assert_eq!(
            upstream.replace_in("https://api.test/v2/next?a=1", &local, "/v2"),
            Some("http://127.0.0.1:8080/next?a=1".to_owned())
        );
        assert_eq!(
            upstream.replace_in("https://elsewhere.test/next", &local, ""),
            None
        );
        assert_eq!(strip_base("/v2/login", "/v2"), Some("/login".to_owned()));
    }

    #[test]
    fn set_cookie_loses_the_upstream_domain_and_secure_on_plain_http() {
        let upstream = origin("https://www.api.test");
        let local = origin("http://127.0.0.1:8080");
        let cookie = cookie_for_proxy(
            "sid=1; Domain=.api.test; Path=/; Secure; HttpOnly",
            &upstream,
            &local,
            "",
        );
        assert_eq!(cookie, "sid=1; Path=/; HttpOnly");
        let other = cookie_for_proxy("x=2; Domain=other.test", &upstream, &local, "");
        assert_eq!(other, "x=2; Domain=other.test");
    }
}
