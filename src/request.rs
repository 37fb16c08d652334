//! The engine-level request.

use std::fmt;
use std::sync::Arc;

use http::{Extensions, HeaderMap, HeaderValue, Method, Version, header::IntoHeaderName};
use url::Url;

use crate::fault::wire::WireControl;
use crate::headers::SharedHeaders;
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
    /// Shared, copied on the first change: the redirect plugin keeps the
    /// head of every request it sends, and most are never redirected, so
    /// keeping it costs a reference count, not a copy of the map.
    headers: SharedHeaders,
    version: Version,
    body: Body,
    extensions: Extensions,
    /// The connection a served request came in on, for the faults that act
    /// on the socket (an RST, raw bytes). A field, not an extension: an
    /// extension costs a map and two boxes on every served request. Copies
    /// of the request carry it, as they would an extension; nothing sends it.
    wire: Option<WireControl>,
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
            headers: SharedHeaders::default(),
            version: Version::HTTP_11,
            body: Body::empty(),
            extensions: Extensions::new(),
            wire: None,
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
        self.headers.get()
    }

    /// The headers, mutably: copied first if they are shared (with the
    /// redirect plugin's copy of the request, or the client's default
    /// headers), so that a change reaches this request only.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_mut()
    }

    /// Replaces the headers with `headers`, shared: copied on the first
    /// change.
    pub(crate) fn share_headers(&mut self, headers: Arc<HeaderMap>) {
        self.headers = SharedHeaders::shared(headers);
    }

    /// Replaces the headers with `headers`, taken as they are (an empty
    /// map is no headers, which allocate nothing).
    pub(crate) fn set_headers(&mut self, headers: HeaderMap) {
        self.headers = SharedHeaders::new(headers);
    }

    /// The connection the request came in on, when [`serve`](crate::server::serve)
    /// received it.
    pub(crate) fn wire(&self) -> Option<&WireControl> {
        self.wire.as_ref()
    }

    /// Marks the request as received on the connection `wire` controls.
    pub(crate) fn set_wire(&mut self, wire: WireControl) {
        self.wire = Some(wire);
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
        self.headers_mut().append(name, value);
        self
    }

    /// A first header value as text, if present and visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers().get(name).and_then(|v| v.to_str().ok())
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
        let body = self.body.try_clone()?;
        Some(Request {
            body,
            ..self.copy_head()
        })
    }

    /// A copy without the body: method, URL, headers, version and
    /// extensions. The headers are shared until either copy changes them.
    pub(crate) fn copy_head(&self) -> Request {
        Request {
            method: self.method.clone(),
            target: self.target.clone(),
            headers: self.headers.clone(),
            version: self.version,
            body: Body::empty(),
            extensions: self.extensions.clone(),
            wire: self.wire.clone(),
        }
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
            wire,
        } = self;
        (
            Request {
                method,
                target,
                headers,
                version,
                body: Body::empty(),
                extensions,
                wire,
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

impl Request {
    /// This request's name, to format only if an error needs it.
    pub(crate) fn name(&self) -> RequestName {
        RequestName::new(self.method.clone(), self.target.clone())
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
            .field("headers", self.headers())
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
        let mut request = Request::to(parts.method, Target::from(url));
        request.set_headers(parts.headers);
        request.version = parts.version;
        request.body = body.into();
        request.extensions = parts.extensions;
        Ok(request)
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

// At most 128 bytes: the compiler moves a value of that size with a few
// vector stores and a larger one with a call to `memcpy`, and a request is
// moved into every plugin, engine and future it passes through. At 144
// bytes a client call over `HyperEngine` cost about 1,300 instructions more.
const _: () = assert!(std::mem::size_of::<Request>() <= 128);

/// A copy of `headers` (shared because a plugin kept the request's head, as
/// Redirect does) for an `http::Request`, with room for the `Host` header
/// the HTTP/1 client adds and for a response's head: hyper keeps the map of
/// the request it wrote and parses the response's headers into it, so a
/// map with no room left (a `HeaderMap`'s clone has none) is reallocated
/// for every response.
fn with_room(headers: &HeaderMap) -> HeaderMap {
    /// What a `HeaderMap` holds after its first insert: room for six.
    const A_RESPONSE_HEAD: usize = 6;
    let mut copy = HeaderMap::with_capacity((headers.len() + 1).max(A_RESPONSE_HEAD));
    for (name, value) in headers {
        copy.append(name.clone(), value.clone());
    }
    copy
}

impl Request {
    /// The `http::Request` to send, and the target it was made from (which
    /// an engine gives the response), without copying the URL.
    pub(crate) fn into_http(self) -> Result<(http::Request<Body>, Target)> {
        let uri = self.target.to_uri()?;
        let mut out = http::Request::new(self.body);
        *out.method_mut() = self.method;
        *out.uri_mut() = uri;
        *out.headers_mut() = self.headers.into_map(with_room);
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
        .map_err(|err: http::uri::InvalidUri| unsendable(url.as_str(), err.into()))
}

/// The error for a URL that is not a valid HTTP URI.
pub(crate) fn unsendable(url: &str, err: http::Error) -> Error {
    Error::invalid(format!("URL {url} cannot be sent as an HTTP URI: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request::new(Method::GET, "http://api.test/a".parse().unwrap())
    }

    #[test]
    fn a_request_without_headers_reads_as_an_empty_map() {
        let request = request();
        assert!(request.headers().is_empty());
        let (sent, _) = request.into_http().unwrap();
        assert!(sent.headers().is_empty());
    }

    #[test]
    fn a_copied_head_shares_the_headers_until_either_side_changes_them() {
        let mut original = request();
        original
            .headers_mut()
            .insert("x-a", HeaderValue::from_static("1"));
        let mut copy = original.copy_head();
        assert_eq!(copy.headers()["x-a"], "1");
        copy.headers_mut()
            .insert("x-b", HeaderValue::from_static("2"));
        original
            .headers_mut()
            .append("x-a", HeaderValue::from_static("3"));
        assert!(!original.headers().contains_key("x-b"));
        assert_eq!(copy.headers().get_all("x-a").iter().count(), 1);
        // Sent while a copy is kept, the request's own headers go out whole.
        let kept = original.copy_head();
        let (sent, _) = original.into_http().unwrap();
        let values: Vec<_> = sent.headers().get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "3"]);
        assert_eq!(kept.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(copy.headers()["x-b"], "2");
    }
}
