//! Response helpers for mock handlers, named as in Ktor's `MockEngine`.

use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::{Body, Response};

/// A response with `status`, `headers` and `body`.
///
/// ```
/// use wiretape::{mock::respond, StatusCode, HeaderMap};
///
/// let response = respond("created", StatusCode::CREATED, HeaderMap::new());
/// assert_eq!(response.status(), 201);
/// ```
pub fn respond(body: impl Into<Body>, status: StatusCode, headers: HeaderMap) -> Response {
    let mut response = Response::new(status).with_body(body);
    *response.headers_mut() = headers;
    response
}

/// `200 OK` with `body`.
pub fn respond_ok(body: impl Into<Body>) -> Response {
    Response::new(StatusCode::OK).with_body(body)
}

/// An error status (500 by default in Ktor; here you name it) with the
/// status's reason phrase as a plain-text body.
///
/// ```
/// use wiretape::{mock::respond_error, StatusCode};
///
/// let response = respond_error(StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(response.status(), 503);
/// ```
pub fn respond_error(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("error");
    Response::new(status)
        .with_header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
        .with_body(reason.to_string())
}

/// `400 Bad Request`.
pub fn respond_bad_request() -> Response {
    respond_error(StatusCode::BAD_REQUEST)
}

/// A redirect (`302 Found`) to `location`.
///
/// ```
/// use wiretape::mock::respond_redirect;
///
/// let response = respond_redirect("/login");
/// assert_eq!(response.status(), 302);
/// assert_eq!(response.headers()["location"], "/login");
/// ```
pub fn respond_redirect(location: &str) -> Response {
    respond_redirect_with(StatusCode::FOUND, location)
}

/// A redirect with a chosen 3xx `status` to `location`. A location that is not
/// a valid header value is percent-encoded rather than rejected.
pub fn respond_redirect_with(status: StatusCode, location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or_else(|_| {
        let encoded: String = url::form_urlencoded::byte_serialize(location.as_bytes()).collect();
        HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static("/"))
    });
    Response::new(status).with_header(header::LOCATION, value)
}

/// `200 OK` with `value` as a JSON body.
///
/// ```
/// use wiretape::mock::respond_json;
///
/// let response = respond_json(&serde_json::json!({"id": 7}));
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
pub fn respond_json<T: serde::Serialize + ?Sized>(value: &T) -> Response {
    Response::new(StatusCode::OK).with_json(value)
}

/// `status` with `value` as a JSON body.
pub fn respond_json_with<T: serde::Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    Response::new(status).with_json(value)
}
