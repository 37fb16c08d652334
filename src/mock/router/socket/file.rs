//! WebSocket routes in YAML route files: the [`Socket`] vocabulary as data.
//!
//! ```yaml
//! routes:
//!   - request: {path: /chat}
//!     times: 1
//!     websocket:
//!       subprotocol: chat.v1
//!       on_open: [{text: welcome}]
//!       messages:
//!         - when: {text: ping}                  # or regex, json_includes, any: true
//!           reply: [{text: pong}]               # frames: text, json, base64, close
//!         - when: {json_includes: {op: login}}
//!           reply: [{json: {ok: true}}]
//!           set_state: authed
//!         - when: {text: bye, state: authed}
//!           reply: [{close: {code: 1000, reason: bye}}]
//!       push: [{every_ms: 1000, text: tick}]    # or after_ms
//!       echo: true
//!       expect_messages: [{text: ping}]
//!   - request: {path: /private}
//!     websocket: {refuse: 403}
//! ```

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::{Message, Reply, Socket};
use crate::ws::Frame;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SocketSpec {
    refuse: Option<u16>,
    subprotocol: Option<String>,
    #[serde(default)]
    on_open: Vec<FrameSpec>,
    #[serde(default)]
    messages: Vec<RuleSpec>,
    #[serde(default)]
    push: Vec<PushSpec>,
    #[serde(default)]
    echo: bool,
    #[serde(default)]
    expect_messages: Vec<WhenSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    when: WhenSpec,
    #[serde(default)]
    reply: Vec<FrameSpec>,
    set_state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhenSpec {
    text: Option<String>,
    regex: Option<String>,
    json_includes: Option<serde_json::Value>,
    #[serde(default)]
    any: bool,
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameSpec {
    text: Option<String>,
    json: Option<serde_json::Value>,
    base64: Option<String>,
    close: Option<CloseSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseSpec {
    #[serde(default = "normal")]
    code: u16,
    #[serde(default)]
    reason: String,
}

fn normal() -> u16 {
    crate::ws::CloseFrame::NORMAL
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushSpec {
    after_ms: Option<u64>,
    every_ms: Option<u64>,
    #[serde(flatten)]
    frame: FrameSpec,
}

impl SocketSpec {
    /// The socket; the error says which part is wrong.
    pub(crate) fn socket(self) -> Result<Socket, String> {
        let mut socket = match self.refuse {
            Some(status) => Socket::refuse(status),
            None => Socket::new(),
        };
        if let Some(protocol) = self.subprotocol {
            socket = socket.subprotocol(protocol);
        }
        for (i, frame) in self.on_open.into_iter().enumerate() {
            socket = socket.on_open(
                frame
                    .frame()
                    .map_err(|e| format!("on_open {}: {e}", i + 1))?,
            );
        }
        for (i, rule) in self.messages.into_iter().enumerate() {
            let at = |e: String| format!("messages {}: {e}", i + 1);
            let when = rule.when.message().map_err(at)?;
            let frames = rule
                .reply
                .into_iter()
                .map(FrameSpec::frame)
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?;
            let mut reply: Reply = super::replies(frames);
            if let Some(state) = rule.set_state {
                reply = reply.set_state(state);
            }
            socket = socket.on_message(when, reply);
        }
        for (i, push) in self.push.into_iter().enumerate() {
            let frame = push
                .frame
                .frame()
                .map_err(|e| format!("push {}: {e}", i + 1))?;
            socket = match (push.after_ms, push.every_ms) {
                (None, Some(every)) => socket.push_every(Duration::from_millis(every), frame),
                (Some(after), None) => socket.push_after(Duration::from_millis(after), frame),
                _ => return Err(format!("push {}: give one of after_ms or every_ms", i + 1)),
            };
        }
        if self.echo {
            socket = socket.echo();
        }
        for (i, when) in self.expect_messages.into_iter().enumerate() {
            socket = socket.expect_message(
                when.message()
                    .map_err(|e| format!("expect_messages {}: {e}", i + 1))?,
            );
        }
        Ok(socket)
    }
}

impl WhenSpec {
    fn message(self) -> Result<Message, String> {
        let message = match (self.text, self.regex, self.json_includes, self.any) {
            (Some(text), None, None, false) => super::text_equals(text),
            (None, Some(regex), None, false) => {
                let message = super::text_matches(&regex);
                if let Some(problem) = &message.problem {
                    return Err(problem.clone());
                }
                message
            }
            (None, None, Some(json), false) => super::json_includes(&json),
            (None, None, None, true) => super::any_message(),
            _ => {
                return Err(
                    "`when` needs exactly one of text, regex, json_includes or any: true".into(),
                );
            }
        };
        Ok(match self.state {
            Some(state) => message.in_state(state),
            None => message,
        })
    }
}

impl FrameSpec {
    fn frame(self) -> Result<Frame, String> {
        Ok(match (self.text, self.json, self.base64, self.close) {
            (Some(text), None, None, None) => Frame::Text(text),
            (None, Some(json), None, None) => Frame::Text(json.to_string()),
            (None, None, Some(data), None) => Frame::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(data.split_whitespace().collect::<String>())
                    .map_err(|err| format!("invalid base64: {err}"))?
                    .into(),
            ),
            (None, None, None, Some(close)) => Frame::close(close.code, close.reason),
            _ => return Err("a frame needs exactly one of text, json, base64 or close".into()),
        })
    }
}
