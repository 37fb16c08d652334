//! Secrets: what is replaced by a placeholder before anything reaches disk.
//!
//! The same filters run on the live request before matching, so a filtered
//! value still matches its recorded placeholder. Sensitive-data pairs
//! (`filter_sensitive_data`) are restored on replay: the placeholder in a
//! recorded response becomes the real value again. Besides the user's
//! filters, the defaults of [`super::secrets`] hide credentials found by
//! name and shape, each of which a user can switch off on its own.

use std::borrow::Cow;
use std::sync::Arc;

use regex::Regex;
use url::Url;

use super::format::{BodyForm, ChunkData, Headers, Interaction};
use super::secrets::{self, MIN_ECHO_LEN, Seen, is_placeholder};
use crate::target::Target;

/// The placeholder written instead of a credential header's value.
pub const REDACTED: &str = "<REDACTED>";

/// Headers whose values are redacted unless the user keeps them; headers
/// whose names match a credential pattern are too (see
/// [`is_credential_header`](super::is_credential_header)).
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

/// The part of a URL's userinfo that holds a credential.
enum Userinfo {
    Password,
    Username,
}

/// Which default filters are on (all, unless the user opts out of one).
#[derive(Debug, Clone)]
struct Defaults {
    /// Headers kept as they are, even if their names look like credentials.
    kept_headers: Vec<String>,
    /// Query, form and JSON keys kept as they are.
    kept_keys: Vec<String>,
    jwts: bool,
    userinfo: bool,
    echoes: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            kept_headers: Vec::new(),
            kept_keys: Vec::new(),
            jwts: true,
            userinfo: true,
            echoes: true,
        }
    }
}

/// Which of a request's headers [`Filters::request`] replaced with a
/// placeholder, so that each name is looked up once: bit `at` for the
/// header at `at`. Past the 64th header, the filters are asked again.
#[derive(Default, Clone, Copy)]
struct Replaced(u64);

impl Replaced {
    fn mark(&mut self, at: usize) {
        if at < 64 {
            self.0 |= 1 << at;
        }
    }

    /// The values of the headers that were not replaced.
    fn others<'a>(
        self,
        headers: &'a mut Headers,
        filters: &'a Filters,
    ) -> impl Iterator<Item = &'a mut Vec<String>> {
        headers
            .0
            .iter_mut()
            .enumerate()
            .filter(move |(at, (name, _))| match *at {
                0..64 => self.0 & (1 << at) == 0,
                _ => filters.header_placeholder(name).is_none(),
            })
            .map(|(_, (_, values))| values)
    }
}

/// The filters of one cassette; [`Filters::request`] adds what one
/// interaction's request carries. The cassette's rules are shared, so that
/// the per-request copy costs no more than what the request adds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    rules: Arc<Rules>,
    /// The credentials found in this interaction's request.
    seen: Seen,
    /// Their spellings, as `Rules::hidden`, for the ones long enough to
    /// look for elsewhere.
    echoes: Vec<(String, String)>,
}

/// What a cassette's builder configured.
#[derive(Debug, Clone)]
struct Rules {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body_regexes: Vec<(Regex, String)>,
    json_paths: Vec<(JsonPath, String)>,
    secrets: Vec<(String, String)>,
    /// Each secret as it may be written (as is, percent-encoded in a URL or
    /// form, escaped in JSON), with its placeholder: what recording hides.
    hidden: Vec<(String, String)>,
    defaults: Defaults,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            headers: DEFAULT_REDACTED_HEADERS
                .iter()
                .map(|name| (name.to_string(), REDACTED.to_string()))
                .collect(),
            query: Vec::new(),
            body_regexes: Vec::new(),
            json_paths: Vec::new(),
            secrets: Vec::new(),
            hidden: Vec::new(),
            defaults: Defaults::default(),
        }
    }
}

/// The ways `value` may be written: as is, percent-encoded as in a query or
/// form (`+` or `%20` for a space), escaped as in a JSON string.
fn spellings(value: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let json = serde_json::Value::from(value).to_string();
    let mut out = vec![
        value.to_string(),
        form.replace('+', "%20"),
        form,
        json[1..json.len() - 1].to_string(),
    ];
    out.dedup();
    out
}

fn add_spellings(list: &mut Vec<(String, String)>, value: &str, placeholder: &str) {
    for spelling in spellings(value) {
        if !list.iter().any(|(known, _)| *known == spelling) {
            list.push((spelling, placeholder.to_string()));
        }
    }
    // Longest first, so that a value inside another one does not leave a
    // part of the longer one behind.
    list.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
}

impl Filters {
    pub(crate) fn header(&mut self, name: &str, placeholder: &str) {
        let name = name.to_ascii_lowercase();
        Arc::make_mut(&mut self.rules)
            .headers
            .retain(|(n, _)| *n != name);
        Arc::make_mut(&mut self.rules)
            .headers
            .push((name, placeholder.to_string()));
    }

    pub(crate) fn keep_header(&mut self, name: &str) {
        Arc::make_mut(&mut self.rules)
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        Arc::make_mut(&mut self.rules)
            .defaults
            .kept_headers
            .push(name.to_ascii_lowercase());
    }

    pub(crate) fn keep_key(&mut self, name: &str) {
        Arc::make_mut(&mut self.rules)
            .defaults
            .kept_keys
            .push(name.to_string());
    }

    pub(crate) fn keep_jwts(&mut self) {
        Arc::make_mut(&mut self.rules).defaults.jwts = false;
    }

    pub(crate) fn keep_userinfo(&mut self) {
        Arc::make_mut(&mut self.rules).defaults.userinfo = false;
    }

    pub(crate) fn keep_echoes(&mut self) {
        Arc::make_mut(&mut self.rules).defaults.echoes = false;
    }

    pub(crate) fn query(&mut self, param: &str, placeholder: &str) {
        Arc::make_mut(&mut self.rules)
            .query
            .push((param.to_string(), placeholder.to_string()));
    }

    pub(crate) fn body_regex(&mut self, regex: Regex, placeholder: &str) {
        Arc::make_mut(&mut self.rules)
            .body_regexes
            .push((regex, placeholder.to_string()));
    }

    pub(crate) fn json_path(&mut self, path: JsonPath, placeholder: &str) {
        Arc::make_mut(&mut self.rules)
            .json_paths
            .push((path, placeholder.to_string()));
    }

    pub(crate) fn sensitive(&mut self, placeholder: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        Arc::make_mut(&mut self.rules)
            .secrets
            .push((value.to_string(), placeholder.to_string()));
        add_spellings(
            &mut Arc::make_mut(&mut self.rules).hidden,
            value,
            placeholder,
        );
    }

    /// The placeholder for header `name`'s values, if it is filtered.
    fn header_placeholder(&self, name: &str) -> Option<&str> {
        if let Some((_, placeholder)) = self.rules.headers.iter().find(|(n, _)| n == name) {
            return Some(placeholder);
        }
        let kept = self
            .rules
            .defaults
            .kept_headers
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name));
        (!kept && secrets::is_credential_header(name)).then_some(REDACTED)
    }

    /// Whether a query, form or JSON key's value is hidden by default.
    fn hides_key(&self, name: &str) -> bool {
        secrets::is_credential_key(name)
            && !self
                .rules
                .defaults
                .kept_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case(name))
    }

    /// Filters a request's URL and headers (its body is left to
    /// [`body`](Self::body)), and returns these filters plus the credentials
    /// that the request carried before any filter, so that they are hidden
    /// wherever they appear in this interaction, and so that replay can put
    /// the replaying request's own values back.
    ///
    /// One pass decides what each header's and query parameter's name asks
    /// for; the search for credentials and their replacement both use it,
    /// since every recorded and replayed request comes through here.
    pub(crate) fn request(&self, url: &mut Target, headers: &mut Headers, body: &[u8]) -> Filters {
        self.request_keys(url, headers, body).0
    }

    /// [`request`](Self::request), and the body filtered as
    /// [`body`](Self::body) would: the search for credentials has just
    /// parsed a JSON body, so hiding its keys does not parse it again when
    /// it has none, and the parse is handed on for the body's fingerprint.
    pub(crate) fn request_and_body(
        &self,
        url: &mut Target,
        headers: &mut Headers,
        body: &[u8],
    ) -> FilteredRequest {
        let (filters, keys, json) = self.request_keys(url, headers, body);
        let body = filters.filter_body(body, keys);
        FilteredRequest {
            json: json.filter(|_| body.is_none()),
            filters,
            body,
        }
    }

    fn request_keys(
        &self,
        url: &mut Target,
        headers: &mut Headers,
        body: &[u8],
    ) -> (Filters, BodyKeys, Option<serde_json::Value>) {
        let mut seen = Seen::default();
        let mut keys = BodyKeys::Unknown;
        let mut parsed = None;
        // A header that a filter replaces is seen and replaced at once; the
        // others are searched for JWTs last (the order of finding names the
        // placeholders), and for secrets once everything has been seen.
        let mut replaced = Replaced::default();
        for (at, (name, values)) in headers.0.iter_mut().enumerate() {
            let Some(placeholder) = self.header_placeholder(name) else {
                continue;
            };
            replaced.mark(at);
            for value in values {
                seen.add_header(name, value);
                if !is_placeholder(value) {
                    *value = placeholder.to_string();
                }
            }
        }
        if self.rules.defaults.userinfo {
            let userinfo = url.authority();
            match userinfo.password() {
                Some(password) => {
                    seen.add("password", &percent_decode(password));
                }
                None if !userinfo.username().is_empty() => {
                    seen.add("username", &percent_decode(userinfo.username()));
                }
                None => {}
            }
        }
        let query = url.query().filter(|query| self.touches_query(query));
        for (key, value) in query
            .iter()
            .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
        {
            if self.hides_key(&key) {
                seen.add(&key, &value);
            }
        }
        let query_touched = query.is_some();
        if let Ok(text) = std::str::from_utf8(body) {
            if let Some(json) = parse_json(text) {
                let mut named = Vec::new();
                collect_named(&json, &|key| self.hides_key(key), &mut named);
                if nothing_to_hide(&named) {
                    keys = BodyKeys::NoneInJson;
                }
                named.iter().for_each(|(key, value)| {
                    seen.add(key, value);
                });
                parsed = Some(json);
            } else if secrets::looks_like_form(text) && self.hides_a_key_in(text) {
                for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
                    if self.hides_key(&key) {
                        seen.add(&key, &value);
                    }
                }
            }
            if self.rules.defaults.jwts {
                seen.add_jwts(text);
            }
        }
        if self.rules.defaults.jwts {
            seen.add_jwts(url.as_str());
            for values in replaced.others(headers, self) {
                values.iter().for_each(|value| seen.add_jwts(value));
            }
        }
        let mut filters = self.clone();
        if self.rules.defaults.echoes {
            for (value, placeholder) in seen.pairs() {
                if value.chars().count() >= MIN_ECHO_LEN {
                    add_spellings(&mut filters.echoes, value, placeholder);
                }
            }
        }
        filters.seen = seen;
        filters.url(url, query_touched);
        for values in replaced.others(headers, &filters) {
            for value in values {
                filters.hide_secrets(value);
                filters.hide_jwts(value);
            }
        }
        (filters, keys, parsed)
    }

    /// Replaces filtered header values, and secrets inside any value.
    pub(crate) fn headers(&self, headers: &mut Headers) {
        for (name, values) in &mut headers.0 {
            if let Some(placeholder) = self.header_placeholder(name) {
                values.iter_mut().for_each(|v| {
                    if !is_placeholder(v) {
                        *v = placeholder.to_string();
                    }
                });
                continue;
            }
            for value in values {
                self.hide_secrets(value);
                self.hide_jwts(value);
            }
        }
    }

    /// The placeholder for a credential `value` found under `name` in a
    /// part of the interaction that [`request`](Self::request) did
    /// not search (a response): the request's, if it carried the same value.
    fn placeholder(&self, local: &mut Seen, name: &str, value: &str) -> Option<String> {
        if let Some(known) = self.seen.placeholder_of(value) {
            return Some(known.to_string());
        }
        if local.is_empty() {
            *local = self.seen.clone();
        }
        local.add(name, value)
    }

    /// Replaces filtered query parameters (`query_touched`: the query has
    /// one), credentials in the userinfo, and secrets anywhere in the URL. A
    /// URL that none of them touches (the common case) is only read, as
    /// text: it is never parsed.
    fn url(&self, target: &mut Target, query_touched: bool) {
        if query_touched
            || self.userinfo_to_hide(target.authority()).is_some()
            || !self.rules.hidden.is_empty()
        {
            self.url_parts(target.url_mut());
        }
        let jwts = self.rules.defaults.jwts && secrets::may_hold_jwt(target.as_str());
        if self.rules.hidden.is_empty() && self.echoes.is_empty() && !jwts {
            return;
        }
        let mut text = target.as_str().to_string();
        let changed = self.hide_secrets(&mut text) | self.hide_jwts(&mut text);
        if changed && let Ok(parsed) = Url::parse(&text) {
            *target = parsed.into();
        }
    }

    /// Which part of `url`'s userinfo holds a credential to replace: the
    /// password, else a username alone; `None` when there is none or it is
    /// a placeholder already.
    fn userinfo_to_hide(&self, url: &Url) -> Option<Userinfo> {
        if !self.rules.defaults.userinfo {
            return None;
        }
        match url.password() {
            Some(password) => (!is_placeholder(password)).then_some(Userinfo::Password),
            None => (!url.username().is_empty() && !is_placeholder(url.username()))
                .then_some(Userinfo::Username),
        }
    }

    /// The parts of [`url`](Self::url) that edit the parsed URL: the
    /// userinfo, the query's parameters and hidden values in the host.
    fn url_parts(&self, url: &mut Url) {
        match self.userinfo_to_hide(url) {
            Some(Userinfo::Password) => {
                let placeholder = self
                    .seen
                    .placeholder_of(&percent_decode(url.password().unwrap_or_default()))
                    .unwrap_or("<PASSWORD>")
                    .to_string();
                let _ = url.set_password(Some(&placeholder));
            }
            Some(Userinfo::Username) => {
                let placeholder = self
                    .seen
                    .placeholder_of(&percent_decode(url.username()))
                    .unwrap_or("<USERNAME>")
                    .to_string();
                let _ = url.set_username(&placeholder);
            }
            None => {}
        }
        if url.query().is_some_and(|query| self.touches_query(query)) {
            let mut changed = false;
            let mut local = Seen::default();
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    if let Some((_, placeholder)) = self
                        .rules
                        .query
                        .iter()
                        .find(|(param, _)| param.as_str() == k)
                    {
                        changed = true;
                        return (k.into_owned(), placeholder.clone());
                    }
                    if self.hides_key(&k)
                        && let Some(placeholder) = self.placeholder(&mut local, &k, &v)
                    {
                        changed = true;
                        return (k.into_owned(), placeholder);
                    }
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            if changed {
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
        }
        if !self.rules.hidden.is_empty()
            && let Some(host) = url.host_str().map(str::to_owned)
        {
            // A placeholder like `<TENANT>` cannot stand in a host name: the
            // host gets its letters, digits and dashes (`tenant`).
            let mut safe = host.clone();
            for (value, placeholder) in &self.rules.hidden {
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
    }

    /// Whether a filter may replace a parameter of `query`: one named by a
    /// query filter, or a credential key. Most URLs have none, and their
    /// query is then left as it is, never copied into owned pairs.
    fn touches_query(&self, query: &str) -> bool {
        form_keys(query).any(|key| {
            self.rules
                .query
                .iter()
                .any(|(param, _)| param.as_str() == key)
                || self.hides_key(&key)
        })
    }

    /// Whether a key of `text` (a query or form body) is one whose value is
    /// hidden by default. Only the keys are looked at: a request without
    /// one costs no decoding of its values.
    fn hides_a_key_in(&self, text: &str) -> bool {
        form_keys(text).any(|key| self.hides_key(&key))
    }

    /// The body with regex matches, JSON-path values, credential keys' values,
    /// JWTs and secrets replaced; `None` when nothing applies (binary bodies,
    /// say).
    pub(crate) fn body(&self, body: &[u8]) -> Option<Vec<u8>> {
        self.filter_body(body, BodyKeys::Unknown)
    }

    /// [`body`](Self::body), told what is known of `body`'s credential keys.
    fn filter_body(&self, body: &[u8], keys: BodyKeys) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(body).ok()?;
        let mut text = text.to_string();
        let mut changed = false;
        for (path, placeholder) in &self.rules.json_paths {
            // Parsed anew for each path, so that a path which re-encodes the
            // body keeps what the paths before it replaced.
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                changed |= replace_json_values(&mut text, &json, path, placeholder);
            }
        }
        for (regex, placeholder) in &self.rules.body_regexes {
            if let Some(replaced) = replace_regex(&text, regex, placeholder) {
                text = replaced;
                changed = true;
            }
        }
        // What is known of the keys is known of `body`, not of a text that
        // the rules above changed.
        if changed || keys == BodyKeys::Unknown {
            changed |= self.hide_keys(&mut text);
        }
        changed |= self.hide_secrets(&mut text);
        changed |= self.hide_jwts(&mut text);
        changed.then(|| text.into_bytes())
    }

    /// Hides credential keys' values in a JSON or form body.
    fn hide_keys(&self, text: &mut String) -> bool {
        let mut local = Seen::default();
        if let Some(mut json) = parse_json(text) {
            let mut replaced = text.clone();
            // Placeholders are named after the key they were found under.
            let mut named = Vec::new();
            collect_named(&json, &|key| self.hides_key(key), &mut named);
            if nothing_to_hide(&named) {
                return false;
            }
            let pairs: Vec<(String, String)> = named
                .into_iter()
                .filter_map(|(key, value)| {
                    let placeholder = self.placeholder(&mut local, &key, &value)?;
                    Some((value, placeholder))
                })
                .collect();
            for (value, placeholder) in &pairs {
                replaced = replaced.replace(
                    &serde_json::Value::from(value.as_str()).to_string(),
                    &serde_json::Value::from(placeholder.as_str()).to_string(),
                );
            }
            // Written with other escapes than serde_json's: re-encode.
            let hidden = parse_json(&replaced).is_some_and(|after| {
                let mut left = Vec::new();
                collect_named(&after, &|key| self.hides_key(key), &mut left);
                left.iter().all(|(_, v)| is_placeholder(v))
            });
            if !hidden {
                replace_named(&mut json, &|key| self.hides_key(key), &|value| {
                    pairs
                        .iter()
                        .find(|(v, _)| v == value)
                        .map(|(_, p)| p.clone())
                });
                replaced = json.to_string();
            }
            let changed = replaced != *text;
            *text = replaced;
            return changed;
        }
        if !secrets::looks_like_form(text) || !self.hides_a_key_in(text) {
            return false;
        }
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        let mut changed = false;
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| {
                if self.hides_key(&k)
                    && let Some(placeholder) = self.placeholder(&mut local, &k, &v)
                {
                    changed = true;
                    return (k, placeholder);
                }
                (k, v)
            })
            .collect();
        if changed {
            *text = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
        }
        changed
    }

    /// Free text (a recorded error's message) with secrets, credential
    /// pairs (`access_token=…` in a quoted URL) and JWTs hidden.
    pub(crate) fn message(&self, text: &str) -> String {
        let mut text = text.to_string();
        self.hide_secrets(&mut text);
        self.hide_jwts(&mut text);
        let mut local = Seen::default();
        let pairs = secrets::pair_regex();
        let replaced = pairs.replace_all(&text, |caps: &regex::Captures<'_>| {
            let (key, value) = (&caps[1], &caps[2]);
            match self.hides_key(key) {
                true => match self.placeholder(&mut local, key, &percent_decode(value)) {
                    Some(placeholder) => format!("{key}={placeholder}"),
                    None => caps[0].to_string(),
                },
                false => caps[0].to_string(),
            }
        });
        replaced.into_owned()
    }

    /// Whether anything must be restored on replay: the user's sensitive
    /// pairs, or credentials the request carries.
    pub(crate) fn restores(&self) -> bool {
        !self.rules.secrets.is_empty() || !self.seen.is_empty()
    }

    /// Puts real values back in place of their placeholders: the user's
    /// sensitive pairs, and the values the replaying request carries in
    /// place of the placeholders the recording gave the same places.
    pub(crate) fn restore(&self, text: &mut String) -> bool {
        let mut changed = false;
        let pairs = self.rules.secrets.iter().chain(self.seen.pairs());
        for (value, placeholder) in pairs {
            if text.contains(placeholder.as_str()) {
                *text = text.replace(placeholder.as_str(), value);
                changed = true;
            }
        }
        changed
    }

    fn hide_secrets(&self, text: &mut String) -> bool {
        let mut changed = false;
        for (value, placeholder) in self.rules.hidden.iter().chain(&self.echoes) {
            if text.contains(value.as_str()) {
                *text = text.replace(value.as_str(), placeholder);
                changed = true;
            }
        }
        changed
    }

    fn hide_jwts(&self, text: &mut String) -> bool {
        if !self.rules.defaults.jwts || !secrets::may_hold_jwt(text) {
            return false;
        }
        let mut local = Seen::default();
        let replaced = secrets::jwt_regex().replace_all(text, |caps: &regex::Captures<'_>| {
            self.placeholder(&mut local, "jwt", &caps[0])
                .unwrap_or_else(|| caps[0].to_string())
        });
        if replaced == *text {
            return false;
        }
        *text = replaced.into_owned();
        true
    }

    /// Applies these filters (and the credentials its request carries) to an
    /// interaction already in cassette form: what importers and
    /// [`Tape::save`](super::Tape::save) do.
    pub(crate) fn scrub(&self, interaction: &mut Interaction) {
        let request = &mut interaction.request;
        let body = request
            .body
            .as_ref()
            .and_then(|b| b.to_bytes().ok())
            .unwrap_or_default();
        let parsed = Url::parse(&request.uri).ok();
        let valid = parsed.is_some();
        let mut url = Target::from(parsed.unwrap_or_else(|| {
            Url::parse("http://invalid.invalid/").expect("a valid literal URL")
        }));
        let filters = self.request(&mut url, &mut request.headers, &body);
        if valid {
            request.uri = url.as_str().to_owned();
        }
        filters.scrub_body(&mut request.body, &mut Headers::default());
        if let Some(response) = &mut interaction.response {
            filters.headers(&mut response.headers);
            filters.scrub_body(&mut response.body, &mut response.headers);
        }
        if let Some(error) = &mut interaction.error {
            error.message = filters.message(&error.message);
        }
        for event in interaction.websocket.iter_mut().flatten() {
            // A text frame's payload, as recording writes it (`json` or `text`).
            let text = match (&event.json, &event.text) {
                (Some(json), _) => json.to_bytes().ok().map(|b| b.to_vec()),
                (None, Some(text)) => Some(text.clone().into_bytes()),
                _ => None,
            };
            let sent = event.send.is_some();
            if let Some(hidden) = text.and_then(|bytes| filters.body(&bytes)) {
                let frame = crate::ws::Frame::Text(String::from_utf8_lossy(&hidden).into_owned());
                let redone = super::ws::event_of(event.at_ms, sent, &frame, &filters);
                event.json = redone.json;
                event.text = redone.text;
                event.base64 = redone.base64;
            }
            if let Some(reason) = &mut event.reason {
                *reason = filters.message(reason);
            }
            if let Some(error) = &mut event.error {
                error.message = filters.message(&error.message);
            }
        }
    }

    fn scrub_body(&self, body: &mut Option<BodyForm>, headers: &mut Headers) {
        match body {
            Some(BodyForm::Chunks(chunks)) => {
                for chunk in chunks {
                    let Ok(Some(bytes)) = chunk.data.to_bytes() else {
                        continue;
                    };
                    if let Some(hidden) = self.body(&bytes) {
                        chunk.data = ChunkData::from_bytes(&hidden);
                    }
                }
            }
            Some(form) => {
                let Ok(bytes) = form.to_bytes() else {
                    return;
                };
                if let Some(hidden) = self.body(&bytes) {
                    if hidden.len() != bytes.len()
                        && let Some((_, values)) = headers
                            .0
                            .iter_mut()
                            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    {
                        *values = vec![hidden.len().to_string()];
                    }
                    *body = BodyForm::from_bytes(&hidden);
                }
            }
            None => {}
        }
    }
}

/// A request after [`Filters::request_and_body`].
pub(crate) struct FilteredRequest {
    /// The cassette's filters plus the request's credentials.
    pub(crate) filters: Filters,
    /// The body, if a filter changed it.
    pub(crate) body: Option<Vec<u8>>,
    /// The body parsed as JSON, when it is JSON (an object or array) and no
    /// filter changed it.
    pub(crate) json: Option<serde_json::Value>,
}

/// What [`Filters::request`]'s search found of a request body's
/// credential keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKeys {
    /// Not looked at, or not a JSON body: hiding keys reads the body.
    Unknown,
    /// A JSON body with no credential key to hide.
    NoneInJson,
}

/// Whether the credential keys' values found (`named`) are all empty or
/// placeholders already.
fn nothing_to_hide(named: &[(String, String)]) -> bool {
    named.iter().all(|(_, v)| is_placeholder(v) || v.is_empty())
}

/// The JSON document in `text`, if it is an object or array (a bare string
/// or number has no keys to hide).
fn parse_json(text: &str) -> Option<serde_json::Value> {
    let start = text.trim_start().as_bytes().first()?;
    if *start != b'{' && *start != b'[' {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// The secret a credential key's JSON value holds: a string, or a number
/// (`{"pin_secret": 4711}`), written as its digits.
fn secret_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `(key, value)` pairs under the keys `hides` picks, numbers as their
/// digits.
fn collect_named(
    json: &serde_json::Value,
    hides: &dyn Fn(&str) -> bool,
    out: &mut Vec<(String, String)>,
) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match hides(key).then(|| secret_of(value)).flatten() {
                    Some(secret) => out.push((key.clone(), secret)),
                    None => collect_named(value, hides, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_named(i, hides, out)),
        _ => {}
    }
}

/// Replaces the values under the keys `hides` picks by what `placeholder`
/// gives for them: a number becomes the placeholder string.
fn replace_named(
    json: &mut serde_json::Value,
    hides: &dyn Fn(&str) -> bool,
    placeholder: &dyn Fn(&str) -> Option<String>,
) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match hides(key).then(|| secret_of(value)).flatten() {
                    Some(secret) => {
                        if let Some(p) = placeholder(&secret) {
                            *value = serde_json::Value::String(p);
                        }
                    }
                    None => replace_named(value, hides, placeholder),
                }
            }
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|i| replace_named(i, hides, placeholder)),
        _ => {}
    }
}

/// The keys of a query or form body (`a=1&b=2`), decoded exactly as
/// `form_urlencoded::parse` decodes them, without decoding any value. Whether
/// a filter applies to a request's query depends on its keys only, and most
/// keys need no decoding (no `%`, no `+`): they are borrowed as written.
/// Bytes are scanned as `form_urlencoded` scans them (a `str` search for
/// `&` or `=` costs more in set-up than these short texts take to read).
fn form_keys(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        loop {
            let text = rest?;
            // Cut at ASCII bytes of a `str`, so each piece is a `str` too:
            // no UTF-8 check per key.
            let (pair, after) = match text.bytes().position(|b| b == b'&') {
                Some(at) => (&text[..at], Some(&text[at + 1..])),
                None => (text, None),
            };
            rest = after;
            if pair.is_empty() {
                continue;
            }
            let key = &pair[..pair.bytes().position(|b| b == b'=').unwrap_or(pair.len())];
            return Some(if key.bytes().any(|b| b == b'%' || b == b'+') {
                // No `&` or `=` in `key`: it parses as one pair, its key decoded.
                url::form_urlencoded::parse(key.as_bytes())
                    .next()
                    .map_or(Cow::Borrowed(""), |(key, _)| key)
            } else {
                Cow::Borrowed(key)
            });
        }
    })
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_string())
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
    fn form_keys_are_the_keys_form_urlencoded_parses() {
        for text in [
            "",
            "&",
            "&&a=1&&",
            "a",
            "a=",
            "=b",
            "=",
            "a=b=c",
            "page=2&sort=name",
            "a+b=1",
            "+=+",
            "a%20b=1",
            "access%5Ftoken=x",
            "%E2%82%AC=1",
            "%ZZ=1",
            "a%=1",
            "%=1",
            "%C3=1",
            "ключ=значение&ключ%20два=1",
            "a;b=1",
            "a=1%26b=2",
            "x=%26&y",
        ] {
            let fast: Vec<Cow<'_, str>> = form_keys(text).collect();
            let slow: Vec<Cow<'_, str>> = url::form_urlencoded::parse(text.as_bytes())
                .map(|(key, _)| key)
                .collect();
            assert_eq!(fast, slow, "{text:?}");
        }
    }

    #[test]
    fn a_credential_key_is_found_however_its_name_is_encoded() {
        let filters = Filters::default();
        for query in [
            "access_token=s3cr3t",
            "access%5Ftoken=s3cr3t",
            "a=1&access_token",
        ] {
            assert!(filters.hides_a_key_in(query), "{query}");
            assert!(filters.touches_query(query), "{query}");
        }
        assert!(!filters.hides_a_key_in("page=2&sort=name"));
        assert!(!filters.touches_query("page=2&sort=name"));
        let mut filters = Filters::default();
        filters.query("page", "<PAGE>");
        assert!(filters.touches_query("sort=name&page=2"));
        assert!(!filters.hides_a_key_in("sort=name&page=2"));
    }

    #[test]
    fn a_url_kept_as_text_is_filtered_as_its_parsed_url_is() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWJ5dGVz";
        let mut rules = Filters::default();
        rules.query("page", "<PAGE>");
        rules.sensitive("<USER>", "ada");
        let paths = [
            "/a".to_string(),
            "/users/ada?page=2&sort=name".to_string(),
            "/a?access_token=s3cr3t&x=1".to_string(),
            "/a?access%5Ftoken=s3cr3t".to_string(),
            "/a?token=t0k3n-t0k3n-t0k3n".to_string(),
            format!("/t/{jwt}"),
            format!("/a?q={jwt}"),
        ];
        let origins = [
            "https://x.test",
            "https://ada.x.test:8443",
            "http://u:pw@x.test",
            "http://user@x.test",
            "http://%3CUSER%3E@x.test",
        ];
        let headers = Headers(vec![(
            "authorization".into(),
            vec!["Bearer t0k3n-t0k3n-t0k3n".into()],
        )]);
        for filters in [&Filters::default(), &rules] {
            for origin in origins {
                for path in &paths {
                    let mut text = crate::target::tests::target(origin, path).expect("plain");
                    let mut parsed = Target::from(Url::parse(&format!("{origin}{path}")).unwrap());
                    for headers in [&Headers::default(), &headers] {
                        let (mut text, mut parsed) = (text.clone(), parsed.clone());
                        let (mut text_headers, mut url_headers) =
                            (headers.clone(), headers.clone());
                        let by_text = filters.request(&mut text, &mut text_headers, b"");
                        let by_url = filters.request(&mut parsed, &mut url_headers, b"");
                        assert_eq!(by_text.seen, by_url.seen, "{origin}{path}");
                        assert_eq!(text.as_str(), parsed.as_str(), "{origin}{path}");
                        assert_eq!(text_headers, url_headers, "{origin}{path}");
                    }
                    filters.request(&mut text, &mut Headers::default(), b"");
                    filters.request(&mut parsed, &mut Headers::default(), b"");
                    assert_eq!(text.as_str(), parsed.as_str(), "{origin}{path}");
                    for secret in ["s3cr3t", ":pw@", jwt] {
                        assert!(!text.as_str().contains(secret), "{}", text.as_str());
                    }
                }
            }
        }
    }

    #[test]
    fn a_request_body_is_filtered_as_body_filters_it() {
        let mut rules = Filters::default();
        rules.json_path(JsonPath::parse("$.user").unwrap(), "<USER>");
        rules.body_regex(Regex::new(r"card=(\d+)").unwrap(), "<CARD>");
        rules.sensitive("<NAME>", "Ada Lovelace");
        // Short secrets too: shorter than an echo, only the key hides them.
        let bodies: [&[u8]; 11] = [
            br#"{"query":"{ me }","variables":{"id":7}}"#,
            br#"{"password":"pw1"}"#,
            br#"{"variables":{"input":{"client_secret":"s1"}}}"#,
            br#"{"password":"hunter2-hunter2","user":"ada"}"#,
            br#"{"user":"ada","nested":{"api_key":"k-123456"}}"#,
            br#"{"token":"<TOKEN>"}"#,
            br#"{"note":"card=4111 for Ada Lovelace"}"#,
            b"password=hunter2&page=2",
            b"card=4111",
            b"not json at all",
            &[0xff, 0xfe],
        ];
        for filters in [Filters::default(), rules] {
            for body in bodies {
                let fresh = || {
                    let url = Target::from(Url::parse("http://x.test/graphql").unwrap());
                    (url, Headers::default())
                };
                let (mut url, mut headers) = fresh();
                let together = filters.request_and_body(&mut url, &mut headers, body);
                let (mut url, mut headers) = fresh();
                let apart = filters.request(&mut url, &mut headers, body);
                assert_eq!(together.filters.seen, apart.seen);
                let shown = String::from_utf8_lossy(body);
                assert_eq!(together.body, apart.body(body), "{shown}");
                // The parse handed on is the unchanged body's.
                let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
                match &together.json {
                    Some(json) => assert_eq!(Some(json), parsed.as_ref(), "{shown}"),
                    None => assert!(
                        together.body.is_some() || !body.starts_with(b"{"),
                        "{shown}"
                    ),
                }
            }
        }
    }

    #[test]
    fn headers_past_the_64th_are_filtered_like_the_first() {
        let token = "Bearer t0k3n-t0k3n-t0k3n";
        for at in [0, 63, 64, 70] {
            let mut headers: Vec<(String, Vec<String>)> = (0..80)
                .map(|i| (format!("x-plain-{i}"), vec![format!("value {i}")]))
                .collect();
            headers[at] = ("authorization".into(), vec![token.into()]);
            // A plain header after it that echoes the token.
            headers[at + 1].1 = vec![format!("echo {token}")];
            let mut headers = Headers(headers);
            let mut url = Target::from(Url::parse("http://x.test/").unwrap());
            Filters::default().request(&mut url, &mut headers, b"");
            assert_eq!(headers.0[at].1, [REDACTED], "header {at}");
            assert_eq!(
                headers.0[at + 1].1,
                ["echo <AUTHORIZATION>"],
                "header {at} + 1"
            );
            assert_eq!(headers.0[at + 2].1, [format!("value {}", at + 2)]);
        }
    }

    #[test]
    fn query_parameters_and_secrets_are_replaced_in_urls() {
        let mut filters = Filters::default();
        filters.query("api_key", "<KEY>");
        filters.sensitive("<USER>", "ada");
        let mut url =
            Target::from(Url::parse("https://x.test/users/ada?api_key=123&page=2").unwrap());
        filters.request(&mut url, &mut Headers::default(), b"");
        assert_eq!(
            url.as_str(),
            "https://x.test/users/%3CUSER%3E?api_key=%3CKEY%3E&page=2"
        );
        let mut text = "hello <USER>".to_string();
        assert!(filters.restore(&mut text));
        assert_eq!(text, "hello ada");
    }
}
