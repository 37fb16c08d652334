//! DefaultRequest: base URL, default headers and default query parameters.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::{Next, Plugin};
use crate::engine::BoxFuture;
use crate::origin::{LastOrigin, split_origin};
use crate::target::{Origin, Target};
use crate::ws::WsConnection;
use crate::{Error, Request, Response, Result};

/// What every request starts from: a base URL, default headers and default
/// query parameters (Ktor's `DefaultRequest` and `UserAgent`). A request's
/// own values win: a default header is added only when the request has no
/// header of that name, a default query parameter only when the URL has no
/// parameter of that name.
///
/// The defaults include `user-agent: wiretape/<version>`. Install with
/// [`ClientBuilder::default_request`](crate::ClientBuilder::default_request),
/// or use the shortcuts [`base_url`](crate::ClientBuilder::base_url),
/// [`default_header`](crate::ClientBuilder::default_header),
/// [`default_query`](crate::ClientBuilder::default_query) and
/// [`user_agent`](crate::ClientBuilder::user_agent), which change the same
/// settings.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_ok}, plugins::DefaultRequest, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
/// let defaults = DefaultRequest::new()
///     .base_url("https://api.example.com/v2/")
///     .header("x-api-version", "2")
///     .query("locale", "en");
/// let client = Client::builder().engine(engine.clone()).default_request(defaults).build()?;
/// client.get("users?locale=fr").header("x-api-version", "3").send().await?;
/// let sent = &engine.request_history()[0];
/// assert_eq!(sent.url().as_str(), "https://api.example.com/v2/users?locale=fr");
/// assert_eq!(sent.headers()["x-api-version"], "3");
/// assert!(sent.headers()["user-agent"].to_str().unwrap().starts_with("wiretape/"));
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct DefaultRequest {
    base_url: Option<Url>,
    /// Shared with every request that has no headers of its own.
    headers: Arc<HeaderMap>,
    query: Vec<(String, String)>,
    errors: Vec<String>,
}

impl Default for DefaultRequest {
    fn default() -> Self {
        DefaultRequest::new()
    }
}

impl DefaultRequest {
    /// Defaults with only the `user-agent` header.
    pub fn new() -> DefaultRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("wiretape/", env!("CARGO_PKG_VERSION"))),
        );
        DefaultRequest {
            base_url: None,
            headers: Arc::new(headers),
            query: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The URL that relative request URLs resolve against, by the rules of
    /// [`Url::join`]: with `https://api.test/v1/`, `users` becomes
    /// `https://api.test/v1/users` and `/users` becomes
    /// `https://api.test/users`. End the base with `/` to keep its last path
    /// segment. An invalid URL is reported when the client is built.
    pub fn base_url(mut self, url: impl AsRef<str>) -> DefaultRequest {
        match Url::parse(url.as_ref()) {
            Ok(parsed) => self.base_url = Some(parsed),
            Err(err) => self
                .errors
                .push(format!("invalid base URL {:?}: {err}", url.as_ref())),
        }
        self
    }

    /// A header sent with every request that has none of this name; it
    /// replaces an earlier default of the same name. An invalid name or value
    /// is reported when the client is built.
    pub fn header<K, V>(mut self, name: K, value: V) -> DefaultRequest
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                Arc::make_mut(&mut self.headers).insert(name, value);
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

    /// A query parameter added to every request whose URL has none of this
    /// name.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> DefaultRequest {
        self.query.push((name.into(), value.into()));
        self
    }

    /// The base URL, if one was set.
    pub(crate) fn base(&self) -> Option<&Url> {
        self.base_url.as_ref()
    }

    /// The settings that were invalid, each described.
    pub(crate) fn errors(&self) -> &[String] {
        &self.errors
    }

    fn apply(&self, request: &mut Request) {
        if request.headers().is_empty() {
            // Most requests bring no headers of their own: they share the
            // defaults, copied only if a plugin or engine below changes them.
            request.share_headers(Arc::clone(&self.headers));
        } else {
            for name in self.headers.keys() {
                if !request.headers().contains_key(name) {
                    for value in self.headers.get_all(name) {
                        request.headers_mut().append(name.clone(), value.clone());
                    }
                }
            }
        }
        let missing: Vec<&(String, String)> = self
            .query
            .iter()
            .filter(|(name, _)| !request.url().query_pairs().any(|(n, _)| n == name.as_str()))
            .collect();
        if !missing.is_empty() {
            let mut pairs = request.url_mut().query_pairs_mut();
            for (name, value) in missing {
                pairs.append_pair(name, value);
            }
        }
    }
}

impl fmt::Debug for DefaultRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultRequest")
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("headers", &self.headers)
            .field("query", &self.query)
            .finish()
    }
}

struct DefaultRequestPlugin(DefaultRequest);

impl Plugin for DefaultRequestPlugin {
    fn call<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        self.0.apply(&mut request);
        next.run(request)
    }

    fn websocket<'a>(
        &'a self,
        mut request: Request,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<WsConnection>> {
        self.0.apply(&mut request);
        next.websocket(request)
    }
}

pub(super) fn plugin(config: DefaultRequest) -> std::sync::Arc<dyn Plugin> {
    std::sync::Arc::new(DefaultRequestPlugin(config))
}

/// Resolves `url` against `base`, if it is not absolute.
/// A plain path joined to the base URL, or an absolute URL naming the
/// origin the last one named, costs no parse at all ([`Target`],
/// [`LastOrigin`]).
pub(crate) fn resolve(base: Option<&Arc<Origin>>, last: &LastOrigin, url: &str) -> Result<Target> {
    // The common case in a client with a base URL, "/users/7", cannot be
    // absolute: join it directly instead of paying for a failed parse first,
    // and without parsing at all when the path is plain.
    if let (Some(base), Some(b'/' | b'?' | b'#')) = (base, url.as_bytes().first()) {
        return Target::join(base, url).map_err(|err| cannot_resolve(base.url(), url, err));
    }
    let base = base.map(|base| base.url());
    if let Some((origin, path)) = split_origin(url) {
        return last.target(
            origin,
            path,
            || parse(base, url),
            |err| Error::invalid(format!("invalid URL {url:?}: {err}")),
        );
    }
    parse(base, url).map(Target::from)
}

fn parse(base: Option<&Url>, url: &str) -> Result<Url> {
    match Url::parse(url) {
        Ok(url) => Ok(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => match base {
            Some(base) => join(base, url),
            None => Err(Error::invalid(format!(
                "relative URL {url:?} needs a base URL; set one with ClientBuilder::base_url or pass an absolute URL"
            ))),
        },
        Err(err) => Err(Error::invalid(format!("invalid URL {url:?}: {err}"))),
    }
}

fn join(base: &Url, url: &str) -> Result<Url> {
    base.join(url).map_err(|err| cannot_resolve(base, url, err))
}

fn cannot_resolve(base: &Url, url: &str, err: url::ParseError) -> Error {
    Error::invalid(format!(
        "cannot resolve {url:?} against base URL {base}: {err}"
    ))
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::sync::Arc;

    use crate::origin::LastOrigin;
    use crate::target::Origin;
    use url::Url;

    #[test]
    fn references_starting_with_a_delimiter_resolve_like_url_join() {
        let url = Url::parse("https://api.test/v1/users?page=2#top").unwrap();
        let base = Arc::new(Origin::of(url.clone()));
        for (reference, expected) in [
            ("/health", "https://api.test/health"),
            (
                "/users/7?fields=name",
                "https://api.test/users/7?fields=name",
            ),
            ("/a/../b", "https://api.test/b"),
            ("/caf\u{e9}", "https://api.test/caf%C3%A9"),
            ("//other.test/x", "https://other.test/x"),
            ("?page=3", "https://api.test/v1/users?page=3"),
            ("#bottom", "https://api.test/v1/users?page=2#bottom"),
            ("7", "https://api.test/v1/7"),
            ("http://abs.test/", "http://abs.test/"),
        ] {
            let target = resolve(Some(&base), &LastOrigin::default(), reference).unwrap();
            assert_eq!(target.as_str(), expected, "{reference}");
            assert_eq!(target.url(), &url.join(reference).unwrap(), "{reference}");
        }
        assert!(
            resolve(None, &LastOrigin::default(), "/health")
                .unwrap_err()
                .to_string()
                .contains("needs a base URL")
        );
        assert!(resolve(Some(&base), &LastOrigin::default(), "//[bad").is_err());
    }
}
