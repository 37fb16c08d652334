//! Request matchers: what a route checks before it answers.
//!
//! Every function here returns a [`Matcher`]; combine them on a
//! [`Route`](super::Route) with [`Route::given`](super::Route::given) and
//! [`Route::and`](super::Route::and), or with [`any`], [`all`] and [`not`].
//! A matcher built from bad input (an invalid regex, method or header name)
//! never panics: the route that holds it reports the problem when it is
//! registered ([`Router::try_mock`](super::Router::try_mock)) or used.
//!
//! ```
//! use wiretape::mock::matchers::*;
//! use wiretape::{Method, Request};
//!
//! let request = Request::new(Method::GET, "http://api.test/users/7?page=2".parse().unwrap());
//! assert!(method("GET").matches(&request));
//! assert!(path("/users/{id}").matches(&request));
//! assert!(query_param("page", "2").matches(&request));
//! assert!(!any([path("/teams"), query_param_exists("team")]).matches(&request));
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, Method};
use serde_json::Value;

use super::template::PathTemplate;
use crate::{Request, fingerprint};

/// A check on a request. Implement it for matchers of your own, or use
/// [`matching`] for a closure.
pub trait Match: Send + Sync + 'static {
    /// Whether `request` passes.
    fn matches(&self, request: &Request) -> bool;

    /// What the matcher wants, in a few words: `header x-team is "payments"`.
    fn describe(&self) -> String;

    /// For a request that failed: what was expected and what the request had,
    /// as two texts that near-miss reports diff line by line. `None` when
    /// there is nothing useful to compare.
    fn mismatch(&self, request: &Request) -> Option<Mismatch> {
        let _ = request;
        None
    }
}

/// What a failing matcher expected and what the request had instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The expected text.
    pub expected: String,
    /// The request's text.
    pub actual: String,
}

/// What the router's index may learn from a matcher.
#[derive(Clone)]
pub(crate) enum Hint {
    None,
    Method(Method),
    Path(Arc<PathTemplate>),
    /// The fingerprint of the body an exact body matcher wants.
    Body(BodyKey),
}

/// The fingerprint ([`crate::fingerprint`]) of an exact body: of its bytes,
/// or of its JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BodyKey {
    Bytes(u64),
    Json(u64),
}

/// A request matcher: one of the functions of this module, a combination
/// ([`any`], [`all`], [`not`]), a closure ([`matching`]) or your own
/// [`Match`] implementation (`Matcher::from(my_matcher)`).
#[derive(Clone)]
pub struct Matcher {
    inner: Arc<dyn Match>,
    hint: Hint,
    problem: Option<Arc<str>>,
}

impl Matcher {
    /// Whether `request` passes this matcher.
    pub fn matches(&self, request: &Request) -> bool {
        self.problem.is_none() && self.inner.matches(request)
    }

    /// What the matcher wants, in a few words.
    pub fn describe(&self) -> String {
        self.inner.describe()
    }

    /// What a failing request had instead of what was expected; see
    /// [`Match::mismatch`].
    pub fn mismatch(&self, request: &Request) -> Option<Mismatch> {
        self.inner.mismatch(request)
    }

    /// Why this matcher could not be built (a bad regex, method or header
    /// name), if it could not.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    pub(crate) fn hint(&self) -> &Hint {
        &self.hint
    }

    fn with_hint(mut self, hint: Hint) -> Matcher {
        self.hint = hint;
        self
    }

    /// A matcher that could not be built: it never matches and says why.
    fn invalid(description: String, problem: String) -> Matcher {
        Matcher {
            problem: Some(format!("{description}: {problem}").into()),
            ..Check::new(description, |_| false).into()
        }
    }
}

impl<M: Match> From<M> for Matcher {
    fn from(matcher: M) -> Matcher {
        Matcher {
            inner: Arc::new(matcher),
            hint: Hint::None,
            problem: None,
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

type Test = Box<dyn Fn(&Request) -> bool + Send + Sync>;
type Actual = Box<dyn Fn(&Request) -> String + Send + Sync>;

/// The built-in matchers: a description, a test and, for reports, the
/// expected text and a way to read the request's actual one.
struct Check {
    description: String,
    test: Test,
    diff: Option<(String, Actual)>,
}

impl Check {
    fn new(description: String, test: impl Fn(&Request) -> bool + Send + Sync + 'static) -> Check {
        Check {
            description,
            test: Box::new(test),
            diff: None,
        }
    }

    fn diffed(
        mut self,
        expected: impl Into<String>,
        actual: impl Fn(&Request) -> String + Send + Sync + 'static,
    ) -> Check {
        self.diff = Some((expected.into(), Box::new(actual)));
        self
    }
}

impl Match for Check {
    fn matches(&self, request: &Request) -> bool {
        (self.test)(request)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn mismatch(&self, request: &Request) -> Option<Mismatch> {
        self.diff.as_ref().map(|(expected, actual)| Mismatch {
            expected: expected.clone(),
            actual: actual(request),
        })
    }
}

// ---------------------------------------------------------------- method, path

/// The method, case-insensitively (`"get"` is `GET`).
pub fn method(method: impl AsRef<str>) -> Matcher {
    let text = method.as_ref().to_ascii_uppercase();
    let description = format!("method is {text}");
    match Method::from_bytes(text.as_bytes()) {
        Ok(wanted) => {
            let hint = Hint::Method(wanted.clone());
            let expected = wanted.to_string();
            Matcher::from(
                Check::new(description, move |r| *r.method() == wanted)
                    .diffed(expected, |r| r.method().to_string()),
            )
            .with_hint(hint)
        }
        Err(_) => Matcher::invalid(description, format!("{text:?} is not a valid HTTP method")),
    }
}

/// The path: exact (`/users`), or a template whose `{name}` segments match
/// any one segment and whose trailing `{*name}` matches the rest
/// (`/users/{id}`, `/files/{*rest}`). Captures reach responders through
/// [`Params`](super::responders::Params). The path is compared percent-encoded, as sent;
/// what the template writes raw that a client must encode (`/files/my report`,
/// `/search/café`) is encoded first, so it matches what the client sends.
pub fn path(template: impl AsRef<str>) -> Matcher {
    let text = template.as_ref();
    let description = format!("path is {text}");
    match PathTemplate::parse(text) {
        Ok(template) => {
            let template = Arc::new(template);
            let hint = Hint::Path(template.clone());
            let expected = template.as_str().to_owned();
            Matcher::from(
                Check::new(description, move |r| template.matches(r.path()))
                    .diffed(expected, |r| r.path().to_owned()),
            )
            .with_hint(hint)
        }
        Err(problem) => Matcher::invalid(description, problem),
    }
}

/// The path starts with `prefix`.
pub fn path_prefix(prefix: impl Into<String>) -> Matcher {
    let prefix = prefix.into();
    let expected = format!("{prefix}…");
    let description = format!("path starts with {prefix}");
    Matcher::from(
        Check::new(description, move |r| r.path().starts_with(&prefix))
            .diffed(expected, |r| r.path().to_owned()),
    )
}

/// The path matches the regular expression `pattern` (unanchored unless it
/// says `^…$`).
pub fn path_regex(pattern: &str) -> Matcher {
    let description = format!("path matches /{pattern}/");
    regex_check(description, pattern, |r| r.path().to_owned())
}

// ------------------------------------------------------------- scheme, host, port

/// The URL scheme (`http`, `https`, `ws`, `wss`), case-insensitively.
pub fn scheme(scheme: impl AsRef<str>) -> Matcher {
    let wanted = scheme.as_ref().to_ascii_lowercase();
    let description = format!("scheme is {wanted}");
    let expected = wanted.clone();
    Matcher::from(
        Check::new(description, move |r| r.target().scheme() == wanted)
            .diffed(expected, |r| r.target().scheme().to_owned()),
    )
}

/// The host name or address, case-insensitively.
pub fn host(host: impl AsRef<str>) -> Matcher {
    let wanted = host.as_ref().to_ascii_lowercase();
    let description = format!("host is {wanted}");
    let expected = wanted.clone();
    Matcher::from(
        Check::new(description, move |r| {
            r.url()
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&wanted))
        })
        .diffed(expected, |r| {
            r.url().host_str().unwrap_or("(none)").to_owned()
        }),
    )
}

/// The port, explicit or the scheme's default (80 for `http`, 443 for `https`).
pub fn port(port: u16) -> Matcher {
    Matcher::from(
        Check::new(format!("port is {port}"), move |r| {
            r.url().port_or_known_default() == Some(port)
        })
        .diffed(port.to_string(), |r| {
            r.url()
                .port_or_known_default()
                .map_or("(none)".to_owned(), |p| p.to_string())
        }),
    )
}

// ------------------------------------------------------------------------ query

/// The query's decoded pairs, as [`Url::query_pairs`](url::Url::query_pairs)
/// gives them, read from the request's text without parsing its URL.
fn query_pairs(request: &Request) -> url::form_urlencoded::Parse<'_> {
    url::form_urlencoded::parse(request.query().unwrap_or("").as_bytes())
}

fn query_values(request: &Request, name: &str) -> Vec<String> {
    query_pairs(request)
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn query_actual(name: String) -> impl Fn(&Request) -> String + Send + Sync + 'static {
    move |r| {
        let values = query_values(r, &name);
        if values.is_empty() {
            format!("(no {name} parameter; query: {})", r.query().unwrap_or(""))
        } else {
            values
                .iter()
                .map(|v| format!("{name}={v}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// A query parameter `name` has the value `value` (decoded; one of its values
/// if it repeats).
pub fn query_param(name: impl Into<String>, value: impl Into<String>) -> Matcher {
    let (name, value) = (name.into(), value.into());
    let description = format!("query {name}={value:?}");
    let expected = format!("{name}={value}");
    let actual = query_actual(name.clone());
    Matcher::from(
        Check::new(description, move |r| {
            query_pairs(r).any(|(k, v)| k == name && v == value)
        })
        .diffed(expected, actual),
    )
}

/// A query parameter `name` is present, with any value.
pub fn query_param_exists(name: impl Into<String>) -> Matcher {
    let name = name.into();
    let description = format!("query has {name}");
    let expected = format!("{name}=…");
    let actual = query_actual(name.clone());
    Matcher::from(
        Check::new(description, move |r| query_pairs(r).any(|(k, _)| k == name))
            .diffed(expected, actual),
    )
}

/// No query parameter is named `name`.
pub fn query_param_missing(name: impl Into<String>) -> Matcher {
    let name = name.into();
    let description = format!("query has no {name}");
    let expected = format!("(no {name} parameter)");
    let actual = query_actual(name.clone());
    Matcher::from(
        Check::new(description, move |r| {
            !query_pairs(r).any(|(k, _)| k == name)
        })
        .diffed(expected, actual),
    )
}

/// A value of query parameter `name` matches the regular expression `pattern`.
pub fn query_param_regex(name: impl Into<String>, pattern: &str) -> Matcher {
    let name = name.into();
    let description = format!("query {name} matches /{pattern}/");
    let actual = query_actual(name.clone());
    match regex::Regex::new(pattern) {
        Ok(re) => Matcher::from(
            Check::new(description, move |r| {
                query_values(r, &name).iter().any(|v| re.is_match(v))
            })
            .diffed(format!("/{pattern}/"), actual),
        ),
        Err(err) => Matcher::invalid(description, format!("invalid regex: {err}")),
    }
}

/// Every `(name, value)` pair is in the query, in any order, with any other
/// parameters around them. A pair listed twice must appear twice.
pub fn query_params<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Matcher
where
    K: Into<String>,
    V: Into<String>,
{
    let mut wanted: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    wanted.sort();
    let expected = wanted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let description = format!("query includes {}", expected.replace('\n', "&"));
    let shown = wanted.clone();
    Matcher::from(
        Check::new(description, move |r| {
            let mut have: Vec<(String, String)> = query_pairs(r)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            wanted
                .iter()
                .all(|pair| match have.iter().position(|h| h == pair) {
                    Some(at) => {
                        have.swap_remove(at);
                        true
                    }
                    None => false,
                })
        })
        .diffed(expected, move |r| {
            // The request's pairs for the names the route cares about, sorted
            // like the expected ones so that the diff shows only real changes.
            let mut have: Vec<String> = query_pairs(r)
                .filter(|(k, _)| shown.iter().any(|(name, _)| name == k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            have.sort();
            have.join("\n")
        }),
    )
}

// ---------------------------------------------------------------------- headers

fn header_name(name: &str, description: &str) -> Result<HeaderName, Matcher> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Matcher::invalid(
            description.to_owned(),
            format!("{name:?} is not a valid header name"),
        )
    })
}

fn header_values(request: &Request, name: &HeaderName) -> Vec<String> {
    request
        .headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// Whether the values of header `name` are credentials (`authorization`,
/// `cookie`, `x-api-key`…, the headers cassettes redact), which a report
/// never shows: a not-found report may be served to any client.
fn is_credential(name: &str) -> bool {
    crate::cassette::DEFAULT_REDACTED_HEADERS
        .iter()
        .any(|credential| credential.eq_ignore_ascii_case(name))
}

/// What a report shows of the request's header `name`: its values, or for a
/// credential only whether each is `expected`.
fn header_actual(
    name: HeaderName,
    expected: Option<String>,
) -> impl Fn(&Request) -> String + Send + Sync + 'static {
    let hidden = is_credential(name.as_str());
    move |r| {
        let values = header_values(r, &name);
        if values.is_empty() {
            return format!("(no {name} header)");
        }
        values
            .iter()
            .map(|v| match (hidden, &expected) {
                (false, _) => format!("{name}: {v}"),
                (true, Some(wanted)) if wanted == v => format!("{name}: <the expected value>"),
                (true, Some(_)) => format!("{name}: <a different value>"),
                (true, None) => format!("{name}: <a value>"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A header `name` has the value `value` exactly (one of its values, if it
/// repeats). Names are case-insensitive. For a credential header
/// (`x-api-key`, `cookie`…) reports never show the value.
pub fn header(name: impl AsRef<str>, value: impl Into<String>) -> Matcher {
    let value = value.into();
    let description = match is_credential(name.as_ref()) {
        true => format!("header {} is the expected value", name.as_ref()),
        false => format!("header {} is {value:?}", name.as_ref()),
    };
    let name = match header_name(name.as_ref(), &description) {
        Ok(name) => name,
        Err(invalid) => return invalid,
    };
    let expected = match is_credential(name.as_str()) {
        true => format!("{name}: <the expected value>"),
        false => format!("{name}: {value}"),
    };
    let actual = header_actual(name.clone(), Some(value.clone()));
    Matcher::from(
        Check::new(description, move |r| {
            r.headers()
                .get_all(&name)
                .iter()
                .any(|v| v.as_bytes() == value.as_bytes())
        })
        .diffed(expected, actual),
    )
}

/// A header `name` is present.
pub fn header_exists(name: impl AsRef<str>) -> Matcher {
    let description = format!("header {} is present", name.as_ref());
    let name = match header_name(name.as_ref(), &description) {
        Ok(name) => name,
        Err(invalid) => return invalid,
    };
    let expected = format!("{name}: …");
    let actual = header_actual(name.clone(), None);
    Matcher::from(
        Check::new(description, move |r| r.headers().contains_key(&name)).diffed(expected, actual),
    )
}

/// No header is named `name`.
pub fn header_missing(name: impl AsRef<str>) -> Matcher {
    let description = format!("header {} is absent", name.as_ref());
    let name = match header_name(name.as_ref(), &description) {
        Ok(name) => name,
        Err(invalid) => return invalid,
    };
    let expected = format!("(no {name} header)");
    let actual = header_actual(name.clone(), None);
    Matcher::from(
        Check::new(description, move |r| !r.headers().contains_key(&name)).diffed(expected, actual),
    )
}

/// A value of header `name` matches the regular expression `pattern`.
pub fn header_regex(name: impl AsRef<str>, pattern: &str) -> Matcher {
    let description = format!("header {} matches /{pattern}/", name.as_ref());
    let name = match header_name(name.as_ref(), &description) {
        Ok(name) => name,
        Err(invalid) => return invalid,
    };
    let actual = header_actual(name.clone(), None);
    let expected = format!("{name}: /{pattern}/");
    match regex::Regex::new(pattern) {
        Ok(re) => Matcher::from(
            Check::new(description, move |r| {
                header_values(r, &name).iter().any(|v| re.is_match(v))
            })
            .diffed(expected, actual),
        ),
        Err(err) => Matcher::invalid(description, format!("invalid regex: {err}")),
    }
}

/// `Authorization: Bearer <token>`. Reports never show a token, only
/// whether the request had a different one (a not-found report may be
/// served to any client).
pub fn bearer_token(token: impl AsRef<str>) -> Matcher {
    let wanted = format!("Bearer {}", token.as_ref());
    let description = "authorization is the expected bearer token";
    let expected = "authorization: Bearer <the expected token>";
    let shown = wanted.clone();
    Matcher::from(
        Check::new(description.to_owned(), move |r| {
            r.headers()
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .any(|v| v.as_bytes() == wanted.as_bytes())
        })
        .diffed(expected, move |r| {
            masked_authorization(r, |scheme, credentials| {
                let bearer = scheme.eq_ignore_ascii_case("bearer");
                match (bearer, format!("Bearer {credentials}") == shown) {
                    (true, true) => "Bearer <the expected token>".to_owned(),
                    (true, false) => "Bearer <a different token>".to_owned(),
                    (false, _) => format!("{scheme} <credentials>"),
                }
            })
        }),
    )
}

/// The request's `Authorization` values as a report may show them: each
/// value through `mask(scheme, credentials)`, never the credentials.
fn masked_authorization(request: &Request, mask: impl Fn(&str, &str) -> String) -> String {
    let values = header_values(request, &http::header::AUTHORIZATION);
    if values.is_empty() {
        return "(no authorization header)".to_owned();
    }
    values
        .iter()
        .map(|value| {
            let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
            format!("authorization: {}", mask(scheme, credentials.trim()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Authorization: Basic …` with this user name and password. Reports
/// never show a password, only whether it differed.
pub fn basic_auth(user: impl AsRef<str>, password: impl AsRef<str>) -> Matcher {
    let (user, password) = (user.as_ref().to_owned(), password.as_ref().to_owned());
    let description = format!("basic auth as user {user:?}");
    let expected = format!("Basic {user}:<the expected password>");
    let wanted = format!("{user}:{password}");
    Matcher::from(
        Check::new(description, move |r| {
            basic_credentials(r).is_some_and(|have| have == wanted)
        })
        .diffed(expected, move |r| match basic_credentials(r) {
            Some(have) => match have.split_once(':') {
                Some((have_user, have_password)) if have_password == password => {
                    format!("Basic {have_user}:<the expected password>")
                }
                Some((have_user, _)) => format!("Basic {have_user}:<a different password>"),
                None => "Basic credentials without a ':' between user and password".to_owned(),
            },
            None => masked_authorization(r, |scheme, _| format!("{scheme} <credentials>")),
        }),
    )
}

fn basic_credentials(request: &Request) -> Option<String> {
    let value = request.header_str("authorization")?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

// ------------------------------------------------------------------------- body

/// The request's body bytes, as every body matcher sees them (empty when
/// the body is a stream the router has not buffered).
pub(crate) fn body(request: &Request) -> &[u8] {
    request.body().as_bytes().map(|b| &b[..]).unwrap_or(&[])
}

fn body_text(request: &Request) -> String {
    const LIMIT: usize = 4096;
    let bytes = body(request);
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(LIMIT)]).into_owned();
    if bytes.is_empty() {
        "(empty body)".to_owned()
    } else if bytes.len() > LIMIT {
        format!("{text}… ({} bytes in all)", bytes.len())
    } else {
        text
    }
}

/// The request body as pretty JSON, keeping only what `shape` (when given)
/// has, so that a partial match's diff shows only the parts it checks.
fn body_json_text(request: &Request, shape: Option<&Value>) -> String {
    match serde_json::from_slice::<Value>(body(request)) {
        Ok(value) => match shape {
            Some(shape) => pretty(&project(&value, shape)),
            None => pretty(&value),
        },
        Err(err) => format!("(not JSON: {err})\n{}", body_text(request)),
    }
}

/// `have`, restricted to the object keys that `shape` has (recursively).
fn project(have: &Value, shape: &Value) -> Value {
    match (have, shape) {
        (Value::Object(have), Value::Object(shape)) => Value::Object(
            have.iter()
                .filter_map(|(k, h)| shape.get(k).map(|s| (k.clone(), project(h, s))))
                .collect(),
        ),
        (Value::Array(have), Value::Array(shape)) if have.len() == shape.len() => {
            Value::Array(have.iter().zip(shape).map(|(h, s)| project(h, s)).collect())
        }
        _ => have.clone(),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The body is exactly these bytes.
pub fn body_bytes(bytes: impl Into<Bytes>) -> Matcher {
    let wanted: Bytes = bytes.into();
    let expected = String::from_utf8_lossy(&wanted).into_owned();
    let description = format!("body is {} bytes exactly", wanted.len());
    let hint = Hint::Body(BodyKey::Bytes(fingerprint::of_bytes(&wanted)));
    Matcher::from(
        Check::new(description, move |r| body(r) == &wanted[..]).diffed(expected, body_text),
    )
    .with_hint(hint)
}

/// The body is exactly this text.
pub fn body_string(text: impl Into<String>) -> Matcher {
    let text = text.into();
    let description = format!("body is {:?}", shorten(&text));
    let expected = text.clone();
    let hint = Hint::Body(BodyKey::Bytes(fingerprint::of_bytes(text.as_bytes())));
    Matcher::from(
        Check::new(description, move |r| body(r) == text.as_bytes()).diffed(expected, body_text),
    )
    .with_hint(hint)
}

/// The body contains this text.
pub fn body_string_contains(text: impl Into<String>) -> Matcher {
    let text = text.into();
    let description = format!("body contains {:?}", shorten(&text));
    let expected = format!("…{text}…");
    Matcher::from(
        Check::new(description, move |r| {
            contains_bytes(body(r), text.as_bytes())
        })
        .diffed(expected, body_text),
    )
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The body matches the regular expression `pattern` (on bytes, so a binary
/// body can match too).
pub fn body_regex(pattern: &str) -> Matcher {
    let description = format!("body matches /{pattern}/");
    match regex::bytes::Regex::new(pattern) {
        Ok(re) => Matcher::from(
            Check::new(description, move |r| re.is_match(body(r)))
                .diffed(format!("/{pattern}/"), body_text),
        ),
        Err(err) => Matcher::invalid(description, format!("invalid regex: {err}")),
    }
}

/// The body is JSON equal to `value`: key order and whitespace do not
/// matter; numbers compare as JSON numbers (`1` is not `1.0`).
pub fn body_json<T: serde::Serialize + ?Sized>(value: &T) -> Matcher {
    json_check(value, false)
}

/// The body is JSON that contains `value`: every key of an expected object
/// is present with a matching value (extra keys are fine, recursively);
/// arrays match element by element and must have the same length; other
/// values must be equal.
///
/// ```
/// use wiretape::mock::matchers::body_partial_json;
/// use wiretape::{Method, Request};
///
/// let request = Request::new(Method::POST, "http://api.test/users".parse().unwrap())
///     .with_body(r#"{"name": "Ada", "role": "admin", "tags": [{"k": 1, "x": 2}]}"#);
/// assert!(body_partial_json(&serde_json::json!({"name": "Ada", "tags": [{"k": 1}]})).matches(&request));
/// assert!(!body_partial_json(&serde_json::json!({"name": "Bob"})).matches(&request));
/// ```
pub fn body_partial_json<T: serde::Serialize + ?Sized>(value: &T) -> Matcher {
    json_check(value, true)
}

fn json_check<T: serde::Serialize + ?Sized>(value: &T, partial: bool) -> Matcher {
    let (what, test): (&str, fn(&Value, &Value) -> bool) = if partial {
        ("body includes JSON", json_contains)
    } else {
        ("body is JSON", |want, have| want == have)
    };
    let wanted = match serde_json::to_value(value) {
        Ok(wanted) => wanted,
        Err(err) => {
            return Matcher::invalid(what.to_owned(), format!("cannot serialize to JSON: {err}"));
        }
    };
    let description = format!("{what} {}", shorten(&wanted.to_string()));
    let expected = pretty(&wanted);
    let shape = partial.then(|| wanted.clone());
    // An exact match can be looked up by fingerprint; a partial one cannot.
    let hint = match partial {
        false => Hint::Body(BodyKey::Json(fingerprint::of_json(&wanted))),
        true => Hint::None,
    };
    Matcher::from(
        Check::new(description, move |r| {
            serde_json::from_slice::<Value>(body(r)).is_ok_and(|have| test(&wanted, &have))
        })
        .diffed(expected, move |r| body_json_text(r, shape.as_ref())),
    )
    .with_hint(hint)
}

/// Whether `have` contains `want` in the sense of [`body_partial_json`].
pub(crate) fn json_contains(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(k, w)| have.get(k).is_some_and(|h| json_contains(w, h))),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| json_contains(w, h))
        }
        _ => want == have,
    }
}

/// An `application/x-www-form-urlencoded` body has field `name` with value
/// `value`.
pub fn form_field(name: impl Into<String>, value: impl Into<String>) -> Matcher {
    let (name, value) = (name.into(), value.into());
    let description = format!("form field {name}={value:?}");
    let expected = format!("{name}={value}");
    let shown = name.clone();
    Matcher::from(
        Check::new(description, move |r| {
            url::form_urlencoded::parse(body(r)).any(|(k, v)| k == name && v == value)
        })
        .diffed(expected, move |r| {
            let fields: Vec<String> = url::form_urlencoded::parse(body(r))
                .filter(|(k, _)| *k == shown)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if fields.is_empty() {
                format!("(no {shown} field; body: {})", body_text(r))
            } else {
                fields.join("\n")
            }
        }),
    )
}

/// A `multipart/form-data` body has a part named `name` whose content is
/// `value`. Needs the `multipart` feature.
#[cfg(feature = "multipart")]
#[cfg_attr(docsrs, doc(cfg(feature = "multipart")))]
pub fn multipart_part(name: impl Into<String>, value: impl Into<Bytes>) -> Matcher {
    let (name, value): (String, Bytes) = (name.into(), value.into());
    let description = format!(
        "multipart part {name:?} is {:?}",
        shorten(&String::from_utf8_lossy(&value))
    );
    let expected = format!("{name}: {}", String::from_utf8_lossy(&value));
    let shown = name.clone();
    Matcher::from(
        Check::new(description, move |r| {
            multipart_parts(r)
                .is_ok_and(|parts| parts.iter().any(|p| p.name == name && p.data == value))
        })
        .diffed(expected, move |r| describe_parts(r, &shown)),
    )
}

/// A `multipart/form-data` body has a file part named `name` whose file
/// name is `filename`. Needs the `multipart` feature.
#[cfg(feature = "multipart")]
#[cfg_attr(docsrs, doc(cfg(feature = "multipart")))]
pub fn multipart_file(name: impl Into<String>, filename: impl Into<String>) -> Matcher {
    let (name, filename) = (name.into(), filename.into());
    let description = format!("multipart part {name:?} is a file named {filename:?}");
    let expected = format!("{name}: file {filename}");
    let shown = name.clone();
    Matcher::from(
        Check::new(description, move |r| {
            multipart_parts(r).is_ok_and(|parts| {
                parts
                    .iter()
                    .any(|p| p.name == name && p.filename.as_deref() == Some(filename.as_str()))
            })
        })
        .diffed(expected, move |r| describe_parts(r, &shown)),
    )
}

#[cfg(feature = "multipart")]
struct Part {
    name: String,
    filename: Option<String>,
    data: Bytes,
}

#[cfg(feature = "multipart")]
fn describe_parts(request: &Request, name: &str) -> String {
    match multipart_parts(request) {
        Err(err) => format!("(not multipart: {err})"),
        Ok(parts) => {
            let lines: Vec<String> = parts
                .iter()
                .filter(|p| p.name == name)
                .map(|p| match &p.filename {
                    Some(file) => format!("{}: file {file}", p.name),
                    None => format!("{}: {}", p.name, String::from_utf8_lossy(&p.data)),
                })
                .collect();
            if lines.is_empty() {
                let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
                format!("(no part {name:?}; parts: {})", names.join(", "))
            } else {
                lines.join("\n")
            }
        }
    }
}

/// Parses a buffered multipart body. The body is already in memory, so the
/// parser's futures are ready at once and are polled a single time.
#[cfg(feature = "multipart")]
fn multipart_parts(request: &Request) -> Result<Vec<Part>, String> {
    use futures_util::FutureExt;
    let content_type = request
        .header_str("content-type")
        .ok_or("no content-type header")?;
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let bytes = request.body().as_bytes().cloned().unwrap_or_default();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .now_or_never()
            .ok_or("the multipart body is incomplete")?
            .map_err(|e| e.to_string())?;
        let Some(field) = field else {
            return Ok(parts);
        };
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let data = field
            .bytes()
            .now_or_never()
            .ok_or("the multipart body is incomplete")?
            .map_err(|e| e.to_string())?;
        parts.push(Part {
            name,
            filename,
            data,
        });
    }
}

// ------------------------------------------------------------- custom, combinators

/// A matcher from a closure, described by `description` in reports.
///
/// ```
/// use wiretape::mock::matchers::matching;
/// use wiretape::{Method, Request};
///
/// let short_path = matching("path has at most 2 segments", |r: &Request| {
///     r.url().path_segments().map_or(0, |s| s.count()) <= 2
/// });
/// assert!(short_path.matches(&Request::new(Method::GET, "http://x.test/a/b".parse().unwrap())));
/// ```
pub fn matching(
    description: impl Into<String>,
    test: impl Fn(&Request) -> bool + Send + Sync + 'static,
) -> Matcher {
    Matcher::from(Check::new(description.into(), test))
}

fn combined_problem(matchers: &[Matcher]) -> Option<Arc<str>> {
    let problems: Vec<&str> = matchers.iter().filter_map(Matcher::problem).collect();
    (!problems.is_empty()).then(|| problems.join("; ").into())
}

struct Combined {
    all: bool,
    matchers: Vec<Matcher>,
}

impl Match for Combined {
    fn matches(&self, request: &Request) -> bool {
        if self.all {
            self.matchers.iter().all(|m| m.matches(request))
        } else {
            self.matchers.iter().any(|m| m.matches(request))
        }
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.matchers.iter().map(Matcher::describe).collect();
        let joiner = if self.all { " and " } else { " or " };
        format!("({})", parts.join(joiner))
    }

    fn mismatch(&self, request: &Request) -> Option<Mismatch> {
        if self.all {
            // The first part that failed is the one worth showing.
            self.matchers
                .iter()
                .find(|m| !m.matches(request))
                .and_then(|m| m.mismatch(request))
        } else {
            None
        }
    }
}

fn combine(all: bool, matchers: impl IntoIterator<Item = Matcher>) -> Matcher {
    let matchers: Vec<Matcher> = matchers.into_iter().collect();
    let problem = combined_problem(&matchers);
    Matcher {
        problem,
        ..Matcher::from(Combined { all, matchers })
    }
}

/// Passes when at least one of `matchers` passes (never, for none).
pub fn any(matchers: impl IntoIterator<Item = Matcher>) -> Matcher {
    combine(false, matchers)
}

/// Passes when every one of `matchers` passes (always, for none).
pub fn all(matchers: impl IntoIterator<Item = Matcher>) -> Matcher {
    combine(true, matchers)
}

struct Not(Matcher);

impl Match for Not {
    fn matches(&self, request: &Request) -> bool {
        !self.0.matches(request)
    }

    fn describe(&self) -> String {
        format!("not {}", self.0.describe())
    }
}

/// Passes when `matcher` fails.
pub fn not(matcher: Matcher) -> Matcher {
    let problem = matcher.problem.clone();
    Matcher {
        problem,
        ..Matcher::from(Not(matcher))
    }
}

// ---------------------------------------------------------------------- helpers

fn regex_check(
    description: String,
    pattern: &str,
    actual: impl Fn(&Request) -> String + Send + Sync + 'static,
) -> Matcher {
    match regex::Regex::new(pattern) {
        Ok(re) => {
            let read = Arc::new(actual);
            let for_test = read.clone();
            Matcher::from(
                Check::new(description, move |r| re.is_match(&for_test(r)))
                    .diffed(format!("/{pattern}/"), move |r| read(r)),
            )
        }
        Err(err) => Matcher::invalid(description, format!("invalid regex: {err}")),
    }
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 60;
    match text.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
