//! WebSocket tapes: a session's frames recorded as they pass and replayed as
//! a script that checks what the client sends.
//!
//! Why a script and not a queue: a recorded conversation is only worth
//! replaying if the answers come after the questions. A frame the server sent
//! after the client's n-th frame is held until the client has sent its n-th
//! frame; frames the server pushed on its own keep their recorded spacing
//! (through [`Timing`](super::Timing), on `tokio::time`). The client's frames
//! are checked with a [`FrameMatch`]; a frame that differs ends the session
//! with close code 1008 and a miss report with a diff.
//!
//! Both directions stay on the engine contract: recording tees the inner
//! engine's sink and stream, replay is a sink and a stream over one shared
//! script, with no task in between (so a 100,000-frame feed replays as fast
//! as the client reads it, and anything that wraps a [`WsConnection`]
//! — fault injection — wraps these too).
//!
//! [`WsConnection`]: crate::ws::WsConnection

pub(crate) mod record;
pub(crate) mod replay;

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use regex::Regex;

use super::filter::{Filters, JsonPath};
use super::format::{
    Headers, Interaction, RecordedResponse, WsEvent, WsFrameKind, decode_base64, exact_json,
    text_form,
};
use super::record::{filtered_request, recorded_error};
use super::{Abandoned, Outcome, Shared, Slot};
use crate::engine::Engine;
use crate::ws::{CloseFrame, Frame, WsConnection};
use crate::{Error, Request, Result};

type CustomFrameFn = dyn Fn(&Frame, &Frame) -> bool + Send + Sync;

/// How a frame the client sends during replay is compared with the one it
/// sent when the session was recorded.
///
/// Every rule first asks for the same kind of frame (text, binary, ping,
/// pong, close) and, for a close, the same code; the rule then compares the
/// payloads of data frames. [`FrameMatch::any`] accepts any frame. The
/// default is [`FrameMatch::exact`].
///
/// ```
/// use wiretape::cassette::FrameMatch;
/// use wiretape::ws::Frame;
///
/// let rule = FrameMatch::json_ignoring(["$.request_id"]);
/// let recorded = Frame::text(r#"{"op":"subscribe","request_id":1}"#);
/// assert!(rule.matches(&Frame::text(r#"{"request_id":2, "op":"subscribe"}"#), &recorded));
/// assert!(!rule.matches(&Frame::text(r#"{"op":"unsubscribe","request_id":1}"#), &recorded));
/// ```
#[derive(Clone)]
pub struct FrameMatch {
    rule: Rule,
    name: String,
    problem: Option<String>,
}

#[derive(Clone)]
enum Rule {
    Exact,
    Json(Arc<[JsonPath]>),
    Regex(Regex),
    Any,
    Custom(Arc<CustomFrameFn>),
}

impl FrameMatch {
    /// The same bytes.
    pub fn exact() -> FrameMatch {
        FrameMatch::new(Rule::Exact, "exact")
    }

    /// The same JSON document (key order and spacing aside); payloads that
    /// are not JSON compare as bytes.
    pub fn json() -> FrameMatch {
        FrameMatch::new(Rule::Json(Arc::from(Vec::new())), "json")
    }

    /// The same JSON document once the values at `paths` (`$.id`,
    /// `$.items[*].ts`) are left out of both: for ids and timestamps that
    /// change on every run. An invalid path makes the cassette's `build`
    /// fail, naming it.
    pub fn json_ignoring<'a>(paths: impl IntoIterator<Item = &'a str>) -> FrameMatch {
        let mut parsed = Vec::new();
        let mut names = Vec::new();
        let mut problem = None;
        for path in paths {
            names.push(path.to_string());
            match JsonPath::parse(path) {
                Ok(path) => parsed.push(path),
                Err(err) => problem = Some(format!("frame matcher: {err}")),
            }
        }
        let mut rule = FrameMatch::new(
            Rule::Json(Arc::from(parsed)),
            format!("json ignoring {}", names.join(", ")),
        );
        rule.problem = problem;
        rule
    }

    /// A live text or binary payload matching `pattern` (the recorded
    /// payload is not looked at). An invalid pattern makes the cassette's
    /// `build` fail, naming it.
    pub fn regex(pattern: &str) -> FrameMatch {
        match Regex::new(pattern) {
            Ok(regex) => FrameMatch::new(Rule::Regex(regex), format!("regex {pattern}")),
            Err(err) => {
                let mut rule = FrameMatch::any();
                rule.problem = Some(format!("frame matcher regex {pattern:?}: {err}"));
                rule
            }
        }
    }

    /// Any frame at all, whatever its kind.
    pub fn any() -> FrameMatch {
        FrameMatch::new(Rule::Any, "any")
    }

    /// A closure of the live and the recorded data frame, named in reports.
    pub fn custom<F>(name: impl Into<String>, matches: F) -> FrameMatch
    where
        F: Fn(&Frame, &Frame) -> bool + Send + Sync + 'static,
    {
        FrameMatch::new(Rule::Custom(Arc::new(matches)), name)
    }

    fn new(rule: Rule, name: impl Into<String>) -> FrameMatch {
        FrameMatch {
            rule,
            name: name.into(),
            problem: None,
        }
    }

    /// The rule's name, as miss reports show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is wrong with the rule (an invalid path or pattern), if anything.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Whether the `live` frame answers for the `recorded` one.
    pub fn matches(&self, live: &Frame, recorded: &Frame) -> bool {
        if let Rule::Any = self.rule {
            return true;
        }
        let (live_data, recorded_data) = match (live, recorded) {
            (Frame::Text(a), Frame::Text(b)) => (a.as_bytes(), b.as_bytes()),
            (Frame::Binary(a), Frame::Binary(b)) => (&a[..], &b[..]),
            (Frame::Ping(_), Frame::Ping(_)) | (Frame::Pong(_), Frame::Pong(_)) => return true,
            (Frame::Close(a), Frame::Close(b)) => return a.code == b.code,
            _ => return false,
        };
        match &self.rule {
            Rule::Exact => live_data == recorded_data,
            Rule::Json(ignored) => match (
                json_without(live_data, ignored),
                json_without(recorded_data, ignored),
            ) {
                (Some(a), Some(b)) => a == b,
                _ => live_data == recorded_data,
            },
            Rule::Regex(regex) => std::str::from_utf8(live_data).is_ok_and(|t| regex.is_match(t)),
            Rule::Any => true,
            Rule::Custom(matches) => matches(live, recorded),
        }
    }
}

impl Default for FrameMatch {
    fn default() -> Self {
        FrameMatch::exact()
    }
}

impl fmt::Debug for FrameMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FrameMatch({})", self.name)
    }
}

fn json_without(data: &[u8], ignored: &[JsonPath]) -> Option<serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_slice(data).ok()?;
    for path in ignored {
        path.replace(&mut value, &serde_json::Value::Null);
    }
    Some(value)
}

/// A frame as a cassette event, its payload after `filters` (so no secret in
/// a frame reaches disk).
pub(crate) fn event_of(at_ms: u64, sent: bool, frame: &Frame, filters: &Filters) -> WsEvent {
    let mut event = WsEvent::at(at_ms);
    let kind = match frame {
        Frame::Text(text) => {
            let filtered = filters.body(text.as_bytes());
            let bytes = filtered.as_deref().unwrap_or(text.as_bytes());
            if let Some(json) = exact_json(bytes) {
                event.json = Some(json);
            } else if let Some(text) = text_form(bytes) {
                event.text = Some(text);
            } else {
                event.base64 = Some(BASE64.encode(bytes));
            }
            WsFrameKind::Text
        }
        Frame::Binary(bytes) => {
            let filtered = filters.body(bytes);
            event.base64 = Some(BASE64.encode(filtered.as_deref().unwrap_or(bytes)));
            WsFrameKind::Binary
        }
        Frame::Ping(bytes) | Frame::Pong(bytes) => {
            if !bytes.is_empty() {
                event.base64 = Some(BASE64.encode(bytes));
            }
            if matches!(frame, Frame::Ping(_)) {
                WsFrameKind::Ping
            } else {
                WsFrameKind::Pong
            }
        }
        Frame::Close(close) => {
            event.code = Some(close.code);
            event.reason = Some(close.reason.clone());
            WsFrameKind::Close
        }
    };
    if sent {
        event.send = Some(kind);
    } else {
        event.recv = Some(kind);
    }
    event
}

/// The live frame as recording would keep it: its payload after `filters`,
/// so that it compares with the recorded (filtered) frame.
pub(crate) fn filtered(frame: Frame, filters: &Filters) -> Frame {
    match frame {
        Frame::Text(text) => match filters.body(text.as_bytes()).map(String::from_utf8) {
            Some(Ok(text)) => Frame::Text(text),
            _ => Frame::Text(text),
        },
        Frame::Binary(bytes) => match filters.body(&bytes) {
            Some(filtered) => Frame::Binary(Bytes::from(filtered)),
            None => Frame::Binary(bytes),
        },
        other => other,
    }
}

/// The frame of an event (`None` for an `end` or `error` event), placeholders
/// restored; the error says what does not decode.
pub(crate) fn frame_of(event: &WsEvent, filters: &Filters) -> Result<Option<Frame>, String> {
    let Some(kind) = event.send.or(event.recv) else {
        return Ok(None);
    };
    let payload = || -> Result<Bytes, String> {
        if let Some(json) = &event.json {
            return json.to_bytes();
        }
        if let Some(text) = &event.text {
            return Ok(Bytes::from(text.clone()));
        }
        match &event.base64 {
            Some(encoded) => decode_base64(encoded),
            None => Ok(Bytes::new()),
        }
    };
    let restore = |text: String| {
        let mut text = text;
        if filters.restores() {
            filters.restore(&mut text);
        }
        text
    };
    Ok(Some(match kind {
        WsFrameKind::Text => {
            let bytes = payload()?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| "a text frame's payload is not UTF-8".to_string())?;
            Frame::Text(restore(text))
        }
        WsFrameKind::Binary => Frame::Binary(payload()?),
        WsFrameKind::Ping => Frame::Ping(payload()?),
        WsFrameKind::Pong => Frame::Pong(payload()?),
        WsFrameKind::Close => Frame::Close(CloseFrame::new(
            event.code.unwrap_or(CloseFrame::NO_STATUS),
            restore(event.reason.clone().unwrap_or_default()),
        )),
    }))
}

/// Checks a recorded session when the cassette is opened: each event is one
/// thing and decodes. The error names the event.
pub(crate) fn check(events: &[WsEvent]) -> Result<(), String> {
    for (i, event) in events.iter().enumerate() {
        let set = [
            event.send.is_some(),
            event.recv.is_some(),
            event.end.is_some(),
            event.error.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if set != 1 {
            return Err(format!(
                "websocket event {i} (at_ms {}) must have exactly one of `send`, `recv`, `end` or `error`",
                event.at_ms
            ));
        }
        let payloads = [
            event.json.is_some(),
            event.text.is_some(),
            event.base64.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if payloads > 1 {
            return Err(format!(
                "websocket event {i} (at_ms {}) has more than one of `json`, `text` and `base64`",
                event.at_ms
            ));
        }
        frame_of(event, &Filters::default())
            .map_err(|err| format!("websocket event {i} (at_ms {}): {err}", event.at_ms))?;
    }
    Ok(())
}

/// A frame as miss reports show it: its kind, then its payload (JSON
/// pretty-printed, one value a line, so that a diff points at the value).
pub(crate) fn render(frame: Option<&Frame>) -> String {
    let Some(frame) = frame else {
        return "(no frame)\n".into();
    };
    let data = |kind: &str, bytes: &[u8]| {
        let pretty = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|json| serde_json::to_string_pretty(&json).ok());
        if let Some(pretty) = pretty {
            return format!("{kind}\n{pretty}\n");
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => format!("{kind}\n{text}\n"),
            Err(_) => format!("{kind}\nbase64 {}\n", BASE64.encode(bytes)),
        }
    };
    match frame {
        Frame::Text(text) => data("text", text.as_bytes()),
        Frame::Binary(bytes) => data("binary", bytes),
        Frame::Ping(bytes) => data("ping", bytes),
        Frame::Pong(bytes) => data("pong", bytes),
        Frame::Close(close) => format!("close {}\n{}\n", close.code, close.reason),
    }
}

/// A WebSocket handshake through the cassette: replayed from the tape when a
/// recorded session matches it (as HTTP requests match), else (as the mode
/// allows) performed by the inner engine and recorded as it goes.
pub(super) async fn open<E: Engine>(
    inner: &E,
    shared: &Arc<Shared>,
    request: Request,
) -> Result<WsConnection> {
    // The handshake's credentials are hidden in its frames too (an echoed
    // token), and replay restores them from the replaying handshake.
    let (filters, live) = filtered_request(&request, &Bytes::new(), &shared.filters);
    let name = request.to_string();
    if shared.replaying {
        let found = shared
            .lookup(&live, |i, interaction, answer| {
                replayed(shared, i, interaction, answer, &request, &name, &filters)
            })
            .map(|found| found.and_then(|opened| opened));
        match found {
            Some(Ok((delay, connection))) => {
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                return connection;
            }
            Some(Err(miss)) => return Err(miss),
            None => {}
        }
    }
    let recorded_request = live.to_recorded();
    let slot = shared.begin(recorded_request.clone());
    let mut abandoned = Abandoned {
        shared: shared.clone(),
        slot,
        armed: true,
    };
    let started = tokio::time::Instant::now();
    let outcome = inner.websocket(request).await;
    abandoned.armed = false;
    drop(abandoned);
    match outcome {
        Err(error) => {
            let outcome = match error.status_response() {
                Some(refusal) => Outcome::Response(super::record::record_buffered(
                    refusal,
                    started,
                    filters.clone(),
                    shared.options.clone(),
                )),
                None => Outcome::Error(recorded_error(&error, &filters)),
            };
            shared.complete(slot, outcome);
            Err(error)
        }
        Ok(connection) => {
            let mut headers = Headers::from_map(connection.response().headers());
            filters.headers(&mut headers);
            let response = RecordedResponse {
                status: connection.response().status().as_u16(),
                headers,
                body: None,
                latency_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
            };
            let recorded_at = shared.timestamps.then(super::record::timestamp);
            let (connection, log) = record::tee(
                connection,
                recorded_request,
                response,
                recorded_at,
                filters.clone(),
            );
            let mut state = shared.state();
            if let Some(entry) = state.recorded.get_mut(slot) {
                *entry = Slot::Socket(log);
            }
            state.dirty = true;
            Ok(connection)
        }
    }
}

type Opened = (Option<std::time::Duration>, Result<WsConnection>);

/// The recorded session `i` as a connection, and how long its handshake took.
fn replayed(
    shared: &Arc<Shared>,
    i: usize,
    interaction: &Interaction,
    answer: Option<&super::replay::Answer>,
    request: &Request,
    name: &str,
    filters: &Arc<Filters>,
) -> Result<Opened> {
    let head = super::replay::replay(
        interaction,
        answer,
        request.target(),
        &name,
        shared.timing,
        filters,
    );
    let response = match head.outcome {
        Ok(response) => response,
        Err(error) => return Ok((head.delay, Err(error))),
    };
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Ok((head.delay, Err(Error::refused_upgrade(name, response))));
    }
    let setting = replay::Setting {
        cassette: shared.path.clone(),
        mode: shared.mode.to_string(),
        interaction: i,
        recorded_request: format!("{} {}", interaction.request.method, interaction.request.uri),
        name: name.to_string(),
        matcher: shared.frames.clone(),
        timing: shared.timing,
        filters: filters.clone(),
        ledger: shared.sockets.clone(),
    };
    let events = interaction.websocket.as_deref().unwrap_or_default();
    Ok((head.delay, replay::connection(response, events, setting)))
}
