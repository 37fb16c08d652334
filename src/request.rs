//! The engine-level request.

use std::fmt;

use http::{Extensions, HeaderMap, HeaderValue, Method, Version, header::IntoHeaderName};
use url::Url;

use crate::target::Target;
use crate::{Body, Error, Result};

/// An HTTP request as engines see it: method, absolute URL, headers, version,
/// body and typed extensions.
///
/// Extensions carry per-request settings that plugins read (a timeout
/// override, a retry policy) without widening this type.
///
/// ```
/// use wiretape::{Method, Request};
///
/// let request = Request::new(Method::GET, "http://127.0.0.1:8080/users?page=2".parse().unwrap());
/// assert_eq!(request.url().path(), "/users");
/// assert_eq!(request.to_string(), "GET http://127.0.0.1:8080/users?page=2");
/// ```
pub struct Request {
    method: Method,
    target: Target,
    headers: HeaderMap,
    version: Version,
    body: Body,
    extensions: Extensions,
}

impl Request {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: Url) -> Request {
        Request::to(method, Target::from(url))
    }

    /// A request to `target`, with no headers and an empty body.
    pub(crate) fn to(method: Method, target: Target) -> Request {
        Request {
            method,
            target,
            headers: HeaderMap::new(),
            version: Version::HTTP_11,
            body: Body::empty(),
            extensions: Extensions::new(),
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The method, mutably.
    pub fn method_mut(&mut self) -> &mut Method {
        &mut self.method
    }

    /// The absolute URL.
    ///
    /// The client keeps a URL it built from a known origin and a plain path
    /// as text, and parses it the first time this is called; [`path`](Self::path)
    /// and [`query`](Self::query) read the text without parsing.
    pub fn url(&self) -> &Url {
        self.target.url()
    }

    /// The URL, mutably.
    pub fn url_mut(&mut self) -> &mut Url {
        self.target.url_mut()
    }

    /// The URL's path, as [`Url::path`] gives it, without parsing the URL.
    ///
    /// ```
    /// use wiretape::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "http://api.test/users?page=2".parse().unwrap());
    /// assert_eq!(request.path(), "/users");
    /// assert_eq!(request.query(), Some("page=2"));
    /// ```
    pub fn path(&self) -> &str {
        self.target.path()
    }

    /// The URL's query without its `?`, as [`Url::query`] gives it, without
    /// parsing the URL.
    pub fn query(&self) -> Option<&str> {
        self.target.query()
    }

    /// The request's target, text or parsed.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, mutably.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The HTTP version asked for (the engine may negotiate another).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The version, mutably.
    pub fn version_mut(&mut self) -> &mut Version {
        &mut self.version
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, mutably.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Per-request typed settings.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Per-request typed settings, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Replaces the body, returning the request.
    pub fn with_body(mut self, body: impl Into<Body>) -> Request {
        self.body = body.into();
        self
    }

    /// Appends a header, returning the request.
    pub fn with_header<K: IntoHeaderName>(mut self, name: K, value: HeaderValue) -> Request {
        self.headers.append(name, value);
        self
    }

    /// A first header value as text, if present and visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Takes the URL out, dropping the rest of the request.
    pub fn into_url(self) -> Url {
        self.target.into_url()
    }

    /// Takes the target out, dropping the rest of the request.
    pub(crate) fn into_target(self) -> Target {
        self.target
    }

    /// Takes the body out, leaving an empty one.
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    /// A copy of the request, unless its body is a stream (which can only be
    /// read once). Extensions are cloned too.
    pub fn try_clone(&self) -> Option<Request> {
        Some(Request {
            method: self.method.clone(),
            target: self.target.clone(),
            headers: self.headers.clone(),
            version: self.version,
            body: self.body.try_clone()?,
            extensions: self.extensions.clone(),
        })
    }

    /// Splits the request into its head and body.
    pub fn into_parts(self) -> (Request, Body) {
        let Request {
            method,
            target,
            headers,
            version,
            body,
            extensions,
        } = self;
        (
            Request {
                method,
                target,
                headers,
                version,
                body: Body::empty(),
                extensions,
            },
            body,
        )
    }
}

impl fmt::Display for Request {
    /// `METHOD URL`, the form every error message and log line uses to name
    /// a request. A password in the URL shows as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_name(f, &self.method, &self.target)
    }
}

fn write_name(f: &mut fmt::Formatter<'_>, method: &Method, target: &Target) -> fmt::Result {
    if target.has_password() {
        write!(f, "{method} {}", shown_url(target.url()))
    } else {
        write!(f, "{method} {}", target.as_str())
    }
}

/// A request's name, `METHOD URL` as [`Request`]'s `Display` writes it, kept
/// unformatted: an engine holds one for errors that almost never happen, and
/// formatting the name up front would cost more than the rest of a routed
/// call.
#[derive(Clone)]
pub(crate) struct RequestName {
    method: Method,
    target: Target,
}

impl RequestName {
    pub(crate) fn new(method: Method, target: Target) -> RequestName {
        RequestName { method, target }
    }
}

impl fmt::Display for RequestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_name(f, &self.method, &self.target)
    }
}

/// `url` as messages and logs show it: a password in it becomes `***`.
pub(crate) fn shown_url(url: &Url) -> std::borrow::Cow<'_, Url> {
    if url.password().is_none() {
        return std::borrow::Cow::Borrowed(url);
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some("***"));
    std::borrow::Cow::Owned(shown)
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.target.as_str())
            .field("headers", &self.headers)
            .field("version", &self.version)
            .field("body", &self.body)
            .finish()
    }
}

impl<B: Into<Body>> TryFrom<http::Request<B>> for Request {
    type Error = Error;

    /// Converts an `http::Request` whose URI is absolute.
    fn try_from(request: http::Request<B>) -> Result<Request> {
        let (parts, body) = request.into_parts();
        let url = Url::parse(&parts.uri.to_string()).map_err(|err| {
            Error::invalid(format!(
                "request URI {:?} is not an absolute URL: {err}",
                parts.uri.to_string()
            ))
        })?;
        Ok(Request {
            method: parts.method,
            target: Target::from(url),
            headers: parts.headers,
            version: parts.version,
            body: body.into(),
            extensions: parts.extensions,
        })
    }
}

impl TryFrom<Request> for http::Request<Body> {
    type Error = Error;

    /// Converts to an `http::Request` (the URL's fragment, which is never
    /// sent, is dropped).
    fn try_from(request: Request) -> Result<http::Request<Body>> {
        request.into_http().map(|(request, _url)| request)
    }
}

impl Request {
    /// The `http::Request` to send, and the target it was made from (which
    /// an engine gives the response), without copying the URL.
    pub(crate) fn into_http(self) -> Result<(http::Request<Body>, Target)> {
        let uri = self.target.to_uri()?;
        let mut out = http::Request::new(self.body);
        *out.method_mut() = self.method;
        *out.uri_mut() = uri;
        *out.headers_mut() = self.headers;
        *out.version_mut() = self.version;
        *out.extensions_mut() = self.extensions;
        Ok((out, self.target))
    }
}

/// The `http::Uri` for a URL, without its fragment (never sent on the wire).
pub(crate) fn url_to_uri(url: &Url) -> Result<http::Uri> {
    let text = match url.fragment() {
        Some(_) => &url.as_str()[..url.as_str().find('#').unwrap_or(url.as_str().len())],
        None => url.as_str(),
    };
    text.parse()
        .map_err(|err| Error::invalid(format!("URL {url} cannot be sent as an HTTP URI: {err}")))
}
