//! WebSocket routes: what a [`Router`](super::Router) does with a handshake
//! that a route answers with a [`Socket`] — the conversation, scripted.
//!
//! Why a script of rules rather than a closure: the same vocabulary as HTTP
//! routes (match, answer, expect) reads as a sentence, serves from YAML route
//! files, and can be verified. A closure is still there for what rules
//! cannot say ([`reply_with`]).
//!
//! ```
//! use std::time::Duration;
//! use wiretape::mock::{Router, Route, matchers::path};
//! use wiretape::mock::socket::{Socket, close, json_includes, reply, text_equals};
//! use wiretape::ws::Frame;
//! use wiretape::Client;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let router = Router::new();
//! router.mock(
//!     Route::given(path("/chat")).websocket(
//!         Socket::new()
//!             .on_open(Frame::text("welcome"))
//!             .on_message(text_equals("ping"), reply(Frame::text("pong")))
//!             .on_message(json_includes(&serde_json::json!({"op": "quit"})), close(1000, "bye"))
//!             .push_every(Duration::from_secs(30), Frame::text("tick")),
//!     ),
//! );
//! let client = Client::builder().engine(router.clone()).build()?;
//! let mut socket = client.websocket("ws://chat.test/chat").await?;
//! assert_eq!(socket.recv_text().await?.as_deref(), Some("welcome"));
//! socket.send_text("ping").await?;
//! assert_eq!(socket.recv_text().await?.as_deref(), Some("pong"));
//! socket.send_text(r#"{"op":"quit"}"#).await?;
//! assert_eq!(socket.recv().await?, Some(Frame::close(1000, "bye")));
//! # Ok::<(), wiretape::Error>(())
//! # }).unwrap();
//! ```

pub(crate) mod file;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use regex::Regex;
use serde::Serialize;

use super::STARTED;
use super::matchers::json_contains;
use super::route::RouteId;
use crate::mock::lock;
use crate::ws::{CloseFrame, Frame, WsConnection, WsPeer};
use crate::{Error, Request, Response, Result};

type FramePredicate = dyn Fn(&Frame) -> bool + Send + Sync;
type ReplyFn = dyn Fn(&Frame, &mut SocketState) -> Vec<Frame> + Send + Sync;

/// The WebSocket responder of a route: frames sent on open, rules that answer
/// messages, pushes on a timer (virtual time under a paused clock), echo,
/// the subprotocol, or a refused upgrade; and the messages each connection
/// must receive, checked by [`Router::verify`](super::Router::verify).
///
/// Rules are tried in order; the first whose matcher passes answers. A
/// message no rule answers is echoed with [`echo`](Socket::echo), else
/// ignored. A close from the client is answered with the same code.
#[derive(Clone, Default)]
pub struct Socket {
    on_open: Vec<Frame>,
    rules: Vec<(Message, Reply)>,
    pushes: Vec<Push>,
    echo: bool,
    subprotocol: Option<String>,
    refuse: Option<u16>,
    expected: Vec<Message>,
}

#[derive(Clone)]
struct Push {
    after: Duration,
    every: Option<Duration>,
    frame: Frame,
}

impl Socket {
    /// A socket that accepts the upgrade and says nothing.
    pub fn new() -> Socket {
        Socket::default()
    }

    /// Refuses the upgrade with `status` (401, 403, 404 …).
    pub fn refuse(status: u16) -> Socket {
        Socket {
            refuse: Some(status),
            ..Socket::default()
        }
    }

    /// Sends `frame` as soon as the connection opens (in order, when called
    /// more than once).
    pub fn on_open(mut self, frame: Frame) -> Socket {
        self.on_open.push(frame);
        self
    }

    /// Answers a message that `matcher` accepts with `reply`.
    pub fn on_message(mut self, matcher: Message, reply: Reply) -> Socket {
        self.rules.push((matcher, reply));
        self
    }

    /// Sends `frame` once, `delay` after the connection opened.
    pub fn push_after(mut self, delay: Duration, frame: Frame) -> Socket {
        self.pushes.push(Push {
            after: delay,
            every: None,
            frame,
        });
        self
    }

    /// Sends `frame` every `interval` while the connection is open, the first
    /// time one `interval` after it opened.
    pub fn push_every(mut self, interval: Duration, frame: Frame) -> Socket {
        self.pushes.push(Push {
            after: interval,
            every: Some(interval.max(Duration::from_millis(1))),
            frame,
        });
        self
    }

    /// Echoes every message that no rule answers.
    pub fn echo(mut self) -> Socket {
        self.echo = true;
        self
    }

    /// Answers the handshake with this `Sec-WebSocket-Protocol`.
    pub fn subprotocol(mut self, name: impl Into<String>) -> Socket {
        self.subprotocol = Some(name.into());
        self
    }

    /// Expects every connection to receive a message `matcher` accepts
    /// (checked by [`Router::verify`](super::Router::verify)).
    pub fn expect_message(mut self, matcher: Message) -> Socket {
        self.expected.push(matcher);
        self
    }

    /// What is wrong with the socket (a bad regex, status), if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        let mut problems: Vec<String> = self
            .rules
            .iter()
            .map(|(m, _)| m)
            .chain(&self.expected)
            .filter_map(|m| m.problem.clone())
            .collect();
        if let Some(status) = self.refuse
            && (StatusCode::from_u16(status).is_err() || status == 101)
        {
            problems.push(format!("cannot refuse an upgrade with status {status}"));
        }
        if let Some(protocol) = &self.subprotocol
            && HeaderValue::from_str(protocol).is_err()
        {
            problems.push(format!("invalid subprotocol {protocol:?}"));
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("on_open", &self.on_open)
            .field("rules", &self.rules.len())
            .field("echo", &self.echo)
            .field("refuse", &self.refuse)
            .finish_non_exhaustive()
    }
}

/// Which messages a rule answers, or an expectation accepts; optionally only
/// while the connection is in a state ([`Message::in_state`]).
#[derive(Clone)]
pub struct Message {
    test: Arc<FramePredicate>,
    description: String,
    state: Option<String>,
    problem: Option<String>,
}

impl Message {
    fn new(
        description: impl Into<String>,
        test: impl Fn(&Frame) -> bool + Send + Sync + 'static,
    ) -> Message {
        Message {
            test: Arc::new(test),
            description: description.into(),
            state: None,
            problem: None,
        }
    }

    /// Only while the connection's state is `state` (every connection starts
    /// in [`STARTED`]; a [`Reply::set_state`] moves it).
    pub fn in_state(mut self, state: impl Into<String>) -> Message {
        self.state = Some(state.into());
        self
    }

    fn accepts(&self, frame: &Frame, state: &str) -> bool {
        self.state.as_deref().is_none_or(|s| s == state) && (self.test)(frame)
    }

    /// How reports name it.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Message({})", self.description)
    }
}

/// A text message equal to `text`.
pub fn text_equals(text: impl Into<String>) -> Message {
    let text = text.into();
    Message::new(
        format!("text is {text:?}"),
        move |frame| matches!(frame, Frame::Text(t) if *t == text),
    )
}

/// A text message matching `pattern`.
pub fn text_matches(pattern: &str) -> Message {
    match Regex::new(pattern) {
        Ok(regex) => Message::new(
            format!("text matches {pattern}"),
            move |frame| matches!(frame, Frame::Text(t) if regex.is_match(t)),
        ),
        Err(err) => {
            let mut message = Message::new(format!("text matches {pattern}"), |_| false);
            message.problem = Some(format!("invalid regex {pattern:?}: {err}"));
            message
        }
    }
}

/// A text or binary JSON message that contains `value` (objects may have
/// more keys, as with [`body_partial_json`](super::matchers::body_partial_json)).
pub fn json_includes<T: Serialize + ?Sized>(value: &T) -> Message {
    let want = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    let description = format!("JSON includes {want}");
    Message::new(description, move |frame| {
        let have: Option<serde_json::Value> = match frame {
            Frame::Text(text) => serde_json::from_str(text).ok(),
            Frame::Binary(bytes) => serde_json::from_slice(bytes).ok(),
            _ => None,
        };
        have.is_some_and(|have| json_contains(&want, &have))
    })
}

/// Any data message (text or binary).
pub fn any_message() -> Message {
    Message::new("any message", |frame| {
        matches!(frame, Frame::Text(_) | Frame::Binary(_))
    })
}

/// A message `test` accepts, named `description` in reports.
pub fn message_fn(
    description: impl Into<String>,
    test: impl Fn(&Frame) -> bool + Send + Sync + 'static,
) -> Message {
    Message::new(description, test)
}

/// What a rule does with a message it matched: frames to send, perhaps a
/// close, perhaps a new state.
#[derive(Clone)]
pub struct Reply {
    frames: Arc<ReplyFn>,
    state: Option<String>,
}

impl Reply {
    /// Moves the connection to `state` after replying.
    pub fn set_state(mut self, state: impl Into<String>) -> Reply {
        self.state = Some(state.into());
        self
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").field("state", &self.state).finish()
    }
}

/// Sends `frame`.
pub fn reply(frame: Frame) -> Reply {
    replies(vec![frame])
}

/// Sends `frames`, in order.
pub fn replies(frames: Vec<Frame>) -> Reply {
    reply_with(move |_, _| frames.clone())
}

/// Sends nothing (a rule that only moves the state, say).
pub fn no_reply() -> Reply {
    replies(Vec::new())
}

/// Sends `value` as a JSON text message.
pub fn reply_json<T: Serialize + ?Sized>(value: &T) -> Reply {
    let text = serde_json::to_string(value).unwrap_or_default();
    reply(Frame::Text(text))
}

/// Closes the connection with `code` and `reason`.
pub fn close(code: u16, reason: impl Into<String>) -> Reply {
    reply(Frame::close(code, reason))
}

/// Sends what `answer` makes of the message and the connection's state
/// (which it may change). A close frame among them ends the connection.
pub fn reply_with<F>(answer: F) -> Reply
where
    F: Fn(&Frame, &mut SocketState) -> Vec<Frame> + Send + Sync + 'static,
{
    Reply {
        frames: Arc::new(answer),
        state: None,
    }
}

/// A connection's state, as rules and [`reply_with`] closures see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketState {
    /// The state name ([`STARTED`] at first).
    pub state: String,
    /// How many data messages the connection has received, this one
    /// included.
    pub messages: usize,
}

/// One WebSocket connection a route answered: every frame it received and
/// sent, in order, from [`Router::sockets`](super::Router::sockets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketJournal {
    /// The route that answered the handshake.
    pub route: RouteId,
    /// The handshake, as `GET ws://…`.
    pub request: String,
    /// The frames the client sent, in order.
    pub received: Vec<Frame>,
    /// The frames the route sent, in order.
    pub sent: Vec<Frame>,
}

/// The journal of one connection, written while it runs.
pub(crate) type SharedJournal = Arc<Mutex<SocketJournal>>;

/// Opens a connection for `request` that `socket` scripts, logging into a
/// new journal entry of `route`.
pub(crate) fn open(
    socket: &Arc<Socket>,
    route: RouteId,
    request: &Request,
) -> Result<(WsConnection, SharedJournal)> {
    let name = request.to_string();
    if let Some(status) = socket.refuse {
        let status = StatusCode::from_u16(status)
            .map_err(|_| Error::invalid(format!("{name}: invalid status {status}")))?;
        let response = Response::new(status).with_url(request.url().clone());
        return Err(Error::refused_upgrade(name, response));
    }
    let (connection, peer) = WsConnection::in_memory(request);
    let (mut response, sink, stream) = connection.into_parts();
    if let Some(value) = socket
        .subprotocol
        .as_deref()
        .and_then(|p| HeaderValue::from_str(p).ok())
    {
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let journal = Arc::new(Mutex::new(SocketJournal {
        route,
        request: name,
        received: Vec::new(),
        sent: Vec::new(),
    }));
    tokio::spawn(run(socket.clone(), peer, journal.clone()));
    Ok((WsConnection::new(response, sink, stream), journal))
}

/// The messages `socket` expects that the connection in `journal` did not
/// receive, described.
pub(crate) fn missing(socket: &Socket, journal: &SocketJournal) -> Vec<String> {
    socket
        .expected
        .iter()
        .filter(|m| !journal.received.iter().any(|f| (m.test)(f)))
        .map(|m| {
            let data = journal
                .received
                .iter()
                .filter(|f| matches!(f, Frame::Text(_) | Frame::Binary(_)))
                .count();
            format!(
                "{} expected a message where {}; it received {data} other message(s)",
                journal.request, m.description
            )
        })
        .collect()
}

async fn run(socket: Arc<Socket>, mut peer: WsPeer, journal: SharedJournal) {
    let mut state = SocketState {
        state: STARTED.to_owned(),
        messages: 0,
    };
    let send = async |peer: &mut WsPeer, frame: Frame| -> bool {
        lock(&journal).sent.push(frame.clone());
        let closing = matches!(frame, Frame::Close(_));
        peer.send(frame).await.is_ok() && !closing
    };
    for frame in socket.on_open.clone() {
        if !send(&mut peer, frame).await {
            return;
        }
    }
    let opened = tokio::time::Instant::now();
    let mut due: Vec<(tokio::time::Instant, usize)> = socket
        .pushes
        .iter()
        .enumerate()
        .map(|(i, push)| (opened + push.after, i))
        .collect();
    loop {
        let next = due.iter().copied().min();
        let tick = async {
            match next {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            frame = peer.recv() => {
                let Some(frame) = frame else { return };
                lock(&journal).received.push(frame.clone());
                match &frame {
                    Frame::Ping(_) | Frame::Pong(_) => continue,
                    Frame::Close(close) => {
                        let code = if close.code == CloseFrame::NO_STATUS { CloseFrame::NORMAL } else { close.code };
                        send(&mut peer, Frame::close(code, close.reason.clone())).await;
                        return;
                    }
                    _ => state.messages += 1,
                }
                let rule = socket.rules.iter().find(|(m, _)| m.accepts(&frame, &state.state));
                let frames = match rule {
                    Some((_, reply)) => {
                        let frames = (reply.frames)(&frame, &mut state);
                        if let Some(next) = &reply.state {
                            state.state = next.clone();
                        }
                        frames
                    }
                    None if socket.echo => vec![frame],
                    None => Vec::new(),
                };
                for frame in frames {
                    if !send(&mut peer, frame).await {
                        return;
                    }
                }
            }
            () = tick => {
                let Some((at, i)) = next else { continue };
                let push = &socket.pushes[i];
                due.retain(|&(_, j)| j != i);
                if let Some(every) = push.every {
                    due.push((at + every, i));
                }
                if !send(&mut peer, push.frame.clone()).await {
                    return;
                }
            }
        }
    }
}
