//! Replaying a WebSocket session as a script: the server's frames, each held
//! until the client frames recorded before it have arrived and matched, then
//! released at its recorded offset (as [`Timing`] says).
//!
//! The connection's sink and stream share one script. The sink checks each
//! client frame against the next one the client recorded; the stream yields
//! the server's next frame once it is due. Nothing runs in between, so the
//! replay costs what the client's reads cost.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::time::{Instant, Sleep};

use super::super::Timing;
use super::super::filter::Filters;
use super::super::format::{RecordedError, WsEnd, WsEvent};
use super::super::matching::{CassetteMiss, NearMiss, unified_diff};
use super::super::replay::rebuild_error;
use super::{FrameMatch, filtered, frame_of, render};
use crate::ws::{CloseFrame, Frame, WsConnection};
use crate::{Error, Response, Result};

/// What a cassette's sessions reported: frame mismatches, and recorded data
/// frames that were never replayed.
#[derive(Default)]
pub(crate) struct Ledger {
    state: Mutex<LedgerState>,
}

#[derive(Default)]
struct LedgerState {
    mismatches: Vec<CassetteMiss>,
    unplayed: Vec<String>,
    live: Vec<Weak<Mutex<Script>>>,
}

impl Ledger {
    fn state(&self) -> MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every frame mismatch so far, in the order they happened.
    pub(crate) fn mismatches(&self) -> Vec<CassetteMiss> {
        self.state().mismatches.clone()
    }

    /// The sessions whose recorded data frames were not all replayed (those
    /// still open included), as `#index METHOD URI: …`.
    pub(crate) fn unplayed(&self) -> Vec<String> {
        let state = self.state();
        let mut out = state.unplayed.clone();
        for script in state.live.iter().filter_map(Weak::upgrade) {
            let script = script.lock().unwrap_or_else(|p| p.into_inner());
            out.extend(script.unplayed());
        }
        out
    }
}

/// What a session needs to know about the cassette it plays from.
pub(crate) struct Setting {
    pub(crate) cassette: PathBuf,
    pub(crate) mode: String,
    pub(crate) interaction: usize,
    pub(crate) recorded_request: String,
    pub(crate) name: String,
    pub(crate) matcher: FrameMatch,
    pub(crate) timing: Timing,
    pub(crate) filters: Arc<Filters>,
    pub(crate) ledger: Arc<Ledger>,
}

enum Step {
    /// A frame the client sent: the next one it must send.
    Client {
        frame: Frame,
        event: usize,
        at_ms: u64,
        arrived: Option<Instant>,
    },
    /// A frame the server sent; `after` is the latest client step before it.
    Server {
        frame: Option<Frame>,
        at_ms: u64,
        after: Option<usize>,
    },
    /// The server vanished, or the session failed with an error.
    End {
        error: Option<RecordedError>,
        at_ms: u64,
        after: Option<usize>,
    },
    /// The recording stopped here.
    CutOff,
}

struct Script {
    steps: Vec<Step>,
    client_next: usize,
    server_next: usize,
    client_ordinal: usize,
    started: Instant,
    pending: VecDeque<Result<Frame>>,
    closing: bool,
    finished: bool,
    waker: Option<Waker>,
    setting: Arc<Setting>,
}

/// The replayed connection: `response` is the recorded handshake answer,
/// `events` the recorded session.
pub(crate) fn connection(
    response: Response,
    events: &[WsEvent],
    setting: Setting,
) -> Result<WsConnection> {
    let steps = steps(events, &setting.filters).map_err(|err| {
        Error::invalid(format!(
            "{}: recorded interaction #{} in {}: {err}",
            setting.name,
            setting.interaction,
            setting.cassette.display()
        ))
    })?;
    let ledger = setting.ledger.clone();
    let mut script = Script {
        steps,
        client_next: 0,
        server_next: 0,
        client_ordinal: 0,
        started: Instant::now(),
        pending: VecDeque::new(),
        closing: false,
        finished: false,
        waker: None,
        setting: Arc::new(setting),
    };
    script.client_next = script.next_client(0);
    script.server_next = script.next_server(0);
    let script = Arc::new(Mutex::new(script));
    {
        let mut ledger = ledger.state();
        ledger.live.retain(|weak| weak.strong_count() > 0);
        ledger.live.push(Arc::downgrade(&script));
    }
    let sink = ScriptSink {
        script: script.clone(),
    };
    let stream = ScriptStream {
        script,
        sleep: None,
    };
    Ok(WsConnection::new(
        response,
        Box::pin(sink),
        Box::pin(stream),
    ))
}

fn steps(events: &[WsEvent], filters: &Filters) -> std::result::Result<Vec<Step>, String> {
    let mut steps = Vec::with_capacity(events.len());
    let mut last_client = None;
    for (i, event) in events.iter().enumerate() {
        let frame =
            frame_of(event, filters).map_err(|err| format!("websocket event {i}: {err}"))?;
        let sent = event.send.is_some();
        // Keep-alive traffic is the protocol's, not the conversation's: the
        // client's pings (a ping interval fires whenever it likes) do not
        // hold the script back, and the server's pongs are answered live.
        match &frame {
            Some(Frame::Ping(_) | Frame::Pong(_)) if sent => continue,
            Some(Frame::Pong(_)) => continue,
            _ => {}
        }
        let step = match (frame, sent) {
            (Some(frame), true) => {
                last_client = Some(steps.len());
                Step::Client {
                    frame,
                    event: i,
                    at_ms: event.at_ms,
                    arrived: None,
                }
            }
            (Some(frame), false) => Step::Server {
                frame: Some(frame),
                at_ms: event.at_ms,
                after: last_client,
            },
            (None, _) if event.end == Some(WsEnd::CutOff) => Step::CutOff,
            (None, _) => Step::End {
                error: event.error.clone(),
                at_ms: event.at_ms,
                after: last_client,
            },
        };
        steps.push(step);
    }
    Ok(steps)
}

impl Script {
    fn next_client(&self, from: usize) -> usize {
        (from..self.steps.len())
            .find(|&i| matches!(self.steps[i], Step::Client { .. }))
            .unwrap_or(self.steps.len())
    }

    fn next_server(&self, from: usize) -> usize {
        (from..self.steps.len())
            .find(|&i| !matches!(self.steps[i], Step::Client { .. }))
            .unwrap_or(self.steps.len())
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// When the step at `server_next` is due: its recorded offset from the
    /// client frame before it (or from the handshake), as `timing` paces it.
    /// `None` when it is due now.
    fn due(&self) -> Option<Option<Instant>> {
        let (at_ms, after) = match &self.steps[self.server_next] {
            Step::Server { at_ms, after, .. } | Step::End { at_ms, after, .. } => (*at_ms, *after),
            _ => return None,
        };
        let (anchor, anchor_ms) = match after.map(|i| &self.steps[i]) {
            Some(Step::Client { at_ms, arrived, .. }) => (arrived.unwrap_or(self.started), *at_ms),
            _ => (self.started, 0),
        };
        let delay = self.setting.timing.delay(at_ms.saturating_sub(anchor_ms))?;
        Some(anchor.checked_add(delay))
    }

    /// The client sent `frame`.
    fn client_frame(&mut self, frame: Frame) -> Result<()> {
        if self.closing || self.finished {
            if matches!(frame, Frame::Close(_)) {
                return Ok(());
            }
            return Err(Error::websocket(
                self.setting.name.clone(),
                "the replayed session has closed",
            ));
        }
        let live = filtered(frame, &self.setting.filters);
        let expected = match self.steps.get(self.client_next) {
            Some(Step::Client { frame, .. }) => Some(frame),
            _ => None,
        };
        let expected_kind = expected.map(std::mem::discriminant);
        match &live {
            // Pings and pongs are the protocol's business, not the script's:
            // a ping is answered with its pong, a pong let be.
            Frame::Ping(payload) => {
                self.pending.push_back(Ok(Frame::Pong(payload.clone())));
                self.wake();
                return Ok(());
            }
            Frame::Pong(_) => return Ok(()),
            // The client closes before the recording did: the server answers
            // at once (what it did not play is reported as unplayed), unless
            // the recorded server close is still to come.
            Frame::Close(close) if expected_kind != Some(std::mem::discriminant(&live)) => {
                let recorded_close_follows = expected.is_none()
                    && self.steps[self.server_next..].iter().any(|step| {
                        matches!(
                            step,
                            Step::Server {
                                frame: Some(Frame::Close(_)),
                                ..
                            }
                        )
                    });
                if !recorded_close_follows {
                    self.pending.push_back(Ok(Frame::Close(close.clone())));
                    self.closing = true;
                }
                self.wake();
                return Ok(());
            }
            _ => {}
        }
        match expected {
            Some(recorded) if self.setting.matcher.matches(&live, recorded) => {
                if let Some(Step::Client { arrived, .. }) = self.steps.get_mut(self.client_next) {
                    *arrived = Some(Instant::now());
                }
                self.client_ordinal += 1;
                self.client_next = self.next_client(self.client_next + 1);
                self.wake();
            }
            _ => self.mismatch(&live),
        }
        Ok(())
    }

    fn mismatch(&mut self, live: &Frame) {
        let setting = &self.setting;
        let n = self.client_ordinal;
        let (recorded, event) = match self.steps.get(self.client_next) {
            Some(Step::Client { frame, event, .. }) => (Some(frame), Some(*event)),
            _ => (None, None),
        };
        let reason = match event {
            Some(event) => format!(
                "it differs from the frame the client sent at that point in recorded \
                 interaction #{} (websocket event {event}), by frame matcher {}",
                setting.interaction,
                setting.matcher.name()
            ),
            None => format!(
                "the client sent no more frames in recorded interaction #{}",
                setting.interaction
            ),
        };
        let miss = CassetteMiss {
            cassette: setting.cassette.clone(),
            mode: setting.mode.clone(),
            matchers: vec![format!("frames: {}", setting.matcher.name())],
            request: format!("{}, client frame #{n}", setting.name),
            reason,
            closest: vec![NearMiss {
                index: setting.interaction,
                request: setting.recorded_request.clone(),
                passed: vec!["handshake".into()],
                failed: vec![format!("client frame #{n}")],
                used: true,
            }],
            diff: Some(unified_diff(
                &render(recorded),
                &render(Some(live)),
                &format!("recorded client frame #{n}"),
                &format!("live client frame #{n}"),
            )),
        };
        setting.ledger.state().mismatches.push(miss);
        let reason = format!("cassette mismatch at client frame #{n}");
        self.pending
            .push_back(Ok(Frame::close(CloseFrame::POLICY_VIOLATION, reason)));
        self.closing = true;
        self.wake();
    }

    /// The recorded data frames this session has not replayed, if any.
    fn unplayed(&self) -> Option<String> {
        let is_data = |frame: &Frame| matches!(frame, Frame::Text(_) | Frame::Binary(_));
        let sent = self.steps[self.client_next.min(self.steps.len())..]
            .iter()
            .filter(
                |step| matches!(step, Step::Client { frame, arrived: None, .. } if is_data(frame)),
            )
            .count();
        let received = self.steps[self.server_next.min(self.steps.len())..]
            .iter()
            .filter(
                |step| matches!(step, Step::Server { frame: Some(frame), .. } if is_data(frame)),
            )
            .count();
        if sent == 0 && received == 0 {
            return None;
        }
        Some(format!(
            "#{} {}: {sent} recorded client frame(s) never sent and {received} server frame(s) never played",
            self.setting.interaction, self.setting.recorded_request
        ))
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(unplayed) = self.unplayed() {
            self.setting.ledger.state().unplayed.push(unplayed);
        }
    }
}

fn lock(script: &Mutex<Script>) -> MutexGuard<'_, Script> {
    script.lock().unwrap_or_else(|p| p.into_inner())
}

struct ScriptSink {
    script: Arc<Mutex<Script>>,
}

impl Sink<Frame> for ScriptSink {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<()> {
        lock(&self.script).client_frame(frame)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut script = lock(&self.script);
        script.closing = true;
        script.wake();
        Poll::Ready(Ok(()))
    }
}

impl Drop for ScriptSink {
    fn drop(&mut self) {
        // The client is gone: nothing it could trigger will come.
        let mut script = lock(&self.script);
        script.closing = true;
        script.wake();
    }
}

struct ScriptStream {
    script: Arc<Mutex<Script>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Stream for ScriptStream {
    type Item = Result<Frame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut guard = lock(&this.script);
        let script = &mut *guard;
        loop {
            if let Some(item) = script.pending.pop_front() {
                return Poll::Ready(Some(item));
            }
            if script.closing || script.finished {
                script.finished = true;
                return Poll::Ready(None);
            }
            let at = script.server_next;
            if at >= script.steps.len() || script.client_next < at {
                script.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match script.due() {
                None => {}
                // Later than any instant: it never comes.
                Some(None) => {
                    script.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Some(Some(deadline)) if Instant::now() < deadline => {
                    // The client may send meanwhile (and be answered).
                    script.waker = Some(cx.waker().clone());
                    let sleep = this
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    if sleep.deadline() != deadline {
                        sleep.as_mut().reset(deadline);
                    }
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                Some(Some(_)) => {}
            }
            script.server_next = script.next_server(at + 1);
            let name = script.setting.name.clone();
            match &mut script.steps[at] {
                Step::Server { frame, .. } => {
                    let Some(frame) = frame.take() else { continue };
                    if matches!(frame, Frame::Close(_)) {
                        script.closing = true;
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Step::End { error, .. } => {
                    script.finished = true;
                    return Poll::Ready(error.as_ref().map(|e| Err(rebuild_error(e, &name))));
                }
                Step::CutOff => script.server_next = script.steps.len(),
                Step::Client { .. } => {}
            }
        }
    }
}
