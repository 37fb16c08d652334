//! Recording a WebSocket session: the inner engine's sink and stream teed, so
//! every frame is logged with its time since the handshake as it passes,
//! never held back.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::time::Instant;

use super::super::filter::Filters;
use super::super::format::{Interaction, RecordedRequest, RecordedResponse, WsEnd, WsEvent};
use super::super::record::recorded_error;
use super::event_of;
use crate::ws::{Frame, FrameSink, FrameStream, WsConnection};
use crate::{Error, Result};

/// One recorded session, shared by the teed halves and the cassette (which
/// saves whatever is there, marking a session still open as cut off).
pub(crate) struct SessionLog {
    state: Mutex<LogState>,
    filters: Arc<Filters>,
}

struct LogState {
    request: RecordedRequest,
    response: RecordedResponse,
    recorded_at: Option<String>,
    events: Vec<WsEvent>,
    started: Instant,
    ended: bool,
    halves: u8,
}

impl SessionLog {
    fn state(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, event: impl FnOnce(u64) -> WsEvent) {
        let mut state = self.state();
        if state.ended {
            return;
        }
        let at_ms = millis(state.started.elapsed());
        state.events.push(event(at_ms));
    }

    fn frame(&self, sent: bool, frame: &Frame) {
        self.push(|at| event_of(at, sent, frame, &self.filters));
    }

    fn end(&self, event: impl FnOnce(u64) -> WsEvent) {
        self.push(event);
        self.state().ended = true;
    }

    /// One half is gone; when both are and the session had not ended, the
    /// client dropped it: the recording stops there.
    fn release(&self) {
        let mut state = self.state();
        state.halves -= 1;
        if state.halves == 0 && !state.ended {
            let at_ms = millis(state.started.elapsed());
            state.events.push(WsEvent {
                end: Some(WsEnd::CutOff),
                ..WsEvent::at(at_ms)
            });
            state.ended = true;
        }
    }

    /// The interaction as it stands; a session still open is cut off here.
    pub(crate) fn snapshot(&self) -> Interaction {
        let state = self.state();
        let mut events = state.events.clone();
        if !state.ended {
            events.push(WsEvent {
                end: Some(WsEnd::CutOff),
                ..WsEvent::at(millis(state.started.elapsed()))
            });
        }
        Interaction {
            request: state.request.clone(),
            response: Some(state.response.clone()),
            error: None,
            websocket: Some(events),
            recorded_at: state.recorded_at.clone(),
        }
    }
}

/// Tees `connection`, whose handshake request was recorded as `request`:
/// the connection to hand on, and the log the cassette keeps.
pub(crate) fn tee(
    connection: WsConnection,
    request: RecordedRequest,
    response: RecordedResponse,
    recorded_at: Option<String>,
    filters: Arc<Filters>,
) -> (WsConnection, Arc<SessionLog>) {
    let (head, sink, stream) = connection.into_parts();
    let log = Arc::new(SessionLog {
        state: Mutex::new(LogState {
            request,
            response,
            recorded_at,
            events: Vec::new(),
            started: Instant::now(),
            ended: false,
            halves: 2,
        }),
        filters,
    });
    let sink = TeeSink {
        inner: sink,
        log: log.clone(),
    };
    let stream = TeeStream {
        inner: stream,
        log: log.clone(),
        done: false,
    };
    (
        WsConnection::new(head, Box::pin(sink), Box::pin(stream)),
        log,
    )
}

struct TeeSink {
    inner: FrameSink,
    log: Arc<SessionLog>,
}

impl Sink<Frame> for TeeSink {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.as_mut().poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> Result<()> {
        self.log.frame(true, &frame);
        self.inner.as_mut().start_send(frame)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.as_mut().poll_close(cx)
    }
}

impl Drop for TeeSink {
    fn drop(&mut self) {
        self.log.release();
    }
}

struct TeeStream {
    inner: FrameStream,
    log: Arc<SessionLog>,
    done: bool,
}

impl Stream for TeeStream {
    type Item = Result<Frame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let polled = this.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                this.log.frame(false, frame);
                if matches!(frame, Frame::Close(_)) {
                    // The server's close ends the session for the client.
                    this.log.state().ended = true;
                }
            }
            Poll::Ready(Some(Err(error))) => {
                let error = recorded_error(error);
                this.log.end(|at| WsEvent {
                    error: Some(error),
                    ..WsEvent::at(at)
                });
                this.done = true;
            }
            Poll::Ready(None) => {
                this.log.end(|at| WsEvent {
                    end: Some(WsEnd::Dropped),
                    ..WsEvent::at(at)
                });
                this.done = true;
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for TeeStream {
    fn drop(&mut self) {
        self.log.release();
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
