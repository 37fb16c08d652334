//! Which recorded request answers a live one: matchers, and the report of a
//! miss (closest recorded requests, matchers passed and failed, a diff).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use url::Url;

use super::format::{BodyForm, Headers, RecordedRequest};
use crate::fingerprint;
use crate::target::Target;

/// A request as matchers see it, live or recorded, after filters: method,
/// URL, headers and body bytes.
#[derive(Debug, Clone)]
pub struct RequestParts {
    method: String,
    /// Kept as the client's text where it was (a live request), parsed only
    /// when [`url`](Self::url) is called: the index key and the filters read
    /// the text.
    url: Target,
    headers: Headers,
    body: Bytes,
    /// The body parsed as JSON, when the filters already did (a live
    /// request): its fingerprint for the index key needs no second parse.
    json: Option<Arc<serde_json::Value>>,
}

impl RequestParts {
    /// Parts from their pieces.
    pub fn new(method: impl Into<String>, url: Url, headers: Headers, body: Bytes) -> Self {
        RequestParts::with_target(method, Target::from(url), headers, body)
    }

    /// Parts whose URL is a [`Target`].
    pub(crate) fn with_target(
        method: impl Into<String>,
        url: Target,
        headers: Headers,
        body: Bytes,
    ) -> Self {
        RequestParts {
            method: method.into(),
            url,
            headers,
            body,
            json: None,
        }
    }

    /// Keeps `json`, the body parsed (it must be the body's).
    pub(crate) fn keep_json(&mut self, json: Option<serde_json::Value>) {
        self.json = json.map(Arc::new);
    }

    /// The body parsed as JSON, if it was parsed already.
    pub(crate) fn parsed_json(&self) -> Option<&serde_json::Value> {
        self.json.as_deref()
    }

    /// The parts of a recorded request; the error says what is invalid.
    pub fn from_recorded(request: &RecordedRequest) -> Result<RequestParts, String> {
        let url = Url::parse(&request.uri)
            .map_err(|err| format!("invalid uri {:?}: {err}", request.uri))?;
        let body = match &request.body {
            Some(body) => body.to_bytes()?,
            None => Bytes::new(),
        };
        Ok(RequestParts::new(
            request.method.to_ascii_uppercase(),
            url,
            request.headers.clone(),
            body,
        ))
    }

    /// The request as a cassette stores it.
    pub fn to_recorded(&self) -> RecordedRequest {
        RecordedRequest {
            method: self.method.clone(),
            uri: self.url.as_str().to_owned(),
            headers: self.headers.clone(),
            body: BodyForm::from_bytes(&self.body),
        }
    }

    /// The method, upper case.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        self.url.url()
    }

    /// The URL, as text or parsed.
    pub(crate) fn target(&self) -> &Target {
        &self.url
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|values| values.first())
            .map(String::as_str)
    }

    /// The body bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The text a miss diff shows: request line, headers, then the body as
    /// text (or its size, when binary).
    fn render(&self) -> String {
        let mut out = format!("{} {}\n", self.method, self.url.as_str());
        for (name, values) in &self.headers.0 {
            for value in values {
                out.push_str(&format!("{name}: {value}\n"));
            }
        }
        if !self.body.is_empty() {
            out.push('\n');
            match std::str::from_utf8(&self.body) {
                Ok(text) => {
                    out.push_str(text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Err(_) => out.push_str(&format!("<{} bytes of binary data>\n", self.body.len())),
            }
        }
        out
    }
}

type CustomFn = dyn Fn(&RequestParts, &RequestParts) -> bool + Send + Sync;

/// One rule for whether a recorded request answers a live one.
///
/// The default is [`Match::method`] and [`Match::uri`]. Matchers that compare
/// the method, parts of the URL or the body also build the replay index (the
/// body as a fingerprint of its bytes or JSON value), so a lookup costs the
/// same whatever the cassette's size, even when every request shares one
/// method and URI (GraphQL); the others (headers, closures) are checked on
/// the requests the index offers.
///
/// ```
/// use wiretape::cassette::Match;
///
/// let rules = [Match::method(), Match::path(), Match::header("x-tenant"), Match::json_body()];
/// assert_eq!(rules[2].name(), "header x-tenant");
/// ```
#[derive(Clone)]
pub struct Match(Rule);

#[derive(Clone)]
enum Rule {
    Method,
    Uri,
    Scheme,
    Host,
    Port,
    Path,
    Query,
    Header(String),
    Body,
    JsonBody,
    Custom(String, Arc<CustomFn>),
}

impl Match {
    /// The method.
    pub fn method() -> Match {
        Match(Rule::Method)
    }

    /// The whole URI, with query parameters compared in any order.
    pub fn uri() -> Match {
        Match(Rule::Uri)
    }

    /// The scheme (`http`, `https`).
    pub fn scheme() -> Match {
        Match(Rule::Scheme)
    }

    /// The host.
    pub fn host() -> Match {
        Match(Rule::Host)
    }

    /// The port (the scheme's default when none is written).
    pub fn port() -> Match {
        Match(Rule::Port)
    }

    /// The path.
    pub fn path() -> Match {
        Match(Rule::Path)
    }

    /// The query parameters, in any order.
    pub fn query() -> Match {
        Match(Rule::Query)
    }

    /// The values of header `name`, in order.
    pub fn header(name: &str) -> Match {
        Match(Rule::Header(name.to_ascii_lowercase()))
    }

    /// The body bytes.
    pub fn body() -> Match {
        Match(Rule::Body)
    }

    /// The body as JSON: same value, whatever the spacing or key order.
    /// Bodies that are not JSON are compared as bytes.
    pub fn json_body() -> Match {
        Match(Rule::JsonBody)
    }

    /// A closure of `(live, recorded)`, named for miss reports.
    ///
    /// ```
    /// use wiretape::cassette::Match;
    ///
    /// let same_tenant = Match::custom("tenant prefix", |live, recorded| {
    ///     live.url().path().split('/').nth(1) == recorded.url().path().split('/').nth(1)
    /// });
    /// assert_eq!(same_tenant.name(), "tenant prefix");
    /// ```
    pub fn custom<F>(name: impl Into<String>, matches: F) -> Match
    where
        F: Fn(&RequestParts, &RequestParts) -> bool + Send + Sync + 'static,
    {
        Match(Rule::Custom(name.into(), Arc::new(matches)))
    }

    /// The matcher's name, as miss reports show it.
    pub fn name(&self) -> String {
        match &self.0 {
            Rule::Method => "method".into(),
            Rule::Uri => "uri".into(),
            Rule::Scheme => "scheme".into(),
            Rule::Host => "host".into(),
            Rule::Port => "port".into(),
            Rule::Path => "path".into(),
            Rule::Query => "query".into(),
            Rule::Header(name) => format!("header {name}"),
            Rule::Body => "body".into(),
            Rule::JsonBody => "json body".into(),
            Rule::Custom(name, _) => name.clone(),
        }
    }

    /// This matcher's part of the index key, when it compares the method or
    /// the URL; `None` for the others.
    fn key_part(&self, method: &str, url: &Target) -> Option<String> {
        let mut part = String::new();
        self.write_key_part(method, url, &mut part).then_some(part)
    }

    /// Appends this matcher's part of the index key to `key`, when it
    /// compares the method or the URL; `false` (and nothing written) for
    /// the others. Written in place: every lookup builds a key.
    fn write_key_part(&self, method: &str, url: &Target, key: &mut String) -> bool {
        match &self.0 {
            Rule::Method => {
                let start = key.len();
                key.push_str(method);
                key[start..].make_ascii_uppercase();
            }
            Rule::Uri => write_normalized_uri(url, key),
            Rule::Scheme => key.push_str(url.scheme()),
            Rule::Host => write_lowercase(url.authority().host_str().unwrap_or(""), key),
            Rule::Port => write_port(url, key),
            Rule::Path => key.push_str(url.path()),
            Rule::Query => write_sorted_query(url, key),
            _ => return false,
        }
        true
    }

    /// This matcher's part of the index key that comes from the body: a
    /// fingerprint of the bytes (or, for [`Match::json_body`], of the JSON
    /// value when the body is JSON), so that equal bodies share a key.
    fn body_key_part(&self, body: &[u8], parsed: Option<&serde_json::Value>) -> Option<String> {
        let json = match &self.0 {
            Rule::Body => None,
            Rule::JsonBody => match parsed {
                Some(json) => Some(fingerprint::of_json(json)),
                None => fingerprint::of_json_bytes(body),
            },
            _ => return None,
        };
        Some(match json {
            Some(hash) => format!("json {hash:016x}"),
            None => format!("bytes {:016x}", fingerprint::of_bytes(body)),
        })
    }

    /// Whether `recorded` answers `live` by this rule.
    pub fn matches(&self, live: &RequestParts, recorded: &RequestParts) -> bool {
        if let Some(live_part) = self.key_part(&live.method, &live.url) {
            return Some(live_part) == self.key_part(&recorded.method, &recorded.url);
        }
        match &self.0 {
            Rule::Header(name) => live.headers.get(name) == recorded.headers.get(name),
            Rule::Body => live.body == recorded.body,
            // The same bytes are the same value (or the same non-JSON).
            Rule::JsonBody if live.body == recorded.body => true,
            Rule::JsonBody => {
                let parse = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).ok();
                match (parse(&live.body), parse(&recorded.body)) {
                    (Some(a), Some(b)) => a == b,
                    _ => live.body == recorded.body,
                }
            }
            Rule::Custom(_, f) => f(live, recorded),
            _ => false,
        }
    }
}

impl fmt::Debug for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Match({})", self.name())
    }
}

/// The index key of a request under `matchers`: the parts of the method,
/// URL and body they compare, joined. `parsed` is the body parsed as JSON,
/// if that was done already.
pub(crate) fn index_key(
    matchers: &[Match],
    method: &str,
    url: &Target,
    body: &[u8],
    parsed: Option<&serde_json::Value>,
) -> String {
    let mut key = String::with_capacity(64 + url.as_str().len());
    for matcher in matchers {
        if matcher.write_key_part(method, url, &mut key) {
            key.push('\n');
        } else if let Some(part) = matcher.body_key_part(body, parsed) {
            key.push_str(&part);
            key.push('\n');
        }
    }
    key
}

/// Whether the index key needs the request body (some matcher compares it).
pub(crate) fn keys_body(matchers: &[Match]) -> bool {
    matchers
        .iter()
        .any(|m| m.body_key_part(b"", None).is_some())
}

impl Match {
    /// Whether two requests with equal index keys pass this matcher: it
    /// compares the method or a part of the URL, which the key holds
    /// exactly (a body is only fingerprinted there).
    pub(crate) fn covered_by_key(&self) -> bool {
        let probe = Url::parse("http://probe.invalid/").expect("a valid literal URL");
        self.write_key_part("GET", &Target::from(probe), &mut String::new())
    }
}

/// Appends `scheme://host:port/path?sorted query`, the form URIs are
/// compared in.
fn write_normalized_uri(url: &Target, out: &mut String) {
    out.push_str(url.scheme());
    out.push_str("://");
    write_lowercase(url.authority().host_str().unwrap_or(""), out);
    out.push(':');
    write_port(url, out);
    out.push_str(url.path());
    if url.query().is_some() {
        out.push('?');
        write_sorted_query(url, out);
    }
}

fn write_lowercase(text: &str, out: &mut String) {
    let start = out.len();
    out.push_str(text);
    out[start..].make_ascii_lowercase();
}

/// The port, the scheme's default when none is written. Its digits are
/// pushed by hand: `write!` costs more than the rest of the key.
fn write_port(url: &Target, out: &mut String) {
    let mut port = url.authority().port_or_known_default().unwrap_or(0);
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (port % 10) as u8;
        port /= 10;
        if port == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

/// Appends the query's pairs decoded, sorted and encoded one way, so that
/// neither their order nor how a tool percent-encoded them (`%20` or `+`,
/// `%41` or `A`) matters; the values themselves do (`+` is a space, `%2B` a
/// plus).
fn write_sorted_query(url: &Target, out: &mut String) {
    let query = url.query().unwrap_or_default();
    if is_sorted_and_plain(query) {
        out.push_str(query);
    } else {
        write_decoded_and_sorted(query, out);
    }
}

/// The `query`'s pairs, decoded, sorted and encoded again.
fn write_decoded_and_sorted(query: &str, out: &mut String) {
    // Borrowed where nothing needed decoding: no allocation per pair.
    let mut pairs: Vec<_> = url::form_urlencoded::parse(query.as_bytes()).collect();
    pairs.sort_unstable();
    let start = out.len();
    *out = url::form_urlencoded::Serializer::for_suffix(std::mem::take(out), start)
        .extend_pairs(pairs)
        .finish();
}

/// Whether `query` is already what decoding, sorting and encoding it
/// writes: `key=value` pairs in order, of characters the encoding leaves as
/// they are. Most queries an application sends are, and then the key costs
/// no decoding and no copy per pair. Read as bytes (which order as the text
/// does): a `str` search for `&` or `=` costs more in set-up than a short
/// query takes to read, and every lookup asks.
fn is_sorted_and_plain(query: &str) -> bool {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
    let mut previous = None;
    for pair in query.as_bytes().split(|&b| b == b'&') {
        let Some(at) = pair.iter().position(|&b| b == b'=') else {
            return false;
        };
        let (key, value) = (&pair[..at], &pair[at + 1..]);
        if !key.iter().chain(value).all(plain) || previous > Some((key, value)) {
            return false;
        }
        previous = Some((key, value));
    }
    true
}

/// A cassette had no interaction for a request: the report a miss error
/// carries.
#[derive(Debug, Clone)]
pub struct CassetteMiss {
    pub(crate) cassette: PathBuf,
    pub(crate) mode: String,
    pub(crate) matchers: Vec<String>,
    pub(crate) request: String,
    pub(crate) reason: String,
    pub(crate) closest: Vec<NearMiss>,
    pub(crate) diff: Option<String>,
}

/// A recorded request that came close to matching.
#[derive(Debug, Clone)]
pub struct NearMiss {
    /// Its position in the cassette (0-based).
    pub index: usize,
    /// It, as `METHOD URI`.
    pub request: String,
    /// The matchers it passed.
    pub passed: Vec<String>,
    /// The matchers it failed.
    pub failed: Vec<String>,
    /// Whether it had already been replayed.
    pub used: bool,
}

impl CassetteMiss {
    /// The cassette's path.
    pub fn cassette(&self) -> &std::path::Path {
        &self.cassette
    }

    /// The live request, as `METHOD URL`.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// The mode in force.
    pub fn mode(&self) -> &str {
        &self.mode
    }

    /// The names of the matchers in force.
    pub fn matchers(&self) -> &[String] {
        &self.matchers
    }

    /// The closest recorded requests, closest first.
    pub fn closest(&self) -> &[NearMiss] {
        &self.closest
    }

    /// A unified diff from the closest recorded request to the live one.
    pub fn diff(&self) -> Option<&str> {
        self.diff.as_deref()
    }

    /// One line: what missed, and why.
    pub fn summary(&self) -> String {
        format!(
            "no interaction in {} matches {}: {}",
            self.cassette.display(),
            self.request,
            self.reason
        )
    }
}

impl fmt::Display for CassetteMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cassette miss: {}", self.summary())?;
        writeln!(
            f,
            "  mode: {}; matching on: {}",
            self.mode,
            self.matchers.join(", ")
        )?;
        for near in &self.closest {
            writeln!(
                f,
                "  closest recorded request #{}{}: {}",
                near.index,
                if near.used { " (already replayed)" } else { "" },
                near.request
            )?;
            writeln!(f, "    passed: {}", list_or_none(&near.passed))?;
            writeln!(f, "    failed: {}", list_or_none(&near.failed))?;
        }
        if let Some(diff) = &self.diff {
            writeln!(f, "  diff from the closest recorded request to this one:")?;
            for line in diff.lines() {
                writeln!(f, "    {line}")?;
            }
        }
        write!(
            f,
            "  to re-record, run the test with WIRETAPE_RECORD=new_episodes (append what is missing) \
             or WIRETAPE_RECORD=all (record everything anew), or delete {}",
            self.cassette.display()
        )
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Ranks `recorded` requests against `live` and builds a miss report.
pub(crate) fn miss_report(
    live: &RequestParts,
    recorded: &[(usize, RequestParts, bool)],
    matchers: &[Match],
    context: MissContext,
) -> CassetteMiss {
    let mut ranked: Vec<NearMiss> = recorded
        .iter()
        .map(|(index, parts, used)| {
            let (passed, failed): (Vec<&Match>, Vec<&Match>) =
                matchers.iter().partition(|m| m.matches(live, parts));
            NearMiss {
                index: *index,
                request: format!("{} {}", parts.method, parts.url.as_str()),
                passed: passed.iter().map(|m| m.name()).collect(),
                failed: failed.iter().map(|m| m.name()).collect(),
                used: *used,
            }
        })
        .collect();
    // Most matchers passed first; among equals, the unused and earlier one.
    ranked.sort_by_key(|near| (near.failed.len(), near.used, near.index));
    ranked.truncate(3);
    let diff = ranked.first().and_then(|best| {
        let (_, parts, _) = recorded.iter().find(|(i, _, _)| *i == best.index)?;
        Some(unified_diff(
            &parts.render(),
            &live.render(),
            &format!("recorded #{}", best.index),
            "live request",
        ))
    });
    CassetteMiss {
        cassette: context.cassette,
        mode: context.mode,
        matchers: matchers.iter().map(Match::name).collect(),
        request: format!("{} {}", live.method, live.url.as_str()),
        reason: context.reason,
        closest: ranked,
        diff,
    }
}

/// A unified diff from `old` to `new`, with three lines of context: what
/// every miss report shows.
pub(crate) fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// What a miss report says besides the ranking.
pub(crate) struct MissContext {
    pub(crate) cassette: PathBuf,
    pub(crate) mode: String,
    pub(crate) reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, url: &str, body: &str) -> RequestParts {
        RequestParts::new(
            method,
            Url::parse(url).unwrap(),
            Headers::default(),
            Bytes::from(body.to_string()),
        )
    }

    #[test]
    fn a_url_kept_as_text_keys_as_its_parsed_url_does() {
        let matchers = [
            Match::method(),
            Match::uri(),
            Match::scheme(),
            Match::host(),
            Match::port(),
            Match::path(),
            Match::query(),
        ];
        for origin in [
            "http://API.test",
            "https://x.test:443",
            "http://x.test:8080",
        ] {
            for path in ["/", "/a/b", "/a?b=2&a=1", "/a?a=%41&b", "/a?"] {
                let text = crate::target::tests::target(origin, path).expect("plain");
                let parsed = Target::from(Url::parse(&format!("{origin}{path}")).unwrap());
                let key = |url| index_key(&matchers, "get", url, b"", None);
                assert_eq!(key(&text), key(&parsed), "{origin}{path}");
            }
        }
        let text = crate::target::tests::target("http://API.test:80", "/a?b=2&a=1").unwrap();
        assert_eq!(
            index_key(&matchers, "get", &text, b"", None),
            "GET\nhttp://api.test:80/a?a=1&b=2\nhttp\napi.test\n80\n/a\na=1&b=2\n"
        );
    }

    #[test]
    fn a_query_already_sorted_and_plain_keys_as_decoding_and_sorting_it_would() {
        for query in [
            "a=1&b=2",
            "b=2&a=1",
            "a.b=1&a=1",
            "a=1&a.b=1",
            "a=2&a=1",
            "Z=1&a=1",
            "k",
            "k=",
            "=v",
            "a=1&&b=2",
            "a=b=c",
            "x=%41",
            "q=a+b",
            "q=a%20b",
            "q=%2B",
            "a=1&a=1",
            "a=1&",
            "&a=1",
            "*-._=x&~=1",
            "ключ=1",
            "é=1&e=1",
            "",
        ] {
            let url = Target::from(Url::parse(&format!("http://x.test/?{query}")).unwrap());
            let (mut fast, mut slow) = (String::new(), String::new());
            write_sorted_query(&url, &mut fast);
            write_decoded_and_sorted(url.query().unwrap_or_default(), &mut slow);
            assert_eq!(fast, slow, "{query:?}");
        }
    }

    #[test]
    fn ports_are_written_as_their_digits() {
        for port in [0u16, 1, 9, 10, 80, 99, 100, 443, 8080, 10000, 65535] {
            let url = Url::parse(&format!("http://x.test:{port}/")).unwrap();
            let mut key = String::new();
            write_port(&Target::from(url), &mut key);
            assert_eq!(key, port.to_string());
        }
        let mut key = String::new();
        write_port(
            &Target::from(Url::parse("https://x.test/").unwrap()),
            &mut key,
        );
        assert_eq!(key, "443");
    }

    #[test]
    fn uri_matching_ignores_query_order_but_not_values() {
        let a = parts("GET", "http://x.test/a?b=2&a=1", "");
        let b = parts("GET", "http://x.test:80/a?a=1&b=2", "");
        let c = parts("GET", "http://x.test/a?a=1&b=3", "");
        assert!(Match::uri().matches(&a, &b));
        assert!(!Match::uri().matches(&a, &c));
        assert!(Match::path().matches(&a, &c));
    }

    #[test]
    fn json_body_matching_ignores_key_order_and_spacing() {
        let a = parts("POST", "http://x.test/", r#"{"a":1,"b":[1,2]}"#);
        let b = parts("POST", "http://x.test/", "{ \"b\": [1, 2], \"a\": 1 }");
        assert!(Match::json_body().matches(&a, &b));
        assert!(!Match::body().matches(&a, &b));
    }

    #[test]
    fn a_miss_report_ranks_the_closest_request_and_diffs_it() {
        let live = parts("POST", "http://x.test/users", "{\"name\":\"Ada\"}");
        let recorded = vec![
            (0, parts("GET", "http://x.test/other", ""), false),
            (1, parts("GET", "http://x.test/users", ""), false),
        ];
        let report = miss_report(
            &live,
            &recorded,
            &[Match::method(), Match::uri()],
            MissContext {
                cassette: "cassettes/t.yaml".into(),
                mode: "replay".into(),
                reason: "replay mode never records".into(),
            },
        );
        assert_eq!(report.closest()[0].index, 1);
        assert_eq!(report.closest()[0].passed, vec!["uri"]);
        assert_eq!(report.closest()[0].failed, vec!["method"]);
        let text = report.to_string();
        assert!(text.contains("-GET http://x.test/users"), "{text}");
        assert!(text.contains("+POST http://x.test/users"), "{text}");
        assert!(text.contains("+{\"name\":\"Ada\"}"), "{text}");
        assert!(text.contains("WIRETAPE_RECORD=new_episodes"), "{text}");
    }
}
