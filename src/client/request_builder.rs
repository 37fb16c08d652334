//! Building one request.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, Version, header};
use serde::Serialize;

use super::{Client, Form};
use crate::plugins::{
    DownloadProgress, ExpectSuccess, Progress, ProgressFn, Redirect, Retry, Timeouts,
    UploadProgress,
};
use crate::ws::{WebSocket, WsConfig};
use crate::{Body, Error, Request, Response, Result};

/// A request being built; finish with [`send`](RequestBuilder::send).
///
/// Errors in any step (an invalid header, a value that is not JSON) are kept
/// and returned by `send`, so a chain never panics.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_ok}, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_ok("")) });
/// let client = Client::builder().engine(engine.clone()).build().unwrap();
/// client
///     .post("http://api.test/search")
///     .query(&[("q", "rust http"), ("page", "2")])
///     .bearer_auth("s3cret")
///     .json(&serde_json::json!({"filters": ["new"]}))
///     .send()
///     .await
///     .unwrap();
/// let sent = &engine.request_history()[0];
/// assert_eq!(sent.url().as_str(), "http://api.test/search?q=rust+http&page=2");
/// assert_eq!(sent.headers()["authorization"], "Bearer s3cret");
/// assert_eq!(sent.body().as_bytes().unwrap(), r#"{"filters":["new"]}"#);
/// # });
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    request: Result<Request>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, request: Result<Request>) -> RequestBuilder {
        RequestBuilder { client, request }
    }

    fn map(mut self, f: impl FnOnce(&mut Request) -> Result<()>) -> RequestBuilder {
        if let Ok(request) = &mut self.request
            && let Err(err) = f(request)
        {
            self.request = Err(err);
        }
        self
    }

    /// Appends a header.
    pub fn header<K, V>(self, name: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        self.map(|request| {
            let name = name.try_into().map_err(|err| {
                Error::invalid(format!("invalid header name for {request}: {err}"))
            })?;
            let value = value.try_into().map_err(|err| {
                Error::invalid(format!(
                    "invalid value for header {name} of {request}: {err}"
                ))
            })?;
            request.headers_mut().append(name, value);
            Ok(())
        })
    }

    /// Appends every header of `headers`.
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.map(|request| {
            let mut last = None;
            for (name, value) in headers {
                // HeaderMap's owning iterator names only the first value of each header.
                if let Some(name) = name {
                    last = Some(name);
                }
                if let Some(name) = &last {
                    request.headers_mut().append(name.clone(), value);
                }
            }
            Ok(())
        })
    }

    /// Appends query parameters, percent-encoded, after any already in the
    /// URL. Accepts anything that serializes as pairs: `&[("k", "v")]`, a map,
    /// a struct.
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> RequestBuilder {
        self.map(|request| {
            let encoded = serde_urlencoded::to_string(query).map_err(|err| {
                Error::invalid(format!("query for {request} is not a list of pairs: {err}"))
            })?;
            if !encoded.is_empty() {
                let url = request.url_mut();
                let joined = match url.query() {
                    Some(existing) if !existing.is_empty() => format!("{existing}&{encoded}"),
                    _ => encoded,
                };
                url.set_query(Some(&joined));
            }
            Ok(())
        })
    }

    /// A JSON body, with `content-type: application/json` unless one is set.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> RequestBuilder {
        self.map(|request| {
            let bytes = serde_json::to_vec(value).map_err(|err| {
                Error::invalid(format!(
                    "body of {request} cannot be encoded as JSON: {err}"
                ))
            })?;
            set_default_content_type(request, "application/json");
            *request.body_mut() = Body::from(bytes);
            Ok(())
        })
    }

    /// A URL-encoded form body (`application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(self, value: &T) -> RequestBuilder {
        self.map(|request| {
            let encoded = serde_urlencoded::to_string(value).map_err(|err| {
                Error::invalid(format!("form for {request} is not a list of pairs: {err}"))
            })?;
            set_default_content_type(request, "application/x-www-form-urlencoded");
            *request.body_mut() = Body::from(encoded);
            Ok(())
        })
    }

    /// A `multipart/form-data` body with text and file parts (Ktor's
    /// `submitFormWithBinaryData`).
    pub fn multipart(self, form: Form) -> RequestBuilder {
        self.map(|request| {
            let content_type = form.content_type();
            let body = form.encode()?;
            let content_type = HeaderValue::from_str(&content_type).map_err(|err| {
                Error::invalid(format!("multipart content type for {request}: {err}"))
            })?;
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            *request.body_mut() = Body::from(body);
            Ok(())
        })
    }

    /// A raw body: bytes, text, or a [`Body`] stream. Sets no content type.
    pub fn body(self, body: impl Into<Body>) -> RequestBuilder {
        let body = body.into();
        self.map(|request| {
            *request.body_mut() = body;
            Ok(())
        })
    }

    /// HTTP basic authentication.
    pub fn basic_auth(
        self,
        username: impl fmt::Display,
        password: Option<impl fmt::Display>,
    ) -> RequestBuilder {
        let credentials = match password {
            Some(password) => format!("{username}:{password}"),
            None => format!("{username}:"),
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        self.sensitive_header(header::AUTHORIZATION, format!("Basic {encoded}"))
    }

    /// A bearer token.
    pub fn bearer_auth(self, token: impl fmt::Display) -> RequestBuilder {
        self.sensitive_header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    fn sensitive_header(self, name: HeaderName, value: String) -> RequestBuilder {
        self.map(|request| {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                Error::invalid(format!(
                    "credentials for {request} contain characters not allowed in a header"
                ))
            })?;
            value.set_sensitive(true);
            request.headers_mut().insert(name, value);
            Ok(())
        })
    }

    /// The request timeout for this request (each exchange, until the
    /// response head), overriding the client's; see [`Timeouts`].
    pub fn timeout(self, limit: Duration) -> RequestBuilder {
        self.map(|request| {
            let timeouts = request
                .extensions()
                .get::<Timeouts>()
                .copied()
                .unwrap_or_default()
                .request(limit);
            request.extensions_mut().insert(timeouts);
            Ok(())
        })
    }

    /// Timeouts for this request: the limits set in `timeouts` override the
    /// client's, the others stay.
    pub fn timeouts(self, timeouts: Timeouts) -> RequestBuilder {
        self.extension(timeouts)
    }

    /// A retry policy for this request, replacing the client's
    /// ([`Retry::disabled`] for none); see [`Retry`].
    pub fn retry(self, retry: Retry) -> RequestBuilder {
        self.extension(retry)
    }

    /// How this request follows redirects, replacing the client's setting.
    pub fn redirect(self, redirect: Redirect) -> RequestBuilder {
        self.extension(redirect)
    }

    /// Whether a `3xx`/`4xx`/`5xx` response to this request becomes an
    /// [`Error::Status`], overriding the client's
    /// [`ResponseValidator`](crate::plugins::ResponseValidator).
    pub fn expect_success(self, expect: bool) -> RequestBuilder {
        self.extension(ExpectSuccess(expect))
    }

    /// Calls `callback` as the request body is sent; see [`Progress`].
    pub fn on_upload<F>(self, callback: F) -> RequestBuilder
    where
        F: Fn(Progress) + Send + Sync + 'static,
    {
        self.extension(UploadProgress(ProgressFn::new(callback)))
    }

    /// Calls `callback` as the response body is received; see [`Progress`].
    pub fn on_download<F>(self, callback: F) -> RequestBuilder
    where
        F: Fn(Progress) + Send + Sync + 'static,
    {
        self.extension(DownloadProgress(ProgressFn::new(callback)))
    }

    /// The HTTP version to ask for.
    pub fn version(self, version: Version) -> RequestBuilder {
        self.map(|request| {
            *request.version_mut() = version;
            Ok(())
        })
    }

    /// WebSocket settings for this session, overriding the client's.
    pub fn websocket_config(self, config: WsConfig) -> RequestBuilder {
        self.extension(config)
    }

    /// A typed per-request setting that plugins and engines read.
    pub fn extension<T: Clone + Send + Sync + 'static>(self, value: T) -> RequestBuilder {
        self.map(|request| {
            request.extensions_mut().insert(value);
            Ok(())
        })
    }

    /// The request, without sending it.
    pub fn build(self) -> Result<Request> {
        self.request
    }

    /// Sends the request and waits for the response head.
    pub async fn send(self) -> Result<Response> {
        let request = self.request?;
        self.client.execute(request).await
    }

    /// Opens a WebSocket with this request (its method is ignored: a
    /// handshake is always a `GET`).
    pub async fn websocket(self) -> Result<WebSocket> {
        let request = self.request?;
        self.client.open_websocket(request).await
    }

    /// Opens a server-sent event stream with this request; see
    /// [`Client::sse`](crate::Client::sse).
    pub fn sse(self) -> crate::sse::SseRequest {
        crate::sse::SseRequest::new(self.client, self.request)
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("request", &self.request)
            .finish()
    }
}

fn set_default_content_type(request: &mut Request, value: &'static str) {
    if !request.headers().contains_key(header::CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
    }
}
