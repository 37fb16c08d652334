//! Secrets: what is replaced by a placeholder before anything reaches disk.
//!
//! The same filters run on the live request before matching, so a filtered
//! value still matches its recorded placeholder. Sensitive-data pairs
//! (`filter_sensitive_data`) are restored on replay: the placeholder in a
//! recorded response becomes the real value again.

use regex::Regex;
use url::Url;

use super::format::Headers;

/// The placeholder written instead of a credential header's value.
pub const REDACTED: &str = "<REDACTED>";

/// Headers whose values are redacted unless the user keeps them.
pub const DEFAULT_REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "private-token",
];

/// The filters of one cassette.
#[derive(Debug, Clone)]
pub(crate) struct Filters {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body_regexes: Vec<(Regex, String)>,
    json_paths: Vec<(JsonPath, String)>,
    secrets: Vec<(String, String)>,
    /// Each secret as it may be written (as is, percent-encoded in a URL or
    /// form, escaped in JSON), with its placeholder: what recording hides.
    hidden: Vec<(String, String)>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            headers: DEFAULT_REDACTED_HEADERS
                .iter()
                .map(|name| (name.to_string(), REDACTED.to_string()))
                .collect(),
            query: Vec::new(),
            body_regexes: Vec::new(),
            json_paths: Vec::new(),
            secrets: Vec::new(),
            hidden: Vec::new(),
        }
    }
}

impl Filters {
    pub(crate) fn header(&mut self, name: &str, placeholder: &str) {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, placeholder.to_string()));
    }

    pub(crate) fn keep_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub(crate) fn query(&mut self, param: &str, placeholder: &str) {
        self.query
            .push((param.to_string(), placeholder.to_string()));
    }

    pub(crate) fn body_regex(&mut self, regex: Regex, placeholder: &str) {
        self.body_regexes.push((regex, placeholder.to_string()));
    }

    pub(crate) fn json_path(&mut self, path: JsonPath, placeholder: &str) {
        self.json_paths.push((path, placeholder.to_string()));
    }

    pub(crate) fn sensitive(&mut self, placeholder: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        self.secrets
            .push((value.to_string(), placeholder.to_string()));
        let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let json = serde_json::Value::from(value).to_string();
        let variants = [
            value.to_string(),
            // A query or form value (`@` as `%40`, a space as `+`), and a
            // space written `%20` as browsers' encodeURIComponent does.
            form.replace('+', "%20"),
            form,
            // A JSON string escapes quotes, backslashes and control
            // characters.
            json[1..json.len() - 1].to_string(),
        ];
        for variant in variants {
            if !self.hidden.iter().any(|(known, _)| *known == variant) {
                self.hidden.push((variant, placeholder.to_string()));
            }
        }
    }

    /// Replaces filtered header values, and secrets inside any value.
    pub(crate) fn headers(&self, headers: &mut Headers) {
        for (name, values) in &mut headers.0 {
            if let Some((_, placeholder)) = self.headers.iter().find(|(n, _)| n == name) {
                values.iter_mut().for_each(|v| *v = placeholder.clone());
                continue;
            }
            for value in values {
                self.hide_secrets(value);
            }
        }
    }

    /// Replaces filtered query parameters, and secrets anywhere in the URL.
    pub(crate) fn url(&self, url: &mut Url) {
        if !self.query.is_empty() && url.query().is_some() {
            let mut changed = false;
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(
                    |(k, v)| match self.query.iter().find(|(param, _)| param.as_str() == k) {
                        Some((_, placeholder)) => {
                            changed = true;
                            (k.into_owned(), placeholder.clone())
                        }
                        None => (k.into_owned(), v.into_owned()),
                    },
                )
                .collect();
            if changed {
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
        }
        if self.secrets.is_empty() {
            return;
        }
        if let Some(host) = url.host_str().map(str::to_owned) {
            // A placeholder like `<TENANT>` cannot stand in a host name: the
            // host gets its letters, digits and dashes (`tenant`).
            let mut safe = host.clone();
            for (value, placeholder) in &self.hidden {
                let name: String = placeholder
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                // Host names are lower case once parsed.
                safe = safe.replace(
                    &value.to_ascii_lowercase(),
                    if name.is_empty() { "redacted" } else { &name },
                );
            }
            if safe != host && url.set_host(Some(&safe)).is_err() {
                let _ = url.set_host(Some("redacted.invalid"));
            }
        }
        let mut text = url.as_str().to_string();
        if self.hide_secrets(&mut text) {
            if let Ok(parsed) = Url::parse(&text) {
                *url = parsed;
            }
        }
    }

    /// Whether any filter looks into bodies.
    pub(crate) fn filters_bodies(&self) -> bool {
        !(self.body_regexes.is_empty() && self.json_paths.is_empty() && self.secrets.is_empty())
    }

    /// The body with regex matches, JSON-path values and secrets replaced;
    /// the input unchanged when nothing applies (binary bodies, say).
    pub(crate) fn body(&self, body: &[u8]) -> Option<Vec<u8>> {
        if !self.filters_bodies() {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        let mut text = text.to_string();
        let mut changed = false;
        for (path, placeholder) in &self.json_paths {
            // Parsed anew for each path, so that a path which re-encodes the
            // body keeps what the paths before it replaced.
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                changed |= replace_json_values(&mut text, &json, path, placeholder);
            }
        }
        for (regex, placeholder) in &self.body_regexes {
            if let Some(replaced) = replace_regex(&text, regex, placeholder) {
                text = replaced;
                changed = true;
            }
        }
        changed |= self.hide_secrets(&mut text);
        changed.then(|| text.into_bytes())
    }

    /// Whether any sensitive-data pair must be restored on replay.
    pub(crate) fn restores(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Puts real values back in place of their placeholders.
    pub(crate) fn restore(&self, text: &mut String) -> bool {
        let mut changed = false;
        for (value, placeholder) in &self.secrets {
            if text.contains(placeholder.as_str()) {
                *text = text.replace(placeholder.as_str(), value);
                changed = true;
            }
        }
        changed
    }

    fn hide_secrets(&self, text: &mut String) -> bool {
        let mut changed = false;
        for (value, placeholder) in &self.hidden {
            if text.contains(value.as_str()) {
                *text = text.replace(value.as_str(), placeholder);
                changed = true;
            }
        }
        changed
    }
}

/// Replaces each match of `regex` in `text` by `placeholder`: only the first
/// capture group when the regex has one (`password=(\w+)`), else the whole
/// match. `None` when nothing matched.
fn replace_regex(text: &str, regex: &Regex, placeholder: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut matched = false;
    for captures in regex.captures_iter(text) {
        let Some(found) = captures.get(1).or_else(|| captures.get(0)) else {
            continue;
        };
        out.push_str(&text[last..found.start()]);
        out.push_str(placeholder);
        last = found.end();
        matched = true;
    }
    if !matched {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Replaces, in the JSON `text`, the values `path` selects in its parse
/// `json`. Strings are replaced where they occur, so the body keeps its
/// formatting; when a selected value is not a string, or is not written the
/// way `serde_json` writes it (`\/`, `\u00e9` escapes), the body is
/// re-encoded with the placeholder in its place.
fn replace_json_values(
    text: &mut String,
    json: &serde_json::Value,
    path: &JsonPath,
    placeholder: &str,
) -> bool {
    let selected = path.select(json);
    if selected.is_empty() {
        return false;
    }
    let quoted_placeholder = serde_json::Value::from(placeholder).to_string();
    if selected.iter().all(|v| v.is_string()) {
        let mut replaced = text.clone();
        for value in &selected {
            replaced = replaced.replace(&value.to_string(), &quoted_placeholder);
        }
        // Only if every selected value is now the placeholder: a value
        // written with other escapes than serde_json's is not found above.
        let hidden = serde_json::from_str::<serde_json::Value>(&replaced).is_ok_and(|after| {
            path.select(&after)
                .iter()
                .all(|v| v.as_str() == Some(placeholder))
        });
        if hidden {
            *text = replaced;
            return true;
        }
    }
    let mut copy = json.clone();
    path.replace(&mut copy, &serde_json::Value::from(placeholder));
    *text = copy.to_string();
    true
}

/// A small JSONPath: `$.a.b`, `$.items[0].token`, `$.items[*].token`,
/// `$['odd key']`, `$.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Any,
}

impl JsonPath {
    /// Parses `path`; the error says what was wrong and where.
    pub(crate) fn parse(path: &str) -> Result<JsonPath, String> {
        let rest = path
            .strip_prefix('$')
            .ok_or_else(|| format!("JSON path {path:?} must start with `$`"))?;
        let mut steps = Vec::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '.' => {
                    let mut key = String::new();
                    while let Some((_, c)) = chars.peek() {
                        if *c == '.' || *c == '[' {
                            break;
                        }
                        key.push(*c);
                        chars.next();
                    }
                    match key.as_str() {
                        "" => return Err(format!("JSON path {path:?}: empty key at {}", at + 1)),
                        "*" => steps.push(Step::Any),
                        _ => steps.push(Step::Key(key)),
                    }
                }
                '[' => {
                    let mut inside = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        inside.push(c);
                    }
                    if !closed {
                        return Err(format!(
                            "JSON path {path:?}: `[` at {} is never closed",
                            at + 1
                        ));
                    }
                    let inside = inside.trim();
                    let quoted = inside
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                    steps.push(match (inside, quoted) {
                        ("*", _) => Step::Any,
                        (_, Some(key)) => Step::Key(key.to_string()),
                        (number, None) => Step::Index(number.parse().map_err(|_| {
                            format!("JSON path {path:?}: `[{number}]` is not an index, `*` or a quoted key")
                        })?),
                    });
                }
                other => {
                    return Err(format!(
                        "JSON path {path:?}: unexpected {other:?} at {}; use `.key` or `[index]`",
                        at + 1
                    ));
                }
            }
        }
        Ok(JsonPath { steps })
    }

    fn select<'a>(&self, root: &'a serde_json::Value) -> Vec<&'a serde_json::Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match (step, value) {
                    (Step::Key(key), serde_json::Value::Object(map)) => next.extend(map.get(key)),
                    (Step::Index(i), serde_json::Value::Array(items)) => next.extend(items.get(*i)),
                    (Step::Any, serde_json::Value::Object(map)) => next.extend(map.values()),
                    (Step::Any, serde_json::Value::Array(items)) => next.extend(items.iter()),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }

    pub(crate) fn replace(&self, root: &mut serde_json::Value, with: &serde_json::Value) {
        fn walk(steps: &[Step], value: &mut serde_json::Value, with: &serde_json::Value) {
            let Some((step, rest)) = steps.split_first() else {
                *value = with.clone();
                return;
            };
            match (step, value) {
                (Step::Key(key), serde_json::Value::Object(map)) => {
                    if let Some(child) = map.get_mut(key) {
                        walk(rest, child, with);
                    }
                }
                (Step::Index(i), serde_json::Value::Array(items)) => {
                    if let Some(child) = items.get_mut(*i) {
                        walk(rest, child, with);
                    }
                }
                (Step::Any, serde_json::Value::Object(map)) => {
                    map.values_mut().for_each(|child| walk(rest, child, with));
                }
                (Step::Any, serde_json::Value::Array(items)) => {
                    items.iter_mut().for_each(|child| walk(rest, child, with));
                }
                _ => {}
            }
        }
        walk(&self.steps, root, with);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_replaces_strings_in_place_and_keeps_formatting() {
        let mut filters = Filters::default();
        filters.json_path(JsonPath::parse("$.access_token").unwrap(), "<TOKEN>");
        let body = b"{\n  \"access_token\": \"s3cr3t\",\n  \"expires_in\": 3600\n}";
        let out = String::from_utf8(filters.body(body).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n  \"access_token\": \"<TOKEN>\",\n  \"expires_in\": 3600\n}"
        );
    }

    #[test]
    fn json_path_walks_arrays_and_wildcards() {
        let mut filters = Filters::default();
        filters.json_path(JsonPath::parse("$.items[*].key").unwrap(), "<K>");
        let out = filters
            .body(br#"{"items":[{"key":"a1"},{"key":"b2"}],"other":"a1x"}"#)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"items":[{"key":"<K>"},{"key":"<K>"}],"other":"a1x"}"#
        );
    }

    #[test]
    fn json_path_errors_name_the_problem() {
        assert!(
            JsonPath::parse("a.b")
                .unwrap_err()
                .contains("must start with `$`")
        );
        assert!(JsonPath::parse("$.a[x]").unwrap_err().contains("[x]"));
        assert!(
            JsonPath::parse("$.a[0")
                .unwrap_err()
                .contains("never closed")
        );
        assert_eq!(
            JsonPath::parse("$['odd key'][2]").unwrap().steps,
            vec![Step::Key("odd key".into()), Step::Index(2)]
        );
    }

    #[test]
    fn body_regexes_replace_the_first_group_or_the_whole_match() {
        let mut filters = Filters::default();
        filters.body_regex(Regex::new(r"password=(\w+)").unwrap(), "<PW>");
        filters.body_regex(Regex::new(r"sk_live_\w+").unwrap(), "<SK>");
        let out = filters
            .body(b"user=ada&password=hunter2&key=sk_live_abc$1")
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "user=ada&password=<PW>&key=<SK>$1"
        );
        assert_eq!(filters.body(b"nothing here"), None);
    }

    #[test]
    fn query_parameters_and_secrets_are_replaced_in_urls() {
        let mut filters = Filters::default();
        filters.query("api_key", "<KEY>");
        filters.sensitive("<USER>", "ada");
        let mut url = Url::parse("https://x.test/users/ada?api_key=123&page=2").unwrap();
        filters.url(&mut url);
        assert_eq!(
            url.as_str(),
            "https://x.test/users/%3CUSER%3E?api_key=%3CKEY%3E&page=2"
        );
        let mut text = "hello <USER>".to_string();
        assert!(filters.restore(&mut text));
        assert_eq!(text, "hello ada");
    }
}
