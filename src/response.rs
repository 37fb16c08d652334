//! The response, as engines produce it and callers read it.

use std::fmt;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use serde::de::DeserializeOwned;
use url::Url;

use crate::body::ChunkStream;
use crate::error::StatusError;
use crate::headers::SharedHeaders;
use crate::request::shown_url;
use crate::target::Target;
use crate::{Body, Error, Result};

/// How much of an error response's body [`Response::error_for_status`] keeps.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

static UNSET_URL: LazyLock<Url> =
    LazyLock::new(|| Url::parse("about:blank").expect("about:blank is a valid URL"));

/// An HTTP response: status, version, headers, the URL it answers, a body and
/// typed extensions.
///
/// Engines build responses; callers read them. Reading the body consumes the
/// response ([`bytes`](Response::bytes), [`text`](Response::text),
/// [`json`](Response::json)) or drains it chunk by chunk
/// ([`chunk`](Response::chunk), [`bytes_stream`](Response::bytes_stream)), so
/// a 10 GB download never has to fit in memory.
///
/// ```
/// use wiretape::{Response, StatusCode};
///
/// # tokio_test_block(async {
/// let response = Response::new(StatusCode::OK)
///     .with_header("content-type", "text/plain; charset=utf-8")
///     .with_body("hello");
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.text().await.unwrap(), "hello");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: SharedHeaders,
    url: Option<Target>,
    body: Body,
    extensions: Extensions,
}

// At most 128 bytes, as a `Request` is, and for the same reason: a response
// is moved out of every engine, plugin and future it passes through, and a
// larger value is moved with a call to `memcpy`. With its own `HeaderMap`
// (96 bytes) it took 192.
const _: () = assert!(std::mem::size_of::<Response>() <= 128);

impl Response {
    /// A response with the given status, no headers and an empty body.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            version: Version::HTTP_11,
            headers: SharedHeaders::default(),
            url: None,
            body: Body::empty(),
            extensions: Extensions::new(),
        }
    }

    /// Appends a header, returning the response: a builder step for mocks.
    ///
    /// # Panics
    ///
    /// If `name` or `value` is not a valid header name or value. This is for
    /// literal headers in test code; build a [`HeaderMap`] yourself and use
    /// [`headers_mut`](Response::headers_mut) for values that come from
    /// outside.
    pub fn with_header<K, V>(mut self, name: K, value: V) -> Response
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Debug,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Debug,
    {
        let name = name.try_into().expect("invalid header name");
        let value = value.try_into().expect("invalid header value");
        self.headers_mut().append(name, value);
        self
    }

    /// Replaces the body, returning the response.
    pub fn with_body(mut self, body: impl Into<Body>) -> Response {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`, returning the
    /// response.
    pub fn with_json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Response {
        // Serializing plain data to a Vec cannot fail; a failing `Serialize`
        // impl (a map with non-string keys) becomes an empty JSON object
        // rather than a panic in the middle of a mock.
        let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        self.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Body::from(bytes);
        self
    }

    /// Sets the version, returning the response.
    pub fn with_version(mut self, version: Version) -> Response {
        self.version = version;
        self
    }

    /// Sets the URL this response answers, returning the response.
    pub fn with_url(self, url: Url) -> Response {
        self.with_target(Target::from(url))
    }

    /// Sets the target this response answers, returning the response.
    pub(crate) fn with_target(mut self, target: Target) -> Response {
        self.url = Some(target);
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The status, mutably.
    pub fn status_mut(&mut self) -> &mut StatusCode {
        &mut self.status
    }

    /// The HTTP version the exchange used.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The version, mutably.
    pub fn version_mut(&mut self) -> &mut Version {
        &mut self.version
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.get()
    }

    /// The headers, mutably: copied first if they are shared with the route
    /// or tape that answered, so that a change reaches this response only.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_mut()
    }

    /// Replaces the headers with `headers`, shared with whoever answered
    /// (a route, a tape): copied on the first change, unless this response
    /// holds the only share.
    pub(crate) fn share_headers(&mut self, headers: Arc<HeaderMap>) {
        self.headers = SharedHeaders::shared(headers);
    }

    /// The URL this response answers: after redirects, the final one.
    /// `about:blank` for a response that no engine has sent yet.
    pub fn url(&self) -> &Url {
        self.url.as_ref().map_or(&UNSET_URL, Target::url)
    }

    /// Whether an engine or the client has set the URL.
    pub fn has_url(&self) -> bool {
        self.url.is_some()
    }

    /// Sets the URL.
    pub fn set_url(&mut self, url: Url) {
        self.set_target(Target::from(url));
    }

    /// Sets the target this response answers.
    pub(crate) fn set_target(&mut self, target: Target) {
        self.url = Some(target);
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, mutably.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Typed extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Typed extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The `Content-Length` header, if present and valid.
    pub fn content_length(&self) -> Option<u64> {
        self.headers()
            .get(http::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// Takes the body out.
    pub fn into_body(self) -> Body {
        self.body
    }

    /// Splits the response into its head (with an empty body) and its body.
    pub fn into_parts(mut self) -> (Response, Body) {
        let body = std::mem::take(&mut self.body);
        (self, body)
    }

    /// A copy of the response, unless its body is a stream.
    pub fn try_clone(&self) -> Option<Response> {
        Some(Response {
            status: self.status,
            version: self.version,
            headers: self.headers.clone(),
            url: self.url.clone(),
            body: self.body.try_clone()?,
            extensions: self.extensions.clone(),
        })
    }

    /// Reads the whole body.
    pub async fn bytes(self) -> Result<Bytes> {
        self.body.collect().await
    }

    /// Reads the whole body as text. With the `charset` feature it is decoded
    /// with the charset named by `Content-Type` (UTF-8 when none is named);
    /// without it, always as UTF-8, as reqwest does without its `charset`
    /// feature. Invalid sequences become U+FFFD rather than an error, as
    /// browsers do.
    pub async fn text(self) -> Result<String> {
        #[cfg(feature = "charset")]
        let encoding = self
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .and_then(|m| m.get_param(mime::CHARSET).map(|c| c.as_str().to_owned()))
            .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
            .unwrap_or(encoding_rs::UTF_8);
        let bytes = self.body.collect().await?;
        #[cfg(feature = "charset")]
        let text = encoding.decode(&bytes).0.into_owned();
        #[cfg(not(feature = "charset"))]
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(text)
    }

    /// Reads the whole body and parses it as JSON into `T`.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T> {
        let what = format!("JSON response body from {}", shown_url(self.url()));
        let bytes = self.body.collect().await?;
        serde_json::from_slice(&bytes).map_err(|err| Error::decode(what, err))
    }

    /// The next chunk of the body, or `None` at its end: for bodies too large
    /// (or too endless) to read at once.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        if !self.body.is_stream() {
            let body = std::mem::take(&mut self.body);
            let bytes = body.collect().await?;
            return Ok((!bytes.is_empty()).then_some(bytes));
        }
        let mut stream = std::mem::take(&mut self.body).into_stream();
        let next = stream.next().await.transpose();
        self.body = Body::from_chunk_stream(stream);
        next
    }

    /// The body as a stream of chunks.
    pub fn bytes_stream(self) -> ChunkStream {
        self.body.into_stream()
    }

    /// Turns a 4xx or 5xx response into an [`Error::Status`] that carries the
    /// response (its body buffered, up to 64 KiB, so the error can say what the
    /// server said); returns other responses unchanged.
    pub async fn error_for_status(self) -> Result<Response> {
        if !(self.status.is_client_error() || self.status.is_server_error()) {
            return Ok(self);
        }
        Err(self.into_status_error().await)
    }

    /// Builds the [`Error::Status`] for this response, whatever its status.
    pub(crate) async fn into_status_error(self) -> Error {
        let request = shown_url(self.url()).to_string();
        let (head, body) = self.into_parts();
        let mut stream = body.into_stream();
        let mut kept = Vec::new();
        while kept.len() < ERROR_BODY_LIMIT {
            match stream.next().await {
                Some(Ok(chunk)) => kept.extend_from_slice(&chunk),
                // The status is the error being reported; a body that breaks
                // off is reported as far as it got.
                Some(Err(_)) | None => break,
            }
        }
        kept.truncate(ERROR_BODY_LIMIT);
        Error::Status(Box::new(StatusError::new(request, head.with_body(kept))))
    }
}

impl Default for Response {
    fn default() -> Self {
        Response::new(StatusCode::OK)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("version", &self.version)
            .field("url", &self.url().as_str())
            .field("headers", self.headers())
            .field("body", &self.body)
            .finish()
    }
}

impl<B: Into<Body>> From<http::Response<B>> for Response {
    fn from(response: http::Response<B>) -> Response {
        let (parts, body) = response.into_parts();
        Response {
            status: parts.status,
            version: parts.version,
            headers: SharedHeaders::new(parts.headers),
            url: None,
            body: body.into(),
            extensions: parts.extensions,
        }
    }
}

impl From<Response> for http::Response<Body> {
    fn from(response: Response) -> http::Response<Body> {
        let headers = response.headers.into_map(HeaderMap::clone);
        let mut out = http::Response::new(response.body);
        *out.status_mut() = response.status;
        *out.version_mut() = response.version;
        *out.headers_mut() = headers;
        *out.extensions_mut() = response.extensions;
        out
    }
}
