//! Other tools' recordings as wiretape cassettes: Ruby VCR and vcrpy YAML,
//! HAR 1.2 (Polly.js, browser devtools, with Chrome's
//! `_webSocketMessages`); and wiretape cassettes as HAR.
//!
//! Every importer normalises one quirk of its source: a body stored already
//! decompressed while `Content-Encoding` still names a compression (vcrpy
//! through `requests`, browsers' HAR) loses that header, so the replayed
//! response describes the bytes it carries.
//!
//! ```
//! use wiretape::cassette::import;
//!
//! let vcrpy = "interactions:\n- request:\n    body: null\n    headers: {}\n    method: GET\n    uri: http://x.test/\n  response:\n    body: {string: hi}\n    headers: {}\n    status: {code: 200, message: OK}\nversion: 1\n";
//! let tape = import::from_vcrpy(vcrpy, "x.yaml")?;
//! assert_eq!(tape.interactions[0].response.as_ref().unwrap().status, 200);
//! # Ok::<(), wiretape::Error>(())
//! ```

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::format::{
    BodyForm, Headers, Interaction, RecordedError, RecordedRequest, RecordedResponse, Tape,
    WsEvent, WsFrameKind,
};
use super::store::file_error;
use crate::yaml::Value;
use crate::{ErrorKind, Result};

/// The formats [`import_file`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A wiretape cassette.
    Wiretape,
    /// A Ruby VCR cassette (`http_interactions:`).
    RubyVcr,
    /// A vcrpy cassette (`interactions:` with `status: {code: …}`).
    Vcrpy,
    /// A HAR 1.2 file.
    Har,
}

/// Tells a file's format from its text.
pub fn detect(text: &str) -> Option<Format> {
    let text = crate::yaml::strip_bom(text);
    if text.trim_start().starts_with('{') {
        return Some(Format::Har);
    }
    let value: Value = crate::yaml::parse(text).ok()?;
    Some(detect_value(&value))
}

/// The format of a YAML document.
fn detect_value(value: &Value) -> Format {
    if value.get("http_interactions").is_some() {
        return Format::RubyVcr;
    }
    let first = value
        .get("interactions")
        .and_then(Value::as_sequence)
        .and_then(|list| list.first());
    match first.and_then(|i| i.get("response")?.get("status")) {
        Some(status) if status.is_mapping() => Format::Vcrpy,
        _ => Format::Wiretape,
    }
}

/// Reads the file at `path` in whichever supported format it is. The YAML
/// formats are parsed once; a wiretape cassette is read as
/// [`Tape::load`] reads it. Every imported interaction is checked as
/// opening a cassette checks it (an error names the source entry) and
/// redacted as recording redacts.
pub fn import_file(path: impl AsRef<Path>) -> Result<Tape> {
    let path = path.as_ref();
    let text = super::store::read_text(path)?.ok_or_else(|| file_error(path, "no such file"))?;
    let text = crate::yaml::strip_bom(&text);
    if text.trim_start().starts_with('{') {
        return from_har(text, path);
    }
    let value = super::store::parse_value(&vcr_text(text), path)?;
    match detect_value(&value) {
        Format::Wiretape => Tape::from_yaml(text, path),
        Format::RubyVcr => vcr_items(&value, path, "http_interactions", "Ruby VCR"),
        Format::Vcrpy => vcr_items(&value, path, "interactions", "vcrpy"),
        Format::Har => unreachable!("HAR is JSON, told apart above"),
    }
}

/// Converts a Ruby VCR cassette (`http_interactions:`); `origin` names it
/// in errors.
pub fn from_ruby_vcr(text: &str, origin: impl AsRef<Path>) -> Result<Tape> {
    vcr_tape(text, origin.as_ref(), "http_interactions", "Ruby VCR")
}

/// Converts a vcrpy cassette; `origin` names it in errors.
pub fn from_vcrpy(text: &str, origin: impl AsRef<Path>) -> Result<Tape> {
    vcr_tape(text, origin.as_ref(), "interactions", "vcrpy")
}

/// The two VCR dialects share their shape: a list of interactions under
/// `list`.
fn vcr_tape(text: &str, origin: &Path, list: &str, dialect: &str) -> Result<Tape> {
    let text = vcr_text(crate::yaml::strip_bom(text));
    let root = super::store::parse_value(&text, origin)?;
    vcr_items(&root, origin, list, dialect)
}

/// VCR text ready for the YAML reader. It resolves the standard `!!binary`
/// tag away, leaving the base64 text as a plain string; the local tag
/// `!binary` (old Ruby VCR's spelling) survives, so the standard one is
/// read as that.
fn vcr_text(text: &str) -> std::borrow::Cow<'_, str> {
    static STANDARD_BINARY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?m)([:-][ \t]+)!!binary\b").expect("a valid literal regex")
    });
    STANDARD_BINARY.replace_all(text, "${1}!binary")
}

fn vcr_items(root: &Value, origin: &Path, list: &str, dialect: &str) -> Result<Tape> {
    let items = root.get(list).and_then(Value::as_sequence).ok_or_else(|| {
        file_error(
            origin,
            format!("no `{list}` list: not a {dialect} cassette"),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            vcr_interaction(item)
                .and_then(|interaction| checked(i, interaction))
                .map_err(|err| file_error(origin, format!("{list}[{i}]: {err}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(tape)
}

/// `interaction` if it would open as a cassette's interaction `i`; else
/// why not.
fn checked(i: usize, interaction: Interaction) -> std::result::Result<Interaction, String> {
    match super::replay::validate(i, &interaction) {
        Ok(_) => Ok(interaction),
        // The message names wiretape's interaction; the caller names the
        // source entry.
        Err(invalid) => Err(invalid
            .message
            .split_once(": ")
            .map_or(invalid.message.clone(), |(_, why)| why.to_string())),
    }
}

/// The imported interactions with the default secret filters applied: an
/// imported file never brings a credential into a cassette, unless the
/// caller opted out with [`unredacted`].
fn tape(interactions: Vec<Interaction>) -> Tape {
    let tape = Tape {
        interactions,
        ..Tape::default()
    };
    match AS_IS.with(std::cell::Cell::get) {
        true => tape,
        false => tape.redacted(),
    }
}

thread_local! {
    static AS_IS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `import` (calls of this module's importers) without their default
/// redaction: the explicit opt-out (`wiretape convert --no-redact`).
#[cfg(feature = "cli")]
pub(crate) fn unredacted<T>(import: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            AS_IS.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(AS_IS.with(|flag| flag.replace(true)));
    import()
}

/// One Ruby VCR or vcrpy interaction.
fn vcr_interaction(item: &Value) -> std::result::Result<Interaction, String> {
    let request = item.get("request").ok_or("no request")?;
    let method = text_of(request.get("method")).ok_or("request has no method")?;
    let uri = text_of(request.get("uri")).ok_or("request has no uri")?;
    let request_body = vcr_body(request.get("body"))?;
    let response = item.get("response").ok_or("no response")?;
    let status = response.get("status").ok_or("response has no status")?;
    let status = status
        .get("code")
        .unwrap_or(status)
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("response status has no numeric code")?;
    let response_body = vcr_body(response.get("body"))?;
    Ok(build(
        &method,
        &uri,
        yaml_headers(request.get("headers")),
        request_body,
        Ok(Answer {
            status,
            headers: yaml_headers(response.get("headers")),
            body: response_body,
        }),
        None,
    ))
}

/// A body as VCR tools write it: null, a string, `!!binary` base64, or a
/// mapping with `string` (or Ruby's `base64_string`).
fn vcr_body(value: Option<&Value>) -> std::result::Result<Vec<u8>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if value.is_mapping() {
        if let Some(encoded) = value.get("base64_string") {
            return decode_base64(encoded);
        }
        return vcr_body(value.get("string"));
    }
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(text.clone().into_bytes()),
        Value::Tagged(tagged) if tagged.tag.to_string().contains("binary") => {
            decode_base64(&tagged.value)
        }
        Value::Tagged(tagged) => vcr_body(Some(&tagged.value)),
        other => Err(format!("unexpected body {other:?}")),
    }
}

fn decode_base64(value: &Value) -> std::result::Result<Vec<u8>, String> {
    let text = text_of(Some(value)).ok_or("a base64 body is not a string")?;
    let compact: String = text.split_whitespace().collect();
    BASE64
        .decode(compact)
        .map_err(|err| format!("invalid base64 body: {err}"))
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(tagged) => text_of(Some(&tagged.value)),
        _ => None,
    }
}

/// Headers from a YAML mapping of names to a value or a list of values.
fn yaml_headers(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(map) = value.and_then(Value::as_mapping) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, values) in map {
        let Some(name) = text_of(Some(name)) else {
            continue;
        };
        match values.as_sequence() {
            Some(list) => out.extend(
                list.iter()
                    .filter_map(|v| text_of(Some(v)))
                    .map(|v| (name.clone(), v)),
            ),
            None => out.extend(text_of(Some(values)).map(|v| (name.clone(), v))),
        }
    }
    out
}

/// A response from plain parts.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// An interaction from plain parts, with header names lower-cased and
/// grouped, and a decompressed body's stale `Content-Encoding` dropped.
fn build(
    method: &str,
    uri: &str,
    request_headers: Vec<(String, String)>,
    request_body: Vec<u8>,
    outcome: std::result::Result<Answer, RecordedError>,
    websocket: Option<Vec<WsEvent>>,
) -> Interaction {
    let request = RecordedRequest {
        method: method.to_ascii_uppercase(),
        uri: uri.to_string(),
        headers: grouped(request_headers),
        body: BodyForm::from_bytes(&request_body),
    };
    let (response, error) = match outcome {
        Ok(Answer {
            status,
            headers,
            body,
        }) => {
            let mut headers = grouped(headers);
            drop_stale_encoding(&mut headers, &body);
            let bodiless = method.eq_ignore_ascii_case("HEAD")
                || (100..200).contains(&status)
                || status == 204
                || status == 304;
            // Tools keep the length sent on the wire but store the body
            // decoded, or not at all: the length must fit what replays.
            if !bodiless && headers.remove("content-length") {
                headers
                    .0
                    .push(("content-length".into(), vec![body.len().to_string()]));
            }
            let response = RecordedResponse {
                status,
                headers,
                body: BodyForm::from_bytes(&body),
                latency_ms: None,
            };
            (Some(response), None)
        }
        Err(error) => (None, Some(error)),
    };
    Interaction {
        request,
        response,
        error,
        websocket,
        recorded_at: None,
    }
}

fn grouped(pairs: Vec<(String, String)>) -> Headers {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => out.push((name, vec![value])),
        }
    }
    Headers(out)
}

/// Drops `Content-Encoding` when the body is not actually encoded that way.
fn drop_stale_encoding(headers: &mut Headers, body: &[u8]) {
    let Some(encoding) = headers
        .get("content-encoding")
        .and_then(|v| v.first())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return;
    };
    let encoded = match encoding.as_str() {
        "gzip" | "x-gzip" => body.starts_with(&[0x1f, 0x8b]),
        "deflate" => flate2::read::ZlibDecoder::new(body)
            .read_to_end(&mut Vec::new())
            .is_ok(),
        "identity" => false,
        // br, zstd…: no cheap check; text that is valid UTF-8 is taken as
        // already decoded.
        _ => std::str::from_utf8(body).is_err(),
    };
    if !encoded && !body.is_empty() {
        headers.remove("content-encoding");
    }
}

/// Converts a HAR 1.2 file; `origin` names it in errors. Entries whose
/// status is 0 (the browser got no response) become error interactions.
pub fn from_har(text: &str, origin: impl AsRef<Path>) -> Result<Tape> {
    let origin = origin.as_ref();
    let text = crate::yaml::strip_bom(text);
    let root: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        super::store::located_error(
            origin,
            Some(err.line()),
            Some(err.column()),
            err.to_string(),
        )
    })?;
    let entries = root
        .pointer("/log/entries")
        .and_then(|e| e.as_array())
        .ok_or_else(|| file_error(origin, "no `log.entries` list: not a HAR file"))?;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            har_entry(entry)
                .and_then(|interaction| checked(i, interaction))
                .map_err(|err| file_error(origin, format!("log.entries[{i}]: {err}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(tape)
}

fn har_entry(entry: &serde_json::Value) -> std::result::Result<Interaction, String> {
    let request = entry.get("request").ok_or("no request")?;
    let method = request["method"].as_str().ok_or("request has no method")?;
    let url = request["url"].as_str().ok_or("request has no url")?;
    let request_body = har_body(&request["postData"])?;
    let response = entry.get("response").ok_or("no response")?;
    let status = response["status"]
        .as_u64()
        .ok_or("response has no status")?;
    let latency = entry["time"].as_f64().map(|ms| ms.max(0.0).round() as u64);
    let outcome = if status == 0 {
        Err(har_error(entry))
    } else {
        let status = u16::try_from(status).map_err(|_| format!("invalid status {status}"))?;
        Ok(Answer {
            status,
            headers: har_headers(&response["headers"]),
            body: har_body(&response["content"])?,
        })
    };
    let mut interaction = build(
        method,
        url,
        har_headers(&request["headers"]),
        request_body,
        outcome,
        har_websocket(&entry["_webSocketMessages"]),
    );
    if let Some(response) = &mut interaction.response {
        response.latency_ms = latency;
    }
    Ok(interaction)
}

/// What a failed HAR entry says: wiretape's own export writes
/// `_error: "kind: message"`; browsers write a free message.
fn har_error(entry: &serde_json::Value) -> RecordedError {
    let message = entry["_error"]
        .as_str()
        .or_else(|| entry["response"]["_error"].as_str())
        .or_else(|| entry["response"]["statusText"].as_str())
        .unwrap_or("no response")
        .to_string();
    if let Some((kind, rest)) = message.split_once(": ")
        && let Ok(kind) = kind.parse::<ErrorKind>()
    {
        return RecordedError {
            kind,
            message: rest.to_string(),
        };
    }
    let upper = message.to_ascii_uppercase();
    let kind = [
        ("CONNECTION_REFUSED", ErrorKind::ConnectionRefused),
        ("NAME_NOT_RESOLVED", ErrorKind::Dns),
        ("CONNECTION_RESET", ErrorKind::ConnectionReset),
        ("CONNECTION_CLOSED", ErrorKind::ConnectionReset),
        ("TIMED_OUT", ErrorKind::ConnectTimeout),
        ("CERT", ErrorKind::Tls),
        ("SSL", ErrorKind::Tls),
    ]
    .iter()
    .find(|(needle, _)| upper.contains(needle))
    .map(|(_, kind)| *kind)
    .unwrap_or(ErrorKind::Connect);
    RecordedError { kind, message }
}

fn har_headers(value: &serde_json::Value) -> Vec<(String, String)> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|h| Some((h["name"].as_str()?, h["value"].as_str()?)))
                // HTTP/2 pseudo-headers (`:authority`) are not headers.
                .filter(|(name, _)| !name.starts_with(':'))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn har_body(content: &serde_json::Value) -> std::result::Result<Vec<u8>, String> {
    let Some(text) = content["text"].as_str() else {
        return Ok(Vec::new());
    };
    if content["encoding"].as_str() == Some("base64") {
        let compact: String = text.split_whitespace().collect();
        return BASE64
            .decode(compact)
            .map_err(|err| format!("invalid base64 content: {err}"));
    }
    Ok(text.as_bytes().to_vec())
}

/// Chrome's `_webSocketMessages`: `{type: send|receive, time (s), opcode,
/// data}`, timed from the first message.
fn har_websocket(messages: &serde_json::Value) -> Option<Vec<WsEvent>> {
    let list = messages.as_array()?;
    let first = list.first().and_then(|m| m["time"].as_f64()).unwrap_or(0.0);
    Some(
        list.iter()
            .map(|message| {
                let kind = match message["opcode"].as_u64() {
                    Some(2) => WsFrameKind::Binary,
                    Some(8) => WsFrameKind::Close,
                    Some(9) => WsFrameKind::Ping,
                    Some(10) => WsFrameKind::Pong,
                    _ => WsFrameKind::Text,
                };
                let data = message["data"].as_str().map(str::to_string);
                let at = message["time"].as_f64().unwrap_or(first);
                let sent = message["type"].as_str() == Some("send");
                WsEvent {
                    send: sent.then_some(kind),
                    recv: (!sent).then_some(kind),
                    text: data.clone().filter(|_| kind != WsFrameKind::Binary),
                    base64: data.filter(|_| kind == WsFrameKind::Binary),
                    ..WsEvent::at(((at - first).max(0.0) * 1000.0).round() as u64)
                }
            })
            .collect(),
    )
}

/// Writes `tape` as a HAR 1.2 document (streamed bodies joined; failed
/// exchanges as status 0 with `_error: "kind: message"`, which
/// [`from_har`] reads back).
pub fn to_har(tape: &Tape) -> Result<String> {
    let entries: Vec<serde_json::Value> = tape.interactions.iter().map(har_of).collect();
    let har = json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "wiretape", "version": env!("CARGO_PKG_VERSION")},
            "entries": entries,
        }
    });
    serde_json::to_string_pretty(&har)
        .map_err(|err| crate::Error::invalid(format!("cannot write HAR: {err}")))
}

fn har_of(interaction: &Interaction) -> serde_json::Value {
    let request = &interaction.request;
    let query: Vec<serde_json::Value> = url::Url::parse(&request.uri)
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect()
        })
        .unwrap_or_default();
    let mut har_request = json!({
        "method": request.method,
        "url": request.uri,
        "httpVersion": "HTTP/1.1",
        "headers": har_header_list(&request.headers),
        "queryString": query,
        "cookies": [],
        "headersSize": -1,
        "bodySize": body_len(&request.body),
    });
    if let Some(body) = &request.body {
        har_request["postData"] = har_content(&request.headers, body);
    }
    let latency = interaction
        .response
        .as_ref()
        .and_then(|r| r.latency_ms)
        .unwrap_or(0);
    let mut entry = json!({
        "startedDateTime": interaction.recorded_at.clone().unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        "time": latency,
        "request": har_request,
        "cache": {},
        "timings": {"send": 0, "wait": latency, "receive": 0},
    });
    entry["response"] = match (&interaction.response, &interaction.error) {
        (Some(response), _) => {
            let mut content = match &response.body {
                Some(body) => har_content(&response.headers, body),
                None => json!({"mimeType": "x-unknown", "text": ""}),
            };
            content["size"] = json!(body_len(&response.body));
            json!({
                "status": response.status,
                "statusText": http::StatusCode::from_u16(response.status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""),
                "httpVersion": "HTTP/1.1",
                "headers": har_header_list(&response.headers),
                "cookies": [],
                "content": content,
                "redirectURL": response.headers.get("location").and_then(|v| v.first()).cloned().unwrap_or_default(),
                "headersSize": -1,
                "bodySize": body_len(&response.body),
            })
        }
        (None, error) => {
            if let Some(error) = error {
                entry["_error"] = json!(format!("{}: {}", error.kind, error.message));
            }
            json!({
                "status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
                "headersSize": -1, "bodySize": -1,
            })
        }
    };
    entry
}

fn har_header_list(headers: &Headers) -> Vec<serde_json::Value> {
    headers
        .0
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| json!({"name": name, "value": value}))
        })
        .collect()
}

fn body_len(body: &Option<BodyForm>) -> i64 {
    body.as_ref()
        .and_then(|b| b.to_bytes().ok())
        .map(|b| b.len() as i64)
        .unwrap_or(0)
}

fn har_content(headers: &Headers, body: &BodyForm) -> serde_json::Value {
    let mime = headers
        .get("content-type")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_else(|| "x-unknown".into());
    let bytes = body.to_bytes().unwrap_or_default();
    match std::str::from_utf8(&bytes) {
        Ok(text) => json!({"mimeType": mime, "text": text}),
        Err(_) => json!({"mimeType": mime, "text": BASE64.encode(&bytes), "encoding": "base64"}),
    }
}

/// Writes `tape` as a Ruby VCR cassette (`http_interactions:`). Failed
/// exchanges and WebSocket frames have no place in VCR's format and are
/// left out; a binary body is written as `base64_string`.
pub fn to_ruby_vcr(tape: &Tape) -> Result<String> {
    let interactions: Vec<serde_json::Value> = tape
        .interactions
        .iter()
        .filter_map(|interaction| {
            let response = interaction.response.as_ref()?;
            let body = |body: &Option<BodyForm>| vcr_body_of(body, true);
            let request = &interaction.request;
            Some(json!({
                "request": {
                    "method": request.method.to_ascii_lowercase(),
                    "uri": request.uri,
                    "body": body(&request.body),
                    "headers": vcr_headers(&request.headers),
                },
                "response": {
                    "status": {"code": response.status, "message": reason(response.status)},
                    "headers": vcr_headers(&response.headers),
                    "body": body(&response.body),
                },
                "recorded_at": interaction.recorded_at.clone().unwrap_or_default(),
            }))
        })
        .collect();
    crate::yaml::to_string(&json!({
        "http_interactions": interactions,
        "recorded_with": format!("wiretape {}", env!("CARGO_PKG_VERSION")),
    }))
}

/// Writes `tape` as a vcrpy cassette. As with [`to_ruby_vcr`], failed
/// exchanges and WebSocket frames are left out; a binary body is written as
/// `base64_string` (which [`from_vcrpy`] reads, and vcrpy does not).
pub fn to_vcrpy(tape: &Tape) -> Result<String> {
    let body = |body: &Option<BodyForm>| vcr_body_of(body, false);
    let interactions: Vec<serde_json::Value> = tape
        .interactions
        .iter()
        .filter_map(|interaction| {
            let response = interaction.response.as_ref()?;
            let request = &interaction.request;
            // vcrpy writes a request body as a plain string, or null.
            let request_body = match body(&request.body) {
                _ if request.body.is_none() => serde_json::Value::Null,
                serde_json::Value::Object(mut map) if map.contains_key("string") => {
                    map.remove("string").unwrap_or_default()
                }
                binary => binary,
            };
            Some(json!({
                "request": {
                    "body": request_body,
                    "headers": vcr_headers(&request.headers),
                    "method": request.method,
                    "uri": request.uri,
                },
                "response": {
                    "body": body(&response.body),
                    "headers": vcr_headers(&response.headers),
                    "status": {"code": response.status, "message": reason(response.status)},
                },
            }))
        })
        .collect();
    crate::yaml::to_string(&json!({ "interactions": interactions, "version": 1 }))
}

/// A body as VCR tools write it: `string`, or `base64_string` for bytes
/// that are not UTF-8; Ruby VCR also names the `encoding`.
fn vcr_body_of(body: &Option<BodyForm>, ruby: bool) -> serde_json::Value {
    let bytes = body
        .as_ref()
        .and_then(|b| b.to_bytes().ok())
        .unwrap_or_default();
    let (mut written, encoding) = match std::str::from_utf8(&bytes) {
        Ok(text) => (json!({"string": text}), "UTF-8"),
        Err(_) => (
            json!({"base64_string": BASE64.encode(&bytes)}),
            "ASCII-8BIT",
        ),
    };
    if ruby {
        written["encoding"] = json!(encoding);
    }
    written
}

fn vcr_headers(headers: &Headers) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .0
        .iter()
        .map(|(name, values)| (name.clone(), json!(values)))
        .collect();
    serde_json::Value::Object(map)
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// Applies the redaction a recording applies by default (credential
/// headers and keys, userinfo, JWTs and their echoes: see
/// [`Tape::redacted`]) to an imported tape, so that converting another
/// tool's file never copies a secret it still holds. The importers here do
/// this already; applying it again changes nothing.
pub fn redact(tape: &mut Tape) {
    *tape = tape.redacted();
}
