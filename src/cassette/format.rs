//! Cassette format version 1: the types of the YAML file, and how a body's
//! bytes become the most readable form that gives them back exactly.
//!
//! ```yaml
//! version: 1
//! interactions:
//!   - request:
//!       method: POST
//!       uri: https://api.example.com/v1/users?page=2
//!       headers:
//!         content-type: [application/json]
//!       body:
//!         json: {name: Ada}
//!     response:
//!       status: 201
//!       headers:
//!         content-type: [application/json]
//!       body:
//!         json: {id: 7, name: Ada}
//!       latency_ms: 41
//!   - request: {method: GET, uri: wss://api.example.com/v1/chat, headers: {}}
//!     response: {status: 101, headers: {upgrade: [websocket]}}
//!     websocket:
//!       - {at_ms: 0, send: text, json: {subscribe: prices}}
//!       - {at_ms: 3, recv: text, text: "subscribed"}
//!       - {at_ms: 5, recv: binary, base64: "AAEC"}
//!       - {at_ms: 7, send: ping, base64: "cGluZw=="}
//!       - {at_ms: 7, recv: pong, base64: "cGluZw=="}
//!       - {at_ms: 9, send: close, code: 1000, reason: done}
//!       - {at_ms: 10, recv: close, code: 1000, reason: done}
//!   - request: {method: GET, uri: https://api.example.com/v1/flaky, headers: {}}
//!     error: {kind: connection_reset, message: "connection reset by peer"}
//! ```
//!
//! ## WebSocket sessions
//!
//! An interaction whose response is `101` carries `websocket`: the frames in
//! both directions in the order they passed, each with `at_ms` (milliseconds
//! since the handshake) and `send` (the client sent it) or `recv` (the client
//! received it), then the kind: `text`, `binary`, `ping`, `pong` or `close`.
//! A text payload is written as `json` (a YAML tree, when re-encoding it gives
//! back the exact text), else as `text`; binary, ping and pong payloads as
//! `base64`; a close frame as `code` and `reason`. The side that closed first
//! is the direction of the first close event. A session that did not end
//! with close frames ends with `{at_ms, end: dropped}` (the server vanished:
//! the client saw 1006), `{at_ms, error: {kind, message}}` (a reset or another
//! failure mid-session) or `{at_ms, end: cut_off}` (still open when the
//! recording stopped). A refused handshake (401, 403, 404 …) is an interaction
//! whose `response` is the refusal (status, headers, body) and that has no
//! `websocket` events; it replays as the same [`Error::Status`](crate::Error::Status)
//! the client saw. These fields are additions to version 1: older files read
//! unchanged.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ErrorKind;

/// The cassette format version this wiretape reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A whole cassette file: a format version and the recorded interactions, in
/// the order they happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tape {
    /// Always [`FORMAT_VERSION`]; another version is refused when read.
    #[serde(deserialize_with = "version_one")]
    pub version: u32,
    /// The interactions, in recorded order.
    #[serde(default)]
    pub interactions: Vec<Interaction>,
}

impl Default for Tape {
    fn default() -> Self {
        Tape {
            version: FORMAT_VERSION,
            interactions: Vec::new(),
        }
    }
}

fn version_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let version = u32::deserialize(deserializer)?;
    if version != FORMAT_VERSION {
        return Err(de::Error::custom(format!(
            "unsupported cassette version {version}: this wiretape reads version {FORMAT_VERSION}; \
             re-record the cassette or use the wiretape that wrote it"
        )));
    }
    Ok(version)
}

/// One engine-level exchange: a request and what came back, a response or an
/// error (and, for WebSockets, the frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    /// The request as sent (after filters).
    pub request: RecordedRequest,
    /// The response, unless the exchange failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
    /// The failure, when the exchange failed before a response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordedError>,
    /// WebSocket frames after a `101` response, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<Vec<WsEvent>>,
    /// When it was recorded (RFC 3339), if the recorder was asked to keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRequest {
    /// The method, upper case.
    pub method: String,
    /// The absolute URI.
    pub uri: String,
    /// The headers, names lower case, repeated values kept in order.
    #[serde(default)]
    pub headers: Headers,
    /// The body; absent when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyForm>,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lower case, repeated values kept in order.
    #[serde(default)]
    pub headers: Headers,
    /// The body; absent when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyForm>,
    /// How long the response head took to arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// A recorded failure: its kind (as [`ErrorKind::as_str`] names it) and the
/// message of the layer that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedError {
    /// What kind of failure, for example `connection_reset`.
    #[serde(
        serialize_with = "serialize_kind",
        deserialize_with = "deserialize_kind"
    )]
    pub kind: ErrorKind,
    /// What the failing layer said.
    #[serde(default)]
    pub message: String,
}

fn serialize_kind<S: Serializer>(kind: &ErrorKind, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(kind.as_str())
}

fn deserialize_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ErrorKind, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse()
        .map_err(|err: crate::Error| de::Error::custom(err.message()))
}

/// A body, in the most readable form that gives back the recorded bytes.
///
/// Written as a mapping with one key: `json`, `text`, `base64` or `chunks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BodyRepr", into = "BodyRepr")]
pub enum BodyForm {
    /// A JSON object or array, as a YAML tree; re-encoding it compactly gives
    /// back the recorded bytes.
    Json(JsonTree),
    /// UTF-8 text.
    Text(String),
    /// Any bytes, base64-encoded.
    Base64(String),
    /// A streamed body: its chunks, boundaries and timing as received.
    Chunks(Vec<Chunk>),
}

/// How a body is written: one of the keys.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BodyRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    json: Option<JsonTree>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chunks: Option<Vec<Chunk>>,
}

impl TryFrom<BodyRepr> for BodyForm {
    type Error = String;

    fn try_from(repr: BodyRepr) -> Result<BodyForm, String> {
        match repr {
            BodyRepr {
                json: Some(json),
                text: None,
                base64: None,
                chunks: None,
            } => Ok(BodyForm::Json(json)),
            BodyRepr {
                json: None,
                text: Some(text),
                base64: None,
                chunks: None,
            } => Ok(BodyForm::Text(text)),
            BodyRepr {
                json: None,
                text: None,
                base64: Some(data),
                chunks: None,
            } => Ok(BodyForm::Base64(data)),
            BodyRepr {
                json: None,
                text: None,
                base64: None,
                chunks: Some(chunks),
            } => Ok(BodyForm::Chunks(chunks)),
            _ => Err("a body has exactly one of `json`, `text`, `base64` or `chunks`".into()),
        }
    }
}

impl From<BodyForm> for BodyRepr {
    fn from(form: BodyForm) -> BodyRepr {
        match form {
            BodyForm::Json(json) => BodyRepr {
                json: Some(json),
                ..Default::default()
            },
            BodyForm::Text(text) => BodyRepr {
                text: Some(text),
                ..Default::default()
            },
            BodyForm::Base64(data) => BodyRepr {
                base64: Some(data),
                ..Default::default()
            },
            BodyForm::Chunks(chunks) => BodyRepr {
                chunks: Some(chunks),
                ..Default::default()
            },
        }
    }
}

/// A JSON body as a tree that keeps the recorded key order, written in the
/// cassette as YAML (`json: {id: 7, name: Ada}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonTree(crate::yaml::Value);

impl JsonTree {
    /// The tree of a JSON document; `None` when `bytes` are not JSON.
    pub fn parse(bytes: &[u8]) -> Option<JsonTree> {
        serde_json::from_slice(bytes).ok().map(JsonTree)
    }

    /// The compact JSON encoding, keys in their recorded order.
    pub fn to_bytes(&self) -> Result<Bytes, String> {
        serde_json::to_vec(&self.0)
            .map(Bytes::from)
            .map_err(|err| format!("cannot encode json body: {err}"))
    }

    /// The tree as a `serde_json` value (whose maps may order keys their own
    /// way).
    pub fn to_value(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.to_bytes()?).map_err(|err| err.to_string())
    }
}

/// One chunk of a streamed body: `{at_ms: 5, text: "data: 1"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ChunkRepr", into = "ChunkRepr")]
pub struct Chunk {
    /// Milliseconds after the response head arrived.
    pub at_ms: u64,
    /// The chunk's bytes, or the failure that ended the body.
    pub data: ChunkData,
}

/// What a chunk carries.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkData {
    /// UTF-8 text.
    Text(String),
    /// Any bytes, base64-encoded.
    Base64(String),
    /// The body broke off here with this failure.
    Error(RecordedError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkRepr {
    at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<RecordedError>,
}

impl TryFrom<ChunkRepr> for Chunk {
    type Error = String;

    fn try_from(repr: ChunkRepr) -> Result<Chunk, String> {
        let data = match (repr.text, repr.base64, repr.error) {
            (Some(text), None, None) => ChunkData::Text(text),
            (None, Some(data), None) => ChunkData::Base64(data),
            (None, None, Some(error)) => ChunkData::Error(error),
            _ => return Err("a chunk has exactly one of `text`, `base64` or `error`".into()),
        };
        Ok(Chunk {
            at_ms: repr.at_ms,
            data,
        })
    }
}

impl From<Chunk> for ChunkRepr {
    fn from(chunk: Chunk) -> ChunkRepr {
        let (text, base64, error) = match chunk.data {
            ChunkData::Text(text) => (Some(text), None, None),
            ChunkData::Base64(data) => (None, Some(data), None),
            ChunkData::Error(error) => (None, None, Some(error)),
        };
        ChunkRepr {
            at_ms: chunk.at_ms,
            text,
            base64,
            error,
        }
    }
}

/// One WebSocket event: a frame the client sent (`send`) or received
/// (`recv`), or how the session ended (`end`, `error`), with its time since
/// the handshake. Exactly one of `send`, `recv`, `end` and `error` is set.
///
/// A text payload is a `json` tree when re-encoding it gives back the exact
/// text, else `text` (or `base64` of its UTF-8 bytes when YAML cannot keep
/// it); a binary, ping or pong payload is `base64`; a close frame has a
/// `code` and a `reason`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsEvent {
    /// Milliseconds after the handshake.
    pub at_ms: u64,
    /// The kind of a frame the client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<WsFrameKind>,
    /// The kind of a frame the client received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv: Option<WsFrameKind>,
    /// A text payload that is a JSON object or array, as a YAML tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonTree>,
    /// A text payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A binary payload, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// A close code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// A close reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The session ended here without a close handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<WsEnd>,
    /// The session failed here with this error (a reset mid-session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordedError>,
}

impl WsEvent {
    /// An event at `at_ms` with nothing else set.
    pub fn at(at_ms: u64) -> WsEvent {
        WsEvent {
            at_ms,
            send: None,
            recv: None,
            json: None,
            text: None,
            base64: None,
            code: None,
            reason: None,
            end: None,
            error: None,
        }
    }
}

/// How a WebSocket session ended when it did not end with close frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WsEnd {
    /// The server vanished without a close frame (the client saw 1006).
    Dropped,
    /// The recording stopped while the session was still open (the client
    /// dropped the socket, or `finish()` came first). Replay stops the script
    /// here and keeps the connection open.
    CutOff,
}

/// The kind of a WebSocket frame in a cassette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WsFrameKind {
    /// A text frame.
    Text,
    /// A binary frame.
    Binary,
    /// A ping.
    Ping,
    /// A pong.
    Pong,
    /// A close frame.
    Close,
}

/// Headers as a cassette stores them: names (lower case) in first-seen order,
/// each with its values in order. Written as a YAML mapping of lists; a
/// single string is accepted for one value when read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<(String, Vec<String>)>);

impl Headers {
    /// The headers of a [`HeaderMap`]. A value that is not UTF-8 is kept with
    /// its invalid bytes replaced by U+FFFD.
    pub fn from_map(map: &HeaderMap) -> Headers {
        let mut out: Vec<(String, Vec<String>)> = Vec::with_capacity(map.keys_len());
        // A map yields each name's values one after another, so one walk
        // groups them, with no lookup per name (every recorded and replayed
        // request comes through here).
        for (name, value) in map {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match out.last_mut() {
                Some((last, values)) if last == name.as_str() => values.push(value),
                _ => out.push((name.as_str().to_owned(), vec![value])),
            }
        }
        Headers(out)
    }

    /// The headers as a [`HeaderMap`]; the error names the invalid header.
    pub fn to_map(&self) -> Result<HeaderMap, String> {
        let mut map = HeaderMap::with_capacity(self.0.len());
        for (name, values) in &self.0 {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            for value in values {
                let value = HeaderValue::from_str(value)
                    .map_err(|_| format!("invalid value {value:?} for header {name}"))?;
                map.append(header.clone(), value);
            }
        }
        Ok(map)
    }

    /// The values of `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Removes `name` (case-insensitively), returning whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.0.len() != before
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, values) in &self.0 {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;

        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }

        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of header names to lists of values")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Headers, A::Error> {
                let mut out: Vec<(String, Vec<String>)> = Vec::new();
                while let Some((name, values)) = access.next_entry::<String, OneOrMany>()? {
                    let values = match values {
                        OneOrMany::One(value) => vec![value],
                        OneOrMany::Many(values) => values,
                    };
                    let name = name.to_ascii_lowercase();
                    match out.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, existing)) => existing.extend(values),
                        None => out.push((name, values)),
                    }
                }
                Ok(Headers(out))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Headers, A::Error> {
                Err(de::Error::custom(
                    "headers must be a mapping like `content-type: [text/plain]`, not a list",
                ))
            }
        }

        deserializer.deserialize_any(HeadersVisitor)
    }
}

impl BodyForm {
    /// The most readable form of `bytes`: `json` for an object or array that
    /// re-encodes to the same bytes, `text` for UTF-8, else `base64`. `None`
    /// for an empty body.
    pub fn from_bytes(bytes: &[u8]) -> Option<BodyForm> {
        if bytes.is_empty() {
            return None;
        }
        if let Some(json) = exact_json(bytes) {
            return Some(BodyForm::Json(json));
        }
        Some(match text_form(bytes) {
            Some(text) => BodyForm::Text(text),
            None => BodyForm::Base64(BASE64.encode(bytes)),
        })
    }

    /// The body's bytes (a streamed body's chunks joined, up to an error
    /// chunk); the error says what could not be decoded.
    pub fn to_bytes(&self) -> Result<Bytes, String> {
        match self {
            BodyForm::Json(tree) => tree.to_bytes(),
            BodyForm::Text(text) => Ok(Bytes::from(text.clone())),
            BodyForm::Base64(encoded) => decode_base64(encoded),
            BodyForm::Chunks(chunks) => {
                let mut out = Vec::new();
                for chunk in chunks {
                    match chunk.data.to_bytes()? {
                        Some(bytes) => out.extend_from_slice(&bytes),
                        None => break,
                    }
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

impl ChunkData {
    /// `text` for UTF-8 that a YAML string keeps exactly, else `base64`.
    pub fn from_bytes(bytes: &[u8]) -> ChunkData {
        match text_form(bytes) {
            Some(text) => ChunkData::Text(text),
            None => ChunkData::Base64(BASE64.encode(bytes)),
        }
    }

    /// The chunk's bytes, or `None` for an error chunk.
    pub fn to_bytes(&self) -> Result<Option<Bytes>, String> {
        match self {
            ChunkData::Text(text) => Ok(Some(Bytes::from(text.clone()))),
            ChunkData::Base64(encoded) => decode_base64(encoded).map(Some),
            ChunkData::Error(_) => Ok(None),
        }
    }
}

pub(crate) fn decode_base64(encoded: &str) -> Result<Bytes, String> {
    // Long base64 values may be folded over lines by hand or by other tools.
    let compact: String = encoded.split_whitespace().collect();
    BASE64
        .decode(compact)
        .map(Bytes::from)
        .map_err(|err| format!("invalid base64 body: {err}"))
}

/// The JSON tree of `bytes` when it is an object or array whose compact
/// encoding is exactly `bytes`, and which a YAML tree keeps exactly.
pub(crate) fn exact_json(bytes: &[u8]) -> Option<JsonTree> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' && *first != b'[' {
        return None;
    }
    let tree = JsonTree(serde_json::from_slice(bytes).ok()?);
    if tree.to_bytes().ok()? != bytes {
        return None;
    }
    // Guard against anything YAML would read back differently.
    let yaml = crate::yaml::to_string(&tree.0).ok()?;
    let back: crate::yaml::Value = crate::yaml::parse(&yaml).ok()?;
    (back == tree.0).then_some(tree)
}

/// The text of `bytes` when they are UTF-8 and a YAML string keeps them
/// exactly (checked by writing and reading the string back, so no emitter or
/// reader quirk can change a byte).
pub(crate) fn text_form(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let yaml = crate::yaml::to_string(text).ok()?;
    let back: String = crate::yaml::parse(&yaml).ok()?;
    (back == text).then(|| text.to_string())
}
