//! The one error type of wiretape.
//!
//! Every failure, whether it comes from the network, a mock, a cassette or the
//! caller's own input, is an [`Error`]. Callers match on its variants (or on
//! [`Error::kind`], a flat `Copy` summary that retry policies and cassettes
//! use), and its message says what happened, to which request, and what to do
//! next.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::Response;

/// A `Result` whose error is wiretape's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a layer below wiretape (hyper, rustls, a user's stream).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when sending a request or talking over a
/// WebSocket.
///
/// The variants are the kinds a caller can act on: a connection that could
/// not be made ([`Error::Connect`]) is safe to retry for any method, a reset
/// mid-exchange ([`Error::ConnectionReset`]) only for idempotent ones, and a
/// [`Error::Timeout`] says which of the three timeouts fired.
///
/// ```
/// use wiretape::{Error, ErrorKind};
///
/// let err = Error::connect(wiretape::ConnectFailure::Refused, "GET http://127.0.0.1:9/", "connection refused");
/// assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
/// assert!(err.to_string().contains("GET http://127.0.0.1:9/"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be made: refused, DNS failure, unreachable host.
    #[error("could not connect for {request}: {reason}: {message}")]
    Connect {
        /// Why the connection failed.
        reason: ConnectFailure,
        /// The request, as `METHOD URL`.
        request: String,
        /// What the layer below said.
        message: String,
    },
    /// The connection was reset or closed by the peer before the exchange
    /// completed (including an empty response or a body cut short).
    #[error("connection reset during {request}: {message}")]
    ConnectionReset {
        /// The request, as `METHOD URL`.
        request: String,
        /// What the layer below said.
        message: String,
    },
    /// A timeout fired.
    #[error("{timeout} timeout{} during {request}{}", after.map(|d| format!(" after {d:?}")).unwrap_or_default(), hint(*timeout))]
    Timeout {
        /// Which timeout fired.
        timeout: TimeoutKind,
        /// The request, as `METHOD URL`.
        request: String,
        /// The configured limit, when known.
        after: Option<Duration>,
    },
    /// The TLS handshake or a TLS record failed (untrusted certificate,
    /// wrong host name, protocol mismatch).
    #[error("TLS error during {request}: {message}")]
    Tls {
        /// The request, as `METHOD URL`.
        request: String,
        /// What rustls said.
        message: String,
    },
    /// Any other I/O failure.
    #[error("I/O error during {request}: {message}")]
    Io {
        /// The request, as `METHOD URL`, or what was being done.
        request: String,
        /// What the operating system said.
        message: String,
    },
    /// The peer spoke malformed HTTP (or HTTP/2), or the exchange broke the
    /// protocol in a way that is not a plain reset.
    #[error("HTTP protocol error during {request}: {message}")]
    Protocol {
        /// The request, as `METHOD URL`.
        request: String,
        /// What hyper said.
        message: String,
    },
    /// The response had an error status and the caller asked for success
    /// (see [`Response::error_for_status`]).
    #[error("{0}")]
    Status(Box<StatusError>),
    /// A body could not be decoded as asked (JSON, charset, compression).
    #[error("could not decode {what}: {message}")]
    Decode {
        /// What was being decoded, for example `JSON response body of GET http://…`.
        what: String,
        /// What the decoder said.
        message: String,
    },
    /// A WebSocket handshake, frame or close failed.
    #[error("WebSocket error on {request}: {message}")]
    WebSocket {
        /// The WebSocket's URL, as `GET ws://…`.
        request: String,
        /// What went wrong.
        message: String,
    },
    /// A mock engine had nothing to answer this request with.
    #[error("{0}")]
    NoRoute(Box<NoRoute>),
    /// A cassette had no recorded interaction for this request (and was not
    /// allowed to record one). The report names the closest recorded
    /// requests and shows a diff.
    #[error("{0}")]
    CassetteMiss(Box<crate::cassette::CassetteMiss>),
    /// A cassette file could not be read, parsed or written.
    #[error("cassette {}{}: {message}", path.display(), position(*line, *column))]
    CassetteFile {
        /// The cassette's path.
        path: std::path::PathBuf,
        /// The 1-based line of the problem, when known.
        line: Option<usize>,
        /// The 1-based column of the problem, when known.
        column: Option<usize>,
        /// What was wrong, and what to do about it.
        message: String,
    },
    /// The caller's input was invalid: a bad URL, header or argument.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What was wrong, and where.
        message: String,
    },
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

fn hint(kind: TimeoutKind) -> &'static str {
    match kind {
        TimeoutKind::Request => {
            " (the call took longer than allowed; if the server is just slow, raise the request timeout, or the retry deadline when retries are on)"
        }
        TimeoutKind::Connect => {
            " (no connection was established in time; is the host up and reachable?)"
        }
        TimeoutKind::Socket => {
            " (the peer went quiet between reads; raise the socket timeout for slow streams)"
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The peer actively refused the connection (nothing listening).
    Refused,
    /// The host name could not be resolved.
    Dns,
    /// Any other reason (unreachable network…).
    Other,
    /// Nothing accepted the connection at the proxy's address: the proxy,
    /// not the origin, is down.
    ProxyRefused,
    /// The proxy answered but would not carry the request: it wants
    /// credentials (407) or rejected them, or refused the tunnel.
    Proxy,
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectFailure::Refused => "connection refused",
            ConnectFailure::Dns => "DNS lookup failed",
            ConnectFailure::Other => "connect failed",
            ConnectFailure::ProxyRefused => "proxy connection refused",
            ConnectFailure::Proxy => "proxy failed",
        })
    }
}

/// Which of the three timeouts fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The whole call, from sending to the end of the response head.
    Request,
    /// Establishing the connection (TCP and TLS).
    Connect,
    /// The time between two reads of the socket.
    Socket,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Request => "request",
            TimeoutKind::Connect => "connect",
            TimeoutKind::Socket => "socket",
        })
    }
}

/// A flat, `Copy` summary of an [`Error`]'s variant, for retry policies,
/// cassettes and logs.
///
/// Its [`as_str`](ErrorKind::as_str) form is what cassettes store
/// (`error: {kind: connection_reset, …}`), and
/// [`from_str`](std::str::FromStr) reads it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Connect`] with [`ConnectFailure::Refused`].
    ConnectionRefused,
    /// [`Error::Connect`] with [`ConnectFailure::Dns`].
    Dns,
    /// [`Error::Connect`] with [`ConnectFailure::Other`].
    Connect,
    /// [`Error::Connect`] with [`ConnectFailure::ProxyRefused`].
    ProxyRefused,
    /// [`Error::Connect`] with [`ConnectFailure::Proxy`].
    Proxy,
    /// [`Error::ConnectionReset`].
    ConnectionReset,
    /// [`Error::Timeout`] with [`TimeoutKind::Request`].
    RequestTimeout,
    /// [`Error::Timeout`] with [`TimeoutKind::Connect`].
    ConnectTimeout,
    /// [`Error::Timeout`] with [`TimeoutKind::Socket`].
    SocketTimeout,
    /// [`Error::Tls`].
    Tls,
    /// [`Error::Io`].
    Io,
    /// [`Error::Protocol`].
    Protocol,
    /// [`Error::Status`].
    Status,
    /// [`Error::Decode`].
    Decode,
    /// [`Error::WebSocket`].
    WebSocket,
    /// [`Error::NoRoute`].
    NoRoute,
    /// [`Error::CassetteMiss`].
    CassetteMiss,
    /// [`Error::CassetteFile`].
    CassetteFile,
    /// [`Error::InvalidInput`].
    InvalidInput,
}

const KIND_NAMES: &[(ErrorKind, &str)] = &[
    (ErrorKind::ConnectionRefused, "connection_refused"),
    (ErrorKind::Dns, "dns"),
    (ErrorKind::Connect, "connect"),
    (ErrorKind::ProxyRefused, "proxy_refused"),
    (ErrorKind::Proxy, "proxy"),
    (ErrorKind::ConnectionReset, "connection_reset"),
    (ErrorKind::RequestTimeout, "request_timeout"),
    (ErrorKind::ConnectTimeout, "connect_timeout"),
    (ErrorKind::SocketTimeout, "socket_timeout"),
    (ErrorKind::Tls, "tls"),
    (ErrorKind::Io, "io"),
    (ErrorKind::Protocol, "protocol"),
    (ErrorKind::Status, "status"),
    (ErrorKind::Decode, "decode"),
    (ErrorKind::WebSocket, "websocket"),
    (ErrorKind::NoRoute, "no_route"),
    (ErrorKind::CassetteMiss, "cassette_miss"),
    (ErrorKind::CassetteFile, "cassette_file"),
    (ErrorKind::InvalidInput, "invalid_input"),
];

impl ErrorKind {
    /// The snake_case name used in cassettes and logs.
    pub fn as_str(self) -> &'static str {
        KIND_NAMES
            .iter()
            .find(|(kind, _)| *kind == self)
            .map(|(_, name)| *name)
            .unwrap_or("io")
    }

    /// Whether the failure happened before any byte of the request could have
    /// reached the server, so retrying is safe even for non-idempotent methods.
    pub fn is_before_request_sent(self) -> bool {
        matches!(
            self,
            ErrorKind::ConnectionRefused
                | ErrorKind::Dns
                | ErrorKind::Connect
                | ErrorKind::ProxyRefused
                | ErrorKind::Proxy
                | ErrorKind::ConnectTimeout
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        KIND_NAMES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(kind, _)| *kind)
            .ok_or_else(|| {
                let known: Vec<&str> = KIND_NAMES.iter().map(|(_, n)| *n).collect();
                Error::invalid(format!(
                    "unknown error kind {s:?}; expected one of: {}",
                    known.join(", ")
                ))
            })
    }
}

/// A response whose status was an error when success was expected.
///
/// It keeps the whole response, its body buffered, so the caller can read
/// what the server said.
#[derive(Debug)]
pub struct StatusError {
    request: String,
    response: Response,
}

impl StatusError {
    pub(crate) fn new(request: String, response: Response) -> Self {
        StatusError { request, response }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The buffered response body (empty if it could not be read).
    pub fn body(&self) -> &[u8] {
        self.response
            .body()
            .as_bytes()
            .map(|b| &b[..])
            .unwrap_or(&[])
    }

    /// The response, with its buffered body.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// Takes the response out of the error.
    pub fn into_response(self) -> Response {
        self.response
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status();
        let class = if status.is_client_error() {
            "client error"
        } else if status.is_server_error() {
            "server error"
        } else {
            "unexpected status"
        };
        write!(f, "{class} {status} for {}", self.request)?;
        let body = self.body();
        if !body.is_empty() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
            let ellipsis = if body.len() > 200 { "…" } else { "" };
            write!(f, "; body: {}{ellipsis}", text.trim_end())?;
        }
        Ok(())
    }
}

/// A request that a mock engine had no answer for.
///
/// The [`Display`](fmt::Display) form names the request, explains why nothing
/// answered it and, when the routing DSL produced them, lists the closest
/// routes ([`NearMiss`]): which of their checks passed, which failed, and a
/// diff of what each failing check expected against what the request had.
///
/// ```
/// use wiretape::{MatchCheck, NearMiss, NoRoute};
///
/// let report = NoRoute::new("GET http://api.test/user/7", "none of the 1 routes matched")
///     .with_near_misses(vec![NearMiss::new(
///         "get user",
///         vec![
///             MatchCheck::passed("method is GET"),
///             MatchCheck::failed("path matches /users/{id}", "- /users/{id}\n+ /user/7"),
///         ],
///     )]);
/// let text = report.to_string();
/// assert!(text.contains("get user: 1 of 2 checks passed"));
/// assert!(text.contains("✗ path matches /users/{id}"));
/// ```
#[derive(Debug, Clone)]
pub struct NoRoute {
    request: String,
    explanation: String,
    near_misses: Vec<NearMiss>,
    omitted: usize,
}

impl NoRoute {
    /// A report for `request` (as `METHOD URL`) with an explanation.
    pub fn new(request: impl Into<String>, explanation: impl Into<String>) -> Self {
        NoRoute {
            request: request.into(),
            explanation: explanation.into(),
            near_misses: Vec::new(),
            omitted: 0,
        }
    }

    /// Adds the closest routes, best first.
    pub fn with_near_misses(mut self, near_misses: Vec<NearMiss>) -> Self {
        self.near_misses = near_misses;
        self
    }

    /// Notes that `omitted` more routes were left out of the report because
    /// they share nothing with the request.
    pub fn with_omitted(mut self, omitted: usize) -> Self {
        self.omitted = omitted;
        self
    }

    /// How many routes were left out of the report.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// The request that went unanswered, as `METHOD URL`.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// Why nothing answered it.
    pub fn explanation(&self) -> &str {
        &self.explanation
    }

    /// The closest routes, best first (empty when the engine has no routes).
    pub fn near_misses(&self) -> &[NearMiss] {
        &self.near_misses
    }
}

impl fmt::Display for NoRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no mock answered {}: {}", self.request, self.explanation)?;
        if self.near_misses.is_empty() {
            return Ok(());
        }
        f.write_str(
            "\n\nclosest routes, best first (✓ passed, ✗ failed; \
             - what the route expects, + what the request has):",
        )?;
        for (rank, near_miss) in self.near_misses.iter().enumerate() {
            write!(f, "\n\n  {}. {near_miss}", rank + 1)?;
        }
        if self.omitted > 0 {
            write!(
                f,
                "\n\n  ({} more route(s) not shown: they share nothing with this request)",
                self.omitted
            )?;
        }
        Ok(())
    }
}

/// A route that almost answered a request: each of its checks, passed or
/// failed. Part of a [`NoRoute`] report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    route: String,
    checks: Vec<MatchCheck>,
}

impl NearMiss {
    /// The checks of the route named `route`, in the route's order.
    pub fn new(route: impl Into<String>, checks: Vec<MatchCheck>) -> Self {
        NearMiss {
            route: route.into(),
            checks,
        }
    }

    /// The route's name (or its description when it has none).
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Every check, passed or failed.
    pub fn checks(&self) -> &[MatchCheck] {
        &self.checks
    }

    /// How many checks passed.
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &MatchCheck> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

impl fmt::Display for NearMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} of {} checks passed",
            self.route,
            self.passed(),
            self.checks.len()
        )?;
        for check in &self.checks {
            let mark = if check.passed { '✓' } else { '✗' };
            write!(f, "\n       {mark} {}", check.description)?;
            if let Some(detail) = &check.detail {
                for line in detail.lines() {
                    write!(f, "\n           {line}")?;
                }
            }
        }
        Ok(())
    }
}

/// One check of a [`NearMiss`]: what the route wanted, whether the request
/// had it and, for a failure, a diff of expected against actual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchCheck {
    /// What the route wanted, for example `header authorization is "Bearer abc"`.
    pub description: String,
    /// Whether the request passed it.
    pub passed: bool,
    /// For a failure: what differed, usually a diff (`-` expected, `+` actual).
    pub detail: Option<String>,
}

impl MatchCheck {
    /// A check the request passed.
    pub fn passed(description: impl Into<String>) -> Self {
        MatchCheck {
            description: description.into(),
            passed: true,
            detail: None,
        }
    }

    /// A check the request failed, with what differed.
    pub fn failed(description: impl Into<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        MatchCheck {
            description: description.into(),
            passed: false,
            detail: (!detail.is_empty()).then_some(detail),
        }
    }
}

impl Error {
    /// The flat kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Connect { reason, .. } => match reason {
                ConnectFailure::Refused => ErrorKind::ConnectionRefused,
                ConnectFailure::Dns => ErrorKind::Dns,
                ConnectFailure::Other => ErrorKind::Connect,
                ConnectFailure::ProxyRefused => ErrorKind::ProxyRefused,
                ConnectFailure::Proxy => ErrorKind::Proxy,
            },
            Error::ConnectionReset { .. } => ErrorKind::ConnectionReset,
            Error::Timeout { timeout, .. } => match timeout {
                TimeoutKind::Request => ErrorKind::RequestTimeout,
                TimeoutKind::Connect => ErrorKind::ConnectTimeout,
                TimeoutKind::Socket => ErrorKind::SocketTimeout,
            },
            Error::Tls { .. } => ErrorKind::Tls,
            Error::Io { .. } => ErrorKind::Io,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::Status(_) => ErrorKind::Status,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::WebSocket { .. } => ErrorKind::WebSocket,
            Error::NoRoute(_) => ErrorKind::NoRoute,
            Error::CassetteMiss(_) => ErrorKind::CassetteMiss,
            Error::CassetteFile { .. } => ErrorKind::CassetteFile,
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
        }
    }

    /// Rebuilds an error of `kind` for `request` (as `METHOD URL`) with a
    /// message: how cassettes and fault plans replay a recorded failure.
    ///
    /// [`ErrorKind::Status`] has no response here, so it becomes an
    /// [`Error::Protocol`] carrying the message; [`ErrorKind::CassetteMiss`]
    /// has no report, so it becomes an [`Error::NoRoute`]; and
    /// [`ErrorKind::CassetteFile`] names `request` as the path.
    pub fn from_kind(
        kind: ErrorKind,
        request: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        let request = request.into();
        let message = message.into();
        match kind {
            ErrorKind::ConnectionRefused => {
                Error::connect(ConnectFailure::Refused, request, message)
            }
            ErrorKind::Dns => Error::connect(ConnectFailure::Dns, request, message),
            ErrorKind::Connect => Error::connect(ConnectFailure::Other, request, message),
            ErrorKind::ProxyRefused => {
                Error::connect(ConnectFailure::ProxyRefused, request, message)
            }
            ErrorKind::Proxy => Error::connect(ConnectFailure::Proxy, request, message),
            ErrorKind::ConnectionReset => Error::ConnectionReset { request, message },
            ErrorKind::RequestTimeout => Error::timeout(TimeoutKind::Request, request, None),
            ErrorKind::ConnectTimeout => Error::timeout(TimeoutKind::Connect, request, None),
            ErrorKind::SocketTimeout => Error::timeout(TimeoutKind::Socket, request, None),
            ErrorKind::Tls => Error::Tls { request, message },
            ErrorKind::Io => Error::Io { request, message },
            ErrorKind::Protocol | ErrorKind::Status => Error::Protocol { request, message },
            ErrorKind::Decode => Error::Decode {
                what: request,
                message,
            },
            ErrorKind::WebSocket => Error::WebSocket { request, message },
            ErrorKind::NoRoute => Error::NoRoute(Box::new(NoRoute::new(request, message))),
            ErrorKind::CassetteMiss => Error::NoRoute(Box::new(NoRoute::new(request, message))),
            ErrorKind::CassetteFile => Error::CassetteFile {
                path: request.into(),
                line: None,
                column: None,
                message,
            },
            ErrorKind::InvalidInput => Error::InvalidInput { message },
        }
    }

    /// A connection failure.
    pub fn connect(
        reason: ConnectFailure,
        request: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Connect {
            reason,
            request: request.into(),
            message: message.into(),
        }
    }

    /// A connection reset for `request`.
    pub fn reset(request: impl Into<String>, message: impl Into<String>) -> Error {
        Error::ConnectionReset {
            request: request.into(),
            message: message.into(),
        }
    }

    /// A timeout of the given kind.
    pub fn timeout(
        timeout: TimeoutKind,
        request: impl Into<String>,
        after: Option<Duration>,
    ) -> Error {
        Error::Timeout {
            timeout,
            request: request.into(),
            after,
        }
    }

    /// Invalid caller input; the message should name the problem and where.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// A decode failure of `what`.
    pub fn decode(what: impl Into<String>, message: impl fmt::Display) -> Error {
        Error::Decode {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// A WebSocket failure on `request`.
    pub fn websocket(request: impl Into<String>, message: impl Into<String>) -> Error {
        Error::WebSocket {
            request: request.into(),
            message: message.into(),
        }
    }

    /// A WebSocket upgrade that `response` refused (any status but `101`):
    /// an [`Error::Status`], so that the caller reads the status, headers and
    /// body (`WWW-Authenticate` on a `401`) the same way from every engine,
    /// a route's [`Socket::refuse`](crate::mock::socket::Socket::refuse), a
    /// tape and a real server alike, and `serve` sends it on as it is.
    pub(crate) fn refused_upgrade(request: impl Into<String>, response: Response) -> Error {
        Error::Status(Box::new(StatusError::new(request.into(), response)))
    }

    /// The error's message without the request prefix: what the layer below
    /// said. Cassettes store this next to the kind.
    pub fn message(&self) -> String {
        match self {
            Error::Connect { message, .. }
            | Error::ConnectionReset { message, .. }
            | Error::Tls { message, .. }
            | Error::Io { message, .. }
            | Error::Protocol { message, .. }
            | Error::Decode { message, .. }
            | Error::WebSocket { message, .. }
            | Error::CassetteFile { message, .. }
            | Error::InvalidInput { message } => message.clone(),
            Error::CassetteMiss(miss) => miss.summary(),
            Error::Timeout { timeout, after, .. } => match after {
                Some(after) => format!("{timeout} timeout after {after:?}"),
                None => format!("{timeout} timeout"),
            },
            Error::Status(status) => status.to_string(),
            Error::NoRoute(no_route) => no_route.explanation().to_string(),
        }
    }

    /// The response carried by an [`Error::Status`], if this is one.
    pub fn status_response(&self) -> Option<&Response> {
        match self {
            Error::Status(status) => Some(status.response()),
            _ => None,
        }
    }
}
