//! YAML route files: the matcher and responder vocabulary as data, so that
//! the command line can serve routes too.
//!
//! Values are checked while they are read (a method, a path template, a
//! regex, a header, a status), so that every mistake is reported with the
//! file, line and column where it sits.
//!
//! A route file is input, not code: a `file:` body is resolved relative to
//! the route file and must stay inside its directory (symbolic links and
//! `..` resolved), unless the one who loads it allows another directory
//! ([`BodyFiles`]). Otherwise a shared route file could serve
//! `/etc/passwd` or a user's keys to any client of `wiretape serve`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::matchers::{self as m, Matcher};
use super::responders::{self as r, AfterLast, Responder};
use super::route::Route;
use super::template::PathTemplate;
use crate::fault::FaultPlan;
use crate::fault::file::{self as fault_file, RuleSpec};
use crate::{Error, Result, yaml};

/// Where `file:` bodies may come from: the route file's directory, and the
/// directories its loader allowed.
pub(crate) struct BodyFiles<'a> {
    base: PathBuf,
    allowed: &'a [PathBuf],
}

impl<'a> BodyFiles<'a> {
    /// The policy for a route file at `origin` with extra `allowed` roots.
    pub(crate) fn new(origin: &Path, allowed: &'a [PathBuf]) -> BodyFiles<'a> {
        let base = match origin.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        BodyFiles { base, allowed }
    }

    /// The real path of body file `file`, or why it may not be served.
    fn resolve(&self, file: &str) -> std::result::Result<PathBuf, String> {
        let path = self.base.join(file);
        let real = path.canonicalize().map_err(|_| {
            format!(
                "body file {file:?} not found (looked for {})",
                path.display()
            )
        })?;
        if !real.is_file() {
            return Err(format!(
                "body file {file:?} ({}) is not a file",
                real.display()
            ));
        }
        let inside = |root: &Path| root.canonicalize().is_ok_and(|root| real.starts_with(root));
        if inside(&self.base) || self.allowed.iter().any(|root| inside(root)) {
            return Ok(real);
        }
        Err(format!(
            "body file {file:?} ({}) is outside the route file's directory {}; a route \
             file may only serve files next to or below it (allow another directory with \
             Router::allow_body_files_from, or --allow-body-files DIR on the command line)",
            real.display(),
            self.base.display()
        ))
    }
}

/// Reads the routes of a route file, and its router-wide fault plan.
pub(crate) fn parse(
    text: &str,
    origin: &Path,
    files: &BodyFiles<'_>,
) -> Result<(Vec<Route>, Option<FaultPlan>)> {
    let file: RouteFile = yaml::from_str(text, origin)?;
    let routes = file
        .routes
        .into_iter()
        .enumerate()
        .map(|(at, spec)| {
            spec.into_route(files).map_err(|problem| {
                Error::invalid(format!("{}: route {}: {problem}", origin.display(), at + 1))
            })
        })
        .collect::<Result<Vec<Route>>>()?;
    let faults = match file.faults {
        Some(rules) => Some(fault_file::compose(rules, file.seed, origin)?),
        None => None,
    };
    Ok((routes, faults))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    routes: Vec<RouteSpec>,
    seed: Option<u64>,
    faults: Option<Vec<RuleSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    name: Option<String>,
    priority: Option<u8>,
    times: Option<usize>,
    at_least: Option<usize>,
    at_most: Option<usize>,
    up_to: Option<usize>,
    scenario: Option<ScenarioSpec>,
    #[serde(default)]
    request: RequestSpec,
    #[serde(default)]
    response: ResponseSpec,
    faults: Option<RuleSpec>,
    /// A WebSocket route instead of an HTTP response.
    websocket: Option<super::socket::file::SocketSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioSpec {
    name: String,
    when: Option<String>,
    set: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    method: Option<Checked<MethodRule>>,
    path: Option<Checked<TemplateRule>>,
    path_prefix: Option<String>,
    path_regex: Option<Checked<RegexRule>>,
    scheme: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    query: BTreeMap<String, Scalar>,
    #[serde(default)]
    query_exists: Vec<String>,
    #[serde(default)]
    query_missing: Vec<String>,
    #[serde(default)]
    query_regex: BTreeMap<String, Checked<RegexRule>>,
    #[serde(default)]
    headers: BTreeMap<Checked<HeaderNameRule>, Scalar>,
    #[serde(default)]
    header_exists: Vec<Checked<HeaderNameRule>>,
    #[serde(default)]
    header_missing: Vec<Checked<HeaderNameRule>>,
    #[serde(default)]
    header_regex: BTreeMap<Checked<HeaderNameRule>, Checked<RegexRule>>,
    bearer: Option<String>,
    basic: Option<BasicSpec>,
    body: Option<BodyMatchSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicSpec {
    user: String,
    password: String,
}

/// How a request body must look: one of these keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyMatchSpec {
    json: Option<serde_json::Value>,
    partial_json: Option<serde_json::Value>,
    text: Option<String>,
    contains: Option<String>,
    regex: Option<Checked<RegexRule>>,
    form: Option<BTreeMap<String, Scalar>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResponseSpec {
    status: Option<Checked<StatusRule>>,
    #[serde(default)]
    headers: BTreeMap<Checked<HeaderNameRule>, Scalar>,
    body: Option<BodySpec>,
    delay_ms: Option<u64>,
    error: Option<ErrorSpec>,
    chunks: Option<Vec<String>>,
    sse: Option<Vec<String>>,
    chunk_delay_ms: Option<u64>,
    sequence: Option<Vec<ResponseSpec>>,
    then: Option<ThenSpec>,
}

/// A response body: one of these keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodySpec {
    json: Option<serde_json::Value>,
    text: Option<String>,
    base64: Option<Checked<Base64Rule>>,
    file: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ErrorSpec {
    Reset,
    Refused,
    Hang,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ThenSpec {
    RepeatLast,
    Cycle,
    Fail,
}

/// A YAML scalar read as the text written: `page: 2` and `page: "2"` mean
/// the same, and `v: 1.10` is `1.10` (not the number `1.1`), `id: 007` is
/// `007`.
struct Scalar(String);

impl Scalar {
    fn text(&self) -> String {
        self.0.clone()
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let checked: Checked<AnyText> = Checked::deserialize(deserializer)?;
        Ok(Scalar(checked.0))
    }
}

/// Any scalar: the rule of [`Scalar`].
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct AnyText;
impl Rule for AnyText {
    fn check(_: &str) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A scalar checked by rule `R` while it is read, so that a bad value is
/// reported at its line and column.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Checked<R>(String, PhantomData<R>);

trait Rule {
    fn check(text: &str) -> std::result::Result<(), String>;
}

impl<'de, R: Rule> Deserialize<'de> for Checked<R> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        // Checking inside the visitor (not after it) is what lets the YAML
        // reader attach the scalar's own line and column to the error.
        // Asking for a string gives a plain scalar's text as written
        // (`1.10`, `007`), where `deserialize_any` would give the number.
        deserializer.deserialize_str(CheckedVisitor(PhantomData))
    }
}

struct CheckedVisitor<R>(PhantomData<R>);

impl<R: Rule> CheckedVisitor<R> {
    fn checked<E: serde::de::Error>(text: String) -> std::result::Result<Checked<R>, E> {
        R::check(&text).map_err(E::custom)?;
        Ok(Checked(text, PhantomData))
    }
}

impl<R: Rule> serde::de::Visitor<'_> for CheckedVisitor<R> {
    type Value = Checked<R>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string or number")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Checked<R>, E> {
        Self::checked(v.to_owned())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Checked<R>, E> {
        Self::checked(v.to_string())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Checked<R>, E> {
        Self::checked(v.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Checked<R>, E> {
        Self::checked(v.to_string())
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Checked<R>, E> {
        Self::checked(v.to_string())
    }
}

impl<R> Checked<R> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct MethodRule;
impl Rule for MethodRule {
    fn check(text: &str) -> std::result::Result<(), String> {
        http::Method::from_bytes(text.to_ascii_uppercase().as_bytes())
            .map(drop)
            .map_err(|_| format!("{text:?} is not a valid HTTP method"))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct TemplateRule;
impl Rule for TemplateRule {
    fn check(text: &str) -> std::result::Result<(), String> {
        PathTemplate::parse(text).map(drop)
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RegexRule;
impl Rule for RegexRule {
    fn check(text: &str) -> std::result::Result<(), String> {
        regex::Regex::new(text)
            .map(drop)
            .map_err(|err| format!("invalid regex {text:?}: {err}"))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct HeaderNameRule;
impl Rule for HeaderNameRule {
    fn check(text: &str) -> std::result::Result<(), String> {
        http::HeaderName::from_bytes(text.as_bytes())
            .map(drop)
            .map_err(|_| format!("{text:?} is not a valid header name"))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct StatusRule;
impl Rule for StatusRule {
    fn check(text: &str) -> std::result::Result<(), String> {
        text.parse::<u16>()
            .ok()
            .and_then(|code| http::StatusCode::from_u16(code).ok())
            .map(drop)
            .ok_or_else(|| format!("{text:?} is not an HTTP status (100 to 999)"))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Base64Rule;
impl Rule for Base64Rule {
    fn check(text: &str) -> std::result::Result<(), String> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(drop)
            .map_err(|err| format!("invalid base64: {err}"))
    }
}

impl RouteSpec {
    fn into_route(self, base: &BodyFiles<'_>) -> std::result::Result<Route, String> {
        let mut route = self
            .request
            .matchers()
            .into_iter()
            .fold(Route::new(), Route::and)
            .respond_with(self.response.responder(base)?);
        if let Some(socket) = self.websocket {
            route = route.websocket(socket.socket().map_err(|e| format!("websocket: {e}"))?);
        }
        if let Some(name) = self.name {
            route = route.named(name);
        }
        if let Some(rule) = self.faults {
            route = route.fault(
                rule.into_plan()
                    .map_err(|problem| format!("faults: {problem}"))?,
            );
        }
        if let Some(priority) = self.priority {
            route = route.priority(priority);
        }
        route = match (self.times, self.at_least, self.at_most) {
            (Some(n), None, None) => route.times(n),
            (None, Some(min), Some(max)) => route.expect(super::Times::between(min, max)),
            (None, Some(min), None) => route.at_least(min),
            (None, None, Some(max)) => route.at_most(max),
            (None, None, None) => route,
            _ => return Err("use either times, or at_least and/or at_most".to_owned()),
        };
        if let Some(limit) = self.up_to {
            route = route.up_to_n_times(limit);
        }
        if let Some(scenario) = self.scenario {
            route = route.in_scenario(scenario.name);
            if let Some(when) = scenario.when {
                route = route.when_state(when);
            }
            if let Some(set) = scenario.set {
                route = route.will_set_state(set);
            }
        }
        Ok(route)
    }
}

impl RequestSpec {
    pub(crate) fn matchers(self) -> Vec<Matcher> {
        let mut out = Vec::new();
        out.extend(self.method.map(|v| m::method(v.as_str())));
        out.extend(self.path.map(|v| m::path(v.as_str())));
        out.extend(self.path_prefix.map(m::path_prefix));
        out.extend(self.path_regex.map(|v| m::path_regex(v.as_str())));
        out.extend(self.scheme.map(m::scheme));
        out.extend(self.host.map(m::host));
        out.extend(self.port.map(m::port));
        out.extend(self.query.iter().map(|(k, v)| m::query_param(k, v.text())));
        out.extend(self.query_exists.into_iter().map(m::query_param_exists));
        out.extend(self.query_missing.into_iter().map(m::query_param_missing));
        out.extend(
            self.query_regex
                .iter()
                .map(|(k, v)| m::query_param_regex(k, v.as_str())),
        );
        out.extend(
            self.headers
                .iter()
                .map(|(k, v)| m::header(k.as_str(), v.text())),
        );
        out.extend(
            self.header_exists
                .iter()
                .map(|k| m::header_exists(k.as_str())),
        );
        out.extend(
            self.header_missing
                .iter()
                .map(|k| m::header_missing(k.as_str())),
        );
        out.extend(
            self.header_regex
                .iter()
                .map(|(k, v)| m::header_regex(k.as_str(), v.as_str())),
        );
        out.extend(self.bearer.map(m::bearer_token));
        out.extend(self.basic.map(|b| m::basic_auth(b.user, b.password)));
        if let Some(body) = self.body {
            out.extend(body.json.map(|v| m::body_json(&v)));
            out.extend(body.partial_json.map(|v| m::body_partial_json(&v)));
            out.extend(body.text.map(m::body_string));
            out.extend(body.contains.map(m::body_string_contains));
            out.extend(body.regex.map(|v| m::body_regex(v.as_str())));
            out.extend(
                body.form
                    .iter()
                    .flatten()
                    .map(|(k, v)| m::form_field(k, v.text())),
            );
        }
        out
    }
}

impl BodySpec {
    fn responder(self, base: &BodyFiles<'_>) -> std::result::Result<Responder, String> {
        let given = [
            self.json.is_some(),
            self.text.is_some(),
            self.base64.is_some(),
            self.file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("a response body has exactly one of json, text, base64 or file".to_owned());
        }
        if let Some(value) = self.json {
            return Ok(r::json(&value));
        }
        if let Some(text) = self.text {
            return Ok(r::text(text));
        }
        if let Some(encoded) = self.base64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.as_str().trim())
                .map_err(|err| format!("invalid base64 body: {err}"))?;
            return Ok(r::bytes(bytes));
        }
        let file = self.file.unwrap_or_default();
        Ok(r::file(base.resolve(&file)?))
    }
}

impl ResponseSpec {
    fn responder(self, base: &BodyFiles<'_>) -> std::result::Result<Responder, String> {
        let gap = Duration::from_millis(self.chunk_delay_ms.unwrap_or(0));
        let kinds = [
            self.sequence.is_some(),
            self.error.is_some(),
            self.chunks.is_some(),
            self.sse.is_some(),
            self.body.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(
                "a response has one of body, chunks, sse, error or sequence, not several"
                    .to_owned(),
            );
        }
        let mut responder = if let Some(steps) = self.sequence {
            let steps = steps
                .into_iter()
                .map(|step| step.responder(base))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let after = match self.then.unwrap_or(ThenSpec::RepeatLast) {
                ThenSpec::RepeatLast => AfterLast::RepeatLast,
                ThenSpec::Cycle => AfterLast::Cycle,
                ThenSpec::Fail => AfterLast::Fail,
            };
            r::sequence_then(steps, after)
        } else if let Some(error) = self.error {
            match error {
                ErrorSpec::Reset => r::reset(),
                ErrorSpec::Refused => r::refused(),
                ErrorSpec::Hang => r::hang(),
            }
        } else if let Some(chunks) = self.chunks {
            r::stream(chunks, gap)
        } else if let Some(events) = self.sse {
            r::sse(events, gap)
        } else {
            match self.body {
                None => r::status(200),
                Some(body) => body.responder(base)?,
            }
        };
        if let Some(status) = self.status {
            responder = responder.with_status(status.as_str().parse::<u16>().unwrap_or(500));
        }
        for (name, value) in &self.headers {
            responder = responder.with_header(name.as_str(), value.text());
        }
        if let Some(delay) = self.delay_ms {
            responder = responder.with_delay(Duration::from_millis(delay));
        }
        Ok(responder)
    }
}
